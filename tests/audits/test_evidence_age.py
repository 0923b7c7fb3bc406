"""Evidence that ages: each piece has an effective date (the upload day unless told, never
later), it stays valid for its item's cadence, and "met" needs evidence that counts for the
audit's quarter — through the service, the pages and the API alike."""

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from tests.api.conftest import ApiClient
from tests.audits.conftest import first_item
from tests.audits.test_rules import post_status
from tracker import clock
from tracker.audits import service, validity
from tracker.audits.models import AuditItem, Evidence, ItemStatus
from tracker.auth import service as accounts
from tracker.extensions import db
from tracker.library.models import Cadence, ReadinessItem
from tracker.rules import RuleViolation

EXPIRED = ("The newest evidence, the note “Drill done.” of 2026-03-02, expired on "
           "2026-06-02; add evidence from this quarter (2026-Q4) or change the status.")


def _evidence_rows() -> int:
    return db.session.execute(sa.select(sa.func.count(Evidence.id))).scalar_one()


def test_validity_runs_for_the_cadence_from_the_effective_date():
    drill = date(2026, 3, 2)
    assert validity.expires_on(drill, Cadence.QUARTERLY) == date(2026, 6, 2)
    assert validity.valid_until(drill, "quarterly") == date(2026, 6, 1)
    assert validity.expires_on(drill, Cadence.MONTHLY) == date(2026, 4, 2)
    assert validity.expires_on(drill, Cadence.YEARLY) == date(2027, 3, 2)
    assert validity.expires_on(drill, Cadence.NONE) is None
    assert validity.add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    # Counts for a quarter while valid on some day of it (or later).
    assert validity.counts_for(date(2026, 8, 15), Cadence.QUARTERLY, "2026-Q4")
    assert not validity.counts_for(drill, Cadence.QUARTERLY, "2026-Q4")
    assert validity.counts_for(drill, Cadence.YEARLY, "2026-Q4")
    assert validity.counts_for(date(2001, 1, 1), Cadence.NONE, "2026-Q4")
    assert validity.counts_for(date(2026, 7, 1), Cadence.MONTHLY, "2026-Q3")
    assert not validity.counts_for(date(2026, 6, 1), Cadence.MONTHLY, "2026-Q3")


def test_age_and_validity_read_as_the_pages_show_them():
    today = date(2026, 6, 10)
    assert validity.age_text(today, today) == "today"
    assert validity.age_text(date(2026, 6, 9), today) == "1 day old"
    assert validity.age_text(date(2026, 3, 2), today) == "3 months old"
    assert validity.age_text(date(2023, 6, 1), today) == "3 years old"
    assert validity.validity_text(date(2026, 3, 2), "quarterly", today) == \
        "expired on 2026-06-02"
    assert validity.validity_text(date(2026, 5, 2), "quarterly", today) == \
        "valid until 2026-08-01"
    assert validity.validity_text(date(2026, 5, 2), "none", today) == "never expires"


def test_evidence_defaults_to_the_upload_day_in_the_organisations_zone(app, audit, people,
                                                                       monkeypatch):
    # 23:30 UTC on 1 October is already 2 October in Sydney.
    app.config["TIMEZONE"] = "Australia/Sydney"
    monkeypatch.setattr(clock, "now", lambda: datetime(2026, 10, 1, 23, 30, tzinfo=UTC))
    evidence = service.add_evidence(people["operator"], first_item(audit), note="Checked.")
    assert evidence.effective_date == date(2026, 10, 2)


def test_an_effective_date_in_the_future_is_refused(app, audit, people):
    before = _evidence_rows()
    tomorrow = clock.today() + timedelta(days=1)
    with pytest.raises(RuleViolation, match="is in the future") as refused:
        service.add_evidence(people["operator"], first_item(audit), note="Checked.",
                             effective_date=tomorrow)
    assert refused.value.field == "effective_date"
    db.session.rollback()
    assert _evidence_rows() == before


