"""Dashboard reads. Scores come from audit_domain_tallies (kept by the audit services in the
same transaction as every item change), so the heatmap and the score history never scan
audit_items; the few item counts that tallies cannot hold (overdue, critical not met, the
quarter-over-quarter diff) are one GROUP BY or one join each. Every function is a fixed
number of statements whatever the number of teams, audits or items.

`team_ids` everywhere is the viewer's scope: None for every team, or a list of team ids
(auth.permissions.dashboard_team_scope).
"""

from dataclasses import dataclass, field
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from tracker import cache, clock
from tracker.audits import queries as audit_queries
from tracker.audits.models import Audit, AuditDomainTally, AuditItem, AuditState, ItemStatus
from tracker.auth.models import Team
from tracker.extensions import db
from tracker.library.models import Criticality, Domain

SCORE_FORMULA = ("score = Σ weight of met items ÷ Σ weight of items that are not N/A "
                 "(critical 3, high 2, normal 1)")
# A draft audit is planning (scope, owners, dates): the dashboards show it as a draft,
# outside every score and trend, until the first piece of work opens it.
NOT_SCORED_NOTE = "Draft audits are not scored until work starts."
HISTORY_QUARTERS = 8
DUE_SOON_DAYS = 14

PENDING = (ItemStatus.NOT_STARTED, ItemStatus.IN_PROGRESS, ItemStatus.BLOCKED)
# Not met, or not yet assessed: what a frontline signal on the control is flagged for.
UNMET = (*PENDING, ItemStatus.NOT_MET)
OPEN_AUDIT_STATES = (AuditState.DRAFT, AuditState.IN_PROGRESS)
STATUS_COLUMNS = [s.value for s in ItemStatus]


# --- what the pages are made from (tracker.cache) ------------------------------------------

# The overview shows every team in the viewer's scope, and the signals: it moves with every
# write.
OVERVIEW_PAGE_CHAINS = cache.EVERY_WRITE

# A team's page: its audits' chains and the shared ones (people, library, signals). Another
# team's writes move none of them, so a busy organisation leaves it cached.
TEAM_PAGE_CHAINS = cache.chain_heads(
    audit_queries.team_audit_chains(sa.bindparam("team_id", type_=sa.Integer)),
    audit_queries.SHARED_CHAINS)


def score(weight_met, weight_applicable) -> float | None:
    """The readiness score of SCORE_FORMULA; None when nothing applicable was in scope."""
    return (weight_met or 0) / weight_applicable if weight_applicable else None


def _scoped(stmt, team_ids):
    return stmt if team_ids is None else stmt.where(Audit.team_id.in_(team_ids))


# --- the filters behind every number ----------------------------------------------------
# These are the definitions the audit page's query parameters apply
# (/audits/<id>?overdue=1, ?status=not_met&criticality=critical, ?domain=DV), so a number
# and the list it links to always agree. Both counts are index ranges per audit
# (migration 0002_dashboard), never a read of every item of the quarter.

def overdue_clause(today: date):
    """Due date passed, work still open (not started, in progress, blocked), in an audit the
    team can still work on (draft or in progress)."""
    return sa.and_(
        AuditItem.status.in_(PENDING), AuditItem.due_date < today,
        AuditItem.audit_id.in_(sa.select(Audit.id).where(Audit.state.in_(OPEN_AUDIT_STATES))))


def critical_not_met_clause():
    return sa.and_(AuditItem.status == ItemStatus.NOT_MET,
                   AuditItem.criticality == Criticality.CRITICAL)


def _period_audit_ids(period: str, team_ids):
    return _scoped(sa.select(Audit.id).where(Audit.period == period), team_ids)


def item_alerts(audit_ids, today: date) -> dict[int, tuple[int, int]]:
    """{audit_id: (overdue, critical not met)} for a list (or select) of audit ids."""
    counts: dict[int, list[int]] = {}
    for k, clause in enumerate((overdue_clause(today), critical_not_met_clause())):
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
        for clause in (overdue_clause(today), critical_not_met_clause()))


# --- pickers and lists ------------------------------------------------------------------

def periods(team_ids=None, team_id: int | None = None) -> list[str]:
    """Quarters that have at least one audit, newest first."""
    stmt = _scoped(sa.select(Audit.period).distinct(), team_ids)
    if team_id is not None:
        stmt = stmt.where(Audit.team_id == team_id)
    return list(db.session.execute(stmt.order_by(Audit.period.desc())).scalars())


