"""What search looks through: one Kind per indexed table, in the order the results page
groups them. A kind knows its table and indexed columns (as migration 0012_search indexes
them), the rows a person may see, and where a hit links to; the database backends
(tracker/search/backends.py) add the matching and the ranking."""

from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from flask import url_for

from tracker.audits.models import Audit, AuditItem, Comment, Evidence
from tracker.auth.models import Team, User
from tracker.library.models import SEED_SOURCE, FailurePattern, LibrarySource, ReadinessItem
from tracker.signals.models import Signal


@dataclass(frozen=True)
class Scope:
    """Whose audits a person may search: every team's (admins, auditors) or their teams'."""

    every_team: bool
    team_ids: tuple[int, ...] = ()

    @classmethod
    def of(cls, user: User) -> "Scope":
        from tracker.auth.permissions import member_team_ids

        if user.is_admin or user.is_auditor:  # the rule of can_view_audit
            return cls(True)
        return cls(False, tuple(member_team_ids(user)))


@dataclass(frozen=True)
class Kind:
    key: str
    label: str
    table: str
    columns: tuple[str, ...]          # indexed, most telling first (the migration's order)
    id_column: sa.ColumnElement
    select: Callable[[], sa.Select]   # the hit's display columns; `id` among them
    link: Callable[[sa.Row], str]
    title: Callable[[sa.Row], str]
    context: Callable[[sa.Row], str] = lambda row: ""
    code_column: sa.ColumnElement | None = None  # an exact code match ranks first
    team_column: sa.ColumnElement | None = None  # rows of a team's audits: scoped
    snippet_columns: tuple[str, ...] = ()        # where the snippet comes from (default: all)

    def visible(self, stmt: sa.Select, scope: Scope) -> sa.Select:
        if self.team_column is None or scope.every_team:
            return stmt
        return stmt.where(self.team_column.in_(scope.team_ids))

    def hidden_from(self, scope: Scope) -> bool:
        """Nothing of this kind can be visible: no query needed."""
        return self.team_column is not None and not scope.every_team and not scope.team_ids


def _item_columns():
    return (AuditItem.audit_id, AuditItem.id.label("item_id"), AuditItem.code.label("item_code"),
            AuditItem.title.label("item_title"), Audit.period, Team.name.label("team"))


def _in_audit(stmt: sa.Select) -> sa.Select:
    return stmt.join(Audit, Audit.id == AuditItem.audit_id).join(Team, Team.id == Audit.team_id)


def _item_link(row, anchor: str = "") -> str:
    return url_for("audits.item", audit_id=row.audit_id, item_id=row.item_id) + anchor


def _item_context(row) -> str:
    return f"{row.team} · {row.period}"


ITEMS = Kind(
    key="item", label="Audit items", table="audit_items", columns=("code", "title", "guidance"),
    id_column=AuditItem.id,
    select=lambda: _in_audit(sa.select(AuditItem.id, *_item_columns())),
    link=_item_link,
    title=lambda row: f"{row.item_code} — {row.item_title}",
    context=_item_context,
    code_column=AuditItem.code, team_column=Audit.team_id,
    snippet_columns=("title", "guidance"),
)

EVIDENCE = Kind(
    key="evidence", label="Evidence", table="evidence", columns=("filename", "url", "note"),
    id_column=Evidence.id,
    select=lambda: _in_audit(sa.select(Evidence.id, Evidence.kind, *_item_columns())
                             .join(AuditItem, AuditItem.id == Evidence.audit_item_id)),
    link=lambda row: _item_link(row, f"#evidence-{row.id}"),
    title=lambda row: f"{row.item_code} — {row.item_title}",
    context=lambda row: f"{_item_context(row)} · evidence ({row.kind.value})",
    team_column=Audit.team_id,
)

COMMENTS = Kind(
    key="comment", label="Comments", table="comments", columns=("body",),
    id_column=Comment.id,
    select=lambda: _in_audit(sa.select(Comment.id, User.name.label("author"), *_item_columns())
                             .join(AuditItem, AuditItem.id == Comment.audit_item_id)
                             .join(User, User.id == Comment.author_id)),
    link=lambda row: _item_link(row, f"#comment-{row.id}"),
    title=lambda row: f"{row.item_code} — {row.item_title}",
    context=lambda row: f"{_item_context(row)} · comment by {row.author}",
    team_column=Audit.team_id,
)

SIGNALS = Kind(
    key="signal", label="Signals", table="signals",
    columns=("summary", "details", "acknowledgement_note", "resolution_note"),
    id_column=Signal.id,
    select=lambda: sa.select(Signal.id, Signal.summary, Signal.state, Signal.severity),
    link=lambda row: url_for("signals.detail", signal_id=row.id),
    title=lambda row: row.summary,
    context=lambda row: f"{row.severity.value} · {row.state.value}",
)

LIBRARY = Kind(
    key="library", label="Library items", table="readiness_items",
    columns=("code", "title", "guidance"),
    id_column=ReadinessItem.id,
    select=lambda: (sa.select(ReadinessItem.id, ReadinessItem.code, ReadinessItem.title,
                              LibrarySource.key.label("source"),
                              LibrarySource.title.label("source_title"))
                    .join(LibrarySource, LibrarySource.id == ReadinessItem.source_id)
                    .where(ReadinessItem.active)),
    link=lambda row: url_for("library.item", code=row.code,
                             source=None if row.source == SEED_SOURCE else row.source),
    title=lambda row: f"{row.code} — {row.title}",
    context=lambda row: row.source_title,
    code_column=ReadinessItem.code,
    snippet_columns=("title", "guidance"),
)

FAILURES = Kind(
    key="failure", label="Failure patterns", table="failure_patterns",
    columns=("code", "title", "symptom", "description"),
    id_column=FailurePattern.id,
    select=lambda: sa.select(FailurePattern.id, FailurePattern.code, FailurePattern.title),
    link=lambda row: url_for("library.failure", code=row.code),
    title=lambda row: f"{row.code} — {row.title}",
    code_column=FailurePattern.code,
    snippet_columns=("title", "symptom", "description"),
)

# Corrective actions join here as a Kind of their own (scoped by their audit's team, or by
# the signal or the person they come from), with their table added to the indexes by a
# migration of the same shape as 0012_search.
KINDS: tuple[Kind, ...] = (ITEMS, EVIDENCE, COMMENTS, SIGNALS, LIBRARY, FAILURES)
BY_KEY = {kind.key: kind for kind in KINDS}
