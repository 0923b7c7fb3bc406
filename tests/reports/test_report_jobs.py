"""A signed report made in the background: on RQ (the real Redis, a real worker) with
retries, a failure that says why, a sweep for what was lost; never inside the sign-off's
transaction or request; and on SQLite no write lock held while it renders."""

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests import factories
from tests.reports.conftest import STATEMENT, pdfsig_verdict, work_audit
from tracker import jobs
from tracker.audits.service import accept_items
from tracker.db import utcnow
from tracker.extensions import db
from tracker.reports import jobs as report_jobs
from tracker.reports import service as reports
from tracker.reports.models import ReportStatus, SignOff

ROOT = Path(__file__).resolve().parents[2]


def fresh(signoff: SignOff) -> SignOff:
    db.session.rollback()
    db.session.expire_all()
    return db.session.get(SignOff, signoff.id)


def burst(q) -> None:
    from rq import SimpleWorker

    SimpleWorker([q], connection=q.connection).work(burst=True)


def page(client, audit) -> str:
    return client.get(f"/audits/{audit.id}").get_data(as_text=True)


def test_on_rq_the_report_is_made_by_the_worker_after_the_commit(redis_app, library, people,
                                                                 client, login_as):
    audit = work_audit(people)
    signoff = factories.sign_off(people["auditor"], audit, STATEMENT)
    db.session.commit()
    q = jobs.queue()
    assert fresh(signoff).report_status == ReportStatus.PENDING and q.count == 1
    login_as("lead")
    assert "being made" in page(client, audit)
    assert client.get(f"/audits/{audit.id}/report.pdf").status_code == 503
    burst(q)
    signoff = fresh(signoff)
    assert signoff.report_status == ReportStatus.READY, signoff.report_error
    assert signoff.report_attempts == 1 and signoff.report_claimed_at is None
    response = client.get(f"/audits/{audit.id}/report.pdf")
    assert response.status_code == 200
    path = reports.report_path(signoff)
    assert pdfsig_verdict(path) == "Signature is Valid."


def test_a_job_raising_outside_the_render_is_retried_then_fails_with_its_reason(
        redis_app, library, people, client, login_as, monkeypatch):
    redis_app.config.update(JOB_RETRIES=1, JOB_RETRY_SECONDS="0", REPORT_ATTEMPTS=2)
    real_claim = report_jobs.claim

    def broken_claim(signoff_id, runner):
        raise RuntimeError("the claim's connection went away")

    monkeypatch.setattr(report_jobs, "claim", broken_claim)
    audit = work_audit(people)
    signoff = factories.sign_off(people["auditor"], audit, STATEMENT)
    db.session.commit()
    q = jobs.queue()
    burst(q)  # the attempt, then RQ's retry at once (backoff 0): both fail
    signoff = fresh(signoff)
    assert signoff.report_status == ReportStatus.FAILED
    assert signoff.report_attempts == 2
    assert "RuntimeError: the claim's connection went away (attempt 2 of 2)" in \
        signoff.report_error
    login_as("operator")  # sees why, but may not retry
    text = page(client, audit)
    assert "failed: RuntimeError: the claim" in text and "Try again" not in text
    assert client.post(f"/audits/{audit.id}/report/retry").status_code == 403
    response = client.get(f"/audits/{audit.id}/report.pdf")
    assert response.status_code == 503 and "the claim&#39;s connection" in \
        response.get_data(as_text=True)

    monkeypatch.setattr(report_jobs, "claim", real_claim)
    login_as("lead")
    assert "Try again" in page(client, audit)
    response = client.post(f"/audits/{audit.id}/report/retry")
    assert response.status_code == 302
    assert fresh(signoff).report_status == ReportStatus.PENDING
    assert "being made" in page(client, audit)
    burst(q)
    signoff = fresh(signoff)
    assert signoff.report_status == ReportStatus.READY, signoff.report_error
    assert client.post(f"/audits/{audit.id}/report/retry").status_code == 409  # not failed


def test_a_render_failure_backs_off_before_the_next_attempt(redis_app, library, people,
                                                            monkeypatch):
    from rq.registry import ScheduledJobRegistry

    redis_app.config.update(JOB_RETRIES=2, JOB_RETRY_SECONDS="60,600", REPORT_ATTEMPTS=3)

    def full_disk(pdf):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(reports, "store_report", full_disk)
    audit = work_audit(people)
    signoff = factories.sign_off(people["auditor"], audit, STATEMENT)
    db.session.commit()
    q = jobs.queue()
    started = utcnow()
    burst(q)
    signoff = fresh(signoff)
    assert signoff.report_status == ReportStatus.PENDING  # waiting for its next attempt
    assert "Attempt 1 of 3 failed: OSError" in signoff.report_error
    assert signoff.report_claimed_at is None
    assert signoff.report_due_at >= started + timedelta(seconds=59)
    scheduled = ScheduledJobRegistry(queue=q)
    assert scheduled.get_job_ids() == [f"{jobs.deployment_uid()}-report-{signoff.id}"]


