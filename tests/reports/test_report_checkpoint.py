"""A signed report carries the checkpoint its sign-off took (issue 23, item 13): a recipient
who keeps the report keeps an anchor for the activity log."""

from tests import factories
from tests.reports.conftest import poppler, run
from tracker.activity import audit_chain
from tracker.activity.checkpoints import (
    ATTACHMENT,
    checkpoint_for_audit,
    checkpoint_from_report,
    read_checkpoint,
)
from tracker.extensions import db


def test_report_attaches_the_sign_off_checkpoint(signed, runner):
    audit, signoff, path = signed
    attached = run(poppler("pdfdetach"), "-list", str(path))
    assert ATTACHMENT in attached and "audit-results.json" in attached
    stored = checkpoint_for_audit(audit.id)
    carried = checkpoint_from_report(path.read_bytes())
    assert carried == stored.document
    entry = read_checkpoint(carried).head_of(audit_chain(audit.id))
    assert entry == {"chain": audit_chain(audit.id), "seq": signoff.chain_seq,
                     "hash": signoff.chain_head, "sealed": True}

    result = runner.invoke(args=["report", "verify", str(path)])
    assert result.exit_code == 0, result.output
    assert "[PASS] Carries a signed activity checkpoint" in result.output
    against = runner.invoke(args=["activity", "verify", "--against", str(path)])
    assert against.exit_code == 0, against.output
    assert "still pass through its signed heads" in against.output


def test_a_report_made_after_a_failed_sign_off_checkpoint_takes_one(app, library, people,
                                                                    monkeypatch):
    """A key that could not sign at sign-off fails the report too; `report create` later
    takes the checkpoint with it, the audit's chain still closed at the sign-off."""
    from tests.reports.conftest import STATEMENT, work_audit
    from tracker.activity import checkpoints
    from tracker.reports import service as reports
    from tracker.reports.keys import SigningKeyError

    real = checkpoints.take_checkpoint

    def broken(*args, **kwargs):
        raise SigningKeyError("the key is unreadable")

    monkeypatch.setattr(checkpoints, "take_checkpoint", broken)
    audit = work_audit(people)
    signoff = factories.sign_off(people["auditor"], audit, STATEMENT)
    db.session.commit()
    assert signoff.report_status.value == "failed"
    assert checkpoint_for_audit(audit.id) is None

    monkeypatch.setattr(checkpoints, "take_checkpoint", real)
    signoff = reports.create_signed_report(signoff.id)
    db.session.commit()
    assert signoff.report_status.value == "ready", signoff.report_error
    carried = checkpoints.checkpoint_from_report(
        reports.read_stored_report(signoff))
    entry = read_checkpoint(carried).head_of(audit_chain(audit.id))
    assert entry["sealed"] and entry["seq"] == signoff.chain_seq
