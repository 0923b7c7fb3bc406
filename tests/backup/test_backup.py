"""`flask backup create` / `backup restore`: a round trip into an empty instance gives back
the same rows and the same files; a corrupted, edited or hostile archive is refused before
anything is written; a non-empty instance is refused."""

import io
import json
import sqlite3
import tarfile
from pathlib import Path

import pytest

from tests.conftest import base_config
from tracker import activity, create_app
from tracker.extensions import db

ROOT_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture
def stored_files(app, site, tmp_path):
    """Besides the site's evidence: a signing key and a signed report on disk."""
    signing = Path(app.config["SIGNING_KEY_PATH"]).parent
    signing.mkdir(parents=True, exist_ok=True)
    (signing / "key.pem").write_text("-----BEGIN PRIVATE KEY-----\nnot a real key\n")
    (signing / "cert.pem").write_text("-----BEGIN CERTIFICATE-----\nnot real\n")
    reports = Path(app.config["REPORTS_DIR"])
    reports.mkdir(parents=True, exist_ok=True)
    (reports / "alpha-2026-Q1.pdf").write_bytes(b"%PDF-1.7 signed report\n")
    db.session.commit()
    return tmp_path


def new_instance(tmp_path: Path, name: str, database_url: str | None = None):
    root = tmp_path / name
    root.mkdir()
    url = database_url or f"sqlite:///{root / 'tracker.db'}"
    app = create_app(base_config(root, url))
    app.instance_path = str(root)
    return app


def files_of(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def all_rows(path: Path) -> dict[str, list]:
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        return {t: sorted(map(repr, conn.execute(f'SELECT * FROM "{t}"'))) for t in tables}  # noqa: S608
    finally:
        conn.close()


def create(runner, path: Path):
    result = runner.invoke(args=["backup", "create", "--output", str(path)])
    assert result.exit_code == 0, result.output
    return result


def restore(app, path: Path):
    # The CLI reuses an app context that is already pushed (the test's source app), so the
    # target's own context goes on top.
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["backup", "restore", str(path)])
        db.engine.dispose()
    return result


def sqlite_only(database):
    if database["kind"] != "sqlite":
        pytest.skip("the SQLite backup: PostgreSQL is backed up with pg_dump")


def test_round_trip_gives_back_every_row_and_file(app, runner, database, database_url,
                                                  stored_files, tmp_path):
    sqlite_only(database)
    archive = tmp_path / "out" / "backup.tar.gz"
    result = create(runner, archive)
    assert "Backed up the database and" in result.output
    assert oct(archive.stat().st_mode & 0o777) == "0o600"

    target = new_instance(tmp_path, "restored")
    result = restore(target, archive)
    assert result.exit_code == 0, result.output
    assert "every SHA-256 matched" in result.output

    source_db = Path(database_url.removeprefix("sqlite:///"))
    assert all_rows(tmp_path / "restored" / "tracker.db") == all_rows(source_db)
    for key in ("EVIDENCE_DIR", "REPORTS_DIR"):
        original = files_of(Path(app.config[key]))
        assert original and files_of(Path(target.config[key])) == original
    assert files_of(Path(target.config["SIGNING_KEY_PATH"]).parent) == files_of(
        Path(app.config["SIGNING_KEY_PATH"]).parent)
    with target.app_context():
        count, problems = activity.verify_all_chains()
        assert count >= 3 and not problems
        db.engine.dispose()


def test_manifest_lists_every_file_with_its_sha256(runner, database, stored_files, tmp_path):
    sqlite_only(database)
    archive = tmp_path / "backup.tar.gz"
    create(runner, archive)
    with tarfile.open(archive) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())
        names = {m.name for m in tar.getmembers()} - {"manifest.json"}
    assert set(manifest["files"]) == names
    assert "database.sqlite3" in names and "signing/key.pem" in names
    assert any(n.startswith("evidence/") for n in names)
    from alembic.script import ScriptDirectory

    head = ScriptDirectory(str(ROOT_DIR / "migrations")).get_current_head()
    assert manifest["database"] == {"engine": "sqlite", "included": True,
                                    "alembic_revision": head}


def test_restore_refuses_an_instance_that_has_data(app, runner, database, stored_files,
                                                   tmp_path):
    sqlite_only(database)
    archive = tmp_path / "backup.tar.gz"
    create(runner, archive)
    before = files_of(Path(app.config["EVIDENCE_DIR"]))
    result = restore(app, archive)
    assert result.exit_code != 0
    assert "This instance is not empty" in result.output
    assert "Restore only into an empty instance" in result.output
    assert files_of(Path(app.config["EVIDENCE_DIR"])) == before


# --- damaged and hostile archives --------------------------------------------------------

def read_members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def write_archive(path: Path, members: dict[str, bytes], extra=()):
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for info in extra:
            tar.addfile(info)
    return path


def _link(name, target, kind=tarfile.SYMTYPE):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


