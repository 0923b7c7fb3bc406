"""The search indexes as the database holds them (migration 0012_search made them): not in
the models, so schema comparisons leave them out, and `flask search reindex` rebuilds them."""

import sqlalchemy as sa

from tracker.extensions import db
from tracker.search.kinds import KINDS

FTS_SUFFIXES = ("_fts", "_fts_data", "_fts_idx", "_fts_docsize", "_fts_config", "_fts_content")
TRIGGER_EVENTS = ("insert", "delete", "update")


def is_search_object(name: str | None, type_: str) -> bool:
    name = name or ""
    if type_ == "table":
        return any(name.endswith(s) for s in FTS_SUFFIXES)
    if type_ == "column":
        return name == "search_vector"
    if type_ == "index":
        return name.startswith("ix_search_")
    return False


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """Alembic's filter: the search indexes are the migrations' alone."""
    return not (reflected and compare_to is None and is_search_object(name, type_))


def reindex() -> list[str]:
    """Rebuild every search index from its table; what was done, one line per table.

    SQLite: FTS5's rebuild, after checking the triggers that keep each index current are
    there (a table rebuilt by a later migration loses them). PostgreSQL: folds accents if
    the unaccent extension has been installed since, recomputes each row's search_vector
    and rebuilds the GIN index."""
    if db.engine.dialect.name == "postgresql":
        return _reindex_postgresql()
    return _reindex_sqlite()


def _reindex_sqlite() -> list[str]:
    triggers = set(db.session.execute(
        sa.text("SELECT name FROM sqlite_master WHERE type = 'trigger'")).scalars())
    missing = [f"{k.table}_fts_{e}" for k in KINDS for e in TRIGGER_EVENTS
               if f"{k.table}_fts_{e}" not in triggers]
    if missing:
        raise RuntimeError(f"search triggers missing: {', '.join(missing)}; a migration "
                           "rebuilt their table without them. Restore them in a migration, "
                           "then reindex.")
    done = []
    for kind in {k.table: k for k in KINDS}.values():
        fts = f"{kind.table}_fts"
        db.session.execute(sa.text(f"INSERT INTO {fts}({fts}) VALUES ('rebuild')"))  # nosec B608: names from KINDS
        done.append(f"{kind.table}: rebuilt")
    return done


def _reindex_postgresql() -> list[str]:
    done = []
    has_unaccent = db.session.execute(sa.text(
        "SELECT count(*) FROM pg_extension WHERE extname = 'unaccent'")).scalar_one()
    folds = db.session.execute(sa.text(
        "SELECT count(*) FROM pg_ts_config_map m JOIN pg_ts_config c ON c.oid = m.mapcfg "
        "JOIN pg_ts_dict d ON d.oid = m.mapdict "
        "WHERE c.cfgname = 'tracker_search' AND d.dictname = 'unaccent'")).scalar_one()
    if has_unaccent and not folds:
        db.session.execute(sa.text(
            "ALTER TEXT SEARCH CONFIGURATION tracker_search ALTER MAPPING FOR hword, "
            "hword_part, word WITH unaccent, english_stem"))
        done.append("tracker_search: accents folded (unaccent)")
    elif not has_unaccent:
        done.append("tracker_search: no unaccent extension; accents are not folded")
    for kind in {k.table: k for k in KINDS}.values():
        # Any UPDATE recomputes the stored generated column.
        count = db.session.execute(sa.text(f"UPDATE {kind.table} SET id = id")).rowcount  # nosec B608: names from KINDS
        db.session.execute(sa.text(f"REINDEX INDEX ix_search_{kind.table}"))
        done.append(f"{kind.table}: {count} rows reindexed")
    return done
