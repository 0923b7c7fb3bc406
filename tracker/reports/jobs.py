"""Making a sign-off's signed report in the background, and getting it unstuck.

The sign-off row is the durable state: `report_status` pending until the report is ready or
has failed, with its attempts, when the next may start (`report_due_at`), and the attempt
running now (`report_claimed_at/by`). So the job can be lost — a killed work-horse, a
flushed Redis, a process that died with its job thread — and the sweep still finds the
sign-off.

One attempt (`make_report`): claim the row in a short transaction of its own; render and sign
with no write transaction open (on SQLite, every other writer goes on meanwhile); store the
file; mark the row ready in a second short transaction. A failure the next attempt would
repeat (the signing key cannot sign; the audit no longer matches what was signed off) fails
the report at once, with the reason. Any other failure, wherever it happens — the render,
the job runner, the worker process dying — comes back through `report_job_failed`: the
attempt is counted, and the report waits REPORT_RETRY backoff for the next (RQ's retry, or
the sweep), or fails with the reason after REPORT_ATTEMPTS.

`sweep_reports` (every PERIODIC_SECONDS, and `flask --app app report sweep`): a claim older
than REPORT_RENDER_LIMIT_SECONDS is taken back (its process stopped); a pending report no
one started within that bound is queued again (the job was lost) and counted; each ends as
failed with the reason once its attempts are spent. Without Redis, reports that are due are
queued too: the job thread renders them.
"""

import logging
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from tracker import jobs
from tracker.db import utcnow
from tracker.extensions import db
from tracker.reports.models import ReportStatus, SignOff
from tracker.transactions import begin_write

log = logging.getLogger(__name__)

MAKE = "tracker.reports.jobs.make_report"
FAILED = "tracker.reports.jobs.report_job_failed"
_TABLE = SignOff.__table__


def queue_report(signoff_id: int) -> None:
    """Make this sign-off's report once the current transaction commits."""
    jobs.submit(MAKE, signoff_id, job_id=f"report-{signoff_id}", on_failure=FAILED)


def _attempts() -> int:
    return max(1, int(current_app.config["REPORT_ATTEMPTS"]))


def _limit() -> timedelta:
    return timedelta(seconds=int(current_app.config["REPORT_RENDER_LIMIT_SECONDS"]))


def _backoff(attempt: int) -> timedelta:
    """Wait before the attempt after `attempt` (1-based): RQ's retry intervals."""
    steps = [int(s) for s in str(current_app.config["JOB_RETRY_SECONDS"]).split(",")
             if s.strip()] or [0]
    return timedelta(seconds=steps[min(attempt, len(steps)) - 1])


def _permanent_errors() -> tuple[type[BaseException], ...]:
    from tracker.reports.keys import SigningKeyError
    from tracker.reports.service import ResultsChanged

    return (SigningKeyError, ResultsChanged)


def claim(signoff_id: int, runner: str) -> bool:
    """Start an attempt: the report is pending and no live attempt holds it."""
    now = utcnow()
    claimed = db.session.execute(
        _TABLE.update()
        .where(_TABLE.c.id == signoff_id, _TABLE.c.report_status == ReportStatus.PENDING,
               sa.or_(_TABLE.c.report_claimed_at.is_(None),
                      _TABLE.c.report_claimed_at < now - _limit()))
        .values(report_attempts=_TABLE.c.report_attempts + 1, report_claimed_at=now,
                report_claimed_by=runner[:200])).rowcount
    return claimed == 1


def make_report(signoff_id: int) -> str:
    """One attempt at the report (a job: commits its own work). Returns what happened."""
    from tracker.reports import service

    runner = jobs.runner_name()
    if not claim(signoff_id, runner):
        db.session.commit()
        return "not pending, or another attempt holds it"
    db.session.commit()  # the claim stands alone: no lock is held while rendering
    try:
        signoff = db.session.get(SignOff, signoff_id)
        if service.ensure_report_checkpoint(signoff):
            db.session.commit()  # a short write of its own, before the render
        pdf = service.build_signed_pdf(signoff)
        path = service.store_report(pdf)
    except _permanent_errors() as exc:
        db.session.rollback()
        log.warning("signed report for sign-off %s failed: %s", signoff_id, exc)
        _finish(signoff_id, runner, status=ReportStatus.FAILED, report_error=jobs.reason_of(exc))
        return "failed"
    db.session.rollback()  # end the render's read before the short write below
    _finish(signoff_id, runner, status=ReportStatus.READY, pdf_sha256=path.stem,
            pdf_size=len(pdf), report_error=None)
    return "ready"


