"""Hostile uploads at the service level: whatever the name says, a file is stored under a
generated name (its SHA-256) inside the evidence folder, its type is decided by its content,
and a refused file leaves nothing behind — no file, no row, no activity event."""

import io
import os
import re
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa

from tracker.activity import ActivityEvent
from tracker.audits import service
from tracker.audits.models import Evidence
from tracker.audits.storage import EvidenceRejected, clean_filename, evidence_path, store_upload
from tracker.extensions import db

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 64
HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"
SVG = (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">'
       b"<script>alert(2)</script></svg>")
TEXT = b"Drill ran on 2026-03-02; runbook followed, 12 minutes to recover.\n"


def docx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<document/>")
    return buffer.getvalue()


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def evidence_root(app):
    return Path(app.config["EVIDENCE_DIR"])


# name, content, stored display name
ACCEPTED = [
    ("../../x.txt", TEXT, "x.txt"),
    ("..\\..\\x.txt", TEXT, "x.txt"),
    ("/etc/passwd", TEXT, "passwd"),
    ("C:\\Windows\\system32\\drill.pdf", PDF, "drill.pdf"),
    ("drill\x00.pdf", PDF, "drill.pdf"),
    ("evil.exe\x00.pdf", PDF, "evil.exe.pdf"),
    ("\u202efdp.exe.pdf", PDF, "fdp.exe.pdf"),  # right-to-left override removed
    ("report<script>.pdf", PDF, "reportscript.pdf"),
    ("...", TEXT, "evidence"),
    ("", TEXT, "evidence"),
    (None, TEXT, "evidence"),
    ("a" * 10_000 + ".pdf", PDF, "a" * 196 + ".pdf"),
    ("screenshot.PNG", PNG, "screenshot.PNG"),
    ("plan.docx", docx(), "plan.docx"),
    ("notes", TEXT, "notes"),
]

# name, content, what the message must say
REFUSED = [
    ("setup.pdf", EXE, "not accepted"),           # .exe renamed .pdf
    ("a.pdf.exe", PDF, "Rename it to end in .pdf"),
    ("a.pdf.exe", EXE, "not accepted"),
    ("page.html", HTML, "not accepted"),
    ("page.txt", HTML, "not accepted"),           # HTML hiding behind .txt
    ("logo.svg", SVG, "not accepted"),
    ("logo.png", SVG, "not accepted"),
    ("upper.TXT", b"<SCRIPT SRC=//evil.example/x.js></SCRIPT>", "not accepted"),
    ("padded.txt", b"   \n\t<iframe src=javascript:alert(1)>", "not accepted"),
    ("utf16.txt", "<html><script>x</script>".encode("utf-16"), "not accepted"),
    ("fake.docx", b"PK\x03\x04not really a zip", "not accepted"),
    ("photo.jpg", PDF, "Rename it to end in .pdf"),
    ("empty.pdf", b"", "empty"),
]


@pytest.mark.parametrize("name,content,display", ACCEPTED,
                         ids=[repr(a[0])[:30] for a in ACCEPTED])
def test_hostile_names_are_stored_under_generated_names(app, evidence_root, tmp_path, name,
                                                        content, display):
    before = files_under(tmp_path)
    stored = store_upload(io.BytesIO(content), name)
    assert stored.filename == display
    assert re.fullmatch(r"[0-9a-f]{64}", stored.sha256)
    path = evidence_path(stored.sha256)
    assert path.read_bytes() == content
    assert path.parent.parent == evidence_root and path.name == stored.sha256
    # Nothing else appeared anywhere: no file by the given name, no temporary left over.
    assert files_under(tmp_path) - before == {path}


@pytest.mark.parametrize("name,content,message", REFUSED, ids=[r[0] for r in REFUSED])
def test_hostile_contents_are_refused_and_leave_nothing(app, evidence_root, name, content,
                                                        message):
    before = files_under(evidence_root) if evidence_root.exists() else set()
    with pytest.raises(EvidenceRejected) as exc:
        store_upload(io.BytesIO(content), name)
    assert message in str(exc.value)
    assert "Upload" in str(exc.value) or "Rename" in str(exc.value) or "Choose" in str(exc.value)
    assert files_under(evidence_root) == before


def test_too_large_is_refused_while_reading(app, evidence_root):
    app.config["MAX_EVIDENCE_BYTES"] = 1024
    with pytest.raises(EvidenceRejected, match="larger than"):
        store_upload(io.BytesIO(b"a" * 5000), "big.txt")
    assert not [p for p in evidence_root.rglob("*") if p.is_file()]


