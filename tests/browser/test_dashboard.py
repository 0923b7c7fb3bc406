"""The dashboard, a team page and a signal in Chromium, on the demo data."""

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from tests.browser.conftest import sign_in
from tests.dashboard.conftest import demo_data  # noqa: F401
from tracker.auth.models import Team
from tracker.demo import DEMO_PASSWORD
from tracker.extensions import db
from tracker.signals.models import Signal

# The demo data from the dashboard tests' template (seeded once per run, copied per test).
pytestmark = pytest.mark.usefixtures("demo_data")


def test_overview_team_and_signal_on_demo_data(page, screenshot):
    sign_in(page, "admin@example.com", DEMO_PASSWORD)

    page.get_by_role("link", name="Dashboard").first.click()
    expect(page.get_by_role("heading", name="Readiness overview")).to_be_visible()
    # Its cells are links, so the heatmap is a group whose links a screen reader reaches.
    heatmap = page.get_by_role("group", name="Readiness score by team and domain")
    expect(heatmap).to_be_visible()
    expect(heatmap.get_by_role("link", name="Fulfillment Operations · DV:")).to_be_visible()
    assert heatmap.bounding_box()["width"] > 500
    expect(page.get_by_role("img", name="Readiness score by quarter")).to_be_visible()
    expect(page.get_by_text("signal on an unmet control").first).to_be_visible()
    path = screenshot("overview")
    assert path.stat().st_size > 20_000

    # Numbers instead of charts: the heatmap's table, every team a row.
    page.get_by_role("link", name="Show numbers as tables").click()
    table = page.locator("figure table").first
    expect(table).to_be_visible()
    for name in db.session.execute(sa.select(Team.name)).scalars():
        expect(table.get_by_role("rowheader", name=name)).to_be_visible()
    screenshot("overview-tables")

    # Into a team: its trend, and what changed since last quarter.
    page.get_by_role("link", name="Fulfillment Operations").first.click()
    expect(page.get_by_role("heading", name="Fulfillment Operations", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="What changed since")).to_be_visible()
    screenshot("team")

    # The seed's lesson: a frontline signal tied to the controls that should have caught it.
    signal_id = db.session.execute(
        sa.select(Signal.id).where(Signal.summary.like("14 tickets today%"))).scalar_one()
    page.goto(f"/signals/{signal_id}")
    expect(page.get_by_role("heading", name="Controls that guard against it")).to_be_visible()
    expect(page.locator("table").get_by_role("link", name="DV-01")).to_be_visible()
    screenshot("signal")


def test_log_and_acknowledge_a_signal_in_the_browser(page, screenshot):
    sign_in(page, "sofia@example.com", DEMO_PASSWORD)  # a support operator
    page.goto("/library/failures/DV-F1")
    page.get_by_role("link", name="Log a signal like this").click()
    assert page.get_by_label("DV · Address validation failure").is_checked()
    page.get_by_label("What was seen").fill("9 chats this morning: APO addresses rejected at "
                                            "label purchase")
    page.get_by_label("Source").select_option("customer_complaint")
    page.get_by_label("Severity").select_option("high")
    screenshot("new")
    page.get_by_role("button", name="Log signal").click()
    expect(page.get_by_text("Signal logged.")).to_be_visible()
    expect(page.get_by_text("signal on an unmet control").first).to_be_visible()
    expect(page.get_by_text("Team leads, auditors and admins acknowledge")).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, "lead@example.com", DEMO_PASSWORD)
    page.goto("/signals/")
    page.get_by_role("link", name="9 chats this morning").click()
    page.get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_text("Write a note first.")).to_be_visible()  # refused, nothing changed
    page.get_by_label("Note").first.fill("Checking the APO rule with the carrier today.")
    page.get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_text("Acknowledged. The note is on the signal")).to_be_visible()
    screenshot("acknowledged")
    page.goto("/signals/")
    screenshot("list")
