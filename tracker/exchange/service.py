"""Importing an uploaded library file, whichever of the formats it is in, after a preview
of what it will change."""

import hashlib
import json
import re
from pathlib import Path

from tracker.exchange import library_io, oscal
from tracker.extensions import db
from tracker.library.seeding import LoadResult

_OSCAL_YAML = re.compile(rb"^catalog:\s*$", re.MULTILINE)


def is_catalog(name: str, data: bytes) -> bool:
    """An OSCAL catalog (JSON, YAML, or XML to refuse with a hint) rather than a library
    file: by its name, and for YAML by its top-level `catalog:`."""
    suffix = Path(name).suffix.lower()
    return suffix in (".json", ".xml") or (
        suffix in (".yaml", ".yml") and _OSCAL_YAML.search(data[:4096]) is not None)


def import_file(actor, name: str, data: bytes, *, record: bool = True) -> LoadResult:
    """A .yaml/.yml/.csv/.xlsx library file replaces each namespace it names (the seed
    library unless it says otherwise); an OSCAL catalog adds to its own namespace.
    Raises LibraryFileError naming the line or field, before anything is written."""
    if is_catalog(name, data):
        return oscal.import_catalog(actor, oscal.parse_catalog(name, data), name,
                                    record=record)
    parsed = library_io.parse_library_file(name, data)
    if not record:
        return library_io.apply_library(parsed, source=name, record=False)
    return library_io.import_library(actor, parsed, name)


def preview_file(name: str, data: bytes) -> tuple[LoadResult, str]:
    """What importing the file would change, and a digest of it; nothing is kept. The
    confirmation carries the digest back, so an import that would now do something else
    (the library changed in between) is shown again instead of applied."""
    try:
        result = import_file(None, name, data, record=False)
        return result, change_digest(result, data)
    finally:
        db.session.rollback()


def change_digest(result: LoadResult, data: bytes) -> str:
    changes = [(c.action, c.kind, c.namespace, c.code, c.fields) for c in result.changed]
    return hashlib.sha256(hashlib.sha256(data).digest() + json.dumps(
        changes, sort_keys=True, default=str).encode()).hexdigest()