def test_a_worker_of_another_deployment_never_renders_the_report(redis_app, library, people):
    audit = work_audit(people)
    signoff = factories.sign_off(people["auditor"], audit, STATEMENT)
    db.session.commit()
    q = jobs.queue()
    # This worker's database says it is another deployment (another database with its own
    # sign-off of the same id would otherwise get a report made from the wrong audit).
    db.session.execute(sa.update(jobs.Deployment).values(uid="f" * 32))
    db.session.commit()
    redis_app.extensions.pop("tracker.deployment")
    burst(q)
    signoff = fresh(signoff)
    assert signoff.report_status == ReportStatus.PENDING
    assert signoff.report_attempts == 0 and signoff.report_error is None


def _worker_env(app, tmp_path) -> dict:
    config = app.config
    return {**os.environ, "DATABASE_URL": config["SQLALCHEMY_DATABASE_URI"],
            "REDIS_URL": config["REDIS_URL"], "RQ_QUEUE": config["RQ_QUEUE"],
            "REPORTS_DIR": config["REPORTS_DIR"], "EVIDENCE_DIR": config["EVIDENCE_DIR"],
            "SIGNING_KEY_PATH": config["SIGNING_KEY_PATH"],
            "SIGNING_CERT_PATH": config["SIGNING_CERT_PATH"], "SECRET_KEY": "test-secret",
            "INSTANCE_PATH": str(tmp_path), "JOB_RETRIES": "0", "REPORT_ATTEMPTS": "1"}


def _horse_of(worker: subprocess.Popen) -> int | None:
    children = Path(f"/proc/{worker.pid}/task/{worker.pid}/children")
    pids = children.read_text().split() if children.exists() else []
    return int(pids[0]) if pids else None


