"""Corrective action fixtures: Alpha's 2026-Q3 audit signed off with an open action on an
item not met, and the 2026-Q4 audit started from it."""

from datetime import timedelta

import sqlalchemy as sa

from tests import factories
from tests.seeded import seed
from tracker import clock
from tracker.actions.models import CorrectiveAction
from tracker.actions.service import close_action, create_action
from tracker.audits import service as audits
from tracker.audits.models import AuditItem
from tracker.extensions import db
from tracker.library.models import Domain


def item_of(audit_id: int, code: str) -> AuditItem:
    return db.session.execute(sa.select(AuditItem).where(
        AuditItem.audit_id == audit_id, AuditItem.code == code)).scalar_one()


def _two_quarters() -> dict:
    people = factories.load_people()
    dv = db.session.execute(sa.select(Domain).where(Domain.code == "DV")).scalars().all()
    q3 = audits.start_audit(people["lead"], people["alpha"], "2026-Q3", dv,
                            due_date=clock.today() + timedelta(days=30))
    audits.open_audit(people["lead"], q3)
    first = q3.items[0]
    audits.update_item(people["lead"], first, expected_version=None, owner=people["operator"])
    factories.submit(people["lead"], q3)  # everything still open becomes not met
    open_action = create_action(people["lead"], title=f"{first.code} fix the gap",
                                audit_item=first, owner=people["operator"],
                                due_on=clock.today() + timedelta(days=10))
    closed = create_action(people["lead"], title=f"{first.code} an earlier fix",
                           audit_item=first, owner=people["operator"])
    factories.sign_off(people["auditor"], q3, "Reviewed with the team.")
    q4 = audits.start_next_quarter(people["lead"], q3,
                                   due_date=clock.today() + timedelta(days=90))
    db.session.commit()
    return {"q3": q3.id, "q4": q4.id, "code": first.code, "open_action": open_action.id,
            "closed_action": closed.id}


@seed(needs=["library", "people"])
def actions_two_quarters():
    """Alpha 2026-Q3 signed off, an open and a closed action on its first item (not met);
    2026-Q4 started from it."""
    keys = _two_quarters()
    people = factories.load_people()
    close_action(people["operator"], db.session.get(CorrectiveAction, keys["closed_action"]),
                 outcome="done", note="Validation added, see PR 412.")
    db.session.commit()
    return keys


