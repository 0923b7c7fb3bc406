"""API tokens end with the password (issue 23, item 9): a password change or an admin reset
revokes every token of the account, and the owner is told which."""

import logging

import sqlalchemy as sa

from tests.factories import PASSWORD
from tracker.auth import service
from tracker.auth.models import ApiToken
from tracker.extensions import db

NEW = "a brand new passphrase"


def whoami(client, token):
    return client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})


def tokens(app, people, *names):
    made = [service.create_token(people["operator"], name)[1] for name in names]
    db.session.commit()
    return made


def test_a_password_change_revokes_the_accounts_tokens(app, client, people):
    ci, backup = tokens(app, people, "ci", "backup")
    _, other = service.create_token(people["lead"], "lead's own")
    db.session.commit()
    assert whoami(client, ci).status_code == 200
    client.post("/login", data={"email": "operator@test.example", "password": PASSWORD})
    response = client.post("/account", data={"current_password": PASSWORD, "password": NEW},
                           follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "your API tokens “backup”, “ci” were revoked" in page
    assert whoami(client, ci).status_code == 401
    assert whoami(client, backup).status_code == 401
    assert whoami(client, other).status_code == 200  # someone else's token is untouched
    # The account page lists them as revoked; new ones can be made.
    assert db.session.execute(sa.select(sa.func.count()).select_from(ApiToken).where(
        ApiToken.user_id == people["operator"].id, ApiToken.revoked_at.is_(None))
    ).scalar_one() == 0


def test_an_admin_reset_revokes_them_and_tells_the_owner(app, client, people, caplog):
    (ci,) = tokens(app, people, "ci")
    client.post("/login", data={"email": "admin@test.example", "password": PASSWORD})
    with caplog.at_level(logging.INFO, logger="tracker.mail"):
        response = client.post(f"/admin/users/{people['operator'].id}/password",
                               data={"password": "reset by the admin"}, follow_redirects=True)
    assert "their API token “ci” was revoked" in response.get_data(as_text=True)
    assert whoami(client, ci).status_code == 401
    notices = [r.getMessage() for r in caplog.records if r.name == "tracker.mail"]
    assert notices == ["account notice to operator@test.example: your password was reset"]


def test_the_activity_log_names_the_revoked_tokens(app, people):
    tokens(app, people, "ci")
    revoked = service.set_password(None, people["operator"], NEW)
    assert revoked == ["ci"]
    assert service.set_password(None, people["operator"], "another fresh passphrase") == []
