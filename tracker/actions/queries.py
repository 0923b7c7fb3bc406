"""Reads for corrective actions: one query per list, eager loaded for the templates."""

import statistics
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from flask import abort
from sqlalchemy.orm import joinedload

from tracker.actions.models import OPEN_ACTION_STATUSES, CorrectiveAction
from tracker.audits import vocabulary
from tracker.audits.models import Audit, AuditItem
from tracker.auth.models import User
from tracker.auth.permissions import can_view_action, member_team_ids
from tracker.extensions import db


def is_overdue(action: CorrectiveAction, today: date) -> bool:
    """Overdue: still open and its due day has passed (the one definition)."""
    return action.is_open and action.due_on is not None and action.due_on < today


def open_clause():
    return CorrectiveAction.status.in_(OPEN_ACTION_STATUSES)


def overdue_clause(today: date):
    """is_overdue as SQL."""
    return sa.and_(open_clause(), CorrectiveAction.due_on < today)


def due_soon_clause(today: date):
    """SQL: still open and due from today to the vocabulary's due-soon limit."""
    return sa.and_(open_clause(), CorrectiveAction.due_on >= today,
                   CorrectiveAction.due_on <= vocabulary.due_soon_limit(today))


def _loaded(stmt):
    return stmt.options(
        joinedload(CorrectiveAction.owner), joinedload(CorrectiveAction.team),
        joinedload(CorrectiveAction.audit_item).joinedload(AuditItem.audit))


def action_or_404(user: User, action_id: int) -> CorrectiveAction:
    """404 for another team's action too: knowing it exists would leak."""
    action = db.session.execute(
        _loaded(sa.select(CorrectiveAction).where(CorrectiveAction.id == action_id))
    ).unique().scalar_one_or_none()
    if action is None or not can_view_action(user, action):
        abort(404)
    return action


def _overdue_first(today: date):
    late = sa.and_(CorrectiveAction.due_on.is_not(None), CorrectiveAction.due_on < today)
    return (sa.case((late, 0), else_=1), CorrectiveAction.due_on.is_(None),
            CorrectiveAction.due_on, CorrectiveAction.id)


def my_open_actions(user: User, today: date) -> list[CorrectiveAction]:
    """The person's open actions, overdue first, then by due date (none last)."""
    return db.session.execute(_loaded(
        sa.select(CorrectiveAction)
        .where(CorrectiveAction.owner_id == user.id,
               open_clause())
        .order_by(*_overdue_first(today)))).unique().scalars().all()


def for_item(item: AuditItem) -> tuple[list[CorrectiveAction], list[CorrectiveAction]]:
    """This item's actions, and the team's actions still open on the same library item from
    earlier audits (or made by hand): what last quarter left to fix."""
    audit = item.audit
    own = CorrectiveAction.audit_item_id == item.id
    clauses = [own]
    if item.readiness_item_id is not None:
        earlier_items = (sa.select(AuditItem.id).join(Audit)
                         .where(Audit.team_id == audit.team_id, Audit.period < audit.period,
                                AuditItem.readiness_item_id == item.readiness_item_id))
        clauses.append(sa.and_(
            CorrectiveAction.team_id == audit.team_id,
            CorrectiveAction.readiness_item_id == item.readiness_item_id,
            open_clause(),
            sa.or_(CorrectiveAction.audit_item_id.in_(earlier_items),
                   CorrectiveAction.audit_item_id.is_(None))))
    rows = db.session.execute(_loaded(
        sa.select(CorrectiveAction).where(sa.or_(*clauses))
        .order_by(CorrectiveAction.created_at, CorrectiveAction.id))).unique().scalars().all()
    mine = [a for a in rows if a.audit_item_id == item.id]
    carried = [a for a in rows if a.audit_item_id != item.id]
    return mine, carried


