import time

import click

from tracker.extensions import db


@click.command("scale")
@click.option("--teams", default=100, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--quarters", default=8, show_default=True, type=click.IntRange(1, 40))
@click.option("--items", default=250, show_default=True, type=click.IntRange(1, 5_000),
              help="Items per audit (up to 5,000: the largest audit the reports are budgeted for).")
@click.option("--seed", default=1234, show_default=True, help="Random seed (deterministic).")
def seed_scale(teams, quarters, items, seed):
    """A large deterministic data set for benchmarks (teams × quarters × items)."""
    from tracker.library.models import Domain
    from tracker.scale.service import SCALE_PASSWORD, generate, refresh_statistics

    if db.session.execute(db.select(Domain.id).limit(1)).scalar() is None:
        raise click.ClickException("Load the library first: flask --app app seed library")
    started = time.perf_counter()
    with click.progressbar(length=teams * quarters, label="Audits") as bar:
        result = generate(teams, quarters, items, seed, progress=bar.update)
    db.session.commit()
    refresh_statistics()
    click.echo(f"Generated {result.teams} teams, {result.audits} audits, {result.items:,} items, "
               f"{result.evidence:,} evidence notes, {result.comments:,} comments, "
               f"{result.events:,} activity events in {time.perf_counter() - started:.0f} s.")
    click.echo(f"Scale users: scaleNNN.K@example.com, password {SCALE_PASSWORD} (benchmarks only).")
