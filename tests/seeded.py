"""Seeded databases: each set of seeded data is built once per session, and every test that
asks for it starts from a copy.

A seeded fixture is declared with `@seed`: the decorated function builds the data through
the services, in an app context on a template database, and returns plain keys (ids,
emails, tokens; no ORM objects, as its session is gone by the time a test runs); `load`
turns those keys into what the fixture returns, objects looked up in the test's own
session. Without `load` the fixture returns the keys themselves. A test's database is the
template of every seed in its fixture closure (the ones it asks for, the ones its fixtures
ask for, and what those need), so a test never pays for building data another already
built, and no test's writes reach another test:

- SQLite: the template is a file; each test gets its own copy.
- PostgreSQL: each test process has one database; before each test its tables are emptied
  and refilled from the template's rows (kept as `COPY` text) and its sequences set back,
  which takes milliseconds where `CREATE DATABASE … TEMPLATE` and `DROP DATABASE` take a
  second or more.

Files the seed stores beside the database (evidence, signed reports, the signing key) are
copied into the test's tmp_path as well, where the test's app looks for them.

    @seed(needs=["library", "people"], load=lambda audit_id: db.session.get(Audit, audit_id))
    def audit():
        "Alpha's 2026-Q4 audit of DV, in progress."
        people = factories.load_people()
        return service.start_audit(people["lead"], ...).id

Seed names are global (one namespace for the whole suite), and a seed must be declared after
the seeds it needs. What a build returns is kept as JSON (a tuple comes back as a list).
"""

import fcntl
import json
import shutil
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from tracker import create_app
from tracker.extensions import db

DATABASE_FILE = "test.db"


@dataclass(frozen=True)
class Seed:
    name: str
    build: Callable[[], object]
    load: Callable[[object], object] | None
    needs: tuple[str, ...]


SEEDS: dict[str, Seed] = {}  # in declaration order, so each seed comes after what it needs


def seed(*, needs: Iterable[str] = (), load: Callable[[object], object] | None = None):
    """Declare a seeded fixture named after the decorated builder (see the module's doc)."""
    needs = tuple(needs)

    def declare(build: Callable[[], object]):
        name = build.__name__
        missing = [n for n in needs if n not in SEEDS]
        if missing:
            raise LookupError(f"seed {name!r} needs {missing}, not declared before it")
        if name in SEEDS and SEEDS[name].build.__qualname__ != build.__qualname__:
            raise ValueError(f"two seeds are named {name!r}: seed names are global")
        SEEDS[name] = Seed(name, build, load, needs)

        def fixture(app, seeded):
            assert name in seeded, (
                f"{name} was requested too late (getfixturevalue?): its data is not in this "
                "test's database. Ask for it in the test's or a fixture's arguments.")
            return load(seeded[name]) if load else seeded[name]

        fixture.__doc__ = build.__doc__
        return pytest.fixture(name=name)(fixture)
    return declare


def seeds_for(fixturenames: Iterable[str]) -> tuple[str, ...]:
    """The seeds a test's fixture closure asks for, with what they need, in declaration
    order: the key of the template it starts from."""
    wanted, stack = set(), [n for n in fixturenames if n in SEEDS]
    while stack:
        name = stack.pop()
        if name not in wanted:
            wanted.add(name)
            stack.extend(SEEDS[name].needs)
    return tuple(n for n in SEEDS if n in wanted)


