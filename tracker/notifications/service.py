"""Writing notifications: `notify` (inbox rows and the outbox's e-mails, in the caller's
transaction), reading and choosing."""

from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app, has_request_context, render_template, request, url_for
from itsdangerous import BadSignature, URLSafeSerializer

from tracker import jobs
from tracker.auth.models import User
from tracker.db import utcnow
from tracker.extensions import db
from tracker.notifications.delivery import SEND_JOB
from tracker.notifications.events import BY_KEY, EVENTS
from tracker.notifications.models import Channel, Delivery, Notification, Preference
from tracker.rules import RuleViolation


def _insert(model):
    """The database's own INSERT, which knows ON CONFLICT (PostgreSQL and SQLite alike)."""
    if db.engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(model)


def insert_ignoring_duplicates(model, rows: list[dict], unique: list[str], returning):
    """INSERT … ON CONFLICT DO NOTHING RETURNING: the rows that were new."""
    stmt = _insert(model).values(rows).on_conflict_do_nothing(index_elements=unique)
    return db.session.execute(stmt.returning(*returning)).all()


def channels(user_ids: Iterable[int], events: Iterable[str]) -> dict[tuple[int, str], Channel]:
    """(person, event kind) → how they hear of it: their choice, else the kind's default.
    One statement."""
    ids, kinds = set(user_ids), set(events)
    chosen = {(uid, event): channel for uid, event, channel in db.session.execute(
        sa.select(Preference.user_id, Preference.event, Preference.channel)
        .where(Preference.user_id.in_(ids), Preference.event.in_(kinds)))} if ids and kinds else {}
    return {(uid, event): chosen.get((uid, event), BY_KEY[event].default)
            for uid in ids for event in kinds}


@dataclass(frozen=True)
class Message:
    """One notification for one person: `key` names what it is about."""

    user: User
    key: str
    title: str
    body: str = ""
    link: str = ""


def notify(event: str, recipients: Iterable[User], *, key: str, title: str, body: str = "",
           link: str = "", actor: User | None = None) -> list[int]:
    """Tell each recipient (never the actor) about `key` once, on the channels they chose."""
    return notify_many(event, [Message(u, key, title, body, link) for u in recipients
                               if u is not None and (actor is None or u.id != actor.id)])


def notify_many(event: str, messages: list[Message]) -> list[int]:
    """The messages of one event kind, in two statements whatever their number (three when
    some go by e-mail), in the caller's transaction; e-mails go out after it commits.
    Inactive accounts and people who turned the kind off get nothing. Returns the new
    notifications' ids (a key told before is not told again)."""
    messages = [m for m in messages if m.user.active]
    if not messages:
        return []
    chosen = channels([m.user.id for m in messages], [event])
    messages = [m for m in messages if chosen[m.user.id, event] != Channel.OFF]
    if not messages:
        return []
    now = utcnow()
    rows = {(m.user.id, m.key[:200]): m for m in messages}
    new = insert_ignoring_duplicates(
        Notification, [{"user_id": uid, "event": event, "key": key, "title": m.title[:300],
                        "body": m.body, "link": m.link[:500], "created_at": now}
                       for (uid, key), m in rows.items()],
        ["user_id", "key"], [Notification.id, Notification.user_id, Notification.key])
    queue_mail([{"key": f"notification:{nid}", "user": rows[uid, key].user, "event": event,
                 "subject": rows[uid, key].title, "body": rows[uid, key].body,
                 "link": rows[uid, key].link}
                for nid, uid, key in new if chosen[uid, event] == Channel.EMAIL])
    return [nid for nid, _, _ in new]


def queue_mail(messages: list[dict]) -> list[int]:
    """Write e-mails to the outbox (each key once) and send them after the commit. Without
    MAIL_SERVER nothing is written: the inbox has it all."""
    if not current_app.config.get("MAIL_SERVER") or not messages:
        return []
    rows = [_rendered(**m) for m in messages]
    ids = [row.id for row in insert_ignoring_duplicates(
        Delivery, rows, ["key"], [Delivery.id])]
    if ids:
        jobs.submit(SEND_JOB, ids)
    return ids


