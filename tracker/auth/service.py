"""User, team and membership writes (web, CLI and API call these)."""

import hashlib
import secrets
from pathlib import Path

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy.orm import contains_eager, joinedload
from werkzeug.security import check_password_hash, generate_password_hash
from zxcvbn import zxcvbn

from tracker import activity
from tracker.auth.models import ApiToken, Membership, Team, TeamRole, User
from tracker.db import utcnow
from tracker.extensions import db
from tracker.rules import RuleViolation

MIN_PASSWORD = 8
MAX_PASSWORD = 128
# zxcvbn's scores run 0–4; 3 is "safely unguessable: moderate protection from an offline
# slow-hash attack" (about 10^10 guesses). It reads at most 72 characters, and a longer
# password is judged by those.
MIN_STRENGTH = 3
STRENGTH_CHARS = 72
_COMMON = None
# A well-formed hash that no password matches, so an unknown email costs as much time as a
# wrong password and response times do not reveal which accounts exist.
_DUMMY_HASH = None


def common_passwords() -> frozenset[str]:
    global _COMMON
    if _COMMON is None:
        path = Path(__file__).with_name("common_passwords.txt")
        _COMMON = frozenset(p.strip().lower() for p in path.read_text().splitlines() if p.strip())
    return _COMMON


def check_new_password(password: str, *, email: str | None = None,
                       name: str | None = None) -> None:
    """Refuse a password that is too short or long, common, the account's own e-mail address,
    or guessable by the zxcvbn strength estimator (dictionary words, names, dates, keyboard
    patterns, repeats, and the e-mail and name given)."""
    if len(password) < MIN_PASSWORD:
        raise RuleViolation(f"Use at least {MIN_PASSWORD} characters.", "password")
    if len(password) > MAX_PASSWORD:
        raise RuleViolation(f"Use at most {MAX_PASSWORD} characters.", "password")
    if password.lower() in common_passwords():
        raise RuleViolation("That password is one of the most common ones and is guessed "
                            "first. Choose another.", "password")
    own = [part for part in ((email or "").strip().lower(),
                             (email or "").strip().lower().partition("@")[0]) if part]
    if password.strip().lower() in own:
        raise RuleViolation("That password is your e-mail address, which anyone who knows "
                            "you can guess. Choose another.", "password")
    inputs = [*own, *(name or "").split()]
    strength = zxcvbn(password[:STRENGTH_CHARS], user_inputs=inputs)
    if strength["score"] < MIN_STRENGTH:
        feedback = strength["feedback"]
        hints = " ".join(filter(None, [feedback["warning"], *feedback["suggestions"]]))
        raise RuleViolation("That password is too easy to guess. " + (hints + " " if hints
                            else "") + "A few unrelated words make a strong password that is "
                            "easy to remember.", "password")


