"""Load the readiness library from seeds/library/*.yaml, idempotently, by code.

The whole set of files is read and validated before anything is written: a mistake is
reported with its file and line, and the database is left as it was.
"""

from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
import yaml

from tracker import activity
from tracker.extensions import db
from tracker.library.models import (
    ContentKind,
    Criticality,
    Domain,
    FailurePattern,
    HubContent,
    ReadinessItem,
)


class LibraryFileError(ValueError):
    def __init__(self, path: Path, line: int | None, message: str):
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {message}")
        self.path, self.line = path, line


class _LineDict(dict):
    line: int | str | None = None


LineDict = _LineDict  # for other readers (CSV, OSCAL) that build the same documents


class _Loader(yaml.SafeLoader):
    """Remembers the line of every mapping, for error messages."""


def _construct_map(loader: _Loader, node):
    mapping = _LineDict(loader.construct_mapping(node, deep=True))
    mapping.line = node.start_mark.line + 1
    return mapping


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_map)


def _safe_load(text: str):
    """yaml.safe_load with line numbers: _Loader is a SafeLoader subclass."""
    loader = _Loader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


@dataclass
class LoadResult:
    created: int = 0
    updated: int = 0
    deactivated: int = 0
    files: int = 0
    details: list[str] = field(default_factory=list)

    @property
    def changes(self) -> int:
        return self.created + self.updated + self.deactivated


def _text(entry: _LineDict, key: str, path: Path, *, required=True, max_len=None) -> str:
    value = entry.get(key)
    if value is None:
        if required:
            raise LibraryFileError(path, entry.line, f"missing “{key}”")
        return ""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise LibraryFileError(path, entry.line, f"“{key}” must be text")
    value = str(value).strip()
    if required and not value:
        raise LibraryFileError(path, entry.line, f"“{key}” is empty")
    if max_len and len(value) > max_len:
        raise LibraryFileError(path, entry.line, f"“{key}” is longer than {max_len} characters")
    return value


def _list(entry: _LineDict, key: str, path: Path) -> list:
    value = entry.get(key) or []
    if not isinstance(value, list):
        raise LibraryFileError(path, entry.line, f"“{key}” must be a list")
    for child in value:
        if not isinstance(child, dict):
            raise LibraryFileError(path, entry.line, f"each entry of “{key}” must be a mapping")
    return value


def _choice(entry, key, enum_cls, path):
    value = _text(entry, key, path)
    try:
        return enum_cls(value)
    except ValueError:
        allowed = ", ".join(m.value for m in enum_cls)
        raise LibraryFileError(path, entry.line,
                               f"“{key}” is “{value}”; use one of: {allowed}") from None


def read_yaml(path: Path, text: str | None = None) -> list[_LineDict]:
    """The documents of one library YAML file (one domain each; `---` separates several)."""
    try:
        text = path.read_text(encoding="utf-8") if text is None else text
        docs = [d for d in yaml.load_all(text, Loader=_Loader)  # noqa: S506 — SafeLoader subclass
                if d is not None]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise LibraryFileError(path, mark.line + 1 if mark else None,
                               f"not valid YAML: {exc.problem}") from None
    except UnicodeDecodeError:
        raise LibraryFileError(path, None, "not UTF-8 text") from None
    if not docs:
        raise LibraryFileError(path, 1, "a library file is a mapping with code, name, items")
    return docs


def parse_library(directory: Path) -> list[dict]:
    """Read and validate every file; return plain records. Raises LibraryFileError."""
    paths = sorted(directory.glob("*.yaml")) + sorted(directory.glob("*.yml"))
    if not paths:
        raise LibraryFileError(directory, None, "no .yaml files found")
    return parse_documents([(path, doc) for path in paths for doc in read_yaml(path)])


