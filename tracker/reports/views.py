"""Signed reports: download the stored PDF, download a DRAFT, verify an uploaded report."""

import io
import re

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    send_file,
    url_for,
)
from flask_login import current_user, login_required

from tracker.auth.permissions import (
    can_download_draft,
    can_download_report,
    can_retry_report,
    can_view_audit,
)
from tracker.extensions import db
from tracker.reports import keys, queries
from tracker.reports import service as reports
from tracker.reports.forms import VerifyReportForm
from tracker.reports.models import ReportStatus
from tracker.reports.render import render_report_pdf
from tracker.reports.service import StoredReportError, read_stored_report
from tracker.reports.verify import verify_report
from tracker.security import throttling

bp = Blueprint("reports", __name__)

WELL_KNOWN = "/.well-known/readiness-tracker"
# Public, so limited per client address: verifying costs a signature validation, and the
# certificate is fetched once per recipient, not in a loop.
PUBLIC_LIMITS = {
    "REPORT_VERIFY_LIMIT_PER_ADDRESS": "10 per minute; 100 per hour",
    "SIGNING_CERT_LIMIT_PER_ADDRESS": "60 per minute",
}


def _limited_per_address(endpoint: str, setting: str, methods: list[str] | None = None):
    """Flask-Limiter's per-address limit (tracker/security/throttling.py), from `setting`."""
    throttling.LIMITED_ENDPOINTS.add(f"{bp.name}.{endpoint}")
    return throttling.limiter.limit(
        lambda: current_app.config.get(setting, PUBLIC_LIMITS[setting]),
        key_func=throttling.get_remote_address, methods=methods, scope=f"public-{endpoint}",
        error_message="Too many requests from your network address.")


def _visible_audit_or_404(audit_id: int):
    audit = queries.audit_or_404(audit_id)
    if not can_view_audit(current_user, audit):
        abort(404)  # another team's audit: do not even confirm it exists
    return audit


def _unavailable(status: int, message: str):
    return render_template("errors/error.html", status=status, message=message), status


def _filename(audit, suffix: str) -> str:
    team = re.sub(r"[^a-z0-9]+", "-", audit.team.name.lower()).strip("-") or "team"
    return f"readiness-{team}-{audit.period}-{suffix}.pdf"


def _pdf_response(data: bytes, filename: str, etag: str | None = None):
    response = send_file(io.BytesIO(data), mimetype="application/pdf", as_attachment=True,
                         download_name=filename, etag=etag or False, max_age=0)
    response.headers["Cache-Control"] = "private, no-cache"
    return response


@bp.get("/audits/<int:audit_id>/report.pdf")
@login_required
def download(audit_id):
    """The signed report, byte for byte as stored at sign-off: read, never rendered."""
    audit = _visible_audit_or_404(audit_id)
    if not can_download_report(current_user, audit):
        abort(404)  # not signed off: there is no report yet
    signoff = queries.signoff_for(audit.id)
    if signoff is None:
        abort(404)
    if signoff.report_status == ReportStatus.PENDING:
        return _unavailable(503, "The signed report is still being made. Try again in a "
                                 "minute.")
    if signoff.report_status == ReportStatus.FAILED:
        return _unavailable(503, f"The signed report failed: {signoff.report_error} The "
                                 "sign-off itself is recorded; the team's lead or an auditor "
                                 "can try again from the audit page (or an admin with "
                                 f"`flask --app app report create {audit.id}`).")
    try:
        data = read_stored_report(signoff)
    except StoredReportError as exc:
        return _unavailable(500, f"{exc} Tell an admin.")
    return _pdf_response(data, _filename(audit, "signed"), etag=signoff.pdf_sha256)


@bp.post("/audits/<int:audit_id>/report/retry")
@login_required
def retry(audit_id):
    """Make a failed signed report again (in the background, like the first time)."""
    audit = _visible_audit_or_404(audit_id)
    signoff = queries.signoff_for(audit.id)
    if signoff is None or not can_download_report(current_user, audit):
        abort(404)
    if not can_retry_report(current_user, audit):
        abort(403)
    reports.retry_report(current_user, signoff)
    db.session.commit()
    flash("The signed report is being made again.", "success")
    return redirect(url_for("audits.detail", audit_id=audit.id, _anchor="downloads"))


@bp.get("/audits/<int:audit_id>/report-draft.pdf")
@login_required
def draft(audit_id):
    """An unsigned DRAFT of an audit in progress, marked DRAFT on every page."""
    audit = _visible_audit_or_404(audit_id)
    if audit.is_frozen and can_download_report(current_user, audit):
        return redirect(url_for("reports.download", audit_id=audit.id))
    if not can_download_draft(current_user, audit):
        abort(403)
    return _pdf_response(render_report_pdf(audit), _filename(audit, "DRAFT"))


@bp.route("/reports/verify", methods=["GET", "POST"])
@_limited_per_address("verify", "REPORT_VERIFY_LIMIT_PER_ADDRESS", methods=["POST"])
def verify():
    """Upload a report PDF; the same verdict as `flask --app app report verify`. Open to
    anyone a report was sent to, signed in or not; the upload is read in memory and kept
    nowhere."""
    form = VerifyReportForm()
    verdict, filename, status = None, None, 200
    if form.validate_on_submit():
        upload = form.report.data
        filename = upload.filename
        verdict = verify_report(upload.read())
    elif form.is_submitted():
        status = 422
    return render_template("reports/verify.html", form=form, verdict=verdict,
                           filename=filename), status


# --- the published signing certificate ------------------------------------------------------

def _our_certificate_or_404():
    cert = keys.our_certificate()
    if cert is None:
        abort(404)  # no report has been signed here yet: nothing to publish
    return cert


def _public(response):
    response.headers["Cache-Control"] = "public, max-age=300"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.get(f"{WELL_KNOWN}/signing-cert.pem")
@_limited_per_address("signing_cert_pem", "SIGNING_CERT_LIMIT_PER_ADDRESS")
def signing_cert_pem():
    """The certificate reports and activity checkpoints are signed with."""
    cert = _our_certificate_or_404()
    return _public(Response(keys.certificate_pem(cert), mimetype="application/x-pem-file"))


@bp.get(f"{WELL_KNOWN}/signing-cert.json")
@_limited_per_address("signing_cert_json", "SIGNING_CERT_LIMIT_PER_ADDRESS")
def signing_cert_json():
    """The certificate's SHA-256 fingerprint, to compare with a report's signer."""
    cert = _our_certificate_or_404()
    validity = cert["tbs_certificate"]["validity"]
    return _public(jsonify({
        "organisation": current_app.config["ORGANISATION_NAME"],
        "subject": cert.subject.human_friendly,
        "sha256_fingerprint": keys.fingerprint(cert),
        "sha256": cert.sha256.hex(),
        "not_before": validity["not_before"].native.isoformat(),
        "not_after": validity["not_after"].native.isoformat(),
        "certificate_pem_url": url_for("reports.signing_cert_pem", _external=True),
        "verify_url": url_for("reports.verify", _external=True),
        "check": "A report or activity checkpoint is ours only if its signing certificate's "
                 "SHA-256 fingerprint equals sha256_fingerprint: `pdfsig -dump report.pdf`, "
                 "then `openssl pkcs7 -inform DER -in report.pdf.sig0 -print_certs | "
                 "openssl x509 -noout -fingerprint -sha256`.",
    }))
