"""Reads behind the report: the items by domain, the quarter-over-quarter changes, the open
signals on the audit's domains and the score history. A bounded number of queries whatever
the audit's size (no query per item)."""

from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import abort
from sqlalchemy.orm import joinedload, selectinload

from tracker.actions.models import CorrectiveAction
from tracker.audits import readmodel
from tracker.audits.models import Audit, AuditItem
from tracker.audits.readmodel import DomainCount
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
    """One domain of the report: its line of the audit's summary, and its items."""

    line: DomainCount
    items: list[AuditItem] = field(default_factory=list)
    bar: object = None  # the score's progress bar (SVG), set by the renderer

    @property
    def domain(self) -> Domain:
        return self.line.domain

    @property
    def counts(self) -> dict[str, int]:
        return self.line.counts

    @property
    def score(self) -> float | None:
        return self.line.score


def report_items(audit: Audit) -> list[AuditItem]:
    """Every item with its owner, domain and evidence (and who added it): four queries."""
    return readmodel.items_with_evidence(audit.id)


def domain_sections(audit: Audit, items: list[AuditItem]
                    ) -> tuple[readmodel.AuditSummary, list[DomainSection]]:
    """The audit's summary built from its items (what the report and its embedded results
    show), and the items grouped by domain in the library's order."""
    summary = readmodel.summary_of_items(audit, items)
    by_domain: dict[int, list[AuditItem]] = {}
    for item in items:
        by_domain.setdefault(item.domain_id, []).append(item)
    return summary, [DomainSection(line, by_domain.get(line.domain.id, []))
                     for line in summary.domains]


def tally_totals(audit_id: int) -> dict:
    """The audit's counts and score from the tallies the audit pages show."""
    summary = readmodel.summaries_for([audit_id])[audit_id]
    return {"counts": summary.counts, "weight_met": summary.weight_met,
            "weight_applicable": summary.weight_applicable}


def score_history(audit: Audit, limit: int = 6) -> list[tuple[str, float | None]]:
    """(period, score) of the team's audits up to this one, oldest first: one query."""
    return readmodel.team_score_history(audit.team_id, audit.period, limit=limit)


# --- quarter over quarter ---------------------------------------------------------------

def quarter_changes(audit: Audit) -> readmodel.QuarterDiff:
    """The diff against the team's previous audit, as the team page shows it."""
    return readmodel.quarter_diff(audit, readmodel.previous_audit(audit))


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


def report_actions(audit: Audit) -> list[CorrectiveAction]:
    """The corrective actions made from the audit's items, by item code: what the report
    lists as they stand when it is made (they outlive the sign-off, so they stay out of the
    signed canonical JSON)."""
    return db.session.execute(
        sa.select(CorrectiveAction).join(AuditItem, AuditItem.id == CorrectiveAction.audit_item_id)
        .where(AuditItem.audit_id == audit.id)
        .order_by(AuditItem.code, CorrectiveAction.created_at, CorrectiveAction.id)
        .options(joinedload(CorrectiveAction.owner), joinedload(CorrectiveAction.audit_item))
    ).scalars().all()
