"""Audits, their snapshotted items, evidence, comments and tallies."""

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.auth.models import Team, User
from tracker.db import enum_column, utcnow
from tracker.extensions import db
from tracker.library.models import Cadence, Criticality, Domain, ReadinessItem


class AuditState(enum.StrEnum):
    DRAFT = "draft"
    IN_PROGRESS = "in_progress"
    IN_REVIEW = "in_review"
    SIGNED_OFF = "signed_off"


class ItemStatus(enum.StrEnum):
    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    BLOCKED = "blocked"
    MET = "met"
    NOT_MET = "not_met"
    NOT_APPLICABLE = "not_applicable"

    @property
    def label(self) -> str:
        return STATUS_LABELS[self]


STATUS_LABELS = {
    ItemStatus.NOT_STARTED: "Not started",
    ItemStatus.IN_PROGRESS: "In progress",
    ItemStatus.BLOCKED: "Blocked",
    ItemStatus.MET: "Met",
    ItemStatus.NOT_MET: "Not met",
    ItemStatus.NOT_APPLICABLE: "N/A",
}


class Verdict(enum.StrEnum):
    ACCEPTED = "accepted"
    NEEDS_REWORK = "needs_rework"


class EvidenceKind(enum.StrEnum):
    FILE = "file"
    URL = "url"
    NOTE = "note"


audit_domains = sa.Table(
    "audit_domains",
    db.metadata,
    sa.Column("audit_id", sa.ForeignKey("audits.id"), primary_key=True),
    sa.Column("domain_id", sa.ForeignKey("domains.id"), primary_key=True),
)


