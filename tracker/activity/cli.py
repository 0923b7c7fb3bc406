"""`flask --app app activity verify [--against FILE]` and `activity checkpoint`."""

import sys
from pathlib import Path

import click
from flask.cli import AppGroup

from tracker.extensions import db

activity_cli = AppGroup("activity", help="Check the activity log; sign and export checkpoints.")


@activity_cli.command("verify")
@click.option("--against", "against", type=click.Path(exists=True, dir_okay=False,
                                                      path_type=Path),
              help="A kept checkpoint file (or a signed report, which carries one): every "
                   "chain must still pass through the heads it signed.")
def activity_verify(against):
    """Walk every activity chain; name the first broken link. Exit 0 only if all verify."""
    from tracker.activity import verify_all_chains

    if against is None:
        count, problems = verify_all_chains()
        for problem in problems:
            click.echo(f"BROKEN {problem}", err=True)
        if problems:
            sys.exit(1)
        click.echo(f"All {count} activity chains verify. Without a checkpoint this cannot "
                   "catch a consistent rewrite: use --against a kept checkpoint.")
        return
    _verify_against(against)


def _verify_against(path: Path) -> None:
    from tracker.activity.checkpoints import (
        CheckpointError,
        checkpoint_from_report,
        read_checkpoint,
        verify_against,
    )

    data = path.read_bytes()
    try:
        text = checkpoint_from_report(data) if data.startswith(b"%PDF") else data
        if text is None:
            raise CheckpointError(f"{path.name} is a PDF without an activity checkpoint.")
        checkpoint = read_checkpoint(text)
    except CheckpointError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Checkpoint of {checkpoint.taken_at} ({len(checkpoint.chains)} chains), "
               f"signed by certificate SHA-256 {checkpoint.certificate_sha256}.")
    if not checkpoint.ours:
        raise click.ClickException(
            "That certificate is neither this installation's nor under SIGNING_TRUST_ROOTS: "
            "the checkpoint proves nothing about this database.")
    result = verify_against(checkpoint)
    for problem in result.problems:
        click.echo(f"BROKEN {problem}", err=True)
    if result.problems:
        sys.exit(1)
    click.echo(f"All {result.checked} chains in the checkpoint still pass through its signed "
               f"heads; {len(result.newer)} have activity since and {result.new_chains} "
               "started since (those verify, but only a later checkpoint vouches for them).")


@activity_cli.command("checkpoint")
@click.option("--output", "output", type=click.Path(dir_okay=False, path_type=Path),
              required=True, help="Where to write the signed file ('-' for standard output).")
@click.option("--id", "checkpoint_id", type=int,
              help="Export this stored checkpoint instead of taking a new one.")
@click.option("--reason", type=click.Choice(["scheduled", "manual"]), default="manual",
              show_default=True, help="'scheduled' from cron.")
def activity_checkpoint(output, checkpoint_id, reason):
    """Sign every chain's head now (store it too) and write the file: keep it anywhere
    outside this database; `activity verify --against FILE` checks the log against it.
    For the daily checkpoint, run from cron:
    `flask --app app activity checkpoint --reason scheduled --output DIR/$(date +%F).json`."""
    from tracker.activity.checkpoints import take_checkpoint
    from tracker.activity.models import Checkpoint, CheckpointReason
    from tracker.reports.keys import SigningKeyError

    if checkpoint_id is not None:
        checkpoint = db.session.get(Checkpoint, checkpoint_id)
        if checkpoint is None:
            raise click.ClickException(f"No checkpoint {checkpoint_id}.")
    else:
        try:
            checkpoint = take_checkpoint(CheckpointReason(reason))
        except SigningKeyError as exc:
            raise click.ClickException(str(exc)) from None
        db.session.commit()
    if str(output) == "-":
        click.echo(checkpoint.document, nl=False)
        return
    output.write_text(checkpoint.document, encoding="utf-8")
    click.echo(f"Checkpoint {checkpoint.id} of {checkpoint.chain_count} chains "
               f"({checkpoint.taken_at.isoformat()}Z) written to {output}.", err=True)
