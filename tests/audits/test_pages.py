"""The audit pages: what they show, their filters and links, and their query counts."""

import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from tests import factories
from tests.audits.conftest import domains, first_item, move_to
from tracker import clock
from tracker.audits import service
from tracker.audits.models import Audit, AuditItem, AuditState, ItemStatus
from tracker.extensions import db
from tracker.library.models import Domain


def codes_on(page: str) -> list[str]:
    """Item codes in the audit page's item tables, in order."""
    return re.findall(r'<a class="code" href="/audits/\d+/items/\d+">([A-Z]+-\d+)</a>', page)


def set_status(people, item, status, **extra):
    if status == "met" and item.evidence_required:
        service.add_evidence(people["operator"], item, note="Checked.")
    service.update_item(people["operator"], item, expected_version=None, status=status, **extra)


def test_start_form_defaults_to_this_quarter_and_every_active_domain(client, login_as,
                                                                      library):
    login_as("lead")
    page = client.get("/audits/new").get_data(as_text=True)
    period = service.period_for(clock.today())
    assert f'value="{period}"' in page
    active = db.session.execute(sa.select(Domain.id).where(Domain.active)).scalars().all()
    for domain_id in active:
        assert re.search(rf'<input checked id="domains-\d+" name="domains" type="checkbox" '
                         rf'value="{domain_id}">', page), domain_id


def test_the_empty_state_link_preselects_the_team(client, login_as, people, library):
    from tests.factories import make_team

    second = make_team("Gamma", people["lead"])
    db.session.commit()
    login_as("lead")
    page = client.get("/audits/").get_data(as_text=True)
    assert f'href="/audits/new?team={second.id}"' in page
    form = client.get(f"/audits/new?team={second.id}").get_data(as_text=True)
    assert f'<option selected value="{second.id}">Gamma</option>' in form


def test_starting_an_audit_snapshots_the_library(client, login_as, people, library):
    login_as("lead")
    dv = domains("DV")[0]
    response = client.post("/audits/new", data={
        "team_id": people["alpha"].id, "period": "2026-q4", "domains": [dv.id],
        "due_date": "2026-12-15"})
    assert response.status_code == 302
    audit = db.session.execute(sa.select(Audit)).scalar_one()
    assert (audit.period, audit.state, audit.lead_id) == ("2026-Q4", AuditState.DRAFT,
                                                          people["lead"].id)
    items = audit.items
    library_items = [i for i in dv.items if i.active]
    assert [i.code for i in items] == [i.code for i in library_items]
    assert all(i.due_date == date(2026, 12, 15) for i in items)
    # A later library edit does not rewrite the audit.
    library_items[0].title = "Renamed in the library"
    db.session.commit()
    assert db.session.get(AuditItem, items[0].id).title != "Renamed in the library"


def test_start_next_quarter_copies_scope_owners_and_justifications(client, login_as, people,
                                                                    make_audit):
    previous = make_audit(codes=("DV", "PAY"), state="in_progress", period="2026-Q3")
    items = previous.items
    service.update_item(people["lead"], items[0], expected_version=None,
                        owner=people["operator"])
    set_status(people, items[1], "not_applicable", justification="No wholesale channel.")
    set_status(people, items[2], "met")
    db.session.commit()
    login_as("lead")
    page = client.get(f"/audits/new?previous={previous.id}").get_data(as_text=True)
    assert 'value="2026-Q4"' in page and "readonly" in page
    response = client.post("/audits/new", data={
        "previous_id": previous.id, "team_id": people["alpha"].id, "period": "2031-Q1",
        "domains": [d.id for d in previous.domains], "due_date": ""})
    assert response.status_code == 302
    new = db.session.execute(sa.select(Audit).where(Audit.period == "2026-Q4")).scalar_one()
    assert new.previous_audit_id == previous.id
    assert [d.code for d in new.domains] == ["DV", "PAY"]
    by_code = {i.code: i for i in new.items}
    assert by_code[items[0].code].owner_id == people["operator"].id
    assert by_code[items[1].code].justification == "No wholesale channel."
    assert {i.status for i in new.items} == {ItemStatus.NOT_STARTED}


