"""Dashboard reads. Scores come from audit_domain_tallies (kept by the audit services in the
same transaction as every item change), so the heatmap and the score history never scan
audit_items; the few item counts that tallies cannot hold (overdue, critical not met, the
quarter-over-quarter diff) are one GROUP BY or one join each. Every function is a fixed
number of statements whatever the number of teams, audits or items.

`team_ids` everywhere is the viewer's scope: None for every team, or a list of team ids
(auth.permissions.dashboard_team_scope).
"""

from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa

from tracker import activity, cache, clock
from tracker.audits import queries as audit_queries
from tracker.audits import readmodel, vocabulary
from tracker.audits.models import Audit, AuditDomainTally, AuditItem, AuditState, ItemStatus
from tracker.audits.readmodel import (  # noqa: F401 (the dashboard pages' read model)
    AuditSummary,
    QuarterDiff,
    quarter_diff,
)
from tracker.audits.service import period_for
from tracker.audits.vocabulary import (  # noqa: F401 (the pages show these)
    DIFF_CATEGORIES,
    NOT_SCORED_NOTE,
    SCORE_FORMULA,
    UNMET,
    score,
)
from tracker.auth.models import Team
from tracker.extensions import db
from tracker.library.models import Domain

HISTORY_QUARTERS = 8
STATUS_COLUMNS = readmodel.STATUS_COLUMNS


# --- what the pages are made from (tracker.cache) ------------------------------------------

# The overview shows every team in the viewer's scope, and the signals: it moves with every
# write.
OVERVIEW_PAGE_CHAINS = cache.EVERY_WRITE

# A team's page: its audits' chains and the shared ones (people, library, signals). Another
# team's writes move none of them, so a busy organisation leaves it cached.
TEAM_PAGE_CHAINS = cache.chain_heads(
    audit_queries.team_audit_chains(sa.bindparam("team_id", type_=sa.Integer)),
    activity.SHARED_CHAINS)


def _scoped(stmt, team_ids):
    return stmt if team_ids is None else stmt.where(Audit.team_id.in_(team_ids))


# --- the filters behind every number ----------------------------------------------------
# vocabulary.overdue_clause and critical_not_met_clause: the definitions the audit page's
# query parameters apply (/audits/<id>?overdue=1, ?status=not_met&criticality=critical,
# ?domain=DV), so a number and the list it links to always agree. Both counts are index
# ranges per audit (migration 0002_dashboard), never a read of every item of the quarter.

def _period_audit_ids(period: str, team_ids):
    return _scoped(sa.select(Audit.id).where(Audit.period == period), team_ids)


def item_alerts(audit_ids, today: date) -> dict[int, tuple[int, int]]:
    """{audit_id: (overdue, critical not met)} for a list (or select) of audit ids."""
    counts: dict[int, list[int]] = {}
    clauses = (vocabulary.overdue_clause(today), vocabulary.critical_not_met_clause())
    for k, clause in enumerate(clauses):
        for audit_id, n in db.session.execute(
            sa.select(AuditItem.audit_id, sa.func.count())
            .where(AuditItem.audit_id.in_(audit_ids), clause).group_by(AuditItem.audit_id)
        ):
            counts.setdefault(audit_id, [0, 0])[k] = n
    return {audit_id: (o, c) for audit_id, (o, c) in counts.items()}


def item_alert_totals(period: str, team_ids, today: date) -> tuple[int, int]:
    """(overdue, critical not met) over every audit of the period in scope."""
    audit_ids = _period_audit_ids(period, team_ids)
    return tuple(db.session.execute(
        sa.select(sa.func.count()).select_from(AuditItem)
        .where(AuditItem.audit_id.in_(audit_ids), clause)).scalar_one()
        for clause in (vocabulary.overdue_clause(today),
                       vocabulary.critical_not_met_clause()))


# --- pickers and lists ------------------------------------------------------------------

def periods(team_ids=None, team_id: int | None = None) -> list[str]:
    """Quarters that have at least one audit, newest first."""
    stmt = _scoped(sa.select(Audit.period).distinct(), team_ids)
    if team_id is not None:
        stmt = stmt.where(Audit.team_id == team_id)
    return list(db.session.execute(stmt.order_by(Audit.period.desc())).scalars())


def pick_period(requested: str | None, available: list[str]) -> str | None:
    """The quarter asked for, else the current one (in TIMEZONE) or the latest before it: a
    lead who starts next quarter early does not move everyone's default to it."""
    if requested in available:
        return requested
    current = period_for(clock.today())
    started = [p for p in available if p <= current]
    return max(started) if started else min(available, default=None)


def history_window(period: str, available: list[str]) -> list[str]:
    """The last HISTORY_QUARTERS quarters with audits, up to and including `period`."""
    older = [p for p in available if p <= period]
    return sorted(older[:HISTORY_QUARTERS])


