"""NIST OSCAL (1.1): the library as a catalog, in and out, and a signed-off audit as
assessment results.

Catalog import: groups → domains, controls (and their enhancements) → readiness items,
statement and guidance parts → guidance, assessment-objective parts → the evidence hint.
A control's `label` prop gives its code (else its id in capitals); criticality comes from
our own `criticality` prop or NIST's `priority` (P1 critical, P2 high, P3 normal); a
`status` prop of `withdrawn` makes the item inactive. The whole file is checked first and
each error names its JSON path. Import adds and updates by code and never deactivates what
the catalog leaves out, so a catalog can be added next to the library.

Exports are deterministic — UUIDs are derived from the content (version 5) — so exporting
twice, or export → import → export, gives identical bytes.
"""

import base64
import json
import os
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
import yaml
from sqlalchemy.orm import selectinload

from tracker.activity import ActivityEvent
from tracker.audits.models import Audit, ItemStatus
from tracker.canonical import sha256_hex
from tracker.extensions import db
from tracker.library.models import Cadence, Domain, LibrarySource, SourceKind
from tracker.library.seeding import (
    NAMESPACE,
    SEED_SOURCE,
    LibraryFileError,
    LineDict,
    LoadResult,
    apply_library,
    parse_documents,
)
from tracker.reports.canonical import audit_results
from tracker.reports.models import SignOff

OSCAL_VERSION = "1.1.2"
NS = "urn:readiness-tracker:oscal"  # our props; OSCAL wants a URI for a non-NIST namespace
UUID_NS = uuid.UUID("5b0e5a52-9a7e-4d5e-8a4e-3f0c6e6a9d11")
PRIORITY = {"P0": "critical", "P1": "critical", "P2": "high", "P3": "normal"}
TOKEN = re.compile(r"^[A-Za-z_][A-Za-z0-9._-]*$")
PARAM = re.compile(r"\{\{\s*insert:\s*param,\s*([^}\s]+)\s*\}\}")


def _uuid(*parts: str) -> str:
    return str(uuid.uuid5(UUID_NS, "/".join(parts)))


def _timestamp(value: datetime) -> str:
    return value.replace(tzinfo=UTC, microsecond=0).isoformat().replace("+00:00", "Z")


def _token(code: str) -> str:
    token = re.sub(r"[^A-Za-z0-9._-]", "_", code.lower())
    return token if TOKEN.match(token) else f"_{token}"


def _prop(name: str, value, ns: str | None = NS) -> dict:
    prop = {"name": name, "value": str(value)}
    if ns:
        prop["ns"] = ns
    return prop


def _dumps(doc: dict) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


# --- catalog export -------------------------------------------------------------------

