"""API reads: each response in a fixed number of queries, and its JSON shape."""

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, selectinload

from tracker.api import schemas
from tracker.audits import readmodel, validity
from tracker.audits.models import Audit, AuditItem, Comment, Evidence
from tracker.auth.models import Membership, Team, User
from tracker.auth.permissions import member_team_ids
from tracker.extensions import db
from tracker.library.models import Domain, ReadinessItem
from tracker.search import queries as search_queries
from tracker.signals.models import Signal


def utc(value: datetime | None) -> datetime | None:
    """Stored times are naive UTC; the API says so (RFC 3339 with a Z)."""
    return value.replace(tzinfo=UTC) if value is not None else None


def sees_every_team(user: User) -> bool:
    return user.is_admin or user.is_auditor


# --- audits ---------------------------------------------------------------------------

_AUDIT_LOAD = (selectinload(Audit.team), selectinload(Audit.lead), selectinload(Audit.domains),
               selectinload(Audit.tallies))


def audit(audit_id: int, *, whole: bool = True) -> Audit | None:
    """The audit with what its answer shows; `whole=False` only with its team, for the
    item endpoints, which answer with the item."""
    options = _AUDIT_LOAD if whole else (joinedload(Audit.team),)
    return db.session.execute(
        sa.select(Audit).where(Audit.id == audit_id).options(*options)
    ).unique().scalar_one_or_none()


def audit_items(audit_id: int) -> list[AuditItem]:
    return readmodel.items_with_evidence(audit_id)


def audit_item(audit_id: int, item_id: int) -> AuditItem | None:
    """The item with its audit, team, owner, domain and evidence: one statement."""
    return db.session.execute(
        sa.select(AuditItem).where(AuditItem.audit_id == audit_id, AuditItem.id == item_id)
        .options(joinedload(AuditItem.audit).joinedload(Audit.team),
                 joinedload(AuditItem.owner), joinedload(AuditItem.domain),
                 joinedload(AuditItem.evidence).joinedload(Evidence.created_by))
    ).unique().scalar_one_or_none()


def audits_page(user: User, query: schemas.AuditQuery) -> tuple[list[Audit], int]:
    where = []
    if not sees_every_team(user):
        where.append(Audit.team_id.in_(member_team_ids(user)))
    if query.team_id is not None:
        where.append(Audit.team_id == query.team_id)
    if query.period is not None:
        where.append(Audit.period == query.period)
    if query.state is not None:
        where.append(Audit.state == query.state)
    total = db.session.execute(sa.select(sa.func.count(Audit.id)).where(*where)).scalar_one()
    rows = db.session.execute(
        sa.select(Audit).where(*where).order_by(Audit.period.desc(), Audit.id.desc())
        .limit(query.per_page).offset((query.page - 1) * query.per_page).options(*_AUDIT_LOAD)
    ).scalars().all()
    return rows, total


def score(summary: readmodel.AuditSummary) -> schemas.Score:
    return schemas.Score(weighted_met=summary.weight_met,
                         weighted_applicable=summary.weight_applicable,
                         percent=summary.score_percent)


def progress(summary: readmodel.AuditSummary) -> schemas.Progress:
    total, done = summary.total, summary.decided
    return schemas.Progress(total=total, done=done, by_status=dict(summary.counts),
                            percent=round(100 * done / total, 1) if total else None)


def audit_summary(audit: Audit, model=schemas.AuditSummary, **extra):
    """The API's view of the one audit summary (readmodel), from the tallies loaded with
    the audit."""
    summary = readmodel.summary_of_tallies(audit)
    return model(
        id=audit.id, team_id=audit.team_id, team=audit.team.name, period=audit.period,
        state=audit.state, domains=[d.code for d in audit.domains],
        lead=audit.lead.email if audit.lead else None, due_date=audit.due_date,
        return_reason=audit.return_reason, created_at=utc(audit.created_at),
        submitted_at=utc(audit.submitted_at), signed_off_at=utc(audit.signed_off_at),
        score=score(summary), progress=progress(summary), **extra,
    )


def audit_detail(audit: Audit) -> schemas.AuditDetail:
    return audit_summary(audit, schemas.AuditDetail,
                         items=[item_out(i) for i in audit_items(audit.id)])


def evidence_out(e: Evidence, cadence) -> schemas.EvidenceOut:
    return schemas.EvidenceOut(
        id=e.id, kind=e.kind, filename=e.filename, content_type=e.content_type, size=e.size,
        url=e.url, note=e.note, sha256=e.sha256, created_by=e.created_by.email,
        created_at=utc(e.created_at), effective_date=e.effective_date,
        valid_until=validity.valid_until(e.effective_date, cadence),
    )


