import sqlalchemy as sa

from tests.factories import PASSWORD
from tracker.auth.models import Membership, TeamRole, User
from tracker.extensions import db


def test_admin_creates_user_and_adds_to_team(client, login_as, people):
    login_as("admin")
    response = client.post("/admin/users/new", data={
        "email": "New.Person@Test.Example", "name": "New Person", "password": "a long secret 1",
        "is_auditor": "y"})
    assert response.status_code == 302
    user = db.session.execute(sa.select(User).where(User.email == "new.person@test.example")
                              ).scalar_one()
    assert user.is_auditor and not user.is_admin
    response = client.post(f"/admin/teams/{people['alpha'].id}",
                           data={"user_id": user.id, "role": "lead"})
    assert response.status_code == 302
    membership = db.session.execute(sa.select(Membership).where(Membership.user_id == user.id)
                                    ).scalar_one()
    assert membership.role == TeamRole.LEAD


def test_refusals_keep_what_was_typed_and_change_nothing(client, login_as, people):
    login_as("admin")
    before = db.session.execute(sa.select(sa.func.count(User.id))).scalar()
    page = client.post("/admin/users/new", data={
        "email": "lead@test.example", "name": "Dup", "password": "a long secret 1"}
    ).get_data(as_text=True)
    assert "already has an account" in page and 'value="Dup"' in page
    page = client.post("/admin/users/new", data={
        "email": "x@test.example", "name": "Weak", "password": "password1"}).get_data(True)
    assert "most common" in page
    page = client.post("/admin/users/new", data={
        "email": "y@test.example", "name": "Short", "password": "short"}).get_data(True)
    assert "at least 8 characters" in page
    assert db.session.execute(sa.select(sa.func.count(User.id))).scalar() == before


def test_admin_deactivates_and_resets_password(client, login_as, people):
    login_as("admin")
    operator = people["operator"]
    client.post(f"/admin/users/{operator.id}/password", data={"password": "brand new secret"})
    client.post(f"/admin/users/{operator.id}/active", data={"active": "0"})
    db.session.expire_all()
    assert not db.session.get(User, operator.id).active
    other = client.application.test_client()
    page = other.post("/login", data={"email": operator.email, "password": "brand new secret"}
                      ).get_data(True)
    assert "do not match an active account" in page


def test_non_admins_cannot_reach_admin_pages(client, login_as):
    for role in ("lead", "operator", "auditor"):
        login_as(role)
        for url in ("/admin/users", "/admin/teams", "/admin/users/new"):
            assert client.get(url).status_code == 403, (role, url)


def test_users_cli_create_and_list(runner, people):
    result = runner.invoke(args=["users", "create", "cli@test.example", "--name", "Cli User",
                                 "--password", "a long secret 1", "--team", "Alpha"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["users", "list"])
    assert "cli@test.example" in result.output and "Alpha (operator)" in result.output
    result = runner.invoke(args=["users", "create", "cli@test.example", "--name", "Again",
                                 "--password", PASSWORD])
    assert result.exit_code != 0 and "already has an account" in result.output
