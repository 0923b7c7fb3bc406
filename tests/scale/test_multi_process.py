"""Scale-out: two app processes and one RQ worker against PostgreSQL and Redis, no state
in any process. An audit runs through both processes; what one writes the other sees at
once, and the signed report is rendered by the worker, off the request path."""

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from tests import factories
from tracker import create_app
from tracker.auth.service import create_token
from tracker.extensions import db
from tracker.library.seeding import load_library

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("VIRTUAL_ENV", ROOT / ".venv")) / "bin"
PG_URL = os.environ.get("TEST_DATABASE_URL")
REDIS_URL = "redis://127.0.0.1:6379/14"

pytestmark = pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL (TEST_DATABASE_URL)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def cluster(tmp_path):
    from redis import Redis

    try:
        Redis.from_url(REDIS_URL).flushdb()
    except Exception:
        pytest.skip("no Redis at 127.0.0.1:6379")
    name = f"rt_mp_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    shared = tmp_path / "shared"  # the "shared volume": evidence, reports, signing key
    env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": REDIS_URL, "SECRET_KEY": "mp-secret",
           "RQ_QUEUE": name,
           "INSTANCE_PATH": str(shared), "PASSWORD_HASH_METHOD": "scrypt:2048:8:1"}
    env.pop("TEST_DATABASE_URL", None)
    flask = [str(BIN / "flask"), "--app", "app"]
    subprocess.run([*flask, "db", "upgrade"], env=env, cwd=ROOT, check=True,
                   capture_output=True)
    subprocess.run([*flask, "keys", "init"], env=env, cwd=ROOT, check=True, capture_output=True)

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": REDIS_URL,
                      "PASSWORD_HASH_METHOD": "scrypt:2048:8:1", "SECRET_KEY": "mp-secret"})
    with app.app_context():
        load_library(ROOT / "seeds" / "library")
        people = factories.make_people()
        tokens = {role: create_token(people[role], "mp")[1]
                  for role in ("lead", "operator", "auditor")}
        team_id = people["alpha"].id
        db.session.commit()
        db.engine.dispose()

    procs, bases = [], []
    try:
        yield _start(env, flask, procs, bases, tmp_path, tokens, team_id)
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=30)
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        shutil.rmtree(shared, ignore_errors=True)


def _start(env, flask, procs, bases, tmp_path, tokens, team_id):
    """Two gunicorn processes and one worker; returns once both answer."""
    for _ in range(2):
        port = free_port()
        procs.append(subprocess.Popen(
            [str(BIN / "gunicorn"), "-w", "1", "-b", f"127.0.0.1:{port}", "app:app"],
            env=env, cwd=ROOT, start_new_session=True, stderr=subprocess.DEVNULL))
        bases.append(f"http://127.0.0.1:{port}/api/v1")
    worker_log = (tmp_path / "worker.log").open("w")
    procs.append(subprocess.Popen([*flask, "worker"], env=env, cwd=ROOT,
                                  start_new_session=True, stdout=worker_log,
                                  stderr=subprocess.STDOUT))
    for base in bases:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                requests.get(base.replace("/api/v1", "/healthz"), timeout=5)
                break
            except requests.RequestException:
                time.sleep(0.3)
    return {"bases": bases, "tokens": tokens, "team_id": team_id,
            "worker_log": tmp_path / "worker.log"}


def call(base, token, method, path, **kwargs):
    response = requests.request(method, base + path, timeout=60,
                                headers={"Authorization": f"Bearer {token}"}, **kwargs)
    return response


def test_an_audit_runs_through_two_app_processes_and_a_worker(cluster):
    one, two = cluster["bases"]
    t = cluster["tokens"]
    started = call(one, t["lead"], "POST", "/audits",
                   json={"team_id": cluster["team_id"], "period": "2027-Q1", "domains": ["DV"]})
    assert started.status_code == 201, started.text
    audit_id = started.json()["id"]

    seen = call(two, t["operator"], "GET", f"/audits/{audit_id}").json()  # at once, on two
    item = seen["items"][0]
    assert item["status"] == "not_started" and item["version"] == 1
    assert call(two, t["operator"], "POST", f"/audits/{audit_id}/items/{item['id']}/evidence",
                json={"note": "Checked 20 labels."}).status_code == 201
    patched = call(two, t["operator"], "PATCH", f"/audits/{audit_id}/items/{item['id']}",
                   json={"status": "met", "version": 1})
    assert patched.status_code == 200, patched.text
    now = call(one, t["lead"], "GET", f"/audits/{audit_id}").json()
    mine = next(i for i in now["items"] if i["id"] == item["id"])
    assert mine["status"] == "met" and mine["version"] == patched.json()["version"]
    stale = call(one, t["lead"], "PATCH", f"/audits/{audit_id}/items/{item['id']}",
                 json={"status": "blocked", "version": 1})
    assert stale.status_code == 409  # the other process's write is seen, not overwritten

    assert call(one, t["lead"], "POST", f"/audits/{audit_id}/mark-rest-not-met",
                json={"note": "Next quarter."}).status_code == 200
    assert call(one, t["lead"], "POST", f"/audits/{audit_id}/submit").status_code == 200
    assert call(two, t["auditor"], "POST", f"/audits/{audit_id}/accept",
                json={}).status_code == 200
    signed = call(two, t["auditor"], "POST", f"/audits/{audit_id}/signoff",
                  json={"statement": "Reviewed in two processes.", "opinion": "not_ready"})
    assert signed.status_code == 200, signed.text

    deadline = time.monotonic() + 180
    while True:  # the worker renders and signs; the app processes only read the result
        pdf = call(one, t["lead"], "GET", f"/audits/{audit_id}/report.pdf")
        if pdf.status_code == 200 or time.monotonic() > deadline:
            break
        assert pdf.status_code == 503 and pdf.headers["Retry-After"]
        time.sleep(1)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-"), (
        pdf.text[:500], cluster["worker_log"].read_text()[-3000:])
    again = call(two, t["lead"], "GET", f"/audits/{audit_id}/report.pdf")
    assert again.content == pdf.content  # stored once, served byte for byte by either process