def normalise_email(email: str) -> str:
    try:
        return validate_email((email or "").strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        raise RuleViolation("Enter a valid email address, like name@example.com.",
                            "email") from None


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def authenticate(email: str, password: str) -> User | None:
    """The user for these credentials, or None — the same None whichever part was wrong."""
    global _DUMMY_HASH
    user = db.session.execute(
        sa.select(User).where(User.email == (email or "").strip().lower())
    ).scalar_one_or_none()
    if user is None:
        _DUMMY_HASH = _DUMMY_HASH or hash_password(secrets.token_hex(16))
        check_password_hash(_DUMMY_HASH, password or "")
        return None
    if not check_password_hash(user.password_hash, password or "") or not user.active:
        return None
    return user


def _admin_event(actor, action, subject, before=None, after=None):
    activity.record(actor, action, chain="admin", subject=subject, before=before, after=after)


def create_user(actor: User | None, email: str, name: str, password: str, *,
                is_admin: bool = False, is_auditor: bool = False,
                check_password: bool = True) -> User:
    email = normalise_email(email)
    name = (name or "").strip()
    if not name:
        raise RuleViolation("Enter the person's name.", "name")
    if len(name) > 120:
        raise RuleViolation("Keep the name under 120 characters.", "name")
    if check_password:
        check_new_password(password, email=email, name=name)
    if db.session.execute(sa.select(User.id).where(User.email == email)).scalar():
        raise RuleViolation(f"{email} already has an account.", "email")
    user = User(email=email, name=name, password_hash=hash_password(password),
                is_admin=is_admin, is_auditor=is_auditor)
    db.session.add(user)
    db.session.flush()
    _admin_event(actor, "user.create", email,
                 after={"name": name, "admin": is_admin, "auditor": is_auditor})
    return user


def set_password(actor: User | None, user: User, password: str) -> list[str]:
    """Set a new password: every other session ends and every API token is revoked (a token
    taken along with the old password must not outlive it). Returns the revoked tokens'
    names, for the message that tells the owner."""
    check_new_password(password, email=user.email, name=user.name)
    user.password_hash = hash_password(password)
    user.session_version += 1  # every other session of this user ends
    revoked = revoke_all_tokens(user)
    db.session.flush()
    _admin_event(actor, "user.password", user.email,
                 after={"tokens_revoked": revoked} if revoked else None)
    return revoked


def set_roles(actor: User | None, user: User, *, is_admin: bool, is_auditor: bool) -> None:
    before = {"admin": user.is_admin, "auditor": user.is_auditor}
    after = {"admin": is_admin, "auditor": is_auditor}
    if before == after:
        return
    if actor is not None and actor.id == user.id and not is_admin:
        raise RuleViolation("You cannot remove your own admin role; ask another admin.")
    user.is_admin, user.is_auditor = is_admin, is_auditor
    db.session.flush()
    _admin_event(actor, "user.roles", user.email, before, after)


def set_active(actor: User | None, user: User, active: bool) -> None:
    if user.active == active:
        return
    if actor is not None and actor.id == user.id and not active:
        raise RuleViolation("You cannot deactivate your own account.")
    user.active = active
    user.session_version += 1
    db.session.flush()
    _admin_event(actor, "user.activate" if active else "user.deactivate", user.email,
                 {"active": not active}, {"active": active})


def end_sessions(user_id: int) -> None:
    """Sign-out everywhere: cookies issued before now stop working."""
    db.session.execute(sa.update(User).where(User.id == user_id)
                       .values(session_version=User.session_version + 1))


def create_team(actor: User | None, name: str, description: str = "") -> Team:
    name = (name or "").strip()
    if not name:
        raise RuleViolation("Enter the team's name.", "name")
    if len(name) > 120:
        raise RuleViolation("Keep the team name under 120 characters.", "name")
    if db.session.execute(sa.select(Team.id).where(Team.name == name)).scalar():
        raise RuleViolation(f"A team called {name} already exists.", "name")
    team = Team(name=name, description=(description or "").strip())
    db.session.add(team)
    db.session.flush()
    _admin_event(actor, "team.create", name)
    return team


def set_membership(actor: User | None, team: Team, user: User, role: TeamRole | str | None) -> None:
    """Add, change or (role None) remove a user's membership of a team."""
    membership = db.session.execute(
        sa.select(Membership).where(Membership.team_id == team.id, Membership.user_id == user.id)
    ).scalar_one_or_none()
    before = membership.role.value if membership else None
    if role is None:
        if membership:
            db.session.delete(membership)
    else:
        role = TeamRole(role)
        if membership:
            membership.role = role
        else:
            db.session.add(Membership(team=team, user=user, role=role))
    after = role.value if role else None
    db.session.flush()
    db.session.expire(user, ["memberships"])
    if before != after:
        _admin_event(actor, "team.membership", f"{team.name} / {user.email}",
                     {"role": before}, {"role": after})


# --- API tokens -----------------------------------------------------------------------

def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(user: User, name: str) -> tuple[ApiToken, str]:
    name = (name or "").strip() or "token"
    if len(name) > 80:
        raise RuleViolation("Keep the token name under 80 characters.", "name")
    token = "rt_" + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, name=name, token_hash=hash_token(token), prefix=token[:10])
    db.session.add(row)
    db.session.flush()
    _admin_event(user, "token.create", f"{user.email} / {name}")
    return row, token


def revoke_token(user: User, token: ApiToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        db.session.flush()
        _admin_event(user, "token.revoke", f"{token.user.email} / {token.name}")


def revoke_all_tokens(user: User) -> list[str]:
    """Revoke every live token of `user`; returns their names, sorted."""
    names = db.session.execute(
        sa.update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow()).returning(ApiToken.name)
        .execution_options(synchronize_session="fetch")
    ).scalars().all()
    return sorted(names)


# --- who is asking ----------------------------------------------------------------------

def session_user(user_id: int, session_version: int) -> User | None:
    """The active user of a web session, with their memberships; None once their session
    version moved on (signed out everywhere, deactivated, password changed)."""
    user = db.session.execute(
        sa.select(User).where(User.id == user_id, User.active)
        .options(joinedload(User.memberships))
    ).unique().scalar_one_or_none()
    return user if user is not None and user.session_version == session_version else None


def use_token(token: str) -> ApiToken | None:
    """The unrevoked API token of an active user, with its user and their memberships; its
    last use is noted at most once a minute, so a busy script does not turn every read into
    a write (the caller commits)."""
    row = db.session.execute(
        sa.select(ApiToken).join(ApiToken.user)
        .where(ApiToken.token_hash == hash_token(token or ""), ApiToken.revoked_at.is_(None),
               User.active)
        .options(contains_eager(ApiToken.user).joinedload(User.memberships))
    ).unique().scalar_one_or_none()
    if row is not None and (row.last_used_at is None
                            or (utcnow() - row.last_used_at).total_seconds() > 60):
        row.last_used_at = utcnow()
    return row
