"""POST /audits/{id}/accept with a domain code: the API's "accept a domain" (issue 19)."""

import sqlalchemy as sa

from tests.audits.conftest import new_audit
from tracker.audits.models import AuditItem, Verdict
from tracker.extensions import db
from tracker.library.models import Domain


def test_accept_one_domain_through_the_api(api_as, library, people):
    audit = new_audit(people, ("DV", "PAY"), "in_review")
    db.session.commit()
    auditor = api_as("auditor")
    dv = db.session.execute(sa.select(sa.func.count()).select_from(AuditItem).join(AuditItem.domain)
                            .where(AuditItem.audit_id == audit.id, Domain.code == "DV")).scalar()
    accepted = auditor.post(f"/audits/{audit.id}/accept", json={"domain": "DV"})
    assert accepted.status_code == 200 and accepted.get_json() == {"changed": dv}
    verdicts = db.session.execute(sa.select(Domain.code, AuditItem.verdict).join(AuditItem.domain)
                                  .where(AuditItem.audit_id == audit.id)).all()
    assert all((v == Verdict.ACCEPTED) == (code == "DV") for code, v in verdicts)
    unknown = auditor.post(f"/audits/{audit.id}/accept", json={"domain": "NOPE"})
    assert unknown.status_code == 422
