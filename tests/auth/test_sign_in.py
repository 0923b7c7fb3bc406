import pytest

from tests.factories import PASSWORD
from tracker.auth import service
from tracker.extensions import db


def test_sign_in_and_out(client, people):
    response = client.post("/login", data={"email": "lead@test.example", "password": PASSWORD})
    assert response.status_code == 302
    page = client.get("/").get_data(as_text=True)
    assert "Lena Lead" in page and "Sign out" in page
    client.post("/logout")
    assert client.get("/").status_code == 302  # back to sign-in


@pytest.mark.parametrize("email,password", [
    ("lead@test.example", "wrong password"),
    ("nobody@test.example", PASSWORD),
])
def test_wrong_email_or_password_gets_one_message(client, people, email, password):
    page = client.post("/login", data={"email": email, "password": password}).get_data(True)
    assert "do not match an active account" in page
    assert client.get("/").status_code == 302


def test_deactivated_user_cannot_sign_in(client, people):
    service.set_active(people["admin"], people["operator"], False)
    db.session.commit()
    page = client.post("/login", data={"email": "operator@test.example",
                                       "password": PASSWORD}).get_data(True)
    assert "do not match an active account" in page


def test_deactivation_ends_a_live_session(client, login_as, people):
    login_as("operator")
    assert client.get("/").status_code == 200
    service.set_active(people["admin"], people["operator"], False)
    db.session.commit()
    assert client.get("/").status_code == 302


def test_session_cookie_captured_before_sign_out_stops_working(app, people):
    thief = app.test_client()
    victim = app.test_client()
    victim.post("/login", data={"email": "lead@test.example", "password": PASSWORD})
    cookie = victim.get_cookie("session")
    thief.set_cookie("session", cookie.value)
    assert thief.get("/").status_code == 200
    victim.post("/logout")
    assert thief.get("/").status_code == 302


def test_next_only_goes_to_this_site(client, people):
    for target in ["//evil.example", "/\\evil.example", "https://evil.example",
                   "/%09/evil.example", "javascript:alert(1)", "/\t/evil.example"]:
        client.post("/logout")
        response = client.post("/login", data={"email": "lead@test.example",
                                               "password": PASSWORD, "next": target})
        location = response.headers["Location"]
        assert "evil" not in location.split("?")[0].replace("%09/evil", "") or \
            location.startswith("/%09"), location
        assert not location.startswith(("//", "http", "javascript")), location
    client.post("/logout")
    response = client.post("/login", data={"email": "lead@test.example", "password": PASSWORD,
                                           "next": "/library/"})
    assert response.headers["Location"] == "/library/"


def test_sign_out_is_a_post(client, login_as):
    login_as("lead")
    assert client.get("/logout").status_code == 405
    assert client.get("/").status_code == 200


def test_session_cookie_flags(client, people):
    response = client.post("/login", data={"email": "lead@test.example", "password": PASSWORD})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_production_password_hash_is_scrypt_2_16(tmp_path):
    from tracker.config import load_config

    assert load_config(str(tmp_path))["PASSWORD_HASH_METHOD"] == "scrypt:65536:8:1"


def test_forms_require_csrf_token(app, people):
    app.config["WTF_CSRF_ENABLED"] = True
    client = app.test_client()
    response = client.post("/login", data={"email": "lead@test.example", "password": PASSWORD})
    assert response.status_code == 400
    assert "form expired" in response.get_data(as_text=True)