def _rendered(*, key: str, user: User, event: str | None, subject: str, body: str,
              link: str, items: list | None = None, template: str = "notification") -> dict:
    link_url = absolute(link) if link else absolute("/")
    unsubscribe = unsubscribe_url(user, event) if event else None
    context = {"user": user, "subject": subject, "body": body, "link": link_url,
               "items": items or [], "unsubscribe": unsubscribe,
               "settings": absolute(path_for("notifications.settings")),
               "organisation": current_app.config.get("ORGANISATION_NAME", "Readiness Tracker")}
    now = utcnow()
    return {"key": key[:240], "user_id": user.id, "recipient": user.email,
            "subject": subject[:300], "unsubscribe_url": unsubscribe,
            "text": render_template(f"notifications/email/{template}.txt", **context),
            "html": render_template(f"notifications/email/{template}.html", **context),
            "created_at": now, "due_at": now}


def path_for(endpoint: str, **values) -> str:
    """url_for's path, also in a job or the CLI, where there is no request."""
    if has_request_context():
        return url_for(endpoint, **values)
    return current_app.url_map.bind("localhost").build(endpoint, values)


def absolute(path: str) -> str:
    """A link for an e-mail: BASE_URL (or the request's own host) and the path."""
    base = current_app.config.get("BASE_URL") or (
        request.host_url if has_request_context() else "http://localhost:5000/")
    return base.rstrip("/") + "/" + path.lstrip("/")


# --- unsubscribing ------------------------------------------------------------------------

def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="notifications-unsubscribe")


def unsubscribe_url(user: User, event: str) -> str:
    token = _serializer().dumps([user.id, event])
    return absolute(path_for("notifications.unsubscribe", token=token))


def unsubscribe_target(token: str) -> tuple[User, str] | None:
    """Whose e-mails of which kind a link stops; None for a link that was not ours."""
    try:
        user_id, event = _serializer().loads(token)
    except (BadSignature, ValueError, TypeError):
        return None
    user = db.session.get(User, user_id)
    known = event in BY_KEY or event == "digest"
    return (user, event) if user is not None and known else None


def stop_email(user: User, event: str) -> None:
    """An unsubscribe link: that kind (or every digest kind) comes to the inbox only."""
    if event == "digest":
        kinds = [kind.key for kind, channel in preferences(user) if channel == Channel.DIGEST]
    else:
        kinds = [event]
    set_preferences(user, {k: Channel.INBOX.value for k in kinds})


# --- choices and the inbox ------------------------------------------------------------------

def preferences(user: User) -> list[tuple]:
    """(event kind, channel) for each kind, in the settings page's order."""
    chosen = channels([user.id], BY_KEY)
    return [(kind, chosen[user.id, kind.key]) for kind in EVENTS]


def set_preferences(user: User, choices: dict[str, str]) -> int:
    """Save the person's channel for each kind given; returns how many changed."""
    unknown = [k for k in choices if k not in BY_KEY]
    if unknown:
        raise RuleViolation(f"Unknown notification kind: {', '.join(unknown)}.", "event")
    try:
        wanted = {k: Channel(v) for k, v in choices.items()}
    except ValueError:
        raise RuleViolation("Choose inbox, e-mail, daily digest or off for each kind.",
                            "channel") from None
    current = channels([user.id], wanted)
    changes = {event: channel for event, channel in wanted.items()
               if current[user.id, event] != channel}
    if changes:  # an upsert: two saves at once cannot trip over each other's new row
        stmt = _insert(Preference).values(
            [{"user_id": user.id, "event": e, "channel": c} for e, c in changes.items()])
        db.session.execute(stmt.on_conflict_do_update(
            index_elements=["user_id", "event"], set_={"channel": stmt.excluded.channel}))
    return len(changes)


def unread_count(user: User) -> int:
    return db.session.execute(
        sa.select(sa.func.count()).select_from(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))).scalar_one()


def mark_read(user: User, ids: Iterable[int] | None = None) -> int:
    """Mark the person's notifications read (`ids`, or all); returns how many."""
    stmt = (sa.update(Notification)
            .where(Notification.user_id == user.id, Notification.read_at.is_(None))
            .values(read_at=utcnow()))
    if ids is not None:
        stmt = stmt.where(Notification.id.in_(list(ids)))
    return db.session.execute(stmt).rowcount
