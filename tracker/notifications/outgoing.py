"""Outgoing webhooks: admin-managed endpoints, the events written to their outbox in the
transaction of the change that causes them (`publish`, called by subscribers.py), and the
job that POSTs them, signed the Standard Webhooks way, through the same claim, retry and
backoff as e-mail (delivery.py). An endpoint never reaches an internal address unless its
host is in WEBHOOK_ALLOWED_HOSTS (webhooks.checked_address, at creation and each attempt)."""

import http.client
import json
import time
import uuid

import sqlalchemy as sa
from flask import current_app
from pydantic import BaseModel

from tracker import activity, jobs
from tracker.auth.models import User
from tracker.db import utcnow
from tracker.extensions import db
from tracker.notifications import delivery, webhooks
from tracker.notifications.delivery import Undeliverable
from tracker.notifications.models import WebhookDelivery, WebhookEndpoint
from tracker.notifications.payloads import BY_TYPE, SUBSCRIBABLE, TEST_EVENT, WebhookTest
from tracker.notifications.service import insert_ignoring_duplicates
from tracker.rules import RuleViolation

SEND_JOB = "tracker.notifications.outgoing.send_webhooks"
MAX_RESPONSE = 64 * 1024  # read (and ignore) at most this much of an endpoint's answer


def _allowed() -> set[str]:
    return webhooks.allowed_hosts(current_app.config.get("WEBHOOK_ALLOWED_HOSTS"))


# --- writing events ---------------------------------------------------------------------------

def publish(event_type: str, key: str, data: BaseModel,
            endpoint_ids: list[int] | None = None) -> list[int]:
    """Write the event to the outbox of each active endpoint subscribed to its type (or of
    `endpoint_ids`), in the caller's transaction; it is sent after the commit. One query
    when no endpoint wants it. A key written before is not written again."""
    assert isinstance(data, BY_TYPE[event_type].data)  # nosec B101 — the type names its model
    if endpoint_ids is None:
        endpoint_ids = [eid for eid, events in db.session.execute(
            sa.select(WebhookEndpoint.id, WebhookEndpoint.events)
            .where(WebhookEndpoint.active)) if event_type in events]
    if not endpoint_ids:
        return []
    now = utcnow()
    body = json.dumps({"type": event_type, "timestamp": now.replace(microsecond=0).isoformat()
                       + "Z", "data": data.model_dump(mode="json")}, ensure_ascii=False)
    rows = [{"endpoint_id": eid, "key": key[:240], "event": event_type,
             "message_id": f"msg_{uuid.uuid4().hex}", "payload": body, "created_at": now,
             "due_at": now} for eid in endpoint_ids]
    ids = [row.id for row in insert_ignoring_duplicates(
        WebhookDelivery, rows, ["endpoint_id", "key"], [WebhookDelivery.id])]
    if ids:
        jobs.submit(SEND_JOB, ids)
    return ids


# --- sending ----------------------------------------------------------------------------------

def send_webhooks(ids: list[int]) -> dict[str, int]:
    """A job: try each due webhook of `ids` once."""
    return delivery.attempt_each(WebhookDelivery, ids, _post, "webhook")


def sweep_webhooks() -> dict[str, int]:
    """A periodic job: webhooks due again after a failed attempt (or whose attempt died)."""
    return delivery.sweep(WebhookDelivery, send_webhooks)


def _post(row: WebhookDelivery) -> None:
    endpoint = row.endpoint
    if not endpoint.active:
        raise Undeliverable("The endpoint is disabled.", final=True)
    try:
        address = webhooks.checked_address(endpoint.url, _allowed())
    except RuleViolation as exc:  # trying again cannot help until the settings change
        raise Undeliverable(exc.message, final=True) from None
    timestamp = int(time.time())
    headers = {"Content-Type": "application/json", "User-Agent": "Readiness-Tracker-Webhooks",
               "webhook-id": row.message_id, "webhook-timestamp": str(timestamp),
               "webhook-signature": webhooks.signature(endpoint.secret, row.message_id,
                                                       timestamp, row.payload)}
    timeout = float(current_app.config.get("WEBHOOK_TIMEOUT_SECONDS", 10))
    try:
        row.response_code = webhooks.post(endpoint.url, address, row.payload.encode(), headers,
                                          timeout, MAX_RESPONSE)
    except (OSError, http.client.HTTPException) as exc:
        raise Undeliverable(f"{type(exc).__name__}: {exc}") from exc
    if not 200 <= row.response_code < 300:
        raise Undeliverable(f"The endpoint answered HTTP {row.response_code}.")


def retry(row: WebhookDelivery) -> None:
    delivery.retry(row, SEND_JOB)


# --- the admin's endpoints --------------------------------------------------------------------

def create_endpoint(admin: User, url: str, events: list[str]) -> WebhookEndpoint:
    """A new endpoint with a fresh secret (shown to the admin once)."""
    wanted = set(events)
    if not wanted or wanted - {e.type for e in SUBSCRIBABLE}:
        raise RuleViolation("Choose at least one of the listed events.", field="events")
    url = url.strip()
    webhooks.checked_address(url, _allowed())  # refuses internal addresses, with the reason
    endpoint = WebhookEndpoint(url=url, secret=webhooks.new_secret(), created_by=admin,
                               events=[e.type for e in SUBSCRIBABLE if e.type in wanted])
    db.session.add(endpoint)
    db.session.flush()
    _admin_event(admin, "webhook.create", endpoint, after={"url": url, "events": endpoint.events})
    return endpoint


def set_active(admin: User, endpoint: WebhookEndpoint, active: bool) -> None:
    """A disabled endpoint gets no new events, and what it had pending fails."""
    if endpoint.active == active:
        return
    endpoint.active = active
    _admin_event(admin, "webhook.enable" if active else "webhook.disable", endpoint,
                 before={"active": not active}, after={"active": active})


def delete_endpoint(admin: User, endpoint: WebhookEndpoint) -> None:
    """The endpoint and its outbox go; the activity log keeps that it existed."""
    _admin_event(admin, "webhook.delete", endpoint, before={"url": endpoint.url})
    db.session.delete(endpoint)


def send_test(admin: User, endpoint: WebhookEndpoint) -> None:
    if not endpoint.active:
        raise RuleViolation("Enable the endpoint before sending it a test event.")
    publish(TEST_EVENT, f"test:{uuid.uuid4().hex}",
            WebhookTest(endpoint_id=endpoint.id, message=f"A test event sent by {admin.name}."),
            [endpoint.id])


def _admin_event(admin, action, endpoint, before=None, after=None):
    activity.record(admin, action, chain="admin", subject=f"webhook {endpoint.id}",
                    before=before, after=after)
