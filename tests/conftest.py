"""Fixtures: a real database per test (SQLite file, or PostgreSQL when TEST_DATABASE_URL is
set), built once per session by the migrations, never mocked. Seeded data (`library`,
`people`, `site`, …) is built once per session too and copied into each test: see
tests/seeded.py."""

import email
import email.policy
import os
import socket
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from tests import factories
from tests.routes import build_site, load_site
from tests.seeded import Templates, seed, seeds_for
from tracker import cache as page_cache
from tracker import create_app, jobs
from tracker.extensions import db

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("TEST_DATABASE_URL")


def base_config(tmp: Path, url: str) -> dict:
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": url,
        "SECRET_KEY": "test-secret",
        "WTF_CSRF_ENABLED": False,
        "EVIDENCE_DIR": str(tmp / "evidence"),
        "REPORTS_DIR": str(tmp / "reports"),
        "SIGNING_KEY_PATH": str(tmp / "signing" / "key.pem"),
        "SIGNING_CERT_PATH": str(tmp / "signing" / "cert.pem"),
        # Cheap hashes keep the suite fast; test_passwords checks the production setting.
        "PASSWORD_HASH_METHOD": "scrypt:2048:8:1",
        "RATELIMIT_ENABLED": False,
        # Jobs run in the caller right after its commit (tests/jobs start the thread).
        "JOBS_THREAD": False,
    }


def _migrate(url: str, tmp: Path) -> None:
    from flask_migrate import upgrade

    app = create_app(base_config(tmp, url))
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        db.engine.dispose()


@pytest.fixture(scope="session")
def database(tmp_path_factory):
    """A migrated database: a SQLite template file, or a fresh PostgreSQL database."""
    tmp = tmp_path_factory.mktemp("db")
    if PG_URL:
        name = f"rt_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = sa.engine.make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
        _migrate(url, tmp)
        yield {"kind": "postgresql", "url": url}
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    else:
        template = tmp / "template.db"
        _migrate(f"sqlite:///{template}", tmp)
        yield {"kind": "sqlite", "template": template}


@pytest.fixture(scope="session")
def templates(database, tmp_path_factory):
    """The seeded templates of this run, each built when a test first needs it; shared by
    pytest-xdist's workers (their base temporary directories have one parent)."""
    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    return Templates(database, root / "templates", base_config)


@pytest.fixture
def seeded(templates, request, tmp_path):
    """This test's database, a copy of the template of the seeds it asks for (maybe none),
    and tmp_path holding the seeds' files: seed name → what its build returned."""
    return templates.copy_to(seeds_for(request.fixturenames), tmp_path)


@pytest.fixture
def database_url(seeded):
    return seeded.url


@pytest.fixture
def app_config():
    """Override in a test module to change configuration."""
    return {}


@pytest.fixture
def app(database, database_url, tmp_path, app_config):
    app = create_app({**base_config(tmp_path, database_url), **app_config})
    app.instance_path = str(tmp_path)
    # Tests copied from one template start with the same activity-chain heads, so a page
    # another test cached in this process would match their keys.
    page_cache.clear_local()
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


class FreshContextClient(FlaskClient):
    """Each request runs in its own app context — its own `g` and database session — as in
    production, instead of reusing the test's. The test's open transaction is committed
    first so it holds no lock the request would wait on, and its objects reload afterwards."""

    def open(self, *args, **kwargs):
        db.session.commit()
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture
def client(app):
    app.test_client_class = FreshContextClient
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@seed()
def library():
    """The readiness library from seeds/, loaded as `flask seed library` does."""
    from tracker.library.seeding import load_library

    load_library(ROOT / "seeds" / "library")


@seed(load=lambda _: factories.load_people())
def people():
    """Two teams and one person in each role (a dict of them): see tests/factories.py."""
    factories.make_people()


@seed(needs=["library", "people"], load=lambda keys: load_site(keys))
def site():
    """People in every role, the library and audits with evidence: see tests/routes.py."""
    return build_site()


@pytest.fixture
def login_as(client, people):
    def login(role: str):
        user = people[role]
        client.post("/logout")
        response = client.post("/login", data={"email": user.email,
                                               "password": factories.PASSWORD})
        assert response.status_code == 302, f"could not sign in as {role}"
        return user
    return login


class SmtpServer:
    """A real SMTP server (aiosmtpd) on a loopback port: `received` holds what it accepted;
    while `refusing` is set it answers every message with a temporary failure."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.received, self.refusing = [], False
        server = self

        class Handler:
            async def handle_DATA(self, smtp, session, envelope):
                if server.refusing:
                    return "451 4.3.0 Mail server busy, try again later"
                server.received.append(email.message_from_bytes(
                    envelope.original_content or envelope.content, policy=email.policy.default))
                return "250 OK"

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)


@pytest.fixture
def smtp_server():
    server = SmtpServer()
    server.controller.start()
    yield server
    server.controller.stop()


class QueryCounter:
    def __init__(self):
        self.statements: list[str] = []

    def __call__(self, conn, cursor, statement, *args):
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "PRAGMA", "BEGIN")):
            self.statements.append(statement)

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def count_queries(app):
    """with count_queries() as counter: ... counter.count"""
    from contextlib import contextmanager

    @contextmanager
    def counting():
        counter = QueryCounter()
        sa.event.listen(db.engine, "before_cursor_execute", counter)
        try:
            yield counter
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", counter)
    return counting


REDIS = "redis://127.0.0.1:6379/15"


@pytest.fixture
def redis_app(app):
    """The app on the real Redis, with a queue of this test's own."""
    from redis import Redis
    from redis.exceptions import ConnectionError

    try:
        Redis.from_url(REDIS).ping()
    except ConnectionError:
        pytest.skip("no Redis at 127.0.0.1:6379")
    app.config["REDIS_URL"] = REDIS
    app.config["RQ_QUEUE"] = f"test-{uuid.uuid4().hex}"
    yield app
    q = jobs.queue()
    q.empty()
    q.delete(delete_jobs=True)
    app.config["REDIS_URL"] = None
