"""The evidence store under faults (issue 23, items 3 and 5): an upload that reuses a stored
file keeps it safe from `evidence prune`, files reach the disk before their name does, and a
full or read-only store is a clear 507 with nothing half-saved."""

import io
import os
import stat
import subprocess
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.audits.conftest import PNG, first_item
from tracker.audits import service, storage
from tracker.audits.models import Evidence
from tracker.audits.storage import evidence_path, sweep_unreferenced
from tracker.auth import service as accounts
from tracker.extensions import db

HOUR = 3600


def _upload(people, item, content: bytes, name: str = "drill.png"):
    return service.add_evidence(people["operator"], item, upload=io.BytesIO(content),
                                filename=name)


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_an_upload_reusing_a_stored_file_is_safe_from_prune(app, people, audit):
    item = first_item(audit)
    refused = _upload(people, item, PNG)
    db.session.rollback()  # stored, then not saved: an orphan, two hours old
    path = evidence_path(refused.sha256)
    _age(path, 2 * HOUR)

    again = _upload(people, item, PNG)  # the same content, not committed yet
    assert again.sha256 == refused.sha256
    # A prune in another process sees no committed row for it.
    swept = sweep_unreferenced(set(), older_than_seconds=HOUR)
    assert swept.removed == []
    db.session.commit()
    assert path.read_bytes() == PNG


def test_prune_puts_back_a_file_an_upload_renewed_after_it_looked(app, people, audit):
    item = first_item(audit)
    stored = _upload(people, item, PNG)
    db.session.rollback()
    path = evidence_path(stored.sha256)
    # Prune read an old age; by the time it acts, an upload has renewed the file.
    assert storage._remove_if_still_old(path, cutoff=time.time() - HOUR) is False
    assert path.read_bytes() == PNG
    assert not list(path.parent.glob(".prune-*"))
    _age(path, 2 * HOUR)
    assert storage._remove_if_still_old(path, cutoff=time.time() - HOUR) is True
    assert not path.exists()


def test_the_file_is_fsynced_before_its_rename(app, people, audit, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    def fsync(fd):
        events.append(("fsync", stat.S_ISDIR(os.fstat(fd).st_mode)))
        real_fsync(fd)

    monkeypatch.setattr(storage.os, "fsync", fsync)
    monkeypatch.setattr(storage.os, "replace",
                        lambda a, b: (events.append(("replace", None)), real_replace(a, b))[1])
    _upload(people, first_item(audit), PNG)
    assert events == [("fsync", False), ("replace", None), ("fsync", True)]


# --- a full or read-only store ------------------------------------------------------------

BIG = b"evidence log line\n" * 20_000  # 360 kB of plain text


def _mount_tmpfs(path: Path, options: str) -> bool:
    if os.geteuid() != 0:
        return False
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],  # noqa: S603, S607
                            capture_output=True, text=True)
    return result.returncode == 0


@pytest.fixture(params=["full", "read-only"])
def broken_store(request, app, tmp_path):
    """EVIDENCE_DIR on a 64 kB tmpfs (full for BIG), or read-only: a read-only tmpfs as root
    (whom file modes do not stop), a directory without write permission otherwise."""
    store = tmp_path / "broken-evidence"
    store.mkdir()
    mounted = False
    if request.param == "full":
        mounted = _mount_tmpfs(store, "size=64k")
        if not mounted:
            pytest.skip("cannot mount a tmpfs here (needs root and mount permission): the "
                        "full-disk case is not exercised")
    else:
        mounted = _mount_tmpfs(store, "ro,size=64k")
        if not mounted:
            if os.geteuid() == 0:
                pytest.skip("running as root without mount permission: a directory mode "
                            "cannot make the store read-only")
            store.chmod(0o555)
    app.config["EVIDENCE_DIR"] = str(store)
    yield request.param, store
    if mounted:
        subprocess.run(["umount", str(store)], check=True)  # noqa: S603, S607
    else:
        store.chmod(0o755)


def _evidence_rows() -> int:
    return db.session.execute(sa.select(sa.func.count()).select_from(Evidence)).scalar_one()


def test_a_broken_store_refuses_the_upload_page_with_507(client, people, audit, login_as,
                                                         broken_store):
    kind, store = broken_store
    item = first_item(audit)
    login_as("operator")
    response = client.post(f"/audits/{audit.id}/items/{item.id}/evidence",
                           data={"kind": "file", "file": (io.BytesIO(BIG), "drill.log")},
                           content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    assert response.status_code == 507, page[:500]
    assert ("storage is full" if kind == "full" else "storage is read-only") in page
    assert "Nothing was changed." in page
    assert _evidence_rows() == 0
    assert [p.name for p in store.rglob("*")] == []  # no temporary file left behind


def test_a_broken_store_refuses_the_api_upload_with_507(client, people, audit, broken_store):
    kind, store = broken_store
    item = first_item(audit)
    _, token = accounts.create_token(people["operator"], "script")
    db.session.commit()
    response = client.post(f"/api/v1/audits/{audit.id}/items/{item.id}/evidence",
                           headers={"Authorization": f"Bearer {token}"},
                           data={"file": (io.BytesIO(BIG), "drill.log")},
                           content_type="multipart/form-data")
    assert response.status_code == 507
    error = response.get_json()["error"]
    assert error["code"] == ("storage_full" if kind == "full" else "storage_read_only")
    assert "nothing changed" in error["message"]
    assert _evidence_rows() == 0
    assert [p.name for p in store.rglob("*")] == []
    # Links and notes need no storage and still work.
    response = client.post(f"/api/v1/audits/{audit.id}/items/{item.id}/evidence",
                           headers={"Authorization": f"Bearer {token}"},
                           json={"note": "drill log kept by the on-call team"})
    assert response.status_code == 201
