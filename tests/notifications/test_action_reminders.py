"""Reminders for corrective actions in the morning run, with a real SMTP server on loopback:
due soon (the vocabulary's window) once per due date, overdue as a count a day for the owner
and the team's lead, nothing new from a second run the same day, and a query count that does
not grow with the number of actions."""

from datetime import timedelta

import pytest

from tests.notifications.test_notifications import inbox, mailed_to
from tracker import clock
from tracker.actions import service
from tracker.actions.models import CorrectiveAction
from tracker.audits.vocabulary import DUE_SOON_DAYS
from tracker.extensions import db
from tracker.notifications.reminders import run_reminders


def _action(people, title: str, due_in: int | None, owner="operator") -> CorrectiveAction:
    action = service.create_action(people["lead"], title=title, team=people["alpha"],
                                   owner=people[owner] if owner else None)
    # Set directly: the service refuses a new due date in the past.
    action.due_on = clock.today() + timedelta(days=due_in) if due_in is not None else None
    return action


def _titles(user, event: str) -> list[str]:
    return [t for e, t in inbox(user) if e == event]


@pytest.fixture
def actions(app, people):
    made = {
        "edge": _action(people, "Validate PO boxes", DUE_SOON_DAYS),
        "later": _action(people, "Retire the old carrier API", DUE_SOON_DAYS + 1),
        "tomorrow": _action(people, "Rotate the label printer key", 1),
        "late": _action(people, "Fix the address check", -2),
        "late_unowned": _action(people, "Document the fallback carrier", -5, owner=None),
        "closed": _action(people, "Already fixed", -3),
        "undated": _action(people, "Someday", None),
    }
    db.session.flush()
    service.close_action(people["lead"], made["closed"], outcome="done", note="PR 77.")
    db.session.commit()
    return made


def test_due_soon_and_overdue_actions_reach_owner_and_lead_once_a_day(
        actions, people, mail, runner):
    operator, lead = people["operator"], people["lead"]
    mail.received.clear()
    for _ in range(2):
        result = runner.invoke(args=["notify", "reminders"])
        assert result.exit_code == 0, result.output
    assert "corrective actions: 0 due soon, 0 overdue" in result.output  # nothing new
    today = clock.today()
    edge = (today + timedelta(days=DUE_SOON_DAYS)).isoformat()
    assert sorted(_titles(operator, "due_soon")) == sorted([
        f"Corrective action due in {DUE_SOON_DAYS} days ({edge}): Validate PO boxes",
        f"Corrective action due tomorrow ({(today + timedelta(days=1)).isoformat()}): "
        "Rotate the label printer key"])
    assert _titles(operator, "overdue") == ["You have 1 overdue corrective action"]
    assert _titles(lead, "overdue") == ["Alpha has 2 overdue corrective actions"]

    (digest,) = mailed_to(mail, operator.email)  # due soon and overdue go by digest
    body = digest.get_body(("plain",)).get_content()
    assert "Validate PO boxes" in body and "You have 1 overdue corrective action" in body
    assert "Retire the old carrier API" not in body
    assert len(mailed_to(mail, lead.email)) == 1

    # The next day: the overdue counts again, the due-soon reminders not (same due dates).
    tomorrow = (today + timedelta(days=1)).isoformat()
    result = runner.invoke(args=["notify", "reminders", "--day", tomorrow])
    assert "corrective actions: 1 due soon, 2 overdue" in result.output, result.output
    assert _titles(operator, "due_soon")[-1].endswith("Retire the old carrier API")


def test_a_moved_due_date_is_reminded_again_and_a_closed_action_not(actions, people):
    run_reminders()
    operator = people["operator"]
    before = len(_titles(operator, "due_soon"))
    service.update_action(people["lead"], actions["edge"],
                          due_on=clock.today() + timedelta(days=3))
    service.close_action(people["lead"], actions["tomorrow"], outcome="wont_do",
                         note="The printer is retired.")
    counts = run_reminders()
    assert counts["action_due_soon"] == 1
    assert _titles(operator, "due_soon")[before:] == [
        f"Corrective action due in 3 days ({(clock.today() + timedelta(days=3)).isoformat()}): "
        "Validate PO boxes"]


def test_the_run_makes_the_same_queries_for_many_actions(actions, people, count_queries):
    def measured() -> int:
        with count_queries() as counter:
            run_reminders()
        db.session.rollback()
        return counter.count

    few = measured()
    for n in range(12):
        _action(people, f"Late fix {n}", -1 - n % 3)
        _action(people, f"Soon fix {n}", n % DUE_SOON_DAYS, owner="member_auditor")
    db.session.commit()
    assert measured() <= few
