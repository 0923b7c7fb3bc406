"""The rendered-fragment cache (tracker/cache.py) of the audit page, the overview and the
team page: used, never stale after a write, never shared between viewers who see different
things, never holding a session's secret — in-process and in Redis."""

import re

import pytest
import sqlalchemy as sa

from tests import factories
from tests.audits.conftest import first_item
from tests.audits.test_pages import codes_on
from tests.conftest import FreshContextClient
from tracker import cache
from tracker.audits import service
from tracker.db import utcnow
from tracker.extensions import db
from tracker.reports.models import ReportStatus, SignOff
from tracker.signals.service import report_signal

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|'
                  r'name="csrf_token" value="([^"]+)"')


def set_blocked(people, item):
    service.update_item(people["operator"], item, expected_version=None, status="in_progress")
    service.update_item(people["operator"], item, expected_version=None, status="blocked")
    db.session.commit()


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
    # Identical but for the session's CSRF tokens, which are never cached.
    assert CSRF.sub("", again) == CSRF.sub("", page)
    assert len(codes_on(again)) == len(audit.items)


def test_a_page_served_from_the_cache_reads_at_most_two_statements(
        client, login_as, people, make_audit, count_queries):
    """The person (with their memberships) and what the page is made from: nothing else,
    on the pages people open all day. The overview, My items and the team page read their
    version with the person (cache.read_with_viewer): one statement."""
    audit = make_audit(codes=("DV",), state="in_progress")
    login_as("lead")
    client.get("/account")  # shows the sign-in message, which is not part of the comparison
    for url, statements, along in (("/dashboard", 1, "organisation_head"),
                                   (f"/teams/{people['alpha'].id}", 1, "team_heads"),
                                   (f"/audits/{audit.id}", 2, None),
                                   ("/my-items", 1, "organisation_head"),
                                   ("/audits/my-items", 1, "organisation_head")):
        assert client.get(url).status_code == 200
        with count_queries() as again:
            assert client.get(url).status_code == 200
        assert again.count == statements, (url, again.statements)
        if along:
            assert along in again.statements[0], again.statements


def test_a_version_read_with_the_viewer_is_the_version_read_alone(app, people, make_audit):
    """The page's key must not depend on which way its version was read: a team's heads come
    aggregated into one column along with the viewer, and apart as rows."""
    from flask import g

    from tracker.auth.loader import load_user

    audits = [make_audit(codes=("DV",), state="in_progress"),
              make_audit(codes=("DV",), state="in_progress", period="2026-Q3")]
    lead, team_id = people["lead"], people["alpha"].id
    session_id = f"{lead.id}:{lead.session_version}"
    for url, key, alone in (("/dashboard", ("organisation",), cache.organisation_version),
                            (f"/teams/{team_id}", ("team", team_id),
                             lambda: cache.team_version(team_id))):
        with app.app_context(), app.test_request_context(url):  # a request's own `g`
            expected = alone()
            assert load_user(session_id).id == lead.id
            assert g.page_versions == {key: expected}
            assert alone() == expected
    # (no signal yet: no signals chain)
    assert [chain for chain, _ in expected[1]] == ["admin", *(f"audit:{a.id}" for a in audits),
                                                   "library"]


def test_the_page_versions_bind_no_limit():
    """psycopg prepares a statement on its sixth run, and PostgreSQL then keeps one generic
    plan for it unless that plan looks dearer than planning for the values at hand. With
    the newest event's LIMIT bound, the generic plan had to guess how many of a million
    events the sort returns: on the benchmark's data the overview's statement was planned
    afresh on every request (pg_prepared_statements: 0 generic plans, 215 custom; 210 and 5
    with LIMIT 1 written out). A test database is too small to show the difference."""
    from sqlalchemy.dialects import postgresql

    from tracker.auth.loader import with_version

    for statement in (cache._ORGANISATION_VERSION, with_version(cache.ORGANISATION),
                      with_version(cache.TEAM)):
        sql = str(statement.compile(dialect=postgresql.dialect()))
        assert not re.search(r"LIMIT %\(", sql), sql


@pytest.mark.parametrize("app_config", [{"FRAGMENT_CACHE": False}])
def test_without_the_cache_every_view_renders(client, login_as, make_audit, count_queries):
    audit = make_audit(state="in_progress")
    login_as("lead")
    with count_queries() as first:
        client.get(f"/audits/{audit.id}")
    with count_queries() as second:
        client.get(f"/audits/{audit.id}")
    assert second.count == first.count