def item_out(item: AuditItem) -> schemas.Item:
    return schemas.Item(
        id=item.id, code=item.code, domain=item.domain.code, title=item.title,
        criticality=item.criticality, evidence_required=item.evidence_required,
        status=item.status, owner=item.owner.email if item.owner else None,
        due_date=item.due_date, justification=item.justification, verdict=item.verdict,
        verdict_note=item.verdict_note, version=item.version, updated_at=utc(item.updated_at),
        evidence=[evidence_out(e, item.cadence) for e in item.evidence],
    )


def item_comments(item_id: int) -> list[schemas.CommentOut]:
    rows = db.session.execute(
        sa.select(Comment).where(Comment.audit_item_id == item_id)
        .options(joinedload(Comment.author)).order_by(Comment.created_at, Comment.id)
    ).scalars().all()
    return [comment_out(c) for c in rows]


def comment_out(c: Comment) -> schemas.CommentOut:
    return schemas.CommentOut(id=c.id, author=c.author.email, author_name=c.author.name,
                              body=c.body, created_at=utc(c.created_at))


# --- people and library ---------------------------------------------------------------

def teams_for(user: User) -> list[schemas.Team]:
    roles = {m.team_id: m.role.value for m in user.memberships}
    stmt = sa.select(Team).order_by(Team.name)
    if not sees_every_team(user):
        stmt = stmt.where(Team.id.in_(list(roles)))
    return [schemas.Team(id=t.id, name=t.name, description=t.description,
                         your_role=roles.get(t.id))
            for t in db.session.execute(stmt).scalars()]


def me(user: User) -> schemas.Me:
    memberships = db.session.execute(
        sa.select(Membership).where(Membership.user_id == user.id)
        .options(selectinload(Membership.team))
    ).scalars().all()
    return schemas.Me(id=user.id, email=user.email, name=user.name, roles=user.global_roles,
                      teams=[schemas.TeamMembership(team_id=m.team_id, team=m.team.name,
                                                    role=m.role.value)
                             for m in sorted(memberships, key=lambda m: m.team.name)])


def domains() -> list[schemas.Domain]:
    rows = db.session.execute(
        sa.select(Domain).where(Domain.active).order_by(Domain.position, Domain.code)
        .options(selectinload(Domain.items).selectinload(ReadinessItem.failures))
    ).scalars().all()
    return [schemas.Domain(
        code=d.code, name=d.name, summary=d.summary,
        items=[schemas.LibraryItem(code=i.code, title=i.title, criticality=i.criticality,
                                   evidence_required=i.evidence_required, guidance=i.guidance,
                                   evidence_hint=i.evidence_hint,
                                   guards=[f.code for f in i.failures])
               for i in d.items if i.active],
    ) for d in rows]


def user_by_email(email: str) -> User | None:
    return db.session.execute(
        sa.select(User).where(User.email == email.strip().lower())
        .options(selectinload(User.memberships))
    ).scalar_one_or_none()


# --- signals --------------------------------------------------------------------------

def signals_page(query: schemas.SignalQuery) -> tuple[list[Signal], int]:
    where = []
    if query.state is not None:
        where.append(Signal.state == query.state)
    if query.domain is not None:
        where.append(Signal.domain.has(Domain.code == query.domain.upper()))
    total = db.session.execute(sa.select(sa.func.count(Signal.id)).where(*where)).scalar_one()
    rows = db.session.execute(
        sa.select(Signal).where(*where).order_by(Signal.observed_at.desc(), Signal.id.desc())
        .limit(query.per_page).offset((query.page - 1) * query.per_page)
        .options(selectinload(Signal.domain), selectinload(Signal.failures),
                 selectinload(Signal.reported_by))
    ).scalars().all()
    return rows, total


def signal_out(s: Signal) -> schemas.SignalOut:
    return schemas.SignalOut(
        id=s.id, summary=s.summary, details=s.details, source=s.source, severity=s.severity,
        state=s.state, observed_at=utc(s.observed_at), domain=s.domain.code if s.domain else None,
        failures=[f.code for f in s.failures], reported_by=s.reported_by.email,
        created_at=utc(s.created_at),
    )


def search_out(found: search_queries.Results, kind: str | None) -> schemas.SearchResults:
    groups = [schemas.SearchGroup(kind=g.key, label=g.kind.label, more=g.more, results=[
        schemas.SearchResult(id=r.id, kind=r.kind, title=r.title, context=r.context, url=r.url,
                             snippet=search_queries.plain(r.snippet)) for r in g.results])
        for g in found.groups]
    return schemas.SearchResults(q=found.query.text, kind=kind, count=found.count, groups=groups)
