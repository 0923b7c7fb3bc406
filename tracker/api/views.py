"""The JSON API under /api/v1: bearer tokens, the same permission functions and services
as the web pages, and an OpenAPI document built from the schemas the endpoints validate
with. Every view: load (or 404) → authorize (403, or 409 when the audit's state is the
reason) → call the service → commit once. Refusals (tracker.rules) become JSON errors with
their status in one handler."""

import re
from datetime import date
from typing import NoReturn

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, g, jsonify, request, send_file, url_for
from sqlalchemy.exc import IntegrityError

from tracker import clock
from tracker.actions import queries as action_queries
from tracker.actions import service as actions
from tracker.actions.models import CorrectiveAction
from tracker.api import queries, schemas
from tracker.api.errors import ApiError, error_response, init_api_errors
from tracker.api.signals import report_signal
from tracker.api.spec import JSON, MULTIPART, build_openapi, operation
from tracker.audits import queries as audit_queries
from tracker.audits import service as audits
from tracker.audits.models import Audit, AuditItem, AuditState, EvidenceKind
from tracker.audits.service import StaleItem
from tracker.audits.storage import evidence_path
from tracker.auth import permissions as perm
from tracker.auth.models import Team, User
from tracker.auth.service import use_token
from tracker.cache import page_cache
from tracker.exchange import audit_results as results_export
from tracker.exchange import oscal
from tracker.extensions import db
from tracker.library.models import Domain
from tracker.reports import queries as report_queries
from tracker.reports import service as reports
from tracker.reports.models import Opinion, ReportStatus
from tracker.reports.render import render_report_pdf
from tracker.rules import Forbidden, ItemsLeft, NotFound, Refusal, RuleViolation
from tracker.search import queries as search_queries
from tracker.signals import queries as signal_queries
from tracker.signals import service as signal_service

bp = Blueprint("api", __name__, url_prefix="/api/v1")
init_api_errors(bp)

PUBLIC = {"api.openapi"}
FIELD_NAMES = {"owner": "owner_email"}  # service field → API field
AUDITS, ITEMS, LIBRARY, SIGNALS, META = "audits", "items", "library", "signals", "meta"
ACTIONS = "actions"
SEARCH = "search"


@bp.before_request
def authenticate():
    if request.endpoint in PUBLIC:
        return
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "unauthorized", "Send your API token as `Authorization: Bearer "
                       "<token>`. Create one on your account page.")
    found = use_token(token.strip())
    if found is None:
        raise ApiError(401, "unauthorized", "This token is unknown or revoked, or its account "
                       "is deactivated. Create a new token on your account page.")
    if db.session.dirty:  # its last use noted (at most once a minute)
        db.session.commit()
    g.api_user = found.user
    g._login_user = found.user  # flask-login's current_user, for code that asks it


@bp.errorhandler(Refusal)
def refused(exc: Refusal):
    db.session.rollback()
    current = (queries.item_out(queries.audit_item(exc.current.audit_id, exc.current.id))
               .model_dump(mode="json") if isinstance(exc, StaleItem) else None)
    items = ([{"id": i.id, "code": i.code, "status": i.status.value,
               "verdict": i.verdict.value if i.verdict else None} for i in exc.items]
             if isinstance(exc, ItemsLeft) else None)
    return error_response(exc.status, exc.code, exc.message,
                          field=FIELD_NAMES.get(exc.field, exc.field), current=current,
                          items=items)


@bp.errorhandler(IntegrityError)
def integrity_error(_exc: IntegrityError):
    db.session.rollback()
    return error_response(409, "conflict", "Someone else made the same change at the same "
                          "moment. Read the resource again and retry.")


def me() -> User:
    return g.api_user


def send(model, status: int = 200, headers: dict | None = None):
    response = jsonify(model.model_dump(mode="json"))
    response.status_code = status
    response.headers.update(headers or {})
    return response


def committed(result):
    """A service's result once the change is committed (a refusal never gets here)."""
    db.session.commit()
    return result


# --- loading and permission -----------------------------------------------------------

def audit_or_404(audit_id: int, *, whole: bool = True) -> Audit:
    audit = queries.audit(audit_id, whole=whole)
    if audit is None or not perm.can_view_audit(me(), audit):
        raise NotFound(f"There is no audit {audit_id}, or it belongs to a team you are not "
                       "in. GET /api/v1/audits lists yours.")
    return audit