def test_a_write_shows_at_once_on_every_cached_page(client, login_as, people, make_audit):
    audit = make_audit(codes=("DV",), state="in_progress")
    item = first_item(audit)
    login_as("operator")
    pages = {"audit": f"/audits/{audit.id}", "blocked": f"/audits/{audit.id}?status=blocked",
             "overview": "/dashboard?view=table", "team": f"/teams/{people['alpha'].id}"}
    before = {name: client.get(url).get_data(as_text=True) for name, url in pages.items()}
    assert codes_on(before["blocked"]) == []

    set_blocked(people, item)

    after = {name: client.get(url).get_data(as_text=True) for name, url in pages.items()}
    assert codes_on(after["blocked"]) == [item.code]
    for name in pages:
        assert CSRF.sub("", after[name]) != CSRF.sub("", before[name]), name


def test_another_teams_write_leaves_a_teams_pages_in_the_cache(client, login_as, people,
                                                               make_audit, count_queries):
    """A team's page and its audits' pages are made from its own audits' chains and the
    shared ones (people, library, signals): another team's work does not make them render
    again — in a busy organisation someone is always writing — while the team's own work,
    a new audit of the team, or a signal does."""
    alpha = make_audit(codes=("DV",), state="in_progress")
    beta = make_audit(codes=("DV",), state="in_progress", team="beta")
    login_as("lead")
    client.get("/account")  # shows the sign-in message: a page with one is not kept
    pages = [f"/teams/{people['alpha'].id}", f"/audits/{alpha.id}"]

    def statements() -> list[int]:
        counts = []
        for url in pages:
            with count_queries() as seen:
                assert client.get(url).status_code == 200
            counts.append(seen.count)
        return counts

    statements()
    service.update_item(people["outsider"], first_item(beta), expected_version=None,
                        status="blocked")
    db.session.commit()
    assert statements() == [1, 2]  # served from the cache
    assert cache.team_version(people["alpha"].id) != cache.team_version(people["beta"].id)

    writes = [
        lambda: service.update_item(people["operator"], first_item(alpha),
                                    expected_version=None, status="in_progress"),
        lambda: service.start_next_quarter(people["lead"], alpha),
        lambda: report_signal(people["operator"], summary="Orders stuck in the payment queue",
                              source="support_ticket", severity="high", observed_at=utcnow(),
                              domain=alpha.domains[0]),
    ]
    for write in writes:
        write()
        db.session.commit()
        assert all(n > 2 for n in statements())  # rendered again


def test_viewers_who_see_differently_never_share_a_fragment(client, login_as, people,
                                                             make_audit):
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


def test_cached_pages_carry_each_session_its_own_csrf_token(app, people, make_audit):
    audit = make_audit(state="draft")  # the lead's page has forms: bulk and "Open for work"
    app.test_client_class = FreshContextClient  # each request its own `g`, as in production
    tokens = []
    for _ in range(2):
        c = app.test_client()
        c.post("/login", data={"email": people["lead"].email, "password": factories.PASSWORD})
        page = c.get(f"/audits/{audit.id}").get_data(as_text=True)
        found = {a or b for a, b in CSRF.findall(page)}
        assert len(found) == 1, "every form on the page carries this session's token"
        tokens.append(found.pop())
    assert tokens[0] != tokens[1]


def _redis_or_skip(url):
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(url)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis at 127.0.0.1:6379")
    return client


REDIS_DB = "redis://127.0.0.1:6379/13"


@pytest.mark.parametrize("app_config", [{"REDIS_URL": REDIS_DB}])
def test_with_redis_fragments_are_shared_and_still_never_stale(client, login_as, people,
                                                               make_audit):
    redis = _redis_or_skip(REDIS_DB)
    audit = make_audit(state="in_progress")
    item = first_item(audit)
    login_as("operator")
    url = f"/audits/{audit.id}?status=blocked"
    assert codes_on(client.get(url).get_data(as_text=True)) == []
    keys = redis.keys(f"{cache.PREFIX}*")
    assert keys, "the fragment went to Redis"
    cache.clear_local()  # nothing in this process: what is served comes from Redis

    set_blocked(people, item)

    assert codes_on(client.get(url).get_data(as_text=True)) == [item.code]
    assert 0 < redis.ttl(keys[0]) <= cache.REDIS_TTL_SECONDS
    redis.delete(*redis.keys(f"{cache.PREFIX}*"))


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
    assert cache.CSRF_HOLE not in pages[1] + again
    token = CSRF.search(again)
    token = token.group(1) or token.group(2)
    assert token not in pages[0]

    assert sessions[1].post("/logout", data={"csrf_token": "forged"}).status_code == 400
    assert sessions[1].get("/dashboard").status_code == 200  # a forged token did nothing
    sessions[1].post("/logout", data={"csrf_token": token})
    assert sessions[1].get("/dashboard").status_code == 302  # signed out: the token worked


def test_a_message_to_show_is_never_lost_to_a_stored_page(client, login_as):
    login_as("operator")
    client.get("/dashboard")
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
