"""The account page's API tokens and the admin library import/export page, in Chromium."""

from playwright.sync_api import expect

from tests.browser.conftest import sign_in
from tests.exchange.conftest import FIXTURES
from tests.factories import PASSWORD
from tracker.extensions import db


def test_create_and_revoke_a_token_in_the_browser(page, people, screenshot, live_server):
    db.session.commit()
    sign_in(page, "operator@test.example", PASSWORD)
    page.goto("/account")
    page.get_by_label("Token name").fill("monitoring job")
    page.get_by_role("button", name="Create token").click()
    token = page.get_by_label("New API token").input_value()
    assert token.startswith("rt_")
    screenshot("token-created")
    me = page.request.get(f"{live_server}/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["email"] == "operator@test.example"
    page.goto("/account")
    assert token not in page.content()
    page.get_by_role("button", name="Revoke token monitoring job").click()
    expect(page.get_by_text("revoked: scripts using it now get 401")).to_be_visible()
    screenshot("token-revoked")
    gone = page.request.get(f"{live_server}/api/v1/me",
                            headers={"Authorization": f"Bearer {token}"})
    assert gone.status == 401


def test_admin_imports_and_exports_the_library(page, people, library, screenshot, tmp_path):
    db.session.commit()
    sign_in(page, "admin@test.example", PASSWORD)
    page.goto("/admin/users")
    tabs = page.get_by_role("navigation", name="Administration")
    tabs.get_by_role("link", name="Library").click()
    expect(page.get_by_role("heading", name="Library import and export")).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name="CSV").click()
    exported = tmp_path / "library.csv"
    download.value.save_as(exported)
    broken = tmp_path / "broken.csv"
    broken.write_text(exported.read_text().replace(",critical,", ",urgent,", 1))
    page.get_by_label("Library file").set_input_files(str(broken))
    page.get_by_role("button", name="Check and import").click()
    expect(page.get_by_text("urgent").first).to_be_visible()
    expect(page.get_by_text("Nothing was changed")).to_be_visible()
    screenshot("import-error")
    page.get_by_label("Library file").set_input_files(str(FIXTURES / "mini-catalog.json"))
    page.get_by_role("button", name="Check and import").click()
    expect(page.get_by_text("8 added")).to_be_visible()  # a preview: nothing changed yet
    expect(page.get_by_text("Nothing has changed yet")).to_be_visible()
    screenshot("import-preview")
    page.get_by_role("button", name="Import: apply 8 changes").click()
    expect(page.get_by_text("Imported mini-catalog.json: 8 changes")).to_be_visible()
    screenshot("imported")
