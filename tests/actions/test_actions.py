"""Corrective actions: the closing rules, team isolation, and last quarter's open actions on
this quarter's item — on SQLite and PostgreSQL alike (the suite runs on both)."""

from datetime import datetime, time, timedelta

import pytest
import sqlalchemy as sa

from tests import factories
from tests.actions.conftest import item_of
from tracker import clock
from tracker.actions import queries, service
from tracker.actions.models import ActionStatus, CorrectiveAction
from tracker.activity import ActivityEvent, verify_chain
from tracker.auth import service as accounts
from tracker.extensions import db
from tracker.notifications.models import Notification
from tracker.rules import Conflict, Forbidden, RuleViolation


@pytest.fixture
def data(app, people, actions_two_quarters):
    return actions_two_quarters


def action(action_id: int) -> CorrectiveAction:
    db.session.expire_all()
    return db.session.get(CorrectiveAction, action_id)


def events(action_name: str) -> int:
    return db.session.execute(sa.select(sa.func.count(ActivityEvent.id)).where(
        ActivityEvent.chain == service.CHAIN, ActivityEvent.action == action_name)).scalar_one()


# --- closing ---------------------------------------------------------------------------------

def test_closing_as_done_needs_closing_evidence(data, people):
    open_action = action(data["open_action"])
    with pytest.raises(RuleViolation, match="needs closing evidence") as refused:
        service.close_action(people["operator"], open_action, outcome="done", note="  ")
    assert refused.value.field == "note"
    db.session.rollback()
    assert action(data["open_action"]).status == ActionStatus.OPEN

    before = events("action.close")
    service.close_action(people["operator"], action(data["open_action"]), outcome="done",
                         note="Address validation runs before label purchase: PR 431.")
    db.session.commit()
    closed = action(data["open_action"])
    assert closed.status == ActionStatus.DONE and closed.closed_at is not None
    assert closed.closing_note.startswith("Address validation")
    assert events("action.close") == before + 1
    assert verify_chain(service.CHAIN) is None


def test_wont_do_needs_a_reason(data, people):
    with pytest.raises(RuleViolation, match="why it won’t be done"):
        service.close_action(people["lead"], action(data["open_action"]), outcome="wont_do")
    db.session.rollback()
    service.close_action(people["lead"], action(data["open_action"]), outcome="wont_do",
                         note="The carrier integration is retired in Q1.")
    db.session.commit()
    closed = action(data["open_action"])
    assert closed.status == ActionStatus.WONT_DO
    assert closed.wont_do_reason == "The carrier integration is retired in Q1."


def test_an_edit_cannot_close_and_a_closed_action_stays_closed(data, people):
    with pytest.raises(RuleViolation, match="Close action"):
        service.update_action(people["lead"], action(data["open_action"]), status="done")
    db.session.rollback()
    with pytest.raises(Conflict, match="already closed"):
        service.update_action(people["lead"], action(data["closed_action"]), title="Again")
    db.session.rollback()
    with pytest.raises(Conflict, match="already closed"):
        service.close_action(people["lead"], action(data["closed_action"]), outcome="done",
                             note="Twice.")


def test_closing_on_the_page_shows_the_rule_next_to_the_field(data, client, login_as):
    login_as("operator")
    response = client.post(f"/actions/{data['open_action']}/close",
                           data={"outcome": "done", "note": ""})
    assert response.status_code == 422
    assert "needs closing evidence" in response.get_data(as_text=True)
    assert action(data["open_action"]).status == ActionStatus.OPEN
    response = client.post(f"/actions/{data['open_action']}/close",
                           data={"outcome": "done", "note": "Runbook updated, link in wiki."})
    assert response.status_code == 302
    assert action(data["open_action"]).status == ActionStatus.DONE


# --- who may ---------------------------------------------------------------------------------

def test_another_teams_operator_can_neither_see_nor_change(data, people, client):
    beta_operator = accounts.create_user(None, "beta-op@example.com", "Bea Beta",
                                         factories.PASSWORD)
    accounts.set_membership(None, people["beta"], beta_operator, "operator")
    db.session.commit()
    with pytest.raises(Forbidden):
        service.update_action(beta_operator, action(data["open_action"]), title="Mine now")
    db.session.rollback()
    with pytest.raises(Forbidden):
        service.close_action(beta_operator, action(data["open_action"]), outcome="done",
                             note="Closed by someone else")
    db.session.rollback()
    q4_item = item_of(data["q4"], data["code"])
    with pytest.raises(Forbidden):
        service.create_action(beta_operator, title="Fix", audit_item=q4_item)
    db.session.rollback()

    client.post("/login", data={"email": "beta-op@example.com", "password": factories.PASSWORD})
    assert client.get(f"/actions/{data['open_action']}").status_code == 404
    response = client.post(f"/actions/{data['open_action']}",
                           data={"title": "Mine", "status": "open", "priority": "low",
                                 "owner_id": "none"})
    assert response.status_code == 404
    assert client.get(f"/actions/new?audit_item_id={q4_item.id}").status_code == 404
    assert action(data["open_action"]).title.endswith("fix the gap")


def test_the_owner_must_be_in_the_team(data, people):
    with pytest.raises(RuleViolation, match="not in the team") as refused:
        service.update_action(people["lead"], action(data["open_action"]),
                              owner=people["outsider"])
    assert refused.value.field == "owner_id"


# --- last quarter's open actions ------------------------------------------------------------

