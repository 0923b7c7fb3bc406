"""Signed checkpoints: the organisation's signature over every activity chain's head.

The hash chains catch an edited or removed row, but not someone who rewrites the database
consistently — removes the newest rows and moves the head back, removes a chain with its head,
or edits a row and recomputes every later hash (the hashes are unkeyed). A checkpoint kept
outside the database catches each of these: the chains must still pass through the heads it
signed. It is taken at every sign-off (the report carries it) and daily (`flask --app app
activity checkpoint`, from cron), and anyone can keep the file and check its signature with
the published certificate (/.well-known/readiness-tracker/signing-cert.pem).

Why the set of heads and not a Merkle root over all events (RFC 6962): each head is already
the one row its chain's writers lock, so one statement reads a consistent set of them while
other teams keep writing; a log over every event would need one global order, and event ids
commit out of order on PostgreSQL — giving them an order means a lock every writer in the
app waits on. The heads also name what broke ("audit:42 #17 …"). The cost is size: one entry
(~110 bytes) per chain, per checkpoint.

The file (format FORMAT), UTF-8 JSON:

    {"format": FORMAT,
     "statement": "<canonical JSON, the exact bytes signed>",
     "signature": {"algorithm": "RSA-PKCS1v15-SHA256" | "ECDSA-SHA256", "value": "<base64>"},
     "certificate": "<PEM of the signing certificate>",
     "certificate_sha256": "AB:CD:…"}

and the statement, an object: format, organisation, taken_at (ISO 8601 UTC), reason
(sign-off, scheduled, manual), audit_id (the audit a sign-off checkpoint was taken for, else
null), certificate_sha256 (as above), and chains: every chain sorted by name, each
{"chain", "seq", "hash", "sealed"} — sealed when its newest event is its audit's sign-off (a
signed-off audit is frozen, so nothing may follow).

Checking it without this app:
    jq -j .statement cp.json > statement.json
    jq -r .signature.value cp.json | base64 -d > statement.sig
    openssl x509 -in signing-cert.pem -pubkey -noout > public.pem
    openssl dgst -sha256 -verify public.pem -signature statement.sig statement.json
"""

import base64
import io
import json
import logging
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import current_app

from tracker.activity.chain import ChainProblem, verify_chain
from tracker.activity.models import (
    ActivityChainHead,
    ActivityEvent,
    Checkpoint,
    CheckpointReason,
)
from tracker.canonical import canonical_json, sha256_hex
from tracker.db import utcnow
from tracker.extensions import db
from tracker.transactions import begin_write

log = logging.getLogger(__name__)

FORMAT = "readiness-tracker/activity-checkpoint/v1"
ATTACHMENT = "activity-checkpoint.json"  # its name inside a signed report
SEALING_ACTION = "audit.sign_off"


class CheckpointError(ValueError):
    """The file is not a checkpoint this installation signed; the message says why."""


def chain_heads() -> list[dict]:
    """Every chain's head, and whether it is sealed, in one statement (one snapshot)."""
    rows = db.session.execute(
        sa.select(ActivityChainHead.chain, ActivityChainHead.seq, ActivityChainHead.hash,
                  ActivityEvent.action)
        .outerjoin(ActivityEvent, sa.and_(ActivityEvent.chain == ActivityChainHead.chain,
                                          ActivityEvent.seq == ActivityChainHead.seq))
        .order_by(ActivityChainHead.chain)).all()
    return [{"chain": chain, "seq": seq, "hash": hash_, "sealed": action == SEALING_ACTION}
            for chain, seq, hash_, action in rows]


