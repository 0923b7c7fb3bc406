"""The search page: every kind this person may see, grouped, or one kind in full; and the
top bar's suggestions, the same search as JSON for the command palette."""

from flask import Blueprint, jsonify, render_template, request
from flask_login import current_user, login_required

from tracker.search.kinds import KINDS
from tracker.search.queries import search

bp = Blueprint("search", __name__)

SUGGESTIONS = 8


@bp.get("/search")
@login_required
def page():
    text = request.args.get("q", "")
    kind = request.args.get("kind") or None
    results = search(current_user, text, kind)
    return render_template("search/index.html", text=text, kind=kind, results=results,
                           kinds=KINDS)


@bp.get("/search/suggest")
@login_required
def suggest():
    """The page's best hits, exact codes first, for the palette (session cookie, no token:
    the API is for scripts)."""
    found = search(current_user, request.args.get("q", ""))
    hits = sorted((r for g in found.groups for r in g.results), key=lambda r: not r.exact)
    labels = {g.key: g.kind.label for g in found.groups}
    return jsonify(results=[{"kind": r.kind, "label": labels[r.kind], "title": r.title,
                             "context": r.context, "url": r.url}
                            for r in hits[:SUGGESTIONS]])
