"""Backups and evidence (issue 23, item 4): on PostgreSQL `backup create` runs pg_dump first
(mode 0600) and archives the files after; `backup create` and `backup restore` check that
every evidence row has its file in the archive and say so, exiting 1 when some do not."""

import io
import json
import os
import shutil
import stat
import subprocess
import tarfile
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.backup.test_backup import new_instance, restore
from tests.conftest import PG_URL
from tracker.audits import service as audits
from tracker.audits.models import Evidence, EvidenceKind
from tracker.audits.storage import evidence_path
from tracker.extensions import db

TEXT = b"drill log: failover took 4 minutes\n"


def evidence_shas() -> list[str]:
    return db.session.execute(sa.select(Evidence.sha256).where(
        Evidence.kind == EvidenceKind.FILE)).scalars().all()


def add_file_evidence(site, content: bytes = TEXT) -> str:
    item = site.item
    evidence = audits.add_evidence(site.people["operator"], item, upload=io.BytesIO(content),
                                   filename="drill.txt")
    db.session.commit()
    return evidence.sha256


def test_create_says_every_evidence_file_is_in_the_archive(app, runner, site, tmp_path):
    add_file_evidence(site)
    result = runner.invoke(args=["backup", "create", "--output", str(tmp_path / "b.tar.gz")])
    assert result.exit_code == 0, result.output
    count = len(set(evidence_shas()))
    assert count >= 1
    assert f"Every evidence file the database refers to ({count}) is in the archive." \
        in result.output


def test_create_and_restore_name_evidence_rows_without_a_file(app, runner, database, site,
                                                               tmp_path):
    lost = add_file_evidence(site)
    evidence_path(lost).unlink()  # the file went missing from the store
    archive = tmp_path / "b.tar.gz"
    result = runner.invoke(args=["backup", "create", "--output", str(archive)])
    assert result.exit_code == 1
    assert "WARNING: 1 of the" in result.output and lost in result.output
    assert archive.exists()  # the best copy there is, still written
    with tarfile.open(archive) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())
    assert manifest["evidence"]["missing"] == [lost]
    if database["kind"] == "sqlite":
        target = new_instance(tmp_path, "restored")
        result = restore(target, archive)
        assert result.exit_code == 1
        assert "every SHA-256 matched" in result.output
        assert "WARNING: 1 of the" in result.output and lost in result.output


# --- PostgreSQL -------------------------------------------------------------------------

@pytest.fixture
def pg_target(database, tmp_path):
    """An empty PostgreSQL database to pg_restore into, dropped afterwards."""
    if database["kind"] != "postgresql":
        pytest.skip("needs PostgreSQL (TEST_DATABASE_URL)")
    if shutil.which("pg_restore") is None:
        pytest.skip("pg_restore is not installed (apt-get install postgresql-client)")
    name = f"rt_restore_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(PG_URL).set(database=name)
    yield url
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def pg_restore(dump: Path, url) -> None:
    libpq = url.set(drivername="postgresql").render_as_string(hide_password=False)
    subprocess.run(["pg_restore", "--no-owner", f"--dbname={libpq}", str(dump)],  # noqa: S603, S607
                   check=True, capture_output=True)


def test_postgresql_dump_first_then_archive_and_restore_checks_evidence(
        app, runner, site, tmp_path, pg_target):
    add_file_evidence(site)
    archive = tmp_path / "b.tar.gz"
    result = runner.invoke(args=["backup", "create", "--output", str(archive)])
    assert result.exit_code == 0, result.output
    dump = tmp_path / "b.dump"
    assert stat.S_IMODE(dump.stat().st_mode) == 0o600
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    assert result.output.index("Dumped the PostgreSQL") < result.output.index("Backed up")
    with tarfile.open(archive) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())
    # The archive was made after the dump: it names the dump's hash.
    from tracker.backup.service import _sha256_of
    assert manifest["database"]["dump_sha256"] == _sha256_of(dump)
    assert not list(tmp_path.glob(".*partial"))

    pg_restore(dump, pg_target)
    target = new_instance(tmp_path, "restored", pg_target.render_as_string(hide_password=False))
    result = restore(target, archive)
    assert result.exit_code == 0, result.output
    assert "Every evidence file the database refers to" in result.output


def test_restore_catches_a_dump_newer_than_the_archive(app, runner, site, tmp_path, pg_target):
    """The old order — archive, then pg_dump — gave rows without files; restore said every
    SHA-256 matched. Rebuild that pair and restore must name the missing file."""
    archive = tmp_path / "b.tar.gz"
    runner.invoke(args=["backup", "create", "--output", str(archive)])
    newer = add_file_evidence(site, b"uploaded after the archive was made\n")
    later = tmp_path / "later.tar.gz"
    assert runner.invoke(args=["backup", "create", "--output", str(later)]).exit_code == 0
    pg_restore(tmp_path / "later.dump", pg_target)
    target = new_instance(tmp_path, "restored", pg_target.render_as_string(hide_password=False))
    result = restore(target, archive)
    assert result.exit_code == 1
    assert "every SHA-256 matched" in result.output
    assert f"(first: {newer})" in result.output


def test_without_pg_dump_no_backup_is_written(app, runner, database, tmp_path, monkeypatch):
    if database["kind"] != "postgresql":
        pytest.skip("needs PostgreSQL (TEST_DATABASE_URL)")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    result = runner.invoke(args=["backup", "create", "--output", str(tmp_path / "b.tar.gz")])
    assert result.exit_code != 0 and "pg_dump is not installed" in result.output
    assert not os.path.exists(tmp_path / "b.tar.gz")
