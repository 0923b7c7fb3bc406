"""Reporting a signal through the API: codes and ISO times in, the signals service's
report_signal out (one write path for the web and the API)."""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from tracker.auth.models import User
from tracker.db import utcnow
from tracker.extensions import db
from tracker.library.models import Domain, FailurePattern
from tracker.rules import RuleViolation
from tracker.signals import service as signals
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
    """Resolve the API's codes and times, then report through the signals service."""
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
    return signals.report_signal(actor, summary=summary, details=details or "", source=source,
                                 severity=severity, observed_at=_naive_utc(observed_at),
                                 failures=failures, domain=domain)
