"""Personal tokens on the account page: named, shown once, stored hashed, revocable."""

import re

import sqlalchemy as sa

from tracker.auth.models import ApiToken
from tracker.auth.service import hash_token
from tracker.extensions import db


def test_create_use_and_revoke_a_token(client, login_as, people):
    login_as("operator")
    empty = client.get("/account")
    assert b"You have no API tokens" in empty.data

    created = client.post("/account/tokens", data={"name": "monitoring job"})
    assert created.status_code == 200
    token = re.search(rb'value="(rt_[A-Za-z0-9_-]+)"', created.data).group(1).decode()
    assert b"shown only this once" in created.data
    row = db.session.execute(sa.select(ApiToken)).scalar_one()
    assert row.name == "monitoring job" and row.token_hash == hash_token(token)
    assert token not in {row.token_hash, row.prefix} and token.startswith(row.prefix)

    listed = client.get("/account")
    assert b"monitoring job" in listed.data and token.encode() not in listed.data

    api = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/me", headers=api).get_json()["email"] == people["operator"].email

    revoked = client.post(f"/account/tokens/{row.id}/revoke", follow_redirects=True)
    assert b"revoked" in revoked.data
    assert client.get("/api/v1/me", headers=api).status_code == 401


def test_token_name_is_required_and_tokens_are_personal(client, login_as, token_for):
    other = token_for("lead")
    login_as("operator")
    refused = client.post("/account/tokens", data={"name": ""})
    assert refused.status_code == 422
    assert db.session.execute(sa.select(sa.func.count(ApiToken.id))).scalar_one() == 1
    leads = db.session.execute(sa.select(ApiToken)).scalar_one()
    assert client.post(f"/account/tokens/{leads.id}/revoke").status_code == 404
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {other}"}).status_code == 200


def test_api_ignores_session_cookies(client, login_as):
    """Signed in on the web is not signed in on the API: no token, no access (so a forged
    cross-site request cannot ride on the cookie; the API is exempt from CSRF tokens)."""
    login_as("lead")
    response = client.get("/api/v1/me")
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "unauthorized"
