"""the auditor's opinion on a sign-off: ready, ready with exceptions, or not ready

Earlier sign-offs keep no opinion (NULL): what they signed did not have one.

Revision ID: 0017_sign_off_opinion
Revises: 0016_notifications
"""
from alembic import op

revision = "0017_sign_off_opinion"
down_revision = "0016_notifications"
branch_labels = None
depends_on = None

OPINIONS = ("ready", "ready_with_exceptions", "not_ready")


def upgrade():
    # A plain ADD COLUMN with its CHECK written out (alembic leaves it out on SQLite).
    allowed = ", ".join(f"'{o}'" for o in OPINIONS)
    op.execute("ALTER TABLE sign_offs ADD COLUMN opinion VARCHAR(21) CONSTRAINT "
               f"ck_sign_offs_opinion CHECK (opinion IN ({allowed}))")


def downgrade():
    op.drop_column("sign_offs", "opinion")
