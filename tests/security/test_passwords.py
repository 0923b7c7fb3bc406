"""Password rules (ASVS 5, V6.2): at least 8 characters, long ones accepted, the most common
ones refused, and (issue 23, item 10) guessable ones refused by the zxcvbn estimator, the
account's own e-mail address among them."""

import pytest

from tracker.auth.service import check_new_password, common_passwords
from tracker.rules import RuleViolation


@pytest.mark.parametrize("password", [
    "correct horse battery staple", "Ünïcödé pässwörd 🙂", "kq7#Vz!pR2m", "a brand new passphrase",
    "violet tugboat semaphore " * 5,  # 125 characters
])
def test_good_passwords_are_accepted(password):
    check_new_password(password, email="lead@test.example", name="Lena Lead")


@pytest.mark.parametrize("password", [
    "Policy12", "8chars!!", "x" * 64, "é" * 64, "a" * 128, "qwertyuiop123", "Lena2026!",
    "abcdefgh1", "19871987",
])
def test_guessable_passwords_are_refused_with_advice(password):
    with pytest.raises(RuleViolation) as exc:
        check_new_password(password, email="lead@test.example", name="Lena Lead")
    assert exc.value.field == "password"
    assert exc.value.message.startswith("That password is too easy to guess.")
    assert "A few unrelated words make a strong password" in exc.value.message


@pytest.mark.parametrize("password", ["lena.lead@example.org", "LENA.LEAD@example.org",
                                      "lena.lead"])
def test_the_accounts_own_email_is_refused(password):
    with pytest.raises(RuleViolation) as exc:
        check_new_password(password, email="lena.lead@example.org")
    assert "your e-mail address" in exc.value.message


def test_the_email_inside_the_password_counts_against_it():
    check_new_password("lena.lead@example.org!")  # strong for someone else…
    with pytest.raises(RuleViolation, match="too easy to guess"):
        check_new_password("lena.lead@example.org!", email="lena.lead@example.org")


def test_the_forms_refuse_weak_passwords(client, people, login_as):
    login_as("lead")
    page = client.post("/account", data={"current_password": "correct horse battery",
                                         "password": "Policy12"}).get_data(True)
    assert "too easy to guess" in page
    login_as("admin")
    page = client.post("/admin/users/new", data={
        "email": "new@test.example", "name": "New", "password": "new@test.example"}
    ).get_data(True)
    assert "your e-mail address" in page


@pytest.mark.parametrize("password,message", [
    ("", "at least 8"), ("1234567", "at least 8"), ("a" * 129, "at most 128"),
    ("password", "most common"), ("Password1", "most common"), ("QWERTYUIOP", "most common"),
    ("iloveyou123", "most common"), ("Summer2024", "most common"),
    ("demo-password", "most common"),
])
def test_short_long_and_common_passwords_are_refused(password, message):
    with pytest.raises(RuleViolation) as exc:
        check_new_password(password)
    assert message in exc.value.message and exc.value.field == "password"


def test_the_common_list_is_substantial():
    common = common_passwords()
    assert len(common) >= 1000
    assert sum(len(p) >= 8 for p in common) >= 500  # the ones the length rule lets through
    assert all(p == p.strip().lower() for p in common)


def test_the_demo_seed_may_use_the_demo_password(app, library):
    from tracker.demo import DEMO_PASSWORD, _ensure_people

    users = _ensure_people()
    assert DEMO_PASSWORD in common_passwords() and users
