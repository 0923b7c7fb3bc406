"""report jobs: each sign-off's report attempts (claimed, due, how many), and this deployment's
identity, which background jobs carry so a worker of another database never runs them

Plain ADD COLUMNs (no table rebuild), so SQLite keeps the rows that refer to sign-offs as they
are; a report still pending is due at once.

Revision ID: 0013_report_jobs
Revises: 0007_oidc
"""
import uuid

import sqlalchemy as sa
from alembic import op

revision = "0013_report_jobs"
down_revision = "0012_search"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("sign_offs", sa.Column("report_attempts", sa.Integer(), nullable=False,
                                         server_default="0"))
    op.add_column("sign_offs", sa.Column("report_due_at", sa.DateTime(), nullable=True))
    op.add_column("sign_offs", sa.Column("report_claimed_at", sa.DateTime(), nullable=True))
    op.add_column("sign_offs", sa.Column("report_claimed_by", sa.String(length=200),
                                         nullable=True))
    op.execute("UPDATE sign_offs SET report_due_at = signed_at WHERE report_status = 'pending'")
    deployment = op.create_table(
        "deployment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deployment")),
    )
    op.execute(deployment.insert().values(id=1, uid=uuid.uuid4().hex,
                                          created_at=sa.func.current_timestamp()))


def downgrade():
    op.drop_table("deployment")
    with op.batch_alter_table("sign_offs") as batch_op:
        batch_op.drop_column("report_claimed_by")
        batch_op.drop_column("report_claimed_at")
        batch_op.drop_column("report_due_at")
        batch_op.drop_column("report_attempts")
