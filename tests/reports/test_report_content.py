"""What the report says: the audit's numbers, every page inked, DRAFT on drafts, and no
fetched resource — user text with file:, remote or loopback URLs never reaches the PDF."""

import re

import pytest
import sqlalchemy as sa
from PIL import Image, ImageStat

from tests import factories
from tests.reports.conftest import page_texts, poppler, run, work_audit
from tracker import clock
from tracker.audits import validity
from tracker.audits.models import AuditItem, Evidence, ItemStatus
from tracker.extensions import db
from tracker.reports import queries, render
from tracker.reports import service as reports
from tracker.reports.canonical import audit_results
from tracker.templating import format_date


def test_report_numbers_equal_the_audit(signed):
    audit, _, path = signed
    totals = queries.tally_totals(audit.id)  # what the audit pages show
    results = audit_results(audit)
    assert (totals["weight_met"], totals["weight_applicable"]) == (
        results["score"]["weighted_met"], results["score"]["weighted_applicable"])
    percent = round(100 * totals["weight_met"] / totals["weight_applicable"])
    counts, items = totals["counts"], sum(totals["counts"].values())
    cover, summary = page_texts(path)[:2]
    cover, summary = " ".join(cover.split()), " ".join(summary.split())
    assert (f"Readiness score {percent}% ({totals['weight_met']} of "
            f"{totals['weight_applicable']} weighted points met, {items} items)") in cover
    open_items = counts["not_started"] + counts["in_progress"] + counts["blocked"]
    assert (f"{counts['met']} of {items} items are met, {counts['not_met']} not met, "
            f"{open_items} still open and {counts['not_applicable']} not applicable. "
            f"Readiness score {percent}%") in summary
    for status, label in (("met", "Met"), ("not_met", "Not met"), ("not_applicable", "N/A")):
        assert f"{label} {counts[status]}" in summary  # the chart's legend
    text = " ".join(" ".join(page_texts(path)).split())
    for item in results["items"]:
        assert item["code"] in text


def inked(png) -> bool:
    image = Image.open(png).convert("L")
    return ImageStat.Stat(image).stddev[0] > 2.0


def test_every_page_has_ink(signed, tmp_path):
    _, _, path = signed
    pages = int(re.search(r"Pages:\s+(\d+)", run(poppler("pdfinfo"), str(path))).group(1))
    run(poppler("pdftoppm"), "-r", "30", "-png", str(path), str(tmp_path / "page"))
    images = sorted(tmp_path.glob("page-*.png"))
    assert len(images) == pages >= 5
    blank = [p.name for p in images if not inked(p)]
    assert not blank
    white = tmp_path / "white.png"
    Image.new("L", (200, 280), 255).save(white)
    assert not inked(white)  # the check can fail


def test_page_footer_and_repeated_table_headers(signed):
    _, _, path = signed
    pages = page_texts(path)
    for n, text in enumerate(pages, start=1):
        assert f"Page {n} of {len(pages)}" in text
    item_pages = [t for t in pages if re.search(r"\b(DV|SUP)-\d\d\b", t) and "Criticality" in t]
    assert len(item_pages) >= 2


# --- the URL fetcher ---------------------------------------------------------------------

@pytest.mark.parametrize("url", [
    "file:///etc/passwd", "FILE:///etc/hostname", "http://example.com/logo.png",
    "https://169.254.169.254/latest/meta-data/", "http://127.0.0.1:5000/admin",
    "http://localhost/x.css", "http://[::1]/x", "http://127.1.2.3/", "ftp://example.com/a",
    "relative.png",
])
def test_fetcher_refuses(url):
    assert render.refusal_reason(url)
    fetcher = render.safe_url_fetcher()
    with pytest.raises(render.RefusedURL):
        fetcher.fetch(url)
    assert fetcher.refused == [url]


def test_fetcher_names_the_reason():
    assert "file:" in render.refusal_reason("file:///etc/passwd")
    assert "loopback" in render.refusal_reason("http://localhost:8080/")
    assert "remote" in render.refusal_reason("https://example.com/")
    assert render.refusal_reason("data:image/png;base64,iVBORw0KGgo=") is None


def _png(path):
    Image.new("RGB", (40, 40), (200, 30, 30)).save(path)
    return path


def test_raw_html_cannot_pull_in_local_files(app, tmp_path):
    """Even markup that escaped Jinja could not read a file: images, stylesheets and
    attachments by file: URL are all left out. The same HTML with WeasyPrint's default
    fetcher does embed them, so this test would notice a permissive fetcher."""
    from weasyprint import HTML

    secret = _png(tmp_path / "secret.png")
    html = (f'<p>x</p><img src="file://{secret}"><img src="http://127.0.0.1:9/a.png">'
            f'<a rel="attachment" href="file:///etc/passwd">p</a>'
            f'<link rel="stylesheet" href="file:///etc/passwd">')
    fetcher = render.safe_url_fetcher()
    pdf = render.render_html_to_pdf(html, stylesheets=[], fetcher=fetcher)
    assert b"/Image" not in pdf and b"/EmbeddedFile" not in pdf
    assert f"file://{secret}" in fetcher.refused and "file:///etc/passwd" in fetcher.refused
    permissive = HTML(string=html).write_pdf()
    assert b"/Image" in permissive and b"/EmbeddedFile" in permissive


