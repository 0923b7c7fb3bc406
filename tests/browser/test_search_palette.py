"""The top bar's search box in Chromium: "/" and Ctrl-K focus it, the palette's suggestions
are chosen with the keyboard, and without JavaScript the box still submits to /search."""

import re

from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS, sign_in
from tests.factories import PASSWORD
from tracker.extensions import db


def _box(page):
    return page.get_by_role("search").first.locator("input[name=q]")


def _choose(page, box, text: str, presses: int = 12):
    """ArrowDown until the active option says `text` (the listbox's own order decides)."""
    for _ in range(presses):
        box.press("ArrowDown")
        active = box.get_attribute("aria-activedescendant")
        if active and text in page.locator(f"#{active}").inner_text():
            return
    raise AssertionError(f"no option says {text!r}")


def test_slash_then_the_item_code_then_enter_opens_the_item(page, site, screenshot):
    db.session.commit()
    sign_in(page, site.people["operator"].email, PASSWORD)
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    box = _box(page)
    expect(box).to_have_attribute("role", "combobox")  # palette.js (deferred) has run
    page.keyboard.press("/")
    expect(box).to_be_focused()
    assert box.input_value() == ""  # the key focused the box; it typed nothing
    box.press_sequentially(site.item.code)
    listbox = page.get_by_role("listbox", name="Suggestions")
    expect(box).to_have_attribute("aria-expanded", "true")
    option = listbox.get_by_role("option").filter(has_text="Alpha · 2026-Q2").first
    expect(option).to_be_visible()
    _choose(page, box, "Alpha · 2026-Q2")
    expect(page.locator("[role=option][aria-selected=true]")).to_have_count(1)
    screenshot("palette-desktop")
    box.press("Enter")
    expect(page).to_have_url(re.compile(f"/audits/{site.audit.id}/items/{site.item.id}$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(site.item.code)

    # Typing in a field keeps its "/"; outside one, Ctrl-K focuses the box.
    comment = page.locator("textarea[name=body]")
    comment.click()
    comment.press_sequentially("a/b")
    expect(comment).to_have_value("a/b")
    expect(box).not_to_be_focused()
    page.locator("h1").click()
    page.keyboard.press("Control+k")
    expect(box).to_be_focused()

    # Pages come from this page's top bar: the operator has no Admin link, so no Admin entry.
    box.press_sequentially("li")
    expect(listbox.get_by_role("option", name="Library", exact=True)).to_be_visible()
    box.fill("")
    box.press_sequentially("adm")
    expect(listbox.get_by_role("option", name="Admin")).to_have_count(0)
    box.fill("")
    box.press_sequentially("notif")
    expect(listbox.get_by_role("option", name="Inbox", exact=True)).to_be_visible()
    box.fill("")
    box.press_sequentially("sig")
    expect(listbox.get_by_role("option", name="Signals", exact=True)).to_be_visible()
    box.press("Escape")
    expect(box).to_have_attribute("aria-expanded", "false")
    expect(listbox).to_be_hidden()
    box.press("ArrowUp")  # opens it again, on the last option
    expect(box).to_have_attribute("aria-expanded", "true")
    expect(page.locator("[role=option][aria-selected=true]")).to_have_count(1)


def test_the_palette_fits_a_phone(browser, live_server, site):
    db.session.commit()
    context = browser.new_context(base_url=live_server, viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        sign_in(page, site.people["lead"].email, PASSWORD)
        # on a phone Sign out sits behind the top bar's Menu button
        expect(page.get_by_role("button", name="Menu")).to_be_visible()
        box = _box(page)
        expect(box).to_have_attribute("role", "combobox")  # palette.js (deferred) has run
        page.keyboard.press("Control+k")
        box.press_sequentially("d")
        listbox = page.get_by_role("listbox", name="Suggestions")
        expect(listbox.get_by_role("option").filter(has_text="Audit items").first).to_be_visible()
        panel = listbox.bounding_box()
        assert panel["x"] >= 0 and panel["x"] + panel["width"] <= 390
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "test_the_palette_fits_a_phone-palette-390.png"))
    finally:
        context.close()


def test_without_javascript_the_box_submits_to_the_search_page(browser, live_server, site):
    db.session.commit()
    context = browser.new_context(base_url=live_server, java_script_enabled=False)
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        sign_in(page, site.people["operator"].email, PASSWORD)
        box = _box(page)
        box.fill(site.item.code)
        box.press("Enter")
        expect(page).to_have_url(re.compile(rf"/search\?q={site.item.code}$"))
        expect(page.get_by_role("link", name=re.compile(site.item.code)).first).to_be_visible()
    finally:
        context.close()
