"""Audit reads: each page's data in a fixed number of queries, whatever the number of items.

Counts come from the per-domain tallies the services keep (a few rows per audit); item lists
are one query with their owners eager-loaded; evidence counts are one GROUP BY.
"""

import json
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from flask import abort
from sqlalchemy.orm import joinedload, selectinload

from tracker import cache
from tracker.activity import AUDIT_CHAIN_PREFIX, ActivityEvent, audit_chain
from tracker.audits import vocabulary
from tracker.audits.models import (
    STATUS_LABELS,
    Audit,
    AuditItem,
    AuditState,
    Comment,
    Evidence,
    ItemStatus,
)
from tracker.audits.readmodel import (  # noqa: F401 (the audit pages' summaries)
    AuditSummary,
    DomainCount,
    audit_summary,
    summaries_for,
)
from tracker.audits.service import next_period
from tracker.audits.vocabulary import (  # noqa: F401 (due_soon_limit: for the pages)
    OPEN,
    WORKING_STATES,
    due_soon_clause,
    due_soon_limit,
    late_clause,
)
from tracker.auth.models import Membership, Team, User
from tracker.auth.permissions import can_view_audit, lead_team_ids, member_team_ids
from tracker.extensions import db
from tracker.library.models import Criticality, Domain
from tracker.reports.models import SignOff
from tracker.security.input import MAX_ID

# --- loading one audit or item ---------------------------------------------------------

# Built once: every audit and item page runs it. The domains load when a page is rendered:
# a page served from the cache needs none.
_AUDIT = (sa.select(Audit).where(Audit.id == sa.bindparam("audit_id"))
          .options(joinedload(Audit.team), joinedload(Audit.lead)))


# --- what the audit's pages are made from (tracker.cache) ---------------------------------

def _audit_chain_of(audit_id) -> sa.ColumnElement[str]:
    """audit_chain in SQL."""
    return sa.literal(AUDIT_CHAIN_PREFIX) + sa.cast(audit_id, sa.String)


_AUDIT_ID = sa.bindparam("audit_id", type_=sa.Integer)
_AUDITS = Audit.__table__
_THIS_AUDIT = sa.select(_AUDITS.c.team_id, _AUDITS.c.period).where(
    _AUDITS.c.id == _AUDIT_ID).subquery()

# What an audit's items, numbers and activity are made from: its own chain (every change to
# the audit, its items, evidence and verdicts), the admin chain (people, teams) and the
# library chain (domain names). The API's GET /audits/{id} is made of no more.
AUDIT_DATA_CHAINS = cache.chain_heads([_audit_chain_of(_AUDIT_ID), "admin", "library"])

# The audit page: its data's chains; its report's state (a worker moves it without an
# activity event); and the team's later audits (the page links to the next quarter's audit
# once someone started it).
AUDIT_PAGE_CHAINS = sa.union_all(
    AUDIT_DATA_CHAINS,
    sa.select(sa.literal("report"), sa.null(),
              sa.cast(SignOff.report_status, sa.String) + ":"
              + sa.cast(SignOff.report_attempts, sa.String) + ":"
              + sa.func.coalesce(sa.cast(SignOff.report_due_at, sa.String), ""))
    .where(SignOff.audit_id == _AUDIT_ID),
    sa.select(sa.literal("later audits"), sa.func.count(_AUDITS.c.id),
              sa.cast(sa.func.max(_AUDITS.c.id), sa.String))
    .where(_AUDITS.c.team_id == _THIS_AUDIT.c.team_id,
           _AUDITS.c.period > _THIS_AUDIT.c.period),
)


def team_audit_chains(team_id) -> sa.Select:
    """The names of the chains of a team's audits (a new audit starts one); `team_id` a
    value or a bind parameter."""
    return sa.select(_audit_chain_of(Audit.id)).where(Audit.team_id == team_id)


# Pages made from every team's audits (My items, across the person's teams).
ORGANISATION_PAGE_CHAINS = cache.EVERY_WRITE