def teams_select(team_ids=None):
    stmt = sa.select(Team).order_by(Team.name)
    return stmt if team_ids is None else stmt.where(Team.id.in_(team_ids))


def active_domains() -> list[Domain]:
    return list(db.session.execute(
        sa.select(Domain).where(Domain.active).order_by(Domain.position, Domain.code)
    ).scalars())


# --- organisation overview --------------------------------------------------------------

def audit_summaries(period: str, team_ids=None, *, today: date | None = None,
                    team_id: int | None = None) -> dict[int, AuditSummary]:
    """Each team's audit of `period` (team_id → the one audit summary, without domains):
    tallies summed in one GROUP BY, then the overdue and critical-not-met counts."""
    where = [] if team_ids is None else [Audit.team_id.in_(team_ids)]
    if team_id is not None:
        where.append(Audit.team_id == team_id)
    by_audit = readmodel.period_summaries(period, where)
    add_item_alerts(by_audit, today or clock.today())
    return {summary.team_id: summary for summary in by_audit.values()}


def add_item_alerts(by_audit: dict[int, AuditSummary], today: date) -> None:
    """Fill each summary's overdue and critical-not-met counts: one GROUP BY each."""
    if by_audit:
        for audit_id, (overdue, critical) in item_alerts(list(by_audit), today).items():
            by_audit[audit_id].overdue = overdue
            by_audit[audit_id].critical_not_met = critical


def audits_by_state(period: str, team_ids=None) -> dict[str, int]:
    rows = db.session.execute(_scoped(
        sa.select(Audit.state, sa.func.count()).where(Audit.period == period)
        .group_by(Audit.state), team_ids)).all()
    counts = {s.value: 0 for s in AuditState}
    counts.update({AuditState(state).value: n for state, n in rows})
    return counts


def domain_cells(period: str, team_ids=None, *, team_id: int | None = None,
                 periods_in: list[str] | None = None) -> dict[tuple, tuple]:
    """Tally rows as {(team_id, period, domain_id): (audit_id, weight_met, weight_applicable,
    is_draft)} for one period, or for `periods_in`."""
    t = AuditDomainTally
    stmt = _scoped(
        sa.select(Audit.team_id, Audit.period, t.domain_id, Audit.id, t.weight_met,
                  t.weight_applicable, Audit.state == AuditState.DRAFT)
        .join(Audit, Audit.id == t.audit_id), team_ids)
    stmt = stmt.where(Audit.period.in_(periods_in) if periods_in else Audit.period == period)
    if team_id is not None:
        stmt = stmt.where(Audit.team_id == team_id)
    return {(team, per, dom): (aid, wm, wa, bool(draft))
            for team, per, dom, aid, wm, wa, draft in db.session.execute(stmt)}


def score_history(window: list[str], team_ids=None, *, team_id: int | None = None):
    """[(team_id, period, weight_met, weight_applicable)] summed over domains in SQL (drafts
    are not scored)."""
    t = AuditDomainTally
    stmt = _scoped(
        sa.select(Audit.team_id, Audit.period, sa.func.sum(t.weight_met),
                  sa.func.sum(t.weight_applicable))
        .join(Audit, Audit.id == t.audit_id)
        .where(Audit.period.in_(window), Audit.state != AuditState.DRAFT)
        .group_by(Audit.team_id, Audit.period), team_ids)
    if team_id is not None:
        stmt = stmt.where(Audit.team_id == team_id)
    return db.session.execute(stmt).all()


def organisation_score(period: str, team_ids=None) -> tuple[float | None, int]:
    """The score of every team in scope taken together for one quarter, and the audits it
    is over (drafts are not scored)."""
    t = AuditDomainTally
    wm, wa, audits = db.session.execute(_scoped(
        sa.select(sa.func.sum(t.weight_met), sa.func.sum(t.weight_applicable),
                  sa.func.count(sa.distinct(t.audit_id)))
        .join(Audit, Audit.id == t.audit_id)
        .where(Audit.period == period, Audit.state != AuditState.DRAFT), team_ids)).one()
    return vocabulary.score(wm, wa), int(audits or 0)


# --- my work ------------------------------------------------------------------------------

@dataclass
class MyWork:
    open: int
    due_soon: int
    overdue: int


def my_work(user_id: int, today: date) -> MyWork:
    """Items assigned to this person in audits still being worked: one aggregate."""
    soon, late = vocabulary.due_soon_clause(today), vocabulary.late_clause(today)
    row = db.session.execute(
        sa.select(sa.func.count(),
                  sa.func.coalesce(sa.func.sum(sa.case((soon, 1), else_=0)), 0),
                  sa.func.coalesce(sa.func.sum(sa.case((late, 1), else_=0)), 0))
        .select_from(AuditItem).join(Audit, Audit.id == AuditItem.audit_id)
        .where(AuditItem.owner_id == user_id, AuditItem.status.in_(vocabulary.OPEN),
               vocabulary.working_audit_clause())
    ).one()
    return MyWork(open=int(row[0]), due_soon=int(row[1]), overdue=int(row[2]))


