"""Team isolation: team Beta's lead (the `outsider` of tests/routes.py) never reads, changes
or exports team Alpha's audits, items, evidence files, comments, CSV/JSON/OSCAL exports,
draft or signed PDFs — through the pages (session cookie) or the API (bearer token).

Every route with an <audit_id> is walked from `app.url_map`, once for Alpha's open audit
and once for a signed-off one, so new audit routes are covered without touching this file.
Each refusal is checked against a control: the same URL works for Alpha's lead or for an
auditor, so a 404 here means "hidden", not "wrong URL". Then the mixed ids: Beta's own audit
in the URL with Alpha's item or evidence id must not reach Alpha's rows either.
"""

import pytest

from tests import factories
from tests.reports.conftest import STATEMENT, work_audit
from tests.routes import activity_count, api_body, api_headers, is_api, routes, sign_in
from tracker.audits.models import AuditItem
from tracker.extensions import db

SECRET = "Alpha-only: the vault code is 4711"  # in Alpha's comment, note and justification


@pytest.fixture
def alpha(site):
    """Alpha's open audit (site.audit, with secrets in its comment and evidence) and a signed
    one, with its PDF stored."""
    from tracker.audits import service as audits

    audits.add_comment(site.people["operator"], site.item, SECRET)
    audits.add_evidence(site.people["operator"], site.item, note=SECRET)
    signed = work_audit(site.people, ("DV",), "2026-Q3", comment=SECRET, evidence_note=SECRET)
    signoff = factories.sign_off(site.people["auditor"], signed, STATEMENT)
    db.session.commit()
    assert signoff.report_status.value == "ready", signoff.report_error
    signed_item = db.session.query(AuditItem).filter_by(audit_id=signed.id).order_by(
        AuditItem.code).first()
    signed_evidence = next(e for i in signed.items for e in i.evidence if e.filename)
    return {"open": {}, "signed": {"audit_id": signed.id, "item_id": signed_item.id,
                                   "evidence_id": signed_evidence.id}}


def _audit_routes(app):
    return [r for r in routes(app) if "audit_id" in r.arguments]


def _call(client, site, route, method, url, role):
    if is_api(route):
        sign_in(client, site, "anonymous")
        return client.open(url, method=method, headers=api_headers(site, role),
                           json=api_body(site, route) if method != "GET" else None)
    sign_in(client, site, role)
    return client.open(url, method=method, data={} if method != "GET" else None)


def _hidden_from_outsider(client, site, route, method, url, leaks=(SECRET,)) -> list[str]:
    """What went wrong when the outsider tries `method url`: anything but 404, Alpha's data
    in the answer, or a change."""
    before = activity_count()
    response = _call(client, site, route, method, url, "outsider")
    body = response.get_data().decode("utf-8", "replace")
    problems = []
    if response.status_code != 404:
        problems.append(f"{method} {url}: outsider got {response.status_code}")
    if any(leak in body for leak in leaks):
        problems.append(f"{method} {url}: the answer shows Alpha's data")
    if activity_count() != before:
        problems.append(f"{method} {url}: the outsider changed something")
    return problems


@pytest.mark.parametrize("which", ["open", "signed"])
def test_another_teams_audit_is_invisible_and_untouchable(app, client, site, alpha, which):
    problems, reads, hidden = [], 0, 0
    for route in _audit_routes(app):
        with app.test_request_context():
            url = site.url_for(route, **alpha[which])
        for method in sorted(route.methods):
            problems += _hidden_from_outsider(client, site, route, method, url,
                                              (SECRET, "Alpha"))
            hidden += 1
            if method != "GET":
                continue
            # the control: someone who may see it gets it (or a refusal about state only)
            for role in ("lead", "auditor"):
                status = _call(client, site, route, method, url, role).status_code
                if status == 200:
                    reads += 1
                    break
    assert not problems, "\n".join(problems)
    assert hidden >= 25 and reads >= 10, (hidden, reads)


def test_beta_ids_in_the_url_do_not_reach_alphas_rows(app, client, site, alpha):
    """The outsider's own audit id with Alpha's item or evidence id: still 404."""
    beta_item = site.beta_audit.items[0]
    mixes = [
        {"audit_id": site.beta_audit.id, "item_id": site.item.id},
        {"audit_id": site.beta_audit.id, "item_id": beta_item.id,
         "evidence_id": site.file_evidence.id},
        {"audit_id": site.beta_audit.id, "item_id": alpha["signed"]["item_id"],
         "evidence_id": alpha["signed"]["evidence_id"]},
    ]
    problems, tried = [], 0
    for route in _audit_routes(app):
        if "item_id" not in route.arguments:
            continue
        for mix in mixes:
            if ("evidence_id" in route.arguments) != ("evidence_id" in mix):
                continue
            with app.test_request_context():
                url = site.url_for(route, **mix)
            for method in sorted(route.methods):
                problems += _hidden_from_outsider(client, site, route, method, url,
                                                  (SECRET, "drill.pdf"))
                tried += 1
    assert tried >= 10
    assert not problems, "\n".join(problems)


def test_lists_and_exports_leave_alpha_out(client, site, alpha):
    sign_in(client, site, "outsider")
    for url in ("/audits/", "/my-items", "/", "/review"):
        body = client.get(url).get_data(as_text=True)
        assert SECRET not in body and f"/audits/{site.audit.id}\"" not in body, url
    sign_in(client, site, "anonymous")
    headers = api_headers(site, "outsider")
    listed = client.get("/api/v1/audits", headers=headers).get_json()["audits"]
    assert listed and {a["team"] for a in listed} == {"Beta"}, listed
    response = client.get(f"/api/v1/audits?team_id={site.people['alpha'].id}", headers=headers)
    assert response.status_code in (200, 404)
    assert response.status_code == 404 or response.get_json()["audits"] == []
