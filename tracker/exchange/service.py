"""Importing an uploaded library file, whichever of the formats it is in."""

from tracker.exchange import library_io, oscal
from tracker.library.seeding import LoadResult


def import_file(actor, name: str, data: bytes) -> LoadResult:
    """A .yaml/.yml/.csv file replaces the library; an OSCAL catalog .json adds to it.
    Raises LibraryFileError naming the line or field, before anything is written."""
    if name.lower().endswith(".json"):
        return oscal.import_catalog(actor, oscal.parse_catalog(name, data), name)
    return library_io.import_library(actor, library_io.parse_library_file(name, data), name)
