"""Signal reads, and the tie from a signal to the controls that should have prevented it.

A signal's guarding items are the readiness items linked to its failure patterns; a signal
that names only a domain is guarded by every active item of that domain. A signal is "on an
unmet control" while any guarding item is not met, or not yet assessed, in some team's
latest audit — computed when read, so it clears the moment the item becomes met.
"""

from dataclasses import dataclass

import sqlalchemy as sa
from flask import abort
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import selectinload
from sqlalchemy.sql.functions import FunctionElement

from tracker.audits.models import AuditItem
from tracker.audits.vocabulary import UNMET
from tracker.dashboard.queries import latest_audits
from tracker.extensions import db
from tracker.library.models import Domain, FailurePattern, ReadinessItem, item_failures
from tracker.signals.models import Severity, Signal, SignalState, signal_failures

UNRESOLVED = (SignalState.OPEN, SignalState.ACKNOWLEDGED)
SEVERITY_RANK = sa.case({Severity.CRITICAL.value: 4, Severity.HIGH.value: 3,
                         Severity.MEDIUM.value: 2}, value=Signal.severity, else_=1)
STATE_FILTERS = {
    "unresolved": UNRESOLVED,
    "open": (SignalState.OPEN,),
    "acknowledged": (SignalState.ACKNOWLEDGED,),
    "resolved": (SignalState.RESOLVED,),
    "all": tuple(SignalState),
}


# --- seconds between two timestamps, in SQL on SQLite and PostgreSQL ----------------------

class seconds_between(FunctionElement):  # noqa: N801 — used like an SQL function
    type = sa.Float()
    inherit_cache = True
    name = "seconds_between"


@compiles(seconds_between, "sqlite")
def _seconds_sqlite(element, compiler, **kw):
    start, end = list(element.clauses)
    return (f"((julianday({compiler.process(end, **kw)}) - "
            f"julianday({compiler.process(start, **kw)})) * 86400.0)")


@compiles(seconds_between)
def _seconds_default(element, compiler, **kw):
    start, end = list(element.clauses)
    return (f"EXTRACT(EPOCH FROM ({compiler.process(end, **kw)} - "
            f"{compiler.process(start, **kw)}))")


# --- guarding items and the flag --------------------------------------------------------

def guard_pairs():
    """(signal_id, item_id) of every signal and the readiness items guarding against it."""
    by_failure = (sa.select(signal_failures.c.signal_id.label("signal_id"),
                            item_failures.c.item_id.label("item_id"))
                  .join(item_failures, item_failures.c.failure_id == signal_failures.c.failure_id))
    names_a_failure = sa.exists().where(signal_failures.c.signal_id == Signal.id)
    by_domain = (sa.select(Signal.id, ReadinessItem.id)
                 .join(ReadinessItem, ReadinessItem.domain_id == Signal.domain_id)
                 .where(ReadinessItem.active, ~names_a_failure))
    return sa.union(by_failure, by_domain).subquery("guards")


def unmet_guards(signal_ids=None, *, team_id: int | None = None):
    """(signal_id, code, teams): each signal's guarding item codes that are unmet in some
    team's latest audit (or in `team_id`'s), with how many teams. Each distinct guarding
    code is looked up once per latest audit, through the (audit_id, code) unique index —
    the cost follows the number of teams, never the number of items."""
    guards = guard_pairs()
    by_code = (sa.select(guards.c.signal_id, ReadinessItem.code)
               .join(ReadinessItem, ReadinessItem.id == guards.c.item_id))
    if signal_ids is not None:
        by_code = by_code.where(guards.c.signal_id.in_(signal_ids))
    by_code = by_code.subquery("by_code")
    codes = sa.select(by_code.c.code).distinct().subquery("codes")
    latest = latest_audits(None if team_id is None else [team_id])
    unmet = (sa.select(AuditItem.code, sa.func.count().label("teams"))
             .join(codes, codes.c.code == AuditItem.code)
             .where(AuditItem.audit_id.in_(sa.select(latest.c.audit_id)),
                    AuditItem.status.in_(UNMET))
             .group_by(AuditItem.code).subquery("unmet"))
    return (sa.select(by_code.c.signal_id, by_code.c.code, unmet.c.teams)
            .join(unmet, unmet.c.code == by_code.c.code))


