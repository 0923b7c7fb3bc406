"""Audit writes. Each function takes the acting user first, enforces the rules of
DESIGN.md, records an activity event, flushes, and never commits: the caller commits once,
or rolls back when a RuleViolation is raised, so a refusal changes nothing."""

import functools
import re
from collections.abc import Iterable
from datetime import date

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from tracker import activity, clock
from tracker.activity import ActivityEvent
from tracker.audits import validity, vocabulary
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
from tracker.library.models import Domain, ReadinessItem
from tracker.rules import Conflict, ItemsLeft, RuleViolation
from tracker.transactions import begin_write


class StaleItem(Conflict):
    """Someone else saved the item first; `current` is what they saved."""
    code = "stale_version"

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


quarter_start = validity.quarter_start
quarter_end = validity.quarter_end  # the default due date of a quarter's audit


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
            "evidence_required": item.evidence_required, "cadence": item.cadence,
            "status": ItemStatus.NOT_STARTED,
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


def free_period(team_id: int, start: str) -> str:
    """`start`, or the first quarter after it the team has no audit for: what "Start audit"
    offers first."""
    taken = set(db.session.execute(
        sa.select(Audit.period).where(Audit.team_id == team_id, Audit.period >= start)
    ).scalars())
    period = start
    while period in taken:
        period = next_period(period)
    return period


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


def _move_tally(item: AuditItem, old: ItemStatus, new: ItemStatus) -> None:
    """Move one item of the audit's tally from `old` to `new`, in the item's transaction.
    A plain UPDATE of the table: tallies are read by queries, never held as objects while
    items change, so there is no session state to keep in step (and none to search)."""
    t, weight = AuditDomainTally.__table__.c, vocabulary.weight(item.criticality)
    values = {old.value: t[old.value] - 1, new.value: t[new.value] + 1}
    if ItemStatus.MET in (old, new):
        values["weight_met"] = t.weight_met + (weight if new == ItemStatus.MET else -weight)
    # Into or out of the score's denominator: the vocabulary's rule (N/A left out).
    if vocabulary.counts_in_score(old) != vocabulary.counts_in_score(new):
        values["weight_applicable"] = t.weight_applicable + (
            weight if vocabulary.counts_in_score(new) else -weight)
    db.session.execute(sa.update(AuditDomainTally.__table__).where(
        t.audit_id == item.audit_id, t.domain_id == item.domain_id).values(values))


# --- the audit's lock -------------------------------------------------------------------

EDITABLE = vocabulary.WORKING_STATES  # whose items can still be worked
COMMENTABLE = (AuditState.DRAFT, AuditState.IN_PROGRESS, AuditState.IN_REVIEW)


def closed_message(audit: Audit) -> str | None:
    """Why this audit's items cannot change now, or None while work is open."""
    if audit.state == AuditState.SIGNED_OFF:
        return ("This audit is signed off and can no longer change. "
                "Start next quarter's audit to follow up.")
    if audit.state == AuditState.IN_REVIEW:
        return ("This audit is in review and cannot change until the auditor "
                "sends it back or signs it off.")
    return None


def not_in_review_message(audit: Audit) -> str:
    return ("Only an audit that is in review can be reviewed, sent back or signed off; this "
            f"one is {audit.state.value.replace('_', ' ')}.")


def lock_audit(audit: Audit, expected: tuple[AuditState, ...], refusal=closed_message) -> Audit:
    """Lock the audit's row until the commit and check, under that lock, that it is in one of
    the `expected` states; otherwise refuse with `refusal(audit)` (409) and change nothing.

    Every change to an audit or its items comes through here first, so two people acting at
    once queue on the audit's row and the second sees what the first committed: a submit
    after a save, a sign-off after a send-back. What a view checked on the audit it loaded
    earlier is only a hint for its message. (Locks are taken in one order — the audit, then
    its items, then the activity chain's head — so writers never deadlock.)"""
    db.session.flush()  # what this transaction changed already is written, not reloaded over
    begin_write()
    db.session.refresh(audit, ["state", "return_reason", "submitted_at", "signed_off_at"],
                       with_for_update={"key_share": True})
    check_state(audit, expected, refusal)
    return audit


