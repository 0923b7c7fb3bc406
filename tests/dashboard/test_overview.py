"""The overview: who sees which teams, where its numbers lead, My work, empty states."""

import random
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import url_for

from tests.dashboard.conftest import build_teams, domains, force_statuses, table_with_header
from tests.factories import make_user
from tracker import clock
from tracker.audits import service as audits
from tracker.audits.models import AuditItem, AuditState
from tracker.extensions import db


@pytest.fixture
def two_teams(people, library):
    alpha = audits.start_audit(people["lead"], people["alpha"], "2026-Q4", domains("DV", "SUP"))
    beta = audits.start_audit(people["outsider"], people["beta"], "2026-Q4", domains("DV"))
    force_statuses(alpha, {"DV-01": "met", "DV-04": "not_met", "SUP-01": "met"})
    force_statuses(beta, {"DV-01": "not_met"})
    db.session.commit()
    return alpha, beta


def heatmap_rows(html):
    return [row[0][0] for row in table_with_header(html, "", contains="Overall")[1:]]


def test_org_roles_see_every_team_operators_their_own(client, login_as, two_teams):
    for role in ("admin", "auditor", "outsider"):  # outsider leads Beta: leads see the org
        login_as(role)
        html = client.get("/dashboard?view=table").get_data(as_text=True)
        assert heatmap_rows(html) == ["Alpha", "Beta"], role
        assert "every team" in html
    login_as("operator")
    html = client.get("/dashboard?view=table").get_data(as_text=True)
    assert heatmap_rows(html) == ["Alpha"]
    assert "your teams" in html and "Beta" not in html


def test_numbers_link_to_the_audit_or_to_the_team_page(client, login_as, two_teams,
                                                       audit_pages):
    alpha, beta = two_teams
    login_as("lead")  # lead of Alpha: Alpha's audit, but only Beta's team page
    html = client.get("/dashboard?view=table").get_data(as_text=True)
    heat = table_with_header(html, "", contains="Overall")
    alpha_row, beta_row = heat[1], heat[2]
    assert alpha_row[1][1] == f"/audits/{alpha.id}?domain=DV"
    assert beta_row[1][1] == f"/teams/{beta.team_id}?period=2026-Q4"
    assert f'href="/audits/{alpha.id}?status=not_met&amp;criticality=critical"' in html
    assert f"/audits/{beta.id}" not in html


def test_my_work_panel(client, login_as, two_teams, people, audit_pages):
    alpha, _ = two_teams
    today = clock.today()
    due = {"DV-02": today - timedelta(days=3), "DV-03": today + timedelta(days=5),
           "DV-05": today + timedelta(days=40), "DV-01": today - timedelta(days=9)}  # DV-01 met
    for code, when in due.items():
        db.session.execute(sa.update(AuditItem).where(
            AuditItem.audit_id == alpha.id, AuditItem.code == code)
            .values(owner_id=people["operator"].id, due_date=when))
    db.session.commit()
    login_as("operator")
    html = client.get("/dashboard").get_data(as_text=True)
    with client.application.test_request_context():
        mine = {args: url_for("audits.my_items", **dict(args)).replace("&", "&amp;")
                for args in ((), (("due", "soon"),), (("overdue", 1),))}
    assert f'href="{mine[()]}"><span class="value">3</span><span class="label">open' in html
    assert f'href="{mine[(("due", "soon"),)]}"><span class="value">1</span>' in html
    assert f'href="{mine[(("overdue", 1),)]}"><span class="value">1</span>' in html
    login_as("auditor")  # in no team: no panel
    assert "My work" not in client.get("/dashboard").get_data(as_text=True)


def test_empty_states(client, login_as, people, library):
    login_as("admin")
    assert "No audits yet" in client.get("/dashboard").get_data(as_text=True)
    make_user("loner@test.example", "Lone Ranger")
    db.session.commit()
    client.post("/logout")
    client.post("/login", data={"email": "loner@test.example",
                                "password": "correct horse battery"})
    assert "You are not in a team yet" in client.get("/dashboard").get_data(as_text=True)


def test_unknown_quarter_falls_back_to_the_latest(client, login_as, two_teams):
    login_as("admin")
    html = client.get("/dashboard?period=1999-Q1").get_data(as_text=True)
    assert "Readiness by team and domain" in html and "2026-Q4" in html


