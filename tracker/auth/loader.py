import sqlalchemy as sa

from tracker.auth.models import Membership, User
from tracker.auth.service import SessionUser, grants
from tracker.extensions import db

_USERS, _MEMBERSHIPS = User.__table__, Membership.__table__
# Built once: every page runs it. With the memberships, which nearly every page asks
# (permissions, the navigation): on PostgreSQL a second statement is a second round trip.
# One row per membership (or one with none); plain values, no ORM objects.
_USER = (
    sa.select(_USERS.c.email, _USERS.c.name, _USERS.c.is_admin, _USERS.c.is_auditor,
              _USERS.c.session_version, _MEMBERSHIPS.c.team_id, _MEMBERSHIPS.c.role)
    .outerjoin(_MEMBERSHIPS, _MEMBERSHIPS.c.user_id == _USERS.c.id)
    .where(_USERS.c.id == sa.bindparam("user_id"), _USERS.c.active)
)


def load_user(session_id: str) -> SessionUser | None:
    """Session ids are "user_id:session_version": a bumped version ends old sessions."""
    try:
        user_id, version = (int(part) for part in session_id.split(":"))
    except (ValueError, AttributeError):
        return None
    rows = db.session.connection().execute(_USER, {"user_id": user_id}).all()
    if not rows or rows[0].session_version != version:
        return None
    first = rows[0]
    return SessionUser(id=user_id, email=first.email, name=first.name,
                       is_admin=first.is_admin, is_auditor=first.is_auditor,
                       session_version=version, memberships=grants(rows))
