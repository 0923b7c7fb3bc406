"""Signal writes: report, acknowledge, resolve. Each takes the acting user first, checks the
rules, records an event on the "signals" activity chain, flushes and never commits."""

from collections.abc import Iterable
from datetime import datetime, timedelta

from tracker import activity
from tracker.auth.models import User
from tracker.db import utcnow
from tracker.extensions import db
from tracker.library.models import Domain, FailurePattern
from tracker.rules import RuleViolation
from tracker.signals.models import Severity, Signal, SignalSource, SignalState

CHAIN = "signals"
MAX_NOTE = 10_000
# A clock a few minutes ahead on the reporter's machine is not a signal from the future.
CLOCK_SLACK = timedelta(minutes=10)


def _subject(signal: Signal) -> str:
    return f"Signal #{signal.id}: {signal.summary}"[:120]


def _note(text: str | None, what: str) -> str:
    text = (text or "").strip()
    if not text:
        raise RuleViolation(f"Write a note: {what}", "note")
    if len(text) > MAX_NOTE:
        raise RuleViolation(f"Keep the note under {MAX_NOTE:,} characters.", "note")
    return text


def report_signal(actor: User, *, summary: str, source: SignalSource | str,
                  severity: Severity | str, observed_at: datetime,
                  failures: Iterable[FailurePattern] = (), domain: Domain | None = None,
                  details: str = "", now: datetime | None = None) -> Signal:
    """Log what was seen. It must point somewhere — at least one failure pattern or a
    domain — so it can be tied to the controls that guard against it. Without a domain, it
    files under the domain of its first failure pattern."""
    now = now or utcnow()
    summary = " ".join((summary or "").split())
    if not summary:
        raise RuleViolation("Say what was seen, for example “14 tickets today: label purchase "
                            "fails for PO-box addresses”.", "summary")
    if len(summary) > 300:
        raise RuleViolation("Keep the summary under 300 characters; put the rest in the "
                            "details.", "summary")
    if observed_at is None:
        raise RuleViolation("Enter when it was seen.", "observed_at")
    if observed_at > now + CLOCK_SLACK:
        raise RuleViolation("That time is in the future. Enter when it was seen (UTC).",
                            "observed_at")
    failures = sorted(set(failures), key=lambda f: (f.domain.position, f.code))
    if not failures and domain is None:
        raise RuleViolation("Choose the failure pattern it looks like, or at least the domain, "
                            "so it can be tied to the controls that should prevent it.",
                            "failures")
    signal = Signal(summary=summary, details=(details or "").strip(),
                    source=SignalSource(source), severity=Severity(severity),
                    observed_at=observed_at, domain=domain or failures[0].domain,
                    state=SignalState.OPEN, reported_by_id=actor.id, created_at=now)
    signal.failures = failures
    db.session.add(signal)
    db.session.flush()
    activity.record(actor, "signal.report", chain=CHAIN, subject=_subject(signal), after={
        "signal_id": signal.id, "summary": signal.summary, "source": signal.source.value,
        "severity": signal.severity.value, "observed_at": observed_at.isoformat(),
        "domain": signal.domain.code, "failures": [f.code for f in failures],
    })
    return signal


def acknowledge(actor: User, signal: Signal, note: str, *, now: datetime | None = None) -> None:
    """Someone has seen it and owns the follow-up."""
    if signal.state == SignalState.RESOLVED:
        raise RuleViolation("This signal is already resolved; report a new signal if the "
                            "problem is back.")
    if signal.state == SignalState.ACKNOWLEDGED:
        raise RuleViolation(f"{signal.acknowledged_by.name} already acknowledged this signal. "
                            "Resolve it when the problem is fixed.")
    note = _note(note, "who is looking into it and what happens next.")
    signal.state = SignalState.ACKNOWLEDGED
    signal.acknowledged_at = now or utcnow()
    signal.acknowledged_by_id = actor.id
    signal.acknowledgement_note = note
    db.session.flush()
    db.session.expire(signal, ["acknowledged_by"])
    activity.record(actor, "signal.acknowledge", chain=CHAIN, subject=_subject(signal),
                    before={"state": "open"}, after={"state": "acknowledged", "note": note,
                                                      "signal_id": signal.id})


def resolve(actor: User, signal: Signal, note: str, *, now: datetime | None = None) -> None:
    """Closed with what was done. Resolving an unacknowledged signal acknowledges it at the
    same moment, so the time-to-acknowledge figure counts it as handled then."""
    if signal.state == SignalState.RESOLVED:
        raise RuleViolation(f"{signal.resolved_by.name} already resolved this signal.")
    note = _note(note, "what was done about it, or why no action is needed.")
    now = now or utcnow()
    before = signal.state.value
    if signal.acknowledged_at is None:
        signal.acknowledged_at, signal.acknowledged_by_id = now, actor.id
    signal.state = SignalState.RESOLVED
    signal.resolved_at = now
    signal.resolved_by_id = actor.id
    signal.resolution_note = note
    db.session.flush()
    db.session.expire(signal, ["acknowledged_by", "resolved_by"])
    activity.record(actor, "signal.resolve", chain=CHAIN, subject=_subject(signal),
                    before={"state": before}, after={"state": "resolved", "note": note,
                                                      "signal_id": signal.id})
