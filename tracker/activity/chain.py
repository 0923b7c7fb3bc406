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
SHARED_CHAINS = ("admin", "library", "signals")

_HASHED = ("chain", "seq", "audit_id", "audit_item_id", "actor_id", "action", "subject",
           "before", "after")


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
    return event


@dataclass
class ChainProblem:
    chain: str
    seq: int
    message: str

    def __str__(self) -> str:
        return f"{self.chain} #{self.seq}: {self.message}"


def verify_chain(chain: str, expected_head: tuple[int, str] | None = None) -> ChainProblem | None:
    """Walk one chain from its start; return the first broken link, or None.

    `expected_head` (seq, hash) — from the head row or a signed report — catches
    removal of the newest rows, which the links alone cannot.
    """
    if expected_head is None:
        head = db.session.get(ActivityChainHead, chain)
        expected_head = (head.seq, head.hash) if head else (0, GENESIS)
    head_seq, head_hash = expected_head
    prev_hash, expected_seq, last_seq = GENESIS, 1, 0
    rows = db.session.execute(
        sa.select(ActivityEvent).where(ActivityEvent.chain == chain)
        .order_by(ActivityEvent.seq).execution_options(yield_per=1000)
    ).scalars()
    for event in rows:
        if event.seq != expected_seq:
            return ChainProblem(chain, expected_seq, f"row missing (next row is #{event.seq})")
        if event.prev_hash != prev_hash:
            return ChainProblem(chain, event.seq, "does not link to the row before it")
        if event_hash(event) != event.hash:
            return ChainProblem(chain, event.seq, "contents changed after it was written")
        if event.seq == head_seq and event.hash != head_hash:
            return ChainProblem(chain, event.seq, "differs from the recorded head")
        prev_hash, expected_seq, last_seq = event.hash, expected_seq + 1, event.seq
    if last_seq < head_seq:
        return ChainProblem(chain, last_seq + 1,
                            f"rows #{last_seq + 1} to #{head_seq} were removed")
    return None


def verify_all_chains() -> tuple[int, list[ChainProblem]]:
    chains = set(db.session.execute(sa.select(ActivityEvent.chain).distinct()).scalars())
    chains |= set(db.session.execute(sa.select(ActivityChainHead.chain)).scalars())
    problems = [p for c in sorted(chains) if (p := verify_chain(c))]
    return len(chains), problems
