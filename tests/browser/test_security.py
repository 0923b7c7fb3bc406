"""In Chromium: the Content-Security-Policy blocks nothing the pages need (no violation is
reported on any page of the crawl), and the throttled sign-in page says when to retry."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import sign_in
from tests.factories import PASSWORD
from tests.routes import get_routes


@pytest.fixture
def app_config():
    return {"RATELIMIT_ENABLED": True}


def test_no_page_breaks_the_content_security_policy(app, page, site, screenshot):
    violations = []
    page.on("console", lambda msg: violations.append(f"{page.url}: {msg.text}")
            if "Content Security Policy" in msg.text or "Content-Security-Policy" in msg.text
            else None)
    sign_in(page, "admin@test.example", PASSWORD)
    with app.test_request_context():
        urls = [site.url_for(route) for route in get_routes(app)]
    pages = 0
    for url in urls:
        # downloads (evidence, PDFs, CSV, JSON, the API) are not pages: Chromium would save them
        fetched = page.context.request.get(url, max_redirects=0)
        if not fetched.headers.get("content-type", "").startswith("text/html"):
            continue
        page.goto(url)
        pages += 1
    assert pages >= 30, pages
    page.goto("/admin/users")
    screenshot("admin-users-under-csp")
    assert not violations, "\n".join(violations)
    # The stylesheet did load under the policy: the top bar is styled, not a bare list.
    background = page.evaluate(
        "getComputedStyle(document.querySelector('.topbar')).backgroundColor")
    assert background not in ("rgba(0, 0, 0, 0)", "transparent")


def test_throttled_sign_in_says_when_to_retry(page, people, screenshot):
    from tracker.extensions import db

    db.session.commit()
    for _ in range(6):
        sign_in(page, "lead@test.example", "not the password")
    expect(page.get_by_role("heading", name="Too many attempts")).to_be_visible()
    expect(page.get_by_text("Too many failed sign-in attempts for this account")).to_be_visible()
    expect(page.get_by_text("and try again (after")).to_be_visible()
    screenshot("throttled")
