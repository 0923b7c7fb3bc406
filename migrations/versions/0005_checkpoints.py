"""checkpoints: the organisation's signatures over every activity chain's head

Revision ID: 0005_checkpoints
Revises: 0004_library_sources
"""
import sqlalchemy as sa
from alembic import op

revision = "0005_checkpoints"
down_revision = "0004_library_sources"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "activity_checkpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("taken_at", sa.DateTime(), nullable=False),
        sa.Column("reason", sa.Enum("sign-off", "scheduled", "manual", name="checkpoint_reason",
                                    native_enum=False, create_constraint=True, length=9),
                  nullable=False),
        sa.Column("audit_id", sa.Integer(), nullable=True),
        sa.Column("chain_count", sa.Integer(), nullable=False),
        sa.Column("statement_sha256", sa.String(length=64), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["audit_id"], ["audits.id"],
                                name=op.f("fk_activity_checkpoints_audit_id_audits")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activity_checkpoints")),
    )
    with op.batch_alter_table("activity_checkpoints") as batch:
        batch.create_index(batch.f("ix_activity_checkpoints_audit_id"), ["audit_id"],
                           unique=False)


def downgrade():
    with op.batch_alter_table("activity_checkpoints") as batch:
        batch.drop_index(batch.f("ix_activity_checkpoints_audit_id"))
    op.drop_table("activity_checkpoints")
