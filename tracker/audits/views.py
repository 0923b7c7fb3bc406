"""Audit pages: thin views — load (or 404) → authorize → validate → service → commit once."""

from dataclasses import dataclass
from itertools import groupby

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user, login_required
from markupsafe import Markup
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import SelectChoice

from tracker import cache, clock
from tracker.actions import queries as action_queries
from tracker.actions import service as action_service
from tracker.audits import queries, service, vocabulary
from tracker.audits.forms import (
    NO_CHANGE,
    UNASSIGNED,
    BulkForm,
    CommentForm,
    EvidenceFileForm,
    EvidenceLinkForm,
    EvidenceNoteForm,
    EvidenceReplaceForm,
    ItemForm,
    MarkRestForm,
    ReturnForm,
    SignOffForm,
    StartAuditForm,
    SubmitForm,
    VerdictForm,
)
from tracker.audits.models import (
    STATUS_LABELS,
    Audit,
    AuditItem,
    AuditState,
    EvidenceKind,
    ItemStatus,
)
from tracker.audits.service import StaleItem
from tracker.audits.storage import evidence_path, format_size, size_limit_message
from tracker.auth.models import User
from tracker.auth.permissions import (
    can_add_evidence,
    can_comment,
    can_manage_audit,
    can_remove_evidence,
    can_return,
    can_review,
    can_sign_off,
    can_start_any_audit,
    can_start_audit,
    can_start_next_quarter,
    can_submit,
    can_update_item,
    is_member,
)
from tracker.cache import page_cache
from tracker.extensions import db
from tracker.forms import REFUSED, attach_error, attempt
from tracker.rules import Forbidden, Refusal, RuleViolation
from tracker.security.input import page_arg

bp = Blueprint("audits", __name__)

OPEN_GROUPS_UP_TO = 40  # more matching items than this: domain groups start collapsed
ITEMS_PER_PAGE = 200  # the audit page's rows at most: a 5,000-item audit is 25 pages


@bp.errorhandler(Refusal)
def refused(exc: Refusal):
    """Every refusal the forms do not show next to a field: what happened, and the way back."""
    db.session.rollback()
    audit_id = (request.view_args or {}).get("audit_id")
    audit = db.session.get(Audit, audit_id) if audit_id else None
    return render_template("errors/refused.html", message=exc.message, audit=audit,
                           items=getattr(exc, "items", None), status=exc.status), exc.status


def _require(allowed: bool, message: str | None = None) -> None:
    if not allowed:
        raise Forbidden(message or "You do not have permission to do that. If you think you "
                                   "should, ask your team lead or an admin.")


def _require_in_review(audit: Audit) -> None:
    service.check_state(audit, (AuditState.IN_REVIEW,), service.not_in_review_message)
    if current_user.is_auditor and is_member(current_user, audit.team_id):
        raise Forbidden(f"You are a member of {audit.team.name}, so you cannot review or sign "
                        "off its audit. Another auditor must.")


def _page() -> int:
    return page_arg()


# --- lists -------------------------------------------------------------------------------

@bp.get("/audits/")
@login_required
def index():
    today = clock.today()
    filters = queries.AuditFilters.from_args(request.args)
    page = queries.visible_audits(current_user, filters, _page())
    summaries = queries.summaries_for([a.id for a in page.items])
    current = service.period_for(today)
    missing = queries.teams_missing_period(current_user, current)
    return render_template(
        "audits/index.html", page=page, summaries=summaries, filters=filters,
        teams=queries.visible_teams(current_user), periods=queries.visible_periods(current_user),
        states=list(AuditState), current_period=current, missing=missing,
        latest=queries.latest_audits_of([t.id for t in missing]),
    )


@bp.get("/audits/my-items")  # the same page under the audits path (make bench asks for it)
@bp.get("/my-items")  # registered first: the address url_for builds
@login_required
@page_cache(depends_on=queries.ORGANISATION_PAGE_CHAINS)
def my_items():
    today = clock.today()
    view = queries.my_items_view(request.args)
    page = queries.my_items(current_user, today, view=view, page=_page())
    return render_template("audits/my_items.html", page=page, view=view,
                           views=queries.MY_ITEMS_VIEWS, my_items_args=queries.my_items_args,
                           today=today,
                           due_soon=queries.due_soon_limit(today),
                           open_statuses=service.OPEN_STATUSES)


