"""Password rules (ASVS 5, V6.2): at least 8 characters, long ones accepted, the most common
ones refused."""

import pytest

from tracker.auth.service import check_new_password, common_passwords
from tracker.rules import RuleViolation


@pytest.mark.parametrize("password", [
    "8chars!!", "correct horse battery staple", "x" * 64, "é" * 64, "Ünïcödé pässwörd 🙂",
    "a" * 128,
])
def test_good_passwords_are_accepted(password):
    check_new_password(password)


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
