"""Every text a person can enter, in every place it renders, is escaped. The foundation's
fields: user names, team names and descriptions (and what flash messages echo back), plus the
Markdown filter that renders library and user text."""

import pytest

from tests import factories
from tests.routes import get_routes, sign_in
from tests.security.xss import PAYLOADS, assert_no_injection
from tracker.auth import service as accounts
from tracker.extensions import db
from tracker.markdown import render_markdown


@pytest.fixture
def hostile(site):
    """A user and a team per payload, each a member of team Alpha (so they show on its pages)."""
    users, teams = [], []
    for n, payload in enumerate(PAYLOADS):
        user = factories.make_user(f"xss{n}@test.example", payload[:120])
        team = accounts.create_team(None, payload[:120], description=payload)
        accounts.set_membership(None, team, user, "lead")
        accounts.set_membership(None, site.people["alpha"], user, "operator")
        users.append(user)
        teams.append(team)
    db.session.commit()
    return users, teams


def test_payloads_render_as_text_on_every_page(app, client, site, hostile):
    users, teams = hostile
    pages = 0
    for role in ("admin", "lead"):
        sign_in(client, site, role)
        urls = []
        for route in get_routes(app):
            with app.test_request_context():
                urls.append(site.url_for(route))
        if role == "admin":
            urls += [f"/admin/users/{u.id}" for u in users]
            urls += [f"/admin/teams/{t.id}" for t in teams]
        for url in urls:
            response = client.get(url, follow_redirects=True)
            if response.mimetype != "text/html":
                continue  # PDFs, CSV, JSON: tests/security/test_xss_features.py
            pages += 1
            assert_no_injection(response.get_data(as_text=True), f"{role} {url}")
    assert pages > 20


def test_payload_users_see_their_own_name_escaped(client, hostile):
    users, _ = hostile
    for user in users[:4]:
        client.post("/logout")
        client.post("/login", data={"email": user.email, "password": factories.PASSWORD})
        for url in ("/", "/account", "/library/"):
            assert_no_injection(client.get(url).get_data(as_text=True), f"{user.email} {url}")


def test_flash_messages_and_refilled_forms_escape_what_was_typed(client, site, hostile):
    users, teams = hostile
    sign_in(client, site, "admin")
    for payload, user in zip(PAYLOADS, users, strict=True):
        page = client.post(f"/admin/teams/{site.people['alpha'].id}",
                           data={"user_id": user.id, "role": "lead"},
                           follow_redirects=True).get_data(as_text=True)
        assert_no_injection(page, "membership flash")
        page = client.post("/admin/users/new", data={"email": f"new@{payload}", "name": payload,
                                                     "password": "short"}).get_data(True)
        assert_no_injection(page, "refilled user form")
        page = client.post("/admin/teams", data={"name": payload[:120],
                                                 "description": payload}).get_data(True)
        assert_no_injection(page, "refilled team form")
    client.post("/logout")
    for payload in PAYLOADS:
        page = client.post("/login", data={"email": payload, "password": "x",
                                           "next": payload}).get_data(as_text=True)
        assert_no_injection(page, "sign-in form")


@pytest.mark.parametrize("payload", PAYLOADS)
def test_markdown_is_sanitised(payload):
    html = str(render_markdown(payload + "\n\n" + payload))
    assert_no_injection(html, "markdown")
    assert "javascript:" not in html.lower() or "href" not in html.lower()


def test_markdown_keeps_safe_links_and_formatting():
    html = str(render_markdown("**bold** and [runbook](https://wiki.example/runbook)"))
    assert "<strong>bold</strong>" in html
    assert 'href="https://wiki.example/runbook"' in html and 'rel="noopener' in html