@bp.get("/review")
@login_required
def review_queue():
    _require(current_user.is_auditor, message="The review queue is for auditors.")
    audits = queries.review_queue(current_user)
    return render_template("audits/review_queue.html", audits=audits,
                           summaries=queries.summaries_for([a.id for a in audits]),
                           own_team=queries.own_team_reviews(current_user))


# --- starting an audit ---------------------------------------------------------------------

@bp.route("/audits/new", methods=["GET", "POST"])
@login_required
def new():
    _require(can_start_any_audit(current_user),
             message="Only a team lead can start an audit. Ask your team lead.")
    previous = None
    previous_id = request.values.get("previous", request.values.get("previous_id", ""))
    if previous_id.isdigit():
        previous = queries.audit_or_404(current_user, int(previous_id))
        _require(can_start_next_quarter(current_user, previous),
                 f"Only a lead of {previous.team.name} can start its next audit.")
    teams = [previous.team] if previous else queries.teams_led_by(current_user)
    domains = queries.scope_choices(previous)
    form = StartAuditForm()
    form.team_id.choices = [SelectChoice(t.id, t.name) for t in teams]
    form.domains.choices = [SelectChoice(d.id, f"{d.code} · {d.name}") for d in domains]
    if previous:  # the quarter after it, whatever was posted
        form.period.data = service.next_period(previous.period)
    if request.method == "GET":
        team_id = request.args.get("team", type=int)
        if all(t.id != team_id for t in teams):
            team_id = teams[0].id if teams else None
        period = form.period.data or service.free_period(team_id,
                                                         service.period_for(clock.today()))
        form.fill_defaults(period=period, team_id=team_id, previous=previous,
                           domain_ids=[d.id for d in previous.domains] if previous
                           else [d.id for d in domains if d.active])
    elif form.validate_on_submit():
        team = next(t for t in teams if t.id == form.team_id.data)
        _require(can_start_audit(current_user, team.id))
        chosen = [d for d in domains if d.id in set(form.domains.data or [])]
        if previous:
            audit = attempt(form, service.start_next_quarter, previous, domains=chosen,
                             due_date=form.due_date.data)
        else:
            audit = attempt(form, service.start_audit, team, form.period.data, chosen,
                             due_date=form.due_date.data)
        if audit is not REFUSED:
            flash(f"Started the {audit.period} audit of {audit.team.name} with "
                  f"{len(audit.items)} items. Assign owners, then open it for work.", "success")
            return redirect(url_for("audits.detail", audit_id=audit.id))
    status = 422 if request.method == "POST" else 200
    existing = _taken_by(form) if form.period.errors else None
    return render_template("audits/new.html", form=form, previous=previous, existing=existing,
                           next_free=existing and service.free_period(existing.team_id,
                                                                      existing.period)), status


def _taken_by(form: StartAuditForm) -> Audit | None:
    """The team's audit for the period the form was refused for, to link it."""
    try:
        period = service.parse_period(form.period.data)
    except RuleViolation:
        return None
    return queries.audit_for_period(form.team_id.data, period)


# --- the audit page ---------------------------------------------------------------------------

@bp.get("/audits/<int:audit_id>")
@login_required
@page_cache(depends_on=queries.AUDIT_PAGE_CHAINS)
def detail(audit_id):
    audit = queries.audit_or_404(current_user, audit_id)
    return _render_detail(audit, queries.sign_off_of(audit))


def _owner_choices(members, *, keep: bool, owner: User | None = None) -> list[SelectChoice]:
    """`owner`: the item's owner, offered (and kept on a save) even after leaving the team,
    so that a lead's save of something else does not unassign them unseen."""
    choices = [SelectChoice(NO_CHANGE, "— keep —")] if keep else []
    choices.append(SelectChoice(UNASSIGNED, "Unassigned"))
    choices += [SelectChoice(str(u.id), u.name if u.active else f"{u.name} (deactivated)")
                for u in members]
    if owner is not None and owner not in members:
        choices.append(SelectChoice(str(owner.id), f"{owner.name} (no longer in the team)"))
    return choices