class Audit(db.Model):
    __tablename__ = "audits"
    __table_args__ = (
        sa.UniqueConstraint("team_id", "period"),
        sa.CheckConstraint("period LIKE '____-Q_'", name="period_format"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(sa.ForeignKey("teams.id"), index=True)
    period: Mapped[str] = mapped_column(sa.String(7))  # "2026-Q4"
    state: Mapped[AuditState] = mapped_column(
        enum_column(AuditState, "state"), default=AuditState.DRAFT, index=True
    )
    lead_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    due_date: Mapped[date | None]
    previous_audit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("audits.id"))
    return_reason: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[datetime | None]
    signed_off_at: Mapped[datetime | None]

    team: Mapped[Team] = relationship()
    lead: Mapped[User | None] = relationship()
    domains: Mapped[list[Domain]] = relationship(secondary=audit_domains, order_by=Domain.position)
    items: Mapped[list["AuditItem"]] = relationship(
        back_populates="audit", order_by="AuditItem.code"
    )
    tallies: Mapped[list["AuditDomainTally"]] = relationship(back_populates="audit")

    @property
    def is_frozen(self) -> bool:
        return self.state == AuditState.SIGNED_OFF

    @property
    def is_editable(self) -> bool:
        """Items can be worked only while the audit is a draft or in progress."""
        return self.state in (AuditState.DRAFT, AuditState.IN_PROGRESS)

    def __repr__(self) -> str:
        return f"<Audit {self.id} team={self.team_id} {self.period} {self.state}>"


class AuditItem(db.Model):
    """A readiness item as it stood when the audit started, and its work in this audit."""

    __tablename__ = "audit_items"
    __table_args__ = (
        sa.UniqueConstraint("audit_id", "code"),
        sa.Index("ix_audit_items_owner_status", "owner_id", "status"),
        # The dashboard's per-audit counts (overdue, critical not met) and the signal flag's
        # status lookups by code, from the index alone: migrations 0002_dashboard and
        # 0003_lean_indexes. (A lookup by audit alone uses the unique constraint's prefix.)
        sa.Index("ix_audit_items_audit_status_due_criticality", "audit_id", "status",
                 "due_date", "criticality"),
        sa.Index("ix_audit_items_audit_code_status", "audit_id", "code", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    audit_id: Mapped[int] = mapped_column(sa.ForeignKey("audits.id"))
    readiness_item_id: Mapped[int | None] = mapped_column(sa.ForeignKey("readiness_items.id"))
    domain_id: Mapped[int] = mapped_column(sa.ForeignKey("domains.id"), index=True)
    # Snapshot of the library item: a later library edit never rewrites a past audit.
    code: Mapped[str] = mapped_column(sa.String(16))
    title: Mapped[str] = mapped_column(sa.String(200))
    guidance: Mapped[str] = mapped_column(sa.Text, default="")
    evidence_hint: Mapped[str] = mapped_column(sa.Text, default="")
    criticality: Mapped[Criticality] = mapped_column(enum_column(Criticality, "criticality"))
    evidence_required: Mapped[bool] = mapped_column(default=True)
    cadence: Mapped[Cadence] = mapped_column(enum_column(Cadence, "cadence"),
                                             default=Cadence.QUARTERLY,
                                             server_default=Cadence.QUARTERLY.value)
    # The work.
    status: Mapped[ItemStatus] = mapped_column(
        enum_column(ItemStatus, "status"), default=ItemStatus.NOT_STARTED
    )
    owner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    due_date: Mapped[date | None]
    justification: Mapped[str | None] = mapped_column(sa.Text)
    verdict: Mapped[Verdict | None] = mapped_column(enum_column(Verdict, "verdict"))
    verdict_note: Mapped[str | None] = mapped_column(sa.Text)
    updated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Optimistic concurrency: UPDATE ... WHERE version = :seen, a stale write matches no row.
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    audit: Mapped[Audit] = relationship(back_populates="items")
    domain: Mapped[Domain] = relationship()
    readiness_item: Mapped[ReadinessItem | None] = relationship()
    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])
    updated_by: Mapped[User | None] = relationship(foreign_keys=[updated_by_id])
    evidence: Mapped[list["Evidence"]] = relationship(
        back_populates="audit_item", order_by="Evidence.id"
    )
    comments: Mapped[list["Comment"]] = relationship(
        back_populates="audit_item", order_by="Comment.id"
    )

    @property
    def weight(self) -> int:
        return self.criticality.weight


class AuditDomainTally(db.Model):
    """Per-audit, per-domain counts kept by the services that change items, in the same
    transaction, so dashboards read a few rows instead of counting every item."""

    __tablename__ = "audit_domain_tallies"

    audit_id: Mapped[int] = mapped_column(sa.ForeignKey("audits.id"), primary_key=True)
    domain_id: Mapped[int] = mapped_column(sa.ForeignKey("domains.id"), primary_key=True)
    not_started: Mapped[int] = mapped_column(default=0)
    in_progress: Mapped[int] = mapped_column(default=0)
    blocked: Mapped[int] = mapped_column(default=0)
    met: Mapped[int] = mapped_column(default=0)
    not_met: Mapped[int] = mapped_column(default=0)
    not_applicable: Mapped[int] = mapped_column(default=0)
    # Score inputs: weights of met items, and of every item that is not not_applicable.
    weight_met: Mapped[int] = mapped_column(default=0)
    weight_applicable: Mapped[int] = mapped_column(default=0)

    audit: Mapped[Audit] = relationship(back_populates="tallies")
    domain: Mapped[Domain] = relationship()

    @property
    def total(self) -> int:
        return sum(getattr(self, s.value) for s in ItemStatus)


class Evidence(db.Model):
    __tablename__ = "evidence"

    id: Mapped[int] = mapped_column(primary_key=True)
    audit_item_id: Mapped[int] = mapped_column(sa.ForeignKey("audit_items.id"), index=True)
    kind: Mapped[EvidenceKind] = mapped_column(enum_column(EvidenceKind, "kind"))
    filename: Mapped[str | None] = mapped_column(sa.String(255))  # original name, display only
    content_type: Mapped[str | None] = mapped_column(sa.String(100))
    size: Mapped[int | None]
    sha256: Mapped[str] = mapped_column(sa.String(64))
    url: Mapped[str | None] = mapped_column(sa.String(2048))
    note: Mapped[str | None] = mapped_column(sa.Text)
    # When the thing was done (the upload day unless told): what its age and validity run
    # from (tracker/audits/validity.py).
    effective_date: Mapped[date]
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    audit_item: Mapped[AuditItem] = relationship(back_populates="evidence")
    created_by: Mapped[User] = relationship()


class Comment(db.Model):
    __tablename__ = "comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    audit_item_id: Mapped[int] = mapped_column(sa.ForeignKey("audit_items.id"), index=True)
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    audit_item: Mapped[AuditItem] = relationship(back_populates="comments")
    author: Mapped[User] = relationship()
