"""Single sign-on with OpenID Connect.

Authlib's Flask client does the protocol: discovery from OIDC_ISSUER, the authorization code
flow with PKCE (S256), state and nonce kept in the signed session cookie and checked on the
way back, and the ID token's signature (the provider's published keys) and claims (issuer,
audience, expiry, nonce) verified. This module decides who the verified claims are here:

- the account whose `oidc_subject` is the token's `sub`; else the account with the token's
  e-mail, which is then linked to the subject; else a new account (name and e-mail from
  the claims). A provider that says `email_verified: false` is refused.
- OIDC_GROUP_ROLES maps the provider's groups to roles, applied at every sign-in through
  the same services an admin uses (auth/service.py), so each change is an event in the
  admin chain. The mapping manages only the roles it names: admin if some group maps to
  admin, auditor likewise, and the membership of each team a group maps to; roles it never
  grants stay with the admins.
- OIDC_ONLY=1 closes the password form to everyone but the admins named in
  OIDC_BREAK_GLASS. API tokens are not sign-ins and keep working either way.
"""

import logging
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

import requests
import sqlalchemy as sa
import yaml
from authlib.integrations.base_client import OAuthError
from authlib.integrations.flask_client import OAuth
from flask import Flask, current_app, session, url_for
from joserfc.errors import JoseError  # what Authlib verifies ID tokens with

from tracker import activity
from tracker.auth import service
from tracker.auth.models import Team, TeamRole, User
from tracker.extensions import db
from tracker.rules import RuleViolation

log = logging.getLogger(__name__)

GLOBAL_ROLES = ("admin", "auditor")
# The session key under which the ID token is kept for RP-initiated logout (not a secret).
ID_TOKEN_KEY = "oidc_id_token"  # nosec B105 — a session key name, not a password
NEXT_KEY = "oidc_next"


class SignInRefused(Exception):
    """The provider's answer does not sign anyone in; the message says why, for the page."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# --- the group → role mapping ------------------------------------------------------------

@dataclass(frozen=True)
class TeamGrant:
    team: str
    role: TeamRole


@dataclass(frozen=True)
class GroupRoles:
    """OIDC_GROUP_ROLES, parsed: each group's grants ("admin", "auditor" or a TeamGrant)."""

    grants: Mapping[str, tuple]

    @property
    def managed_global(self) -> set[str]:
        return {g for grants in self.grants.values() for g in grants if isinstance(g, str)}

    @property
    def managed_teams(self) -> set[str]:
        return {g.team for grants in self.grants.values() for g in grants
                if isinstance(g, TeamGrant)}

    def granted(self, groups: Iterable[str]) -> tuple[set[str], dict[str, TeamRole]]:
        """The global roles and the team roles (lead over operator) these groups give."""
        roles: set[str] = set()
        teams: dict[str, TeamRole] = {}
        for group in groups:
            for grant in self.grants.get(group, ()):
                if isinstance(grant, str):
                    roles.add(grant)
                elif teams.get(grant.team) != TeamRole.LEAD:
                    teams[grant.team] = grant.role
        return roles, teams


def parse_group_roles(text: str | None) -> GroupRoles:
    """YAML or JSON (JSON is YAML): {group: admin | auditor | {team: T, role: lead|operator}
    | [several of those]}. A mistake stops the app at start with a message naming it."""
    if not (text or "").strip():
        return GroupRoles({})
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"OIDC_GROUP_ROLES is neither YAML nor JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError("OIDC_GROUP_ROLES must map group names to roles, "
                         'e.g. {"tracker-admins": "admin"}.')
    grants = {}
    for group, value in data.items():
        values = value if isinstance(value, list) else [value]
        grants[str(group)] = tuple(_grant(str(group), v) for v in values)
    return GroupRoles(grants)


def _grant(group: str, value):
    if value in GLOBAL_ROLES:
        return value
    if isinstance(value, dict) and set(value) == {"team", "role"} and str(value["team"]).strip():
        try:
            return TeamGrant(str(value["team"]).strip(), TeamRole(value["role"]))
        except ValueError:
            pass
    raise ValueError(f"OIDC_GROUP_ROLES, group {group!r}: {value!r} is not admin, auditor or "
                     "{team: NAME, role: lead|operator}.")


# --- configuration ----------------------------------------------------------------------

@dataclass(frozen=True)
class Settings:
    issuer: str
    provider_name: str
    groups_claim: str
    group_roles: GroupRoles
    only: bool
    break_glass: frozenset[str]