def _render_detail(audit: Audit, sign_off, *, bulk_form: BulkForm | None = None,
                   status: int = 200):
    today = clock.today()
    summary = queries.audit_summary(audit)
    filters = queries.ItemFilters.from_args(request.args,
                                            {d.domain.code for d in summary.domains})
    if bulk_form is None and can_manage_audit(current_user, audit):
        bulk_form = BulkForm(formdata=None)
    selected = set(bulk_form.item_ids.data or []) if bulk_form else set()

    page = _page()

    def heavy_parts() -> dict:
        listing = queries.audit_items_page(audit, filters, today, page, ITEMS_PER_PAGE)
        items = listing.items
        members = queries.team_members(audit.team_id)
        parts = {"filters_form": render_template(
            "audits/_filters.html", audit=audit, filters=filters, summary=summary,
            members=members, count=listing.total, status_labels=STATUS_LABELS)}
        parts["item_tables"] = render_template(
            "audits/_item_groups.html", audit=audit, filters=filters, listing=listing,
            groups=queries.group_by_domain(items, summary),
            open_groups=listing.total <= OPEN_GROUPS_UP_TO,
            evidence=queries.evidence_counts(audit, items),
            bulk=bulk_form is not None, selected=selected, today=today,
            open_statuses=service.OPEN_STATUSES)
        overdue = queries.overdue_count(audit, today)
        for part in ("summary", "by_status"):
            parts[part] = render_template(f"audits/_{part}.html", audit=audit, summary=summary,
                                          overdue=overdue)
        parts["activity"] = render_template("audits/_recent_activity.html",
                                            activity=queries.audit_activity(audit))
        if bulk_form is not None:
            bulk_form.owner_id.choices = _owner_choices(members, keep=True)
        parts["bulk_fields"] = (render_template("audits/_bulk_fields.html", bulk_form=bulk_form)
                                if bulk_form is not None else "")
        return parts

    # Summary, filters, item tables, recent activity and the bulk fields are the page's weight,
    # the same for everyone who may or may not change many items at once, and hold no CSRF
    # token: shared by the viewers of one version of the audit. A form sent back with its
    # errors is rendered afresh.
    parts = (cache.shared("audit-page", queries.AUDIT_DATA_CHAINS, {"audit_id": audit.id},
                          (sorted(filters.args().items()), page, bulk_form is not None),
                          heavy_parts)
             if status == 200 and not selected else heavy_parts())
    lead_here = can_start_next_quarter(current_user, audit)
    return render_template(
        "audits/detail.html", audit=audit, summary=summary, filters=filters,
        cached={name: Markup(html) for name, html in parts.items()},  # nosec B704
        sign_off=sign_off,
        next_audit=queries.next_audit_of(audit) if lead_here else None,
        bulk_form=bulk_form, today=today, open_statuses=service.OPEN_STATUSES,
        status_labels=STATUS_LABELS,
    ), status


@bp.post("/audits/<int:audit_id>/open")
@login_required
def open_for_work(audit_id):
    audit = queries.audit_or_404(current_user, audit_id)
    service.require_editable(audit)
    _require(can_manage_audit(current_user, audit),
             f"Only a lead of {audit.team.name} can open its audit for work.")
    if SubmitForm().validate_on_submit():
        service.open_audit(current_user, audit)
        db.session.commit()
        flash("The audit is open for work: the team can update items and attach evidence.",
              "success")
    return redirect(url_for("audits.detail", audit_id=audit.id))


@bp.post("/audits/<int:audit_id>/bulk")
@login_required
def bulk(audit_id):
    audit = queries.audit_or_404(current_user, audit_id)
    service.require_editable(audit)
    _require(can_manage_audit(current_user, audit),
             f"Only a lead of {audit.team.name} can change many items at once.")
    form = BulkForm()
    members = queries.team_members(audit.team_id)
    form.owner_id.choices = _owner_choices(members, keep=True)
    if form.validate_on_submit():
        changes = {}
        if form.owner_id.data != NO_CHANGE:
            changes["owner"] = (None if form.owner_id.data == UNASSIGNED else
                                next(u for u in members if str(u.id) == form.owner_id.data))
        if form.due_date.data:
            changes["due_date"] = form.due_date.data
        if form.status.data != NO_CHANGE:
            changes["status"] = form.status.data
        if form.justification.data:
            changes["justification"] = form.justification.data
        was_draft = audit.state == AuditState.DRAFT
        count = attempt(form, service.bulk_update, audit, form.item_ids.data or [], **changes)
        if count is not REFUSED:
            chosen = len(set(form.item_ids.data))
            flash(_bulk_outcome(count, chosen) + _opened(was_draft, audit),
                  "success" if count else "info")
            return redirect(url_for("audits.detail", audit_id=audit.id, **request.args))
    return _render_detail(audit, None, bulk_form=form, status=422)  # open: not signed off


