"""`flask --app app notify reminders [--dry-run] [--day YYYY-MM-DD]` and `notify send`."""

from collections import Counter
from datetime import date

import click
from flask.cli import AppGroup

from tracker.extensions import db

notify_cli = AppGroup("notify", help="Reminders, digests and the outbox (e-mail and webhooks).")


@notify_cli.command("reminders")
@click.option("--dry-run", is_flag=True, help="Say what would be sent; change nothing.")
@click.option("--day", help="The day to remind for (default: today in TIMEZONE).")
def notify_reminders(dry_run, day):
    """Remind owners of items due in 7 days and tomorrow and of corrective actions due
    soon, owners and leads of overdue items and actions, and send the daily digests. For
    cron: running it twice a day sends nothing new."""
    from tracker.notifications.reminders import run_reminders

    try:
        when = date.fromisoformat(day) if day else None
    except ValueError:
        raise click.BadParameter(f"{day!r} is not a date; write it as YYYY-MM-DD.",
                                 param_hint="--day") from None
    counts = run_reminders(when)
    if dry_run:
        db.session.rollback()
    else:
        db.session.commit()
    verb = "would send" if dry_run else "sent"
    click.echo(f"Reminders {verb}: {counts['due_soon']} due soon, {counts['overdue']} overdue; "
               f"corrective actions: {counts['action_due_soon']} due soon, "
               f"{counts['action_overdue']} overdue; "
               f"digests {'to send' if dry_run else 'queued'}: {counts['digests']}.")


@notify_cli.command("send")
def notify_send():
    """Send the outbox's e-mails and webhooks that are due (a failed attempt waits, then is
    retried)."""
    from tracker.notifications.delivery import sweep_deliveries
    from tracker.notifications.outgoing import sweep_webhooks

    counts = Counter(sweep_deliveries()) + Counter(sweep_webhooks())
    db.session.commit()
    click.echo(f"Sent {counts.get('sent', 0)}, failed {counts.get('failed', 0)}, "
               f"waiting {counts.get('waiting', 0)}.")
