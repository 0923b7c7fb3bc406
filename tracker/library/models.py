"""The readiness library: domains, failure patterns, readiness items and hub content."""

import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tracker.db import enum_column
from tracker.extensions import db


class Criticality(enum.StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    NORMAL = "normal"

    @property
    def weight(self) -> int:
        """Its weight in the readiness score (tracker.audits.vocabulary.WEIGHTS)."""
        from tracker.audits.vocabulary import WEIGHTS  # the vocabulary builds on the models

        return WEIGHTS[self]


class ContentKind(enum.StrEnum):
    INSIGHT = "insight"
    SCENARIO = "scenario"
    TEMPLATE = "template"
    TOOL = "tool"


item_failures = sa.Table(
    "item_failures",
    db.metadata,
    sa.Column("item_id", sa.ForeignKey("readiness_items.id"), primary_key=True),
    sa.Column("failure_id", sa.ForeignKey("failure_patterns.id"), primary_key=True),
)


class Domain(db.Model):
    __tablename__ = "domains"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(8), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    summary: Mapped[str] = mapped_column(sa.Text, default="")
    position: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)

    failures: Mapped[list["FailurePattern"]] = relationship(
        back_populates="domain", order_by="FailurePattern.code"
    )
    items: Mapped[list["ReadinessItem"]] = relationship(
        back_populates="domain", order_by="ReadinessItem.code"
    )
    content: Mapped[list["HubContent"]] = relationship(
        back_populates="domain", order_by="HubContent.code"
    )

    def __repr__(self) -> str:
        return f"<Domain {self.code}>"


class FailurePattern(db.Model):
    __tablename__ = "failure_patterns"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(16), unique=True)
    domain_id: Mapped[int] = mapped_column(sa.ForeignKey("domains.id"), index=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    symptom: Mapped[str] = mapped_column(sa.Text, default="")
    description: Mapped[str] = mapped_column(sa.Text, default="")
    pillar: Mapped[bool] = mapped_column(default=False)

    domain: Mapped[Domain] = relationship(back_populates="failures")
    items: Mapped[list["ReadinessItem"]] = relationship(
        secondary=item_failures, back_populates="failures", order_by="ReadinessItem.code"
    )


class ReadinessItem(db.Model):
    __tablename__ = "readiness_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(16), unique=True)
    domain_id: Mapped[int] = mapped_column(sa.ForeignKey("domains.id"), index=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    guidance: Mapped[str] = mapped_column(sa.Text, default="")
    evidence_hint: Mapped[str] = mapped_column(sa.Text, default="")
    criticality: Mapped[Criticality] = mapped_column(enum_column(Criticality, "criticality"))
    evidence_required: Mapped[bool] = mapped_column(default=True)
    active: Mapped[bool] = mapped_column(default=True)

    domain: Mapped[Domain] = relationship(back_populates="items")
    failures: Mapped[list[FailurePattern]] = relationship(
        secondary=item_failures, back_populates="items", order_by="FailurePattern.code"
    )


class HubContent(db.Model):
    """Insights, scenarios, templates and tools shown on a domain's hub page."""

    __tablename__ = "hub_content"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(16), unique=True)
    domain_id: Mapped[int] = mapped_column(sa.ForeignKey("domains.id"), index=True)
    kind: Mapped[ContentKind] = mapped_column(enum_column(ContentKind, "kind"))
    title: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text, default="")

    domain: Mapped[Domain] = relationship(back_populates="content")
