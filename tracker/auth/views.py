import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user
from wtforms import SelectChoice

from tracker.auth import oidc, service
from tracker.auth.forms import (
    ChangePasswordForm,
    EmptyForm,
    LoginForm,
    MembershipForm,
    PasswordResetForm,
    TeamForm,
    TokenForm,
    UserCreateForm,
    UserRolesForm,
)
from tracker.auth.models import ApiToken, Membership, Team, User
from tracker.auth.permissions import can_manage_users
from tracker.auth.safety import safe_next
from tracker.extensions import db
from tracker.forms import attach_error
from tracker.mail import notify_account
from tracker.rules import RuleViolation
from tracker.security.throttling import throttle_sign_in

bp = Blueprint("auth", __name__)

LOGIN_FAILED = "That email and password do not match an active account. Check both and try again."
SSO_ONLY = ("This organisation signs in with {provider}. The password form is only for the "
            "named break-glass administrator accounts, and these credentials are not one.")


@bp.route("/login", methods=["GET", "POST"])
@throttle_sign_in
def login():
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        user = service.authenticate(form.email.data, form.password.data)
        if not oidc.may_use_password(user):  # SSO only: one message whatever was wrong
            flash(SSO_ONLY.format(provider=oidc.settings().provider_name), "error")
        elif user is None:
            flash(LOGIN_FAILED, "error")
        else:
            session.clear()  # a fresh session at sign-in: nothing carried over from before
            login_user(user, remember=form.remember.data)
            flash(f"Signed in as {user.name}.", "success")
            return redirect(safe_next(form.next.data, url_for("home.index")))
    return render_template("auth/login.html", form=form, sso=oidc.settings())


@bp.get("/login/sso")
def oidc_login():
    """Off to the identity provider (404 when single sign-on is not configured)."""
    if not oidc.enabled():
        abort(404)
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    try:
        return oidc.begin_sign_in(safe_next(request.args.get("next", ""), url_for("home.index")))
    except oidc.SignInRefused as exc:
        return _sso_refused(exc)


@bp.get("/login/sso/callback")
def oidc_callback():
    """Back from the provider: Authlib checks state, PKCE and the ID token; the account is
    found, linked or created and given its groups' roles, then signed in."""
    if not oidc.enabled():
        abort(404)
    try:
        user, id_token, next_url = oidc.finish_sign_in()
    except oidc.SignInRefused as exc:
        return _sso_refused(exc)
    db.session.commit()
    session.clear()  # a fresh session at sign-in, as with a password
    login_user(user)
    session[oidc.ID_TOKEN_KEY] = id_token
    flash(f"Signed in as {user.name}.", "success")
    return redirect(next_url)


def _sso_refused(exc: "oidc.SignInRefused"):
    db.session.rollback()
    flash(exc.message, "error")
    return render_template("auth/login.html", form=LoginForm(formdata=None),
                           sso=oidc.settings()), 403


@bp.post("/logout")
@login_required
def logout():
    if EmptyForm().validate_on_submit():
        # Signed in through the provider: end its session too (RP-initiated logout).
        provider_logout = (oidc.logout_url(session.get(oidc.ID_TOKEN_KEY))
                           if oidc.ID_TOKEN_KEY in session else None)
        service.end_sessions(current_user.id)
        db.session.commit()
        logout_user()
        session.clear()
        flash("Signed out.", "info")
        if provider_logout:
            return redirect(provider_logout)
    return redirect(url_for("auth.login"))


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        if service.authenticate(current_user.email, form.current_password.data) is None:
            attach_error(form, "current_password", "That is not your current password.")
        else:
            me = db.session.get(User, current_user.id)
            try:
                revoked = service.set_password(me, me, form.password.data)
            except RuleViolation as exc:
                db.session.rollback()
                attach_error(form, exc.field, exc.message)
            else:
                db.session.commit()
                login_user(me)  # this session continues with the new version
                flash("Password changed. Your other sessions have been signed out"
                      + tokens_revoked_phrase(revoked) + ".", "success")
                return redirect(url_for("auth.account"))
    return _account_page(form=form)


