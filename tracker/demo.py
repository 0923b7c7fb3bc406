"""Demo data: four teams, a dozen people and four quarters of audits that tell a story —
readiness improving quarter by quarter, with the gaps an operations lead would expect."""

import io
import random
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa

from tracker import clock
from tracker.actions import service as actions
from tracker.actions.models import CorrectiveAction
from tracker.audits import service as audits
from tracker.audits.models import Audit, AuditItem, AuditState, ItemStatus
from tracker.auth import service as accounts
from tracker.auth.models import Team, User
from tracker.extensions import db
from tracker.library.models import Domain, FailurePattern
from tracker.reports import service as reports
from tracker.signals import service as signals
from tracker.signals.models import Signal

DEMO_PASSWORD = "demo-password"  # demo accounts only  # nosec B105

PEOPLE = [
    # email, name, admin, auditor
    ("admin@example.com", "Alex Admin", True, False),
    ("lead@example.com", "Lee Lead", False, False),
    ("operator@example.com", "Olivia Operator", False, False),
    ("auditor@example.com", "Avery Auditor", False, True),
    ("priya@example.com", "Priya Raman", False, False),
    ("marcus@example.com", "Marcus Hill", False, False),
    ("sofia@example.com", "Sofia Brandt", False, False),
    ("tom@example.com", "Tom Okafor", False, False),
    ("hana@example.com", "Hana Sato", False, False),
    ("diego@example.com", "Diego Alvarez", False, False),
    ("grace@example.com", "Grace Liu", False, False),
    ("ines@example.com", "Inès Moreau", False, True),
]

TEAMS = [
    # name, description, lead, operators, domains (None = all)
    ("Fulfillment Operations", "Warehouse, carriers and the 3PL hand-off.",
     "lead@example.com", ["operator@example.com", "priya@example.com"], None),
    ("Customer Support", "Tickets, chat and the escalation path to operations.",
     "marcus@example.com", ["sofia@example.com", "operator@example.com"],
     ["DV", "SUP", "PAY", "PEAK"]),
    ("Commerce Platform", "Storefront, apps, integrations and payments.",
     "tom@example.com", ["hana@example.com", "diego@example.com"], ["PLT", "PAY", "CAT", "DV"]),
    ("Merchandising", "Catalog, pricing and inventory accuracy.",
     "grace@example.com", ["priya@example.com"], ["CAT", "INV", "DV"]),
]

NOTES = [
    "Reviewed with the team on the weekly ops call; runbook link in the wiki.",
    "Checked a sample of 20 orders from last month: all passed.",
    "Owner confirmed; last drill ran on schedule and the write-up is attached.",
    "Dashboard screenshot taken at month end; thresholds unchanged.",
    "Ticket tags exported from the help desk for the last 30 days.",
]
URLS = ["https://wiki.example.com/ops/runbooks", "https://status.example.com/history",
        "https://helpdesk.example.com/reports/tags-weekly"]


def last_quarters(today: date, n: int) -> list[str]:
    periods = [audits.period_for(today)]
    while len(periods) < n:
        periods.insert(0, audits.previous_period(periods[0]))
    return periods


def seed_demo_data(progress=print, today: date | None = None) -> str:
    """Idempotent: accounts and teams are looked up by email and name, and a team's audit
    for a period is only created when missing."""
    today = today or clock.today()
    rng = random.Random(20261126)  # repeatable demo data  # nosec B311
    users = _ensure_people()
    domains = {d.code: d for d in db.session.execute(
        sa.select(Domain).where(Domain.active).order_by(Domain.position)).scalars()}
    if not domains:
        raise audits.RuleViolation("Load the library first: flask --app app seed library")
    periods = last_quarters(today, 4)
    created = actions_made = 0
    for t_index, (name, description, lead_email, operator_emails, scope) in enumerate(TEAMS):
        team = _ensure_team(name, description, users[lead_email],
                            [users[e] for e in operator_emails])
        lead = users[lead_email]
        members = [lead] + [users[e] for e in operator_emails]
        chosen = [domains[c] for c in (scope or domains) if c in domains]
        previous = None
        for q_index, period in enumerate(periods):
            existing = db.session.execute(
                sa.select(Audit).where(Audit.team_id == team.id, Audit.period == period)
            ).scalar_one_or_none()
            if existing:
                previous = existing
                continue
            progress(f"  {name} {period} …")
            audit = (audits.start_next_quarter(lead, previous) if previous else
                     audits.start_audit(lead, team, period, chosen))
            audit.due_date = audits.quarter_end(period)
            current = q_index == len(periods) - 1
            if current and t_index == 3:
                previous = audit  # Merchandising has only just started: still a draft
                created += 1
                continue
            _work_audit(audit, members, rng, maturity=0.45 + 0.12 * q_index + 0.04 * t_index,
                        finish=not current, today=today)
            if not current:
                audits.submit_for_review(lead, audit)
                if q_index == len(periods) - 2:  # last quarter's gaps get corrective actions
                    actions_made += _actions_for(audit, lead, today)
                _review_and_sign_off(users["auditor@example.com"], audit)
            elif t_index == 2:  # one team is waiting for the auditor right now
                audits.mark_rest_not_met(lead, audit, "Not done by the submission date: "
                                         "carried into next quarter's plan.")
                audits.submit_for_review(lead, audit)
            previous = audit
            created += 1
            db.session.flush()
    logged = _ensure_signals(users, today)
    made = actions_made + _ensure_actions(users, periods, today)
    return (f"Demo data ready: {len(users)} people, {len(TEAMS)} teams, {created} new audits, "
            f"{logged} new signals, {made} new corrective actions.")