class Templates:
    """The session's templates, each built when a test first needs it, from its prefix's.

    `root` may be shared by the processes of one run (pytest-xdist's workers): the first to
    need a template builds it under a file lock and the others read it from there."""

    META = "seed.json"  # what the builds returned; written last, so it marks a template done
    ROWS = "rows"  # PostgreSQL: a COPY text file per table

    def __init__(self, database: dict, root: Path, config: Callable[[Path, str], dict]):
        self.database, self.root, self.config = database, root, config
        self.postgres = database["kind"] == "postgresql"
        self.root.mkdir(parents=True, exist_ok=True)
        self.built: dict[tuple[str, ...], tuple[Path, dict]] = {}
        self.rows: dict[tuple[str, ...], tuple[dict, list]] = {}

    def template(self, key: tuple[str, ...]) -> tuple[Path, dict]:
        """The template's directory and what its seeds' builds returned."""
        if key not in self.built:
            path = self.root / ("+".join(key) or "empty")
            with _locked(self.root / f"{path.name}.lock"):
                if not (path / self.META).exists():
                    self._build(key, path)
            self.built[key] = path, json.loads((path / self.META).read_text())
        return self.built[key]

    def _build(self, key: tuple[str, ...], path: Path) -> None:
        shutil.rmtree(path, ignore_errors=True)  # a build that failed half-way
        if not key:
            path.mkdir()
            if not self.postgres:
                shutil.copy(self.database["template"], path / DATABASE_FILE)
            self._save(path, {}, {}, [])
            return
        parent, returned = self.template(key[:-1])
        shutil.copytree(parent, path, ignore=shutil.ignore_patterns(self.META, self.ROWS))
        if self.postgres:
            restore(self.database["url"], *self._rows(key[:-1]))
        url = self.database["url"] if self.postgres else f"sqlite:///{path / DATABASE_FILE}"
        app = create_app(self.config(path, url))
        app.instance_path = str(path)
        with app.app_context():
            returned = {**returned, key[-1]: SEEDS[key[-1]].build()}
            db.session.commit()
            db.session.remove()
            db.engine.dispose()
        rows, sequences = snapshot(self.database["url"]) if self.postgres else ({}, [])
        self._save(path, returned, rows, sequences)

    def _save(self, path: Path, returned: dict, rows: dict, sequences: list) -> None:
        if self.postgres:
            (path / self.ROWS).mkdir()
            for table, data in rows.items():
                (path / self.ROWS / table).write_bytes(data)
        meta = path / self.META
        meta.with_suffix(".tmp").write_text(json.dumps({**returned, "": sequences}))
        meta.with_suffix(".tmp").rename(meta)

    def _rows(self, key: tuple[str, ...]) -> tuple[dict, list]:
        if key not in self.rows:
            path, returned = self.template(key)
            self.rows[key] = ({f.name: f.read_bytes() for f in (path / self.ROWS).iterdir()},
                              [tuple(s) for s in returned[""]])
        return self.rows[key]

    def copy_to(self, key: tuple[str, ...], tmp_path: Path) -> "Seeded":
        """Give tmp_path the template's files and database."""
        path, returned = self.template(key)
        shutil.copytree(path, tmp_path, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns(self.META, self.ROWS))
        returned = {k: v for k, v in returned.items() if k}
        if self.postgres:
            restore(self.database["url"], *self._rows(key))
            return Seeded(self.database["url"], returned)
        return Seeded(f"sqlite:///{tmp_path / DATABASE_FILE}", returned)


@contextmanager
def _locked(path: Path):
    with path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


class Seeded(dict):
    """seed name → what its build returned, for one test; `url` is the test's database."""

    def __init__(self, url: str, keys: dict):
        super().__init__(keys)
        self.url = url


# --- PostgreSQL: a database's rows as COPY text, and back --------------------------------

def _tables() -> list[str]:
    return [t.name for t in db.metadata.sorted_tables]  # parents before children


def _connect(url: str):
    import psycopg

    return psycopg.connect(sa.engine.make_url(url).set(drivername="postgresql")
                           .render_as_string(hide_password=False))


_SEQUENCES = "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'public'"


def snapshot(url: str) -> tuple[dict[str, bytes], list[tuple[str, int | None]]]:
    """Every table's rows (COPY text) and every sequence's last value."""
    rows = {}
    with _connect(url) as conn, conn.cursor() as cur:
        for table in _tables():
            data = bytearray()
            with cur.copy(f'COPY "{table}" TO STDOUT') as copy:
                for chunk in copy:
                    data += chunk
            if data:
                rows[table] = bytes(data)
        sequences = cur.execute(_SEQUENCES).fetchall()
    return rows, sequences


def restore(url: str, rows: dict[str, bytes], sequences: list) -> None:
    """Empty every table, put the snapshot's rows back and set the sequences as they were
    (a sequence the snapshot has not used starts again at 1), in one transaction."""
    tables = _tables()
    with _connect(url) as conn, conn.cursor() as cur:
        cur.execute("SET LOCAL synchronous_commit = off")  # test data: no need to wait
        if _superuser(cur):
            # Skips the triggers, the activity log's append-only one and the foreign keys'.
            cur.execute("SET LOCAL session_replication_role = replica")
        else:
            cur.execute('TRUNCATE "activity_events"')  # append-only: DELETE is refused
        for table in reversed(tables):
            cur.execute(f'DELETE FROM "{table}"')
        for table in tables:
            if table in rows:
                with cur.copy(f'COPY "{table}" FROM STDIN') as copy:
                    copy.write(rows[table])
        current = dict(sequences)
        for name, _ in cur.execute(_SEQUENCES).fetchall():
            last = current.get(name)
            cur.execute("SELECT setval(%s, %s, %s)", (name, last or 1, last is not None))


_superusers: dict[str, bool] = {}


def _superuser(cur) -> bool:
    url = cur.connection.info.dsn
    if url not in _superusers:
        _superusers[url] = cur.execute(
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()[0]
    return _superusers[url]
