"""Concurrent edits lose nothing and fork nothing.

- Eight threads save the same item at once, all from the same version: exactly one wins, the
  others get StaleItem (a clear conflict), and the audit's activity chain still verifies.
  Runs on SQLite and on PostgreSQL (the issue's case: `make test` with TEST_DATABASE_URL).
- SQLite only: four worker processes, each its own app on the same database file, write in
  bursts through the services; no "database is locked", every write is there, the chain
  verifies.
- Transactions begin at the first write (tracker/transactions.py), so what a service decided
  on before its lock is read again after it: a submit that lands in between wins.
"""

import multiprocessing
import threading
import traceback
from pathlib import Path

import pytest
import sqlalchemy as sa

from tracker import activity
from tracker.activity import ActivityEvent
from tracker.audits import service as audits
from tracker.audits.models import (
    AuditDomainTally,
    AuditItem,
    AuditState,
    Comment,
    ItemStatus,
)
from tracker.auth.models import User
from tracker.extensions import db
from tracker.library.models import Domain
from tracker.rules import Conflict

WRITERS = 8


def _race(app, item_id: int, user_id: int, version: int) -> dict[int, str]:
    barrier = threading.Barrier(WRITERS, timeout=30)
    results: dict[int, str] = {}

    def writer(n: int) -> None:
        with app.app_context():
            try:
                # Load (reads take no lock), then race: every writer reaches the barrier
                # with the same version in hand.
                item = db.session.get(AuditItem, item_id)
                actor = db.session.get(User, user_id)
                db.session.commit()
                barrier.wait()
                audits.update_item(actor, item, expected_version=version,
                                   status=ItemStatus.BLOCKED, justification=f"writer {n}")
                db.session.commit()
                results[n] = "saved"
            except audits.StaleItem as exc:
                db.session.rollback()
                results[n] = "stale: " + exc.message
            except Exception:  # noqa: BLE001 — reported by the test, with its traceback
                db.session.rollback()
                results[n] = traceback.format_exc()
            finally:
                db.session.remove()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.mark.parametrize("state", [AuditState.IN_PROGRESS, AuditState.DRAFT])
def test_eight_writers_same_version_exactly_one_wins(app, site, state):
    audit = site.audit
    if state == AuditState.DRAFT:  # the first save also opens the audit: two writes at once
        domains = db.session.execute(sa.select(Domain).where(Domain.code == "DV")).scalars()
        audit = audits.start_audit(site.people["lead"], site.people["alpha"], "2026-Q3",
                                   list(domains))
    item = db.session.execute(sa.select(AuditItem).where(AuditItem.audit_id == audit.id)
                              .order_by(AuditItem.code)).scalars().first()
    assert audit.state == state
    item_id, version, audit_id = item.id, item.version, audit.id
    user_id = site.people["operator"].id
    db.session.commit()  # and touch nothing until the race is over: no lock held here

    results = _race(app, item_id, user_id, version)

    assert len(results) == WRITERS
    saved = [n for n, r in results.items() if r == "saved"]
    stale = [r for r in results.values() if r.startswith("stale: ")]
    assert len(saved) == 1 and len(stale) == WRITERS - 1, "\n".join(results.values())
    assert all("Your changes were not saved" in r for r in stale)

    db.session.expire_all()
    item = db.session.get(AuditItem, item_id)
    assert item.version == version + 1
    assert item.justification == f"writer {saved[0]}" and item.status == ItemStatus.BLOCKED
    assert db.session.get(type(audit), audit_id).state == AuditState.IN_PROGRESS
    events = db.session.execute(sa.select(ActivityEvent.action).where(
        ActivityEvent.audit_item_id == item_id, ActivityEvent.action == "item.update")).all()
    assert len(events) == 1
    assert activity.verify_chain(activity.audit_chain(audit_id)) is None
    blocked = db.session.execute(sa.select(sa.func.sum(AuditDomainTally.blocked)).where(
        AuditDomainTally.audit_id == audit_id)).scalar_one()
    assert blocked == 1  # the tally moved once, not once per writer


# --- when SQLite's write lock is taken -----------------------------------------------------

def _holds_write_lock() -> bool:
    return db.session.connection().connection.dbapi_connection.in_transaction


def test_sqlite_reads_take_no_write_lock_and_the_first_write_does(app, site, database):
    """Reads never wait for a writer; the first write (here a flush) takes the write lock
    with BEGIN IMMEDIATE, and the commit lets it go."""
    if database["kind"] != "sqlite":
        pytest.skip("PostgreSQL locks rows, not the database")
    db.session.commit()
    db.session.execute(sa.select(AuditItem.id).limit(1)).all()
    assert not _holds_write_lock()
    db.session.add(Comment(audit_item_id=db.session.execute(sa.select(AuditItem.id).limit(1))
                           .scalar_one(), author_id=site.people["lead"].id, body="x"))
    db.session.flush()
    assert _holds_write_lock()
    db.session.rollback()
    assert not _holds_write_lock()
    db.session.execute(sa.update(AuditItem).where(AuditItem.id == -1).values(title="x"))
    assert _holds_write_lock()
    db.session.commit()
    assert not _holds_write_lock()


