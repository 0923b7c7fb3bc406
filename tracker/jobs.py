"""Background jobs: on RQ workers when REDIS_URL is set, on a thread of the process otherwise.

`submit(path, *args, job_id=…, on_failure=…)` from a service queues `path(*args)` once the
surrounding transaction commits (whoever runs it must see the rows it reads; a rolled-back
request queues nothing). Then:
- with Redis, it goes to RQ with retries and backoff (JOB_RETRY_SECONDS), carrying this
  deployment's identity (a random id kept in the database, `deployment_uid()`): a worker
  connected to another database refuses it before reading anything;
- without Redis, to this process's job thread (`start_local_worker`, started with the first
  request), or — where no thread runs: the CLI, the tests — it runs in the caller right after
  the commit, in an app context of its own.
Either way the job never runs inside the transaction that queued it, so on SQLite it does not
hold the write lock that transaction took.

Job functions take plain ids, load what they need, and commit their own work (`run_job` wraps
them in an app context and commits). When one fails — it raised, its work-horse was killed,
or its worker vanished — `on_failure(*args, reason=…, runner=…)` is called, in its own
transaction: the job's owner records what happened (reports mark the sign-off). Durable
state lives in the database, not in the queue: PERIODIC jobs (a sweep) find work whose job
was lost, on the thread's schedule or, with Redis, on RQ's scheduler.
"""

import importlib
import logging
import os
import queue as queue_module
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from flask import Flask, current_app, has_app_context
from sqlalchemy.orm import Mapped, mapped_column

from tracker.db import utcnow
from tracker.extensions import db

log = logging.getLogger("tracker.jobs")
_PENDING = "tracker_pending_jobs"

# Run every PERIODIC_SECONDS by the job thread, or by RQ's scheduler in `flask worker`.
PERIODIC = ("tracker.reports.jobs.sweep_reports",
            "tracker.notifications.delivery.sweep_deliveries",
            "tracker.notifications.outgoing.sweep_webhooks",
            "tracker.notifications.reminders.morning_run")


