"""The signed report: valid for pyHanko, pdfsig and `report verify`; invalid after any change."""

import io
import json
import subprocess

from tests.factories import append_only_off
from tests.reports.conftest import STATEMENT, pdfsig_verdict, poppler, run
from tracker.activity import ActivityChainHead, ActivityEvent
from tracker.audits.models import AuditItem, ItemStatus
from tracker.extensions import db
from tracker.reports.canonical import audit_results
from tracker.reports.signing import FIELD_NAME


def signed_range(data: bytes) -> tuple[int, int, int, int]:
    from pyhanko.pdf_utils.reader import PdfFileReader

    sig = PdfFileReader(io.BytesIO(data)).embedded_signatures[0]
    a, b, c, d = (int(x) for x in sig.sig_object["/ByteRange"])
    return a, a + b, c, c + d


def pyhanko_status(data: bytes):
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    from tracker.reports.keys import our_certificate
    from tracker.reports.signing import outside_event_loop

    sig = PdfFileReader(io.BytesIO(data), strict=False).embedded_signatures[0]
    context = ValidationContext(trust_roots=[our_certificate()])
    return sig, outside_event_loop(validate_pdf_signature, sig, context)


def flip_byte_in_signed_range(path, where=0.5):
    data = bytearray(path.read_bytes())
    start, gap_start, _, _ = signed_range(bytes(data))
    i = int(gap_start * where)
    data[i] ^= 0x01
    path.write_bytes(bytes(data))
    return i


def test_signed_report_is_valid_for_pyhanko_pdfsig_and_report_verify(signed, runner, people):
    audit, signoff, path = signed
    data = path.read_bytes()
    assert signoff.pdf_size == len(data) and signoff.pdf_sha256 == path.stem

    sig, status = pyhanko_status(data)
    assert status.intact and status.valid and status.trusted
    assert status.coverage.name == "ENTIRE_FILE"
    assert sig.field_name == FIELD_NAME
    assert str(sig.sig_object["/Name"]) == people["auditor"].name
    assert str(sig.sig_object["/Reason"]) == STATEMENT
    assert "/ETSI.CAdES.detached" in str(sig.sig_object["/SubFilter"])

    assert pdfsig_verdict(path) == "Signature is Valid."

    result = runner.invoke(args=["report", "verify", str(path)])
    assert result.exit_code == 0, result.output
    assert "VALID" in result.output and people["auditor"].name in result.output
    for label in ("Signature intact", "Covers the whole file", "Certificate ours or trusted",
                  "Embedded results match the printed hash", "Matches the stored audit",
                  "Activity log intact"):
        assert f"[PASS] {label}" in result.output


def test_a_changed_byte_in_the_signed_range_is_invalid_everywhere(signed, runner, copy_of):
    _, _, path = signed
    for where in (0.01, 0.5, 0.99):  # early (header), middle (content), late (trailer area)
        tampered = copy_of(path, f"tampered-{where}.pdf")
        flip_byte_in_signed_range(tampered, where)
        assert pdfsig_verdict(tampered) != "Signature is Valid."
        result = runner.invoke(args=["report", "verify", str(tampered)])
        assert result.exit_code != 0, result.output
        assert "INVALID" in result.output


def test_digest_mismatch_is_named(signed, runner, copy_of):
    _, _, path = signed
    tampered = copy_of(path, "tampered.pdf")
    flip_byte_in_signed_range(tampered, 0.5)
    assert pdfsig_verdict(tampered) == "Digest Mismatch."
    _, status = pyhanko_status(tampered.read_bytes())
    assert not status.intact
    result = runner.invoke(args=["report", "verify", str(tampered)])
    assert result.exit_code == 1
    assert "[FAIL] Signature intact" in result.output
    assert "INVALID" in result.output and "Signature intact failed" in result.output


def test_bytes_appended_after_signing_are_refused(signed, runner, copy_of):
    _, _, path = signed
    appended = copy_of(path, "appended.pdf")
    with appended.open("ab") as fh:
        fh.write(b"\n% an innocent-looking comment\n")
    # The signed range itself is intact, which is why coverage must be checked.
    assert pdfsig_verdict(appended) == "Signature is Valid. (not total document signed)"
    result = runner.invoke(args=["report", "verify", str(appended)])
    assert result.exit_code == 1
    assert "[FAIL] Covers the whole file" in result.output


