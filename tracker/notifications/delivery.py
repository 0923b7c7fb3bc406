"""Sending the outbox: each e-mail (or webhook, outgoing.py) is claimed, sent and marked in
short transactions of its own, so a server that is down or slow never holds a lock or loses
a message. A failed attempt waits (DELIVERY_RETRY_SECONDS, one wait per retry), then the message is
marked failed with the reason; an admin can send it again (the deliveries page)."""

import logging
import smtplib
from datetime import timedelta
from email.message import EmailMessage

import sqlalchemy as sa
from flask import current_app

from tracker import jobs, mail
from tracker.db import utcnow
from tracker.extensions import db
from tracker.notifications.models import Delivery, DeliveryStatus, Outbox

log = logging.getLogger("tracker.notifications")

SEND_JOB = "tracker.notifications.delivery.send_deliveries"
SWEEP_BATCH = 50
LEASE = timedelta(minutes=10)  # an attempt whose process died is taken back after this


def _waits() -> list[int]:
    text = str(current_app.config.get("DELIVERY_RETRY_SECONDS", "60,300,1800,7200"))
    return [int(s) for s in text.split(",") if s.strip()]


def max_attempts() -> int:
    return len(_waits()) + 1


class Undeliverable(Exception):
    """An attempt failed; `final` when trying again cannot help (a disabled endpoint)."""

    def __init__(self, reason: str, final: bool = False):
        super().__init__(reason)
        self.reason, self.final = reason[:2000], final


def send_deliveries(ids: list[int]) -> dict[str, int]:
    """A job: try each due message of `ids` once. Returns how many were sent and failed."""
    return attempt_each(Delivery, ids, _send_mail, "e-mail")


def sweep_deliveries() -> dict[str, int]:
    """A periodic job: messages due again after a failed attempt (or whose attempt died)."""
    return sweep(Delivery, send_deliveries)


def _send_mail(delivery: Delivery) -> None:
    try:
        mail.send(_message(delivery))
    except (OSError, smtplib.SMTPException) as exc:
        raise Undeliverable(f"{type(exc).__name__}: {exc}") from exc


# --- any outbox: e-mail (here) and webhooks (outgoing.py) ------------------------------------

def sweep(model: type[Outbox], send_job) -> dict[str, int]:
    """The rows of `model` due again, handed to `send_job` (the job that tries them)."""
    ids = db.session.execute(
        sa.select(model.id).where(model.status == DeliveryStatus.PENDING,
                                  model.due_at <= utcnow())
        .order_by(model.due_at).limit(SWEEP_BATCH)).scalars().all()
    db.session.rollback()
    return send_job(ids) if ids else {}


def attempt_each(model: type[Outbox], ids: list[int], send, what: str) -> dict[str, int]:
    counts = {"sent": 0, "failed": 0, "waiting": 0}
    for row_id in ids:
        counts[_attempt(model, row_id, send, what)] += 1
    return counts


def _attempt(model: type[Outbox], row_id: int, send, what: str) -> str:
    """Claim the row in a short transaction of its own (a second sender finds it taken),
    send it outside any transaction, then record the outcome."""
    now = utcnow()
    claimed = db.session.execute(
        sa.update(model)
        .where(model.id == row_id, model.status == DeliveryStatus.PENDING, model.due_at <= now)
        .values(attempts=model.attempts + 1, due_at=now + LEASE)).rowcount
    db.session.commit()
    if not claimed:
        return "waiting"
    row = db.session.get(model, row_id)
    try:
        send(row)
    except Undeliverable as exc:
        return _failed(row, exc, what)
    row.status, row.sent_at, row.last_error = DeliveryStatus.SENT, utcnow(), None
    db.session.commit()
    return "sent"


def _failed(row: Outbox, exc: Undeliverable, what: str) -> str:
    waits = _waits()
    if exc.final or row.attempts > len(waits):
        row.status = DeliveryStatus.FAILED
        row.last_error = f"{exc.reason} (attempt {row.attempts} of {max_attempts()})"
        log.error("%s %s failed: %s", what, row.key, row.last_error)
        outcome = "failed"
    else:
        row.due_at = utcnow() + timedelta(seconds=waits[row.attempts - 1])
        row.last_error = f"Attempt {row.attempts} of {max_attempts()} failed: {exc.reason}"
        log.warning("%s %s: %s", what, row.key, row.last_error)
        outcome = "waiting"
    db.session.commit()
    return outcome


def retry(row: Outbox, send_job: str = SEND_JOB) -> None:
    """An admin sends a failed message again: its attempts start over."""
    row.status, row.attempts, row.due_at = DeliveryStatus.PENDING, 0, utcnow()
    jobs.submit(send_job, [row.id])


def _message(delivery: Delivery) -> EmailMessage:
    message = EmailMessage()
    message["From"] = mail.sender()
    message["To"] = delivery.recipient
    message["Subject"] = delivery.subject
    message["Message-ID"] = f"<{delivery.key.replace(':', '.')}@readiness-tracker>"
    if delivery.unsubscribe_url:  # RFC 8058 one-click
        message["List-Unsubscribe"] = f"<{delivery.unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(delivery.text)
    message.add_alternative(delivery.html, subtype="html")
    return message
