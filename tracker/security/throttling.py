"""Sign-in throttling (ASVS 5, V6.3) that cannot lock a known user out.

Failed sign-ins are counted three ways, in the storage Flask-Limiter is configured with
(Redis when REDIS_URL is set, so every worker and machine shares the counts; otherwise each
process's memory):

- per client address, whatever account it tries (SIGN_IN_LIMIT_PER_ADDRESS);
- per account *and* address (SIGN_IN_LIMIT_PER_ACCOUNT_ADDRESS);
- per account, from every address (the last hour), which only narrows the per-account-and-
  address budget of the addresses still trying: past SIGN_IN_ACCOUNT_SLOW_AFTER failures it
  is halved, and halved again for each further as many, down to one attempt — never zero.

So an address is refused (429, Retry-After, a message that says when to try again) only
once it has failed itself: a correct password from an address that has not failed is always
checked and signs the person in, however many others are guessing at their account. Those
others are slowed gradually — each new address gets fewer wrong guesses — and the account's
owner is told once a day, when the account-wide failures first pass the threshold
(tracker.mail.notify_account). Only failures count; a throttled attempt is refused before
the password is checked.
"""

import functools
import hashlib
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from flask import Flask, current_app, request
from flask_limiter import Limiter, RateLimitExceeded
from flask_limiter.util import get_remote_address
from limits import RateLimitItem, parse, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

log = logging.getLogger("tracker")

DEFAULTS = {
    "RATELIMIT_ENABLED": True,
    # A moving window: a burst at the turn of a minute does not get double the attempts.
    "RATELIMIT_STRATEGY": "moving-window",
    "RATELIMIT_KEY_PREFIX": "rt",
    "RATELIMIT_HEADERS_ENABLED": False,
    "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
    # Higher: colleagues behind one office NAT share an address.
    "SIGN_IN_LIMIT_PER_ADDRESS": "20 per minute; 100 per hour",
    "SIGN_IN_LIMIT_PER_ACCOUNT_ADDRESS": "5 per minute; 20 per hour",
    # Failures on one account in an hour, from all addresses, before its budget narrows and
    # its owner is told.
    "SIGN_IN_ACCOUNT_SLOW_AFTER": 10,
}

ADDRESS_REFUSED = "Too many failed sign-in attempts from your network address."
PAIR_REFUSED = "Too many failed sign-in attempts for this account from your network address."

# Flask-Limiter holds the storage configuration (and is there for any route that wants a
# plain rate limit); sign-in counts go through its strategy directly.
limiter = Limiter(key_func=get_remote_address)
_ACCOUNT_WINDOW = parse("1000000 per hour")  # a counter: only its count is read
_NOTICE_ONCE = parse("1 per day")
_local = MovingWindowRateLimiter(MemoryStorage())  # while the shared storage is down
# The endpoints the limiter looks at: sign-in, and the public pages that add themselves
# (tracker/reports/views.py). Every other request skips its per-request work.
LIMITED_ENDPOINTS = {"auth.login"}


@dataclass(frozen=True)
class Refused:
    reason: str
    retry_after: int


def _counts():
    return limiter.limiter


def _call(operation, *args):
    """A storage operation; with the shared storage unreachable, this process's memory
    (logged), so sign-in keeps working."""
    try:
        return operation(_counts(), *args)
    except Exception as exc:  # noqa: BLE001 — any storage error: count locally instead
        log.warning("sign-in throttling storage unavailable, counting in memory: %s", exc)
        return operation(_local, *args)


def _used(item: RateLimitItem, key: str) -> tuple[int, float]:
    """Failures counted against `item` in its moving window, and when the oldest expires."""
    stats = _call(lambda s, *a: s.get_window_stats(*a), item, *_identifiers(key))
    return item.amount - stats.remaining, stats.reset_time


def _hit(item: RateLimitItem, key: str) -> bool:
    return _call(lambda s, *a: s.hit(*a), item, *_identifiers(key))


def _identifiers(key: str) -> tuple[str, str, str]:
    return current_app.config["RATELIMIT_KEY_PREFIX"], "sign-in", key


def account_key(email: str | None = None) -> str:
    """The email as typed, normalised; hashed so the store holds no addresses."""
    email = (email if email is not None else request.form.get("email") or "").strip().lower()
    return "account:" + hashlib.sha256(email.encode()).hexdigest()[:32]


def address_key() -> str:
    return "address:" + (get_remote_address() or "unknown")


def _limits(name: str) -> list[RateLimitItem]:
    return list(parse_many(current_app.config[name]))


