"""The auditor's review list (issue 19): filters by verdict and status, previous/next in the
list's order, accepting the not-reviewed items of one domain, a flat query count."""

import re

import sqlalchemy as sa

from tracker.audits import queries, service
from tracker.audits.models import AuditItem, AuditState, ItemStatus, Verdict
from tracker.extensions import db
from tracker.library.models import Domain


def items_of(audit, domain=None) -> list[AuditItem]:
    query = sa.select(AuditItem).where(AuditItem.audit_id == audit.id).order_by(AuditItem.code)
    if domain:
        query = query.join(AuditItem.domain).where(Domain.code == domain)
    return db.session.execute(query).scalars().all()


def codes_on(html: str) -> list[str]:
    return re.findall(r'<span class="code">([^<]+)</span>', html.split('id="items"')[1])


def test_the_list_filters_by_verdict_and_status(client, login_as, make_audit, people):
    audit = make_audit(codes=("DV", "PAY"), state="in_review")
    first, second, *rest = items_of(audit, "DV")
    service.review_item(people["auditor"], first, "accepted", None)
    service.review_item(people["auditor"], second, "needs_rework", "Attach the rota.")
    db.session.commit()
    login_as("auditor")
    everything = client.get(f"/audits/{audit.id}/review").get_data(as_text=True)
    assert len(codes_on(everything)) == len(items_of(audit))
    assert codes_on(client.get(f"/audits/{audit.id}/review?verdict=accepted")
                    .get_data(as_text=True)) == [first.code]
    rework = client.get(f"/audits/{audit.id}/review?verdict=needs_rework").get_data(as_text=True)
    assert codes_on(rework) == [second.code]
    assert f"/items/{second.id}?verdict=needs_rework" in rework  # links keep the filter
    not_reviewed = codes_on(client.get(f"/audits/{audit.id}/review?verdict=not_reviewed")
                            .get_data(as_text=True))
    assert first.code not in not_reviewed and second.code not in not_reviewed
    assert len(not_reviewed) == len(items_of(audit)) - 2
    status = ItemStatus(first.status).value
    by_status = codes_on(client.get(f"/audits/{audit.id}/review?status={status}")
                         .get_data(as_text=True))
    assert by_status == [i.code for i in queries.review_list(
        audit, queries.ReviewFilter(status=status))]
    assert all(i.status == first.status for i in queries.review_list(
        audit, queries.ReviewFilter(status=status)))


def test_previous_and_next_walk_the_filtered_list(client, login_as, make_audit, people):
    audit = make_audit(codes=("DV", "PAY"), state="in_review")
    service.review_item(people["auditor"], items_of(audit, "DV")[0], "accepted", None)
    db.session.commit()
    order = [i.id for i in queries.review_list(audit, queries.ReviewFilter("not_reviewed"))]
    login_as("auditor")
    page = client.get(f"/audits/{audit.id}/items/{order[1]}?verdict=not_reviewed")
    html = page.get_data(as_text=True)
    assert f'rel="prev" href="/audits/{audit.id}/items/{order[0]}?verdict=not_reviewed"' in html
    assert f'rel="next" href="/audits/{audit.id}/items/{order[2]}?verdict=not_reviewed"' in html
    assert "You are reviewing this audit" in html
    assert "until the auditor sends it back" not in html
    last = client.get(f"/audits/{audit.id}/items/{order[-1]}?verdict=not_reviewed")
    assert 'rel="next"' not in last.get_data(as_text=True)
    login_as("operator")
    operator = client.get(f"/audits/{audit.id}/items/{order[1]}").get_data(as_text=True)
    assert "until the auditor sends it back" in operator and 'rel="next"' not in operator


def test_accept_a_domain_takes_only_its_not_reviewed_items(client, login_as, make_audit, people):
    audit = make_audit(codes=("DV", "PAY"), state="in_review")
    dv = items_of(audit, "DV")
    service.review_item(people["auditor"], dv[0], "needs_rework", "Attach the rota.")
    db.session.commit()
    login_as("auditor")
    response = client.post(f"/audits/{audit.id}/accept?verdict=not_reviewed",
                           data={"domain_id": dv[0].domain_id})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("?verdict=not_reviewed")
    db.session.expire_all()
    verdicts = {i.code: i.verdict for i in items_of(audit)}
    assert verdicts[dv[0].code] == Verdict.NEEDS_REWORK
    assert all(verdicts[i.code] == Verdict.ACCEPTED for i in dv[1:])
    assert all(verdicts[i.code] is None for i in items_of(audit, "PAY"))


def test_the_query_count_stays_flat_as_items_grow(client, login_as, make_audit, people,
                                                  count_queries):
    login_as("auditor")
    counts = []
    for codes, period in ((("DV",), "2026-Q3"), (("DV", "PAY"), "2026-Q4")):
        audit = make_audit(codes=codes, state="in_progress", period=period)
        for item in items_of(audit):  # evidence on every item: the list names the newest
            service.add_evidence(people["lead"], item, note=f"Seen {item.code}.")
        audit.state = AuditState.IN_REVIEW  # evidence is added while the audit is worked
        db.session.commit()
        client.get(f"/audits/{audit.id}/review")  # warm caches
        with count_queries() as counter:
            assert client.get(f"/audits/{audit.id}/review").status_code == 200
        counts.append((len(items_of(audit)), counter.count))
    assert counts[1][0] > counts[0][0]
    assert counts[1][1] == counts[0][1]
