"""What submitting and signing off need (issue 19): every item assessed before review, every
item accepted and an opinion that fits the items before sign-off; the opinion and its
exceptions in the canonical JSON and on the report's cover."""

import pytest
import sqlalchemy as sa
from flask import render_template

from tests.audits.conftest import first_item
from tests.audits.test_rules import events
from tracker.audits import service
from tracker.audits.models import Audit, AuditItem, AuditState, Comment, ItemStatus, Verdict
from tracker.extensions import db
from tracker.reports import service as reports
from tracker.reports.canonical import audit_results, audit_results_hash
from tracker.reports.models import SignOff
from tracker.reports.render import report_context
from tracker.rules import ItemsLeft, RuleViolation


def statuses(audit) -> dict:
    return dict(db.session.execute(sa.select(AuditItem.code, AuditItem.status)
                                   .where(AuditItem.audit_id == audit.id)).all())


def test_submitting_with_open_items_is_refused_with_their_links(client, login_as, make_audit):
    audit = make_audit(state="in_progress")
    before, was = events(), statuses(audit)
    login_as("lead")
    page = client.get(f"/audits/{audit.id}/submit").get_data(True)
    assert f"{len(was)} items are still open" in page
    assert f'action="/audits/{audit.id}/submit"' not in page  # no button while items are open
    response = client.post(f"/audits/{audit.id}/submit", data={})
    body = response.get_data(True)
    assert response.status_code == 409 and "still open" in body and "Nothing was changed" in body
    item = first_item(audit)
    assert f'href="/audits/{audit.id}/items/{item.id}"' in body
    assert db.session.get(Audit, audit.id).state == AuditState.IN_PROGRESS
    assert statuses(audit) == was and events() == before


def test_the_lead_marks_the_rest_not_met_with_a_note_then_submits(client, login_as, make_audit,
                                                                  people):
    audit = make_audit(state="in_progress")
    met = first_item(audit)
    service.add_evidence(people["operator"], met, note="Drill run on the 3rd.")
    service.update_item(people["operator"], met, expected_version=None, status="met")
    db.session.commit()
    login_as("lead")
    before = events()
    response = client.post(f"/audits/{audit.id}/mark-rest-not-met", data={"note": " "})
    assert response.status_code == 422 and "Say why the items left are not met" in \
        response.get_data(True)
    assert events() == before
    response = client.post(f"/audits/{audit.id}/mark-rest-not-met",
                           data={"note": "Carried into Q1's plan."})
    assert response.status_code == 302
    now = statuses(audit)
    assert now.pop(met.code) == ItemStatus.MET
    assert set(now.values()) == {ItemStatus.NOT_MET}
    comments = db.session.execute(sa.select(Comment.body).join(AuditItem).where(
        AuditItem.audit_id == audit.id)).scalars().all()
    assert comments == ["Carried into Q1's plan."] * len(now)
    assert client.post(f"/audits/{audit.id}/submit", data={}).status_code == 302
    assert db.session.get(Audit, audit.id).state == AuditState.IN_REVIEW


def test_an_operator_cannot_mark_the_rest_not_met(client, login_as, make_audit):
    audit = make_audit(state="in_progress")
    was = statuses(audit)
    login_as("operator")
    response = client.post(f"/audits/{audit.id}/mark-rest-not-met", data={"note": "x"})
    assert response.status_code == 403 and statuses(audit) == was


def test_sign_off_needs_every_item_accepted(app, make_audit, people):
    audit = make_audit(state="in_review")
    items = db.session.execute(sa.select(AuditItem).where(AuditItem.audit_id == audit.id)
                               .order_by(AuditItem.code)).scalars().all()
    auditor = people["auditor"]
    with pytest.raises(ItemsLeft) as refused:
        reports.sign_off(auditor, audit, "Fine.", "not_ready")
    assert [i.id for i in refused.value.items] == [i.id for i in items]
    db.session.rollback()

    service.review_item(auditor, items[0], "needs_rework", "Attach the rota.")
    assert service.accept_items(auditor, audit) == len(items) - 1  # rework stays as it is
    db.session.commit()
    with pytest.raises(ItemsLeft) as refused:
        reports.sign_off(auditor, audit, "Fine.", "not_ready")
    assert [i.code for i in refused.value.items] == [items[0].code]
    db.session.rollback()
    assert db.session.get(Audit, audit.id).state == AuditState.IN_REVIEW

    service.review_item(auditor, items[0], "accepted", "Seen on the call.")
    signoff = reports.sign_off(auditor, audit, "Fine.", "not_ready")
    db.session.commit()
    assert signoff.opinion == "not_ready"
    assert db.session.get(Audit, audit.id).state == AuditState.SIGNED_OFF