def teams_with_unmet_guards(signal_id: int) -> sa.Select:
    """The teams whose latest audit has a control guarding against the signal not met (or
    not yet assessed): whom the signal concerns, by the same rule as its flag."""
    guards = guard_pairs()
    codes = (sa.select(ReadinessItem.code).join(guards, guards.c.item_id == ReadinessItem.id)
             .where(guards.c.signal_id == signal_id))
    latest = latest_audits()
    return (sa.select(latest.c.team_id).join(AuditItem, AuditItem.audit_id == latest.c.audit_id)
            .where(AuditItem.code.in_(codes), AuditItem.status.in_(UNMET)).distinct())


def flagged_signal_ids_select():
    return sa.select(unmet_guards().subquery().c.signal_id).distinct()


def flagged_ids(signal_ids: list[int]) -> set[int]:
    """Which of these signals are on an unmet control (one statement)."""
    if not signal_ids:
        return set()
    rows = unmet_guards(signal_ids).subquery()
    return set(db.session.execute(sa.select(rows.c.signal_id).distinct()).scalars())


def unmet_items_in_latest(readiness_item_ids: list[int]) -> set[int]:
    """Which of these library items are unmet in at least one team's latest audit."""
    if not readiness_item_ids:
        return set()
    latest = latest_audits()
    return set(db.session.execute(
        sa.select(ReadinessItem.id).distinct()
        .join(AuditItem, AuditItem.code == ReadinessItem.code)
        .join(latest, latest.c.audit_id == AuditItem.audit_id)
        .where(ReadinessItem.id.in_(readiness_item_ids), AuditItem.status.in_(UNMET))
    ).scalars())


def guarding_items(signal: Signal) -> list[ReadinessItem]:
    guards = guard_pairs()
    return list(db.session.execute(
        sa.select(ReadinessItem).join(guards, guards.c.item_id == ReadinessItem.id)
        .where(guards.c.signal_id == signal.id)
        .order_by(ReadinessItem.code).options(selectinload(ReadinessItem.domain))
    ).scalars())


# --- lists ------------------------------------------------------------------------------

def _with_people():
    return (selectinload(Signal.failures), selectinload(Signal.domain),
            selectinload(Signal.reported_by), selectinload(Signal.acknowledged_by),
            selectinload(Signal.resolved_by))


def signal_or_404(signal_id: int) -> Signal:
    signal = db.session.execute(
        sa.select(Signal).where(Signal.id == signal_id).options(*_with_people())
    ).scalar_one_or_none()
    if signal is None:
        abort(404)
    return signal


def signals_select(*, state: str = "unresolved", domain: str | None = None,
                   severity: str | None = None, failure: str | None = None,
                   flagged: bool = False):
    stmt = (sa.select(Signal)
            .where(Signal.state.in_(STATE_FILTERS.get(state, UNRESOLVED)))
            .order_by(SEVERITY_RANK.desc(), Signal.observed_at.desc(), Signal.id.desc())
            .options(*_with_people()))
    if domain:
        stmt = stmt.join(Domain, Domain.id == Signal.domain_id).where(Domain.code == domain)
    if severity in {s.value for s in Severity}:
        stmt = stmt.where(Signal.severity == severity)
    if failure:
        stmt = stmt.where(Signal.failures.any(FailurePattern.code == failure))
    if flagged:
        stmt = stmt.where(Signal.id.in_(flagged_signal_ids_select()))
    return stmt


def counts_by_state() -> dict[str, int]:
    counts = {s.value: 0 for s in SignalState}
    counts.update({SignalState(s).value: n for s, n in db.session.execute(
        sa.select(Signal.state, sa.func.count()).group_by(Signal.state))})
    return counts


def signals_guarded_by(item: ReadinessItem) -> list[Signal]:
    """Unresolved signals that this item guards against, most severe first."""
    guards = guard_pairs()
    return list(db.session.execute(
        sa.select(Signal)
        .where(Signal.id.in_(sa.select(guards.c.signal_id).where(guards.c.item_id == item.id)),
               Signal.state.in_(UNRESOLVED))
        .order_by(SEVERITY_RANK.desc(), Signal.observed_at.desc())
        .options(*_with_people())
    ).scalars())


