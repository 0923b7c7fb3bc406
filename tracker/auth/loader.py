import functools

from flask import request

from tracker import cache
from tracker.auth.service import SESSION_USER, SessionUser, session_user


@functools.cache
def with_version(page_version: cache.PageVersion):
    """The viewer with the version of the page they asked for (cache.read_with_viewer),
    built once per kind of version."""
    return SESSION_USER.add_columns(*page_version.columns)


def load_user(session_id: str) -> SessionUser | None:
    """Session ids are "user_id:session_version": a bumped version ends old sessions."""
    try:
        user_id, version = (int(part) for part in session_id.split(":"))
    except (ValueError, AttributeError):
        return None
    page_version = cache.page_version_of(request.endpoint)
    if page_version is None:
        return session_user(user_id, version)[0]
    args = request.view_args or {}
    user, rows = session_user(user_id, version, with_version(page_version), **args)
    if user is not None:
        cache.keep_read_along(page_version, rows[0], args)
    return user
