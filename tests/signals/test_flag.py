"""A signal whose guarding control is not met, or not yet assessed, in a team's latest audit
is flagged — on the signal, the dashboard and the item's page — and the flag clears when
the control becomes met."""

import pytest

from tests.dashboard.conftest import domains, force_statuses
from tests.signals.conftest import domain
from tracker.audits import service as audits
from tracker.extensions import db
from tracker.signals import queries, service

FLAG = "signal on an unmet control"
GUARDS_DV_F1 = ("DV-01", "DV-02", "DV-03")  # the DV controls linked to DV-F1 in the library


@pytest.fixture
def org(people, library):
    """Alpha and Beta each with two quarters of DV audits; everything met in the latest."""
    result = {}
    for team, lead in ((people["alpha"], people["lead"]), (people["beta"], people["outsider"])):
        q1 = audits.start_audit(lead, team, "2026-Q1", domains("DV"))
        force_statuses(q1, {code: "not_met" for code in GUARDS_DV_F1})
        q2 = audits.start_next_quarter(lead, q1)
        force_statuses(q2, {i.code: "met" for i in q2.items})
        result[team.name] = q2
    db.session.commit()
    return result


def item(audit, code):
    return next(i for i in audit.items if i.code == code)


def flagged(signal) -> bool:
    return signal.id in queries.flagged_ids([signal.id])


def test_flag_follows_the_latest_audits(org, report):
    signal = report()
    # Met everywhere in the latest audits (Q1's not-met is history): no flag.
    assert not flagged(signal)
    force_statuses(org["Beta"], {"DV-02": "not_met"})
    assert flagged(signal)
    force_statuses(org["Beta"], {"DV-02": "in_progress"})  # not yet assessed counts too
    assert flagged(signal)
    force_statuses(org["Beta"], {"DV-02": "not_applicable"})  # does not apply: no flag
    assert not flagged(signal)
    force_statuses(org["Alpha"], {"DV-05": "not_met"})  # a control of another failure
    assert not flagged(signal)


def test_a_new_quarter_not_yet_worked_raises_the_flag(org, report, people):
    signal = report()
    assert not flagged(signal)
    audits.start_next_quarter(people["lead"], org["Alpha"])  # 2026-Q3: all not started
    db.session.commit()
    assert flagged(signal)


def test_domain_only_signal_is_guarded_by_the_domains_controls(org, report):
    signal = report(failures=(), domain=domain("DV"))
    assert not flagged(signal)
    force_statuses(org["Alpha"], {"DV-11": "blocked"})
    assert flagged(signal)


def test_flag_shows_everywhere_and_clears_when_the_item_becomes_met(
        org, report, client, login_as, people):
    signal = report()
    force_statuses(org["Beta"], {"DV-02": "not_met"})
    db.session.commit()
    login_as("admin")
    pages = {
        "signal": f"/signals/{signal.id}",
        "list": "/signals/",
        "dashboard": "/dashboard",
        "item": "/library/items/DV-02",
    }
    for name, url in pages.items():
        html = client.get(url).get_data(as_text=True)
        assert FLAG in html, name
    assert "Beta</strong> 2026-Q2" in client.get(pages["signal"]).get_data(as_text=True)
    assert client.get("/signals/?flagged=1").get_data(as_text=True).count(signal.summary) == 1

    # Beta's lead fixes it through the audit service: evidence, then met.
    dv02 = item(org["Beta"], "DV-02")
    audits.add_evidence(people["outsider"], dv02, note="Checkout now rejects PO boxes.")
    audits.update_item(people["outsider"], dv02, expected_version=dv02.version, status="met")
    db.session.commit()

    assert not flagged(signal)
    for name, url in pages.items():
        assert FLAG not in client.get(url).get_data(as_text=True), name
    assert signal.summary not in client.get("/signals/?flagged=1").get_data(as_text=True)


def test_resolved_signals_leave_the_dashboard(org, report, client, login_as, people):
    signal = report()
    force_statuses(org["Alpha"], {"DV-01": "not_met"})
    db.session.commit()
    login_as("admin")
    assert signal.summary in client.get("/dashboard").get_data(as_text=True)
    service.resolve(people["lead"], signal, "Carrier rule fixed.")
    db.session.commit()
    assert signal.summary not in client.get("/dashboard").get_data(as_text=True)
