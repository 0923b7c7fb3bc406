"""The readiness library: domains, failure patterns, readiness items and hub content."""

import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

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


class Cadence(enum.StrEnum):
    """How often a readiness item's evidence must be renewed (tracker/audits/validity.py)."""
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    YEARLY = "yearly"
    NONE = "none"  # evidence never expires


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


SEED_SOURCE = "seed"  # the key of the library `flask seed library` loads from seeds/


class SourceKind(enum.StrEnum):
    SEED = "seed"        # seeds/library and the YAML/CSV/XLSX files that replace it
    FILE = "file"        # a library file that declares its own namespace
    CATALOG = "catalog"  # an imported OSCAL catalog


class LibrarySource(db.Model):
    """Where library content comes from: the seed library, each imported catalog, each
    library file's declared namespace. Codes are unique within a source, and an import
    writes into one source only, so a second catalog never takes over another's items."""

    __tablename__ = "library_sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(80), unique=True)
    title: Mapped[str] = mapped_column(sa.String(250))
    kind: Mapped[SourceKind] = mapped_column(enum_column(SourceKind, "source_kind"))

    @property
    def url_key(self) -> str | None:
        """The `source` query argument of library pages; none for the seed library."""
        return None if self.key == SEED_SOURCE else self.key

    def __repr__(self) -> str:
        return f"<LibrarySource {self.key}>"


class Domain(db.Model):
    __tablename__ = "domains"
    __table_args__ = (sa.UniqueConstraint("source_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(sa.ForeignKey("library_sources.id"))
    code: Mapped[str] = mapped_column(sa.String(8))
    name: Mapped[str] = mapped_column(sa.String(120))
    summary: Mapped[str] = mapped_column(sa.Text, default="")
    position: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)

    failures: Mapped[list["FailurePattern"]] = relationship(
        back_populates="domain", order_by="FailurePattern.code"
    )
    items: Mapped[list["ReadinessItem"]] = relationship(
        back_populates="domain",
        order_by=lambda: (ReadinessItem.sort_key, ReadinessItem.code),
    )
    content: Mapped[list["HubContent"]] = relationship(
        back_populates="domain", order_by="HubContent.code"
    )
    source: Mapped[LibrarySource] = relationship()

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
    __table_args__ = (sa.UniqueConstraint("source_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Always its domain's source (set on flush): codes are unique within a source.
    source_id: Mapped[int] = mapped_column(sa.ForeignKey("library_sources.id"))
    code: Mapped[str] = mapped_column(sa.String(16))
    # A catalog's sort-id (ac-02.01), so AC-2 comes before AC-10; empty: by code.
    sort_key: Mapped[str] = mapped_column(sa.String(40), default="", server_default="")
    domain_id: Mapped[int] = mapped_column(sa.ForeignKey("domains.id"), index=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    guidance: Mapped[str] = mapped_column(sa.Text, default="")
    evidence_hint: Mapped[str] = mapped_column(sa.Text, default="")
    criticality: Mapped[Criticality] = mapped_column(enum_column(Criticality, "criticality"))
    evidence_required: Mapped[bool] = mapped_column(default=True)
    cadence: Mapped[Cadence] = mapped_column(enum_column(Cadence, "cadence"),
                                             default=Cadence.QUARTERLY,
                                             server_default=Cadence.QUARTERLY.value)
    active: Mapped[bool] = mapped_column(default=True)

    domain: Mapped[Domain] = relationship(back_populates="items")
    source: Mapped[LibrarySource] = relationship()
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


def seed_source(session) -> LibrarySource:
    """The seed library's source, created on first use (a fresh or emptied database)."""
    source = session.execute(
        sa.select(LibrarySource).where(LibrarySource.key == SEED_SOURCE)).scalar_one_or_none()
    if source is None:
        with session.no_autoflush:
            source = LibrarySource(key=SEED_SOURCE, title="Readiness library",
                                   kind=SourceKind.SEED)
            session.add(source)
    return source


@sa.event.listens_for(Session, "before_flush")
def _items_belong_to_their_domains_source(session, _context, _instances):
    """A domain created without a source is the seed library's; an item always belongs to
    its domain's source, so no write can put an item in one source and its domain in
    another."""
    for obj in list(session.new) + list(session.dirty):
        if isinstance(obj, Domain) and obj.source is None and obj.source_id is None:
            obj.source = seed_source(session)
    for obj in list(session.new) + list(session.dirty):
        if isinstance(obj, ReadinessItem) and obj.domain is not None:
            if obj.domain.source is None and obj.domain.source_id is not None:
                obj.source_id = obj.domain.source_id
            else:
                obj.source = obj.domain.source
