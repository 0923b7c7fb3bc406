from datetime import timedelta

import pytest
import sqlalchemy as sa

from tracker.db import utcnow
from tracker.extensions import db
from tracker.library.models import Domain, FailurePattern
from tracker.signals import service


def failure(code: str) -> FailurePattern:
    return db.session.execute(
        sa.select(FailurePattern).where(FailurePattern.code == code)).scalar_one()


def domain(code: str) -> Domain:
    return db.session.execute(sa.select(Domain).where(Domain.code == code)).scalar_one()


@pytest.fixture
def report(people, library):
    """report(summary, failures=["DV-F1"], **overrides) through the service, committed."""
    def make(summary="14 tickets today: label purchase fails for PO-box addresses",
             failures=("DV-F1",), by="operator", **overrides):
        values = {"source": "support_ticket", "severity": "high",
                  "observed_at": utcnow() - timedelta(hours=1),
                  "failures": [failure(c) for c in failures], **overrides}
        signal = service.report_signal(people[by], summary=summary, **values)
        db.session.commit()
        return signal
    return make