def item_or_404(audit_id: int, item_id: int) -> AuditItem:
    """The item with its audit and team, in one statement (item.audit)."""
    item = queries.audit_item(audit_id, item_id)
    if item is None or not perm.can_view_audit(me(), item.audit):
        no_such_item(audit_id, item_id)
    return item


def no_such_item(audit_id: int, item_id: int) -> NoReturn:
    audit_or_404(audit_id, whole=False)  # the audit's own 404, when that is the reason
    raise NotFound(f"Audit {audit_id} has no item {item_id}. GET /api/v1/audits/{audit_id} "
                   "lists its items.")


def authorize(allowed: bool, message: str, *, state_rule=None) -> None:
    """403 unless allowed — but when the user's role would allow it and only the audit's
    state stands in the way, `state_rule` raises that state's Conflict (409)."""
    if allowed:
        return
    if state_rule is not None:
        state_rule()
    raise Forbidden(message)


def editable_rule(audit: Audit):
    return lambda: audits.check_state(audit, audits.EDITABLE)


def submit_rule(audit: Audit):
    return lambda: audits.check_state(audit, audits.EDITABLE, audits.already_submitted)


def review_rule(audit: Audit):
    return lambda: audits.check_state(audit, (AuditState.IN_REVIEW,),
                                      audits.not_in_review_message)


def outside_auditor(audit: Audit) -> bool:
    return me().is_auditor and not perm.is_member(me(), audit.team_id)


# --- meta, people, library ------------------------------------------------------------

@operation(bp, "GET", "/openapi.json", summary="This document", tag=META, public=True,
           responses={200: {"description": "The OpenAPI 3.1 document",
                            "content": {JSON: {"schema": {"type": "object"}}}}})
def openapi():
    doc = current_app.extensions.get("api_openapi")
    if doc is None:
        doc = build_openapi("Readiness Tracker API", "1.0.0", "/api/v1")
        current_app.extensions["api_openapi"] = doc
    return jsonify(doc)


@operation(bp, "GET", "/me", summary="Who the token belongs to", tag=META,
           responses={200: schemas.Me})
def whoami():
    return send(queries.me(me()))


@operation(bp, "GET", "/teams", summary="Teams you can see", tag=META,
           responses={200: schemas.TeamList})
def list_teams():
    """Your teams; admins and auditors see every team."""
    return send(schemas.TeamList(teams=queries.teams_for(me())))


@operation(bp, "GET", "/domains", summary="The readiness library: domains and their items",
           tag=LIBRARY, responses={200: schemas.DomainList})
def list_domains():
    return send(schemas.DomainList(domains=queries.domains()))


# --- audits ---------------------------------------------------------------------------

@operation(bp, "GET", "/audits", summary="Audits you can see", tag=AUDITS,
           query=schemas.AuditQuery, responses={200: schemas.AuditList})
def list_audits(query: schemas.AuditQuery):
    rows, total = queries.audits_page(me(), query)
    return send(schemas.AuditList(audits=[queries.audit_summary(a) for a in rows],
                                  page=query.page, per_page=query.per_page, total=total))


@operation(bp, "POST", "/audits", summary="Start an audit", tag=AUDITS,
           body=schemas.AuditCreate, responses={201: schemas.AuditDetail}, errors=(403, 409, 422))
def create_audit(body: schemas.AuditCreate):
    """Snapshots every active library item of the chosen domains. Team leads only."""
    user = me()
    team = db.session.get(Team, body.team_id)
    if team is None or not (queries.sees_every_team(user) or perm.is_member(user, team.id)):
        raise NotFound(f"There is no team {body.team_id}, or you are not in it. GET "
                       "/api/v1/teams lists yours.", "team_id")
    authorize(perm.can_start_audit(user, team.id),
              f"Only a lead of {team.name} can start its audits.")
    domains = _domains(body.domains)
    audit = committed(audits.start_audit(user, team, body.period, domains,
                                         due_date=body.due_date))
    return _created(audit)


def _domains(codes: list[str]) -> list[Domain]:
    wanted = {c.upper() for c in codes}
    found = db.session.execute(
        sa.select(Domain).where(Domain.code.in_(wanted), Domain.active)
    ).scalars().all()
    unknown = sorted(wanted - {d.code for d in found})
    if unknown:
        raise RuleViolation(f"Unknown domain code(s): {', '.join(unknown)}. GET "
                            "/api/v1/domains lists them.", "domains")
    return found


