"""The evidence store keeps only what evidence refers to: `flask evidence prune` removes the
files of uploads that were stored and then not saved, and leaves recent ones alone."""

import io
import os
import time

from tests.audits.conftest import PNG, first_item
from tracker.audits import service
from tracker.audits.storage import evidence_dir, evidence_path
from tracker.extensions import db


def _upload(people, item, content: bytes, name: str):
    return service.add_evidence(people["operator"], item, upload=io.BytesIO(content),
                                filename=name)


def test_prune_removes_what_no_evidence_refers_to(app, runner, people, audit):
    item = first_item(audit)
    kept = _upload(people, item, PNG, "drill.png")
    db.session.commit()
    refused = _upload(people, item, PNG + b"another picture", "other.png")
    db.session.rollback()  # the save failed after the file was stored
    orphan, stray = evidence_path(refused.sha256), evidence_dir() / ".upload-crashed"
    stray.write_bytes(b"half an upload")
    two_hours_ago = time.time() - 7200
    for path in (orphan, stray):
        os.utime(path, (two_hours_ago, two_hours_ago))
    recent = _upload(people, item, PNG + b"in flight", "flight.png")
    db.session.rollback()  # stored a moment ago, as an upload still in flight would be

    result = runner.invoke(args=["evidence", "prune", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert f"would remove {orphan}" in result.output and f"would remove {stray}" in result.output
    assert "Would remove 2 file(s)" in result.output
    assert "1 stored file(s) are evidence" in result.output
    assert orphan.exists() and stray.exists()

    result = runner.invoke(args=["evidence", "prune"])
    assert result.exit_code == 0, result.output
    assert "Removed 2 file(s)" in result.output
    assert not orphan.exists() and not stray.exists()
    assert evidence_path(kept.sha256).exists()
    assert evidence_path(recent.sha256).exists()

    result = runner.invoke(args=["evidence", "prune", "--older-than", "0"])
    assert "Removed 1 file(s)" in result.output
    assert not evidence_path(recent.sha256).exists() and evidence_path(kept.sha256).exists()
