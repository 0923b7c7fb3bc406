"""The readiness library as YAML (the format of seeds/library) and as CSV.

Both read back through tracker/library/seeding.py's validation (`parse_documents`), so an
imported file obeys exactly the rules of `flask seed library`, errors name the file and
line, and nothing is written unless the whole file is valid. Exports are deterministic:
export → import → export gives identical bytes.
"""

import csv
import io
from pathlib import Path

import sqlalchemy as sa
import yaml
from sqlalchemy.orm import selectinload

from tracker.exchange import xlsx
from tracker.exchange.csvfile import (
    BOM,
    decode,
    mojibake,
    normalise_cell,
    sniff_delimiter,
    unprotect,
    write_rows,
)
from tracker.extensions import db
from tracker.library.models import SEED_SOURCE, Cadence, Domain, ReadinessItem
from tracker.library.seeding import (
    LibraryFileError,
    LineDict,
    LoadResult,
    apply_library,
    parse_documents,
    read_yaml,
)

# --- reading the library --------------------------------------------------------------


def library_documents() -> list[dict]:
    """Every domain as a seeds/ document: plain dicts with the YAML keys, in order."""
    domains = db.session.execute(
        sa.select(Domain).order_by(Domain.position, Domain.code).options(
            selectinload(Domain.failures),
            selectinload(Domain.items).selectinload(ReadinessItem.failures),
            selectinload(Domain.content), selectinload(Domain.source))
    ).scalars().all()
    docs = []
    for d in domains:
        doc = {"code": d.code, "name": d.name, "position": d.position}
        if d.source.key != SEED_SOURCE:
            doc["namespace"] = d.source.key
        if d.summary:
            doc["summary"] = d.summary
        doc["failures"] = [_drop_empty({
            "code": f.code, "title": f.title, "symptom": f.symptom, "pillar": f.pillar,
            "description": f.description}) for f in d.failures]
        doc["items"] = []
        for i in d.items:
            item = _drop_empty({"code": i.code, "title": i.title, "guidance": i.guidance,
                                "evidence": i.evidence_hint})
            item.update(criticality=i.criticality.value, evidence_required=i.evidence_required,
                        guards=_Flow(sorted(f.code for f in i.failures)))
            if not i.active:
                item["active"] = False
            if i.cadence != Cadence.QUARTERLY:  # the default stays unwritten, as in seeds/
                item["cadence"] = i.cadence.value
            doc["items"].append(item)
        doc["content"] = [_drop_empty({"code": c.code, "kind": c.kind.value, "title": c.title,
                                       "body": c.body}) for c in d.content]
        docs.append(doc)
    return docs


def _drop_empty(mapping: dict) -> dict:
    return {k: v for k, v in mapping.items() if v not in ("", None)}


# --- YAML -----------------------------------------------------------------------------

class _Flow(list):
    """A list written on one line: `guards: [DV-F1, DV-F2]`."""


class _Dumper(yaml.SafeDumper):
    def increase_indent(self, flow=False, indentless=False):
        return super().increase_indent(flow, False)  # "  - code:" as in seeds/


def _str(dumper, value: str):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)
_Dumper.add_representer(_Flow, lambda d, v: d.represent_sequence(
    "tag:yaml.org,2002:seq", v, flow_style=True))


def dump_yaml(doc: dict) -> str:
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100,
                     default_flow_style=False)


def export_yaml() -> str:
    """The whole library in one file: one YAML document per domain, as in seeds/."""
    return "".join("---\n" + dump_yaml(doc) for doc in library_documents())


def export_yaml_files(directory: Path) -> list[Path]:
    """One file per domain, named like seeds/library (`01_DV.yaml`)."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for doc in library_documents():
        path = directory / f"{doc['position']:02d}_{doc['code']}.yaml"
        path.write_text(dump_yaml(doc), encoding="utf-8")
        paths.append(path)
    return paths


def parse_yaml(name: str, text: str) -> list[dict]:
    path = Path(name)
    return parse_documents([(path, doc) for doc in read_yaml(path, text)])


# --- CSV ------------------------------------------------------------------------------

CSV_COLUMNS = ["type", "domain", "code", "title", "position", "criticality",
               "evidence_required", "active", "pillar", "kind", "guards", "summary", "symptom",
               "guidance", "evidence", "description", "body", "namespace", "cadence"]
ROW_TYPES = ("domain", "failure", "item", "content")


def export_csv() -> str:
    """One row per domain, failure pattern, readiness item and hub content entry; the
    namespace column names the source of what is not the seed library's."""
    return write_rows(CSV_COLUMNS, _library_rows())


