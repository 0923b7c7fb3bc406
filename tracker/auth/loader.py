from tracker.auth.models import User
from tracker.extensions import db


def load_user(session_id: str) -> User | None:
    """Session ids are "user_id:session_version": a bumped version ends old sessions."""
    try:
        user_id, version = (int(part) for part in session_id.split(":"))
    except (ValueError, AttributeError):
        return None
    user = db.session.get(User, user_id)
    if user is None or not user.active or user.session_version != version:
        return None
    return user
