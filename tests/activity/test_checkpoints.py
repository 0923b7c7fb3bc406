"""Signed checkpoints against the four rewrites the hash chains alone cannot see (issue 23,
item 13). Each attack is what someone with direct database access can do; each passes plain
`activity verify` and fails `activity verify --against` a checkpoint kept before it."""

import base64
import json
import subprocess

import pytest
import sqlalchemy as sa

from tests import factories
from tests.factories import append_only_off
from tests.reports.conftest import STATEMENT, work_audit
from tracker import jobs
from tracker.activity import ActivityChainHead, ActivityEvent, audit_chain, event_hash
from tracker.activity.checkpoints import read_checkpoint
from tracker.activity.models import Checkpoint, CheckpointReason
from tracker.db import utcnow
from tracker.extensions import db


@pytest.fixture
def history(app, library, people, monkeypatch):
    """Two audits of team Alpha: 2026-Q2 signed off (its chain sealed), 2026-Q3 in review
    (its chain open). No report is rendered: these tests are about the log."""
    monkeypatch.setattr(jobs, "submit", lambda *args, **kwargs: None)
    closed = work_audit(people, period="2026-Q2")
    factories.sign_off(people["auditor"], closed, STATEMENT)
    open_ = work_audit(people, period="2026-Q3")
    db.session.commit()
    return audit_chain(closed.id), audit_chain(open_.id)


@pytest.fixture
def kept(history, runner, tmp_path):
    """A checkpoint file kept outside the database before the attack."""
    path = tmp_path / "checkpoint.json"
    result = runner.invoke(args=["activity", "checkpoint", "--output", str(path)])
    assert result.exit_code == 0, result.output
    return path


def rows_of(chain: str) -> list[ActivityEvent]:
    return db.session.execute(sa.select(ActivityEvent).where(ActivityEvent.chain == chain)
                              .order_by(ActivityEvent.seq)).scalars().all()


def move_head(chain: str, event: ActivityEvent | None) -> None:
    head = db.session.get(ActivityChainHead, chain)
    if event is None:
        db.session.delete(head)
    else:
        head.seq, head.hash = event.seq, event.hash


def verdicts(runner, kept):
    """(plain `activity verify`, `activity verify --against kept`)."""
    db.session.expire_all()
    plain = runner.invoke(args=["activity", "verify"])
    against = runner.invoke(args=["activity", "verify", "--against", str(kept)])
    return plain, against


def test_rewind_newest_rows_and_head(history, kept, runner):
    _, chain = history
    rows = rows_of(chain)
    with append_only_off():
        db.session.execute(sa.delete(ActivityEvent).where(ActivityEvent.chain == chain,
                                                          ActivityEvent.seq > rows[-4].seq))
        move_head(chain, rows[-4])
    plain, against = verdicts(runner, kept)
    assert plain.exit_code == 0, plain.output  # the database agrees with itself
    assert against.exit_code == 1
    assert f"BROKEN {chain} #{rows[-3].seq}: rows #{rows[-3].seq} to #{rows[-1].seq} were " \
           "removed (the signed checkpoint saw them)" in against.output


def test_delete_a_whole_chain_and_its_head(history, kept, runner):
    _, chain = history
    with append_only_off():
        db.session.execute(sa.delete(ActivityEvent).where(ActivityEvent.chain == chain))
        move_head(chain, None)
    plain, against = verdicts(runner, kept)
    assert plain.exit_code == 0, plain.output
    assert against.exit_code == 1
    assert f"BROKEN {chain} #1: the whole chain is gone" in against.output


def test_edit_a_row_and_recompute_every_later_hash(history, kept, runner):
    _, chain = history
    with append_only_off():
        rows = rows_of(chain)
        rows[1].after = json.dumps({"status": "met"}, separators=(",", ":"))
        prev = rows[0].hash
        for event in rows[1:]:
            event.prev_hash = prev
            event.hash = prev = event_hash(event)
        move_head(chain, rows[-1])
    plain, against = verdicts(runner, kept)
    assert plain.exit_code == 0, plain.output
    assert against.exit_code == 1
    assert f"BROKEN {chain} #{rows[-1].seq}: differs from the signed checkpoint" in \
        against.output


def forge_after_head(chain: str, *, move: bool) -> ActivityEvent:
    head = db.session.get(ActivityChainHead, chain)
    audit_id = int(chain.split(":")[1])
    forged = ActivityEvent(chain=chain, seq=head.seq + 1, prev_hash=head.hash, audit_id=audit_id,
                           actor_id=None, action="item.review", subject="DV-01 forged",
                           after=json.dumps({"verdict": "accepted"}), created_at=utcnow())
    forged.hash = event_hash(forged)
    db.session.add(forged)
    if move:
        move_head(chain, forged)
    db.session.commit()
    return forged


