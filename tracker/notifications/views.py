"""The inbox, each person's choices, one-click unsubscribe, and the admin's outboxes and
webhook endpoints."""

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from markupsafe import Markup
from sqlalchemy.orm import selectinload

from tracker.auth.forms import EmptyForm
from tracker.cache import personal_part
from tracker.extensions import csrf, db
from tracker.forms import attach_error
from tracker.notifications import (
    delivery,
    outgoing,
    service,
    subscribers,  # noqa: F401 — listens to the activity log
)
from tracker.notifications.events import BY_KEY
from tracker.notifications.forms import WebhookEndpointForm
from tracker.notifications.models import (
    Channel,
    Delivery,
    DeliveryStatus,
    Notification,
    WebhookDelivery,
    WebhookEndpoint,
)
from tracker.rules import Forbidden, NotFound, RuleViolation
from tracker.security.input import page_arg

bp = Blueprint("notifications", __name__, url_prefix="/notifications")
PER_PAGE = 50
CHANNEL_LABELS = {Channel.INBOX: "Inbox only", Channel.EMAIL: "Inbox and e-mail",
                  Channel.DIGEST: "Inbox and daily digest", Channel.OFF: "Off"}


@bp.app_context_processor
def inbox_bell():
    return {"inbox_bell": _bell}


@personal_part("inbox-bell")
def _bell() -> Markup:
    if not current_user.is_authenticated:
        return Markup("")
    unread = service.unread_count(current_user)
    label = f"Inbox, {unread} unread" if unread else "Inbox"
    html = render_template("notifications/_bell.html", unread=unread, label=label)
    return Markup(html)  # nosec B704 — autoescaped template output


@bp.get("/")
@login_required
def inbox():
    show = "unread" if request.args.get("show") == "unread" else "all"
    stmt = (sa.select(Notification).where(Notification.user_id == current_user.id)
            .order_by(Notification.created_at.desc(), Notification.id.desc()))
    if show == "unread":
        stmt = stmt.where(Notification.read_at.is_(None))
    page = db.paginate(stmt, page=page_arg(), per_page=PER_PAGE, error_out=False)
    return render_template("notifications/inbox.html", page=page, show=show,
                           unread=service.unread_count(current_user), form=EmptyForm(),
                           events=BY_KEY)


@bp.get("/<int:notification_id>")
@login_required
def open_one(notification_id):
    """Follow an entry's link; it counts as read."""
    entry = db.session.get(Notification, notification_id)
    if entry is None or entry.user_id != current_user.id:
        abort(404)
    service.mark_read(current_user, [entry.id])
    db.session.commit()
    return redirect(entry.link or url_for("notifications.inbox"))


@bp.post("/read")
@login_required
def mark_read():
    if EmptyForm().validate_on_submit():
        done = service.mark_read(current_user)
        db.session.commit()
        flash(f"Marked {done} as read." if done else "Nothing was unread.", "success")
    return redirect(url_for("notifications.inbox", show=request.args.get("show")))


@bp.route("/settings", methods=["GET", "POST"])
@login_required
def settings():
    form = EmptyForm()
    if form.validate_on_submit():
        choices = {k[len("event-"):]: v for k, v in request.form.items()
                   if k.startswith("event-")}
        try:
            changed = service.set_preferences(current_user, choices)
        except RuleViolation as exc:
            db.session.rollback()
            flash(exc.message, "error")
        else:
            db.session.commit()
            flash(f"Saved: {changed} change{'s' if changed != 1 else ''}." if changed
                  else "Nothing changed.", "success")
            return redirect(url_for("notifications.settings"))
    return render_template("notifications/settings.html", form=form,
                           rows=service.preferences(current_user), channels=CHANNEL_LABELS)


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt  # RFC 8058: the mail client posts "List-Unsubscribe=One-Click", no session
def unsubscribe(token):
    target = service.unsubscribe_target(token)
    if target is None:
        raise NotFound("This unsubscribe link is not valid: your mail program may have cut it "
                       "short. Sign in and choose what you receive on your notification "
                       "settings page.")
    user, event = target
    if request.method == "POST":
        service.stop_email(user, event)
        db.session.commit()
        return render_template("notifications/unsubscribe.html", done=True, user=user,
                               label=_event_label(event))
    return render_template("notifications/unsubscribe.html", user=user, token=token,
                           label=_event_label(event))


def _event_label(event: str) -> str:
    return "the daily digest" if event == "digest" else f"“{BY_KEY[event].label}”"


# --- the admin's outboxes and webhook endpoints ----------------------------------------------

def _require_admin():
    if not current_user.is_admin:
        raise Forbidden("Only an admin can see the outboxes and manage webhooks.")


