"""Read-only pages: the organisation overview and each team's readiness over time."""

from urllib.parse import urlencode

from flask import Blueprint, abort, g, render_template, request, url_for
from flask_login import current_user, login_required
from markupsafe import Markup

from tracker import charts, clock
from tracker.actions import queries as action_queries
from tracker.audits import readmodel
from tracker.audits.models import AuditState
from tracker.auth.models import Team
from tracker.auth.permissions import (
    can_open_team_audits,
    can_view_team_dashboard,
    dashboard_team_scope,
)
from tracker.cache import page_cache
from tracker.dashboard import queries
from tracker.extensions import db
from tracker.security.input import page_arg
from tracker.signals import queries as signal_queries

bp = Blueprint("dashboard", __name__)
TEAMS_PER_PAGE = 25
TEAM_PAGE_ACTIONS = 10  # the most urgent open actions the team page lists
TREND_SERIES = 8  # lines on the trend chart beyond which it stops being readable


def _bases() -> dict:
    if "dashboard_link_bases" not in g:
        g.dashboard_link_bases = {}
    return g.dashboard_link_bases


def audit_link(team_id: int, audit_id: int | None, period: str | None = None,
               **filters) -> str:
    """Where a number about a team's audit leads: the audit page filtered to the items
    behind it (/audits/<id>?status=…&domain=…&overdue=1&criticality=…), or — for a viewer
    who may not open that team's audits — the team page.
    A page can hold thousands of these, so url_for runs once per audit, not per number."""
    bases = _bases()
    key = ("audit", team_id, audit_id, period)
    if key not in bases:
        if audit_id and can_open_team_audits(current_user, team_id):
            bases[key] = (url_for("audits.detail", audit_id=audit_id), True)
        else:
            bases[key] = (url_for("dashboard.team", team_id=team_id, period=period), False)
    base, filterable = bases[key]
    return f"{base}?{urlencode(filters)}" if filterable and filters else base


def item_link(team_id: int, audit_id: int, audit_item_id: int) -> str | None:
    bases = _bases()
    key = ("item", team_id)
    if key not in bases:
        bases[key] = can_open_team_audits(current_user, team_id)
    if bases[key]:
        return url_for("audits.item", audit_id=audit_id, item_id=audit_item_id)
    return None


@bp.app_context_processor
def link_helpers():
    return {"audit_link": audit_link, "item_link": item_link}


@bp.app_template_filter("duration")
def duration(seconds: float | None) -> str:
    """42 min, 3 h 10 min, 2 d 4 h."""
    if seconds is None:
        return "—"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def as_tables() -> bool:
    """?view=table: every chart of the page shown as its table first."""
    return request.args.get("view") == "table"


@bp.get("/dashboard")
@login_required
@page_cache(depends_on=queries.OVERVIEW_PAGE_CHAINS)
def overview():
    scope = dashboard_team_scope(current_user)
    available = queries.periods(scope)
    period = queries.pick_period(request.args.get("period"), available)
    work = (queries.my_work(current_user.id, clock.today())
            if current_user.memberships else None)
    return render_template("dashboard/overview.html", period=period, periods=available,
                           work=work, scope=scope, body=_overview_body(period, available, scope))


def _overview_body(period: str | None, available: list[str], scope) -> Markup:
    """The overview below its header: the quarter's numbers and the signals."""
    context = {"period": period, "scope": scope, "formula": queries.SCORE_FORMULA,
               "not_scored": queries.NOT_SCORED_NOTE,
               "as_tables": as_tables()}
    if period is not None:
        context.update(_quarter_view(period, available, scope))
    context.update(_signal_panel())
    return Markup(render_template("dashboard/_overview_body.html", **context))  # nosec B704


def _quarter_view(period: str, available: list[str], scope) -> dict:
    """The heatmap, team table and trend for one page of teams; the totals over every team
    in scope. Long organisations page through their teams instead of one endless chart."""
    today = clock.today()
    page = db.paginate(queries.teams_select(scope), page=page_arg(), per_page=TEAMS_PER_PAGE,
                       error_out=False)
    teams = page.items
    on_page = [t.id for t in teams]
    domains = queries.active_domains()
    summaries = queries.audit_summaries(period, on_page, today=today)
    cells = queries.domain_cells(period, on_page)
    window = queries.history_window(period, available)
    history = {(team, per): queries.score(wm, wa)
               for team, per, wm, wa in queries.score_history(window, on_page)}
    organisation = queries.organisation_score(period, scope)[0]
    overdue, critical = queries.item_alert_totals(period, scope, today)
    state_counts = queries.audits_by_state(period, scope)
    tables = as_tables()

    rows = [[score_cell(cells, t.id, period, d) for d in domains] for t in teams]
    overall = [summaries.get(t.id) for t in teams]
    heatmap = charts.heatmap(
        [t.name for t in teams], [d.code for d in domains] + ["Overall"],
        [[v for v, _ in row] + [charts.DRAFT if s and s.is_draft else s.score if s else None]
         for row, s in zip(rows, overall, strict=True)],
        links=[[link for _, link in row] + [audit_link(t.id, s.audit_id, period) if s else None]
               for row, s, t in zip(rows, overall, teams, strict=True)],
        title=f"Readiness score by team and domain, {period}", as_table=tables)
    series = [charts.Series(t.name, [history.get((t.id, p)) for p in window]) for t in teams]
    trend = charts.line_chart(window, _weakest(series, TREND_SERIES),
                              title="Readiness score by quarter", as_table=tables,
                              table_series=series)
    return {
        "teams": teams, "page": page, "summaries": summaries, "heatmap": heatmap,
        "trend": trend, "trend_note": len(series) > TREND_SERIES,
        "state_counts": state_counts, "states": list(AuditState),
        "action_totals": action_queries.action_totals(on_page, today),
        "totals": {"overdue": overdue, "critical_not_met": critical,
                   "audits": sum(state_counts.values()), "score": organisation},
    }