def tokens_revoked_phrase(names: list[str], whose: str = "your") -> str:
    """", and your API tokens “ci”, “backup” were revoked" — or nothing without tokens."""
    if not names:
        return ""
    listed = ", ".join(f"“{name}”" for name in names)
    return f", and {whose} API token{'s' if len(names) > 1 else ''} {listed} " + (
        "were revoked" if len(names) > 1 else "was revoked")


def _account_page(status: int = 200, **forms):
    tokens = db.session.execute(
        sa.select(ApiToken).where(ApiToken.user_id == current_user.id)
        .order_by(ApiToken.revoked_at.is_not(None), ApiToken.created_at.desc())
    ).scalars().all()
    teams = db.session.execute(
        sa.select(Team.name, Membership.role).join(Membership.team)
        .where(Membership.user_id == current_user.id).order_by(Team.name)).all()
    forms.setdefault("form", ChangePasswordForm(formdata=None))
    forms.setdefault("token_form", TokenForm(formdata=None))
    return render_template("auth/account.html", tokens=tokens, teams=teams,
                           revoke_form=EmptyForm(),
                           **forms), status


@bp.post("/account/tokens")
@login_required
def token_create():
    """The new token is shown on this response only (never stored, never in a cookie)."""
    form = TokenForm()
    if form.validate_on_submit():
        try:
            row, token = service.create_token(current_user, form.name.data)
        except RuleViolation as exc:
            db.session.rollback()
            attach_error(form, exc.field, exc.message)
        else:
            db.session.commit()
            return _account_page(new_token=token, new_token_row=row)
    return _account_page(422, token_form=form)


@bp.post("/account/tokens/<int:token_id>/revoke")
@login_required
def token_revoke(token_id):
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != current_user.id:
        abort(404)
    if EmptyForm().validate_on_submit():
        service.revoke_token(current_user, token)
        db.session.commit()
        flash(f"Token “{token.name}” revoked: scripts using it now get 401.", "success")
    return redirect(url_for("auth.account"))


# --- administration -------------------------------------------------------------------

def _require_admin():
    if not can_manage_users(current_user):
        abort(403)


@bp.get("/admin/users")
@login_required
def users():
    _require_admin()
    rows = db.session.execute(
        sa.select(User).order_by(User.active.desc(), User.name)
        .options(sa.orm.selectinload(User.memberships).selectinload(Membership.team))
    ).scalars().all()
    return render_template("admin/users.html", users=rows, form=EmptyForm())


@bp.route("/admin/users/new", methods=["GET", "POST"])
@login_required
def user_new():
    _require_admin()
    form = UserCreateForm()
    if form.validate_on_submit():
        try:
            user = service.create_user(current_user, form.email.data, form.name.data,
                                       form.password.data, is_admin=form.is_admin.data,
                                       is_auditor=form.is_auditor.data)
        except RuleViolation as exc:
            db.session.rollback()
            attach_error(form, exc.field, exc.message)
        else:
            db.session.commit()
            flash(f"Created {user.email}.", "success")
            return redirect(url_for("auth.user_detail", user_id=user.id))
    return render_template("admin/user_new.html", form=form)


def _user_or_404(user_id: int) -> User:
    return db.session.get(User, user_id) or abort(404)


@bp.get("/admin/users/<int:user_id>")
@login_required
def user_detail(user_id):
    _require_admin()
    user = _user_or_404(user_id)
    return render_template(
        "admin/user_detail.html", user=user,
        roles_form=UserRolesForm(is_admin=user.is_admin, is_auditor=user.is_auditor),
        password_form=PasswordResetForm(), form=EmptyForm(),
    )


@bp.post("/admin/users/<int:user_id>/roles")
@login_required
def user_roles(user_id):
    _require_admin()
    user = _user_or_404(user_id)
    form = UserRolesForm()
    if form.validate_on_submit():
        try:
            service.set_roles(current_user, user, is_admin=form.is_admin.data,
                              is_auditor=form.is_auditor.data)
        except RuleViolation as exc:
            db.session.rollback()
            flash(exc.message, "error")
        else:
            db.session.commit()
            flash(f"Roles of {user.name} saved.", "success")
    return redirect(url_for("auth.user_detail", user_id=user.id))


