"""The audit read model every feature shows: one summary of an audit (counts by status and by
domain, score), the items with their evidence, and the quarter-over-quarter diff. The audit
pages, the team page and the dashboards, the API, the PDF and the canonical JSON all read
these, with the definitions of tracker.audits.vocabulary.

A summary is read from the per-domain tallies the audit services keep (a few rows per audit,
what pages and the API show), or built from loaded items (what the signed report and its
canonical JSON show: the items themselves). Both give the same numbers.
"""

from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import aliased, selectinload

from tracker.audits import vocabulary
from tracker.audits.models import (
    Audit,
    AuditDomainTally,
    AuditItem,
    AuditState,
    Evidence,
    ItemStatus,
)
from tracker.extensions import db
from tracker.library.models import Criticality, Domain

STATUS_ORDER = list(ItemStatus)
STATUS_COLUMNS = [s.value for s in STATUS_ORDER]


def blank_counts() -> dict[str, int]:
    return {s: 0 for s in STATUS_COLUMNS}


class _Counted:
    """What a summary and a domain's line share: counts by status and the weights."""

    counts: dict[str, int]
    weight_met: int
    weight_applicable: int

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def open(self) -> int:
        """Items still to work on (vocabulary.OPEN: not started, in progress, blocked)."""
        return sum(self.counts.get(s.value, 0) for s in vocabulary.OPEN)

    @property
    def decided(self) -> int:
        """Items with a final answer: met, not met or not applicable."""
        return sum(self.counts.get(s.value, 0) for s in vocabulary.DECIDED)

    @property
    def progress(self) -> float:
        return self.decided / self.total if self.total else 0.0

    @property
    def score(self) -> float | None:
        return vocabulary.score(self.weight_met, self.weight_applicable)

    @property
    def score_percent(self) -> float | None:
        return vocabulary.score_percent(self.weight_met, self.weight_applicable)

    def share(self, status: str) -> int:
        """Whole percent of items in `status`, for the stacked bar."""
        return round(100 * self.counts[status] / self.total) if self.total else 0

    def add(self, status: ItemStatus, criticality: Criticality, n: int = 1,
            weight: int | None = None) -> None:
        """Count `n` items of one status (of total weight `weight`, else n × the weight)."""
        w = n * vocabulary.weight(criticality) if weight is None else weight
        self.counts[ItemStatus(status).value] += n
        if vocabulary.counts_in_score(status):
            self.weight_applicable += w
        if status == ItemStatus.MET:
            self.weight_met += w


@dataclass
class DomainCount(_Counted):
    domain: Domain
    counts: dict[str, int] = field(default_factory=blank_counts)
    weight_met: int = 0
    weight_applicable: int = 0


@dataclass
class AuditSummary(_Counted):
    """An audit's numbers. `domains` is filled by audit_summary and summary_of_items (the
    audit page, the team page, the report), left empty by the list reads."""

    counts: dict[str, int] = field(default_factory=blank_counts)
    weight_met: int = 0
    weight_applicable: int = 0
    domains: list[DomainCount] = field(default_factory=list)
    audit_id: int | None = None
    team_id: int | None = None
    period: str | None = None
    state: AuditState | None = None
    due_date: date | None = None
    overdue: int = 0
    critical_not_met: int = 0

    @property
    def is_draft(self) -> bool:
        return self.state == AuditState.DRAFT

    @property
    def scored(self) -> float | None:
        """The score where drafts are not scored (the dashboards): None for a draft."""
        return self.score if self.state is None or vocabulary.is_scored(self.state) else None


def _tally_sums():
    t = AuditDomainTally
    return [sa.func.coalesce(sa.func.sum(getattr(t, s)), 0).label(s) for s in STATUS_COLUMNS] + [
        sa.func.coalesce(sa.func.sum(t.weight_met), 0).label("weight_met"),
        sa.func.coalesce(sa.func.sum(t.weight_applicable), 0).label("weight_applicable"),
    ]