def library_last_modified() -> datetime:
    """SOURCE_DATE_EPOCH when set (reproducible builds), else the library's last change."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        return datetime.fromtimestamp(int(epoch), UTC).replace(tzinfo=None)
    newest = db.session.execute(
        sa.select(sa.func.max(ActivityEvent.created_at)).where(ActivityEvent.chain == "library")
    ).scalar()
    return newest or datetime(2000, 1, 1)


ENHANCEMENT = re.compile(r"^(.+)\((\d+)\)$")  # AC-2(1) enhances AC-2


def _control(i, prefix: str) -> dict:
    cid = prefix + _token(i.code)
    props = [_prop("label", i.code, None)]
    if i.sort_key:
        props.append(_prop("sort-id", i.sort_key, None))
    props += [_prop("criticality", i.criticality.value),
              _prop("evidence-required", "true" if i.evidence_required else "false")]
    if i.cadence != Cadence.QUARTERLY:  # the default stays unwritten, as in the YAML
        props.append(_prop("cadence", i.cadence.value))
    if not i.active:
        props.append(_prop("status", "withdrawn", None))
    control = {"id": cid, "class": "readiness-item", "title": i.title, "props": props}
    parts = []
    if i.guidance:
        parts.append({"id": f"{cid}_smt", "name": "statement", "prose": i.guidance})
    if i.evidence_hint:
        parts.append({"id": f"{cid}_obj", "name": "assessment-objective",
                      "prose": i.evidence_hint})
    if parts:
        control["parts"] = parts
    return control


def catalog(title: str, last_modified: datetime | None = None) -> dict:
    """Each domain a group, each item a control; an enhancement (AC-2(1)) is a control of
    the control it enhances, as in NIST's catalogs. Groups name their source's namespace,
    so importing the export puts every item back where it came from."""
    domains = db.session.execute(
        sa.select(Domain).order_by(Domain.position, Domain.code)
        .options(selectinload(Domain.items), selectinload(Domain.source))
    ).scalars().all()
    groups = []
    for d in domains:
        ns = d.source.key
        prefix = "" if ns == SEED_SOURCE else f"{_token(ns)}."
        gid = prefix + _token(d.code)
        props = [_prop("label", d.code, None), _prop("position", d.position),
                 _prop("namespace", ns)]
        if ns != SEED_SOURCE:
            props.append(_prop("source-title", d.source.title))
        group = {"id": gid, "class": "domain", "title": d.name, "props": props}
        if d.summary:
            group["parts"] = [{"id": f"{gid}_ovw", "name": "overview", "prose": d.summary}]
        controls, by_code = [], {}
        for i in d.items:
            control = _control(i, prefix)
            by_code[i.code] = control
            parent = ENHANCEMENT.match(i.code)
            if parent and parent.group(1) in by_code:
                by_code[parent.group(1)].setdefault("controls", []).append(control)
            else:
                controls.append(control)
        if controls:
            group["controls"] = controls
        groups.append(group)
    content_hash = sha256_hex(json.dumps(groups, sort_keys=True))
    return {"catalog": {
        "uuid": _uuid("catalog", content_hash),
        "metadata": {
            "title": title,
            "last-modified": _timestamp(last_modified or library_last_modified()),
            "version": content_hash[:12],
            "oscal-version": OSCAL_VERSION,
        },
        "groups": groups,
    }}


def catalog_json(title: str, last_modified: datetime | None = None) -> str:
    return _dumps(catalog(title, last_modified))


# --- catalog import -------------------------------------------------------------------

LINK = re.compile(r"\[([^\]]*)\]\(#([^)\s]+)\)")
XML_HINT = ("only OSCAL JSON and YAML are read. NIST publishes each catalog in all three "
            "formats (usnistgov/oscal-content); or convert the XML with NIST's oscal-cli: "
            "`oscal-cli catalog convert --to json CATALOG.xml CATALOG.json`")


def _namespace_from(title: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    return slug[:60].rstrip("-") or "catalog"


def _label(props: list[dict]) -> str | None:
    """The control's code: the `label` prop without a class, else the `sp800-53` one, else
    the first. 5.1.1 catalogs carry `AC-01` (zero-padded, sp800-53a) beside `AC-1`; taking
    the first would give the same control two codes in two versions of one catalog."""
    labels = [p for p in props if isinstance(p, dict) and p.get("name") == "label"
              and p.get("ns") in (None, NS) and isinstance(p.get("value"), str)]
    for wanted in (None, "sp800-53"):
        for p in labels:
            if p.get("class") == wanted:
                return p["value"].strip()
    return labels[0]["value"].strip() if labels else None


def _plain(value):
    """YAML gives dates and numbers; OSCAL means strings there."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


