"""The operator's loop (issue 19): status and evidence in one form, saved together or not at
all; "Save and next" down My items; evidence removed or replaced by whoever added it (or the
lead) while the audit is open, the history keeping both."""

import io

import sqlalchemy as sa

from tests import factories
from tests.api.conftest import ApiClient
from tests.audits.conftest import PNG, first_item
from tests.audits.test_rules import events, item_url, snapshot
from tracker import clock
from tracker.activity import ActivityEvent
from tracker.audits import queries, service
from tracker.audits.models import AuditItem, Evidence, ItemStatus
from tracker.auth import service as accounts
from tracker.extensions import db


def work(client, item, *, query: str = "", **data):
    """The item page's one form, as the browser sends it (multipart)."""
    form = {"status": item.status.value, "justification": item.justification or "",
            "version": item.version}
    form.update(data)
    return client.post(item_url(item) + query, data=form, content_type="multipart/form-data")


def evidence_of(item_id: int) -> list[Evidence]:
    db.session.expire_all()
    return db.session.execute(sa.select(Evidence).where(Evidence.audit_item_id == item_id)
                              .order_by(Evidence.id)).scalars().all()


def actions_of(item_id: int) -> list[str]:
    return db.session.execute(sa.select(ActivityEvent.action).where(
        ActivityEvent.audit_item_id == item_id).order_by(ActivityEvent.seq)).scalars().all()


# --- one form: together or neither ------------------------------------------------------

