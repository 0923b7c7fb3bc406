"""Issue 19: one definition of each number. On the demo data, for every audit after a team's
first (the signed-off ones and this quarter's), the places that show a domain's score (the
audit page's "Items by domain" table and its group headers, the API, the report) and the
quarter-over-quarter counts (the team page, and the report's text the PDF prints) show the
same values.

The places are compared with each other and with the README's definitions written out here
(not imported), so a page, the report or the vocabulary module itself drifting is caught.
Before the fix the group header showed the share of items met (91 % beside the table's
89 %) and the report counted met → anything else as regressed (65 against the team page's
17)."""

import re
from collections import Counter, defaultdict

import sqlalchemy as sa
from flask import render_template

from tests.dashboard.conftest import (  # noqa: F401 (the demo fixtures)
    audit_pages,
    demo,
    demo_data,
    table_with_header,
)
from tracker.audits.models import Audit, AuditItem, AuditState
from tracker.auth import service as accounts
from tracker.auth.models import User
from tracker.extensions import db
from tracker.library.models import Domain
from tracker.reports import render

# README, Definitions.
WEIGHT = {"critical": 3, "high": 2, "normal": 1}
UNMET = {"not_started", "in_progress", "blocked", "not_met"}
DIFF = ("regressed", "improved", "stale", "new")


def pct(met: int, applicable: int) -> str:
    """The score as the pages round it: Σ weight met ÷ Σ weight not N/A."""
    return f"{met / applicable * 100:.0f}%" if applicable else "—"


def domain_scores(items) -> dict[str, str]:
    """{domain: score} from (domain, status, criticality) rows."""
    met, applicable = defaultdict(int), defaultdict(int)
    for domain, status, criticality in items:
        applicable[domain] += 0
        if status != "not_applicable":
            applicable[domain] += WEIGHT[criticality]
        if status == "met":
            met[domain] += WEIGHT[criticality]
    return {d: pct(met[d], applicable[d]) for d in applicable}


def diff_counts(before: dict[str, str], now: dict[str, str]) -> dict[str, int]:
    """regressed met → not met or blocked; improved anything → met; stale unmet both times;
    new not in the previous audit."""
    counts = dict.fromkeys(DIFF, 0)
    for code, status in now.items():
        old = before.get(code)
        if old is None:
            counts["new"] += 1
        elif old == "met" and status in ("not_met", "blocked"):
            counts["regressed"] += 1
        elif old != "met" and status == "met":
            counts["improved"] += 1
        elif old in UNMET and status in UNMET:
            counts["stale"] += 1
    return counts


def items_of(audit_id: int):
    return db.session.execute(
        sa.select(AuditItem.code, Domain.code, AuditItem.status, AuditItem.criticality)
        .join(Domain, Domain.id == AuditItem.domain_id)
        .where(AuditItem.audit_id == audit_id)).all()


# --- what each place shows ---------------------------------------------------------------

def _group_scores(html: str) -> dict[str, str]:
    """{domain: the score in its group header}."""
    scores = {}
    for code, summary in re.findall(r'<details class="group" id="domain-([A-Z]+)".*?'
                                    r'<summary>(.*?)</summary>', html, re.S):
        label = re.search(r'class="progress-label"[^>]*>(\d+%)<', summary)
        scores[code] = label.group(1) if label else "—"
    return scores


def audit_page(client, audit: Audit) -> tuple[dict[str, str], dict[str, str]]:
    """The "Items by domain" table's scores and the group headers' scores."""
    html = client.get(f"/audits/{audit.id}").get_data(as_text=True)
    table = table_with_header(html, "Domain", contains="Total")
    table_scores = {row[0][0].split()[0]: row[-1][0] for row in table[1:]}
    headers = _group_scores(html)
    for code in set(table_scores) - set(headers):  # groups past the first page of rows
        headers.update(_group_scores(client.get(f"/audits/{audit.id}?domain={code}")
                                     .get_data(as_text=True)))
    return table_scores, headers


def team_page_diff(client, audit: Audit) -> dict[str, int]:
    html = client.get(f"/teams/{audit.team_id}?period={audit.period}").get_data(as_text=True)
    return {k: int(n) for k, n in re.findall(
        r'class="diff-chip diff-(\w+)" href="#diff-\w+"><span class="value">(\d+)</span>', html)}


def report(audit: Audit) -> tuple[dict[str, str], dict[str, int]]:
    """The report's domain scores (its context) and the changes its text states (the HTML
    the PDF is printed from)."""
    context = render.report_context(audit, None, results_sha256=None, draft=True)
    scores = {s.domain.code: "—" if s.score is None else f"{s.score * 100:.0f}%"
              for s in context["sections"]}
    text = " ".join(re.sub(r"<[^>]+>", " ",
                           render_template("reports/report.html", **context, checkpoint=None)
                           ).split())
    sentence = re.search(r"Compared with \S+ by item code: ([^.]*)\.", text).group(1)
    stated = {k: int(n) for n, k in re.findall(r"(\d+) (regressed|improved|stale|new)",
                                               sentence)}
    return scores, stated


# --- the test ---------------------------------------------------------------------------

def test_audits_show_one_score_and_one_diff_everywhere(demo):  # noqa: F811
    admin = db.session.execute(sa.select(User).where(User.email == "admin@example.com")
                               ).scalar_one()
    _, token = accounts.create_token(admin, "one definition test")
    db.session.commit()
    audits = db.session.execute(sa.select(Audit).order_by(Audit.team_id, Audit.period)
                                ).scalars().all()
    checked, regressed_seen = Counter(), 0
    for audit in audits:
        previous = next((a for a in reversed(audits) if a.team_id == audit.team_id
                         and a.period < audit.period), None)
        # Every audit after a team's first: a signed-off one has every item decided, so only
        # an audit still being worked tells "met → not met or blocked" from "met → not met
        # or not yet re-assessed" (what the report used to count).
        if previous is None:
            continue
        where = f"audit {audit.id} ({audit.period})"
        rows = items_of(audit.id)
        want = domain_scores((d, s.value, c.value) for _, d, s, c in rows)

        table, headers = audit_page(demo, audit)
        api = demo.get(f"/api/v1/audits/{audit.id}",
                       headers={"Authorization": f"Bearer {token}"}).get_json()
        api_scores = domain_scores((i["domain"], i["status"], i["criticality"])
                                   for i in api["items"])
        report_scores, report_diff = report(audit)
        for code, score in want.items():
            shown = {"table": table.get(code), "group header": headers.get(code),
                     "API": api_scores.get(code), "report": report_scores.get(code)}
            assert shown == dict.fromkeys(shown, score), (where, code)

        expected = diff_counts({code: s.value for code, _, s, _ in items_of(previous.id)},
                               {code: s.value for code, _, s, _ in rows})
        assert team_page_diff(demo, audit) == expected, where
        assert report_diff == expected, where
        checked[audit.state] += 1
        regressed_seen += expected["regressed"]
    # The demo signs off several audits after their first quarter, with regressions, and
    # works on this quarter's.
    assert checked[AuditState.SIGNED_OFF] >= 6 and checked[AuditState.IN_PROGRESS]
    assert regressed_seen > 0
