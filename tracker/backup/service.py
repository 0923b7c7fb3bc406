"""Backups: one .tar.gz with the SQLite database (taken with SQLite's online backup API, so
the app can keep running), the evidence files, the signed reports and the signing key
folder, and manifest.json listing the SHA-256 of every other member.

Restore goes only into an empty instance, and checks everything before it writes anything:
every member is a plain file under a known folder, every file is listed in the manifest with
the right size and SHA-256, nothing listed is missing, and the database passes SQLite's
integrity check. A corrupted, truncated or edited archive is refused and nothing changes.

PostgreSQL databases are dumped with pg_dump first, beside the archive (mode 0600, its
SHA-256 in the manifest), and the files archived after: evidence is written before the row
that refers to it, so every row in the dump has its file to copy. Both `backup create` and
`backup restore` check that every evidence row (in the snapshot taken, or the database being
restored) has its file in the archive, and say which do not; see README.
"""

import gzip
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess  # pg_dump, found on PATH, with arguments we build  # nosec B404
import tarfile
import tempfile
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

import sqlalchemy as sa
from flask import current_app

from tracker.extensions import db

FORMAT = 1
MANIFEST = "manifest.json"
DATABASE_MEMBER = "database.sqlite3"
FOLDERS = ("evidence", "reports", "signing")
CHUNK = 1024 * 1024
SKIPPED_PREFIXES = (".upload-", ".prune-")  # uploads being written, files being pruned


