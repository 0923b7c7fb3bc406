"""The team page: quarter-over-quarter diff categories, the score history, the audit's
progress."""

import re

import pytest

from tests.dashboard.conftest import domains, force_statuses, html_tables
from tracker.audits import service as audits
from tracker.dashboard import queries

Q1 = {"DV-01": "met", "DV-02": "met", "DV-03": "not_met", "DV-04": "not_met", "DV-05": "not_met",
      "DV-06": "met", "DV-07": "not_applicable", "DV-08": "met"}
Q2 = {"DV-01": "met", "DV-02": "met", "DV-03": "not_met", "DV-04": "not_met", "DV-05": "met",
      "DV-06": "not_met", "DV-07": "not_met", "DV-08": "met", "DV-09": "met", "DV-10": "not_met",
      "DV-11": "met"}
Q3 = {
    "DV-01": "not_met",         # met → not met: regressed
    "DV-02": "blocked",         # met → blocked: regressed
    "DV-08": "not_started",     # met → not yet re-assessed: no category
    "DV-11": "met",             # met → met: unchanged
    "DV-03": "in_progress",     # not met three quarters running: stale (3)
    "DV-04": "met",             # not met → met: improved
    "DV-06": "not_met",         # met in Q1, then not met twice: stale (2)
    "DV-07": "not_started",     # N/A in Q1, then unmet twice: stale (2)
    "DV-10": "not_applicable",  # not met → N/A: no category
    "DV-05": "met",             # met → met
    "DV-09": "not_applicable",  # met → N/A: no category
}


@pytest.fixture
def three_quarters(app, library, people):
    lead, team = people["lead"], people["alpha"]
    q1 = audits.start_audit(lead, team, "2026-Q1", domains("DV"))
    force_statuses(q1, Q1)
    q2 = audits.start_next_quarter(lead, q1)
    force_statuses(q2, Q2)
    # Q3 widens the scope: the Peak domain's items are new in scope.
    q3 = audits.start_audit(lead, team, "2026-Q3", domains("DV", "PEAK"), previous=q2)
    force_statuses(q3, Q3)
    return q1, q2, q3


def test_each_diff_category(three_quarters):
    q1, q2, q3 = three_quarters
    diff = queries.quarter_diff(q3, q2)
    codes = {key: [r.code for r in rows] for key, rows in diff.rows.items()}
    peak = [i.code for i in q3.items if i.code.startswith("PEAK")]
    assert codes == {
        "regressed": ["DV-01", "DV-02"],
        "improved": ["DV-04"],
        "stale": ["DV-03", "DV-06", "DV-07"],
        "new": peak,
    }
    assert peak
    runs = {r.code: r.quarters_unmet for r in diff.rows["stale"]}
    assert runs == {"DV-03": 3, "DV-06": 2, "DV-07": 2}
    regressed = {r.code: (r.previous_status.value, r.status.value) for r in diff.rows["regressed"]}
    assert regressed == {"DV-01": ("met", "not_met"), "DV-02": ("met", "blocked")}
    assert all(r.previous_status is None for r in diff.rows["new"])
    # Looking back from Q2 (same scope as Q1, where DV-09 and DV-11 were never started).
    earlier = queries.quarter_diff(q2, q1)
    assert [r.code for r in earlier.rows["improved"]] == ["DV-05", "DV-09", "DV-11"]
    assert [r.code for r in earlier.rows["regressed"]] == ["DV-06"]
    assert [r.code for r in earlier.rows["stale"]] == ["DV-03", "DV-04", "DV-10"]
    assert earlier.rows["new"] == []
    assert queries.quarter_diff(q1, None).rows == {}


def section_codes(html: str, key: str) -> list[str]:
    section = html.split(f'id="diff-{key}"')[1].split("</details>")[0]
    return [row[0][0] for table in html_tables(section) for row in table[1:]]


def test_team_page_shows_the_diff_history_and_progress(client, login_as, three_quarters,
                                                       audit_pages):
    q1, q2, q3 = three_quarters
    login_as("operator")
    html = client.get(f"/teams/{q3.team_id}").get_data(as_text=True)
    assert "What changed since 2026-Q2" in html
    assert section_codes(html, "regressed") == ["DV-01", "DV-02"]
    assert section_codes(html, "improved") == ["DV-04"]
    assert section_codes(html, "stale") == ["DV-03", "DV-06", "DV-07"]
    assert len(section_codes(html, "new")) == len([i for i in q3.items if i.code[:4] == "PEAK"])
    # A diff row opens the item in the audit (the operator is in the team).
    dv01 = next(i for i in q3.items if i.code == "DV-01")
    assert f'href="/audits/{q3.id}/items/{dv01.id}"' in html
    # The score over the quarters, one value per quarter, as the tallies say.
    expected = [queries.score(sum(t.weight_met for t in a.tallies),
                              sum(t.weight_applicable for t in a.tallies)) for a in three_quarters]
    table = html_tables(client.get(f"/teams/{q3.team_id}?view=table").get_data(as_text=True))
    trend = next(t for t in table if [c[0] for c in t[0]] == ["", "2026-Q1", "2026-Q2", "2026-Q3"]
                 and t[1][0][0] == "Alpha")
    assert [c[0] for c in trend[1][1:]] == [f"{v * 100:.0f}%" for v in expected]
    # Progress: the status bar's counts link to the filtered audit.
    assert f'href="/audits/{q3.id}?status=not_met"' in html


def test_older_quarter_and_first_quarter(client, login_as, three_quarters):
    q1, q2, q3 = three_quarters
    login_as("lead")
    html = client.get(f"/teams/{q3.team_id}?period=2026-Q2").get_data(as_text=True)
    assert "What changed since 2026-Q1" in html
    assert section_codes(html, "regressed") == ["DV-06"]
    html = client.get(f"/teams/{q3.team_id}?period=2026-Q1").get_data(as_text=True)
    assert "there is no earlier quarter to compare with yet" in html


def test_team_without_audits_says_what_to_do(client, login_as, people):
    login_as("admin")
    html = client.get(f"/teams/{people['beta'].id}").get_data(as_text=True)
    assert "No audit for Beta yet" in html


def test_team_page_access(client, login_as, people, three_quarters):
    alpha, beta = people["alpha"], people["beta"]
    login_as("operator")  # an operator of Alpha only
    assert client.get(f"/teams/{alpha.id}").status_code == 200
    assert client.get(f"/teams/{beta.id}").status_code == 403
    assert client.get("/teams/9999").status_code == 404
    login_as("outsider")  # the lead of Beta sees other teams' readiness, not their audits
    html = client.get(f"/teams/{alpha.id}").get_data(as_text=True)
    assert "What changed since 2026-Q2" in html
    assert not re.search(r"/audits/\d", html)  # no link into Alpha's audits
    login_as("auditor")
    assert client.get(f"/teams/{alpha.id}").status_code == 200
