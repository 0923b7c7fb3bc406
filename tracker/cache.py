"""Rendered parts and pages of the heaviest read pages, keyed by the data they came from.

Every write to the database appends an activity event, and each event advances its chain's
head (`activity_chain_heads`) in the writer's own transaction. A fragment's key names
the heads of the chains it was made from, plus everything about the viewer and
the request that changes its HTML. So a write never invalidates anything: the next read
computes a new key, misses, renders, and the old entry ages out. No reader can see a
fragment older than the data it has just read, on any process.

Entries live in Redis when REDIS_URL is set (shared by every process; an hour for shared
parts, ten minutes for one person's page; CACHE_REDIS_URL may name another Redis, one with
a `maxmemory` and an LRU policy), and otherwise in a small per-process LRU. A cache that
fails is logged and skipped: the page is rendered as if there were none.

Shared parts (`cached`, `fragment`) must hold no CSRF token nor anything else about one
session; `page` keeps a person's whole page for them alone and cuts their token out.
"""

import hashlib
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import NamedTuple

import sqlalchemy as sa
from flask import current_app, g, request, session
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup

from tracker import clock
from tracker.activity import AUDIT_CHAIN_PREFIX, ActivityChainHead, ActivityEvent, audit_chain
from tracker.audits.models import Audit
from tracker.extensions import db

log = logging.getLogger(__name__)

LOCAL_ENTRIES = 256  # whole pages are 10–200 kB: at most ~50 MB per process
REDIS_TTL_SECONDS = 3600  # shared parts
PAGE_TTL_SECONDS = 600  # one person's pages: a repeat view comes within minutes
PREFIX = "rt:fragment:"

_local: OrderedDict[str, object] = OrderedDict()
_local_lock = threading.Lock()
_redis_clients: dict[str, object] = {}


# --- versions -------------------------------------------------------------------------

# Built once: every cached page runs one of them. Each version is columns too, so that a page
# keyed by it can read it with its viewer (read_with_viewer).
ORGANISATION_VERSION_COLUMNS = (
    sa.select(sa.func.coalesce(sa.func.sum(ActivityChainHead.seq), 0)).scalar_subquery()
    .label("organisation_events"),
    # LIMIT 1 written out: a bound limit leaves PostgreSQL's generic plan guessing at how
    # many events the sort must return, so it planned the statement afresh on every request.
    sa.select(ActivityEvent.hash).order_by(ActivityEvent.id.desc())
    .limit(sa.literal_column("1")).scalar_subquery().label("organisation_head"))
_ORGANISATION_VERSION = sa.select(*ORGANISATION_VERSION_COLUMNS)
_CHAIN_HEADS = (sa.select(ActivityChainHead.chain, ActivityChainHead.hash)
                .where(ActivityChainHead.chain.in_(sa.bindparam("chains", expanding=True))))
# The chains every team's pages read besides their audits': people and teams, the library
# (domain names), signals.
SHARED_CHAINS = ("admin", "library", "signals")


def team_chain_heads(team_id) -> sa.CompoundSelect:
    """(chain, hash) of every chain a team's pages are made from: its audits' own (a new
    audit starts one) and the shared ones. `team_id` is a bind parameter or a scalar
    subquery. Another team's writes move none of them."""
    heads = ActivityChainHead
    own = (sa.select(heads.chain, heads.hash)
           .join(Audit, heads.chain == sa.literal(AUDIT_CHAIN_PREFIX)
                 + sa.cast(Audit.id, sa.String))
           .where(Audit.team_id == team_id))
    return sa.union_all(own, sa.select(heads.chain, heads.hash)
                        .where(heads.chain.in_(SHARED_CHAINS)))


_TEAM_CHAIN_HEADS = team_chain_heads(sa.bindparam("team_id"))
_TEAM_HEADS = _TEAM_CHAIN_HEADS.subquery()
# The same heads in one column, "chain hash,chain hash,…" (chain names and hashes hold
# neither a space nor a comma), in no particular order.
TEAM_VERSION_COLUMNS = (
    sa.select(sa.func.aggregate_strings(_TEAM_HEADS.c.chain + " " + _TEAM_HEADS.c.hash, ","))
    .scalar_subquery().label("team_heads"),)


class PageVersion(NamedTuple):
    """A version a page is keyed by, as read with its viewer: the columns that read it (with
    the view's arguments as parameters), where it is kept for the request, and the version
    made from the row."""
    columns: tuple
    key: Callable[[dict], tuple]
    of_row: Callable[[sa.Row, dict], tuple]


ORGANISATION = PageVersion(
    ORGANISATION_VERSION_COLUMNS, lambda args: ("organisation",),
    lambda row, args: (int(row.organisation_events), row.organisation_head))
TEAM = PageVersion(
    TEAM_VERSION_COLUMNS, lambda args: ("team", args["team_id"]),
    lambda row, args: (args["team_id"], heads_version(
        head.split(" ") for head in (row.team_heads or "").split(",") if head)))


def read_with_viewer(version: PageVersion):
    """Marks a GET view whose page is keyed by `version`: the user loader (auth.loader)
    reads it in the statement that reads the viewer, so that a repeat view is one round trip
    to the database, not two."""
    def mark(view):
        view.page_version = version
        return view
    return mark


def page_version_of(endpoint: str | None) -> PageVersion | None:
    """The version the request's view reads with its viewer (read_with_viewer), if any."""
    view = current_app.view_functions.get(endpoint) if endpoint else None
    return getattr(view, "page_version", None) if request.method == "GET" else None


