"""CSV that spreadsheets open safely and that reads back exactly as written, and the checks
that turn what spreadsheets do to CSV files (other encodings, other delimiters, padded rows,
Windows line endings) into either the intended text or a clear refusal."""

import csv
import io
import re

# A cell starting with one of these is a formula to a spreadsheet; a leading apostrophe
# makes it text. A cell that would read back as protected (an apostrophe, then one of these
# or another apostrophe) gets one too, so that reading strips exactly the one added; any
# other apostrophe ("'Twas") is the text's own and stays.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"  # spreadsheet programs read a CSV as UTF-8 only when it starts with one
DELIMITERS = (",", ";", "\t")

# UTF-8 read as Windows-1252/Latin-1 and saved again: "Größe" becomes "GrÃ¶ÃŸe".
_MOJIBAKE = re.compile("[ÃÂ][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192"
                       "\u02c6\u02dc\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039"
                       "\u203a\u20ac\u2122]|â€")


def _protected(text: str) -> bool:
    return text.startswith(_FORMULA_START) or (
        text.startswith("'") and text[1:].startswith(_FORMULA_START + ("'",)))


def protect(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if _protected(text) else text


def unprotect(text: str) -> str:
    return text[1:] if text.startswith("'") and _protected(text[1:]) else text


def normalise_cell(text: str) -> str:
    """Windows line endings inside a cell are the text's line breaks."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def write_rows(header: list[str], rows) -> str:
    out = io.StringIO(newline="")
    out.write(BOM)
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([protect(v) for v in row])
    return out.getvalue()


def decode(data: bytes) -> tuple[str | None, str | None]:
    """(text, None), or (None, what went wrong and how to fix it)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        try:
            sample = data[max(0, exc.start - 20):exc.end + 20].decode("cp1252")
        except UnicodeDecodeError:
            sample = ""
        hint = (f" (near “{' '.join(sample.split())}”)" if sample else "")
        return None, ("not UTF-8 text: it looks like Windows-1252 or another legacy "
                      f"encoding{hint}. Save it again as UTF-8 — in Excel “CSV UTF-8 (Comma "
                      "delimited)”, in LibreOffice tick “Edit filter settings” and choose "
                      "“Unicode (UTF-8)” — or convert it: iconv -f cp1252 -t utf-8 FILE > "
                      "FILE.utf8.csv")
    return text[1:] if text.startswith(BOM) else text, None


def mojibake(text: str) -> str | None:
    """A hint naming the first line that looks like UTF-8 read in another encoding."""
    found = _MOJIBAKE.search(text)
    if found is None:
        return None
    line = text.count("\n", 0, found.start()) + 1
    start = text.rfind("\n", 0, found.start()) + 1
    word = re.search(r"[^\s,;]*$", text[start:found.start()]).group() + re.match(
        r"[^\s,;]*", text[found.start():]).group()
    try:
        meant = f" (meant: “{word.encode('cp1252').decode('utf-8')}”)"
    except UnicodeError:
        meant = ""
    return (f"line {line} has “{word[:40]}”{meant}: the file was opened in a spreadsheet "
            "without choosing UTF-8 and saved again, which garbles every accented letter. "
            "Open the original export again choosing the character set “Unicode (UTF-8)” "
            "(LibreOffice) or “65001: Unicode (UTF-8)” (Excel: Data → From Text/CSV), or "
            "export the library again")


def sniff_delimiter(first_line: str, known: list[str]) -> str:
    """The delimiter that splits the header into the most known column names."""
    def score(delimiter: str) -> int:
        cells = next(csv.reader([first_line], delimiter=delimiter), [])
        return sum(c.strip().lstrip(BOM) in known for c in cells)

    return max(DELIMITERS, key=score)
