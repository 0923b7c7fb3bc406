"""The activity log's tables: every event, and the newest link of each chain."""

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.auth.models import User
from tracker.db import enum_column, utcnow
from tracker.extensions import db


class ActivityChainHead(db.Model):
    """The newest link of each activity chain; appending locks this row."""

    __tablename__ = "activity_chain_heads"

    chain: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    seq: Mapped[int] = mapped_column(default=0)
    hash: Mapped[str] = mapped_column(sa.String(64))


class ActivityEvent(db.Model):
    """Append-only: who changed what, before → after. Each chain ("audit:42", "library",
    "admin") is a hash chain: hash = SHA-256(prev_hash + canonical JSON of the row)."""

    __tablename__ = "activity_events"
    __table_args__ = (sa.UniqueConstraint("chain", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    chain: Mapped[str] = mapped_column(sa.String(40))
    seq: Mapped[int]
    # No index on audit_id: an audit's events are its chain (migration 0003_lean_indexes).
    audit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("audits.id"))
    audit_item_id: Mapped[int | None] = mapped_column(sa.ForeignKey("audit_items.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(sa.String(60))
    subject: Mapped[str] = mapped_column(sa.String(120), default="")
    before: Mapped[str | None] = mapped_column(sa.Text)  # canonical JSON
    after: Mapped[str | None] = mapped_column(sa.Text)  # canonical JSON
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64))

    actor: Mapped[User | None] = relationship()


class CheckpointReason(enum.StrEnum):
    SIGN_OFF = "sign-off"
    SCHEDULED = "scheduled"  # the daily job or cron
    MANUAL = "manual"  # `flask activity checkpoint` by hand


class Checkpoint(db.Model):
    """The organisation's signature over every chain's head at one moment: the signed file
    as exported (tracker/activity/checkpoints.py), kept so a report and a later
    `activity verify --against` can use it."""

    __tablename__ = "activity_checkpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    taken_at: Mapped[datetime] = mapped_column(default=utcnow)
    reason: Mapped[CheckpointReason] = mapped_column(
        enum_column(CheckpointReason, "checkpoint_reason"))
    # The audit whose sign-off took it: the checkpoint its report carries.
    audit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("audits.id"), index=True)
    chain_count: Mapped[int]
    statement_sha256: Mapped[str] = mapped_column(sa.String(64))
    document: Mapped[str] = mapped_column(sa.Text)
