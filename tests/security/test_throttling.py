"""Sign-in throttling: failed attempts counted per address and per account and address, a
429 that says when to retry, and — with Redis — one count shared by every process. The
lock-out cases (issue 23, item 7) are in test_lockout.py."""

import hashlib
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.factories import PASSWORD
from tracker.extensions import db

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def app_config(request):
    config = {"RATELIMIT_ENABLED": True}
    if "redis_account" in request.fixturenames:  # the Redis tests: count in Redis
        config["RATELIMIT_STORAGE_URI"] = REDIS_URL
    return config


def attempt(client, email, password="wrong password", address="192.0.2.10"):
    return client.post("/login", data={"email": email, "password": password},
                       environ_base={"REMOTE_ADDR": address})


def assert_throttled(response, reason):
    assert response.status_code == 429
    page = response.get_data(as_text=True)
    wait = int(response.headers["Retry-After"])
    assert 0 < wait <= 3600
    assert reason in page
    assert re.search(r"Wait \d+ (seconds?|minutes) and try again \(after \d\d:\d\d:\d\d UTC\)",
                     page), page
    return wait


def test_failed_attempts_per_account_and_address_are_throttled(client, people):
    for _ in range(5):
        assert attempt(client, "lead@test.example").status_code == 200
    response = attempt(client, "Lead@Test.Example ")  # the same account, typed differently
    wait = assert_throttled(response, "Too many failed sign-in attempts for this account "
                                      "from your network address.")
    assert wait <= 60
    # Even the right password waits: the throttle is checked before the password.
    assert attempt(client, "lead@test.example", PASSWORD).status_code == 429
    # Another account from the same address still signs in.
    assert attempt(client, "operator@test.example", PASSWORD).status_code == 302


def test_successful_sign_ins_do_not_count(client, people):
    for _ in range(8):
        assert attempt(client, "lead@test.example", PASSWORD).status_code == 302
        client.post("/logout")
    assert attempt(client, "lead@test.example", PASSWORD).status_code == 302


def test_failed_attempts_per_address_are_throttled(client, people):
    for n in range(20):
        assert attempt(client, f"guess{n}@test.example").status_code == 200
    assert_throttled(attempt(client, "guess-more@test.example"),
                     "Too many failed sign-in attempts from your network address.")
    # Someone at another address is not affected.
    assert attempt(client, "lead@test.example", PASSWORD, address="198.51.100.7"
                   ).status_code == 302


def forwarded(client, ip):
    """An attempt relayed by a proxy at 10.0.0.1 for the client at `ip`."""
    return client.post("/login", data={"email": f"{ip}@test.example", "password": "x"},
                       headers={"X-Forwarded-For": ip}, environ_base={"REMOTE_ADDR": "10.0.0.1"})


def test_forwarded_addresses_count_only_behind_a_trusted_proxy(app, client, people):
    # No proxy configured: the header is ignored, every attempt is the proxy's address.
    for n in range(20):
        forwarded(client, f"203.0.113.{n}")
    assert forwarded(client, "203.0.113.99").status_code == 429


def test_behind_a_trusted_proxy_each_client_has_its_own_count(tmp_path, database_url, people):
    from tests.conftest import base_config
    from tracker import create_app

    db.session.commit()
    app = create_app({**base_config(tmp_path, database_url), "RATELIMIT_ENABLED": True,
                      "TRUSTED_PROXIES": 1})
    client = app.test_client()

    for n in range(25):
        assert forwarded(client, f"203.0.113.{n}").status_code == 200
    for _ in range(20):
        forwarded(client, "198.51.100.1")
    assert forwarded(client, "198.51.100.1").status_code == 429


def test_the_sign_in_page_itself_is_never_throttled(client, people):
    for _ in range(6):
        attempt(client, "lead@test.example")
    assert client.get("/login").status_code == 200


def test_limits_come_from_configuration(app, client, people):
    app.config["SIGN_IN_LIMIT_PER_ACCOUNT_ADDRESS"] = "2 per hour"
    attempt(client, "lead@test.example")
    attempt(client, "lead@test.example")
    wait = assert_throttled(attempt(client, "lead@test.example"), "for this account")
    assert 60 < wait <= 3600
    assert "minutes" in attempt(client, "lead@test.example").get_data(as_text=True)


def test_storage_defaults_to_memory_and_uses_redis_url(tmp_path, database_url):
    from tests.conftest import base_config
    from tracker import create_app

    config = base_config(tmp_path, database_url)
    assert create_app(config).config["RATELIMIT_STORAGE_URI"] == "memory://"
    app = create_app({**config, "REDIS_URL": "redis://cache.internal:6379/2"})
    assert app.config["RATELIMIT_STORAGE_URI"] == "redis://cache.internal:6379/2"


# --- Redis: one count for every process ------------------------------------------------

OTHER_PROCESS = """
import sys
from pathlib import Path
from tests.conftest import base_config
from tracker import create_app
tmp, url, email, storage, count = sys.argv[1:6]
app = create_app({**base_config(Path(tmp), url), "RATELIMIT_ENABLED": True,
                  "RATELIMIT_STORAGE_URI": storage})
client = app.test_client()
for _ in range(int(count)):
    r = client.post("/login", data={"email": email, "password": "nope"},
                    environ_base={"REMOTE_ADDR": "192.0.2.10"})
    print(r.status_code)
"""


def _redis():
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError:
        if os.environ.get("CI"):
            pytest.fail(f"Redis is not running at {REDIS_URL}: .ci/run must start it.")
        pytest.skip(f"Redis is not running at {REDIS_URL}; start it with "
                    "`redis-server --daemonize yes` to run this test.")
    return client


def _in_other_process(tmp_path, database_url, email, storage, count) -> list[int]:
    result = subprocess.run(  # noqa: S603 — our own interpreter and script
        [sys.executable, "-c", OTHER_PROCESS, str(tmp_path), database_url, email, storage,
         str(count)], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True)
    return [int(line) for line in result.stdout.split()]


@pytest.fixture
def redis_account():
    """An account name of its own, so parallel runs sharing the Redis server never mix counts;
    its keys are removed afterwards."""
    client = _redis()
    email = f"redis-{uuid.uuid4().hex[:12]}@test.example"
    yield email
    key = hashlib.sha256(email.encode()).hexdigest()[:32]
    for name in client.scan_iter(f"*account:{key}*"):
        client.delete(name)
    for name in client.scan_iter("*address:192.0.2.10*"):
        client.delete(name)


def test_redis_shares_the_count_between_processes(app, client, tmp_path, database_url,
                                                  redis_account):
    assert [attempt(client, redis_account).status_code for _ in range(3)] == [200] * 3
    assert _in_other_process(tmp_path, database_url, redis_account, REDIS_URL, 2) == [200, 200]
    # 3 here + 2 there = the 5 allowed: this process refuses the sixth.
    assert_throttled(attempt(client, redis_account), "for this account")


def test_memory_storage_counts_per_process(app, client, people, tmp_path, database_url):
    """The control for the test above, and why the README says to set REDIS_URL with more
    than one worker: the other process's failures are not seen here."""
    assert [attempt(client, "lead@test.example").status_code for _ in range(3)] == [200] * 3
    elsewhere = _in_other_process(tmp_path, database_url, "lead@test.example", "memory://", 5)
    assert elsewhere == [200] * 5
    assert attempt(client, "lead@test.example").status_code == 200

