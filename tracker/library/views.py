import base64
import zlib

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from tracker.auth.permissions import can_manage_library, dashboard_team_scope
from tracker.dashboard import queries as readiness
from tracker.extensions import db
from tracker.forms import attach_error
from tracker.library import queries
from tracker.library.models import ContentKind
from tracker.library.seeding import LibraryFileError
from tracker.signals import queries as signal_queries

bp = Blueprint("library", __name__, url_prefix="/library")


@bp.get("/")
@login_required
def index():
    return render_template("library/index.html", rows=queries.domains_with_counts())


@bp.route("/manage", methods=["GET", "POST"])
@login_required
def manage():
    """Admin: export the library (YAML, CSV, XLSX, OSCAL catalog) and import a file: the
    upload shows what would change; only the confirmation writes."""
    from tracker.exchange.forms import LibraryConfirmForm, LibraryImportForm
    from tracker.exchange.service import import_file, preview_file

    if not can_manage_library(current_user):
        abort(403)
    form, confirm = LibraryImportForm(), LibraryConfirmForm()
    status, preview, stale = 200, None, False
    if "digest" in request.form:
        if confirm.validate_on_submit():
            name, data = confirm.filename.data, _unpack(confirm.payload.data)
            try:
                preview, digest = preview_file(name, data)
            except LibraryFileError as exc:
                attach_error(form, "file", f"{exc}. Nothing was changed.")
                return _manage_page(form, confirm, None, False), 422
            if digest == confirm.digest.data:
                result = import_file(current_user, name, data)
                db.session.commit()
                flash(f"Imported {name}: {result.summary()}.", "success")
                return redirect(url_for("library.manage"))
            confirm.digest.data, stale, status = digest, True, 409
        else:
            status = 422
    elif form.validate_on_submit():
        upload = form.file.data
        name, data = upload.filename or "upload", upload.read()
        try:
            preview, digest = preview_file(name, data)
        except LibraryFileError as exc:
            attach_error(form, "file", f"{exc}. Nothing was changed; fix the file and import "
                                       "it again.")
            status = 422
        else:
            confirm.filename.data, confirm.payload.data = name, _pack(data)
            confirm.digest.data = digest
    elif form.is_submitted():
        status = 422
    return _manage_page(form, confirm, preview, stale), status


def _pack(data: bytes) -> str:
    return base64.b64encode(zlib.compress(data)).decode()


MAX_IMPORT_BYTES = 32 * 1024 * 1024


def _unpack(text: str) -> bytes:
    try:
        inflate = zlib.decompressobj()
        data = inflate.decompress(base64.b64decode(text, validate=True), MAX_IMPORT_BYTES)
    except (ValueError, zlib.error):
        abort(400)
    if inflate.unconsumed_tail:
        abort(413)
    return data


def _manage_page(form, confirm, preview, stale: bool) -> str:
    return render_template("library/manage.html", form=form, confirm=confirm, preview=preview,
                           stale=stale, rows=queries.domains_with_counts())


@bp.errorhandler(queries.SeveralSources)
def several_sources(exc: queries.SeveralSources):
    """A code that more than one source uses (AC-1 of NIST rev5 and of its LOW baseline)."""
    endpoint = request.endpoint or "library.index"
    return render_template("library/choose_source.html", code=exc.code, found=exc.found,
                           endpoint=endpoint), 300


@bp.get("/<code>")
@login_required
def domain(code):
    domain = queries.domain_hub_or_404(code, request.args.get("source"))
    by_kind = {kind: [c for c in domain.content if c.kind == kind] for kind in ContentKind}
    # The hub with each item's status in every team's latest audit (dashboard feature).
    grid = readiness.item_status_grid(dashboard_team_scope(current_user), domain_id=domain.id)
    return render_template("dashboard/library_domain.html", domain=domain, by_kind=by_kind,
                           items=[i for i in domain.items if i.active], grid=grid)


@bp.get("/items/<code>")
@login_required
def item(code):
    item = queries.item_or_404(code, request.args.get("source"))
    grid = readiness.item_status_grid(dashboard_team_scope(current_user),
                                      readiness_item_ids=[item.id], compact_allowed=False)
    return render_template("dashboard/library_item.html", item=item, grid=grid,
                           signals=signal_queries.signals_guarded_by(item),
                           unmet=item.id in signal_queries.unmet_items_in_latest([item.id]))


@bp.get("/failures/<code>")
@login_required
def failure(code):
    failure = queries.failure_or_404(code)
    signals = signal_queries.recent_for_failure(failure)
    return render_template("signals/library_failure.html", failure=failure, signals=signals,
                           flagged=signal_queries.flagged_ids([s.id for s in signals]))


@bp.get("/content/<code>")
@login_required
def content(code):
    return render_template("library/content.html", entry=queries.content_or_404(code))
