"""Reporting a signal through the API.

A small service of the API's own, written against tracker/signals/models.py while the
signals feature (its pages and service) is built in parallel: when tracker/signals/service.py
lands, the API should call its function instead and this module goes away.
"""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from tracker.audits import activity
from tracker.audits.service import RuleViolation
from tracker.auth.models import User
from tracker.db import utcnow
from tracker.extensions import db
from tracker.library.models import Domain, FailurePattern
from tracker.signals.models import Severity, Signal, SignalSource


def _naive_utc(value: datetime | None) -> datetime:
    if value is None:
        return utcnow()
    if not 1900 <= value.year <= 2200:
        raise RuleViolation("Give observed_at as a time between 1900 and 2200.", "observed_at")
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    if value > utcnow() + timedelta(days=366):
        raise RuleViolation("observed_at is more than a year in the future; check the date.",
                            "observed_at")
    return value


def report_signal(actor: User, *, summary: str, details: str, source: SignalSource | str,
                  severity: Severity | str, observed_at: datetime | None = None,
                  domain_code: str | None = None, failure_codes=()) -> Signal:
    summary = (summary or "").strip()
    if not summary:
        raise RuleViolation("Say in a line what was seen.", "summary")
    domain = None
    if domain_code:
        domain = db.session.execute(
            sa.select(Domain).where(Domain.code == domain_code.upper())
        ).scalar_one_or_none()
        if domain is None:
            raise RuleViolation(f"There is no domain {domain_code}; GET /api/v1/domains lists "
                                "them.", "domain")
    codes = sorted({c.upper() for c in failure_codes})
    failures = db.session.execute(
        sa.select(FailurePattern).where(FailurePattern.code.in_(codes))
    ).scalars().all() if codes else []
    unknown = sorted(set(codes) - {f.code for f in failures})
    if unknown:
        raise RuleViolation(f"Unknown failure pattern code(s): {', '.join(unknown)}. The "
                            "library pages list them.", "failures")
    signal = Signal(summary=summary, details=(details or "").strip(), source=SignalSource(source),
                    severity=Severity(severity), observed_at=_naive_utc(observed_at),
                    domain=domain, reported_by=actor)
    signal.failures = list(failures)
    db.session.add(signal)
    db.session.flush()
    activity.record(actor, "signal.report", chain="signals", subject=summary[:120],
                    after={"id": signal.id, "severity": signal.severity.value,
                           "source": signal.source.value,
                           "domain": domain.code if domain else None, "failures": codes})
    return signal
