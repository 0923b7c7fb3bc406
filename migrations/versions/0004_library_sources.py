"""library sources: a library item belongs to a source, codes are unique within it

A catalog's sort-id orders its controls (`sort_key`), so AC-2 comes before AC-10.

The seed library, each imported OSCAL catalog and each library file that declares its own
namespace is a source. Domains and readiness items get a `source_id`; the unique codes of
domains and items become unique per source, so NIST's rev5 catalog and its LOW baseline
(both with an AC-1) import side by side instead of the second taking over the first's items.
Everything already in the library belongs to the seed library's source.

Revision ID: 0004_library_sources
Revises: 0003_lean_indexes
"""
import sqlalchemy as sa
from alembic import op

revision = "0004_library_sources"
down_revision = "0003_lean_indexes"
branch_labels = None
depends_on = None


def _without_sqlite_foreign_keys():
    """SQLite's batch mode copies a table and drops the old one, which other tables'
    foreign keys refer to: check them after the copy instead of during it."""
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF")


def _check_sqlite_foreign_keys():
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"foreign keys broken by the migration: {broken[:5]}")


def upgrade():
    _without_sqlite_foreign_keys()
    op.create_table(
        "library_sources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("title", sa.String(length=250), nullable=False),
        sa.Column("kind", sa.Enum("seed", "file", "catalog", name="source_kind",
                                  native_enum=False, create_constraint=True, length=7),
                  nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_library_sources")),
        sa.UniqueConstraint("key", name=op.f("uq_library_sources_key")),
    )
    conn = op.get_bind()
    if conn.execute(sa.text("SELECT COUNT(*) FROM domains")).scalar():
        conn.execute(sa.text("INSERT INTO library_sources (key, title, kind) "
                             "VALUES ('seed', 'Readiness library', 'seed')"))

    for table in ("domains", "readiness_items"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("source_id", sa.Integer(), nullable=True))
            if table == "readiness_items":
                batch_op.add_column(sa.Column("sort_key", sa.String(length=40),
                                              server_default="", nullable=False))
        op.execute(f"UPDATE {table} SET source_id = "
                   "(SELECT id FROM library_sources WHERE key = 'seed')")
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("source_id", existing_type=sa.Integer(), nullable=False)
            batch_op.drop_constraint(f"uq_{table}_code", type_="unique")
            batch_op.create_unique_constraint(op.f(f"uq_{table}_source_id_code"),
                                              ["source_id", "code"])
            batch_op.create_foreign_key(op.f(f"fk_{table}_source_id_library_sources"),
                                        "library_sources", ["source_id"], ["id"])
    _check_sqlite_foreign_keys()


def downgrade():
    conn = op.get_bind()
    clashes = conn.execute(sa.text(
        "SELECT code FROM readiness_items GROUP BY code HAVING COUNT(*) > 1 "
        "UNION SELECT code FROM domains GROUP BY code HAVING COUNT(*) > 1")).scalars().all()
    if clashes:
        raise RuntimeError("cannot downgrade: codes used in more than one library source: "
                           + ", ".join(sorted(clashes)[:10]))
    _without_sqlite_foreign_keys()
    for table in ("readiness_items", "domains"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(op.f(f"fk_{table}_source_id_library_sources"),
                                     type_="foreignkey")
            batch_op.drop_constraint(op.f(f"uq_{table}_source_id_code"), type_="unique")
            batch_op.create_unique_constraint(op.f(f"uq_{table}_code"), ["code"])
            batch_op.drop_column("source_id")
            if table == "readiness_items":
                batch_op.drop_column("sort_key")
    op.drop_table("library_sources")
    _check_sqlite_foreign_keys()