def test_user_text_with_urls_does_not_reach_the_pdf(app, library, people, tmp_path):
    hostile = '<img src="file:///etc/passwd"> <img src="http://example.com/x.png">'
    audit = work_audit(people, domain_codes=("SUP",), verdict_note=hostile, comment=hostile,
                       evidence_note=f'See ![x](http://127.0.0.1/x.png) {hostile}')
    signoff = factories.sign_off(people["auditor"], audit, f"Signed. {hostile}")
    db.session.commit()
    path = reports.report_path(signoff)
    pdf = path.read_bytes()
    assert b"/Image" not in pdf
    text = " ".join(run(poppler("pdftotext"), str(path), "-").split())
    assert "root:x:0:0" not in text
    assert '<img src="file:///etc/passwd">' in text  # shown as the text it is, not fetched


def test_draft_is_marked_on_every_page(app, library, people, client, login_as):
    audit = work_audit(people)
    from tracker.audits import service as audits

    audits.return_audit(people["auditor"], audit, "More evidence, please.")
    db.session.commit()
    login_as("operator")
    response = client.get(f"/audits/{audit.id}/report-draft.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert "attachment" in response.headers["Content-Disposition"]
    assert "DRAFT" in response.headers["Content-Disposition"]
    path = app.instance_path + "/draft.pdf"
    with open(path, "wb") as fh:
        fh.write(response.data)
    pages = page_texts(path)
    assert len(pages) >= 3
    assert all("DRAFT" in page for page in pages)
    assert b"/Sig" not in response.data and b"audit-results.json" not in response.data
    login_as("outsider")
    assert client.get(f"/audits/{audit.id}/report-draft.pdf").status_code == 404


def test_quarter_changes(app, library, people):
    from tracker.reports.queries import quarter_changes

    met, not_met, na = ItemStatus.MET, ItemStatus.NOT_MET, ItemStatus.NOT_APPLICABLE
    first = work_audit(people, domain_codes=("SUP",), period="2026-Q2",
                       statuses=[met, not_met, met, not_met, na])
    second = work_audit(people, previous=first, statuses=[not_met, met, met, not_met, met])
    changes = quarter_changes(second)
    assert changes.previous.id == first.id
    codes = sorted(i.code for i in first.items)
    # README, Definitions: regressed met → not met or blocked; improved anything → met;
    # stale unmet (not met or not yet assessed) now and before.
    expect = {"regressed": [], "improved": [], "stale": []}
    for n, code in enumerate(codes):
        before, after = [met, not_met, met, not_met, na][n % 5], [not_met, met, met, not_met,
                                                                   met][n % 5]
        if before == met and after in (not_met, ItemStatus.BLOCKED):
            expect["regressed"].append(code)
        elif before != met and after == met:
            expect["improved"].append(code)
        elif before != met and before != na and after not in (met, na):
            expect["stale"].append(code)
    assert [r.code for r in changes.rows["regressed"]] == expect["regressed"] != []
    assert [r.code for r in changes.rows["improved"]] == expect["improved"] != []
    assert [r.code for r in changes.rows["stale"]] == expect["stale"] != []
    assert changes.rows["new"] == []


def test_open_signals_and_changes_are_reported(app, library, people, tmp_path):
    from datetime import datetime

    from tracker.signals.models import Severity, Signal, SignalSource, SignalState

    met, not_met = ItemStatus.MET, ItemStatus.NOT_MET
    first = work_audit(people, domain_codes=("SUP",), period="2026-Q2", statuses=[met, not_met])
    second = work_audit(people, previous=first, statuses=[not_met, met])
    domain = second.domains[0]
    for summary, state in (("Refund tickets doubled overnight", SignalState.OPEN),
                           ("Chat queue stuck", SignalState.ACKNOWLEDGED),
                           ("Old resolved thing", SignalState.RESOLVED)):
        db.session.add(Signal(summary=summary, source=SignalSource.SUPPORT_TICKET,
                              severity=Severity.HIGH, observed_at=datetime(2026, 9, 1),
                              domain=domain, state=state, reported_by=people["operator"]))
    db.session.flush()
    path = tmp_path / "draft.pdf"
    path.write_bytes(render.render_report_pdf(second))
    text = " ".join(" ".join(page_texts(path)).split())
    assert "Refund tickets doubled overnight" in text and "Chat queue stuck" in text
    assert "Old resolved thing" not in text
    assert "Compared with 2026-Q2 by item code" in text
    assert "5 regressed, 5 improved, 0 stale, 0 new in scope" in text
    assert "Regressed (5) Met last quarter, now not met or blocked." in text
    assert "Improved (5) Not met last quarter, met now." in text


def test_report_queries_do_not_grow_with_the_audit(app, library, people, count_queries):
    from flask import render_template

    # Each follows an earlier audit of the team, so both reports compare quarters.
    first = work_audit(people, domain_codes=("SUP",), period="2026-Q1")
    small = work_audit(people, previous=first)
    large = work_audit(people, domain_codes=("DV", "INV", "FUL", "PAY"), period="2026-Q4")
    counts = []
    for audit in (small, large):
        db.session.expire_all()
        with count_queries() as counter:
            context = render.report_context(audit, None, results_sha256=None, draft=True)
            render_template("reports/report.html", **context)
        counts.append(counter.count)
    assert counts[0] == counts[1]


def test_each_piece_of_evidence_prints_its_effective_date_and_age_at_sign_off(signed):
    audit, signoff, path = signed
    text = " ".join(" ".join(page_texts(path)).split())
    rows = db.session.execute(
        sa.select(Evidence.effective_date, AuditItem.cadence).join(AuditItem)
        .where(AuditItem.audit_id == audit.id)).all()
    assert rows
    as_of = clock.local_date(signoff.signed_at)
    for effective, cadence in rows:
        assert (f"effective {format_date(effective)}: "
                f"{validity.age_line(effective, cadence, as_of)}") in text