def check_state(audit: Audit, expected: tuple[AuditState, ...], refusal=closed_message) -> None:
    """Conflict (409) unless the audit is in one of the `expected` states. Under lock_audit
    this decides; on an audit loaded earlier it only words a page's or the API's refusal."""
    if audit.state not in expected:
        raise Conflict(refusal(audit) or "This audit changed meanwhile. Reload the page.")


def require_editable(audit: Audit) -> None:
    check_state(audit, EDITABLE)


def _open_for_work(actor: User, audit: Audit) -> None:
    """A draft is opened by its first piece of work (the caller holds the audit's lock)."""
    if audit.state == AuditState.DRAFT:
        audit.state = AuditState.IN_PROGRESS
        activity.record(actor, "audit.state", chain=activity.audit_chain(audit.id),
                        audit_id=audit.id, subject=f"{audit.team.name} {audit.period}",
                        before={"state": "draft"}, after={"state": "in_progress"})


def open_audit(actor: User, audit: Audit) -> None:
    lock_audit(audit, EDITABLE)
    _open_for_work(actor, audit)
    db.session.flush()


# --- working items --------------------------------------------------------------------

def _state(status: ItemStatus, owner: User | None, due_date: date | None,
           justification: str | None) -> dict:
    """An item's working fields as the activity log records them."""
    return {
        "status": status.value,
        "owner": owner.email if owner else None,
        "due_date": due_date.isoformat() if due_date else None,
        "justification": justification,
    }


def update_item(actor: User, item: AuditItem, *, expected_version: int | None,
                status=UNSET, owner=UNSET, due_date=UNSET, justification=UNSET) -> bool:
    """Change an item's status, owner, due date or justification; True when it changed.

    `expected_version` is the version the user saw; a newer one means someone saved in
    between, and nothing is written (StaleItem). None skips the check (bulk changes, and
    scripts that own the data, such as the demo seed).
    """
    lock_audit(item.audit, EDITABLE)
    return _change_item(actor, item, expected_version=expected_version, status=status,
                        owner=owner, due_date=due_date, justification=justification)


_ITEM_FIELDS = [*sa.inspect(AuditItem).column_attrs.keys(), "owner"]


def _change_item(actor: User, item: AuditItem, *, expected_version: int | None, status,
                 owner, due_date, justification) -> bool:
    """update_item's work, under the audit's lock: the item as it is now, the rules, the
    change, the tally and the event."""
    # As it is under the lock (no one else writes it until we commit): its columns and its
    # owner, not the relationships the caller loaded for its own answer.
    db.session.refresh(item, _ITEM_FIELDS)
    audit = item.audit
    if expected_version is not None and expected_version != item.version:
        raise StaleItem(item)
    if owner is not UNSET and owner is not None and not any(
            m.team_id == audit.team_id for m in owner.memberships):
        raise RuleViolation(f"{owner.name} is not a member of {audit.team.name}; "
                            "choose an owner from the team.", "owner")
    new_status = item.status if status is UNSET else ItemStatus(status)
    new_justification = (item.justification if justification is UNSET
                         else (justification or "").strip() or None)
    if new_status == ItemStatus.NOT_APPLICABLE and not new_justification:
        raise RuleViolation("Say why this item does not apply: “Not applicable” needs a "
                            "justification.", "justification")
    if new_status == ItemStatus.MET and item.status != ItemStatus.MET and item.evidence_required:
        refusal = validity.met_refusal(item.code, item.cadence, audit.period,
                                       _evidence_dates(item))
        if refusal:
            raise RuleViolation(refusal, "status")

    new_owner = item.owner if owner is UNSET else owner
    new_due = item.due_date if due_date is UNSET else due_date
    before = _state(item.status, item.owner, item.due_date, item.justification)
    after = _state(new_status, new_owner, new_due, new_justification)
    changed = sorted(k for k in after if after[k] != before[k])
    if not changed:
        return False
    old_status = item.status
    with db.session.no_autoflush:  # one UPDATE of the item (and one version) per change
        item.status, item.justification, item.due_date = new_status, new_justification, new_due
        if owner is not UNSET:
            item.owner = owner
        if item.verdict is not None and REVIEWED & set(changed):
            # The auditor judged what the item was; after this change it waits for a fresh look.
            before["verdict"], after["verdict"] = item.verdict.value, None
            changed.append("verdict")
            item.verdict = item.verdict_note = None
        item.updated_by_id, item.updated_at = actor.id, utcnow()
    if old_status != new_status:
        _move_tally(item, old_status, new_status)
    if set(changed) - {"owner", "due_date"}:  # planning leaves a draft a draft; work opens it
        _open_for_work(actor, audit)
    db.session.flush()
    activity.record(actor, "item.update", chain=activity.audit_chain(audit.id),
                    audit_id=audit.id, audit_item_id=item.id,
                    subject=f"{item.code} {item.title}",
                    before={k: before[k] for k in changed}, after={k: after[k] for k in changed})
    return True


