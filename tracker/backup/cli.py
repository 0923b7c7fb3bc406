"""`flask --app app backup create|restore`: thin commands over tracker.backup.service."""

from pathlib import Path

import click
from flask.cli import AppGroup

from tracker.backup import service

backup_cli = AppGroup("backup", help="Back up and restore the database and stored files.")


@backup_cli.command("create")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Archive to write (default: instance/backups/tracker-DATE-TIME.tar.gz).")
def backup_create(output):
    """Write one .tar.gz: database, evidence, reports, signing key, and SHA-256 manifest."""
    try:
        result = service.create_backup(output)
    except service.BackupError as exc:
        raise click.ClickException(exc.message) from None
    if result.dump_path:
        click.echo(f"Dumped the PostgreSQL database to {result.dump_path} (pg_dump, mode 0600).")
    what = "the database and " if result.database_included else ""
    click.echo(f"Backed up {what}{result.files} files to {result.path} "
               f"({result.size / 1024 / 1024:.1f} MB).")
    click.echo("The archive holds the signing key and all evidence: keep it as safe as the "
               "server." + (" So does the dump: keep the two together." if result.dump_path
                            else ""))
    _report_evidence(result)


def _report_evidence(result) -> None:
    """Say whether every evidence row has its file; exit 1 when some do not."""
    if not result.missing_evidence:
        click.echo(f"Every evidence file the database refers to ({result.evidence_rows}) is "
                   "in the archive.")
        return
    missing = result.missing_evidence
    click.echo(f"WARNING: {len(missing)} of the {result.evidence_rows} evidence files the "
               f"database refers to are not in the archive (first: {missing[0]}); their "
               "downloads will fail. Look for them in an older backup.", err=True)
    raise SystemExit(1)


@backup_cli.command("restore")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def backup_restore(archive):
    """Restore ARCHIVE into this empty instance, after checking every SHA-256."""
    try:
        result = service.restore_backup(archive)
    except service.BackupError as exc:
        raise click.ClickException(exc.message) from None
    what = "the database and " if result.database_restored else ""
    click.echo(f"Restored {what}{result.files} files from {archive}; every SHA-256 matched.")
    for note in result.notes:
        click.echo(note)
    _report_evidence(result)
