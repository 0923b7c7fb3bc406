"""The append-only activity log and its per-chain hash links."""

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from tracker.audits.models import ActivityChainHead, ActivityEvent
from tracker.canonical import canonical_json, sha256_hex
from tracker.db import utcnow
from tracker.extensions import db

GENESIS = "0" * 64


AUDIT_CHAIN_PREFIX = "audit:"


def audit_chain(audit_id: int) -> str:
    return f"{AUDIT_CHAIN_PREFIX}{audit_id}"


_HASHED = ("chain", "seq", "audit_id", "audit_item_id", "actor_id", "action", "subject",
           "before", "after")


def _body(values: Mapping) -> str:
    return canonical_json({**{k: values[k] for k in _HASHED},
                           "created_at": values["created_at"].isoformat()})


def hash_of(values: Mapping) -> str:
    """An event's hash from its column values: its contents, linked to the one before."""
    return sha256_hex(values["prev_hash"] + _body(values))


_SEQ_MARK = -987_654_321_012  # no seq is negative: marks where the seq sits in a body


def hash_parts(values: Mapping) -> tuple[str, str]:
    """The body around its seq: for any seq and prev_hash, hash_of(values) is the SHA-256
    of prev_hash + before + str(seq) + after (what PostgreSQL hashes when it picks the seq).
    Keys are sorted and strings escape their quotes, so `"seq":` occurs once, at the top."""
    before, mark, after = _body({**values, "seq": _SEQ_MARK}).partition(f'"seq":{_SEQ_MARK}')
    if not mark:  # canonical_json changed shape: the database would hash something else
        raise ValueError("an event body without its seq")
    return before + '"seq":', after


def event_hash(event: ActivityEvent) -> str:
    return hash_of({k: getattr(event, k) for k in (*_HASHED, "created_at", "prev_hash")})


# Built once, and run as plain statements on the session's connection (no unit of work):
# every change to an audit appends here, inside its transaction's lock.
_HEADS, _EVENTS = ActivityChainHead.__table__, ActivityEvent.__table__
_LOCK_HEAD = (sa.select(_HEADS.c.seq, _HEADS.c.hash)
              .where(_HEADS.c.chain == sa.bindparam("chain")).with_for_update())
_NEW_HEAD = _HEADS.insert()
_MOVE_HEAD = _HEADS.update().where(_HEADS.c.chain == sa.bindparam("head"))
_COLUMNS = ("chain", "seq", "audit_id", "audit_item_id", "actor_id", "action", "subject",
            "before", "after", "created_at", "prev_hash", "hash")
_INSERT_EVENT = _EVENTS.insert().returning(_EVENTS.c.id)
# PostgreSQL: the head's move rides with the event's insert, one round trip fewer inside the
# chain's lock (SQLite has no data-modifying WITH; its statements cost no round trip).
# (Parameters named apart from both tables' columns, which an UPDATE would otherwise SET.)
_MOVE_HEAD_WITH_EVENT = (
    _EVENTS.insert().values({c: sa.bindparam(f"event_{c}") for c in _COLUMNS})
    .returning(_EVENTS.c.id)
    .add_cte(_HEADS.update().where(_HEADS.c.chain == sa.bindparam("head"))
             .values(seq=sa.bindparam("head_seq"), hash=sa.bindparam("head_hash"))
             .cte("moved_head"))
)


class sql_sha256_hex(FunctionElement):  # noqa: N801 — used like an SQL function
    """sha256_hex in SQL: the SHA-256 of a text's UTF-8 bytes, in hex. On SQLite the very
    Python function, registered on every connection (tracker/transactions.py); on
    PostgreSQL its own sha256()."""
    type = sa.String()
    inherit_cache = True
    name = "sha256_hex"


@compiles(sql_sha256_hex, "postgresql")
def _sha256_hex_postgresql(element, compiler, **kw):
    return f"encode(sha256(convert_to({compiler.process(element.clauses, **kw)}, 'UTF8')), 'hex')"


@compiles(sql_sha256_hex)
def _sha256_hex_registered(element, compiler, **kw):
    return f"sha256_hex({compiler.process(element.clauses, **kw)})"


def _chained_hash(prev_hash, seq) -> sql_sha256_hex:
    """An event's hash in SQL from its place in the chain and hash_parts (:hash_before,
    :hash_after): hash_of's value when the database picks the seq."""
    return sql_sha256_hex(prev_hash + sa.bindparam("hash_before", type_=sa.Text)
                          + sa.cast(seq, sa.Text) + sa.bindparam("hash_after", type_=sa.Text))


_GIVEN = [c for c in _COLUMNS if c not in ("seq", "prev_hash", "hash")]  # by event_values


def _given_values() -> list:
    return [sa.bindparam(f"event_{c}", type_=_EVENTS.c[c].type) for c in _GIVEN]


# SQLite (which has no data-modifying WITH, and holds its one write lock already): the
# event appended after its chain's head in one INSERT … SELECT, the database picking its
# seq and hashing it; then the head moves on. Two statements where reading the head first
# takes three.
_APPEND_AFTER_HEAD = (
    _EVENTS.insert()
    .from_select([*_GIVEN, "seq", "prev_hash", "hash"],
                 sa.select(*_given_values(), _HEADS.c.seq + 1, _HEADS.c.hash,
                           _chained_hash(_HEADS.c.hash, _HEADS.c.seq + 1))
                 .where(_HEADS.c.chain == sa.bindparam("head")))
    .returning(_EVENTS.c.id, _EVENTS.c.seq, _EVENTS.c.hash)
)


