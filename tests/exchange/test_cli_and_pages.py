"""The CLI commands, the admin import/export page and the audit downloads."""

import csv
import io
import json
import re

import sqlalchemy as sa

from tests import factories
from tests.exchange.conftest import FIXTURES, library_counts
from tracker.audits import service as audits
from tracker.audits.models import AuditItem, ItemStatus
from tracker.auth.models import ApiToken
from tracker.auth.service import hash_token
from tracker.canonical import sha256_hex
from tracker.extensions import db
from tracker.library.models import Domain, ReadinessItem


def signed_off_audit(people):
    """Alpha's DV audit, worked, submitted and signed off through the services."""
    dv = db.session.execute(sa.select(Domain).where(Domain.code == "DV")).scalar_one()
    audit = audits.start_audit(people["lead"], people["alpha"], "2026-Q2", [dv])
    items = db.session.execute(sa.select(AuditItem).where(AuditItem.audit_id == audit.id)
                               .order_by(AuditItem.code)).scalars().all()
    audits.add_evidence(people["operator"], items[0], note="=cmd|' /C calc'!A0")
    audits.update_item(people["operator"], items[0], expected_version=None, status="met")
    audits.update_item(people["operator"], items[1], expected_version=None,
                       status="not_applicable", justification="=SUM(A1) is not in scope")
    audits.update_item(people["operator"], items[2], expected_version=None, status="not_met")
    factories.submit(people["lead"], audit)
    factories.sign_off(people["auditor"], audit, "Signed for the test.")
    db.session.commit()
    return audit