def audit_or_404(user: User, audit_id: int) -> Audit:
    """The audit, or 404 — also when the user may not see it, so that another team's audits
    do not even reveal that they exist."""
    audit = db.session.execute(_AUDIT, {"audit_id": audit_id}).unique().scalar_one_or_none()
    if audit is None or not can_view_audit(user, audit):
        abort(404)
    return audit


def audit_for_period(team_id: int | None, period: str) -> Audit | None:
    return db.session.execute(sa.select(Audit).where(
        Audit.team_id == team_id, Audit.period == period)).scalar()


def item_or_404(audit: Audit, item_id: int) -> AuditItem:
    item = db.session.execute(
        sa.select(AuditItem).where(AuditItem.id == item_id, AuditItem.audit_id == audit.id)
        .options(selectinload(AuditItem.owner), selectinload(AuditItem.updated_by),
                 selectinload(AuditItem.domain), selectinload(AuditItem.readiness_item),
                 selectinload(AuditItem.evidence).selectinload(Evidence.created_by),
                 selectinload(AuditItem.comments).selectinload(Comment.author))
    ).scalar_one_or_none()
    if item is None:
        abort(404)
    item.audit = audit  # already loaded, with its team and scope
    return item


def evidence_or_404(item: AuditItem, evidence_id: int) -> Evidence:
    for evidence in item.evidence:
        if evidence.id == evidence_id:
            return evidence
    abort(404)


def team_members(team_id: int) -> list[User]:
    """Everyone in the team, active first, by name: the owners an item can have."""
    return db.session.execute(
        sa.select(User).join(Membership).where(Membership.team_id == team_id)
        .order_by(User.active.desc(), User.name)
        .options(selectinload(User.memberships))
    ).scalars().all()


# --- the audit page's numbers ------------------------------------------------------------
# The summary is the one read model (tracker.audits.readmodel): audit_summary, summaries_for.

# --- the audit page's items ----------------------------------------------------------------

def _is_id(text: str) -> bool:
    """A user id as the database can hold it: ASCII digits, 1..MAX_ID (bigger is no one)."""
    return text.isascii() and text.isdigit() and len(text) <= 10 and 0 < int(text) <= MAX_ID


@dataclass
class ItemFilters:
    """The audit page's filters, from GET query parameters (so they work without JS)."""

    status: str = ""
    owner: str = ""       # a user id, "none" for unassigned, or "" for anyone
    domain: str = ""      # a domain code
    criticality: str = ""
    overdue: bool = False

    @classmethod
    def from_args(cls, args, domain_codes: set[str]) -> "ItemFilters":
        status = args.get("status", "")
        owner = args.get("owner", "")
        domain = args.get("domain", "").upper()
        criticality = args.get("criticality", "")
        return cls(
            status=status if status in {s.value for s in ItemStatus} else "",
            owner=owner if owner == "none" or _is_id(owner) else "",
            domain=domain if domain in domain_codes else "",
            criticality=criticality if criticality in {c.value for c in Criticality} else "",
            overdue=args.get("overdue") in ("1", "on", "true", "y"),
        )

    @property
    def active(self) -> bool:
        return bool(self.status or self.owner or self.domain or self.criticality
                    or self.overdue)

    def args(self, **override) -> dict:
        """Query parameters for a link that keeps these filters and changes some."""
        values = {"status": self.status, "owner": self.owner, "domain": self.domain,
                  "criticality": self.criticality, "overdue": "1" if self.overdue else ""}
        values.update(override)
        return {k: v for k, v in values.items() if v}


def audit_items(audit: Audit, filters: ItemFilters, today: date) -> list[AuditItem]:
    """The filtered items with their owners: two queries whatever their number."""
    return db.session.execute(_items_query(audit, filters, today)).scalars().all()


