"""The whole journey in Chromium on the demo data: the lead starts next quarter's audit, the
operator works items with uploaded evidence, the lead submits, an auditor signs off."""


import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from tests.browser.conftest import sign_in
from tracker import clock
from tracker.audits.models import Audit, AuditItem, AuditState, ItemStatus
from tracker.audits.service import next_period, period_for
from tracker.demo import DEMO_PASSWORD, seed_demo_data
from tracker.extensions import db

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
       b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff"
       b"\x89\x99=\x1d\x00\x00\x00\x00IEND\xaeB`\x82")


@pytest.fixture
def app_config():
    """CSRF on, as in production: every form of the journey must carry its token."""
    return {"WTF_CSRF_ENABLED": True}


def sign_out(page):
    page.get_by_role("button", name="Sign out").click()


def as_user(page, email):
    if page.get_by_role("button", name="Sign out").count():
        sign_out(page)
    sign_in(page, email, DEMO_PASSWORD)
    expect(page.get_by_role("button", name="Sign out"), f"could not sign in {email}"
           ).to_be_visible()


def test_quarterly_audit_journey(page, library, screenshot, tmp_path):
    seed_demo_data(progress=lambda *_: None)
    db.session.commit()
    current, upcoming = period_for(clock.today()), next_period(period_for(clock.today()))
    evidence = tmp_path / "carrier-cutoff-drill.png"
    evidence.write_bytes(PNG)

    # The lead starts next quarter from this quarter's audit, scoped to one domain.
    as_user(page, "lead@example.com")
    page.get_by_role("link", name="Audits", exact=True).click()
    screenshot("01-audits-list")
    page.get_by_role("row").filter(has_text="Fulfillment Operations").filter(
        has_text=current).get_by_role("link", name="Fulfillment Operations").click()
    screenshot("02-current-audit")
    page.get_by_role("link", name="Start next quarter").click()
    assert page.get_by_label("Period").input_value() == upcoming
    for box in page.locator("input[name=domains]").all():
        box.uncheck()
    page.get_by_label("DV · Data & Visibility").check()
    screenshot("03-start-next-quarter")
    page.get_by_role("button", name="Start audit").click()
    expect(page.get_by_role("heading", name=f"Fulfillment Operations · {upcoming}")).to_be_visible()
    expect(page.get_by_text("Draft", exact=True).first).to_be_visible()
    screenshot("04-new-draft")

    # Owners came over from the previous quarter; the lead reassigns them all in bulk.
    page.locator("details.group input.select-all").first.check()
    page.get_by_label("Set owner").select_option(label="Olivia Operator")
    page.get_by_role("button", name="Apply to selected").click()
    expect(page.get_by_text("Updated")).to_be_visible()
    page.get_by_role("button", name="Open for work").click()
    expect(page.get_by_text("open for work").first).to_be_visible()
    screenshot("04b-open-for-work")

    audit_id = db.session.execute(sa.select(Audit.id).where(Audit.period == upcoming)).scalar_one()
    items = db.session.execute(sa.select(AuditItem.id, AuditItem.code).where(
        AuditItem.audit_id == audit_id).order_by(AuditItem.code)).all()
    owners = db.session.execute(sa.select(AuditItem.owner_id).where(
        AuditItem.audit_id == audit_id).distinct()).scalars().all()
    assert len(owners) == 1
    db.session.rollback()  # hold no transaction open while the server writes

    # The operator finds the items under My items, uploads evidence and marks them met.
    as_user(page, "operator@example.com")
    page.get_by_role("link", name="My items").click()
    expect(page.get_by_text(f"Fulfillment Operations · {upcoming}").first).to_be_visible()
    screenshot("05-my-items")
    for item in items[:2]:
        page.goto(f"/audits/{audit_id}/items/{item.id}")
        # The evidence and the status in one form, one request.
        page.get_by_label("Attach a file").set_input_files(str(evidence))
        page.get_by_label("Status").select_option("met")
        page.get_by_role("button", name="Save", exact=True).click()
        expect(page.get_by_text(f"Saved {item.code} with 1 new piece of evidence")).to_be_visible()
        expect(page.get_by_role("link", name="carrier-cutoff-drill.png")).to_be_visible()
    screenshot("06-item-met-with-evidence")
    page.goto(f"/audits/{audit_id}/items/{items[2].id}")
    page.get_by_label("Status").select_option("not_applicable")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("needs a justification")).to_be_visible()  # the rule, on the page
    page.get_by_label("Justification").fill("No wholesale channel: the team ships D2C only.")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text(f"Saved {items[2].code}")).to_be_visible()
    page.goto(f"/audits/{audit_id}")
    screenshot("07-audit-in-progress")

    # The lead submits through the confirmation page.
    as_user(page, "lead@example.com")
    page.goto(f"/audits/{audit_id}")
    page.get_by_role("link", name="Submit for review").click()
    expect(page.get_by_text("What happens when you submit")).to_be_visible()
    # Every item needs an answer first: the rest, listed with links, are marked not met.
    expect(page.get_by_text(f"{len(items) - 3} items are still open")).to_be_visible()
    expect(page.get_by_role("link", name=items[3].code)).to_be_visible()
    screenshot("08-submit-items-left")
    page.get_by_label("Note").fill("Not done this quarter: on next quarter's plan.")
    page.get_by_role("button", name=f"Mark {len(items) - 3} not met").click()
    expect(page.get_by_text(f"Marked {len(items) - 3} items not met")).to_be_visible()
    screenshot("08b-submit-confirmation")
    page.get_by_role("button", name="Submit for review").click()
    expect(page.get_by_text("Submitted for review").first).to_be_visible()
    screenshot("09-in-review")

    # An auditor from outside the team signs it off with a statement.
    as_user(page, "auditor@example.com")
    page.get_by_role("link", name="Review", exact=True).click()
    row = page.get_by_role("row").filter(has_text="Fulfillment Operations")
    row.get_by_role("link", name="Review").click()
    screenshot("10-review")
    page.get_by_role("button", name=f"Accept all {len(items)} not reviewed").click()
    expect(page.get_by_text(f"Accepted {len(items)} items")).to_be_visible()
    page.get_by_role("link", name="Sign off…").click()
    expect(page.get_by_text("What happens when you sign off")).to_be_visible()
    page.get_by_label("Ready with exceptions").check()
    page.get_by_label("Sign-off statement").fill(
        "Evidence for the data and visibility controls reviewed with the team lead.")
    screenshot("11-sign-off-confirmation")
    page.get_by_role("button", name="Sign off", exact=True).click()
    expect(page.get_by_text("read-only for everyone").first).to_be_visible()
    screenshot("12-signed-off")

    # Signed off: read-only for everyone, including the lead and the operator.
    audit = db.session.get(Audit, audit_id)
    assert audit.state == AuditState.SIGNED_OFF
    assert [i.status for i in audit.items[:3]] == [
        ItemStatus.MET, ItemStatus.MET, ItemStatus.NOT_APPLICABLE]
    assert all(i.status == ItemStatus.NOT_MET for i in audit.items[3:])
    db.session.rollback()
    for email in ("lead@example.com", "operator@example.com"):
        as_user(page, email)
        page.goto(f"/audits/{audit_id}")
        assert page.locator("#bulk-form").count() == 0
        assert page.get_by_role("link", name="Submit for review").count() == 0
        page.goto(f"/audits/{audit_id}/items/{items[0].id}")
        assert page.get_by_role("button", name="Save", exact=True).count() == 0
        assert page.get_by_label("Attach a file").count() == 0
        assert page.get_by_role("button", name="Comment").count() == 0
    screenshot("13-signed-off-item")


