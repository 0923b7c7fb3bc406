"""Security headers on every response: pages, redirects, errors, static files and 500s."""

import logging

import pytest
import sqlalchemy as sa

from tests.conftest import base_config
from tracker import create_app
from tracker.auth.models import Team
from tracker.extensions import db
from tracker.security.headers import CONTENT_SECURITY_POLICY

EXPECTED_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                "object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'")


def assert_security_headers(response, https=False):
    h = response.headers
    assert h["Content-Security-Policy"] == EXPECTED_CSP
    assert "unsafe-inline" not in h["Content-Security-Policy"]
    assert h["X-Content-Type-Options"] == "nosniff"
    assert h["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "camera=()" in h["Permissions-Policy"] and "geolocation=()" in h["Permissions-Policy"]
    assert h["X-Frame-Options"] == "DENY"
    if https:
        assert h["Strict-Transport-Security"].startswith("max-age=31536000")
    else:
        assert "Strict-Transport-Security" not in h


def test_policy_constant_is_the_documented_one():
    assert CONTENT_SECURITY_POLICY == EXPECTED_CSP


def test_headers_on_pages_redirects_errors_and_static_files(client, login_as):
    responses = [client.get("/login"), client.get("/"), client.get("/static/css/app.css"),
                 client.get("/no-such-page")]
    login_as("operator")
    responses += [client.get("/"), client.get("/admin/users"), client.get("/admin/users/0"),
                  client.get("/logout"), client.post("/login", data={"email": "\x00"})]
    assert [r.status_code for r in responses] == [200, 302, 200, 404, 200, 403, 403, 405, 400]
    for response in responses:
        assert_security_headers(response)


def test_signed_in_pages_are_not_cached(client, login_as):
    assert "no-store" not in client.get("/login").headers.get("Cache-Control", "")
    login_as("lead")
    assert client.get("/").headers["Cache-Control"] == "no-store"
    assert "no-store" not in client.get("/static/css/app.css").headers.get("Cache-Control", "")


@pytest.fixture
def https_app(database_url, tmp_path):
    return create_app({**base_config(tmp_path, database_url), "SESSION_COOKIE_SECURE": True})


def test_https_adds_hsts_and_secure_cookies(https_app, people):
    db.session.commit()
    client = https_app.test_client()
    response = client.get("/login", base_url="https://localhost")
    assert_security_headers(response, https=True)
    response = client.post("/login", base_url="https://localhost", data={
        "email": "lead@test.example", "password": "correct horse battery", "remember": "y"})
    cookies = response.headers.getlist("Set-Cookie")
    assert {c.split("=")[0] for c in cookies} == {"session", "remember_token"}
    assert all("Secure" in c and "HttpOnly" in c and "SameSite=Lax" in c for c in cookies)


def test_secure_cookie_setting_comes_from_the_environment(tmp_path, monkeypatch):
    from tracker.config import load_config

    monkeypatch.setenv("SESSION_COOKIE_SECURE", "1")
    config = load_config(str(tmp_path))
    assert config["SESSION_COOKIE_SECURE"] and config["REMEMBER_COOKIE_SECURE"]


@pytest.fixture
def failing_app(database_url, tmp_path):
    """An app with one route that writes and then fails, as a bug in a view would."""
    app = create_app({**base_config(tmp_path, database_url), "PROPAGATE_EXCEPTIONS": False})

    @app.get("/boom")
    def boom():
        from tracker.auth.service import create_team

        create_team(None, "Half-written team")
        raise RuntimeError("secret detail in /srv/app/tracker/x.py line 3")

    return app


def test_500_rolls_back_logs_the_request_id_and_hides_the_traceback(failing_app, caplog):
    client = failing_app.test_client()
    with caplog.at_level(logging.ERROR, logger="tracker"):
        response = client.get("/boom", headers={"X-Request-Id": "req-1234"})
    page = response.get_data(as_text=True)
    assert response.status_code == 500
    assert_security_headers(response)
    assert "Something went wrong on our side and nothing was saved" in page
    assert "req-1234" in page and response.headers["X-Request-Id"] == "req-1234"
    assert "Traceback" not in page and "secret detail" not in page and "x.py" not in page
    assert any("req-1234" in r.getMessage() and r.exc_info for r in caplog.records)
    with failing_app.app_context():
        assert db.session.execute(sa.select(Team).where(Team.name == "Half-written team")
                                  ).scalar() is None
        db.engine.dispose()


def test_500_under_api_is_json_without_traceback(failing_app):
    @failing_app.get("/api/boom")
    def api_boom():
        raise RuntimeError("secret")

    response = failing_app.test_client().get("/api/boom")
    assert response.status_code == 500
    body = response.get_json()
    assert body["error"]["code"] == "server_error" and "secret" not in response.get_data(True)
