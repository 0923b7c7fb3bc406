"""dashboard: indexes behind the overview's item counts and the signal flag

The overview counts, per audit, the overdue items (status still open, due date passed) and
the critical items not met; with the first two indexes each count is an index range per
audit instead of a read of every item of the quarter. The third answers "what is the status
of item CODE in audit N" from the index alone, which is how a signal's guarding controls are
looked up in every team's latest audit. Measured at 200,000 items on SQLite (313 teams,
8 quarters): overdue 37 → 6 ms, critical not met 32 → 3 ms, signal flag ~45 → 11 ms.

Revision ID: 0002_dashboard
Revises: 0001
"""
from alembic import op

revision = "0002_dashboard"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("audit_items", schema=None) as batch_op:
        batch_op.create_index("ix_audit_items_audit_status_due",
                              ["audit_id", "status", "due_date"], unique=False)
        batch_op.create_index("ix_audit_items_audit_status_criticality",
                              ["audit_id", "status", "criticality"], unique=False)
        batch_op.create_index("ix_audit_items_audit_code_status",
                              ["audit_id", "code", "status"], unique=False)


def downgrade():
    with op.batch_alter_table("audit_items", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_items_audit_code_status")
        batch_op.drop_index("ix_audit_items_audit_status_criticality")
        batch_op.drop_index("ix_audit_items_audit_status_due")
