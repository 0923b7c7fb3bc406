"""The search page: every kind this person may see, grouped, or one kind in full."""

from flask import Blueprint, render_template, request
from flask_login import current_user, login_required

from tracker.search.kinds import KINDS
from tracker.search.queries import search

bp = Blueprint("search", __name__)


@bp.get("/search")
@login_required
def page():
    text = request.args.get("q", "")
    kind = request.args.get("kind") or None
    results = search(current_user, text, kind)
    return render_template("search/index.html", text=text, kind=kind, results=results,
                           kinds=KINDS)
