"""Schemathesis against the OpenAPI document, in-process over WSGI: whatever it sends, the
API answers without a server error and with a status, content type and body that the
document describes; invalid requests are refused, requests without a token get 401."""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

import tracker.api.views  # noqa: F401 — registers the operations
from tracker.api.spec import build_openapi
from tracker.extensions import db

DOCUMENT = build_openapi("Readiness Tracker API", "1.0.0", "/api/v1")
_current = {}


def _dispatch(environ, start_response):
    """The schema is built at import; each test's app is plugged in by the `wsgi` fixture."""
    return _current["app"](environ, start_response)


# A schema-valid request may still break a business rule the schema cannot express (an
# unknown domain code, `met` without evidence): that is 422, as documented.
CONFIG = schemathesis.Config.from_dict({"checks": {"positive_data_acceptance": {
    "expected-statuses": ["2xx", "401", "403", "404", "409", "422"]}}})
schema = schemathesis.openapi.from_dict(DOCUMENT, config=CONFIG)
schema.app = _dispatch


@pytest.fixture
def small_audit(app, people):
    """A two-item library and an audit over it: enough for every path, quick to build for
    each of the twenty operations (the full seed library is not needed here)."""
    from tracker.audits import service as audits
    from tracker.library.models import Criticality, Domain, ReadinessItem

    domain = Domain(code="DV", name="Data & Visibility", position=1)
    db.session.add_all([domain,
                        ReadinessItem(code="DV-01", title="Addresses are validated",
                                      domain=domain, criticality=Criticality.CRITICAL),
                        ReadinessItem(code="DV-02", title="Stock is reconciled", domain=domain,
                                      criticality=Criticality.NORMAL, evidence_required=False)])
    db.session.flush()
    audit = audits.start_audit(people["lead"], people["alpha"], "2026-Q3", [domain])
    db.session.commit()
    return audit


@pytest.fixture
def lead_token(token_for, small_audit):
    return token_for("lead")


@pytest.fixture
def wsgi(app):
    def call(environ, start_response):
        # Each request in its own app context — its own session — as in production.
        db.session.commit()
        with app.app_context():
            return app.wsgi_app(environ, start_response)
    _current["app"] = call
    yield call
    _current.clear()


def test_the_served_document_is_the_one_tested(client):
    assert client.get("/api/v1/openapi.json").get_json() == DOCUMENT


@schema.parametrize()
@settings(max_examples=8, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_api_matches_its_openapi_document(case, wsgi, lead_token):
    case.call_and_validate(base_url="http://localhost/api/v1",
                           headers={"Authorization": f"Bearer {lead_token}"})
