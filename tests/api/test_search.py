"""GET /api/v1/search: the search page's results as JSON, with the token's scope, and
refusals that say what to send."""

import pytest

from tests.api.conftest import ApiClient
from tracker.audits import service as audits
from tracker.extensions import db
from tracker.search.queries import search


@pytest.fixture
def api(client, site):
    return lambda role: ApiClient(client, site.tokens[role])


def _results(body, kind=None) -> list[dict]:
    return [r for g in body["groups"] if kind in (None, g["kind"]) for r in g["results"]]


def test_an_item_is_found_by_its_code_as_on_the_page(app, api, site):
    body = api("lead").get(f"/search?q={site.item.code.lower()}").get_json()
    first = _results(body, "item")[0]
    assert first["title"].startswith(site.item.code)
    assert first["url"] == f"/audits/{site.audit.id}/items/{site.item.id}"
    assert first["context"] == "Alpha · 2026-Q2" and first["kind"] == "item"
    assert _results(body, "library")[0]["title"].startswith(site.item.code)
    assert body["count"] == len(_results(body))
    with app.test_request_context():  # one definition: the page's search, the same hits
        page = search(site.people["lead"], site.item.code.lower())
        assert [(r["kind"], r["id"], r["url"]) for r in _results(body)] == [
            (r.kind, r.id, r.url) for g in page.groups for r in g.results]


def test_a_word_of_an_evidence_note_or_a_comment_finds_its_item(api, site):
    operator = site.people["operator"]
    audits.add_evidence(operator, site.item, note="Checked the Zanzibar failover & runbook.")
    audits.add_comment(operator, site.item, "Waiting for the QUIXOTIC vendor.")
    db.session.commit()
    item_page = f"/audits/{site.audit.id}/items/{site.item.id}"
    evidence = _results(api("operator").get("/search?q=zanzibar").get_json(), "evidence")
    assert [r["url"].split("#")[0] for r in evidence] == [item_page]
    snippet = evidence[0]["snippet"]  # plain text: no marks, nothing escaped
    assert "Zanzibar" in snippet and "<mark>" not in snippet and "&amp;" not in snippet
    body = api("operator").get("/search?q=quixotic&kind=comment").get_json()
    assert body["kind"] == "comment" and [g["kind"] for g in body["groups"]] == ["comment"]
    assert body["groups"][0]["label"] == "Comments" and body["groups"][0]["more"] is False
    [comment] = body["groups"][0]["results"]
    assert comment["url"].startswith(item_page + "#comment-") and "QUIXOTIC" in comment["snippet"]


def test_another_teams_items_evidence_and_comments_stay_hidden(api, site):
    secret = "Ultramarine vault code"
    audits.add_evidence(site.people["operator"], site.item, note=secret)
    audits.add_comment(site.people["operator"], site.item, secret)
    db.session.commit()
    for q in ("ultramarine", site.item.code):
        shown = _results(api("outsider").get(f"/search?q={q}").get_json())
        assert all(f"/audits/{site.audit.id}/" not in r["url"] for r in shown), q
    own = _results(api("outsider").get(f"/search?q={site.item.code}").get_json(), "item")
    assert own and all(f"/audits/{site.beta_audit.id}/" in r["url"] for r in own)
    for role in ("lead", "auditor", "admin"):  # the team and those who see every team
        assert _results(api(role).get("/search?q=ultramarine").get_json(), "evidence"), role


@pytest.mark.parametrize("query, status, field, words", [
    ("", 400, "q", "is required"),
    ("?q=", 400, "q", "at least one letter or digit"),
    ("?q=" + "x" * 201, 400, "q", "200"),
    ("?q=%21%21", 422, "q", "no letter or digit"),
    ("?q=%20%20", 422, "q", "item code such as DV-01"),
    ("?q=runbook&kind=items", 400, "kind", "'item'"),
    ("?q=runbook&sort=new", 400, "sort", "not a field (or parameter)"),
])
def test_bad_input_is_refused_with_what_to_send(api, site, query, status, field, words):
    response = api("lead").get(f"/search{query}")
    assert response.status_code == status
    error = response.get_json()["error"]
    assert error["field"] == field and words in error["message"], error


def test_a_token_is_needed_and_a_session_is_not_one(client, site, login_as):
    login_as("lead")
    response = client.get("/api/v1/search?q=runbook")
    assert response.status_code == 401 and "Bearer" in response.get_json()["error"]["message"]
