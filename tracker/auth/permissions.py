"""Who may do what: one vocabulary for views, templates and the API.

Each rule is a small function of (user, object). Views turn a False into 403 — or 404
where even knowing the object exists would leak (another team's audit).
"""

from tracker.auth.models import TeamRole, User


def team_role(user: User, team_id: int) -> TeamRole | None:
    for membership in user.memberships:
        if membership.team_id == team_id:
            return membership.role
    return None


def is_member(user: User, team_id: int) -> bool:
    return team_role(user, team_id) is not None


def is_lead(user: User, team_id: int) -> bool:
    return team_role(user, team_id) == TeamRole.LEAD


def lead_team_ids(user: User) -> list[int]:
    return [m.team_id for m in user.memberships if m.role == TeamRole.LEAD]


def member_team_ids(user: User) -> list[int]:
    return [m.team_id for m in user.memberships]


# --- administration -------------------------------------------------------------------

def can_manage_users(user: User) -> bool:
    return user.is_authenticated and user.is_admin


def can_manage_library(user: User) -> bool:
    return user.is_authenticated and user.is_admin


# --- audits ---------------------------------------------------------------------------

def can_view_audit(user: User, audit) -> bool:
    """Members of the team see its audits; auditors and admins see every audit."""
    return user.is_authenticated and (
        user.is_admin or user.is_auditor or is_member(user, audit.team_id)
    )


def can_start_audit(user: User, team_id: int) -> bool:
    return user.is_authenticated and is_lead(user, team_id)


def can_manage_audit(user: User, audit) -> bool:
    """Scope, owners, due dates, bulk changes: the team's lead, while work is open."""
    return audit.is_editable and is_lead(user, audit.team_id)


def can_update_item(user: User, item) -> bool:
    """Status, evidence, justification: the team's lead and operators, while work is open."""
    return item.audit.is_editable and is_member(user, item.audit.team_id)


def can_add_evidence(user: User, item) -> bool:
    """Team members while work is open — but never an auditor, even one who is a member:
    whoever may judge evidence must not be able to supply it."""
    return can_update_item(user, item) and not user.is_auditor


def can_remove_evidence(user: User, evidence) -> bool:
    """Remove or replace: whoever added it, and the team's lead, while work is open."""
    item = evidence.audit_item
    return can_add_evidence(user, item) and (
        evidence.created_by_id == user.id or is_lead(user, item.audit.team_id))


def can_comment(user: User, item) -> bool:
    audit = item.audit
    if audit.is_frozen:
        return False
    return is_member(user, audit.team_id) or user.is_auditor


def can_submit(user: User, audit) -> bool:
    return audit.is_editable and is_lead(user, audit.team_id)


def can_review(user: User, audit) -> bool:
    """Accept or send back items, return or sign off the audit: an auditor from outside the
    team — nobody signs off their own team's work."""
    from tracker.audits.models import AuditState

    return (
        user.is_authenticated
        and user.is_auditor
        and audit.state == AuditState.IN_REVIEW
        and not is_member(user, audit.team_id)
    )


can_sign_off = can_review
can_return = can_review


def can_download_draft(user: User, audit) -> bool:
    return can_view_audit(user, audit) and not audit.is_frozen


def can_download_report(user: User, audit) -> bool:
    return can_view_audit(user, audit) and audit.is_frozen


def can_retry_report(user: User, audit) -> bool:
    """Try a failed signed report again: the team's lead, an auditor or an admin."""
    return audit.is_frozen and user.is_authenticated and (
        user.is_admin or user.is_auditor or is_lead(user, audit.team_id))


def can_start_next_quarter(user: User, audit) -> bool:
    return user.is_authenticated and is_lead(user, audit.team_id)


def can_start_any_audit(user: User) -> bool:
    """Shows "Start audit": a lead of at least one team."""
    return user.is_authenticated and bool(lead_team_ids(user))


# --- dashboards -----------------------------------------------------------------------
# Leads, auditors and admins see readiness across the organisation (the overview is how a
# lead compares their team with the rest); an operator sees the teams they belong to. Item
# detail stays behind can_view_audit: numbers for a team you are not in link to its team
# page, not into its audit.

def can_view_organisation(user: User) -> bool:
    return user.is_authenticated and (
        user.is_admin or user.is_auditor or bool(lead_team_ids(user))
    )


def can_view_team_dashboard(user: User, team_id: int) -> bool:
    return user.is_authenticated and (can_view_organisation(user) or is_member(user, team_id))


def dashboard_team_scope(user: User) -> list[int] | None:
    """The teams whose readiness this user sees: None means every team."""
    return None if can_view_organisation(user) else member_team_ids(user)


def can_open_team_audits(user: User, team_id: int) -> bool:
    """Whether links may lead into a team's audit pages (the rule of can_view_audit)."""
    return user.is_authenticated and (
        user.is_admin or user.is_auditor or is_member(user, team_id)
    )


# --- signals --------------------------------------------------------------------------

def can_view_signals(user: User) -> bool:
    """Signals are organisation-wide: everyone who can report one can read them."""
    return user.is_authenticated


def can_report_signal(user: User) -> bool:
    return user.is_authenticated


def can_triage_signal(user: User) -> bool:
    """Acknowledge and resolve: leads, auditors and admins."""
    return user.is_authenticated and (
        user.is_admin or user.is_auditor or bool(lead_team_ids(user))
    )


# --- corrective actions ---------------------------------------------------------------
# An action is the team's work: its members and admins make and change them; auditors and
# admins read every team's (as they read every audit); another team's members see nothing.

def can_view_action(user: User, action) -> bool:
    return user.is_authenticated and (
        user.is_admin or user.is_auditor or is_member(user, action.team_id))


def can_create_action(user: User, team_id: int) -> bool:
    """The team's lead and operators, and admins."""
    return user.is_authenticated and (user.is_admin or is_member(user, team_id))


def can_edit_action(user: User, action) -> bool:
    return can_create_action(user, action.team_id)


def can_create_some_action(user: User) -> bool:
    """Who is offered "Create corrective action" where no team is given (a signal's page):
    admins, and members of some team."""
    return user.is_authenticated and (user.is_admin or bool(member_team_ids(user)))


PERMISSIONS = {
    name: fn for name, fn in globals().items() if name.startswith("can_") and callable(fn)
}
