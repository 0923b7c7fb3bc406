"""Deeply nested JSON (issue 23, item 8): a clear 400 before authentication, never a 500
from the interpreter's recursion limit, on every JSON route."""

import json

import pytest

from tracker.security.input import MAX_JSON_DEPTH


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [400, 5_000, 200_000])
def test_deep_json_is_refused_with_400(client, depth):
    response = client.post("/api/v1/audits", data=nested(depth),
                           content_type="application/json")
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "bad_request"
    assert f"nested more than {MAX_JSON_DEPTH} levels" in error["message"]


def test_deep_json_is_refused_on_web_routes_too(client):
    response = client.post("/login", data=nested(400), content_type="application/json")
    assert response.status_code == 400
    assert "nested more than" in response.get_data(as_text=True)


def test_json_up_to_the_limit_passes_the_guard(client):
    document = json.dumps({"note": json.loads(nested(MAX_JSON_DEPTH - 1))})
    response = client.post("/api/v1/audits", data=document, content_type="application/json")
    assert response.status_code == 401  # past the guard: the token is what is missing


def test_nul_bytes_deep_inside_are_still_found(client):
    document = {"a": [{"b": [["x", {"c\u0000": 1}]]}]}
    response = client.post("/api/v1/audits", json=document)
    assert response.status_code == 400
    assert "NUL character" in response.get_json()["error"]["message"]
