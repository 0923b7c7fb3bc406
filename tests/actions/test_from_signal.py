"""A corrective action from a frontline signal: the signal page offers it to whoever can
create actions, the form is prefilled with the control guarding against the signal in the
person's team's latest audit, and the action's creation event names the signal."""

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.actions.conftest import item_of
from tracker.actions import service
from tracker.actions.models import CorrectiveAction
from tracker.activity import ActivityEvent
from tracker.db import utcnow
from tracker.extensions import db
from tracker.signals import service as signals


@pytest.fixture
def signal(app, people, actions_two_quarters):
    """A signal on a failure the Q4 item guards against."""
    item = item_of(actions_two_quarters["q4"], actions_two_quarters["code"])
    made = signals.report_signal(
        people["operator"], summary="Labels fail for PO-box addresses", source="support_ticket",
        severity="high", observed_at=utcnow() - timedelta(hours=1),
        failures=item.readiness_item.failures[:1])
    db.session.commit()
    return made


def test_the_signal_page_offers_an_action_to_team_members_only(client, login_as, signal):
    link = f'href="/actions/new?signal_id={signal.id}"'
    login_as("operator")
    assert link in client.get(f"/signals/{signal.id}").get_data(as_text=True)
    login_as("auditor")  # in no team: reads the signal, makes no team's actions
    assert link not in client.get(f"/signals/{signal.id}").get_data(as_text=True)
    assert client.get(f"/actions/new?signal_id={signal.id}").status_code == 403


def test_the_form_is_prefilled_with_the_guarding_item_of_the_latest_audit(
        client, login_as, signal, actions_two_quarters):
    q4_item = item_of(actions_two_quarters["q4"], actions_two_quarters["code"])
    login_as("operator")
    page = client.get(f"/actions/new?signal_id={signal.id}").get_data(as_text=True)
    assert f'name="audit_item_id" type="hidden" value="{q4_item.id}"' in page
    assert f'name="signal_id" type="hidden" value="{signal.id}"' in page
    assert f"{q4_item.code} Signal: Labels fail for PO-box addresses" in page
    assert f"From {q4_item.code} · Alpha 2026-Q4" in page

    response = client.post("/actions/new", data={
        "title": "Check PO boxes before buying labels", "audit_item_id": q4_item.id,
        "signal_id": signal.id, "owner_id": "none", "priority": "high"})
    assert response.status_code == 302, response.get_data(as_text=True)
    action = db.session.execute(sa.select(CorrectiveAction).where(
        CorrectiveAction.title == "Check PO boxes before buying labels")).scalar_one()
    assert action.audit_item_id == q4_item.id
    assert action.readiness_item_id == q4_item.readiness_item_id
    event = db.session.execute(sa.select(ActivityEvent).where(
        ActivityEvent.chain == service.CHAIN, ActivityEvent.action == "action.create")
        .order_by(ActivityEvent.seq.desc()).limit(1)).scalar_one()
    assert json.loads(event.after)["signal_id"] == signal.id


def test_without_a_guarding_item_in_their_audits_the_action_is_for_the_team(
        client, login_as, people, signal):
    login_as("outsider")  # Beta has no audit
    page = client.get(f"/actions/new?signal_id={signal.id}").get_data(as_text=True)
    assert 'name="audit_item_id" type="hidden" value=""' in page
    assert "Signal: Labels fail for PO-box addresses" in page
    assert "the action is for a team, not an item" in page