def test_a_submit_committed_after_the_item_was_read_wins(app, site):
    """The item and its audit are read (in progress), then someone else submits the audit
    before the save takes its lock: the save is refused and nothing of it is written."""
    db.session.commit()
    item = db.session.execute(sa.select(AuditItem).where(AuditItem.audit_id == site.audit.id)
                              .order_by(AuditItem.code)).scalars().first()
    audit = item.audit
    assert audit.state == AuditState.IN_PROGRESS
    item_id, version, audit_id = item.id, item.version, audit.id
    events_before = db.session.execute(sa.select(sa.func.count(ActivityEvent.id))).scalar_one()

    with db.engine.connect() as other:  # another process's submit, committed in between
        other.execute(sa.update(type(audit)).where(type(audit).id == audit_id)
                      .values(state=AuditState.IN_REVIEW))
        other.commit()

    with pytest.raises(Conflict, match="in review"):
        audits.update_item(site.people["operator"], item, expected_version=version,
                           status=ItemStatus.BLOCKED)
    db.session.rollback()
    item = db.session.get(AuditItem, item_id)
    assert item.version == version and item.status != ItemStatus.BLOCKED
    assert db.session.execute(sa.select(sa.func.count(ActivityEvent.id))).scalar_one() == (
        events_before)


def test_a_submit_waits_for_an_item_save_in_flight(app, site, database):
    """The other order: an item save holds its locks (not committed yet) when someone submits
    the audit. The submit cannot change the audit's state until the save has committed, so an
    audit in review never gains a change made under it. PostgreSQL: the save's FOR SHARE on
    the audit row; SQLite: the single writer's lock."""
    db.session.commit()
    item = db.session.execute(sa.select(AuditItem).where(AuditItem.audit_id == site.audit.id)
                              .order_by(AuditItem.code)).scalars().first()
    audit_table = item.audit.__table__
    audits.update_item(site.people["operator"], item, expected_version=item.version,
                       status=ItemStatus.BLOCKED)  # in flight: flushed, not committed
    with db.engine.connect() as other:  # another request's submit
        if database["kind"] == "sqlite":
            other.exec_driver_sql("PRAGMA busy_timeout=100")
            blocked = sa.exc.OperationalError
        else:
            other.exec_driver_sql("SET lock_timeout = '100ms'")
            blocked = sa.exc.OperationalError
        with pytest.raises(blocked):
            other.execute(audit_table.update().where(audit_table.c.id == site.audit.id)
                          .values(state=AuditState.IN_REVIEW))
        other.rollback()
        db.session.commit()  # the save lands; now the submit goes through
        other.execute(audit_table.update().where(audit_table.c.id == site.audit.id)
                      .values(state=AuditState.IN_REVIEW))
        other.commit()


def test_a_bulk_update_holds_no_item_while_it_waits_for_the_audit(app, site, database):
    """PostgreSQL: a single save locks the audit's row, then its item. A bulk update takes
    them in the same order, so while a save holds the audit it waits at its start holding
    nothing — not holding items the save is about to lock (a deadlock, answered 503)."""
    if database["kind"] != "postgresql":
        pytest.skip("row locks: SQLite has one writer at a time")
    items = db.session.execute(sa.select(AuditItem).where(AuditItem.audit_id == site.audit.id)
                               .order_by(AuditItem.id)).scalars().all()[:3]
    ids = [i.id for i in items]
    lead_id, audit_id = site.people["lead"].id, site.audit.id
    db.session.commit()
    items_table, audit_table = AuditItem.__table__, items[0].audit.__table__
    outcome: list[str] = []

    def bulk() -> None:
        with app.app_context():
            try:
                audit = db.session.get(type(site.audit), audit_id)
                audits.bulk_update(db.session.get(User, lead_id), audit, ids,
                                   status=ItemStatus.BLOCKED)
                db.session.commit()
                outcome.append("saved")
            except Exception:  # noqa: BLE001 — reported by the test, with its traceback
                db.session.rollback()
                outcome.append(traceback.format_exc())
            finally:
                db.session.remove()

    with db.engine.connect() as save:  # a single save in flight: it holds the audit's row
        save.execute(sa.select(audit_table.c.state).where(audit_table.c.id == audit_id)
                     .with_for_update(key_share=True))
        worker = threading.Thread(target=bulk)
        worker.start()
        worker.join(timeout=1)  # the bulk update is now waiting for the audit
        assert worker.is_alive()
        save.exec_driver_sql("SET lock_timeout = '2s'")
        save.execute(items_table.update().where(items_table.c.id.in_(ids))
                     .values(version=items_table.c.version + 1))  # the save's next lock: free
        save.commit()
    worker.join(timeout=30)
    assert outcome == ["saved"]
    statuses = db.session.execute(sa.select(AuditItem.status).where(AuditItem.id.in_(ids))
                                  ).scalars().all()
    assert statuses == [ItemStatus.BLOCKED] * 3


