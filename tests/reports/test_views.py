"""Downloads and the "Verify a report" page."""

import io

from tests import factories
from tests.reports.conftest import work_audit
from tracker.extensions import db
from tracker.reports import render
from tracker.reports.models import ReportStatus


def test_signed_report_downloads_byte_for_byte_without_rendering(signed, client, login_as):
    audit, signoff, path = signed
    stored, mtime = path.read_bytes(), path.stat().st_mtime_ns
    login_as("operator")
    renders = render.render_count
    first = client.get(f"/audits/{audit.id}/report.pdf")
    login_as("auditor")
    second = client.get(f"/audits/{audit.id}/report.pdf")
    for response in (first, second):
        assert response.status_code == 200 and response.mimetype == "application/pdf"
        assert response.headers["Content-Disposition"].startswith("attachment;")
        assert "alpha-2026-Q3-signed.pdf" in response.headers["Content-Disposition"]
        assert response.data == stored
    assert render.render_count == renders  # served from the file, never rendered again
    assert path.stat().st_mtime_ns == mtime


def test_report_download_permissions(app, library, people, client, login_as):
    audit = work_audit(people)
    db.session.commit()
    login_as("lead")
    assert client.get(f"/audits/{audit.id}/report.pdf").status_code == 404  # not signed yet
    factories.sign_off(people["auditor"], audit, "Done.")
    db.session.commit()
    assert client.get(f"/audits/{audit.id}/report.pdf").status_code == 200
    login_as("outsider")  # another team: the audit is not even confirmed to exist
    assert client.get(f"/audits/{audit.id}/report.pdf").status_code == 404
    login_as("admin")
    assert client.get(f"/audits/{audit.id}/report.pdf").status_code == 200
    client.post("/logout")
    assert client.get(f"/audits/{audit.id}/report.pdf").status_code == 302  # sign in first
    login_as("lead")  # a signed-off audit has no draft: the signed report instead
    response = client.get(f"/audits/{audit.id}/report-draft.pdf")
    assert response.status_code == 302 and response.location.endswith("/report.pdf")


def test_a_damaged_stored_report_is_not_served(signed, client, login_as):
    audit, _, path = signed
    path.write_bytes(path.read_bytes() + b"x")
    login_as("lead")
    response = client.get(f"/audits/{audit.id}/report.pdf")
    assert response.status_code == 500
    assert "no longer matches its recorded SHA-256" in response.get_data(as_text=True)


def test_a_failed_report_keeps_the_sign_off_and_can_be_made_again(app, library, people, client,
                                                                   login_as, runner, tmp_path):
    from pathlib import Path

    cert = Path(app.config["SIGNING_CERT_PATH"])
    cert.parent.mkdir(parents=True, exist_ok=True)
    cert.write_text("not a certificate")  # a key path without its key: refused, not replaced
    audit = work_audit(people)
    signoff = factories.sign_off(people["auditor"], audit, "Done.")
    db.session.commit()
    assert signoff.report_status == ReportStatus.FAILED and audit.is_frozen
    assert "does not" in signoff.report_error
    login_as("lead")
    response = client.get(f"/audits/{audit.id}/report.pdf")
    assert response.status_code == 503 and "report create" in response.get_data(as_text=True)
    cert.unlink()
    result = runner.invoke(args=["report", "create", str(audit.id)])
    assert result.exit_code == 0, result.output
    assert client.get(f"/audits/{audit.id}/report.pdf").status_code == 200


def test_verify_page(signed, client, login_as):
    _, _, path = signed
    login_as("outsider")  # any signed-in user may verify
    page = client.get("/reports/verify")
    assert page.status_code == 200 and 'enctype="multipart/form-data"' in page.get_data(True)
    good = client.post("/reports/verify", data={"report": (io.BytesIO(path.read_bytes()),
                                                           "report.pdf")},
                       content_type="multipart/form-data")
    html = good.get_data(as_text=True)
    assert good.status_code == 200 and "Valid report" in html and "Aude Auditor" in html
    assert html.count("Passed") == 7  # signature, coverage, certificate, results,
    # checkpoint, audit, activity

    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0x01
    bad = client.post("/reports/verify", data={"report": (io.BytesIO(bytes(data)), "x.pdf")},
                      content_type="multipart/form-data")
    html = bad.get_data(as_text=True)
    assert "Not a valid report" in html and "Signature intact failed" in html

    junk = client.post("/reports/verify", data={"report": (io.BytesIO(b"hello"), "x.pdf")},
                       content_type="multipart/form-data")
    assert "Not a valid report" in junk.get_data(as_text=True)

    empty = client.post("/reports/verify", data={}, content_type="multipart/form-data")
    assert empty.status_code == 422 and "Choose the report PDF" in empty.get_data(True)


def test_verify_needs_no_sign_in(client):
    """A recipient of a report has no account here (tests/reports/test_public.py)."""
    response = client.get("/reports/verify")
    assert response.status_code == 200 and "Verify a report" in response.get_data(True)
