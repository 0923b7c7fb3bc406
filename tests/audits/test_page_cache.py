"""The page cache (tracker/cache.py) on the audit page, the overview, the team page and My
items: used, never stale after a write by anyone — on another process too —, never serving
one viewer's page or CSRF token to another, never keeping a message to flash."""

import re

import pytest
import sqlalchemy as sa

from tests import factories
from tests.audits.conftest import first_item
from tests.audits.test_pages import codes_on
from tests.conftest import FreshContextClient, QueryCounter, base_config
from tracker import cache, create_app
from tracker.audits import service
from tracker.auth import service as accounts
from tracker.db import utcnow
from tracker.extensions import db
from tracker.reports.models import ReportStatus, SignOff
from tracker.signals.service import report_signal

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|'
                  r'name="csrf_token" value="([^"]+)"')
# A page served from the cache reads the person, the version of what the page is made from
# and the inbox's unread count (the top bar's bell, made afresh on every serve: it changes
# without an activity event), nothing else; any render reads more.
SERVED_FROM_CACHE = 3


def set_blocked(people, item):
    service.update_item(people["operator"], item, expected_version=None, status="in_progress")
    service.update_item(people["operator"], item, expected_version=None, status="blocked")
    db.session.commit()


def without_tokens(page: str) -> str:
    return CSRF.sub("", page)


def signed_in_as(page: str) -> str:
    """The name in the page's account link."""
    return re.search(r'title="Your account">([^<]+)<', page).group(1).strip()


def statements(client, count_queries, url: str) -> int:
    with count_queries() as seen:
        assert client.get(url).status_code == 200, url
    return seen.count


def test_a_second_view_is_served_from_the_cache(client, login_as, make_audit, count_queries):
    audit = make_audit(codes=("DV", "PAY"), state="in_progress")
    login_as("lead")
    client.get("/account")  # shows the sign-in message, which is not part of the comparison
    url = f"/audits/{audit.id}"
    with count_queries() as first:
        page = client.get(url).get_data(as_text=True)
    with count_queries() as second:
        again = client.get(url).get_data(as_text=True)
    assert second.count < first.count
    assert without_tokens(again) == without_tokens(page)
    assert len(codes_on(again)) == len(audit.items)


@pytest.mark.perf
def test_a_page_served_from_the_cache_reads_the_person_and_one_version(
        client, login_as, people, make_audit, count_queries):
    """On the pages people open all day, whatever the data: the person (with their
    memberships) and the heads of the chains the page is made from."""
    audit = make_audit(codes=("DV",), state="in_progress")
    make_audit(codes=("DV",), state="in_progress", period="2026-Q3")
    login_as("lead")
    client.get("/account")  # shows the sign-in message: a page with one is not kept
    for url in ("/dashboard", f"/teams/{people['alpha'].id}", f"/audits/{audit.id}",
                "/my-items", "/audits/my-items", "/dashboard?view=table"):
        statements(client, count_queries, url)
        assert statements(client, count_queries, url) <= SERVED_FROM_CACHE, url


@pytest.mark.parametrize("app_config", [{"PAGE_CACHE": False}])
def test_without_the_cache_every_view_renders(client, login_as, make_audit, count_queries):
    audit = make_audit(state="in_progress")
    login_as("lead")
    client.get("/account")
    counts = [statements(client, count_queries, f"/audits/{audit.id}") for _ in range(2)]
    assert counts[1] == counts[0] > SERVED_FROM_CACHE


def test_a_write_shows_at_once_on_every_cached_page(client, login_as, people, make_audit):
    audit = make_audit(codes=("DV",), state="in_progress")
    item = first_item(audit)
    login_as("lead")
    client.get("/account")  # shows the sign-in message
    pages = {"audit": f"/audits/{audit.id}", "blocked": f"/audits/{audit.id}?status=blocked",
             "overview": "/dashboard?view=table", "team": f"/teams/{people['alpha'].id}"}
    before = {name: client.get(url).get_data(as_text=True) for name, url in pages.items()}
    # now from the cache (a fresh CSRF token's timestamp may have moved on by a second)
    assert {n: without_tokens(p) for n, p in before.items()} == {
        name: without_tokens(client.get(url).get_data(as_text=True))
        for name, url in pages.items()}
    assert codes_on(before["blocked"]) == []

    set_blocked(people, item)  # someone else's write

    after = {name: client.get(url).get_data(as_text=True) for name, url in pages.items()}
    assert codes_on(after["blocked"]) == [item.code]
    for name in pages:
        assert without_tokens(after[name]) != without_tokens(before[name]), name


