"""Outgoing webhooks on both databases, against a real HTTP receiver on loopback that checks
each signature with the Standard Webhooks reference library: an event reaches the endpoints
subscribed to its type exactly once, an endpoint that answers 500 or times out is retried
and then marked failed with the reason while the causing change stays saved, internal
addresses are refused unless allowed, and each body matches the OpenAPI document."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jsonschema
import pytest
import sqlalchemy as sa
from standardwebhooks import Webhook

from tests import factories
from tests.routes import sign_in
from tracker.activity import ActivityEvent
from tracker.api.spec import build_openapi
from tracker.audits import service as audits
from tracker.audits.models import AuditItem, ItemStatus, Verdict
from tracker.extensions import db
from tracker.notifications import outgoing, subscribers
from tracker.notifications.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from tracker.notifications.payloads import SUBSCRIBABLE, WEBHOOK_EVENTS
from tracker.signals import service as signals


class Receiver:
    """An HTTP server on a loopback port that records each POST; `status` is what it
    answers, `delay` how long it waits first."""

    def __init__(self):
        owner = self
        self.received: list[tuple[dict, str]] = []
        self.status, self.delay = 204, 0.0

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                owner.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                time.sleep(owner.delay)
                try:
                    self.send_response(owner.status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:  # the sender gave up waiting
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/readiness"

    def verified(self, secret: str) -> list[dict]:
        """Each body received, checked against its signature the Standard Webhooks way."""
        return [Webhook(secret).verify(body, headers) for headers, body in self.received]


@pytest.fixture
def receiver(app):
    app.config.update(WEBHOOK_ALLOWED_HOSTS="127.0.0.1", DELIVERY_RETRY_SECONDS="0,0",
                      BASE_URL="https://readiness.test.example")
    found = Receiver()
    thread = threading.Thread(target=found.server.serve_forever, daemon=True)
    thread.start()
    yield found
    found.server.shutdown()
    found.server.server_close()


def _endpoint(site, url, events=("item.assigned",)) -> WebhookEndpoint:
    endpoint = outgoing.create_endpoint(site.people["admin"], url, list(events))
    db.session.commit()
    return endpoint


def _assign(site) -> None:
    audits.update_item(site.people["lead"], site.item, expected_version=None,
                       owner=site.people["operator"])
    db.session.commit()


def _rows() -> list[WebhookDelivery]:
    return db.session.execute(sa.select(WebhookDelivery).order_by(WebhookDelivery.id)
                              ).scalars().all()


def test_an_event_reaches_a_subscribed_endpoint_signed_and_exactly_once(app, site, client,
                                                                        receiver):
    sign_in(client, site, "admin")
    page = client.post("/notifications/webhooks", data={
        "url": receiver.url, "events": ["item.assigned", "audit.sent_back"]})
    assert page.status_code == 200
    endpoint = db.session.execute(sa.select(WebhookEndpoint)).scalar_one()
    assert endpoint.secret.startswith("whsec_") and endpoint.secret in page.get_data(True)
    assert endpoint.secret not in client.get("/notifications/webhooks").get_data(True)
    assert endpoint.events == ["item.assigned", "audit.sent_back"]

    _assign(site)
    (payload,) = receiver.verified(endpoint.secret)
    assert payload["type"] == "item.assigned" and payload["timestamp"].endswith("Z")
    data = payload["data"]
    assert data["item"]["id"] == site.item.id and data["item"]["code"] == site.item.code
    assert data["owner"] == {"id": site.people["operator"].id,
                             "name": site.people["operator"].name}
    assert data["by"]["id"] == site.people["lead"].id
    assert data["item"]["link"] == (f"https://readiness.test.example/audits/{site.audit.id}"
                                    f"/items/{site.item.id}")
    (row,) = _rows()
    assert row.status == DeliveryStatus.SENT and row.response_code == 204
    assert receiver.received[0][0]["webhook-id"] == row.message_id

    # the same event again (a retried job, a subscriber run twice): nothing new is sent
    event = db.session.execute(sa.select(ActivityEvent).where(ActivityEvent.action == "item.update")
                               .order_by(ActivityEvent.id.desc()).limit(1)).scalar_one()
    subscribers.on_event(event)
    db.session.commit()
    assert outgoing.send_webhooks([row.id]) == {"sent": 0, "failed": 0, "waiting": 1}
    assert outgoing.sweep_webhooks() == {}
    assert len(_rows()) == 1 and len(receiver.received) == 1
    # a type the endpoint did not subscribe to is not sent
    audits.add_comment(site.people["lead"], site.item, "Attach the drill log, please.")
    db.session.commit()
    assert len(_rows()) == 1


def test_an_endpoint_answering_500_is_retried_then_failed_and_the_change_is_saved(
        app, site, client, receiver, runner):
    endpoint = _endpoint(site, receiver.url)
    receiver.status = 500
    _assign(site)  # the first attempt runs after the commit, and fails
    assert db.session.get(AuditItem, site.item.id).owner_id == site.people["operator"].id
    (row,) = _rows()
    assert row.status == DeliveryStatus.PENDING and row.attempts == 1
    assert row.response_code == 500 and "Attempt 1 of 3" in row.last_error
    assert "waiting 1" in runner.invoke(args=["notify", "send"]).output
    assert "failed 1" in runner.invoke(args=["notify", "send"]).output
    db.session.refresh(row)
    assert row.status == DeliveryStatus.FAILED and row.attempts == 3
    assert row.last_error == "The endpoint answered HTTP 500. (attempt 3 of 3)"
    assert outgoing.sweep_webhooks() == {}  # a failed one is not tried again by itself
    assert len(receiver.verified(endpoint.secret)) == 3
    assert len({headers["webhook-id"] for headers, _ in receiver.received}) == 1
    # the admin's deliveries page shows it; Retry sends it once the endpoint answers again
    sign_in(client, site, "admin")
    page = client.get("/notifications/webhooks/deliveries").get_data(as_text=True)
    assert receiver.url in page and "HTTP 500" in page and "item.assigned" in page
    receiver.status = 200
    response = client.post(f"/notifications/webhooks/deliveries/{row.id}/retry")
    assert response.status_code == 302
    db.session.refresh(row)
    assert row.status == DeliveryStatus.SENT and len(receiver.received) == 4


def test_an_endpoint_that_times_out_is_retried_then_failed_with_the_reason(app, site,
                                                                           receiver):
    app.config.update(WEBHOOK_TIMEOUT_SECONDS=0.3, DELIVERY_RETRY_SECONDS="0")
    receiver.delay = 1.0
    _endpoint(site, receiver.url)
    _assign(site)
    outgoing.sweep_webhooks()
    (row,) = _rows()
    assert row.status == DeliveryStatus.FAILED and row.attempts == 2
    assert "timed out" in row.last_error and row.response_code is None
    assert db.session.get(AuditItem, site.item.id).owner_id == site.people["operator"].id


def test_internal_addresses_are_refused_unless_the_host_is_allowed(app, site, client, receiver):
    app.config["WEBHOOK_ALLOWED_HOSTS"] = ""
    sign_in(client, site, "admin")
    page = client.post("/notifications/webhooks", data={"url": receiver.url,
                                                         "events": ["item.assigned"]})
    assert page.status_code == 200 and "an internal address" in page.get_data(True)
    assert db.session.execute(sa.select(WebhookEndpoint)).first() is None
    # allowed when it was added; no longer allowed when the event is sent: refused at once
    app.config["WEBHOOK_ALLOWED_HOSTS"] = "127.0.0.1"
    _endpoint(site, receiver.url)
    app.config["WEBHOOK_ALLOWED_HOSTS"] = "hooks.example.com"
    _assign(site)
    (row,) = _rows()
    assert row.status == DeliveryStatus.FAILED and row.attempts == 1
    assert "127.0.0.1 resolves to 127.0.0.1, an internal address" in row.last_error
    assert receiver.received == []


def test_test_event_disable_and_delete_from_the_admin_page(app, site, client, receiver):
    endpoint = _endpoint(site, receiver.url)
    sign_in(client, site, "admin")
    assert client.post(f"/notifications/webhooks/{endpoint.id}/test").status_code == 302
    (payload,) = receiver.verified(endpoint.secret)
    assert payload["type"] == "webhook.test" and payload["data"]["endpoint_id"] == endpoint.id
    client.post(f"/notifications/webhooks/{endpoint.id}/active", data={"active": "0"})
    db.session.refresh(endpoint)
    assert not endpoint.active
    _assign(site)  # a disabled endpoint gets no new events
    assert len(_rows()) == 1 and len(receiver.received) == 1
    endpoint_id = endpoint.id
    client.post(f"/notifications/webhooks/{endpoint_id}/delete")  # not confirmed: kept
    assert db.session.get(WebhookEndpoint, endpoint_id) is not None
    client.post(f"/notifications/webhooks/{endpoint_id}/delete", data={"confirm": "yes"})
    db.session.expire_all()
    assert db.session.get(WebhookEndpoint, endpoint_id) is None and _rows() == []


def test_each_event_body_matches_the_openapi_webhooks_section(app, site, receiver):
    import tracker.api.views  # noqa: F401 — registers the operations

    document = build_openapi("Readiness Tracker API", "1.0.0", "/api/v1")
    assert set(document["webhooks"]) == {e.type for e in WEBHOOK_EVENTS}
    endpoint = _endpoint(site, receiver.url, [e.type for e in SUBSCRIBABLE])
    lead, operator, auditor = (site.people[r] for r in ("lead", "operator", "auditor"))
    _assign(site)
    audits.add_comment(lead, site.item, "@Omar Operator can you attach the drill log?")
    signals.acknowledge(lead, site.signal, "Looking at the label service.")
    audits.bulk_update(lead, site.audit, [i.id for i in db.session.execute(
        sa.select(AuditItem).where(AuditItem.audit_id == site.audit.id)).scalars()],
        status=ItemStatus.NOT_MET)
    factories.submit(lead, site.audit)
    audits.review_item(auditor, site.item, Verdict.NEEDS_REWORK, "The runbook is from 2024.")
    audits.return_audit(auditor, site.audit, "One item needs rework.")
    db.session.commit()
    payloads = receiver.verified(endpoint.secret)
    assert [p["type"] for p in payloads] == [
        "item.assigned", "item.commented", "signal.acknowledged", "audit.submitted",
        "item.needs_rework", "audit.sent_back"]
    assert payloads[1]["data"]["mentioned"] == [{"id": operator.id, "name": operator.name}]
    assert payloads[-1]["data"]["reason"] == "One item needs rework."
    for payload in payloads:
        body = document["webhooks"][payload["type"]]["post"]["requestBody"]
        schema = {**body["content"]["application/json"]["schema"],
                  "components": document["components"]}
        jsonschema.Draft202012Validator(schema).validate(json.loads(json.dumps(payload)))
