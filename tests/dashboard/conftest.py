"""Dashboard fixtures: organisations of any size built through the audit services, item
statuses forced in bulk (then tallied by the same recount the services use), and a small
HTML table reader for asserting what the pages show."""

import random
from html.parser import HTMLParser

import pytest
import sqlalchemy as sa

from tests import factories
from tests.seeded import seed
from tracker.audits import service as audits
from tracker.audits.models import Audit, AuditItem, AuditState, ItemStatus
from tracker.demo import DEMO_PASSWORD, seed_demo_data
from tracker.extensions import db
from tracker.library.models import Domain

STATUSES = [s.value for s in ItemStatus]


@pytest.fixture
def audit_pages(app):
    """Stand-ins for the audit pages (built in the audits feature) so links into them can be
    asserted; skipped once the real endpoints are registered."""
    if "audits.detail" not in app.view_functions:
        app.add_url_rule("/audits/<int:audit_id>", "audits.detail", lambda audit_id: "")
    if "audits.item" not in app.view_functions:
        app.add_url_rule("/audits/<int:audit_id>/items/<int:item_id>", "audits.item",
                         lambda audit_id, item_id: "")
    if "audits.my_items" not in app.view_functions:
        app.add_url_rule("/my-items", "audits.my_items", lambda: "")


@seed(needs=["library"])
def demo_data():
    """The demo data (teams, four quarters of audits, signals), as `flask seed demo` makes it."""
    seed_demo_data(progress=lambda *_: None)


@pytest.fixture
def demo(demo_data, audit_pages, client):
    """The demo data, and a client signed in as the demo admin."""
    client.post("/login", data={"email": "admin@example.com", "password": DEMO_PASSWORD})
    return client


def domains(*codes) -> list[Domain]:
    return list(db.session.execute(
        sa.select(Domain).where(Domain.code.in_(codes)).order_by(Domain.position)).scalars())


def force_statuses(audit: Audit, statuses: dict[str, str]) -> None:
    """Set item statuses directly (test data only; the rules are the services' tests) and
    rebuild the audit's tallies with the services' own recount."""
    for code, status in statuses.items():
        result = db.session.execute(
            sa.update(AuditItem).where(AuditItem.audit_id == audit.id, AuditItem.code == code)
            .values(status=status, justification="Out of scope for this test."
                    if status == "not_applicable" else None))
        assert result.rowcount == 1, f"{code} is not in audit {audit.id}"
    audits.recount_tallies(audit)
    _opened(audit)
    db.session.flush()


def _opened(audit: Audit) -> None:
    """Worked items open a draft, as the services do (a draft is not scored)."""
    if audit.state == AuditState.DRAFT:
        audit.state = AuditState.IN_PROGRESS


def randomise_statuses(audit: Audit, rng: random.Random, due_dates=()) -> None:
    """Every item a random status (and due date), in one statement per status."""
    # Ordered, so the seeded rng gives the same statuses to the same items on every run.
    ids = list(db.session.execute(
        sa.select(AuditItem.id).where(AuditItem.audit_id == audit.id).order_by(AuditItem.id)
    ).scalars())
    buckets: dict[tuple, list[int]] = {}
    for item_id in ids:
        key = (rng.choice(STATUSES), rng.choice(list(due_dates) or [None]))
        buckets.setdefault(key, []).append(item_id)
    for (status, due), item_ids in buckets.items():
        db.session.execute(
            sa.update(AuditItem).where(AuditItem.id.in_(item_ids))
            .values(status=status, due_date=due,
                    justification="n/a" if status == "not_applicable" else None))
    audits.recount_tallies(audit)
    _opened(audit)


def build_teams(prefix: str, count: int, periods: list[str], scope: list[Domain],
                rng: random.Random, *, due_dates=(), states=None) -> list:
    """`count` teams, each with a lead and an operator and one audit per period."""
    teams = []
    for n in range(count):
        lead = factories.make_user(f"{prefix}-lead-{n}@test.example", f"{prefix} Lead {n}")
        op = factories.make_user(f"{prefix}-op-{n}@test.example", f"{prefix} Operator {n}")
        team = factories.make_team(f"{prefix} team {n:02d}", lead, [op])
        previous = None
        for period in periods:
            audit = (audits.start_next_quarter(lead, previous) if previous
                     else audits.start_audit(lead, team, period, scope))
            randomise_statuses(audit, rng, due_dates)
            if states:
                audit.state = states(period)
            previous = audit
        teams.append(team)
    db.session.commit()
    return teams


class _Tables(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tables, self._cell, self._row = [], None, None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self._row = []
            self.tables[-1].append(self._row)
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "a" and self._cell is not None:
            self._cell.append(("href", dict(attrs).get("href")))

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            text = " ".join("".join(p for p in self._cell if isinstance(p, str)).split())
            links = [p[1] for p in self._cell if isinstance(p, tuple)]
            self._row.append((text, links[0] if links else None))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def html_tables(html: str) -> list[list[list[tuple[str, str | None]]]]:
    """Every <table> as rows of (cell text, first link in the cell)."""
    parser = _Tables()
    parser.feed(html)
    return parser.tables


def table_with_header(html: str, first_header: str, contains: str | None = None):
    """The first table whose header row starts with `first_header` (and holds `contains`)."""
    for table in html_tables(html):
        if table and table[0] and table[0][0][0] == first_header and (
                contains is None or any(contains == c[0] for c in table[0])):
            return table
    raise AssertionError(f"no table starting with {first_header!r}")