def test_the_audit_page_counts_filters_and_links(client, login_as, people, make_audit):
    audit = make_audit(codes=("DV", "PAY"), state="in_progress")
    dv = [i for i in audit.items if i.code.startswith("DV")]
    pay = [i for i in audit.items if i.code.startswith("PAY")]
    set_status(people, dv[0], "met")
    set_status(people, dv[1], "blocked")
    set_status(people, pay[0], "not_applicable", justification="No card payments.")
    service.update_item(people["lead"], pay[1], expected_version=None,
                        owner=people["operator"], due_date=clock.today() - timedelta(days=3))
    db.session.commit()
    login_as("operator")
    url = f"/audits/{audit.id}"
    page = client.get(url).get_data(as_text=True)
    assert "Score = Σ weight of met items ÷ Σ weight of items not N/A" in page
    weights = {"critical": 3, "high": 2, "normal": 1}
    applicable = sum(weights[i.criticality] for i in audit.items if i != pay[0])
    assert f"{weights[dv[0].criticality]} ÷ {applicable}" in page
    assert f"2 of {len(audit.items)} items decided" in page  # met and N/A; blocked is open
    assert f'href="{url}?status=blocked#items"' in page
    assert f'href="{url}?domain=PAY&amp;status=not_applicable#items"' in page
    assert len(codes_on(page)) == len(audit.items)
    assert '<details class="group" id="domain-DV" open>' in page

    assert codes_on(client.get(f"{url}?status=blocked").get_data(True)) == [dv[1].code]
    assert codes_on(client.get(f"{url}?domain=PAY").get_data(True)) == [i.code for i in pay]
    assert codes_on(client.get(f"{url}?overdue=1").get_data(True)) == [pay[1].code]
    critical = [i.code for i in audit.items if i.criticality == "critical"]
    assert codes_on(client.get(f"{url}?criticality=critical").get_data(True)) == critical
    mine = f"{url}?owner={people['operator'].id}"
    assert codes_on(client.get(mine).get_data(True)) == [pay[1].code]
    unassigned = codes_on(client.get(f"{url}?owner=none&domain=PAY").get_data(True))
    assert pay[1].code not in unassigned and len(unassigned) == len(pay) - 1
    empty = client.get(f"{url}?status=not_met").get_data(True)
    assert "No items match these filters." in empty and "Clear filters" in empty
    # Nonsense filters are ignored rather than failing.
    assert len(codes_on(client.get(f"{url}?status=bogus&domain=ZZ&owner=x").get_data(True))
               ) == len(audit.items)


@pytest.mark.perf
@pytest.mark.parametrize("app_config", [{"PAGE_CACHE": False}])  # count what a render costs
def test_the_audit_page_query_count_does_not_grow_with_items(client, login_as, people,
                                                               make_audit, count_queries):
    small = make_audit(codes=("PEAK",), state="in_progress", period="2026-Q3")
    large = make_audit(codes=(), state="in_progress", period="2026-Q4")  # every domain
    for audit in (small, large):
        for item in audit.items[:3]:
            set_status(people, item, "met")
    db.session.commit()
    assert len(large.items) > 5 * len(small.items)
    login_as("lead")
    counts = []
    for audit in (small, large):
        client.get(f"/audits/{audit.id}")  # warm up: templates compiled
        with count_queries() as counter:
            assert client.get(f"/audits/{audit.id}").status_code == 200
        counts.append(counter.count)
    assert counts[0] == counts[1], counts
    assert counts[0] <= 20, counts
    item_counts = []
    for audit in (small, large):
        with count_queries() as counter:
            client.get(f"/audits/{audit.id}/items/{audit.items[0].id}")
        item_counts.append(counter.count)
    assert item_counts[0] == item_counts[1], item_counts