@bp.post("/admin/users/<int:user_id>/password")
@login_required
def user_password(user_id):
    _require_admin()
    user = _user_or_404(user_id)
    form = PasswordResetForm()
    if form.validate_on_submit():
        try:
            revoked = service.set_password(current_user, user, form.password.data)
        except RuleViolation as exc:
            db.session.rollback()
            attach_error(form, exc.field, exc.message)
        else:
            db.session.commit()
            notify_account(user.email, "your password was reset",
                           f"{current_user.name} (an admin) reset your password. Your sessions "
                           f"were signed out{tokens_revoked_phrase(revoked)}. Ask them for "
                           "the new password, and create new tokens on your account page.")
            flash(f"Password of {user.name} reset; their sessions were signed out"
                  f"{tokens_revoked_phrase(revoked, 'their')}. They have been told.",
                  "success")
            return redirect(url_for("auth.user_detail", user_id=user.id))
    return render_template(
        "admin/user_detail.html", user=user, password_form=form, form=EmptyForm(),
        roles_form=UserRolesForm(is_admin=user.is_admin, is_auditor=user.is_auditor),
    ), 422


@bp.post("/admin/users/<int:user_id>/active")
@login_required
def user_active(user_id):
    _require_admin()
    user = _user_or_404(user_id)
    if EmptyForm().validate_on_submit():
        activate = request.form.get("active") == "1"
        try:
            service.set_active(current_user, user, activate)
        except RuleViolation as exc:
            db.session.rollback()
            flash(exc.message, "error")
        else:
            db.session.commit()
            flash(f"{user.name} {'reactivated' if activate else 'deactivated'}.", "success")
    return redirect(url_for("auth.user_detail", user_id=user.id))


@bp.route("/admin/teams", methods=["GET", "POST"])
@login_required
def teams():
    _require_admin()
    form = TeamForm()
    if form.validate_on_submit():
        try:
            team = service.create_team(current_user, form.name.data, form.description.data)
        except RuleViolation as exc:
            db.session.rollback()
            attach_error(form, exc.field, exc.message)
        else:
            db.session.commit()
            flash(f"Created team {team.name}.", "success")
            return redirect(url_for("auth.team_detail", team_id=team.id))
    rows = db.session.execute(
        sa.select(Team).order_by(Team.name)
        .options(sa.orm.selectinload(Team.memberships).selectinload(Membership.user))
    ).scalars().all()
    return render_template("admin/teams.html", teams=rows, form=form)


@bp.route("/admin/teams/<int:team_id>", methods=["GET", "POST"])
@login_required
def team_detail(team_id):
    _require_admin()
    team = db.session.get(Team, team_id) or abort(404)
    form = MembershipForm()
    people = db.session.execute(
        sa.select(User).where(User.active).order_by(User.name)
    ).scalars().all()
    form.user_id.choices = [SelectChoice(u.id, f"{u.name} <{u.email}>") for u in people]
    if form.validate_on_submit():
        user = _user_or_404(form.user_id.data)
        service.set_membership(current_user, team, user, form.role.data)
        db.session.commit()
        flash(f"{user.name} is now {form.role.data} of {team.name}.", "success")
        return redirect(url_for("auth.team_detail", team_id=team.id))
    return render_template("admin/team_detail.html", team=team, form=form,
                           remove_form=EmptyForm())


@bp.post("/admin/teams/<int:team_id>/members/<int:user_id>/remove")
@login_required
def team_member_remove(team_id, user_id):
    _require_admin()
    team = db.session.get(Team, team_id) or abort(404)
    user = _user_or_404(user_id)
    if EmptyForm().validate_on_submit():
        service.set_membership(current_user, team, user, None)
        db.session.commit()
        flash(f"{user.name} removed from {team.name}.", "success")
    return redirect(url_for("auth.team_detail", team_id=team.id))
