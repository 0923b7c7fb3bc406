"""The dashboard's numbers, on the demo data, against an independent computation here: every
audit item read row by row and added up in Python (the pages read tallies and SQL
aggregates)."""

import statistics
from collections import Counter, defaultdict

import sqlalchemy as sa

from tests.dashboard.conftest import html_tables, table_with_header
from tracker import clock
from tracker.audits.models import Audit, AuditItem
from tracker.auth.models import Team
from tracker.dashboard.views import duration
from tracker.extensions import db
from tracker.library.models import Domain
from tracker.signals.models import Signal

WEIGHT = {"critical": 3, "high": 2, "normal": 1}
PENDING = {"not_started", "in_progress", "blocked"}


def pct(value):
    return "—" if value is None else f"{value * 100:.0f}%"


def independent():
    """Scores, overdue and critical-not-met counts from the items themselves. A draft audit
    is not scored: its cells say "draft" (`drafts` holds its keys)."""
    today = clock.today()
    met, applicable = defaultdict(int), defaultdict(int)
    drafts = set()
    overdue, critical = Counter(), Counter()
    rows = db.session.execute(
        sa.select(Audit.team_id, Audit.period, Audit.state, AuditItem.domain_id,
                  AuditItem.status, AuditItem.criticality, AuditItem.due_date)
        .join(Audit, Audit.id == AuditItem.audit_id)).all()
    assert len(rows) > 500  # the demo is big enough to mean something
    for team, period, state, domain, status, crit, due in rows:
        w = WEIGHT[crit.value]
        if state.value == "draft":
            drafts.update({(team, period, domain), (team, period)})
        scored = (() if state.value == "draft"
                  else ((team, period, domain), (team, period), (period,)))
        for key in scored:
            if status.value != "not_applicable":
                applicable[key] += w
            if status.value == "met":
                met[key] += w
        if status.value in PENDING and due and due < today and state.value in (
                "draft", "in_progress"):
            overdue[(team, period)] += 1
        if crit.value == "critical" and status.value == "not_met":
            critical[(team, period)] += 1

    def score(key):
        return met[key] / applicable[key] if applicable.get(key) else None

    def cell(key):
        return "draft" if key in drafts else pct(score(key))
    return score, overdue, critical, cell


def test_overview_numbers_equal_an_independent_computation(demo):
    score, overdue, critical, cell = independent()
    teams = db.session.execute(sa.select(Team).order_by(Team.name)).scalars().all()
    domains = db.session.execute(
        sa.select(Domain).where(Domain.active).order_by(Domain.position)).scalars().all()
    periods = sorted(db.session.execute(sa.select(Audit.period).distinct()).scalars())
    assert len(periods) == 4
    audit_ids = {(a.team_id, a.period): a.id
                 for a in db.session.execute(sa.select(Audit)).scalars()}
    states = Counter((a.period, a.state.value)
                     for a in db.session.execute(sa.select(Audit)).scalars())
    checked_overdue = checked_critical = 0

    for period in periods:
        html = demo.get(f"/dashboard?period={period}&view=table").get_data(as_text=True)
        heat = table_with_header(html, "", contains="Overall")
        assert [c[0] for c in heat[0][1:]] == [d.code for d in domains] + ["Overall"]
        for team, row in zip(teams, heat[1:], strict=True):
            assert row[0][0] == team.name
            for domain, (text, link) in zip(domains, row[1:], strict=False):
                assert text == cell((team.id, period, domain.id)), (team.name, domain.code)
                if (team.id, period) in audit_ids and text != "—":
                    assert link == (f"/audits/{audit_ids[(team.id, period)]}"
                                    f"?domain={domain.code}")
            assert row[-1][0] == cell((team.id, period))

        by_team = table_with_header(html, "Team")
        for team, row in zip(teams, by_team[1:], strict=True):
            assert row[0][0] == team.name
            audit_id = audit_ids[(team.id, period)]
            assert row[4] == (str(overdue[(team.id, period)]),
                              f"/audits/{audit_id}?overdue=1")
            assert row[5][0] == str(critical[(team.id, period)])
            assert row[5][1] in (f"/audits/{audit_id}?status=not_met&criticality=critical",
                                 f"/audits/{audit_id}?criticality=critical&status=not_met")
            checked_overdue += overdue[(team.id, period)]
            checked_critical += critical[(team.id, period)]
        assert (f'<span class="value">{pct(score((period,)))}</span><span class="label">'
                "readiness score of the organisation") in html
        total_overdue = sum(overdue[(t.id, period)] for t in teams)
        assert f'<span class="value">{total_overdue}</span><span class="label">overdue' in html
        for state in ("draft", "in_progress", "in_review", "signed_off"):
            label = {"draft": "Draft", "in_progress": "In progress", "in_review": "In review",
                     "signed_off": "Signed off"}[state]
            assert f"{label}</span> {states[(period, state)]}<" in html

        trend = table_with_header(html, "", contains=period)
        window = [c[0] for c in trend[0][1:]]
        assert window == [p for p in periods if p <= period]
        for team in teams:
            row = next(r for r in trend[1:] if r[0][0] == team.name)
            assert [c[0] for c in row[1:]] == [pct(score((team.id, p))) for p in window]
    assert checked_overdue + checked_critical > 0, "the demo should have something to flag"