def _created(audit: Audit):
    audit = queries.audit(audit.id)
    return send(queries.audit_detail(audit), 201,
                {"Location": url_for("api.get_audit", audit_id=audit.id)})


@operation(bp, "GET", "/audits/{audit_id}", summary="An audit with its items, score and "
           "progress", tag=AUDITS, responses={200: schemas.AuditDetail})
@page_cache(depends_on=audit_queries.AUDIT_DATA_CHAINS)
def get_audit(audit_id: int):
    return send(queries.audit_detail(audit_or_404(audit_id, whole=False)))


@operation(bp, "POST", "/audits/{audit_id}/next", summary="Start the next quarter's audit",
           tag=AUDITS, body=schemas.NextQuarter, body_required=False,
           responses={201: schemas.AuditDetail}, errors=(403, 409, 422))
def start_next_quarter(audit_id: int, body: schemas.NextQuarter | None):
    """Same team and scope, owners and not-applicable justifications carried over."""
    audit = audit_or_404(audit_id)
    authorize(perm.can_start_next_quarter(me(), audit),
              f"Only a lead of {audit.team.name} can start its next audit.")
    new = committed(audits.start_next_quarter(me(), audit,
                           due_date=body.due_date if body else None))
    return _created(new)


@operation(bp, "PATCH", "/audits/{audit_id}/items/{item_id}", summary="Update an item",
           tag=ITEMS, body=schemas.ItemPatch, responses={200: schemas.Item},
           errors=(403, 409, 422))
def update_item(audit_id: int, item_id: int, body: schemas.ItemPatch):
    """Send the `version` you read: if someone saved in between, nothing is written and the
    answer is 409 with the current item. Owners and due dates are the lead's to set."""
    user = me()
    item = item_or_404(audit_id, item_id)
    audit = item.audit
    sent = body.model_fields_set
    authorize(perm.can_update_item(user, item),
              f"Only members of {audit.team.name} can update its items.",
              state_rule=editable_rule(audit) if perm.is_member(user, audit.team_id) else None)
    if sent & {"owner_email", "due_date"}:
        authorize(perm.can_manage_audit(user, audit),
                  f"Only a lead of {audit.team.name} assigns owners and due dates.")
    changes = {name: getattr(body, name) for name in ("status", "due_date", "justification")
               if name in sent}
    if "owner_email" in sent:
        changes["owner"] = _owner(body.owner_email)
    audits.update_item(user, item, expected_version=body.version, **changes)
    if body.note and body.note.strip():
        audits.add_comment(user, item, body.note)
    answer = queries.item_out(item)  # the item as saved, before the commit expires it
    db.session.commit()
    return send(answer)


@operation(bp, "POST", "/audits/{audit_id}/items/bulk", summary="Change many items at once "
           "(leads)", tag=ITEMS, body=schemas.BulkItems, responses={200: schemas.Changed},
           errors=(403, 409, 422))
def bulk_update(audit_id: int, body: schemas.BulkItems):
    """The audit page's bulk change: status, owner, due date or justification of the chosen
    items; `changed` counts the items that did not already have these values."""
    audit = audit_or_404(audit_id, whole=False)
    authorize(perm.can_manage_audit(me(), audit), f"Only a lead of {audit.team.name} can "
              "change many items at once.",
              state_rule=editable_rule(audit) if perm.is_lead(me(), audit.team_id) else None)
    sent = body.model_fields_set
    changes = {name: getattr(body, name) for name in ("status", "due_date", "justification")
               if name in sent}
    if "owner_email" in sent:
        changes["owner"] = _owner(body.owner_email)
    return send(schemas.Changed(changed=committed(
        audits.bulk_update(me(), audit, body.item_ids, **changes))))


def _owner(email: str | None) -> User | None:
    if not email:
        return None
    owner = queries.user_by_email(email)
    if owner is None:
        raise RuleViolation(f"No account has the email {email}; choose an owner from the "
                            "team.", "owner_email")
    return owner


EVIDENCE_FILE = {"type": "object", "properties": {
    "file": {"type": "string", "format": "binary"},
    "effective_date": {"type": "string", "format": "date",
                       "description": "When the thing was done; default today."}},
    "required": ["file"]}


@operation(bp, "POST", "/audits/{audit_id}/items/{item_id}/evidence", summary="Attach evidence",
           tag=ITEMS, body={MULTIPART: EVIDENCE_FILE,
                            JSON: [schemas.EvidenceLink, schemas.EvidenceNote]},
           responses={201: schemas.EvidenceOut}, errors=(403, 409, 413, 415, 422))
