"""Corrective action writes: create, update, close. Each takes the acting user first, checks
the rules, records an event on the "actions" activity chain (an action outlives its audit,
so it cannot write to the audit's chain, frozen at sign-off), flushes and never commits."""

from datetime import date, datetime, timedelta

import sqlalchemy as sa

from tracker import activity, clock
from tracker.actions.models import ActionStatus, CorrectiveAction, Priority
from tracker.audits.models import AuditItem, ItemStatus, Verdict
from tracker.auth.models import Team, User
from tracker.auth.permissions import can_create_action, can_edit_action, is_member
from tracker.db import utcnow
from tracker.extensions import db
from tracker.rules import Conflict, Forbidden, RuleViolation
from tracker.transactions import begin_write

CHAIN = "actions"
MAX_TITLE = 200
MAX_NOTE = 10_000
DEFAULT_DUE_DAYS = 30  # an action made outside an audit with a due date is due in a month


def _subject(action: CorrectiveAction) -> str:
    return f"Action #{action.id}: {action.title}"[:120]


def _title(text: str | None) -> str:
    text = " ".join((text or "").split())
    if not text:
        raise RuleViolation("Say what will be fixed, for example “Validate addresses before "
                            "buying labels”.", "title")
    if len(text) > MAX_TITLE:
        raise RuleViolation(f"Keep the title under {MAX_TITLE} characters.", "title")
    return text


def _text(text: str | None, field: str, missing: str) -> str:
    text = (text or "").strip()
    if not text:
        raise RuleViolation(missing, field)
    if len(text) > MAX_NOTE:
        raise RuleViolation(f"Keep it under {MAX_NOTE:,} characters.", field)
    return text


def _check_owner(owner: User | None, team_id: int) -> None:
    if owner is not None and not is_member(owner, team_id):
        raise RuleViolation(f"{owner.name} is not in the team: choose one of its members as "
                            "owner.", "owner_id")


def _check_due(due_on: date | None, *, today: date, was: date | None = None) -> None:
    # A due date already in the past may stay (editing the title of a late action); a new
    # one must not start late.
    if due_on is not None and due_on < today and due_on != was:
        raise RuleViolation("That day has passed: choose a due date from today on.", "due_on")


def _facts(action: CorrectiveAction) -> dict:
    return {"action_id": action.id, "title": action.title, "team_id": action.team_id,
            "audit_item_id": action.audit_item_id, "owner_id": action.owner_id,
            "due_on": action.due_on.isoformat() if action.due_on else None,
            "priority": action.priority.value, "status": action.status.value}


def suggested_due(item: AuditItem | None, today: date) -> date:
    """The audit's due date when it is still ahead, else a month from today."""
    due = item.audit.due_date if item is not None else None
    return due if due is not None and due >= today else today + timedelta(days=DEFAULT_DUE_DAYS)


def is_called_for(item: AuditItem) -> bool:
    """An item not met, or sent back by the auditor: the page offers an action first."""
    return item.status == ItemStatus.NOT_MET or item.verdict == Verdict.NEEDS_REWORK


def create_action(actor: User, *, title: str, team: Team | None = None,
                  audit_item: AuditItem | None = None, owner: User | None = None,
                  due_on: date | None = None, priority: Priority | str = Priority.MEDIUM,
                  signal_id: int | None = None, now: datetime | None = None
                  ) -> CorrectiveAction:
    """An action from an audit item (its team and library item come with it) or by hand for
    a team; `signal_id` names the frontline signal that called for it, in the event."""
    if audit_item is not None:
        if team is not None and team.id != audit_item.audit.team_id:
            raise RuleViolation("That item belongs to another team's audit.", "team_id")
        team_id = audit_item.audit.team_id
    elif team is not None:
        team_id = team.id
    else:
        raise RuleViolation("Choose the team the action is for.", "team_id")
    if not can_create_action(actor, team_id):
        raise Forbidden("Only the team's lead and operators (or an admin) can create its "
                        "actions.")
    title = _title(title)
    _check_owner(owner, team_id)
    # Not late on the day it is made (the demo's and imports' backdated ones too).
    _check_due(due_on, today=clock.local_date(now) if now else clock.today())
    now = now or utcnow()
    action = CorrectiveAction(
        title=title, team_id=team_id, audit_item_id=audit_item.id if audit_item else None,
        readiness_item_id=audit_item.readiness_item_id if audit_item else None,
        owner_id=owner.id if owner else None, due_on=due_on, priority=Priority(priority),
        status=ActionStatus.OPEN, created_by_id=actor.id, created_at=now)
    db.session.add(action)
    db.session.flush()
    activity.record(actor, "action.create", chain=CHAIN, subject=_subject(action),
                    after={**_facts(action), "owner": bool(owner),
                           **({"signal_id": signal_id} if signal_id else {})})
    return action


