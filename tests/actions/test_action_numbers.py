"""The dashboards' action numbers equal a recount of the rows (issue 21): open, overdue and
the median days to close, on the team page and the overview."""

import re
import statistics
from datetime import timedelta

import sqlalchemy as sa

from tests.actions.conftest import item_of
from tracker import clock
from tracker.actions import queries, service
from tracker.actions.models import CorrectiveAction
from tracker.extensions import db


def _recount(team_id: int):
    rows = db.session.execute(sa.select(CorrectiveAction).where(
        CorrectiveAction.team_id == team_id)).scalars().all()
    today = clock.today()
    closed = [(a.closed_at - a.created_at).total_seconds() / 86400 for a in rows
              if a.closed_at is not None]
    return (sum(a.is_open for a in rows), sum(queries.is_overdue(a, today) for a in rows),
            statistics.median(closed) if closed else None)


def test_the_team_page_and_overview_count_what_the_rows_say(app, people, client, login_as,
                                                             actions_two_quarters):
    keys = actions_two_quarters
    first = item_of(keys["q4"], keys["code"])
    late = service.create_action(people["lead"], title="Late fix", audit_item=first,
                                 owner=people["operator"])
    db.session.flush()
    late.due_on = clock.today() - timedelta(days=3)  # as if its due day had passed
    db.session.commit()
    team = people["alpha"]
    open_count, overdue, median = _recount(team.id)
    assert (open_count, overdue) == (2, 1) and median is not None

    totals = queries.action_totals([team.id], clock.today())[team.id]
    assert (totals.open, totals.overdue) == (open_count, overdue)
    assert abs(totals.median_days_to_close - median) < 1e-6

    login_as("lead")
    page = client.get(f"/teams/{team.id}").get_data(as_text=True)
    assert f"{open_count} open · {overdue} overdue · median {median:.0f} days to close" in page
    assert page.index("Late fix") < page.index(f"{keys['code']} fix the gap")  # overdue first

    overview = client.get("/dashboard?period=2026-Q4").get_data(as_text=True)
    row = re.search(r'<th scope="row"><a [^>]*>Alpha</a></th>(.*?)</tr>', overview, re.S)
    assert row, "Alpha's row on the overview"
    assert re.search(rf'data-label="Open actions"><a [^>]*>{open_count}</a>', row.group(1))
    assert re.search(rf'data-label="Overdue actions"><a [^>]*>{overdue}</a>', row.group(1))