def add_evidence(audit_id: int, item_id: int, body):
    """A file as multipart field `file` (PDF, images, Office documents or plain text, checked
    by content), or JSON `{"url": ...}` or `{"note": ...}`."""
    user = me()
    item = item_or_404(audit_id, item_id)
    audit = item.audit
    authorize(perm.can_add_evidence(user, item),
              f"Only members of {audit.team.name} can attach evidence to its items.",
              state_rule=editable_rule(audit) if perm.is_member(user, audit.team_id) else None)
    if isinstance(body, schemas.EvidenceLink):
        evidence = committed(audits.add_evidence(user, item, url=body.url,
                                                 effective_date=body.effective_date))
    elif isinstance(body, schemas.EvidenceNote):
        evidence = committed(audits.add_evidence(user, item, note=body.note,
                                                 effective_date=body.effective_date))
    else:
        upload = body.get("file")
        if upload is None or not upload.filename:
            raise ApiError(400, "invalid_field", "file: send the file as the multipart form "
                           "field named `file`.", field="file")
        evidence = _store_file(user, item, upload)
    return send(queries.evidence_out(evidence, item.cadence), 201)


def _store_file(user, item, upload):
    limit = current_app.config["MAX_EVIDENCE_BYTES"]
    upload.stream.seek(0, 2)
    size = upload.stream.tell()
    upload.stream.seek(0)
    if size > limit:
        raise ApiError(413, "too_large", f"The file is larger than the {limit // (1024 * 1024)}"
                       " MB limit. Upload a smaller file, or attach a link to where it is kept.",
                       field="file")
    if size == 0:
        raise RuleViolation("The file is empty. Send the file's content.", "file")
    effective = request.form.get("effective_date")
    if effective is not None:  # sent: it must be a date (YYYY-MM-DD), as the schema says
        try:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", effective):
                raise ValueError(effective)
            effective = date.fromisoformat(effective)
        except ValueError:
            raise RuleViolation(f"effective_date: “{effective}” is not a date; send "
                                "YYYY-MM-DD, or leave it out for today.",
                                "effective_date") from None
    return committed(audits.add_evidence(user, item, upload=upload.stream,
                            filename=upload.filename, effective_date=effective))


