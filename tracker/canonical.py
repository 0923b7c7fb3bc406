"""Canonical JSON: the one byte representation that hashes and signatures are made over.

UTF-8, keys sorted, no insignificant whitespace, no NaN; dates as ISO 8601 strings.
"""

import enum
import hashlib
import json
from datetime import date, datetime


def _default(value):
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def canonical_json(value) -> str:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
        allow_nan=False, default=_default,
    )


def sha256_hex(data: str | bytes) -> str:
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()
