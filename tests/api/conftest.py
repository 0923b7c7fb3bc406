"""API fixtures: a token per role and a small client that sends it."""

import pytest
import sqlalchemy as sa

from tests import factories
from tests.seeded import seed
from tracker.audits.models import Audit
from tracker.auth import service as accounts
from tracker.extensions import db


def pytest_collection_modifyitems(items):
    # Schemathesis gives every operation's test the function's node id; pytest-xdist tells
    # tests apart by node id and would run only one of them. The item's name has the label.
    for item in items:
        if type(item).__name__ == "SchemathesisFunction" and not item.nodeid.endswith("]"):
            item._nodeid = f"{item.parent.nodeid}::{item.name}"


class ApiClient:
    def __init__(self, client, token: str | None):
        self.client, self.token = client, token

    def call(self, method: str, path: str, *, json=None, headers=None, **kwargs):
        sent = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        sent.update(headers or {})
        return self.client.open(f"/api/v1{path}", method=method, json=json, headers=sent,
                                **kwargs)

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, json=None, **kw):
        return self.call("POST", path, json=json, **kw)

    def patch(self, path, json=None, **kw):
        return self.call("PATCH", path, json=json, **kw)


@pytest.fixture
def token_for(app, people):
    def make(role: str, name: str = "test") -> str:
        _, token = accounts.create_token(people[role], name)
        db.session.commit()
        return token
    return make


@pytest.fixture
def api_as(client, token_for):
    """api_as("lead") → a client that calls /api/v1 with the lead's token."""
    return lambda role: ApiClient(client, token_for(role))


@seed(needs=["library", "people"], load=lambda audit_id: db.session.get(Audit, audit_id))
def dv_audit():
    """Alpha's 2026-Q3 audit over the DV domain, started by its lead (through the service)."""
    from tracker.audits import service as audits
    from tracker.library.models import Domain

    people = factories.load_people()
    dv = db.session.execute(sa.select(Domain).where(Domain.code == "DV")).scalar_one()
    return audits.start_audit(people["lead"], people["alpha"], "2026-Q3", [dv]).id
