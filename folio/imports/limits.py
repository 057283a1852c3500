"""Limits on everything an import reads, so no file, zip or cell can exhaust memory, disk or
time. Each can be changed in settings (IMPORT_<NAME>) — tests do — without an environment
variable of its own; uploads use FOLIO_MAX_UPLOAD_BYTES like every other upload."""

from django.conf import settings

DEFAULTS = {
    # A cell longer than this cannot be a value (a textarea holds 65,535 characters).
    "MAX_CELL_CHARS": 100_000,
    "MAX_COLUMNS": 20_000,
    "MAX_ROWS_PER_FILE": 10_000_000,
    # Items in one list cell (categories, options, association targets, media files).
    "MAX_LIST_ITEMS": 1_000,
    # Tables (files, sheets) in one import and entries in one zip.
    "MAX_FILES": 500,
    "MAX_ZIP_ENTRIES": 200_000,
    # What a zip may unpack to, in total, and its compression ratio per entry (bombs).
    "MAX_UNPACKED_BYTES": 50 * 1024**3,
    "MAX_COMPRESSION_RATIO": 200,
    # Problems kept per run (the count goes on beyond it).
    "MAX_PROBLEMS": 10_000,
    # Rounds of retrying rows that wait for rows further down the file.
    "MAX_DEFERRED_ROUNDS": 10,
    "MAX_MEDIA_FILES": 100_000,
}


def limit(name: str) -> int:
    if name == "MAX_UPLOAD_BYTES":
        return getattr(settings, "IMPORT_MAX_UPLOAD_BYTES", settings.MAX_UPLOAD_BYTES)
    return int(getattr(settings, f"IMPORT_{name}", DEFAULTS[name]))