def test_library_cli_export_and_import(library, runner, tmp_path):
    out = tmp_path / "library.csv"
    result = runner.invoke(args=["library", "export", "--format", "csv", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text().startswith("\ufefftype,domain,code,title")  # UTF-8 with a BOM
    folder = tmp_path / "yaml"
    assert runner.invoke(args=["library", "export", "--format", "yaml", str(folder)]).exit_code == 0
    assert len(list(folder.glob("*.yaml"))) == library_counts()[0]
    single = runner.invoke(args=["library", "export"])
    assert single.output.startswith("---\ncode: DV\n")
    result = runner.invoke(args=["library", "import", str(out)])
    assert result.exit_code == 0 and "0 changes" in result.output, result.output
    result = runner.invoke(args=["library", "import", str(folder)])
    assert result.exit_code == 0 and "0 changes" in result.output, result.output


def test_oscal_cli(library, runner, people, tmp_path):
    result = runner.invoke(args=["oscal", "import-catalog", str(FIXTURES / "mini-catalog.json")])
    assert result.exit_code == 0 and "8 created" in result.output, result.output
    out = tmp_path / "catalog.json"
    assert runner.invoke(args=["oscal", "export-catalog", str(out)]).exit_code == 0
    groups = json.loads(out.read_text())["catalog"]["groups"]
    assert [g["id"].rsplit(".", 1)[-1] for g in groups][-2:] == ["ac", "ir"]

    audit = signed_off_audit(people)
    result = runner.invoke(args=["oscal", "export-results", str(audit.id)])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)["assessment-results"]
    assert doc["metadata"]["oscal-version"] == "1.1.2"
    assert doc["import-ap"]["href"] == "#" + doc["back-matter"]["resources"][0]["uuid"]
    findings = {f["title"].split()[0]: f for f in doc["results"][0]["findings"]}
    assert len(findings) == len(audit.items)
    assert findings["DV-01"]["target"]["status"] == {"state": "satisfied", "reason": "pass"}
    # Not applicable is not satisfied, for the reason "other", as OSCAL intends.
    assert findings["DV-02"]["target"]["status"] == {"state": "not-satisfied", "reason": "other"}
    assert "Justification: =SUM(A1) is not in scope" in findings["DV-02"]["description"]
    assert findings["DV-03"]["target"]["status"] == {"state": "not-satisfied", "reason": "fail"}
    assert findings["DV-04"]["target"]["status"]["state"] == "not-satisfied"  # not started
    assert findings["DV-01"]["related-observations"]
    again = runner.invoke(args=["oscal", "export-results", str(audit.id)])
    assert again.output == result.output  # deterministic

    draft = audits.start_next_quarter(people["lead"], audit)
    db.session.commit()
    refused = runner.invoke(args=["oscal", "export-results", str(draft.id)])
    assert refused.exit_code == 1 and "signed off" in refused.output


def test_users_token_prints_a_working_token(runner, people, client):
    result = runner.invoke(args=["users", "token", "operator@test.example", "--name", "cron"])
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    row = db.session.execute(sa.select(ApiToken).where(ApiToken.token_hash == hash_token(token))
                             ).scalar_one()
    assert row.name == "cron" and row.user_id == people["operator"].id
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.get_json()["email"] == "operator@test.example"
    assert runner.invoke(args=["users", "token", "nobody@test.example"]).exit_code != 0


def test_admin_library_page(library, client, login_as):
    login_as("lead")
    assert client.get("/library/manage").status_code == 403
    assert client.get("/library/export/yaml").status_code == 403
    login_as("admin")
    page = client.get("/library/manage")
    assert page.status_code == 200 and b"Check and import" in page.data
    for fmt, start in (("yaml", b"---\ncode: DV"), ("csv", b"\xef\xbb\xbftype,domain"),
                       ("oscal", b"{"), ("xlsx", b"PK")):
        download = client.get(f"/library/export/{fmt}")
        assert download.status_code == 200 and download.data.startswith(start)
        assert "attachment" in download.headers["Content-Disposition"]

    exported = client.get("/library/export/csv").data
    broken = exported.replace(b",critical,", b",urgent,", 1)
    before = library_counts()
    refused = client.post("/library/manage", data={"file": (io.BytesIO(broken), "lib.csv")},
                          content_type="multipart/form-data")
    assert refused.status_code == 422
    assert b"lib.csv:" in refused.data and b"urgent" in refused.data
    assert b"Nothing was changed" in refused.data
    assert library_counts() == before

    renamed = exported.replace(b"Address data is validated", b"Addresses are validated", 1)
    done = import_through_preview(client, renamed, "lib.csv", "1 updated")
    assert b"1 changes (0 created, 1 updated" in done.data
    db.session.expire_all()
    title = db.session.execute(sa.select(ReadinessItem.title).where(ReadinessItem.code == "DV-01")
                               ).scalar_one()
    assert title.startswith("Addresses are validated")

    catalog = (FIXTURES / "mini-catalog.json").read_bytes()
    added = import_through_preview(client, catalog, "mini.json", "8 added")
    assert b"8 created" in added.data


def import_through_preview(client, data: bytes, name: str, expected: str):
    """Upload (a preview that changes nothing), then confirm (the import)."""
    before = library_counts()
    preview = client.post("/library/manage", data={"file": (io.BytesIO(data), name)},
                          content_type="multipart/form-data")
    assert preview.status_code == 200 and expected.encode() in preview.data, preview.data[-3000:]
    assert b"Nothing has changed yet" in preview.data
    assert library_counts() == before
    page = preview.data.decode()
    fields = {key: re.search(rf'name="{key}" type="hidden" value="([^"]*)"', page).group(1)
              for key in ("filename", "payload", "digest")}
    return client.post("/library/manage", data=fields, follow_redirects=True)


def test_audit_downloads(library, client, login_as, people):
    audit = signed_off_audit(people)
    login_as("outsider")
    assert client.get(f"/audits/{audit.id}/export.csv").status_code == 404
    login_as("operator")
    csv_response = client.get(f"/audits/{audit.id}/export.csv")
    assert csv_response.status_code == 200 and csv_response.mimetype == "text/csv"
    assert csv_response.data.startswith(b"\xef\xbb\xbfcode,")  # a BOM: spreadsheets read UTF-8
    rows = list(csv.DictReader(io.StringIO(csv_response.data.decode("utf-8-sig"))))
    assert len(rows) == len(audit.items)
    first = rows[0]
    assert first["code"] == "DV-01" and first["status"] == "met"
    assert first["evidence"].startswith("note: =cmd")
    # A cell a spreadsheet would run as a formula is written as text.
    assert rows[1]["justification"] == "'=SUM(A1) is not in scope"
    json_response = client.get(f"/audits/{audit.id}/export.json")
    assert sha256_hex(json_response.data) == audit_sha(audit)
    oscal = client.get(f"/audits/{audit.id}/export.oscal.json")
    assert oscal.status_code == 200 and b"assessment-results" in oscal.data
    assert ItemStatus(rows[2]["status"]) == ItemStatus.NOT_MET


def audit_sha(audit):
    from tracker.reports.models import SignOff

    return db.session.execute(sa.select(SignOff.audit_sha256).where(SignOff.audit_id == audit.id)
                              ).scalar_one()


def test_dry_runs_list_the_changes_and_keep_none(library, runner, tmp_path):
    path = tmp_path / "lib.csv"
    path.write_text(library_io_csv().replace("Address data is validated", "Addresses checked",
                                             1), encoding="utf-8")
    before = library_counts()
    result = runner.invoke(args=["library", "import", "--dry-run", str(path)])
    assert result.exit_code == 0, result.output
    assert "updated item DV-01 (seed)" in result.output and "Nothing was changed" in result.output
    assert "title: 'Address data is validated" in result.output
    db.session.expire_all()
    assert db.session.execute(sa.select(ReadinessItem.title).where(
        ReadinessItem.code == "DV-01")).scalar_one().startswith("Address data")
    result = runner.invoke(args=["oscal", "import-catalog", "--dry-run",
                                 str(FIXTURES / "mini-catalog.json")])
    assert "Would import" in result.output and "8 created" in result.output, result.output
    assert library_counts() == before


def library_io_csv() -> str:
    from tracker.exchange import library_io

    return library_io.export_csv()
