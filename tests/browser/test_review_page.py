"""The auditor's review list in a browser, at desktop and phone width (issue 19)."""

import pytest

from tests import factories
from tests.audits.conftest import new_audit
from tests.browser.conftest import sign_in
from tracker.extensions import db

pytestmark = pytest.mark.browser


def test_the_review_list_at_desktop_and_phone_width(page, screenshot, library, people):
    audit = new_audit(people, ("DV", "PAY"), "in_review")
    db.session.commit()
    sign_in(page, people["auditor"].email, factories.PASSWORD)
    page.goto(f"/audits/{audit.id}/review")
    assert page.locator("#items h3").count() == 2
    screenshot("desktop")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/audits/{audit.id}/review?verdict=not_reviewed")
    screenshot("phone")
    page.locator("#items td a").first.click()
    assert page.get_by_role("link", name="Next item →").is_visible()
    screenshot("item-phone")