def pick_period(requested: str | None, available: list[str]) -> str | None:
    if requested in available:
        return requested
    return available[0] if available else None


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

@dataclass
class AuditSummary:
    """One audit with its totals over every domain, summed in SQL from its tallies."""

    audit_id: int
    team_id: int
    period: str
    state: AuditState
    due_date: date | None
    counts: dict[str, int]
    weight_met: int
    weight_applicable: int
    overdue: int = 0
    critical_not_met: int = 0

    @property
    def is_draft(self) -> bool:
        return self.state == AuditState.DRAFT

    @property
    def score(self) -> float | None:
        return None if self.is_draft else score(self.weight_met, self.weight_applicable)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _tally_sums():
    t = AuditDomainTally
    return [sa.func.coalesce(sa.func.sum(getattr(t, s)), 0).label(s) for s in STATUS_COLUMNS] + [
        sa.func.coalesce(sa.func.sum(t.weight_met), 0).label("weight_met"),
        sa.func.coalesce(sa.func.sum(t.weight_applicable), 0).label("weight_applicable"),
    ]


def audit_summaries(period: str, team_ids=None, *, today: date | None = None,
                    team_id: int | None = None) -> dict[int, AuditSummary]:
    """Each team's audit of `period` (team_id → summary): tallies summed in one GROUP BY,
    then the overdue and critical-not-met counts of those audits."""
    stmt = _scoped(
        sa.select(Audit.id, Audit.team_id, Audit.period, Audit.state, Audit.due_date,
                  *_tally_sums())
        .outerjoin(AuditDomainTally, AuditDomainTally.audit_id == Audit.id)
        .where(Audit.period == period)
        .group_by(Audit.id, Audit.team_id, Audit.period, Audit.state, Audit.due_date),
        team_ids)
    if team_id is not None:
        stmt = stmt.where(Audit.team_id == team_id)
    summaries = {}
    by_audit = {}
    for row in db.session.execute(stmt).mappings():
        summary = AuditSummary(
            audit_id=row["id"], team_id=row["team_id"], period=row["period"],
            state=AuditState(row["state"]), due_date=row["due_date"],
            counts={s: int(row[s]) for s in STATUS_COLUMNS},
            weight_met=int(row["weight_met"]), weight_applicable=int(row["weight_applicable"]))
        summaries[summary.team_id] = by_audit[summary.audit_id] = summary
    if by_audit:
        for audit_id, (overdue, critical) in item_alerts(list(by_audit),
                                                         today or clock.today()).items():
            by_audit[audit_id].overdue = overdue
            by_audit[audit_id].critical_not_met = critical
    return summaries


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
    return score(wm, wa), int(audits or 0)


# --- my work ------------------------------------------------------------------------------

@dataclass
class MyWork:
    open: int
    due_soon: int
    overdue: int


def my_work(user_id: int, today: date) -> MyWork:
    """Items assigned to this person in audits still being worked: one aggregate."""
    soon = sa.and_(AuditItem.due_date >= today,
                   AuditItem.due_date <= today + timedelta(days=DUE_SOON_DAYS))
    row = db.session.execute(
        sa.select(sa.func.count(),
                  sa.func.coalesce(sa.func.sum(sa.case((soon, 1), else_=0)), 0),
                  sa.func.coalesce(sa.func.sum(sa.case((AuditItem.due_date < today, 1),
                                                       else_=0)), 0))
        .select_from(AuditItem).join(Audit, Audit.id == AuditItem.audit_id)
        .where(AuditItem.owner_id == user_id, AuditItem.status.in_(PENDING),
               Audit.state.in_(OPEN_AUDIT_STATES))
    ).one()
    return MyWork(open=int(row[0]), due_soon=int(row[1]), overdue=int(row[2]))


# --- team page ----------------------------------------------------------------------------

def team_audits(team_id: int) -> list[Audit]:
    return list(db.session.execute(
        sa.select(Audit).where(Audit.team_id == team_id).order_by(Audit.period.desc())
    ).scalars())