def test_my_items_shows_a_new_assignment_at_once(client, login_as, people, make_audit):
    audit = make_audit(codes=("DV",), state="in_progress")
    item = first_item(audit)
    login_as("operator")
    assert item.code not in client.get("/my-items").get_data(as_text=True)
    service.update_item(people["lead"], item, expected_version=None, owner=people["operator"])
    db.session.commit()
    assert item.code in client.get("/my-items").get_data(as_text=True)


def test_another_teams_write_leaves_a_teams_pages_in_the_cache(client, login_as, people,
                                                               make_audit, count_queries):
    """A team's page and its audits' pages are made from its own audits' chains and the
    shared ones: another team's work does not make them render again — in a busy
    organisation someone is always writing — while the team's own work, a new audit of the
    team, a change to people, or a signal does."""
    alpha = make_audit(codes=("DV",), state="in_progress")
    beta = make_audit(codes=("DV",), state="in_progress", team="beta")
    login_as("lead")
    client.get("/account")
    pages = [f"/teams/{people['alpha'].id}", f"/audits/{alpha.id}"]

    def counts() -> list[int]:
        return [statements(client, count_queries, url) for url in pages]

    counts()
    service.update_item(people["outsider"], first_item(beta), expected_version=None,
                        status="blocked")
    db.session.commit()
    assert all(n <= SERVED_FROM_CACHE for n in counts())

    writes = [
        lambda: service.update_item(people["operator"], first_item(alpha),
                                    expected_version=None, status="in_progress"),
        lambda: service.start_next_quarter(people["lead"], alpha),
        lambda: accounts.set_membership(None, people["alpha"], people["outsider"], "operator"),
    ]
    for write in writes:
        write()
        db.session.commit()
        assert all(n > SERVED_FROM_CACHE for n in counts())  # rendered again
    report_signal(people["operator"], summary="Orders stuck in the payment queue",
                  source="support_ticket", severity="high", observed_at=utcnow(),
                  domain=alpha.domains[0])
    db.session.commit()
    assert statements(client, count_queries, pages[0]) > SERVED_FROM_CACHE  # it shows signals


def test_the_audit_page_shows_the_next_quarters_audit_once_started(client, login_as, people,
                                                                  make_audit):
    audit = make_audit(codes=("DV",), state="in_progress", period="2026-Q3")
    login_as("lead")
    client.get("/account")
    url = f"/audits/{audit.id}"
    page = client.get(url).get_data(as_text=True)
    assert client.get(url).get_data(as_text=True) == page  # kept
    new = service.start_next_quarter(people["lead"], audit)
    db.session.commit()
    assert f"/audits/{new.id}" in client.get(url).get_data(as_text=True)


def test_viewers_never_get_each_others_pages(app, client, login_as, people, make_audit):
    alpha = make_audit(state="in_progress")
    make_audit(state="in_progress", team="beta")
    login_as("admin")
    assert "Beta" in client.get("/dashboard").get_data(as_text=True)
    login_as("operator")
    assert "Beta" not in client.get("/dashboard").get_data(as_text=True)

    login_as("lead")  # the lead's page has the bulk form's checkboxes
    assert 'name="item_ids"' in client.get(f"/audits/{alpha.id}").get_data(as_text=True)
    login_as("operator")
    assert 'name="item_ids"' not in client.get(f"/audits/{alpha.id}").get_data(as_text=True)

    # Two people with the same roles in the same team, each in their first session: each
    # sees their own page.
    names = ("Oona Other", "Olaf Other")
    sessions = []
    for n, name in enumerate(names):
        user = factories.make_user(f"other-{n}@test.example", name)
        accounts.set_membership(None, people["alpha"], user, "operator")
        db.session.commit()
        sessions.append(app.test_client())
        sessions[-1].post("/login", data={"email": user.email, "password": factories.PASSWORD})
        sessions[-1].get("/account")  # shows the sign-in message
    for url in ("/dashboard", f"/teams/{people['alpha'].id}", f"/audits/{alpha.id}",
                "/my-items"):
        for _ in range(2):  # rendered and kept, then served
            for session, name in zip(sessions, names, strict=True):
                assert signed_in_as(session.get(url).get_data(as_text=True)) == name, url


