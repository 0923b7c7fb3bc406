"""Factory functions that build data through the same services the app uses."""

from contextlib import contextmanager

import sqlalchemy as sa

from tracker.auth import service as accounts
from tracker.auth.models import Team, User
from tracker.extensions import db

PASSWORD = "correct horse battery"

# make_people's accounts (role → email) and teams (key → name), by which load_people finds them.
PEOPLE = {
    "admin": "admin@test.example",
    "lead": "lead@test.example",
    "operator": "operator@test.example",
    "auditor": "auditor@test.example",
    "member_auditor": "member-auditor@test.example",
    "outsider": "outsider@test.example",
}
TEAMS = {"alpha": "Alpha", "beta": "Beta"}


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
        "admin": make_user(PEOPLE["admin"], "Ada Admin", admin=True),
        "lead": make_user(PEOPLE["lead"], "Lena Lead"),
        "operator": make_user(PEOPLE["operator"], "Omar Operator"),
        "auditor": make_user(PEOPLE["auditor"], "Aude Auditor", auditor=True),
        "member_auditor": make_user(PEOPLE["member_auditor"], "Mo Member", auditor=True),
        "outsider": make_user(PEOPLE["outsider"], "Otto Outsider"),
    }
    p["alpha"] = make_team(TEAMS["alpha"], p["lead"], [p["operator"], p["member_auditor"]])
    p["beta"] = make_team(TEAMS["beta"], p["outsider"])
    db.session.commit()
    return p


def load_people() -> dict:
    """make_people's accounts and teams, loaded in the current session (two queries)."""
    users = {u.email: u for u in db.session.execute(
        sa.select(User).where(User.email.in_(PEOPLE.values()))).scalars()}
    teams = {t.name: t for t in db.session.execute(
        sa.select(Team).where(Team.name.in_(TEAMS.values()))).scalars()}
    missing = [e for e in PEOPLE.values() if e not in users] + [
        n for n in TEAMS.values() if n not in teams]
    assert not missing, f"make_people's data is not in this database: {missing}"
    return {**{role: users[email] for role, email in PEOPLE.items()},
            **{key: teams[name] for key, name in TEAMS.items()}}


@contextmanager
def append_only_off():
    """Lift the activity log's append-only triggers, as a database owner can, and restore
    them (PostgreSQL's test database is shared by the run; SQLite's is a copy per test)."""
    if db.engine.dialect.name == "postgresql":
        table = "ALTER TABLE activity_events {} TRIGGER activity_events_append_only"
        db.session.execute(sa.text(table.format("DISABLE")))
        try:
            yield
            db.session.commit()
        finally:
            db.session.rollback()
            db.session.execute(sa.text(table.format("ENABLE")))
            db.session.commit()
    else:
        db.session.execute(sa.text("DROP TRIGGER activity_events_no_delete"))
        db.session.execute(sa.text("DROP TRIGGER activity_events_no_update"))
        yield
        db.session.commit()


def submit(lead, audit) -> None:
    """Submit for review as a lead would: whatever is still open marked not met first."""
    from tracker.audits import service as audits
    from tracker.audits.vocabulary import unassessed_clause

    if audits.items_where(audit, unassessed_clause()):
        audits.mark_rest_not_met(lead, audit, "Not done by the submission date.")
    audits.submit_for_review(lead, audit)


def sign_off(auditor, audit, statement: str, opinion: str | None = None):
    """Sign off as an auditor would: every item accepted, and the opinion that fits the items
    unless one is given."""
    from tracker.audits import service as audits
    from tracker.audits.models import AuditItem
    from tracker.reports import service as reports

    ids = db.session.execute(sa.select(AuditItem.id).where(
        AuditItem.audit_id == audit.id)).scalars().all()
    if ids:
        audits.accept_items(auditor, audit, ids)  # those needing rework too: resolved
    if opinion is None:
        opinion = "ready_with_exceptions" if reports.exceptions_of(audit) else "ready"
    return reports.sign_off(auditor, audit, statement, opinion)
