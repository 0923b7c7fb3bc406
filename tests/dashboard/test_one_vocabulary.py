"""Every place that shows an audit's numbers shows the same ones, on the demo data: the audit
page, the team page, the overview, the API, the CSV and JSON exports and the report (its
render context and its canonical JSON) agree on the score, the counts by status and by
domain, and regressed / improved / stale / new — with each other and with the README's
definitions, computed here item by item from the rows themselves."""

import csv
import io
import json
import re
from collections import Counter, defaultdict

import sqlalchemy as sa

from tests.dashboard.conftest import html_tables, table_with_header
from tracker.audits.models import Audit, AuditItem, AuditState
from tracker.auth import service as accounts
from tracker.auth.models import Team, User
from tracker.extensions import db
from tracker.library.models import Domain
from tracker.reports import canonical, render

# README, Definitions — written out here rather than imported, so that a drift of the one
# vocabulary module is caught as well as a page computing its own.
WEIGHT = {"critical": 3, "high": 2, "normal": 1}
OPEN = {"not_started", "in_progress", "blocked"}
UNMET = OPEN | {"not_met"}
STATUSES = ["not_started", "in_progress", "blocked", "met", "not_met", "not_applicable"]


def pct(met, applicable) -> str:
    return f"{met / applicable * 100:.0f}%" if applicable else "—"  # as the pages round


class Expected:
    """One audit's numbers, from its items."""

    def __init__(self, audit, items):
        self.audit = audit
        self.counts = Counter({s: 0 for s in STATUSES})
        self.by_domain = defaultdict(lambda: {"counts": Counter({s: 0 for s in STATUSES}),
                                              "met": 0, "applicable": 0})
        self.met = self.applicable = 0
        self.status = {}
        for code, domain, status, criticality in items:
            self.status[code] = status
            line = self.by_domain[domain]
            self.counts[status] += 1
            line["counts"][status] += 1
            if status != "not_applicable":
                self.applicable += WEIGHT[criticality]
                line["applicable"] += WEIGHT[criticality]
            if status == "met":
                self.met += WEIGHT[criticality]
                line["met"] += WEIGHT[criticality]
        self.diff = None

    @property
    def score_text(self) -> str:
        return pct(self.met, self.applicable)

    @property
    def percent(self):
        return round(100 * self.met / self.applicable, 1) if self.applicable else None

    def compare_with(self, previous: "Expected | None") -> None:
        """regressed met → not met or blocked; improved anything → met; stale unmet now and
        before; new not in the previous audit's scope."""
        if previous is None:
            return
        self.diff = {"regressed": [], "improved": [], "stale": [], "new": []}
        for code in sorted(self.status):
            now, before = self.status[code], previous.status.get(code)
            if before is None:
                self.diff["new"].append(code)
            elif before == "met" and now in ("not_met", "blocked"):
                self.diff["regressed"].append(code)
            elif before != "met" and now == "met":
                self.diff["improved"].append(code)
            elif before in UNMET and now in UNMET:
                self.diff["stale"].append(code)


def expected_numbers() -> dict[int, Expected]:
    audits = db.session.execute(sa.select(Audit).order_by(Audit.team_id, Audit.period)
                                ).scalars().all()
    rows = defaultdict(list)
    for audit_id, code, domain, status, criticality in db.session.execute(
            sa.select(AuditItem.audit_id, AuditItem.code, Domain.code, AuditItem.status,
                      AuditItem.criticality).join(Domain, Domain.id == AuditItem.domain_id)):
        rows[audit_id].append((code, domain, status.value, criticality.value))
    expected, previous_of_team = {}, {}
    for audit in audits:  # by team, oldest first: the previous audit is the one before
        numbers = expected[audit.id] = Expected(audit, rows[audit.id])
        numbers.compare_with(previous_of_team.get(audit.team_id))
        previous_of_team[audit.team_id] = numbers
    return expected


# --- what each place shows ---------------------------------------------------------------

