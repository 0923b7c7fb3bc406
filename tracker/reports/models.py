"""Sign-offs and the signed reports they produce."""

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.audits.models import Audit
from tracker.auth.models import User
from tracker.db import enum_column, utcnow
from tracker.extensions import db


class Opinion(enum.StrEnum):
    """The auditor's overall judgement, printed on the report's cover."""
    READY = "ready"
    READY_WITH_EXCEPTIONS = "ready_with_exceptions"  # the exceptions: the items not met
    NOT_READY = "not_ready"


OPINION_LABELS = {Opinion.READY: "Ready", Opinion.READY_WITH_EXCEPTIONS: "Ready with exceptions",
                  Opinion.NOT_READY: "Not ready"}


class ReportStatus(enum.StrEnum):
    PENDING = "pending"
    READY = "ready"
    FAILED = "failed"


class SignOff(db.Model):
    __tablename__ = "sign_offs"

    id: Mapped[int] = mapped_column(primary_key=True)
    audit_id: Mapped[int] = mapped_column(sa.ForeignKey("audits.id"), unique=True)
    auditor_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    statement: Mapped[str] = mapped_column(sa.Text)
    # None only on sign-offs from before opinions: their canonical JSON has no sign_off key.
    opinion: Mapped[Opinion | None] = mapped_column(enum_column(Opinion, "opinion"))
    signed_at: Mapped[datetime] = mapped_column(default=utcnow)
    audit_sha256: Mapped[str] = mapped_column(sa.String(64))  # of the canonical JSON
    chain_seq: Mapped[int]
    chain_head: Mapped[str] = mapped_column(sa.String(64))
    report_status: Mapped[ReportStatus] = mapped_column(
        enum_column(ReportStatus, "report_status"), default=ReportStatus.PENDING
    )
    report_error: Mapped[str | None] = mapped_column(sa.Text)
    pdf_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    pdf_size: Mapped[int | None]
    # The report's attempts (tracker/reports/jobs.py): how many started, when the next may
    # start, and the one running now — whose claim a sweep takes back once it is too old.
    report_attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    report_due_at: Mapped[datetime | None] = mapped_column(default=utcnow)
    report_claimed_at: Mapped[datetime | None]
    report_claimed_by: Mapped[str | None] = mapped_column(sa.String(200))

    audit: Mapped[Audit] = relationship()
    auditor: Mapped[User] = relationship()
