import gzip
import json
from pathlib import Path

import jsonschema
import pytest
import regex
import sqlalchemy as sa

from tracker.extensions import db
from tracker.library.models import Domain, FailurePattern, HubContent, ReadinessItem, item_failures

FIXTURES = Path(__file__).parent / "fixtures"


def library_counts() -> tuple:
    return tuple(db.session.execute(sa.select(sa.func.count()).select_from(m)).scalar()
                 for m in (Domain, FailurePattern, ReadinessItem, HubContent))


@pytest.fixture
def wipe_library(app):
    """Empty the library, as a fresh database would have it (no audits refer to it here)."""
    def wipe():
        for table in (item_failures, ReadinessItem.__table__, FailurePattern.__table__,
                      HubContent.__table__, Domain.__table__):
            db.session.execute(sa.delete(table))
        db.session.commit()
        assert library_counts() == (0, 0, 0, 0)
    return wipe


@pytest.fixture
def mini_catalog() -> bytes:
    return (FIXTURES / "mini-catalog.json").read_bytes()


NIST = FIXTURES / "nist"  # trimmed from NIST's files: see nist/trim.py
SCHEMAS = FIXTURES / "schemas"  # NIST's released OSCAL JSON schemas, as published


def nist(name: str) -> bytes:
    """A NIST fixture's bytes (the big ones are stored gzipped)."""
    path = NIST / name
    return gzip.decompress(path.with_name(path.name + ".gz").read_bytes()) \
        if not path.exists() else path.read_bytes()


def _pattern(validator, pattern, instance, schema):
    """NIST's patterns use \\p{L}, which `re` lacks: check them with `regex`."""
    if validator.is_type(instance, "string") and not regex.search(pattern, instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


OscalValidator = jsonschema.validators.extend(jsonschema.Draft7Validator, {"pattern": _pattern})


def assert_valid_oscal(doc: dict, model: str) -> None:
    """Valid against each of NIST's schema versions kept in fixtures/schemas."""
    versions = sorted(p.name for p in SCHEMAS.iterdir())
    assert versions == ["1.1.2", "1.2.1"]
    for version in versions:
        schema = json.loads((SCHEMAS / version / f"oscal_{model}_schema.json").read_text())
        errors = sorted(OscalValidator(schema).iter_errors(doc), key=lambda e: list(e.path))
        assert not errors, f"OSCAL {version}: " + "; ".join(
            f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in errors[:5])
