"""Sign-in throttling (ASVS 5, V6.3): failed attempts are counted per account and per client
address with Flask-Limiter. The counts live in Redis when REDIS_URL is set, so every worker
process and machine shares them; without it they live in each process's memory (see README).

Only failures count — a successful sign-in redirects — so a person who types their password
right is never slowed down; a throttled attempt is refused with 429, a Retry-After header and
a message that says when to try again, before the password is even checked.
"""

import hashlib
import time
from datetime import UTC, datetime

from flask import Flask, current_app, request
from flask_limiter import Limiter, RateLimitExceeded
from flask_limiter.util import get_remote_address

DEFAULTS = {
    "RATELIMIT_ENABLED": True,
    # A moving window: a burst at the turn of a minute does not get double the attempts.
    "RATELIMIT_STRATEGY": "moving-window",
    "RATELIMIT_KEY_PREFIX": "rt",
    "RATELIMIT_HEADERS_ENABLED": False,  # the 429 handler sets Retry-After itself
    # Redis down: keep signing people in, counting per process, and log a warning.
    "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
    "SIGN_IN_LIMIT_PER_ACCOUNT": "5 per minute; 20 per hour",
    # Higher: colleagues behind one office NAT share an address.
    "SIGN_IN_LIMIT_PER_ADDRESS": "20 per minute; 100 per hour",
}

limiter = Limiter(key_func=get_remote_address)
# The endpoints the limiter looks at: sign-in, and the public pages that add themselves
# (tracker/reports/views.py). Every other request skips its per-request work.
LIMITED_ENDPOINTS = {"auth.login"}


def _account_key() -> str:
    """The email as typed, normalised; hashed so the store holds no addresses."""
    email = (request.form.get("email") or "").strip().lower()
    return "account:" + hashlib.sha256(email.encode()).hexdigest()[:32]


def _address_key() -> str:
    return "address:" + (get_remote_address() or "unknown")


def _failed(response) -> bool:
    """A successful sign-in redirects; anything else (the form again, 400, 422) failed."""
    return response.status_code != 302


def throttle_sign_in(view):
    """Decorate the sign-in view: POSTs are refused with 429 once either count is reached."""
    view = limiter.limit(
        lambda: current_app.config["SIGN_IN_LIMIT_PER_ADDRESS"], key_func=_address_key,
        methods=["POST"], deduct_when=_failed, scope="sign-in-address",
        error_message="Too many failed sign-in attempts from your network address.",
    )(view)
    return limiter.limit(
        lambda: current_app.config["SIGN_IN_LIMIT_PER_ACCOUNT"], key_func=_account_key,
        methods=["POST"], deduct_when=_failed, scope="sign-in-account",
        error_message="Too many failed sign-in attempts for this account.",
    )(view)


def seconds_until_retry() -> int:
    """When every limit this request broke allows an attempt again."""
    resets = [lim.reset_at for lim in limiter.current_limits if lim.breached]
    return max(1, int(max(resets, default=time.time() + 60) - time.time()))


def wait_phrase(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = -(-seconds // 60)
    return f"{minutes} minutes"


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
    def too_many_attempts(exc):
        from tracker.errors import error_response

        wait = seconds_until_retry()
        at = datetime.fromtimestamp(time.time() + wait, UTC).strftime("%H:%M:%S UTC")
        reason = exc.description if exc.limit.error_message else "Too many requests."
        response = error_response(
            429, "too_many_requests",
            f"{reason} Wait {wait_phrase(wait)} and try again (after {at}).",
        )
        response.headers["Retry-After"] = str(wait)
        return response