def _evidence_dates(item: AuditItem) -> list:
    """The item's evidence as "met" judges it (validity.met_refusal): dates and names only."""
    return db.session.execute(
        sa.select(Evidence.id, Evidence.effective_date, Evidence.filename, Evidence.url,
                  Evidence.note).where(Evidence.audit_item_id == item.id)).all()


def bulk_update(actor: User, audit: Audit, item_ids: Iterable[int], **changes) -> int:
    """Apply the same change to many items; all or nothing (a refusal names the item).
    Returns how many changed (the others already had these values)."""
    ids = set(item_ids)
    if not ids:
        raise RuleViolation("Select at least one item first, with the boxes in the first "
                            "column.", "item_ids")
    if not changes:
        raise RuleViolation("Choose what to set on the selected items: an owner, a due date "
                            "or a status.", "status")
    lock_audit(audit, EDITABLE)
    items = db.session.execute(
        sa.select(AuditItem).where(AuditItem.audit_id == audit.id, AuditItem.id.in_(ids))
        .order_by(AuditItem.id).options(selectinload(AuditItem.owner))
    ).scalars().all()
    if len(items) != len(ids):
        raise RuleViolation("Some selected items are not part of this audit. Reload the "
                            "page and select again.", "item_ids")
    changed = 0
    for item in items:
        fields = {name: changes.get(name, UNSET)
                  for name in ("status", "owner", "due_date", "justification")}
        try:
            changed += _change_item(actor, item, expected_version=None, **fields)
        except RuleViolation as exc:
            raise RuleViolation(f"{item.code}: {exc.message} No item was changed.",
                                exc.field) from None
    return changed


def add_evidence(actor: User, item: AuditItem, *, upload=None, filename: str | None = None,
                 url: str | None = None, note: str | None = None,
                 effective_date: date | None = None) -> Evidence:
    """Attach exactly one of: an uploaded file stream, a URL, or a note. `effective_date` is
    when the thing was done: the upload day (the organisation's) unless given, never later."""
    lock_audit(item.audit, EDITABLE)
    evidence = _new_evidence(actor, item, upload=upload, filename=filename, url=url, note=note,
                             effective_date=effective_date)
    activity.record(
        actor, "evidence.add", chain=activity.audit_chain(item.audit_id), audit_id=item.audit_id,
        audit_item_id=item.id, subject=f"{item.code} {item.title}",
        after=_evidence_state(evidence),
    )
    return evidence


def _evidence_state(evidence: Evidence) -> dict:
    """A piece of evidence as the activity log records it: its name, link or the start of
    its note."""
    described = evidence.filename or evidence.url or (evidence.note or "")[:80]
    return {"kind": evidence.kind.value, "evidence": described, "sha256": evidence.sha256,
            "effective_date": evidence.effective_date.isoformat()}


def _removed_state(evidence: Evidence) -> dict:
    """What a removal or a replacement records of the evidence that goes: who had added it."""
    return {**_evidence_state(evidence), "added_by": evidence.created_by.email}