class _Reader:
    """Walks the catalog, checking shapes; errors name the JSON path of the problem."""

    def __init__(self, path: Path):
        self.path = path
        self.params: dict[str, dict] = {}
        self.resources: dict[str, dict] = {}

    def fail(self, where: str, message: str):
        raise LibraryFileError(self.path, where, message)

    def obj(self, value, where: str) -> dict:
        if not isinstance(value, dict):
            self.fail(where, "must be a JSON object")
        return value

    def array(self, parent: dict, key: str, where: str) -> list:
        value = parent.get(key, [])
        if not isinstance(value, list):
            self.fail(f"{where}.{key}", "must be a JSON array")
        return value

    def string(self, parent: dict, key: str, where: str, required: bool = True) -> str:
        value = parent.get(key)
        if value is None:
            if required:
                self.fail(where, f"missing “{key}”")
            return ""
        if not isinstance(value, str):
            self.fail(f"{where}.{key}", "must be a string")
        if required and not value.strip():
            self.fail(f"{where}.{key}", "is empty")
        return value.strip()

    def props(self, parent: dict, where: str) -> dict[str, str]:
        found = {}
        for n, prop in enumerate(self.array(parent, "props", where)):
            here = f"{where}.props[{n}]"
            prop = self.obj(prop, here)
            name, value = self.string(prop, "name", here), self.string(prop, "value", here)
            ns = prop.get("ns")
            if ns in (None, NS) or name in ("label", "status", "priority"):
                found.setdefault(name, value)
        label = _label(self.array(parent, "props", where))
        if label:
            found["label"] = label
        return found

    # Parameters: "[Assignment: label]", "[Selection (one or more): a; b; [Assignment: c]]".
    def param_text(self, pid: str, seen: tuple = ()) -> str:
        param = self.params.get(pid)
        if param is None or pid in seen:
            return f"[Assignment: {pid}]"
        values = [v for v in param.get("values", []) if isinstance(v, str)]
        if values:
            return "; ".join(values)
        select = param.get("select")
        if isinstance(select, dict):
            choices = [self.fill(c, seen + (pid,)).strip() for c in select.get("choice", [])
                       if isinstance(c, str)]
            how = " (one or more)" if select.get("how-many") == "one-or-more" else ""
            return f"[Selection{how}: {'; '.join(choices)}]"
        label = param.get("label")
        if isinstance(label, str) and label.strip():
            return f"[Assignment: {label.strip()}]"
        guidelines = self.guidelines(param)
        return f"[Assignment: {guidelines or pid}]"

    def guidelines(self, param: dict) -> str:
        return " ".join(g["prose"].strip() for g in param.get("guidelines", [])
                        if isinstance(g, dict) and isinstance(g.get("prose"), str))

    def fill(self, text: str, seen: tuple = ()) -> str:
        """Parameters filled in; links into the back-matter become the citation's own link,
        links to a control keep their text (the control's code)."""
        text = PARAM.sub(lambda m: self.param_text(m.group(1), seen), text)

        def link(m):
            resource = self.resources.get(m.group(2))
            href = next((r.get("href") for r in (resource or {}).get("rlinks", [])
                         if isinstance(r, dict) and str(r.get("href", "")).startswith(
                             ("https://", "http://"))), None)
            return f"[{m.group(1)}]({href})" if href else m.group(1)

        return LINK.sub(link, text)

    def statement(self, part: dict, where: str) -> str:
        """A statement as Markdown: its items as a nested list, each with its label
        (a., 1., (a)), so the page lays out the parts instead of one paragraph."""
        lines = []
        text = self.fill(self.string(part, "prose", where, required=False))
        if text:
            lines += [text, ""]
        self._items(part, where, 0, lines)
        return "\n".join(lines).strip()

    def _items(self, part: dict, where: str, depth: int, lines: list[str]) -> None:
        for n, sub in enumerate(self.array(part, "parts", where)):
            here = f"{where}.parts[{n}]"
            sub = self.obj(sub, here)
            label = self.props(sub, here).get("label", "")
            label = re.sub(r"^(\d+)\.", r"\1\\.", label)  # "1." is text, not a new list
            text = " ".join(self.fill(self.string(sub, "prose", here, required=False)).split())
            lines.append("    " * depth + "- " + " ".join(x for x in (label, text) if x))
            self._items(sub, here, depth + 1, lines)

    def prose(self, part: dict, where: str) -> str:
        """Guidance, overview and objective parts: prose paragraphs, sub-parts in order."""
        texts = [self.fill(self.string(part, "prose", where, required=False))]
        items: list[str] = []
        self._items(part, where, 0, items)
        return "\n\n".join(x for x in texts + ["\n".join(items)] if x.strip()).strip()

    def references(self, control: dict, where: str) -> str:
        """The control's `reference` links to the back-matter, as a Markdown list."""
        lines = []
        for n, link in enumerate(self.array(control, "links", where)):
            link = self.obj(link, f"{where}.links[{n}]")
            resource = self.resources.get(str(link.get("href", "")).lstrip("#"))
            if link.get("rel") != "reference" or resource is None:
                continue
            text = (resource.get("citation") or {}).get("text") or resource.get("title") or ""
            href = next((r.get("href") for r in resource.get("rlinks", [])
                         if str(r.get("href", "")).startswith(("https://", "http://"))), None)
            text = " ".join(str(text).split())
            if text:
                lines.append(f"- [{text}]({href})" if href and "](" not in text
                             else f"- {text}")
        return "References:\n\n" + "\n".join(lines) if lines else ""


def _load(path: Path, data: bytes | str):
    """JSON or YAML (by name, else by content); XML is refused with how to convert it."""
    text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
    head = text.lstrip()[:200]
    if path.suffix.lower() == ".xml" or head.startswith("<"):
        raise LibraryFileError(path, None, f"this is an XML catalog: {XML_HINT}")
    if path.suffix.lower() in (".yaml", ".yml") or not head.startswith(("{", "[")):
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        try:
            # The C or Python SafeLoader: yaml.safe_load without the speed penalty.
            return _plain(yaml.load(text, Loader=loader))  # nosec B506
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            raise LibraryFileError(path, mark.line + 1 if mark else None,
                                   f"not valid JSON or YAML: {getattr(exc, 'problem', exc)}"
                                   ) from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise LibraryFileError(path, None, f"not valid JSON: {exc}") from None