def test_add_evidence_refusal_writes_nothing(app, site, evidence_root):
    counts = _counts()
    files = files_under(evidence_root)
    for name, content, _ in REFUSED:
        with pytest.raises(EvidenceRejected):
            service.add_evidence(site.people["operator"], site.item, upload=io.BytesIO(content),
                                 filename=name)
        db.session.rollback()
    assert _counts() == counts
    assert files_under(evidence_root) == files


def test_add_evidence_keeps_the_display_name_and_the_detected_type(app, site):
    evidence = service.add_evidence(site.people["operator"], site.item,
                                    upload=io.BytesIO(PDF), filename="../../drill\x00.pdf")
    db.session.commit()
    assert evidence.filename == "drill.pdf"
    assert evidence.content_type == "application/pdf"
    assert evidence_path(evidence.sha256).exists()
    again = service.add_evidence(site.people["operator"], site.item, upload=io.BytesIO(PDF),
                                 filename="copy.pdf")
    assert again.sha256 == evidence.sha256  # one stored copy, two pieces of evidence


def test_evidence_path_refuses_anything_but_a_sha256(app):
    for bad in ("../../etc/passwd", "a" * 64 + "/..", "A" * 64, "", "0" * 63):
        with pytest.raises(ValueError):
            evidence_path(bad)


def test_clean_filename_never_returns_a_path():
    for name in ("../../x", "..\\x", "/abs/x", "x/", "\x00", "a\x01b\x7fc"):
        cleaned = clean_filename(name)
        assert "/" not in cleaned and "\\" not in cleaned and not cleaned.startswith(".")
        assert all(ch.isprintable() for ch in cleaned)


def test_store_is_outside_the_web_root(app):
    static = Path(app.static_folder).resolve()
    store = Path(app.config["EVIDENCE_DIR"]).resolve()
    assert static not in store.parents and store != static
    assert not str(store).startswith(str(Path(app.root_path).resolve()) + os.sep + "static")


def _counts():
    db.session.expire_all()
    return (db.session.execute(sa.select(sa.func.count(Evidence.id))).scalar_one(),
            db.session.execute(sa.select(sa.func.count(ActivityEvent.id))).scalar_one())


# (a quote or CR/LF cannot reach the server in a multipart file name: browsers encode them)
HOSTILE_NAME = "..\\../<img src=x onerror=alert(1)> {{7*7}} ünïcode notes.txt"
HTMLISH_TEXT = (b"Drill notes <b>bold</b> <a href=x>link</a>\n"
                b"<p onclick=alert(1)>not a page, just text that looks like one</p>\n")


@pytest.mark.parametrize("how", ["page", "api"])
def test_downloads_are_attachments_with_the_cleaned_name_and_nosniff(client, site, how):
    """Upload through the audits page or the API with a hostile name and text that looks
    like HTML; the download route serves it as an attachment under the cleaned name, never
    inline, with nosniff and a sandboxing policy."""
    from tests.routes import api_headers, sign_in

    audit, item = site.audit, site.item
    if how == "page":
        sign_in(client, site, "operator")
        response = client.post(f"/audits/{audit.id}/items/{item.id}/evidence",
                               data={"kind": "file",
                                     "file": (io.BytesIO(HTMLISH_TEXT), HOSTILE_NAME)},
                               content_type="multipart/form-data")
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
    else:
        sign_in(client, site, "anonymous")
        response = client.post(f"/api/v1/audits/{audit.id}/items/{item.id}/evidence",
                               headers=api_headers(site, "operator"),
                               data={"file": (io.BytesIO(HTMLISH_TEXT), HOSTILE_NAME)},
                               content_type="multipart/form-data")
        assert response.status_code == 201, response.get_json()
        sign_in(client, site, "operator")
    db.session.expire_all()
    evidence = db.session.execute(sa.select(Evidence).where(Evidence.audit_item_id == item.id)
                                  .order_by(Evidence.id.desc())).scalars().first()
    assert evidence.filename == clean_filename(HOSTILE_NAME)
    assert "/" not in evidence.filename and "\r" not in evidence.filename
    assert "\n" not in evidence.filename and '"' not in evidence.filename
    assert evidence.content_type == "text/plain"
    for role in ("operator", "auditor"):
        sign_in(client, site, role)
        response = client.get(f"/audits/{audit.id}/items/{item.id}/evidence/{evidence.id}")
        assert response.status_code == 200
        assert response.data == HTMLISH_TEXT
        disposition = response.headers["Content-Disposition"]
        assert disposition.startswith("attachment;"), disposition
        assert "\r" not in disposition and "\n" not in disposition
        assert "<" not in disposition and ".." not in disposition, disposition
        assert response.mimetype == "text/plain"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in response.headers["Content-Security-Policy"]
        # the item page names the file as text, escaped
        page = client.get(f"/audits/{audit.id}/items/{item.id}").get_data(as_text=True)
        assert "<img src=x" not in page and evidence.filename in page