def _review_and_sign_off(auditor: User, audit: Audit) -> None:
    audits.accept_items(auditor, audit)
    exceptions = reports.exceptions_of(audit)
    reports.sign_off(auditor, audit, f"Reviewed the {audit.period} evidence with the team; the "
                     "items not met are tracked into next quarter.",
                     "ready_with_exceptions" if exceptions else "ready")


def _ensure_people() -> dict[str, User]:
    users = {}
    for email, name, admin, auditor in PEOPLE:
        user = db.session.execute(sa.select(User).where(User.email == email)).scalar()
        if user is None:
            user = accounts.create_user(None, email, name, DEMO_PASSWORD, is_admin=admin,
                                        is_auditor=auditor, check_password=False)
        users[email] = user
    return users


def _ensure_team(name, description, lead, operators) -> Team:
    team = db.session.execute(sa.select(Team).where(Team.name == name)).scalar()
    if team is None:
        team = accounts.create_team(None, name, description)
        accounts.set_membership(None, team, lead, "lead")
        for op in operators:
            accounts.set_membership(None, team, op, "operator")
    return team


def _work_audit(audit: Audit, members: list[User], rng: random.Random, *, maturity: float,
                finish: bool, today: date) -> None:
    """Give every item an owner and a realistic status, with evidence where it is met."""
    items = db.session.execute(
        sa.select(AuditItem).where(AuditItem.audit_id == audit.id).order_by(AuditItem.code)
    ).scalars().all()
    for item in items:
        actor = item.owner or rng.choice(members)
        owner = item.owner or actor
        due = audit.due_date - timedelta(days=rng.randint(0, 45))
        roll = rng.random()
        if roll < maturity:
            status = ItemStatus.MET
        elif roll < maturity + 0.06:
            status = ItemStatus.NOT_APPLICABLE
        elif finish:
            status = rng.choice([ItemStatus.NOT_MET, ItemStatus.NOT_MET, ItemStatus.MET])
        else:
            status = rng.choice([ItemStatus.NOT_STARTED, ItemStatus.IN_PROGRESS,
                                 ItemStatus.IN_PROGRESS, ItemStatus.BLOCKED, ItemStatus.NOT_MET])
        if status == ItemStatus.MET:
            # Done during the audit's quarter (so far, for the current one): valid for it. The
            # day comes from the item, not from rng, so the demo's statuses stay as they were.
            done = min(today, audits.quarter_start(audit.period)
                       + timedelta(days=item.id * 7 % 81))
            _attach_evidence(item, actor, rng, done)
        justification = ("Not in scope for this team this quarter: handled by the 3PL under "
                         "contract." if status == ItemStatus.NOT_APPLICABLE else audits.UNSET)
        audits.update_item(actor, item, expected_version=None, owner=owner, due_date=due,
                           status=status, justification=justification)
        if rng.random() < 0.15:
            audits.add_comment(actor, item, rng.choice([
                "Waiting on the carrier account manager to confirm the new cut-off.",
                "Drill scheduled for next Tuesday; will attach the notes.",
                "Blocked until the help desk admin adds the new ticket tag.",
                "Done for the main store; the wholesale storefront still needs it.",
            ]))