def _opened(was_draft: bool, audit: Audit) -> str:
    """What a change says when it was the first work on a draft, which opens it."""
    if was_draft and audit.state == AuditState.IN_PROGRESS:
        return " The audit was a draft: this change opened it for work."
    return ""


def _bulk_outcome(changed: int, chosen: int) -> str:
    unchanged = chosen - changed
    if not changed:
        return "Nothing to save: the selected items already had these values."
    said = f"Updated {changed} item{'s' if changed != 1 else ''}"
    if unchanged:
        said += f"; {unchanged} already had these values"
    return said + "."


# --- submit, review, return, sign off ---------------------------------------------------------

@bp.route("/audits/<int:audit_id>/submit", methods=["GET", "POST"])
@login_required
def submit(audit_id):
    audit = queries.audit_or_404(current_user, audit_id)
    service.require_editable(audit)
    _require(can_submit(current_user, audit),
             f"Only a lead of {audit.team.name} can submit its audit for review.")
    form = SubmitForm()
    if form.validate_on_submit():
        service.submit_for_review(current_user, audit)
        db.session.commit()
        flash("Submitted for review. The items are read-only until an auditor sends the audit "
              "back or signs it off.", "success")
        return redirect(url_for("audits.detail", audit_id=audit.id))
    return _render_submit(audit, MarkRestForm(formdata=None))


def _render_submit(audit: Audit, rest_form: MarkRestForm, status: int = 200):
    return render_template("audits/submit.html", audit=audit, form=SubmitForm(),
                           rest_form=rest_form, summary=queries.audit_summary(audit),
                           left=service.items_where(audit, vocabulary.unassessed_clause()),
                           overdue=queries.overdue_count(audit, clock.today())), status


@bp.post("/audits/<int:audit_id>/mark-rest-not-met")
@login_required
def mark_rest_not_met(audit_id):
    audit = queries.audit_or_404(current_user, audit_id)
    service.require_editable(audit)
    _require(can_submit(current_user, audit),
             f"Only a lead of {audit.team.name} can mark its items not met.")
    form = MarkRestForm()
    if form.validate_on_submit():
        was_draft = audit.state == AuditState.DRAFT
        count = attempt(form, service.mark_rest_not_met, audit, form.note.data)
        if count is not REFUSED:
            flash(f"Marked {count} item{'s' if count != 1 else ''} not met, each with your "
                  f"note.{_opened(was_draft, audit)} The audit can be submitted now.", "success")
            return redirect(url_for("audits.submit", audit_id=audit.id))
    return _render_submit(audit, form, 422)


def _render_review(audit: Audit, *, return_form=None, status=200):
    flt = queries.ReviewFilter.from_args(request.args)
    items = queries.review_list(audit, flt)
    groups = [(domain, list(group)) for domain, group in groupby(items, lambda i: i.domain)]
    return render_template("audits/review.html", audit=audit, flt=flt, items=items, groups=groups,
                           verdict_filters=vocabulary.VERDICT_FILTERS, statuses=list(ItemStatus),
                           summary=queries.audit_summary(audit),
                           verdicts=queries.verdict_counts(audit),
                           rework=queries.items_needing_rework(audit),
                           unreviewed=service.items_where(audit, vocabulary.not_reviewed_clause()),
                           accept_form=SubmitForm(formdata=None),
                           return_form=return_form or ReturnForm(formdata=None)), status


@bp.post("/audits/<int:audit_id>/accept")
@login_required
def accept_unreviewed(audit_id):
    audit = queries.audit_or_404(current_user, audit_id)
    _require_in_review(audit)
    _require(can_review(current_user, audit), "Only an auditor can review audits.")
    # An optional domain id: "accept all not reviewed of this domain".
    domain_id = request.form.get("domain_id", type=int)
    if SubmitForm().validate_on_submit():
        count = service.accept_items(current_user, audit, domain_id=domain_id)
        db.session.commit()
        flash(f"Accepted {count} item{'s' if count != 1 else ''}." if count else
              "Every item was already reviewed.", "success" if count else "info")
    return redirect(url_for("audits.review", audit_id=audit.id,
                            **queries.ReviewFilter.from_args(request.args).args()))


@bp.get("/audits/<int:audit_id>/review")
@login_required
def review(audit_id):
    audit = queries.audit_or_404(current_user, audit_id)
    _require_in_review(audit)
    _require(can_review(current_user, audit), "Only an auditor can review audits.")
    return _render_review(audit)


