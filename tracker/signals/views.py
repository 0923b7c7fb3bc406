"""Frontline signals: log what support and operators saw, see the controls it points to."""

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from tracker.auth.permissions import (
    can_report_signal,
    can_triage_signal,
    can_view_signals,
    dashboard_team_scope,
)
from tracker.dashboard import queries as readiness
from tracker.db import utcnow
from tracker.extensions import db
from tracker.forms import attach_error
from tracker.library.models import Domain, FailurePattern
from tracker.rules import Forbidden, RuleViolation
from tracker.security.input import page_arg
from tracker.signals import queries, service
from tracker.signals.forms import SEVERITY_LABELS, SOURCE_LABELS, NoteForm, SignalForm
from tracker.signals.models import Severity

bp = Blueprint("signals", __name__, url_prefix="/signals")
PER_PAGE = 25


def _require(allowed: bool, message: str = "Your account cannot do that with signals. If "
             "you think it should, ask an admin.") -> None:
    if not allowed:
        raise Forbidden(message)


@bp.app_context_processor
def labels():
    return {"source_labels": SOURCE_LABELS, "severity_labels": SEVERITY_LABELS}


@bp.get("/")
@login_required
def index():
    _require(can_view_signals(current_user))
    filters = {
        "state": request.args.get("state", "unresolved"),
        "domain": (request.args.get("domain") or "").upper() or None,
        "severity": request.args.get("severity") or None,
        "failure": (request.args.get("failure") or "").upper() or None,
        "flagged": request.args.get("flagged") == "1",
    }
    if filters["state"] not in queries.STATE_FILTERS:
        filters["state"] = "unresolved"
    page = db.paginate(queries.signals_select(**filters), page=page_arg(), per_page=PER_PAGE,
                       error_out=False)
    flagged = queries.flagged_ids([s.id for s in page.items])
    return render_template(
        "signals/index.html", page=page, flagged=flagged, filters=filters,
        counts=queries.counts_by_state(), domains=readiness.active_domains(),
        severities=list(Severity),
        link_args={k: (int(v) if k == "flagged" else v) for k, v in filters.items() if v})


def _form_choices(form: SignalForm) -> list[Domain]:
    domains = readiness.active_domains()
    form.set_choices(queries.failures_by_domain(), domains)
    return domains


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    _require(can_report_signal(current_user))
    form = SignalForm()
    domains = _form_choices(form)
    if request.method == "GET":
        form.observed_at.data = utcnow().replace(second=0, microsecond=0)
        _prefill(form, domains)
    if form.validate_on_submit():
        chosen = db.session.execute(
            sa.select(FailurePattern).where(FailurePattern.id.in_(form.failures.data or []))
        ).scalars().all()
        domain = next((d for d in domains if d.id == form.domain.data), None)
        try:
            signal = service.report_signal(
                current_user, summary=form.summary.data, source=form.source.data,
                severity=form.severity.data, observed_at=form.observed_at.data,
                failures=chosen, domain=domain, details=form.details.data or "")
        except RuleViolation as exc:
            db.session.rollback()
            attach_error(form, exc.field, exc.message)
        else:
            db.session.commit()
            flash("Signal logged. Below: the controls that should have caught it, and how each "
                  "team stands on them.", "success")
            return redirect(url_for("signals.detail", signal_id=signal.id))
    status = 422 if request.method == "POST" else 200
    return render_template("signals/new.html", form=form), status


def _prefill(form: SignalForm, domains: list[Domain]) -> None:
    """?failure=DV-F1 or ?domain=DV, from the library pages' "Report a signal" links."""
    code = (request.args.get("failure") or "").upper()
    if code:
        failure_id = db.session.execute(
            sa.select(FailurePattern.id).where(FailurePattern.code == code)).scalar()
        form.failures.data = [failure_id] if failure_id else []
    domain_code = (request.args.get("domain") or "").upper()
    form.domain.data = next((d.id for d in domains if d.code == domain_code), 0)


@bp.get("/<int:signal_id>")
@login_required
def detail(signal_id):
    signal = queries.signal_or_404(signal_id)
    _require(can_view_signals(current_user))
    return _render_detail(signal, NoteForm(prefix="ack"), NoteForm(prefix="resolve"))


def _render_detail(signal, ack_form, resolve_form, status=200):
    items = queries.guarding_items(signal)
    scope = dashboard_team_scope(current_user)
    grid = readiness.item_status_grid(scope, readiness_item_ids=[i.id for i in items])
    return render_template(
        "signals/detail.html", signal=signal, items=items, grid=grid,
        on_unmet=bool(queries.flagged_ids([signal.id])), scoped=scope is not None,
        ack_form=ack_form, resolve_form=resolve_form,
        can_triage=can_triage_signal(current_user),
    ), status


@bp.post("/<int:signal_id>/acknowledge")
@login_required
def acknowledge(signal_id):
    return _triage(signal_id, "ack", service.acknowledge, "Acknowledged.")


@bp.post("/<int:signal_id>/resolve")
@login_required
def resolve(signal_id):
    return _triage(signal_id, "resolve", service.resolve, "Resolved.")


def _triage(signal_id: int, prefix: str, action, done: str):
    signal = queries.signal_or_404(signal_id)
    _require(can_triage_signal(current_user), "Leads, auditors and admins acknowledge and "
             "resolve signals; you can still read and report them.")
    form = NoteForm(prefix=prefix)
    if form.validate_on_submit():
        try:
            action(current_user, signal, form.note.data)
        except RuleViolation as exc:
            db.session.rollback()
            attach_error(form, exc.field, exc.message)
            signal = queries.signal_or_404(signal_id)
        else:
            db.session.commit()
            flash(f"{done} The note is on the signal and in the activity log.", "success")
            return redirect(url_for("signals.detail", signal_id=signal.id))
    other = NoteForm(prefix="resolve" if prefix == "ack" else "ack", formdata=None)
    forms = (form, other) if prefix == "ack" else (other, form)
    return _render_detail(signal, *forms, status=422)