def audit_items_page(audit: Audit, filters: ItemFilters, today: date, page: int,
                     per_page: int):
    """One page of the filtered items (in domain order), with how many match: a 5,000-item
    audit's page holds `per_page` rows, not every row. Three queries whatever their number."""
    return db.paginate(_items_query(audit, filters, today), page=page, per_page=per_page,
                       max_per_page=per_page, error_out=False)


def _items_query(audit: Audit, filters: ItemFilters, today: date) -> sa.Select:
    query = (sa.select(AuditItem).join(Domain, AuditItem.domain_id == Domain.id)
             .where(AuditItem.audit_id == audit.id)
             .order_by(Domain.position, AuditItem.code)
             .options(selectinload(AuditItem.owner)))
    if filters.status:
        query = query.where(AuditItem.status == filters.status)
    if filters.owner == "none":
        query = query.where(AuditItem.owner_id.is_(None))
    elif filters.owner:
        query = query.where(AuditItem.owner_id == int(filters.owner))
    if filters.domain:
        query = query.where(Domain.code == filters.domain)
    if filters.criticality:
        query = query.where(AuditItem.criticality == filters.criticality)
    if filters.overdue:
        query = query.where(late_clause(today) if audit.is_editable else sa.false())
    return query


def evidence_counts(audit: Audit, items: list[AuditItem] | None = None) -> dict[int, int]:
    """Pieces of evidence per item: the audit's, or only these items' (a page of them)."""
    query = (sa.select(Evidence.audit_item_id, sa.func.count(Evidence.id))
             .join(AuditItem).where(AuditItem.audit_id == audit.id)
             .group_by(Evidence.audit_item_id))
    if items is not None:
        query = query.where(Evidence.audit_item_id.in_([item.id for item in items]))
    return dict(db.session.execute(query).all())


def overdue_count(audit: Audit, today: date) -> int:
    """Nothing is overdue in an audit that is in review or signed off: it cannot be worked."""
    if not audit.is_editable:
        return 0
    return db.session.execute(
        sa.select(sa.func.count(AuditItem.id))
        .where(AuditItem.audit_id == audit.id, late_clause(today))
    ).scalar_one()


def group_by_domain(items: list[AuditItem], summary: AuditSummary):
    """[(DomainCount, [items])] in scope order; a domain without matching items is left out."""
    by_domain: dict[int, list[AuditItem]] = {}
    for item in items:
        by_domain.setdefault(item.domain_id, []).append(item)
    return [(d, by_domain[d.domain.id]) for d in summary.domains if d.domain.id in by_domain]


def next_audit_of(audit: Audit) -> Audit | None:
    """The team's audit for the following quarter, if someone already started it."""
    return db.session.execute(
        sa.select(Audit).where(Audit.team_id == audit.team_id,
                               Audit.period == next_period(audit.period))
    ).scalar_one_or_none()


def sign_off_of(audit: Audit):
    if audit.state != AuditState.SIGNED_OFF:
        return None
    return db.session.execute(
        sa.select(SignOff).where(SignOff.audit_id == audit.id)
        .options(selectinload(SignOff.auditor))
    ).scalar_one_or_none()


def verdict_counts(audit: Audit) -> dict[str | None, int]:
    """Items by auditor verdict (None: not reviewed yet)."""
    rows = db.session.execute(
        sa.select(AuditItem.verdict, sa.func.count(AuditItem.id))
        .where(AuditItem.audit_id == audit.id).group_by(AuditItem.verdict)
    ).all()
    return {(v.value if v else None): n for v, n in rows}


def items_needing_rework(audit: Audit) -> list[AuditItem]:
    return db.session.execute(
        sa.select(AuditItem).where(AuditItem.audit_id == audit.id,
                                   AuditItem.verdict == "needs_rework")
        .order_by(AuditItem.code)
    ).scalars().all()


# --- history ----------------------------------------------------------------------------

