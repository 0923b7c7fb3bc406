"""oidc: the identity provider's subject of each person who signed in with single sign-on

A plain ADD COLUMN and a unique index (not a table rebuild), so SQLite keeps the rows that
refer to users as they are. NULL for accounts that never used SSO; unique otherwise.

Revision ID: 0007_oidc
Revises: 0005_checkpoints
"""
import sqlalchemy as sa
from alembic import op

revision = "0007_oidc"
down_revision = "0005_checkpoints"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("users", sa.Column("oidc_subject", sa.String(length=255), nullable=True))
    op.create_index("ix_users_oidc_subject", "users", ["oidc_subject"], unique=True)


def downgrade():
    op.drop_index("ix_users_oidc_subject", table_name="users")
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("oidc_subject")
