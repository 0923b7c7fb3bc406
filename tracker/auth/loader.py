import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from tracker.auth.models import User
from tracker.extensions import db

# Built once: every page runs it. With the memberships, which nearly every page asks
# (permissions, the navigation): on PostgreSQL a second statement is a second round trip.
_USER = (sa.select(User).where(User.id == sa.bindparam("user_id"))
         .options(joinedload(User.memberships)))


def load_user(session_id: str) -> User | None:
    """Session ids are "user_id:session_version": a bumped version ends old sessions."""
    try:
        user_id, version = (int(part) for part in session_id.split(":"))
    except (ValueError, AttributeError):
        return None
    user = db.session.execute(_USER, {"user_id": user_id}).unique().scalar_one_or_none()
    if user is None or not user.active or user.session_version != version:
        return None
    return user
