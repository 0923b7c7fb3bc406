"""evidence that ages: each piece of evidence's effective date (when the thing was done), and
each readiness item's cadence (how long its evidence stays valid), snapshotted on audit items

Existing evidence is carried forward with its upload day, in the organisation's time zone
(TIMEZONE), as its effective date; existing items and audit items are quarterly, the default.

Revision ID: 0015_evidence_age
Revises: 0013_report_jobs
"""
from datetime import UTC
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op
from flask import current_app

revision = "0015_evidence_age"
down_revision = "0013_report_jobs"
branch_labels = None
depends_on = None

CADENCES = ("monthly", "quarterly", "yearly", "none")




def upgrade():
    # Plain ADD COLUMNs, with the CHECK written out (alembic leaves it out on SQLite): a
    # table copy on SQLite would drop the search index's triggers.
    allowed = ", ".join(f"'{c}'" for c in CADENCES)
    for table in ("readiness_items", "audit_items"):
        op.execute(f"ALTER TABLE {table} ADD COLUMN cadence VARCHAR(9) DEFAULT 'quarterly' "
                   f"NOT NULL CONSTRAINT ck_{table}_cadence CHECK (cadence IN ({allowed}))")

    conn = op.get_bind()
    sqlite = conn.dialect.name == "sqlite"
    # SQLite adds a NOT NULL column only with a constant default (every row is filled
    # below; the app always sets the date); PostgreSQL fills it first, then sets NOT NULL.
    op.add_column("evidence", sa.Column("effective_date", sa.Date(), nullable=not sqlite,
                                        server_default="1970-01-01" if sqlite else None))
    zone = ZoneInfo(current_app.config.get("TIMEZONE") or "UTC")
    evidence = sa.table("evidence", sa.column("id", sa.Integer),
                        sa.column("created_at", sa.DateTime),
                        sa.column("effective_date", sa.Date))
    rows = conn.execute(sa.select(evidence.c.id, evidence.c.created_at)).all()
    days = [{"eid": eid, "day": created.replace(tzinfo=UTC).astimezone(zone).date()}
            for eid, created in rows]
    if days:
        conn.execute(evidence.update().where(evidence.c.id == sa.bindparam("eid"))
                     .values(effective_date=sa.bindparam("day")), days)
    if not sqlite:
        op.alter_column("evidence", "effective_date", existing_type=sa.Date(), nullable=False)


def downgrade():
    op.drop_column("evidence", "effective_date")
    for table in ("audit_items", "readiness_items"):
        op.drop_column(table, "cadence")
