"""The report's "Corrective actions" section: the actions made from the audit's items with
title, owner, due date, status and closed date — rendered from the actions as they stand, and
kept out of the signed canonical JSON (an action changes after sign-off; the hash must not)."""

from datetime import timedelta

import sqlalchemy as sa

from tests.reports.conftest import page_texts, work_audit
from tracker import clock
from tracker.actions import service as actions
from tracker.audits.models import AuditItem, ItemStatus
from tracker.extensions import db
from tracker.reports import render
from tracker.reports.canonical import audit_results_hash
from tracker.templating import format_date


def _not_met(audit) -> list[AuditItem]:
    return db.session.execute(sa.select(AuditItem).where(
        AuditItem.audit_id == audit.id, AuditItem.status == ItemStatus.NOT_MET)
        .order_by(AuditItem.code)).scalars().all()


def test_the_report_lists_the_audits_actions_and_the_hash_ignores_them(
        app, library, people, tmp_path):
    audit = work_audit(people, domain_codes=("SUP",))
    other = work_audit(people, domain_codes=("DV",), period="2026-Q2")
    first, second = _not_met(audit)[:2]
    hash_before = audit_results_hash(audit)
    due = clock.today() + timedelta(days=20)
    actions.create_action(people["lead"], title="Staff the weekend refund queue",
                          audit_item=first, owner=people["operator"], due_on=due)
    done = actions.create_action(people["lead"], title="Publish the refund macro",
                                 audit_item=second)
    actions.close_action(people["operator"], done, outcome="done", note="Macro live, KB-12.")
    actions.create_action(people["lead"], title="By hand, not from an item",
                          team=people["alpha"])
    actions.create_action(people["lead"], title="From another audit",
                          audit_item=_not_met(other)[0])
    db.session.flush()
    assert audit_results_hash(audit) == hash_before

    path = tmp_path / "draft.pdf"
    path.write_bytes(render.render_report_pdf(audit))
    pages = [" ".join(p.split()) for p in page_texts(path)]
    (page,) = [p for p in pages if "Corrective actions" in p]
    assert "Item Action Owner Due Status Closed" in page
    assert (f"{first.code} Staff the weekend refund queue Omar Operator {format_date(due)} "
            "Open —") in page
    assert (f"{second.code} Publish the refund macro Unassigned — Done "
            f"{format_date(done.closed_at)}") in page
    assert "By hand, not from an item" not in page and "From another audit" not in page


def test_an_audit_without_actions_says_so(app, library, people, tmp_path):
    audit = work_audit(people, domain_codes=("SUP",))
    path = tmp_path / "draft.pdf"
    path.write_bytes(render.render_report_pdf(audit))
    text = " ".join(" ".join(page_texts(path)).split())
    assert "No corrective action was made from this audit's items" in text
