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
    what = "the database and " if result.database_included else ""
    click.echo(f"Backed up {what}{result.files} files to {result.path} "
               f"({result.size / 1024 / 1024:.1f} MB).")
    click.echo("The archive holds the signing key and all evidence: keep it as safe as the "
               "server.")
    if result.pg_dump_command:
        click.echo("PostgreSQL is not in the archive. Back it up now, at the same time:")
        click.echo(f"  {result.pg_dump_command}")


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
