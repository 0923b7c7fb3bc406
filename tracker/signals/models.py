"""Frontline signals: what support and operators saw, tied to the failures it points to."""

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.auth.models import User
from tracker.db import enum_column, utcnow
from tracker.extensions import db
from tracker.library.models import Domain, FailurePattern


class SignalSource(enum.StrEnum):
    SUPPORT_TICKET = "support_ticket"
    CUSTOMER_COMPLAINT = "customer_complaint"
    MONITORING_ALERT = "monitoring_alert"
    OPERATOR_OBSERVATION = "operator_observation"


class Severity(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class SignalState(enum.StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


signal_failures = sa.Table(
    "signal_failures",
    db.metadata,
    sa.Column("signal_id", sa.ForeignKey("signals.id"), primary_key=True),
    sa.Column("failure_id", sa.ForeignKey("failure_patterns.id"), primary_key=True),
)


class Signal(db.Model):
    __tablename__ = "signals"

    id: Mapped[int] = mapped_column(primary_key=True)
    summary: Mapped[str] = mapped_column(sa.String(300))
    details: Mapped[str] = mapped_column(sa.Text, default="")
    source: Mapped[SignalSource] = mapped_column(enum_column(SignalSource, "source"))
    severity: Mapped[Severity] = mapped_column(enum_column(Severity, "severity"))
    observed_at: Mapped[datetime]
    domain_id: Mapped[int | None] = mapped_column(sa.ForeignKey("domains.id"), index=True)
    state: Mapped[SignalState] = mapped_column(
        enum_column(SignalState, "state"), default=SignalState.OPEN, index=True
    )
    reported_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    resolved_at: Mapped[datetime | None]
    resolved_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    acknowledgement_note: Mapped[str | None] = mapped_column(sa.Text)
    resolution_note: Mapped[str | None] = mapped_column(sa.Text)

    domain: Mapped[Domain | None] = relationship()
    failures: Mapped[list[FailurePattern]] = relationship(
        secondary=signal_failures, order_by=FailurePattern.code
    )
    reported_by: Mapped[User] = relationship(foreign_keys=[reported_by_id])
    acknowledged_by: Mapped[User | None] = relationship(foreign_keys=[acknowledged_by_id])
    resolved_by: Mapped[User | None] = relationship(foreign_keys=[resolved_by_id])
