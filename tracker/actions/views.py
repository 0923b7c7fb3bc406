"""Corrective action pages: thin views — load (or 404) → authorize → validate → service →
commit once."""

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from tracker import clock
from tracker.actions import queries, service
from tracker.actions.forms import UNASSIGNED, ActionForm, CloseForm
from tracker.actions.models import CorrectiveAction
from tracker.audits import queries as audit_queries
from tracker.audits.models import AuditItem
from tracker.auth.models import Team
from tracker.auth.permissions import (
    can_create_action,
    can_edit_action,
    can_view_signals,
    member_team_ids,
)
from tracker.extensions import db
from tracker.forms import REFUSED, attempt
from tracker.rules import Forbidden, Refusal
from tracker.security.input import MAX_ID
from tracker.signals.models import Signal

bp = Blueprint("actions", __name__)


@bp.errorhandler(Refusal)
def refused(exc: Refusal):
    db.session.rollback()
    return render_template("errors/refused.html", message=exc.message, audit=None,
                           items=None, status=exc.status), exc.status


def _require(allowed: bool, message: str) -> None:
    if not allowed:
        raise Forbidden(message)


def _source_item(raw):
    """The audit item an action is made from (?audit_item_id=), checked like its page."""
    try:
        item_id = int(raw or 0)
    except ValueError:
        item_id = 0
    if not 0 < item_id <= MAX_ID:
        return None
    item = db.session.get(AuditItem, item_id)
    if item is None:
        return None
    audit = audit_queries.audit_or_404(current_user, item.audit_id)
    return audit_queries.item_or_404(audit, item.id)


def _source_signal(raw) -> Signal | None:
    """The signal an action is made from (?signal_id=), if there is one to see."""
    try:
        signal_id = int(raw or 0)
    except ValueError:
        return None
    if not 0 < signal_id <= MAX_ID or not can_view_signals(current_user):
        return None
    return db.session.get(Signal, signal_id)


def _creatable_teams() -> list[Team]:
    stmt = sa.select(Team).order_by(Team.name)
    if not current_user.is_admin:
        stmt = stmt.where(Team.id.in_(member_team_ids(current_user) or [-1]))
    return db.session.execute(stmt).scalars().all()


@bp.get("/actions/mine")
@login_required
def mine():
    today = clock.today()
    return render_template("actions/mine.html", today=today, is_overdue=queries.is_overdue,
                           actions=queries.my_open_actions(current_user, today))


@bp.route("/actions/new", methods=["GET", "POST"])
@login_required
def new():
    item = _source_item(request.values.get("audit_item_id"))
    signal = _source_signal(request.values.get("signal_id"))
    if item is None and signal is not None and request.method == "GET":
        # The control guarding against it in the person's teams' latest audits.
        item = queries.signal_audit_item(signal.id, [t.id for t in _creatable_teams()])
    teams = [item.audit.team] if item else _creatable_teams()
    _require(any(can_create_action(current_user, t.id) for t in teams),
             "Only a team's lead and operators (or an admin) can create its actions.")
    form = ActionForm()
    form.team_id.choices = [(t.id, t.name) for t in teams]
    # Only a team offered in the form: anything else typed in falls back to the first.
    chosen = next((t.id for t in teams if t.id == form.team_id.data), teams[0].id)
    team_id = item.audit.team_id if item else chosen
    members = audit_queries.team_members(team_id)
    form.set_owners(members)
    if request.method == "GET":
        today = clock.today()
        form.team_id.data = team_id
        if item is not None:
            form.title.data = f"{item.code} {item.title}"[:200]
            form.owner_id.data = str(item.owner_id) if item.owner_id else UNASSIGNED
            form.audit_item_id.data = str(item.id)
        if signal is not None:
            code = f"{item.code} " if item else ""
            form.title.data = f"{code}Signal: {signal.summary}"[:200]
            form.signal_id.data = str(signal.id)
        form.due_on.data = service.suggested_due(item, today)
    elif form.validate_on_submit():
        action = attempt(form, service.create_action, title=form.title.data,
                         team=db.session.get(Team, team_id), audit_item=item,
                         owner=form.chosen_owner(members), due_on=form.due_on.data,
                         priority=form.priority.data,
                         signal_id=signal.id if signal else None)
        if action is not REFUSED:
            flash("Action created.", "success")
            return redirect(url_for("actions.detail", action_id=action.id))
    return render_template("actions/new.html", form=form, item=item, signal=signal), \
        422 if request.method == "POST" else 200


def _edit_form(action: CorrectiveAction) -> ActionForm:
    form = ActionForm(formdata=None, title=action.title, due_on=action.due_on,
                      priority=action.priority.value, status=action.status.value,
                      owner_id=str(action.owner_id) if action.owner_id else UNASSIGNED)
    del form.team_id
    return form


def _render_detail(action, *, status=200, form=None, close_form=None):
    if form is None:
        form = _edit_form(action)
    form.set_owners(audit_queries.team_members(action.team_id))
    return render_template(
        "actions/detail.html", action=action, form=form,
        close_form=close_form or CloseForm(formdata=None), today=clock.today(),
        overdue=queries.is_overdue(action, clock.today()),
        can_edit=can_edit_action(current_user, action)), status


@bp.get("/actions/<int:action_id>")
@login_required
def detail(action_id):
    return _render_detail(queries.action_or_404(current_user, action_id))


@bp.post("/actions/<int:action_id>")
@login_required
def update(action_id):
    action = queries.action_or_404(current_user, action_id)
    _require(can_edit_action(current_user, action),
             f"Only members of {action.team.name} (or an admin) can change its actions.")
    form = ActionForm()
    del form.team_id
    members = audit_queries.team_members(action.team_id)
    form.set_owners(members)
    if not form.validate_on_submit():
        return _render_detail(action, form=form, status=422)
    changed = attempt(form, service.update_action, action, title=form.title.data,
                      owner=form.chosen_owner(members), due_on=form.due_on.data,
                      priority=form.priority.data, status=form.status.data)
    if changed is REFUSED:
        return _render_detail(queries.action_or_404(current_user, action_id), form=form,
                              status=422)
    flash("Saved." if changed else "Nothing to save: the action already had these values.",
          "success" if changed else "info")
    return redirect(url_for("actions.detail", action_id=action_id))


@bp.post("/actions/<int:action_id>/close")
@login_required
def close(action_id):
    action = queries.action_or_404(current_user, action_id)
    _require(can_edit_action(current_user, action),
             f"Only members of {action.team.name} (or an admin) can close its actions.")
    form = CloseForm()
    if not form.validate_on_submit():
        return _render_detail(action, close_form=form, status=422)
    if attempt(form, service.close_action, action, outcome=form.outcome.data,
               note=form.note.data) is REFUSED:
        return _render_detail(queries.action_or_404(current_user, action_id),
                              close_form=form, status=422)
    flash("Action closed.", "success")
    return redirect(url_for("actions.detail", action_id=action_id))
