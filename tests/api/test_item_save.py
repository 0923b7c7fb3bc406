"""An API item save: the same rules, events and refusals as the web form's, through the
same service (audits.service.update_item)."""

import json

import flask
import pytest
import sqlalchemy as sa
from flask.sessions import NullSession

from tests.api.conftest import ApiClient
from tracker import activity
from tracker.activity import ActivityChainHead, ActivityEvent
from tracker.audits import service as audits
from tracker.audits.models import (
    Audit,
    AuditItem,
    AuditState,
    Comment,
)
from tracker.auth import service as accounts
from tracker.auth.models import ApiToken, Membership, TeamRole
from tracker.extensions import db
from tracker.rules import Conflict, RuleViolation

# Everything a JSON string escapes, text beyond the Basic Multilingual Plane, and a title
# longer than the event's subject column (cut to 120 characters).
TRICKY = 'Prüfung "quoted" \\ back\tslash — 決済 😀 ' * 4


def _items(audit):
    return db.session.execute(sa.select(AuditItem).where(AuditItem.audit_id == audit.id)
                              .order_by(AuditItem.id)).scalars().all()


def _events(audit) -> list[ActivityEvent]:
    return db.session.execute(
        sa.select(ActivityEvent).where(ActivityEvent.chain == activity.audit_chain(audit.id))
        .order_by(ActivityEvent.seq)).scalars().all()


def _patch(api, audit, item, **body):
    return api.patch(f"/audits/{audit.id}/items/{item.id}",
                     json={"version": item.version, **body})


@pytest.mark.perf
def test_a_patch_reads_a_bounded_number_of_statements(api_as, dv_audit, people,
                                                     count_queries):
    """However much evidence the item has and however many teams the caller is in."""
    lead = api_as("lead")
    first, second = _items(dv_audit)[:2]
    assert _patch(lead, dv_audit, first, status="in_progress").status_code == 200  # opens it

    def statements(item) -> int:
        db.session.expire_all()
        with count_queries() as counter:
            answer = _patch(lead, dv_audit, item, status="blocked")
        assert answer.status_code == 200 and answer.json["status"] == "blocked"
        return counter.count

    few = statements(second)
    for n in range(5):
        audits.add_evidence(people["lead"], first, note=f"note {n}")
    db.session.add(Membership(user_id=people["lead"].id, team_id=people["beta"].id,
                              role=TeamRole.OPERATOR))
    db.session.commit()
    assert statements(first) <= few <= 16
    assert activity.verify_chain(activity.audit_chain(dv_audit.id)) is None


def test_events_of_api_saves_verify(api_as, dv_audit):
    lead = api_as("lead")
    first, item = _items(dv_audit)[:2]
    assert _patch(lead, dv_audit, first, status="in_progress").status_code == 200
    item.title = TRICKY  # the event's subject
    db.session.commit()
    answer = _patch(lead, dv_audit, item, status="not_applicable", justification=TRICKY)
    assert answer.status_code == 200
    db.session.expire_all()
    head = db.session.get(ActivityChainHead, activity.audit_chain(dv_audit.id))
    before, last = _events(dv_audit)[-2:]
    assert last.action == "item.update" and last.subject == f"{item.code} {TRICKY}"[:120]
    assert (last.seq, last.prev_hash) == (before.seq + 1, before.hash)
    assert last.hash == activity.event_hash(last) == head.hash and head.seq == last.seq
    assert json.loads(last.after)["justification"] == TRICKY.strip()
    assert activity.verify_chain(activity.audit_chain(dv_audit.id)) is None


def test_a_refused_note_leaves_the_status_as_it_was(api_as, dv_audit, monkeypatch):
    """With a note, the save and the comment commit together, or neither."""
    lead = api_as("lead")
    first, item = _items(dv_audit)[:2]
    assert _patch(lead, dv_audit, first, status="in_progress").status_code == 200
    db.session.expire_all()
    events, version = len(_events(dv_audit)), item.version

    def refuse(*_args):
        raise RuleViolation("Comments are closed.", "body")
    monkeypatch.setattr(audits, "add_comment", refuse)
    answer = _patch(lead, dv_audit, item, status="blocked", note="Waiting for the vendor.")
    assert answer.status_code == 422 and answer.json["error"]["field"] == "body"
    db.session.expire_all()
    assert (item.status.value, item.version) == ("not_started", version)
    assert len(_events(dv_audit)) == events
    assert db.session.execute(sa.select(sa.func.count(Comment.id))).scalar() == 0