ACTION_LABELS = {
    "audit.start": "started the audit",
    "audit.state": "opened the audit for work",
    "audit.submit": "submitted the audit for review",
    "audit.return": "sent the audit back",
    "audit.sign_off": "signed the audit off",
    "item.update": "changed",
    "item.review": "reviewed",
    "evidence.add": "added evidence",
    "evidence.remove": "removed evidence",
    "evidence.replace": "replaced evidence",
    "comment.add": "commented",
}


@dataclass
class Change:
    key: str
    before: object
    after: object


@dataclass
class HistoryEntry:
    event: ActivityEvent
    label: str
    changes: list[Change]


def _history(events: list[ActivityEvent]) -> list[HistoryEntry]:
    entries = []
    for event in events:
        before = json.loads(event.before) if event.before else {}
        after = json.loads(event.after) if event.after else {}
        keys = [k for k in (*before, *after) if k != "sha256"]
        changes = [Change(k, _shown(k, before.get(k)), _shown(k, after.get(k)))
                   for k in dict.fromkeys(keys)]
        entries.append(HistoryEntry(event, ACTION_LABELS.get(event.action, event.action),
                                    changes))
    return entries


def _shown(key: str, value):
    """A recorded value as people read it: “Not started”, “needs rework”, not the codes the
    log keeps (the log itself, hashed, keeps the codes)."""
    if key == "status" and value in STATUS_LABELS:
        return STATUS_LABELS[value]  # a StrEnum key answers to its value
    if key in ("verdict", "state") and isinstance(value, str):
        return value.replace("_", " ")
    return value


def item_history(item: AuditItem) -> list[HistoryEntry]:
    """Every activity event of the item, newest first."""
    return _history(db.session.execute(
        sa.select(ActivityEvent).where(ActivityEvent.audit_item_id == item.id)
        .order_by(ActivityEvent.seq.desc()).options(selectinload(ActivityEvent.actor))
    ).scalars().all())


def audit_activity(audit: Audit, limit: int = 10) -> list[HistoryEntry]:
    """The audit's newest events: the tail of its chain, read backwards along the chain's
    (chain, seq) index — by audit_id, every event of the audit would be sorted first
    (18 ms for an audit with 11,000 events, growing with its history)."""
    return _history(db.session.execute(
        sa.select(ActivityEvent).where(ActivityEvent.chain == audit_chain(audit.id))
        .order_by(ActivityEvent.seq.desc()).limit(limit)
        .options(selectinload(ActivityEvent.actor))
    ).scalars().all())


# --- lists across audits --------------------------------------------------------------------

@dataclass
class AuditFilters:
    team: int | None = None
    period: str = ""
    state: str = ""

    @classmethod
    def from_args(cls, args) -> "AuditFilters":
        team = args.get("team", "")
        state = args.get("state", "")
        return cls(team=int(team) if _is_id(team) else None,
                   period=args.get("period", "").strip().upper()[:7],
                   state=state if state in {s.value for s in AuditState} else "")

    def args(self) -> dict:
        return {k: v for k, v in (("team", self.team), ("period", self.period),
                                  ("state", self.state)) if v}


def _visible(query, user: User):
    if user.is_admin or user.is_auditor:
        return query
    return query.where(Audit.team_id.in_(member_team_ids(user)))


def teams_led_by(user: User) -> list[Team]:
    return db.session.execute(
        sa.select(Team).where(Team.id.in_(lead_team_ids(user))).order_by(Team.name)
    ).scalars().all()


def scope_choices(previous: Audit | None) -> list[Domain]:
    """The domains an audit can cover: the active ones, and those of the audit it follows."""
    kept = [d.id for d in previous.domains] if previous else []
    return db.session.execute(
        sa.select(Domain).where(sa.or_(Domain.active, Domain.id.in_(kept)))
        .order_by(Domain.position, Domain.code)
    ).scalars().all()


