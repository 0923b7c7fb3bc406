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
    """Admin: export the library (YAML, CSV, OSCAL catalog) and import a file."""
    from tracker.exchange.forms import LibraryImportForm
    from tracker.exchange.service import import_file

    if not can_manage_library(current_user):
        abort(403)
    form = LibraryImportForm()
    status = 200
    if form.validate_on_submit():
        upload = form.file.data
        try:
            result = import_file(current_user, upload.filename or "upload", upload.read())
        except LibraryFileError as exc:
            db.session.rollback()
            attach_error(form, "file", f"{exc}. Nothing was changed; fix the file and import "
                                       "it again.")
            status = 422
        else:
            db.session.commit()
            flash(f"Imported {upload.filename}: {result.changes} changes ({result.created} "
                  f"created, {result.updated} updated, {result.deactivated} deactivated).",
                  "success")
            return redirect(url_for("library.manage"))
    elif form.is_submitted():
        status = 422
    return render_template("library/manage.html", form=form,
                           rows=queries.domains_with_counts()), status


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
