"""Sign-off, and the signed report it produces.

`sign_off` freezes the audit and records what was signed, and queues the report: made after
the commit, never inside the sign-off's transaction nor its request — by an RQ worker with
Redis, by the process's job thread without (tracker/reports/jobs.py, which also retries and
sweeps). `build_signed_pdf` is render → embed → sign; `store_report` keeps the file. A failure
leaves the sign-off standing with report_status "failed" and the reason; `retry_report` (the
audit page's button) or `flask --app app report create AUDIT_ID` tries again.

A stored report is never rendered again: downloads read the file, whose SHA-256 and size the
SignOff keeps.
"""

import logging
import os
import tempfile
from pathlib import Path

from flask import current_app

from tracker.activity import record
from tracker.audits import service as audits
from tracker.audits import vocabulary
from tracker.audits.models import Audit
from tracker.auth.models import User
from tracker.canonical import sha256_hex
from tracker.db import utcnow
from tracker.extensions import db
from tracker.reports.canonical import audit_results_hash, audit_results_json
from tracker.reports.models import Opinion, ReportStatus, SignOff
from tracker.rules import RuleViolation

log = logging.getLogger(__name__)


class StoredReportError(RuntimeError):
    """The stored PDF is missing or no longer matches its recorded SHA-256."""


class ResultsChanged(RuntimeError):
    """The audit's results no longer hash to what was signed off: never signed."""


def sign_off(actor: User, audit: Audit, statement: str, opinion: Opinion | str | None) -> SignOff:
    """Freeze the audit with the auditor's statement and opinion; the report follows. The
    opinion must fit the items: "ready" with none not met, "ready with exceptions" with some
    (they are the exceptions); "not ready" always can be given."""
    statement = audits.sign_off_statement(statement)
    opinion = _opinion(opinion)
    event = audits.mark_signed_off(actor, audit, statement, opinion.value)
    exceptions = exceptions_of(audit)
    if opinion == Opinion.READY and exceptions:
        raise RuleViolation(f"{len(exceptions)} item{'s are' if len(exceptions) != 1 else ' is'} "
                            "not met: choose “ready with exceptions” (they are listed as the "
                            "exceptions) or “not ready”.", "opinion")
    if opinion == Opinion.READY_WITH_EXCEPTIONS and not exceptions:
        raise RuleViolation("No item is “not met”, so there are no exceptions: choose "
                            "“ready”.", "opinion")
    db.session.flush()
    signoff = SignOff(audit=audit, auditor_id=actor.id, statement=statement, opinion=opinion,
                      signed_at=audit.signed_off_at, audit_sha256="",
                      chain_seq=event.seq, chain_head=event.hash,
                      report_status=ReportStatus.PENDING)
    db.session.add(signoff)
    db.session.flush()
    signoff.audit_sha256 = audit_results_hash(audit)  # holds the opinion, so after the row
    db.session.flush()
    _checkpoint_sign_off(audit)
    from tracker.reports.jobs import queue_report

    queue_report(signoff.id)
    return signoff


def _opinion(opinion) -> Opinion:
    try:
        return Opinion(opinion)
    except ValueError:
        raise RuleViolation("Choose your opinion: ready, ready with exceptions, or not ready.",
                            "opinion") from None


def exceptions_of(audit: Audit) -> list:
    """The items not met (id, code, title, status, verdict): a "ready with exceptions"
    sign-off's exceptions."""
    return audits.items_where(audit, vocabulary.exception_clause())


def retry_report(actor: User, signoff: SignOff) -> SignOff:
    """A failed report, pending again with its attempts afresh (the page's retry button)."""
    from tracker.reports.jobs import queue_report
    from tracker.rules import Conflict
    from tracker.transactions import begin_write

    begin_write()
    db.session.refresh(signoff)
    if signoff.report_status != ReportStatus.FAILED:
        raise Conflict("The report has not failed: it is ready, or still being made. Reload "
                       "the page.")
    record(actor, "report.retry", chain="reports", subject=f"audit {signoff.audit_id}",
           before={"report_status": "failed", "report_error": signoff.report_error},
           after={"report_status": "pending"})
    signoff.report_status = ReportStatus.PENDING
    signoff.report_attempts = 0
    signoff.report_error = None
    signoff.report_due_at = utcnow()
    signoff.report_claimed_at = signoff.report_claimed_by = None
    db.session.flush()
    queue_report(signoff.id)
    return signoff