def _outbox_page(model, template: str, **context):
    """An outbox's rows of one status (failed first), newest first, with each status' count."""
    status = request.args.get("status", "failed")
    if status not in {s.value for s in DeliveryStatus}:
        status = "failed"
    stmt = (sa.select(model).where(model.status == status)
            .order_by(model.created_at.desc(), model.id.desc()))
    if model is WebhookDelivery:
        stmt = stmt.options(selectinload(WebhookDelivery.endpoint))
    page = db.paginate(stmt, page=page_arg(), per_page=PER_PAGE, error_out=False)
    counts = dict(db.session.execute(
        sa.select(model.status, sa.func.count()).group_by(model.status)).all())
    return render_template(template, page=page, status=status, counts=counts, form=EmptyForm(),
                           statuses=list(DeliveryStatus), max_attempts=delivery.max_attempts(),
                           **context)


def _retry(model, row_id: int, retry, back: str):
    _require_admin()
    row = db.session.get(model, row_id)
    if row is None:
        abort(404)
    if EmptyForm().validate_on_submit():
        if row.status != DeliveryStatus.FAILED:
            flash(f"Only a failed message can be sent again; this one is {row.status.value}.",
                  "error")
        else:
            retry(row)
            db.session.commit()
            flash("Sending again.", "success")
    return redirect(url_for(back))


@bp.get("/outbox")
@login_required
def outbox():
    _require_admin()
    return _outbox_page(Delivery, "notifications/outbox.html")


@bp.post("/outbox/<int:delivery_id>/retry")
@login_required
def retry(delivery_id):
    return _retry(Delivery, delivery_id, delivery.retry, "notifications.outbox")


@bp.route("/webhooks", methods=["GET", "POST"])
@login_required
def webhooks():
    """The endpoints, and a form to add one; a new endpoint's secret is shown once, here."""
    _require_admin()
    form = WebhookEndpointForm()
    created = None
    if form.validate_on_submit():
        try:
            created = outgoing.create_endpoint(current_user, form.url.data, form.events.data)
        except RuleViolation as exc:
            db.session.rollback()
            attach_error(form, exc.field, exc.message)
        else:
            db.session.commit()
            form = WebhookEndpointForm(formdata=None)
    endpoints = db.session.execute(
        sa.select(WebhookEndpoint).options(selectinload(WebhookEndpoint.created_by))
        .order_by(WebhookEndpoint.id)).scalars().all()
    failed = db.session.execute(
        sa.select(sa.func.count()).select_from(WebhookDelivery)
        .where(WebhookDelivery.status == DeliveryStatus.FAILED)).scalar_one()
    return render_template("notifications/webhooks.html", form=form, endpoints=endpoints,
                           created=created, failed=failed, action_form=EmptyForm(),
                           allowed=current_app.config.get("WEBHOOK_ALLOWED_HOSTS") or "")


def _endpoint_or_404(endpoint_id: int) -> WebhookEndpoint:
    _require_admin()
    endpoint = db.session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        abort(404)
    return endpoint


@bp.post("/webhooks/<int:endpoint_id>/active")
@login_required
def webhook_active(endpoint_id):
    endpoint = _endpoint_or_404(endpoint_id)
    if EmptyForm().validate_on_submit():
        active = request.form.get("active") == "1"
        outgoing.set_active(current_user, endpoint, active)
        db.session.commit()
        flash(f"{endpoint.url} is {'enabled' if active else 'disabled'}.", "success")
    return redirect(url_for("notifications.webhooks"))


@bp.post("/webhooks/<int:endpoint_id>/delete")
@login_required
def webhook_delete(endpoint_id):
    endpoint = _endpoint_or_404(endpoint_id)
    if EmptyForm().validate_on_submit():
        if request.form.get("confirm") != "yes":
            flash("Tick “delete it and its delivery history” to delete the endpoint; to stop "
                  "it for now, disable it.", "error")
        else:
            url = endpoint.url
            outgoing.delete_endpoint(current_user, endpoint)
            db.session.commit()
            flash(f"Deleted {url}.", "success")
    return redirect(url_for("notifications.webhooks"))


@bp.post("/webhooks/<int:endpoint_id>/test")
@login_required
def webhook_test(endpoint_id):
    endpoint = _endpoint_or_404(endpoint_id)
    if EmptyForm().validate_on_submit():
        try:
            outgoing.send_test(current_user, endpoint)
        except RuleViolation as exc:
            db.session.rollback()
            flash(exc.message, "error")
        else:
            db.session.commit()
            flash(f"A test event is on its way to {endpoint.url}: see its outcome under "
                  "Deliveries.", "success")
    return redirect(url_for("notifications.webhooks"))


@bp.get("/webhooks/deliveries")
@login_required
def webhook_outbox():
    _require_admin()
    return _outbox_page(WebhookDelivery, "notifications/webhook_outbox.html")


@bp.post("/webhooks/deliveries/<int:delivery_id>/retry")
@login_required
def webhook_retry(delivery_id):
    return _retry(WebhookDelivery, delivery_id, outgoing.retry, "notifications.webhook_outbox")
