"""Library reads: each page's data in a fixed number of queries."""

import sqlalchemy as sa
from flask import abort
from sqlalchemy.orm import selectinload

from tracker.extensions import db
from tracker.library.models import (
    SEED_SOURCE,
    Domain,
    FailurePattern,
    HubContent,
    LibrarySource,
    ReadinessItem,
)


class SeveralSources(Exception):
    """A code used in more than one source, asked for without saying which: the page lists
    them to choose from."""

    def __init__(self, code: str, found: list):
        super().__init__(code)
        self.code, self.found = code, found


def _one(stmt, model, code: str, source: str | None):
    """The entry with this code in `source` (a source key), or the only one, or 404; several
    without a `source` raise SeveralSources."""
    if source:
        stmt = stmt.where(model.source_id.in_(
            sa.select(LibrarySource.id).where(LibrarySource.key == source)))
    found = db.session.execute(stmt.options(selectinload(model.source))).scalars().all()
    if not found:
        abort(404)
    if len(found) > 1:
        raise SeveralSources(code.upper(), sorted(
            found, key=lambda x: (x.source.key != SEED_SOURCE, x.source.title)))
    return found[0]


def domains_with_counts():
    """Every active domain with its count of active items and failure patterns."""
    items = (sa.select(sa.func.count(ReadinessItem.id))
             .where(ReadinessItem.domain_id == Domain.id, ReadinessItem.active)
             .scalar_subquery())
    failures = (sa.select(sa.func.count(FailurePattern.id))
                .where(FailurePattern.domain_id == Domain.id).scalar_subquery())
    return db.session.execute(
        sa.select(Domain, items.label("items"), failures.label("failures"))
        .where(Domain.active).order_by(Domain.position, Domain.code)
        .options(selectinload(Domain.source))
    ).all()


def domain_hub_or_404(code: str, source: str | None = None) -> Domain:
    return _one(sa.select(Domain).where(Domain.code == code.upper()).options(
        selectinload(Domain.failures).selectinload(FailurePattern.items),
        selectinload(Domain.items).selectinload(ReadinessItem.failures),
        selectinload(Domain.content),
    ), Domain, code, source)


def item_or_404(code: str, source: str | None = None) -> ReadinessItem:
    return _one(sa.select(ReadinessItem).where(ReadinessItem.code == code.upper()).options(
        selectinload(ReadinessItem.failures),
        selectinload(ReadinessItem.domain).selectinload(Domain.source),
    ), ReadinessItem, code, source)


def failure_or_404(code: str) -> FailurePattern:
    failure = db.session.execute(
        sa.select(FailurePattern).where(FailurePattern.code == code.upper())
        .options(selectinload(FailurePattern.items), selectinload(FailurePattern.domain))
    ).scalar_one_or_none()
    if failure is None:
        abort(404)
    return failure


def content_or_404(code: str) -> HubContent:
    return db.session.execute(
        sa.select(HubContent).where(HubContent.code == code.upper())
        .options(selectinload(HubContent.domain))
    ).scalar_one_or_none() or abort(404)