def parse_documents(documents: list[tuple[Path, dict]]) -> list[dict]:
    """Validate domain documents (as read from YAML, or built from CSV rows with the same
    keys and a `line` each); return plain records. Raises LibraryFileError."""
    domains, seen = [], {}

    def claim(code: str, path: Path, line: int | None):
        if code in seen:
            raise LibraryFileError(path, line, f"code {code} is used twice (also in {seen[code]})")
        seen[code] = f"{path.name}:{line}"

    for path, doc in documents:
        if not isinstance(doc, dict):
            raise LibraryFileError(path, 1, "a library file is a mapping with code, name, items")
        code = _text(doc, "code", path, max_len=8)
        claim(code, path, doc.line)
        domain = {
            "code": code, "name": _text(doc, "name", path, max_len=120),
            "summary": _text(doc, "summary", path, required=False),
            "position": doc.get("position", len(domains) + 1),
            "failures": [], "items": [], "content": [],
        }
        if not isinstance(domain["position"], int):
            raise LibraryFileError(path, doc.line, "“position” must be a whole number")
        for f in _list(doc, "failures", path):
            claim(fcode := _text(f, "code", path, max_len=16), path, f.line)
            domain["failures"].append({
                "code": fcode, "title": _text(f, "title", path, max_len=200),
                "symptom": _text(f, "symptom", path, required=False),
                "description": _text(f, "description", path, required=False),
                "pillar": bool(f.get("pillar", False)), "line": f.line,
            })
        for i in _list(doc, "items", path):
            claim(icode := _text(i, "code", path, max_len=16), path, i.line)
            guards = i.get("guards") or []
            if not isinstance(guards, list) or not all(isinstance(g, str) for g in guards):
                raise LibraryFileError(path, i.line, "“guards” must be a list of failure codes")
            required = i.get("evidence_required", True)
            if not isinstance(required, bool):
                raise LibraryFileError(path, i.line, "“evidence_required” must be true or false")
            domain["items"].append({
                "code": icode, "title": _text(i, "title", path, max_len=200),
                "guidance": _text(i, "guidance", path, required=False),
                "evidence_hint": _text(i, "evidence", path, required=False),
                "criticality": _choice(i, "criticality", Criticality, path),
                "evidence_required": required, "guards": guards, "line": i.line,
                "active": bool(i.get("active", True)),
            })
        for c in _list(doc, "content", path):
            claim(ccode := _text(c, "code", path, max_len=16), path, c.line)
            domain["content"].append({
                "code": ccode, "kind": _choice(c, "kind", ContentKind, path),
                "title": _text(c, "title", path, max_len=200),
                "body": _text(c, "body", path, required=False),
            })
        domain["path"] = path
        domains.append(domain)

    failure_codes = {f["code"] for d in domains for f in d["failures"]}
    for d in domains:
        for item in d["items"]:
            for code in item["guards"]:
                if code not in failure_codes:
                    raise LibraryFileError(d["path"], item["line"],
                                           f"{item['code']} guards unknown failure {code}")
    return domains


def _upsert(model, code: str, values: dict, existing: dict, result: LoadResult):
    obj = existing.get(code)
    if obj is None:
        obj = model(code=code, **values)
        db.session.add(obj)
        existing[code] = obj
        result.created += 1
        result.details.append(f"created {code}")
        return obj
    changed = [k for k, v in values.items() if getattr(obj, k) != v]
    for key in changed:
        setattr(obj, key, values[key])
    if changed:
        result.updated += 1
        result.details.append(f"updated {code} ({', '.join(changed)})")
    return obj


def load_library(directory: Path) -> LoadResult:
    """Validate, then write. Flushes; the caller commits."""
    return apply_library(parse_library(directory), source=str(directory))


def apply_library(parsed: list[dict], *, source: str, deactivate_missing: bool = True,
                  actor=None, action: str = "library.load") -> LoadResult:
    """Write validated records (from parse_documents) by code. With `deactivate_missing`
    the records are the whole library: active items they do not list are deactivated.
    An item whose `guards` is None keeps the failures it guards."""
    result = LoadResult(files=len(parsed))
    domains = {d.code: d for d in db.session.execute(sa.select(Domain)).scalars()}
    failures = {f.code: f for f in db.session.execute(sa.select(FailurePattern)).scalars()}
    items = {i.code: i for i in db.session.execute(sa.select(ReadinessItem)).scalars()}
    content = {c.code: c for c in db.session.execute(sa.select(HubContent)).scalars()}

    for d in parsed:
        domain = _upsert(Domain, d["code"], {"name": d["name"], "summary": d["summary"],
                                             "position": d["position"], "active": True},
                         domains, result)
        for f in d["failures"]:
            _upsert(FailurePattern, f["code"], {
                "domain": domain, "title": f["title"], "symptom": f["symptom"],
                "description": f["description"], "pillar": f["pillar"]}, failures, result)
        for c in d["content"]:
            _upsert(HubContent, c["code"], {"domain": domain, "kind": c["kind"],
                                            "title": c["title"], "body": c["body"]},
                    content, result)
    db.session.flush()
    for d in parsed:
        for i in d["items"]:
            item = _upsert(ReadinessItem, i["code"], {
                "domain": domains[d["code"]], "title": i["title"], "guidance": i["guidance"],
                "evidence_hint": i["evidence_hint"], "criticality": i["criticality"],
                "evidence_required": i["evidence_required"], "active": i["active"]},
                items, result)
            if i["guards"] is None:
                continue
            wanted = sorted(i["guards"])
            if sorted(f.code for f in item.failures) != wanted:
                if item.id is not None and f"created {item.code}" not in result.details:
                    result.updated += 1
                    result.details.append(f"updated {item.code} (guards)")
                item.failures = [failures[code] for code in wanted]

    listed = {i["code"] for d in parsed for i in d["items"]}
    for code, item in items.items():
        if deactivate_missing and code not in listed and item.active:
            item.active = False
            result.deactivated += 1
            result.details.append(f"deactivated {code} (no longer in the library files)")
    db.session.flush()
    if result.changes:
        activity.record(actor, action, chain="library", subject=source[-120:],
                        after={"created": result.created, "updated": result.updated,
                               "deactivated": result.deactivated})
    return result
