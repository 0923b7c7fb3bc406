"""The actions API: the same rules as the pages, as JSON errors."""

import pytest

from tests.actions.conftest import item_of
from tests.api.conftest import ApiClient
from tracker.auth import service as accounts
from tracker.extensions import db


@pytest.fixture
def api(app, client, people, actions_two_quarters):
    def as_role(role: str) -> ApiClient:
        _, token = accounts.create_token(people[role], "test")
        db.session.commit()
        return ApiClient(client, token)
    return as_role


def test_closing_as_done_without_a_note_is_refused(api, actions_two_quarters):
    action_id = actions_two_quarters["open_action"]
    response = api("operator").patch(f"/actions/{action_id}", json={"status": "done"})
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert "needs closing evidence" in error["message"] and error["field"] == "note"
    response = api("operator").patch(f"/actions/{action_id}", json={
        "status": "done", "note": "Validation live since 2 Dec, PR 431."})
    assert response.status_code == 200
    assert response.get_json()["status"] == "done"


def test_mine_lists_the_open_action_from_last_quarter(api, actions_two_quarters, people):
    listed = api("operator").get("/actions?mine=1&open=1").get_json()["actions"]
    assert [(a["id"], a["period"]) for a in listed] == [
        (actions_two_quarters["open_action"], "2026-Q3")]
    assert api("outsider").get("/actions").get_json()["actions"] == []


def test_another_team_cannot_create_or_change(api, actions_two_quarters):
    item = item_of(actions_two_quarters["q4"], actions_two_quarters["code"])
    outsider = api("outsider")
    assert outsider.post("/actions", json={"title": "Fix", "audit_item_id": item.id}
                         ).status_code == 404
    assert outsider.patch(f"/actions/{actions_two_quarters['open_action']}",
                          json={"title": "Mine"}).status_code == 404
    made = api("lead").post("/actions", json={"title": "Fix PO boxes",
                                              "audit_item_id": item.id,
                                              "owner_email": "operator@test.example"})
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["item_code"] == item.code


def test_the_list_is_paginated_like_the_other_lists(api, app, people):
    from tracker import clock
    from tracker.actions import service

    for n in range(5):
        service.create_action(people["lead"], title=f"Fix {n}", team=people["alpha"],
                              due_on=clock.today())
    db.session.commit()
    lead = api("lead")
    everything = lead.get("/actions").get_json()
    total = everything["total"]
    assert total == len(everything["actions"]) >= 7  # the seed's two and these five
    assert (everything["page"], everything["per_page"]) == (1, 50)
    pages = [lead.get(f"/actions?per_page=3&page={p}").get_json() for p in (1, 2, 3)]
    assert all(p["total"] == total and p["per_page"] == 3 for p in pages)
    assert [a["id"] for p in pages for a in p["actions"]] == [
        a["id"] for a in everything["actions"]][:9]
    assert [len(p["actions"]) for p in pages][:2] == [3, 3]
    assert lead.get("/actions?per_page=201").status_code == 400  # as every list answers

    document = lead.get("/openapi.json").get_json()
    params = {p["name"] for p in document["paths"]["/actions"]["get"]["parameters"]}
    assert {"page", "per_page"} <= params
    listed = document["paths"]["/actions"]["get"]["responses"]["200"]["content"][
        "application/json"]["schema"]
    name = listed["$ref"].rsplit("/", 1)[1]
    assert {"page", "per_page", "total"} <= set(document["components"]["schemas"][name][
        "required"])
