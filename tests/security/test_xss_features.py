"""The XSS battery over the features' text: audit item justifications, evidence notes, links
and file names, comments, verdict notes, the return reason, the sign-off statement, and
signal summaries, details and triage notes — every payload of tests/security/xss.py, in
every place the text shows: the pages, the signed PDF (as literal text, nothing fetched),
the CSV export (no formula runs in a spreadsheet) and the API (JSON with nosniff)."""

import csv
import io
import itertools
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from tests import factories
from tests.reports.conftest import page_texts, poppler, run
from tests.routes import api_headers, sign_in
from tests.security.xss import PAYLOADS, assert_no_injection
from tracker.audits import service as audits
from tracker.audits.models import AuditItem, ItemStatus, Verdict
from tracker.db import utcnow
from tracker.extensions import db
from tracker.library.models import Domain
from tracker.reports import service as reports
from tracker.rules import RuleViolation
from tracker.signals import service as signals

FORMULAS = ['=HYPERLINK("https://evil.example","x")', "+1+1", "-2+3", "@SUM(1)",
            "\t=1+1", "\r=1+1"]
TEXTS = [text for pair in itertools.zip_longest(PAYLOADS, FORMULAS) for text in pair if text]


@pytest.fixture
def hostile_audit(site):
    """Alpha's 2026-Q3 audit with a payload in every text field, returned once, reviewed
    and signed off; and a signal with payloads, acknowledged and resolved."""
    p = site.people
    lead, operator, auditor = p["lead"], p["operator"], p["auditor"]
    domains = db.session.execute(sa.select(Domain).where(Domain.code.in_(["DV", "SUP"]))
                                 .order_by(Domain.code)).scalars().all()
    audit = audits.start_audit(lead, p["alpha"], "2026-Q3", domains)
    items = db.session.execute(sa.select(AuditItem).where(AuditItem.audit_id == audit.id)
                               .order_by(AuditItem.code)).scalars().all()
    links = 0
    for item, text in zip(items, itertools.cycle(TEXTS)):
        audits.add_evidence(operator, item, note=text)
        audits.add_evidence(operator, item, upload=io.BytesIO(b"plain text evidence\n"),
                            filename=f"{text}.txt")
        try:
            audits.add_evidence(operator, item, url=f"https://wiki.example/{quote(text)}")
            links += 1
        except RuleViolation:
            pass
        audits.update_item(operator, item, expected_version=None,
                           status=ItemStatus.NOT_APPLICABLE, justification=text)
        audits.add_comment(operator, item, text)
    assert links and len(items) >= len(TEXTS), len(items)
    factories.submit(lead, audit)
    audits.return_audit(auditor, audit, " ".join(PAYLOADS))
    factories.submit(lead, audit)
    for item, text in zip(items, itertools.cycle(TEXTS)):
        audits.review_item(auditor, item, Verdict.NEEDS_REWORK, text)
    signoff = factories.sign_off(auditor, audit, "\n".join(TEXTS))
    db.session.commit()
    assert signoff.report_status.value == "ready", signoff.report_error
    signal_ids = []
    for text in PAYLOADS:
        signal = signals.report_signal(operator, summary=text, details=text,
                                       source="support_ticket", severity="high",
                                       observed_at=utcnow(), domain=domains[0])
        signals.acknowledge(lead, signal, text)
        signals.resolve(lead, signal, text)
        signal_ids.append(signal.id)
    db.session.commit()
    return audit, items, signoff, signal_ids


def test_feature_pages_escape_every_payload(client, site, hostile_audit):
    audit, items, _, signal_ids = hostile_audit
    urls = [f"/audits/{audit.id}", "/audits/", "/my-items", "/review", "/dashboard",
            f"/teams/{site.people['alpha'].id}", "/signals/", "/signals/?state=resolved",
            "/", f"/audits/{audit.id}/review", f"/audits/{audit.id}/sign-off",
            "/reports/verify"]
    urls += [f"/audits/{audit.id}/items/{item.id}" for item in items]
    urls += [f"/signals/{sid}" for sid in signal_ids]
    seen = 0
    for role in ("lead", "auditor", "admin"):
        sign_in(client, site, role)
        for url in urls:
            response = client.get(url, follow_redirects=True)
            if response.status_code != 200:
                continue
            seen += 1
            assert_no_injection(response.get_data(as_text=True), f"{role} {url}")
    assert seen >= 2 * len(urls)
    sign_in(client, site, "lead")
    page = client.get(f"/audits/{audit.id}/items/{items[0].id}").get_data(as_text=True)
    assert "&lt;script&gt;alert(&#34;xss-1&#34;)&lt;/script&gt;" in page  # shown, as text


def _flat(text: str) -> str:
    return "".join(text.split())


def test_signed_pdf_shows_payloads_as_text_and_fetches_nothing(hostile_audit, tmp_path):
    _, _, signoff, _ = hostile_audit
    path = reports.report_path(signoff)
    text = _flat("".join(page_texts(path)))
    for payload in ('<script>alert("xss-1")</script>', "'><svgonload=alert('xss-3')>",
                    "{{7*7}}xss-8"):
        assert _flat(payload) in text, payload
    assert "49xss-8" not in text
    images = run(poppler("pdfimages"), "-list", str(path)).splitlines()[2:]
    assert images == [], "the report embeds an image: an <img> payload was fetched"


def test_csv_export_neutralises_formulas(client, site, hostile_audit):
    audit, *_ = hostile_audit
    sign_in(client, site, "lead")
    for url in (f"/audits/{audit.id}/export.csv", f"/api/v1/audits/{audit.id}/results.csv"):
        if url.startswith("/api/"):
            sign_in(client, site, "anonymous")
            response = client.get(url, headers=api_headers(site, "lead"))
        else:
            response = client.get(url)
        assert response.status_code == 200, url
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
        cells = [cell for row in rows for cell in row]
        dangerous = [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
        assert not dangerous, f"{url}: cells a spreadsheet would run: {dangerous[:5]}"
        assert any(c.lstrip("'").startswith('=HYPERLINK') for c in cells), url


def test_api_serves_payloads_as_json_with_nosniff(client, site, hostile_audit):
    audit, items, _, _ = hostile_audit
    sign_in(client, site, "anonymous")
    headers = api_headers(site, "lead")
    for url in (f"/api/v1/audits/{audit.id}", f"/api/v1/audits/{audit.id}/results.json",
                "/api/v1/signals", f"/api/v1/audits/{audit.id}/oscal.json"):
        response = client.get(url, headers=headers)
        assert response.status_code == 200, url
        assert response.mimetype == "application/json", url
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        body = response.get_data(as_text=True)
        response.get_json()  # parses
        assert "xss-1" in body, url
        assert '<script>alert("xss-1")' not in body, f"{url}: quotes not JSON-escaped"
