"""Library export → import → export gives identical files, in YAML, CSV and OSCAL; imports
check the whole file first and name the line or field that is wrong."""

import json

import pytest
import sqlalchemy as sa

from tests.exchange.conftest import library_counts
from tracker.exchange import library_io, oscal
from tracker.extensions import db
from tracker.library.models import Cadence, ReadinessItem
from tracker.library.seeding import LibraryFileError


def item(code: str) -> ReadinessItem:
    return db.session.execute(sa.select(ReadinessItem).where(ReadinessItem.code == code)
                              ).scalar_one()


def deactivate_one_item():
    """An inactive item, and cadences other than the default, must survive the trip too."""
    item("DV-02").active = False
    item("DV-01").cadence = Cadence.YEARLY
    item("DV-03").cadence = Cadence.NONE
    db.session.commit()


@pytest.mark.parametrize("fmt", ["yaml", "csv"])
def test_round_trip_into_an_empty_library_is_identical(library, wipe_library, fmt):
    deactivate_one_item()
    export = library_io.export_yaml if fmt == "yaml" else library_io.export_csv
    first = export()
    before = library_counts()
    wipe_library()
    parsed = library_io.parse_library_file(f"library.{fmt}", first.encode())
    library_io.import_library(None, parsed, f"library.{fmt}")
    db.session.commit()
    assert library_counts() == before
    assert export() == first
    assert item("DV-02").active is False
    assert (item("DV-01").cadence, item("DV-03").cadence) == (Cadence.YEARLY, Cadence.NONE)
    assert sorted(f.code for f in item("DV-01").failures) == ["DV-F1"]


@pytest.mark.parametrize("fmt", ["yaml", "csv"])
def test_reimporting_an_export_changes_nothing(library, fmt):
    export = library_io.export_yaml if fmt == "yaml" else library_io.export_csv
    first = export()
    result = library_io.import_library(
        None, library_io.parse_library_file(f"x.{fmt}", first.encode()), "x")
    db.session.commit()
    assert result.changes == 0
    assert export() == first


def test_yaml_export_is_the_seeds_format(library, tmp_path, runner):
    """Exported files load with `flask seed library` and change nothing."""
    written = library_io.export_yaml_files(tmp_path / "lib")
    assert [p.name for p in written][:2] == ["01_DV.yaml", "02_INV.yaml"]
    text = written[0].read_text()
    assert text.startswith("code: DV\nname: Data & Visibility\nposition: 1\n")
    assert "  - code: DV-01\n" in text and "guards: [DV-F1]" in text
    result = runner.invoke(args=["seed", "library", "--path", str(tmp_path / "lib")])
    assert result.exit_code == 0 and "0 changes" in result.output, result.output


def test_csv_cells_that_look_like_formulas_are_protected_and_read_back(library, wipe_library):
    item("DV-01").title = "=HYPERLINK(\"http://evil.example\")"
    item("DV-03").guidance = "'=quoted' and -dashed"
    item("DV-04").guidance = "-dashed"
    db.session.commit()
    text = library_io.export_csv()
    assert "'=HYPERLINK" in text and "''=quoted'" in text and ",'-dashed," in text
    wipe_library()
    library_io.import_library(None, library_io.parse_csv("l.csv", text), "l.csv")
    db.session.commit()
    assert item("DV-01").title == "=HYPERLINK(\"http://evil.example\")"
    assert item("DV-03").guidance == "'=quoted' and -dashed"
    assert item("DV-04").guidance == "-dashed"


def test_oscal_catalog_round_trip(library, mini_catalog, wipe_library, monkeypatch):
    oscal.import_catalog(None, oscal.parse_catalog("mini.json", mini_catalog), "mini.json")
    item("DV-05").active = False
    db.session.commit()
    # Export → import → export on the same database: import changes nothing, bytes equal.
    first = oscal.catalog_json("Test library")
    result = oscal.import_catalog(None, oscal.parse_catalog("c.json", first), "c.json")
    db.session.commit()
    assert result.changes == 0
    assert oscal.catalog_json("Test library") == first
    # Into an empty library, with the timestamp pinned as reproducible builds do.
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    pinned = oscal.catalog_json("Test library")
    assert json.loads(pinned)["catalog"]["metadata"]["last-modified"] == "2026-01-01T00:00:00Z"
    wipe_library()
    oscal.import_catalog(None, oscal.parse_catalog("c.json", pinned), "c.json")
    db.session.commit()
    assert oscal.catalog_json("Test library") == pinned
    assert item("DV-05").active is False


def test_oscal_catalog_maps_groups_controls_and_parts(library, mini_catalog):
    before = library_counts()
    result = oscal.import_catalog(None, oscal.parse_catalog("mini.json", mini_catalog), "mini")
    db.session.commit()
    assert result.created == 2 + 6  # two domains, six controls (one an enhancement)
    ac1 = item("AC-1")
    assert ac1.domain.code == "AC" and ac1.domain.name == "Access Control"
    assert ac1.domain.summary.startswith("Who may reach production")
    assert ac1.guidance == (
        "- a. Develop, document, and disseminate to [Assignment: organization-defined personnel "
        "or roles] an access control policy;\n"
        "- b. Review and update the policy [Assignment: organization-defined frequency].\n\n"
        "The policy says who approves access and how it is withdrawn when people change roles.")
    assert ac1.evidence_hint == "The current policy, with its approval date and distribution list."
    assert ac1.criticality.value == "normal" and ac1.evidence_required
    assert item("AC-2").criticality.value == "critical"
    assert item("AC-2(1)").criticality.value == "high" and item("AC-2(1)").domain.code == "AC"
    assert item("AC-13").active is False
    assert item("IR-8").evidence_required is False
    assert item("IR-4").guidance.endswith("\n\nCoordinate incident handling with contingency "
                                          "planning.")
    # The catalog adds to the library: nothing of the seeded library is deactivated.
    assert item("DV-01").active and library_counts()[2] == before[2] + 6
    again = oscal.import_catalog(None, oscal.parse_catalog("mini.json", mini_catalog), "mini")
    assert again.changes == 0