def recent_for_failure(failure: FailurePattern, limit: int = 10) -> list[Signal]:
    return list(db.session.execute(
        sa.select(Signal).where(Signal.failures.any(FailurePattern.id == failure.id))
        .order_by(Signal.observed_at.desc()).limit(limit).options(*_with_people())
    ).scalars())


# --- the overview's signal panel ----------------------------------------------------------

def unresolved_by_domain():
    """[(domain code or None, name, open, acknowledged)] in library order."""
    open_ = sa.func.sum(sa.case((Signal.state == SignalState.OPEN, 1), else_=0))
    acked = sa.func.sum(sa.case((Signal.state == SignalState.ACKNOWLEDGED, 1), else_=0))
    return db.session.execute(
        sa.select(Domain.code, Domain.name, open_, acked)
        .select_from(Signal).outerjoin(Domain, Domain.id == Signal.domain_id)
        .where(Signal.state.in_(UNRESOLVED))
        .group_by(Domain.code, Domain.name, Domain.position)
        .order_by(sa.func.coalesce(Domain.position, 10_000), Domain.code)
    ).all()


def median_seconds_to_acknowledge() -> tuple[float | None, int]:
    """Median time from a signal being logged to being acknowledged, and how many signals it
    is over: the middle one or two rows of the ordered durations, picked in SQL."""
    duration = seconds_between(Signal.created_at, Signal.acknowledged_at)
    ranked = (sa.select(duration.label("s"),
                        sa.func.row_number().over(order_by=duration).label("rn"),
                        sa.func.count().over().label("n"))
              .where(Signal.acknowledged_at.is_not(None)).subquery())
    middle = sa.or_(ranked.c.rn == (ranked.c.n + 1) // 2, ranked.c.rn == (ranked.c.n + 2) // 2)
    value, n = db.session.execute(
        sa.select(sa.func.avg(ranked.c.s), sa.func.max(ranked.c.n)).where(middle)
    ).one()
    return (float(value) if value is not None else None), int(n or 0)


@dataclass
class FlaggedPanel:
    signals: list[Signal]  # the most severe, up to the limit
    total: int
    codes: dict[int, list[tuple[str, int]]]  # signal → [(unmet item code, teams)]


def flagged_unresolved(limit: int = 8) -> FlaggedPanel:
    """Unresolved signals on an unmet control: the guard lookup runs once, then the most
    severe `limit` signals are loaded."""
    unresolved = sa.select(Signal.id).where(Signal.state.in_(UNRESOLVED))
    codes: dict[int, list[tuple[str, int]]] = {}
    stmt = unmet_guards(unresolved)
    for signal_id, code, teams in db.session.execute(
            stmt.order_by(stmt.selected_columns.code)):
        codes.setdefault(signal_id, []).append((code, teams))
    signals = list(db.session.execute(
        sa.select(Signal).where(Signal.id.in_(list(codes) or [-1]))
        .order_by(SEVERITY_RANK.desc(), Signal.observed_at.desc(), Signal.id.desc())
        .limit(limit).options(selectinload(Signal.failures), selectinload(Signal.domain))
    ).scalars())
    return FlaggedPanel(signals=signals, total=len(codes), codes=codes)


def failures_by_domain():
    """Every failure pattern of an active domain, for the report form's choices."""
    return db.session.execute(
        sa.select(FailurePattern, Domain).join(Domain, Domain.id == FailurePattern.domain_id)
        .where(Domain.active).order_by(Domain.position, FailurePattern.code)
    ).all()


def flagged_for_team(team_id: int) -> list[tuple[Signal, list[str]]]:
    """Unresolved signals on a control this team has not met (or not yet assessed) in its
    latest audit, with those item codes: two statements."""
    unresolved = sa.select(Signal.id).where(Signal.state.in_(UNRESOLVED))
    codes: dict[int, list[str]] = {}
    stmt = unmet_guards(unresolved, team_id=team_id)
    for signal_id, code, _ in db.session.execute(stmt.order_by(stmt.selected_columns.code)):
        codes.setdefault(signal_id, []).append(code)
    signals = db.session.execute(
        sa.select(Signal).where(Signal.id.in_(list(codes) or [-1]))
        .order_by(SEVERITY_RANK.desc(), Signal.observed_at.desc())
        .options(selectinload(Signal.failures))
    ).scalars().all()
    return [(s, codes[s.id]) for s in signals]
