"""Two people changing one audit at the same moment: every state change locks the audit's
row and checks the state it expects under that lock (audits.service.lock_audit), so the
second sees what the first committed and is refused — or, where both may happen, runs after
it. Each pair of transitions that can race runs with the first holding its transaction open
while the second starts; on both databases (PostgreSQL: row locks; SQLite: its one writer).
"""

import threading

import pytest
import sqlalchemy as sa

from tests import factories
from tracker.audits import service
from tracker.audits.models import Audit, AuditDomainTally, AuditItem, AuditState, ItemStatus
from tracker.auth.models import User
from tracker.extensions import db
from tracker.reports.models import SignOff
from tracker.rules import Conflict, ItemsLeft

HOLD_SECONDS = 0.5  # how long the second waits, blocked, while the first holds its lock


def race(app, first, second) -> dict:
    """Run `first` up to its flush and hold its transaction; start `second` meanwhile; then
    let `first` commit. Returns each outcome ("ok" or the exception) and whether `second`
    was still waiting while `first` held its lock."""
    held, release, outcome = threading.Event(), threading.Event(), {}

    def run(name, action, hold):
        with app.app_context():
            try:
                action()
                db.session.flush()
                if hold:
                    held.set()
                    release.wait(30)
                db.session.commit()
                outcome[name] = "ok"
            except Exception as exc:  # noqa: BLE001 — the test reads it
                db.session.rollback()
                outcome[name] = exc
            finally:
                held.set()
                db.session.remove()

    db.session.commit()  # the test's own session holds nothing
    one = threading.Thread(target=run, args=("first", first, True))
    one.start()
    assert held.wait(30)
    two = threading.Thread(target=run, args=("second", second, False))
    two.start()
    two.join(HOLD_SECONDS)
    outcome["second_waited"] = two.is_alive()
    release.set()
    one.join(60)
    two.join(60)
    db.session.expire_all()
    return outcome


def _user(person) -> User:
    return db.session.get(User, person.id)


def _audit(audit_id) -> Audit:
    return db.session.get(Audit, audit_id)


def _sign_off(audit_id, people):
    return lambda: factories.sign_off(_user(people["auditor"]), _audit(audit_id), "Reviewed.")


def _return(audit_id, people):
    return lambda: service.return_audit(_user(people["auditor"]), _audit(audit_id),
                                        "Attach the drill notes.")


def _submit(audit_id, people):
    return lambda: service.submit_for_review(_user(people["lead"]), _audit(audit_id))


def _assessed_audit(make_audit, people):
    """An audit in progress with every item assessed (not met): ready to submit."""
    audit = make_audit(state="in_progress")
    service.mark_rest_not_met(people["lead"], audit, "Not done in time.")
    db.session.commit()
    return audit


def _save(item_id, version, people, status=ItemStatus.BLOCKED):
    def save():
        item = db.session.get(AuditItem, item_id)
        service.update_item(_user(people["operator"]), item, expected_version=version,
                            status=status)
    return save


def _signoffs(audit_id) -> int:
    return db.session.execute(sa.select(sa.func.count(SignOff.id))
                              .where(SignOff.audit_id == audit_id)).scalar_one()


@pytest.mark.parametrize("order", ["return first", "sign-off first"])
def test_return_and_sign_off_at_once_leave_one_outcome(app, make_audit, people, order):
    audit_id = make_audit(state="in_review").id
    actions = [_return(audit_id, people), _sign_off(audit_id, people)]
    if order == "sign-off first":
        actions.reverse()
    outcome = race(app, *actions)
    assert outcome["first"] == "ok", outcome
    assert isinstance(outcome["second"], Conflict), outcome
    assert "in review" in outcome["second"].message
    audit = _audit(audit_id)
    if order == "return first":
        assert audit.state == AuditState.IN_PROGRESS and _signoffs(audit_id) == 0
    else:
        assert audit.state == AuditState.SIGNED_OFF and _signoffs(audit_id) == 1


