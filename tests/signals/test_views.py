"""The signal pages: who may do what, forms that keep what was typed, filters."""

import sqlalchemy as sa

from tests.signals.conftest import domain, failure
from tracker.extensions import db
from tracker.signals import service
from tracker.signals.models import Signal, SignalState


def form(**overrides):
    data = {"summary": "14 tickets today: label purchase fails for PO-box addresses",
            "source": "support_ticket", "severity": "high", "observed_at": "2026-01-05T09:40",
            "failures": [str(failure("DV-F1").id)], "domain": "0", "details": "Tickets 4411-4425"}
    data.update(overrides)
    return data


def test_any_signed_in_user_logs_a_signal(client, login_as, library):
    login_as("operator")
    page = client.get("/signals/new?failure=DV-F1").get_data(as_text=True)
    assert "Log a signal" in page
    dv_f1 = failure("DV-F1").id  # prefilled from the library's "Log a signal" link
    checkbox = f'<input checked id="failures-0" name="failures" type="checkbox" value="{dv_f1}">'
    assert checkbox in page
    response = client.post("/signals/new", data=form())
    assert response.status_code == 302
    signal = db.session.execute(sa.select(Signal)).scalar_one()
    assert response.headers["Location"].endswith(f"/signals/{signal.id}")
    assert signal.reported_by.email == "operator@test.example"
    assert [f.code for f in signal.failures] == ["DV-F1"] and signal.domain.code == "DV"
    detail = client.get(f"/signals/{signal.id}").get_data(as_text=True)
    assert "Controls that guard against it" in detail and "DV-01" in detail
    assert "Team leads, auditors and admins acknowledge" in detail  # no triage form for them


def test_refused_report_keeps_what_was_typed(client, login_as, library):
    login_as("operator")
    response = client.post("/signals/new", data=form(failures=[], summary="Odd spike in refunds"))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Choose the failure pattern it looks like" in html
    assert 'value="Odd spike in refunds"' in html and "Tickets 4411-4425" in html
    assert db.session.execute(sa.select(sa.func.count(Signal.id))).scalar_one() == 0
    response = client.post("/signals/new", data=form(observed_at=""))
    assert response.status_code == 422 and "Enter when it was seen" in response.get_data(True)


def test_triage_is_for_leads_auditors_and_admins(client, login_as, report):
    signal = report()
    login_as("operator")
    assert client.post(f"/signals/{signal.id}/acknowledge",
                       data={"ack-note": "mine"}).status_code == 403
    login_as("lead")
    response = client.post(f"/signals/{signal.id}/acknowledge", data={"ack-note": ""})
    assert response.status_code == 422 and "Write a note first" in response.get_data(True)
    assert db.session.get(Signal, signal.id).state == SignalState.OPEN
    response = client.post(f"/signals/{signal.id}/acknowledge",
                           data={"ack-note": "Checking the carrier rules."})
    assert response.status_code == 302
    db.session.refresh(signal)
    assert signal.state == SignalState.ACKNOWLEDGED
    # Acknowledging twice is refused with the reason, and changes nothing.
    response = client.post(f"/signals/{signal.id}/acknowledge", data={"ack-note": "again"})
    assert response.status_code == 422 and "already acknowledged" in response.get_data(True)
    login_as("auditor")
    response = client.post(f"/signals/{signal.id}/resolve",
                           data={"resolve-note": "Fixed at checkout."})
    assert response.status_code == 302
    db.session.refresh(signal)
    assert signal.state == SignalState.RESOLVED
    assert "Fixed at checkout." in client.get(f"/signals/{signal.id}").get_data(True)
    assert client.get("/signals/999").status_code == 404


def test_no_state_change_on_get(client, login_as, report):
    signal = report()
    login_as("admin")
    assert client.get(f"/signals/{signal.id}/acknowledge").status_code == 405
    assert db.session.get(Signal, signal.id).state == SignalState.OPEN


def test_list_filters(client, login_as, report, people):
    a = report("Labels failing for PO boxes", failures=("DV-F1",), severity="critical")
    b = report("Where-is-my-order tickets doubled", failures=("SUP-F3",), severity="low")
    c = report("Dashboard stale since 9:00", failures=(), domain=domain("DV"))
    service.resolve(people["lead"], c, "Feed restarted.")
    db.session.commit()
    login_as("operator")

    def listed(query=""):
        html = client.get(f"/signals/{query}").get_data(as_text=True)
        return [s.summary for s in (a, b, c) if s.summary in html]
    assert listed() == [a.summary, b.summary]  # unresolved, most severe first
    assert listed("?state=resolved") == [c.summary]
    assert listed("?state=all&domain=DV") == [a.summary, c.summary]
    assert listed("?severity=low") == [b.summary]
    assert listed("?failure=SUP-F3&state=all") == [b.summary]
    html = client.get("/signals/").get_data(as_text=True)
    assert html.index(a.summary) < html.index(b.summary)


def test_signals_need_sign_in(client, library):
    response = client.get("/signals/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
