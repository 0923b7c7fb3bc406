"""CSV that spreadsheets open safely and that reads back exactly as written."""

import csv
import io

# A cell starting with one of these is a formula to a spreadsheet; a leading apostrophe
# makes it text. Cells starting with an apostrophe get one too, so reading strips exactly one.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")


def protect(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def unprotect(text: str) -> str:
    return text[1:] if text.startswith("'") else text


def write_rows(header: list[str], rows) -> str:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([protect(v) for v in row])
    return out.getvalue()
