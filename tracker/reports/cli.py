"""`flask --app app keys init` and `flask --app app report verify|create`."""

import sys
from pathlib import Path

import click
from flask.cli import AppGroup

from tracker.extensions import db

keys_cli = AppGroup("keys", help="The organisation's report-signing key.")
report_cli = AppGroup("report", help="Signed audit reports.")


@keys_cli.command("init")
def keys_init():
    """Make a signing key and self-signed certificate in the instance folder (mode 0600) when
    none exists; with SIGNING_PKCS12_PATH set, check that file instead."""
    from tracker.reports.keys import SigningKeyError, ensure_signing_key, our_certificate

    try:
        result = ensure_signing_key()
        cert = our_certificate()
    except SigningKeyError as exc:
        raise click.ClickException(str(exc)) from None
    subject = cert.subject.human_friendly if cert is not None else "?"
    if result.source == "pkcs12":
        click.echo(f"Signing with the PKCS#12 in SIGNING_PKCS12_PATH ({subject}).")
    elif result.created:
        click.echo(f"Created a signing key {result.key_path} and certificate "
                   f"{result.cert_path} ({subject}). Back them up: reports are verified "
                   "against this certificate.")
    else:
        click.echo(f"A signing key already exists: {result.key_path} ({subject}); "
                   "nothing changed.")


@report_cli.command("verify")
@click.argument("pdf", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def report_verify(pdf):
    """Check a report's signature, certificate, embedded results and — where the audit is in
    this database — the stored audit and its activity log. Exit 0 only if all pass."""
    from tracker.reports.verify import verify_report

    verdict = verify_report(pdf.read_bytes())
    for check in verdict.checks:
        mark = check.outcome.upper()[:4]  # PASS, FAIL or SKIP
        click.echo(f"[{mark}] {check.label}: {check.detail}")
    who = (f"signed by {verdict.signer_name or '?'} ({verdict.certificate or '?'})"
           f"{', ' + verdict.signed_at.isoformat() if verdict.signed_at else ''}")
    if verdict.valid:
        click.echo(f"VALID: {pdf.name} is intact, {who}.")
        return
    first = verdict.failed[0]
    click.echo(f"INVALID: {pdf.name}: {first.label} failed — {first.detail}", err=True)
    sys.exit(1)


@report_cli.command("create")
@click.argument("audit_id", type=int)
def report_create(audit_id):
    """Make the signed report of a signed-off audit whose report is pending or failed."""
    from tracker.reports.models import ReportStatus
    from tracker.reports.queries import signoff_for
    from tracker.reports.service import create_signed_report

    signoff = signoff_for(audit_id)
    if signoff is None:
        raise click.ClickException(f"Audit {audit_id} is not signed off: sign it off first.")
    signoff = create_signed_report(signoff.id)
    db.session.commit()
    if signoff.report_status != ReportStatus.READY:
        raise click.ClickException(f"The report failed: {signoff.report_error}")
    click.echo(f"Report ready: SHA-256 {signoff.pdf_sha256}, {signoff.pdf_size} bytes.")


@report_cli.command("sweep")
def report_sweep():
    """Reports pending longer than REPORT_RENDER_LIMIT_SECONDS: queued again, or failed once
    their attempts are spent. Without REDIS_URL, every report that is due is made here."""
    from tracker.reports.jobs import sweep_reports

    counts = sweep_reports()
    db.session.commit()  # without Redis, the queued reports are made now, after this commit
    click.echo(f"{counts['requeued']} queued again, {counts['failed']} failed, "
               f"{counts['queued']} due and queued.")
