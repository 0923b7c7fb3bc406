from tests.browser.conftest import sign_in
from tests.factories import PASSWORD
from tracker.extensions import db


def test_sign_in_and_sign_out(page, people, screenshot):
    db.session.commit()
    page.goto("/")
    assert "/login" in page.url
    screenshot("login")
    sign_in(page, "lead@test.example", "not the password")
    assert page.get_by_text("do not match an active account").is_visible()
    sign_in(page, "lead@test.example", PASSWORD)
    assert page.get_by_role("heading", name="Hello, Lena").is_visible()
    screenshot("home")
    page.get_by_role("button", name="Sign out").click()
    assert "/login" in page.url
    assert page.get_by_text("Signed out.").is_visible()


def test_domain_hub_page(page, people, library, screenshot):
    db.session.commit()
    sign_in(page, "operator@test.example", PASSWORD)
    page.get_by_role("link", name="Library").first.click()
    page.get_by_role("link", name="Data & Visibility").first.click()
    assert page.get_by_role("heading", name="Data & Visibility Topic Hub").is_visible()
    shipping = "Shipping labels cannot be generated due to bad data."
    assert page.get_by_text(shipping).first.is_visible()
    page.get_by_text("Insight: Frontline teams spot issues before dashboards.").click()
    screenshot("dv-hub")
    page.locator("table").get_by_role("link", name="DV-01").click()
    assert page.get_by_role("heading", name="Guards against").is_visible()
