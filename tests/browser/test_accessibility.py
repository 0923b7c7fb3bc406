"""axe-core on every page of the journey, each role's, on the demo data, at desktop width and
on a phone (390×844): no violation of impact serious or critical.

axe-core comes from npm, as locked in tests/browser/axe/package-lock.json (`.ci/run` installs
it; by hand: `cd tests/browser/axe && npm ci`)."""

import os
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.browser.conftest import sign_in
from tests.dashboard.conftest import demo_data  # noqa: F401
from tests.seeded import seed
from tracker.actions.service import create_action
from tracker.audits.models import Audit, AuditItem, AuditState
from tracker.auth.models import User
from tracker.demo import DEMO_PASSWORD
from tracker.extensions import db
from tracker.library.models import Domain, FailurePattern, ReadinessItem
from tracker.signals.models import Signal

AXE = Path(__file__).parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
BLOCKING = {"serious", "critical"}


@seed(needs=["library", "demo_data"])
def accessibility_journey():
    """The demo data with an open corrective action on one of the operator's items, so the
    actions pages have something to show; the ids of a page of each kind."""
    def one(query):
        return db.session.execute(query.limit(1)).scalar_one()

    users = {u.email.split("@")[0]: u for u in db.session.execute(sa.select(User)).scalars()}
    item = one(sa.select(AuditItem).join(Audit).where(
        Audit.state == AuditState.IN_PROGRESS.value, AuditItem.owner_id == users["operator"].id)
        .order_by(AuditItem.id))
    in_progress = item.audit
    action = create_action(users["lead"], title=f"{item.code}: close the gap", audit_item=item,
                           owner=users["operator"])
    in_review = one(sa.select(Audit).where(Audit.state == AuditState.IN_REVIEW.value))
    return {
        "audit": in_progress.id, "item": item.id, "team": in_progress.team_id,
        "action": action.id, "review": in_review.id, "user": users["operator"].id,
        "domain": one(sa.select(Domain.code).order_by(Domain.position)),
        "library_item": one(sa.select(ReadinessItem.code).order_by(ReadinessItem.code)),
        "failure": one(sa.select(FailurePattern.code).order_by(FailurePattern.code)),
        "signal": one(sa.select(Signal.id).order_by(Signal.id)),
    }


def journey_pages(ids: dict) -> dict[str, list[tuple[str, str]]]:
    """Who signs in → the pages they visit (name, URL)."""
    audit, review = f"/audits/{ids['audit']}", f"/audits/{ids['review']}"
    return {
        "": [("login", "/login")],
        "operator": [
            ("home", "/"), ("my-items", "/my-items"), ("audit", audit),
            ("item", f"{audit}/items/{ids['item']}"), ("actions-mine", "/actions/mine"),
            ("action", f"/actions/{ids['action']}"), ("inbox", "/notifications/"),
            ("notification-settings", "/notifications/settings"), ("account", "/account"),
            ("search", "/search?q=carrier"),
        ],
        "lead": [
            ("dashboard", "/dashboard"), ("team", f"/teams/{ids['team']}"),
            ("audits", "/audits/"), ("audit-new", "/audits/new"),
            ("submit", f"{audit}/submit"), ("action-new", f"/actions/new?team_id={ids['team']}"),
        ],
        "auditor": [
            ("review-queue", "/review"), ("review", f"{review}/review"),
            ("review-not-reviewed", f"{review}/review?verdict=not_reviewed"),
            ("sign-off", f"{review}/sign-off"), ("audit-in-review", review),
        ],
        "admin": [
            ("library", "/library/"), ("library-domain", f"/library/{ids['domain']}"),
            ("library-item", f"/library/items/{ids['library_item']}"),
            ("library-failure", f"/library/failures/{ids['failure']}"),
            ("library-manage", "/library/manage"),
            ("signals", "/signals/"), ("signal", f"/signals/{ids['signal']}"),
            ("signal-new", "/signals/new"),
            ("users", "/admin/users"), ("user", f"/admin/users/{ids['user']}"),
            ("user-new", "/admin/users/new"), ("teams", "/admin/teams"),
            ("team-admin", f"/admin/teams/{ids['team']}"), ("outbox", "/notifications/outbox"),
            ("verify", "/reports/verify"),
        ],
    }


@pytest.fixture(scope="session")
def axe_script():
    if not AXE.exists():
        hint = f"axe-core is not installed ({AXE}): run `cd {AXE.parents[2]} && npm ci`."
        if os.environ.get("CI"):
            pytest.fail(f"{hint} .ci/run must install it.")
        pytest.skip(hint)
    return str(AXE)


def violations(page, axe_script) -> list[str]:
    """The page's serious and critical violations, one line per element: rule, target, help."""
    page.add_script_tag(path=axe_script)
    found = page.evaluate("async () => (await axe.run(document)).violations")
    return [f"{v['id']} ({v['impact']}) at {' '.join(map(str, node['target']))}: {v['help']}"
            f" — {node.get('failureSummary', '').splitlines()[-1].strip()}"
            for v in found if v["impact"] in BLOCKING for node in v["nodes"]]


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_no_serious_violation_on_any_page(browser, live_server, accessibility_journey, axe_script,
                                          viewport):
    # bypass_csp: the pages' policy rightly refuses an injected script, axe's included.
    context = browser.new_context(base_url=live_server, viewport=VIEWPORTS[viewport],
                                  is_mobile=viewport == "phone", has_touch=viewport == "phone",
                                  bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    found, visited = [], 0
    try:
        for who, pages in journey_pages(accessibility_journey).items():
            context.clear_cookies()
            if who:
                sign_in(page, f"{who}@example.com", DEMO_PASSWORD)
                page.wait_for_url(lambda url: "/login" not in url)
            for name, url in pages:
                response = page.goto(url)
                assert response.status == 200, f"{name} ({url}) answered {response.status}"
                found += [f"{name} ({url}): {line}" for line in violations(page, axe_script)]
                visited += 1
    finally:
        context.close()
    assert visited > 30
    if found:
        pytest.fail(f"{len(found)} serious or critical violations:\n" + "\n".join(found))

