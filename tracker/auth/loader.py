from tracker.auth.service import SessionUser, session_user


def load_user(session_id: str) -> SessionUser | None:
    """Session ids are "user_id:session_version": a bumped version ends old sessions."""
    try:
        user_id, version = (int(part) for part in session_id.split(":"))
    except (ValueError, AttributeError):
        return None
    return session_user(user_id, version)[0]
