"""What spreadsheet programs do to library files: each is read as meant or refused with a
message that says what to do, and a refusal changes nothing. A round trip through
LibreOffice (headless) changes nothing, for the library and for an audit's results."""

import io
import re
import shutil
import subprocess

import pytest
import sqlalchemy as sa

from tests.exchange.conftest import library_counts
from tests.exchange.test_cli_and_pages import import_through_preview, signed_off_audit
from tracker.exchange import audit_results, library_io, xlsx
from tracker.exchange.csvfile import BOM
from tracker.extensions import db
from tracker.library.models import ReadinessItem
from tracker.library.seeding import LibraryFileError


def item(code: str) -> ReadinessItem:
    return db.session.execute(sa.select(ReadinessItem).where(ReadinessItem.code == code)
                              ).scalar_one()


def guidance_snapshot() -> dict:
    return dict(db.session.execute(sa.select(ReadinessItem.code, ReadinessItem.guidance)).all())


def refused(name: str, data: bytes, *expected: str) -> str:
    before, guidance = library_counts(), guidance_snapshot()
    with pytest.raises(LibraryFileError) as caught:
        library_io.import_library(None, library_io.parse_library_file(name, data), name)
    db.session.rollback()
    for text in expected:
        assert text in str(caught.value), str(caught.value)
    assert library_counts() == before and guidance_snapshot() == guidance
    return str(caught.value)


def imported(name: str, data: bytes):
    result = library_io.import_library(None, library_io.parse_library_file(name, data), name)
    db.session.commit()
    return result


def csv_text() -> str:
    return library_io.export_csv()[len(BOM):]


def drop_column(text: str, column: str, delimiter=",") -> str:
    import csv
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    n = rows[0].index(column)
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\r\n", delimiter=delimiter).writerows(
        [r[:n] + r[n + 1:] for r in rows])
    return out.getvalue()


def test_a_missing_column_is_an_error_not_an_instruction_to_clear(library):
    message = refused("lib.csv", drop_column(csv_text(), "guidance").encode(),
                      "lib.csv:1:", "missing column “guidance”", "put the column back")
    assert "never an instruction" in message
    assert item("DV-01").guidance


def test_windows_line_endings_inside_cells_are_normalised(library):
    from tracker.library.models import Domain, HubContent
    text = csv_text()
    windows = re.sub(r'("[^"]*")', lambda m: m.group(1).replace("\n", "\r\n"), text)
    assert windows.count("\r\n") > text.count("\r\n") + 10
    assert imported("lib.csv", windows.encode()).changes == 0
    texts = db.session.execute(sa.select(HubContent.body)).scalars().all() + \
        db.session.execute(sa.select(Domain.summary)).scalars().all()
    assert any("\n" in t for t in texts) and not any("\r" in t for t in texts)


def test_a_leading_apostrophe_of_the_text_is_kept(library):
    text = csv_text().replace(",Address data is validated", ",'Twas address data validated", 1)
    assert imported("lib.csv", text.encode()).updated == 1
    assert item("DV-01").title.startswith("'Twas address")
    assert csv_text() == text  # and exported as it is


def test_rows_padded_with_trailing_empty_cells_are_accepted(library):
    padded = "\r\n".join(line + ",," if line else line for line in csv_text().split("\r\n"))
    assert imported("lib.csv", padded.encode()).changes == 0
    header, rest = padded.split("\r\n", 1)
    refused("lib.csv", (header + "\r\n" + rest.replace(",,\r\n", ",,x\r\n", 1)).encode(),
            "cells but", "columns", "quote cells")


def test_mojibake_is_refused_with_a_hint(library):
    text = csv_text().replace("Address data is validated", "Größe data is validated", 1)
    garbled = text.encode("utf-8").decode("cp1252", errors="replace").encode("utf-8")
    refused("lib.csv", garbled, "GrÃ¶ÃŸe", "meant: “Größe”", "Unicode (UTF-8)")


def test_cp1252_is_refused_with_how_to_fix_it(library):
    text = csv_text().replace("Address data is validated", "Größe data is validated", 1)
    refused("lib.csv", text.encode("cp1252", errors="replace"), "not UTF-8", "Windows-1252",
            "CSV UTF-8", "iconv -f cp1252 -t utf-8")


def test_a_semicolon_delimited_file_is_read(library):
    import csv
    rows = list(csv.reader(io.StringIO(csv_text(), newline="")))
    out = io.StringIO(newline="")
    csv.writer(out, delimiter=";", lineterminator="\r\n").writerows(rows)
    assert imported("lib.csv", out.getvalue().encode()).changes == 0
    renamed = out.getvalue().replace(";Address data is validated", ";Addresses validated", 1)
    assert imported("lib.csv", renamed.encode()).updated == 1


def test_csv_exports_start_with_a_utf8_bom(library, people):
    assert library_io.export_csv().startswith(BOM)
    assert audit_results.audit_csv(signed_off_audit(people)).startswith(BOM)


