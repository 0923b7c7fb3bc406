"""The role × route matrix: every route of `app.url_map` has one line saying what each role
gets, and the test fails for a route without one — so a new route cannot ship unreviewed.

A request carries no form data or query string; the URL's parameters point at team Alpha's
data (tests/routes.py), so `outsider` — lead of team Beta — shows what another team gets.
Statuses: LOGIN = redirected to the sign-in page; 302 = redirected elsewhere (done, or sent
back to the page with a message); 200/422 = the page or the form again; 403/404 = refused.

To add a route: one line "METHOD endpoint": (anonymous, admin, lead, operator, auditor,
outsider). Another team's audit, item or evidence must be 404 (or 403) for `outsider`.
"""

import pytest

from tests.routes import ROLES, activity_count, api_body, api_headers, is_api, routes, sign_in

LOGIN = "login"
ADMIN_ONLY_GET = (LOGIN, 200, 403, 403, 403, 403)

MATRIX = {
    #                                   anonymous admin lead operator auditor outsider
    "GET auth.login":                    (200,   302,  302,  302,  302,  302),
    "POST auth.login":                   (200,   302,  302,  302,  302,  302),
    "POST auth.logout":                  (LOGIN, LOGIN, LOGIN, LOGIN, LOGIN, LOGIN),
    # single sign-on is not configured here (tests/auth/test_oidc.py runs it): 404
    "GET auth.oidc_login":               (404,   404,  404,  404,  404,  404),
    "GET auth.oidc_callback":            (404,   404,  404,  404,  404,  404),
    "GET auth.account":                  (LOGIN, 200,  200,  200,  200,  200),
    "GET search.page":                   (LOGIN, 200,  200,  200,  200,  200),
    "GET search.suggest":                (LOGIN, 200,  200,  200,  200,  200),
    "POST auth.account":                 (LOGIN, 200,  200,  200,  200,  200),
    "GET auth.users":                    ADMIN_ONLY_GET,
    "GET auth.user_new":                 ADMIN_ONLY_GET,
    "POST auth.user_new":                (LOGIN, 200,  403,  403,  403,  403),
    "GET auth.user_detail":              ADMIN_ONLY_GET,
    "POST auth.user_roles":              (LOGIN, 302,  403,  403,  403,  403),
    "POST auth.user_password":           (LOGIN, 422,  403,  403,  403,  403),
    "POST auth.user_active":             (LOGIN, 302,  403,  403,  403,  403),
    "GET auth.teams":                    ADMIN_ONLY_GET,
    "POST auth.teams":                   (LOGIN, 200,  403,  403,  403,  403),
    "GET auth.team_detail":              ADMIN_ONLY_GET,
    "POST auth.team_detail":             (LOGIN, 200,  403,  403,  403,  403),
    "POST auth.team_member_remove":      (LOGIN, 302,  403,  403,  403,  403),
    "GET home.index":                    (LOGIN, 200,  200,  200,  200,  200),
    "GET library.index":                 (LOGIN, 200,  200,  200,  200,  200),
    "GET library.domain":                (LOGIN, 200,  200,  200,  200,  200),
    "GET library.item":                  (LOGIN, 200,  200,  200,  200,  200),
    "GET library.failure":               (LOGIN, 200,  200,  200,  200,  200),
    "GET library.content":               (LOGIN, 200,  200,  200,  200,  200),
    "GET library.manage":                ADMIN_ONLY_GET,
    "POST library.manage":               (LOGIN, 422,  403,  403,  403,  403),
    "GET home.healthz":                  (200,   200,  200,  200,  200,  200),
    "GET home.readyz":                   (200,   200,  200,  200,  200,  200),
    "POST auth.token_create":            (LOGIN, 422,  422,  422,  422,  422),
    # the URL names the operator's token: nobody else may revoke it
    "POST auth.token_revoke":            (LOGIN, 404,  404,  302,  404,  404),
    # audits — site.audit is team Alpha's draft; the outsider (Beta) gets 404 on all of it
    "GET audits.index":                  (LOGIN, 200,  200,  200,  200,  200),
    "GET audits.my_items":               (LOGIN, 200,  200,  200,  200,  200),
    "GET audits.review_queue":           (LOGIN, 403,  403,  403,  200,  403),
    "GET audits.new":                    (LOGIN, 403,  200,  403,  403,  200),
    "POST audits.new":                   (LOGIN, 403,  422,  403,  403,  422),
    "GET audits.detail":                 (LOGIN, 200,  200,  200,  200,  404),
    "POST audits.open_for_work":         (LOGIN, 403,  302,  403,  403,  404),
    "POST audits.bulk":                  (LOGIN, 403,  422,  403,  403,  404),
    "GET audits.submit":                 (LOGIN, 403,  200,  403,  403,  404),
    # the draft's items are all open: the lead is refused until each is assessed
    "POST audits.submit":                (LOGIN, 403,  409,  403,  403,  404),
    "POST audits.mark_rest_not_met":     (LOGIN, 403,  422,  403,  403,  404),
    "POST audits.accept_unreviewed":     (LOGIN, 409,  409,  409,  409,  404),
    # review pages: only an audit in review (409 says so); auditors from outside the team
    "GET audits.review":                 (LOGIN, 409,  409,  409,  409,  404),
    "POST audits.return_audit":          (LOGIN, 409,  409,  409,  409,  404),
    "GET audits.sign_off":               (LOGIN, 409,  409,  409,  409,  404),
    "POST audits.sign_off":              (LOGIN, 409,  409,  409,  409,  404),
    "GET audits.item":                   (LOGIN, 200,  200,  200,  200,  404),
    "POST audits.update_item":           (LOGIN, 403,  422,  422,  403,  404),
    "POST audits.add_evidence":          (LOGIN, 403,  400,  400,  403,  404),
    "GET audits.download_evidence":      (LOGIN, 200,  200,  200,  200,  404),
    # the operator added it; the lead asks first (ROLE_ORDER) and removes it: gone for the
    # operator (tests/audits/test_evidence_removal.py has each role on evidence still there)
    "POST audits.remove_evidence":       (LOGIN, 403,  302,  404,  403,  404),
    "POST audits.replace_evidence":      (LOGIN, 403,  422,  422,  403,  404),
    "POST audits.comment":               (LOGIN, 403,  422,  422,  422,  404),
    "POST audits.verdict":               (LOGIN, 409,  409,  409,  409,  404),
    "GET dashboard.overview":            (LOGIN, 200,  200,  200,  200,  200),
    # leads, auditors and admins see every team's dashboard; operators their own teams'
    "GET dashboard.team":                (LOGIN, 200,  200,  200,  200,  200),
    "GET signals.index":                 (LOGIN, 200,  200,  200,  200,  200),
    "GET signals.new":                   (LOGIN, 200,  200,  200,  200,  200),
    "POST signals.new":                  (LOGIN, 422,  422,  422,  422,  422),
    "GET signals.detail":                (LOGIN, 200,  200,  200,  200,  200),
    "POST signals.acknowledge":          (LOGIN, 422,  422,  403,  422,  422),
    "POST signals.resolve":              (LOGIN, 422,  422,  403,  422,  422),
    # a draft has no signed report; drafts for everyone who sees the audit
    "GET reports.download":              (LOGIN, 404,  404,  404,  404,  404),
    "GET reports.draft":                 (LOGIN, 200,  200,  200,  200,  404),
    # nothing to retry before a sign-off (tests/reports/test_report_jobs.py: who may after)
    "POST reports.retry":                (LOGIN, 404,  404,  404,  404,  404),
    "GET reports.verify":                (200,   200,  200,  200,  200,  200),
    "POST reports.verify":               (422,   422,  422,  422,  422,  422),
    # Public; 404 until a first report makes the key (tests/reports/test_public.py).
    "GET reports.signing_cert_pem":      (404,   404,  404,  404,  404,  404),
    "GET reports.signing_cert_json":     (404,   404,  404,  404,  404,  404),
    "GET exchange.audit_csv":            (LOGIN, 200,  200,  200,  200,  404),
    "GET exchange.audit_json":           (LOGIN, 200,  200,  200,  200,  404),
    "GET exchange.audit_xlsx":           (LOGIN, 200,  200,  200,  200,  404),
    "GET exchange.audit_oscal":          (LOGIN, 404,  404,  404,  404,  404),  # not signed off
    "GET exchange.library_export":       ADMIN_ONLY_GET,
    # notifications: one's own inbox (notification 1 is the lead's: the site's signal); no e-mail 1
    "GET notifications.inbox":           (LOGIN, 200,  200,  200,  200,  200),
    "GET notifications.open_one":        (LOGIN, 404,  302,  404,  404,  404),
    "POST notifications.mark_read":      (LOGIN, 302,  302,  302,  302,  302),
    "GET notifications.settings":        (LOGIN, 200,  200,  200,  200,  200),
    "POST notifications.settings":       (LOGIN, 302,  302,  302,  302,  302),
    # a signed link, no session: this one's signature is wrong
    "GET notifications.unsubscribe":     (404,   404,  404,  404,  404,  404),
    "POST notifications.unsubscribe":    (404,   404,  404,  404,  404,  404),
    "GET notifications.outbox":          ADMIN_ONLY_GET,
    "POST notifications.retry":          (LOGIN, 404,  403,  403,  403,  403),
    # webhooks: admins only; the site has no endpoint or webhook delivery 1
    "GET notifications.webhooks":        ADMIN_ONLY_GET,
    "POST notifications.webhooks":       (LOGIN, 200,  403,  403,  403,  403),
    "POST notifications.webhook_active": (LOGIN, 404,  403,  403,  403,  403),
    "POST notifications.webhook_delete": (LOGIN, 404,  403,  403,  403,  403),
    "POST notifications.webhook_test":   (LOGIN, 404,  403,  403,  403,  403),
    "GET notifications.webhook_outbox":  ADMIN_ONLY_GET,
    "POST notifications.webhook_retry":  (LOGIN, 404,  403,  403,  403,  403),
    # corrective actions — site.action is on Alpha's item; the outsider (Beta) gets 404, the
    # auditor (in no team) reads but cannot create or change
    "GET actions.mine":                  (LOGIN, 200,  200,  200,  200,  200),
    "GET actions.new":                   (LOGIN, 200,  200,  200,  403,  200),
    "POST actions.new":                  (LOGIN, 422,  422,  422,  403,  422),
    "GET actions.detail":                (LOGIN, 200,  200,  200,  200,  404),
    "POST actions.update":               (LOGIN, 422,  422,  422,  403,  404),
    "POST actions.close":                (LOGIN, 422,  422,  422,  403,  404),
    # API: the role's bearer token, no cookie; a valid body (tests/routes.py api_body)
    "GET api.openapi":                   (200,   200,  200,  200,  200,  200),
    "GET api.whoami":                    (401,   200,  200,  200,  200,  200),
    "GET api.list_teams":                (401,   200,  200,  200,  200,  200),
    "GET api.list_domains":              (401,   200,  200,  200,  200,  200),
    "GET api.list_audits":               (401,   200,  200,  200,  200,  200),
    "POST api.create_audit":             (401,   403,  201,  403,  403,  404),
    "GET api.get_audit":                 (401,   200,  200,  200,  200,  404),
    "POST api.start_next_quarter":       (401,   403,  201,  403,  403,  404),
    "PATCH api.update_item":             (401,   403,  200,  200,  403,  404),
    "POST api.add_evidence":             (401,   403,  201,  201,  403,  404),
    "GET api.download_evidence":         (401,   200,  200,  200,  200,  404),
    "DELETE api.remove_evidence":        (401,   403,  204,  404,  403,  404),
    "GET api.list_comments":             (401,   200,  200,  200,  200,  404),
    "POST api.add_comment":              (401,   403,  201,  201,  201,  404),
    "POST api.bulk_update":              (401,   403,  200,  403,  403,  404),
    "POST api.review_item":              (401,   403,  403,  403,  409,  404),
    "POST api.submit_audit":             (401,   403,  409,  403,  403,  404),
    "POST api.mark_rest_not_met":        (401,   403,  200,  403,  403,  404),
    "POST api.accept_items":             (401,   403,  403,  403,  409,  404),
    "POST api.return_audit":             (401,   403,  403,  403,  409,  404),
    "POST api.sign_off":                 (401,   403,  403,  403,  409,  404),
    "GET api.results_json":              (401,   200,  200,  200,  200,  404),
    "GET api.results_csv":               (401,   200,  200,  200,  200,  404),
    "GET api.results_oscal":             (401,   404,  404,  404,  404,  404),
    "GET api.report_pdf":                (401,   404,  404,  404,  404,  404),
    "GET api.list_signals":              (401,   200,  200,  200,  200,  200),
    "POST api.create_signal":            (401,   201,  201,  201,  201,  201),
    # the lead asks first (ROLE_ORDER): the others are then told it is already done
    "POST api.acknowledge_signal":       (401,   422,  200,  403,  422,  422),
    "POST api.resolve_signal":           (401,   422,  200,  403,  422,  422),
    "GET api.list_actions":              (401,   200,  200,  200,  200,  200),
    "POST api.create_action":            (401,   201,  201,  201,  403,  404),
    "PATCH api.update_action":           (401,   200,  200,  200,  403,  404),
    # no q sent: 400 saying what to send (tests/api/test_search.py searches)
    "GET api.search":                    (401,   400,  400,  400,  400,  400),
}

