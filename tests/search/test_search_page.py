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