def keep_read_along(version: PageVersion, row: sa.Row, args: dict) -> None:
    g.setdefault("page_versions", {})[version.key(args)] = version.of_row(row, args)


def _read_along(key: tuple) -> tuple | None:
    return g.get("page_versions", {}).get(key)


def organisation_version() -> tuple:
    """The version of everything: how many activity events were ever committed (the sum of
    the chain heads' sequences: it grows with each write and, unlike max(id) on
    PostgreSQL, never skips a transaction that committed late), and the newest event's
    hash (so a restored or another database never reuses a key). Two index reads and one
    scan of the chain heads (a row per audit and a few more), never of the events."""
    return _read_along(("organisation",)) or ORGANISATION.of_row(
        db.session.connection().execute(_ORGANISATION_VERSION).one(), {})


def team_version(team_id: int) -> tuple:
    """The version of a team's pages: see team_chain_heads. (The organisation's version
    moves with every write anywhere: a busy organisation would never see its team pages
    served from the cache.)"""
    return _read_along(("team", team_id)) or (team_id, heads_version(
        db.session.connection().execute(_TEAM_CHAIN_HEADS, {"team_id": team_id}).all()))


def heads_version(rows: Iterable) -> tuple[tuple[str, str], ...]:
    """(chain, hash) rows in any order as a version, in chain_versions' shape."""
    return tuple(sorted((chain, head) for chain, head in rows))


def chain_versions(chains: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """The head hash of each named chain ("" for a chain with no events yet): it changes
    with every event appended, and names the chain's whole history."""
    chains = sorted(set(chains))
    heads = dict(db.session.execute(_CHAIN_HEADS, {"chains": chains}).all())
    return tuple((c, heads.get(c, "")) for c in chains)


def audit_version(audit_id: int) -> tuple:
    """What an audit's pages are made from: its own chain (every change to the audit, its
    items, evidence and verdicts), the admin chain (people, teams) and the library chain
    (domain names)."""
    return audit_id, chain_versions([audit_chain(audit_id), "admin", "library"])


def viewer_key(user) -> tuple:
    """What decides which teams and links a viewer sees: global roles and team roles."""
    return (bool(user.is_admin), bool(user.is_auditor),
            tuple(sorted((m.team_id, str(m.role.value)) for m in user.memberships)))


# --- the store ----------------------------------------------------------------------------

def cached(name: str, key: tuple, compute: Callable[[], object]):
    """The value `compute()` made for this key (JSON-serialisable: strings, numbers, lists,
    dicts), computing it on a miss. `key` must name every input of the value: versions,
    viewer, request arguments; today's date is added here."""
    value = cached_get(name, key)
    if value is None:
        value = compute()
        cached_set(name, key, value)
    return value


def _full_key(name: str, key: tuple) -> str:
    digest = hashlib.sha256(repr((name, clock.today().isoformat(), key)).encode()).hexdigest()
    return f"{PREFIX}{name}:{digest[:40]}"


def cached_get(name: str, key: tuple):
    return _get(_full_key(name, key))


def cached_set(name: str, key: tuple, value, ttl: int = REDIS_TTL_SECONDS) -> None:
    _set(_full_key(name, key), value, ttl)


def fragment(name: str, key: tuple, render: Callable[[], str]) -> Markup:
    """The HTML `render()` made for this key: see `cached`."""
    html = cached(name, key, lambda: str(render()))
    # HTML that our autoescaping templates rendered:
    return Markup(html)  # nosec B704


# --- whole pages, for one person ----------------------------------------------------------

CSRF_HOLE = "\x00csrf\x00"  # NUL never occurs in a rendered page (input guards refuse it)


def page(version: tuple, render: Callable[[], object]):
    """A signed-in person's whole page, kept for them alone: the key holds their id, the URL
    and `version` (what the page is made from; see above). Their session's CSRF token is cut
    out before the page is stored and this session's is put in when it is served, so a stored
    page carries no secret. A page with flashed messages to show, or any answer but 200, is
    neither served from nor put in the cache. `render()` returns what a view returns."""
    if not current_user.is_authenticated or session.get("_flashes"):
        return render()
    key = (request.full_path, current_user.id, current_user.session_version, version)
    stored = cached_get("page", key)
    if stored is not None:
        return stored.replace(CSRF_HOLE, generate_csrf())
    result = render()
    html, status = result if isinstance(result, tuple) else (result, 200)
    if status == 200 and isinstance(html, str) and not session.get("_flashes"):
        token = g.get("csrf_token")
        cached_set("page", key, html.replace(token, CSRF_HOLE) if token else html,
                   PAGE_TTL_SECONDS)
    return result


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
    if not current_app.config.get("FRAGMENT_CACHE", True):
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
        log.warning("fragment cache read failed: %s", exc)
        return None
    return json.loads(value) if value is not None else None


def _set(key: str, value, ttl: int) -> None:
    if not current_app.config.get("FRAGMENT_CACHE", True):
        return
    client = _redis()
    if client is None:
        with _local_lock:
            _local[key] = value
            while len(_local) > LOCAL_ENTRIES:
                _local.popitem(last=False)
        return
    try:
        client.set(key, json.dumps(value), ex=ttl)
    except Exception as exc:  # noqa: BLE001
        log.warning("fragment cache write failed: %s", exc)