def _locked(action: CorrectiveAction) -> CorrectiveAction:
    """The action as it is now, locked to the commit: a check on the copy loaded earlier in
    the request is only a hint."""
    begin_write()
    return db.session.execute(
        sa.select(CorrectiveAction).where(CorrectiveAction.id == action.id)
        .with_for_update().execution_options(populate_existing=True)).scalar_one()


def _require_open(action: CorrectiveAction) -> None:
    if not action.is_open:
        raise Conflict(f"This action is already closed ({action.status.label.lower()}). If "
                       "the problem is back, create a new action.")


def _require_edit(actor: User, action: CorrectiveAction) -> None:
    if not can_edit_action(actor, action):
        raise Forbidden(f"Only members of {action.team.name} (or an admin) can change its "
                        "actions.")


_UNSET = object()


def update_action(actor: User, action: CorrectiveAction, *, title=_UNSET, owner=_UNSET,
                  due_on=_UNSET, priority=_UNSET, status=_UNSET) -> bool:
    """Change what is given; returns whether anything changed. Status here is open or in
    progress: done and won't do go through close_action, which asks for the proof."""
    _require_edit(actor, action)
    action = _locked(action)
    _require_open(action)
    changes = {}
    if title is not _UNSET:
        changes["title"] = _title(title)
    if owner is not _UNSET:
        _check_owner(owner, action.team_id)
        changes["owner_id"] = owner.id if owner else None
    if due_on is not _UNSET:
        _check_due(due_on, today=clock.today(), was=action.due_on)
        changes["due_on"] = due_on
    if priority is not _UNSET:
        changes["priority"] = Priority(priority)
    if status is not _UNSET:
        status = ActionStatus(status)
        if not status.is_open:
            raise RuleViolation("To close the action use “Close action”: done needs a closing "
                                "note with the evidence, won’t do needs a reason.", "status")
        changes["status"] = status
    changes = {k: v for k, v in changes.items() if getattr(action, k) != v}
    if not changes:
        return False
    before = {k: _plain(getattr(action, k)) for k in changes}
    for name, value in changes.items():
        setattr(action, name, value)
    db.session.flush()
    db.session.expire(action, ["owner"])
    after = {k: _plain(v) for k, v in changes.items()}
    activity.record(actor, "action.update", chain=CHAIN, subject=_subject(action),
                    before=before, after={"action_id": action.id, **after,
                                          "owner": "owner_id" in changes and bool(owner)})
    return True


def _plain(value):
    if isinstance(value, date):
        return value.isoformat()
    return getattr(value, "value", value)


def close_action(actor: User, action: CorrectiveAction, *, outcome: ActionStatus | str,
                 note: str | None = None, now: datetime | None = None) -> None:
    """Done needs a closing note saying what was done and where the proof is; won't do needs
    the reason."""
    _require_edit(actor, action)
    outcome = ActionStatus(outcome)
    if outcome.is_open:
        raise RuleViolation("Choose how it ends: done, or won’t do.", "outcome")
    action = _locked(action)
    _require_open(action)
    if outcome == ActionStatus.DONE:
        action.closing_note = _text(note, "note", "Closing as done needs closing evidence: "
                                    "write what was done and where the proof is (a link, "
                                    "a document, a ticket).")
    else:
        action.wont_do_reason = _text(note, "note", "Say why it won’t be done, for example "
                                      "“the carrier integration is retired in Q1”.")
    before = action.status.value
    action.status = outcome
    action.closed_at = now or utcnow()
    db.session.flush()
    activity.record(actor, "action.close", chain=CHAIN, subject=_subject(action),
                    before={"status": before},
                    after={"action_id": action.id, "status": outcome.value,
                           "note": action.closing_note or action.wont_do_reason})
