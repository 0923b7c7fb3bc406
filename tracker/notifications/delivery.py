"""Sending the outbox: each e-mail is claimed, sent and marked in short transactions of
its own, so a mail server that is down or slow never holds a lock or loses a message. A
failed attempt waits (DELIVERY_RETRY_SECONDS, one wait per retry), then the message is
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
from tracker.notifications.models import Delivery, DeliveryStatus

log = logging.getLogger("tracker.notifications")

SEND_JOB = "tracker.notifications.delivery.send_deliveries"
SWEEP_BATCH = 50
LEASE = timedelta(minutes=10)  # an attempt whose process died is taken back after this


def _waits() -> list[int]:
    text = str(current_app.config.get("DELIVERY_RETRY_SECONDS", "60,300,1800,7200"))
    return [int(s) for s in text.split(",") if s.strip()]


def max_attempts() -> int:
    return len(_waits()) + 1


def send_deliveries(ids: list[int]) -> dict[str, int]:
    """A job: try each due message of `ids` once. Returns how many were sent and failed."""
    counts = {"sent": 0, "failed": 0, "waiting": 0}
    for delivery_id in ids:
        counts[_attempt(delivery_id)] += 1
    return counts


def sweep_deliveries() -> dict[str, int]:
    """A periodic job: messages due again after a failed attempt (or whose attempt died)."""
    ids = db.session.execute(
        sa.select(Delivery.id).where(Delivery.status == DeliveryStatus.PENDING,
                                     Delivery.due_at <= utcnow())
        .order_by(Delivery.due_at).limit(SWEEP_BATCH)).scalars().all()
    db.session.rollback()
    return send_deliveries(ids) if ids else {}


def _attempt(delivery_id: int) -> str:
    now = utcnow()
    claimed = db.session.execute(
        sa.update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.status == DeliveryStatus.PENDING,
               Delivery.due_at <= now)
        .values(attempts=Delivery.attempts + 1, due_at=now + LEASE)).rowcount
    db.session.commit()
    if not claimed:
        return "waiting"
    delivery = db.session.get(Delivery, delivery_id)
    try:
        mail.send(_message(delivery))
    except (OSError, smtplib.SMTPException) as exc:
        return _failed(delivery, f"{type(exc).__name__}: {exc}"[:2000])
    delivery.status, delivery.sent_at, delivery.last_error = DeliveryStatus.SENT, utcnow(), None
    db.session.commit()
    return "sent"


def _failed(delivery: Delivery, reason: str) -> str:
    waits = _waits()
    if delivery.attempts > len(waits):
        delivery.status = DeliveryStatus.FAILED
        delivery.last_error = f"{reason} (attempt {delivery.attempts} of {max_attempts()})"
        log.error("e-mail %s to %s failed: %s", delivery.key, delivery.recipient,
                  delivery.last_error)
        outcome = "failed"
    else:
        delivery.due_at = utcnow() + timedelta(seconds=waits[delivery.attempts - 1])
        delivery.last_error = (f"Attempt {delivery.attempts} of {max_attempts()} failed: "
                               f"{reason}")
        log.warning("e-mail %s to %s: %s", delivery.key, delivery.recipient,
                    delivery.last_error)
        outcome = "waiting"
    db.session.commit()
    return outcome


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


def retry(delivery: Delivery) -> None:
    """An admin sends a failed message again: its attempts start over."""
    delivery.status, delivery.attempts, delivery.due_at = DeliveryStatus.PENDING, 0, utcnow()
    jobs.submit(SEND_JOB, [delivery.id])