def _new_evidence(actor: User, item: AuditItem, *, upload, filename, url, note,
                  effective_date) -> Evidence:
    """add_evidence's work under the audit's lock, without its event: the evidence, flushed."""
    today = clock.today()
    effective_date = effective_date or today
    if (problem := validity.future_message(effective_date, today)):
        raise RuleViolation(problem, "effective_date")
    given = [x for x in (upload, url, note) if x is not None and x != ""]
    if len(given) != 1:
        raise RuleViolation("Attach one piece of evidence at a time: a file, a link or a note.")
    if upload is not None:
        stored = store_upload(upload, filename)  # EvidenceRejected is a RuleViolation
        evidence = Evidence(kind=EvidenceKind.FILE, filename=stored.filename,
                            content_type=stored.content_type, size=stored.size,
                            sha256=stored.sha256)
    elif url:
        url = url.strip()
        if not re.match(r"^https?://[^\s/$.?#][^\s]*$", url, re.I) or len(url) > 2048:
            raise RuleViolation("Enter a full web address starting with https:// or http://.",
                                "url")
        evidence = Evidence(kind=EvidenceKind.URL, url=url, sha256=sha256_hex(url))
    else:
        note = note.strip()
        if not note:
            raise RuleViolation("Write the note first.", "note")
        if len(note) > 20_000:
            raise RuleViolation("Keep a note under 20,000 characters; upload longer text as "
                                "a file.", "note")
        evidence = Evidence(kind=EvidenceKind.NOTE, note=note, sha256=sha256_hex(note))
    evidence.created_by_id, evidence.effective_date = actor.id, effective_date
    db.session.add(evidence)  # before it joins item.evidence, which would flush it half-made
    evidence.audit_item = item
    _open_for_work(actor, item.audit)
    db.session.flush()
    return evidence


def remove_evidence(actor: User, evidence: Evidence) -> None:
    """Take a piece of evidence off its item while the audit is open. The row goes; the
    history keeps both its "added" event and this one, with what it was. A met item that
    needs evidence keeps enough to stay met: replace it, or change the status first."""
    item = evidence.audit_item
    lock_audit(item.audit, EDITABLE)
    _check_still_met(item, without=evidence)
    before = _removed_state(evidence)
    _drop(item, evidence)
    activity.record(actor, "evidence.remove", chain=activity.audit_chain(item.audit_id),
                    audit_id=item.audit_id, audit_item_id=item.id,
                    subject=f"{item.code} {item.title}", before=before)


def replace_evidence(actor: User, evidence: Evidence, **given) -> Evidence:
    """Put new evidence (add_evidence's arguments) in the place of `evidence`, in one step:
    one event with the old and the new, the old row gone."""
    item = evidence.audit_item
    lock_audit(item.audit, EDITABLE)
    new = _new_evidence(actor, item, **{"upload": None, "filename": None, "url": None,
                                        "note": None, "effective_date": None, **given})
    _check_still_met(item, without=evidence)
    before = _removed_state(evidence)
    _drop(item, evidence)
    activity.record(actor, "evidence.replace", chain=activity.audit_chain(item.audit_id),
                    audit_id=item.audit_id, audit_item_id=item.id,
                    subject=f"{item.code} {item.title}", before=before,
                    after=_evidence_state(new))
    return new


def _check_still_met(item: AuditItem, *, without: Evidence) -> None:
    """A met item that requires evidence must still be met by what remains (the rule of
    update_item, validity.met_refusal)."""
    db.session.refresh(item, ["status"])
    if item.status != ItemStatus.MET or not item.evidence_required:
        return
    every = _evidence_dates(item)
    remaining = [e for e in every if e.id != without.id]
    refusal = functools.partial(validity.met_refusal, item.code, item.cadence, item.audit.period)
    if refusal(remaining) and not refusal(every):  # already short: no worse for this
        raise RuleViolation(
            f"{item.code} is met, and this is the evidence it rests on: removing it would "
            "leave a met item without valid evidence. Replace it instead, or change the "
            "status first.", "evidence")


def _drop(item: AuditItem, evidence: Evidence) -> None:
    if evidence in item.evidence:
        item.evidence.remove(evidence)
    db.session.delete(evidence)
    db.session.flush()