def test_met_with_only_expired_evidence_is_refused_naming_it(app, audit, people):
    item = first_item(audit, evidence_required=True)
    service.add_evidence(people["operator"], item, note="Drill done.",
                         effective_date=date(2026, 3, 2))
    service.add_evidence(people["operator"], item, note="Older drill.",
                         effective_date=date(2026, 1, 5))
    with pytest.raises(RuleViolation) as refused:
        service.update_item(people["lead"], item, expected_version=None, status="met")
    assert refused.value.message == EXPIRED
    db.session.rollback()
    assert db.session.get(AuditItem, item.id).status != ItemStatus.MET


def test_met_with_evidence_still_valid_or_from_this_quarter(app, audit, people):
    item = first_item(audit, evidence_required=True)
    # From last quarter and still valid in this one (2026-08-15 + 3 months > 1 October).
    service.add_evidence(people["operator"], item, note="Drill done.",
                         effective_date=date(2026, 8, 15))
    assert service.update_item(people["lead"], item, expected_version=None, status="met")


def test_the_items_cadence_decides_how_long_evidence_counts(app, audit, people):
    item = first_item(audit, evidence_required=True)
    service.add_evidence(people["operator"], item, note="Drill done.",
                         effective_date=date(2026, 3, 2))
    item.cadence = Cadence.YEARLY
    db.session.flush()
    assert service.update_item(people["lead"], item, expected_version=None, status="met")


def test_an_audit_snapshots_the_library_items_cadence(app, make_audit):
    dv01 = db.session.execute(sa.select(ReadinessItem).where(ReadinessItem.code == "DV-01")
                              ).scalar_one()
    dv01.cadence = Cadence.MONTHLY
    db.session.commit()
    audit = make_audit(period="2027-Q1")
    assert first_item(audit, code="DV-01").cadence == Cadence.MONTHLY
    assert first_item(audit, code="DV-02").cadence == Cadence.QUARTERLY


def test_pages_set_and_show_the_effective_date(app, client, audit, people, login_as):
    login_as("operator")
    item = first_item(audit, evidence_required=True)
    url = f"/audits/{audit.id}/items/{item.id}"
    future = (clock.today() + timedelta(days=3)).isoformat()
    before = _evidence_rows()
    refused = client.post(f"{url}/evidence", data={"kind": "note", "note": "Drill done.",
                                                   "effective_date": future})
    assert refused.status_code == 422
    assert "is in the future" in refused.get_data(as_text=True)
    assert _evidence_rows() == before

    client.post(f"{url}/evidence", data={"kind": "note", "note": "Drill done.",
                                         "effective_date": "2026-03-02"})
    page = client.get(url).get_data(as_text=True)
    assert "Effective 2026-03-02" in page and "expired on 2026-06-02" in page
    db.session.expire_all()
    item = db.session.get(AuditItem, item.id)
    answer = post_status(client, item, status="met")
    assert answer.status_code == 422
    assert "expired on 2026-06-02; add evidence from this quarter" in \
        answer.get_data(as_text=True)


def test_the_api_sets_and_returns_the_effective_date(app, client, audit, people):
    def token_for(role):
        _, token = accounts.create_token(people[role], "test")
        db.session.commit()
        return token

    api = ApiClient(client, token_for("operator"))
    item = first_item(audit, evidence_required=True)
    path = f"/audits/{audit.id}/items/{item.id}"
    future = (clock.today() + timedelta(days=1)).isoformat()
    refused = api.post(f"{path}/evidence", json={"note": "Drill done.",
                                                 "effective_date": future})
    assert refused.status_code == 422
    assert "is in the future" in refused.json["error"]["message"]

    added = api.post(f"{path}/evidence", json={"note": "Drill done.",
                                               "effective_date": "2026-03-02"})
    assert added.status_code == 201
    assert added.json["effective_date"] == "2026-03-02"
    assert added.json["valid_until"] == "2026-06-01"
    other = first_item(audit, code="DV-02")
    link = api.post(f"/audits/{audit.id}/items/{other.id}/evidence",
                    json={"url": "https://wiki.example/drill"})
    assert link.json["effective_date"] == clock.today().isoformat()

    db.session.expire_all()
    lead = ApiClient(client, token_for("lead"))
    item = db.session.get(AuditItem, item.id)
    answer = lead.patch(path, json={"version": item.version, "status": "met"})
    assert answer.status_code == 422
    assert answer.json["error"]["message"] == EXPIRED