def _entry(line: int, **values) -> LineDict:
    entry = LineDict({k: v for k, v in values.items() if v != ""})
    entry.line = line
    return entry


def _flag(path: Path, line: int, column: str, text: str, default: bool) -> bool:
    value = text.strip().lower()
    if value == "":
        return default
    if value not in ("true", "false"):
        raise LibraryFileError(path, line, f"column “{column}” is “{text}”; use true or false")
    return value == "true"


# Files written before these columns existed still import: no namespace is the seed
# library, no cadence is quarterly.
REQUIRED_COLUMNS = [c for c in CSV_COLUMNS if c not in ("namespace", "cadence")]


def parse_csv(name: str, text: str) -> list[dict]:
    """Rows → the documents seeds/ YAML would give → the same validation. The delimiter
    (comma, semicolon or tab) is the one that splits the header into known columns."""
    path = Path(name)
    if text.startswith(BOM):
        text = text[1:]
    first = text.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text, newline=""),
                        delimiter=sniff_delimiter(first, CSV_COLUMNS))

    def rows():
        line = 1
        try:
            for cells in reader:
                yield line, [unprotect(normalise_cell(c)) for c in cells]
                line = reader.line_num + 1
        except csv.Error as exc:
            raise LibraryFileError(path, line, f"not valid CSV: {exc}") from None

    return parse_rows(path, rows())


def parse_rows(path: Path, rows) -> list[dict]:
    """(line, cells) pairs, the first the header, from a CSV or a spreadsheet's sheet."""
    try:
        _, header = next(rows)
    except StopIteration:
        raise LibraryFileError(path, 1, "the file is empty; the first row names the columns "
                               f"({', '.join(CSV_COLUMNS)})") from None
    header = [h.strip() for h in header]
    while header and header[-1] == "":  # a spreadsheet pads rows with empty cells
        header.pop()
    unknown = [h for h in header if h not in CSV_COLUMNS]
    if unknown:
        raise LibraryFileError(path, 1, f"unknown column “{unknown[0]}”; the columns are: "
                               f"{', '.join(CSV_COLUMNS)}")
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise LibraryFileError(path, 1, (
            f"missing column{'s' if len(missing) > 1 else ''} “{'”, “'.join(missing)}”. "
            "A column left out would clear that field for every row, so it is an error, "
            "never an instruction: put the column back (empty cells clear a field where "
            "you mean it), or export the library again for the full set of columns"))
    doubled = [h for h in header if header.count(h) > 1]
    if doubled:
        raise LibraryFileError(path, 1, f"the column “{doubled[0]}” appears twice")

    domains: dict[tuple[str, str], LineDict] = {}
    children: list[tuple[int, str, str, LineDict, str]] = []
    for start, cells in rows:
        if not any(c.strip() for c in cells):
            continue
        if len(cells) > len(header):
            if any(c.strip() for c in cells[len(header):]):
                raise LibraryFileError(path, start, f"{len(cells)} cells but {len(header)} "
                                       "columns; quote cells that contain the delimiter")
            cells = cells[:len(header)]
        row = dict(zip(header, cells, strict=False))
        namespace = row.get("namespace", "").strip()
        kind = row.get("type", "").strip().lower()
        if kind not in ROW_TYPES:
            raise LibraryFileError(path, start, f"column “type” is “{row.get('type', '')}”; "
                                   f"use one of: {', '.join(ROW_TYPES)}")
        if kind == "domain":
            position = row.get("position", "").strip()
            if position and not position.lstrip("-").isdigit():
                raise LibraryFileError(path, start, "column “position” must be a whole number")
            doc = _entry(start, code=row.get("code", "").strip(), name=row.get("title", ""),
                         summary=row.get("summary", ""), namespace=namespace, failures=[],
                         items=[], content=[])
            if position:
                doc["position"] = int(position)
            if (namespace, doc.get("code")) in domains:
                raise LibraryFileError(path, start, f"domain {doc['code']} has two rows")
            domains[namespace, doc.get("code", "")] = doc
            continue
        common = {"code": row.get("code", "").strip(), "title": row.get("title", "")}
        if kind == "failure":
            entry = _entry(start, **common, symptom=row.get("symptom", ""),
                           description=row.get("description", ""),
                           pillar=_flag(path, start, "pillar", row.get("pillar", ""), False))
            children.append((start, namespace, row.get("domain", "").strip(), entry,
                             "failures"))
        elif kind == "item":
            entry = _entry(start, **common, guidance=row.get("guidance", ""),
                           evidence=row.get("evidence", ""),
                           criticality=row.get("criticality", "").strip(),
                           evidence_required=_flag(path, start, "evidence_required",
                                                   row.get("evidence_required", ""), True),
                           active=_flag(path, start, "active", row.get("active", ""), True),
                           cadence=row.get("cadence", "").strip().lower(),
                           guards=row.get("guards", "").replace(";", " ").split())
            children.append((start, namespace, row.get("domain", "").strip(), entry, "items"))
        else:
            entry = _entry(start, **common, kind=row.get("kind", "").strip(),
                           body=row.get("body", ""))
            children.append((start, namespace, row.get("domain", "").strip(), entry,
                             "content"))

    for start, namespace, domain_code, entry, key in children:
        if (namespace, domain_code) not in domains:
            raise LibraryFileError(path, start, f"column “domain” is “{domain_code}”, which has "
                                   "no domain row in this file")
        domains[namespace, domain_code][key].append(entry)
    if not domains:
        raise LibraryFileError(path, 2, "no domain rows; a library needs at least one domain")
    return parse_documents([(path, doc) for doc in domains.values()])


