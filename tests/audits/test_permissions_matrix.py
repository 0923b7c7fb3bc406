"""Role × action over every audit route, in every audit state.

Expected outcomes come from DESIGN.md's table, written out here (not computed from
tracker/auth/permissions.py, so a change there that breaks a rule fails this test):
  - someone outside the team (not an auditor or admin) gets 404: the audit does not exist
    for them;
  - an edit to an audit whose state does not allow it is refused with 409 and the reason;
  - otherwise a role the table does not allow gets 403.
"""

import io
import re

import pytest
import sqlalchemy as sa

from tests.audits.conftest import PNG, first_item, move_to
from tracker.audits import service
from tracker.audits.models import Audit, AuditItem
from tracker.extensions import db

ROLES = ("admin", "lead", "operator", "auditor", "member_auditor", "outsider")
STATES = ("draft", "in_progress", "in_review", "signed_off")
EDITABLE = {"draft", "in_progress"}
EVERYONE = set(ROLES) - {"outsider"}


def _item_update(ctx):
    item = db.session.get(AuditItem, ctx["item_id"])
    return {"status": "in_progress", "justification": "", "owner_id": "none", "due_date": "",
            "version": item.version}


# name: (method, url template, data, roles allowed, states allowed, success status)
ROUTES = {
    "view audit": ("GET", "/audits/{audit}", None, EVERYONE, STATES, 200),
    "view filtered audit": ("GET", "/audits/{audit}?status=met&overdue=1", None, EVERYONE,
                            STATES, 200),
    "view item": ("GET", "/audits/{audit}/items/{item}", None, EVERYONE, STATES, 200),
    "download evidence": ("GET", "/audits/{audit}/items/{item}/evidence/{evidence}", None,
                          EVERYONE, STATES, 200),
    "start next quarter (form)": ("GET", "/audits/new?previous={audit}", None, {"lead"},
                                  STATES, 200),
    "start next quarter": ("POST", "/audits/new", lambda ctx: {
        "previous_id": ctx["audit"], "team_id": ctx["team"], "period": "ignored",
        "domains": ctx["domains"], "due_date": ""}, {"lead"}, STATES, 302),
    "open for work": ("POST", "/audits/{audit}/open", {}, {"lead"}, EDITABLE, 302),
    "bulk update": ("POST", "/audits/{audit}/bulk", lambda ctx: {
        "item_ids": [ctx["item_id"]], "owner_id": ctx["operator"], "status": ""},
        {"lead"}, EDITABLE, 302),
    "submit (confirmation)": ("GET", "/audits/{audit}/submit", None, {"lead"}, EDITABLE, 200),
    # A draft's items are all open, so submitting one is refused like a closed audit (409).
    "submit": ("POST", "/audits/{audit}/submit", {}, {"lead"}, {"in_progress"}, 302),
    "mark the rest not met": ("POST", "/audits/{audit}/mark-rest-not-met",
                              {"note": "Not done in time."}, {"lead"}, EDITABLE, 302),
    "accept unreviewed": ("POST", "/audits/{audit}/accept", {}, {"auditor"}, {"in_review"},
                          302),
    "update item": ("POST", "/audits/{audit}/items/{item}", _item_update,
                    {"lead", "operator", "member_auditor"}, EDITABLE, 302),
    "add evidence": ("POST", "/audits/{audit}/items/{item}/evidence",
                     {"kind": "note", "note": "Checked the runbook."}, {"lead", "operator"},
                     EDITABLE, 302),
    "comment": ("POST", "/audits/{audit}/items/{item}/comments", {"body": "Looks right."},
                {"lead", "operator", "member_auditor", "auditor"},
                {"draft", "in_progress", "in_review"}, 302),
    "review (page)": ("GET", "/audits/{audit}/review", None, {"auditor"}, {"in_review"}, 200),
    "item verdict": ("POST", "/audits/{audit}/items/{item}/verdict", {"verdict": "accepted"},
                     {"auditor"}, {"in_review"}, 302),
    "return audit": ("POST", "/audits/{audit}/return", {"reason": "Attach the drill notes."},
                     {"auditor"}, {"in_review"}, 302),
    "sign off (confirmation)": ("GET", "/audits/{audit}/sign-off", None, {"auditor"},
                                {"in_review"}, 200),
    "sign off": ("POST", "/audits/{audit}/sign-off",
                 {"statement": "Reviewed.", "opinion": "not_ready"}, {"auditor"},
                 {"in_review"}, 302),
}