def _attach_evidence(item: AuditItem, actor: User, rng: random.Random, done: date) -> None:
    kind = rng.random()
    if kind < 0.2:
        text = (f"{item.code} evidence export\nChecked by {actor.name}\n"
                f"Sample size: {rng.randint(10, 50)} records, exceptions: 0\n")
        audits.add_evidence(actor, item, upload=io.BytesIO(text.encode()),
                            filename=f"{item.code.lower()}-check.txt", effective_date=done)
    elif kind < 0.45:
        audits.add_evidence(actor, item, url=rng.choice(URLS), effective_date=done)
    else:
        audits.add_evidence(actor, item, note=rng.choice(NOTES), effective_date=done)


# What support and operators noticed this quarter, tied to the failure patterns they point
# to. (summary, source, severity, failure codes, reporter, days ago, hour seen,
#  minutes to acknowledge or None, acknowledger, note, minutes to resolve or None, note)
SIGNALS = [
    ("14 tickets today: label purchase fails for PO-box addresses", "support_ticket", "high",
     ["DV-F1"], "sofia@example.com", 1, 9, 35, "lead@example.com",
     "Pack station is holding the PO-box orders; checking which carrier service rejects them.",
     None, None),
    ("Carrier API rejected 9 international labels: recipient phone number missing",
     "monitoring_alert", "medium", ["DV-F1"], "priya@example.com", 4, 7, 95, "lead@example.com",
     "Relabelling by hand before the 16:00 cutoff.", 26 * 60,
     "Checkout now asks for a phone number on international orders; all 9 orders shipped."),
    ("Discount code WELCOME10 fails at checkout: 22 chats in an hour, no alert fired",
     "support_ticket", "critical", ["DV-F3"], "sofia@example.com", 6, 13, 18,
     "tom@example.com", "Promo app change from this morning suspected; rolling it back.", 75,
     "Rolled back the promo app update; added the 'ops-now' ticket tag that pages platform."),
    ("Orders dashboard still showed yesterday's numbers at 11:00", "operator_observation",
     "medium", ["DV-F4"], "hana@example.com", 2, 11, 70, "tom@example.com",
     "Warehouse feed token expired overnight; renewing it and adding a freshness check.",
     None, None),
    ("6 marketplace orders cancelled this week for items shown in stock",
     "customer_complaint", "high", ["DV-F2"], "operator@example.com", 1, 16, None, None, None,
     None, None),
    ("Where-is-my-order tickets doubled after the regional carrier delay", "support_ticket",
     "high", ["SUP-F3"], "marcus@example.com", 1, 15, None, None, None, None, None),
]


def _ensure_signals(users: dict[str, User], today: date) -> int:
    failures = {f.code: f for f in db.session.execute(sa.select(FailurePattern)).scalars()}
    existing = set(db.session.execute(sa.select(Signal.summary)).scalars())
    if SIGNALS[0][0] not in existing:
        _po_box_gap(users["lead@example.com"])
    logged = 0
    for (summary, source, severity, codes, reporter, days_ago, hour, ack_after, acker,
         ack_note, resolve_after, resolve_note) in SIGNALS:
        if summary in existing or not all(c in failures for c in codes):
            continue
        seen = datetime.combine(today - timedelta(days=days_ago), time(hour, 5))
        logged_at = seen + timedelta(minutes=12)
        signal = signals.report_signal(
            users[reporter], summary=summary, source=source, severity=severity,
            observed_at=seen, failures=[failures[c] for c in codes], now=logged_at)
        if ack_after is not None:
            signals.acknowledge(users[acker], signal, ack_note,
                                now=logged_at + timedelta(minutes=ack_after))
        if resolve_after is not None:
            signals.resolve(users[acker], signal, resolve_note,
                            now=logged_at + timedelta(minutes=resolve_after))
        logged += 1
    return logged


def _po_box_gap(lead: User) -> None:
    """The story behind the first signal: Fulfillment's current audit found the PO-box
    checkout rule (DV-02) not met — the control the support tickets point at."""
    item = db.session.execute(
        sa.select(AuditItem).join(Audit).join(Team, Team.id == Audit.team_id)
        .where(Team.name == TEAMS[0][0], AuditItem.code == "DV-02")
        .order_by(Audit.period.desc()).limit(1)
    ).scalar_one_or_none()
    if item is None or not item.audit.is_editable or item.status == ItemStatus.NOT_MET:
        return
    audits.update_item(lead, item, expected_version=None, status=ItemStatus.NOT_MET)
    audits.add_comment(lead, item, "The PO-box rule only covers the main storefront; the "
                                   "wholesale checkout still accepts PO boxes for courier "
                                   "services.")


