"""Verify a report PDF without trusting the app's pages: the same checks for
`flask --app app report verify FILE.pdf` and the "Verify a report" page.

A report is valid only when every check below passes (a check that cannot apply, such as the
comparison with an audit that is not in this database, is "skipped" and says why):

1. signature  — exactly one signature, cryptographically intact (pyHanko);
2. coverage   — it covers the entire file: bytes appended after signing are refused even
                though the signed range itself is still intact;
3. certificate — the signer's certificate is ours (the configured signing certificate) or
                chains to a trust root in SIGNING_TRUST_ROOTS;
4. results    — the embedded audit-results.json hashes to the SHA-256 recorded in the signed
                document information and printed on the cover;
5. checkpoint — the attached activity checkpoint (activity-checkpoint.json) is signed with
                the report's certificate and has the audit's chain closed at the head the
                report records (skipped for reports made before checkpoints);
6. audit      — where the audit exists here: the hash equals the one recorded at sign-off
                and the one recomputed from the database now, and the file is the one issued;
7. activity   — where the audit exists here: its activity chain still verifies up to the
                head (seq, hash) printed in the report, so no change was edited or removed.

The certificate check trusts this installation's certificate; someone without the app
compares the signing certificate's SHA-256 fingerprint (`certificate_sha256`, shown by
both) with the one published at /.well-known/readiness-tracker/signing-cert.json.
"""

import io
import json
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from tracker.canonical import canonical_json, sha256_hex
from tracker.reports.render import RESULTS_ATTACHMENT

log = logging.getLogger(__name__)
PASS, FAIL, SKIP = "pass", "fail", "skipped"


@dataclass
class Check:
    key: str
    label: str
    outcome: str
    detail: str

    @property
    def passed(self) -> bool:
        return self.outcome == PASS


@dataclass
class ReportVerdict:
    checks: list[Check] = field(default_factory=list)
    signer_name: str | None = None
    signed_at: datetime | None = None
    certificate: str | None = None
    certificate_sha256: str | None = None  # as `openssl x509 -fingerprint -sha256` prints it
    audit_id: int | None = None
    team: str | None = None
    period: str | None = None
    ours: bool = False  # signed with this installation's certificate

    def add(self, key: str, label: str, ok: bool | None, detail: str) -> bool:
        self.checks.append(Check(key, label, SKIP if ok is None else PASS if ok else FAIL,
                                 detail))
        return bool(ok)

    @property
    def valid(self) -> bool:
        return bool(self.checks) and all(c.outcome != FAIL for c in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.outcome == FAIL]


def verify_report(data: bytes) -> ReportVerdict:
    verdict = ReportVerdict()
    try:
        from pyhanko.pdf_utils.reader import PdfFileReader

        reader = PdfFileReader(io.BytesIO(data), strict=False)
        signatures = reader.embedded_signatures
    except Exception as exc:  # anything unparseable is simply not a report
        verdict.add("signature", "Signature intact", False,
                    f"This is not a readable PDF ({type(exc).__name__}).")
        return verdict
    if len(signatures) != 1:
        verdict.add("signature", "Signature intact", False,
                    "The PDF has no digital signature." if not signatures else
                    f"The PDF has {len(signatures)} signatures; a report carries exactly one.")
        return verdict
    stage = ("signature", "Signature intact")
    try:
        _check_signature(verdict, signatures[0], len(data))
        stage = ("results", "Embedded results match the printed hash")
        info = _document_info(reader)
        results = _check_results(verdict, reader, info, data)
        stage = ("checkpoint", CHECKPOINT_LABEL)
        _check_checkpoint(verdict, reader, info, results)
        stage = ("audit", "Matches the stored audit")
        _check_local_audit(verdict, results, info, data)
    except Exception as exc:  # a damaged file fails the check it broke, never the command
        log.info("report verification stopped at %s", stage[0], exc_info=True)
        verdict.add(*stage, False, f"The file is damaged: {type(exc).__name__}: {exc}")
    return verdict


# --- 1-3: the signature ------------------------------------------------------------------

