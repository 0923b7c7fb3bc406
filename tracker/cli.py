"""Command-line interface: thin click commands over the services."""

from pathlib import Path

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import AppGroup

from tracker.extensions import db
from tracker.rules import RuleViolation

seed_cli = AppGroup("seed", help="Load the readiness library and demo data.")
users_cli = AppGroup("users", help="Manage user accounts.")
evidence_cli = AppGroup("evidence", help="Look after the evidence file store.")


def library_dir() -> Path:
    return Path(current_app.root_path).parent / "seeds" / "library"


@seed_cli.command("library")
@click.option("--path", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder of library YAML files (default: seeds/library).")
@click.option("-v", "--verbose", is_flag=True, help="List every change.")
def seed_library(path, verbose):
    """Load seeds/library/*.yaml; re-running it changes nothing."""
    from tracker.library.seeding import LibraryFileError, load_library

    try:
        result = load_library(path or library_dir())
    except LibraryFileError as exc:
        db.session.rollback()
        raise click.ClickException(f"{exc}\nNothing was changed.") from None
    db.session.commit()
    if verbose:
        for line in result.details:
            click.echo(f"  {line}")
    click.echo(f"Library loaded from {result.files} files: {result.changes} changes "
               f"({result.created} created, {result.updated} updated, "
               f"{result.deactivated} deactivated).")


@seed_cli.command("demo")
def seed_demo():
    """Demo teams, users and four quarters of audits (demo only)."""
    from tracker.demo import DEMO_PASSWORD, seed_demo_data

    try:
        summary = seed_demo_data(progress=click.echo)
    except RuleViolation as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from None
    db.session.commit()
    click.echo(summary)
    click.echo(f"Demo accounts (password: {DEMO_PASSWORD}): admin@example.com, lead@example.com, "
               "operator@example.com, auditor@example.com")


@users_cli.command("create")
@click.argument("email")
@click.option("--name", required=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--admin", is_flag=True)
@click.option("--auditor", is_flag=True)
@click.option("--team", "team_name", help="Add to this team (by name).")
@click.option("--role", type=click.Choice(["lead", "operator"]), default="operator",
              show_default=True)
def users_create(email, name, password, admin, auditor, team_name, role):
    """Create a user account."""
    from tracker.auth import service
    from tracker.auth.models import Team

    try:
        user = service.create_user(None, email, name, password, is_admin=admin,
                                   is_auditor=auditor)
        if team_name:
            team = db.session.execute(sa.select(Team).where(Team.name == team_name)).scalar()
            if team is None:
                raise RuleViolation(f"No team called {team_name!r}. `flask --app app users "
                                    "list` shows the teams.")
            service.set_membership(None, team, user, role)
    except RuleViolation as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from None
    db.session.commit()
    click.echo(f"Created {user.email}.")


@users_cli.command("list")
def users_list():
    """List users with their roles and teams."""
    from sqlalchemy.orm import selectinload

    from tracker.auth.models import Membership, User

    rows = db.session.execute(
        sa.select(User).order_by(User.email)
        .options(selectinload(User.memberships).selectinload(Membership.team))
    ).scalars().all()
    for u in rows:
        teams = ", ".join(f"{m.team.name} ({m.role.value})" for m in u.memberships) or "-"
        roles = ",".join(u.global_roles) or "-"
        state = "active" if u.active else "deactivated"
        click.echo(f"{u.email:32} {u.name:24} {roles:14} {state:11} {teams}")
    click.echo(f"{len(rows)} users.")


@users_cli.command("deactivate")
@click.argument("email")
def users_deactivate(email):
    """Deactivate an account (users are never deleted)."""
    from tracker.auth import service
    from tracker.auth.models import User

    user = db.session.execute(sa.select(User).where(User.email == email.lower())).scalar()
    if user is None:
        raise click.ClickException(f"No user {email}.")
    service.set_active(None, user, False)
    db.session.commit()
    click.echo(f"Deactivated {user.email}.")


@users_cli.command("token")
@click.argument("email")
@click.option("--name", default="cli", show_default=True, help="What the token is for.")
def users_token(email, name):
    """Create an API token for EMAIL and print it (shown once; revoke it on the account page)."""
    from tracker.auth import service
    from tracker.auth.models import User

    user = db.session.execute(sa.select(User).where(User.email == email.strip().lower())).scalar()
    if user is None or not user.active:
        raise click.ClickException(f"No active user {email}. `flask --app app users list` "
                                   "shows the accounts.")
    try:
        _, token = service.create_token(user, name)
    except RuleViolation as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from None
    db.session.commit()
    click.echo(token)


@evidence_cli.command("prune")
@click.option("--older-than", "hours", type=click.FloatRange(min=0), default=1.0,
              show_default=True, help="Leave files stored less than this many hours ago.")
@click.option("--dry-run", is_flag=True, help="List what would be removed; remove nothing.")
def evidence_prune(hours, dry_run):
    """Remove stored files that no evidence refers to (refused or failed uploads)."""
    from tracker.audits.models import Evidence, EvidenceKind
    from tracker.audits.storage import format_size, sweep_unreferenced

    referenced = set(db.session.execute(
        sa.select(Evidence.sha256).where(Evidence.kind == EvidenceKind.FILE)).scalars())
    swept = sweep_unreferenced(referenced, older_than_seconds=hours * 3600, dry_run=dry_run)
    for path in swept.removed:
        click.echo(f"{'would remove' if dry_run else 'removed'} {path}")
    verb = "Would remove" if dry_run else "Removed"
    click.echo(f"{verb} {len(swept.removed)} file(s), {format_size(swept.size)}, that no "
               f"evidence refers to; {swept.kept} stored file(s) are evidence and stay.")


def init_cli(app: Flask) -> None:
    from tracker.activity.cli import activity_cli
    from tracker.backup.cli import backup_cli
    from tracker.exchange.cli import library_cli, oscal_cli
    from tracker.notifications.cli import notify_cli
    from tracker.reports.cli import keys_cli, report_cli
    from tracker.scale.cli import seed_scale
    from tracker.search.cli import search_cli

    seed_cli.add_command(seed_scale)
    for group in (seed_cli, users_cli, activity_cli, evidence_cli, worker, keys_cli, report_cli,
                  library_cli, oscal_cli, backup_cli, search_cli, notify_cli):
        app.cli.add_command(group)


@click.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
def worker(burst):
    """Run an RQ worker for background jobs (report rendering); needs REDIS_URL."""
    from tracker import jobs

    if not jobs.redis_url():
        raise click.ClickException("Set REDIS_URL (e.g. redis://127.0.0.1:6379/0): without it "
                                   "jobs run inline and no worker is needed.")
    import os

    from rq import Worker

    q = jobs.queue()
    # Each work-horse is a fork: it must open its own connections, never share ours.
    engine = db.engine
    os.register_at_fork(after_in_child=lambda: engine.dispose(close=False))
    jobs.schedule_periodic()  # the sweep, on RQ's scheduler (one per deployment)
    click.echo(f"Worker listening on queue {q.name!r} at {jobs.redis_url()}")
    Worker([q], connection=q.connection,
           work_horse_killed_handler=jobs.rq_work_horse_killed).work(burst=burst,
                                                                     with_scheduler=True)