# Corrective actions for last quarter's items not met, in words a lead would write. Which
# items, owners, dates and outcomes follow from the items themselves (their codes and ids),
# never from the demo's rng: drawing from it here would shift every value generated after.
ACTION_TITLES = [
    "Write the runbook and walk the team through it: {title}",
    "Automate the check and alert on failures: {title}",
    "Fix the gap found in the audit and re-test: {title}",
]
ACTIONS_PER_TEAM = 3


def _actions_for(audit: Audit, lead: User, today: date) -> int:
    """Actions on the audit's first items (by code) not met, where they have none yet: the
    first already overdue, the others due in the coming weeks. Made before the sign-off, so
    the signed report lists them."""
    items = db.session.execute(
        sa.select(AuditItem).where(AuditItem.audit_id == audit.id,
                                   AuditItem.status == ItemStatus.NOT_MET)
        .order_by(AuditItem.code).limit(ACTIONS_PER_TEAM)).scalars().all()
    taken = set(db.session.execute(sa.select(CorrectiveAction.audit_item_id).where(
        CorrectiveAction.audit_item_id.in_([i.id for i in items]))).scalars())
    for n, item in enumerate(items):
        if item.id in taken:
            continue
        due = (today - timedelta(days=3 + item.id % 10) if n == 0
               else today + timedelta(days=5 + item.id % 30))
        made_on = min(audits.quarter_end(audit.period), due - timedelta(days=14))
        actions.create_action(
            lead, title=ACTION_TITLES[item.id % len(ACTION_TITLES)].format(
                title=item.title)[:200], audit_item=item, owner=item.owner, due_on=due,
            priority=("high", "medium", "low")[n], now=datetime.combine(made_on, time(10)))
    return len(items) - len(taken)


def _ensure_actions(users: dict[str, User], periods: list[str], today: date) -> int:
    """Actions on last quarter's signed-off audits made before this demo had actions, one of
    Fulfillment's done since, and the fix the first signal called for."""
    made = 0
    last_quarter = {a.team.name: a for a in db.session.execute(
        sa.select(Audit).where(Audit.period == periods[-2],
                               Audit.state == AuditState.SIGNED_OFF)).scalars()}
    for name, _, lead_email, _, _ in TEAMS:
        if name in last_quarter:
            made += _actions_for(last_quarter[name], users[lead_email], today)
    fulfillment = last_quarter.get(TEAMS[0][0])
    if fulfillment is not None:
        own = db.session.execute(
            sa.select(CorrectiveAction).join(AuditItem)
            .where(AuditItem.audit_id == fulfillment.id)
            .order_by(AuditItem.code.desc())).scalars().all()
        if own and all(a.is_open for a in own):
            done = own[0]
            actions.close_action(
                done.owner or users[TEAMS[0][2]], done, outcome="done",
                note=f"Fixed and re-tested; the proof is on {done.audit_item.code} of the "
                     f"{periods[-1]} audit.",
                now=datetime.combine(min(today - timedelta(days=1),
                                         clock.local_date(done.created_at)
                                         + timedelta(days=9)), time(15)))
    return made + _po_box_action(users)


def _po_box_action(users: dict[str, User]) -> int:
    """The fix the first signal called for, on Fulfillment's current DV-02."""
    item = db.session.execute(
        sa.select(AuditItem).join(Audit).join(Team, Team.id == Audit.team_id)
        .where(Team.name == TEAMS[0][0], AuditItem.code == "DV-02")
        .order_by(Audit.period.desc()).limit(1)).scalar_one_or_none()
    if item is None or item.status != ItemStatus.NOT_MET or db.session.execute(
            sa.select(CorrectiveAction.id).where(CorrectiveAction.audit_item_id == item.id)
    ).first():
        return 0
    signal_id = db.session.execute(
        sa.select(Signal.id).where(Signal.summary == SIGNALS[0][0])).scalar()
    actions.create_action(
        users[TEAMS[0][2]], title="Block PO boxes for courier services on the wholesale "
        "checkout", audit_item=item, owner=users["operator@example.com"],
        due_on=clock.today() + timedelta(days=10), priority="high", signal_id=signal_id)
    return 1