@bp.post("/audits/<int:audit_id>/return")
@login_required
def return_audit(audit_id):
    audit = queries.audit_or_404(current_user, audit_id)
    _require_in_review(audit)
    _require(can_return(current_user, audit), "Only an auditor can send an audit back.")
    form = ReturnForm()
    if form.validate_on_submit() and attempt(
            form, service.return_audit, audit, form.reason.data) is not REFUSED:
        flash(f"Sent back to {audit.team.name} with your reason.", "success")
        return redirect(url_for("audits.detail", audit_id=audit.id))
    return _render_review(audit, return_form=form, status=422)


@bp.route("/audits/<int:audit_id>/sign-off", methods=["GET", "POST"])
@login_required
def sign_off(audit_id):
    from tracker.reports import service as reports

    audit = queries.audit_or_404(current_user, audit_id)
    _require_in_review(audit)
    _require(can_sign_off(current_user, audit), "Only an auditor can sign off audits.")
    form = SignOffForm()
    if form.validate_on_submit() and attempt(
            form, reports.sign_off, audit, form.statement.data, form.opinion.data) is not REFUSED:
        flash(f"Signed off the {audit.period} audit of {audit.team.name}. It is now "
              "read-only for everyone.", "success")
        return redirect(url_for("audits.detail", audit_id=audit.id))
    status = 422 if request.method == "POST" else 200
    return render_template("audits/sign_off.html", audit=audit, form=form,
                           summary=queries.audit_summary(audit),
                           verdicts=queries.verdict_counts(audit),
                           unreviewed=service.items_where(audit, vocabulary.unreviewed_clause()),
                           exceptions=reports.exceptions_of(audit)), status


# --- one item ----------------------------------------------------------------------------------

def _load_item(audit_id: int, item_id: int) -> AuditItem:
    audit = queries.audit_or_404(current_user, audit_id)
    return queries.item_or_404(audit, item_id)


def _item_form(item: AuditItem, members, manage: bool, *, submitted: bool) -> ItemForm:
    if submitted:
        form = ItemForm()
    else:
        form = ItemForm(formdata=None, status=item.status.value, justification=item.justification,
                        owner_id=str(item.owner_id) if item.owner_id else UNASSIGNED,
                        due_date=item.due_date, version=item.version)
    if manage:
        form.owner_id.choices = _owner_choices(members, keep=False, owner=item.owner)
    else:
        del form.owner_id
        del form.due_date
    return form


@dataclass(frozen=True)
class Walk:
    """The list an item page was opened from: its query-string arguments (kept by the page's
    links and forms), the way back to it, and the items before and after this one."""
    label: str
    args: dict
    back: str
    previous: int | None
    next: int | None
    listed: bool  # whether the item is in the list now


def _walk(item: AuditItem, reviewing: bool) -> Walk | None:
    audit = item.audit
    if reviewing:  # an auditor walks the review list in its filtered order
        flt = queries.ReviewFilter.from_args(request.args)
        return Walk("Review list", flt.args(),
                    url_for("audits.review", audit_id=audit.id, **flt.args()),
                    *queries.review_neighbours(audit, item, flt))
    view = _mine_view()
    if view:  # an operator works down their My items
        return Walk("My items", {"mine": view},
                    url_for("audits.my_items", **queries.my_items_args(view)),
                    *queries.my_items_neighbours(current_user, clock.today(), item, view))
    return None


def _render_item(item: AuditItem, *, status: int = 200, conflict: StaleItem | None = None,
                 version: int | None = None, evidence_errors: dict | None = None, **forms):
    audit = item.audit
    reviewing = audit.state == AuditState.IN_REVIEW and can_review(current_user, audit)
    walk = _walk(item, reviewing)
    manage = can_manage_audit(current_user, audit)
    members = queries.team_members(audit.team_id) if manage else []
    forms.setdefault("item_form", _item_form(item, members, manage, submitted=False))
    replace_forms = forms.pop("replace_forms", {})
    for evidence in item.evidence:
        replace_forms.setdefault(evidence.id, EvidenceReplaceForm(formdata=None,
                                                                  prefix=f"e{evidence.id}"))
    forms.setdefault("comment_form", CommentForm(formdata=None))
    forms.setdefault("verdict_form", VerdictForm(
        formdata=None, verdict=item.verdict.value if item.verdict else None,
        note=item.verdict_note))
    item_actions, carried_actions = action_queries.for_item(item)
    return render_template(
        "audits/item.html", audit=audit, item=item, history=queries.item_history(item),
        item_actions=item_actions, carried_actions=carried_actions,
        action_called_for=action_service.is_called_for(item),
        conflict=conflict, version=item.version if version is None else version,
        max_size=format_size(current_app.config["MAX_EVIDENCE_BYTES"]),
        today=clock.today(), open_statuses=service.OPEN_STATUSES, walk=walk,
        walk_args=walk.args if walk else {}, reviewing=reviewing, replace_forms=replace_forms,
        evidence_errors=evidence_errors or {}, **forms,
    ), status


