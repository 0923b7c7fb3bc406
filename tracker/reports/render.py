"""HTML → PDF with WeasyPrint: the report's context, the template, and a URL fetcher that
fetches nothing.

Everything a report needs is inline (SVG charts, CSS passed as a string, system fonts through
fontconfig), so the fetcher refuses every URL except `data:`: no `file:` (an `<img>` or
`<a rel=attachment>` would read — or attach — local files), no remote or loopback address
(server-side request forgery). User text is escaped by Jinja anyway; the fetcher is the second
wall.
"""

import gc
import ipaddress
import logging
import threading
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from flask import current_app, render_template

from tracker import clock
from tracker.activity.checkpoints import ATTACHMENT as CHECKPOINT_ATTACHMENT
from tracker.activity.checkpoints import FORMAT as CHECKPOINT_FORMAT
from tracker.audits import vocabulary
from tracker.audits.models import Audit
from tracker.audits.vocabulary import DIFF_CATEGORIES
from tracker.charts import Series, line_chart, progress_bar, status_bar
from tracker.db import utcnow
from tracker.reports import queries
from tracker.reports.canonical import FORMAT
from tracker.reports.models import OPINION_LABELS, Opinion, SignOff

log = logging.getLogger(__name__)

RESULTS_ATTACHMENT = "audit-results.json"

# How many reports this process rendered: a stored report is served without rendering, and the
# tests hold the code to that by reading this number.
_render_lock = threading.Lock()
render_count = 0


class RefusedURL(ValueError):
    """The report renderer fetches nothing; WeasyPrint logs this and leaves the resource out."""


