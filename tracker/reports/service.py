"""Sign-off: freeze the audit and record what was signed."""

from tracker.audits import service as audits
from tracker.audits.models import Audit
from tracker.auth.models import User
from tracker.extensions import db
from tracker.reports.canonical import audit_results_hash
from tracker.reports.models import SignOff


def sign_off(actor: User, audit: Audit, statement: str) -> SignOff:
    statement = audits.require_sign_off_allowed(audit, statement)
    event = audits.mark_signed_off(actor, audit, statement)
    db.session.flush()
    signoff = SignOff(audit=audit, auditor=actor, statement=statement,
                      signed_at=audit.signed_off_at, audit_sha256=audit_results_hash(audit),
                      chain_seq=event.seq, chain_head=event.hash)
    db.session.add(signoff)
    db.session.flush()
    return signoff
