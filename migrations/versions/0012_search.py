"""search: full-text indexes over what people look for

PostgreSQL: a text search configuration `tracker_search` (English stemming, accents folded by
the `unaccent` extension when it can be created), a stored generated `search_vector` column
on each searched table (recomputed by the row's own INSERT or UPDATE, so it is current in the
transaction that writes) and a GIN index on it.

SQLite: an external-content FTS5 table `<table>_fts` per searched table (Porter stemming,
accents and case folded by unicode61), filled from the rows already there and kept current
by triggers on the table, so every write — services, bulk loads, restores — updates it in
the same transaction. The update trigger fires only when an indexed column changes.

A later migration that rebuilds one of these tables on SQLite (batch_alter_table with a table
copy) drops its triggers: it must create them again (`tests/search` fails if it does not).

Revision ID: 0012_search
Revises: 0007_oidc
"""
import logging

import sqlalchemy as sa
from alembic import op

revision = "0012_search"
down_revision = "0007_oidc"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

# table → indexed columns, most telling first (PostgreSQL weights A, B, C, D in this order;
# a column marked "code" has its hyphens read as spaces, so DV-03 is the words dv and 03).
# Corrective actions (another migration adds the table) join here as their own entry.
INDEXED = {
    "audit_items": ("code", "title", "guidance"),
    "evidence": ("filename", "url", "note"),
    "comments": ("body",),
    "signals": ("summary", "details", "acknowledgement_note", "resolution_note"),
    "readiness_items": ("code", "title", "guidance"),
    "failure_patterns": ("code", "title", "symptom", "description"),
}
CODE_COLUMNS = {"code"}
CONFIG = "tracker_search"


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        _upgrade_postgresql()
    else:
        _upgrade_sqlite()


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for table in INDEXED:
            op.execute(f"DROP INDEX IF EXISTS ix_search_{table}")
            op.execute(f"ALTER TABLE {table} DROP COLUMN IF EXISTS search_vector")
        op.execute(f"DROP TEXT SEARCH CONFIGURATION IF EXISTS {CONFIG}")
    else:
        for table in INDEXED:
            for event in ("insert", "delete", "update"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_fts_{event}")
            op.execute(f"DROP TABLE IF EXISTS {table}_fts")


def _upgrade_postgresql():
    conn = op.get_bind()
    op.execute(f"CREATE TEXT SEARCH CONFIGURATION {CONFIG} (COPY = english)")
    if _unaccent_available(conn):
        op.execute(f"ALTER TEXT SEARCH CONFIGURATION {CONFIG} ALTER MAPPING FOR hword, "
                   "hword_part, word WITH unaccent, english_stem")
    else:
        log.warning("search: the unaccent extension could not be created; search is case- "
                    "but not accent-insensitive. A superuser can run CREATE EXTENSION "
                    "unaccent and then `flask --app app search reindex`.")
    for table, columns in INDEXED.items():
        weighted = " || ".join(
            f"setweight(to_tsvector('{CONFIG}', {_pg_text(column)}), '{'ABCD'[min(i, 3)]}')"
            for i, column in enumerate(columns))
        op.execute(f"ALTER TABLE {table} ADD COLUMN search_vector tsvector "
                   f"GENERATED ALWAYS AS ({weighted}) STORED")
        op.execute(f"CREATE INDEX ix_search_{table} ON {table} USING gin (search_vector)")


def _pg_text(column: str) -> str:
    text = f"coalesce({column}, '')"
    return f"translate({text}, '-', ' ')" if column in CODE_COLUMNS else text


def _unaccent_available(conn) -> bool:
    """CREATE EXTENSION needs a superuser or (PostgreSQL 13+, unaccent being trusted) the
    database's owner; without it the migration goes on without accent folding."""
    try:
        with conn.begin_nested():
            conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS unaccent"))
    except sa.exc.DBAPIError:
        return False
    return True


def _upgrade_sqlite():
    for table, columns in INDEXED.items():
        fts = f"{table}_fts"
        names = ", ".join(columns)
        new = ", ".join(f"new.{c}" for c in columns)
        old = ", ".join(f"old.{c}" for c in columns)
        op.execute(f"CREATE VIRTUAL TABLE {fts} USING fts5({names}, content='{table}', "
                   "content_rowid='id', tokenize='porter unicode61 remove_diacritics 2')")
        op.execute(f"INSERT INTO {fts}({fts}) VALUES ('rebuild')")
        op.execute(f"CREATE TRIGGER {fts}_insert AFTER INSERT ON {table} BEGIN "
                   f"INSERT INTO {fts}(rowid, {names}) VALUES (new.id, {new}); END")
        op.execute(f"CREATE TRIGGER {fts}_delete AFTER DELETE ON {table} BEGIN "
                   f"INSERT INTO {fts}({fts}, rowid, {names}) VALUES ('delete', old.id, {old}); "
                   "END")
        op.execute(f"CREATE TRIGGER {fts}_update AFTER UPDATE OF {names} ON {table} BEGIN "
                   f"INSERT INTO {fts}({fts}, rowid, {names}) VALUES ('delete', old.id, {old}); "
                   f"INSERT INTO {fts}(rowid, {names}) VALUES (new.id, {new}); END")