def init_oidc(app: Flask) -> None:
    """Register the provider's client when OIDC_ISSUER is set; check the rest at start."""
    issuer = (app.config.get("OIDC_ISSUER") or "").strip()
    if not issuer:
        if app.config.get("OIDC_ONLY"):
            raise ValueError("OIDC_ONLY is set but OIDC_ISSUER is not: nobody could sign in.")
        return
    missing = [k for k in ("OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET") if not app.config.get(k)]
    if missing:
        raise ValueError(f"OIDC_ISSUER is set but {' and '.join(missing)} not.")
    settings = Settings(
        issuer=issuer,
        provider_name=app.config.get("OIDC_PROVIDER_NAME") or urlsplit(issuer).hostname,
        groups_claim=app.config.get("OIDC_GROUPS_CLAIM") or "groups",
        group_roles=parse_group_roles(app.config.get("OIDC_GROUP_ROLES")),
        only=bool(app.config.get("OIDC_ONLY")),
        break_glass=frozenset(e.strip().lower() for e in
                              (app.config.get("OIDC_BREAK_GLASS") or "").split(",") if e.strip()),
    )
    oauth = OAuth(app)  # one registry per app: each app has its own provider settings
    oauth.register(
        "oidc",
        server_metadata_url=f"{issuer.rstrip('/')}/.well-known/openid-configuration",
        client_id=app.config["OIDC_CLIENT_ID"],
        client_secret=app.config["OIDC_CLIENT_SECRET"],
        client_kwargs={"scope": app.config.get("OIDC_SCOPES") or "openid email profile",
                       "code_challenge_method": "S256", "timeout": 10},
    )
    app.extensions["tracker_oidc"] = settings


def settings() -> Settings | None:
    return current_app.extensions.get("tracker_oidc")


def enabled() -> bool:
    return settings() is not None


def _client():
    return current_app.extensions["authlib.integrations.flask_client"].oidc


def may_use_password(user: User | None) -> bool:
    """In SSO-only mode the password form signs in only the named break-glass admins (None:
    the credentials matched nobody)."""
    config = settings()
    if config is None or not config.only:
        return True
    return user is not None and user.is_admin and user.email.lower() in config.break_glass


# --- the flow ---------------------------------------------------------------------------

def begin_sign_in(next_url: str):
    """The redirect to the provider's authorization endpoint (state, nonce, PKCE saved)."""
    session[NEXT_KEY] = next_url
    try:
        return _client().authorize_redirect(url_for("auth.oidc_callback", _external=True))
    except (requests.RequestException, OAuthError, ValueError) as exc:
        log.warning("OIDC discovery failed: %s", exc)
        raise SignInRefused(f"{settings().provider_name} could not be reached. "
                            "Try again in a moment.") from None


def finish_sign_in() -> tuple[User, str, str]:
    """The user the provider's answer signs in (created, linked and given the group roles:
    the caller commits), their ID token (for logout) and where to go next. Authlib checks
    the state, redeems the code with the PKCE verifier and verifies the ID token."""
    next_url = session.pop(NEXT_KEY, None) or url_for("home.index")
    config = settings()
    try:
        token = _client().authorize_access_token(
            claims_options={"iss": {"essential": True, "values": [config.issuer]},
                            "sub": {"essential": True}})
    except OAuthError as exc:
        log.info("OIDC sign-in refused: %s", exc)
        if exc.error == "mismatching_state":
            raise SignInRefused("That sign-in link has expired or was not started here. "
                                "Sign in again.") from None
        reason = f"{exc.error}: {exc.description}" if exc.description else exc.error
        raise SignInRefused(f"{config.provider_name} did not sign you in ({reason}). "
                            "Sign in again.") from None
    except JoseError as exc:
        log.warning("OIDC ID token refused: %s", exc)
        raise SignInRefused(f"The identity token from {config.provider_name} did not verify "
                            f"({exc.error}). Nobody was signed in.") from None
    except requests.RequestException as exc:
        log.warning("OIDC token request failed: %s", exc)
        raise SignInRefused(f"{config.provider_name} could not be reached. "
                            "Try again in a moment.") from None
    claims = token.get("userinfo")
    if not claims:  # Authlib verifies an ID token only when there is one: insist on it
        raise SignInRefused(f"{config.provider_name} sent no identity token. Nobody was "
                            "signed in.")
    return sign_in_user(claims), token["id_token"], next_url


