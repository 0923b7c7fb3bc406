"""How evidence ages: the one definition of when a piece of evidence expires, whether it
counts for an audit's period, and how its age reads on the pages and in the report.

Evidence is valid from its effective date (when the thing was done) until its item's
cadence has passed: a quarterly drill of 2026-03-02 expires on 2026-06-02 (valid until
2026-06-01). Cadence "none" never expires.

It counts for an audit of a quarter when it was still valid on some day of that quarter
or later: effective within the quarter, carried into it while valid, or done after the
quarter ended (a late audit's fresh evidence proves the control too). What does not count
is evidence that expired before the quarter began.

Only models are imported here, so any module can import this one.
"""

import calendar
from collections.abc import Iterable
from datetime import date, timedelta

from tracker.library.models import Cadence

MONTHS = {Cadence.MONTHLY: 1, Cadence.QUARTERLY: 3, Cadence.YEARLY: 12}


# --- quarters -----------------------------------------------------------------------------

def quarter_start(period: str) -> date:
    year, quarter = int(period[:4]), int(period[-1])
    return date(year, quarter * 3 - 2, 1)


def quarter_end(period: str) -> date:
    """The last day of the quarter (also the default due date of its audit)."""
    year, quarter = int(period[:4]), int(period[-1])
    first_of_next = date(year + (quarter == 4), 1 if quarter == 4 else quarter * 3 + 1, 1)
    return first_of_next - timedelta(days=1)


# --- validity ---------------------------------------------------------------------------

def add_months(day: date, months: int) -> date:
    """The same day `months` later; the month's last day when it is shorter (31 Jan + 1)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def expires_on(effective: date, cadence: Cadence | str) -> date | None:
    """The first day the evidence is no longer valid; None: it never expires."""
    months = MONTHS.get(Cadence(cadence))
    return None if months is None else add_months(effective, months)


def valid_until(effective: date, cadence: Cadence | str) -> date | None:
    """The last day the evidence is valid; None: it never expires."""
    end = expires_on(effective, cadence)
    return None if end is None else end - timedelta(days=1)


def counts_for(effective: date, cadence: Cadence | str, period: str) -> bool:
    """Whether evidence of `effective` supports "met" in an audit of `period`."""
    end = expires_on(effective, cadence)
    return end is None or end > quarter_start(period)


def is_expired(effective: date, cadence: Cadence | str, today: date) -> bool:
    end = expires_on(effective, cadence)
    return end is not None and end <= today


def future_message(effective: date, today: date) -> str | None:
    """Why an effective date cannot be accepted, or None."""
    if effective > today:
        return (f"The effective date {effective.isoformat()} is in the future. Enter the day "
                f"the thing was done: today ({today.isoformat()}) or earlier.")
    return None


# --- what the pages and the report say -------------------------------------------------

def age_text(effective: date, today: date) -> str:
    """ "today", "12 days old", "3 months old", "2 years old"."""
    days = (today - effective).days
    if days <= 0:
        return "today"
    months = (today.year - effective.year) * 12 + today.month - effective.month
    if today.day < effective.day:
        months -= 1
    if months < 1:
        return f"{days} day{'s' if days != 1 else ''} old"
    if months < 24:
        return f"{months} month{'s' if months != 1 else ''} old"
    return f"{months // 12} years old"


def validity_text(effective: date, cadence: Cadence | str, today: date) -> str:
    """ "valid until 2026-06-01", "expired on 2026-06-02" or "never expires"."""
    end = expires_on(effective, cadence)
    if end is None:
        return "never expires"
    if end <= today:
        return f"expired on {end.isoformat()}"
    return f"valid until {(end - timedelta(days=1)).isoformat()}"


def age_line(effective: date, cadence: Cadence | str, today: date) -> str:
    """ "3 months old · valid until 2026-06-01", "4 months old · expired on 2026-06-02"."""
    return f"{age_text(effective, today)} · {validity_text(effective, cadence, today)}"


def cadence_text(cadence: Cadence | str) -> str:
    """ "evidence valid for a quarter" (what the item page says of its cadence)."""
    return {Cadence.MONTHLY: "evidence valid for a month",
            Cadence.QUARTERLY: "evidence valid for a quarter",
            Cadence.YEARLY: "evidence valid for a year",
            Cadence.NONE: "evidence never expires"}[Cadence(cadence)]


def describe(evidence) -> str:
    """How one piece of evidence is named in a message: its file, link or note."""
    if evidence.filename:
        return evidence.filename
    if evidence.url:
        return evidence.url
    note = " ".join((evidence.note or "").split())
    return f"the note “{note[:40]}{'…' if len(note) > 40 else ''}”"


def met_refusal(code: str, cadence: Cadence | str, period: str,
                evidence: Iterable) -> str | None:
    """Why an item cannot be marked met in an audit of `period` with this evidence, or None
    when some piece counts (counts_for)."""
    evidence = list(evidence)
    if any(counts_for(e.effective_date, cadence, period) for e in evidence):
        return None
    if not evidence:
        return (f"{code} requires evidence before it can be marked met. Attach a file, a link "
                "or a note first.")
    newest = max(evidence, key=lambda e: (e.effective_date, e.id))
    return (f"The newest evidence, {describe(newest)} of {newest.effective_date.isoformat()}, "
            f"expired on {expires_on(newest.effective_date, cadence).isoformat()}; add "
            f"evidence from this quarter ({period}) or change the status.")
