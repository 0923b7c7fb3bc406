"""Search over the real indexes of migration 0012_search (SQLite FTS5 or PostgreSQL
tsvector/GIN, whichever TEST_DATABASE_URL picks): found by code, by a word of an evidence
note or a comment, accent- and case-insensitively, kept current by every write, scoped to
what the person may see."""

import pytest

from tracker.audits import service as audits
from tracker.audits.models import Comment
from tracker.extensions import db
from tracker.search.queries import highlighted, search


@pytest.fixture(autouse=True)
def request_context(app):
    """Hits carry their links: url_for needs a request."""
    with app.test_request_context():
        yield


def _found(results, kind: str) -> list:
    return [r for g in results.groups if g.key == kind for r in g.results]


def test_an_item_is_found_by_its_code_first(site):
    code = site.item.code
    results = search(site.people["lead"], code.lower())
    items = _found(results, "item")
    assert items and items[0].title.startswith(code) and items[0].exact
    assert items[0].url.endswith(f"/audits/{site.audit.id}/items/{site.item.id}")
    library = _found(results, "library")
    assert library and library[0].title.startswith(code) and library[0].exact


def test_a_word_of_an_evidence_note_or_a_comment_finds_its_item(site):
    operator = site.people["operator"]
    audits.add_evidence(operator, site.item, note="Checked the Zanzibar failover résumé.")
    audits.add_comment(operator, site.item, "Waiting for the QUIXOTIC vendor.")
    db.session.commit()
    evidence = _found(search(operator, "zanzibar"), "evidence")
    assert [r.url.split("#")[0] for r in evidence] == [
        f"/audits/{site.audit.id}/items/{site.item.id}"]
    assert "<mark>Zanzibar</mark>" in evidence[0].snippet
    # accents and case fold both ways; stems match (checked, checks)
    assert _found(search(operator, "RESUME"), "evidence")
    assert _found(search(operator, "zanzibar checks"), "evidence")
    comments = _found(search(operator, "quixotic"), "comment")
    assert len(comments) == 1 and "QUIXOTIC" in comments[0].snippet
    # the word being typed matches as a prefix
    assert _found(search(operator, "quixo"), "comment")


def test_signals_and_failure_patterns_are_found(site):
    results = search(site.people["operator"], "PO boxes")
    assert [r.id for r in _found(results, "signal")] == [site.signal.id]


def test_the_index_follows_updates_and_deletes(site):
    operator = site.people["operator"]
    comment = audits.add_comment(operator, site.item, "Marmalade escalation path.")
    site.signal.summary = "Labels fail for parcel lockers"
    db.session.commit()
    assert _found(search(operator, "marmalade"), "comment")
    assert _found(search(operator, "lockers"), "signal")
    assert not _found(search(operator, "PO boxes"), "signal")
    db.session.delete(db.session.get(Comment, comment.id))
    db.session.commit()
    assert not _found(search(operator, "marmalade"), "comment")


def test_another_teams_items_evidence_and_comments_stay_hidden(site):
    secret = "Ultramarine vault code"
    audits.add_evidence(site.people["operator"], site.item, note=secret)
    audits.add_comment(site.people["operator"], site.item, secret)
    db.session.commit()
    outsider = site.people["outsider"]  # leads team Beta
    for query in ("ultramarine", site.item.code, site.item.title):
        results = search(outsider, query)
        shown = [r for g in results.groups for r in g.results]
        assert all(f"/audits/{site.audit.id}/" not in r.url for r in shown), query
        assert not _found(results, "evidence") and not _found(results, "comment")
    # Beta's own audit is found by the same code
    beta = _found(search(outsider, site.item.code), "item")
    assert beta and all(f"/audits/{site.beta_audit.id}/" in r.url for r in beta)
    for role in ("auditor", "admin", "lead"):
        assert _found(search(site.people[role], "ultramarine"), "evidence"), role


def test_snippets_are_escaped_before_they_are_marked(site):
    audits.add_comment(site.people["operator"], site.item,
                       '<script>alert("x")</script> <b>bold</b> periwinkle & co')
    db.session.commit()
    comment = _found(search(site.people["operator"], "periwinkle"), "comment")[0]
    # (PostgreSQL's ts_headline drops what looks like a tag; SQLite's snippet keeps it,
    # escaped.) Either way the only markup is the marks.
    markup = str(comment.snippet).replace("<mark>", "").replace("</mark>", "")
    assert "<" not in markup and ">" not in markup and "<mark>periwinkle</mark>" in comment.snippet
    assert str(highlighted("a \x02<i>\x03 \x02b")) == "a <mark>&lt;i&gt;</mark> b"


def test_nothing_typed_or_only_punctuation_searches_nothing(site, count_queries):
    with count_queries() as counter:
        assert search(site.people["lead"], "").count == 0
        assert search(site.people["lead"], " -- ' \" * ").count == 0
    assert counter.count == 0


def test_a_search_is_a_bounded_number_of_statements(site, count_queries):
    with count_queries() as counter:
        search(site.people["admin"], "runbook")
    assert counter.count <= 2 * 6 + 2


def test_reindex_rebuilds_and_search_still_finds(site, runner):
    result = runner.invoke(args=["search", "reindex"])
    assert result.exit_code == 0, result.output
    assert "audit_items" in result.output
    assert _found(search(site.people["lead"], site.item.code), "item")
