"""The outgoing webhooks' event types and the JSON each one carries, declared once: the
subscribers build payloads from these models, the admin page lists the types, and the
OpenAPI document's `webhooks` section is generated from them (tracker/api/spec.py)."""

from dataclasses import dataclass
from datetime import date

from pydantic import BaseModel, Field

from tracker.notifications.service import absolute, path_for

TEST_EVENT = "webhook.test"


class Person(BaseModel):
    id: int
    name: str


class AuditRef(BaseModel):
    id: int
    team: str
    period: str = Field(examples=["2026-Q4"])
    link: str = Field(description="The audit's page (absolute URL).")


class ItemRef(BaseModel):
    id: int
    code: str = Field(examples=["DV-03"])
    title: str
    link: str = Field(description="The audit item's page (absolute URL).")


class SignalRef(BaseModel):
    id: int
    summary: str
    severity: str
    link: str


class ActionRef(BaseModel):
    id: int
    title: str
    team: str
    due_on: date | None
    link: str


class ItemAssigned(BaseModel):
    audit: AuditRef
    item: ItemRef
    owner: Person
    due_date: date | None
    by: Person | None


class ItemNeedsRework(BaseModel):
    audit: AuditRef
    item: ItemRef
    note: str
    by: Person | None


class ItemCommented(BaseModel):
    audit: AuditRef
    item: ItemRef
    comment: str
    by: Person | None
    mentioned: list[Person] = Field(description="People @mentioned in the comment.")


class AuditEvent(BaseModel):
    audit: AuditRef
    by: Person | None


class AuditSentBack(AuditEvent):
    reason: str


class AuditSignedOff(AuditEvent):
    opinion: str | None = Field(examples=["ready_with_exceptions"])
    statement: str


class ReportFinished(BaseModel):
    audit: AuditRef
    sign_off_id: int
    error: str | None = Field(description="Why the report failed (report.failed only).")


class SignalReported(BaseModel):
    signal: SignalRef
    by: Person | None


class SignalUpdated(SignalReported):
    note: str | None


class ActionAssigned(BaseModel):
    action: ActionRef
    owner: Person
    by: Person | None


class WebhookTest(BaseModel):
    endpoint_id: int
    message: str


@dataclass(frozen=True)
class WebhookEvent:
    type: str
    summary: str
    data: type[BaseModel]


WEBHOOK_EVENTS: tuple[WebhookEvent, ...] = (
    WebhookEvent("item.assigned", "An audit item gets a new owner", ItemAssigned),
    WebhookEvent("item.needs_rework", "The auditor marks an item “needs rework”",
                 ItemNeedsRework),
    WebhookEvent("item.commented", "A comment on an audit item", ItemCommented),
    WebhookEvent("audit.submitted", "An audit is submitted for review", AuditEvent),
    WebhookEvent("audit.sent_back", "An audit is sent back, with the reason", AuditSentBack),
    WebhookEvent("audit.signed_off", "An audit is signed off, with the opinion",
                 AuditSignedOff),
    WebhookEvent("report.ready", "A signed report is ready", ReportFinished),
    WebhookEvent("report.failed", "A signed report could not be made", ReportFinished),
    WebhookEvent("signal.reported", "A frontline signal is logged", SignalReported),
    WebhookEvent("signal.acknowledged", "A signal is acknowledged", SignalUpdated),
    WebhookEvent("signal.resolved", "A signal is resolved", SignalUpdated),
    WebhookEvent("action.assigned", "A corrective action gets a new owner", ActionAssigned),
    WebhookEvent(TEST_EVENT, "An admin pressed “Send test event”", WebhookTest),
)
BY_TYPE = {event.type: event for event in WEBHOOK_EVENTS}
SUBSCRIBABLE = [event for event in WEBHOOK_EVENTS if event.type != TEST_EVENT]


# --- building the references from the models ------------------------------------------------

def person(user) -> Person | None:
    return Person(id=user.id, name=user.name) if user is not None else None


def audit_ref(audit) -> AuditRef:
    return AuditRef(id=audit.id, team=audit.team.name, period=audit.period,
                    link=absolute(path_for("audits.detail", audit_id=audit.id)))


def item_ref(item) -> ItemRef:
    return ItemRef(id=item.id, code=item.code, title=item.title, link=absolute(
        path_for("audits.item", audit_id=item.audit_id, item_id=item.id)))


def signal_ref(signal) -> SignalRef:
    return SignalRef(id=signal.id, summary=signal.summary, severity=signal.severity.value,
                     link=absolute(path_for("signals.detail", signal_id=signal.id)))


def action_ref(action) -> ActionRef:
    return ActionRef(id=action.id, title=action.title, team=action.team.name,
                     due_on=action.due_on,
                     link=absolute(path_for("actions.detail", action_id=action.id)))
