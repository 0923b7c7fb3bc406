"""Corrective actions: the fix for an item that is not met or needs rework. An action
outlives its audit's sign-off, so it points at the library item too: the next quarter's
audit of the same team shows it on the same item."""

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.audits.models import AuditItem
from tracker.auth.models import Team, User
from tracker.db import enum_column, utcnow
from tracker.extensions import db
from tracker.library.models import ReadinessItem


class Priority(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class ActionStatus(enum.StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    WONT_DO = "wont_do"

    @property
    def label(self) -> str:
        return ACTION_STATUS_LABELS[self]

    @property
    def is_open(self) -> bool:
        return self in OPEN_ACTION_STATUSES


ACTION_STATUS_LABELS = {
    ActionStatus.OPEN: "Open",
    ActionStatus.IN_PROGRESS: "In progress",
    ActionStatus.DONE: "Done",
    ActionStatus.WONT_DO: "Won’t do",
}
OPEN_ACTION_STATUSES = (ActionStatus.OPEN, ActionStatus.IN_PROGRESS)
PRIORITY_LABELS = {Priority.LOW: "Low", Priority.MEDIUM: "Medium", Priority.HIGH: "High"}


class CorrectiveAction(db.Model):
    __tablename__ = "corrective_actions"
    __table_args__ = (
        # My actions (an owner's open ones) and a team's open actions on a library item.
        sa.Index("ix_corrective_actions_owner_status", "owner_id", "status"),
        sa.Index("ix_corrective_actions_team_item_status", "team_id", "readiness_item_id",
                 "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    # Where it comes from: an audit item (NULL for one made by hand) and its library item.
    audit_item_id: Mapped[int | None] = mapped_column(sa.ForeignKey("audit_items.id"),
                                                      index=True)
    readiness_item_id: Mapped[int | None] = mapped_column(sa.ForeignKey("readiness_items.id"))
    team_id: Mapped[int] = mapped_column(sa.ForeignKey("teams.id"))
    owner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    due_on: Mapped[date | None]
    priority: Mapped[Priority] = mapped_column(enum_column(Priority, "priority"),
                                               default=Priority.MEDIUM)
    status: Mapped[ActionStatus] = mapped_column(enum_column(ActionStatus, "status"),
                                                 default=ActionStatus.OPEN)
    closing_note: Mapped[str | None] = mapped_column(sa.Text)
    wont_do_reason: Mapped[str | None] = mapped_column(sa.Text)
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]

    audit_item: Mapped[AuditItem | None] = relationship()
    readiness_item: Mapped[ReadinessItem | None] = relationship()
    team: Mapped[Team] = relationship()
    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])
    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id])

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_ACTION_STATUSES
