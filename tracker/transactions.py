"""When a transaction begins: at its first write, on SQLite and on PostgreSQL alike.

The engine runs in autocommit (config: isolation_level), so reads are single statements
on the newest committed data: what READ COMMITTED gives inside a transaction anyway, without
a BEGIN and a ROLLBACK round trip around every page on PostgreSQL. The first write — INSERT,
UPDATE, DELETE, DDL, a savepoint, a SELECT that locks rows (FOR UPDATE, FOR NO KEY UPDATE,
FOR [KEY] SHARE, in a subquery too), or a read streamed through a server-side cursor, which
PostgreSQL allows only in one — opens the transaction, and the session's commit or rollback
ends it as usual:

- SQLite with BEGIN IMMEDIATE, which takes the database's single write lock up front:
  writers queue for it (QueuedConnection, below) instead of failing with "database is
  locked" half-way through, as a transaction that read first and wrote later would
  whenever someone else committed in between. A request holds the lock from its first
  write to its commit, not while it authenticates and loads.
- PostgreSQL with BEGIN; row locks do the rest.

Services read what they must decide on again once they hold their lock (the item's version
in its UPDATE, the audit's state in what that UPDATE returns: audits.service._SAVE_ITEM).
A statement executed with execution_options(whole_transaction=True) is a whole change on
its own (audits.service._save_in_one_statement): sent without a BEGIN, it commits as it runs.
"""

import fcntl
import re
import sqlite3
import time

import sqlalchemy as sa

from tracker.canonical import sha256_hex

READS = ("SELECT", "PRAGMA", "EXPLAIN", "SHOW")
_ROW_LOCK = re.compile(r" FOR (?:UPDATE|NO KEY UPDATE|SHARE|KEY SHARE)\b")
WAIT_SECONDS = 15  # how long a writer waits its turn: then "database is locked"
POLL_SECONDS = 0.0005


def configure_transactions(engine: sa.Engine) -> None:
    if engine.dialect.name == "sqlite":
        @sa.event.listens_for(engine, "do_connect")
        def _queued(_dialect, _record, _cargs, cparams):
            cparams["factory"] = QueuedConnection

        @sa.event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={WAIT_SECONDS * 1000}")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()
            # The activity log hashed in SQL as in Python (audits.activity.sql_sha256_hex)
            dbapi_connection.create_function("sha256_hex", 1, sha256_hex, deterministic=True)

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _begin_before_first_write(connection, _cursor, statement, _params, context, _many):
        dbapi_connection = connection.connection.dbapi_connection
        if context.execution_options.get("whole_transaction"):
            return  # one statement that is the whole change: it commits as it runs
        if _needs_transaction(statement, context) and is_idle(dbapi_connection):
            if isinstance(dbapi_connection, QueuedConnection):
                dbapi_connection.begin_write()  # SQLite: BEGIN IMMEDIATE, in turn
            else:
                dbapi_connection.execute("BEGIN")  # PostgreSQL


def _needs_transaction(statement: str, context) -> bool:
    if not statement.lstrip()[:7].upper().startswith(READS):
        return True  # a write
    if _ROW_LOCK.search(statement):  # PostgreSQL renders row locks; SQLite leaves them out
        return True  # (anywhere: a subquery's lock is held to the end of the transaction too)
    if getattr(context, "_is_server_side", False):
        return True  # PostgreSQL streams a long read (yield_per) through a cursor in one
    compiled = getattr(context, "compiled", None)
    return getattr(getattr(compiled, "statement", None), "_for_update_arg", None) is not None


def is_idle(dbapi_connection) -> bool:
    """No transaction open on this connection (sqlite3 or psycopg)."""
    in_transaction = getattr(dbapi_connection, "in_transaction", None)
    if in_transaction is not None:
        return not in_transaction
    return dbapi_connection.info.transaction_status == 0  # psycopg.pq.TransactionStatus.IDLE


class QueuedConnection(sqlite3.Connection):
    """Writers wait their turn on a file lock next to the database, tried every half
    millisecond: SQLite's own busy handler sleeps 1, 2, 5, 10… ms between tries, so under
    contention its lock sat free while writers slept (16 writers: 393 → 577 updates/s)."""

    def __init__(self, database, *args, **kwargs):
        super().__init__(database, *args, **kwargs)
        path = str(database)
        # In memory, or a URI filename: no file to queue beside; SQLite's busy timeout only.
        no_queue = path in ("", ":memory:") or path.startswith("file:")
        self._queue_path = None if no_queue else path + ".writers"
        self._queue = None
        self._queued = False

    def begin_write(self) -> None:
        if self._queue_path is not None:
            if self._queue is None:
                self._queue = open(self._queue_path, "a+b")  # noqa: SIM115 — kept open
            _wait_turn(self._queue)
            self._queued = True
        try:
            self.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._leave()
            raise

    def _leave(self) -> None:
        if self._queued:
            fcntl.flock(self._queue, fcntl.LOCK_UN)
            self._queued = False

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._leave()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._leave()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._leave()
            if self._queue is not None:
                self._queue.close()


def _wait_turn(queue) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        try:
            fcntl.flock(queue, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise sqlite3.OperationalError("database is locked") from None
            time.sleep(POLL_SECONDS)
