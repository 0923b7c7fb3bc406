"""Page query counts do not grow with the data: the same pages on a data set and on one ten
times larger (teams, audits, items, signals) issue exactly the same number of statements."""

import random
from datetime import timedelta

import sqlalchemy as sa

from tests.dashboard.conftest import build_teams, domains, randomise_statuses
from tests.factories import PASSWORD
from tracker import clock
from tracker.audits import service as audits
from tracker.audits.models import Audit, AuditItem, AuditState
from tracker.auth.models import User
from tracker.db import utcnow
from tracker.extensions import db
from tracker.library.models import FailurePattern
from tracker.signals import service as signals
from tracker.signals.models import Signal


def state_for(period: str) -> AuditState:
    return AuditState.IN_PROGRESS if period >= "2026-Q2" else AuditState.SIGNED_OFF


def add_signals(n: int, rng: random.Random, reporter: User, triager: User) -> None:
    """n signals, a third each open, acknowledged and resolved; every one points at DV-F1
    (so the pages measured show signals in both data sets) and at random other failures."""
    # Ordered, so rng.sample picks the same failures on every run (and database).
    failures = db.session.execute(
        sa.select(FailurePattern).order_by(FailurePattern.code)).scalars().all()
    address = next(f for f in failures if f.code == "DV-F1")
    for k in range(n):
        signal = signals.report_signal(
            reporter, summary=f"Signal {k} {rng.random():.6f}", source="support_ticket",
            severity=rng.choice(["low", "medium", "high", "critical"]),
            observed_at=utcnow() - timedelta(hours=1),
            failures=[address, *rng.sample(failures, rng.randint(0, 2))])
        if k % 3 == 1:
            signals.acknowledge(triager, signal, "On it.")
        elif k % 3 == 2:
            signals.resolve(triager, signal, "Fixed.")
    db.session.commit()


def assign_to(user: User, team_id: int) -> None:
    db.session.execute(
        sa.update(AuditItem).where(AuditItem.audit_id.in_(
            sa.select(Audit.id).where(Audit.team_id == team_id))).values(owner_id=user.id))
    db.session.commit()


def count_pages(client, count_queries, urls: dict[str, str], email: str) -> dict[str, int]:
    client.post("/logout")
    assert client.post("/login", data={"email": email, "password": PASSWORD}).status_code == 302
    counts = {}
    for name, url in urls.items():
        with count_queries() as counter:
            response = client.get(url)
        assert response.status_code == 200, (name, response.status_code)
        counts[name] = counter.count
    return counts


def test_page_query_counts_are_the_same_at_ten_times_the_data(
        app, library, client, count_queries, audit_pages):
    rng = random.Random(2026)
    scope = domains("DV", "INV", "SUP", "PEAK")
    today = clock.today()
    dues = [today - timedelta(days=9), today + timedelta(days=4), today + timedelta(days=60)]
    periods = ["2026-Q1", "2026-Q2"]

    small = build_teams("Small", 2, periods, scope, rng, due_dates=dues, states=state_for)
    team = small[0]
    lead = db.session.execute(
        sa.select(User).where(User.email == "small-lead-0@test.example")).scalar_one()
    operator = db.session.execute(
        sa.select(User).where(User.email == "small-op-0@test.example")).scalar_one()
    assign_to(operator, team.id)
    add_signals(3, rng, operator, lead)
    signal_id = db.session.execute(sa.select(sa.func.min(Signal.id))).scalar_one()

    org_pages = {
        "overview": "/dashboard",
        "overview as tables": "/dashboard?view=table&period=2026-Q1",
        "team": f"/teams/{team.id}",
        "signals": "/signals/",
        "flagged signals": "/signals/?flagged=1&state=all",
        "signal": f"/signals/{signal_id}",
        "domain hub": "/library/DV",
        "library item": "/library/items/DV-01",
        "failure": "/library/failures/DV-F1",
    }
    own_pages = {"overview": "/dashboard", "team": f"/teams/{team.id}",
                 "domain hub": "/library/DV", "signal": f"/signals/{signal_id}"}

    def measure():
        return (count_pages(client, count_queries, org_pages, "small-lead-0@test.example"),
                count_pages(client, count_queries, own_pages, "small-op-0@test.example"))
    before = measure()
    audits_before = db.session.execute(sa.select(sa.func.count(Audit.id))).scalar_one()
    items_before = db.session.execute(sa.select(sa.func.count(AuditItem.id))).scalar_one()

    # Ten times the teams, audits, items and signals; the measured team gets eight more
    # quarters of history, and the operator ten times the assigned items.
    build_teams("Large", 18, periods, scope, rng, due_dates=dues, states=state_for)
    previous = db.session.execute(sa.select(Audit).where(
        Audit.team_id == team.id, Audit.period == "2026-Q2")).scalar_one()
    for _ in range(7):  # 2026-Q3 … 2028-Q1
        previous = audits.start_next_quarter(lead, previous)
        randomise_statuses(previous, rng, dues)
    db.session.commit()
    assign_to(operator, team.id)
    add_signals(27, rng, operator, lead)

    assert db.session.execute(sa.select(sa.func.count(Audit.id))).scalar_one() >= 10 * audits_before
    assert db.session.execute(
        sa.select(sa.func.count(AuditItem.id))).scalar_one() >= 10 * items_before
    after = measure()
    assert after == before
    assert max(before[0].values()) <= 25, before  # and a small number to begin with