def _fails(parse, name, data, *expected):
    with pytest.raises(LibraryFileError) as caught:
        parse(name, data)
    for text in expected:
        assert text in str(caught.value), str(caught.value)
    return str(caught.value)


def test_import_errors_name_the_line_or_field(library):
    yaml_text = library_io.export_yaml()
    bad_yaml = yaml_text.replace("criticality: critical", "criticality: urgent", 1)
    line = bad_yaml[:bad_yaml.index("urgent")].count("\n") + 1
    message = _fails(library_io.parse_yaml, "lib.yaml", bad_yaml, "lib.yaml:", "urgent")
    # The error points at the item's mapping, a few lines above the bad value.
    assert 0 < line - int(message.split(":")[1]) < 10

    csv_text = library_io.export_csv()
    rows = csv_text.split("\r\n")
    row_no = next(n for n, r in enumerate(rows, 1) if r.startswith("item,DV,DV-04,"))
    rows[row_no - 1] = rows[row_no - 1].replace(",critical,", ",urgent,", 1)
    _fails(library_io.parse_csv, "lib.csv", "\r\n".join(rows), f"lib.csv:{row_no}:", "urgent")
    _fails(library_io.parse_csv, "lib.csv", csv_text.replace("item,DV,DV-04", "item,XX,DV-04"),
           "“domain” is “XX”")
    _fails(library_io.parse_csv, "lib.csv", csv_text.replace("type,", "kind_of,", 1),
           "lib.csv:1:", "kind_of")
    _fails(library_io.parse_csv, "lib.csv",
           csv_text.replace(",true,true,,,DV-F1,", ",yes,true,,,DV-F1,", 1),
           "evidence_required", "yes")
    rows = csv_text.split("\r\n")
    rows[row_no - 1] = rows[row_no - 1].replace(",DV-F3,", ",DV-F9,", 1)
    _fails(library_io.parse_csv, "lib.csv", "\r\n".join(rows), f"lib.csv:{row_no}:",
           "DV-04 guards unknown failure DV-F9")
    _fails(library_io.parse_library_file, "lib.txt", b"x", "choose a .yaml")


def test_catalog_errors_name_the_json_path(app, mini_catalog):
    doc = json.loads(mini_catalog)
    del doc["catalog"]["groups"][1]["controls"][0]["title"]
    _fails(oscal.parse_catalog, "c.json", json.dumps(doc), "c.json:catalog.groups[1].controls[0]",
           "missing “title”")
    doc = json.loads(mini_catalog)
    doc["catalog"]["groups"][0]["controls"][1]["controls"][0]["title"] = "x" * 201
    _fails(oscal.parse_catalog, "c.json", json.dumps(doc),
           "catalog.groups[0].controls[1].controls[0]", "longer than 200")
    doc = json.loads(mini_catalog)
    del doc["catalog"]["metadata"]["oscal-version"]
    _fails(oscal.parse_catalog, "c.json", json.dumps(doc), "catalog.metadata", "oscal-version")
    _fails(oscal.parse_catalog, "c.json", b"{", "not valid JSON")
    _fails(oscal.parse_catalog, "c.json", b'{"profile": {}}', "not an OSCAL catalog")


def test_a_failed_import_changes_nothing(library, runner, tmp_path):
    before = library_counts()
    path = tmp_path / "lib.csv"
    path.write_text(library_io.export_csv().replace("DV-01,Address data", "DV-01,", 1)
                    .replace(",critical,", ",urgent,", 3))
    result = runner.invoke(args=["library", "import", str(path)])
    assert result.exit_code != 0 and "Nothing was changed" in result.output
    assert library_counts() == before
    assert item("DV-01").title.startswith("Address data")


def test_cadence_is_written_only_when_not_the_default(library):
    item("DV-01").cadence = Cadence.MONTHLY
    db.session.commit()
    text = library_io.export_yaml()
    assert text.count("cadence:") == 1 and "cadence: monthly" in text
    assert library_io.export_csv().splitlines()[0].endswith(",namespace,cadence")


def test_files_from_before_cadences_import_as_quarterly(library):
    """A CSV without the cadence column and YAML without the key are quarterly."""
    item("DV-01").cadence = Cadence.YEARLY
    db.session.commit()
    csv_text = library_io.export_csv()
    rows = [line.rsplit(",", 1)[0] for line in csv_text.split("\r\n") if line]
    old = "\r\n".join(rows) + "\r\n"
    assert "cadence" not in old
    result = library_io.import_library(
        None, library_io.parse_library_file("old.csv", old.encode()), "old.csv")
    db.session.commit()
    assert result.changes == 1 and item("DV-01").cadence == Cadence.QUARTERLY


def test_an_unknown_cadence_names_the_line(library):
    text = library_io.export_yaml().replace("  - code: DV-01\n",
                                            "  - code: DV-01\n    cadence: weekly\n", 1)
    with pytest.raises(LibraryFileError, match="“cadence” is “weekly”; use one of: monthly, "
                       "quarterly, yearly, none"):
        library_io.parse_library_file("lib.yaml", text.encode())
