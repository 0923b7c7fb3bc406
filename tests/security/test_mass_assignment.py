"""Fields a form does not offer are ignored: nobody becomes admin, changes team or role, or
edits another record by adding `is_admin`, `team_id`, `role`, `owner_id`… to a request."""

import sqlalchemy as sa

from tests.routes import sign_in
from tracker.auth.models import Membership, User
from tracker.extensions import db

EXTRA = {"is_admin": "y", "is_auditor": "y", "role": "lead", "team_id": "0", "owner_id": "1",
         "user_id": "1", "id": "1", "active": "0", "session_version": "99",
         "email": "taken@test.example", "password_hash": "x", "name": "Renamed"}


def _user(user_id) -> User:
    db.session.expire_all()
    return db.session.get(User, user_id)


def test_account_form_ignores_roles_teams_and_identity(client, site):
    operator = site.people["operator"]
    before = [(m.team_id, m.role) for m in operator.memberships]
    sign_in(client, site, "operator")
    response = client.post("/account", data={**EXTRA, "team_id": site.people["beta"].id,
                                             "current_password": "correct horse battery",
                                             "password": "a new long passphrase"})
    assert response.status_code == 302
    user = _user(operator.id)
    assert not user.is_admin and not user.is_auditor and user.active
    assert user.email == "operator@test.example" and user.name == "Omar Operator"
    assert [(m.team_id, m.role) for m in user.memberships] == before


def test_new_user_form_ignores_team_role_and_state(client, site):
    sign_in(client, site, "admin")
    response = client.post("/admin/users/new", data={
        **EXTRA, "is_admin": "", "email": "fresh@test.example", "name": "Fresh Person",
        "password": "a long secret 1", "team_id": site.people["alpha"].id})
    assert response.status_code == 302
    user = db.session.execute(sa.select(User).where(User.email == "fresh@test.example")
                              ).scalar_one()
    assert user.active and not user.memberships and user.session_version == 1
    assert user.password_hash != "x"


def test_roles_form_changes_only_roles(client, site):
    sign_in(client, site, "admin")
    operator = site.people["operator"]
    client.post(f"/admin/users/{operator.id}/roles", data={**EXTRA, "is_admin": ""})
    user = _user(operator.id)
    assert user.is_auditor and not user.is_admin
    assert user.email == "operator@test.example" and user.name == "Omar Operator" and user.active


def test_membership_goes_to_the_team_in_the_url(client, site):
    sign_in(client, site, "admin")
    alpha, beta = site.people["alpha"], site.people["beta"]
    auditor = site.people["auditor"]
    client.post(f"/admin/teams/{alpha.id}", data={"user_id": auditor.id, "role": "operator",
                                                  "team_id": beta.id})
    rows = db.session.execute(sa.select(Membership.team_id).where(
        Membership.user_id == auditor.id)).scalars().all()
    assert rows == [alpha.id]


def test_unknown_role_value_is_refused(client, site):
    sign_in(client, site, "admin")
    alpha, auditor = site.people["alpha"], site.people["auditor"]
    response = client.post(f"/admin/teams/{alpha.id}",
                           data={"user_id": auditor.id, "role": "admin"})
    assert response.status_code == 200 and "Not a valid choice" in response.get_data(True)
    assert not db.session.execute(sa.select(Membership).where(
        Membership.user_id == auditor.id)).scalars().all()