# --- XLSX -----------------------------------------------------------------------------

def _library_rows() -> list[list]:
    rows = []
    for d in library_documents():
        def row(**values):
            return [values.get(c, "") for c in CSV_COLUMNS]

        ns = {"namespace": d.get("namespace", "")}
        rows.append(row(**ns, type="domain", code=d["code"], title=d["name"],
                        position=d["position"], summary=d.get("summary", "")))
        for f in d["failures"]:
            rows.append(row(**ns, type="failure", domain=d["code"], code=f["code"],
                            title=f["title"],
                            pillar=_flag_text(f.get("pillar", False)),
                            symptom=f.get("symptom", ""), description=f.get("description", "")))
        for i in d["items"]:
            rows.append(row(**ns, type="item", domain=d["code"], code=i["code"], title=i["title"],
                            criticality=i["criticality"],
                            evidence_required=_flag_text(i["evidence_required"]),
                            active=_flag_text(i.get("active", True)),
                            guards=" ".join(i["guards"]), guidance=i.get("guidance", ""),
                            evidence=i.get("evidence", ""),
                            cadence=i.get("cadence", Cadence.QUARTERLY.value)))
        for c in d["content"]:
            rows.append(row(**ns, type="content", domain=d["code"], code=c["code"], kind=c["kind"],
                            title=c["title"], body=c.get("body", "")))
    return rows


def _flag_text(value: bool) -> str:
    return "true" if value else "false"


def export_xlsx() -> bytes:
    """The CSV's rows as one sheet, every cell text (a cell starting with "=" is not run as a
    formula), with a header row that stays in view."""
    return xlsx.workbook_bytes([("Library", CSV_COLUMNS, _library_rows())])


def parse_xlsx(name: str, data: bytes) -> list[dict]:
    path = Path(name)
    try:
        sheets = xlsx.read_sheets(data)
    except xlsx.SheetError as exc:
        raise LibraryFileError(path, exc.line, str(exc)) from None
    if len(sheets) != 1:
        names = ", ".join(f"“{s}”" for s, _ in sheets)
        raise LibraryFileError(path, None, f"the workbook has {len(sheets)} sheets ({names}); "
                               "a library workbook has one, as the library export writes it")
    _, rows = sheets[0]
    for line, cells in rows:
        for cell in cells:
            hint = mojibake(cell)
            if hint:
                raise LibraryFileError(path, line, hint.replace("line 1 has", "a cell has"))
    return parse_rows(path, iter(rows))


# --- importing ------------------------------------------------------------------------

FORMATS = {".yaml": parse_yaml, ".yml": parse_yaml, ".csv": parse_csv}


def parse_library_file(name: str, data: bytes) -> list[dict]:
    """Validate a YAML, CSV or XLSX library file (chosen by its name's ending)."""
    path = Path(name)
    if path.suffix.lower() == ".xlsx":
        return parse_xlsx(path.name, data)
    parse = FORMATS.get(path.suffix.lower())
    if parse is None:
        raise LibraryFileError(path, None, "choose a .yaml, .yml, .csv or .xlsx file (an "
                               "OSCAL catalog .json or .yaml is imported as a catalog)")
    text, problem = decode(data)
    if problem:
        raise LibraryFileError(path, None, problem)
    hint = mojibake(text)
    if hint:
        raise LibraryFileError(path, None, hint)
    return parse(path.name, text)


def import_library(actor, parsed: list[dict], source: str) -> LoadResult:
    """The file is the whole library: items it does not list are deactivated (never
    deleted; past audits keep their snapshots). Flushes; the caller commits."""
    return apply_library(parsed, source=source, actor=actor, action="library.import")
