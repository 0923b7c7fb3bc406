"""Audit writes. Each function takes the acting user first, enforces the rules of
DESIGN.md, records an activity event, flushes, and never commits: the caller commits once,
or rolls back when a RuleViolation is raised, so a refusal changes nothing."""

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from tracker.audits import activity, vocabulary
from tracker.audits.models import (
    Audit,
    AuditDomainTally,
    AuditItem,
    AuditState,
    Comment,
    Evidence,
    EvidenceKind,
    ItemStatus,
    Verdict,
)
from tracker.audits.storage import store_upload
from tracker.auth.models import Team, User
from tracker.canonical import sha256_hex
from tracker.db import utcnow
from tracker.extensions import db
from tracker.library.models import Criticality, Domain, ReadinessItem
from tracker.rules import RuleViolation


class StaleItem(RuleViolation):
    """Someone else saved the item first; `current` is what they saved."""

    def __init__(self, current: AuditItem):
        who = current.updated_by.name if current.updated_by else "someone else"
        super().__init__(
            f"{current.code} was changed by {who} while you were editing it "
            f"(now {current.status.label}, version {current.version}). "
            "Your changes were not saved; review the newer values and save again."
        )
        self.current = current


UNSET = object()
# What an auditor's verdict judges: a change to either clears it (owners and dates do not).
REVIEWED = {"status", "justification"}
PERIOD_RE = re.compile(r"^(\d{4})-Q([1-4])$")
OPEN_STATUSES = vocabulary.OPEN


# --- periods --------------------------------------------------------------------------