def take_checkpoint(reason: CheckpointReason, audit_id: int | None = None) -> Checkpoint:
    """Sign every chain's head now and store the signed file. Flushes, never commits.

    On SQLite the heads are read under the write lock; on PostgreSQL in one statement, so a
    transaction still open elsewhere is simply after this checkpoint.
    """
    from tracker.reports import keys

    begin_write()
    taken_at = utcnow()
    heads = chain_heads()
    cert = keys.load_signer().signing_cert
    statement = canonical_json({
        "format": FORMAT, "organisation": current_app.config["ORGANISATION_NAME"],
        "taken_at": taken_at.isoformat() + "Z", "reason": reason.value, "audit_id": audit_id,
        "certificate_sha256": keys.fingerprint(cert), "chains": heads,
    })
    algorithm, signature, cert = keys.sign_bytes(statement.encode("utf-8"))
    document = json.dumps({
        "format": FORMAT, "statement": statement,
        "signature": {"algorithm": algorithm, "value": base64.b64encode(signature).decode()},
        "certificate": keys.certificate_pem(cert),
        "certificate_sha256": keys.fingerprint(cert),
    }, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    checkpoint = Checkpoint(taken_at=taken_at, reason=reason, audit_id=audit_id,
                            chain_count=len(heads), statement_sha256=sha256_hex(statement),
                            document=document)
    db.session.add(checkpoint)
    db.session.flush()
    return checkpoint


def checkpoint_for_audit(audit_id: int) -> Checkpoint | None:
    """The checkpoint its sign-off took: the one its report carries."""
    return db.session.execute(
        sa.select(Checkpoint).where(Checkpoint.audit_id == audit_id)
        .order_by(Checkpoint.id).limit(1)).scalar_one_or_none()


def latest_checkpoint() -> Checkpoint | None:
    return db.session.execute(
        sa.select(Checkpoint).order_by(Checkpoint.id.desc()).limit(1)).scalar_one_or_none()


# --- reading and checking a kept file -------------------------------------------------------

@dataclass
class SignedCheckpoint:
    statement: dict
    certificate_sha256: str
    ours: bool  # signed with this installation's certificate (or one under a trust root)

    @property
    def taken_at(self) -> str:
        return self.statement["taken_at"]

    @property
    def chains(self) -> list[dict]:
        return self.statement["chains"]

    def head_of(self, chain: str) -> dict | None:
        return next((c for c in self.chains if c["chain"] == chain), None)


def read_checkpoint(text: str | bytes) -> SignedCheckpoint:
    """Parse a checkpoint file and check its signature; CheckpointError says what is wrong."""
    from cryptography import x509

    from tracker.reports import keys

    try:
        doc = json.loads(text)
        statement_text, cert_pem = doc["statement"], doc["certificate"]
        algorithm = doc["signature"]["algorithm"]
        signature = base64.b64decode(doc["signature"]["value"], validate=True)
        statement = json.loads(statement_text)
        cert = x509.load_pem_x509_certificate(cert_pem.encode("ascii"))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CheckpointError(f"This is not a checkpoint file ({type(exc).__name__}: {exc}).")\
            from None
    if doc.get("format") != FORMAT or statement.get("format") != FORMAT:
        raise CheckpointError(f"Unknown format {doc.get('format')!r}; expected {FORMAT}.")
    if not keys.verify_bytes(cert_pem, algorithm, statement_text.encode("utf-8"), signature):
        raise CheckpointError("The signature does not match the statement: the file was "
                              "changed after it was signed.")
    fingerprint = ":".join(f"{b:02X}" for b in cert.fingerprint(_sha256()))
    if statement.get("certificate_sha256") != fingerprint:
        raise CheckpointError("The statement names a different certificate from the one "
                              "that signed it.")
    ours = keys.our_certificate()
    trusted = {keys.fingerprint(c) for c in [ours, *keys.trusted_roots()] if c is not None}
    return SignedCheckpoint(statement, fingerprint, fingerprint in trusted)


def _sha256():
    from cryptography.hazmat.primitives import hashes

    return hashes.SHA256()


def checkpoint_from_report(pdf: bytes) -> str | None:
    """The checkpoint a signed report carries, or None."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    from tracker.reports.verify import embedded_file

    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    data = embedded_file(reader, ATTACHMENT)
    return None if data is None else data.decode("utf-8")


@dataclass
class AgainstResult:
    checkpoint: SignedCheckpoint
    checked: int = 0  # chains the checkpoint names
    problems: list[ChainProblem] = field(default_factory=list)
    newer: list[str] = field(default_factory=list)  # chains with rows after the checkpoint
    new_chains: int = 0  # chains started after it (verified on their own)


def verify_against(checkpoint: SignedCheckpoint) -> AgainstResult:
    """Every chain the checkpoint names must still pass through its signed head (and end
    there, when sealed); chains started since verify on their own."""
    result = AgainstResult(checkpoint)
    named = set()
    for entry in checkpoint.chains:
        chain, seq, hash_ = entry["chain"], int(entry["seq"]), entry["hash"]
        named.add(chain)
        result.checked += 1
        problem = verify_chain(chain, anchor=(seq, hash_), sealed=bool(entry["sealed"]))
        if problem:
            result.problems.append(problem)
            continue
        head = db.session.get(ActivityChainHead, chain)
        if head is not None and head.seq > seq:
            result.newer.append(chain)
    others = set(db.session.execute(sa.select(ActivityChainHead.chain)).scalars())
    others |= set(db.session.execute(sa.select(ActivityEvent.chain).distinct()).scalars())
    for chain in sorted(others - named):
        result.new_chains += 1
        if problem := verify_chain(chain):
            result.problems.append(problem)
    return result
