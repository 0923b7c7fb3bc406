"""`flask --app app search reindex`."""

import click
from flask.cli import AppGroup

from tracker.extensions import db

search_cli = AppGroup("search", help="Look after the search indexes.")


@search_cli.command("reindex")
def search_reindex():
    """Rebuild the search indexes from the tables (they are kept current by every write;
    this is for a restored or repaired database, or after installing unaccent)."""
    from tracker.search.schema import reindex

    try:
        done = reindex()
    except RuntimeError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    for line in done:
        click.echo(line)
