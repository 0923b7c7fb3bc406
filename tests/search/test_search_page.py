"""The search page: grouped results, the user's scope, and clear messages for empty queries."""

from tracker.audits import service as audits
from tracker.extensions import db


def test_the_page_shows_own_items_and_never_another_teams(site, client, login_as):
    secret = "Ultramarine vault code"
    audits.add_evidence(site.people["operator"], site.item, note=secret)
    db.session.commit()
    login_as("outsider")
    html = client.get("/search?q=ultramarine").get_data(as_text=True)
    assert secret not in html and f"/audits/{site.audit.id}/" not in html
    login_as("lead")
    html = client.get("/search?q=ultramarine").get_data(as_text=True)
    assert "<mark>" in html and "Evidence" in html


def test_an_empty_query_says_what_can_be_searched(site, client, login_as):
    login_as("lead")
    html = client.get("/search?q=%21%21").get_data(as_text=True)
    assert "at least one letter or digit" in html and "failure patterns" in html


def test_suggestions_are_the_best_hits_as_json_exact_codes_first(site, client, login_as):
    login_as("lead")
    body = client.get(f"/search/suggest?q={site.item.code}").get_json()
    first = body["results"][0]
    assert first == {"kind": "item", "label": "Audit items", "title": first["title"],
                     "context": "Alpha · 2026-Q2",
                     "url": f"/audits/{site.audit.id}/items/{site.item.id}"}
    assert first["title"].startswith(site.item.code)
    many = client.get("/search/suggest?q=d").get_json()["results"]  # a prefix of many words
    assert 0 < len(many) <= 8
    assert client.get("/search/suggest?q=%21%21").get_json() == {"results": []}


def test_suggestions_keep_to_what_the_person_may_see(site, client, login_as):
    audits.add_evidence(site.people["operator"], site.item, note="Ultramarine vault code")
    db.session.commit()
    login_as("outsider")
    for q in ("ultramarine", site.item.code):
        urls = [r["url"] for r in client.get(f"/search/suggest?q={q}").get_json()["results"]]
        assert all(f"/audits/{site.audit.id}/" not in u for u in urls), q
    client.post("/logout")
    response = client.get("/search/suggest?q=ultramarine")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