def test_a_role_taken_away_shows_at_once(client, login_as, people, make_audit):
    """What a viewer may see is part of the key: a page kept for the role they had is not
    served once it is gone."""
    alpha = make_audit(state="in_progress")
    login_as("lead")
    url = f"/audits/{alpha.id}"
    assert 'name="item_ids"' in client.get(url).get_data(as_text=True)
    accounts.set_membership(None, people["alpha"], people["lead"], "operator")
    db.session.commit()
    assert 'name="item_ids"' not in client.get(url).get_data(as_text=True)


def test_cached_pages_carry_each_session_its_own_csrf_token(app, people, make_audit):
    audit = make_audit(state="draft")  # the lead's page has forms: bulk and "Open for work"
    app.test_client_class = FreshContextClient
    tokens = []
    for _ in range(2):
        c = app.test_client()
        c.post("/login", data={"email": people["lead"].email, "password": factories.PASSWORD})
        c.get("/account")  # shows the sign-in message
        for _ in range(2):  # rendered, then served from the cache
            page = c.get(f"/audits/{audit.id}").get_data(as_text=True)
            found = {a or b for a, b in CSRF.findall(page)}
            assert len(found) == 1, "every form on the page carries this session's token"
        tokens.append(found.pop())
    assert tokens[0] != tokens[1]


def _sign_in_with_csrf(client, user) -> None:
    token = CSRF.search(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"email": user.email, "password": factories.PASSWORD,
                                           "csrf_token": token.group(1) or token.group(2)})
    assert response.status_code == 302


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])
def test_a_page_served_from_the_cache_carries_a_token_that_works(app, people, make_audit):
    """Two sessions of one person share the stored page: each gets its own working token."""
    audit = make_audit(state="draft")
    app.test_client_class = FreshContextClient
    sessions = [app.test_client(), app.test_client()]
    for c in sessions:
        _sign_in_with_csrf(c, people["lead"])
        c.get("/account")  # shows the sign-in message
    pages = [c.get(f"/audits/{audit.id}").get_data(as_text=True) for c in sessions]
    again = sessions[1].get(f"/audits/{audit.id}").get_data(as_text=True)
    assert "\x00" not in pages[1] + again
    token = CSRF.search(again)
    token = token.group(1) or token.group(2)
    assert token not in pages[0]

    assert sessions[1].post("/logout", data={"csrf_token": "forged"}).status_code == 400
    assert sessions[1].get("/dashboard").status_code == 200  # a forged token did nothing
    sessions[1].post("/logout", data={"csrf_token": token})
    assert sessions[1].get("/dashboard").status_code == 302  # signed out: the token worked


def test_a_message_to_show_is_never_lost_to_a_stored_page(client, login_as):
    login_as("operator")  # the sign-in message shows on the first page
    assert "Signed in" in client.get("/dashboard").get_data(as_text=True)
    assert "Signed in" not in client.get("/dashboard").get_data(as_text=True)  # not kept
    client.get("/dashboard")  # stored, and served
    with client.session_transaction() as s:
        s["_flashes"] = [("info", "A message for this person.")]
    assert "A message for this person." in client.get("/dashboard").get_data(as_text=True)
    assert "A message for this person." not in client.get("/dashboard").get_data(as_text=True)