def _damaged(tmp_path, how) -> Path:
    original = read_members(tmp_path / "good.tar.gz")
    bad = tmp_path / f"bad-{how}.tar.gz"
    evidence = next(n for n in original if n.startswith("evidence/"))
    if how == "flipped-byte":
        data = bytearray((tmp_path / "good.tar.gz").read_bytes())
        data[len(data) // 2] ^= 0xFF
        bad.write_bytes(bytes(data))
    elif how == "truncated":
        bad.write_bytes((tmp_path / "good.tar.gz").read_bytes()[:-200])
    elif how == "not-an-archive":
        bad.write_bytes(b"just some text, not a backup\n")
    elif how == "edited-evidence":
        write_archive(bad, {**original, evidence: original[evidence] + b"tampered"})
    elif how == "edited-database":
        db_bytes = bytearray(original["database.sqlite3"])
        db_bytes[-10] ^= 0x01
        write_archive(bad, {**original, "database.sqlite3": bytes(db_bytes)})
    elif how == "unlisted-file":
        write_archive(bad, {**original, "evidence/zz/planted": b"x"})
    elif how == "missing-file":
        write_archive(bad, {k: v for k, v in original.items() if k != evidence})
    elif how == "no-manifest":
        write_archive(bad, {k: v for k, v in original.items() if k != "manifest.json"})
    elif how == "bad-manifest":
        write_archive(bad, {**original, "manifest.json": b"{not json"})
    elif how == "path-traversal":
        write_archive(bad, {**original, "evidence/../../escaped.txt": b"x"})
    elif how == "absolute-path":
        write_archive(bad, {**original, "/tmp/escaped.txt": b"x"})  # noqa: S108
    elif how == "unknown-folder":
        write_archive(bad, {**original, "templates/base.html": b"<script>"})
    elif how == "symlink":
        write_archive(bad, original, extra=[_link("evidence/aa/link", "/etc/passwd")])
    elif how == "hardlink":
        write_archive(bad, original,
                      extra=[_link("evidence/aa/hard", "/etc/passwd", tarfile.LNKTYPE)])
    return bad


DAMAGE = {
    # A flipped byte shows as a bad SHA-256 or a broken gzip stream, whichever is read first.
    "flipped-byte": ("not a readable backup archive", "does not match the SHA-256"),
    "truncated": "not a readable backup archive",
    "not-an-archive": "not a readable backup archive",
    "edited-evidence": "does not match the SHA-256",
    "edited-database": "does not match the SHA-256",
    "unlisted-file": "does not list",
    "missing-file": "the archive is incomplete",
    "no-manifest": "has no manifest.json",
    "bad-manifest": "not valid JSON",
    "path-traversal": "not a file a backup contains",
    "absolute-path": "not a file a backup contains",
    "unknown-folder": "not a file a backup contains",
    "symlink": "not a file a backup contains",
    "hardlink": "not a file a backup contains",
}


@pytest.mark.parametrize("how", sorted(DAMAGE))
def test_damaged_archives_are_refused_and_nothing_is_written(runner, database, stored_files,
                                                             tmp_path, how):
    sqlite_only(database)
    create(runner, tmp_path / "good.tar.gz")
    bad = _damaged(tmp_path, how)
    target = new_instance(tmp_path, "target")
    result = restore(target, bad)
    assert result.exit_code != 0
    expected = DAMAGE[how] if isinstance(DAMAGE[how], tuple) else (DAMAGE[how],)
    assert any(e in result.output for e in expected), result.output
    assert "Nothing was restored" in result.output
    root = tmp_path / "target"
    leftovers = [p for p in root.rglob("*") if p.is_file()]
    assert leftovers == [], leftovers
    assert not (tmp_path / "escaped.txt").exists()


# --- PostgreSQL: files in the archive, the database with pg_dump ---------------------

def test_postgresql_backup_holds_the_files_and_names_pg_dump(app, runner, database,
                                                             database_url, stored_files,
                                                             tmp_path):
    if database["kind"] != "postgresql":
        pytest.skip("needs PostgreSQL (TEST_DATABASE_URL)")
    archive = tmp_path / "backup.tar.gz"
    result = create(runner, archive)
    assert f"Dumped the PostgreSQL database to {tmp_path / 'backup.dump'}" in result.output
    with tarfile.open(archive) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())
    assert manifest["database"]["engine"] == "postgresql"
    assert manifest["database"]["included"] is False
    assert manifest["database"]["dump"] == "backup.dump"
    assert "database.sqlite3" not in manifest["files"] and "signing/key.pem" in manifest["files"]

    # Restore the files into a second instance on the (already restored) database.
    target = new_instance(tmp_path, "restored", database_url)
    result = restore(target, archive)
    assert result.exit_code == 0, result.output
    assert "pg_restore --no-owner" in result.output
    assert files_of(Path(target.config["EVIDENCE_DIR"])) == files_of(
        Path(app.config["EVIDENCE_DIR"]))
    # A PostgreSQL archive has no database: a SQLite instance refuses it.
    sqlite_target = new_instance(tmp_path, "sqlite-target")
    result = restore(sqlite_target, archive)
    assert result.exit_code != 0 and "made from PostgreSQL" in result.output
