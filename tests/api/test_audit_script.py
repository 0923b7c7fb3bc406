"""A script that uses only the API and tokens runs a whole audit, start to signed report."""

import hashlib

from tracker.canonical import sha256_hex

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
       b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N"
       b"\x00\x00\x00\x00IEND\xaeB`\x82")


def test_a_whole_audit_through_the_api(api_as, library, people):
    import io

    lead, operator, auditor = api_as("lead"), api_as("operator"), api_as("auditor")

    me = lead.get("/me").get_json()
    alpha = next(t for t in me["teams"] if t["team"] == "Alpha")
    assert alpha["role"] == "lead"
    domains = lead.get("/domains").get_json()["domains"]
    dv = next(d for d in domains if d["code"] == "DV")

    started = lead.post("/audits", json={"team_id": alpha["team_id"], "period": "2026-Q4",
                                         "domains": ["DV"], "due_date": "2026-12-15"})
    assert started.status_code == 201, started.get_json()
    audit = started.get_json()
    assert started.headers["Location"].endswith(f"/api/v1/audits/{audit['id']}")
    assert audit["state"] == "draft" and audit["domains"] == ["DV"]
    assert [i["code"] for i in audit["items"]] == sorted(i["code"] for i in dv["items"])
    base = f"/audits/{audit['id']}"

    # The lead assigns the first item; the operator works every item.
    first = audit["items"][0]
    assigned = lead.patch(f"{base}/items/{first['id']}", json={
        "version": first["version"], "owner_email": people["operator"].email,
        "due_date": "2026-11-30"})
    assert assigned.status_code == 200, assigned.get_json()
    assert assigned.get_json()["owner"] == people["operator"].email

    for n, item in enumerate(lead.get(base).get_json()["items"]):
        url = f"{base}/items/{item['id']}"
        if n == len(audit["items"]) - 1:
            done = operator.patch(url, json={"version": item["version"],
                                             "status": "not_applicable",
                                             "justification": "No carrier labels in scope."})
        else:
            if n == 0:
                added = operator.post(f"{url}/evidence", data={
                    "file": (io.BytesIO(PNG), "queue.png")}, content_type="multipart/form-data")
                assert added.get_json()["sha256"] == hashlib.sha256(PNG).hexdigest()
            else:
                added = operator.post(f"{url}/evidence", json={
                    "note": f"Checked on the ops call, item {item['code']}."})
            assert added.status_code == 201, added.get_json()
            done = operator.patch(url, json={"version": item["version"], "status": "met",
                                             "note": "Evidence attached."})
        assert done.status_code == 200, done.get_json()

    detail = lead.get(base).get_json()
    assert detail["state"] == "in_progress"
    assert detail["progress"]["done"] == detail["progress"]["total"] == len(detail["items"])
    assert detail["score"]["percent"] == 100.0

    submitted = lead.post(f"{base}/submit")
    assert submitted.status_code == 200 and submitted.get_json()["state"] == "in_review"

    returned = auditor.post(f"{base}/return", json={"reason": "Attach the rota for DV-03."})
    assert returned.get_json()["state"] == "in_progress"
    assert returned.get_json()["return_reason"] == "Attach the rota for DV-03."
    assert lead.post(f"{base}/submit").get_json()["state"] == "in_review"

    reviewed = auditor.post(f"{base}/items/{first['id']}/review", json={"verdict": "accepted"})
    assert reviewed.status_code == 200 and reviewed.get_json()["verdict"] == "accepted"

    # Every item accepted first: the one reviewed above, then the rest in one call.
    early = auditor.post(f"{base}/signoff", json={"statement": "DV is ready for Q4.",
                                                  "opinion": "ready"})
    assert early.status_code == 409, early.get_json()
    assert len(early.get_json()["error"]["items"]) == len(detail["items"]) - 1
    accepted = auditor.post(f"{base}/accept", json={})
    assert accepted.get_json() == {"changed": len(detail["items"]) - 1}
    signed = auditor.post(f"{base}/signoff", json={"statement": "DV is ready for Q4.",
                                                   "opinion": "ready"})
    assert signed.status_code == 200, signed.get_json()
    signoff = signed.get_json()
    assert signoff["auditor"] == people["auditor"].email
    assert signoff["opinion"] == "ready" and signoff["exceptions"] == []

    results = lead.get(f"{base}/results.json")
    assert sha256_hex(results.data) == signoff["audit_sha256"]
    assert results.get_json()["audit"]["state"] == "signed_off"
    assert results.get_json()["sign_off"] == {"opinion": "ready", "exceptions": []}

    oscal = lead.get(f"{base}/oscal.json").get_json()["assessment-results"]
    findings = oscal["results"][0]["findings"]
    assert len(findings) == len(detail["items"])
    # Met is satisfied; not applicable is not-satisfied for the reason "other" (OSCAL).
    assert {(f["target"]["status"]["state"], f["target"]["status"]["reason"])
            for f in findings} <= {("satisfied", "pass"), ("not-satisfied", "other")}

    # The signed PDF, stored at sign-off and served byte for byte; no draft once signed.
    from tracker.reports.queries import signoff_for

    pdf = lead.get(f"{base}/report.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF-"), pdf.get_json()
    assert pdf.mimetype == "application/pdf"
    assert hashlib.sha256(pdf.data).hexdigest() == signoff_for(audit['id']).pdf_sha256
    assert lead.get(f"{base}/report.pdf?draft=1").status_code == 403

    frozen = operator.patch(f"{base}/items/{first['id']}", json={
        "version": reviewed.get_json()["version"], "status": "not_met"})
    assert frozen.status_code == 409
    assert "signed off" in frozen.get_json()["error"]["message"]

    following = lead.post(f"{base}/next", json={})
    assert following.status_code == 201
    assert following.get_json()["period"] == "2027-Q1"
    assert following.get_json()["items"][0]["owner"] == people["operator"].email
