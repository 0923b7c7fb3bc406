"""Request and response schemas of the JSON API (pydantic v2).

The endpoints validate with these models and the OpenAPI document is generated from the
same models (tracker/api/spec.py), so the two cannot drift apart. Requests are validated
strictly — what the JSON Schema allows is exactly what the endpoint accepts — and every
string has the length limit of the column it ends up in.
"""

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from tracker.actions.models import ActionStatus, Priority
from tracker.audits.models import AuditState, EvidenceKind, ItemStatus, Verdict
from tracker.audits.vocabulary import WEIGHTS_TEXT
from tracker.library.models import Criticality
from tracker.reports.models import Opinion
from tracker.search.backends import MAX_TEXT
from tracker.search.kinds import KINDS
from tracker.signals.models import Severity, SignalSource, SignalState

MAX_ID = 2**31 - 1  # the databases' INTEGER: a larger id cannot exist



def _whole_float(value):
    """JSON Schema counts 3.0 as an integer, so the API does too (strings stay refused)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        return int(value)
    return value


WHOLE = BeforeValidator(_whole_float)
Id = Annotated[int, Field(ge=1, le=MAX_ID), WHOLE]
# No NUL characters: PostgreSQL cannot store them in text.
NO_NUL = r"^[^\x00]*$"


def text(max_length: int, min_length: int = 0, **kwargs):
    return Annotated[str, Field(min_length=min_length, max_length=max_length, pattern=NO_NUL,
                                **kwargs)]


Code = Annotated[str, Field(min_length=1, max_length=16, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
Period = Annotated[str, Field(pattern=r"^[0-9]{4}-Q[1-4]$", examples=["2026-Q4"])]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Response(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- errors ---------------------------------------------------------------------------

class ErrorDetail(Response):
    code: str = Field(description="A stable, machine-readable code, e.g. `stale_version`.")
    message: str = Field(description="What went wrong and what to do instead.")
    field: str | None = Field(None, description="The request field the error concerns.")
    current: "Item | None" = Field(None, description="On 409: the item as it is now.")
    items: list["ItemLeft"] | None = Field(None, description="On 409 from submit or sign-off: "
                                                            "the items that stand in the way.")


class ItemLeft(Response):
    id: int
    code: str
    status: ItemStatus
    verdict: Verdict | None


class Error(Response):
    error: ErrorDetail


# --- people, teams, library -----------------------------------------------------------

class Me(Response):
    id: int
    email: str
    name: str
    roles: list[Literal["admin", "auditor"]]
    teams: list["TeamMembership"]


class TeamMembership(Response):
    team_id: int
    team: str
    role: Literal["lead", "operator"]


class Team(Response):
    id: int
    name: str
    description: str
    your_role: Literal["lead", "operator"] | None


class TeamList(Response):
    teams: list[Team]


class LibraryItem(Response):
    code: str
    title: str
    criticality: Criticality
    evidence_required: bool
    guidance: str
    evidence_hint: str
    guards: list[str] = Field(description="Codes of the failure patterns this item prevents.")


class Domain(Response):
    code: str
    name: str
    summary: str
    items: list[LibraryItem]


class DomainList(Response):
    domains: list[Domain]


# --- audits ---------------------------------------------------------------------------

class Score(Response):
    weighted_met: int
    weighted_applicable: int
    percent: float | None = Field(description="100 × weighted_met / weighted_applicable; "
                                              f"weights {WEIGHTS_TEXT}; "
                                              "not-applicable items are left out.")


class Progress(Response):
    total: int
    done: int = Field(description="Items that are met, not met or not applicable.")
    percent: float | None
    by_status: dict[str, int]


class AuditSummary(Response):
    id: int
    team_id: int
    team: str
    period: str
    state: AuditState
    domains: list[str]
    lead: str | None
    due_date: date | None
    return_reason: str | None
    created_at: datetime
    submitted_at: datetime | None
    signed_off_at: datetime | None
    score: Score
    progress: Progress


class AuditList(Response):
    audits: list[AuditSummary]
    page: int
    per_page: int
    total: int


class EvidenceOut(Response):
    id: int
    kind: EvidenceKind
    filename: str | None
    content_type: str | None
    size: int | None
    url: str | None
    note: str | None
    sha256: str
    created_by: str
    created_at: datetime
    effective_date: date = Field(description="When the thing was done.")
    valid_until: date | None = Field(description="Its last valid day, from the item's "
                                                 "cadence; null: it never expires.")


class Item(Response):
    id: int
    code: str
    domain: str
    title: str
    criticality: Criticality
    evidence_required: bool
    status: ItemStatus
    owner: str | None = Field(description="The owner's email.")
    due_date: date | None
    justification: str | None
    verdict: Verdict | None
    verdict_note: str | None
    version: int = Field(description="Send it back with a change; a stale one gets 409.")
    updated_at: datetime
    evidence: list[EvidenceOut]


class AuditDetail(AuditSummary):
    items: list[Item]


class SignOffOut(Response):
    audit_id: int
    statement: str
    auditor: str
    signed_at: datetime
    audit_sha256: str = Field(description="SHA-256 of the audit's canonical results JSON "
                                          "(GET /audits/{id}/results.json) at sign-off.")
    opinion: Opinion | None = Field(description="None only on sign-offs made before opinions.")
    exceptions: list[str] = Field(description="With ready_with_exceptions: the codes of the "
                                              "items not met.")
    report_status: str


class AuditCreate(Request):
    team_id: Id
    period: Period
    domains: list[Code] = Field(min_length=1, max_length=64,
                                description="Domain codes in scope, e.g. [\"DV\", \"INV\"].")
    due_date: date | None = None


class NextQuarter(Request):
    due_date: date | None = None


class ItemPatch(Request):
    """Only the fields sent change; `null` clears owner, due date or justification."""

    version: Annotated[int, Field(ge=1, le=MAX_ID, description="The version you last read."),
                       WHOLE]
    status: ItemStatus = None  # type: ignore[assignment] — omitted means unchanged
    owner_email: text(254) | None = None
    due_date: date | None = None
    justification: text(10_000) | None = None
    note: text(10_000, description="Added as a comment on the item.") = None  # type: ignore


EFFECTIVE = Field(None, description="When the thing was done (YYYY-MM-DD); default the "
                  "upload day in the organisation's time zone, never in the future.")


class EvidenceLink(Request):
    url: text(2048, 1)
    effective_date: date | None = EFFECTIVE


class EvidenceNote(Request):
    note: text(20_000, 1)
    effective_date: date | None = EFFECTIVE


class ReturnAudit(Request):
    reason: text(10_000, 1)


class SignOffRequest(Request):
    statement: text(10_000, 1)
    opinion: Opinion = Field(description="ready (no item not met), ready_with_exceptions (the "
                                         "items not met are the exceptions) or not_ready.")


class MarkRestNotMet(Request):
    note: text(10_000, 1) = Field(description="Added to each item set not met, as a comment.")


class AcceptItems(Request):
    item_ids: list[Id] | None = Field(None, description="The items to accept; without it, "
                                                        "every item not reviewed yet.")
    domain: Code | None = Field(None, description="A domain's code: only that domain's items.")


class Changed(Response):
    changed: int


class BulkItems(Request):
    """The same change to many items; only the fields sent change, `null` clears owner,
    due date or justification. All or nothing: a refusal names the item."""

    item_ids: list[Id] = Field(min_length=1, max_length=10_000)
    status: ItemStatus = None  # type: ignore[assignment] — omitted means unchanged
    owner_email: text(254) | None = None
    due_date: date | None = None
    justification: text(10_000) | None = None


class CommentOut(Response):
    id: int
    author: str = Field(description="The author's e-mail.")
    author_name: str
    body: str
    created_at: datetime


class CommentList(Response):
    comments: list[CommentOut]


class CommentCreate(Request):
    body: text(10_000, 1)


class SignalNote(Request):
    note: text(10_000, 1) = Field(description="Acknowledging: who is looking into it and what "
                                              "happens next. Resolving: what was done.")


class ReviewItem(Request):
    verdict: Verdict
    note: text(10_000) | None = None


class AuditQuery(Request):
    model_config = ConfigDict(extra="forbid", strict=False)

    team_id: Id | None = None
    period: Period | None = None
    state: AuditState | None = None
    page: Annotated[int, Field(ge=1, le=100_000)] = 1
    per_page: Annotated[int, Field(ge=1, le=200)] = 50


class DraftQuery(Request):
    model_config = ConfigDict(extra="forbid", strict=False)

    draft: Literal["0", "1"] = "0"


# --- signals --------------------------------------------------------------------------

class SignalOut(Response):
    id: int
    summary: str
    details: str
    source: SignalSource
    severity: Severity
    state: SignalState
    observed_at: datetime
    domain: str | None
    failures: list[str]
    reported_by: str
    created_at: datetime


class SignalList(Response):
    signals: list[SignalOut]
    page: int
    per_page: int
    total: int


class SignalQuery(Request):
    model_config = ConfigDict(extra="forbid", strict=False)

    state: SignalState | None = None
    domain: Code | None = None
    page: Annotated[int, Field(ge=1, le=100_000)] = 1
    per_page: Annotated[int, Field(ge=1, le=200)] = 50


class SignalCreate(Request):
    summary: text(300, 1)
    details: text(20_000) = ""
    source: SignalSource
    severity: Severity
    observed_at: datetime | None = Field(None, description="When it was seen (default: now).")
    domain: Code | None = None
    failures: list[Code] = Field(default_factory=list, max_length=50,
                                 description="Codes of the failure patterns it points to.")


# --- corrective actions ---------------------------------------------------------------

class ActionOut(Response):
    id: int
    title: str
    team_id: int
    audit_item_id: int | None = Field(description="The audit item it comes from; null when "
                                      "made by hand.")
    audit_id: int | None
    period: str | None = Field(description="The quarter of the audit it comes from.")
    item_code: str | None
    owner: str | None = Field(description="The owner's e-mail address.")
    due_on: date | None
    priority: Priority
    status: ActionStatus
    overdue: bool
    closing_note: str | None
    wont_do_reason: str | None
    created_by: str
    created_at: datetime
    closed_at: datetime | None


class ActionList(Response):
    actions: list[ActionOut]
    page: int
    per_page: int
    total: int


class ActionQuery(Request):
    model_config = ConfigDict(extra="forbid", strict=False)

    mine: Literal["0", "1"] = Field("0", description="1: only the actions you own.")
    team_id: Id | None = None
    open: Literal["0", "1"] = Field("0", description="1: only open and in-progress ones.")
    page: Annotated[int, Field(ge=1, le=100_000)] = 1
    per_page: Annotated[int, Field(ge=1, le=200)] = 50


class ActionCreate(Request):
    title: text(200, 1)
    audit_item_id: Id | None = Field(None, description="The audit item it fixes (its team "
                                     "and library item come with it).")
    team_id: Id | None = Field(None, description="For an action made by hand.")
    owner_email: text(320) | None = None
    due_on: date | None = None
    priority: Priority = Priority.MEDIUM


class ActionPatch(Request):
    title: text(200, 1) | None = None
    owner_email: text(320) | None = None
    due_on: date | None = None
    priority: Priority | None = None
    status: ActionStatus | None = Field(None, description="done needs `note` (the closing "
                                        "evidence), wont_do needs `note` (the reason).")
    note: text(10_000) | None = None


# --- search ---------------------------------------------------------------------------

SearchKind = Literal[tuple(k.key for k in KINDS)]  # type: ignore[valid-type]
KIND_KEYS = ", ".join(k.key for k in KINDS)


class SearchQuery(Request):
    model_config = ConfigDict(extra="forbid", strict=False)

    q: text(MAX_TEXT, 1, description=f"Words, or an item code such as DV-01: 1 to {MAX_TEXT} "
                                     "characters with at least one letter or digit.")
    kind: SearchKind | None = Field(None, description=f"Only this kind ({KIND_KEYS}), with "
                                                      "more hits; leave it out for every kind.")


class SearchResult(Response):
    id: int
    kind: SearchKind
    title: str
    context: str = Field(description="Where it is: team and quarter, source, author …")
    url: str = Field(description="Its page on this site (a path).")
    snippet: str = Field(description="The matching excerpt, as plain text.")


class SearchGroup(Response):
    kind: SearchKind
    label: str
    more: bool = Field(description="There are more hits than shown: ask again with `kind`.")
    results: list[SearchResult]


class SearchResults(Response):
    q: str
    kind: SearchKind | None
    count: int
    groups: list[SearchGroup] = Field(description="Kinds with hits, in a fixed order; best "
                                                  "hits first, an exact code first of all.")


ErrorDetail.model_rebuild()
Me.model_rebuild()