def visible_actions(user: User, *, team_id: int | None = None, mine: bool = False,
                    only_open: bool = False, today: date, page: int = 1,
                    per_page: int = 50) -> tuple[list[CorrectiveAction], int]:
    """The API's list, a page of it and the total: the person's own, or a team's (members,
    auditors, admins)."""
    where = []
    if only_open:
        where.append(open_clause())
    if mine:
        where.append(CorrectiveAction.owner_id == user.id)
    if team_id is not None:
        where.append(CorrectiveAction.team_id == team_id)
    if not (user.is_admin or user.is_auditor):
        where.append(CorrectiveAction.team_id.in_(member_team_ids(user) or [-1]))
    total = db.session.execute(
        sa.select(sa.func.count(CorrectiveAction.id)).where(*where)).scalar_one()
    rows = db.session.execute(_loaded(
        sa.select(CorrectiveAction).where(*where)
        .options(joinedload(CorrectiveAction.created_by))
        .order_by(*_overdue_first(today)).limit(per_page).offset((page - 1) * per_page))
    ).unique().scalars().all()
    return rows, total


@dataclass
class ActionTotals:
    """A team's corrective actions at a glance: open, overdue (open past due) and the
    median days from creation to closing over the closed ones (None: none closed yet)."""

    open: int = 0
    overdue: int = 0
    median_days_to_close: float | None = None


def action_totals(team_ids: list[int], today: date) -> dict[int, ActionTotals]:
    """Per team, counted in SQL; the median from the closed actions' two timestamps."""
    if not team_ids:
        return {}
    rows = db.session.execute(
        sa.select(CorrectiveAction.team_id, sa.func.count().filter(open_clause()),
                  sa.func.count().filter(overdue_clause(today)))
        .where(CorrectiveAction.team_id.in_(team_ids))
        .group_by(CorrectiveAction.team_id)).all()
    totals = {team_id: ActionTotals(open_count, overdue) for team_id, open_count, overdue in rows}
    durations: dict[int, list[float]] = {}
    for team_id, created, closed in db.session.execute(
            sa.select(CorrectiveAction.team_id, CorrectiveAction.created_at,
                      CorrectiveAction.closed_at)
            .where(CorrectiveAction.team_id.in_(team_ids),
                   CorrectiveAction.closed_at.is_not(None))):
        durations.setdefault(team_id, []).append((closed - created).total_seconds() / 86400)
    for team_id, days in durations.items():
        totals[team_id].median_days_to_close = statistics.median(days)
    return totals


def team_open_actions(team_id: int, today: date, limit: int) -> list[CorrectiveAction]:
    """A team's open actions, overdue first: what its page lists."""
    return db.session.execute(_loaded(
        sa.select(CorrectiveAction)
        .where(CorrectiveAction.team_id == team_id,
               open_clause())
        .order_by(*_overdue_first(today)).limit(limit))).unique().scalars().all()


def team_member_choices(team_id: int) -> list[User]:
    from tracker.audits.queries import team_members

    return team_members(team_id)




def signal_audit_item(signal_id: int, team_ids: list[int]) -> AuditItem | None:
    """The item an action from a signal is for: a control guarding against the signal in
    one of these teams' latest audits — unmet first, then the most critical, by team and
    code. None when no such audit covers a guarding control."""
    from tracker.dashboard.queries import latest_audits
    from tracker.signals.queries import guard_pairs

    if not team_ids:
        return None
    guards = guard_pairs()
    latest = latest_audits(team_ids)
    return db.session.execute(
        sa.select(AuditItem)
        .join(latest, latest.c.audit_id == AuditItem.audit_id)
        .join(guards, guards.c.item_id == AuditItem.readiness_item_id)
        .where(guards.c.signal_id == signal_id)
        .order_by(sa.case((AuditItem.status.in_(vocabulary.UNMET), 0), else_=1),
                  vocabulary.weight_sql().desc(), latest.c.team_id, AuditItem.code)
        .limit(1)).scalars().first()
