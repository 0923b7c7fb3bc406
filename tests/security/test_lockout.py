"""Nobody can lock a known user out (issue 23, item 7): failures are counted per address and
per account and address; a correct password from an address that has not failed is never
refused; failures on one account from many addresses narrow each new address's allowance
only gradually; the owner is told once, by e-mail when MAIL_SERVER is set."""

import logging
import socket

import pytest

from tests.factories import PASSWORD

LEAD = "lead@test.example"


@pytest.fixture
def app_config():
    return {"RATELIMIT_ENABLED": True}


def attempt(client, address, password="wrong password", email=LEAD):
    client.post("/logout")
    return client.post("/login", data={"email": email, "password": password},
                       environ_base={"REMOTE_ADDR": address}).status_code


def test_ten_wrong_passwords_a_minute_do_not_lock_the_owner_out(client, people):
    for _ in range(10):
        attempt(client, "203.0.113.66")
    assert attempt(client, "203.0.113.66") == 429  # the guessing address is refused…
    assert attempt(client, "198.51.100.5", PASSWORD) == 302  # …the owner is not


def test_many_addresses_guessing_narrow_new_addresses_gradually(client, people):
    # Under the threshold (10 account failures an hour) a new address has the full 5.
    assert [attempt(client, "203.0.113.1") for _ in range(6)] == [200] * 5 + [429]
    assert [attempt(client, "203.0.113.2") for _ in range(5)] == [200] * 5
    # 10 failures: a new address gets 5 // 2 = 2 tries…
    assert [attempt(client, "203.0.113.3") for _ in range(3)] == [200, 200, 429]
    for n in range(4, 12):  # …and 1 past 20, still 1 however many more
        attempt(client, f"203.0.113.{n}")
    assert [attempt(client, "203.0.113.50") for _ in range(2)] == [200, 429]
    # The owner, from an address that has not failed, signs in at once.
    assert attempt(client, "198.51.100.5", PASSWORD) == 302
    # Other accounts are not slowed at all.
    assert [attempt(client, "203.0.113.51", email="operator@test.example")
            for _ in range(5)] == [200] * 5


def test_an_address_that_failed_on_the_account_is_refused_even_with_the_password(client,
                                                                                 people):
    for _ in range(5):
        attempt(client, "203.0.113.7")
    assert attempt(client, "203.0.113.7", PASSWORD) == 429


def test_the_owner_is_told_once(client, people, caplog):
    with caplog.at_level(logging.INFO, logger="tracker.mail"):
        for n in range(30):
            attempt(client, f"203.0.113.{n}")
    notices = [r.getMessage() for r in caplog.records if r.name == "tracker.mail"]
    assert notices == [f"account notice to {LEAD}: failed sign-in attempts on your account"]


def test_no_notice_for_an_email_without_an_account(client, people, caplog):
    with caplog.at_level(logging.INFO, logger="tracker.mail"):
        for n in range(12):
            attempt(client, f"203.0.113.{n}", email="nobody@test.example")
    assert not [r for r in caplog.records if r.name == "tracker.mail"]


def test_the_notice_is_mailed_when_a_mail_server_is_set(app, client, people, smtp_server):
    received = smtp_server.received
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp_server.port,
                      MAIL_DEFAULT_SENDER="tracker@test.example")
    for n in range(15):
        attempt(client, f"203.0.113.{n}")
    assert len(received) == 1
    message = received[0]
    assert message["To"] == LEAD and message["From"] == "tracker@test.example"
    assert "failed sign-in attempts on your account" in message["Subject"]
    assert "you can still sign in as usual" in message.get_payload()


def test_a_mail_server_that_is_down_does_not_fail_the_sign_in(app, client, people):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=closed)
    assert [attempt(client, f"203.0.113.{n}") for n in range(12)] == [200] * 12
