"""Hostile values in every URL parameter and in the query string of every GET route, as
several roles: each gets a clear 4xx (or the page, ignoring what it does not understand) —
never a 500 and never a traceback. The battery walks `app.url_map`, so routes added later
are covered without touching this file.

Also: hostile form values on the routes that accept writes, as the admin, who reaches the
most forms.
"""

import re
from urllib.parse import quote, urlencode

import pytest

from tests.routes import get_routes, routes, sign_in

HOSTILE = [
    "0", "-1", "1.5", "1e9", str(2**31), str(2**63), str(10**30), "9" * 5000, "abc", "",
    " ", "x" * 10_240, "\x00", "1\x00", "%00", "../../etc/passwd", "..\\..\\x",
    "<script>alert(1)</script>", "' OR 1=1 --", "DV\n", "🙂", "\u202e", "null", "[]",
]
# The query-string pass sends every key at once, so a shorter list keeps it quick.
QUERY_HOSTILE = ["-1", str(2**63), "9" * 5000, "abc", "", "x" * 10_240, "2026-13-45"]
# Query parameters that list, filter and paging pages are likely to read; unknown enum
# values, dates and ids go through each.
QUERY_KEYS = ["status", "state", "team", "team_id", "owner", "owner_id", "domain", "period",
              "page", "per_page", "sort", "order", "q", "format", "since", "until", "date",
              "due", "audit_id", "item_id", "user_id", "criticality", "verdict", "kind", "next"]
ROLES_TO_TRY = ("admin", "operator", "auditor")


def _url_with(rule: str, name: str, value: str, valid_url: str) -> str:
    """The route's valid URL with one parameter replaced by a raw, percent-encoded value."""
    pattern = re.compile(r"<(?:[^:<>]+(?:\([^)]*\))?:)?" + re.escape(name) + r">")
    raw = pattern.sub(quote(value, safe=""), rule)
    # Other parameters keep their valid values: take them from the valid URL's segments.
    rule_parts, valid_parts, raw_parts = rule.split("/"), valid_url.split("/"), raw.split("/")
    return "/".join(
        valid if ("<" in part and name not in part) else mine
        for part, valid, mine in zip(rule_parts, valid_parts, raw_parts, strict=False)
    )


def _check(response, what: str) -> str | None:
    body = response.get_data().decode("utf-8", "replace")  # PDFs and CSV are bytes too
    if response.status_code >= 500:
        return f"{what}: {response.status_code}"
    if "Traceback" in body or "sqlalchemy" in body.lower() or "psycopg" in body.lower():
        return f"{what}: the response shows internals"
    if response.status_code == 400 and len(body.strip()) < 20:
        return f"{what}: 400 without a message"
    return None


@pytest.mark.parametrize("role", ROLES_TO_TRY)
def test_hostile_path_values_never_fail(app, client, site, role):
    sign_in(client, site, role)
    problems, tried = [], 0
    for route in get_routes(app):
        if not route.arguments:
            continue
        with app.test_request_context():
            valid = site.url_for(route)
        for name in sorted(route.arguments):
            for value in HOSTILE:
                url = _url_with(route.rule, name, value, valid)
                tried += 1
                problem = _check(client.get(url), f"{route.endpoint} {name}={value[:20]!r}")
                if problem:
                    problems.append(problem)
    assert tried > 0
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("role", ("anonymous", "admin", "operator"))
def test_hostile_query_strings_never_fail(app, client, site, role):
    sign_in(client, site, role)
    problems = []
    for route in get_routes(app):
        with app.test_request_context():
            valid = site.url_for(route)
        plain = client.get(valid)
        if plain.status_code in (403, 404) or plain.headers.get("Location", "").startswith(
                "/login"):
            continue  # refused before the view reads its query string
        for value in QUERY_HOSTILE:
            url = f"{valid}?{urlencode({key: value for key in QUERY_KEYS})}"
            problem = _check(client.get(url), f"{route.endpoint} ?…={value[:20]!r}")
            if problem:
                problems.append(problem)
        # Each key on its own with an unknown value, the others absent.
        for key in QUERY_KEYS:
            problem = _check(client.get(f"{valid}?{key}=unknown-value"),
                             f"{route.endpoint} ?{key}=unknown-value")
            if problem:
                problems.append(problem)
    assert not problems, "\n".join(problems)


FORM_VALUES = ["", "x" * 10_240, "\x00", "-1", str(2**63), "abc", "<script>alert(1)</script>",
               "🙂" * 100]


def test_hostile_form_values_never_fail(app, client, site):
    """Every write route, every hostile value in every field name the app's forms use."""
    field_names = ["email", "name", "password", "current_password", "description", "user_id",
                   "role", "active", "is_admin", "is_auditor", "next", "remember", "status",
                   "owner_id", "due_date", "justification", "note", "url", "body", "period",
                   "version", "expected_version", "statement", "reason", "verdict", "domains",
                   "items", "team_id"]
    problems = []
    for route in routes(app):
        with app.test_request_context():
            url = site.url_for(route)
        for method in route.write_methods:
            sign_in(client, site, "admin")
            for value in FORM_VALUES:
                response = client.open(url, method=method,
                                       data={name: value for name in field_names})
                problem = _check(response, f"{method} {route.endpoint} fields={value[:20]!r}")
                if problem:
                    problems.append(problem)
    assert not problems, "\n".join(problems)


def test_nul_byte_is_refused_with_a_message(client, login_as):
    login_as("operator")
    response = client.get("/library/?q=a%00b")
    assert response.status_code == 400
    assert "NUL character" in response.get_data(as_text=True)
    response = client.post("/account", data={"current_password": "x\x00", "password": "y"})
    assert response.status_code == 400
    response = client.post("/api/anything", json={"note": ["ok", {"deep": "a\u0000b"}]})
    assert response.status_code == 400
    assert "NUL character" in response.get_json()["error"]["message"]


def test_huge_and_negative_ids_are_not_found(client, login_as):
    login_as("admin")
    for value in ("0", "-1", str(2**31), str(2**63), "9" * 5000, "abc"):
        response = client.get(f"/admin/users/{value}")
        assert response.status_code == 404, value
        assert "There is nothing here" in response.get_data(as_text=True)
    assert client.get(f"/admin/users/{2**31 - 1}").status_code == 404  # in range, not there