@bp.get("/audits/<int:audit_id>/items/<int:item_id>")
@login_required
def item(audit_id, item_id):
    return _render_item(_load_item(audit_id, item_id))


@bp.post("/audits/<int:audit_id>/items/<int:item_id>")
@login_required
def update_item(audit_id, item_id):
    """The item page's one form: status and new evidence, saved together or not at all; with
    "Save and next", then the next item of the list the page was opened from."""
    item = _load_item(audit_id, item_id)
    audit = item.audit
    service.require_editable(audit)
    _require(can_update_item(current_user, item),
             f"Only members of {audit.team.name} can update its items.")
    manage = can_manage_audit(current_user, audit)
    members = queries.team_members(audit.team_id) if manage else []
    try:
        form = _item_form(item, members, manage, submitted=True)
    except RequestEntityTooLarge:
        form = _item_form(item, members, manage, submitted=False)
        attach_error(form, "evidence_file",
                     size_limit_message(current_app.config["MAX_EVIDENCE_BYTES"]))
        return _render_item(item, item_form=form, status=413)
    if not form.validate_on_submit():
        return _render_item(item, item_form=form, version=form.version.data, status=422)
    evidence = form.evidence()
    if evidence:
        _require(can_add_evidence(current_user, item),
                 "Only members of the team, other than auditors, can attach evidence.")
    changes = {"status": form.status.data, "justification": form.justification.data}
    if manage:
        changes["due_date"] = form.due_date.data
        if form.owner_id.data != str(item.owner_id):  # kept: may have left the team since
            changes["owner"] = next((u for u in members if str(u.id) == form.owner_id.data),
                                    None)
    walk = _walk(item, reviewing=False)  # the list as it was: a saved item may leave it
    verdict, was_draft = item.verdict, audit.state == AuditState.DRAFT
    try:
        changed, attached = service.update_item_with_evidence(
            current_user, item, evidence=evidence, expected_version=form.version.data,
            **changes)
    except StaleItem as exc:
        db.session.rollback()
        _file_not_kept(form)
        current = _load_item(audit_id, item_id)
        # What they typed stays in the form; the version becomes the one now shown, so saving
        # again is a deliberate choice made after seeing the newer values.
        return _render_item(current, item_form=form, conflict=exc, version=current.version,
                            status=409)
    except RuleViolation as exc:
        db.session.rollback()
        attach_error(form, ItemForm.EVIDENCE_FIELDS.get(exc.field, exc.field), exc.message)
        _file_not_kept(form)
        return _render_item(_load_item(audit_id, item_id), item_form=form,
                            version=form.version.data, status=422)
    db.session.commit()
    flash(_saved_message(item, changed, attached, verdict) + _opened(was_draft, audit),
          "success" if changed or attached else "info")
    if request.form.get("then") == "next" and walk is not None:
        if walk.next is None:
            flash(f"That was the last item of {walk.label}.", "info")
            return redirect(walk.back)
        return redirect(url_for("audits.item", audit_id=audit.id, item_id=walk.next,
                                **walk.args))
    return redirect(url_for("audits.item", audit_id=audit.id, item_id=item.id, **_list_args()))


def _file_not_kept(form: ItemForm) -> None:
    """A refused form comes back with what was typed, but a browser never refills a file
    field: say so next to it."""
    upload = form.evidence_file.data
    if upload and upload.filename and not form.evidence_file.errors:
        attach_error(form, "evidence_file", f"{upload.filename} was not saved: choose it "
                                            "again (browsers do not keep a chosen file).")


