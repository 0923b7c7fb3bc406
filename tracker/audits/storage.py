"""Evidence files: type checked from the content, stored outside the web root under their
SHA-256, and only ever served back as attachments."""

import errno
import hashlib
import logging
import os
import re
import tempfile
import time
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path

from flask import current_app

from tracker.rules import Refusal, RuleViolation

CHUNK = 64 * 1024
log = logging.getLogger("tracker")

# Detected type → (MIME type, the file-name endings that may carry it).
ALLOWED_TYPES = {
    "pdf": ("application/pdf", {".pdf"}),
    "png": ("image/png", {".png"}),
    "jpeg": ("image/jpeg", {".jpg", ".jpeg"}),
    "gif": ("image/gif", {".gif"}),
    "webp": ("image/webp", {".webp"}),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", {".docx"}),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", {".xlsx"}),
    "pptx": ("application/vnd.openxmlformats-officedocument.presentationml.presentation",
             {".pptx"}),
    "text": ("text/plain", {".txt", ".log", ".md", ".csv", ".json", ".yaml", ".yml", ""}),
}
ALLOWED_DESCRIPTION = "PDF, PNG, JPEG, GIF, WebP, Word, Excel, PowerPoint or plain text"


class EvidenceRejected(RuleViolation):
    """An upload we refuse; the message says what to do instead. `reason` is "too_large",
    "empty" or "type", so the API can answer 413, 422 or 415."""

    STATUSES = {"too_large": (413, "too_large"), "type": (415, "unsupported_file_type"),
                "empty": (422, "rule_violation")}

    def __init__(self, message: str, reason: str):
        super().__init__(message, "file")
        self.reason = reason
        self.status, self.code = self.STATUSES[reason]


class StorageUnavailable(Refusal):
    """The evidence store cannot take the file: the disk (or quota) is full, or it is
    mounted read-only. 507 Insufficient Storage; nothing is saved."""

    status = 507
    code = "storage_full"

    @classmethod
    def from_os_error(cls, exc: OSError) -> "StorageUnavailable":
        log.error("evidence store %s: %s", current_app.config["EVIDENCE_DIR"], exc)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return cls("The evidence storage is full, so the file was not saved and nothing "
                       "changed. Attach a link or a note for now, and tell an admin: the "
                       "evidence folder needs more space.")
        refusal = cls("The evidence storage is read-only at the moment, so the file was not "
                      "saved and nothing changed. Attach a link or a note for now, and tell "
                      "an admin: the evidence folder cannot be written.")
        refusal.code = "storage_read_only"
        return refusal


# Errors that say the store cannot take a file, as opposed to a bug: answered with 507.
_STORAGE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}


@dataclass
class StoredFile:
    sha256: str
    size: int
    content_type: str
    filename: str


def format_size(size: int) -> str:
    """1536 → "1.5 KB", 20 * 1024 * 1024 → "20 MB": for limits in messages."""
    for unit, scale in (("MB", 1024 * 1024), ("KB", 1024)):
        if size >= scale:
            return f"{size / scale:.1f}".removesuffix(".0") + f" {unit}"
    return f"{size} bytes"


def size_limit_message(limit: int) -> str:
    return (f"The file is larger than the {format_size(limit)} limit. Upload a smaller file, "
            "or attach a link to where it is kept.")


def evidence_dir() -> Path:
    path = Path(current_app.config["EVIDENCE_DIR"])
    path.mkdir(parents=True, exist_ok=True)
    return path


def evidence_path(sha256: str) -> Path:
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise ValueError("not a SHA-256")
    return evidence_dir() / sha256[:2] / sha256


def clean_filename(name: str | None) -> str:
    """A display name: the last path component, printable, at most 200 characters."""
    name = unicodedata.normalize("NFC", name or "")
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '"<>:|?*')
    name = name.strip(" .")
    if len(name) > 200:  # shorten the stem, keep the ending the type check reads
        suffix = Path(name).suffix[:16]
        name = name[:200 - len(suffix)].rstrip(" .") + suffix
    return name or "evidence"


def sniff(head: bytes, path: Path) -> str | None:
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head.startswith(b"PK\x03\x04"):
        return _office_kind(path)
    return "text" if _is_plain_text(head) else None


def _office_kind(path: Path) -> str | None:
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except zipfile.BadZipFile:
        return None
    if "[Content_Types].xml" not in names:
        return None
    for prefix, kind in (("word/", "docx"), ("xl/", "xlsx"), ("ppt/", "pptx")):
        if any(n.startswith(prefix) for n in names):
            return kind
    return None


