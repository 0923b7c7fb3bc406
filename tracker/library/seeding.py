"""Load the readiness library from seeds/library/*.yaml, idempotently, by code.

The whole set of files is read and validated before anything is written: a mistake is
reported with its file and line, and the database is left as it was.
"""

import re
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
import yaml

from tracker import activity
from tracker.extensions import db
from tracker.library.models import (
    SEED_SOURCE,
    Cadence,
    ContentKind,
    Criticality,
    Domain,
    FailurePattern,
    HubContent,
    LibrarySource,
    ReadinessItem,
    SourceKind,
    seed_source,
)

NAMESPACE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,79}$")


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
class Change:
    """One added, updated or deactivated entry, with its changed fields (before, after)."""

    action: str  # added | updated | deactivated
    kind: str    # domain | failure | item | content
    code: str
    namespace: str
    title: str
    fields: list[tuple[str, str, str]] = field(default_factory=list)


@dataclass
class LoadResult:
    created: int = 0
    updated: int = 0
    deactivated: int = 0
    files: int = 0
    details: list[str] = field(default_factory=list)
    changed: list[Change] = field(default_factory=list)

    @property
    def changes(self) -> int:
        return self.created + self.updated + self.deactivated

    def summary(self) -> str:
        return (f"{self.changes} changes ({self.created} created, {self.updated} updated, "
                f"{self.deactivated} deactivated)")


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

    def claim(code: str, path: Path, line: int | None, namespace: str = ""):
        if (namespace, code) in seen:
            raise LibraryFileError(path, line, f"code {code} is used twice (also in "
                                   f"{seen[namespace, code]})")
        seen[namespace, code] = f"{path.name}:{line}"

    for path, doc in documents:
        if not isinstance(doc, dict):
            raise LibraryFileError(path, 1, "a library file is a mapping with code, name, items")
        code = _text(doc, "code", path, max_len=8)
        namespace = _text(doc, "namespace", path, required=False) or SEED_SOURCE
        if not NAMESPACE.match(namespace):
            raise LibraryFileError(path, doc.line, f"“namespace” is “{namespace}”; use up to 80 "
                                   "lower-case letters, digits, dots, dashes or underscores")
        claim(code, path, doc.line, namespace)
        domain = {
            "code": code, "name": _text(doc, "name", path, max_len=120),
            "namespace": namespace,
            "source_title": str(doc.get("source_title") or ""),
            "source_kind": doc.get("source_kind") or (
                SourceKind.SEED if namespace == SEED_SOURCE else SourceKind.FILE),
            "own_export": bool(doc.get("own_export", False)),
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
            claim(icode := _text(i, "code", path, max_len=16), path, i.line, namespace)
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
                # How long its evidence stays valid; files from before cadences are quarterly.
                "cadence": (_choice(i, "cadence", Cadence, path) if i.get("cadence")
                            else Cadence.QUARTERLY),
                **({"sort_key": str(i["sort_key"])[:40]} if i.get("sort_key") else {}),
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


def _shown(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Domain):
        return value.code
    return "" if value is None else str(getattr(value, "value", value))


def _upsert(model, kind: str, code: str, namespace: str, values: dict, existing: dict,
            result: LoadResult):
    obj = existing.get(code)
    if obj is None:
        obj = model(code=code, **values)
        db.session.add(obj)
        existing[code] = obj
        result.created += 1
        result.details.append(f"created {code}")
        result.changed.append(Change("added", kind, code, namespace,
                                     values.get("title") or values.get("name", "")))
        return obj
    changed = [k for k, v in values.items() if getattr(obj, k) != v]
    fields = [(k, _shown(getattr(obj, k)), _shown(values[k])) for k in changed]
    for key in changed:
        setattr(obj, key, values[key])
    if changed:
        result.updated += 1
        result.details.append(f"updated {code} ({', '.join(changed)})")
        result.changed.append(Change("updated", kind, code, namespace,
                                     values.get("title") or values.get("name", ""), fields))
    return obj


def load_library(directory: Path) -> LoadResult:
    """Validate, then write. Flushes; the caller commits."""
    return apply_library(parse_library(directory), source=str(directory))


def _sources(parsed: list[dict]) -> dict[str, LibrarySource]:
    """The sources the records go into, created when new; a clash is a LibraryFileError.

    A record may claim an existing source only if it comes from it: the library's own
    files and exports name their namespace, and a catalog is its source's catalog when the
    titles agree. Anything else would take over another source's items."""
    wanted: dict[str, dict] = {}
    for d in parsed:
        wanted.setdefault(d["namespace"], d)
    existing = {s.key: s for s in db.session.execute(
        sa.select(LibrarySource).where(LibrarySource.key.in_(wanted))).scalars()}
    sources = {}
    for key, d in wanted.items():
        source = existing.get(key)
        title = d["source_title"] or ("Readiness library" if key == SEED_SOURCE else key)
        if source is None:
            if key == SEED_SOURCE:
                source = seed_source(db.session)
            else:
                source = LibrarySource(key=key, title=title[:250], kind=d["source_kind"])
                db.session.add(source)
        elif (d["source_kind"] == SourceKind.CATALOG and not d.get("own_export")
              and (source.kind != SourceKind.CATALOG or source.title != title[:250])):
            what = ("the seed library" if source.kind == SourceKind.SEED
                    else f"“{source.title}”")
            raise LibraryFileError(d["path"], d.get("line"), (
                f"the namespace “{key}” already holds {what}; this catalog is “{title}”. "
                "Import it into a namespace of its own (leave out the namespace, or choose "
                "a new one): an import never moves items from one source to another"))
        sources[key] = source
    return sources


def apply_library(parsed: list[dict], *, source: str, deactivate_missing: bool = True,
                  actor=None, action: str = "library.load", record: bool = True
                  ) -> LoadResult:
    """Write validated records (from parse_documents) by namespace and code. Each record
    goes into its namespace's source; codes match only within that source, so no item ever
    moves to another source. With `deactivate_missing` the records are the whole of each
    namespace they name: that namespace's active items they do not list are deactivated.
    An item whose `guards` is None keeps the failures it guards. With `record=False`
    (a preview, rolled back by the caller) no activity event is written."""
    result = LoadResult(files=len(parsed))
    sources = _sources(parsed)
    db.session.flush()
    source_ids = [s.id for s in sources.values()]
    domains: dict[int, dict[str, Domain]] = {sid: {} for sid in source_ids}
    for d in db.session.execute(sa.select(Domain).where(Domain.source_id.in_(source_ids))
                                ).scalars():
        domains[d.source_id][d.code] = d
    items: dict[int, dict[str, ReadinessItem]] = {sid: {} for sid in source_ids}
    for i in db.session.execute(sa.select(ReadinessItem)
                                .where(ReadinessItem.source_id.in_(source_ids))).scalars():
        items[i.source_id][i.code] = i
    failures = {f.code: f for f in db.session.execute(sa.select(FailurePattern)).scalars()}
    content = {c.code: c for c in db.session.execute(sa.select(HubContent)).scalars()}

    for d in parsed:
        ns, src = d["namespace"], sources[d["namespace"]]
        domain = _upsert(Domain, "domain", d["code"], ns, {
            "name": d["name"], "summary": d["summary"], "position": d["position"],
            "active": True, "source": src}, domains[src.id], result)
        for f in d["failures"]:
            _upsert(FailurePattern, "failure", f["code"], ns, {
                "domain": domain, "title": f["title"], "symptom": f["symptom"],
                "description": f["description"], "pillar": f["pillar"]}, failures, result)
        for c in d["content"]:
            _upsert(HubContent, "content", c["code"], ns, {
                "domain": domain, "kind": c["kind"], "title": c["title"], "body": c["body"]},
                content, result)
    db.session.flush()
    for d in parsed:
        ns, src = d["namespace"], sources[d["namespace"]]
        for i in d["items"]:
            item = _upsert(ReadinessItem, "item", i["code"], ns, {
                "domain": domains[src.id][d["code"]], "title": i["title"],
                "guidance": i["guidance"], "evidence_hint": i["evidence_hint"],
                "criticality": i["criticality"], "evidence_required": i["evidence_required"],
                "cadence": i.get("cadence", Cadence.QUARTERLY), "active": i["active"],
                **({"sort_key": i["sort_key"]} if "sort_key" in i else {})},
                items[src.id], result)
            if i["guards"] is None:
                continue
            wanted = sorted(i["guards"])
            before = sorted(f.code for f in item.failures) if item.id is not None else []
            if before != wanted:
                if item.id is not None and f"created {item.code}" not in result.details:
                    change = next((c for c in result.changed if c.kind == "item"
                                   and c.code == item.code and c.namespace == ns), None)
                    if change is None:  # otherwise counted already, for its other fields
                        result.updated += 1
                        change = Change("updated", "item", item.code, ns, item.title)
                        result.changed.append(change)
                    result.details.append(f"updated {item.code} (guards)")
                    change.fields.append(("guards", " ".join(before), " ".join(wanted)))
                item.failures = [failures[code] for code in wanted]

    listed = {(d["namespace"], i["code"]) for d in parsed for i in d["items"]}
    for key, src in sources.items():
        for code, item in items[src.id].items():
            if deactivate_missing and (key, code) not in listed and item.active:
                item.active = False
                result.deactivated += 1
                result.details.append(f"deactivated {code} (no longer in the library files)")
                result.changed.append(Change("deactivated", "item", code, key, item.title,
                                             [("active", "yes", "no")]))
    db.session.flush()
    if result.changes and record:
        activity.record(actor, action, chain="library", subject=source[-120:],
                        after={"created": result.created, "updated": result.updated,
                               "deactivated": result.deactivated})
    return result