def parse_catalog(name: str, data: bytes | str, namespace: str | None = None) -> list[dict]:
    """Validate an OSCAL catalog (JSON or YAML); return library records for apply_library.

    The catalog goes into its own namespace: `namespace` if given, else the one our own
    export names on each group, else one made from the catalog's title."""
    path = Path(name)
    r = _Reader(path)
    try:
        doc = _load(path, data)
    except UnicodeDecodeError:
        raise LibraryFileError(path, None, "not UTF-8 text: OSCAL files are UTF-8") from None
    top = r.obj(doc, "$")
    cat = r.obj(top.get("catalog"), "catalog") if "catalog" in top else r.fail(
        "$", "not an OSCAL catalog: the top-level object has no “catalog”" + (
            " (this is a profile: import its resolved catalog, as NIST publishes for each "
            "baseline)" if "profile" in top else ""))
    r.string(cat, "uuid", "catalog")
    meta = r.obj(cat.get("metadata"), "catalog.metadata")
    for key in ("title", "last-modified", "version", "oscal-version"):
        r.string(meta, key, "catalog.metadata")
    title = r.string(meta, "title", "catalog.metadata")
    if namespace is not None and not NAMESPACE.match(namespace):
        r.fail("namespace", f"“{namespace}” is not a namespace; use up to 80 lower-case "
               "letters, digits, dots, dashes or underscores")
    if r.array(cat, "controls", "catalog"):
        r.fail("catalog.controls", "controls outside a group have no domain; put them in a "
               "group")
    groups = r.array(cat, "groups", "catalog")
    if not groups:
        r.fail("catalog.groups", "the catalog has no groups, so there is nothing to import")
    back = cat.get("back-matter") or {}
    for n, res in enumerate(r.array(r.obj(back, "catalog.back-matter"), "resources",
                                    "catalog.back-matter")):
        res = r.obj(res, f"catalog.back-matter.resources[{n}]")
        if isinstance(res.get("uuid"), str):
            r.resources[res["uuid"]] = res

    # A domain keeps its place when its catalog comes again; a new one goes last.
    positions = {(key, code): position for key, code, position in db.session.execute(
        sa.select(LibrarySource.key, Domain.code, Domain.position).join(Domain.source))}
    next_position = max(positions.values(), default=0) + 1
    documents = []
    for g, group in enumerate(groups):
        where = f"catalog.groups[{g}]"
        group = r.obj(group, where)
        props = r.props(group, where)
        code = props.get("label") or r.string(group, "id", where).upper()
        if len(code) > 8:
            r.fail(where, f"the domain code “{code}” is longer than 8 characters; give the "
                   "group a shorter id or a `label` prop")
        position = props.get("position")
        if position is not None and not position.isdigit():
            r.fail(f"{where}.props", "the position prop must be a whole number")
        own = props.get("namespace")
        domain_ns = namespace or own or _namespace_from(title)
        if position is None and (domain_ns, code) in positions:
            position = positions[domain_ns, code]
        elif position is None:
            position, next_position = next_position, next_position + 1
        overview = [r.prose(p, f"{where}.parts[{n}]")
                    for n, p in enumerate(r.array(group, "parts", where))
                    if r.obj(p, f"{where}.parts[{n}]").get("name") == "overview"]
        domain = LineDict(code=code, name=r.string(group, "title", where),
                          summary="\n\n".join(x for x in overview if x), position=int(position),
                          namespace=domain_ns,
                          source_title=props.get("source-title") or (
                              title if not own else ""),
                          source_kind=SourceKind.CATALOG, own_export=bool(own and not namespace),
                          items=[])
        domain.line = where
        _collect_controls(r, group, where, domain["items"])
        documents.append((path, domain))
    parsed = parse_documents(documents)
    for domain in parsed:
        for item in domain["items"]:
            item["guards"] = None  # a catalog says nothing of failures: keep what is linked
    return parsed


