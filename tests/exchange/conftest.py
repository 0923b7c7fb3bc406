from pathlib import Path

import pytest
import sqlalchemy as sa

from tracker.extensions import db
from tracker.library.models import Domain, FailurePattern, HubContent, ReadinessItem, item_failures

FIXTURES = Path(__file__).parent / "fixtures"


def library_counts() -> tuple:
    return tuple(db.session.execute(sa.select(sa.func.count()).select_from(m)).scalar()
                 for m in (Domain, FailurePattern, ReadinessItem, HubContent))


@pytest.fixture
def wipe_library(app):
    """Empty the library, as a fresh database would have it (no audits refer to it here)."""
    def wipe():
        for table in (item_failures, ReadinessItem.__table__, FailurePattern.__table__,
                      HubContent.__table__, Domain.__table__):
            db.session.execute(sa.delete(table))
        db.session.commit()
        assert library_counts() == (0, 0, 0, 0)
    return wipe


@pytest.fixture
def mini_catalog() -> bytes:
    return (FIXTURES / "mini-catalog.json").read_bytes()
