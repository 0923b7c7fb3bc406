"""What the web does, a script can do (issue 24): download evidence files, read and add
comments, change many items at once, acknowledge and resolve signals — with the pages'
permissions and rules, refusals saying why and changing nothing."""

import io

import sqlalchemy as sa

from tests.audits.conftest import new_audit
from tracker.audits import service as audits
from tracker.audits.models import AuditItem, Comment, ItemStatus
from tracker.extensions import db
from tracker.signals.models import Signal, SignalState


def _items(audit):
    return db.session.execute(sa.select(AuditItem).where(AuditItem.audit_id == audit.id)
                              .order_by(AuditItem.code)).scalars().all()


def test_an_evidence_file_downloads_as_uploaded(api_as, dv_audit, people):
    item = _items(dv_audit)[0]
    content = b"%PDF-1.4\n% the drill report\n"
    evidence = audits.add_evidence(people["operator"], item, upload=io.BytesIO(content),
                                   filename="drill.pdf")
    db.session.commit()
    api = api_as("auditor")
    response = api.get(f"/audits/{dv_audit.id}/items/{item.id}/evidence/{evidence.id}")
    assert response.status_code == 200 and response.data == content
    assert "drill.pdf" in response.headers["Content-Disposition"]
    note = audits.add_evidence(people["operator"], item, note="Checked.")
    db.session.commit()
    missing = api.get(f"/audits/{dv_audit.id}/items/{item.id}/evidence/{note.id}")
    assert missing.status_code == 404 and "no file" in missing.json["error"]["message"]


def test_comments_read_and_added(api_as, dv_audit):
    item = _items(dv_audit)[0]
    path = f"/audits/{dv_audit.id}/items/{item.id}/comments"
    added = api_as("operator").post(path, json={"body": "The rota is on the wiki."})
    assert added.status_code == 201 and added.json["author_name"]
    listed = api_as("auditor").get(path).json["comments"]
    assert [c["body"] for c in listed] == ["The rota is on the wiki."]
    empty = api_as("operator").post(path, json={"body": "   "})
    assert empty.status_code == 422
    assert db.session.execute(sa.select(sa.func.count(Comment.id))).scalar_one() == 1


def test_comments_are_closed_on_a_signed_off_audit(api_as, people, library):
    audit = new_audit(people, ("DV",), "signed_off", "2026-Q3", "alpha")
    item = _items(audit)[0]
    response = api_as("operator").post(f"/audits/{audit.id}/items/{item.id}/comments",
                                       json={"body": "Late."})
    assert response.status_code == 409
    assert "comments are closed" in response.json["error"]["message"]


def test_a_lead_changes_many_items_at_once(api_as, dv_audit, people):
    items = _items(dv_audit)
    ids = [i.id for i in items[:3]]
    response = api_as("lead").post(f"/audits/{dv_audit.id}/items/bulk", json={
        "item_ids": ids, "status": "in_progress", "owner_email": people["operator"].email})
    assert response.status_code == 200 and response.json == {"changed": 3}
    db.session.expire_all()
    changed = [db.session.get(AuditItem, i) for i in ids]
    assert {i.status for i in changed} == {ItemStatus.IN_PROGRESS}
    assert {i.owner_id for i in changed} == {people["operator"].id}
    refused = api_as("lead").post(f"/audits/{dv_audit.id}/items/bulk", json={
        "item_ids": ids, "owner_email": "nobody@example.com"})
    assert refused.status_code == 422 and refused.json["error"]["field"] == "owner_email"
    assert api_as("operator").post(f"/audits/{dv_audit.id}/items/bulk", json={
        "item_ids": ids, "status": "blocked"}).status_code == 403
    db.session.expire_all()
    assert {db.session.get(AuditItem, i).status for i in ids} == {ItemStatus.IN_PROGRESS}


def test_signals_are_acknowledged_then_resolved(api_as, people, library):
    created = api_as("operator").post("/signals", json={
        "summary": "Refund e-mails bounce", "source": "support_ticket", "severity": "low",
        "domain": "DV"})
    assert created.status_code == 201, created.json
    signal_id = created.json["id"]
    lead = api_as("lead")
    acked = lead.post(f"/signals/{signal_id}/acknowledge", json={"note": "Looking today."})
    assert acked.status_code == 200 and acked.json["state"] == "acknowledged"
    again = lead.post(f"/signals/{signal_id}/acknowledge", json={"note": "Again."})
    assert again.status_code == 422 and "already acknowledged" in again.json["error"]["message"]
    resolved = lead.post(f"/signals/{signal_id}/resolve", json={"note": "Bounce handling fixed."})
    assert resolved.status_code == 200 and resolved.json["state"] == "resolved"
    assert db.session.get(Signal, signal_id).state == SignalState.RESOLVED
    assert api_as("operator").post(f"/signals/{signal_id}/resolve",
                                   json={"note": "x"}).status_code == 403