def chain_started() -> sa.Exists:
    """Whether chain :head has a head: appended_after can only move one on."""
    return sa.exists().where(_HEADS.c.chain == sa.bindparam("head"))


def appended_after(gate: sa.CTE) -> sa.CTE:
    """PostgreSQL: the CTEs that append one event to chain :head within another statement,
    when `gate` (a data-modifying CTE) wrote a row; the last one returns the event's id. The
    database locks the chain's head, takes its seq + 1 and hashes the event in SQL from
    hash_parts (:hash_before, :hash_after), so the whole change commits in one round trip.
    The event's other columns are parameters named event_<column>."""
    head = (sa.select(_HEADS.c.chain, _HEADS.c.seq, _HEADS.c.hash)
            .where(_HEADS.c.chain == sa.bindparam("head")).with_for_update().cte("head"))
    seq = head.c.seq + 1
    moved = (_HEADS.update()
             .where(_HEADS.c.chain == head.c.chain, sa.exists(sa.select(gate.c[0])))
             .values(seq=seq, hash=_chained_hash(head.c.hash, seq))
             .returning(_HEADS.c.seq, _HEADS.c.hash, head.c.hash.label("prev_hash"))
             .cte("moved"))
    return (_EVENTS.insert()
            .from_select([*_GIVEN, "seq", "prev_hash", "hash"],
                         sa.select(*_given_values(), moved.c.seq, moved.c.prev_hash,
                                   moved.c.hash))
            .returning(_EVENTS.c.id).cte("event"))


def event_values(actor, action: str, *, chain: str, **fields) -> dict:
    """The parameters appended_after needs for one event (all but what the head decides);
    `fields` as record takes them."""
    event = _event(actor, action, chain=chain, **fields)
    hash_before, hash_after = hash_parts(event)
    return {**{f"event_{c}": v for c, v in event.items()}, "head": chain,
            "hash_before": hash_before, "hash_after": hash_after}


class Appended(NamedTuple):
    """Where an event was written: its id, and its chain's head after it."""
    id: int
    seq: int
    hash: str


@functools.cache
def _lock_head_with(write: sa.Update) -> sa.Select:
    """The head's lock with another write riding in the same statement (PostgreSQL's
    data-modifying WITH), built once per write statement."""
    return _LOCK_HEAD.add_cte(write.cte("also"))


def record(actor, action: str, *, chain: str, subject: str = "", before=None, after=None,
           audit_id: int | None = None, audit_item_id: int | None = None,
           also: tuple[sa.Update, dict] | None = None) -> Appended:
    """Append one event to `chain` after its head, so that concurrent writers to the same
    chain queue up instead of forking it (read events back with a query): on PostgreSQL
    the head's row is locked, SQLite has one writer. `also` is another write of the change
    the event records — an UPDATE and its parameters, named apart from `chain` — made
    first; on PostgreSQL it rides with the head's lock, one round trip fewer. (The caller
    holds what orders it against other writers: an item change holds its audit's row.)"""
    db.session.flush()  # what the event records is written first, as the ORM would order it
    connection = db.session.connection()
    fields = {"subject": subject, "before": before, "after": after, "audit_id": audit_id,
              "audit_item_id": audit_item_id}
    if connection.dialect.name != "postgresql":
        if also is not None:
            connection.execute(*also)
        appended = connection.execute(
            _APPEND_AFTER_HEAD, event_values(actor, action, chain=chain, **fields)).one_or_none()
        if appended is None:  # the chain's first event
            return _start_chain(connection, actor, action, chain, fields)
        connection.execute(_MOVE_HEAD, {"head": chain, "seq": appended.seq,
                                        "hash": appended.hash})
        return Appended(*appended)
    if also is not None:
        write, params = also
        head = connection.execute(_lock_head_with(write),
                                  {**params, "chain": chain}).one_or_none()
    else:
        head = connection.execute(_LOCK_HEAD, {"chain": chain}).one_or_none()
    if head is None:
        return _start_chain(connection, actor, action, chain, fields)
    event = {**_event(actor, action, chain=chain, **fields),
             "seq": head.seq + 1, "prev_hash": head.hash}
    event["hash"] = hash_of(event)
    event_id = connection.execute(_MOVE_HEAD_WITH_EVENT, {
        **{f"event_{c}": v for c, v in event.items()},
        "head": chain, "head_seq": event["seq"], "head_hash": event["hash"],
    }).scalar_one()
    return Appended(event_id, event["seq"], event["hash"])


def _start_chain(connection, actor, action: str, chain: str, fields: dict) -> Appended:
    """A chain's first event, and its head."""
    event = {**_event(actor, action, chain=chain, **fields), "seq": 1, "prev_hash": GENESIS}
    event["hash"] = hash_of(event)
    connection.execute(_NEW_HEAD, {"chain": chain, "seq": 1, "hash": event["hash"]})
    return Appended(connection.execute(_INSERT_EVENT, event).scalar_one(), 1, event["hash"])


def _event(actor, action: str, *, chain: str, subject: str = "", before=None, after=None,
           audit_id: int | None = None, audit_item_id: int | None = None) -> dict:
    """An event's columns but its place in the chain (seq, prev_hash, hash)."""
    return {
        "chain": chain,
        "audit_id": audit_id,
        "audit_item_id": audit_item_id,
        "actor_id": actor.id if actor is not None else None,
        "action": action,
        "subject": subject[:120],  # the column holds 120; long item titles are cut
        "before": None if before is None else canonical_json(before),
        "after": None if after is None else canonical_json(after),
        "created_at": utcnow(),
    }


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
