"""The schema comes from the migrations; they must agree with the models exactly."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from tracker.extensions import db


def test_models_and_migrations_agree(app):
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
    assert diff == [], f"models differ from migrations: {diff}"


def test_activity_log_is_append_only_in_the_database(app, people):
    import pytest
    import sqlalchemy as sa

    from tracker.activity import ActivityEvent

    event_id = db.session.execute(sa.select(ActivityEvent.id).limit(1)).scalar_one()
    for statement in (sa.update(ActivityEvent).where(ActivityEvent.id == event_id)
                      .values(action="forged"),
                      sa.delete(ActivityEvent).where(ActivityEvent.id == event_id)):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            db.session.execute(statement)
        db.session.rollback()