def domain_breakdown(audit_id: int):
    """The audit's tallies per domain, with the domain, in scope order."""
    return db.session.execute(
        sa.select(AuditDomainTally, Domain)
        .join(Domain, Domain.id == AuditDomainTally.domain_id)
        .where(AuditDomainTally.audit_id == audit_id)
        .order_by(Domain.position, Domain.code)
    ).all()


DIFF_CATEGORIES = {
    "regressed": ("Regressed", "Met last quarter, now not met or blocked."),
    "improved": ("Improved", "Not met last quarter, met now."),
    "stale": ("Stale", "Not met for two quarters or more in a row."),
    "new": ("New in scope", "In this audit, not in the previous one."),
}


@dataclass
class DiffRow:
    category: str
    audit_item_id: int
    code: str
    title: str
    criticality: Criticality
    domain_code: str
    previous_status: ItemStatus | None
    status: ItemStatus
    quarters_unmet: int | None


@dataclass
class QuarterDiff:
    current: Audit
    previous: Audit | None
    rows: dict[str, list[DiffRow]] = field(default_factory=dict)

    def count(self, category: str) -> int:
        return len(self.rows.get(category, []))


def quarter_diff(current: Audit, previous: Audit | None) -> QuarterDiff:
    """Items of `current` compared by code with `previous` (the team's audit before it):

    - regressed: met before, now not met or blocked (an item not yet re-assessed this
      quarter is not a regression: every status starts again at "not started");
    - improved: anything but met before, met now;
    - stale: not met or not assessed both now and before — with the run length in quarters;
    - new: not in the previous audit's scope.
    One statement: a LEFT JOIN of the two audits' items, classified by CASE.
    """
    diff = QuarterDiff(current=current, previous=previous)
    if previous is None:
        return diff
    cur, prev = aliased(AuditItem), aliased(AuditItem)
    category = sa.case(
        (prev.id.is_(None), "new"),
        (sa.and_(prev.status == ItemStatus.MET,
                 cur.status.in_([ItemStatus.NOT_MET, ItemStatus.BLOCKED])), "regressed"),
        (sa.and_(prev.status != ItemStatus.MET, cur.status == ItemStatus.MET), "improved"),
        (sa.and_(prev.status.in_(UNMET), cur.status.in_(UNMET)), "stale"),
        else_=None,
    ).label("category")
    classified = (
        sa.select(cur.id, cur.code, cur.title, cur.criticality, cur.status,
                  prev.status.label("previous_status"), Domain.code.label("domain_code"),
                  category)
        .join(Domain, Domain.id == cur.domain_id)
        .outerjoin(prev, sa.and_(prev.audit_id == previous.id, prev.code == cur.code))
        .where(cur.audit_id == current.id)
    ).subquery()
    # How many of the team's quarters, up to this one, the item has been unmet since it was
    # last met (or N/A): the length of the stale run.
    a1, i1, a2, i2 = aliased(Audit), aliased(AuditItem), aliased(Audit), aliased(AuditItem)
    last_ok = (sa.select(sa.func.max(a1.period)).join(i1, i1.audit_id == a1.id)
               .where(a1.team_id == current.team_id, a1.period <= current.period,
                      i1.code == classified.c.code,
                      i1.status.in_([ItemStatus.MET, ItemStatus.NOT_APPLICABLE]))
               .correlate(classified).scalar_subquery())
    run = (sa.select(sa.func.count()).select_from(i2).join(a2, a2.id == i2.audit_id)
           .where(a2.team_id == current.team_id, a2.period <= current.period,
                  a2.period > sa.func.coalesce(last_ok, ""),
                  i2.code == classified.c.code, i2.status.in_(UNMET))
           .scalar_subquery())
    rows = db.session.execute(
        sa.select(classified, sa.case((classified.c.category == "stale", run), else_=None))
        .where(classified.c.category.is_not(None))
        .order_by(classified.c.code)
    ).all()
    diff.rows = {key: [] for key in DIFF_CATEGORIES}
    for r in rows:
        diff.rows[r.category].append(DiffRow(
            category=r.category, audit_item_id=r.id, code=r.code, title=r.title,
            criticality=Criticality(r.criticality), domain_code=r.domain_code,
            previous_status=ItemStatus(r.previous_status) if r.previous_status else None,
            status=ItemStatus(r.status), quarters_unmet=r[-1]))
    return diff


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
