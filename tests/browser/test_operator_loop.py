"""The operator's loop in Chromium (issue 19): My items → j/k → Enter → the status a few tab
stops from the top → a file and the status in one form → "Save and next" on the next item.
Screenshots of the item page at desktop and phone width; and the same loop without JavaScript."""

import os
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from tests import factories
from tests.audits.conftest import PNG, new_audit
from tests.browser.conftest import ARTIFACTS, sign_in
from tracker import clock
from tracker.audits import queries, service
from tracker.audits.models import AuditItem, ItemStatus
from tracker.extensions import db

pytestmark = pytest.mark.browser
SHOTS = Path(os.environ.get("OPERATOR_SHOTS", ARTIFACTS))


def shoot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"operator-loop-{name}.png"), full_page=True)


@pytest.fixture
def my_items(library, people):
    """Three items of an open audit owned by the operator, in My items' order (ids)."""
    audit = new_audit(people, ("DV",), "in_progress")
    chosen = db.session.execute(
        sa.select(AuditItem.id).where(AuditItem.audit_id == audit.id,
                                      AuditItem.evidence_required)
        .order_by(AuditItem.code).limit(3)).scalars().all()
    service.bulk_update(people["lead"], audit, chosen, owner=people["operator"])
    db.session.commit()
    ids = [i.id for i in queries.my_items(people["operator"], clock.today(), view="open",
                                          page=1).items]
    db.session.rollback()  # hold no transaction open while the server writes
    return audit.id, ids


def current_row_link(page) -> str:
    return page.evaluate("document.activeElement.closest('tr.is-current') ? "
                         "document.activeElement.getAttribute('href') : ''")


def test_the_operators_loop(page, people, my_items, tmp_path):
    audit_id, ids = my_items
    drill = tmp_path / "cutoff-drill.png"
    drill.write_bytes(PNG)
    sign_in(page, people["operator"].email, factories.PASSWORD)
    page.goto("/my-items")
    expect(page.locator(".keys-hint")).to_be_visible()  # said only where the keys work

    # j and k move through the rows; Enter opens the focused one.
    page.keyboard.press("j")
    assert current_row_link(page).endswith(f"/items/{ids[0]}?mine=open")
    page.keyboard.press("j")
    assert current_row_link(page).endswith(f"/items/{ids[1]}?mine=open")
    page.keyboard.press("k")
    assert current_row_link(page).endswith(f"/items/{ids[0]}?mine=open")
    assert page.locator("tr.is-current").count() == 1
    shoot(page, "my-items-j-k")
    search = page.locator(".topbar input[name=q]")
    search.focus()
    page.keyboard.press("j")  # typed into a field: a letter, not a move
    assert search.input_value() == "j"
    assert page.locator("tr.is-current a").first.get_attribute("href").endswith(
        f"/items/{ids[0]}?mine=open")  # the row did not move
    page.keyboard.press("Escape")
    search.fill("")
    page.locator("tr.is-current a").first.focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{page.url.split('/my-items')[0]}/audits/{audit_id}/items/"
                             f"{ids[0]}?mine=open")

    # From the top of the main content, the status control is a few tab stops away.
    page.locator(".skip-link").focus()
    page.keyboard.press("Enter")
    stops = 0
    while page.evaluate("document.activeElement.id") != "status" and stops < 20:
        page.keyboard.press("Tab")
        stops += 1
    assert stops <= 6, f"the status control is {stops} tab stops from the top of the page"
    shoot(page, "item-desktop")

    # A file and the status in one form; Save and next opens the next item of the list.
    page.get_by_label("Attach a file").set_input_files(str(drill))
    page.get_by_label("Status").select_option("met")
    page.get_by_role("button", name="Save and next").click()
    expect(page.get_by_text("with 1 new piece of evidence")).to_be_visible()
    assert page.url.endswith(f"/items/{ids[1]}?mine=open")
    item = db.session.get(AuditItem, ids[0])
    assert item.status == ItemStatus.MET and [e.filename for e in item.evidence] == [
        "cutoff-drill.png"]
    db.session.rollback()

    # The evidence of a met item: its removal is refused with the reason, on the page.
    page.goto(f"/audits/{audit_id}/items/{ids[0]}?mine=open")
    page.get_by_text("Replace or remove").click()
    page.get_by_role("button", name="Remove this evidence").click()
    expect(page.get_by_role("alert").filter(has_text="Replace it instead")).to_be_visible()
    shoot(page, "item-evidence-refused")
    page.goto(f"/audits/{audit_id}/items/{ids[1]}?mine=open")

    # At phone width: the status form first, nothing sideways.
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    shoot(page, "item-390")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    top = page.locator("#status-form").evaluate(
        "el => el.getBoundingClientRect().top + window.scrollY")
    assert top < 600, f"the status form starts at {top:.0f} px"

    # The last item: back to the list, with a message.
    page.goto(f"/audits/{audit_id}/items/{ids[2]}?mine=open")
    page.get_by_label("Status").select_option("in_progress")
    page.get_by_role("button", name="Save and next").click()
    expect(page.get_by_text("That was the last item of My items.")).to_be_visible()
    assert page.url.endswith("/my-items")


def test_the_loop_works_without_javascript(browser, live_server, people, my_items):
    audit_id, ids = my_items
    context = browser.new_context(base_url=live_server, java_script_enabled=False)
    page = context.new_page()
    try:
        sign_in(page, people["operator"].email, factories.PASSWORD)
        page.goto("/my-items")
        expect(page.locator(".keys-hint")).to_be_hidden()
        page.locator("table.table tbody tr").first.get_by_role("link").first.click()
        page.get_by_label("Evidence note").fill("Walked the cut-off drill with the shift lead.")
        page.get_by_label("Status").select_option("met")
        page.get_by_role("button", name="Save and next").click()
        expect(page.get_by_text("with 1 new piece of evidence")).to_be_visible()
        assert page.url.endswith(f"/items/{ids[1]}?mine=open")
    finally:
        context.close()
