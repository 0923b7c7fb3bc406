"""Every refusal is `{"error": {"code", "message"}}` with the right status and changes nothing."""

import fcntl
import io
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from tracker.activity import ActivityEvent
from tracker.audits.models import AuditItem, Evidence, ItemStatus
from tracker.auth import service as accounts
from tracker.extensions import db


def error(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"} and body["error"]["message"]
    return body["error"]


def events() -> int:
    return db.session.execute(sa.select(sa.func.count(ActivityEvent.id))).scalar_one()


@pytest.fixture
def item(dv_audit):
    return db.session.execute(
        sa.select(AuditItem).where(AuditItem.audit_id == dv_audit.id).order_by(AuditItem.code)
    ).scalars().first()


def test_missing_unknown_and_revoked_tokens_get_401(client, people, api_as, dv_audit):
    from tests.api.conftest import ApiClient

    assert error(ApiClient(client, None).get("/audits"), 401)["code"] == "unauthorized"
    resp = ApiClient(client, "rt_not-a-token").get("/audits")
    assert "revoked" in error(resp, 401)["message"]
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/api/v1/audits", headers={"Authorization": "Basic abc"}).status_code == 401

    row, token = accounts.create_token(people["lead"], "script")
    db.session.commit()
    lead = ApiClient(client, token)
    assert lead.get("/audits").status_code == 200
    assert db.session.get(type(row), row.id).last_used_at is not None
    accounts.revoke_token(people["lead"], db.session.get(type(row), row.id))
    db.session.commit()
    error(lead.get("/audits"), 401)


def test_deactivated_account_token_gets_401(client, people, token_for):
    from tests.api.conftest import ApiClient

    token = token_for("operator")
    accounts.set_active(None, people["operator"], False)
    db.session.commit()
    error(ApiClient(client, token).get("/me"), 401)


def test_stale_version_gets_409_with_the_current_item(api_as, item, dv_audit):
    operator, lead = api_as("operator"), api_as("lead")
    url = f"/audits/{dv_audit.id}/items/{item.id}"
    seen = item.version
    first = lead.patch(url, json={"version": seen, "status": "in_progress"})
    assert first.status_code == 200 and first.get_json()["version"] == seen + 1
    before = events()
    conflict = error(operator.patch(url, json={"version": seen, "status": "blocked"}), 409)
    assert conflict["code"] == "stale_version"
    assert conflict["current"]["status"] == "in_progress"
    assert conflict["current"]["version"] == seen + 1
    assert "Lena Lead" in conflict["message"]
    db.session.expire_all()
    assert db.session.get(AuditItem, item.id).status == ItemStatus.IN_PROGRESS
    assert events() == before


def test_rule_violations_get_422_naming_the_rule(api_as, item, dv_audit):
    operator = api_as("operator")
    url = f"/audits/{dv_audit.id}/items/{item.id}"
    met = error(operator.patch(url, json={"version": item.version, "status": "met"}), 422)
    assert met["code"] == "rule_violation" and "requires evidence" in met["message"]
    assert met["field"] == "status"
    na = error(operator.patch(url, json={"version": item.version, "status": "not_applicable"}),
               422)
    assert na["field"] == "justification"
    lead = api_as("lead")
    stranger = error(lead.patch(url, json={"version": item.version,
                                           "owner_email": "outsider@test.example"}), 422)
    assert stranger["field"] == "owner_email" and "not a member" in stranger["message"]
    nobody = error(lead.patch(url, json={"version": item.version,
                                         "owner_email": "nobody@test.example"}), 422)
    assert nobody["field"] == "owner_email"
    link = error(operator.post(f"{url}/evidence", json={"url": "ftp://example.com/x"}), 422)
    assert link["field"] == "url"
    dup = error(lead.post("/audits", json={"team_id": dv_audit.team_id, "period": "2026-Q3",
                                           "domains": ["DV"]}), 422)
    assert "already has an audit" in dup["message"]
    unknown = error(lead.post("/audits", json={"team_id": dv_audit.team_id, "period": "2027-Q1",
                                               "domains": ["DV", "NOPE"]}), 422)
    assert "NOPE" in unknown["message"] and unknown["field"] == "domains"
    db.session.expire_all()
    assert db.session.get(AuditItem, item.id).status == ItemStatus.NOT_STARTED


def test_malformed_requests_get_400_and_wrong_types_415(api_as, item, dv_audit):
    operator = api_as("operator")
    url = f"/audits/{dv_audit.id}/items/{item.id}"
    bad = error(operator.patch(url, data="{not json", headers={
        "Content-Type": "application/json"}), 400)
    assert bad["code"] == "malformed_json"
    assert error(operator.patch(url, json=[1, 2]), 400)["code"] == "malformed_json"
    missing = error(operator.patch(url, json={"status": "met"}), 400)
    assert missing["field"] == "version" and "required" in missing["message"]
    wrong = error(operator.patch(url, json={"version": "3", "status": "met"}), 400)
    assert wrong["field"] == "version"
    typo = error(operator.patch(url, json={"version": 1, "stauts": "met"}), 400)
    assert typo["field"] == "stauts"
    status = error(operator.patch(url, json={"version": 1, "status": "done"}), 400)
    assert status["field"] == "status" and "not_started" in status["message"]
    assert error(operator.get("/audits?state=nope"), 400)["field"] == "state"
    assert error(operator.get("/audits?team=1"), 400)["field"] == "team"
    form = error(operator.patch(url, data={"version": "1"}), 415)
    assert form["code"] == "unsupported_media_type" and "application/json" in form["message"]
    text = error(operator.post(f"{url}/evidence", data="hello", headers={
        "Content-Type": "text/plain"}), 415)
    assert "multipart/form-data" in text["message"]


def test_evidence_files_too_large_or_of_the_wrong_type(app, api_as, item, dv_audit):
    operator = api_as("operator")
    url = f"/audits/{dv_audit.id}/items/{item.id}/evidence"
    app.config["MAX_EVIDENCE_BYTES"] = 1000
    big = operator.post(url, data={"file": (io.BytesIO(b"x" * 1500), "log.txt")},
                        content_type="multipart/form-data")
    too_big = error(big, 413)
    assert too_big["code"] == "too_large" and too_big["field"] == "file"
    assert "smaller file" in too_big["message"]
    app.config["MAX_CONTENT_LENGTH"] = 2000
    huge = operator.post(url, data={"file": (io.BytesIO(b"x" * 5000), "log.txt")},
                         content_type="multipart/form-data")
    assert error(huge, 413)["code"] == "too_large"
    html = operator.post(url, data={"file": (io.BytesIO(b"<html><script>x</script>"), "a.txt")},
                         content_type="multipart/form-data")
    assert error(html, 415)["code"] == "unsupported_file_type"
    renamed = operator.post(url, data={"file": (io.BytesIO(b"%PDF-1.4 ..."), "report.txt")},
                            content_type="multipart/form-data")
    assert ".pdf" in error(renamed, 415)["message"]
    nofile = operator.post(url, data={"other": "x"}, content_type="multipart/form-data")
    assert error(nofile, 400)["field"] == "file"
    assert db.session.execute(sa.select(sa.func.count(Evidence.id))).scalar_one() == 0


def test_permissions_hold_in_the_api(api_as, item, dv_audit, people):
    outsider, operator, auditor = api_as("outsider"), api_as("operator"), api_as("auditor")
    base = f"/audits/{dv_audit.id}"
    # Another team's audit does not exist for you.
    assert error(outsider.get(base), 404)["code"] == "not_found"
    assert error(outsider.patch(f"{base}/items/{item.id}", json={"version": 1}), 404)
    assert dv_audit.id not in [a["id"] for a in outsider.get("/audits").get_json()["audits"]]
    # Operators work items but do not assign owners, submit or start audits.
    assert error(operator.patch(f"{base}/items/{item.id}", json={
        "version": item.version, "due_date": "2026-12-01"}), 403)["code"] == "forbidden"
    assert error(operator.post(f"{base}/submit"), 403)
    assert error(operator.post("/audits", json={"team_id": dv_audit.team_id,
                                                "period": "2027-Q1", "domains": ["DV"]}), 403)
    # Auditors see every audit but cannot edit evidence, nor sign off before review.
    assert auditor.get(base).status_code == 200
    assert error(auditor.post(f"{base}/items/{item.id}/evidence", json={"note": "x"}), 403)
    early = error(auditor.post(f"{base}/signoff", json={"statement": "ok",
                                                        "opinion": "not_ready"}), 409)
    assert "in review" in early["message"]
    # Nobody signs off their own team's audit.
    lead = api_as("lead")
    left = error(lead.post(f"{base}/submit"), 409)  # every item assessed first
    assert left["items"] and {i["status"] for i in left["items"]} <= {
        "not_started", "in_progress", "blocked"}
    assert lead.post(f"{base}/mark-rest-not-met", json={"note": "Late."}).status_code == 200
    assert lead.post(f"{base}/submit").status_code == 200
    member_auditor = api_as("member_auditor")
    verdict = {"statement": "ok", "opinion": "not_ready"}
    assert error(member_auditor.post(f"{base}/signoff", json=verdict), 403)
    assert error(lead.post(f"{base}/signoff", json=verdict), 403)
    # Work stops while the audit is in review: its state, not the role, refuses it (409).
    locked = error(operator.patch(f"{base}/items/{item.id}", json={
        "version": item.version, "status": "in_progress"}), 409)
    assert "in review" in locked["message"]


def test_not_found_and_wrong_method_are_json(client, api_as, dv_audit):
    lead = api_as("lead")
    assert error(lead.get("/nothing-here"), 404)["code"] == "not_found"
    assert error(lead.get(f"/audits/{dv_audit.id}/items/999999/nothing"), 404)
    assert error(lead.get("/audits/99999999999999999999"), 404)
    wrong = lead.call("DELETE", f"/audits/{dv_audit.id}")
    assert error(wrong, 405)["code"] == "method_not_allowed"
    assert "GET" in wrong.headers["Allow"]
    assert error(lead.get(f"/audits/{dv_audit.id}/report.pdf"), 404)
    assert error(lead.get(f"/audits/{dv_audit.id}/oscal.json"), 404)


@contextmanager
def another_writer_holds(database, item_id: int, monkeypatch):
    """Another transaction holds what a save of the item needs, past the app's patience:
    SQLite's write lock (the writers' queue, waited on for 0.2 s here); on PostgreSQL the
    item's row, with the app's connections giving up on a lock after 0.1 s."""
    if database["kind"] == "sqlite":
        from tracker import transactions

        monkeypatch.setattr(transactions, "WAIT_SECONDS", 0.2)
        with open(db.engine.url.database + ".writers", "a+b") as queue:
            fcntl.flock(queue, fcntl.LOCK_EX)
            yield
        return

    def impatient(dbapi_connection, record, proxy):
        dbapi_connection.execute("SET lock_timeout = '100ms'")

    sa.event.listen(db.engine, "checkout", impatient)
    other = sa.create_engine(database["url"])
    try:
        with other.connect() as holder:
            holder.execute(sa.select(AuditItem.id).where(AuditItem.id == item_id)
                           .with_for_update())
            yield
            holder.rollback()
    finally:
        other.dispose()
        sa.event.remove(db.engine, "checkout", impatient)


def test_a_busy_database_gets_503_with_retry_after_and_changes_nothing(
        api_as, item, dv_audit, database, monkeypatch):
    operator = api_as("operator")
    url = f"/audits/{dv_audit.id}/items/{item.id}"
    db.session.commit()
    before = events()
    with another_writer_holds(database, item.id, monkeypatch):
        busy = operator.patch(url, json={"version": item.version, "status": "in_progress"})
    refused = error(busy, 503)
    assert refused["code"] == "busy" and "again" in refused["message"]
    assert busy.headers["Retry-After"] == "2"
    db.session.expire_all()
    assert db.session.get(AuditItem, item.id).status == ItemStatus.NOT_STARTED
    assert events() == before
    # Sent again once the other writer is done, it is saved.
    again = operator.patch(url, json={"version": item.version, "status": "in_progress"})
    assert again.status_code == 200