def test_signal_numbers_equal_an_independent_computation(demo):
    signals = db.session.execute(sa.select(Signal)).scalars().all()
    waits = [(s.acknowledged_at - s.created_at).total_seconds()
             for s in signals if s.acknowledged_at]
    assert len(waits) >= 4
    html = demo.get("/dashboard").get_data(as_text=True)
    expected = duration(statistics.median(waits))
    assert f'<p class="median-ack"><span class="value">{expected}</span>' in html
    assert f"over {len(waits)} acknowledged signals" in html

    by_domain = Counter((s.domain.name, s.state.value) for s in signals)
    table = table_with_header(html, "Domain", contains="Acknowledged")
    shown = {row[0][0]: (int(row[1][0]), int(row[2][0])) for row in table[1:]}
    assert shown == {name: (by_domain[(name, "open")], by_domain[(name, "acknowledged")])
                     for name, state in by_domain if state != "resolved"}


def test_team_page_numbers_equal_an_independent_computation(demo):
    score, overdue, critical, _ = independent()
    team = db.session.execute(
        sa.select(Team).where(Team.name == "Fulfillment Operations")).scalar_one()
    audits = db.session.execute(
        sa.select(Audit).where(Audit.team_id == team.id).order_by(Audit.period)).scalars().all()
    current, previous = audits[-1], audits[-2]
    html = demo.get(f"/teams/{team.id}?view=table").get_data(as_text=True)
    assert f'<span class="score">{pct(score((team.id, current.period)))}</span>' in html

    items = db.session.execute(
        sa.select(AuditItem.code, AuditItem.status, AuditItem.audit_id)
        .where(AuditItem.audit_id.in_([current.id, previous.id]))).all()
    now = {c: s.value for c, s, a in items if a == current.id}
    before = {c: s.value for c, s, a in items if a == previous.id}
    status_table = table_with_header(html, "Status", contains="Items")
    counts = Counter(now.values())
    labels = {"Met": "met", "Not met": "not_met", "Blocked": "blocked",
              "In progress": "in_progress", "Not started": "not_started", "N/A": "not_applicable"}
    for label, status in labels.items():
        row = next(r for r in status_table[1:] if r[0][0] == label)
        assert int(row[1][0]) == counts[status]

    unmet = PENDING | {"not_met"}
    expected = {
        "regressed": {c for c in now if before.get(c) == "met"
                      and now[c] in ("not_met", "blocked")},
        "improved": {c for c in now if c in before and before[c] != "met" and now[c] == "met"},
        "stale": {c for c in now if before.get(c) in unmet and now[c] in unmet},
        "new": {c for c in now if c not in before},
    }
    for key, codes in expected.items():
        section = html.split(f'id="diff-{key}"')[1].split("</details>")[0]
        shown = {row[0][0] for table in html_tables(section) for row in table[1:]}
        assert shown == codes, key
        assert f'<span class="value">{len(codes)}</span>' in html.split(f'href="#diff-{key}"')[1]
    assert expected["improved"], "the demo's story is one of improvement"
