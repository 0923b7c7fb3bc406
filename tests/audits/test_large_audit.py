"""A 5,000-item audit (`flask seed scale --items 5000`): its page stays small — a page of rows
in domain order, the groups collapsed, the pager and the domain filter to reach the rest."""

import re

import sqlalchemy as sa

from tracker.audits.models import Audit, AuditItem
from tracker.auth.models import User
from tracker.extensions import db
from tracker.scale.service import SCALE_PASSWORD


def rows(html: str) -> list[str]:
    return re.findall(r'<a class="code" href="/audits/\d+/items/(\d+)"', html)


def test_a_5000_item_audit_page_shows_one_page_of_rows(runner, library, client):
    result = runner.invoke(args=["seed", "scale", "--teams", "1", "--quarters", "1",
                                 "--items", "5000"])
    assert result.exit_code == 0, result.output
    audit = db.session.execute(sa.select(Audit)).scalar_one()
    total = db.session.execute(sa.select(sa.func.count(AuditItem.id))
                               .where(AuditItem.audit_id == audit.id)).scalar()
    assert total == 5000
    lead = db.session.execute(sa.select(User).where(User.email.like("scale%.0@example.com"))
                              ).scalar_one()
    assert client.post("/login", data={"email": lead.email, "password": SCALE_PASSWORD}
                       ).status_code == 302

    first = client.get(f"/audits/{audit.id}")
    html = first.get_data(as_text=True)
    assert first.status_code == 200
    assert len(rows(html)) == 200
    assert len(first.data) < 400_000  # the whole audit was 3.3 MB
    assert "Items 1–200 of 5000" in html and "Page 1 of 25" in html
    assert "<details class=\"group\"" in html and " open>" not in html  # collapsed

    last = client.get(f"/audits/{audit.id}?page=25").get_data(as_text=True)
    assert len(rows(last)) == 200 and "Items 4801–5000 of 5000" in last
    assert not set(rows(last)) & set(rows(html))
    past = client.get(f"/audits/{audit.id}?page=26").get_data(as_text=True)
    assert rows(past) == [] and "this page is past the last" in past

    code = db.session.execute(sa.select(AuditItem.code).where(AuditItem.audit_id == audit.id)
                              .order_by(AuditItem.code.desc()).limit(1)).scalar()
    domain = code.split("-")[0]
    one_domain = client.get(f"/audits/{audit.id}?domain={domain}").get_data(as_text=True)
    assert 0 < len(rows(one_domain)) <= 200
