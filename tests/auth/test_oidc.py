"""Single sign-on against a real OpenID Connect provider: the `oidc-provider` package (a
certified implementation) under Node, started on loopback by the `provider` fixture from
tests/auth/oidc/ (`npm ci` there when node_modules is missing). Nothing is mocked: the app's
redirects go through the provider's own login and consent pages (driven with requests, the
provider's cookies in its session; the app's in the Flask test client), and the app redeems
the code and fetches the keys over HTTP as in production."""

import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
import sqlalchemy as sa

from tests.factories import PASSWORD
from tracker.activity import ActivityEvent
from tracker.auth.models import Membership, Team, User
from tracker.extensions import db

PROVIDER_DIR = Path(__file__).parent / "oidc"
APP = "http://localhost"  # the Flask test client's host
CLIENT_ID, CLIENT_SECRET = "tracker", "tracker-test-secret"
GROUP_ROLES = {
    "tracker-admins": "admin",
    "auditors": "auditor",
    "alpha-leads": {"team": "Alpha", "role": "lead"},
    "alpha-ops": [{"team": "Alpha", "role": "operator"}],
}


@pytest.fixture(scope="session")
def provider(tmp_path_factory):
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the OIDC tests run a real provider (the npm "
                    "package oidc-provider) under Node 20+ — apt-get install nodejs npm")
    if not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                       cwd=PROVIDER_DIR, check=True, timeout=300)
    log = (tmp_path_factory.mktemp("oidc") / "provider.log").open("w")
    process = subprocess.Popen(
        [node, "provider.mjs", "--redirect-uri", f"{APP}/login/sso/callback",
         "--post-logout-uri", f"{APP}/login", "--client-id", CLIENT_ID,
         "--client-secret", CLIENT_SECRET],
        cwd=PROVIDER_DIR, stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        line = process.stdout.readline()
        assert line, f"the OIDC provider did not start: see {log.name}"
        yield Provider(json.loads(line)["issuer"])
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


class Provider:
    def __init__(self, issuer: str):
        self.issuer = issuer

    def account(self, login: str, **claims):
        """Who `login` is at the provider from now on (its claims in the ID token)."""
        claims.setdefault("email", f"{login}@corp.example")
        claims.setdefault("email_verified", True)
        claims.setdefault("name", login.title())
        requests.put(f"{self.issuer}/_test/accounts/{login}", json=claims,
                     timeout=5).raise_for_status()

    def tamper_next_id_token(self, how: str):
        requests.post(f"{self.issuer}/_test/next-id-token", json={"tamper": how},
                      timeout=5).raise_for_status()


@pytest.fixture
def oidc_config():
    """Override with @pytest.mark.parametrize("oidc_config", [{...}]) for SSO-only mode."""
    return {}


@pytest.fixture
def app_config(provider, oidc_config):
    return {"OIDC_ISSUER": provider.issuer, "OIDC_CLIENT_ID": CLIENT_ID,
            "OIDC_CLIENT_SECRET": CLIENT_SECRET, "OIDC_PROVIDER_NAME": "Corp IdP",
            "OIDC_SCOPES": "openid email profile groups",
            "OIDC_GROUP_ROLES": json.dumps(GROUP_ROLES), **oidc_config}


class _Forms(HTMLParser):
    """The forms of a provider page: action and the inputs' names and values."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append({"id": attrs.get("id"), "action": attrs.get("action"),
                               "fields": {}})
        elif tag == "input" and self.forms and attrs.get("name"):
            self.forms[-1]["fields"][attrs["name"]] = attrs.get("value") or ""


def page_form(html: str) -> dict:
    parser = _Forms()
    parser.feed(html)
    assert parser.forms, f"no form on the provider's page:\n{html[:800]}"
    return parser.forms[0]


class Browser:
    """One person's browser: the app's cookies in the Flask test client, the provider's in
    a requests session. Redirects are followed by hand, each to whichever side it names."""

    def __init__(self, client):
        self.client = client
        self.idp = requests.Session()
        self.pages: list[str] = []  # the provider pages shown, in order

    def follow(self, response, *, login: str | None = None, max_hops: int = 12):
        """Follow `response` (the app's or the provider's) until the app answers with
        something other than a redirect to the provider; fill in the provider's login and
        consent pages on the way. Returns the app's last response."""
        url, page = None, response
        for _ in range(max_hops):
            if page.status_code not in (301, 302, 303):
                if isinstance(page, requests.Response) and page.status_code == 200:
                    page = self._submit(url, page, login)
                    continue
                return page
            url = urljoin(url or APP, page.headers["Location"])
            if url.startswith(APP + "/"):
                parts = urlsplit(url)
                page = self.client.get(parts.path + (f"?{parts.query}" if parts.query else ""))
                if page.status_code in (301, 302, 303) and not page.headers[
                        "Location"].startswith("http"):
                    return page  # the app's own redirect: signed in (or out)
                url = None
            else:
                page = self.idp.get(url, allow_redirects=False, timeout=10)
        raise AssertionError("too many redirects")

    def _submit(self, url, page, login):
        form = page_form(page.text)
        fields = dict(form["fields"])
        if "login" in fields:
            assert login is not None, "the provider asks who is signing in"
            self.pages.append("login")
            fields.update(login=login, password="any password")
        elif fields.get("prompt") == "consent":
            self.pages.append("consent")
        elif form["id"] == "op.logoutForm":
            self.pages.append("logout")
            fields["logout"] = "yes"
        else:
            raise AssertionError(f"unexpected provider page:\n{page.text[:800]}")
        return self.idp.post(urljoin(url, form["action"]), data=fields,
                             allow_redirects=False, timeout=10)

    def sign_in(self, login: str, next_url: str = ""):
        start = self.client.get("/login/sso" + (f"?next={next_url}" if next_url else ""))
        assert start.status_code == 302 and start.headers["Location"].startswith("http://127.")
        return self.follow(start, login=login)


def user_by_email(email: str) -> User | None:
    db.session.expire_all()
    return db.session.execute(sa.select(User).where(User.email == email)).scalar_one_or_none()


def admin_events(since_id: int = 0) -> list[ActivityEvent]:
    return db.session.execute(
        sa.select(ActivityEvent).where(ActivityEvent.chain == "admin", ActivityEvent.id > since_id)
        .order_by(ActivityEvent.id)).scalars().all()


def last_event_id() -> int:
    return db.session.execute(sa.select(sa.func.max(ActivityEvent.id))).scalar() or 0


def team_roles(user: User) -> dict[str, str]:
    return dict(db.session.execute(
        sa.select(Team.name, Membership.role).join(Membership.team)
        .where(Membership.user_id == user.id)).all())


# --- the happy path ---------------------------------------------------------------------

def test_the_login_page_offers_the_provider(client, people):
    page = client.get("/login").get_data(as_text=True)
    assert "Sign in with Corp IdP" in page
    assert 'name="password"' in page  # not SSO-only: the password form is there too


def test_first_sign_in_creates_the_account_from_verified_claims(client, people, provider):
    provider.account("grace", email="Grace.Hopper@Corp.example", name="Grace Hopper",
                     groups=["alpha-leads", "auditors"])
    before = last_event_id()
    browser = Browser(client)
    done = browser.sign_in("grace", next_url="/audits/")
    assert browser.pages == ["login", "consent"]  # the provider's own pages, really shown
    assert done.status_code == 302 and done.headers["Location"] == "/audits/"

    page = client.get("/").get_data(as_text=True)
    assert "Grace Hopper" in page and "Sign out" in page
    grace = user_by_email("grace.hopper@corp.example")
    assert grace.oidc_subject == "grace" and grace.is_auditor and not grace.is_admin
    assert team_roles(grace) == {"Alpha": "lead"}
    actions = [e.action for e in admin_events(before)]
    assert actions == ["user.create", "user.sso_link", "user.roles", "team.membership"]
    assert all(e.actor_id is None for e in admin_events(before))

    # The password that was set for the account is nobody's: it cannot sign in with one.
    client.post("/logout")
    assert client.post("/login", data={"email": grace.email, "password": ""}).status_code == 200


def test_next_only_goes_to_this_site(client, people, provider):
    provider.account("nina")
    done = Browser(client).sign_in("nina", next_url="//evil.example/")
    assert done.headers["Location"] == "/"


def test_sign_in_uses_pkce_state_and_nonce(client, people, provider):
    start = client.get("/login/sso")
    query = parse_qs(urlsplit(start.headers["Location"]).query)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"]
    assert query["state"] and query["nonce"] and query["response_type"] == ["code"]
    assert query["redirect_uri"] == [f"{APP}/login/sso/callback"]


def test_an_existing_account_is_linked_by_its_verified_email(client, people, provider):
    provider.account("lena", email="lead@test.example", name="Lena Lead", groups=[])
    Browser(client).sign_in("lena")
    lead = user_by_email("lead@test.example")
    assert lead.oidc_subject == "lena"
    assert client.get("/").status_code == 200


# --- refusals -----------------------------------------------------------------------------

def _refused(response, *words):
    assert response.status_code == 403, response.status_code
    page = response.get_data(as_text=True)
    for word in words:
        assert word in page, page[:2000]


def test_a_wrong_state_is_refused(client, people, provider):
    provider.account("mallory")
    browser = Browser(client)
    start = client.get("/login/sso")
    forged = start.headers["Location"].replace("state=", "state=forged", 1)
    start.headers["Location"] = forged
    response = browser.follow(start, login="mallory")
    _refused(response, "expired or was not started here")
    assert client.get("/").status_code == 302  # not signed in
    assert user_by_email("mallory@corp.example") is None


def test_a_replayed_code_is_refused_by_the_provider(app, client, people, provider):
    """The attacker has the callback URL (code and state) and the session cookie from before
    it was used: the provider redeems a code once only."""
    provider.account("victim")
    browser = Browser(client)
    start = client.get("/login/sso")
    saved_cookie = client.get_cookie("session").value
    callback = []
    original = client.get

    def spy(url, *args, **kwargs):
        if url.startswith("/login/sso/callback"):
            callback.append(url)
        return original(url, *args, **kwargs)

    client.get = spy
    browser.follow(start, login="victim")
    client.get = original
    assert client.get("/").status_code == 200 and callback

    attacker = app.test_client()
    attacker.set_cookie("session", saved_cookie)
    _refused(attacker.get(callback[0]), "did not sign you in", "invalid_grant")
    assert attacker.get("/").status_code == 302


@pytest.mark.parametrize("tamper,reason", [("expired", "expired_token"),
                                           ("wrong-key", "bad_signature")])
def test_an_id_token_that_does_not_verify_is_refused(client, people, provider, tamper, reason):
    provider.account("eve", groups=["tracker-admins"])
    provider.tamper_next_id_token(tamper)
    before = last_event_id()
    response = Browser(client).sign_in("eve")
    _refused(response, "did not verify", reason)
    assert client.get("/").status_code == 302
    assert user_by_email("eve@corp.example") is None and admin_events(before) == []


def test_an_unverified_email_is_refused(client, people, provider):
    provider.account("unverified", email="lead@test.example", email_verified=False)
    _refused(Browser(client).sign_in("unverified"), "not verified")
    assert user_by_email("lead@test.example").oidc_subject is None


def test_a_deactivated_account_is_refused(client, people, provider):
    from tracker.auth import service

    service.set_active(people["admin"], people["operator"], False)
    db.session.commit()
    provider.account("olly", email="operator@test.example")
    _refused(Browser(client).sign_in("olly"), "deactivated")


# --- roles follow the groups ------------------------------------------------------------

def test_roles_follow_the_groups_at_every_sign_in(app, client, people, provider):
    provider.account("sam", groups=["alpha-ops", "tracker-admins"])
    Browser(client).sign_in("sam")
    sam = user_by_email("sam@corp.example")
    assert sam.is_admin and not sam.is_auditor and team_roles(sam) == {"Alpha": "operator"}
    # A team the mapping never names is the admins' to manage: it stays.
    from tracker.auth import service

    service.set_membership(people["admin"], db.session.get(Team, people["beta"].id), sam,
                           "operator")
    db.session.commit()
    client.post("/logout")

    provider.account("sam", groups=["alpha-leads", "auditors"])
    before = last_event_id()
    Browser(app.test_client()).sign_in("sam")
    sam = user_by_email("sam@corp.example")
    assert not sam.is_admin and sam.is_auditor
    assert team_roles(sam) == {"Alpha": "lead", "Beta": "operator"}
    events = admin_events(before)
    assert [(e.action, json.loads(e.before), json.loads(e.after)) for e in events] == [
        ("user.roles", {"admin": True, "auditor": False}, {"admin": False, "auditor": True}),
        ("team.membership", {"role": "operator"}, {"role": "lead"}),
    ]

    provider.account("sam", groups=[])
    before = last_event_id()
    Browser(app.test_client()).sign_in("sam")
    sam = user_by_email("sam@corp.example")
    assert not sam.is_admin and not sam.is_auditor and team_roles(sam) == {"Beta": "operator"}
    assert [e.action for e in admin_events(before)] == ["user.roles", "team.membership"]

    # Nothing changed at the provider: signing in again records nothing.
    before = last_event_id()
    Browser(app.test_client()).sign_in("sam")
    assert admin_events(before) == []


def test_a_mapping_that_is_neither_yaml_nor_roles_stops_the_app(database_url, tmp_path,
                                                                  provider):
    from tests.conftest import base_config
    from tracker import create_app

    config = {**base_config(tmp_path, database_url), "OIDC_ISSUER": provider.issuer,
              "OIDC_CLIENT_ID": CLIENT_ID, "OIDC_CLIENT_SECRET": CLIENT_SECRET}
    for bad, message in [("ops: superuser", "'ops': 'superuser' is not admin"),
                         ("[admin]", "must map group names"),
                         ("ops: {team: Alpha, role: boss}", "'ops'")]:
        with pytest.raises(ValueError, match=message):
            create_app({**config, "OIDC_GROUP_ROLES": bad})


def test_yaml_mappings_are_read_too():
    from tracker.auth.oidc import TeamGrant, parse_group_roles

    roles = parse_group_roles("admins: admin\nops:\n  - {team: Alpha, role: operator}\n"
                              "  - auditor\n")
    assert roles.granted(["ops"]) == ({"auditor"}, {"Alpha": "operator"})
    assert roles.grants["ops"][0] == TeamGrant("Alpha", "operator")


# --- SSO only, break glass, sign-out, API tokens ---------------------------------------

SSO_ONLY = {"OIDC_ONLY": True, "OIDC_BREAK_GLASS": "admin@test.example, lead@test.example"}


@pytest.mark.parametrize("oidc_config", [SSO_ONLY])
def test_sso_only_refuses_the_password_form(client, people):
    page = client.get("/login").get_data(as_text=True)
    assert "Sign in with Corp IdP" in page and "Break-glass sign-in" in page
    for email, password in [("operator@test.example", PASSWORD),  # right password, not named
                            ("lead@test.example", PASSWORD),  # named, but not an admin
                            ("admin@test.example", "wrong password")]:
        page = client.post("/login", data={"email": email, "password": password})
        text = page.get_data(as_text=True)
        assert "signs in with Corp IdP" in text, email
        assert '<details class="break-glass" open>' in text  # what was typed stays in view
        assert client.get("/").status_code == 302, email


@pytest.mark.parametrize("oidc_config", [SSO_ONLY])
def test_sso_only_lets_the_break_glass_admin_in(client, people):
    response = client.post("/login", data={"email": "admin@test.example", "password": PASSWORD})
    assert response.status_code == 302
    assert "Ada Admin" in client.get("/").get_data(as_text=True)


@pytest.mark.parametrize("oidc_config", [SSO_ONLY])
def test_sso_only_keeps_api_tokens_working(client, people):
    from tracker.auth.service import create_token

    _, token = create_token(people["operator"], "script")
    db.session.commit()
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200 and response.get_json()["email"] == "operator@test.example"


def test_sign_out_ends_the_local_session_and_the_providers(app, client, people, provider):
    provider.account("lou")
    browser = Browser(client)
    browser.sign_in("lou")
    cookie = client.get_cookie("session").value
    version = user_by_email("lou@corp.example").session_version

    out = client.post("/logout")
    assert out.status_code == 302
    end_session = urlsplit(out.headers["Location"])
    assert out.headers["Location"].startswith(f"{provider.issuer}/session/end?")
    query = parse_qs(end_session.query)
    assert query["post_logout_redirect_uri"] == [f"{APP}/login"]
    assert query["client_id"] == [CLIENT_ID] and query["id_token_hint"]
    back = browser.follow(out)
    assert browser.pages[-1] == "logout" and back.status_code == 200
    assert "Sign in with Corp IdP" in back.get_data(as_text=True)

    assert user_by_email("lou@corp.example").session_version == version + 1
    replay = app.test_client()
    replay.set_cookie("session", cookie)
    assert replay.get("/").status_code == 302  # the old cookie is dead
    # The provider's session ended too: signing in again asks who it is.
    browser.pages.clear()
    browser.sign_in("lou")
    assert browser.pages[0] == "login"


def test_password_sign_out_stays_local(client, login_as):
    login_as("lead")
    response = client.post("/logout")
    assert response.headers["Location"] == "/login"