def logout_url(id_token: str | None) -> str | None:
    """RP-initiated logout: the provider's end_session_endpoint, when its discovery
    document offers one, with the way back to our sign-in page."""
    if not enabled():
        return None
    try:
        endpoint = _client().load_server_metadata().get("end_session_endpoint")
    except (requests.RequestException, ValueError) as exc:
        log.warning("OIDC discovery failed at sign-out: %s", exc)
        return None
    if not endpoint:
        return None
    params = {"client_id": current_app.config["OIDC_CLIENT_ID"],
              "post_logout_redirect_uri": url_for("auth.login", _external=True)}
    if id_token:
        params["id_token_hint"] = id_token
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(params)}"


# --- who the claims are here (writes: flush, never commit) -------------------------------

def sign_in_user(claims: Mapping) -> User:
    subject = str(claims.get("sub") or "")
    if not subject or len(subject) > 255:
        raise SignInRefused("The identity provider sent no usable subject.")
    if claims.get("email_verified") is False:
        raise SignInRefused("Your e-mail address is not verified at the identity provider. "
                            "Verify it there, then sign in again.")
    user = db.session.execute(
        sa.select(User).where(User.oidc_subject == subject)).scalar_one_or_none()
    if user is None:
        user = _link_or_create(subject, claims)
    else:
        _update_profile(user, claims)
    if not user.active:
        raise SignInRefused("This account is deactivated. Ask an admin to reactivate it.")
    groups = claims.get(settings().groups_claim) or []
    apply_group_roles(user, [groups] if isinstance(groups, str) else list(groups))
    return user


def _email(claims: Mapping) -> str:
    if not claims.get("email"):
        raise SignInRefused("The identity provider sent no e-mail address; ask its admins to "
                            "release the email claim to this app.")
    try:
        return service.normalise_email(claims["email"])
    except RuleViolation:
        raise SignInRefused("The identity provider sent an e-mail address that is not "
                            "valid.") from None


def _link_or_create(subject: str, claims: Mapping) -> User:
    email = _email(claims)
    user = db.session.execute(sa.select(User).where(User.email == email)).scalar_one_or_none()
    if user is not None and user.oidc_subject is not None:
        raise SignInRefused(f"{email} is already linked to another identity at the provider. "
                            "Ask an admin.")
    if user is None:
        name = (claims.get("name") or email.split("@")[0]).strip()[:120]
        # No password anyone knows: this person signs in through the provider.
        user = service.create_user(None, email, name, secrets.token_urlsafe(32),
                                   check_password=False)
    user.oidc_subject = subject
    db.session.flush()
    _admin_event("user.sso_link", email, after={"subject": subject})
    return user


def _update_profile(user: User, claims: Mapping) -> None:
    """The provider owns the name and e-mail of the people it signs in."""
    before, after = {}, {}
    name = (claims.get("name") or "").strip()[:120]
    if name and name != user.name:
        before["name"], after["name"] = user.name, name
        user.name = name
    if claims.get("email"):
        email = _email(claims)
        taken = db.session.execute(
            sa.select(User.id).where(User.email == email, User.id != user.id)).scalar()
        if email != user.email and taken:
            log.warning("OIDC: %s's new e-mail %s belongs to another account; kept %s",
                        subject_of(user), email, user.email)
        elif email != user.email:
            before["email"], after["email"] = user.email, email
            user.email = email
    if after:
        db.session.flush()
        _admin_event("user.sso_profile", user.email, before, after)


def _admin_event(action, subject, before=None, after=None):
    """The provider's changes have no acting person here (actor None), like the CLI's."""
    activity.record(None, action, chain="admin", subject=subject, before=before, after=after)


def subject_of(user: User) -> str:
    return user.oidc_subject or f"user {user.id}"


def apply_group_roles(user: User, groups: list[str]) -> None:
    """Make the roles the mapping manages what the person's groups grant; each change is
    recorded by the service that makes it (set_roles, set_membership)."""
    mapping = settings().group_roles
    if not mapping.grants:
        return
    roles, teams = mapping.granted(str(g) for g in groups)
    managed = mapping.managed_global
    service.set_roles(
        None, user,
        is_admin=("admin" in roles) if "admin" in managed else user.is_admin,
        is_auditor=("auditor" in roles) if "auditor" in managed else user.is_auditor)
    by_name = {team.name: team for team in db.session.execute(
        sa.select(Team).where(Team.name.in_(mapping.managed_teams))).scalars()}
    for name in sorted(mapping.managed_teams):
        if name not in by_name:
            log.warning("OIDC_GROUP_ROLES names team %r, which does not exist: skipped", name)
            continue
        service.set_membership(None, by_name[name], user, teams.get(name))