def test_evidence_and_met_are_saved_together(client, login_as, audit):
    """The new evidence counts for "met" in the same request."""
    login_as("operator")
    item = first_item(audit, evidence_required=True)
    response = work(client, item, status="met", evidence_note="Drill run on Tuesday.",
                    evidence_file=(io.BytesIO(PNG), "drill.png"))
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    db.session.expire_all()
    assert db.session.get(AuditItem, item.id).status == ItemStatus.MET
    assert sorted(e.kind.value for e in evidence_of(item.id)) == ["file", "note"]
    assert actions_of(item.id)[-3:] == ["evidence.add", "evidence.add", "item.update"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"Saved {item.code} with 2 new pieces of evidence." in page


def test_a_refused_status_leaves_the_evidence_unsaved(client, login_as, audit):
    login_as("operator")
    item = first_item(audit)
    before = snapshot(item.id)
    response = work(client, item, status="not_applicable", justification="",
                    evidence_note="Checked the runbook.",
                    evidence_file=(io.BytesIO(PNG), "drill.png"))
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "needs a justification" in page
    assert "Checked the runbook." in page  # what was typed is still in the form
    assert "drill.png was not saved: choose it again" in page
    assert snapshot(item.id) == before and evidence_of(item.id) == []


def test_refused_evidence_leaves_the_status_unsaved(client, login_as, audit):
    login_as("operator")
    item = first_item(audit)
    before = snapshot(item.id)
    response = work(client, item, status="in_progress", evidence_note="Checked.",
                    evidence_file=(io.BytesIO(b"MZ\x90\x00 not a document"), "tool.exe"))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="evidence_file-error-1"' in page  # the refusal sits next to the file field
    assert snapshot(item.id) == before and evidence_of(item.id) == []


def test_a_stale_version_saves_no_evidence_either(client, login_as, audit, people):
    login_as("operator")
    item = first_item(audit)
    seen = item.version
    service.update_item(people["lead"], item, expected_version=seen, status="blocked")
    db.session.commit()
    response = work(client, item, status="in_progress", version=seen, evidence_note="Checked.")
    assert response.status_code == 409
    assert evidence_of(item.id) == []


# --- Save and next --------------------------------------------------------------------

def _owned_items(audit, people) -> list[AuditItem]:
    items = db.session.execute(sa.select(AuditItem).where(AuditItem.audit_id == audit.id)
                               .order_by(AuditItem.code).limit(3)).scalars().all()
    service.bulk_update(people["lead"], audit, [i.id for i in items], owner=people["operator"])
    db.session.commit()
    return items


def test_save_and_next_walks_my_items_in_their_order(client, login_as, audit, people):
    _owned_items(audit, people)
    login_as("operator")
    ids = [i.id for i in queries.my_items(people["operator"], clock.today(), view="open",
                                          page=1).items]
    assert len(ids) == 3
    # The list page links each item with the list it came from.
    assert f"/items/{ids[0]}?mine=open" in client.get("/my-items").get_data(as_text=True)
    first = db.session.get(AuditItem, ids[0])
    # Marked not met, the first leaves the open list: the next is still the one after it.
    response = work(client, first, query="?mine=open", status="not_met", then="next")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/items/{ids[1]}?mine=open")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Save and next" in page and "Back to My items" in page

    last = db.session.get(AuditItem, ids[2])
    response = work(client, last, query="?mine=open", status="in_progress", then="next")
    assert response.headers["Location"].endswith("/my-items")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "That was the last item of My items." in page
    # Without a list, Save stays on the item and offers no "next".
    plain = client.get(item_url(last)).get_data(as_text=True)
    assert "Save and next" not in plain


def test_save_and_next_keeps_the_view(client, login_as, audit, people):
    items = _owned_items(audit, people)
    login_as("operator")
    response = work(client, items[0], query="?mine=all", status="in_progress", then="next")
    assert "mine=all" in response.headers["Location"]
    refused = work(client, items[1], query="?mine=all", status="not_applicable", then="next")
    assert refused.status_code == 422
    assert f"/items/{items[1].id}?mine=all" in refused.get_data(as_text=True)  # form keeps it


# --- removing and replacing evidence --------------------------------------------------

def _with_note(audit, people, by="operator"):
    item = first_item(audit)
    evidence = service.add_evidence(people[by], item, note="Runbook checked.")
    db.session.commit()
    return item, evidence.id


def _remove(client, item, evidence_id):
    return client.post(f"{item_url(item)}/evidence/{evidence_id}/remove")


def test_whoever_added_it_and_the_lead_may_remove_evidence(client, login_as, audit, people):
    second = factories.make_user("second-operator@test.example", "Sam Second")
    accounts.set_membership(None, people["alpha"], second, "operator")
    db.session.commit()
    item, evidence_id = _with_note(audit, people)
    for role in ("admin", "auditor", "member_auditor"):
        login_as(role)
        assert _remove(client, item, evidence_id).status_code == 403, role
    client.post("/logout")
    client.post("/login", data={"email": second.email, "password": factories.PASSWORD})
    refused = _remove(client, item, evidence_id)
    assert refused.status_code == 403
    assert "Only Omar Operator, who added this evidence, or a lead of Alpha" in \
        refused.get_data(as_text=True)
    login_as("outsider")
    assert _remove(client, item, evidence_id).status_code == 404
    assert len(evidence_of(item.id)) == 1

    login_as("operator")
    assert _remove(client, item, evidence_id).status_code == 302
    assert evidence_of(item.id) == []
    _, other_id = _with_note(audit, people)
    login_as("lead")
    assert _remove(client, item, other_id).status_code == 302
    assert evidence_of(item.id) == []


def test_removal_after_submit_is_refused(client, login_as, audit, people):
    item, evidence_id = _with_note(audit, people)
    factories.submit(people["lead"], audit)
    db.session.commit()
    login_as("operator")
    before = events()
    response = _remove(client, item, evidence_id)
    assert response.status_code == 409
    assert "in review and cannot change" in response.get_data(as_text=True)
    replace = client.post(f"{item_url(item)}/evidence/{evidence_id}/replace",
                          data={f"e{evidence_id}-note": "Newer note."})
    assert replace.status_code == 409
    assert len(evidence_of(item.id)) == 1 and events() == before


def test_the_history_keeps_the_removed_and_the_replaced(client, login_as, audit, people):
    item, evidence_id = _with_note(audit, people)
    login_as("operator")
    response = client.post(f"{item_url(item)}/evidence/{evidence_id}/replace",
                           data={f"e{evidence_id}-note": "Runbook checked, second run."})
    assert response.status_code == 302
    (new,) = evidence_of(item.id)
    assert new.note == "Runbook checked, second run."
    assert _remove(client, item, new.id).status_code == 302
    assert actions_of(item.id)[-3:] == ["evidence.add", "evidence.replace", "evidence.remove"]
    history = {e.event.action: e for e in queries.item_history(db.session.get(AuditItem,
                                                                              item.id))}
    replaced = {c.key: (c.before, c.after) for c in history["evidence.replace"].changes}
    assert replaced["evidence"] == ("Runbook checked.", "Runbook checked, second run.")
    assert replaced["added_by"] == ("operator@test.example", None)
    removed = {c.key: (c.before, c.after) for c in history["evidence.remove"].changes}
    assert removed["evidence"] == ("Runbook checked, second run.", None)
    page = client.get(item_url(item)).get_data(as_text=True)
    assert "replaced evidence" in page and "removed evidence" in page


def test_a_met_item_keeps_the_evidence_it_rests_on(client, login_as, audit, people):
    item = first_item(audit, evidence_required=True)
    evidence = service.add_evidence(people["operator"], item, note="Drill done.")
    service.update_item(people["operator"], item, expected_version=item.version, status="met")
    db.session.commit()
    login_as("operator")
    response = _remove(client, item, evidence.id)
    assert response.status_code == 422
    assert "Replace it instead, or change the status first" in response.get_data(as_text=True)
    assert len(evidence_of(item.id)) == 1
    replaced = client.post(f"{item_url(item)}/evidence/{evidence.id}/replace",
                           data={f"e{evidence.id}-file": (io.BytesIO(PNG), "drill.png")},
                           content_type="multipart/form-data")
    assert replaced.status_code == 422  # a note is replaced by a note: "Write the new note"
    assert [e.kind.value for e in evidence_of(item.id)] == ["note"]
    replaced = client.post(f"{item_url(item)}/evidence/{evidence.id}/replace",
                           data={f"e{evidence.id}-note": "Drill done again."})
    assert replaced.status_code == 302
    assert [e.note for e in evidence_of(item.id)] == ["Drill done again."]


def test_the_api_removes_evidence(client, audit, people):
    def api_as(role):
        return ApiClient(client, accounts.create_token(people[role], "test")[1])

    item, evidence_id = _with_note(audit, people)
    path = f"/audits/{audit.id}/items/{item.id}/evidence/{evidence_id}"
    assert api_as("auditor").call("DELETE", path).status_code == 403
    assert api_as("operator").call("DELETE", path).status_code == 204
    assert evidence_of(item.id) == []
    assert api_as("operator").call("DELETE", path).status_code == 404
    _, other_id = _with_note(audit, people)
    factories.submit(people["lead"], audit)
    db.session.commit()
    refused = api_as("lead").call("DELETE", f"/audits/{audit.id}/items/{item.id}/evidence/"
                                            f"{other_id}")
    assert refused.status_code == 409 and refused.get_json()["error"]["message"]


def test_save_and_next_from_an_item_that_left_the_list(client, login_as, audit, people):
    """Saved as not met earlier, an item is no longer among the open ones: its "next" is the
    list's first item, and the page does not call it the last."""
    items = _owned_items(audit, people)
    service.update_item(people["operator"], items[0], expected_version=items[0].version,
                        status="not_met")
    db.session.commit()
    login_as("operator")
    page = client.get(item_url(items[0]) + "?mine=open").get_data(as_text=True)
    assert "Last item of the list" not in page
    response = work(client, items[0], query="?mine=open", then="next")
    assert response.headers["Location"].endswith(f"/items/{items[1].id}?mine=open")
