"""Pooled connections are checked before use only after sitting idle (tracker/db.py): a
connection the server dropped meanwhile is replaced, and a busy one costs no ping."""

import pytest
import sqlalchemy as sa

from tracker import db as tracker_db
from tracker.extensions import db


def _backend_pid() -> int:
    return db.session.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()


def test_a_connection_the_server_dropped_while_idle_is_replaced(app, database, monkeypatch):
    if database["kind"] != "postgresql":
        pytest.skip("a server that drops connections: PostgreSQL")
    monkeypatch.setattr(tracker_db, "PING_AFTER_IDLE", 0)
    db.engine.dispose()
    pid = _backend_pid()
    db.session.remove()  # back to the pool
    with sa.create_engine(database["url"], isolation_level="AUTOCOMMIT").connect() as admin:
        admin.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    # The next request's first statement works, on a new connection.
    assert _backend_pid() != pid
    db.session.remove()


def test_a_connection_used_a_moment_ago_is_not_pinged(app, monkeypatch):
    pings = []
    monkeypatch.setattr(tracker_db, "PING_AFTER_IDLE", 60)
    monkeypatch.setattr(db.engine.dialect, "do_ping", lambda c: pings.append(c) or True)
    for _ in range(3):
        db.session.execute(sa.text("SELECT 1")).scalar_one()
        db.session.remove()
    assert pings == []
    monkeypatch.setattr(tracker_db, "PING_AFTER_IDLE", 0)
    db.session.execute(sa.text("SELECT 1")).scalar_one()
    db.session.remove()
    assert len(pings) == 1