def test_last_quarters_open_action_shows_on_the_next_audits_item(data, client, login_as):
    login_as("lead")
    q4_item = item_of(data["q4"], data["code"])
    page = client.get(f"/audits/{data['q4']}/items/{q4_item.id}").get_data(as_text=True)
    assert "Open action from 2026-Q3:" in page
    assert f"{data['code']} fix the gap" in page
    assert "an earlier fix" not in page  # closed: not carried

    _, carried = queries.for_item(q4_item)
    assert [a.id for a in carried] == [data["open_action"]]


def test_closing_last_quarters_action_takes_it_off_the_next_audit(data, people):
    service.close_action(people["operator"], action(data["open_action"]), outcome="done",
                         note="Fixed in Q4, see PR 440.")
    db.session.commit()
    assert queries.for_item(item_of(data["q4"], data["code"])) == ([], [])


def test_another_teams_actions_do_not_carry(data, people, make_beta_audit):
    beta_item = make_beta_audit()
    assert queries.for_item(beta_item) == ([], [])


@pytest.fixture
def make_beta_audit(people):
    def make():
        from tracker.audits import service as audits
        from tracker.library.models import Domain

        dv = db.session.execute(sa.select(Domain).where(Domain.code == "DV")).scalars().all()
        audit = audits.start_audit(people["outsider"], people["beta"], "2026-Q4", dv)
        db.session.commit()
        return audit.items[0]
    return make


# --- creating ------------------------------------------------------------------------------

def test_create_form_is_prefilled_from_the_item(data, client, login_as):
    login_as("lead")
    q3_item = item_of(data["q3"], data["code"])
    page = client.get(f"/actions/new?audit_item_id={q3_item.id}").get_data(as_text=True)
    assert f'value="{q3_item.code} {q3_item.title}"'[:60] in page
    assert f'<option selected value="{q3_item.owner_id}">' in page
    assert (clock.today() + timedelta(days=30)).isoformat() in page


def test_not_met_item_offers_the_action_first(data, client, login_as):
    login_as("lead")
    q3_item = item_of(data["q3"], data["code"])
    page = client.get(f"/audits/{data['q3']}/items/{q3_item.id}").get_data(as_text=True)
    assert 'class="btn btn-primary" href="/actions/new?audit_item_id=' in page


def test_creating_on_the_page_tells_the_owner(data, people, client, login_as):
    login_as("lead")
    q4_item = item_of(data["q4"], data["code"])
    due = (clock.today() + timedelta(days=14)).isoformat()
    response = client.post("/actions/new", data={
        "audit_item_id": q4_item.id, "title": "Validate PO boxes", "priority": "high",
        "owner_id": str(people["operator"].id), "due_on": due})  # what the page sends
    assert response.status_code == 302, response.get_data(as_text=True)
    made = db.session.execute(sa.select(CorrectiveAction).where(
        CorrectiveAction.title == "Validate PO boxes")).scalar_one()
    assert (made.team_id, made.audit_item_id, made.readiness_item_id, made.owner_id) == (
        people["alpha"].id, q4_item.id, q4_item.readiness_item_id, people["operator"].id)
    told = db.session.execute(sa.select(Notification).where(
        Notification.user_id == people["operator"].id,
        Notification.title.contains("Validate PO boxes"))).scalars().all()
    assert len(told) == 1


def test_a_due_date_in_the_past_is_refused(data, people):
    with pytest.raises(RuleViolation, match="That day has passed"):
        service.create_action(people["lead"], title="Late", team=people["alpha"],
                              due_on=clock.today() - timedelta(days=1))


# --- My actions ------------------------------------------------------------------------------

def test_my_actions_lists_overdue_first(data, people, client, login_as):
    soon = service.create_action(people["lead"], title="Due in two days", team=people["alpha"],
                                 owner=people["operator"],
                                 due_on=clock.today() + timedelta(days=2))
    late = service.create_action(people["lead"], title="Already late", team=people["alpha"],
                                 owner=people["operator"], due_on=clock.today())
    db.session.flush()
    late.due_on = clock.today() - timedelta(days=3)  # made on time, now past its day
    db.session.commit()
    listed = [a.id for a in queries.my_open_actions(people["operator"], clock.today())]
    assert listed[0] == late.id
    assert listed.index(soon.id) < listed.index(data["open_action"])
    assert data["closed_action"] not in listed

    login_as("operator")
    page = client.get("/actions/mine").get_data(as_text=True)
    assert page.index("Already late") < page.index("Due in two days")
    assert "Overdue" in page
    assert 'href="/actions/mine"' in page  # in the nav


def test_empty_action_lists_say_where_actions_come_from(client, login_as, people):
    login_as("operator")
    mine = client.get("/actions/mine").get_data(as_text=True)
    team = client.get(f"/teams/{people['alpha'].id}").get_data(as_text=True)
    for page in (mine, team):
        assert "Actions are created from an item that is not met or needs rework" in page


def test_a_backdated_action_is_not_late_on_the_day_it_was_made(data, people):
    made = datetime.combine(clock.today() - timedelta(days=30), time(10))
    late = service.create_action(people["lead"], title="Made last month", team=people["alpha"],
                                 due_on=clock.today() - timedelta(days=20), now=made)
    assert queries.is_overdue(late, clock.today())
    with pytest.raises(RuleViolation, match="That day has passed"):
        service.create_action(people["lead"], title="Late from the start",
                              team=people["alpha"], now=made,
                              due_on=clock.today() - timedelta(days=31))