def visible_audits(user: User, filters: AuditFilters, page: int, per_page: int = 25):
    query = _visible(sa.select(Audit), user).join(Team)
    if filters.team:
        query = query.where(Audit.team_id == filters.team)
    if filters.period:
        query = query.where(Audit.period == filters.period)
    if filters.state:
        query = query.where(Audit.state == filters.state)
    query = query.order_by(Audit.period.desc(), Team.name).options(
        selectinload(Audit.team), selectinload(Audit.lead))
    return db.paginate(query, page=page, per_page=per_page, error_out=False)


def visible_teams(user: User) -> list[Team]:
    query = sa.select(Team).order_by(Team.name)
    if not (user.is_admin or user.is_auditor):
        query = query.where(Team.id.in_(member_team_ids(user)))
    return db.session.execute(query).scalars().all()


def visible_periods(user: User) -> list[str]:
    return db.session.execute(
        _visible(sa.select(Audit.period).distinct(), user).order_by(Audit.period.desc())
    ).scalars().all()


def teams_missing_period(user: User, period: str) -> list[Team]:
    """Teams this user leads that have no audit for `period` yet."""
    ids = lead_team_ids(user)
    if not ids:
        return []
    taken = sa.select(Audit.team_id).where(Audit.period == period)
    return db.session.execute(
        sa.select(Team).where(Team.id.in_(ids), Team.id.not_in(taken)).order_by(Team.name)
    ).scalars().all()


def latest_audits_of(team_ids: list[int]) -> dict[int, Audit]:
    """Each team's most recent audit (the one "Start next quarter" follows on from)."""
    if not team_ids:
        return {}
    latest = (sa.select(Audit.team_id, sa.func.max(Audit.period).label("period"))
              .where(Audit.team_id.in_(team_ids)).group_by(Audit.team_id).subquery())
    rows = db.session.execute(
        sa.select(Audit).join(latest, sa.and_(Audit.team_id == latest.c.team_id,
                                              Audit.period == latest.c.period))
    ).scalars().all()
    return {a.team_id: a for a in rows}


MY_ITEMS_VIEWS = {
    "open": "Open",
    "overdue": "Overdue",
    "soon": "Due soon",
    "all": "All, including decided",
}


def my_items_view(args) -> str:
    """Which of MY_ITEMS_VIEWS a request asks for (?overdue=1, ?due=soon, ?show=all)."""
    if args.get("overdue"):
        return "overdue"
    if args.get("due") == "soon":
        return "soon"
    return args.get("show") if args.get("show") in MY_ITEMS_VIEWS else "open"


def my_items_args(view: str) -> dict:
    """The query-string arguments that ask for a view of My items (my_items_view's inverse)."""
    return {"open": {}, "overdue": {"overdue": 1}, "soon": {"due": "soon"}}.get(
        view, {"show": view})


def my_items(user: User, today: date, *, view: str, page: int, per_page: int = 50):
    """Items the user owns, overdue first, then by due date (soonest first, undated last)."""
    return db.paginate(_my_items_query(user, today, view)
                       .options(selectinload(AuditItem.audit).selectinload(Audit.team)),
                       page=page, per_page=per_page, error_out=False)


def my_items_neighbours(user: User, today: date, item: AuditItem, view: str):
    """The items before and after `item` in the user's My items view, and whether it is in
    it (_neighbours)."""
    return _neighbours(db.session.execute(
        _my_items_query(user, today, view).with_only_columns(AuditItem.id)).scalars().all(),
        item)


def _neighbours(ids: list[int], item: AuditItem) -> tuple[int | None, int | None, bool]:
    """(previous, next, listed): None at either end. An item that has left the list (saved
    as met, say) has no previous, and the list's first item as its next."""
    if item.id not in ids:
        return None, (ids[0] if ids else None), False
    at = ids.index(item.id)
    return (ids[at - 1] if at > 0 else None), (ids[at + 1] if at + 1 < len(ids) else None), True