def test_list_pages_have_flat_query_counts(client, login_as, people, make_audit,
                                           count_queries):
    periods = iter(["2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4", "2026-Q1"])
    make_audit(period=next(periods), state="in_review")
    login_as("auditor")
    counts = {}
    for more in (3, 0):
        for url in ("/audits/", "/review", "/my-items"):
            client.get(url)
            with count_queries() as counter:
                client.get(url)
            counts.setdefault(url, []).append(counter.count)
        for _ in range(more):
            make_audit(period=next(periods), state="in_review")
    for url, (few, many) in counts.items():
        assert few == many, (url, few, many)


def test_my_items_lists_overdue_first_then_due_soon(client, login_as, people, make_audit):
    audit = make_audit(codes=("DV",), state="in_progress")
    today = clock.today()
    plan = [(audit.items[0], today + timedelta(days=30)), (audit.items[1], today + timedelta(3)),
            (audit.items[2], today - timedelta(days=2)), (audit.items[3], None),
            (audit.items[4], today - timedelta(days=10))]
    for item, due in plan:
        service.update_item(people["lead"], item, expected_version=None,
                            owner=people["operator"], due_date=due)
    set_status(people, audit.items[4], "met")  # decided: no longer overdue or open
    signed = make_audit(codes=("PEAK",), state="draft", period="2026-Q1")
    service.update_item(people["lead"], signed.items[0], expected_version=None,
                        owner=people["operator"], due_date=today - timedelta(days=40))
    move_to(signed, "signed_off", people)  # signed-off items never show, even if assigned
    db.session.commit()
    login_as("operator")
    page = client.get("/my-items").get_data(as_text=True)
    found = re.findall(r"<span class=\"code\">([A-Z]+-\d+)</span>", page)
    assert found == [audit.items[2].code, audit.items[1].code, audit.items[0].code,
                     audit.items[3].code]
    assert "Overdue" in page and "Due soon" in page
    assert signed.items[0].code not in found
    everything = client.get("/my-items?show=all").get_data(as_text=True)
    assert audit.items[4].code in everything
    # The dashboards link here with these, and count with the same definitions.
    overdue = client.get("/my-items?overdue=1").get_data(as_text=True)
    assert re.findall(r'<span class="code">([A-Z]+-\d+)</span>', overdue) == [audit.items[2].code]
    soon = client.get("/my-items?due=soon").get_data(as_text=True)
    assert re.findall(r'<span class="code">([A-Z]+-\d+)</span>', soon) == [audit.items[1].code]
    alias = client.get("/audits/my-items").get_data(as_text=True)
    assert re.findall(r"<span class=\"code\">([A-Z]+-\d+)</span>", alias) == found
    login_as("lead")
    empty = client.get("/my-items").get_data(as_text=True)
    assert "You have no open items" in empty


def test_review_queue_leaves_out_the_auditors_own_teams(client, login_as, people, make_audit):
    alpha = make_audit(state="in_review")
    beta = make_audit(state="in_review", team="beta")
    login_as("member_auditor")  # an operator in Alpha
    page = client.get("/review").get_data(as_text=True)
    assert f"/audits/{beta.id}/review" in page
    assert f"/audits/{alpha.id}/review" not in page
    assert "In review from your own teams" in page
    login_as("auditor")
    page = client.get("/review").get_data(as_text=True)
    assert f"/audits/{alpha.id}/review" in page and f"/audits/{beta.id}/review" in page


