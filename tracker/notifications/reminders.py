"""The morning's reminders and digests: `flask notify reminders`, or the job thread (RQ's
scheduler with Redis) once a day from REMINDER_HOUR in the organisation's time zone.
Running it again the same day tells no one anything new: every reminder's key names the
day (or the due date it is about), and each person's digest is one e-mail a day."""

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app

from tracker import clock
from tracker.actions import queries as action_queries
from tracker.actions.models import CorrectiveAction
from tracker.audits.models import Audit, AuditItem
from tracker.audits.vocabulary import OPEN, WORKING_STATES, late_clause
from tracker.auth.models import Membership, Team, TeamRole, User
from tracker.db import utcnow
from tracker.extensions import db
from tracker.notifications.models import Channel, Notification, ReminderRun
from tracker.notifications.service import (
    Message,
    channels,
    notify_many,
    path_for,
    queue_mail,
)

DUE_REMINDERS = (7, 1)  # days before an item's due date


def morning_run() -> dict | None:
    """A periodic job: the day's reminders, once, from REMINDER_HOUR local time."""
    zone = ZoneInfo(current_app.config["TIMEZONE"])
    local = clock.now().astimezone(zone)
    if local.hour < int(current_app.config.get("REMINDER_HOUR", 7)):
        return None
    if db.session.get(ReminderRun, local.date()) is not None:
        return None
    return run_reminders(local.date())


def run_reminders(today=None) -> dict[str, int]:
    """Reminders for items due in 7 days and tomorrow, each person's overdue count (and
    each lead's for the team); for corrective actions coming due (once per due date) and
    overdue (a count a day) likewise; then the digests. Flushes; the caller commits (or rolls
    back for a dry run). Returns how many of each were new."""
    today = today or clock.today()
    counts = {"due_soon": _due_soon(today), "overdue": _overdue(today, ITEMS),
              "action_due_soon": _actions_due_soon(today),
              "action_overdue": _overdue(today, ACTIONS)}
    counts["digests"] = _digests(today)
    if db.session.get(ReminderRun, today) is None:
        db.session.add(ReminderRun(day=today, finished_at=utcnow()))
    db.session.flush()
    return counts


def _working_items():
    return (sa.select(AuditItem.id, AuditItem.audit_id, AuditItem.code, AuditItem.title,
                      AuditItem.due_date, AuditItem.owner_id, Audit.team_id,
                      Team.name.label("team"), Audit.period)
            .join(Audit, Audit.id == AuditItem.audit_id).join(Team, Team.id == Audit.team_id)
            .where(Audit.state.in_(WORKING_STATES), AuditItem.status.in_(OPEN)))


def _users(ids) -> dict[int, User]:
    ids = set(ids)
    return {u.id: u for u in db.session.execute(
        sa.select(User).where(User.id.in_(ids))).scalars()} if ids else {}


def _in_days(due, today) -> str:
    days = (due - today).days
    return "today" if days == 0 else "tomorrow" if days == 1 else f"in {days} days"


def _due_soon(today) -> int:
    days = [today + timedelta(days=d) for d in DUE_REMINDERS]
    rows = db.session.execute(_working_items().where(
        AuditItem.owner_id.is_not(None), AuditItem.due_date.in_(days))).all()
    owners = _users(r.owner_id for r in rows)
    return len(notify_many("due_soon", [Message(
        owners[r.owner_id], key=f"due_soon:{r.id}:{r.due_date.isoformat()}",
        title=f"{r.code} is due {_in_days(r.due_date, today)} ({r.due_date.isoformat()})",
        body=f"{r.code} {r.title} — {r.team} {r.period}",
        link=path_for("audits.item", audit_id=r.audit_id, item_id=r.id)) for r in rows]))


def _actions_due_soon(today) -> int:
    """Each open action coming due (the vocabulary's "due soon"), once per due date: a
    moved due date is reminded again."""
    rows = db.session.execute(
        sa.select(CorrectiveAction.id, CorrectiveAction.title, CorrectiveAction.due_on,
                  CorrectiveAction.owner_id, Team.name.label("team"))
        .join(Team, Team.id == CorrectiveAction.team_id)
        .where(CorrectiveAction.owner_id.is_not(None),
               action_queries.due_soon_clause(today))).all()
    owners = _users(r.owner_id for r in rows)
    return len(notify_many("due_soon", [Message(
        owners[r.owner_id], key=f"due_soon:action:{r.id}:{r.due_on.isoformat()}",
        title=f"Corrective action due {_in_days(r.due_on, today)} ({r.due_on.isoformat()}): "
              f"{r.title}",
        body=f"A corrective action of {r.team}.",
        link=path_for("actions.detail", action_id=r.id)) for r in rows]))


