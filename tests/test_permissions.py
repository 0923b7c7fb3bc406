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

from tests.routes import ROLES, activity_count, routes, sign_in

LOGIN = "login"
ADMIN_ONLY_GET = (LOGIN, 200, 403, 403, 403, 403)

MATRIX = {
    #                                   anonymous admin lead operator auditor outsider
    "GET auth.login":                    (200,   302,  302,  302,  302,  302),
    "POST auth.login":                   (200,   302,  302,  302,  302,  302),
    "POST auth.logout":                  (LOGIN, LOGIN, LOGIN, LOGIN, LOGIN, LOGIN),
    "GET auth.account":                  (LOGIN, 200,  200,  200,  200,  200),
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
}

REFUSED = {LOGIN, 401, 403, 404, 405}
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


@pytest.mark.parametrize("key", sorted(MATRIX))
def test_role_gets_the_expected_status(app, client, site, key):
    route, method = _route_and_method(app, key)
    expected = dict(zip(ROLES, MATRIX[key], strict=True))
    with app.test_request_context():
        url = site.url_for(route)
    wrong = []
    for role in ROLE_ORDER:
        sign_in(client, site, role)
        before = activity_count()
        response = client.open(url, method=method, data={} if method != "GET" else None)
        got = response.status_code
        location = response.headers.get("Location", "")
        if got == 302 and location.startswith("/login"):
            got = LOGIN
        if got != expected[role]:
            wrong.append(f"{role}: expected {expected[role]}, got {got} {location}")
        body = response.get_data(as_text=True)
        assert "Traceback" not in body
        if got in REFUSED or method == "GET":
            assert activity_count() == before, f"{key} as {role} ({got}) changed something"
        if got in (403, 404):
            assert "ask your team lead" in body or "may not have access" in body, body[:500]
    assert not wrong, f"{method} {url}:\n  " + "\n  ".join(wrong)


def test_every_form_post_needs_a_csrf_token(app, client, site):
    """With CSRF on, a POST without the token is refused (400) and changes nothing, for
    every route that accepts a write — as the admin, who may do the most."""
    sign_in(client, site, "admin")
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        for route in routes(app):
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