REFUSED = {LOGIN, 401, 403, 404, 405}
# A POST a mail client makes from a signed link, with no session (RFC 8058 one-click
# unsubscribe): the signature is its protection, not a CSRF token.
SIGNED_LINKS = {"notifications.unsubscribe"}
# Admin last: an admin's empty POST may change the data the other roles' requests use.
ROLE_ORDER = ("anonymous", "lead", "operator", "auditor", "outsider", "admin")


def _entries(app):
    return sorted(f"{method} {r.endpoint}" for r in routes(app) for method in r.methods)


def test_every_route_has_a_line_in_the_matrix(app):
    missing = [key for key in _entries(app) if key not in MATRIX]
    assert not missing, (
        "Routes without a line in the role × route matrix of tests/test_permissions.py — add "
        "one per route, with the status each role gets:\n  " + "\n  ".join(missing))
    stale = sorted(set(MATRIX) - set(_entries(app)))
    assert not stale, f"Matrix lines for routes that no longer exist: {stale}"
    assert all(len(v) == len(ROLES) for v in MATRIX.values())


def _route_and_method(app, key):
    method, endpoint = key.split(" ")
    route = next(r for r in routes(app) if r.endpoint == endpoint and method in r.methods)
    return route, method


def request_as(client, site, route, method, url, role):
    """Pages: signed in with a session cookie, an empty form. API: signed out, the role's
    bearer token, a valid JSON body (tests/routes.py api_body)."""
    if is_api(route):
        sign_in(client, site, "anonymous")
        body = api_body(site, route) if method != "GET" else None
        return client.open(url, method=method, headers=api_headers(site, role), json=body)
    sign_in(client, site, role)
    return client.open(url, method=method, data={} if method != "GET" else None)