def test_a_save_with_a_note_keeps_both(api_as, dv_audit):
    lead = api_as("lead")
    first, item = _items(dv_audit)[:2]
    assert _patch(lead, dv_audit, first, status="in_progress").status_code == 200
    db.session.expire_all()
    answer = _patch(lead, dv_audit, item, status="blocked", note="Waiting for the vendor.")
    assert answer.status_code == 200
    assert [e.action for e in _events(dv_audit)[-2:]] == ["item.update", "comment.add"]
    assert activity.verify_chain(activity.audit_chain(dv_audit.id)) is None


def test_a_save_into_an_audit_submitted_meanwhile_is_refused_and_writes_nothing(
        api_as, dv_audit, people):
    lead = api_as("lead")
    first, item = _items(dv_audit)[:2]
    assert _patch(lead, dv_audit, first, status="in_progress").status_code == 200
    db.session.expire_all()
    events = len(_events(dv_audit))
    audit = item.audit  # read in progress; submitted by someone else before the save locks it
    assert audit.state == AuditState.IN_PROGRESS
    with db.engine.connect() as other:
        other.execute(sa.update(Audit).where(Audit.id == dv_audit.id)
                      .values(state=AuditState.IN_REVIEW))
        other.commit()
    with pytest.raises(Conflict, match="in review"):
        audits.update_item(people["lead"], item, expected_version=item.version,
                           status="blocked")
    db.session.rollback()
    db.session.expire_all()
    assert item.status.value == "not_started" and len(_events(dv_audit)) == events
    answer = _patch(lead, dv_audit, item, status="blocked")
    assert answer.status_code == 409 and "in review" in answer.json["error"]["message"]


def test_the_api_keeps_no_session(app, client, login_as, dv_audit):
    login_as("lead")  # a browser's session cookie…
    assert client.get(f"/api/v1/audits/{dv_audit.id}").status_code == 401  # …grants nothing
    with app.test_request_context("/api/v1/me"):
        assert isinstance(flask.session._get_current_object(), NullSession)  # not even read
    with app.test_request_context("/login"):
        assert not isinstance(flask.session._get_current_object(), NullSession)


def test_the_answer_lists_each_piece_of_evidence_once(api_as, dv_audit, people):
    """A caller in two teams, an item with two pieces of evidence: each comes back once."""
    lead, beta = people["lead"], people["beta"]
    db.session.add(Membership(user_id=lead.id, team_id=beta.id, role=TeamRole.OPERATOR))
    item = _items(dv_audit)[0]
    for note in ("first note", "second note"):
        audits.add_evidence(lead, item, note=note)
    db.session.commit()
    answer = _patch(api_as("lead"), dv_audit, item, status="in_progress")
    assert answer.status_code == 200
    assert [e["note"] for e in answer.json["evidence"]] == ["first note", "second note"]


def test_the_patch_asks_for_a_token_first_then_for_the_item(
        client, api_as, dv_audit, people, token_for):
    item = _items(dv_audit)[0]
    url = f"/audits/{dv_audit.id}/items/{item.id}"
    # A token nobody has: 401, before the body is read (it is not even valid here).
    stranger = ApiClient(client, "rt_not-a-token")
    assert stranger.patch(url, json={"status": "nonsense"}).status_code == 401
    # The caller is known, the item is not: 404 naming the audit's items.
    lead = api_as("lead")
    missing = lead.patch(f"/audits/{dv_audit.id}/items/999999", json={"version": 1})
    assert missing.status_code == 404 and "has no item 999999" in missing.json["error"]["message"]
    # Someone outside the team cannot tell the item exists.
    hidden = api_as("outsider").patch(url, json={"version": item.version, "status": "blocked"})
    assert hidden.status_code == 404
    # A token revoked since: 401, and nothing saved.
    token = token_for("lead", "revoked soon")
    accounts.revoke_token(people["lead"], db.session.execute(
        sa.select(ApiToken).where(ApiToken.name == "revoked soon")).scalar_one())
    db.session.commit()
    gone = ApiClient(client, token).patch(url, json={"version": item.version,
                                                      "status": "blocked"})
    assert gone.status_code == 401
    db.session.expire_all()
    assert item.status.value == "not_started"
