"""Full-text matching, one backend per database behind one interface.

`find` returns a kind's best hits for a query among the rows a person may see: an exact code
first, then by the database's relevance (PostgreSQL ts_rank over the weighted
`search_vector`; SQLite FTS5's bm25 with the same column weights), then newest. `snippets`
returns each hit's highlighted excerpt, marked with MARK_START/MARK_END, for the few hits
shown (highlighting every match before ranking would cost more than the search).
"""

import re
from dataclasses import dataclass
from typing import Protocol

import sqlalchemy as sa

from tracker.extensions import db
from tracker.search.kinds import Kind, Scope

MARK_START, MARK_END = "\x02", "\x03"
MAX_TEXT = 200    # characters of a query that are read; the API refuses longer ones
MAX_TERMS = 8
MAX_TERM_LENGTH = 40
CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9.()_-]{0,15}")
WEIGHTS = (10.0, 4.0, 1.0, 0.5)  # SQLite bm25 column weights, as PostgreSQL's A B C D


@dataclass(frozen=True)
class Query:
    """What was typed, as words (letters and digits; everything else separates them) and,
    when it could be one, as an item code."""

    text: str
    terms: tuple[str, ...]
    code: str | None

    @classmethod
    def parse(cls, text: str) -> "Query":
        text = (text or "").strip()[:MAX_TEXT]
        terms = tuple(t[:MAX_TERM_LENGTH] for t in re.split(r"[\W_]+", text) if t)[:MAX_TERMS]
        code = text.upper() if CODE.fullmatch(text) else None
        return cls(text, terms, code)

    @property
    def empty(self) -> bool:
        return not self.terms

    def prefixed(self) -> list[tuple[str, bool]]:
        """(term, matches as a prefix): the last word is still being typed."""
        return [(t, i == len(self.terms) - 1) for i, t in enumerate(self.terms)]


@dataclass(frozen=True)
class Hit:
    kind: Kind
    row: sa.Row
    exact: bool


class SearchBackend(Protocol):
    def find(self, kind: Kind, query: Query, scope: Scope, limit: int) -> list[Hit]: ...

    def snippets(self, kind: Kind, query: Query, ids: list[int]) -> dict[int, str]: ...


def _exact(kind: Kind, query: Query) -> sa.ColumnElement:
    if kind.code_column is None or query.code is None:
        return sa.literal(False)
    return sa.func.upper(kind.code_column) == query.code


def _hits(kind: Kind, stmt: sa.Select) -> list[Hit]:
    return [Hit(kind, row, bool(row.exact)) for row in db.session.execute(stmt)]


class PostgresSearch:
    CONFIG = sa.literal_column("'tracker_search'::regconfig")
    HEADLINE = (f"StartSel={MARK_START}, StopSel={MARK_END}, MaxWords=24, MinWords=10, "
                "ShortWord=2, MaxFragments=2, FragmentDelimiter=\" … \"")

    def _tsquery(self, query: Query) -> sa.ColumnElement:
        # Every term is letters and digits only (Query.parse), quoted as a lexeme.
        text = " & ".join(f"'{t}'" + (":*" if prefix else "") for t, prefix in query.prefixed())
        return sa.func.to_tsquery(self.CONFIG, text)

    def find(self, kind: Kind, query: Query, scope: Scope, limit: int) -> list[Hit]:
        vector = sa.literal_column(f"{kind.table}.search_vector")
        tsquery = self._tsquery(query)
        exact = _exact(kind, query).label("exact")
        rank = sa.func.ts_rank(vector, tsquery).label("rank")
        stmt = (kind.visible(kind.select(), scope).add_columns(exact, rank)
                .where(vector.op("@@")(tsquery))
                .order_by(exact.desc(), rank.desc(), kind.id_column.desc()).limit(limit))
        return _hits(kind, stmt)

    def snippets(self, kind: Kind, query: Query, ids: list[int]) -> dict[int, str]:
        if not ids:
            return {}
        table = sa.table(kind.table, sa.column("id"),
                         *(sa.column(c) for c in kind.snippet_columns or kind.columns))
        text = sa.func.concat_ws(" — ", *(table.c[c] for c in kind.snippet_columns
                                          or kind.columns))
        headline = sa.func.ts_headline(self.CONFIG, text, self._tsquery(query), self.HEADLINE)
        rows = db.session.execute(sa.select(table.c.id, headline).where(table.c.id.in_(ids)))
        return {row[0]: row[1] or "" for row in rows}


class SqliteSearch:
    def _match(self, query: Query) -> str:
        # FTS5 query syntax: each term a quoted string (letters and digits only), ANDed.
        return " AND ".join(f'"{t}"' + ("*" if prefix else "") for t, prefix in query.prefixed())

    def find(self, kind: Kind, query: Query, scope: Scope, limit: int) -> list[Hit]:
        fts = sa.table(f"{kind.table}_fts", sa.column("rowid"))
        weights = ", ".join(str(w) for w in (WEIGHTS + (0.5,) * 8)[:len(kind.columns)])
        exact = _exact(kind, query).label("exact")
        rank = sa.literal_column(f"bm25({kind.table}_fts, {weights})").label("rank")
        stmt = (kind.visible(kind.select(), scope)
                .join(fts, fts.c.rowid == kind.id_column).add_columns(exact, rank)
                .where(sa.literal_column(f"{kind.table}_fts").op("MATCH")(self._match(query)))
                .order_by(exact.desc(), rank, kind.id_column.desc()).limit(limit))
        return _hits(kind, stmt)

    def snippets(self, kind: Kind, query: Query, ids: list[int]) -> dict[int, str]:
        if not ids:
            return {}
        name = f"{kind.table}_fts"
        fts = sa.table(name, sa.column("rowid"))
        snippet = sa.literal_column(
            f"snippet({name}, -1, char(2), char(3), ' … ', 24)")
        rows = db.session.execute(
            sa.select(fts.c.rowid, snippet).where(fts.c.rowid.in_(ids))
            .where(sa.literal_column(name).op("MATCH")(self._match(query))))
        return {row[0]: row[1] or "" for row in rows}


def backend() -> SearchBackend:
    return PostgresSearch() if db.engine.dialect.name == "postgresql" else SqliteSearch()