@pytest.mark.parametrize("key", sorted(MATRIX))
def test_role_gets_the_expected_status(app, client, site, key):
    route, method = _route_and_method(app, key)
    expected = dict(zip(ROLES, MATRIX[key], strict=True))
    with app.test_request_context():
        url = site.url_for(route)
    wrong = []
    for role in ROLE_ORDER:
        before = activity_count()
        response = request_as(client, site, route, method, url, role)
        got = response.status_code
        location = response.headers.get("Location", "")
        if got == 302 and location.startswith("/login"):
            got = LOGIN
        if got != expected[role]:
            wrong.append(f"{role}: expected {expected[role]}, got {got} {location}")
        body = response.get_data().decode("utf-8", "replace")  # PDFs are bytes
        assert "Traceback" not in body
        if got in REFUSED or method == "GET":
            assert activity_count() == before, f"{key} as {role} ({got}) changed something"
        if got in (401, 403, 404) and is_api(route):
            assert response.is_json and response.get_json()["error"]["message"], body[:500]
        elif got in (403, 404):
            # the app's refusal pages: the generic ones, or the audits' "Nothing was changed."
            assert ("ask your team lead" in body or "may not have access" in body
                    or ('class="refusal"' in body and "Nothing was changed." in body)), body[:500]
    assert not wrong, f"{method} {url}:\n  " + "\n  ".join(wrong)