def _collect_controls(r: _Reader, parent: dict, where: str, items: list) -> None:
    """The controls of a group (and of its sub-groups), with their enhancements."""
    for n, sub in enumerate(r.array(parent, "groups", where)):
        _collect_controls(r, r.obj(sub, f"{where}.groups[{n}]"), f"{where}.groups[{n}]", items)
    for n, control in enumerate(r.array(parent, "controls", where)):
        here = f"{where}.controls[{n}]"
        control = r.obj(control, here)
        props = r.props(control, here)
        code = props.get("label") or r.string(control, "id", here).upper()
        for p, param in enumerate(r.array(control, "params", here)):
            param = r.obj(param, f"{here}.params[{p}]")
            if isinstance(param.get("id"), str):
                r.params[param["id"]] = param
        texts: dict[str, list[str]] = {"statement": [], "guidance": [], "assessment-objective": []}
        for p, part in enumerate(r.array(control, "parts", here)):
            part = r.obj(part, f"{here}.parts[{p}]")
            name = r.string(part, "name", f"{here}.parts[{p}]")
            if name == "statement":
                texts[name].append(r.statement(part, f"{here}.parts[{p}]"))
            elif name in texts:
                texts[name].append(r.prose(part, f"{here}.parts[{p}]"))
        criticality = props.get("criticality") or PRIORITY.get(props.get("priority", ""),
                                                                "normal")
        required = props.get("evidence-required", "true")
        if required not in ("true", "false"):
            r.fail(f"{here}.props", "the evidence-required prop must be true or false")
        guidance = texts["statement"] + texts["guidance"] + [r.references(control, here)]
        item = LineDict(code=code, title=r.string(control, "title", here),
                        guidance="\n\n".join(x for x in guidance if x),
                        evidence="\n\n".join(x for x in texts["assessment-objective"] if x),
                        criticality=criticality, evidence_required=required == "true",
                        active=props.get("status") not in ("withdrawn", "Withdrawn"),
                        sort_key=props.get("sort-id", "")[:40],
                        cadence=props.get("cadence", ""))
        item.line = here
        items.append(item)
        _collect_controls(r, control, here, items)


def import_catalog(actor, parsed: list[dict], source: str, *, record: bool = True
                   ) -> LoadResult:
    """Add and update by code within the catalog's namespace; nothing the catalog leaves out
    is deactivated, and no other source's item is touched."""
    return apply_library(parsed, source=source, actor=actor, deactivate_missing=False,
                         action="library.oscal_import", record=record)


# --- assessment results ---------------------------------------------------------------

def _state(item: dict) -> tuple[str, str]:
    """OSCAL has no "not applicable" state: a control that does not apply is not satisfied
    for the reason `other`, with the justification in the finding (the score leaves it out,
    and says so in its props); only `met` is satisfied."""
    status = ItemStatus(item["status"])
    if status == ItemStatus.MET:
        return "satisfied", "pass"
    if status == ItemStatus.NOT_APPLICABLE:
        return "not-satisfied", "other"
    return "not-satisfied", "fail"


def _audit_catalog(audit_id: int, results: dict, key: str) -> dict:
    """The readiness items the audit reviewed, as they stood when it started (its
    snapshots): the catalog its findings' control ids refer to."""
    groups: dict[str, list] = {}
    for item in results["items"]:
        groups.setdefault(item["domain"], []).append({
            "id": _token(item["code"]), "title": item["title"],
            "props": [_prop("label", item["code"], None),
                      _prop("criticality", item["criticality"])]})
    return {"catalog": {
        "uuid": _uuid("audit-catalog", key),
        "metadata": {"title": f"Readiness items reviewed by audit {audit_id}",
                     "last-modified": _timestamp(datetime.fromisoformat(
                         results["audit"]["signed_off_at"])) if results["audit"][
                         "signed_off_at"] else "2000-01-01T00:00:00Z",
                     "version": key[:12], "oscal-version": OSCAL_VERSION},
        "groups": [{"id": _token(code), "title": code, "controls": controls}
                   for code, controls in groups.items()],
    }}