def test_a_killed_work_horse_fails_the_report_with_the_reason(redis_app, library, people,
                                                              client, login_as, tmp_path):
    """`flask worker` (a forking RQ worker): the work-horse killed mid-render."""
    audit = work_audit(people, domain_codes=("DV", "SUP", "FUL", "INV"))
    signoff = factories.sign_off(people["auditor"], audit, STATEMENT)
    db.session.commit()
    env = _worker_env(redis_app, tmp_path)
    flask = [sys.executable, "-m", "flask", "--app", "app", "worker", "--burst"]
    worker = subprocess.Popen(flask, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while fresh(signoff).report_claimed_at is None:  # the horse has claimed it
            assert worker.poll() is None and time.monotonic() < deadline, worker.stdout.read()
            time.sleep(0.02)
        horse = _horse_of(worker)
        assert horse is not None
        os.kill(horse, signal.SIGKILL)
        output = worker.communicate(timeout=60)[0]
    finally:
        if worker.poll() is None:
            worker.kill()
    signoff = fresh(signoff)
    assert signoff.report_status == ReportStatus.FAILED, output
    assert "stopped by signal 9" in signoff.report_error
    login_as("lead")
    assert "failed: The worker process running it stopped by signal 9" in page(client, audit)
    client.post(f"/audits/{audit.id}/report/retry")
    result = subprocess.run(flask, cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    signoff = fresh(signoff)
    assert signoff.report_status == ReportStatus.READY, result.stdout + result.stderr
    assert client.get(f"/audits/{audit.id}/report.pdf").status_code == 200


def _pending_since(signoff: SignOff, minutes: int, *, claimed: bool, attempts: int) -> None:
    long_ago = utcnow() - timedelta(minutes=minutes)
    db.session.execute(sa.update(SignOff).where(SignOff.id == signoff.id).values(
        report_status=ReportStatus.PENDING, report_due_at=long_ago, report_attempts=attempts,
        report_claimed_at=long_ago if claimed else None,
        report_claimed_by="host:123:tracker-jobs" if claimed else None, pdf_sha256=None))
    db.session.commit()


def test_the_sweep_makes_lost_reports_and_fails_those_out_of_attempts(app, library, people,
                                                                      runner):
    """Without Redis, `flask report sweep` renders what is due here."""
    app.config.update(REPORT_ATTEMPTS=2, REPORT_RENDER_LIMIT_SECONDS=600)
    first = factories.sign_off(people["auditor"], work_audit(people), STATEMENT)
    db.session.commit()
    second = factories.sign_off(people["auditor"], work_audit(people, period="2026-Q4"),
                              STATEMENT)
    db.session.commit()
    _pending_since(first, 30, claimed=True, attempts=1)  # its process died mid-render
    _pending_since(second, 30, claimed=True, attempts=2)  # ... and that was its last try
    result = runner.invoke(args=["report", "sweep"])
    assert result.exit_code == 0, result.output
    assert "1 queued again, 1 failed" in result.output
    first, second = fresh(first), fresh(second)
    assert first.report_status == ReportStatus.READY, first.report_error
    assert second.report_status == ReportStatus.FAILED
    assert "host:123:tracker-jobs did not finish within 10 minutes" in second.report_error


def test_on_rq_the_sweep_queues_a_lost_job_again(redis_app, library, people):
    signoff = factories.sign_off(people["auditor"], work_audit(people), STATEMENT)
    db.session.commit()
    q = jobs.queue()
    q.empty()  # Redis lost it
    _pending_since(signoff, 60, claimed=False, attempts=0)
    assert report_jobs.sweep_reports() == {"requeued": 1, "failed": 0, "queued": 0}
    db.session.commit()
    assert q.count == 1
    assert fresh(signoff).report_error.startswith("Attempt 1 of 3 failed: No worker started")
    burst(q)
    assert fresh(signoff).report_status == ReportStatus.READY


def test_the_periodic_sweep_is_on_rq_s_scheduler(redis_app):
    from rq.registry import ScheduledJobRegistry

    job = jobs.schedule_periodic()
    assert job.id == f"{jobs.deployment_uid()}-periodic"
    assert job.id in ScheduledJobRegistry(queue=jobs.queue()).get_job_ids()


# --- without Redis: the job thread ---------------------------------------------------------

@pytest.fixture
def job_thread(app):
    app.config.update(JOBS_THREAD=True, PERIODIC_SECONDS=3600)
    yield lambda: jobs.start_local_worker(app)
    jobs.stop_local_worker()


def wait_until(condition, seconds=90):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_the_job_thread_makes_the_report_outside_the_request(app, library, people, client,
                                                             login_as, job_thread,
                                                             monkeypatch):
    """The sign-off request answers while its report waits for a gate this test opens."""
    from tracker.reports import render

    gate = threading.Event()
    real = render.render_report_pdf

    def gated(*args, **kwargs):
        assert gate.wait(60), "the render was never let through"
        return real(*args, **kwargs)

    monkeypatch.setattr(render, "render_report_pdf", gated)
    worker = job_thread()
    audit = work_audit(people)
    db.session.commit()
    accept_items(people["auditor"], audit, [i.id for i in audit.items])
    db.session.commit()
    login_as("auditor")
    response = client.post(f"/audits/{audit.id}/sign-off",
                           data={"statement": STATEMENT, "opinion": "not_ready"})
    assert response.status_code == 302
    signoff = db.session.execute(sa.select(SignOff).where(SignOff.audit_id == audit.id)
                                 ).scalar_one()
    assert fresh(signoff).report_status == ReportStatus.PENDING
    assert "being made" in page(client, audit)
    gate.set()
    wait_until(lambda: fresh(signoff).report_status != ReportStatus.PENDING)
    assert fresh(signoff).report_status == ReportStatus.READY, signoff.report_error
    assert worker.is_alive()


def test_the_job_thread_recovers_pending_reports_at_start(app, library, people, job_thread):
    signoff = factories.sign_off(people["auditor"], work_audit(people), STATEMENT)
    db.session.info.pop(jobs._PENDING)  # the process stopped before it ran the job
    db.session.commit()
    assert fresh(signoff).report_status == ReportStatus.PENDING
    job_thread()  # a process starts: its thread sweeps first
    wait_until(lambda: fresh(signoff).report_status != ReportStatus.PENDING)
    assert fresh(signoff).report_status == ReportStatus.READY


def test_other_writes_go_on_while_a_report_renders(app, library, people, job_thread,
                                                   monkeypatch):
    """On SQLite, no write lock is held while rendering: another audit's save commits while
    the render waits for it."""
    from tracker.audits import service as audits
    from tracker.audits.models import AuditItem, ItemStatus
    from tracker.library.models import Domain
    from tracker.reports import render

    rendering, gate = threading.Event(), threading.Event()
    real = render.render_report_pdf

    def gated(*args, **kwargs):
        rendering.set()
        assert gate.wait(30), "the other write never finished"
        return real(*args, **kwargs)

    monkeypatch.setattr(render, "render_report_pdf", gated)
    domain = db.session.execute(sa.select(Domain).where(Domain.code == "DV")).scalar_one()
    other = audits.start_audit(people["outsider"], people["beta"], "2026-Q3", [domain])
    db.session.commit()
    job_thread()
    signoff = factories.sign_off(people["auditor"], work_audit(people), STATEMENT)
    db.session.commit()
    assert rendering.wait(60)
    item = db.session.execute(sa.select(AuditItem).where(AuditItem.audit_id == other.id)
                              .limit(1)).scalar_one()
    started = time.monotonic()
    audits.update_item(people["outsider"], item, expected_version=None,
                       status=ItemStatus.IN_PROGRESS)
    db.session.commit()
    took = time.monotonic() - started
    gate.set()
    assert took < 2, f"the write waited {took:.1f} s for the render"
    wait_until(lambda: fresh(signoff).report_status != ReportStatus.PENDING)
    assert fresh(signoff).report_status == ReportStatus.READY