def test_an_incremental_update_after_signing_is_refused(signed, runner, copy_of):
    """A well-formed revision appended by a PDF editor (here: a changed title) leaves the
    signed range intact; only whole-file coverage catches it."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    _, _, path = signed
    writer = IncrementalPdfFileWriter(io.BytesIO(path.read_bytes()))
    writer.root["/Lang"] = generic.TextStringObject("fr")
    writer.update_root()
    out = io.BytesIO()
    writer.write(out)
    edited = copy_of(path, "edited.pdf")
    edited.write_bytes(out.getvalue())
    assert pdfsig_verdict(edited) == "Signature is Valid. (not total document signed)"
    result = runner.invoke(args=["report", "verify", str(edited)])
    assert result.exit_code == 1 and "[FAIL] Covers the whole file" in result.output


def test_embedded_results_round_trip(signed, tmp_path):
    audit, signoff, path = signed
    out = tmp_path / "audit-results.json"
    listing = run(poppler("pdfdetach"), "-list", str(path))
    assert "audit-results.json" in listing
    subprocess.run([poppler("pdfdetach"), "-savefile", "audit-results.json", "-o", str(out),
                    str(path)], check=True)
    raw = out.read_bytes()
    assert json.loads(raw) == audit_results(audit)
    from tracker.canonical import canonical_json, sha256_hex

    assert raw == canonical_json(audit_results(audit)).encode()
    assert sha256_hex(raw) == signoff.audit_sha256
    text = run(poppler("pdftotext"), "-f", "1", "-l", "1", str(path), "-")
    assert signoff.audit_sha256 in text  # printed on the cover
    assert signoff.chain_head in text


def test_a_changed_audit_in_the_database_fails_verification(signed, runner):
    audit, _, path = signed
    item = db.session.query(AuditItem).filter_by(audit_id=audit.id,
                                                 status=ItemStatus.NOT_MET).first()
    db.session.execute(AuditItem.__table__.update().where(AuditItem.id == item.id)
                       .values(status="met"))
    db.session.commit()
    result = runner.invoke(args=["report", "verify", str(path)])
    assert result.exit_code == 1
    assert "[FAIL] Matches the stored audit" in result.output
    assert "changed after sign-off" in result.output


def test_removed_activity_rows_fail_verification(signed, runner):
    """Deleting the newest rows (and rewinding the head row) is caught by the head printed in
    the signed report."""
    audit, signoff, path = signed
    chain = f"audit:{audit.id}"
    with append_only_off():  # what someone with direct database access can do
        db.session.execute(ActivityEvent.__table__.delete().where(
            ActivityEvent.chain == chain, ActivityEvent.seq >= signoff.chain_seq - 1))
        last = db.session.query(ActivityEvent).filter_by(chain=chain).order_by(
            ActivityEvent.seq.desc()).first()
        head = db.session.get(ActivityChainHead, chain)
        head.seq, head.hash = last.seq, last.hash
        db.session.commit()
    result = runner.invoke(args=["report", "verify", str(path)])
    assert result.exit_code == 1
    assert "[FAIL] Activity log intact" in result.output and "removed" in result.output


def test_pdf_a_3b_metadata_survives_signing(signed):
    """What can be checked without a full PDF/A validator: the PDF/A-3B identification, XMP
    and document information agreeing after pyHanko's update, the attachment declared as an
    associated file, and every font embedded."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    _, _, path = signed
    reader = PdfFileReader(io.BytesIO(path.read_bytes()))
    xmp = reader.root["/Metadata"].data.decode()
    assert 'pdfaid:part="3"' in xmp and 'pdfaid:conformance="B"' in xmp
    producer = str(reader.trailer["/Info"]["/Producer"])
    assert f'pdf:Producer="{producer}"' in xmp
    assert "/OutputIntents" in reader.root and "/AF" in reader.root
    spec = reader.root["/AF"][0].get_object()
    assert str(spec["/AFRelationship"]) == "/Source"
    fonts = run(poppler("pdffonts"), str(path)).splitlines()[2:]
    assert fonts and all(" yes " in line for line in fonts), fonts
