"""Pages kept for the person who asked, keyed by the data they were made from.

Every write appends an activity event, and each event advances its chain's head
(`activity_chain_heads`: chain, seq, hash) in the writer's own transaction. A page declares
the chains it is made from (`@page_cache(depends_on=…)`, with what it depends on declared
in the feature's queries.py); its key names their heads, the viewer (id, session version, global
and team roles), the URL and today's date. So a write never invalidates anything: the next
view computes a new key, misses, renders, and the old entry ages out. No one sees a page
older than the data it has just read, on any process, nor a page made for someone else.

Entries live in Redis when CACHE_REDIS_URL or REDIS_URL is set (shared by every process;
give the cache a Redis with a `maxmemory` and an LRU policy), and otherwise in a small
per-process LRU. A cache that fails is logged and skipped: the page is rendered as if there
were none.
"""

import functools
import hashlib
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable

import sqlalchemy as sa
from flask import current_app, g, request, session
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from tracker import clock
from tracker.activity import ActivityChainHead, ActivityEvent
from tracker.extensions import db

log = logging.getLogger(__name__)

LOCAL_ENTRIES = 256  # whole pages are 10–200 kB: at most ~50 MB per process
TTL_SECONDS = 600  # in Redis; a repeat view comes within minutes, a new version makes new keys
PREFIX = "rt:page:"
CSRF_HOLE = "\x00csrf\x00"  # NUL never occurs in a rendered page (input guards refuse it)

# What a page depends on: the names of the chains it is made from, or a statement whose rows
# are its version (chain_heads, EVERY_WRITE, or a union of them with rows of state that
# changes without an event). A statement is best built once, its bind parameters named after
# the view's arguments: page_cache runs it with them.
Dependencies = Iterable[str] | sa.Executable

_local: OrderedDict[str, object] = OrderedDict()
_local_lock = threading.Lock()
_redis_clients: dict[str, object] = {}


# --- versions -------------------------------------------------------------------------

def chain_heads(*chains: Iterable[str] | sa.Select) -> sa.Select | sa.CompoundSelect:
    """(chain, seq, hash) of the named chains: each argument a list of names, or a select of
    one column of names. A chain with no events yet has no row; its first event adds one."""
    heads = ActivityChainHead
    selects = [sa.select(heads.chain, heads.seq, heads.hash).where(heads.chain.in_(names))
               for names in chains]
    return selects[0] if len(selects) == 1 else sa.union_all(*selects)


# A version that moves with every committed write anywhere: how many events were ever
# committed (the sum of the chains' sequences grows with each commit and, unlike max(id) on
# PostgreSQL, cannot skip a transaction that committed late), and the newest event's hash
# (so a restored or another database never reuses a key). Index reads and one scan of the
# chain heads (a row per audit and a few more), never of the events.
EVERY_WRITE = sa.select(
    sa.func.coalesce(sa.func.sum(ActivityChainHead.seq), 0),
    # LIMIT 1 written out: with a bound limit, PostgreSQL's generic plan guesses at how many
    # events the sort returns and the statement is planned afresh on every request.
    sa.select(ActivityEvent.hash).order_by(ActivityEvent.id.desc())
    .limit(sa.literal_column("1")).scalar_subquery())


def version_of(depends: Dependencies, params: dict | None = None) -> tuple:
    """The version of what a page depends on, read in one statement, in a stable order."""
    if isinstance(depends, sa.Executable):
        rows = db.session.execute(depends, params or {}).all()
    else:
        rows = db.session.execute(chain_heads(sorted(depends))).all()
    return tuple(sorted((tuple(row) for row in rows), key=repr))


def viewer_key(user) -> tuple:
    """Who is looking, and what decides what they may see: their id, the session version
    (a new password ends old sessions), global roles and team roles."""
    return (user.id, getattr(user, "session_version", None), bool(user.is_admin),
            bool(user.is_auditor),
            tuple(sorted((m.team_id, str(getattr(m.role, "value", m.role)))
                         for m in user.memberships)))


# --- whole pages ----------------------------------------------------------------------

def page_cache(depends_on: Dependencies | Callable[..., Dependencies]):
    """Keep a GET view's 200 answers (HTML or JSON) for the person who asked.

    `depends_on` says what the page is made from (see Dependencies), or is a function that
    says it from the view's arguments; a statement runs with the view's arguments as its
    parameters. A repeat view reads that version, then serves the stored page without
    calling the view. The session's CSRF token is cut out before a page is stored and the
    current one put in when it is served, so a stored page holds no secret. A page with
    flashed messages, any answer but 200, or one that sets headers of its own is neither
    stored nor served. The view behind it still authorizes on every render; a stored page
    is only served to the same person with the same roles, for the same version of its
    data."""
    def decorate(view):
        @functools.wraps(view)
        def cached_view(*args, **kwargs):
            if not _usable():
                return view(*args, **kwargs)
            view_args = request.view_args or {}
            depends = depends_on(**view_args) if callable(depends_on) else depends_on
            key = _page_key(version_of(depends, view_args))
            stored = _get(key)
            if stored is not None:
                return _serve(stored)
            response = current_app.make_response(view(*args, **kwargs))
            if _storable(response):
                _set(key, _entry(response))
            return response
        return cached_view
    return decorate


