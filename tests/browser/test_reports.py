"""The "Verify a report" page in Chromium: upload the signed report, then a tampered copy."""

from playwright.sync_api import expect

from tests.browser.conftest import sign_in
from tests.factories import PASSWORD
from tests.reports.conftest import signed  # noqa: F401 — the signed-off audit fixture
from tracker.extensions import db


def test_verify_a_report_page(page, signed, screenshot, tmp_path):  # noqa: F811
    _, _, path = signed
    db.session.commit()  # release the test's SQLite write lock before the server needs it
    sign_in(page, "outsider@test.example", PASSWORD)
    page.get_by_role("link", name="Verify a report").click()
    expect(page.get_by_role("heading", name="Verify a report")).to_be_visible()
    screenshot("empty")
    page.get_by_label("Report PDF").set_input_files(str(path))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="Valid report")).to_be_visible()
    expect(page.get_by_text("Aude Auditor").first).to_be_visible()
    screenshot("valid")

    tampered = tmp_path / "tampered.pdf"
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0x01
    tampered.write_bytes(bytes(data))
    page.get_by_label("Report PDF").set_input_files(str(tampered))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="Not a valid report")).to_be_visible()
    expect(page.get_by_text("Signature intact failed:")).to_be_visible()
    screenshot("invalid")
