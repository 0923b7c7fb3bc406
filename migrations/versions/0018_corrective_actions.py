"""corrective actions: the fix for an item not met, which outlives its audit's sign-off

Revision ID: 0018_corrective_actions
Revises: 0017_sign_off_opinion
"""
import sqlalchemy as sa
from alembic import op

revision = "0018_corrective_actions"
down_revision = "0017_sign_off_opinion"
branch_labels = None
depends_on = None


def _enum(name, *values):
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True,
                   length=max(len(v) for v in values))


def upgrade():
    op.create_table(
        "corrective_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("audit_item_id", sa.Integer(), nullable=True),
        sa.Column("readiness_item_id", sa.Integer(), nullable=True),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("priority", _enum("priority", "low", "medium", "high"), nullable=False),
        sa.Column("status", _enum("status", "open", "in_progress", "done", "wont_do"),
                  nullable=False),
        sa.Column("closing_note", sa.Text(), nullable=True),
        sa.Column("wont_do_reason", sa.Text(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["audit_item_id"], ["audit_items.id"],
                                name=op.f("fk_corrective_actions_audit_item_id_audit_items")),
        sa.ForeignKeyConstraint(
            ["readiness_item_id"], ["readiness_items.id"],
            name=op.f("fk_corrective_actions_readiness_item_id_readiness_items")),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"],
                                name=op.f("fk_corrective_actions_team_id_teams")),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"],
                                name=op.f("fk_corrective_actions_owner_id_users")),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"],
                                name=op.f("fk_corrective_actions_created_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_corrective_actions")),
    )
    op.create_index("ix_corrective_actions_audit_item_id", "corrective_actions",
                    ["audit_item_id"])
    op.create_index("ix_corrective_actions_owner_status", "corrective_actions",
                    ["owner_id", "status"])
    op.create_index("ix_corrective_actions_team_item_status", "corrective_actions",
                    ["team_id", "readiness_item_id", "status"])


def downgrade():
    op.drop_table("corrective_actions")