def _usable() -> bool:
    # `session` is only looked into when it holds something: an API request has none, and
    # asking an empty session marks the answer as varying with cookies.
    return (current_app.config.get("PAGE_CACHE", True) and request.method == "GET"
            and current_user.is_authenticated and not (session and session.get("_flashes")))


def _page_key(version: tuple) -> str:
    return _full_key("page", (viewer_key(current_user), request.full_path, version))


def _storable(response) -> bool:
    own_headers = {name.lower() for name in response.headers.keys()} - {
        "content-type", "content-length"}
    return (response.status_code == 200 and not response.direct_passthrough
            and not response.is_streamed and not own_headers
            and not (session and session.get("_flashes")))


def _entry(response) -> dict:
    body = response.get_data(as_text=True)
    token = g.get(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"))
    if token:
        body = body.replace(token, CSRF_HOLE)
    for name, html in g.get("_personal_parts", {}).items():
        body = body.replace(html, _hole(name))
    return {"body": body, "type": response.content_type}


def _serve(stored: dict):
    body = stored["body"]
    if CSRF_HOLE in body:
        body = body.replace(CSRF_HOLE, generate_csrf())
    for name, render in _personal_parts.items():
        if _hole(name) in body:
            body = body.replace(_hole(name), render())
    return current_app.response_class(body, content_type=stored["type"])


# --- parts that change without an event ----------------------------------------------------

_personal_parts: dict[str, Callable[[], str]] = {}


def _hole(name: str) -> str:
    return f"\x00part:{name}\x00"


def personal_part(name: str):
    """A piece of every page that changes without an activity event (the inbox's unread
    count): `render()` makes it for the current viewer. Like the CSRF token it is cut out of
    a stored page and made afresh each time the page is served. Returns the function a
    template calls to put the part in."""
    def register(render: Callable[[], str]):
        @functools.wraps(render)
        def put():
            html = render()
            g.setdefault("_personal_parts", {})[name] = html
            return html
        _personal_parts[name] = render
        return put
    return register


# --- parts shared between viewers ---------------------------------------------------------

def shared(name: str, depends: Dependencies, params: dict, key: tuple,
           render: Callable[[], dict[str, str]]) -> dict[str, str]:
    """Parts of a page the same for every viewer who asks with `key`, as `render()` made
    them for this version of `depends` (run with `params`) and today: {name: HTML}. Read
    only when the whole page was not in the cache: another viewer's view of the same data
    renders from them. They must hold no CSRF token nor anything else of one session."""
    full_key = _full_key(name, (version_of(depends, params), key))
    parts = _get(full_key)
    if parts is None:
        parts = {part: str(html) for part, html in render().items()}
        _set(full_key, parts)
    return parts


# --- the store ----------------------------------------------------------------------------

def _full_key(name: str, key: tuple) -> str:
    digest = hashlib.sha256(repr((clock.today().isoformat(), key)).encode()).hexdigest()
    return f"{PREFIX}{name}:{digest[:40]}"


def clear_local() -> None:
    with _local_lock:
        _local.clear()


def _redis():
    url = current_app.config.get("CACHE_REDIS_URL") or current_app.config.get("REDIS_URL")
    if not url:
        return None
    client = _redis_clients.get(url)
    if client is None:
        from redis import Redis

        client = _redis_clients[url] = Redis.from_url(url, socket_timeout=0.5)
    return client


def _get(key: str):
    if not current_app.config.get("PAGE_CACHE", True):
        return None
    client = _redis()
    if client is None:
        with _local_lock:
            value = _local.get(key)
            if value is not None:
                _local.move_to_end(key)
            return value
    try:
        value = client.get(key)
    except Exception as exc:  # noqa: BLE001 — a cache outage must not take pages down
        log.warning("page cache read failed: %s", exc)
        return None
    return json.loads(value) if value is not None else None


def _set(key: str, value) -> None:
    if not current_app.config.get("PAGE_CACHE", True):
        return
    client = _redis()
    if client is None:
        with _local_lock:
            _local[key] = value
            while len(_local) > LOCAL_ENTRIES:
                _local.popitem(last=False)
        return
    try:
        client.set(key, json.dumps(value), ex=TTL_SECONDS)
    except Exception as exc:  # noqa: BLE001
        log.warning("page cache write failed: %s", exc)