def period_for(day: date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def parse_period(text: str) -> str:
    text = (text or "").strip().upper()
    match = PERIOD_RE.match(text)
    if not match or not 2000 <= int(match.group(1)) <= 2100:
        raise RuleViolation("Enter the period as YEAR-Qn, for example 2026-Q4.", "period")
    return text


def next_period(period: str) -> str:
    year, quarter = int(period[:4]), int(period[-1])
    return f"{year + 1}-Q1" if quarter == 4 else f"{year}-Q{quarter + 1}"


def previous_period(period: str) -> str:
    year, quarter = int(period[:4]), int(period[-1])
    return f"{year - 1}-Q4" if quarter == 1 else f"{year}-Q{quarter - 1}"


def quarter_end(period: str) -> date:
    """The last day of the quarter: the default due date of its audit."""
    year, quarter = int(period[:4]), int(period[-1])
    first_of_next = date(year + (quarter == 4), 1 if quarter == 4 else quarter * 3 + 1, 1)
    return first_of_next - timedelta(days=1)


# --- starting audits ------------------------------------------------------------------

def start_audit(actor: User, team: Team, period: str, domains: Iterable[Domain], *,
                due_date: date | None = None, previous: Audit | None = None) -> Audit:
    """Create an audit that snapshots every active library item of the chosen domains."""
    period = parse_period(period)
    domains = sorted(set(domains), key=lambda d: d.position)
    if not domains:
        raise RuleViolation("Choose at least one domain for the audit's scope.", "domains")
    if db.session.execute(
        sa.select(Audit.id).where(Audit.team_id == team.id, Audit.period == period)
    ).scalar():
        raise _duplicate(team, period)
    audit = Audit(team=team, period=period, state=AuditState.DRAFT, lead_id=actor.id,
                  due_date=due_date, previous_audit_id=previous.id if previous else None)
    audit.domains = domains
    try:
        with db.session.begin_nested():  # two leads starting the same period at once
            db.session.add(audit)
            db.session.flush()
    except IntegrityError:
        raise _duplicate(team, period) from None

    library = db.session.execute(
        sa.select(ReadinessItem)
        .where(ReadinessItem.domain_id.in_([d.id for d in domains]), ReadinessItem.active)
        .order_by(ReadinessItem.code)
    ).scalars().all()
    carried = _carry_over(previous)
    rows = []
    for item in library:
        owner_id, justification = carried.get(item.code, (None, None))
        rows.append({
            "audit_id": audit.id, "readiness_item_id": item.id, "domain_id": item.domain_id,
            "code": item.code, "title": item.title, "guidance": item.guidance,
            "evidence_hint": item.evidence_hint, "criticality": item.criticality,
            "evidence_required": item.evidence_required, "status": ItemStatus.NOT_STARTED,
            "owner_id": owner_id, "justification": justification, "due_date": due_date,
            "version": 1, "updated_at": utcnow(),
        })
    if rows:
        db.session.execute(sa.insert(AuditItem), rows)
    recount_tallies(audit)
    activity.record(
        actor, "audit.start", chain=activity.audit_chain(audit.id), audit_id=audit.id,
        subject=f"{team.name} {period}",
        after={"period": period, "domains": [d.code for d in domains], "items": len(rows),
               "previous_audit_id": audit.previous_audit_id},
    )
    return audit


def _duplicate(team: Team, period: str) -> RuleViolation:
    return RuleViolation(f"{team.name} already has an audit for {period}. Open it from the "
                         "audits list instead, or choose another period.", "period")


def _carry_over(previous: Audit | None) -> dict[str, tuple[int | None, str | None]]:
    """Owners of every item, and the justification of the items that were not applicable
    (a justification left over from an earlier N/A on an item since met is not carried)."""
    if previous is None:
        return {}
    rows = db.session.execute(
        sa.select(AuditItem.code, AuditItem.owner_id, AuditItem.status, AuditItem.justification)
        .where(AuditItem.audit_id == previous.id)
    ).all()
    return {code: (owner, just if status == ItemStatus.NOT_APPLICABLE else None)
            for code, owner, status, just in rows}


def start_next_quarter(actor: User, previous: Audit, *, due_date: date | None = None,
                       domains: Iterable[Domain] | None = None) -> Audit:
    """The follow-up audit: same scope (unless narrowed or widened with `domains`) and owners,
    N/A justifications kept, statuses reset."""
    return start_audit(actor, previous.team, next_period(previous.period),
                       previous.domains if domains is None else domains,
                       due_date=due_date, previous=previous)


# --- tallies --------------------------------------------------------------------------

def recount_tallies(audit: Audit) -> None:
    """Rebuild the audit's per-domain tallies from its items (one GROUP BY)."""
    db.session.execute(sa.delete(AuditDomainTally).where(AuditDomainTally.audit_id == audit.id))
    weight = vocabulary.weight_sql(AuditItem.criticality)
    counts: dict[int, dict] = {}
    for domain_id, status, n, w in db.session.execute(
        sa.select(AuditItem.domain_id, AuditItem.status, sa.func.count(), sa.func.sum(weight))
        .where(AuditItem.audit_id == audit.id)
        .group_by(AuditItem.domain_id, AuditItem.status)
    ):
        row = counts.setdefault(domain_id, {"audit_id": audit.id, "domain_id": domain_id,
                                            "weight_met": 0, "weight_applicable": 0,
                                            **{s.value: 0 for s in ItemStatus}})
        row[ItemStatus(status).value] = n
        if vocabulary.counts_in_score(status):
            row["weight_applicable"] += int(w)
        if status == ItemStatus.MET:
            row["weight_met"] += int(w)
    for domain in audit.domains:  # a domain with no active items still shows, empty
        counts.setdefault(domain.id, {"audit_id": audit.id, "domain_id": domain.id,
                                      "weight_met": 0, "weight_applicable": 0,
                                      **{s.value: 0 for s in ItemStatus}})
    if counts:
        db.session.execute(sa.insert(AuditDomainTally), list(counts.values()))


def _tally_move_of(item: "WorkItem", old: ItemStatus, new: ItemStatus
                   ) -> tuple[sa.Update, dict] | None:
    """The tally move of one item's status change (None when the status stays), for
    activity.record to make with the change's event."""
    if old == new:
        return None
    return _tally_move(old, new), {"tally_audit": item.audit_id, "tally_domain": item.domain_id,
                                   "weight": item.criticality.weight}


@functools.cache
def _tally_move(old: ItemStatus, new: ItemStatus) -> sa.Update:
    """The UPDATE that moves one item of weight :weight from `old` to `new` (one statement
    per pair, built once: every status change runs one, inside its write lock)."""
    tallies = AuditDomainTally.__table__
    t, w = tallies.c, sa.bindparam("weight")
    values = {old.value: t[old.value] - 1, new.value: t[new.value] + 1}
    if ItemStatus.MET in (old, new):
        values["weight_met"] = t.weight_met + (w if new == ItemStatus.MET else -w)
    if ItemStatus.NOT_APPLICABLE in (old, new):
        values["weight_applicable"] = t.weight_applicable + (
            -w if new == ItemStatus.NOT_APPLICABLE else w)
    # A plain statement: tallies are read by fresh queries, never kept as objects while
    # items change, so there is no session to keep in step.
    return (tallies.update().where(t.audit_id == sa.bindparam("tally_audit"),
                                   t.domain_id == sa.bindparam("tally_domain"))
            .values(**values))


# --- working items --------------------------------------------------------------------

def closed_message(audit: Audit) -> str | None:
    """Why this audit's items cannot change now, or None while work is open."""
    return _closed_message(audit.state)


def _closed_message(state: AuditState) -> str | None:
    if state == AuditState.SIGNED_OFF:
        return ("This audit is signed off and can no longer change. "
                "Start next quarter's audit to follow up.")
    if state == AuditState.IN_REVIEW:
        return ("This audit is in review and cannot change until the auditor "
                "sends it back or signs it off.")
    return None


def require_editable(audit: Audit) -> None:
    if message := closed_message(audit):
        raise RuleViolation(message)


def _open_for_work(actor: User, audit: Audit) -> None:
    if audit.state == AuditState.DRAFT:
        audit.state = AuditState.IN_PROGRESS
        _record_opened(actor, audit.id, f"{audit.team.name} {audit.period}")


def _record_opened(actor, audit_id: int, subject: str) -> None:
    activity.record(actor, "audit.state", chain=activity.audit_chain(audit_id),
                    audit_id=audit_id, subject=subject,
                    before={"state": "draft"}, after={"state": "in_progress"})


def open_audit(actor: User, audit: Audit) -> None:
    require_editable(audit)
    _open_for_work(actor, audit)
    db.session.flush()


@dataclass(frozen=True, slots=True)
class AuditRef:
    """The audit as an item's change needs it: answers what Audit answers for permissions
    (team_id, state, is_editable) and closed_message."""
    id: int
    team_id: int
    team_name: str
    period: str
    state: AuditState

    is_frozen = Audit.is_frozen
    is_editable = Audit.is_editable


@dataclass(frozen=True, slots=True)
class WorkItem:
    """An item's working fields and what its rules read, as plain values: from an AuditItem
    (the web pages), or from one Core statement (the API's PATCH: no ORM objects to build,
    track and expire on its hottest path). change_item returns the item as saved."""
    id: int
    audit: AuditRef
    domain_id: int
    code: str
    title: str
    criticality: Criticality
    evidence_required: bool
    status: ItemStatus
    owner_id: int | None
    owner_email: str | None
    due_date: date | None
    justification: str | None
    version: int
    updated_at: datetime
    verdict: Verdict | None = None
    verdict_note: str | None = None

    @property
    def audit_id(self) -> int:
        return self.audit.id

    @classmethod
    def of(cls, item: AuditItem) -> "WorkItem":
        audit = item.audit
        return cls(
            id=item.id, domain_id=item.domain_id, code=item.code, title=item.title,
            audit=AuditRef(id=audit.id, team_id=audit.team_id, team_name=audit.team.name,
                           period=audit.period, state=audit.state),
            criticality=item.criticality, evidence_required=item.evidence_required,
            status=item.status, owner_id=item.owner_id,
            owner_email=item.owner.email if item.owner else None, due_date=item.due_date,
            justification=item.justification, version=item.version,
            updated_at=item.updated_at, verdict=item.verdict, verdict_note=item.verdict_note)


def _state(status: ItemStatus, owner_email: str | None, due_date: date | None,
           justification: str | None) -> dict:
    """An item's working fields as the activity log records them."""
    return {
        "status": status.value,
        "owner": owner_email,
        "due_date": due_date.isoformat() if due_date else None,
        "justification": justification,
    }


def update_item(actor: User, item: AuditItem, *, expected_version: int | None,
                status=UNSET, owner=UNSET, due_date=UNSET, justification=UNSET) -> AuditItem:
    """Change an item's status, owner, due date or justification.

    `expected_version` is the version the user saw; a newer one in the database means
    someone saved in between, and nothing is written (StaleItem). None skips the check
    (only for scripts that own the data, such as the demo seed).
    """
    saved = change_item(actor, WorkItem.of(item), expected_version=expected_version,
                        status=status, owner=owner, due_date=due_date,
                        justification=justification)
    if saved is not None:
        _sync(actor, item, saved, owner)
    return item


def _sync(actor: User, item: AuditItem, saved: WorkItem, owner) -> None:
    """The AuditItem (and its audit) as saved, with nothing left to flush."""
    for key in ("status", "justification", "due_date", "version", "owner_id", "updated_at",
                "verdict", "verdict_note"):
        set_committed_value(item, key, getattr(saved, key))
    if owner is not UNSET:
        set_committed_value(item, "owner", owner)
    set_committed_value(item, "updated_by_id", actor.id)
    db.session.expire(item, ["updated_by"])  # loaded again if asked: actors are ids
    set_committed_value(item.audit, "state", saved.audit.state)


def change_item(actor, item: WorkItem, *, expected_version: int | None,
                status=UNSET, owner=UNSET, due_date=UNSET, justification=UNSET,
                alone: bool = False) -> WorkItem | None:
    """update_item's work on plain values: the item as saved, or None when nothing changed.
    The save reads the audit's state again once it holds its lock (see
    _require_still_editable). `actor` needs only an id. `alone`: the caller writes nothing
    else in this transaction (see _save_in_one_statement)."""
    audit = item.audit
    require_editable(audit)
    if expected_version is not None and expected_version != item.version:
        raise StaleItem(db.session.get(AuditItem, item.id))
    if owner is not UNSET and owner is not None and not any(
            m.team_id == audit.team_id for m in owner.memberships):
        raise RuleViolation(f"{owner.name} is not a member of {audit.team_name}; "
                            "choose an owner from the team.", "owner")
    new_status = item.status if status is UNSET else ItemStatus(status)
    new_justification = (item.justification if justification is UNSET
                         else (justification or "").strip() or None)
    if new_status == ItemStatus.NOT_APPLICABLE and not new_justification:
        raise RuleViolation("Say why this item does not apply: “Not applicable” needs a "
                            "justification.", "justification")
    if (new_status == ItemStatus.MET and item.status != ItemStatus.MET
            and item.evidence_required and not _has_evidence(item.id)):
        raise RuleViolation(f"{item.code} requires evidence before it can be marked met. "
                            "Attach a file, a link or a note first.", "status")

    new_owner_id, new_owner_email = item.owner_id, item.owner_email
    if owner is not UNSET:
        new_owner_id, new_owner_email = (owner.id, owner.email) if owner else (None, None)
    new_due = item.due_date if due_date is UNSET else due_date
    before = _state(item.status, item.owner_email, item.due_date, item.justification)
    after = _state(new_status, new_owner_email, new_due, new_justification)
    if after == before:
        return None
    changed = sorted(k for k in after if after[k] != before[k])
    verdict, verdict_note = item.verdict, item.verdict_note
    if verdict is not None and REVIEWED & set(changed):
        # The auditor judged what the item was; after this change it waits for a fresh look.
        before["verdict"], after["verdict"] = verdict.value, None
        changed.append("verdict")
        verdict = verdict_note = None
    now = utcnow()
    row = {"item_id": item.id, "of_audit": audit.id, "seen_version": item.version,
           "new_status": new_status, "new_justification": new_justification,
           "new_owner_id": new_owner_id, "new_due_date": new_due, "new_updated_by_id": actor.id,
           "new_updated_at": now, "new_version": item.version + 1, "new_verdict": verdict,
           "new_verdict_note": verdict_note}
    event = {"chain": activity.audit_chain(audit.id), "audit_id": audit.id,
             "audit_item_id": item.id, "subject": f"{item.code} {item.title}",
             "before": {k: before[k] for k in changed}, "after": {k: after[k] for k in changed}}
    tally = _tally_move_of(item, item.status, new_status)
    state = _save_in_one_statement(actor, audit, row, event, tally, alone=alone)
    if state is None:
        state = _save_step_by_step(actor, audit, row, event, tally, opens_draft=bool(
            set(changed) - {"owner", "due_date"}))
    return replace(item, audit=replace(audit, state=state), status=new_status,
                   justification=new_justification, owner_id=new_owner_id,
                   owner_email=new_owner_email, due_date=new_due, version=item.version + 1,
                   updated_at=now, verdict=verdict, verdict_note=verdict_note)


def _save_step_by_step(actor, audit: "AuditRef", row: dict, event: dict, tally,
                       *, opens_draft: bool) -> AuditState:
    """The save as plain statements (no unit of work): the item's UPDATE ... WHERE version
    = n, which loses to a concurrent writer; the audit's state read again under its lock;
    a draft opened for work; the event with its tally move. Returns the audit's state."""
    connection = db.session.connection()
    state = connection.execute(_SAVE_ITEM, row).scalar_one_or_none()
    if state is None:  # no row had the version this change was made from
        db.session.rollback()
        raise StaleItem(db.session.get(AuditItem, row["item_id"]))
    _require_still_editable(state)
    if state == AuditState.DRAFT and opens_draft:
        # Planning (owners, dates) leaves a draft a draft; work opens it.
        connection.execute(_OPEN_AUDIT, {"audit_id": audit.id})
        _record_opened(actor, audit.id, f"{audit.team_name} {audit.period}")
        state = AuditState.IN_PROGRESS
    activity.record(actor, "item.update", also=tally, **event)
    return state


def _save_in_one_statement(actor, audit: "AuditRef", row: dict, event: dict, tally,
                           *, alone: bool) -> AuditState | None:
    """PostgreSQL, an audit in progress: the whole save — item, tally, event — in one
    statement, which commits as it runs when `alone` (nothing else is written in this
    transaction): one round trip where step by step takes five, BEGIN and COMMIT included.
    None when it wrote nothing (another database; a draft, closed or moved-on audit; a
    version someone else moved on): the save then goes step by step, which says why."""
    connection = db.session.connection()
    if connection.dialect.name != "postgresql" or audit.state != AuditState.IN_PROGRESS:
        return None
    db.session.flush()  # anything pending is written first, as record() does
    statement = _saved_in_one(tally[0] if tally else None)
    params = {**row, **activity.event_values(actor, "item.update", **event)}
    if tally:
        params.update(tally[1])
    found = connection.execute(statement, params,
                               execution_options={"whole_transaction": alone}).one_or_none()
    return found.state if found is not None and found.event_id is not None else None


_AUDITS, _ITEMS = Audit.__table__, AuditItem.__table__
_OPEN_AUDIT = (_AUDITS.update().where(_AUDITS.c.id == sa.bindparam("audit_id"))
               .values(state=AuditState.IN_PROGRESS))
_NEW_VALUES = {c: sa.bindparam(f"new_{c}", type_=_ITEMS.c[c].type)
               for c in ("status", "justification", "owner_id", "due_date", "updated_by_id",
                         "updated_at", "version", "verdict", "verdict_note")}


def _locked_audit(*columns) -> sa.Select:
    """The audit :of_audit's `columns`, its row locked FOR NO KEY UPDATE (PostgreSQL): a
    submit or sign-off (an UPDATE of the audit) waits for the save's transaction, and the
    save for it; writers to one audit queue here. Every writer to an audit takes its locks
    in one order — the audit's row, its items, the chain's head — so none waits for another
    while holding what that one waits for."""
    return (sa.select(*columns).where(_AUDITS.c.id == sa.bindparam("of_audit"))
            .with_for_update(key_share=True))


# The save returns its audit's state as it is under the lock (locking again a row this
# transaction holds returns its newest version: see _require_still_editable). SQLite has
# one writer anyway.
_SAVE_ITEM = (_ITEMS.update()
              .where(_ITEMS.c.id == sa.bindparam("item_id"),
                     _ITEMS.c.version == sa.bindparam("seen_version"),
                     # the audit's lock, taken before the item's row (an InitPlan)
                     _ITEMS.c.audit_id == _locked_audit(_AUDITS.c.id).scalar_subquery())
              .values(_NEW_VALUES)
              .returning(sa.select(_AUDITS.c.state).where(_AUDITS.c.id == _ITEMS.c.audit_id)
                         .with_for_update(key_share=True).scalar_subquery()))


@functools.cache
def _saved_in_one(move: sa.Update | None) -> sa.Select:
    """_save_in_one_statement's statement, with a status change's tally move or without:
    the item's UPDATE while the audit is in progress (its row locked first), the tally
    moved and the event appended when it wrote; returns the audit's state and the event's
    id (NULL: nothing written)."""
    audit = _locked_audit(_AUDITS.c.id, _AUDITS.c.state).cte("audit")
    saved = (_ITEMS.update()
             .where(_ITEMS.c.id == sa.bindparam("item_id"),
                    _ITEMS.c.version == sa.bindparam("seen_version"),
                    _ITEMS.c.audit_id == sa.select(audit.c.id).where(
                        audit.c.state == AuditState.IN_PROGRESS).scalar_subquery(),
                    activity.chain_started())
             .values(_NEW_VALUES).returning(_ITEMS.c.id).cte("saved"))
    event = activity.appended_after(saved)
    statement = sa.select(audit.c.state, sa.select(event.c.id).scalar_subquery().label(
        "event_id"))
    if move is not None:
        statement = statement.add_cte(
            move.where(sa.exists(sa.select(saved.c.id))).cte("tally"))
    return statement


_EVIDENCE_COUNT = (sa.select(sa.func.count()).select_from(Evidence.__table__)
                   .where(Evidence.__table__.c.audit_item_id == sa.bindparam("item_id")))


def _require_still_editable(state: AuditState) -> None:
    """`state` is the audit's state as the item's save read it back. It was read before
    this transaction held a lock too: on SQLite the write lock comes with the first write
    (tracker/transactions.py); on PostgreSQL the save's read locks the audit's row. Checked
    again now, so that a submit or a sign-off that committed in between wins, one that comes
    later waits for this save, and a draft is opened for work once, not by each of two
    writers."""
    if message := _closed_message(state):
        raise RuleViolation(message)


def _has_evidence(item_id: int) -> bool:
    return db.session.connection().execute(_EVIDENCE_COUNT, {"item_id": item_id}).scalar_one() > 0


def bulk_update(actor: User, audit: Audit, item_ids: Iterable[int], **changes) -> int:
    """Apply the same change to many items; all or nothing (a refusal names the item).
    Returns how many changed (the others already had these values)."""
    require_editable(audit)
    ids = set(item_ids)
    if not ids:
        raise RuleViolation("Select at least one item first, with the boxes in the first "
                            "column.", "item_ids")
    if not changes:
        raise RuleViolation("Choose what to set on the selected items: an owner, a due date "
                            "or a status.", "status")
    # The audit's row first, then every item in id order (PostgreSQL), as a single save
    # takes them (_locked_audit): holding items while waiting for the audit, the bulk update
    # and a save of one of its items would each wait for the other — a deadlock.
    db.session.execute(_locked_audit(_AUDITS.c.id), {"of_audit": audit.id})
    items = db.session.execute(
        sa.select(AuditItem).where(AuditItem.audit_id == audit.id, AuditItem.id.in_(ids))
        .order_by(AuditItem.id).with_for_update(key_share=True)
        .options(selectinload(AuditItem.owner))
    ).scalars().all()
    if len(items) != len(ids):
        raise RuleViolation("Some selected items are not part of this audit. Reload the "
                            "page and select again.", "item_ids")
    changed = 0
    for item in items:
        try:
            saved = change_item(actor, WorkItem.of(item), expected_version=None, **changes)
        except RuleViolation as exc:
            if isinstance(exc, StaleItem):
                raise
            raise RuleViolation(f"{item.code}: {exc.message} No item was changed.",
                                exc.field) from None
        if saved is not None:
            _sync(actor, item, saved, changes.get("owner", UNSET))
            changed += 1
    return changed


def add_evidence(actor: User, item: AuditItem, *, upload=None, filename: str | None = None,
                 url: str | None = None, note: str | None = None) -> Evidence:
    """Attach exactly one of: an uploaded file stream, a URL, or a note."""
    require_editable(item.audit)
    given = [x for x in (upload, url, note) if x is not None and x != ""]
    if len(given) != 1:
        raise RuleViolation("Attach one piece of evidence at a time: a file, a link or a note.")
    if upload is not None:
        stored = store_upload(upload, filename)  # EvidenceRejected is a RuleViolation
        evidence = Evidence(kind=EvidenceKind.FILE, filename=stored.filename,
                            content_type=stored.content_type, size=stored.size,
                            sha256=stored.sha256)
        described = stored.filename
    elif url:
        url = url.strip()
        if not re.match(r"^https?://[^\s/$.?#][^\s]*$", url, re.I) or len(url) > 2048:
            raise RuleViolation("Enter a full web address starting with https:// or http://.",
                                "url")
        evidence = Evidence(kind=EvidenceKind.URL, url=url, sha256=sha256_hex(url))
        described = url
    else:
        note = note.strip()
        if not note:
            raise RuleViolation("Write the note first.", "note")
        if len(note) > 20_000:
            raise RuleViolation("Keep a note under 20,000 characters; upload longer text as "
                                "a file.", "note")
        evidence = Evidence(kind=EvidenceKind.NOTE, note=note, sha256=sha256_hex(note))
        described = note[:80]
    evidence.created_by_id = actor.id
    db.session.add(evidence)  # before it joins item.evidence, which would flush it half-made
    evidence.audit_item = item
    _open_for_work(actor, item.audit)
    db.session.flush()
    activity.record(
        actor, "evidence.add", chain=activity.audit_chain(item.audit_id), audit_id=item.audit_id,
        audit_item_id=item.id, subject=f"{item.code} {item.title}",
        after={"kind": evidence.kind.value, "evidence": described, "sha256": evidence.sha256},
    )
    return evidence


def add_comment(actor: User, item: AuditItem, body: str) -> Comment:
    if item.audit.is_frozen:
        raise RuleViolation("This audit is signed off; comments are closed.")
    body = (body or "").strip()
    if not body:
        raise RuleViolation("Write a comment first.", "body")
    if len(body) > 10_000:
        raise RuleViolation("Keep a comment under 10,000 characters.", "body")
    comment = Comment(audit_item=item, author_id=actor.id, body=body)
    db.session.add(comment)
    db.session.flush()
    activity.record(actor, "comment.add", chain=activity.audit_chain(item.audit_id),
                    audit_id=item.audit_id, audit_item_id=item.id,
                    subject=f"{item.code} {item.title}", after={"comment": body})
    return comment


# --- review ---------------------------------------------------------------------------

def submit_for_review(actor: User, audit: Audit) -> None:
    if audit.state == AuditState.IN_REVIEW:
        raise RuleViolation("This audit is already waiting for review.")
    require_editable(audit)
    before = audit.state.value
    audit.state = AuditState.IN_REVIEW
    audit.submitted_at = utcnow()
    audit.return_reason = None
    activity.record(actor, "audit.submit", chain=activity.audit_chain(audit.id),
                    audit_id=audit.id, subject=f"{audit.team.name} {audit.period}",
                    before={"state": before}, after={"state": "in_review"})
    db.session.flush()


def _require_in_review(audit: Audit) -> None:
    if audit.state != AuditState.IN_REVIEW:
        raise RuleViolation("Only an audit that is in review can be reviewed; this one is "
                            f"{audit.state.value.replace('_', ' ')}.")


def review_item(actor: User, item: AuditItem, verdict: Verdict | str, note: str | None) -> None:
    _require_in_review(item.audit)
    verdict = Verdict(verdict)
    note = (note or "").strip() or None
    if verdict == Verdict.NEEDS_REWORK and not note:
        raise RuleViolation("Say what needs rework: sending an item back needs a note.", "note")
    before = {"verdict": item.verdict.value if item.verdict else None, "note": item.verdict_note}
    item.verdict, item.verdict_note = verdict, note
    db.session.flush()
    activity.record(actor, "item.review", chain=activity.audit_chain(item.audit_id),
                    audit_id=item.audit_id, audit_item_id=item.id,
                    subject=f"{item.code} {item.title}", before=before,
                    after={"verdict": verdict.value, "note": note})


def return_audit(actor: User, audit: Audit, reason: str) -> None:
    _require_in_review(audit)
    reason = (reason or "").strip()
    if not reason:
        raise RuleViolation("Say why the audit goes back: the team sees this reason.", "reason")
    audit.state = AuditState.IN_PROGRESS
    audit.return_reason = reason
    activity.record(actor, "audit.return", chain=activity.audit_chain(audit.id),
                    audit_id=audit.id, subject=f"{audit.team.name} {audit.period}",
                    before={"state": "in_review"}, after={"state": "in_progress",
                                                          "reason": reason})
    db.session.flush()


def require_sign_off_allowed(audit: Audit, statement: str) -> str:
    _require_in_review(audit)
    statement = (statement or "").strip()
    if not statement:
        raise RuleViolation("Write the sign-off statement: it is printed in the signed report.",
                            "statement")
    return statement


def mark_signed_off(actor: User, audit: Audit, statement: str) -> activity.Appended:
    """Freeze the audit; the reports feature records the SignOff and the signed PDF."""
    audit.state = AuditState.SIGNED_OFF
    audit.signed_off_at = utcnow()
    return activity.record(actor, "audit.sign_off", chain=activity.audit_chain(audit.id),
                           audit_id=audit.id, subject=f"{audit.team.name} {audit.period}",
                           before={"state": "in_review"},
                           after={"state": "signed_off", "statement": statement})