def score_cell(cells: dict, team_id: int, period: str, domain) -> tuple:
    """A heatmap cell from queries.domain_cells: the score (or that the audit is a draft),
    and the link to its items."""
    audit_id, wm, wa, draft = cells.get((team_id, period, domain.id), (None, 0, 0, False))
    link = audit_link(team_id, audit_id, period, domain=domain.code) if audit_id else None
    return charts.DRAFT if draft else queries.score(wm, wa), link


def _weakest(series: list, limit: int) -> list:
    """Up to `limit` lines: the teams with the lowest latest score, where readiness slips."""
    if len(series) <= limit:
        return list(series)
    def latest(s):
        known = [v for v in s.values if v is not None]
        return known[-1] if known else 2.0
    weakest = {id(s) for s in sorted(series, key=latest)[:limit]}
    return [s for s in series if id(s) in weakest]  # in the table's order


def _signal_panel() -> dict:
    by_domain = signal_queries.unresolved_by_domain()
    median, acknowledged = signal_queries.median_seconds_to_acknowledge()
    bar = charts.bar_chart(
        [name or "No domain" for _, name, _, _ in by_domain],
        [int(o) + int(a) for _, _, o, a in by_domain],
        title="Unresolved signals by domain",
        links=[url_for("signals.index", domain=code) if code else url_for("signals.index")
               for code, _, _, _ in by_domain],
        value_label="Signals", as_table=as_tables()) if by_domain else None
    return {"signals_by_domain": by_domain, "signals_bar": bar, "median_ack": median,
            "acknowledged_count": acknowledged, "flagged": signal_queries.flagged_unresolved()}


@bp.get("/teams/<int:team_id>")
@login_required
@page_cache(depends_on=queries.TEAM_PAGE_CHAINS)
def team(team_id):
    team = db.session.get(Team, team_id) or abort(404)
    if not can_view_team_dashboard(current_user, team_id):
        abort(403)
    audits = queries.team_audits(team.id)
    available = [a.period for a in audits]
    period = queries.pick_period(request.args.get("period"), available)
    return render_template("dashboard/team.html", team=team, period=period, periods=available,
                           body=_team_body(team, audits, available, period))


def _team_body(team: Team, audits: list, available: list[str], period: str | None) -> Markup:
    """The team page below its header."""
    today = clock.today()
    context = {"team": team, "period": period, "formula": queries.SCORE_FORMULA,
               "not_scored": queries.NOT_SCORED_NOTE,
               "as_tables": as_tables(), "can_open": can_open_team_audits(current_user, team.id),
               "categories": queries.DIFF_CATEGORIES, "today": today,
               "open_actions": action_queries.team_open_actions(team.id, today,
                                                                TEAM_PAGE_ACTIONS),
               "action_totals": action_queries.action_totals([team.id], today).get(
                   team.id, action_queries.ActionTotals())}
    if period is not None:
        current = next(a for a in audits if a.period == period)
        older = [a for a in audits if a.period < period]
        context.update(_team_quarter(team, current, older[0] if older else None, available))
    return Markup(render_template("dashboard/_team_body.html", **context))  # nosec B704


def _team_quarter(team: Team, current, previous, available: list[str]) -> dict:
    """The team's audit of one quarter: progress, history, domains, the diff, signals."""
    period = current.period
    summary = readmodel.audit_summary(current)
    queries.add_item_alerts({current.id: summary}, clock.today())
    window = queries.history_window(period, available)
    history = {per: queries.score(wm, wa)
               for _, per, wm, wa in queries.score_history(window, team_id=team.id)}
    cells = queries.domain_cells(period, team_id=team.id, periods_in=window)
    domain_rows = [line.domain for line in summary.domains]
    tables = as_tables()

    grid = [[score_cell(cells, team.id, p, d) for p in window] for d in domain_rows]
    return {
        "current": current, "previous": previous, "summary": summary,
        "status_bar": charts.status_bar(
            summary.counts, title=f"{team.name} {period}: items by status",
            links={s: audit_link(team.id, current.id, period, status=s)
                   for s in queries.STATUS_COLUMNS}, as_table=tables),
        "progress": charts.progress_bar(summary.score, title=f"{team.name} {period} score"),
        "trend": charts.line_chart(window, [charts.Series(team.name,
                                                          [history.get(p) for p in window])],
                                   title=f"{team.name}: readiness score by quarter",
                                   as_table=tables),
        "domain_heatmap": charts.heatmap(
            [f"{d.code} · {d.name}" for d in domain_rows], window,
            [[v for v, _ in row] for row in grid], links=[[u for _, u in row] for row in grid],
            title=f"{team.name}: score by domain and quarter", as_table=tables)
        if domain_rows else None,
        "diff": queries.quarter_diff(current, previous),
        "team_signals": signal_queries.flagged_for_team(team.id),
    }