def test_append_a_linked_forged_row_to_a_signed_off_audit(history, kept, runner):
    """With the head moved too, the row is exactly what the app would write; the checkpoint
    saw the chain closed by its sign-off, so nothing may follow."""
    chain, _ = history
    forged = forge_after_head(chain, move=True)
    plain, against = verdicts(runner, kept)
    assert plain.exit_code == 0, plain.output
    assert against.exit_code == 1
    assert f"BROKEN {chain} #{forged.seq}: was added after the chain was closed" in \
        against.output


def test_a_row_past_the_head_row_fails_even_without_a_checkpoint(history, kept, runner):
    _, chain = history
    forged = forge_after_head(chain, move=False)
    plain, against = verdicts(runner, kept)
    message = f"BROKEN {chain} #{forged.seq}: is past the chain's recorded head"
    assert plain.exit_code == 1 and message in plain.output
    assert against.exit_code == 1 and message in against.output


def test_later_activity_passes_and_is_named(history, kept, runner, people):
    from tracker.audits import service as audits
    from tracker.audits.models import Audit, AuditState

    _, chain = history
    audit = db.session.get(Audit, int(chain.split(":")[1]))
    audits.return_audit(people["auditor"], audit, "Check DV-01 again.")
    db.session.commit()
    plain, against = verdicts(runner, kept)
    assert plain.exit_code == 0 and against.exit_code == 0, against.output
    assert "still pass through its signed heads; 1 have activity since" in against.output
    assert audit.state == AuditState.IN_PROGRESS


def test_sign_off_takes_a_checkpoint_with_its_chain_sealed(history):
    closed, open_ = history
    checkpoint = db.session.execute(sa.select(Checkpoint)).scalar_one()
    assert checkpoint.reason == CheckpointReason.SIGN_OFF
    assert checkpoint.audit_id == int(closed.split(":")[1])
    signed = read_checkpoint(checkpoint.document)
    assert signed.ours
    head = db.session.get(ActivityChainHead, closed)
    assert signed.head_of(closed) == {"chain": closed, "seq": head.seq, "hash": head.hash,
                                      "sealed": True}
    # The open audit was not started yet when the other was signed off.
    assert signed.head_of(open_) is None


def test_a_changed_checkpoint_file_is_refused(kept, runner):
    doc = json.loads(kept.read_text())
    statement = json.loads(doc["statement"])
    statement["chains"] = statement["chains"][1:]  # hide a chain from the checkpoint
    doc["statement"] = json.dumps(statement, sort_keys=True, separators=(",", ":"))
    kept.write_text(json.dumps(doc))
    result = runner.invoke(args=["activity", "verify", "--against", str(kept)])
    assert result.exit_code == 1
    assert "The signature does not match the statement" in result.output


def test_a_checkpoint_signed_by_another_key_is_refused(kept, runner, app):
    from pathlib import Path

    for key in ("SIGNING_KEY_PATH", "SIGNING_CERT_PATH"):  # a new key, as after a lost folder
        Path(app.config[key]).unlink()
    result = runner.invoke(args=["activity", "verify", "--against", str(kept)])
    assert result.exit_code == 1
    assert "neither this installation's nor under SIGNING_TRUST_ROOTS" in result.output


def test_anyone_can_check_the_file_with_openssl(kept, client, tmp_path):
    """What the module docstring tells a recipient: no app, only the published certificate."""
    doc = json.loads(kept.read_text())
    (tmp_path / "statement.json").write_bytes(doc["statement"].encode("utf-8"))
    (tmp_path / "statement.sig").write_bytes(base64.b64decode(doc["signature"]["value"]))
    published = client.get("/.well-known/readiness-tracker/signing-cert.pem")
    assert published.status_code == 200
    (tmp_path / "cert.pem").write_bytes(published.data)
    public = subprocess.run(["openssl", "x509", "-in", tmp_path / "cert.pem", "-pubkey",
                             "-noout"], capture_output=True, check=True).stdout
    (tmp_path / "public.pem").write_bytes(public)
    check = subprocess.run(["openssl", "dgst", "-sha256", "-verify", tmp_path / "public.pem",
                            "-signature", tmp_path / "statement.sig",
                            tmp_path / "statement.json"], capture_output=True, text=True)
    assert check.stdout.strip() == "Verified OK", check.stderr
    fingerprint = client.get("/.well-known/readiness-tracker/signing-cert.json").json
    assert doc["certificate_sha256"] == fingerprint["sha256_fingerprint"]


def test_scheduled_checkpoint_from_cron(history, runner, tmp_path):
    path = tmp_path / "daily.json"
    result = runner.invoke(args=["activity", "checkpoint", "--reason", "scheduled",
                                 "--output", str(path)])
    assert result.exit_code == 0, result.output
    stored = db.session.execute(sa.select(Checkpoint).order_by(Checkpoint.id.desc())).scalar()
    assert stored.reason == CheckpointReason.SCHEDULED
    assert path.read_text() == stored.document
    again = runner.invoke(args=["activity", "checkpoint", "--id", str(stored.id),
                                "--output", "-"])
    assert again.output == stored.document