def expected(route, role, state):
    _, _, _, roles, states, success = ROUTES[route]
    if role == "outsider":
        return 404
    if state not in states:
        return 409
    return success if role in roles else 403


PERIODS = dict(zip(STATES, ("2025-Q1", "2025-Q3", "2026-Q1", "2026-Q3"), strict=True))


@pytest.mark.parametrize("route", ROUTES)
def test_role_by_action(route, client, login_as, people, make_audit):
    """One audit per state (periods far apart, so "start next quarter" always has room)."""
    contexts = {}
    for state in STATES:
        audit = make_audit(state="draft", period=PERIODS[state])
        item = first_item(audit)
        evidence = service.add_evidence(people["operator"], item, upload=io.BytesIO(PNG),
                                        filename="proof.png")
        move_to(audit, state, people)
        if audit.state.value == "in_progress" and route == "submit":  # every item assessed
            service.mark_rest_not_met(people["lead"], audit, "Not done in time.")
        if state == "in_review" and route == "sign off":  # every item accepted
            service.accept_items(people["auditor"], audit)
        db.session.commit()
        contexts[state] = {"audit": audit.id, "item": item.id, "item_id": item.id,
                           "evidence": evidence.id, "team": people["alpha"].id,
                           "operator": str(people["operator"].id),
                           "domains": [d.id for d in audit.domains]}
    method, template, data, roles, _, _ = ROUTES[route]
    # Roles allowed to act go last, so that their changes cannot mask another role's refusal.
    for role in sorted(ROLES, key=lambda r: r in roles):
        login_as(role)
        for ctx in contexts.values():
            url = template.format(**ctx)
            state_now = db.session.get(Audit, ctx["audit"]).state.value
            payload = data(ctx) if callable(data) else data
            response = client.open(url, method=method, data=payload)
            want = expected(route, role, state_now)
            assert response.status_code == want, (
                f"{role} {method} {url} on a {state_now} audit: got {response.status_code}, "
                f"expected {want}\n{response.get_data(as_text=True)[:2000]}")
            if want in (403, 409):
                assert "Nothing was changed" in response.get_data(as_text=True)


@pytest.mark.parametrize("role,status", [("admin", 200), ("lead", 200), ("operator", 200),
                                         ("auditor", 200), ("outsider", 200)])
def test_lists_are_open_to_everyone_signed_in(role, status, client, login_as, audit):
    login_as(role)
    assert client.get("/audits/").status_code == status
    assert client.get("/my-items").status_code == status


@pytest.mark.parametrize("role,status", [("admin", 403), ("lead", 403), ("operator", 403),
                                         ("auditor", 200), ("member_auditor", 200),
                                         ("outsider", 403)])
def test_review_queue_is_for_auditors(role, status, client, login_as, people):
    login_as(role)
    assert client.get("/review").status_code == status


@pytest.mark.parametrize("role,status", [("admin", 403), ("lead", 200), ("operator", 403),
                                         ("auditor", 403), ("outsider", 200)])
def test_only_leads_start_audits(role, status, client, login_as, library):
    login_as(role)
    assert client.get("/audits/new").status_code == status


def test_a_lead_starts_audits_only_for_their_own_team(client, login_as, people, library):
    login_as("outsider")  # the lead of Beta
    response = client.post("/audits/new", data={
        "team_id": people["alpha"].id, "period": "2026-Q4", "domains": [1]})
    assert response.status_code == 422
    assert db.session.execute(sa.select(sa.func.count(Audit.id))).scalar() == 0


def test_pages_need_sign_in(client, audit):
    for url in ("/audits/", "/my-items", "/review", f"/audits/{audit.id}", "/audits/new"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"], url


def test_outsider_cannot_tell_a_missing_audit_from_a_hidden_one(client, login_as, audit):
    login_as("outsider")
    client.get("/")  # shows, and so clears, the "Signed in" message
    hidden = client.get(f"/audits/{audit.id}")
    missing = client.get("/audits/99999")
    assert hidden.status_code == missing.status_code == 404
    # The sign-out form's CSRF token carries a timestamp: two requests a second apart differ.
    def page(response):
        return re.sub(rb'name="csrf_token" value="[^"]+"', b"", response.get_data())
    assert page(hidden) == page(missing).replace(b"99999", str(audit.id).encode())