def test_every_form_post_needs_a_csrf_token(app, client, site):
    """With CSRF on, a POST without the token is refused (400) and changes nothing, for
    every route that accepts a write — as the admin, who may do the most."""
    sign_in(client, site, "admin")
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        for route in routes(app):
            if is_api(route):
                continue  # bearer tokens only (csrf.exempt): see test_the_api_ignores_cookies
            if route.endpoint in SIGNED_LINKS:
                continue
            for method in route.write_methods:
                with app.test_request_context():
                    url = site.url_for(route)
                before = activity_count()
                response = client.open(url, method=method, data={"name": "x"})
                assert response.status_code == 400, (method, url, response.status_code)
                assert "form expired" in response.get_data(as_text=True)
                assert activity_count() == before, (method, url)
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


def test_another_teams_audit_is_not_in_the_outsiders_home(client, site):
    sign_in(client, site, "outsider")
    page = client.get("/").get_data(as_text=True)
    assert "Beta" in page and "Alpha" not in page


def test_the_api_ignores_session_cookies(app, client, site):
    """A signed-in browser session is no credential for the API: every write answers 401 and
    changes nothing — so a forged cross-site request has nothing to ride on (the API is
    exempt from CSRF tokens)."""
    for role in ("admin", "lead", "operator", "auditor"):
        sign_in(client, site, role)
        app.config["WTF_CSRF_ENABLED"] = True
        try:
            for route in (r for r in routes(app) if is_api(r)):
                with app.test_request_context():
                    url = site.url_for(route)
                for method in route.write_methods:
                    before = activity_count()
                    response = client.open(url, method=method, json=api_body(site, route))
                    assert response.status_code == 401, (role, method, url)
                    assert "Bearer" in response.get_json()["error"]["message"]
                    assert activity_count() == before, (role, method, url)
            assert client.get("/api/v1/me").status_code == 401
        finally:
            app.config["WTF_CSRF_ENABLED"] = False
