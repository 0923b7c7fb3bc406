"""The operator's pages on a phone (390×844) and on a desktop, on the demo data: nothing
overflows sideways, the top bar's menu opens, item lists read as cards and the item page puts
the status form near the top; the admin, signals and library pages' tables read as cards too.
Screenshots of both widths go to test-output/."""

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS, sign_in
from tests.dashboard.conftest import demo_data  # noqa: F401
from tracker.audits.models import Audit, AuditItem, AuditState
from tracker.auth.models import User
from tracker.demo import DEMO_PASSWORD
from tracker.extensions import db
from tracker.library.models import Domain, ReadinessItem
from tracker.signals.models import Signal

pytestmark = pytest.mark.usefixtures("demo_data")

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def operator_item():
    """An item of the operator's in an audit being worked: (audit id, item id)."""
    operator = db.session.execute(
        sa.select(User.id).where(User.email == "operator@example.com")).scalar_one()
    row = db.session.execute(
        sa.select(AuditItem.audit_id, AuditItem.id).join(Audit)
        .where(AuditItem.owner_id == operator, Audit.state == AuditState.IN_PROGRESS.value)
        .order_by(AuditItem.id).limit(1)).one()
    db.session.rollback()  # hold no transaction open while the server reads
    return row


def pages(audit_id, item_id):
    return [("home", "/"), ("my-items", "/my-items"), ("audit", f"/audits/{audit_id}"),
            ("item", f"/audits/{audit_id}/items/{item_id}")]


def reference_pages():
    """The admin, signals and library pages with a table, as (name, URL)."""
    def first(column):
        return db.session.execute(sa.select(column).order_by(column).limit(1)).scalar_one()

    team = db.session.execute(sa.select(Audit.team_id).limit(1)).scalar_one()
    pages = [("users", "/admin/users"), ("teams", "/admin/teams"),
             ("team-members", f"/admin/teams/{team}"), ("tokens", "/account"),
             ("outbox", "/notifications/outbox?status=sent"),
             ("notification-settings", "/notifications/settings"), ("signals", "/signals/"),
             ("signal", f"/signals/{first(Signal.id)}"), ("library", "/library/"),
             ("library-domain", f"/library/{first(Domain.code)}"),
             ("library-item", f"/library/items/{first(ReadinessItem.code)}"),
             ("review-queue", "/review"), ("audits", "/audits/")]
    db.session.rollback()
    return pages


def shoot(page, name):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"phone-layout-{name}.png"), full_page=True)


def overflow(page):
    return page.evaluate("document.documentElement.scrollWidth")


@pytest.fixture
def phone(browser, live_server):
    context = browser.new_context(base_url=live_server, viewport=PHONE, is_mobile=True,
                                  has_touch=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def test_operator_pages_fit_a_phone(phone):
    audit_id, item_id = operator_item()
    sign_in(phone, "operator@example.com", DEMO_PASSWORD)
    for name, url in pages(audit_id, item_id):
        phone.goto(url)
        shoot(phone, f"390-{name}")
        assert overflow(phone) <= PHONE["width"], f"{name} overflows sideways at 390 px"

    # The top bar folds its sections into a menu; the search box and the bell stay in sight.
    phone.goto("/my-items")
    menu = phone.get_by_role("button", name="Menu")
    expect(menu).to_be_visible()
    expect(phone.locator(".topbar input[name=q]")).to_be_visible()
    expect(phone.locator(".topbar .bell")).to_be_visible()
    audits_link = phone.get_by_role("navigation", name="Sections").get_by_role(
        "link", name="Audits", exact=True)
    expect(audits_link).to_be_hidden()
    menu.focus()
    phone.keyboard.press("Enter")  # opens by keyboard too
    expect(audits_link).to_be_visible()
    shoot(phone, "390-menu-open")
    assert overflow(phone) <= PHONE["width"]
    audits_link.click()
    expect(phone.get_by_role("heading", name="Audits", exact=True)).to_be_visible()

    # My items are cards: every cell says what it is, and no box scrolls inside the page.
    phone.goto("/my-items")
    first = phone.locator("table.table tbody tr").first
    assert first.evaluate("tr => getComputedStyle(tr).display") == "block"
    assert [cell.evaluate("td => getComputedStyle(td, '::before').content")
            for cell in first.locator("td[data-label]").all()] == ['"Audit"', '"Status"', '"Due"']
    for box in phone.locator(".table-wrap").all():
        assert box.evaluate("el => el.scrollHeight <= el.clientHeight + 1"), \
            "a table hides rows in an inner scroll box"

    # An audit's items, a domain opened: cards too, and still nothing sideways.
    phone.goto(f"/audits/{audit_id}")
    phone.locator("details.group > summary").first.click()
    expect(phone.locator("details.group table.stack tbody tr").first).to_be_visible()
    shoot(phone, "390-audit-domain-open")
    assert overflow(phone) <= PHONE["width"]

    # The item page: the status form comes first, not after the guidance and evidence.
    phone.goto(f"/audits/{audit_id}/items/{item_id}")
    status = phone.locator("#status-form")
    expect(status).to_be_visible()
    top = status.evaluate("el => el.getBoundingClientRect().top + window.scrollY")
    assert top < 900, f"the status form starts at {top:.0f} px"


def test_desktop_layout_keeps_its_columns(page):
    page.set_viewport_size(DESKTOP)
    audit_id, item_id = operator_item()
    sign_in(page, "operator@example.com", DEMO_PASSWORD)
    for name, url in pages(audit_id, item_id):
        page.goto(url)
        shoot(page, f"1280-{name}")
        assert overflow(page) <= DESKTOP["width"]
    # Sections sit in the bar itself: no menu button on a wide screen.
    expect(page.get_by_role("navigation", name="Sections").get_by_role(
        "link", name="Audits", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Menu")).to_be_hidden()
    # Tables stay tables, the item page keeps its two columns.
    assert page.locator("#status-form").evaluate(
        "el => el.getBoundingClientRect().left") > DESKTOP["width"] / 3


def test_admin_signals_and_library_tables_are_cards_on_a_phone(phone):
    sign_in(phone, "admin@example.com", DEMO_PASSWORD)
    phone.goto("/account")  # a token, so the account page has its table of tokens
    phone.locator("form.token-form").get_by_label("Name").fill("monitoring job")
    phone.get_by_role("button", name="Create token").click()
    expect(phone.get_by_text("shown only this once")).to_be_visible()
    tables = 0
    for name, url in reference_pages():
        phone.goto(url)
        shoot(phone, f"390-{name}")
        assert overflow(phone) <= PHONE["width"], f"{name} overflows sideways at 390 px"
        for table in phone.locator("table.table").all():
            assert table.evaluate("t => t.classList.contains('stack')"), \
                f"{name}: a table that is not cards on a phone"
            row = table.locator("tbody tr").first
            assert row.evaluate("tr => getComputedStyle(tr).display") in ("block", "flex")
            labels = [cell.evaluate("td => getComputedStyle(td, '::before').content")
                      for cell in row.locator("td[data-label]").all()]
            assert labels and all(label not in ("none", '""') for label in labels), \
                f"{name}: a card's cells do not say what they are"
            tables += 1
    assert tables >= 10
