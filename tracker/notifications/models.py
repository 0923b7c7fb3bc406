"""The inbox, the outbox and each person's choices."""

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.auth.models import User
from tracker.db import enum_column, utcnow
from tracker.extensions import db


class Channel(enum.StrEnum):
    """How a person hears of an event kind."""

    INBOX = "inbox"      # the inbox only
    EMAIL = "email"      # the inbox, and an e-mail at once
    DIGEST = "digest"    # the inbox, and the next morning's digest e-mail
    OFF = "off"          # nothing


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class Notification(db.Model):
    """An inbox entry. `key` names what it is about (event, subject, and the day for
    reminders): one per person and key, so nothing is told twice."""

    __tablename__ = "notifications"
    __table_args__ = (sa.UniqueConstraint("user_id", "key"),
                      sa.Index("ix_notifications_user_id_created_at", "user_id", "created_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(sa.String(40))
    key: Mapped[str] = mapped_column(sa.String(200))
    title: Mapped[str] = mapped_column(sa.String(300))
    body: Mapped[str] = mapped_column(sa.Text, default="")
    link: Mapped[str] = mapped_column(sa.String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()


class Outbox:
    """What every outbox row keeps, e-mail or webhook: written with the change that caused
    it, then tried (delivery.py) until sent or failed, each attempt counted with its error."""

    status: Mapped[DeliveryStatus] = mapped_column(
        enum_column(DeliveryStatus, "delivery_status"), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    due_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class Delivery(Outbox, db.Model):
    """An e-mail to send: `key` is unique, so a retried run never sends twice."""

    __tablename__ = "deliveries"
    __table_args__ = (sa.Index("ix_deliveries_status_due_at", "status", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(240), unique=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    recipient: Mapped[str] = mapped_column(sa.String(320))
    subject: Mapped[str] = mapped_column(sa.String(300))
    text: Mapped[str] = mapped_column(sa.Text)
    html: Mapped[str] = mapped_column(sa.Text)
    unsubscribe_url: Mapped[str | None] = mapped_column(sa.String(500))

    user: Mapped[User | None] = relationship()


class WebhookEndpoint(db.Model):
    """An admin's URL that receives the events of the kinds it subscribes to, signed with
    its own secret (the Standard Webhooks way)."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(sa.String(500))
    secret: Mapped[str] = mapped_column(sa.String(100))
    events: Mapped[list[str]] = mapped_column(sa.JSON)  # webhook event types (payloads.py)
    active: Mapped[bool] = mapped_column(default=True)
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    created_by: Mapped[User | None] = relationship()


class WebhookDelivery(Outbox, db.Model):
    """One event for one endpoint: (endpoint, key) is unique, so an event is sent once. The
    body is fixed when written; each attempt signs it with that attempt's timestamp."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (sa.UniqueConstraint("endpoint_id", "key"),
                      sa.Index("ix_webhook_deliveries_status_due_at", "status", "due_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(
        sa.ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(sa.String(240))
    event: Mapped[str] = mapped_column(sa.String(60))
    message_id: Mapped[str] = mapped_column(sa.String(40), unique=True)  # webhook-id
    payload: Mapped[str] = mapped_column(sa.Text)
    response_code: Mapped[int | None]

    endpoint: Mapped[WebhookEndpoint] = relationship()


class Preference(db.Model):
    """A person's choice for one event kind; without a row, the kind's default holds."""

    __tablename__ = "notification_preferences"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True)
    event: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    channel: Mapped[Channel] = mapped_column(enum_column(Channel, "notification_channel"))


class ReminderRun(db.Model):
    """The days the reminders ran (the morning run happens once a day)."""

    __tablename__ = "reminder_runs"

    day: Mapped[date] = mapped_column(primary_key=True)
    finished_at: Mapped[datetime] = mapped_column(default=utcnow)
