"""What a recipient without an account can check (issue 23, item 12): the published signing
certificate and its fingerprint, the "Verify a report" page, and why they are needed — a
re-signed forgery that poppler's pdfsig calls valid."""

import io
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from flask import current_app

from tests.reports.conftest import pdfsig_verdict, poppler, run
from tracker.reports import keys

WELL_KNOWN = "/.well-known/readiness-tracker"


def openssl_fingerprint(pem: bytes) -> str:
    out = subprocess.run(["openssl", "x509", "-noout", "-fingerprint", "-sha256"], input=pem,
                         capture_output=True, check=True).stdout.decode()
    return out.strip().split("=", 1)[1]


def signer_fingerprint(pdf: Path, workdir: Path) -> str:
    """The README's independent check: `pdfsig -dump`, then openssl on the dumped CMS."""
    subprocess.run([poppler("pdfsig"), "-dump", str(pdf)], cwd=workdir, capture_output=True,
                   check=True, timeout=60)
    dumped = sorted(workdir.glob("*.sig*"))
    assert len(dumped) == 1, list(workdir.iterdir())
    certs = subprocess.run(["openssl", "pkcs7", "-inform", "DER", "-in", str(dumped[0]),
                            "-print_certs"], capture_output=True, check=True).stdout
    dumped[0].unlink()
    return openssl_fingerprint(certs)


def forge(genuine: bytes, tmp_path: Path) -> bytes:
    """Strip the signature, add a page, and sign again with a self-signed certificate of the
    same name, keeping the attached results and the document information."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pypdf import PdfReader, PdfWriter

    reader = PdfReader(io.BytesIO(genuine))
    writer = PdfWriter()
    for page in reader.pages:
        page = writer.add_page(page)
        if "/Annots" in page:
            del page["/Annots"]  # the signature's widget
    writer.add_blank_page()
    for name, contents in reader.attachments.items():
        writer.add_attachment(name, contents[0])
    writer.add_metadata({k: v for k, v in reader.metadata.items() if k != "/Producer"})
    stripped = io.BytesIO()
    writer.write(stripped)

    genuine_cert = keys.our_certificate()
    name = x509.Name.from_rfc4514_string(
        x509.load_der_x509_certificate(genuine_cert.dump()).subject.rfc4514_string())
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(key, hashes.SHA256()))
    (tmp_path / "forger.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    (tmp_path / "forger.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    signer = signers.SimpleSigner.load(str(tmp_path / "forger.key"),
                                       str(tmp_path / "forger.pem"))
    meta = signers.PdfSignatureMetadata(
        field_name="AuditSignOff", name="Aude Auditor", reason="Reviewed.",
        subfilter=fields.SigSeedSubFilter.PADES, md_algorithm="sha256", certify=True,
        docmdp_permissions=fields.MDPPerm.NO_CHANGES)
    out = io.BytesIO()
    signers.PdfSigner(meta, signer).sign_pdf(
        IncrementalPdfFileWriter(io.BytesIO(stripped.getvalue()), strict=False), output=out)
    return out.getvalue()


def test_a_re_signed_forgery_is_caught_by_the_published_fingerprint(signed, runner, client,
                                                                      tmp_path):
    _, _, path = signed
    forgery = tmp_path / "forgery.pdf"
    # In a thread of its own: pyHanko's synchronous API calls asyncio.run(), which refuses to
    # run where an event loop is running (the browser tests' Playwright, earlier in the run).
    app, genuine = current_app._get_current_object(), path.read_bytes()

    def forged() -> bytes:
        with app.app_context():
            return forge(genuine, tmp_path)

    with ThreadPoolExecutor(max_workers=1) as pool:
        forgery.write_bytes(pool.submit(forged).result())
    pages = run(poppler("pdfinfo"), str(forgery))
    assert f"Pages:{' ' * 10}" in pages  # it opens, with its extra page

    # pdfsig alone cannot tell the two apart.
    assert pdfsig_verdict(path) == pdfsig_verdict(forgery) == "Signature is Valid."
    # The app refuses it: the certificate is not ours.
    result = runner.invoke(args=["report", "verify", str(forgery)])
    assert result.exit_code == 1
    assert "[FAIL] Certificate ours or trusted" in result.output

    # The published fingerprint tells a recipient which one to trust.
    published = client.get(f"{WELL_KNOWN}/signing-cert.json").json["sha256_fingerprint"]
    work = tmp_path / "dump"
    work.mkdir()
    assert signer_fingerprint(path, work) == published
    forged = signer_fingerprint(forgery, work)
    assert forged != published
    assert forged == openssl_fingerprint((tmp_path / "forger.pem").read_bytes())


def test_the_certificate_is_published_without_sign_in(signed, client, app):
    pem = client.get(f"{WELL_KNOWN}/signing-cert.pem")
    assert pem.status_code == 200 and pem.mimetype == "application/x-pem-file"
    assert pem.data == Path(app.config["SIGNING_CERT_PATH"]).read_bytes()
    info = client.get(f"{WELL_KNOWN}/signing-cert.json")
    assert info.status_code == 200 and "public" in info.headers["Cache-Control"]
    assert info.json["sha256_fingerprint"] == openssl_fingerprint(pem.data)
    assert "Common Name: Readiness Tracker report signing" in info.json["subject"]
    assert "pdfsig -dump" in info.json["check"]


def test_nothing_is_published_before_there_is_a_key(app, client):
    assert client.get(f"{WELL_KNOWN}/signing-cert.pem").status_code == 404
    assert client.get(f"{WELL_KNOWN}/signing-cert.json").status_code == 404


def test_verify_a_report_without_signing_in(signed, client, app):
    _, _, path = signed
    reports_before = sorted(Path(app.config["REPORTS_DIR"]).iterdir())
    good = client.post("/reports/verify", data={"report": (io.BytesIO(path.read_bytes()),
                                                           "report.pdf")},
                       content_type="multipart/form-data")
    html = good.get_data(as_text=True)
    assert good.status_code == 200 and "Valid report" in html
    assert keys.fingerprint(keys.our_certificate()) in html
    assert sorted(Path(app.config["REPORTS_DIR"]).iterdir()) == reports_before


class TestRateLimits:
    @pytest.fixture
    def app_config(self):
        return {"RATELIMIT_ENABLED": True, "REPORT_VERIFY_LIMIT_PER_ADDRESS": "2 per minute",
                "SIGNING_CERT_LIMIT_PER_ADDRESS": "3 per minute"}

    def test_verify_is_limited_per_address(self, app, client):
        from tracker.security.throttling import limiter

        limiter.reset()
        statuses = [client.post("/reports/verify", data={"report": (io.BytesIO(b"x"), "x.pdf")},
                                content_type="multipart/form-data").status_code
                    for _ in range(3)]
        assert statuses == [200, 200, 429]
        refused = client.post("/reports/verify", data={}, content_type="multipart/form-data")
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
        assert client.get("/reports/verify").status_code == 200  # the page itself is free

    def test_certificate_is_limited_per_address(self, signed, client):
        from tracker.security.throttling import limiter

        limiter.reset()
        statuses = [client.get(f"{WELL_KNOWN}/signing-cert.json").status_code
                    for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
