"""Sign-off, and the signed report it produces.

`sign_off` freezes the audit and records what was signed; `create_signed_report(signoff_id)`
does render → embed → sign → store → update the SignOff, as one function so it can run as a
background job later. Today it runs inline, in the sign-off request (or the demo seed); a
failure leaves the sign-off standing with report_status "failed" and the reason, and
`flask --app app report create AUDIT_ID` tries again.

A stored report is never rendered again: downloads read the file, whose SHA-256 and size the
SignOff keeps.
"""

import logging
import os
import tempfile
from pathlib import Path

from flask import current_app

from tracker import jobs
from tracker.audits import service as audits
from tracker.audits.models import Audit
from tracker.auth.models import User
from tracker.canonical import sha256_hex
from tracker.extensions import db
from tracker.reports.canonical import audit_results_hash, audit_results_json
from tracker.reports.models import ReportStatus, SignOff

log = logging.getLogger(__name__)


class StoredReportError(RuntimeError):
    """The stored PDF is missing or no longer matches its recorded SHA-256."""


def sign_off(actor: User, audit: Audit, statement: str) -> SignOff:
    statement = audits.sign_off_statement(statement)
    event = audits.mark_signed_off(actor, audit, statement)
    db.session.flush()
    signoff = SignOff(audit=audit, auditor_id=actor.id, statement=statement,
                      signed_at=audit.signed_off_at, audit_sha256=audit_results_hash(audit),
                      chain_seq=event.seq, chain_head=event.hash,
                      report_status=ReportStatus.PENDING)
    db.session.add(signoff)
    db.session.flush()
    _checkpoint_sign_off(audit)
    # On an RQ worker once this commits when REDIS_URL is set, so no page waits on a
    # render; inline otherwise (one machine).
    jobs.submit("tracker.reports.service.create_signed_report", signoff.id)
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


def report_checkpoint(signoff: SignOff):
    """The checkpoint its sign-off took; taken now when that failed (its audit's chain is
    frozen, so it still ends at the sign-off)."""
    from tracker.activity.checkpoints import checkpoint_for_audit, take_checkpoint
    from tracker.activity.models import CheckpointReason

    return checkpoint_for_audit(signoff.audit_id) or take_checkpoint(
        CheckpointReason.SIGN_OFF, audit_id=signoff.audit_id)


def create_signed_report(signoff_id: int) -> SignOff:
    """Render, embed the results, sign, store, and mark the SignOff ready (or failed).

    Flushes, never commits. Safe to call again: a ready report is left as it is.
    """
    signoff = db.session.get(SignOff, signoff_id)
    if signoff is None:
        raise LookupError(f"No sign-off {signoff_id}.")
    if signoff.report_status == ReportStatus.READY and report_path(signoff).is_file():
        return signoff
    try:
        pdf = build_signed_pdf(signoff)
        path = _store(pdf)
    except Exception as exc:
        log.exception("signed report for sign-off %s failed", signoff.id)
        signoff.report_status = ReportStatus.FAILED
        signoff.report_error = f"{type(exc).__name__}: {exc}"[:2000]
        db.session.flush()
        return signoff
    signoff.pdf_sha256 = path.stem
    signoff.pdf_size = len(pdf)
    signoff.report_status = ReportStatus.READY
    signoff.report_error = None
    db.session.flush()
    return signoff


def build_signed_pdf(signoff: SignOff) -> bytes:
    from tracker.reports.render import render_report_pdf
    from tracker.reports.signing import sign_pdf

    audit = signoff.audit
    results_json = audit_results_json(audit)
    results_sha256 = sha256_hex(results_json)
    if results_sha256 != signoff.audit_sha256:
        raise RuntimeError("The audit's results changed after sign-off (SHA-256 "
                           f"{results_sha256} is not the recorded {signoff.audit_sha256}); "
                           "refusing to sign a report that differs from what was signed off.")
    checkpoint = report_checkpoint(signoff)
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


def _store(pdf: bytes) -> Path:
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
