"""API reads take a fixed number of queries, whatever the amount of data."""

import sqlalchemy as sa

from tracker.audits import service as audits
from tracker.audits.models import AuditItem
from tracker.extensions import db


def test_audit_reads_do_not_grow_with_the_data(api_as, dv_audit, people, count_queries):
    lead = api_as("lead")

    def measure(path):
        with count_queries() as counter:
            assert lead.get(path).status_code == 200
        return counter.count

    items = db.session.execute(sa.select(AuditItem).where(AuditItem.audit_id == dv_audit.id)
                               ).scalars().all()

    def work(n, item):
        audits.add_evidence(people["operator"], item, note=f"note {n}")
        audits.add_evidence(people["operator"], item, url=f"https://example.com/{n}")
        audits.update_item(people["lead"], item, expected_version=None, owner=people["operator"])

    work(0, items[0])  # one item with evidence and an owner, so every relation is loaded
    db.session.commit()
    lead.get("/me")  # the token's last-used time is written on the first call only
    small = (measure(f"/audits/{dv_audit.id}"), measure("/audits"), measure("/domains"))
    for n, item in enumerate(items[1:], 1):
        work(n, item)
    audits.start_next_quarter(people["lead"], dv_audit)
    db.session.commit()
    lead.get("/me")  # a minute may have passed on a slow machine: the touch happens here
    large = (measure(f"/audits/{dv_audit.id}"), measure("/audits"), measure("/domains"))
    assert large == small