def _checkpoint_sign_off(audit: Audit) -> None:
    """Sign every chain's head, this audit's sealed at its sign-off: the report carries it.
    A key that cannot sign fails the report too, which says so and can be made again (the
    checkpoint with it); the sign-off itself stands."""
    from tracker.activity.checkpoints import take_checkpoint
    from tracker.activity.models import CheckpointReason
    from tracker.reports.keys import SigningKeyError

    try:
        with db.session.begin_nested():
            take_checkpoint(CheckpointReason.SIGN_OFF, audit_id=audit.id)
    except SigningKeyError:
        log.warning("no checkpoint at the sign-off of audit %s: the key cannot sign",
                    audit.id, exc_info=True)


def ensure_report_checkpoint(signoff: SignOff) -> bool:
    """Take the checkpoint its sign-off could not (its audit's chain is frozen, so it still
    ends at the sign-off). Flushes; True when it wrote one."""
    from tracker.activity.checkpoints import checkpoint_for_audit, take_checkpoint
    from tracker.activity.models import CheckpointReason

    if checkpoint_for_audit(signoff.audit_id) is not None:
        return False
    take_checkpoint(CheckpointReason.SIGN_OFF, audit_id=signoff.audit_id)
    return True


def create_signed_report(signoff_id: int) -> SignOff:
    """Make the report here and now (`flask --app app report create`): a failed one is
    pending again first. Commits, as a job does: the render runs between two short
    transactions."""
    from tracker.reports.jobs import make_report
    from tracker.transactions import begin_write

    signoff = db.session.get(SignOff, signoff_id)
    if signoff is None:
        raise LookupError(f"No sign-off {signoff_id}.")
    if signoff.report_status == ReportStatus.READY and report_path(signoff).is_file():
        return signoff
    begin_write()
    signoff.report_status = ReportStatus.PENDING
    signoff.report_error = None
    signoff.report_attempts = 0
    signoff.report_claimed_at = signoff.report_claimed_by = None
    db.session.commit()
    try:
        make_report(signoff_id)
    except Exception as exc:
        db.session.rollback()
        signoff = db.session.get(SignOff, signoff_id)
        signoff.report_status = ReportStatus.FAILED
        signoff.report_error = f"{type(exc).__name__}: {exc}"[:2000]
        signoff.report_claimed_at = signoff.report_claimed_by = None
        db.session.commit()
    db.session.expire_all()
    return db.session.get(SignOff, signoff_id)


def build_signed_pdf(signoff: SignOff) -> bytes:
    """Render and sign; reads only (so no lock is held while it runs)."""
    from tracker.activity.checkpoints import checkpoint_for_audit
    from tracker.reports.render import render_report_pdf
    from tracker.reports.signing import sign_pdf

    audit = signoff.audit
    results_json = audit_results_json(audit)
    results_sha256 = sha256_hex(results_json)
    if results_sha256 != signoff.audit_sha256:
        raise ResultsChanged("The audit's results changed after sign-off (SHA-256 "
                             f"{results_sha256} is not the recorded {signoff.audit_sha256}); "
                             "refusing to sign a report that differs from what was signed off.")
    checkpoint = checkpoint_for_audit(signoff.audit_id)
    unsigned = render_report_pdf(audit, signoff, results_json=results_json,
                                 results_sha256=results_sha256, checkpoint=checkpoint)
    return sign_pdf(unsigned, signer_name=signoff.auditor.name, reason=signoff.statement,
                    location=current_app.config["ORGANISATION_NAME"])


# --- storage -----------------------------------------------------------------------------

def reports_dir() -> Path:
    path = Path(current_app.config["REPORTS_DIR"])
    path.mkdir(parents=True, exist_ok=True)
    return path


def report_path(signoff: SignOff) -> Path:
    return reports_dir() / f"{signoff.pdf_sha256 or 'missing'}.pdf"


def store_report(pdf: bytes) -> Path:
    """Write the PDF under its SHA-256, atomically; an identical file is kept as it is."""
    final = reports_dir() / f"{sha256_hex(pdf)}.pdf"
    if final.exists():
        return final
    fd, tmp = tempfile.mkstemp(dir=final.parent, prefix=".report-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(pdf)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o640)
        os.replace(tmp, final)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return final


def read_stored_report(signoff: SignOff) -> bytes:
    """The signed PDF exactly as stored, checked against its recorded SHA-256 and size."""
    path = report_path(signoff)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise StoredReportError(f"The signed report file {path.name} is missing from "
                                "REPORTS_DIR; restore it from a backup.") from None
    if len(data) != signoff.pdf_size or sha256_hex(data) != signoff.pdf_sha256:
        raise StoredReportError(f"The stored report {path.name} no longer matches its recorded "
                                "SHA-256; restore it from a backup.")
    return data