FILE = {"description": "The file as uploaded", "content": {
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}


@operation(bp, "GET", "/audits/{audit_id}/items/{item_id}/evidence/{evidence_id}",
           summary="Download an evidence file", tag=ITEMS, responses={200: FILE})
def download_evidence(audit_id: int, item_id: int, evidence_id: int):
    """The stored bytes with the content type found at upload (links and notes have no
    file: their text is in the item's `evidence`)."""
    item = item_or_404(audit_id, item_id)
    evidence = next((e for e in item.evidence if e.id == evidence_id), None)
    if evidence is None or evidence.kind != EvidenceKind.FILE:
        raise NotFound(f"Item {item_id} has no evidence file {evidence_id}. GET /api/v1/audits/"
                       f"{audit_id} lists each item's evidence; links and notes have no file.")
    path = evidence_path(evidence.sha256)
    if not path.is_file():
        raise ApiError(503, "evidence_unavailable", f"The file of evidence {evidence_id} is "
                       "missing from the evidence store. Tell an admin (`flask --app app "
                       "backup restore` brings it back).")
    response = send_file(path, mimetype=evidence.content_type, as_attachment=True,
                         download_name=evidence.filename or "evidence", max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@operation(bp, "DELETE", "/audits/{audit_id}/items/{item_id}/evidence/{evidence_id}",
           summary="Remove evidence", tag=ITEMS, responses={204: None}, errors=(403, 409, 422))
def remove_evidence(audit_id: int, item_id: int, evidence_id: int):
    """Whoever added it, or the team's lead, while the audit is open. The history keeps a
    record of it; a met item keeps enough evidence to stay met (422 otherwise)."""
    user = me()
    item = item_or_404(audit_id, item_id)
    audit = item.audit
    authorize(perm.can_add_evidence(user, item),
              f"Only members of {audit.team.name} can change the evidence of its items.",
              state_rule=editable_rule(audit) if perm.is_member(user, audit.team_id) else None)
    evidence = next((e for e in item.evidence if e.id == evidence_id), None)
    if evidence is None:
        raise NotFound(f"Item {item_id} has no evidence {evidence_id}. GET /api/v1/audits/"
                       f"{audit_id} lists each item's evidence.")
    authorize(perm.can_remove_evidence(user, evidence),
              f"Only {evidence.created_by.name}, who added this evidence, or a lead of "
              f"{audit.team.name} can remove it.")
    committed(audits.remove_evidence(user, evidence))
    return "", 204


@operation(bp, "GET", "/audits/{audit_id}/items/{item_id}/comments", summary="An item's "
           "comments, oldest first", tag=ITEMS, responses={200: schemas.CommentList})
def list_comments(audit_id: int, item_id: int):
    item = item_or_404(audit_id, item_id)
    return send(schemas.CommentList(comments=queries.item_comments(item.id)))


@operation(bp, "POST", "/audits/{audit_id}/items/{item_id}/comments", summary="Comment on an "
           "item", tag=ITEMS, body=schemas.CommentCreate, responses={201: schemas.CommentOut},
           errors=(403, 409, 422))
def add_comment(audit_id: int, item_id: int, body: schemas.CommentCreate):
    item = item_or_404(audit_id, item_id)
    audit = item.audit
    authorize(perm.can_comment(me(), item), "Only the team and auditors can comment on its "
              "items.", state_rule=lambda: audits.check_state(
                  audit, audits.COMMENTABLE, lambda _: "This audit is signed off; comments "
                  "are closed."))
    comment = audits.add_comment(me(), item, body.body)
    answer = queries.comment_out(comment)
    db.session.commit()
    return send(answer, 201)


@operation(bp, "POST", "/audits/{audit_id}/items/{item_id}/review", summary="Accept an item "
           "or send it back (auditors)", tag=ITEMS, body=schemas.ReviewItem,
           responses={200: schemas.Item}, errors=(403, 409, 422))
def review_item(audit_id: int, item_id: int, body: schemas.ReviewItem):
    item = item_or_404(audit_id, item_id)
    audit = item.audit
    authorize(perm.can_review(me(), audit), "Only an auditor from outside the team reviews "
              "its audit.", state_rule=review_rule(audit) if outside_auditor(audit) else None)
    committed(audits.review_item(me(), item, body.verdict, body.note))
    return send(queries.item_out(queries.audit_item(audit.id, item.id)))


@operation(bp, "POST", "/audits/{audit_id}/submit", summary="Submit for review (leads)",
           tag=AUDITS, responses={200: schemas.AuditSummary}, errors=(403, 409, 422))
def submit_audit(audit_id: int):
    audit = audit_or_404(audit_id)
    authorize(perm.can_submit(me(), audit), f"Only a lead of {audit.team.name} submits its "
              "audit.", state_rule=submit_rule(audit) if perm.is_lead(me(), audit.team_id)
              else None)
    committed(audits.submit_for_review(me(), audit))
    return send(queries.audit_summary(queries.audit(audit.id)))


@operation(bp, "POST", "/audits/{audit_id}/return", summary="Send back to the team "
           "(auditors)", tag=AUDITS, body=schemas.ReturnAudit,
           responses={200: schemas.AuditSummary}, errors=(403, 409, 422))
def return_audit(audit_id: int, body: schemas.ReturnAudit):
    audit = audit_or_404(audit_id)
    authorize(perm.can_return(me(), audit), "Only an auditor from outside the team sends its "
              "audit back.", state_rule=review_rule(audit) if outside_auditor(audit) else None)
    committed(audits.return_audit(me(), audit, body.reason))
    return send(queries.audit_summary(queries.audit(audit.id)))


@operation(bp, "POST", "/audits/{audit_id}/signoff", summary="Sign off (auditors from "
           "outside the team)", tag=AUDITS, body=schemas.SignOffRequest,
           responses={200: schemas.SignOffOut}, errors=(403, 409, 422))
def sign_off(audit_id: int, body: schemas.SignOffRequest):
    """Freezes the audit and signs its report."""
    audit = audit_or_404(audit_id)
    authorize(perm.can_sign_off(me(), audit), "Only an auditor from outside the team signs "
              "off its audit.", state_rule=review_rule(audit) if outside_auditor(audit) else None)
    signoff = committed(reports.sign_off(me(), audit, body.statement, body.opinion))
    exceptions = ([row.code for row in reports.exceptions_of(audit)]
                  if signoff.opinion == Opinion.READY_WITH_EXCEPTIONS else [])
    return send(schemas.SignOffOut(
        audit_id=audit.id, statement=signoff.statement, auditor=signoff.auditor.email,
        signed_at=queries.utc(signoff.signed_at), audit_sha256=signoff.audit_sha256,
        opinion=signoff.opinion, exceptions=exceptions,
        report_status=signoff.report_status.value))


@operation(bp, "POST", "/audits/{audit_id}/mark-rest-not-met", summary="Set every open item "
           "not met, with a note (leads)", tag=AUDITS, body=schemas.MarkRestNotMet,
           responses={200: schemas.Changed}, errors=(403, 409, 422))
def mark_rest_not_met(audit_id: int, body: schemas.MarkRestNotMet):
    """What is left before submitting: each open item becomes not met, the note its comment."""
    audit = audit_or_404(audit_id)
    authorize(perm.can_submit(me(), audit), f"Only a lead of {audit.team.name} does this.",
              state_rule=submit_rule(audit) if perm.is_lead(me(), audit.team_id) else None)
    return send(schemas.Changed(changed=committed(
        audits.mark_rest_not_met(me(), audit, body.note))))


@operation(bp, "POST", "/audits/{audit_id}/accept", summary="Accept many items (auditors from "
           "outside the team)", tag=AUDITS, body=schemas.AcceptItems,
           responses={200: schemas.Changed}, errors=(403, 409, 422))
def accept_items(audit_id: int, body: schemas.AcceptItems):
    """The given items, or every item not reviewed yet; items needing rework only by id."""
    audit = audit_or_404(audit_id)
    authorize(perm.can_review(me(), audit), "Only an auditor from outside the team reviews "
              "its audit.", state_rule=review_rule(audit) if outside_auditor(audit) else None)
    return send(schemas.Changed(changed=committed(
        audits.accept_items(me(), audit, body.item_ids,
                            domain_id=audits.audit_domain_id(audit, body.domain)))))


# --- exports --------------------------------------------------------------------------

RESULTS_JSON = {"description": "The audit's canonical results (what sign-off hashes)",
                "content": {JSON: {"schema": {"type": "object",
                                              "required": ["format", "audit", "score", "items"]}}}}
RESULTS_CSV = {"description": "One row per item", "content": {"text/csv": {"schema": {
    "type": "string"}}}}
OSCAL_RESULTS = {"description": "OSCAL assessment-results", "content": {JSON: {"schema": {
    "type": "object", "required": ["assessment-results"]}}}}


@operation(bp, "GET", "/audits/{audit_id}/results.json", summary="Results as canonical JSON",
           tag=AUDITS, responses={200: RESULTS_JSON})
def results_json(audit_id: int):
    """The exact bytes whose SHA-256 the sign-off records (`audit_sha256`)."""
    audit = audit_or_404(audit_id)
    return Response(results_export.audit_json(audit), mimetype=JSON,
                    headers=results_export.attachment(audit, "json"))


@operation(bp, "GET", "/audits/{audit_id}/results.csv", summary="Results as CSV", tag=AUDITS,
           responses={200: RESULTS_CSV})
def results_csv(audit_id: int):
    audit = audit_or_404(audit_id)
    return Response(results_export.audit_csv(audit), mimetype="text/csv",
                    headers=results_export.attachment(audit, "csv"))


@operation(bp, "GET", "/audits/{audit_id}/oscal.json", summary="A signed-off audit as OSCAL "
           "assessment results", tag=AUDITS, responses={200: OSCAL_RESULTS})
def results_oscal(audit_id: int):
    """A finding per item, satisfied or not satisfied; 404 until the audit is signed off."""
    audit = audit_or_404(audit_id)
    if not audit.is_frozen:
        raise ApiError(404, "not_found", "OSCAL assessment results exist once the audit is "
                       "signed off; use results.json for the work in progress.")
    return Response(oscal.assessment_results_json(audit), mimetype=JSON,
                    headers=results_export.attachment(audit, "oscal.json"))


PDF = {"description": "The report (PDF)", "content": {"application/pdf": {"schema": {
    "type": "string", "format": "binary"}}}}


@operation(bp, "GET", "/audits/{audit_id}/report.pdf", summary="The signed report, or with "
           "draft=1 a draft of an open audit", tag=AUDITS, query=schemas.DraftQuery,
           responses={200: PDF}, errors=(403, 503))
def report_pdf(audit_id: int, query: schemas.DraftQuery):
    """The signed PDF exists once the audit is signed off (404 before); `?draft=1` renders
    an unsigned draft of an audit that is not signed off yet."""
    audit = audit_or_404(audit_id)
    name = results_export.filename(audit, "pdf")
    if query.draft == "1":
        authorize(perm.can_download_draft(me(), audit), "A signed-off audit has no draft; "
                  "download its signed report instead.")
        pdf = render_report_pdf(audit)
        return Response(pdf, mimetype="application/pdf",
                        headers={"Content-Disposition": f'attachment; filename="draft-{name}"'})
    if not audit.is_frozen:
        raise ApiError(404, "not_found", "The signed report exists once the audit is signed "
                       "off. Use ?draft=1 for a draft of the work so far.")
    authorize(perm.can_download_report(me(), audit), "You cannot download this report.")
    signoff = report_queries.signoff_for(audit.id)
    if signoff is None or signoff.report_status != ReportStatus.READY:
        failed = signoff is not None and signoff.report_status == ReportStatus.FAILED
        raise ApiError(503, "report_unavailable",
                       "The signed report could not be made; an admin can run `flask --app app "
                       f"report create {audit.id}`." if failed else
                       "The signed report is still being made; try again in a minute.",
                       headers={"Retry-After": "60"})
    try:
        data = reports.read_stored_report(signoff)
    except reports.StoredReportError as exc:
        raise ApiError(503, "report_unavailable", f"{exc} Tell an admin.") from None
    return Response(data, mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{name}"',
                             "ETag": f'"{signoff.pdf_sha256}"'})


# --- signals --------------------------------------------------------------------------

@operation(bp, "GET", "/signals", summary="Frontline signals", tag=SIGNALS,
           query=schemas.SignalQuery, responses={200: schemas.SignalList})
def list_signals(query: schemas.SignalQuery):
    rows, total = queries.signals_page(query)
    return send(schemas.SignalList(signals=[queries.signal_out(s) for s in rows],
                                   page=query.page, per_page=query.per_page, total=total))


@operation(bp, "POST", "/signals", summary="Report a signal", tag=SIGNALS,
           body=schemas.SignalCreate, responses={201: schemas.SignalOut}, errors=(403, 422))
def create_signal(body: schemas.SignalCreate):
    """What support, monitoring or an operator saw, tied to the failures it points to."""
    authorize(perm.can_report_signal(me()), "Your account cannot report signals.")
    signal = committed(report_signal(
        me(), summary=body.summary, details=body.details, source=body.source,
        severity=body.severity, observed_at=body.observed_at, domain_code=body.domain,
        failure_codes=body.failures))
    return send(queries.signal_out(signal), 201)


@operation(bp, "POST", "/signals/{signal_id}/acknowledge", summary="Acknowledge a signal "
           "(leads, auditors, admins)", tag=SIGNALS, body=schemas.SignalNote,
           responses={200: schemas.SignalOut}, errors=(403, 422))
def acknowledge_signal(signal_id: int, body: schemas.SignalNote):
    return _triage(signal_id, body, signal_service.acknowledge)


@operation(bp, "POST", "/signals/{signal_id}/resolve", summary="Resolve a signal (leads, "
           "auditors, admins)", tag=SIGNALS, body=schemas.SignalNote,
           responses={200: schemas.SignalOut}, errors=(403, 422))
def resolve_signal(signal_id: int, body: schemas.SignalNote):
    return _triage(signal_id, body, signal_service.resolve)


def _triage(signal_id: int, body: schemas.SignalNote, action):
    signal = signal_queries.signal_or_404(signal_id)
    authorize(perm.can_triage_signal(me()), "Leads, auditors and admins acknowledge and "
              "resolve signals; you can still read and report them.")
    committed(action(me(), signal, body.note))
    return send(queries.signal_out(signal_queries.signal_or_404(signal_id)))


# --- corrective actions ---------------------------------------------------------------

def action_out(action: CorrectiveAction) -> schemas.ActionOut:
    item = action.audit_item
    return schemas.ActionOut(
        id=action.id, title=action.title, team_id=action.team_id,
        audit_item_id=action.audit_item_id, audit_id=item.audit_id if item else None,
        period=item.audit.period if item else None, item_code=item.code if item else None,
        owner=action.owner.email if action.owner else None, due_on=action.due_on,
        priority=action.priority, status=action.status,
        overdue=action_queries.is_overdue(action, clock.today()),
        closing_note=action.closing_note, wont_do_reason=action.wont_do_reason,
        created_by=action.created_by.email, created_at=queries.utc(action.created_at),
        closed_at=queries.utc(action.closed_at))


def action_or_404(action_id: int) -> CorrectiveAction:
    action = db.session.get(CorrectiveAction, action_id)
    if action is None or not perm.can_view_action(me(), action):
        raise NotFound(f"There is no action {action_id}, or it belongs to a team you are not "
                       "in. GET /api/v1/actions lists yours.")
    return action


@operation(bp, "GET", "/actions", summary="Corrective actions you can see", tag=ACTIONS,
           query=schemas.ActionQuery, responses={200: schemas.ActionList})
def list_actions(query: schemas.ActionQuery):
    """Your teams' actions (every team's for admins and auditors), overdue first; `mine=1`
    for the ones you own, `team_id` for one team's; a page at a time (`page`, `per_page`)."""
    rows, total = action_queries.visible_actions(
        me(), team_id=query.team_id, mine=query.mine == "1", only_open=query.open == "1",
        today=clock.today(), page=query.page, per_page=query.per_page)
    return send(schemas.ActionList(actions=[action_out(a) for a in rows], page=query.page,
                                   per_page=query.per_page, total=total))


@operation(bp, "POST", "/actions", summary="Create a corrective action", tag=ACTIONS,
           body=schemas.ActionCreate, responses={201: schemas.ActionOut},
           errors=(403, 404, 422))
def create_action(body: schemas.ActionCreate):
    """From an audit item (`audit_item_id`) or by hand for a team (`team_id`): the team's
    lead and operators, and admins."""
    item = team = None
    if body.audit_item_id is not None:
        item = db.session.get(AuditItem, body.audit_item_id)
        if item is None or not perm.can_view_audit(me(), item.audit):
            raise NotFound(f"There is no audit item {body.audit_item_id}, or it belongs to a "
                           "team you are not in.")
    if body.team_id is not None:
        team = db.session.get(Team, body.team_id)
        if team is None or not (me().is_admin or me().is_auditor
                                or perm.is_member(me(), team.id)):
            raise NotFound(f"There is no team {body.team_id} of yours. GET /api/v1/teams "
                           "lists them.")
    action = actions.create_action(me(), title=body.title, team=team, audit_item=item,
                                   owner=_owner(body.owner_email), due_on=body.due_on,
                                   priority=body.priority)
    answer = action_out(action)
    db.session.commit()
    return send(answer, 201)


@operation(bp, "PATCH", "/actions/{action_id}", summary="Update or close an action",
           tag=ACTIONS, body=schemas.ActionPatch, responses={200: schemas.ActionOut},
           errors=(403, 409, 422))
def update_action(action_id: int, body: schemas.ActionPatch):
    """Change what you send. `status` done or wont_do closes the action and needs `note`:
    the closing evidence, or the reason."""
    action = action_or_404(action_id)
    authorize(perm.can_edit_action(me(), action),
              f"Only members of {action.team.name} (or an admin) can change its actions.")
    sent = body.model_fields_set
    closing = body.status is not None and not body.status.is_open
    changes = {name: getattr(body, name) for name in ("title", "due_on") if name in sent}
    if body.priority is not None:
        changes["priority"] = body.priority
    if body.status is not None and not closing:
        changes["status"] = body.status
    if "owner_email" in sent:
        changes["owner"] = _owner(body.owner_email)
    if changes:
        actions.update_action(me(), action, **changes)
    if closing:
        actions.close_action(me(), action, outcome=body.status, note=body.note)
    db.session.flush()
    answer = action_out(db.session.get(CorrectiveAction, action_id))
    db.session.commit()
    return send(answer)


# --- search ---------------------------------------------------------------------------

@operation(bp, "GET", "/search", summary="Search what you can see", tag=SEARCH,
           query=schemas.SearchQuery, responses={200: schemas.SearchResults}, errors=(422,),
           description="The search page's results: audit items, evidence and comments of your "
           "teams' audits (every team's for admins and auditors), signals, library items and "
           f"failure patterns, grouped by kind — up to {search_queries.PER_KIND} of each, or "
           f"{search_queries.ONE_KIND} of one `kind`.")
def search(query: schemas.SearchQuery):
    found = search_queries.search(me(), query.q, query.kind)
    if found.query.empty:
        raise RuleViolation("q has no letter or digit to search for; send a word or an item "
                            "code such as DV-01.", "q")
    return send(queries.search_out(found, query.kind))
