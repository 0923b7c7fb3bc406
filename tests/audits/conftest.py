"""Audit fixtures: Alpha's audits in each state, built through the services."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests import factories
from tests.seeded import seed
from tracker import clock
from tracker.audits import service
from tracker.audits.models import Audit, AuditItem, AuditState
from tracker.extensions import db
from tracker.library.models import Domain

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
       b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff"
       b"\x89\x99=\x1d\x00\x00\x00\x00IEND\xaeB`\x82")


def domains(*codes) -> list[Domain]:
    query = sa.select(Domain).where(Domain.active).order_by(Domain.position)
    if codes:
        query = query.where(Domain.code.in_(codes))
    return db.session.execute(query).scalars().all()


def move_to(audit: Audit, state: str, people) -> Audit:
    """Walk an audit through its lifecycle, as the lead and the outside auditor would."""
    state = AuditState(state)
    if state != AuditState.DRAFT:
        service.open_audit(people["lead"], audit)
    if state in (AuditState.IN_REVIEW, AuditState.SIGNED_OFF):
        factories.submit(people["lead"], audit)
    if state == AuditState.SIGNED_OFF:
        factories.sign_off(people["auditor"], audit, "Reviewed with the team.")
    db.session.flush()
    return audit


def new_audit(people, codes=("DV",), state="draft", period="2026-Q4", team="alpha") -> Audit:
    # Relative to today: a fixed date would make every item overdue once it has passed.
    audit = service.start_audit(people["lead"], people[team], period, domains(*codes),
                                due_date=clock.today() + timedelta(days=90))
    move_to(audit, state, people)
    db.session.commit()
    return audit


@pytest.fixture
def make_audit(people, library):
    def make(codes=("DV",), state="draft", period="2026-Q4", team="alpha") -> Audit:
        return new_audit(people, codes, state, period, team)
    return make


@seed(needs=["library", "people"], load=lambda audit_id: db.session.get(Audit, audit_id))
def audit():
    """Alpha's 2026-Q4 audit of Data & Visibility, in progress."""
    return new_audit(factories.load_people(), state="in_progress").id


def first_item(audit: Audit, **where) -> AuditItem:
    query = sa.select(AuditItem).where(AuditItem.audit_id == audit.id).order_by(AuditItem.code)
    for key, value in where.items():
        query = query.where(getattr(AuditItem, key) == value)
    return db.session.execute(query).scalars().first()
