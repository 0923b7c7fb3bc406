"""Reporting, acknowledging and resolving signals: the rules, and the activity chain."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.signals.conftest import domain
from tracker.activity import ActivityEvent, verify_chain
from tracker.db import utcnow
from tracker.extensions import db
from tracker.rules import RuleViolation
from tracker.signals import service
from tracker.signals.models import Signal, SignalState


def events():
    return db.session.execute(
        sa.select(ActivityEvent.action).where(ActivityEvent.chain == "signals")
        .order_by(ActivityEvent.seq)).scalars().all()


def test_report_files_under_the_failure_domain_and_logs_it(report):
    signal = report(failures=("DV-F1", "DV-F3"))
    assert signal.state == SignalState.OPEN
    assert signal.domain.code == "DV"
    assert [f.code for f in signal.failures] == ["DV-F1", "DV-F3"]
    assert events() == ["signal.report"]
    assert verify_chain("signals") is None


def test_a_domain_alone_is_enough(report):
    signal = report(failures=(), domain=domain("SUP"))
    assert signal.domain.code == "SUP" and signal.failures == []


@pytest.mark.parametrize("overrides, field", [
    ({"summary": "   "}, "summary"),
    ({"summary": "x" * 301}, "summary"),
    ({"failures": ()}, "failures"),
    ({"observed_at": timedelta(hours=2)}, "observed_at"),
])
def test_report_refusals_name_the_field_and_change_nothing(report, overrides, field):
    # "Now" when the test runs, not at collection: hours into a long session it is the past.
    overrides = {k: utcnow() + v if isinstance(v, timedelta) else v for k, v in overrides.items()}
    with pytest.raises(RuleViolation) as exc:
        report(**overrides)
    db.session.rollback()
    assert exc.value.field == field
    assert db.session.execute(sa.select(sa.func.count(Signal.id))).scalar_one() == 0
    assert events() == []


def test_acknowledge_then_resolve(report, people):
    signal = report()
    with pytest.raises(RuleViolation, match="Write a note"):
        service.acknowledge(people["lead"], signal, "  ")
    db.session.rollback()
    service.acknowledge(people["lead"], signal, "Looking at the carrier rules now.")
    db.session.commit()
    assert signal.state == SignalState.ACKNOWLEDGED and signal.acknowledged_by == people["lead"]
    with pytest.raises(RuleViolation, match="already acknowledged"):
        service.acknowledge(people["auditor"], signal, "me too")
    db.session.rollback()
    service.resolve(people["auditor"], signal, "PO boxes now blocked at checkout.")
    db.session.commit()
    assert signal.state == SignalState.RESOLVED
    assert signal.acknowledged_by == people["lead"]  # kept from the acknowledgement
    assert signal.resolution_note == "PO boxes now blocked at checkout."
    for action in (service.acknowledge, service.resolve):
        with pytest.raises(RuleViolation, match="resolved"):
            action(people["lead"], signal, "again")
        db.session.rollback()
    assert events() == ["signal.report", "signal.acknowledge", "signal.resolve"]
    assert verify_chain("signals") is None


def test_resolving_an_open_signal_acknowledges_it_at_the_same_time(report, people):
    signal = report()
    service.resolve(people["lead"], signal, "False alarm: a test order.")
    db.session.commit()
    assert signal.acknowledged_at == signal.resolved_at
    assert signal.acknowledged_by == people["lead"] and signal.acknowledgement_note is None

