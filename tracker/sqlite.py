"""SQLite for one machine: WAL, foreign keys, a busy timeout, and write transactions that
take the write lock up front (BEGIN IMMEDIATE) so concurrent writers queue instead of
failing with "database is locked" half-way through."""

import sqlalchemy as sa


def configure_sqlite(engine: sa.Engine) -> None:
    if engine.dialect.name != "sqlite":
        return

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE" if _may_write() else "BEGIN")


def _may_write() -> bool:
    """Page reads (GET) take no write lock, so they never wait behind writers; form posts,
    API writes and the CLI do."""
    from flask import has_request_context, request

    return not has_request_context() or request.method not in ("GET", "HEAD", "OPTIONS")