def test_audits_list_filters_and_empty_state(client, login_as, people, make_audit):
    login_as("lead")
    period = service.period_for(clock.today())
    page = client.get("/audits/").get_data(as_text=True)
    assert f"No audit for {period} yet for Alpha." in page
    assert f"Start {period} audit" in page
    make_audit(period="2026-Q1", state="signed_off")
    current = make_audit(period=period, state="in_progress")
    make_audit(period="2026-Q2", team="beta")
    page = client.get("/audits/").get_data(as_text=True)
    assert "No audit for" not in page
    assert "2026-Q1" in page and f"/audits/{current.id}" in page
    assert "Beta" not in page.split("<table")[1]  # another team's audits are not listed
    filtered = client.get("/audits/?state=signed_off").get_data(as_text=True)
    assert "2026-Q1" in filtered.split("<table")[1] and period not in filtered.split("<table")[1]
    login_as("auditor")
    assert "Beta" in client.get("/audits/").get_data(as_text=True).split("<table")[1]
    login_as("operator")
    assert "Start audit" not in client.get("/audits/").get_data(as_text=True)


def test_the_home_page_links_to_what_is_behind_its_numbers(client, login_as, people,
                                                            make_audit):
    audit = make_audit(state="in_review")
    login_as("auditor")
    page = client.get("/").get_data(as_text=True)
    assert 'href="/review"' in page and f'href="/audits/{audit.id}"' in page
    login_as("operator")
    page = client.get("/").get_data(as_text=True)
    assert 'href="/my-items"' in page and f'href="/audits/{audit.id}"' in page


def primary_actions(page: str) -> str:
    """The page header's action area."""
    return page.split('<div class="actions">')[1].split("</div>")[0] if (
        '<div class="actions">' in page) else ""


def test_primary_action_follows_user_and_state(client, login_as, people, make_audit):
    audit = make_audit(state="draft")
    url = f"/audits/{audit.id}"
    for role, state, label in [("lead", "draft", "Open for work"),
                               ("lead", "in_progress", "Submit for review"),
                               ("auditor", "in_review", "Review"),
                               ("lead", "signed_off", "Start next quarter")]:
        login_as(role)
        actions = primary_actions(client.get(url).get_data(as_text=True))
        assert re.search(rf'class="btn btn-primary"[^>]*>{label}</', actions), (role, state)
        login_as("operator")  # operators have no primary action on the audit page
        assert "btn-primary" not in primary_actions(client.get(url).get_data(as_text=True))
        if state != "signed_off":
            audit = db.session.get(Audit, audit.id)
            next_state = {"draft": "in_progress", "in_progress": "in_review",
                          "in_review": "signed_off"}[state]
            advance(audit, next_state, people)


def advance(audit, state, people):

    if state == "in_progress":
        service.open_audit(people["lead"], audit)
    elif state == "in_review":
        factories.submit(people["lead"], audit)
    else:
        factories.sign_off(people["auditor"], audit, "Fine.")
    db.session.commit()


def test_item_page_shows_guidance_history_and_verdict(client, login_as, people, make_audit):
    audit = make_audit(state="in_progress")
    item = first_item(audit)
    set_status(people, item, "met")
    service.add_comment(people["operator"], item, "Drill went fine.")
    factories.submit(people["lead"], audit)
    db.session.commit()
    login_as("auditor")
    url = f"/audits/{audit.id}/items/{item.id}"
    page = client.get(url).get_data(as_text=True)
    assert item.guidance[:40] in page and "Drill went fine." in page
    assert "Your verdict" in page and "Attach a file" not in page
    assert "Not started</span>" in page and "Met</span>" in page  # history, as labels
    response = client.post(f"{url}/verdict", data={"verdict": "needs_rework",
                                                   "note": "The photo is unreadable."})
    assert response.status_code == 302
    login_as("lead")
    page = client.get(url).get_data(as_text=True)
    assert "The auditor sent this item back" in page and "The photo is unreadable." in page


def test_the_top_bar_marks_the_section_of_the_page(client, login_as, audit):
    login_as("member_auditor")  # sees Audits, My items and Review
    for url, label in (("/my-items", "My items"), ("/review", "Review"),
                       (f"/audits/{audit.id}", "Audits")):
        page = client.get(url).get_data(as_text=True)
        marked = re.findall(r'<a href="[^"]+" class="active" aria-current="page">([^<]+)</a>', page)
        assert marked == [label], (url, marked)