def assessment_results(audit: Audit) -> dict:
    """A signed-off audit as OSCAL assessment results: a finding per item."""
    signoff = db.session.execute(
        sa.select(SignOff).where(SignOff.audit_id == audit.id)
        .options(selectinload(SignOff.auditor))
    ).scalar_one()
    results = audit_results(audit)
    a, key = results["audit"], signoff.audit_sha256
    auditor = signoff.auditor
    party_auditor = _uuid("party", auditor.email)
    parties = [{"uuid": party_auditor, "type": "person", "name": auditor.name,
                "email-addresses": [auditor.email]}]
    if a["lead"] and a["lead"] != auditor.email:
        parties.append({"uuid": _uuid("party", a["lead"]), "type": "person",
                        "email-addresses": [a["lead"]]})
    plan = _uuid("plan", key)
    observations, findings = [], []
    for item in results["items"]:
        cid = _token(item["code"])
        state, reason = _state(item)
        related = []
        if item["evidence"]:
            obs = _uuid("observation", key, item["code"])
            related.append({"observation-uuid": obs})
            observations.append({
                "uuid": obs, "title": f"Evidence for {item['code']}",
                "description": f"{len(item['evidence'])} piece(s) of evidence attached to "
                               f"{item['code']} {item['title']}.",
                "methods": ["EXAMINE"],
                "relevant-evidence": [{
                    "description": f"{e['kind']}: {e['name'] or e['sha256']}",
                    "props": [_prop("sha256", e["sha256"]), _prop("added-by", e["created_by"])],
                } for e in item["evidence"]],
                "collected": _timestamp(datetime.fromisoformat(
                    max(e["created_at"] for e in item["evidence"]))),
            })
        description = [f"Status: {ItemStatus(item['status']).label}."]
        if item["owner"]:
            description.append(f"Owner: {item['owner']}.")
        if item["justification"]:
            description.append(f"Justification: {item['justification']}")
        if item["status"] == ItemStatus.NOT_APPLICABLE.value:
            description.append("Not applicable: left out of the readiness score.")
        props = [_prop("criticality", item["criticality"]), _prop("status", item["status"]),
                 _prop("domain", item["domain"])]
        if item["verdict"]:
            props.append(_prop("verdict", item["verdict"]))
        finding = {
            "uuid": _uuid("finding", key, item["code"]),
            "title": f"{item['code']} {item['title']}",
            "description": " ".join(description), "props": props,
            "target": {"type": "statement-id", "target-id": f"{cid}_smt",
                       "status": {"state": state, "reason": reason}},
        }
        if item["verdict_note"]:
            finding["remarks"] = item["verdict_note"]
        if related:
            finding["related-observations"] = related
        findings.append(finding)
    score = results["score"]
    result_props = [_prop("audit-sha256", key),
                    _prop("weighted-met", score["weighted_met"]),
                    _prop("weighted-applicable", score["weighted_applicable"])]
    if score["percent"] is not None:
        result_props.append(_prop("score-percent", score["percent"]))
    result = {
        "uuid": _uuid("result", key),
        "title": f"{a['team']} {a['period']} readiness audit",
        "description": f"Readiness audit of {a['team']} for {a['period']} over the domains "
                       f"{', '.join(a['scope'])}, signed off by {auditor.name}.",
        "props": result_props,
        "start": _timestamp(audit.created_at),
        "end": _timestamp(signoff.signed_at),
        "reviewed-controls": {"control-selections": [{"include-controls": [
            {"control-id": _token(i["code"])} for i in results["items"]]}]},
        "findings": findings,
        "remarks": f"Sign-off statement: {signoff.statement}",
    }
    if observations:
        result["observations"] = observations
    return {"assessment-results": {
        "uuid": _uuid("assessment-results", key),
        "metadata": {
            "title": f"Readiness audit: {a['team']} {a['period']}",
            "last-modified": _timestamp(signoff.signed_at),
            "version": key[:12],
            "oscal-version": OSCAL_VERSION,
            "parties": parties,
        },
        "import-ap": {"href": f"#{plan}"},
        "results": [result],
        "back-matter": {"resources": [{
            "uuid": plan,
            "title": f"Audit plan: {a['team']} {a['period']}",
            "description": f"Scope: {', '.join(a['scope'])}; the readiness items of these "
                           "domains as they stood when the audit started (the catalog "
                           "attached below).",
            "rlinks": [{"href": f"/audits/{audit.id}", "media-type": "text/html"}],
        }, {
            "uuid": _uuid("catalog", key),
            "title": "The reviewed readiness items, as an OSCAL catalog",
            "base64": {"filename": f"audit-{audit.id}-catalog.json",
                       "media-type": "application/oscal.catalog+json",
                       "value": base64.b64encode(_dumps(_audit_catalog(
                           audit.id, results, key)).encode()).decode()},
        }, {
            "uuid": _uuid("results-json", key),
            "title": "Canonical audit results (JSON) that the sign-off hashed",
            "rlinks": [{"href": f"/api/v1/audits/{audit.id}/results.json",
                        "media-type": "application/json",
                        "hashes": [{"algorithm": "SHA-256", "value": key}]}],
        }]},
    }}


def assessment_results_json(audit: Audit) -> str:
    return _dumps(assessment_results(audit))