def test_two_people_editing_the_same_item(browser, live_server, people, library, screenshot,
                                          page):
    """The second save gets the conflict box with the newer values; what they typed stays."""
    from tests.audits.conftest import domains
    from tests.factories import PASSWORD
    from tracker.audits import service

    audit = service.start_audit(people["lead"], people["alpha"], "2026-Q4", domains("PEAK"))
    service.open_audit(people["lead"], audit)
    db.session.commit()
    url = f"/audits/{audit.id}/items/{audit.items[0].id}"
    db.session.rollback()

    other = browser.new_context(base_url=live_server, viewport={"width": 1280, "height": 900})
    lead = other.new_page()
    sign_in(lead, "lead@test.example", PASSWORD)
    sign_in(page, "operator@test.example", PASSWORD)
    lead.goto(url)
    page.goto(url)  # both loaded the same version

    lead.get_by_label("Status").select_option("blocked")
    lead.get_by_label("Justification").fill("Waiting for the peak calendar.")
    lead.get_by_role("button", name="Save", exact=True).click()
    expect(lead.get_by_role("status").get_by_text("Saved")).to_be_visible()
    other.close()

    page.get_by_label("Status").select_option("in_progress")
    page.get_by_label("Justification").fill("Drafting the staffing plan.")
    page.get_by_role("button", name="Save", exact=True).click()
    conflict = page.get_by_role("alert").filter(has_text="Someone else saved this item first")
    expect(conflict).to_be_visible()
    expect(conflict.get_by_text("Blocked", exact=True)).to_be_visible()
    expect(conflict.get_by_text("Waiting for the peak calendar.")).to_be_visible()
    assert page.get_by_label("Justification").input_value() == "Drafting the staffing plan."
    assert page.get_by_label("Status").input_value() == "in_progress"
    screenshot("conflict")
    item = db.session.get(AuditItem, audit.items[0].id)
    assert item.status == ItemStatus.BLOCKED
    db.session.rollback()
