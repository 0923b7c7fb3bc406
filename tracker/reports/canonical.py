"""The audit's results as canonical JSON: what the sign-off hashes and the report embeds.

Format (version 1): an object with keys `format`, `audit` (id, team, period, state, scope,
lead, due_date, signed_off_at), `score` (weighted_met, weighted_applicable, percent) and
`items`, sorted by code, each with code, domain, title, criticality, evidence_required,
status, owner, due_date, justification, verdict, verdict_note and `evidence` (kind, name,
sha256, created_by, created_at), and — once signed off with an opinion — `sign_off`
(opinion: ready, ready_with_exceptions or not_ready; exceptions: the codes of the items not
met). Serialised by tracker.canonical.canonical_json: UTF-8,
keys sorted, no whitespace.
"""

import sqlalchemy as sa

from tracker.audits import readmodel, vocabulary
from tracker.audits.models import Audit
from tracker.canonical import canonical_json, sha256_hex
from tracker.extensions import db
from tracker.reports.models import SignOff

FORMAT = "readiness-tracker/audit-results/v1"


def audit_results(audit: Audit) -> dict:
    items = readmodel.items_with_evidence(audit.id)
    summary = readmodel.summary_of_items(audit, items)
    results = {
        "format": FORMAT,
        "audit": {
            "id": audit.id, "team": audit.team.name, "period": audit.period,
            "state": audit.state.value, "scope": [d.code for d in audit.domains],
            "lead": audit.lead.email if audit.lead else None,
            "due_date": audit.due_date.isoformat() if audit.due_date else None,
            "signed_off_at": audit.signed_off_at.isoformat() if audit.signed_off_at else None,
        },
        "score": {
            "weighted_met": summary.weight_met, "weighted_applicable": summary.weight_applicable,
            "percent": summary.score_percent,
        },
        "items": [{
            "code": i.code, "domain": i.domain.code, "title": i.title,
            "criticality": i.criticality.value, "evidence_required": i.evidence_required,
            "status": i.status.value, "owner": i.owner.email if i.owner else None,
            "due_date": i.due_date.isoformat() if i.due_date else None,
            "justification": i.justification,
            "verdict": i.verdict.value if i.verdict else None, "verdict_note": i.verdict_note,
            "evidence": [{
                "kind": e.kind.value, "name": e.filename or e.url or (e.note or "")[:200],
                "sha256": e.sha256, "created_by": e.created_by.email,
                "created_at": e.created_at.isoformat(),
            } for e in i.evidence],
        } for i in items],
    }
    signoff = db.session.execute(
        sa.select(SignOff.opinion).where(SignOff.audit_id == audit.id)).scalar()
    if signoff is not None:  # sign-offs from before opinions keep their exact bytes
        results["sign_off"] = {
            "opinion": signoff.value,
            "exceptions": [i.code for i in items if vocabulary.is_exception(i.status)],
        }
    return results


def audit_results_json(audit: Audit) -> str:
    return canonical_json(audit_results(audit))


def audit_results_hash(audit: Audit) -> str:
    return sha256_hex(audit_results_json(audit))