def narrowed(amount: int, account_failures: int) -> int:
    """A per-account-and-address allowance once the account has `account_failures` in the
    last hour: halved at SIGN_IN_ACCOUNT_SLOW_AFTER and again at each further multiple of
    it, never below one attempt."""
    slow_after = max(1, int(current_app.config["SIGN_IN_ACCOUNT_SLOW_AFTER"]))
    return max(1, amount >> (account_failures // slow_after))


def _breached(items: list[RateLimitItem], key: str, account_failures: int = 0) -> float | None:
    """When the breached limits allow an attempt again, or None. Counts are kept against the
    configured limits (a limit's amount is part of its storage key) and compared with the
    allowance narrowed by the account's failures."""
    resets = [reset for item in items
              for used, reset in [_used(item, key)]
              if used >= narrowed(item.amount, account_failures)]
    return max(resets) if resets else None


def check_attempt() -> Refused | None:
    """Whether this sign-in attempt may be checked at all."""
    address, account = address_key(), account_key()
    reset = _breached(_limits("SIGN_IN_LIMIT_PER_ADDRESS"), address)
    if reset is not None:
        return Refused(ADDRESS_REFUSED, _seconds_until(reset))
    account_failures, _ = _used(_ACCOUNT_WINDOW, account)
    reset = _breached(_limits("SIGN_IN_LIMIT_PER_ACCOUNT_ADDRESS"), f"{account}:{address}",
                      account_failures)
    if reset is not None:
        return Refused(PAIR_REFUSED, _seconds_until(reset))
    return None


def record_failure() -> None:
    address, account = address_key(), account_key()
    for item in _limits("SIGN_IN_LIMIT_PER_ADDRESS"):
        _hit(item, address)
    for item in _limits("SIGN_IN_LIMIT_PER_ACCOUNT_ADDRESS"):
        _hit(item, f"{account}:{address}")
    _hit(_ACCOUNT_WINDOW, account)
    failures, _ = _used(_ACCOUNT_WINDOW, account)
    if failures >= int(current_app.config["SIGN_IN_ACCOUNT_SLOW_AFTER"]):
        _tell_owner_once(account)


def _tell_owner_once(account: str) -> None:
    from tracker.auth.models import User
    from tracker.extensions import db
    from tracker.mail import notify_account

    email = (request.form.get("email") or "").strip().lower()
    user = db.session.execute(sa.select(User).where(User.email == email)).scalar_one_or_none()
    if user is None or not _hit(_NOTICE_ONCE, f"notice:{account}"):
        return
    slow_after = current_app.config["SIGN_IN_ACCOUNT_SLOW_AFTER"]
    notify_account(user.email, "failed sign-in attempts on your account",
                   f"There have been {slow_after} or more failed sign-in attempts on your "
                   "account in the last hour. If they were not you, someone may be guessing "
                   "your password: they are being slowed down, and you can still sign in as "
                   "usual. Choose a strong password you use nowhere else, and tell an admin. "
                   "You will not get this message again today.")


def _failed(response) -> bool:
    """A successful sign-in redirects; anything else (the form again, 400, 422) failed."""
    return response.status_code != 302


def throttle_sign_in(view):
    """Decorate the sign-in view: a POST from an address over its limits is refused with 429
    before the password is checked; a failed one is counted."""

    @functools.wraps(view)
    def throttled(*args, **kwargs):
        if request.method != "POST" or not limiter.enabled:
            return view(*args, **kwargs)
        refused = check_attempt()
        if refused is not None:
            return too_many_attempts(refused)
        response = current_app.make_response(view(*args, **kwargs))
        if _failed(response):
            record_failure()
        return response

    return throttled


def _seconds_until(reset_time: float) -> int:
    return max(1, int(reset_time - time.time()) + 1)


def wait_phrase(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = -(-seconds // 60)
    return f"{minutes} minutes"


def too_many_attempts(refused: Refused):
    from tracker.errors import error_response

    wait = refused.retry_after
    at = datetime.fromtimestamp(time.time() + wait, UTC).strftime("%H:%M:%S UTC")
    response = error_response(
        429, "too_many_requests",
        f"{refused.reason} Wait {wait_phrase(wait)} and try again (after {at}).",
    )
    response.headers["Retry-After"] = str(wait)
    return response


def init_throttling(app: Flask) -> None:
    for key, value in DEFAULTS.items():
        app.config.setdefault(key, value)
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config.get("REDIS_URL") or "memory://")
    limiter.init_app(app)

    @limiter.request_filter
    def _not_a_sign_in() -> bool:
        # Only the sign-in form (and LIMITED_ENDPOINTS) is limited: other requests skip the
        # limiter's per-request work (the API's bearer tokens are never sign-in attempts).
        return request.endpoint not in LIMITED_ENDPOINTS

    @app.errorhandler(RateLimitExceeded)
    def too_many_requests(exc):
        """The public pages' limits (LIMITED_ENDPOINTS beyond sign-in, which counts its own)."""
        from tracker.errors import error_response

        resets = [lim.reset_at for lim in limiter.current_limits if lim.breached]
        wait = _seconds_until(max(resets, default=time.time() + 60))
        at = datetime.fromtimestamp(time.time() + wait, UTC).strftime("%H:%M:%S UTC")
        reason = exc.description if exc.limit.error_message else "Too many requests."
        response = error_response(
            429, "too_many_requests",
            f"{reason} Wait {wait_phrase(wait)} and try again (after {at}).")
        response.headers["Retry-After"] = str(wait)
        return response