def _finish(signoff_id: int, runner: str, *, status: ReportStatus, **values) -> None:
    """The attempt's outcome, unless a later attempt took the report over meanwhile."""
    done = db.session.execute(
        _TABLE.update()
        .where(_TABLE.c.id == signoff_id, _TABLE.c.report_status == ReportStatus.PENDING,
               _TABLE.c.report_claimed_by == runner[:200])
        .values(report_status=status, report_claimed_at=None, report_claimed_by=None,
                **values)).rowcount
    if done:
        _tell(db.session.get(SignOff, signoff_id, populate_existing=True))
    db.session.commit()
    if not done:
        log.warning("sign-off %s: attempt %s finished after another took over", signoff_id,
                    runner)


def _tell(signoff: SignOff) -> None:
    from tracker.notifications.subscribers import report_finished

    report_finished(signoff, ready=signoff.report_status == ReportStatus.READY)


def report_job_failed(signoff_id: int, *, reason: str, runner: str) -> None:
    """An attempt failed (the job raised, its process was killed, its worker vanished):
    count it, then wait for the next or fail the report with the reason."""
    begin_write()
    signoff = db.session.execute(
        sa.select(SignOff).where(SignOff.id == signoff_id).with_for_update()
        .execution_options(populate_existing=True)).scalar_one_or_none()
    if signoff is None or signoff.report_status != ReportStatus.PENDING:
        return
    if signoff.report_claimed_by not in (None, runner[:200]):
        return  # a later attempt holds it: this one's failure is old news
    if signoff.report_claimed_at is None:
        signoff.report_attempts += 1  # it failed before it could claim the report
    _attempt_over(signoff, reason)
    db.session.flush()


def _attempt_over(signoff: SignOff, reason: str) -> None:
    signoff.report_claimed_at = signoff.report_claimed_by = None
    attempts = _attempts()
    if signoff.report_attempts >= attempts:
        signoff.report_status = ReportStatus.FAILED
        signoff.report_error = (f"{reason} (attempt {signoff.report_attempts} of {attempts})"
                                )[:2000]
        log.error("signed report for sign-off %s failed: %s", signoff.id, signoff.report_error)
        _tell(signoff)
    else:
        signoff.report_due_at = utcnow() + _backoff(signoff.report_attempts)
        signoff.report_error = (f"Attempt {signoff.report_attempts} of {attempts} failed: "
                                f"{reason}")[:2000]
        log.warning("signed report for sign-off %s: %s", signoff.id, signoff.report_error)


def sweep_reports() -> dict[str, int]:
    """Take back attempts that outlived the bound, queue again reports whose job was lost
    (and, without Redis, every report that is due), fail those out of attempts. A job:
    flushes and queues; its runner commits. Returns how many of each."""
    now, limit = utcnow(), _limit()
    counts = {"requeued": 0, "failed": 0, "queued": 0}
    pending = sa.select(SignOff).where(SignOff.report_status == ReportStatus.PENDING)
    is_stale = sa.or_(
        SignOff.report_claimed_at < now - limit,
        sa.and_(SignOff.report_claimed_at.is_(None), SignOff.report_due_at < now - limit))
    if db.session.execute(pending.with_only_columns(SignOff.id).where(is_stale).limit(1)
                          ).first() is None:
        stale = []  # the usual case: a read, no write lock taken
    else:
        begin_write()
        stale = db.session.execute(pending.where(is_stale).with_for_update()
                                   .execution_options(populate_existing=True)).scalars().all()
    for signoff in stale:
        if signoff.report_claimed_at is None:
            signoff.report_attempts += 1  # its job was lost before it started
            reason = (f"No worker started it within {_minutes(limit)} (is `flask --app app "
                      "worker` running?)" if jobs.redis_url() else
                      f"It was not started within {_minutes(limit)}")
        else:
            reason = (f"The attempt by {signoff.report_claimed_by} did not finish within "
                      f"{_minutes(limit)}; its process stopped")
        _attempt_over(signoff, reason)
        if signoff.report_status == ReportStatus.FAILED:
            counts["failed"] += 1
        else:
            signoff.report_due_at = now
            counts["requeued"] += 1
            queue_report(signoff.id)
    if not jobs.redis_url():
        due = db.session.execute(
            pending.where(SignOff.report_claimed_at.is_(None),
                          sa.or_(SignOff.report_due_at.is_(None), SignOff.report_due_at <= now),
                          SignOff.id.not_in([s.id for s in stale]))).scalars().all()
        for signoff in due:
            counts["queued"] += 1
            queue_report(signoff.id)
    db.session.flush()
    if counts["requeued"] or counts["failed"]:
        log.warning("report sweep: %s", counts)
    return counts


def _minutes(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    return f"{seconds // 60} minutes" if seconds >= 120 else f"{seconds} seconds"