def _check_signature(verdict: ReportVerdict, sig, file_size: int) -> None:
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.status import SignatureCoverageLevel
    from pyhanko_certvalidator import ValidationContext

    from tracker.reports import keys
    from tracker.reports.signing import outside_event_loop

    ours = keys.our_certificate()
    roots = [c for c in [ours] if c is not None] + keys.trusted_roots()
    context = ValidationContext(trust_roots=roots, allow_fetching=False,
                                revocation_mode="soft-fail")
    try:
        status = outside_event_loop(validate_pdf_signature, sig, context, skip_diff=True)
    except Exception as exc:
        verdict.add("signature", "Signature intact", False,
                    f"The signature could not be checked ({type(exc).__name__}: {exc}).")
        return
    verdict.signer_name = _text(sig.sig_object.get("/Name"))
    when = sig.self_reported_timestamp
    verdict.signed_at = when.astimezone(UTC) if when and when.tzinfo else when
    cert = status.signing_cert
    verdict.certificate = cert.subject.human_friendly
    verdict.certificate_sha256 = keys.fingerprint(cert)
    verdict.add("signature", "Signature intact", status.intact and status.valid,
                "The signed bytes are exactly as signed." if status.intact and status.valid else
                "The signed bytes were changed after signing (digest mismatch)." if not
                status.intact else "The signature value does not match the certificate.")

    start, gap_start, gap_end, end = _byte_range(sig)
    whole = (status.coverage == SignatureCoverageLevel.ENTIRE_FILE and start == 0
             and end == file_size)
    verdict.add("coverage", "Covers the whole file", whole,
                "The signature covers every byte of the file." if whole else
                f"The signature covers bytes 0–{end} of {file_size}: "
                f"{file_size - end} bytes were added after signing.")

    is_ours = ours is not None and cert.sha256 == ours.sha256
    if is_ours:
        verdict.add("certificate", "Certificate ours or trusted", True,
                    f"Signed with this installation's certificate ({verdict.certificate}).")
    elif status.trusted:
        verdict.add("certificate", "Certificate ours or trusted", True,
                    f"{verdict.certificate} chains to a configured trust root.")
    else:
        verdict.add("certificate", "Certificate ours or trusted", False,
                    f"Signed by {verdict.certificate}, which is neither this installation's "
                    "certificate nor under a trust root in SIGNING_TRUST_ROOTS.")
    verdict.ours = is_ours


def _byte_range(sig) -> tuple[int, int, int, int]:
    a, b, c, d = (int(x) for x in sig.sig_object["/ByteRange"])
    return a, a + b, c, c + d


def _text(value) -> str | None:
    return None if value is None else str(value)


# --- 4: the embedded results --------------------------------------------------------------

def _document_info(reader) -> dict:
    try:
        info = reader.trailer["/Info"]
    except (KeyError, TypeError):
        return {}
    return {str(k).lstrip("/").lower(): str(v) for k, v in info.items()}


def embedded_file(reader, name: str) -> bytes | None:
    try:
        tree = reader.root["/Names"]["/EmbeddedFiles"]
    except KeyError:
        return None
    stack = [tree]
    while stack:
        node = stack.pop()
        names = node.get("/Names")
        if names is not None:
            for i in range(0, len(names) - 1, 2):
                if str(names[i]) == name:
                    spec = names[i + 1].get_object()
                    return spec["/EF"]["/F"].get_object().data
        for kid in node.get("/Kids", []):
            stack.append(kid.get_object())
    return None


def _printed_text(data: bytes, pages: int = 1) -> str:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    return "".join(reader.pages[i].extract_text() for i in range(min(pages, len(reader.pages))))


def _check_results(verdict: ReportVerdict, reader, info: dict, data: bytes) -> dict | None:
    label = "Embedded results match the printed hash"
    raw = embedded_file(reader, RESULTS_ATTACHMENT)
    recorded = info.get("readinessresultssha256", "")
    if raw is None:
        verdict.add("results", label, False, f"The PDF has no {RESULTS_ATTACHMENT} attached.")
        return None
    actual = sha256_hex(raw)
    if not re.fullmatch(r"[0-9a-f]{64}", recorded):
        verdict.add("results", label, False, "The PDF does not record the results' hash.")
        return None
    if actual != recorded:
        verdict.add("results", label, False,
                    f"The attached results hash to {actual}, but the report states {recorded}.")
        return None
    try:
        printed = re.sub(r"\s+", "", _printed_text(data))
    except Exception:  # unreadable text is a failed check below, not a crash
        printed = ""
    if recorded not in printed:
        verdict.add("results", label, False,
                    "The hash printed on the cover differs from the attached results' hash.")
        return None
    try:
        results = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        verdict.add("results", label, False, "The attached results are not valid JSON.")
        return None
    if canonical_json(results).encode("utf-8") != raw:
        verdict.add("results", label, False, "The attached results are not canonical JSON.")
        return None
    verdict.add("results", label, True, f"audit-results.json has SHA-256 {actual}, as printed.")
    audit = results.get("audit") or {}
    verdict.audit_id, verdict.team, verdict.period = (audit.get("id"), audit.get("team"),
                                                      audit.get("period"))
    return results