def test_xlsx_round_trip_and_refusals(library, wipe_library):
    assert imported("lib.xlsx", library_io.export_xlsx()).changes == 0
    item("DV-01").title = "=HYPERLINK(\"http://evil.example\")"
    item("DV-02").active = False
    db.session.commit()
    data, before = library_io.export_xlsx(), library_counts()
    wipe_library()
    imported("lib.xlsx", data)
    assert library_counts() == before
    assert item("DV-01").title == "=HYPERLINK(\"http://evil.example\")"  # text, not a formula
    assert item("DV-02").active is False
    assert library_io.export_xlsx() == data  # the same workbook, byte for byte
    refused("lib.xlsx", b"type,domain\r\n", "not an XLSX workbook")


def test_a_formula_cell_in_a_workbook_is_refused(library):
    from openpyxl import load_workbook
    wb = load_workbook(io.BytesIO(library_io.export_xlsx()))
    wb.active["D3"] = "=1+1"
    out = io.BytesIO()
    wb.save(out)
    refused("lib.xlsx", out.getvalue(), "cell D3", "is a formula")


def test_the_preview_shows_each_change_and_a_stale_confirmation_is_shown_again(
        library, client, login_as):
    login_as("admin")
    text = csv_text()
    rows = text.split("\r\n")
    n = next(i for i, r in enumerate(rows) if r.startswith("item,DV,DV-02,"))
    del rows[n]
    edited = "\r\n".join(rows).replace("Address data is validated", "Addresses are checked", 1)
    page = client.post("/library/manage", data={"file": (io.BytesIO(edited.encode()),
                                                         "lib.csv")},
                       content_type="multipart/form-data")
    html = page.data.decode()
    assert page.status_code == 200
    assert "0 added</strong> · <strong>1 updated</strong> · <strong>1 deactivated" in html
    assert "Address data is validated" in html and "Addresses are checked" in html
    assert ">title<" in html and ">active<" in html
    assert item("DV-02").active  # nothing changed yet
    fields = {key: re.search(rf'name="{key}" type="hidden" value="([^"]*)"', html).group(1)
              for key in ("filename", "payload", "digest")}
    item("DV-03").title = "Changed meanwhile"
    db.session.commit()
    again = client.post("/library/manage", data=fields)
    assert again.status_code == 409 and b"The library changed since" in again.data
    db.session.expire_all()
    assert item("DV-02").active and item("DV-03").title == "Changed meanwhile"
    done = import_through_preview(client, edited.encode(), "lib.csv", "2 updated")
    assert b"deactivated" in done.data
    db.session.expire_all()
    assert item("DV-02").active is False


# --- LibreOffice ----------------------------------------------------------------------

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
needs_soffice = pytest.mark.skipif(
    SOFFICE is None, reason="LibreOffice (soffice) is not installed: apt-get install "
    "libreoffice-calc (.ci/run installs it)")


def soffice_convert(path, to: str, filter_options: str | None = None):
    """Open PATH in LibreOffice Calc and save it again as `to` (csv or xlsx)."""
    out = path.parent / "out"
    out.mkdir(exist_ok=True)
    target = to if filter_options is None else f"{to}:Text - txt - csv (StarCalc):{filter_options}"
    args = [SOFFICE, f"-env:UserInstallation=file://{path.parent}/lo-profile", "--headless",
            "--calc", "--convert-to", target, "--outdir", str(out), str(path)]
    if to == "csv":  # read the CSV as UTF-8, comma-separated, every column as text
        args[4:4] = ["--infilter=CSV:44,34,76,1,,0,false,true,false,false,false,-1"]
    subprocess.run(args, check=True, capture_output=True, timeout=120)
    return out / (path.stem + "." + to)


@needs_soffice
def test_library_round_trip_through_libreoffice_changes_nothing(library, tmp_path):
    source = tmp_path / "library.xlsx"
    source.write_bytes(library_io.export_xlsx())
    back = soffice_convert(source, "xlsx")
    assert imported("library.xlsx", back.read_bytes()).changes == 0
    csv_source = tmp_path / "library.csv"
    csv_source.write_text(library_io.export_csv(), encoding="utf-8")
    csv_back = soffice_convert(csv_source, "csv", "44,34,76,1,,0,false,true,false,false,false")
    assert imported("library.csv", csv_back.read_bytes()).changes == 0


@needs_soffice
def test_audit_results_round_trip_through_libreoffice_changes_nothing(library, people,
                                                                      tmp_path):
    audit = signed_off_audit(people)
    source = tmp_path / "audit.xlsx"
    source.write_bytes(audit_results.audit_xlsx(audit))
    back = soffice_convert(source, "xlsx")
    assert xlsx.read_sheets(back.read_bytes()) == xlsx.read_sheets(source.read_bytes())
    names = [name for name, _ in xlsx.read_sheets(source.read_bytes())]
    assert names == ["Summary", "DV"]
    dv = dict(xlsx.read_sheets(source.read_bytes()))["DV"]
    header = dv[0][1]
    first = dict(zip(header, dv[1][1], strict=True))
    assert first["code"] == "DV-01" and first["status"] == "met"
    assert first["evidence"].startswith("note: =cmd")  # text, not a formula
    assert {"verdict", "verdict_note", "comments"} <= set(header)
