"""Appending to a chain and walking it back."""

from dataclasses import dataclass

import sqlalchemy as sa

from tracker.activity.models import ActivityChainHead, ActivityEvent
from tracker.canonical import canonical_json, sha256_hex
from tracker.db import utcnow
from tracker.extensions import db
from tracker.transactions import begin_write

GENESIS = "0" * 64
AUDIT_CHAIN_PREFIX = "audit:"
# The chains every team's pages read besides their audits': people and teams, the library
# (domain names), signals.
SHARED_CHAINS = ("admin", "library", "signals", "actions")

_HASHED = ("chain", "seq", "audit_id", "audit_item_id", "actor_id", "action", "subject",
           "before", "after")


_listeners: list = []


def on_record(listener):
    """Call listener(event) after each event is recorded, in the writer's transaction (the
    notifications feature reacts to events this way; the log knows no feature)."""
    _listeners.append(listener)
    return listener


def audit_chain(audit_id: int) -> str:
    return f"{AUDIT_CHAIN_PREFIX}{audit_id}"


def event_hash(event: ActivityEvent) -> str:
    """An event's hash from its contents, linked to the one before."""
    body = canonical_json({**{k: getattr(event, k) for k in _HASHED},
                           "created_at": event.created_at.isoformat()})
    return sha256_hex(event.prev_hash + body)


def record(actor, action: str, *, chain: str, subject: str = "", before=None, after=None,
           audit_id: int | None = None, audit_item_id: int | None = None) -> ActivityEvent:
    """Append one event to `chain` after its head. The head's row is locked (SQLite: the
    write lock), so concurrent writers to one chain queue up instead of forking it."""
    begin_write()
    head = db.session.execute(
        sa.select(ActivityChainHead).where(ActivityChainHead.chain == chain)
        .with_for_update().execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if head is None:
        head = ActivityChainHead(chain=chain, seq=0, hash=GENESIS)
        db.session.add(head)
    event = ActivityEvent(
        chain=chain, seq=head.seq + 1, prev_hash=head.hash, audit_id=audit_id,
        audit_item_id=audit_item_id, actor_id=actor.id if actor is not None else None,
        action=action, subject=subject[:120],  # the column holds 120; long titles are cut
        before=None if before is None else canonical_json(before),
        after=None if after is None else canonical_json(after), created_at=utcnow())
    event.hash = event_hash(event)
    head.seq, head.hash = event.seq, event.hash
    db.session.add(event)
    db.session.flush()
    for listener in _listeners:
        listener(event)
    return event


@dataclass
class ChainProblem:
    chain: str
    seq: int
    message: str

    def __str__(self) -> str:
        return f"{self.chain} #{self.seq}: {self.message}"


def verify_chain(chain: str, expected_head: tuple[int, str] | None = None, *,
                 anchor: tuple[int, str] | None = None,
                 sealed: bool = False) -> ChainProblem | None:
    """Walk one chain from its start; return the first broken link, or None.

    The chain must end at `expected_head` (seq, hash) — from a signed report — or else at the
    head row: so removing the newest rows, or adding one past the head, is caught. The
    database alone cannot catch a rewind that moves the head row back, or a row edited with
    every later hash recomputed: `anchor` (seq, hash), from a signed checkpoint, can — the
    chain must still pass through it. `sealed`: the checkpoint saw the chain closed (its
    audit signed off and frozen), so no row may follow the anchor.
    """
    bound = None
    if expected_head is None:
        head_seq, head_hash, bound = _head_and_last_seq(chain)
    else:
        head_seq, head_hash = expected_head
    anchor_seq, anchor_hash = anchor or (0, GENESIS)
    query = sa.select(ActivityEvent).where(ActivityEvent.chain == chain)
    if bound is not None:  # rows committed after the head was read are not this walk's
        query = query.where(ActivityEvent.seq <= bound)
    rows = db.session.execute(
        query.order_by(ActivityEvent.seq).execution_options(yield_per=1000)).scalars()
    prev_hash, expected_seq, last_seq = GENESIS, 1, 0
    for event in rows:
        if event.seq != expected_seq:
            return ChainProblem(chain, expected_seq, f"row missing (next row is #{event.seq})")
        if event.prev_hash != prev_hash:
            return ChainProblem(chain, event.seq, "does not link to the row before it")
        if event_hash(event) != event.hash:
            return ChainProblem(chain, event.seq, "contents changed after it was written")
        if event.seq == anchor_seq and event.hash != anchor_hash:
            return ChainProblem(chain, event.seq, "differs from the signed checkpoint: this "
                                "row or one before it was changed and the hashes recomputed")
        if sealed and event.seq > anchor_seq:
            return ChainProblem(chain, event.seq, "was added after the chain was closed (the "
                                f"signed checkpoint saw it end at #{anchor_seq}, signed off)")
        if event.seq > head_seq:
            return ChainProblem(chain, event.seq,
                                f"is past the chain's recorded head #{head_seq}")
        if event.seq == head_seq and event.hash != head_hash:
            return ChainProblem(chain, event.seq, "differs from the recorded head")
        prev_hash, expected_seq, last_seq = event.hash, expected_seq + 1, event.seq
    if anchor and last_seq == 0:
        return ChainProblem(chain, 1, f"the whole chain is gone (the signed checkpoint saw "
                                      f"#{anchor_seq})")
    if last_seq < head_seq:
        return ChainProblem(chain, last_seq + 1,
                            f"rows #{last_seq + 1} to #{head_seq} were removed")
    if last_seq < anchor_seq:
        return ChainProblem(chain, last_seq + 1, f"rows #{last_seq + 1} to #{anchor_seq} were "
                            "removed (the signed checkpoint saw them)")
    return None


def _head_and_last_seq(chain: str) -> tuple[int, str, int]:
    """The head row and the newest row's seq, read in one statement (one snapshot, also
    under PostgreSQL's read committed)."""
    def head(column):
        return sa.select(column).where(ActivityChainHead.chain == chain).scalar_subquery()

    seq, hash_, last = db.session.execute(sa.select(
        head(ActivityChainHead.seq), head(ActivityChainHead.hash),
        sa.select(sa.func.max(ActivityEvent.seq)).where(ActivityEvent.chain == chain)
        .scalar_subquery())).one()
    return seq or 0, hash_ or GENESIS, last or 0


def verify_all_chains() -> tuple[int, list[ChainProblem]]:
    chains = set(db.session.execute(sa.select(ActivityEvent.chain).distinct()).scalars())
    chains |= set(db.session.execute(sa.select(ActivityChainHead.chain)).scalars())
    problems = [p for c in sorted(chains) if (p := verify_chain(c))]
    return len(chains), problems