# --- team page ----------------------------------------------------------------------------

def team_audits(team_id: int) -> list[Audit]:
    return list(db.session.execute(
        sa.select(Audit).where(Audit.team_id == team_id).order_by(Audit.period.desc())
    ).scalars())


# --- status of library items in each team's latest audit -------------------------------

# Beyond this many teams a table of items × teams stops being readable: the pages show the
# count of teams in each status per item instead.
MAX_TEAM_COLUMNS = 12


def latest_audits(team_ids=None):
    """A subquery of each team's newest audit (by period): audit_id, team_id, period. Both
    steps read the (team_id, period) unique index."""
    newest = _scoped(sa.select(Audit.team_id, sa.func.max(Audit.period).label("period"))
                     .group_by(Audit.team_id), team_ids).subquery("newest")
    return (sa.select(Audit.id.label("audit_id"), Audit.team_id, Audit.period)
            .join(newest, sa.and_(newest.c.team_id == Audit.team_id,
                                  newest.c.period == Audit.period))
            .subquery("latest"))


@dataclass
class TeamColumn:
    team_id: int
    name: str
    audit_id: int | None
    period: str | None


@dataclass
class ItemStatusGrid:
    """Readiness items × teams: each cell the item's status in the team's latest audit —
    or, for more than MAX_TEAM_COLUMNS teams (`compact`), per item the number of teams in
    each status."""

    teams: list[TeamColumn]
    cells: dict[tuple[int, int], tuple[ItemStatus, int, int]]  # (item, team) → status, ids
    counts: dict[int, dict[str, int]] = field(default_factory=dict)  # compact: item → counts
    compact: bool = False

    def cell(self, readiness_item_id: int, team_id: int):
        return self.cells.get((readiness_item_id, team_id))

    def status_counts(self, readiness_item_id: int) -> list[tuple[str, int]]:
        counts = self.counts.get(readiness_item_id, {})
        return [(s, counts[s]) for s in STATUS_COLUMNS if counts.get(s)]

    def gaps(self, items) -> list[tuple[TeamColumn, list[str]]]:
        """Per team, the codes of these items that are unmet in its latest audit."""
        result = []
        for team in self.teams:
            codes = [i.code for i in items
                     if (c := self.cells.get((i.id, team.team_id))) and c[0] in UNMET]
            if codes:
                result.append((team, codes))
        return result


def item_status_grid(team_ids=None, *, domain_id: int | None = None,
                     readiness_item_ids: list[int] | None = None,
                     compact_allowed: bool = True) -> ItemStatusGrid:
    """Two statements: the teams with their latest audit, then the matching audit items
    (or, compact, their count per item and status)."""
    latest = latest_audits(team_ids)
    team_stmt = (sa.select(Team.id, Team.name, latest.c.audit_id, latest.c.period)
                 .outerjoin(latest, latest.c.team_id == Team.id).order_by(Team.name))
    if team_ids is not None:
        team_stmt = team_stmt.where(Team.id.in_(team_ids))
    grid = ItemStatusGrid(teams=[TeamColumn(*row) for row in db.session.execute(team_stmt)],
                          cells={})
    where = [AuditItem.readiness_item_id.is_not(None)]
    if domain_id is not None:
        where.append(AuditItem.domain_id == domain_id)
    if readiness_item_ids is not None:
        where.append(AuditItem.readiness_item_id.in_(readiness_item_ids or [-1]))
    joined = lambda stmt: stmt.join(latest, latest.c.audit_id == AuditItem.audit_id)  # noqa: E731
    grid.compact = compact_allowed and len(grid.teams) > MAX_TEAM_COLUMNS
    if grid.compact:
        for item_id, status, n in db.session.execute(joined(
                sa.select(AuditItem.readiness_item_id, AuditItem.status, sa.func.count()))
                .where(*where).group_by(AuditItem.readiness_item_id, AuditItem.status)):
            grid.counts.setdefault(item_id, {})[ItemStatus(status).value] = n
        return grid
    grid.cells = {(item_id, team_id): (ItemStatus(status), audit_id, audit_item_id)
                  for item_id, team_id, status, audit_id, audit_item_id in db.session.execute(
                      joined(sa.select(AuditItem.readiness_item_id, latest.c.team_id,
                                       AuditItem.status, AuditItem.audit_id, AuditItem.id))
                      .where(*where))}
    return grid
