"""The demo's corrective actions: on last quarter's items not met (and the PO-box gap the
first signal points at), some overdue, one closed — and seeding again adds none."""

import sqlalchemy as sa

from tracker import clock
from tracker.actions import queries
from tracker.actions.models import ActionStatus, CorrectiveAction
from tracker.audits.models import AuditItem, ItemStatus
from tracker.demo import seed_demo_data
from tracker.extensions import db


def _actions() -> list[CorrectiveAction]:
    return db.session.execute(sa.select(CorrectiveAction).order_by(CorrectiveAction.id)
                              ).scalars().all()


def test_demo_actions_are_on_items_not_met_some_overdue_one_closed(app, demo_data):
    made = _actions()
    assert len(made) >= 5
    assert {a.audit_item.status for a in made} == {ItemStatus.NOT_MET}
    assert all(a.owner is not None and a.due_on is not None for a in made)
    today = clock.today()
    assert sum(queries.is_overdue(a, today) for a in made) >= 3
    (closed,) = [a for a in made if not a.is_open]
    assert closed.status == ActionStatus.DONE and closed.closing_note
    assert closed.created_at < closed.closed_at
    assert any(a.audit_item.code == "DV-02" for a in made)

    seed_demo_data(progress=lambda *_: None)
    db.session.commit()
    assert [a.id for a in _actions()] == [a.id for a in made]
    assert db.session.execute(sa.select(sa.func.count()).select_from(CorrectiveAction).join(
        AuditItem).where(AuditItem.status != ItemStatus.NOT_MET)).scalar_one() == 0
