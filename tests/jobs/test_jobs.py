"""Jobs against the real Redis at 127.0.0.1:6379 (skipped where none answers)."""

import uuid

import sqlalchemy as sa

from tracker import jobs
from tracker.activity import ActivityEvent, record
from tracker.extensions import db


def write_marker(marker: str) -> None:
    """A job: leaves a trace in the database."""
    record(None, "test.job", chain=f"test:{marker}", subject=marker)


def markers(marker):
    return db.session.execute(sa.select(sa.func.count(ActivityEvent.id))
                              .where(ActivityEvent.subject == marker)).scalar()


def test_without_redis_jobs_run_after_the_commit_never_inside_it(app):
    marker = uuid.uuid4().hex
    jobs.submit("tests.jobs.test_jobs.write_marker", marker)
    assert markers(marker) == 0  # not in the transaction that queued it
    db.session.commit()
    assert markers(marker) == 1


def test_a_savepoint_s_release_is_not_the_commit(app):
    """SQLAlchemy reports a released savepoint as a commit too: a job queued before it waits
    for the real commit (on SQLite it would otherwise wait for the write lock its own
    transaction holds)."""
    marker = uuid.uuid4().hex
    record(None, "test.write", chain=f"lock:{marker[:8]}", subject="lock")
    jobs.submit("tests.jobs.test_jobs.write_marker", marker)
    with db.session.begin_nested():
        db.session.flush()
    assert markers(marker) == 0
    db.session.commit()
    assert markers(marker) == 1


def test_with_redis_jobs_are_queued_after_commit_and_run_on_a_worker(redis_app):
    from rq import SimpleWorker

    marker = uuid.uuid4().hex
    jobs.submit("tests.jobs.test_jobs.write_marker", marker)
    assert jobs.queue().count == 0  # nothing queued before the commit
    db.session.commit()
    q = jobs.queue()
    assert q.count == 1 and markers(marker) == 0
    assert q.jobs[0].kwargs["deployment"] == jobs.deployment_uid()
    SimpleWorker([q], connection=q.connection).work(burst=True)
    db.session.expire_all()
    assert markers(marker) == 1


def test_a_rolled_back_transaction_queues_nothing(redis_app):
    jobs.submit("tests.jobs.test_jobs.write_marker", "never")
    db.session.rollback()
    db.session.commit()
    assert jobs.queue().count == 0


def test_a_job_of_another_deployment_is_refused_before_it_runs(redis_app):
    from rq import SimpleWorker

    marker = uuid.uuid4().hex
    q = jobs.queue()
    job = q.enqueue(jobs.run_job, "tests.jobs.test_jobs.write_marker", marker,
                    deployment="another-deployment")
    SimpleWorker([q], connection=q.connection).work(burst=True)
    job.refresh()
    assert job.get_status() == "failed" and markers(marker) == 0
    assert "WrongDeployment" in job.latest_result().exc_string


def test_the_deployment_is_the_database_s_own(app):
    uid = jobs.deployment_uid()
    assert len(uid) == 32
    assert db.session.execute(sa.select(jobs.Deployment.uid)).scalar_one() == uid
