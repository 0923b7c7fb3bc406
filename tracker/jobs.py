"""Background jobs: on RQ workers when REDIS_URL is set, inline otherwise.

`submit("tracker.reports.service.create_signed_report", signoff_id)` from a service:
- with Redis, the job is queued only once the surrounding transaction commits (a worker must
  see the rows the job reads; a rolled-back request queues nothing);
- without Redis (the one-machine default), it runs right away, in the same transaction.
Job functions take plain ids, load what they need, and commit their own work when they run
on a worker (`run_job` wraps them in an app context).
"""

import importlib
import logging

import sqlalchemy as sa
from flask import current_app, has_app_context

from tracker.extensions import db

log = logging.getLogger("tracker.jobs")
_PENDING = "tracker_pending_jobs"


def _resolve(path: str):
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def redis_url() -> str | None:
    return current_app.config.get("REDIS_URL") if has_app_context() else None


def queue():
    from redis import Redis
    from rq import Queue

    return Queue(current_app.config.get("RQ_QUEUE", "tracker"),
                 connection=Redis.from_url(redis_url()))


def submit(path: str, *args) -> None:
    if redis_url():
        db.session.connection()  # join a transaction, so its rollback drops the job too
        db.session.info.setdefault(_PENDING, []).append((path, args))
    else:
        _resolve(path)(*args)


@sa.event.listens_for(sa.orm.Session, "after_commit")
def _enqueue_after_commit(session):
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    q = queue()
    for path, args in pending:
        job = q.enqueue(run_job, path, *args, job_timeout=1800, result_ttl=3600,
                        failure_ttl=7 * 24 * 3600)
        log.info("queued %s%r as job %s", path, args, job.id)


@sa.event.listens_for(sa.orm.Session, "after_soft_rollback")
def _drop_on_rollback(session, previous_transaction):
    if previous_transaction.parent is None:  # the outermost transaction rolled back
        session.info.pop(_PENDING, None)


_app = None


def run_job(path: str, *args):
    """Entry point on the worker: one app per worker process, one app context per job."""
    global _app
    if has_app_context():  # e.g. a SimpleWorker inside a test's app context
        return _call(path, args)
    if _app is None:
        from tracker import create_app

        _app = create_app()
    with _app.app_context():
        return _call(path, args)


def _call(path, args):
    try:
        result = _resolve(path)(*args)
        db.session.commit()
        return result
    except Exception:
        db.session.rollback()
        raise