class BackupError(Exception):
    """The backup or restore cannot go ahead; the message says why and what to do."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass
class BackupResult:
    path: Path
    files: int
    size: int
    database_included: bool
    dump_path: Path | None = None  # PostgreSQL: pg_dump's file beside the archive
    evidence_rows: int = 0  # file evidence the database refers to (distinct files)
    missing_evidence: list[str] = field(default_factory=list)  # their SHA-256s, no file


@dataclass
class RestoreResult:
    files: int
    database_restored: bool
    alembic_revision: str | None
    notes: list[str] = field(default_factory=list)
    evidence_rows: int = 0
    missing_evidence: list[str] = field(default_factory=list)


EVIDENCE_FILES_SQL = "SELECT DISTINCT sha256 FROM evidence WHERE kind = 'file'"


def missing_evidence(referenced: set[str], members) -> list[str]:
    """The referenced evidence files (SHA-256s) the archive does not hold."""
    held = {name.rsplit("/", 1)[-1] for name in members if name.startswith("evidence/")}
    return sorted(referenced - held)


# --- where things live ----------------------------------------------------------------

def folders() -> dict[str, Path]:
    config = current_app.config
    return {
        "evidence": Path(config["EVIDENCE_DIR"]),
        "reports": Path(config["REPORTS_DIR"]),
        "signing": Path(config["SIGNING_KEY_PATH"]).parent,
    }


def database_kind() -> str:
    return db.engine.dialect.name


def sqlite_path() -> Path:
    database = db.engine.url.database
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        raise BackupError("This instance uses an in-memory SQLite database: there is nothing "
                          "on disk to back up. Set DATABASE_URL to a database file.")
    return Path(database)


def libpq_url() -> str:
    """DATABASE_URL as pg_dump and pg_restore take it (no driver, no password)."""
    url = db.engine.url.set(drivername="postgresql", password=None)
    return url.render_as_string(hide_password=False)


def _files_under(root: Path):
    if not root.is_dir():
        return
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink() and not path.name.startswith(
                SKIPPED_PREFIXES):
            yield path


# --- create ---------------------------------------------------------------------------

class _HashingReader:
    """Hashes a file while tarfile reads it, so each file is read once."""

    def __init__(self, fh):
        self.fh, self.sha256 = fh, hashlib.sha256()

    def read(self, size=-1):
        data = self.fh.read(size)
        self.sha256.update(data)
        return data


def _add_file(archive: tarfile.TarFile, source: Path, name: str) -> dict:
    info = tarfile.TarInfo(name)
    stat = source.stat()
    info.size, info.mtime, info.mode = stat.st_size, int(stat.st_mtime), 0o600
    with source.open("rb") as fh:
        reader = _HashingReader(fh)
        archive.addfile(info, reader)
    return {"sha256": reader.sha256.hexdigest(), "size": info.size}


def _evidence_in_sqlite(conn: sqlite3.Connection) -> set[str]:
    try:
        return {row[0] for row in conn.execute(EVIDENCE_FILES_SQL)}
    except sqlite3.DatabaseError:  # no schema yet
        return set()


def _snapshot_sqlite(target: Path) -> str | None:
    """A consistent copy of the live database; returns its Alembic revision."""
    source = sqlite3.connect(sqlite_path())
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)  # the online backup API: one consistent snapshot
        if copy.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise BackupError("The database failed SQLite's integrity check; no backup was "
                              "written. Restore the last good backup, or run "
                              "`sqlite3 tracker.db .recover`.")
        copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        return _alembic_revision(copy)
    finally:
        copy.close()
        source.close()


def _alembic_revision(conn: sqlite3.Connection) -> str | None:
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError:
        return None
    return row[0] if row else None


def default_backup_path() -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return Path(current_app.instance_path) / "backups" / f"tracker-{stamp}.tar.gz"


def create_backup(output: Path | None = None) -> BackupResult:
    output = Path(output or default_backup_path())
    output.parent.mkdir(parents=True, exist_ok=True)
    kind = database_kind()
    if kind not in ("sqlite", "postgresql"):
        raise BackupError(f"Backups support SQLite and PostgreSQL, not {kind}.")
    manifest = {"format": FORMAT, "app": "readiness-tracker",
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "database": {"engine": kind, "included": kind == "sqlite"}, "files": {}}
    # The archive holds every piece of evidence and the signing key: only its owner reads it.
    dump = None
    referenced: set[str] = set()
    if kind == "postgresql":
        # The database first, the files after (as for SQLite below).
        dump = output.with_name(output.name.removesuffix(".tar.gz") + ".dump")
        referenced = _pg_dump(dump)
        manifest["database"].update(dump=dump.name, dump_sha256=_sha256_of(dump),
                                    dump_size=dump.stat().st_size)
    fd, partial = tempfile.mkstemp(dir=output.parent, prefix=".backup-", suffix=".tar.gz")
    os.close(fd)
    os.chmod(partial, 0o600)
    try:
        with tempfile.TemporaryDirectory() as scratch, \
                tarfile.open(partial, "w:gz") as archive:
            if kind == "sqlite":
                # The database first, the files after: evidence is written before the row
                # that refers to it, so every file the snapshot names is there to copy.
                snapshot = Path(scratch) / DATABASE_MEMBER
                manifest["database"]["alembic_revision"] = _snapshot_sqlite(snapshot)
                conn = sqlite3.connect(snapshot)
                try:
                    referenced = _evidence_in_sqlite(conn)
                finally:
                    conn.close()
                manifest["files"][DATABASE_MEMBER] = _add_file(archive, snapshot,
                                                               DATABASE_MEMBER)
            for folder, root in folders().items():
                for path in _files_under(root):
                    name = f"{folder}/{path.relative_to(root).as_posix()}"
                    manifest["files"][name] = _add_file(archive, path, name)
            missing = missing_evidence(referenced, manifest["files"])
            manifest["evidence"] = {"rows": len(referenced), "missing": missing}
            body = json.dumps(manifest, indent=2, sort_keys=True).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mode = len(body), 0o600
            info.mtime = int(datetime.now(UTC).timestamp())
            archive.addfile(info, _BytesReader(body))
        os.replace(partial, output)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    files = len(manifest["files"]) - (1 if kind == "sqlite" else 0)
    return BackupResult(path=output, files=files, size=output.stat().st_size,
                        database_included=kind == "sqlite", dump_path=dump,
                        evidence_rows=len(referenced), missing_evidence=missing)


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _pg_dump(target: Path) -> set[str]:
    """pg_dump into `target` (mode 0600) from a snapshot this function exports, and the
    evidence files that snapshot refers to — so the check below reads exactly the rows the
    dump holds."""
    binary = shutil.which("pg_dump")
    if binary is None:
        raise BackupError("pg_dump is not installed (apt-get install postgresql-client, the "
                          "server's major version or newer); no backup was written.")
    url = db.engine.url
    env = {**os.environ}
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    partial = target.with_name(f".{target.name}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.close(fd)
    os.chmod(partial, 0o600)  # whatever the umask: the dump holds every password hash
    try:
        with db.engine.connect() as conn:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                snapshot = conn.execute(sa.text("SELECT pg_export_snapshot()")).scalar_one()
                referenced = set(conn.execute(sa.text(EVIDENCE_FILES_SQL)).scalars())
                result = subprocess.run(  # our arguments, no shell  # nosec B603
                    [binary, "--format=custom", "--no-owner", f"--snapshot={snapshot}",
                     f"--file={partial}", f"--dbname={libpq_url()}"],
                    env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise BackupError(f"pg_dump failed, so no backup was written: "
                              f"{result.stderr.strip()[-500:]}")
        os.replace(partial, target)
    finally:
        if partial.exists():
            partial.unlink()
    return referenced


class _BytesReader:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def read(self, size=-1):
        end = len(self.data) if size is None or size < 0 else self.pos + size
        chunk, self.pos = self.data[self.pos:end], min(end, len(self.data))
        return chunk


# --- restore --------------------------------------------------------------------------

def existing_data() -> list[str]:
    """What this instance already holds; empty means a restore may write here."""
    found = []
    if database_kind() == "sqlite":
        path = sqlite_path()
        if path.exists() and path.stat().st_size > 0:
            rows = _rows_in_database()
            if rows:
                found.append(f"the database {path} has {rows} rows")
    for folder, root in folders().items():
        count = sum(1 for _ in _files_under(root))
        if count:
            found.append(f"{count} files in the {folder} folder {root}")
    return found


def _rows_in_database() -> int:
    inspector = sa.inspect(db.engine)
    total = 0
    with db.engine.connect() as conn:
        for table in inspector.get_table_names():
            if table != "alembic_version":
                total += conn.execute(
                    sa.select(sa.func.count()).select_from(sa.table(table))).scalar_one()
    db.engine.dispose()
    return total


def _safe_member_name(name: str) -> str | None:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or "\\" in name or not path.parts:
        return None
    if "\x00" in name or any(ord(ch) < 32 for ch in name):
        return None
    clean = path.as_posix()
    if clean in (MANIFEST, DATABASE_MEMBER):
        return clean
    if path.parts[0] in FOLDERS and len(path.parts) > 1:
        return clean
    return None


def _refuse(reason: str) -> BackupError:
    return BackupError(f"{reason} Nothing was restored.")


def _unpack(archive_path: Path, into: Path) -> tuple[dict, dict[str, str]]:
    """Every member to `into`, hashed on the way; returns the manifest and the hashes."""
    hashes: dict[str, tuple[str, int]] = {}
    manifest = None
    try:
        # The whole gzip stream first: its CRC catches damage that a tar reader, stopping at
        # the first garbled header, could take for the end of the archive.
        with gzip.open(archive_path, "rb") as stream:
            while stream.read(CHUNK):
                pass
        with tarfile.open(archive_path, "r:gz") as archive:
            for member in archive:
                if member.isdir():
                    continue
                name = _safe_member_name(member.name)
                if name is None or not member.isfile():
                    raise _refuse(f"The archive holds “{member.name[:100]}”, which is not a file "
                                  "a backup contains (links, devices and paths outside the "
                                  "backup's folders are refused).")
                if name in hashes:
                    raise _refuse(f"The archive holds “{name}” twice.")
                source = archive.extractfile(member)
                if name == MANIFEST:
                    manifest = _read_manifest(source.read(10 * CHUNK))
                    continue
                target = into / name
                target.parent.mkdir(parents=True, exist_ok=True)
                digest, size = hashlib.sha256(), 0
                with target.open("wb") as out:
                    while chunk := source.read(CHUNK):
                        digest.update(chunk)
                        size += len(chunk)
                        out.write(chunk)
                hashes[name] = (digest.hexdigest(), size)
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise _refuse(f"{archive_path} is not a readable backup archive ({exc}); it may be "
                      "truncated or corrupted. Use another copy of the backup.") from None
    if manifest is None:
        raise _refuse(f"{archive_path} has no {MANIFEST}: it is not a Readiness Tracker backup.")
    return manifest, hashes


def _read_manifest(data: bytes) -> dict:
    try:
        manifest = json.loads(data)
    except ValueError:
        raise _refuse(f"The archive's {MANIFEST} is not valid JSON: the archive is damaged."
                      ) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or not isinstance(
            manifest.get("files"), dict):
        raise _refuse(f"The archive's {MANIFEST} is not a format-{FORMAT} backup manifest; make "
                      "the backup again with this version of the app.")
    return manifest


def _verify(manifest: dict, hashes: dict[str, tuple[str, int]]) -> None:
    listed = manifest["files"]
    for name, (sha, size) in sorted(hashes.items()):
        entry = listed.get(name)
        if not isinstance(entry, dict):
            raise _refuse(f"The archive holds {name}, which its manifest does not list: the "
                          "archive was changed after it was made.")
        if entry.get("sha256") != sha or entry.get("size") != size:
            raise _refuse(f"{name} does not match the SHA-256 in the manifest: the archive is "
                          "corrupted or was changed after it was made.")
    missing = sorted(set(listed) - set(hashes))
    if missing:
        raise _refuse(f"The manifest lists {len(missing)} files the archive does not hold "
                      f"(first: {missing[0]}): the archive is incomplete.")


def _check_database_copy(path: Path) -> str | None:
    conn = sqlite3.connect(path)
    try:
        if conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise _refuse("The database in the archive fails SQLite's integrity check.")
        return _alembic_revision(conn)
    except sqlite3.DatabaseError as exc:
        raise _refuse(f"The database in the archive cannot be read ({exc}).") from None
    finally:
        conn.close()


def restore_backup(archive_path: Path) -> RestoreResult:
    archive_path = Path(archive_path)
    kind = database_kind()
    if kind == "sqlite":
        sqlite_path()  # refuses an in-memory database
    found = existing_data()
    if found:
        raise BackupError(
            "This instance is not empty: " + "; ".join(found) + ". Restore only into an empty "
            "instance — point DATABASE_URL, EVIDENCE_DIR, REPORTS_DIR and SIGNING_KEY_PATH (or "
            "INSTANCE_PATH) at new locations, or move the current data away first. Nothing "
            "was restored.")
    staging_parent = Path(current_app.instance_path)
    staging_parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=staging_parent, prefix=".restore-") as staging:
        staging = Path(staging)
        manifest, hashes = _unpack(archive_path, staging)
        _verify(manifest, hashes)
        has_database = DATABASE_MEMBER in hashes
        revision, notes = None, []
        if has_database:
            if kind != "sqlite":
                raise _refuse("This backup holds a SQLite database but this instance uses "
                              "PostgreSQL. Restore it into a SQLite instance, or move the data "
                              "with a database tool.")
            revision = _check_database_copy(staging / DATABASE_MEMBER)
        elif kind == "sqlite":
            raise _refuse("This backup holds no database: it was made from PostgreSQL. Restore "
                          "its pg_dump file with pg_restore into a PostgreSQL instance, then "
                          "restore this archive there.")
        else:
            notes.append("The database is not in this archive: restore its pg_dump file with "
                         f"`pg_restore --no-owner --dbname '{libpq_url()}' FILE.dump`.")
        referenced = _evidence_to_restore(staging / DATABASE_MEMBER if has_database else None)
        missing = missing_evidence(referenced, hashes)
        if kind == "postgresql" and not _rows_in_postgresql():
            notes.append("The database is empty: restore the pg_dump file first, then this "
                         "archive, so that its evidence rows can be checked against the files.")
        # Everything checked: now write.
        if has_database:
            _install_database(staging / DATABASE_MEMBER)
        targets = folders()
        for name in sorted(hashes):
            if name == DATABASE_MEMBER:
                continue
            folder, rest = name.split("/", 1)
            target = targets[folder] / rest
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(staging / name, target)
    if revision:
        notes.append("Run `flask --app app db upgrade` if this version of the app is newer "
                     f"than the backup (its schema revision is {revision}).")
    return RestoreResult(files=len(hashes) - (1 if has_database else 0),
                         database_restored=has_database, alembic_revision=revision, notes=notes,
                         evidence_rows=len(referenced), missing_evidence=missing)


def _evidence_to_restore(sqlite_copy: Path | None) -> set[str]:
    """The evidence files the restored database will refer to: the archive's SQLite copy,
    or the PostgreSQL database restored (with pg_restore) before the archive."""
    if sqlite_copy is not None:
        conn = sqlite3.connect(sqlite_copy)
        try:
            return _evidence_in_sqlite(conn)
        finally:
            conn.close()
    if database_kind() != "postgresql":
        return set()
    try:
        with db.engine.connect() as conn:
            return set(conn.execute(sa.text(EVIDENCE_FILES_SQL)).scalars())
    except sa.exc.ProgrammingError:  # no schema yet
        return set()


def _rows_in_postgresql() -> int:
    try:
        with db.engine.connect() as conn:
            return conn.execute(sa.text("SELECT count(*) FROM users")).scalar_one()
    except sa.exc.ProgrammingError:
        return 0


def _install_database(copy: Path) -> None:
    target = sqlite_path()
    db.session.remove()
    db.engine.dispose()  # no connection may hold the old (empty) file open
    target.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    shutil.move(copy, target)
