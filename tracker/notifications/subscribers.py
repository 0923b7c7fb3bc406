"""Who hears of what: each activity event that concerns someone becomes notifications, and
an event for the webhook endpoints subscribed to its type (outgoing.publish), in the
transaction that recorded it (activity.on_record). Events that concern no one cost nothing:
the common item save (a status change) returns before any query."""

import json
import re
from collections import Counter

import sqlalchemy as sa

from tracker import activity
from tracker.actions.models import CorrectiveAction
from tracker.activity import ActivityEvent
from tracker.audits.models import Audit, AuditItem, Comment, Verdict
from tracker.auth.models import Membership, TeamRole, User
from tracker.extensions import db
from tracker.notifications import payloads
from tracker.notifications.outgoing import publish
from tracker.notifications.payloads import audit_ref, item_ref, person
from tracker.notifications.service import notify, path_for
from tracker.reports.models import OPINION_LABELS, Opinion
from tracker.signals import queries as signal_queries
from tracker.signals.models import Signal

_REACTIONS = {}


def reacts_to(*actions: str):
    def register(fn):
        for action in actions:
            _REACTIONS[action] = fn
        return fn
    return register


@activity.on_record
def on_event(event: ActivityEvent) -> None:
    react = _REACTIONS.get(event.action)
    if react is not None:
        react(event, json.loads(event.after) if event.after else {})


def _key(kind: str, event: ActivityEvent) -> str:
    return f"{kind}:{event.chain}:{event.seq}"


def _item_link(item: AuditItem) -> str:
    return path_for("audits.item", audit_id=item.audit_id, item_id=item.id)


def _audit_name(audit: Audit) -> str:
    return f"{audit.team.name} {audit.period}"


def _team(team_id: int, *roles: TeamRole) -> list[User]:
    stmt = (sa.select(User).join(Membership, Membership.user_id == User.id)
            .where(Membership.team_id == team_id))
    if roles:
        stmt = stmt.where(Membership.role.in_(roles))
    return db.session.execute(stmt).scalars().all()


# --- items ------------------------------------------------------------------------------------

def _tell_new_owner(event, owner: User, title: str, what: str, due, link: str) -> None:
    notify("assigned", [owner], key=_key("assigned", event), actor=event.actor, title=title,
           body=(f"{event.actor.name if event.actor else 'Someone'} made you the owner of "
                 f"{what}" + (f", due {due.isoformat()}." if due else ".")),
           link=link)


@reacts_to("item.update")
def _item_assigned(event, after):
    if not after.get("owner"):  # no new owner: nothing to tell (the usual status save)
        return
    item = db.session.get(AuditItem, event.audit_item_id)
    if item.owner is None:
        return
    _tell_new_owner(event, item.owner, f"{item.code} {item.title} is yours",
                    f"{item.code} in {_audit_name(item.audit)}", item.due_date, _item_link(item))
    publish("item.assigned", _key("item.assigned", event), payloads.ItemAssigned(
        audit=audit_ref(item.audit), item=item_ref(item), owner=person(item.owner),
        due_date=item.due_date, by=person(event.actor)))


@reacts_to("action.create", "action.update")
def _action_assigned(event, after):
    if not after.get("owner"):
        return
    action = db.session.get(CorrectiveAction, after["action_id"])
    if action.owner is None:
        return
    origin = action.audit_item
    what = (f"a corrective action for {origin.code} in {_audit_name(origin.audit)}" if origin
            else f"a corrective action for {action.team.name}")
    _tell_new_owner(event, action.owner, f"Corrective action for you: {action.title}", what,
                    action.due_on, path_for("actions.detail", action_id=action.id))
    publish("action.assigned", _key("action.assigned", event), payloads.ActionAssigned(
        action=payloads.action_ref(action), owner=person(action.owner), by=person(event.actor)))


@reacts_to("item.review")
def _needs_rework(event, after):
    if after.get("verdict") != Verdict.NEEDS_REWORK.value:
        return
    item = db.session.get(AuditItem, event.audit_item_id)
    notify("needs_rework", [item.owner], key=_key("needs_rework", event), actor=event.actor,
           title=f"{item.code} needs rework",
           body=f"{event.actor.name if event.actor else 'The auditor'}: {after.get('note')}",
           link=_item_link(item))
    publish("item.needs_rework", _key("item.needs_rework", event), payloads.ItemNeedsRework(
        audit=audit_ref(item.audit), item=item_ref(item), note=after.get("note") or "",
        by=person(event.actor)))


@reacts_to("comment.add")
def _commented(event, after):
    item = db.session.get(AuditItem, event.audit_item_id)
    text = after.get("comment", "")
    mentioned = mentions(text, _team(item.audit.team_id)) if "@" in text else []
    link = _item_link(item) + "#comments"
    by = event.actor.name if event.actor else "Someone"
    if mentioned:
        notify("mention", mentioned, key=_key("mention", event), actor=event.actor,
               title=f"{by} mentioned you on {item.code}", body=text[:500], link=link)
    earlier = db.session.execute(
        sa.select(User).where(User.id.in_(
            sa.select(Comment.author_id).where(Comment.audit_item_id == item.id)))).scalars()
    told = {u.id for u in mentioned}
    others = [u for u in [item.owner, *earlier] if u is not None and u.id not in told]
    notify("comment", others, key=_key("comment", event), actor=event.actor,
           title=f"{by} commented on {item.code}", body=text[:500], link=link)
    publish("item.commented", _key("item.commented", event), payloads.ItemCommented(
        audit=audit_ref(item.audit), item=item_ref(item), comment=text, by=person(event.actor),
        mentioned=[person(u) for u in mentioned]))