# --- 5: the activity checkpoint -----------------------------------------------------------

CHECKPOINT_LABEL = "Carries a signed activity checkpoint"


def _check_checkpoint(verdict: ReportVerdict, reader, info: dict, results: dict | None) -> None:
    from tracker.activity import audit_chain
    from tracker.activity.checkpoints import ATTACHMENT, CheckpointError, read_checkpoint

    if results is None:
        return
    raw = embedded_file(reader, ATTACHMENT)
    if raw is None:
        verdict.add("checkpoint", CHECKPOINT_LABEL, None,
                    "The report carries no activity checkpoint (made before reports did).")
        return
    try:
        checkpoint = read_checkpoint(raw)
    except CheckpointError as exc:
        verdict.add("checkpoint", CHECKPOINT_LABEL, False, f"The attached checkpoint: {exc}")
        return
    if checkpoint.certificate_sha256 != verdict.certificate_sha256:
        verdict.add("checkpoint", CHECKPOINT_LABEL, False,
                    "The attached checkpoint is signed with a different certificate from the "
                    "report's.")
        return
    chain = audit_chain(verdict.audit_id) if isinstance(verdict.audit_id, int) else "?"
    entry = checkpoint.head_of(chain)
    head = (info.get("readinesschainseq", ""), info.get("readinesschainhead", ""))
    if entry is None or not entry["sealed"] or (str(entry["seq"]), entry["hash"]) != head:
        verdict.add("checkpoint", CHECKPOINT_LABEL, False,
                    f"The attached checkpoint does not have {chain} closed at the head the "
                    f"report records (#{head[0]}).")
        return
    verdict.add("checkpoint", CHECKPOINT_LABEL, True,
                f"{ATTACHMENT}: the heads of {len(checkpoint.chains)} activity chains signed "
                f"at {checkpoint.taken_at}, {chain} closed at #{entry['seq']}; keep it to "
                "check the log with `activity verify --against`.")


# --- 6-7: the audit in this database ------------------------------------------------------

def _check_local_audit(verdict: ReportVerdict, results: dict | None, info: dict,
                       data: bytes) -> None:
    from tracker.activity import audit_chain, verify_chain
    from tracker.audits.models import Audit
    from tracker.extensions import db
    from tracker.reports.canonical import audit_results_hash
    from tracker.reports.queries import signoff_for

    if results is None:
        return
    label = "Matches the stored audit"
    if not verdict.ours:
        verdict.add("audit", label, None, "Signed elsewhere: not compared with this database.")
        return
    audit_id = verdict.audit_id
    audit = db.session.get(Audit, audit_id) if isinstance(audit_id, int) else None
    signoff = signoff_for(audit.id) if audit else None
    if audit is None or signoff is None:
        verdict.add("audit", label, None,
                    f"Audit {audit_id} is not signed off in this database: nothing to compare.")
        return
    embedded = sha256_hex(canonical_json(results))
    now = audit_results_hash(audit)
    problems = []
    if embedded != signoff.audit_sha256:
        problems.append("the results differ from those recorded at sign-off")
    if now != signoff.audit_sha256:
        problems.append("the audit in the database changed after sign-off")
    if signoff.pdf_sha256 and sha256_hex(data) != signoff.pdf_sha256:
        problems.append("the file is not the report issued for this audit")
    verdict.add("audit", label, not problems,
                f"Audit {audit.id} ({audit.team.name} {audit.period}): " +
                ("; ".join(problems) + "." if problems else
                 "same results as at sign-off, and the same file as issued."))

    try:
        seq, head = int(info.get("readinesschainseq", "")), info.get("readinesschainhead", "")
    except ValueError:
        verdict.add("activity", "Activity log intact", False,
                    "The report does not record the activity chain head.")
        return
    problem = verify_chain(audit_chain(audit.id), expected_head=(seq, head))
    if problem is None and (seq, head) != (signoff.chain_seq, signoff.chain_head):
        problem = "the chain head in the report differs from the one recorded at sign-off"
    verdict.add("activity", "Activity log intact", problem is None,
                f"The audit's activity chain verifies through #{seq}, the head at sign-off."
                if problem is None else f"Activity chain: {problem}.")
