"""The schema comes from the migrations; they must agree with the models exactly."""

import pytest
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


def test_evidence_age_migration_carries_existing_evidence_forward(tmp_path):
    """0015 on a database with evidence uploaded before it: each piece gets its upload day
    in the organisation's time zone as its effective date; items and audit items are
    quarterly. On the suite's database (SQLite, or PostgreSQL with TEST_DATABASE_URL)."""
    import uuid
    from datetime import date, datetime

    import sqlalchemy as sa
    from flask_migrate import downgrade, upgrade

    from tests import factories
    from tests.conftest import PG_URL, ROOT, base_config
    from tracker import create_app
    from tracker.audits import service
    from tracker.audits.models import AuditItem
    from tracker.library.models import Domain, ReadinessItem

    admin, name = None, f"rt_mig_{uuid.uuid4().hex[:8]}"
    if PG_URL:
        admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = sa.engine.make_url(PG_URL).set(database=name).render_as_string(
            hide_password=False)
    else:
        url = f"sqlite:///{tmp_path}/aged.db"
    app = create_app({**base_config(tmp_path, url), "TIMEZONE": "Australia/Sydney"})
    migrations = str(ROOT / "migrations")
    try:
        with app.app_context():
            upgrade(directory=migrations)
            people = factories.make_people()
            domain = Domain(code="DV", name="Data", position=1)
            db.session.add(ReadinessItem(code="DV-01", domain=domain, title="Checked",
                                         criticality="high"))
            db.session.flush()
            service.start_audit(people["lead"], people["alpha"], "2026-Q3", [domain])
            item = db.session.execute(sa.select(AuditItem)).scalar_one()
            evidence = service.add_evidence(people["operator"], item, note="Checked.")
            db.session.commit()
            downgrade(directory=migrations, revision="0013_report_jobs")
            with db.engine.begin() as conn:  # uploaded at 23:30 UTC: the next day in Sydney
                conn.execute(sa.text("UPDATE evidence SET created_at = :at"),
                             {"at": datetime(2026, 8, 14, 23, 30)})
            upgrade(directory=migrations)
            with db.engine.connect() as conn:
                assert conn.execute(sa.text("SELECT effective_date FROM evidence WHERE id = "
                                            ":id"), {"id": evidence.id}).scalar_one() in (
                    date(2026, 8, 15), "2026-08-15")
                assert conn.execute(sa.text("SELECT cadence FROM audit_items")).scalars().all() \
                    == ["quarterly"]
                assert conn.execute(sa.text("SELECT cadence FROM readiness_items")
                                    ).scalar_one() == "quarterly"
                if not PG_URL:
                    assert conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
                with pytest.raises(sa.exc.IntegrityError):  # the CHECK holds on both
                    conn.execute(sa.text("UPDATE audit_items SET cadence = 'weekly'"))
            db.session.remove()
            db.engine.dispose()
    finally:
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