def mentions(text: str, people: list[User]) -> list[User]:
    """The people named as @Full Name (or @First name when only one of them has it)."""
    firsts = Counter(p.name.split()[0].lower() for p in people if p.name.strip())

    def names(person: User) -> list[str]:
        first = person.name.split()[0] if person.name.strip() else ""
        return [person.name] + ([first] if first and firsts[first.lower()] == 1 else [])

    return [p for p in people
            if any(re.search(rf"@{re.escape(n)}(?!\w)", text, re.IGNORECASE) for n in names(p))]


# --- audits -----------------------------------------------------------------------------------

@reacts_to("audit.submit")
def _submitted(event, after):
    audit = db.session.get(Audit, event.audit_id)
    members = {m.user_id for m in audit.team.memberships}
    auditors = [u for u in db.session.execute(
        sa.select(User).where(User.is_auditor)).scalars() if u.id not in members]
    notify("review_requested", auditors, key=_key("review_requested", event),
           actor=event.actor, title=f"{_audit_name(audit)} is ready for review",
           body=f"{event.actor.name if event.actor else 'The lead'} submitted it for review.",
           link=path_for("audits.review", audit_id=audit.id))
    publish("audit.submitted", _key("audit.submitted", event), payloads.AuditEvent(
        audit=audit_ref(audit), by=person(event.actor)))


@reacts_to("audit.return")
def _sent_back(event, after):
    audit = db.session.get(Audit, event.audit_id)
    rework_owners = db.session.execute(
        sa.select(User).join(AuditItem, AuditItem.owner_id == User.id)
        .where(AuditItem.audit_id == audit.id, AuditItem.verdict == Verdict.NEEDS_REWORK)
        .distinct()).scalars().all()
    notify("sent_back", [*_team(audit.team_id, TeamRole.LEAD), *rework_owners],
           key=_key("sent_back", event), actor=event.actor,
           title=f"{_audit_name(audit)} was sent back",
           body=f"{event.actor.name if event.actor else 'The auditor'}: {after.get('reason')}",
           link=path_for("audits.detail", audit_id=audit.id))
    publish("audit.sent_back", _key("audit.sent_back", event), payloads.AuditSentBack(
        audit=audit_ref(audit), reason=after.get("reason") or "", by=person(event.actor)))


@reacts_to("audit.sign_off")
def _signed_off(event, after):
    audit = db.session.get(Audit, event.audit_id)
    notify("signed_off", _team(audit.team_id), key=_key("signed_off", event),
           actor=event.actor, title=f"{_audit_name(audit)} is signed off{_opinion(after)}",
           body=after.get("statement", ""), link=path_for("audits.detail", audit_id=audit.id))
    publish("audit.signed_off", _key("audit.signed_off", event), payloads.AuditSignedOff(
        audit=audit_ref(audit), opinion=after.get("opinion"),
        statement=after.get("statement", ""), by=person(event.actor)))


def _opinion(after) -> str:
    opinion = after.get("opinion")
    return f": {OPINION_LABELS[Opinion(opinion)].lower()}" if opinion else ""


def report_finished(signoff, ready: bool) -> None:
    """The reports feature's word that a sign-off's report is made, or failed for good."""
    audit = signoff.audit
    people = [*_team(audit.team_id, TeamRole.LEAD), signoff.auditor]
    if ready:
        title, body = f"The signed report of {_audit_name(audit)} is ready", ""
    else:
        title = f"The signed report of {_audit_name(audit)} failed"
        body = f"{signoff.report_error or ''} Try again from the audit page."
    outcome = "ready" if ready else "failed"
    notify("report", people, key=f"report:{signoff.id}:{outcome}:{signoff.report_attempts}",
           title=title, body=body.strip(), link=path_for("audits.detail", audit_id=audit.id))
    publish(f"report.{outcome}", f"report.{outcome}:{signoff.id}:{signoff.report_attempts}",
            payloads.ReportFinished(audit=audit_ref(audit), sign_off_id=signoff.id,
                                    error=None if ready else signoff.report_error))


# --- signals ----------------------------------------------------------------------------------

@reacts_to("signal.report")
def _signal_reported(event, after):
    """Leads of the teams whose latest audit has not met a control guarding against it."""
    leads = db.session.execute(
        sa.select(User).join(Membership, Membership.user_id == User.id)
        .where(Membership.role == TeamRole.LEAD, Membership.team_id.in_(
            signal_queries.teams_with_unmet_guards(after["signal_id"])))
        .distinct()).scalars().all()
    notify("signal", leads, key=_key("signal", event), actor=event.actor,
           title=f"Signal ({after.get('severity')}): {after.get('summary')}",
           body="It names a control your team has not met yet.",
           link=path_for("signals.detail", signal_id=after["signal_id"]))
    publish("signal.reported", _key("signal.reported", event), payloads.SignalReported(
        signal=payloads.signal_ref(db.session.get(Signal, after["signal_id"])),
        by=person(event.actor)))


@reacts_to("signal.acknowledge", "signal.resolve")
def _signal_update(event, after):
    signal = db.session.get(Signal, after.get("signal_id"))
    if signal is None:
        return
    word = "resolved" if event.action == "signal.resolve" else "acknowledged"
    notify("signal_update", [signal.reported_by], key=_key("signal_update", event),
           actor=event.actor, title=f"Your signal was {word}: {signal.summary}",
           body=f"{event.actor.name if event.actor else 'Someone'}: {after.get('note')}",
           link=path_for("signals.detail", signal_id=signal.id))
    publish(f"signal.{word}", _key(f"signal.{word}", event), payloads.SignalUpdated(
        signal=payloads.signal_ref(signal), note=after.get("note"), by=person(event.actor)))
