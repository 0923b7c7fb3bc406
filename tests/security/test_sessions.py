"""Sessions end on the server: sign-out, a password change, a reset or a deactivation stops
every cookie issued before it — session and remember-me alike — and sign-in starts a fresh
session (no fixation)."""

import pytest

from tests.factories import PASSWORD
from tracker.auth import service
from tracker.auth.models import User
from tracker.extensions import db


@pytest.fixture(autouse=True)
def fresh_contexts(client):
    """app.test_client() gives clients whose requests each run in their own app context (see
    FreshContextClient in tests/conftest.py), as separate browsers would."""


def sign_in(client, email="lead@test.example", password=PASSWORD, remember=False):
    data = {"email": email, "password": password}
    if remember:
        data["remember"] = "y"
    response = client.post("/login", data=data)
    assert response.status_code == 302
    return response


def with_cookie(app, name, value):
    """A fresh browser holding only one captured cookie."""
    client = app.test_client()
    client.set_cookie(name, value)
    return client


def signed_in(client) -> bool:
    return client.get("/").status_code == 200


def test_remember_me_cookie_captured_before_sign_out_stops_working(app, people):
    victim = app.test_client()
    sign_in(victim, remember=True)
    remember = victim.get_cookie("remember_token").value
    assert signed_in(with_cookie(app, "remember_token", remember))  # it works until…
    victim.post("/logout")
    assert not signed_in(with_cookie(app, "remember_token", remember))
    assert not signed_in(victim)


def test_password_change_ends_the_other_sessions_and_keeps_this_one(app, people):
    here, elsewhere = app.test_client(), app.test_client()
    sign_in(here)
    sign_in(elsewhere, remember=True)
    session_cookie = elsewhere.get_cookie("session").value
    remember = elsewhere.get_cookie("remember_token").value
    response = here.post("/account", data={"current_password": PASSWORD,
                                           "password": "a brand new passphrase"})
    assert response.status_code == 302
    assert signed_in(here)
    assert not signed_in(elsewhere)
    assert not signed_in(with_cookie(app, "session", session_cookie))
    assert not signed_in(with_cookie(app, "remember_token", remember))
    # The old password no longer works; the new one does.
    assert app.test_client().post("/login", data={
        "email": "lead@test.example", "password": PASSWORD}).status_code == 200
    sign_in(app.test_client(), password="a brand new passphrase")


def test_wrong_current_password_changes_nothing(app, people):
    here, elsewhere = app.test_client(), app.test_client()
    sign_in(here)
    sign_in(elsewhere)
    page = here.post("/account", data={"current_password": "not it",
                                       "password": "a brand new passphrase"}).get_data(True)
    assert "not your current password" in page
    assert signed_in(elsewhere)


def test_admin_reset_ends_every_session_of_the_user(app, people):
    victim = app.test_client()
    sign_in(victim, "operator@test.example", remember=True)
    remember = victim.get_cookie("remember_token").value
    admin = app.test_client()
    sign_in(admin, "admin@test.example")
    admin.post(f"/admin/users/{people['operator'].id}/password",
               data={"password": "reset by the admin"})
    assert not signed_in(victim)
    assert not signed_in(with_cookie(app, "remember_token", remember))


def test_deactivation_ends_remember_me_too(app, people):
    victim = app.test_client()
    sign_in(victim, "operator@test.example", remember=True)
    remember = victim.get_cookie("remember_token").value
    service.set_active(people["admin"], people["operator"], False)
    db.session.commit()
    assert not signed_in(with_cookie(app, "remember_token", remember))
    service.set_active(people["admin"], people["operator"], True)
    db.session.commit()
    # Reactivation does not revive old cookies: the version moved on twice.
    assert not signed_in(with_cookie(app, "remember_token", remember))


def test_sign_in_starts_a_new_session(app, people):
    client = app.test_client()
    client.get("/login")
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
        session["_user_id"] = "999:1"
    before = client.get_cookie("session").value
    sign_in(client)
    assert client.get_cookie("session").value != before
    with client.session_transaction() as session:
        assert "planted" not in session
        user = db.session.get(User, people["lead"].id)
        assert session["_user_id"] == user.get_id()


def test_session_ids_carry_the_version(people):
    user = people["lead"]
    before = user.get_id()
    service.end_sessions(user.id)
    assert user.get_id() != before and user.get_id().startswith(f"{user.id}:")
