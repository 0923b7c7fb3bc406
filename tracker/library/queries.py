"""Library reads: each page's data in a fixed number of queries."""

import sqlalchemy as sa
from flask import abort
from sqlalchemy.orm import selectinload

from tracker.extensions import db
from tracker.library.models import Domain, FailurePattern, HubContent, ReadinessItem


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
    ).all()


def domain_hub_or_404(code: str) -> Domain:
    domain = db.session.execute(
        sa.select(Domain).where(Domain.code == code.upper())
        .options(
            selectinload(Domain.failures).selectinload(FailurePattern.items),
            selectinload(Domain.items).selectinload(ReadinessItem.failures),
            selectinload(Domain.content),
        )
    ).scalar_one_or_none()
    if domain is None:
        abort(404)
    return domain


def item_or_404(code: str) -> ReadinessItem:
    item = db.session.execute(
        sa.select(ReadinessItem).where(ReadinessItem.code == code.upper())
        .options(selectinload(ReadinessItem.failures), selectinload(ReadinessItem.domain))
    ).scalar_one_or_none()
    if item is None:
        abort(404)
    return item


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
