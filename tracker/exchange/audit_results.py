"""An audit's results as JSON (the canonical results the sign-off hashes) and as CSV."""

from tracker.audits.models import STATUS_LABELS, Audit, ItemStatus
from tracker.exchange.csvfile import write_rows
from tracker.reports.canonical import audit_results, audit_results_json

CSV_COLUMNS = ["code", "domain", "title", "criticality", "evidence_required", "status",
               "status_label", "owner", "due_date", "justification", "verdict", "verdict_note",
               "evidence_count", "evidence"]


def audit_json(audit: Audit) -> str:
    """Byte for byte what sign-off hashes: its SHA-256 equals the sign-off's audit_sha256."""
    return audit_results_json(audit)


def audit_csv(audit: Audit) -> str:
    results = audit_results(audit)
    rows = ([
        i["code"], i["domain"], i["title"], i["criticality"],
        "true" if i["evidence_required"] else "false", i["status"],
        STATUS_LABELS[ItemStatus(i["status"])], i["owner"], i["due_date"], i["justification"],
        i["verdict"], i["verdict_note"], len(i["evidence"]),
        " | ".join(f"{e['kind']}: {e['name']} (sha256 {e['sha256'][:12]})"
                   for e in i["evidence"]),
    ] for i in results["items"])
    return write_rows(CSV_COLUMNS, rows)


def filename(audit: Audit, ending: str) -> str:
    team = "".join(ch if ch.isalnum() else "-" for ch in audit.team.name).strip("-").lower()
    return f"audit-{audit.id}-{team}-{audit.period}.{ending}"


def attachment(audit: Audit, ending: str) -> dict:
    return {"Content-Disposition": f'attachment; filename="{filename(audit, ending)}"'}
