"""Downloads: an audit's results (CSV, JSON, OSCAL) and the library (YAML, CSV, OSCAL).

Endpoints for other pages: `exchange.audit_csv`, `exchange.audit_json`,
`exchange.audit_oscal` (signed-off audits) and `exchange.library_export` (admins)."""

from flask import Blueprint, Response, abort, current_app
from flask_login import current_user, login_required

from tracker.api.schemas import MAX_ID
from tracker.audits.models import Audit
from tracker.auth.permissions import can_manage_library, can_view_audit
from tracker.exchange import audit_results, library_io, oscal
from tracker.extensions import db

bp = Blueprint("exchange", __name__)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _audit_or_404(audit_id: int) -> Audit:
    audit = db.session.get(Audit, audit_id) if audit_id <= MAX_ID else None
    if audit is None or not can_view_audit(current_user, audit):
        abort(404)
    return audit


def _download(body: str | bytes, mimetype: str, name: str) -> Response:
    return Response(body, mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.get("/audits/<int:audit_id>/export.csv")
@login_required
def audit_csv(audit_id):
    audit = _audit_or_404(audit_id)
    return _download(audit_results.audit_csv(audit), "text/csv",
                     audit_results.filename(audit, "csv"))


@bp.get("/audits/<int:audit_id>/export.xlsx")
@login_required
def audit_xlsx(audit_id):
    audit = _audit_or_404(audit_id)
    return _download(audit_results.audit_xlsx(audit), XLSX,
                     audit_results.filename(audit, "xlsx"))


@bp.get("/audits/<int:audit_id>/export.json")
@login_required
def audit_json(audit_id):
    audit = _audit_or_404(audit_id)
    return _download(audit_results.audit_json(audit), "application/json",
                     audit_results.filename(audit, "json"))


@bp.get("/audits/<int:audit_id>/export.oscal.json")
@login_required
def audit_oscal(audit_id):
    audit = _audit_or_404(audit_id)
    if not audit.is_frozen:
        abort(404)
    return _download(oscal.assessment_results_json(audit), "application/json",
                     audit_results.filename(audit, "oscal.json"))


LIBRARY_FORMATS = {
    "yaml": ("application/yaml", "readiness-library.yaml", library_io.export_yaml),
    "csv": ("text/csv", "readiness-library.csv", library_io.export_csv),
    "xlsx": (XLSX, "readiness-library.xlsx", library_io.export_xlsx),
    "oscal": ("application/json", "readiness-library.oscal.json", lambda: oscal.catalog_json(
        f"{current_app.config['ORGANISATION_NAME']} readiness library")),
}


@bp.get("/library/export/<fmt>")
@login_required
def library_export(fmt):
    if not can_manage_library(current_user):
        abort(403)
    if fmt not in LIBRARY_FORMATS:
        abort(404)
    mimetype, name, export = LIBRARY_FORMATS[fmt]
    return _download(export(), mimetype, name)
