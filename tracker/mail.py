"""Sending e-mail: `send` (one message to MAIL_SERVER) and `notify_account`, which tells
a person about their account.

Every notice is logged (logger "tracker.mail"). It is also sent when MAIL_SERVER is set
(Flask's conventions: MAIL_SERVER, MAIL_PORT, MAIL_USE_TLS, MAIL_USE_SSL, MAIL_USERNAME,
MAIL_PASSWORD, MAIL_DEFAULT_SENDER), with the standard library's smtplib. A notice that
cannot be sent is logged and dropped: it never fails the request that caused it.
"""

import logging
import smtplib
from email.message import EmailMessage

from flask import current_app

log = logging.getLogger("tracker.mail")

SEND_TIMEOUT = 10  # seconds: a slow mail server must not hold a request for long


def notify_account(to: str, subject: str, body: str) -> bool:
    """Tell the owner of the address `to`; True if a mail server accepted the message."""
    log.info("account notice to %s: %s", to, subject)
    config = current_app.config
    if not config.get("MAIL_SERVER"):
        return False
    message = EmailMessage()
    message["From"] = sender()
    message["To"] = to
    message["Subject"] = f"{config.get('ORGANISATION_NAME', 'Readiness Tracker')}: {subject}"
    message.set_content(body)
    try:
        send(message)
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("account notice to %s not sent: %s", to, exc)
        return False
    return True


def sender() -> str:
    config = current_app.config
    return config.get("MAIL_DEFAULT_SENDER") or f"readiness-tracker@{config['MAIL_SERVER']}"


def send(message: EmailMessage) -> None:
    """Hand one message to MAIL_SERVER; raises OSError or SMTPException when it will not."""
    config = current_app.config
    server = config["MAIL_SERVER"]
    port = int(config.get("MAIL_PORT") or (465 if config.get("MAIL_USE_SSL") else 25))
    connect = smtplib.SMTP_SSL if config.get("MAIL_USE_SSL") else smtplib.SMTP
    with connect(server, port, timeout=SEND_TIMEOUT) as smtp:
        if config.get("MAIL_USE_TLS"):
            smtp.starttls()
        if config.get("MAIL_USERNAME"):
            smtp.login(config["MAIL_USERNAME"], config.get("MAIL_PASSWORD") or "")
        smtp.send_message(message)