def _saved_message(item: AuditItem, changed: bool, attached: int, verdict) -> str:
    evidence = (f" with {attached} new piece{'s' if attached != 1 else ''} of evidence"
                if attached else "")
    if not changed:
        return (f"Evidence added to {item.code}." if attached else
                f"Nothing to save: {item.code} already had these values.")
    if verdict and item.verdict is None:
        return (f"Saved {item.code}{evidence}; the auditor’s verdict "
                f"({verdict.value.replace('_', ' ')}) is cleared: they look at the item again "
                "when the audit is submitted.")
    return f"Saved {item.code}{evidence}."


@bp.post("/audits/<int:audit_id>/items/<int:item_id>/evidence")
@login_required
def add_evidence(audit_id, item_id):
    """Evidence alone, one piece (scripts and older pages post here); the item page itself
    sends evidence with its status form (update_item)."""
    item = _load_item(audit_id, item_id)
    audit = item.audit
    service.require_editable(audit)
    _require(can_add_evidence(current_user, item),
             "Only members of the team, other than auditors, can attach evidence.")
    try:
        kind = request.form.get("kind")
    except RequestEntityTooLarge:
        form = EvidenceFileForm(formdata=None)
        attach_error(form, "file", size_limit_message(current_app.config["MAX_EVIDENCE_BYTES"]))
        return _render_item(item, item_form=_in_item_form(item, form, "file"), status=413)
    if kind == EvidenceKind.FILE:
        form = EvidenceFileForm()
    elif kind == EvidenceKind.URL:
        form = EvidenceLinkForm()
    elif kind == EvidenceKind.NOTE:
        form = EvidenceNoteForm()
    else:
        abort(400)
    if form.validate_on_submit():
        given = ({"upload": form.file.data.stream, "filename": form.file.data.filename}
                 if kind == EvidenceKind.FILE else {kind: form[kind].data})
        given["effective_date"] = form.effective_date.data
        was_draft = audit.state == AuditState.DRAFT
        if attempt(form, service.add_evidence, item, **given) is not REFUSED:
            flash(f"Evidence added to {item.code}.{_opened(was_draft, audit)}", "success")
            return redirect(url_for("audits.item", audit_id=audit_id, item_id=item_id,
                                    _anchor="evidence"))
    item = _load_item(audit_id, item_id)
    return _render_item(item, item_form=_in_item_form(item, form, kind), status=422)


def _in_item_form(item: AuditItem, form, kind: str) -> ItemForm:
    """A refused piece of evidence shown in the item page's one form: what was typed and why
    it was refused, beside the evidence fields."""
    manage = can_manage_audit(current_user, item.audit)
    shown = _item_form(item, queries.team_members(item.audit.team_id) if manage else [],
                       manage, submitted=False)
    field = shown[ItemForm.EVIDENCE_FIELDS[kind]]
    if kind != EvidenceKind.FILE:
        field.data = form[kind].data
    field.errors = list(form[kind].errors)
    shown.evidence_date.data = form.effective_date.data
    shown.evidence_date.errors = list(form.effective_date.errors)
    shown.form_errors.extend(form.form_errors)
    return shown


