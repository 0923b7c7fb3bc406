"""GET /audits/{id} through the page cache: the same bytes as rendered, and never stale."""

import pytest

from tests.audits.conftest import first_item
from tracker.audits import service as audits
from tracker.extensions import db


def test_a_repeat_read_is_the_same_answer_and_a_write_shows_at_once(api_as, dv_audit, people):
    lead = api_as("lead")
    path = f"/audits/{dv_audit.id}"
    first, again = lead.get(path), lead.get(path)
    assert (again.status_code, again.content_type) == (200, first.content_type)
    assert first.content_type == "application/json"
    assert again.get_data() == first.get_data()

    item = first_item(dv_audit)
    audits.update_item(people["operator"], item, expected_version=None, status="blocked")
    db.session.commit()
    after = lead.get(path).get_json()
    assert next(i for i in after["items"] if i["id"] == item.id)["status"] == "blocked"


def test_a_read_the_caller_may_not_make_is_never_served(api_as, dv_audit):
    assert api_as("lead").get(f"/audits/{dv_audit.id}").status_code == 200
    assert api_as("outsider").get(f"/audits/{dv_audit.id}").status_code == 404


@pytest.mark.perf
def test_a_repeat_read_reads_the_caller_and_one_version(api_as, dv_audit, count_queries):
    lead, path = api_as("lead"), f"/audits/{dv_audit.id}"
    lead.get(path)  # the token's last-used time is written once
    with count_queries() as counter:
        assert lead.get(path).status_code == 200
    assert counter.count <= 2, counter.statements
