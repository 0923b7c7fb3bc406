"""The landing page: what this person has to do next, by role."""

import sqlalchemy as sa
from flask import Blueprint, render_template
from flask_login import current_user, login_required
from sqlalchemy.orm import selectinload

from tracker.audits import vocabulary
from tracker.audits.models import Audit, AuditItem, AuditState
from tracker.auth.models import Membership
from tracker.auth.permissions import member_team_ids
from tracker.errors import UNAVAILABLE_RETRY_SECONDS, database_unavailable, rollback_quietly
from tracker.extensions import db

bp = Blueprint("home", __name__)


@bp.get("/")
@login_required
def index():
    team_ids = member_team_ids(current_user)
    team_audits = db.session.execute(
        sa.select(Audit).where(Audit.team_id.in_(team_ids))
        .order_by(Audit.period.desc(), Audit.team_id).limit(12)
        .options(selectinload(Audit.team))
    ).scalars().all() if team_ids else []
    my_open_items = db.session.execute(
        sa.select(sa.func.count(AuditItem.id)).join(Audit)
        .where(AuditItem.owner_id == current_user.id,
               vocabulary.working_audit_clause(), AuditItem.status.in_(vocabulary.OPEN))
    ).scalar_one()
    awaiting_review = db.session.execute(
        sa.select(Audit).where(Audit.state == AuditState.IN_REVIEW)
        .order_by(Audit.submitted_at).options(selectinload(Audit.team))
    ).scalars().all() if current_user.is_auditor else []
    memberships = db.session.execute(
        sa.select(Membership).where(Membership.user_id == current_user.id)
        .options(selectinload(Membership.team))
    ).scalars().all()
    return render_template("home/index.html", team_audits=team_audits,
                           my_open_items=my_open_items, awaiting_review=awaiting_review,
                           memberships=memberships)


@bp.get("/healthz")
def healthz():
    """Liveness for load balancers; also the benchmark's floor (no database, no session)."""
    return {"status": "ok"}


@bp.get("/readyz")
def readyz():
    """Readiness: the database answers. A load balancer reads the status; the JSON says why."""
    try:
        db.session.execute(sa.select(1))
    except (sa.exc.SQLAlchemyError, OSError) as exc:
        rollback_quietly()
        reason = "unavailable" if database_unavailable(exc) else "error"
        return ({"status": "unavailable", "database": reason,
                 "message": "The database does not answer."}, 503,
                {"Retry-After": str(UNAVAILABLE_RETRY_SECONDS)})
    return {"status": "ready"}
