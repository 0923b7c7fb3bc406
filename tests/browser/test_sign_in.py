from playwright.sync_api import expect

from tests.browser.conftest import sign_in
from tests.factories import PASSWORD
from tracker.extensions import db


def test_sign_in_and_sign_out(page, people, screenshot):
    db.session.commit()
    page.goto("/")
    assert "/login" in page.url
    screenshot("login")
    sign_in(page, "lead@test.example", "not the password")
    expect(page.get_by_text("do not match an active account")).to_be_visible()
    sign_in(page, "lead@test.example", PASSWORD)
    expect(page.get_by_role("heading", name="Hello, Lena")).to_be_visible()
    screenshot("home")
    page.get_by_role("button", name="Sign out").click()
    assert "/login" in page.url
    expect(page.get_by_text("Signed out.")).to_be_visible()


def test_domain_hub_page(page, people, library, screenshot):
    db.session.commit()
    sign_in(page, "operator@test.example", PASSWORD)
    page.get_by_role("link", name="Library").first.click()
    page.get_by_role("link", name="Data & Visibility").first.click()
    expect(page.get_by_role("heading", name="Data & Visibility Topic Hub")).to_be_visible()
    shipping = "Shipping labels cannot be generated due to bad data."
    expect(page.get_by_text(shipping).first).to_be_visible()
    page.get_by_text("Insight: Frontline teams spot issues before dashboards.").click()
    screenshot("dv-hub")
    page.locator("table").get_by_role("link", name="DV-01").click()
    expect(page.get_by_role("heading", name="Guards against")).to_be_visible()