def _from_row(row, **extra) -> AuditSummary:
    return AuditSummary(counts={s: int(row[s]) for s in STATUS_COLUMNS},
                        weight_met=int(row["weight_met"]),
                        weight_applicable=int(row["weight_applicable"]), **extra)


def audit_summary(audit: Audit) -> AuditSummary:
    """Counts by status and by domain (in scope order), score and progress: one query over
    the tallies."""
    rows = db.session.execute(
        sa.select(AuditDomainTally, Domain).join(Domain)
        .where(AuditDomainTally.audit_id == audit.id)
        .order_by(Domain.position, Domain.code)
    ).all()
    summary = AuditSummary(audit_id=audit.id, team_id=audit.team_id, period=audit.period,
                           state=audit.state, due_date=audit.due_date)
    for tally, domain in rows:
        line = DomainCount(domain, {s: getattr(tally, s) for s in STATUS_COLUMNS},
                           tally.weight_met, tally.weight_applicable)
        summary.domains.append(line)
        for key, n in line.counts.items():
            summary.counts[key] += n
        summary.weight_met += line.weight_met
        summary.weight_applicable += line.weight_applicable
    return summary


def summary_of_tallies(audit: Audit) -> AuditSummary:
    """The summary (without domains) from the audit's tallies, already loaded with it
    (selectinload(Audit.tallies)): no query."""
    summary = AuditSummary(audit_id=audit.id, team_id=audit.team_id, period=audit.period,
                           state=audit.state, due_date=audit.due_date)
    for tally in audit.tallies:
        for key in STATUS_COLUMNS:
            summary.counts[key] += getattr(tally, key)
        summary.weight_met += tally.weight_met
        summary.weight_applicable += tally.weight_applicable
    return summary


def summaries_for(audit_ids: list[int]) -> dict[int, AuditSummary]:
    """Summaries of many audits (lists, queues), without domains: one GROUP BY."""
    if not audit_ids:
        return {}
    rows = db.session.execute(
        sa.select(AuditDomainTally.audit_id, *_tally_sums())
        .where(AuditDomainTally.audit_id.in_(audit_ids)).group_by(AuditDomainTally.audit_id)
    ).mappings()
    result = {row["audit_id"]: _from_row(row, audit_id=row["audit_id"]) for row in rows}
    for audit_id in audit_ids:
        result.setdefault(audit_id, AuditSummary(audit_id=audit_id))
    return result


def period_summaries(period: str, where=()) -> dict[int, AuditSummary]:
    """Each audit of `period` matching `where` (audit_id → summary, without domains): one
    GROUP BY over the tallies, with the audit's team, state and due date."""
    rows = db.session.execute(
        sa.select(Audit.id, Audit.team_id, Audit.state, Audit.due_date, *_tally_sums())
        .outerjoin(AuditDomainTally, AuditDomainTally.audit_id == Audit.id)
        .where(Audit.period == period, *where)
        .group_by(Audit.id, Audit.team_id, Audit.state, Audit.due_date)
    ).mappings()
    return {row["id"]: _from_row(row, audit_id=row["id"], team_id=row["team_id"],
                                 period=period, state=AuditState(row["state"]),
                                 due_date=row["due_date"])
            for row in rows}


def summary_of_items(audit: Audit, items: list[AuditItem]) -> AuditSummary:
    """The same summary built from loaded items: every domain of the scope (in scope order),
    and the domain of an item whose domain left the scope."""
    lines = {d.id: DomainCount(d) for d in audit.domains}
    for item in items:
        line = lines.get(item.domain_id)
        if line is None:
            line = lines[item.domain_id] = DomainCount(item.domain)
        line.add(item.status, item.criticality)
    summary = AuditSummary(audit_id=audit.id, team_id=audit.team_id, period=audit.period,
                           state=audit.state, due_date=audit.due_date,
                           domains=sorted(lines.values(),
                                          key=lambda d: (d.domain.position, d.domain.code)))
    for line in summary.domains:
        for key, n in line.counts.items():
            summary.counts[key] += n
        summary.weight_met += line.weight_met
        summary.weight_applicable += line.weight_applicable
    return summary