def test_the_report_state_shows_at_once_though_it_changes_without_an_event(
        client, login_as, people, make_audit):
    audit = make_audit(state="signed_off")
    sign_off = db.session.execute(sa.select(SignOff).where(SignOff.audit_id == audit.id)
                                  ).scalar_one()
    sign_off.report_status = ReportStatus.PENDING  # as while a worker renders it
    db.session.commit()
    login_as("lead")
    client.get("/account")
    for _ in range(2):
        assert "being made" in client.get(f"/audits/{audit.id}").get_data(as_text=True)
    sign_off.report_status = ReportStatus.READY  # what the worker writes when done
    db.session.commit()
    assert "Download the signed report" in client.get(f"/audits/{audit.id}").get_data(True)


def test_answers_other_than_a_plain_200_are_never_kept(app, client, login_as):
    """The decorator's rules, on a view of its own: an answer other than 200, or one that
    sets headers of its own, renders again on the next view; a plain 200 is kept."""
    renders = []

    @cache.page_cache(depends_on=lambda: ["admin"])
    def view():
        renders.append(1)
        status = 404 if len(renders) <= 2 else 200
        headers = {"X-Own": "1"} if len(renders) in (3, 4) else {}
        return f"render {len(renders)}", status, headers

    app.add_url_rule("/test-page-cache", "test_page_cache", view)
    login_as("operator")
    client.get("/account")  # shows the sign-in message
    bodies = [client.get("/test-page-cache").get_data(as_text=True) for _ in range(6)]
    assert bodies == [f"render {n}" for n in (1, 2, 3, 4, 5, 5)]


REDIS_DB = "redis://127.0.0.1:6379/13"


def _redis_or_skip(url):
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(url)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis at 127.0.0.1:6379")
    client.delete(*client.keys(f"{cache.PREFIX}*") or ["none"])
    return client


@pytest.mark.parametrize("app_config", [{"REDIS_URL": REDIS_DB}])
def test_two_processes_share_pages_in_redis_and_neither_serves_a_stale_one(
        app, client, people, make_audit, database_url, tmp_path):
    """Another app instance (another process, as under gunicorn) sharing the Redis: it serves
    the page the first one stored, and after a write made through either, both render it
    afresh."""
    redis = _redis_or_skip(REDIS_DB)
    audit = make_audit(state="in_progress")
    item = first_item(audit)
    other = create_app({**base_config(tmp_path, database_url), "REDIS_URL": REDIS_DB})
    other.test_client_class = FreshContextClient
    clients = [client, other.test_client()]
    for c in clients:
        c.post("/login", data={"email": people["operator"].email,
                               "password": factories.PASSWORD})
        c.get("/account")  # shows the sign-in message
    url = f"/audits/{audit.id}?status=blocked"
    try:
        assert codes_on(clients[0].get(url).get_data(as_text=True)) == []
        assert redis.keys(f"{cache.PREFIX}*"), "the page went to Redis"
        with other.app_context():
            other_engine = db.engine
        seen = QueryCounter()
        sa.event.listen(other_engine, "before_cursor_execute", seen)
        assert codes_on(clients[1].get(url).get_data(as_text=True)) == []
        sa.event.remove(other_engine, "before_cursor_execute", seen)
        assert seen.count <= SERVED_FROM_CACHE  # served, not rendered

        set_blocked(people, item)

        for c in clients:
            assert codes_on(c.get(url).get_data(as_text=True)) == [item.code]
        assert 0 < redis.ttl(redis.keys(f"{cache.PREFIX}*")[0]) <= cache.TTL_SECONDS
    finally:
        with other.app_context():
            db.engine.dispose()
        redis.delete(*redis.keys(f"{cache.PREFIX}*") or ["none"])


@pytest.mark.parametrize("app_config", [{"REDIS_URL": "redis://127.0.0.1:1/0"}])
def test_a_cache_that_fails_is_skipped(client, login_as, people, make_audit):
    audit = make_audit(state="in_progress")
    login_as("lead")
    for _ in range(2):
        assert client.get(f"/audits/{audit.id}").status_code == 200