def _accepted(make_audit, people, *, met_first: bool, codes=("DV",)):
    """An audit in review, every item accepted: all not met, or the first met and the rest N/A."""
    audit = make_audit(codes, state="in_progress")
    first = first_item(audit)
    if met_first:
        service.add_evidence(people["operator"], first, note="Checked.")
        service.update_item(people["operator"], first, expected_version=None, status="met")
        rest = [i.id for i in audit.items if i.id != first.id]
        if rest:
            service.bulk_update(people["lead"], audit, rest, status="not_applicable",
                                justification="Handled by the 3PL.")
    else:
        service.mark_rest_not_met(people["lead"], audit, "Late.")
    service.submit_for_review(people["lead"], audit)
    service.accept_items(people["auditor"], audit)
    db.session.commit()
    return audit


@pytest.mark.parametrize("opinion,met_first,refusal", [
    (None, True, "Choose your opinion"),
    ("fine", True, "Choose your opinion"),
    ("ready", False, "choose “ready with exceptions”"),
    ("ready_with_exceptions", True, "there are no exceptions"),
])
def test_the_opinion_must_fit_the_items(make_audit, people, opinion, met_first, refusal):
    audit = _accepted(make_audit, people, met_first=met_first)
    before = events()
    with pytest.raises(RuleViolation, match=refusal):
        reports.sign_off(people["auditor"], audit, "Reviewed.", opinion)
    db.session.rollback()
    assert db.session.get(Audit, audit.id).state == AuditState.IN_REVIEW and events() == before


def test_the_opinion_and_exceptions_are_signed_and_on_the_cover(app, make_audit, people):
    audit = _accepted(make_audit, people, met_first=False)
    item = first_item(audit)
    item.verdict_note = "The rota is missing."
    signoff = reports.sign_off(people["auditor"], audit, "Reviewed.", "ready_with_exceptions")
    db.session.commit()
    results = audit_results(audit)
    codes = sorted(i["code"] for i in results["items"])
    assert results["sign_off"] == {"opinion": "ready_with_exceptions", "exceptions": codes}
    assert signoff.audit_sha256 == audit_results_hash(audit)  # the opinion is what was signed

    with app.test_request_context():
        html = render_template("reports/report.html", checkpoint=None, **report_context(
            audit, signoff, results_sha256=signoff.audit_sha256, draft=False))
    assert "Auditor's opinion: <strong>Ready with exceptions</strong>" in html
    assert f"<b>{item.code}</b>" in html and "The rota is missing." in html


def test_the_cover_names_a_dozen_exceptions_and_counts_the_rest(app, make_audit, people):
    audit = _accepted(make_audit, people, met_first=False, codes=("DV", "INV"))
    signoff = reports.sign_off(people["auditor"], audit, "Reviewed.", "ready_with_exceptions")
    db.session.commit()
    with app.test_request_context():
        html = render_template("reports/report.html", checkpoint=None, **report_context(
            audit, signoff, results_sha256=signoff.audit_sha256, draft=False))
    cover = html.split('<div class="exceptions">')[1].split("</div>")[0]
    assert len(audit.items) > 12 and cover.count("<li>") == 12
    assert f"and {len(audit.items) - 12} more" in cover


def test_a_sign_off_from_before_opinions_keeps_its_bytes(make_audit, people):
    audit = make_audit(state="signed_off")
    signoff = db.session.execute(sa.select(SignOff).where(SignOff.audit_id == audit.id)
                                 ).scalar_one()
    signoff.opinion = None
    db.session.flush()
    assert "sign_off" not in audit_results(audit)


def test_accepting_needs_the_audit_in_review(make_audit, people):
    audit = make_audit(state="in_progress")
    with pytest.raises(Exception, match="in review"):
        service.accept_items(people["auditor"], audit)
    db.session.rollback()
    assert not db.session.execute(sa.select(AuditItem.id).where(
        AuditItem.audit_id == audit.id, AuditItem.verdict == Verdict.ACCEPTED)).first()


def test_a_bulk_status_change_on_a_draft_says_it_opened_it(client, login_as, make_audit):
    audit = make_audit(state="draft")
    item = first_item(audit)
    login_as("lead")
    response = client.post(f"/audits/{audit.id}/bulk", follow_redirects=True, data={
        "item_ids": [item.id], "owner_id": "", "status": "blocked"})
    assert "this change opened it for work" in response.get_data(True)
    assert db.session.get(Audit, audit.id).state == AuditState.IN_PROGRESS
