"""What day it is for the organisation. Due dates, "overdue", "due soon" and the current
quarter are calendar dates in its time zone (TIMEZONE, an IANA name; default UTC), the same
on every app process and worker whatever each machine's own clock zone is. Timestamps stay
naive UTC (tracker.db.utcnow)."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app

DEFAULT_ZONE = "UTC"


def today() -> date:
    return now().astimezone(ZoneInfo(current_app.config["TIMEZONE"])).date()


def local_date(moment: datetime) -> date:
    """The organisation's calendar day of a naive UTC timestamp."""
    return moment.replace(tzinfo=UTC).astimezone(ZoneInfo(current_app.config["TIMEZONE"])).date()


def now() -> datetime:
    """The current instant, aware (UTC)."""
    return datetime.now(UTC)


def check_zone(name: str) -> str:
    """`name` if it names a time zone; otherwise a ValueError that says what to set."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"TIMEZONE={name!r} is not a time zone this machine knows. Use an "
                         "IANA name such as Europe/Berlin, America/New_York or UTC.") from None
    return name
