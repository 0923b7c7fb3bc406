"""The schema comes from the migrations; they must agree with the models exactly."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from tracker.extensions import db
from tracker.search.schema import include_object


def test_models_and_migrations_agree(app):
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True,
                                                         "include_object": include_object})
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


def test_library_sources_migration_keeps_a_populated_library(tmp_path):
    """0004 on a database that has a library and an audit of it: every domain and item ends
    up in the seed library's source, and SQLite's table copies keep every foreign key."""
    import sqlalchemy as sa
    from flask_migrate import downgrade, upgrade

    from tests.conftest import ROOT, base_config
    from tracker import create_app

    app = create_app(base_config(tmp_path, f"sqlite:///{tmp_path}/populated.db"))
    migrations = str(ROOT / "migrations")
    with app.app_context():
        upgrade(directory=migrations, revision="0003_lean_indexes")
        with db.engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO domains (code, name, summary, position, active) "
                                 "VALUES ('DV', 'Data', '', 1, true)"))
            conn.execute(sa.text(
                "INSERT INTO readiness_items (code, domain_id, title, guidance, evidence_hint, "
                "criticality, evidence_required, active) VALUES ('DV-01', (SELECT id FROM "
                "domains), 'Checked', '', '', 'high', true, true)"))
            conn.execute(sa.text(
                "INSERT INTO failure_patterns (code, domain_id, title, symptom, description, "
                "pillar) VALUES ('DV-F1', (SELECT id FROM domains), 'F', '', '', false)"))
        upgrade(directory=migrations)
        with db.engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT s.key, d.source_id = i.source_id FROM readiness_items i "
                "JOIN domains d ON d.id = i.domain_id "
                "JOIN library_sources s ON s.id = i.source_id")).all()
            assert rows == [("seed", 1)]
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
        downgrade(directory=migrations, revision="0003_lean_indexes")
        upgrade(directory=migrations)
        db.engine.dispose()