def team_score_history(team_id: int, up_to_period: str, *, limit: int | None = None,
                       periods_in: list[str] | None = None, scored_only: bool = False):
    """[(period, score)] of a team's audits up to `up_to_period`, oldest first: one query."""
    t = AuditDomainTally
    stmt = (sa.select(Audit.period, sa.func.sum(t.weight_met), sa.func.sum(t.weight_applicable))
            .join(t, t.audit_id == Audit.id)
            .where(Audit.team_id == team_id, Audit.period <= up_to_period)
            .group_by(Audit.id, Audit.period).order_by(Audit.period.desc()))
    if periods_in is not None:
        stmt = stmt.where(Audit.period.in_(periods_in))
    if scored_only:
        stmt = stmt.where(Audit.state != AuditState.DRAFT)
    if limit is not None:
        stmt = stmt.limit(limit)
    return [(period, vocabulary.score(met, applicable))
            for period, met, applicable in reversed(db.session.execute(stmt).all())]


# --- items with their evidence -----------------------------------------------------------

def items_with_evidence(audit_id: int) -> list[AuditItem]:
    """Every item of the audit by code, with its owner, domain and evidence (and who added
    it): four queries whatever the audit's size. What the API, the report and the canonical
    JSON show."""
    return db.session.execute(
        sa.select(AuditItem).where(AuditItem.audit_id == audit_id).order_by(AuditItem.code)
        .options(selectinload(AuditItem.owner), selectinload(AuditItem.domain),
                 selectinload(AuditItem.evidence).selectinload(Evidence.created_by))
    ).scalars().all()


# --- quarter over quarter ---------------------------------------------------------------

def previous_audit(audit: Audit) -> Audit | None:
    """The team's previous audit: its newest audit of an earlier quarter."""
    return db.session.execute(
        sa.select(Audit).where(Audit.team_id == audit.team_id, Audit.period < audit.period)
        .order_by(Audit.period.desc()).limit(1)
    ).scalar_one_or_none()


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

    def counts(self) -> dict[str, int]:
        return {key: self.count(key) for key in vocabulary.DIFF_CATEGORIES}


def quarter_diff(current: Audit, previous: Audit | None) -> QuarterDiff:
    """Items of `current` compared by code with `previous` (the team's audit before it),
    classified by vocabulary.diff_category_sql, stale ones with the run length in quarters.
    One statement: a LEFT JOIN of the two audits' items."""
    diff = QuarterDiff(current=current, previous=previous)
    if previous is None:
        return diff
    cur, prev = aliased(AuditItem), aliased(AuditItem)
    classified = (
        sa.select(cur.id, cur.code, cur.title, cur.criticality, cur.status,
                  prev.status.label("previous_status"), Domain.code.label("domain_code"),
                  vocabulary.diff_category_sql(prev, cur).label("category"))
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
                  i2.code == classified.c.code, i2.status.in_(vocabulary.UNMET))
           .scalar_subquery())
    rows = db.session.execute(
        sa.select(classified, sa.case((classified.c.category == "stale", run), else_=None))
        .where(classified.c.category.is_not(None))
        .order_by(classified.c.code)
    ).all()
    diff.rows = {key: [] for key in vocabulary.DIFF_CATEGORIES}
    for r in rows:
        diff.rows[r.category].append(DiffRow(
            category=r.category, audit_item_id=r.id, code=r.code, title=r.title,
            criticality=Criticality(r.criticality), domain_code=r.domain_code,
            previous_status=ItemStatus(r.previous_status) if r.previous_status else None,
            status=ItemStatus(r.status), quarters_unmet=r[-1]))
    return diff