def is_loopback_host(host: str) -> bool:
    host = (host or "").strip("[]").lower()
    if host in {"localhost", "localhost.localdomain", "ip6-localhost"} or host.endswith(
            ".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def refusal_reason(url: str) -> str | None:
    """Why a URL may not be fetched while rendering a report; None for `data:` URLs."""
    scheme = urlsplit(url).scheme.lower()
    if scheme == "data":
        return None
    if scheme == "file":
        return "file: URLs are refused (they would read files on the server)"
    if scheme in {"http", "https", "ftp"}:
        if is_loopback_host(urlsplit(url).hostname or ""):
            return "loopback URLs are refused (they would reach services on the server)"
        return "remote URLs are refused (reports are made from stored data only)"
    return f"{scheme or 'relative'} URLs are refused"


def safe_url_fetcher():
    """A WeasyPrint URLFetcher that serves `data:` URLs and refuses everything else."""
    from weasyprint import URLFetcher

    class RefusingURLFetcher(URLFetcher):
        def __init__(self):
            super().__init__(timeout=1, allow_redirects=False, allowed_protocols={"data"})
            self.refused: list[str] = []

        def fetch(self, url, headers=None):
            reason = refusal_reason(url)
            if reason:
                self.refused.append(url)
                log.warning("report renderer refused %s: %s", url[:200], reason)
                raise RefusedURL(reason)
            return super().fetch(url, headers)

    return RefusingURLFetcher()


# --- the context ------------------------------------------------------------------------

def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def report_context(audit: Audit, signoff: SignOff | None, *, results_sha256: str | None,
                   draft: bool) -> dict:
    items = queries.report_items(audit)
    summary, sections = queries.domain_sections(audit, items)
    for s in sections:
        s.bar = progress_bar(s.score, title=f"{s.domain.name} score", width=150)
    counts, score = summary.counts, summary.score
    changes = queries.quarter_changes(audit)
    history = queries.score_history(audit)
    previous_score = next((v for p, v in history if changes.previous
                           and p == changes.previous.period), None)
    history_chart = None
    if len(history) > 1:
        history_chart = line_chart([p for p, _ in history],
                                   [Series(audit.team.name, [v for _, v in history])],
                                   title="Readiness score by quarter", width=640, height=200,
                                   table=False)
    return {
        "audit": audit, "signoff": signoff, "draft": draft,
        "organisation": current_app.config["ORGANISATION_NAME"],
        "generated_at": utcnow(), "report_format": FORMAT,
        # evidence ages are printed as of the sign-off, so a re-render says the same
        "as_of": clock.local_date(signoff.signed_at) if signoff else clock.today(),
        "results_sha256": results_sha256,
        "sections": sections, "changes": changes, "signals": queries.open_signals(audit),
        "actions": queries.report_actions(audit),
        "totals": {"item_count": summary.total, "counts": counts,
                   "weight_met": summary.weight_met,
                   "weight_applicable": summary.weight_applicable, "score": score,
                   "open": summary.open},
        "diff_categories": DIFF_CATEGORIES,
        "score_text": _pct(score), "previous_score_text": _pct(previous_score),
        "status_chart": status_bar(counts, title="Items by status", width=640, table=False),
        "history_chart": history_chart,
        "opinion": OPINION_LABELS.get(signoff.opinion) if signoff and signoff.opinion else None,
        "exceptions": [i for i in items if vocabulary.is_exception(i.status)]
        if signoff and signoff.opinion == Opinion.READY_WITH_EXCEPTIONS else [],
    }


def _stylesheet(name: str) -> str:
    return (Path(current_app.template_folder) / "reports" / name).read_text(encoding="utf-8")


def _drop_producer(document, pdf) -> None:
    """pyHanko appends its name to the producer when it signs and writes the same to the XMP
    metadata; starting without one keeps the two equal, as PDF/A requires."""
    pdf.info.pop("Producer", None)


# WeasyPrint allocates millions of small, long-lived objects (boxes, styles) and frees them
# all at the end; the default thresholds (700, 10, 10) run a young collection every 700
# allocations and repeated full ones as the heap grows, rescanning everything else the process
# holds (an ORM session, the app): a quarter to a third of a 1,000-item render's CPU. Few of the
# objects are cyclic garbage, so rarer collections cost a few MB at most.
RENDER_GC_THRESHOLD = (50_000, 50, 100)
_gc_lock = threading.Lock()
_gc_renders = 0
_gc_saved: tuple[int, int, int] | None = None


@contextmanager
def fewer_collections():
    """Raise the collector's thresholds while any render runs in this process (threads
    share them, so the last render out restores the saved values)."""
    global _gc_renders, _gc_saved
    with _gc_lock:
        if _gc_renders == 0:
            _gc_saved = gc.get_threshold()
            gc.set_threshold(*RENDER_GC_THRESHOLD)
        _gc_renders += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_renders -= 1
            if _gc_renders == 0:
                gc.set_threshold(*_gc_saved)


def render_html_to_pdf(html: str, *, stylesheets: list[str], attachments=(),
                       pdf_variant: str | None = None, metadata: bool = False,
                       fetcher=None) -> bytes:
    """The one place WeasyPrint runs, always with the refusing fetcher."""
    from weasyprint import CSS, HTML

    global render_count
    with _render_lock:
        render_count += 1
    fetcher = fetcher or safe_url_fetcher()
    with fewer_collections():
        document = HTML(string=html, url_fetcher=fetcher, base_url="data:,")
        return document.write_pdf(
            stylesheets=[CSS(string=css, url_fetcher=fetcher) for css in stylesheets],
            attachments=list(attachments) or None, pdf_variant=pdf_variant,
            custom_metadata=metadata, finisher=_drop_producer if pdf_variant else None,
            uncompressed_pdf=False,
        )


def render_report_pdf(audit: Audit, signoff: SignOff | None = None, *,
                      results_json: str | None = None, results_sha256: str | None = None,
                      checkpoint=None) -> bytes:
    """The signed report's unsigned PDF (with `signoff`), or a DRAFT (without). A signed
    report attaches the results and the activity checkpoint its sign-off took."""
    from weasyprint import Attachment

    draft = signoff is None
    context = report_context(audit, signoff, results_sha256=results_sha256, draft=draft)
    context["checkpoint"] = checkpoint
    html = render_template("reports/report.html", **context)
    stylesheets = [_stylesheet("report.css")] + ([_stylesheet("draft.css")] if draft else [])
    attachments = []
    if not draft:
        when = signoff.signed_at or datetime.now()
        attachments.append(Attachment(
            string=results_json.encode("utf-8"), name=RESULTS_ATTACHMENT,
            description=f"Audit results ({FORMAT}), SHA-256 {results_sha256}",
            created=when, modified=when, relationship="Source",
            url_fetcher=safe_url_fetcher()))
    if checkpoint is not None:
        attachments.append(Attachment(
            string=checkpoint.document.encode("utf-8"), name=CHECKPOINT_ATTACHMENT,
            description="The organisation's signed checkpoint of every activity chain's head "
                        f"at sign-off ({CHECKPOINT_FORMAT})",
            created=checkpoint.taken_at, modified=checkpoint.taken_at,
            relationship="Supplement", url_fetcher=safe_url_fetcher()))
    return render_html_to_pdf(html, stylesheets=stylesheets, attachments=attachments,
                              pdf_variant=None if draft else "pdf/a-3b", metadata=not draft)
