"""The database down (issue 23, item 2): every request that needs it is answered 503 with
Retry-After and "the database is unavailable; nothing was saved" — JSON under /api/, a page
that needs no database for the web (the signed-in user cannot be loaded to draw the top
bar) — and /readyz says so in JSON. The machine's shared PostgreSQL server is never
stopped: the app is pointed at a closed port, at a database dropped under it, or at a
SQLite file it cannot use."""

import os
import uuid

import pytest
import sqlalchemy as sa

from tests.conftest import PG_URL, base_config
from tracker import create_app
from tracker.auth import service as accounts
from tracker.extensions import db

UNAVAILABLE = "The database is unavailable; nothing was saved."


def broken_url(kind: str, tmp_path) -> str:
    if kind == "postgresql-closed-port":
        return "postgresql+psycopg://postgres@127.0.0.1:1/tracker?connect_timeout=2"
    if kind == "sqlite-missing-folder":
        return f"sqlite:///{tmp_path / 'gone' / 'tracker.db'}"
    if kind == "sqlite-not-a-database":
        path = tmp_path / "garbage.db"
        path.write_bytes(os.urandom(8192))
        return f"sqlite:///{path}"
    raise AssertionError(kind)


@pytest.fixture
def signed_in(app, client, people, login_as):
    """The operator's session cookie and an API token, made while the database was up."""
    login_as("operator")
    _, token = accounts.create_token(people["operator"], "script")
    db.session.commit()
    return client.get_cookie("session").value, token


def check_outage(down_app, cookie, token):
    web = down_app.test_client()
    web.set_cookie("session", cookie)
    for method, path in (("GET", "/audits/"), ("GET", "/"), ("POST", "/account"),
                         ("POST", "/login")):
        response = web.open(path, method=method, data={"email": "operator@test.example",
                                                       "password": "whatever it is"})
        page = response.get_data(as_text=True)
        assert response.status_code == 503, (method, path, page[:300])
        assert UNAVAILABLE in page
        assert "Sign out" not in page  # drawn without the signed-in user
        assert 0 < int(response.headers["Retry-After"]) <= 300
        assert response.headers["Content-Security-Policy"]

    api = down_app.test_client()
    for method, path in (("GET", "/api/v1/me"), ("PATCH", "/api/v1/audits/1/items/1")):
        response = api.open(path, method=method, json={"version": 1, "status": "met"},
                            headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 503
        assert response.headers["Retry-After"]
        error = response.get_json()["error"]
        assert error["code"] == "database_unavailable"
        assert error["message"].startswith(UNAVAILABLE)

    ready = api.get("/readyz")
    assert ready.status_code == 503 and ready.is_json
    assert ready.get_json()["status"] == "unavailable"
    assert ready.headers["Retry-After"]
    assert api.get("/healthz").status_code == 200  # liveness needs no database


@pytest.mark.parametrize("kind", ["postgresql-closed-port", "sqlite-missing-folder",
                                  "sqlite-not-a-database"])
def test_an_unusable_database_is_a_503(tmp_path, signed_in, kind):
    cookie, token = signed_in
    down = create_app(base_config(tmp_path / "down", broken_url(kind, tmp_path)))
    with down.app_context():
        check_outage(down, cookie, token)
        db.engine.dispose()


@pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL: set TEST_DATABASE_URL")
def test_a_postgresql_database_dropped_under_the_app_is_a_503(tmp_path, signed_in):
    cookie, token = signed_in
    name = f"rt_faults_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    down = create_app(base_config(tmp_path / "down", url))
    try:
        with down.app_context():
            client = down.test_client()
            assert client.get("/readyz").status_code == 200  # a pooled connection, in use
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            check_outage(down, cookie, token)
            db.engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_readyz_is_ready_when_the_database_answers(client):
    response = client.get("/readyz")
    assert response.status_code == 200 and response.get_json() == {"status": "ready"}
