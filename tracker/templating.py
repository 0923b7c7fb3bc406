"""Template globals and filters: the permission vocabulary and display helpers."""

from datetime import date, datetime
from functools import partial
from types import SimpleNamespace

from flask import Flask, current_app, request
from flask_login import current_user
from markupsafe import Markup

from tracker import clock
from tracker.audits import validity
from tracker.audits.models import STATUS_LABELS
from tracker.audits.vocabulary import SCORE_FORMULA
from tracker.auth import permissions
from tracker.markdown import render_markdown


def can(action: str, *args) -> bool:
    """`{% if can("sign_off", audit) %}` in templates asks auth/permissions.py."""
    return bool(permissions.PERMISSIONS[f"can_{action}"](current_user, *args))


def format_date(value: date | datetime | None, with_time: bool = False) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return value.strftime("%d %b %Y %H:%M UTC" if with_time else "%d %b %Y")
    return value.strftime("%d %b %Y")


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


BADGE_LABELS = {
    "status": {status.value: label for status, label in STATUS_LABELS.items()},
    "state": {"draft": "Draft", "in_progress": "In progress", "in_review": "In review",
              "signed_off": "Signed off"},
    "crit": {"critical": "Critical", "high": "High", "normal": "Normal"},
    "verdict": {"accepted": "Accepted", "needs_rework": "Needs rework"},
}


def badge(kind: str, value) -> Markup:
    """`<span class="badge status-met">Met</span>` for an enum or its value; nothing for
    None or ""."""
    v = str(getattr(value, "value", value) if value is not None else "").strip()
    if not v:
        return Markup("")
    label = BADGE_LABELS[kind].get(v) or v.replace("_", " ").capitalize()
    title = Markup(' title="Not applicable"') if (kind, v) == ("status", "not_applicable") else ""
    return Markup('<span class="badge {}-{}"{}>{}</span>').format(kind, v, title, label)


# ui.status_badge(x), ui.crit_badge(x)… (templates/_macros/ui.html)
BADGES = SimpleNamespace(**{kind: partial(badge, kind) for kind in BADGE_LABELS})


# (endpoint, label, blueprint that marks it active, who sees it)
NAV = [
    ("home.index", "Home", "home", lambda u: True),
    ("dashboard.overview", "Dashboard", "dashboard", lambda u: True),
    ("audits.index", "Audits", "audits", lambda u: True),
    ("audits.my_items", "My items", "my_items", lambda u: bool(u.memberships)),
    ("actions.mine", "My actions", "actions", lambda u: bool(u.memberships)),
    ("audits.review_queue", "Review", "review", lambda u: u.is_auditor),
    ("signals.index", "Signals", "signals", lambda u: True),
    ("library.index", "Library", "library", lambda u: True),
    ("reports.verify", "Verify a report", "verify", lambda u: True),
    ("auth.users", "Admin", "admin", lambda u: u.is_admin),
]


def nav_sections():
    """The sections this user can use; features not installed yet are left out.

    The third value is what base.html compares with request.blueprint to mark the current
    section. A page that is itself a section (My items, Review: endpoints of the audits
    blueprint) marks only its own entry, not Audits too."""
    own_entry = any(endpoint == request.endpoint for endpoint, *_ in NAV)
    sections = []
    for endpoint, label, blueprint, show in NAV:
        if endpoint not in current_app.view_functions:
            continue
        active = endpoint == request.endpoint if own_entry else blueprint == request.blueprint
        sections.append((endpoint, label, request.blueprint if active else f"({blueprint})",
                         show(current_user)))
    return sections


ADMIN_TABS = [("library.manage", "Library"), ("notifications.outbox", "E-mail outbox"),
              ("notifications.webhooks", "Webhooks")]


def admin_extra_tabs():
    return [(e, label) for e, label in ADMIN_TABS if e in current_app.view_functions]


def evidence_age(effective, cadence, as_of=None) -> str:
    """ "3 months old · valid until 2026-06-01" as of `as_of` (default: the organisation's
    today)."""
    return validity.age_line(effective, cadence, as_of or clock.today())


def init_templating(app: Flask) -> None:
    app.jinja_env.globals.update(can=can, today=clock.today, nav_sections=nav_sections,
                                  admin_extra_tabs=admin_extra_tabs, badges=BADGES,
                                  score_formula=SCORE_FORMULA, evidence_age=evidence_age,
                                  cadence_text=validity.cadence_text)
    app.jinja_env.filters.update(markdown=render_markdown, date=format_date, percent=percent)
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
