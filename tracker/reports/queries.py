"""Reads behind the report: the items by domain, the quarter-over-quarter changes, the open
signals on the audit's domains and the score history. A bounded number of queries whatever
the audit's size (no query per item)."""

from collections import Counter
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import abort
from sqlalchemy.orm import selectinload

from tracker.audits.models import Audit, AuditDomainTally, AuditItem, Evidence, ItemStatus
from tracker.audits.service import previous_period
from tracker.extensions import db
from tracker.library.models import Domain
from tracker.reports.models import SignOff
from tracker.signals.models import Severity, Signal, SignalState


def audit_or_404(audit_id: int) -> Audit:
    audit = db.session.execute(
        sa.select(Audit).where(Audit.id == audit_id)
        .options(selectinload(Audit.team), selectinload(Audit.domains))
    ).scalar_one_or_none()
    if audit is None:
        abort(404)
    return audit


def signoff_for(audit_id: int) -> SignOff | None:
    return db.session.execute(
        sa.select(SignOff).where(SignOff.audit_id == audit_id)
        .options(selectinload(SignOff.auditor))
    ).scalar_one_or_none()


# --- items and score --------------------------------------------------------------------

@dataclass
class DomainSection:
    domain: Domain
    items: list[AuditItem] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)
    weight_met: int = 0
    weight_applicable: int = 0

    @property
    def score(self) -> float | None:
        return self.weight_met / self.weight_applicable if self.weight_applicable else None


def report_items(audit: Audit) -> list[AuditItem]:
    """Every item with its owner, domain and evidence (and who added it): four queries."""
    return db.session.execute(
        sa.select(AuditItem).where(AuditItem.audit_id == audit.id).order_by(AuditItem.code)
        .options(selectinload(AuditItem.owner), selectinload(AuditItem.domain),
                 selectinload(AuditItem.evidence).selectinload(Evidence.created_by))
    ).scalars().all()


def domain_sections(audit: Audit, items: list[AuditItem]) -> list[DomainSection]:
    """Items grouped by domain in the library's order, each with its counts and score."""
    sections: dict[int, DomainSection] = {d.id: DomainSection(d) for d in audit.domains}
    for item in items:
        section = sections.get(item.domain_id)
        if section is None:  # an item whose domain left the scope: still reported
            section = sections[item.domain_id] = DomainSection(item.domain)
        section.items.append(item)
        section.counts[item.status.value] += 1
        if item.status != ItemStatus.NOT_APPLICABLE:
            section.weight_applicable += item.weight
            if item.status == ItemStatus.MET:
                section.weight_met += item.weight
    return sorted(sections.values(), key=lambda s: (s.domain.position, s.domain.code))


def tally_totals(audit_id: int) -> dict:
    """The audit's counts and score from the tallies the audit pages show."""
    columns = [getattr(AuditDomainTally, s.value) for s in ItemStatus]
    row = db.session.execute(
        sa.select(*[sa.func.coalesce(sa.func.sum(c), 0) for c in columns],
                  sa.func.coalesce(sa.func.sum(AuditDomainTally.weight_met), 0),
                  sa.func.coalesce(sa.func.sum(AuditDomainTally.weight_applicable), 0))
        .where(AuditDomainTally.audit_id == audit_id)
    ).one()
    counts = {s.value: int(row[i]) for i, s in enumerate(ItemStatus)}
    return {"counts": counts, "weight_met": int(row[-2]), "weight_applicable": int(row[-1])}


def score_history(audit: Audit, limit: int = 6) -> list[tuple[str, float | None]]:
    """(period, score) of the team's audits up to this one, oldest first: one query."""
    rows = db.session.execute(
        sa.select(Audit.period, sa.func.sum(AuditDomainTally.weight_met),
                  sa.func.sum(AuditDomainTally.weight_applicable))
        .join(AuditDomainTally, AuditDomainTally.audit_id == Audit.id)
        .where(Audit.team_id == audit.team_id, Audit.period <= audit.period)
        .group_by(Audit.id, Audit.period).order_by(Audit.period.desc()).limit(limit)
    ).all()
    return [(period, (met / applicable) if applicable else None)
            for period, met, applicable in reversed(rows)]


# --- quarter over quarter ---------------------------------------------------------------

@dataclass
class Change:
    code: str
    title: str
    before: ItemStatus | None
    after: ItemStatus


@dataclass
class QuarterChanges:
    previous: Audit | None
    regressed: list[Change] = field(default_factory=list)
    improved: list[Change] = field(default_factory=list)
    still_not_met: list[Change] = field(default_factory=list)
    new_in_scope: list[Change] = field(default_factory=list)

    @property
    def total(self) -> int:
        return (len(self.regressed) + len(self.improved) + len(self.still_not_met)
                + len(self.new_in_scope))


def previous_audit(audit: Audit) -> Audit | None:
    """The audit this one followed (previous_audit_id), else the team's previous period."""
    condition = (Audit.id == audit.previous_audit_id if audit.previous_audit_id else
                 sa.and_(Audit.team_id == audit.team_id,
                         Audit.period == previous_period(audit.period)))
    return db.session.execute(sa.select(Audit).where(condition)).scalar_one_or_none()


def quarter_changes(audit: Audit) -> QuarterChanges:
    """Compare with the previous audit by item code: met → not met is a regression, not met →
    met an improvement, not met in both still not met; codes the previous audit did not have
    are new in scope. N/A on either side is neither."""
    previous = previous_audit(audit)
    changes = QuarterChanges(previous)
    current = db.session.execute(
        sa.select(AuditItem.code, AuditItem.title, AuditItem.status)
        .where(AuditItem.audit_id == audit.id).order_by(AuditItem.code)
    ).all()
    before = dict(db.session.execute(
        sa.select(AuditItem.code, AuditItem.status).where(AuditItem.audit_id == previous.id)
    ).all()) if previous else {}
    na, met = ItemStatus.NOT_APPLICABLE, ItemStatus.MET
    for code, title, status in current:
        if previous is None:
            break
        if code not in before:
            changes.new_in_scope.append(Change(code, title, None, status))
            continue
        old = before[code]
        if na in (old, status):
            continue
        if old == met and status != met:
            changes.regressed.append(Change(code, title, old, status))
        elif old != met and status == met:
            changes.improved.append(Change(code, title, old, status))
        elif old != met and status != met:
            changes.still_not_met.append(Change(code, title, old, status))
    return changes


# --- signals ----------------------------------------------------------------------------

def open_signals(audit: Audit, limit: int = 200) -> list[Signal]:
    """Signals not yet resolved on the audit's domains, most severe and newest first."""
    domain_ids = [d.id for d in audit.domains]
    if not domain_ids:
        return []
    severity_rank = sa.case({Severity.CRITICAL: 0, Severity.HIGH: 1, Severity.MEDIUM: 2,
                             Severity.LOW: 3}, value=Signal.severity, else_=4)
    return db.session.execute(
        sa.select(Signal).where(Signal.domain_id.in_(domain_ids),
                                Signal.state != SignalState.RESOLVED)
        .order_by(severity_rank, Signal.observed_at.desc()).limit(limit)
        .options(selectinload(Signal.domain))
    ).scalars().all()
