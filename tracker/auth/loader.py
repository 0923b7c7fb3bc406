from flask import g, request

from tracker import cache
from tracker.auth.service import SESSION_USER, SessionUser, session_user

# The viewer with the organisation's version, for the pages keyed by it (cache.organisation_page)
_WITH_ORGANISATION_VERSION = SESSION_USER.add_columns(*cache.ORGANISATION_VERSION_COLUMNS)


def load_user(session_id: str) -> SessionUser | None:
    """Session ids are "user_id:session_version": a bumped version ends old sessions."""
    try:
        user_id, version = (int(part) for part in session_id.split(":"))
    except (ValueError, AttributeError):
        return None
    if not cache.reads_organisation_version(request.endpoint):
        return session_user(user_id, version)[0]
    user, rows = session_user(user_id, version, _WITH_ORGANISATION_VERSION)
    if user is not None:
        g.organisation_version = cache.organisation_version_of(rows[0])
    return user