def _my_items_query(user: User, today: date, view: str) -> sa.Select:
    """My items in their order. open: work still to do in audits being worked (draft, in
    progress); overdue and soon: the open ones past their due date or due within
    vocabulary.DUE_SOON_DAYS; all: every item of the user's audits that are not signed off,
    whatever its status."""
    working = Audit.state.in_(WORKING_STATES)
    late = sa.and_(working, late_clause(today))
    undated = sa.case((AuditItem.due_date.is_(None), 1), else_=0)
    query = (sa.select(AuditItem).join(Audit)
             .where(AuditItem.owner_id == user.id, Audit.team_id.in_(member_team_ids(user)))
             .order_by(sa.case((late, 0), else_=1), undated, AuditItem.due_date, Audit.period,
                       AuditItem.code, AuditItem.id))
    return query.where({
        "open": sa.and_(working, AuditItem.status.in_(OPEN)),
        "overdue": late,
        "soon": sa.and_(working, due_soon_clause(today)),
    }.get(view, Audit.state != AuditState.SIGNED_OFF))


def review_queue(user: User) -> list[Audit]:
    """Audits waiting for review that this auditor may review: not their own teams'."""
    return db.session.execute(
        sa.select(Audit).where(Audit.state == AuditState.IN_REVIEW,
                               Audit.team_id.not_in(member_team_ids(user) or [0]))
        .order_by(Audit.submitted_at, Audit.id)
        .options(selectinload(Audit.team), selectinload(Audit.lead))
    ).scalars().all()


def own_team_reviews(user: User) -> list[Audit]:
    """Audits in review from the auditor's own teams: listed, but for someone else."""
    ids = member_team_ids(user)
    if not ids:
        return []
    return db.session.execute(
        sa.select(Audit).where(Audit.state == AuditState.IN_REVIEW, Audit.team_id.in_(ids))
        .order_by(Audit.submitted_at).options(selectinload(Audit.team))
    ).scalars().all()


# --- the auditor's review list ------------------------------------------------------------

@dataclass(frozen=True)
class ReviewFilter:
    """The review list's filters, from the query string (unknown values are ignored)."""
    verdict: str | None = None
    status: str | None = None

    @classmethod
    def from_args(cls, args) -> "ReviewFilter":
        verdict = args.get("verdict")
        status = args.get("status")
        return cls(verdict if verdict in vocabulary.VERDICT_FILTERS else None,
                   status if status in {s.value for s in ItemStatus} else None)

    def args(self) -> dict:
        """The filter as query-string arguments, for links that keep it."""
        return {k: v for k, v in (("verdict", self.verdict), ("status", self.status)) if v}


def review_list(audit, flt: ReviewFilter) -> list:
    """The audit's items for review in the list's order: by domain, then not reviewed first,
    then code. Domain, owner and evidence are loaded with it (the query count stays flat)."""
    query = (sa.select(AuditItem).join(AuditItem.domain)
             .where(AuditItem.audit_id == audit.id)
             .options(joinedload(AuditItem.domain), joinedload(AuditItem.owner),
                      selectinload(AuditItem.evidence))
             .order_by(Domain.position, Domain.code,
                       sa.case((vocabulary.not_reviewed_clause(), 0), else_=1), AuditItem.code))
    if flt.verdict:
        query = query.where(vocabulary.VERDICT_FILTERS[flt.verdict][1]())
    if flt.status:
        query = query.where(AuditItem.status == ItemStatus(flt.status))
    return db.session.execute(query).unique().scalars().all()


def review_neighbours(audit, item, flt: ReviewFilter):
    """The items before and after `item` in the filtered review list (_neighbours)."""
    ids = db.session.execute(
        sa.select(AuditItem.id).join(AuditItem.domain).where(AuditItem.audit_id == audit.id,
            *([vocabulary.VERDICT_FILTERS[flt.verdict][1]()] if flt.verdict else []),
            *([AuditItem.status == ItemStatus(flt.status)] if flt.status else []))
        .order_by(Domain.position, Domain.code,
                  sa.case((vocabulary.not_reviewed_clause(), 0), else_=1), AuditItem.code)
    ).scalars().all()
    return _neighbours(ids, item)