_MARKUP = re.compile(rb"<\s*(!doctype|html|script|svg|iframe|body|head|\?xml)", re.I)


def _is_plain_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:  # a multi-byte character cut at the sniff boundary
        if exc.start < len(head) - 4:
            return False
    # Markup would render as a page if anything ever served it inline: refuse it outright.
    return not _MARKUP.search(head)


def store_upload(stream, filename: str | None) -> StoredFile:
    """Copy an upload to the evidence store, checking size and type on the way.

    The file is written to a temporary name, fsynced, and renamed over `<sha[:2]>/<sha>` —
    also when that content is already stored, so the stored file's mtime is always the
    latest upload's and `evidence prune` (which spares young files) cannot remove it between
    this store and the commit of the row that refers to it. A full or read-only store is
    refused with StorageUnavailable (507), leaving no temporary file behind."""
    try:
        return _store(stream, filename)
    except OSError as exc:
        if exc.errno in _STORAGE_ERRNOS:
            raise StorageUnavailable.from_os_error(exc) from exc
        raise


def _store(stream, filename: str | None) -> StoredFile:
    limit = current_app.config["MAX_EVIDENCE_BYTES"]
    name = clean_filename(filename)
    digest, size = hashlib.sha256(), 0
    store = evidence_dir()
    fd, tmp_name = tempfile.mkstemp(dir=store, prefix=".upload-")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise EvidenceRejected(size_limit_message(limit), "too_large")
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())  # the content is on disk before its name is
        if size == 0:
            raise EvidenceRejected("The file is empty. Choose the file again and re-upload it.",
                                   "empty")
        with tmp.open("rb") as fh:
            head = fh.read(8192)
        kind = sniff(head, tmp)
        if kind is None:
            raise EvidenceRejected(
                f"This kind of file is not accepted as evidence. Upload a {ALLOWED_DESCRIPTION} "
                "file, or attach a link instead.", "type"
            )
        content_type, endings = ALLOWED_TYPES[kind]
        ending = Path(name).suffix.lower()
        if ending not in endings:
            raise EvidenceRejected(
                f"The file's name ends in “{ending or '(nothing)'}” but its content is "
                f"{kind.upper()}. Rename it to end in {sorted(e for e in endings if e)[0]} "
                "and upload it again.", "type"
            )
        sha = digest.hexdigest()
        final = evidence_path(sha)
        final.parent.mkdir(exist_ok=True)
        # Same content already stored or not: the fresh copy takes its place (identical
        # bytes), which makes the stored file as young as this upload.
        os.replace(tmp, final)
        _fsync_dir(final.parent)
        return StoredFile(sha256=sha, size=size, content_type=content_type, filename=name)
    finally:
        tmp.unlink(missing_ok=True)


def _fsync_dir(path: Path) -> None:
    """Make a rename in `path` durable (POSIX: the directory entry is the directory's data)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Swept:
    removed: list[Path]
    size: int  # bytes removed (or that would be)
    kept: int  # stored files that evidence refers to


def sweep_unreferenced(referenced: set[str], *, older_than_seconds: float,
                       dry_run: bool = False) -> Swept:
    """Remove stored files that no evidence refers to: an upload whose save was refused or
    rolled back after its file was stored (files are shared by content, so only a sweep can
    tell), and temporary files a crashed upload left. A file younger than
    `older_than_seconds` stays: an upload in flight stores its file before it commits."""
    store, cutoff = evidence_dir(), time.time() - older_than_seconds
    removed, size, kept = [], 0, 0
    for path in sorted(store.glob("*/*")) + sorted(store.glob(".upload-*")):
        if path.name.startswith(".prune-"):
            continue
        if path.name in referenced:
            kept += 1
            continue
        stat = path.stat()
        if not path.is_file() or stat.st_mtime > cutoff:
            continue
        if not dry_run and not _remove_if_still_old(path, cutoff):
            continue
        removed.append(path)
        size += stat.st_size
    return Swept(removed=removed, size=size, kept=kept)


def _remove_if_still_old(path: Path, cutoff: float) -> bool:
    """Remove `path` unless an upload renewed it since it was looked at. The file is first
    moved aside (atomic), then its age is read again: an upload that replaced it in between
    made it young, and it is put back (unless a newer upload already did so)."""
    aside = path.with_name(f".prune-{path.name}")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return False
    if aside.stat().st_mtime > cutoff:
        try:
            os.link(aside, path)
        except FileExistsError:
            pass  # a newer upload stored the same content again
        aside.unlink()
        return False
    aside.unlink()
    return True
