"""An API item save: on PostgreSQL one statement that the database hashes and chains
(audits.service._save_in_one_statement); on both databases the same events, verified by
the same Python code."""

import json
from dataclasses import replace
from datetime import datetime

import flask
import pytest
import sqlalchemy as sa
from flask.sessions import NullSession

from tests.api.conftest import ApiClient
from tracker.api import queries
from tracker.audits import activity
from tracker.audits import service as audits
from tracker.audits.models import (
    ActivityChainHead,
    ActivityEvent,
    Audit,
    AuditItem,
    AuditState,
    Comment,
)
from tracker.audits.service import RuleViolation, WorkItem
from tracker.auth import service as accounts
from tracker.auth.models import ApiToken, Membership, TeamRole
from tracker.canonical import sha256_hex
from tracker.extensions import db

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


def test_a_save_in_an_audit_in_progress_is_one_statement_on_postgresql(
        api_as, dv_audit, database, count_queries):
    lead = api_as("lead")
    first, second = _items(dv_audit)[:2]
    assert _patch(lead, dv_audit, first, status="in_progress").status_code == 200  # opens it
    db.session.expire_all()
    url, version = f"/audits/{dv_audit.id}/items/{second.id}", second.version
    with count_queries() as counter:
        answer = lead.patch(url, json={"version": version, "status": "blocked"})
    assert answer.status_code == 200 and answer.json["status"] == "blocked"
    if database["kind"] == "postgresql":
        # the caller with the item (api.queries.caller_and_work_item), then the save: item,
        # tally, head and event in one statement
        assert len(counter.statements) == 2
        assert "api_tokens.token_hash" in counter.statements[0]
        assert "INSERT INTO activity_events" in counter.statements[-1]
    else:
        assert len(counter.statements) > 2  # SQLite writes step by step, in its write lock
    events = _events(dv_audit)
    assert [e.action for e in events[-3:]] == ["audit.state", "item.update", "item.update"]
    assert activity.verify_chain(activity.audit_chain(dv_audit.id)) is None


def test_hashes_the_database_makes_verify_in_python(api_as, dv_audit):
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
    """With a note, the save and the comment commit together: the save is not one statement
    that commits on its own."""
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
    # Submitted after the save read the audit as in progress: its statement writes nothing,
    # and the step-by-step save that follows says why.
    db.session.execute(sa.update(Audit).where(Audit.id == dv_audit.id)
                       .values(state=AuditState.IN_REVIEW))
    db.session.commit()
    read = WorkItem.of(item)
    read = replace(read, audit=replace(read.audit, state=AuditState.IN_PROGRESS))
    with pytest.raises(RuleViolation, match="in review"):
        audits.change_item(people["lead"], read, expected_version=item.version,
                           status="blocked", alone=True)
    db.session.rollback()
    db.session.expire_all()
    assert item.status.value == "not_started" and len(_events(dv_audit)) == events


@pytest.mark.parametrize("seq", [1, 9, 10, 123_456])
def test_hash_parts_put_any_seq_where_python_hashes_it(seq):
    values = {"chain": "audit:7", "audit_id": 7, "audit_item_id": 70, "actor_id": 3,
              "action": "item.update", "subject": TRICKY[:120],
              "before": '{"seq":1}', "after": json.dumps({"justification": TRICKY}),
              "created_at": datetime(2026, 11, 27, 12, 0, 0, 123456), "prev_hash": "ab" * 32}
    before, after = activity.hash_parts({**values, "seq": 0})
    assert sha256_hex(values["prev_hash"] + before + str(seq) + after) == activity.hash_of(
        {**values, "seq": seq})


def test_the_api_keeps_no_session(app, client, login_as, dv_audit):
    login_as("lead")  # a browser's session cookie…
    assert client.get(f"/api/v1/audits/{dv_audit.id}").status_code == 401  # …grants nothing
    with app.test_request_context("/api/v1/me"):
        assert isinstance(flask.session._get_current_object(), NullSession)  # not even read
    with app.test_request_context("/login"):
        assert not isinstance(flask.session._get_current_object(), NullSession)


def test_the_patch_reads_its_caller_and_item_together_each_row_once(
        api_as, dv_audit, people, token_for):
    """The caller's memberships and the item's evidence come on the rows of one statement
    (api.queries.caller_and_work_item): a membership per row times a piece of evidence per
    row. Each comes back once."""
    lead, alpha, beta = people["lead"], people["alpha"], people["beta"]
    db.session.add(Membership(user_id=lead.id, team_id=beta.id, role=TeamRole.OPERATOR))
    item = _items(dv_audit)[0]
    for note in ("first note", "second note"):
        audits.add_evidence(lead, item, note=note)
    db.session.commit()
    token = token_for("lead")
    caller, (work, _row, evidence) = queries.caller_and_work_item(token, dv_audit.id, item.id)
    assert caller.id == lead.id
    assert sorted(g.team_id for g in caller.memberships) == sorted([alpha.id, beta.id])
    assert (work.id, work.audit.team_id, work.version) == (item.id, alpha.id, item.version)
    assert [e.note for e in evidence] == ["first note", "second note"]
    answer = _patch(api_as("lead"), dv_audit, item, status="in_progress")
    assert answer.status_code == 200
    assert [e["note"] for e in answer.json["evidence"]] == ["first note", "second note"]
    db.session.rollback()


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
