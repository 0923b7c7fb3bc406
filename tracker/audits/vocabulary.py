"""The product's domain vocabulary: each definition the pages, the API, the PDF, the canonical
JSON and the dashboards show, in one place (README, "Definitions").

- the score: weights by criticality, `score()` and the formula shown beside every score;
- status groups: OPEN (work still to do), DECIDED, UNMET, and the audit states whose items
  can still be worked (WORKING_STATES);
- overdue and due soon, as Python predicates and as SQL clauses;
- the quarter-over-quarter diff: regressed, improved, stale, new.

Only models are imported here, so any module can import this one.
"""

from datetime import date, timedelta

import sqlalchemy as sa

from tracker.audits.models import Audit, AuditItem, AuditState, ItemStatus, Verdict
from tracker.library.models import Criticality

# --- the score ----------------------------------------------------------------------------

WEIGHTS: dict[Criticality, int] = {Criticality.CRITICAL: 3, Criticality.HIGH: 2,
                                   Criticality.NORMAL: 1}
WEIGHTS_TEXT = ", ".join(f"{c.value} {w}" for c, w in WEIGHTS.items())  # critical 3, high 2, …

# Shown wherever a score is (the pages add the audit's own numbers: "→ 17 ÷ 23").
SCORE_FORMULA = ("Score = Σ weight of met items ÷ Σ weight of items not N/A; "
                 f"weights {WEIGHTS_TEXT}")
# A draft audit is planning (scope, owners, dates): the dashboards show it as a draft,
# outside every score and trend, until the first piece of work opens it.
NOT_SCORED_NOTE = "Draft audits are not scored until work starts."


def weight(criticality: Criticality | str) -> int:
    return WEIGHTS[Criticality(criticality)]


def weight_sql(criticality=AuditItem.criticality):
    """WEIGHTS as an SQL expression over a criticality column."""
    return sa.case({c.value: w for c, w in WEIGHTS.items()}, value=criticality, else_=0)


def counts_in_score(status: ItemStatus | str) -> bool:
    """N/A items are left out of the score (and of its denominator)."""
    return status != ItemStatus.NOT_APPLICABLE


def score(weight_met, weight_applicable) -> float | None:
    """The readiness score of SCORE_FORMULA, 0..1; None when nothing applicable is in scope."""
    return (weight_met or 0) / weight_applicable if weight_applicable else None


def score_percent(weight_met, weight_applicable) -> float | None:
    """The score as the API and the canonical JSON give it: a percentage to one decimal."""
    # 100 × met ÷ applicable in this order: the signed canonical JSON holds this float.
    return round(100 * (weight_met or 0) / weight_applicable, 1) if weight_applicable else None


def is_scored(state: AuditState | str) -> bool:
    """A draft audit is not scored on the dashboards (NOT_SCORED_NOTE)."""
    return state != AuditState.DRAFT


# --- status groups ----------------------------------------------------------------------

# Work still to do on an item: what "open", "overdue" and "due soon" count.
OPEN = (ItemStatus.NOT_STARTED, ItemStatus.IN_PROGRESS, ItemStatus.BLOCKED)
# Items with a final answer (what submitting for review needs of every item).
DECIDED = (ItemStatus.MET, ItemStatus.NOT_MET, ItemStatus.NOT_APPLICABLE)
# Not met, or not yet assessed: a gap (what a frontline signal on the control is flagged for).
UNMET = (*OPEN, ItemStatus.NOT_MET)
# Audits whose items can still be worked: only their items are overdue or due soon.
WORKING_STATES = (AuditState.DRAFT, AuditState.IN_PROGRESS)


def is_open(status: ItemStatus | str) -> bool:
    return status in OPEN


def unassessed_clause(item=AuditItem):
    """SQL: items without a final answer, which stop an audit being submitted for review."""
    return item.status.in_(OPEN)


def not_reviewed_clause(item=AuditItem):
    """SQL: items the auditor has given no verdict yet (what "accept all not reviewed" takes;
    items sent back for rework each need their own look)."""
    return item.verdict.is_(None)


# The review page's verdict filter: key → (label, SQL clause).
VERDICT_FILTERS = {
    "not_reviewed": ("Not reviewed", not_reviewed_clause),
    "needs_rework": ("Needs rework", lambda item=AuditItem: item.verdict == Verdict.NEEDS_REWORK),
    "accepted": ("Accepted", lambda item=AuditItem: item.verdict == Verdict.ACCEPTED),
}


