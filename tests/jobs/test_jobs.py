"""Jobs against the real Redis at 127.0.0.1:6379 (skipped where none answers)."""

import uuid

import pytest
import sqlalchemy as sa

from tracker import jobs
from tracker.activity import ActivityEvent, record
from tracker.extensions import db

REDIS = "redis://127.0.0.1:6379/15"


def write_marker(marker: str) -> None:
    """A job: leaves a trace in the database."""
    record(None, "test.job", chain=f"test:{marker}", subject=marker)


def markers(marker):
    return db.session.execute(sa.select(sa.func.count(ActivityEvent.id))
                              .where(ActivityEvent.subject == marker)).scalar()


@pytest.fixture
def redis_app(app):
    from redis import Redis
    from redis.exceptions import ConnectionError

    try:
        Redis.from_url(REDIS).ping()
    except ConnectionError:
        pytest.skip("no Redis at 127.0.0.1:6379")
    app.config["REDIS_URL"] = REDIS
    jobs.queue().empty()
    yield app
    jobs.queue().empty()
    app.config["REDIS_URL"] = None


def test_without_redis_jobs_run_inline(app):
    marker = uuid.uuid4().hex
    jobs.submit("tests.jobs.test_jobs.write_marker", marker)
    assert markers(marker) == 1


def test_with_redis_jobs_are_queued_after_commit_and_run_on_a_worker(redis_app):
    from rq import SimpleWorker

    marker = uuid.uuid4().hex
    jobs.submit("tests.jobs.test_jobs.write_marker", marker)
    assert jobs.queue().count == 0  # nothing queued before the commit
    db.session.commit()
    assert jobs.queue().count == 1 and markers(marker) == 0
    q = jobs.queue()
    SimpleWorker([q], connection=q.connection).work(burst=True)
    db.session.expire_all()
    assert markers(marker) == 1


def test_a_rolled_back_transaction_queues_nothing(redis_app):
    jobs.submit("tests.jobs.test_jobs.write_marker", "never")
    db.session.rollback()
    db.session.commit()
    assert jobs.queue().count == 0
