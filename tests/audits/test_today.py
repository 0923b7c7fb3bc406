"""What day it is: the organisation's time zone (TIMEZONE), not the machine's clock zone,
decides due dates' "overdue" and the current quarter."""

import re
from datetime import UTC, date, datetime

import pytest

from tracker import clock, create_app
from tracker.audits import service
from tracker.extensions import db

# 02:00 on 1 March in UTC is still the evening of 28 February in New York, and already
# the afternoon of 1 March in Auckland; 04:00 UTC on 1 January is New Year's Eve in New York.
MARCH_FIRST_2AM_UTC = datetime(2027, 3, 1, 2, 0, tzinfo=UTC)
NEW_YEAR_4AM_UTC = datetime(2027, 1, 1, 4, 0, tzinfo=UTC)


@pytest.fixture
def at(monkeypatch):
    def set_clock(instant: datetime):
        monkeypatch.setattr(clock, "now", lambda: instant)
    return set_clock


@pytest.mark.parametrize("zone, expected", [("UTC", date(2027, 3, 1)),
                                            ("America/New_York", date(2027, 2, 28)),
                                            ("Pacific/Auckland", date(2027, 3, 1))])
def test_today_is_the_date_in_the_organisations_time_zone(app, at, zone, expected):
    at(MARCH_FIRST_2AM_UTC)
    app.config["TIMEZONE"] = zone
    assert clock.today() == expected


def test_an_unknown_time_zone_stops_the_app_with_what_to_set(database_url, tmp_path):
    from tests.conftest import base_config

    with pytest.raises(ValueError, match=r"TIMEZONE='Mars/Olympus_Mons' .* IANA name"):
        create_app({**base_config(tmp_path, database_url), "TIMEZONE": "Mars/Olympus_Mons"})


def test_the_app_defaults_to_utc(app):
    assert app.config["TIMEZONE"] == "UTC"


def test_an_item_due_yesterday_in_utc_is_not_overdue_where_it_is_still_that_day(
        app, client, login_as, people, make_audit, at):
    audit = make_audit(codes=("DV",), state="in_progress")
    item = audit.items[0]
    service.update_item(people["lead"], item, expected_version=None,
                        owner=people["operator"], due_date=date(2027, 2, 28))
    db.session.commit()
    at(MARCH_FIRST_2AM_UTC)
    login_as("operator")

    def overdue_codes():
        page = client.get("/my-items?overdue=1").get_data(as_text=True)
        return re.findall(r'<span class="code">([A-Z]+-\d+)</span>', page)

    assert overdue_codes() == [item.code]  # UTC: it is 1 March
    app.config["TIMEZONE"] = "America/New_York"  # still 28 February there: due today
    assert overdue_codes() == []


def test_a_new_audit_defaults_to_the_quarter_it_is_where_the_organisation_is(
        app, client, login_as, library, at):
    at(NEW_YEAR_4AM_UTC)
    login_as("lead")
    assert 'value="2027-Q1"' in client.get("/audits/new").get_data(as_text=True)
    app.config["TIMEZONE"] = "America/New_York"  # 31 December, 23:00
    assert 'value="2026-Q4"' in client.get("/audits/new").get_data(as_text=True)
    assert service.period_for(clock.today()) == "2026-Q4"