def update_item_with_evidence(actor: User, item: AuditItem, *, evidence: Iterable[dict] = (),
                              expected_version: int | None, **changes) -> tuple[bool, int]:
    """The item page's one form: attach each piece of `evidence` (add_evidence's arguments)
    and change the item, together — a refusal of either raises, and the caller's rollback
    leaves both unsaved. The evidence goes first, so that "met" counts it.
    Returns (whether the item changed, how much evidence was attached)."""
    attached = [add_evidence(actor, item, **given) for given in evidence]
    changed = update_item(actor, item, expected_version=expected_version, **changes)
    return changed, len(attached)


def add_comment(actor: User, item: AuditItem, body: str) -> Comment:
    lock_audit(item.audit, COMMENTABLE,
               lambda audit: "This audit is signed off; comments are closed.")
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

def already_submitted(audit: Audit) -> str | None:
    if audit.state == AuditState.IN_REVIEW:
        return "This audit is already waiting for review."
    return closed_message(audit)


def items_where(audit: Audit, clause) -> list:
    """The audit's items matching an SQL clause, in code order: id, code, title, status,
    verdict (what a refusal lists and the pages link)."""
    return db.session.execute(
        sa.select(AuditItem.id, AuditItem.code, AuditItem.title, AuditItem.status,
                  AuditItem.verdict)
        .where(AuditItem.audit_id == audit.id, clause).order_by(AuditItem.code)).all()


def _count(items, what: str) -> str:
    return f"{len(items)} item{'s' if len(items) != 1 else ''} {what}"


def submit_for_review(actor: User, audit: Audit) -> None:
    """Every item assessed (met, not met or N/A) first: the review judges answers."""
    lock_audit(audit, EDITABLE, already_submitted)
    if left := items_where(audit, vocabulary.unassessed_clause()):
        raise ItemsLeft(
            f"{_count(left, 'still open')} (not started, in progress or blocked). Finish "
            f"{'them' if len(left) != 1 else 'it'}, or mark the rest “not met” with a note on "
            "the submit page, then submit.", left)
    before = audit.state.value
    audit.state = AuditState.IN_REVIEW
    audit.submitted_at = utcnow()
    audit.return_reason = None
    activity.record(actor, "audit.submit", chain=activity.audit_chain(audit.id),
                    audit_id=audit.id, subject=f"{audit.team.name} {audit.period}",
                    before={"state": before}, after={"state": "in_review"})


def mark_rest_not_met(actor: User, audit: Audit, note: str) -> int:
    """The lead's way to submit what is left as a gap: every open item set "not met", each
    with the note as a comment. Returns how many."""
    note = (note or "").strip()
    if not note:
        raise RuleViolation("Say why the items left are not met: the note is added to each "
                            "as a comment.", "note")
    lock_audit(audit, EDITABLE, already_submitted)
    items = db.session.execute(
        sa.select(AuditItem).where(AuditItem.audit_id == audit.id,
                                   vocabulary.unassessed_clause()).order_by(AuditItem.code)
    ).scalars().all()
    if not items:
        raise RuleViolation("No item is left open: every item is already met, not met or "
                            "N/A. Submit the audit.", "note")
    for item in items:
        _change_item(actor, item, expected_version=None, status=ItemStatus.NOT_MET,
                     owner=UNSET, due_date=UNSET, justification=UNSET)
        add_comment(actor, item, note)
    return len(items)


def review_item(actor: User, item: AuditItem, verdict: Verdict | str, note: str | None) -> None:
    verdict = Verdict(verdict)
    note = (note or "").strip() or None
    if verdict == Verdict.NEEDS_REWORK and not note:
        raise RuleViolation("Say what needs rework: sending an item back needs a note.", "note")
    lock_audit(item.audit, (AuditState.IN_REVIEW,), not_in_review_message)
    db.session.refresh(item)
    _set_verdict(actor, item, verdict, note)


