from flask import Blueprint, render_template
from flask_login import login_required

from tracker.library import queries
from tracker.library.models import ContentKind

bp = Blueprint("library", __name__, url_prefix="/library")


@bp.get("/")
@login_required
def index():
    return render_template("library/index.html", rows=queries.domains_with_counts())


@bp.get("/<code>")
@login_required
def domain(code):
    domain = queries.domain_hub_or_404(code)
    by_kind = {kind: [c for c in domain.content if c.kind == kind] for kind in ContentKind}
    return render_template("library/domain.html", domain=domain, by_kind=by_kind,
                           items=[i for i in domain.items if i.active])


@bp.get("/items/<code>")
@login_required
def item(code):
    return render_template("library/item.html", item=queries.item_or_404(code))


@bp.get("/failures/<code>")
@login_required
def failure(code):
    return render_template("library/failure.html", failure=queries.failure_or_404(code))


@bp.get("/content/<code>")
@login_required
def content(code):
    return render_template("library/content.html", entry=queries.content_or_404(code))
