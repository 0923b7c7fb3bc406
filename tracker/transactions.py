"""Transactions: Flask-SQLAlchemy's session, one commit per request.

PostgreSQL runs ordinary READ COMMITTED transactions; a state change locks the rows it
checks (SELECT … FOR UPDATE, see audits.operations).

SQLite uses SQLAlchemy's documented pysqlite recipe: pysqlite's own BEGIN handling is off,
and the transaction's first write — a flush, an INSERT/UPDATE/DELETE run through the
session, a savepoint, or an explicit begin_write() before a read that must hold the lock —
opens it with BEGIN IMMEDIATE, which takes the database's single write lock up front.
Writers queue for that lock (QueuedConnection) instead of failing half-way through with
"database is locked", as a transaction that read first and wrote later would whenever
someone else committed in between. Reads before the first write see the newest committed
data and never wait. A request holds the lock from its first write to its commit.
"""

import fcntl
import sqlite3
import time

import sqlalchemy as sa
from sqlalchemy.orm import Session

from tracker.extensions import db

WAIT_SECONDS = 15  # how long a writer waits its turn: then "database is locked"
POLL_SECONDS = 0.0005


def configure_transactions(engine: sa.Engine) -> None:
    if engine.dialect.name != "sqlite":
        return

    @sa.event.listens_for(engine, "do_connect")
    def _queued(_dialect, _record, _cargs, cparams):
        cparams["factory"] = QueuedConnection

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # the recipe: we say when a transaction begins
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={WAIT_SECONDS * 1000}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @sa.event.listens_for(engine, "savepoint")
    def _savepoint(connection, _name):
        _begin_write_on(connection)


@sa.event.listens_for(Session, "before_flush")
def _before_flush(session, _context, _instances):
    begin_write(session)


@sa.event.listens_for(Session, "do_orm_execute")
def _before_write_statement(state):
    if state.is_insert or state.is_update or state.is_delete:
        begin_write(state.session)


def begin_write(session: Session | None = None) -> None:
    """Hold the database's write lock from now to the commit: SQLite's BEGIN IMMEDIATE, in
    turn. (PostgreSQL locks rows, not the database: nothing to do.)"""
    session = session if session is not None else db.session
    if session.get_bind().dialect.name == "sqlite":
        _begin_write_on(session.connection())


def _begin_write_on(connection: sa.Connection) -> None:
    dbapi_connection = connection.connection.dbapi_connection
    if isinstance(dbapi_connection, QueuedConnection) and not dbapi_connection.in_transaction:
        try:
            dbapi_connection.begin_write()
        except sqlite3.OperationalError as exc:  # as SQLAlchemy raises a driver's errors
            raise sa.exc.OperationalError("BEGIN IMMEDIATE", None, exc) from exc


class QueuedConnection(sqlite3.Connection):
    """Writers wait their turn on a file lock next to the database, tried every half
    millisecond: SQLite's own busy handler sleeps 1, 2, 5, 10… ms between tries, so under
    contention its lock sat free while writers slept."""

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
