"""An audit's results as JSON (the canonical results the sign-off hashes) and as CSV."""

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from tracker.audits.models import STATUS_LABELS, Audit, AuditItem, Comment, ItemStatus
from tracker.exchange import xlsx
from tracker.exchange.csvfile import write_rows
from tracker.extensions import db
from tracker.reports.canonical import audit_results, audit_results_json

CSV_COLUMNS = ["code", "domain", "title", "criticality", "evidence_required", "status",
               "status_label", "owner", "due_date", "justification", "verdict", "verdict_note",
               "evidence_count", "evidence"]


def audit_json(audit: Audit) -> str:
    """Byte for byte what sign-off hashes: its SHA-256 equals the sign-off's audit_sha256."""
    return audit_results_json(audit)


def _evidence_text(item: dict) -> str:
    return " | ".join(f"{e['kind']}: {e['name']} (sha256 {e['sha256'][:12]})"
                      for e in item["evidence"])


def audit_csv(audit: Audit) -> str:
    results = audit_results(audit)
    rows = ([
        i["code"], i["domain"], i["title"], i["criticality"],
        "true" if i["evidence_required"] else "false", i["status"],
        STATUS_LABELS[ItemStatus(i["status"])], i["owner"], i["due_date"], i["justification"],
        i["verdict"], i["verdict_note"], len(i["evidence"]), _evidence_text(i),
    ] for i in results["items"])
    return write_rows(CSV_COLUMNS, rows)


XLSX_COLUMNS = [c for c in CSV_COLUMNS if c != "domain"] + ["comments"]


def _comments(audit: Audit) -> dict[str, str]:
    """Each item's comments, oldest first: "2026-04-02 lead@…: text" per line."""
    rows = db.session.execute(
        sa.select(AuditItem.code, Comment).join(Comment, Comment.audit_item_id == AuditItem.id)
        .where(AuditItem.audit_id == audit.id).order_by(AuditItem.code, Comment.created_at,
                                                         Comment.id)
        .options(selectinload(Comment.author))).all()
    found: dict[str, list[str]] = {}
    for code, comment in rows:
        found.setdefault(code, []).append(
            f"{comment.created_at:%Y-%m-%d %H:%M} {comment.author.email}: {comment.body}")
    return {code: "\n".join(lines) for code, lines in found.items()}


def audit_xlsx(audit: Audit) -> bytes:
    """A summary sheet, then one sheet per domain: each item's status, owner, evidence,
    verdict and comments, the same values as the CSV and the canonical JSON."""
    results = audit_results(audit)
    comments = _comments(audit)
    a, score = results["audit"], results["score"]
    summary = [["team", a["team"]], ["period", a["period"]], ["state", a["state"]],
               ["scope", ", ".join(a["scope"])], ["lead", a["lead"] or ""],
               ["due date", a["due_date"] or ""], ["signed off", a["signed_off_at"] or ""],
               ["score", "" if score["percent"] is None else f"{score['percent']} %"],
               ["score formula", f"weighted met {score['weighted_met']} / weighted applicable "
                                 f"{score['weighted_applicable']} (critical 3, high 2, "
                                 "normal 1; not applicable left out)"]]
    by_domain: dict[str, list[list]] = {}
    for i in results["items"]:
        by_domain.setdefault(i["domain"], []).append([
            i["code"], i["title"], i["criticality"],
            "true" if i["evidence_required"] else "false", i["status"],
            STATUS_LABELS[ItemStatus(i["status"])], i["owner"] or "", i["due_date"] or "",
            i["justification"] or "", i["verdict"] or "", i["verdict_note"] or "",
            len(i["evidence"]), _evidence_text(i), comments.get(i["code"], "")])
    return xlsx.workbook_bytes([("Summary", ["field", "value"], summary)] + [
        (domain, XLSX_COLUMNS, rows) for domain, rows in by_domain.items()])


def filename(audit: Audit, ending: str) -> str:
    team = "".join(ch if ch.isalnum() else "-" for ch in audit.team.name).strip("-").lower()
    return f"audit-{audit.id}-{team}-{audit.period}.{ending}"


def attachment(audit: Audit, ending: str) -> dict:
    return {"Content-Disposition": f'attachment; filename="{filename(audit, ending)}"'}
