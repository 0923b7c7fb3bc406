"""Which quarter the pages show first (issue 19): the current one in TIMEZONE, not the newest
that has any audit; "Start audit" offers the first quarter the team has no audit for."""

import re

from tests.audits.conftest import new_audit
from tracker import clock
from tracker.audits.service import next_period, period_for


def selected_period(html: str) -> str:
    return re.search(r'<option[^>]*value="(\d{4}-Q\d)"[^>]*selected', html).group(1)


def test_an_early_start_of_next_quarter_does_not_move_the_default(client, login_as, people,
                                                                  library):
    current = period_for(clock.today())
    new_audit(people, state="in_progress", period=current)
    new_audit(people, state="draft", period=next_period(current))
    login_as("lead")
    for url in ("/dashboard", f"/teams/{people['alpha'].id}"):
        html = client.get(url).get_data(True)
        assert selected_period(html) == current, url
        picked = client.get(f"{url}?period={next_period(current)}").get_data(True)
        assert selected_period(picked) == next_period(current), url


def test_start_audit_offers_the_first_free_quarter_and_links_the_taken_one(client, login_as,
                                                                          people, library):
    current = period_for(clock.today())
    taken = new_audit(people, state="in_progress", period=current)
    login_as("lead")
    form = client.get(f"/audits/new?team={people['alpha'].id}").get_data(True)
    assert f'value="{next_period(current)}"' in form
    response = client.post("/audits/new", data={
        "team_id": people["alpha"].id, "period": current.lower(), "previous_id": "",
        "domains": [d.id for d in taken.domains], "due_date": ""})
    body = response.get_data(True)
    assert response.status_code == 422 and "already has an audit" in body
    assert f'href="/audits/{taken.id}"' in body and next_period(current) in body