def unreviewed_clause(item=AuditItem):
    """SQL: items without the auditor's acceptance (none yet, or needs rework still standing),
    which stop an audit being signed off."""
    return sa.or_(item.verdict.is_(None), item.verdict != Verdict.ACCEPTED)


# --- overdue and due soon ---------------------------------------------------------------

DUE_SOON_DAYS = 14


def due_soon_limit(today: date) -> date:
    """The last day "due soon" covers."""
    return today + timedelta(days=DUE_SOON_DAYS)


def is_overdue(status, due_date: date | None, today: date, audit_state=None) -> bool:
    """Due date passed, work still open, in an audit that is being worked (when given)."""
    return (due_date is not None and due_date < today and is_open(status)
            and (audit_state is None or audit_state in WORKING_STATES))


def is_due_soon(status, due_date: date | None, today: date, audit_state=None) -> bool:
    """Due today or within DUE_SOON_DAYS, work still open, in an audit being worked."""
    return (due_date is not None and today <= due_date <= due_soon_limit(today)
            and is_open(status) and (audit_state is None or audit_state in WORKING_STATES))


def late_clause(today: date, item=AuditItem):
    """SQL: due date passed and the work still open (overdue once the audit is working)."""
    return sa.and_(item.due_date < today, item.status.in_(OPEN))


def due_soon_clause(today: date, item=AuditItem):
    """SQL: due within DUE_SOON_DAYS and the work still open."""
    return sa.and_(item.due_date >= today, item.due_date <= due_soon_limit(today),
                   item.status.in_(OPEN))


def working_audit_clause(audit=Audit):
    return audit.state.in_(WORKING_STATES)


def overdue_clause(today: date, item=AuditItem):
    """SQL: late (late_clause) in an audit that is being worked: the dashboards' overdue,
    without a join (a subquery of the working audits)."""
    return sa.and_(late_clause(today, item),
                   item.audit_id.in_(sa.select(Audit.id).where(working_audit_clause())))


def is_exception(status: ItemStatus | str) -> bool:
    """An item a "ready with exceptions" sign-off lists: not met."""
    return status == ItemStatus.NOT_MET


def exception_clause(item=AuditItem):
    """is_exception as SQL."""
    return item.status == ItemStatus.NOT_MET


def critical_not_met_clause(item=AuditItem):
    return sa.and_(item.status == ItemStatus.NOT_MET, item.criticality == Criticality.CRITICAL)


# --- the quarter-over-quarter diff ------------------------------------------------------

# key → (label, the definition shown with it)
DIFF_CATEGORIES = {
    "regressed": ("Regressed", "Met last quarter, now not met or blocked."),
    "improved": ("Improved", "Not met last quarter, met now."),
    "stale": ("Stale", "Not met for two quarters or more in a row."),
    "new": ("New in scope", "In this audit, not in the previous one."),
}
# An item not yet re-assessed this quarter is not a regression: every status starts again
# at "not started" in a new audit.
REGRESSED_TO = (ItemStatus.NOT_MET, ItemStatus.BLOCKED)


def diff_category(previous_status, status) -> str | None:
    """The diff category of an item that was `previous_status` in the previous audit (None:
    not in its scope) and is `status` now; None when it is none of them."""
    if previous_status is None:
        return "new"
    if previous_status == ItemStatus.MET and status in REGRESSED_TO:
        return "regressed"
    if previous_status != ItemStatus.MET and status == ItemStatus.MET:
        return "improved"
    if previous_status in UNMET and status in UNMET:
        return "stale"
    return None


def diff_category_sql(previous, current):
    """diff_category as an SQL CASE over two aliases of AuditItem (`previous` outer-joined:
    its id is NULL for an item new in scope)."""
    return sa.case(
        (previous.id.is_(None), "new"),
        (sa.and_(previous.status == ItemStatus.MET, current.status.in_(REGRESSED_TO)),
         "regressed"),
        (sa.and_(previous.status != ItemStatus.MET, current.status == ItemStatus.MET),
         "improved"),
        (sa.and_(previous.status.in_(UNMET), current.status.in_(UNMET)), "stale"),
        else_=None,
    )