def test_sqlite_writers_queue_and_a_bounded_wait_ends_in_database_is_locked(
        app, site, database, monkeypatch):
    """Writers wait on a file lock next to the database (woken as soon as it is free, where
    SQLite's busy handler sleeps), but never for ever: past the wait, the error SQLite gives."""
    if database["kind"] != "sqlite":
        pytest.skip("the writers' queue is SQLite's")
    import fcntl

    from tracker import transactions

    db.session.commit()
    monkeypatch.setattr(transactions, "WAIT_SECONDS", 0.2)
    path = db.engine.url.database + ".writers"
    with open(path, "a+b") as other_writer:
        fcntl.flock(other_writer, fcntl.LOCK_EX)
        with pytest.raises(sa.exc.OperationalError, match="database is locked"):
            db.session.execute(sa.update(AuditItem).where(AuditItem.id == -1).values(title="x"))
        db.session.rollback()
        fcntl.flock(other_writer, fcntl.LOCK_UN)
    db.session.execute(sa.update(AuditItem).where(AuditItem.id == -1).values(title="x"))
    db.session.commit()  # its turn came at once, and the commit gave the lock back
    assert not _holds_write_lock()


# --- SQLite: several processes ---------------------------------------------------------

PROCESSES = 4
BURST = 12


def burst_of_writes(url: str, tmp: str, item_id: int, user_id: int, barrier, results) -> None:
    """One worker process: its own app on the shared file, a burst of item saves and comments
    on its own item of the shared audit (so every write appends to one activity chain)."""
    from tests.conftest import base_config
    from tracker import create_app

    errors = []
    app = create_app(base_config(Path(tmp), url))
    with app.app_context():
        barrier.wait()
        for n in range(BURST):
            try:
                item = db.session.get(AuditItem, item_id)
                actor = db.session.get(User, user_id)
                status = ItemStatus.BLOCKED if n % 2 == 0 else ItemStatus.IN_PROGRESS
                audits.update_item(actor, item, expected_version=item.version, status=status)
                db.session.commit()
                audits.add_comment(actor, db.session.get(AuditItem, item_id), f"comment {n}")
                db.session.commit()
            except Exception:  # noqa: BLE001 — sent back to the test
                db.session.rollback()
                errors.append(traceback.format_exc())
        db.engine.dispose()
    results.put((item_id, errors))


def test_worker_processes_writing_at_once_never_see_database_is_locked(app, site, database,
                                                                       database_url, tmp_path):
    if database["kind"] != "sqlite":
        pytest.skip("the multi-process burst is about SQLite's single writer")
    audit_id = site.audit.id
    items = db.session.execute(sa.select(AuditItem.id).where(AuditItem.audit_id == audit_id)
                               .order_by(AuditItem.code).limit(PROCESSES)).scalars().all()
    events_before = db.session.execute(sa.select(sa.func.count(ActivityEvent.id)).where(
        ActivityEvent.audit_id == audit_id)).scalar_one()
    comments_before = db.session.execute(sa.select(sa.func.count(Comment.id))).scalar_one()
    versions_before = {i: db.session.get(AuditItem, i).version for i in items}
    user_id = site.people["operator"].id
    # End this transaction and touch no row until the workers are done.
    db.session.commit()
    db.engine.dispose()

    # fork where there is one (fast: nothing to re-import); each child still builds its own
    # app and engine. This process holds no connection: the engine was disposed above.
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    barrier, results = ctx.Barrier(PROCESSES, timeout=120), ctx.Queue()
    workers = [ctx.Process(target=burst_of_writes,
                           args=(database_url, str(tmp_path), item_id, user_id, barrier,
                                 results))
               for item_id in items]
    for worker in workers:
        worker.start()
    reports = [results.get(timeout=300) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    assert all(w.exitcode == 0 for w in workers)

    errors = [e for _, errs in reports for e in errs]
    assert not any("database is locked" in e for e in errors), errors[0] if errors else ""
    assert not errors, errors[0]

    db.session.expire_all()
    assert db.session.execute(sa.select(sa.func.count(Comment.id))
                              ).scalar_one() == comments_before + PROCESSES * BURST
    for item_id in items:
        assert db.session.get(AuditItem, item_id).version == versions_before[item_id] + BURST
    events = db.session.execute(sa.select(sa.func.count(ActivityEvent.id)).where(
        ActivityEvent.audit_id == audit_id)).scalar_one()
    assert events == events_before + 2 * PROCESSES * BURST
    assert activity.verify_chain(activity.audit_chain(audit_id)) is None