def _text(fragment: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", fragment).split())


def audit_page(client, audit: Audit) -> dict:
    html = client.get(f"/audits/{audit.id}").get_data(as_text=True)
    score = re.search(r'<span class="score">([^<]*)</span>', html).group(1)
    weights = re.search(r'class="formula">[^<]*→ (\d+) ÷ (\d+)<', html)
    table = table_with_header(html, "Domain", contains="Total")
    statuses = STATUSES  # the table's columns follow the status order
    domains = {}
    for row in table[1:]:
        cells = [c[0] for c in row]
        domains[cells[0].split()[0]] = {"counts": dict(zip(statuses, map(int, cells[1:7]),
                                                           strict=True)),
                                        "total": int(cells[7]), "score": cells[8]}
    groups = {code: _text(body.split("</summary>")[0])
              for code, body in re.findall(r'<details class="group" id="domain-([A-Z]+)"'
                                           r'(.*?)</details>', html, re.S)}
    return {"score": score, "weights": tuple(map(int, weights.groups())) if weights else None,
            "domains": domains, "groups": groups}


def team_page(client, audit: Audit) -> dict:
    html = client.get(f"/teams/{audit.team_id}?period={audit.period}&view=table"
                      ).get_data(as_text=True)
    result = {"diff": None}
    if audit.state != AuditState.DRAFT:
        result["score"] = re.search(r'<span class="score">([^<]*)</span>', html).group(1)
        result["weights"] = tuple(map(int, re.search(
            r'<p class="formula">[^<]*: (\d+) ÷ (\d+)</p>', html).groups()))
    table = table_with_header(html, "Domain", contains="Open")
    result["domains"] = {
        row[0][0].split(" · ")[0]: {"score": row[1][0], "met": int(row[2][0]),
                                    "not_met": int(row[3][0]), "blocked": int(row[4][0]),
                                    "open": int(row[5][0]), "not_applicable": int(row[6][0])}
        for row in table[1:]}
    if 'id="diff-regressed"' in html:
        result["diff"] = {}
        for key in ("regressed", "improved", "stale", "new"):
            section = html.split(f'id="diff-{key}"')[1].split("</details>")[0]
            result["diff"][key] = [row[0][0] for t in html_tables(section) for row in t[1:]]
        result["chips"] = {k: int(n) for k, n in re.findall(
            r'class="diff-chip diff-(\w+)" href="#diff-\w+"><span class="value">(\d+)</span>',
            html)}
    return result


def overview_rows(client, period: str) -> dict[str, list[str]]:
    html = client.get(f"/dashboard?period={period}&view=table").get_data(as_text=True)
    table = table_with_header(html, "Team", contains="Critical not met")
    return {row[0][0]: [c[0] for c in row] for row in table[1:]}


def report_numbers(audit: Audit) -> dict:
    context = render.report_context(audit, None, results_sha256=None, draft=True)
    totals = context["totals"]
    changes = context["changes"]
    return {
        "counts": {s: totals["counts"].get(s, 0) for s in STATUSES},
        "weights": (totals["weight_met"], totals["weight_applicable"]),
        "score": context["score_text"], "open": totals["open"],
        "item_count": totals["item_count"],
        "domains": {s.domain.code: {"counts": {k: s.counts.get(k, 0) for k in STATUSES},
                                    "items": len(s.items),
                                    "score": "—" if s.score is None else f"{s.score * 100:.0f}%"}
                    for s in context["sections"]},
        "diff": None if changes.previous is None else {
            key: [r.code for r in changes.rows[key]] for key in ("regressed", "improved",
                                                                  "stale", "new")},
    }


def score_of(items) -> tuple[int, int]:
    met = sum(WEIGHT[i["criticality"]] for i in items if i["status"] == "met")
    applicable = sum(WEIGHT[i["criticality"]] for i in items if i["status"] != "not_applicable")
    return met, applicable


# --- the test ---------------------------------------------------------------------------

def test_every_place_shows_the_same_numbers_for_every_audit(demo):
    expected = expected_numbers()
    assert len(expected) >= 12
    admin = db.session.execute(sa.select(User).where(User.email == "admin@example.com")
                               ).scalar_one()
    _, token = accounts.create_token(admin, "vocabulary test")
    db.session.commit()
    teams = {t.id: t.name for t in db.session.execute(sa.select(Team)).scalars()}
    overview = {}
    diffs_seen = Counter()

    for audit_id, want in expected.items():
        audit = db.session.get(Audit, audit_id)
        where = f"audit {audit_id} ({teams[audit.team_id]} {audit.period}, {audit.state.value})"
        domains = {code: line for code, line in want.by_domain.items()}

        # The audit page: summary, the "Items by domain" table and each group's header.
        page = audit_page(demo, audit)
        assert page["score"] == want.score_text, where
        if want.applicable:
            assert page["weights"] == (want.met, want.applicable), where
        assert set(page["domains"]) >= set(domains), where
        for code, line in page["domains"].items():
            mine = domains.get(code, {"counts": Counter(), "met": 0, "applicable": 0})
            assert line["counts"] == {s: mine["counts"][s] for s in STATUSES}, (where, code)
            assert line["score"] == pct(mine["met"], mine["applicable"]), (where, code)
            if code in page["groups"]:  # the group header shows the same score
                header = page["groups"][code]
                assert f'{mine["counts"]["met"]} met of {line["total"]}' in header, (where, code)
                assert (line["score"] in header if mine["applicable"]
                        else "not scored" in header), (where, code, header)

        # The team page: score, its domains, and the diff.
        team = team_page(demo, audit)
        if audit.state != AuditState.DRAFT:
            assert team["score"] == want.score_text, where
            assert team["weights"] == (want.met, want.applicable), where
        for code, line in team["domains"].items():
            mine = domains.get(code, {"counts": Counter(), "met": 0, "applicable": 0})
            c = mine["counts"]
            assert line == {
                "score": ("draft" if audit.state == AuditState.DRAFT
                          else pct(mine["met"], mine["applicable"])
                          if mine["applicable"] else "not scored"),
                "met": c["met"], "not_met": c["not_met"], "blocked": c["blocked"],
                "open": sum(c[s] for s in OPEN), "not_applicable": c["not_applicable"],
            }, (where, code)
        assert team["diff"] == want.diff, where
        if want.diff is not None:
            assert team["chips"] == {k: len(v) for k, v in want.diff.items()}, where
            diffs_seen.update({k: len(v) for k, v in want.diff.items()})

        # The overview's line for the team in that quarter.
        if audit.period not in overview:
            overview[audit.period] = overview_rows(demo, audit.period)
        row = overview[audit.period][teams[audit.team_id]]
        assert row[2] == ("draft: not scored yet" if audit.state == AuditState.DRAFT
                          else want.score_text if want.applicable else "not scored"), where
        assert row[3] == f"{want.counts['met']} / {sum(want.counts.values())}", where

        # The API.
        answer = demo.get(f"/api/v1/audits/{audit_id}",
                          headers={"Authorization": f"Bearer {token}"}).get_json()
        assert answer["score"] == {"weighted_met": want.met,
                                   "weighted_applicable": want.applicable,
                                   "percent": want.percent}, where
        assert answer["progress"]["by_status"] == dict(want.counts), where
        assert answer["progress"]["total"] == sum(want.counts.values()), where
        assert score_of(answer["items"]) == (want.met, want.applicable), where

        # The exports: JSON (the canonical results) and CSV.
        exported = json.loads(demo.get(f"/audits/{audit_id}/export.json").get_data())
        assert exported == canonical.audit_results(audit), where
        assert exported["score"] == answer["score"], where
        assert Counter(i["status"] for i in exported["items"]) == +want.counts, where
        rows = list(csv.DictReader(io.StringIO(
            demo.get(f"/audits/{audit_id}/export.csv").get_data(as_text=True))))
        assert Counter(r["status"] for r in rows) == +want.counts, where
        assert score_of(rows) == (want.met, want.applicable), where

        # The report (what the PDF prints).
        report = report_numbers(audit)
        assert report["counts"] == dict(want.counts), where
        assert report["weights"] == (want.met, want.applicable), where
        assert report["score"] == want.score_text, where
        assert report["open"] == sum(want.counts[s] for s in OPEN), where
        for code, line in report["domains"].items():
            mine = domains.get(code, {"counts": Counter(), "met": 0, "applicable": 0})
            assert line["counts"] == {s: mine["counts"][s] for s in STATUSES}, (where, code)
            assert line["score"] == pct(mine["met"], mine["applicable"]), (where, code)
        assert report["diff"] == want.diff, where

    # The demo's story has every kind of change, so each definition was exercised.
    assert all(diffs_seen[k] for k in ("regressed", "improved", "stale")), diffs_seen
