"""`flask library export|import` and `flask oscal import-catalog|export-catalog|export-results`."""

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from tracker.exchange import library_io, oscal
from tracker.extensions import db
from tracker.library.seeding import LibraryFileError, parse_library

library_cli = AppGroup("library", help="Export and import the readiness library.")
oscal_cli = AppGroup("oscal", help="NIST OSCAL catalogs and assessment results.")


def _write(text: str, path: str | None) -> None:
    if path in (None, "-"):
        click.echo(text, nl=False)
    else:
        Path(path).write_text(text, encoding="utf-8")
        click.echo(f"Wrote {path}.", err=True)


def _import(load, source: str, dry_run: bool = False) -> None:
    """Run an import; on a file error roll back, name it and exit non-zero. A dry run lists
    what would change, field by field, and keeps nothing."""
    try:
        result = load()
    except LibraryFileError as exc:
        db.session.rollback()
        raise click.ClickException(f"{exc}\nNothing was changed.") from None
    if dry_run:
        db.session.rollback()
        for c in result.changed:
            click.echo(f"{c.action} {c.kind} {c.code} ({c.namespace})" + "".join(
                f"\n    {name}: {before[:60]!r} → {after[:60]!r}"
                for name, before, after in c.fields))
        click.echo(f"Would import {source}: {result.summary()}. Nothing was changed.")
        return
    db.session.commit()
    click.echo(f"Imported {source}: {result.summary()}.")


@library_cli.command("export")
@click.option("--format", "fmt", type=click.Choice(["yaml", "csv"]), default="yaml",
              show_default=True)
@click.argument("path", required=False)
def library_export(fmt, path):
    """Write the library to PATH (default: standard output).

    YAML to a folder (a PATH without .yaml/.yml) writes one file per domain, like
    seeds/library; to a file, one document per domain.
    """
    if fmt == "yaml" and path not in (None, "-") and Path(path).suffix not in (".yaml", ".yml"):
        written = library_io.export_yaml_files(Path(path))
        click.echo(f"Wrote {len(written)} files to {path}.", err=True)
        return
    _write(library_io.export_yaml() if fmt == "yaml" else library_io.export_csv(), path)


@library_cli.command("import")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")
def library_import(path: Path, dry_run: bool):
    """Replace the library with PATH: a .yaml/.yml/.csv/.xlsx file, or a folder like
    seeds/library. Each namespace the file names is replaced (the seed library's unless
    a domain says `namespace:`).

    The whole file is checked first; on any error nothing changes. Items the file does not
    list are deactivated (never deleted; past audits keep their snapshots)."""
    def load():
        parsed = parse_library(path) if path.is_dir() else \
            library_io.parse_library_file(path.name, path.read_bytes())
        if dry_run:
            return library_io.apply_library(parsed, source=str(path), record=False)
        return library_io.import_library(None, parsed, str(path))

    _import(load, str(path), dry_run)


@oscal_cli.command("import-catalog")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--namespace", help="The source to import into (default: one made from the "
              "catalog's title). Re-importing a catalog updates its own namespace.")
@click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")
def oscal_import_catalog(file: Path, namespace: str | None, dry_run: bool):
    """Add an OSCAL catalog (JSON or YAML) to the library in a namespace of its own: groups
    become domains, controls items. XML: convert it to JSON first (oscal-cli)."""
    _import(lambda: oscal.import_catalog(
        None, oscal.parse_catalog(file.name, file.read_bytes(), namespace), str(file),
        record=not dry_run), str(file), dry_run)


@oscal_cli.command("export-catalog")
@click.argument("path", required=False)
def oscal_export_catalog(path):
    """Write the library as an OSCAL catalog (JSON) to PATH (default: standard output)."""
    title = f"{current_app.config['ORGANISATION_NAME']} readiness library"
    _write(oscal.catalog_json(title), path)


@oscal_cli.command("export-results")
@click.argument("audit_id", type=int)
@click.option("--output", "-o", help="File to write (default: standard output).")
def oscal_export_results(audit_id, output):
    """Write a signed-off audit as OSCAL assessment results (JSON)."""
    from tracker.audits.models import Audit

    audit = db.session.get(Audit, audit_id)
    if audit is None:
        raise click.ClickException(f"There is no audit {audit_id}.")
    if not audit.is_frozen:
        click.echo(f"Audit {audit_id} is {audit.state.value.replace('_', ' ')}: OSCAL "
                   "assessment results exist once it is signed off.", err=True)
        sys.exit(1)
    _write(oscal.assessment_results_json(audit), output)