def _set_verdict(actor: User, item: AuditItem, verdict: Verdict, note: str | None) -> None:
    """The verdict and its event, under the audit's lock the caller holds."""
    before = {"verdict": item.verdict.value if item.verdict else None, "note": item.verdict_note}
    item.verdict, item.verdict_note = verdict, note
    db.session.flush()
    activity.record(actor, "item.review", chain=activity.audit_chain(item.audit_id),
                    audit_id=item.audit_id, audit_item_id=item.id,
                    subject=f"{item.code} {item.title}", before=before,
                    after={"verdict": verdict.value, "note": note})


def accept_items(actor: User, audit: Audit, item_ids: Iterable[int] | None = None,
                 domain_id: int | None = None) -> int:
    """Accept many items in one step: the given ones, or every item not reviewed yet (of one
    domain, when given). Items sent back for rework are left as they are (each needs its own
    look). Returns how many."""
    lock_audit(audit, (AuditState.IN_REVIEW,), not_in_review_message)
    chosen = vocabulary.not_reviewed_clause()
    if item_ids is not None:
        ids = set(item_ids)
        if not ids:
            raise RuleViolation("Select at least one item to accept.", "item_ids")
        chosen = sa.and_(AuditItem.id.in_(ids), vocabulary.unreviewed_clause())
    if domain_id is not None:
        chosen = sa.and_(chosen, AuditItem.domain_id == domain_id)
    items = db.session.execute(
        sa.select(AuditItem).where(AuditItem.audit_id == audit.id, chosen)
        .order_by(AuditItem.code)).scalars().all()
    for item in items:
        _set_verdict(actor, item, Verdict.ACCEPTED, item.verdict_note)
    return len(items)


def audit_domain_id(audit: Audit, code: str | None) -> int | None:
    """The id of the audit's domain with this code (None for no code); a code not in the
    audit's scope is refused."""
    if code is None:
        return None
    domain_id = db.session.execute(
        sa.select(AuditItem.domain_id).join(AuditItem.domain)
        .where(AuditItem.audit_id == audit.id, Domain.code == code).limit(1)).scalar()
    if domain_id is None:
        raise RuleViolation(f"This audit has no domain {code}.", "domain")
    return domain_id


def return_audit(actor: User, audit: Audit, reason: str) -> None:
    reason = (reason or "").strip()
    if not reason:
        raise RuleViolation("Say why the audit goes back: the team sees this reason.", "reason")
    lock_audit(audit, (AuditState.IN_REVIEW,), not_in_review_message)
    audit.state = AuditState.IN_PROGRESS
    audit.return_reason = reason
    activity.record(actor, "audit.return", chain=activity.audit_chain(audit.id),
                    audit_id=audit.id, subject=f"{audit.team.name} {audit.period}",
                    before={"state": "in_review"}, after={"state": "in_progress",
                                                          "reason": reason})


def sign_off_statement(statement: str | None) -> str:
    statement = (statement or "").strip()
    if not statement:
        raise RuleViolation("Write the sign-off statement: it is printed in the signed report.",
                            "statement")
    return statement


def mark_signed_off(actor: User, audit: Audit, statement: str,
                    opinion: str | None = None) -> ActivityEvent:
    """Freeze the audit, checked in review under its lock; the reports feature records the
    SignOff and the signed PDF. Returns the sign-off's event: the chain's head it signs."""
    lock_audit(audit, (AuditState.IN_REVIEW,), not_in_review_message)
    if left := items_where(audit, vocabulary.unreviewed_clause()):
        raise ItemsLeft(
            f"{_count(left, 'not accepted yet')} (not reviewed, or needs rework). Accept "
            f"{'them' if len(left) != 1 else 'it'} on the review page, or send the audit "
            "back, then sign off.", left)
    audit.state = AuditState.SIGNED_OFF
    audit.signed_off_at = utcnow()
    return activity.record(actor, "audit.sign_off", chain=activity.audit_chain(audit.id),
                           audit_id=audit.id, subject=f"{audit.team.name} {audit.period}",
                           before={"state": "in_review"},
                           after={"state": "signed_off", "statement": statement,
                                  **({"opinion": opinion} if opinion else {})})