class Deployment(db.Model):
    """One row: this database's identity, which its jobs carry."""

    __tablename__ = "deployment"

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(sa.String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WrongDeployment(RuntimeError):
    """A job of another deployment's database reached this worker."""


@dataclass
class Job:
    path: str
    args: tuple
    job_id: str | None = None
    on_failure: str | None = None
    extra: dict = field(default_factory=dict)


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


def deployment_uid() -> str:
    """This database's identity: made by the migrations (or here, on a database made
    without them), read once per app."""
    key = "tracker.deployment"
    uid = current_app.extensions.get(key)
    if uid is None:
        table = Deployment.__table__
        with db.engine.begin() as connection:
            uid = connection.execute(sa.select(table.c.uid).where(table.c.id == 1)).scalar()
            if uid is None:
                uid = uuid.uuid4().hex
                connection.execute(table.insert().values(id=1, uid=uid, created_at=utcnow()))
        current_app.extensions[key] = uid
    return uid


def runner_name() -> str:
    """Who runs the current job: its RQ job, else this process and thread."""
    from rq import get_current_job

    job = get_current_job()
    if job is not None:
        return f"rq:{job.id}"
    return f"{socket.gethostname()}:{os.getpid()}:{threading.current_thread().name}"[:200]


# --- queueing ------------------------------------------------------------------------------

def submit(path: str, *args, job_id: str | None = None, on_failure: str | None = None) -> None:
    """Queue path(*args) once the current transaction commits."""
    db.session.connection()  # join a transaction, so its rollback drops the job too
    db.session.info.setdefault(_PENDING, []).append(Job(path, args, job_id, on_failure))


@sa.event.listens_for(sa.orm.Session, "after_commit")
def _dispatch_after_commit(session):
    if session.in_nested_transaction():  # a savepoint released: the transaction goes on
        return
    pending = session.info.pop(_PENDING, None)
    if pending:
        dispatch(pending)


@sa.event.listens_for(sa.orm.Session, "after_soft_rollback")
def _drop_on_rollback(session, previous_transaction):
    if previous_transaction.parent is None:  # the outermost transaction rolled back
        session.info.pop(_PENDING, None)


def dispatch(pending: list[Job]) -> None:
    if redis_url():
        for job in pending:
            _enqueue_rq(job)
        return
    worker = _local
    if worker is not None and worker.is_alive() and worker.pid == os.getpid():
        for job in pending:
            worker.put(job)
        return
    app = current_app._get_current_object()
    for job in pending:
        run_local(app, job)


def _retry():
    from rq import Retry

    config = current_app.config
    intervals = [int(s) for s in str(config["JOB_RETRY_SECONDS"]).split(",") if s.strip()]
    retries = int(config["JOB_RETRIES"])
    return Retry(max=retries, interval=intervals or 0) if retries > 0 else None


def _enqueue_rq(job: Job):
    from rq import Callback

    uid = deployment_uid()
    q = queue()
    rq_job = q.enqueue(
        run_job, args=(job.path, *job.args),
        kwargs={"deployment": uid, "failure_handler": job.on_failure},
        job_id=f"{uid}-{job.job_id}" if job.job_id else None, retry=_retry(),
        on_failure=Callback(rq_job_failed), meta={"deployment": uid},
        job_timeout=int(current_app.config["JOB_TIMEOUT_SECONDS"]), result_ttl=3600,
        failure_ttl=7 * 24 * 3600)
    log.info("queued %s%r as job %s", job.path, job.args, rq_job.id)
    return rq_job


# --- running ---------------------------------------------------------------------------------

_app = None


def _worker_app() -> Flask:
    global _app
    if _app is None:
        from tracker import create_app

        _app = create_app()
    return _app


def run_job(path: str, *args, deployment: str | None = None,
            failure_handler: str | None = None):
    """Entry point on the worker: one app per worker process, one app context per job."""
    if has_app_context():  # e.g. a SimpleWorker inside a test's app context
        return _checked_call(path, args, deployment)
    with _worker_app().app_context():
        return _checked_call(path, args, deployment)


def _checked_call(path, args, deployment):
    if deployment is not None and deployment != deployment_uid():
        raise WrongDeployment(f"This job belongs to deployment {deployment}, and this worker's "
                              f"database is deployment {deployment_uid()}: not run. Give each "
                              "deployment its own RQ_QUEUE (or Redis database).")
    return _call(path, args)


def _call(path, args):
    try:
        result = _resolve(path)(*args)
        db.session.commit()
        return result
    except Exception:
        db.session.rollback()
        raise


def reason_of(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


def job_failed(path: str | None, args, reason: str, runner: str) -> None:
    """Tell the job's owner it failed, in a transaction of its own."""
    if not path:
        return
    try:
        db.session.rollback()
        _resolve(path)(*args, reason=reason, runner=runner)
        db.session.commit()
    except Exception:
        db.session.rollback()
        log.exception("the failure handler %s%r itself failed", path, args)


def rq_job_failed(job, connection, exc_type, exc_value, traceback):
    """RQ's failure callback (a job raised, or its worker was found dead): with the job's own
    deployment only."""
    _rq_failed(job, reason_of(exc_value) if exc_value is not None else str(exc_type))


def rq_work_horse_killed(job, retpid, ret_val, rusage):
    """The worker's handler for a work-horse that died (killed, out of memory)."""
    signal = f" by signal {os.WTERMSIG(ret_val)}" if ret_val and os.WIFSIGNALED(ret_val) else ""
    _rq_failed(job, f"The worker process running it stopped{signal} (exit status {ret_val}).")


def _rq_failed(job, reason: str) -> None:
    def handle():
        if job.kwargs.get("deployment") != deployment_uid():
            log.error("job %s of another deployment failed here: %s", job.id, reason)
            return
        job_failed(job.kwargs.get("failure_handler"), tuple(job.args[1:]), reason, f"rq:{job.id}")

    if has_app_context():
        handle()
    else:
        with _worker_app().app_context():
            handle()


def run_local(app: Flask, job: Job) -> None:
    """Run a job here and now, in an app context (and database session) of its own."""
    with app.app_context():
        try:
            _call(job.path, job.args)
        except Exception as exc:
            log.exception("job %s%r failed", job.path, job.args)
            job_failed(job.on_failure, job.args, reason_of(exc), runner_name())


def run_periodic(deployment: str | None = None) -> None:
    """Every PERIODIC job, each in its own transaction; with Redis, scheduled again."""
    try:
        for path in PERIODIC:
            try:
                _checked_call(path, (), deployment)
            except WrongDeployment:
                raise
            except Exception:
                log.exception("periodic job %s failed", path)
    finally:
        if redis_url() and deployment == deployment_uid():
            schedule_periodic()


def rq_run_periodic(deployment: str) -> None:
    if has_app_context():
        return run_periodic(deployment)
    with _worker_app().app_context():
        return run_periodic(deployment)


def schedule_periodic():
    """Put the next periodic run on RQ's scheduler (one per deployment: a fixed job id)."""
    from datetime import timedelta

    uid = deployment_uid()
    return queue().enqueue_in(
        timedelta(seconds=int(current_app.config["PERIODIC_SECONDS"])), rq_run_periodic, uid,
        job_id=f"{uid}-periodic", meta={"deployment": uid}, result_ttl=600)


# --- the job thread, without Redis -------------------------------------------------------------

class LocalWorker(threading.Thread):
    """One per process: runs queued jobs in turn, and PERIODIC jobs at start and every
    PERIODIC_SECONDS (so what a dead process left pending is found again)."""

    def __init__(self, app: Flask):
        super().__init__(name="tracker-jobs", daemon=True)
        self.app = app
        self.pid = os.getpid()
        self.jobs: queue_module.Queue = queue_module.Queue()
        self.every = float(app.config["PERIODIC_SECONDS"])
        self.stopping = threading.Event()
        self.idle = threading.Event()

    def put(self, job: Job) -> None:
        self.idle.clear()
        self.jobs.put(job)

    def stop(self, timeout: float | None = None) -> None:
        self.stopping.set()
        self.jobs.put(None)
        self.join(timeout)

    def run(self) -> None:
        next_periodic = 0.0
        while not self.stopping.is_set():
            wait = max(0.0, next_periodic - time.monotonic())
            try:
                job = self.jobs.get(timeout=wait) if wait else self.jobs.get_nowait()
            except queue_module.Empty:
                job = None
                if time.monotonic() >= next_periodic:
                    with self.app.app_context():
                        run_periodic()
                    next_periodic = time.monotonic() + self.every
                    if self.jobs.empty():
                        self.idle.set()
                continue
            if job is not None:
                run_local(self.app, job)
            if self.jobs.empty():
                self.idle.set()


_local: LocalWorker | None = None
_local_lock = threading.Lock()


def start_local_worker(app: Flask) -> LocalWorker | None:
    """This process's job thread (started once; again in a forked child). None with Redis,
    where RQ workers run the jobs."""
    global _local
    if app.config.get("REDIS_URL") or not app.config.get("JOBS_THREAD", True):
        return None
    worker = _local
    if worker is not None and worker.is_alive() and worker.pid == os.getpid():
        return worker
    with _local_lock:
        if _local is None or not _local.is_alive() or _local.pid != os.getpid():
            _local = LocalWorker(app)
            _local.start()
        return _local


def stop_local_worker(timeout: float | None = 10) -> None:
    global _local
    worker, _local = _local, None
    if worker is not None and worker.is_alive():
        worker.stop(timeout)