def test_two_sign_offs_at_once_make_one(app, make_audit, people):
    audit_id = make_audit(state="in_review").id
    outcome = race(app, _sign_off(audit_id, people), _sign_off(audit_id, people))
    assert outcome["first"] == "ok" and isinstance(outcome["second"], Conflict), outcome
    assert _audit(audit_id).state == AuditState.SIGNED_OFF and _signoffs(audit_id) == 1


def test_an_item_save_while_a_submit_is_in_flight_is_refused(app, make_audit, people):
    audit = _assessed_audit(make_audit, people)
    item = db.session.execute(sa.select(AuditItem).where(AuditItem.audit_id == audit.id)
                              .order_by(AuditItem.code)).scalars().first()
    item_id, version, audit_id = item.id, item.version, audit.id
    outcome = race(app, _submit(audit_id, people), _save(item_id, version, people))
    assert outcome["first"] == "ok", outcome
    assert isinstance(outcome["second"], Conflict) and "in review" in outcome["second"].message
    assert outcome["second_waited"]
    item = db.session.get(AuditItem, item_id)
    assert item.status == ItemStatus.NOT_MET and item.version == version
    assert _audit(audit_id).state == AuditState.IN_REVIEW


def test_a_submit_while_an_item_save_is_in_flight_waits_and_sees_it(app, make_audit, people):
    """The submit checks its rule (every item assessed) under the lock, after the save: the
    item the save reopened is the one it names."""
    audit = _assessed_audit(make_audit, people)
    item = db.session.execute(sa.select(AuditItem).where(AuditItem.audit_id == audit.id)
                              .order_by(AuditItem.code)).scalars().first()
    item_id, version, audit_id = item.id, item.version, audit.id
    outcome = race(app, _save(item_id, version, people), _submit(audit_id, people))
    assert outcome["first"] == "ok", outcome
    assert outcome["second_waited"]  # it never submitted over a save in progress
    assert isinstance(outcome["second"], ItemsLeft), outcome
    assert [i.id for i in outcome["second"].items] == [item_id]
    assert db.session.get(AuditItem, item_id).status == ItemStatus.BLOCKED
    assert _audit(audit_id).state == AuditState.IN_PROGRESS


@pytest.mark.parametrize("order", ["bulk first", "single first"])
def test_a_bulk_change_and_a_single_save_of_one_item_never_both_win(app, make_audit, people,
                                                                    order):
    audit = make_audit(state="in_progress")
    items = db.session.execute(sa.select(AuditItem).where(AuditItem.audit_id == audit.id)
                               .order_by(AuditItem.id)).scalars().all()[:3]
    ids, audit_id = [i.id for i in items], audit.id
    version = items[0].version

    def bulk():
        service.bulk_update(_user(people["lead"]), _audit(audit_id), ids,
                            status=ItemStatus.IN_PROGRESS)

    single = _save(ids[0], version, people, status=ItemStatus.BLOCKED)
    outcome = race(app, *((bulk, single) if order == "bulk first" else (single, bulk)))
    assert outcome["first"] == "ok", outcome
    first_item = db.session.get(AuditItem, ids[0])
    if order == "bulk first":  # the single save was made from the version before the bulk
        assert isinstance(outcome["second"], service.StaleItem), outcome
        assert first_item.status == ItemStatus.IN_PROGRESS and first_item.version == version + 1
    else:  # the bulk change waits, then applies to the item as saved
        assert outcome["second"] == "ok", outcome
        assert first_item.status == ItemStatus.IN_PROGRESS and first_item.version == version + 2
    in_progress = db.session.execute(sa.select(sa.func.sum(AuditDomainTally.in_progress))
                                     .where(AuditDomainTally.audit_id == audit_id)).scalar()
    assert in_progress == 3  # the tallies moved once per change that landed