def test_domain_hub_shows_each_teams_latest_status(client, login_as, two_teams):
    login_as("admin")
    html = client.get("/library/DV").get_data(as_text=True)
    table = table_with_header(html, "Code", contains="Control")
    header = [c[0] for c in table[0]]
    assert header[-2:] == ["Alpha 2026-Q4", "Beta 2026-Q4"]
    dv01 = next(r for r in table[1:] if r[0][0] == "DV-01")
    assert [c[0] for c in dv01[-2:]] == ["Met", "Not met"]
    dv04 = next(r for r in table[1:] if r[0][0] == "DV-04")
    assert [c[0] for c in dv04[-2:]] == ["Not met", "Not started"]
    login_as("operator")  # an operator sees their own team's column only
    table = table_with_header(client.get("/library/DV").get_data(as_text=True), "Code",
                              contains="Control")
    assert [c[0] for c in table[0]][-1] == "Alpha 2026-Q4"


def test_a_large_organisation_pages_its_teams_and_counts_them_all(client, login_as, people,
                                                                   library):
    today = clock.today()
    teams = build_teams("Org", 28, ["2026-Q4"], domains("DV"), random.Random(4),
                        due_dates=[today - timedelta(days=2), today + timedelta(days=30)])
    overdue = db.session.execute(
        sa.select(sa.func.count(AuditItem.id))
        .where(AuditItem.status.in_(["not_started", "in_progress", "blocked"]),
               AuditItem.due_date < today)).scalar_one()
    login_as("admin")
    first = client.get("/dashboard?view=table").get_data(as_text=True)
    second = client.get("/dashboard?view=table&page=2").get_data(as_text=True)
    names = sorted(t.name for t in teams) + ["Alpha", "Beta"]
    shown = heatmap_rows(first) + heatmap_rows(second)
    assert len(heatmap_rows(first)) == 25 and sorted(shown) == sorted(names)
    assert "teams 1–25 of 30" in first and "teams 26–30 of 30" in second
    for html in (first, second):  # the totals are over every team, whichever page
        assert f'<span class="value">{overdue}</span><span class="label">overdue' in html
    # The domain hub switches to counts per status instead of 30 team columns.
    hub = client.get("/library/DV").get_data(as_text=True)
    assert "Teams&#39; latest audits" in hub or "Teams' latest audits" in hub
    assert "(30 teams)" in hub


def test_a_draft_audit_is_shown_as_a_draft_and_left_out_of_the_scores(client, login_as,
                                                                       two_teams, people):
    """Planning is not a score of 0 %: a draft's cells say "draft", the organisation's score
    and the trend leave it out, and the team page says it is not scored yet; the first
    piece of work opens the audit and it counts from then on."""
    worked, draft = two_teams
    worked.state, draft.state = AuditState.IN_PROGRESS, AuditState.DRAFT  # beta only planned
    db.session.commit()
    login_as("admin")
    html = client.get(f"/dashboard?period={draft.period}&view=table").get_data(as_text=True)
    heat = table_with_header(html, "", contains="Overall")
    beta_row = next(r for r in heat[1:] if r[0][0] == people["beta"].name)
    assert {text for text, _ in beta_row[1:]} == {"draft", "—"}
    assert beta_row[-1][0] == "draft"
    assert "draft: planned, not scored until work starts" in html
    assert "Draft audits are not scored until work starts." in html
    assert "draft: not scored yet" in html
    alpha_row = next(r for r in heat[1:] if r[0][0] == people["alpha"].name)
    assert (f'<span class="value">{alpha_row[-1][0]}</span><span class="label">readiness '
            "score of the organisation") in html  # alpha's score alone
    trend = table_with_header(html, "", contains=draft.period)
    beta_trend = next(r for r in trend[1:] if r[0][0] == people["beta"].name)
    assert beta_trend[-1][0] == "—"

    team_page = client.get(f"/teams/{people['beta'].id}").get_data(as_text=True)
    assert "Draft audits are not scored until work starts." in team_page
    assert '<span class="score">' not in team_page

    item = db.session.execute(sa.select(AuditItem).where(AuditItem.audit_id == draft.id)
                              ).scalars().first()
    audits.update_item(people["outsider"], item, expected_version=None, status="in_progress")
    db.session.commit()
    html = client.get(f"/dashboard?period={draft.period}&view=table").get_data(as_text=True)
    heat = table_with_header(html, "", contains="Overall")
    beta_row = next(r for r in heat[1:] if r[0][0] == people["beta"].name)
    assert beta_row[-1][0].endswith("%")