@dataclass(frozen=True)
class Lateness:
    """What the daily overdue counts are of: `late(today)` selects its rows (owner_id,
    team_id); `key` starts each count's once-a-day key."""

    late: Callable
    noun: str
    key: str
    mine: str  # the endpoint of the owner's list
    owner_body: str
    team_body: str
    team_anchor: str = ""  # where on the team page they are listed

    def counted(self, n: int) -> str:
        return f"{n} overdue {self.noun}{'s' if n != 1 else ''}"


ITEMS = Lateness(
    late=lambda today: _working_items().where(late_clause(today)), noun="item",
    key="overdue", mine="audits.my_items",
    owner_body="Items past their due date with work still open.",
    team_body="Items of the team's audits past their due date, work still open.")
ACTIONS = Lateness(
    late=lambda today: sa.select(CorrectiveAction.owner_id, CorrectiveAction.team_id)
    .where(action_queries.overdue_clause(today)),
    noun="corrective action", key="overdue:actions", mine="actions.mine",
    owner_body="Corrective actions past their due date, still open.",
    team_body="The team's corrective actions past their due date, still open.",
    team_anchor="#actions")


def _overdue(today, what: Lateness) -> int:
    """One count a day for each owner, and for each lead of a team with something late."""
    late = what.late(today).subquery()
    per_owner = db.session.execute(
        sa.select(late.c.owner_id, sa.func.count()).where(late.c.owner_id.is_not(None))
        .group_by(late.c.owner_id)).all()
    per_team = dict(db.session.execute(
        sa.select(late.c.team_id, sa.func.count()).group_by(late.c.team_id)).all())
    leads = db.session.execute(
        sa.select(Membership.team_id, Membership.user_id)
        .where(Membership.role == TeamRole.LEAD,
               Membership.team_id.in_(per_team))).all() if per_team else []
    teams = dict(db.session.execute(sa.select(Team.id, Team.name).where(
        Team.id.in_(per_team))).all()) if per_team else {}
    people = _users([o for o, _ in per_owner] + [u for _, u in leads])
    day = today.isoformat()
    mine = [Message(people[owner], key=f"{what.key}:{day}",
                    title=f"You have {what.counted(n)}", body=what.owner_body,
                    link=path_for(what.mine))
            for owner, n in per_owner]
    theirs = [Message(people[user], key=f"{what.key}:team:{team}:{day}",
                      title=f"{teams[team]} has {what.counted(per_team[team])}",
                      body=what.team_body,
                      link=path_for("dashboard.team", team_id=team) + what.team_anchor)
              for team, user in leads]
    return len(notify_many("overdue", mine + theirs))


def _digests(today) -> int:
    """One e-mail per person with what arrived, unread, since the last run, of the kinds
    they chose as a digest."""
    last = db.session.execute(sa.select(sa.func.max(ReminderRun.finished_at))
                              .where(ReminderRun.day < today)).scalar()
    since = last or utcnow() - timedelta(days=1)
    start_of_day = datetime.combine(today, time.min)
    rows = db.session.execute(
        sa.select(Notification).where(Notification.read_at.is_(None),
                                      Notification.created_at > min(since, start_of_day))
        .order_by(Notification.user_id, Notification.created_at)).scalars().all()
    chosen = channels({n.user_id for n in rows}, {n.event for n in rows})
    entries = defaultdict(list)
    for n in rows:
        if chosen[n.user_id, n.event] == Channel.DIGEST:
            entries[n.user_id].append(n)
    people = _users(entries)
    return len(queue_mail([
        {"key": f"digest:{uid}:{today.isoformat()}", "user": people[uid], "event": "digest",
         "subject": f"Your readiness digest for {today.isoformat()}: "
                    f"{len(items)} new", "body": "", "link": path_for("notifications.inbox"),
         "items": items, "template": "digest"}
        for uid, items in entries.items() if people[uid].active]))