@bp.get("/audits/<int:audit_id>/items/<int:item_id>/evidence/<int:evidence_id>")
@login_required
def download_evidence(audit_id, item_id, evidence_id):
    evidence = queries.evidence_or_404(_load_item(audit_id, item_id), evidence_id)
    if evidence.kind != EvidenceKind.FILE:
        abort(404)
    path = evidence_path(evidence.sha256)
    if not path.is_file():
        abort(404)
    response = send_file(path, mimetype=evidence.content_type, as_attachment=True,
                         download_name=evidence.filename or "evidence", max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _changeable_evidence(audit_id: int, item_id: int, evidence_id: int):
    """The item and its evidence, when the current user may remove or replace it now."""
    item = _load_item(audit_id, item_id)
    service.require_editable(item.audit)
    _require(can_add_evidence(current_user, item),
             "Only members of the team, other than auditors, can change its evidence.")
    evidence = queries.evidence_or_404(item, evidence_id)
    _require(can_remove_evidence(current_user, evidence),
             f"Only {evidence.created_by.name}, who added this evidence, or a lead of "
             f"{item.audit.team.name} can remove or replace it.")
    return item, evidence


def _back_to_evidence(item: AuditItem):
    return redirect(url_for("audits.item", audit_id=item.audit_id, item_id=item.id,
                            _anchor="evidence", **_list_args()))


def _list_args() -> dict:
    """The list the page was opened from (Walk.args), kept across a form's round trip."""
    view = _mine_view()
    return {"mine": view} if view else {}


def _mine_view() -> str | None:
    """The view of My items an item page was opened from (?mine=open), if any."""
    view = request.args.get("mine")
    return view if view in queries.MY_ITEMS_VIEWS else None


@bp.post("/audits/<int:audit_id>/items/<int:item_id>/evidence/<int:evidence_id>/remove")
@login_required
def remove_evidence(audit_id, item_id, evidence_id):
    item, evidence = _changeable_evidence(audit_id, item_id, evidence_id)
    if SubmitForm().validate_on_submit():
        name = evidence.filename or evidence.url or "the note"
        try:
            service.remove_evidence(current_user, evidence)
        except RuleViolation as exc:
            db.session.rollback()
            return _render_item(_load_item(audit_id, item_id), status=422,
                                evidence_errors={evidence_id: exc.message})
        db.session.commit()
        flash(f"Removed {name} from {item.code}. The history keeps a record of it.", "success")
    return _back_to_evidence(item)


NOTHING_TO_REPLACE_WITH = {"file": "Choose the new file first.",
                           "url": "Enter the new link first.", "note": "Write the new note first."}


def _replacement(form: EvidenceReplaceForm, kind: str) -> dict | None:
    """add_evidence's arguments for the new evidence, or None when none was given."""
    if kind == EvidenceKind.FILE:
        upload = form.file.data
        return {"upload": upload.stream, "filename": upload.filename} if (
            upload and upload.filename) else None
    return {kind: form[kind].data} if (form[kind].data or "").strip() else None


@bp.post("/audits/<int:audit_id>/items/<int:item_id>/evidence/<int:evidence_id>/replace")
@login_required
def replace_evidence(audit_id, item_id, evidence_id):
    item, evidence = _changeable_evidence(audit_id, item_id, evidence_id)
    try:
        form = EvidenceReplaceForm(prefix=f"e{evidence_id}")
    except RequestEntityTooLarge:
        form = EvidenceReplaceForm(formdata=None, prefix=f"e{evidence_id}")
        attach_error(form, "file", size_limit_message(current_app.config["MAX_EVIDENCE_BYTES"]))
        return _render_item(item, replace_forms={evidence_id: form}, status=413)
    if form.validate_on_submit():
        kind = evidence.kind.value  # the new evidence is of the kind it replaces
        given = _replacement(form, kind)
        if given is None:
            attach_error(form, kind, NOTHING_TO_REPLACE_WITH[kind])
        elif attempt(form, service.replace_evidence, evidence, **given,
                     effective_date=form.effective_date.data) is not REFUSED:
            flash(f"Replaced the evidence of {item.code}. The history keeps both.", "success")
            return _back_to_evidence(item)
    return _render_item(_load_item(audit_id, item_id), replace_forms={evidence_id: form},
                        status=422)


@bp.post("/audits/<int:audit_id>/items/<int:item_id>/comments")
@login_required
def comment(audit_id, item_id):
    item = _load_item(audit_id, item_id)
    audit = item.audit
    service.check_state(audit, service.COMMENTABLE,
                        lambda audit: "This audit is signed off; comments are closed.")
    _require(can_comment(current_user, item),
             "Only the team and auditors can comment on its items.")
    form = CommentForm()
    if form.validate_on_submit() and attempt(
            form, service.add_comment, item, form.body.data) is not REFUSED:
        flash("Comment added.", "success")
        return redirect(url_for("audits.item", audit_id=audit_id, item_id=item_id,
                                _anchor="comments"))
    return _render_item(_load_item(audit_id, item_id), comment_form=form, status=422)


@bp.post("/audits/<int:audit_id>/items/<int:item_id>/verdict")
@login_required
def verdict(audit_id, item_id):
    item = _load_item(audit_id, item_id)
    audit = item.audit
    _require_in_review(audit)
    _require(can_review(current_user, audit), "Only an auditor can review items.")
    form = VerdictForm()
    if form.validate_on_submit() and attempt(
            form, service.review_item, item, form.verdict.data, form.note.data) is not REFUSED:
        outcome = "accepted" if form.verdict.data == "accepted" else "sent back for rework"
        flash(f"{item.code}: {outcome}.", "success")
        return redirect(url_for("audits.item", audit_id=audit_id, item_id=item_id))
    return _render_item(_load_item(audit_id, item_id), verdict_form=form, status=422)
