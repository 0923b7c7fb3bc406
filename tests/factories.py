"""Factory functions that build data through the same services the app uses."""

from tracker.auth import service as accounts
from tracker.extensions import db

PASSWORD = "correct horse battery"


def make_user(email: str, name: str | None = None, *, admin=False, auditor=False):
    return accounts.create_user(None, email, name or email.split("@")[0].title(), PASSWORD,
                                is_admin=admin, is_auditor=auditor)


def make_team(name: str, lead=None, operators=()):
    team = accounts.create_team(None, name)
    if lead is not None:
        accounts.set_membership(None, team, lead, "lead")
    for op in operators:
        accounts.set_membership(None, team, op, "operator")
    return team


def make_people() -> dict:
    """Team Alpha (lead, operator) and team Beta (outsider), an admin, two auditors — one
    of whom is a member of Alpha and so may not sign off Alpha's audits."""
    p = {
        "admin": make_user("admin@test.example", "Ada Admin", admin=True),
        "lead": make_user("lead@test.example", "Lena Lead"),
        "operator": make_user("operator@test.example", "Omar Operator"),
        "auditor": make_user("auditor@test.example", "Aude Auditor", auditor=True),
        "member_auditor": make_user("member-auditor@test.example", "Mo Member", auditor=True),
        "outsider": make_user("outsider@test.example", "Otto Outsider"),
    }
    p["alpha"] = make_team("Alpha", p["lead"], [p["operator"], p["member_auditor"]])
    p["beta"] = make_team("Beta", p["outsider"])
    db.session.commit()
    return p
