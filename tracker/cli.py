"""Command-line interface: thin click commands over the services."""

import sys
from pathlib import Path

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import AppGroup

from tracker.audits.service import RuleViolation
from tracker.extensions import db

seed_cli = AppGroup("seed", help="Load the readiness library and demo data.")
users_cli = AppGroup("users", help="Manage user accounts.")
activity_cli = AppGroup("activity", help="Check the activity log.")


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


@activity_cli.command("verify")
def activity_verify():
    """Walk every activity chain; name the first broken link."""
    from tracker.audits.activity import verify_all_chains

    count, problems = verify_all_chains()
    for problem in problems:
        click.echo(f"BROKEN {problem}", err=True)
    if problems:
        sys.exit(1)
    click.echo(f"All {count} activity chains verify.")


def init_cli(app: Flask) -> None:
    from tracker.backup.cli import backup_cli

    for group in (seed_cli, users_cli, activity_cli, backup_cli):
        app.cli.add_command(group)
