"""Reading spreadsheets as streams of rows: CSV (encoding detected, delimiter sniffed) and
XLSX (openpyxl in read-only mode), one row in memory at a time whatever the file size.

A `Table` is a header and an iterator of rows. Every cell comes out as text: XLSX numbers in
plain decimal notation, dates as YYYY-MM-DD, booleans as 1/0, so the column conventions read
one kind of input. A row that cannot be read (ragged, an oversized cell, bytes that are not
text in the file's encoding) comes with a problem and the rows after it are still read; a file
that cannot be read at all raises ReadError naming the file and the reason.

Cells that an export escaped against formula injection (a leading ') are unescaped by whoever
reads the cell (`unescape_cell`): a row of 1,500 mostly empty cells costs the cells it fills,
and import → export → import gives back the same values.
"""

import codecs
import contextlib
import csv
import datetime
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from folio.imports.limits import limit

SNIFF_BYTES = 64 * 1024
DELIMITERS = (";", ",", "\t", "|")
DELIMITER_NAMES = {";": "semicolon", ",": "comma", "\t": "tab", "|": "pipe"}
# Encodings a file that is not UTF-8 may be read in when detection points at them; anything
# else is refused with a message rather than read as mojibake.
WESTERN = ("cp1252", "latin_1", "iso8859_15")
SINGLE_BYTE = (*WESTERN, "cp1250", "iso8859_2", "mac_roman", "cp850", "mac_latin2")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
ESCAPE_AFTER_QUOTE = (*FORMULA_START, "'")
XLSX_SUFFIXES = (".xlsx", ".xlsm")
CSV_SUFFIXES = (".csv", ".tsv", ".txt")


class ReadError(Exception):
    def __init__(self, message: str, *, row: int | None = None):
        super().__init__(message)
        self.message = message
        self.row = row


@dataclass
class Table:
    file: str  # as shown to people: the path inside the import, and ":sheet" for workbooks
    header: list[str]
    rows: Iterator  # (row number, cells, problem or None); the header is row 1
    sheet: str = ""
    encoding: str = ""
    delimiter: str = ""
    estimated_rows: int | None = None
    notes: list[str] = field(default_factory=list)
    closer: object = None

    def close(self) -> None:
        if self.closer is not None:
            self.closer()


def escape_cell(text: str) -> str:
    """What every export writes: a leading ' when a spreadsheet would take the cell for a
    formula (= + - @ tab CR), and before a leading ' that `unescape_cell` would remove."""
    if text and (
        text[0] in FORMULA_START or (text[0] == "'" and text[1:2] and text[1] in ESCAPE_AFTER_QUOTE)
    ):
        return "'" + text
    return text


def unescape_cell(text: str) -> str:
    if text[:1] == "'" and text[1:2] and text[1] in ESCAPE_AFTER_QUOTE:
        return text[1:]
    return text


# --- encodings and delimiters -----------------------------------------------------------------


def detect_encoding(head: bytes, name: str, forced: str | None = None) -> tuple[str, str]:
    """(Python codec, note for the report). Refuses what is not text in a known encoding."""
    if forced:
        try:
            codec = codecs.lookup(forced).name
        except LookupError:
            raise ReadError(f"{name}: {forced!r} is not an encoding Folio knows") from None
        return codec, f"read as {codec} (as asked)"
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", ""
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32", "read as UTF-32 (byte order mark)"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", "read as UTF-16 (byte order mark)"
    if not head:
        return "utf-8", ""
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=len(head) < SNIFF_BYTES)
        return "utf-8", ""
    except UnicodeDecodeError:
        pass
    zeros = head.count(b"\x00")
    if zeros:
        # UTF-16 text without a byte order mark: every other byte of ASCII text is zero.
        even, odd = head[0::2].count(0), head[1::2].count(0)
        half = len(head) // 2 or 1
        if max(even, odd) > 0.3 * half and min(even, odd) < 0.05 * half:
            codec = "utf-16-le" if odd > even else "utf-16-be"
            try:
                head[: len(head) // 2 * 2].decode(codec)
                return codec, f"read as {codec.upper()} (no byte order mark)"
            except UnicodeDecodeError:
                pass
        raise ReadError(
            f"{name} is not a text file (it holds binary data); export the sheet as CSV "
            "(UTF-8) or XLSX"
        )
    from charset_normalizer import from_bytes

    guesses = [m.encoding for m in from_bytes(head)]
    # Detection cannot tell the Latin code pages apart on short samples; Western European
    # is by far the most common, and is what Excel writes on Western systems.
    if any(g in SINGLE_BYTE for g in guesses):
        if any(g in WESTERN or g in ("cp1250", "iso8859_2") for g in guesses):
            for codec in ("cp1252", "latin_1"):
                try:
                    head.decode(codec)
                    return codec, (
                        f"not UTF-8: read as {'Windows-1252' if codec == 'cp1252' else 'Latin-1'}"
                        " (detected); save files as UTF-8 to be sure of accents"
                    )
                except UnicodeDecodeError:
                    continue
        codec = next(g for g in guesses if g in SINGLE_BYTE)
        return codec, f"not UTF-8: read as {codec} (detected)"
    looks = f" (it looks like {guesses[0]})" if guesses else ""
    raise ReadError(
        f"{name} is not UTF-8 and its encoding could not be told safely{looks}; save it as "
        "CSV UTF-8, or name the encoding (--encoding / the mapping's encoding option)"
    )


def sniff_delimiter(text: str) -> str:
    """The delimiter among ; , tab | that splits the first lines into the most, consistent
    columns; ; (the convention) when the file has one column."""
    cut = text.rfind("\n")
    sample = text[: cut + 1] if cut > 0 else text
    best, best_score = ";", (False, 1)
    for d in DELIMITERS:
        try:
            rows = [r for r in csv.reader(io.StringIO(sample), delimiter=d) if r][:20]
        except csv.Error:
            continue
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        consistent = all(len(r) == width for r in rows[1:])
        score = (consistent, width)
        if score > best_score:
            best, best_score = d, score
    return best


def _count_lines(path: Path, encoding: str) -> int:
    newline = b"\n"
    if encoding.startswith("utf-16"):
        newline = b"\x00\n" if encoding.endswith("be") else b"\n\x00"
    count, last = 0, b""
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            count += chunk.count(newline)
            last = chunk
    return count + (1 if last and not last.endswith(newline) else 0)


# --- CSV --------------------------------------------------------------------------------------


def _decoded_lines(raw, codec: str) -> Iterator[str]:
    first = True
    for line in raw:
        if first and codec == "utf-8-sig":
            yield line.decode("utf-8-sig")
        else:
            yield line.decode("utf-8" if codec == "utf-8-sig" else codec)
        first = False


def _clean_header(cells: list, file: str) -> list[str]:
    header = [str(c or "").strip() for c in cells]
    while header and not header[-1]:
        header.pop()
    if not header:
        raise ReadError(f"{file}: the first row is empty; it must name the columns", row=1)
    if len(header) > limit("MAX_COLUMNS"):
        raise ReadError(
            f"{file}: {len(header):,} columns; at most {limit('MAX_COLUMNS'):,} are read",
            row=1,
        )
    seen: dict[str, int] = {}
    for i, name in enumerate(header):
        if name and name in seen:
            raise ReadError(
                f"{file}: the column {name!r} appears twice (columns {seen[name] + 1} and "
                f"{i + 1}); each column once",
                row=1,
            )
        seen[name] = i
    return header


def _fit(cells: list[str], width: int, *, short_ok: bool = False) -> tuple[list[str], str | None]:
    """Cells padded to the header; a problem when the row is ragged (a workbook leaves out
    the empty cells at the end of a row: `short_ok`)."""
    n = len(cells)
    if n == width:
        return cells, None
    if short_ok and n < width:
        return cells + [""] * (width - n), None
    if n > width:
        if any(c.strip() for c in cells[width:]):
            return cells[:width], (
                f"the row has {n} cells but the header names {width} columns; values beyond "
                "the last column (a stray delimiter, or quotes not closed?)"
            )
        return cells[:width], None
    return cells + [""] * (width - n), (
        f"the row has {n} cells but the header names {width} columns (a missing delimiter, "
        "or a line break inside a cell without quotes?)"
    )


def read_csv(
    path: Path, file: str, *, encoding: str | None = None, delimiter: str | None = None
) -> Table:
    with open(path, "rb") as fh:
        head = fh.read(SNIFF_BYTES)
    codec, note = detect_encoding(head, file, encoding)
    decoder = codecs.getincrementaldecoder(codec)(errors="replace")
    text_head = decoder.decode(head, final=len(head) < SNIFF_BYTES)
    if delimiter is not None and delimiter not in DELIMITERS:
        raise ReadError(f"{file}: the delimiter must be one of ; , tab |, not {delimiter!r}")
    delim = delimiter or sniff_delimiter(text_head)
    max_cell = limit("MAX_CELL_CHARS")
    previous_limit = csv.field_size_limit()
    csv.field_size_limit(max_cell)
    raw = open(path, "rb")  # noqa: SIM115 - closed by the table's closer
    if codec.startswith(("utf-16", "utf-32")):
        lines = io.TextIOWrapper(raw, encoding=codec, newline="")
    else:
        # Decoded a line at a time, so bytes that are not text are reported at their row.
        lines = _decoded_lines(raw, codec)
    reader = csv.reader(lines, delimiter=delim)

    def close():
        csv.field_size_limit(previous_limit)
        raw.close()

    try:
        first = next(reader, None)
    except (csv.Error, UnicodeDecodeError) as exc:
        close()
        raise ReadError(f"{file}: the header row cannot be read ({exc})", row=1) from None
    if first is None:
        close()
        raise ReadError(f"{file} is empty; it needs a header row naming the columns")
    try:
        header = _clean_header([unescape_cell(c) for c in first], file)
    except ReadError:
        close()
        raise
    width = len(header)
    max_rows = limit("MAX_ROWS_PER_FILE")

    def rows():
        number = 1
        try:
            while True:
                number += 1
                try:
                    cells = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    if "field larger" in str(exc):
                        yield (
                            number,
                            [""] * width,
                            (f"a cell is longer than {max_cell:,} characters; the row is not read"),
                        )
                    else:
                        yield number, [""] * width, f"the row cannot be read as CSV ({exc})"
                    continue
                except UnicodeDecodeError as exc:
                    # The end of what can be read: the rows before it are kept.
                    yield (
                        number,
                        None,
                        (
                            f"the bytes of this row are not {codec} text ({exc.reason}); the file "
                            "is not read further. Save it as UTF-8 (or name its encoding)"
                        ),
                    )
                    return
                if number - 1 > max_rows:
                    yield number, None, f"more than {max_rows:,} rows; the rest is not read"
                    return
                if not cells or (len(cells) == 1 and not cells[0].strip()):
                    continue  # a blank line
                cells, problem = _fit(cells, width)
                yield number, cells, problem
        finally:
            close()

    return Table(
        file=file,
        header=header,
        rows=rows(),
        encoding=codec,
        delimiter=delim,
        estimated_rows=max(_count_lines(path, codec) - 1, 0),
        notes=[note] if note else [],
        closer=close,
    )


# --- XLSX -------------------------------------------------------------------------------------


def xlsx_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        text = format(Decimal(repr(value)).normalize(), "f")
        return text
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, datetime.datetime):
        if value.time() == datetime.time(0, 0):
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return str(value)


def check_zip_container(path: Path, file: str) -> None:
    """An XLSX is a zip: refuse bombs before a parser sees it."""
    try:
        with zipfile.ZipFile(path) as z:
            total = 0
            for info in z.infolist():
                total += info.file_size
                if (
                    info.file_size > 1 << 20
                    and info.compress_size
                    and (info.file_size / info.compress_size > limit("MAX_COMPRESSION_RATIO"))
                ):
                    raise ReadError(f"{file}: {info.filename} is compressed suspiciously well")
            if total > limit("MAX_UNPACKED_BYTES"):
                raise ReadError(f"{file} unpacks to more than the limit")
    except zipfile.BadZipFile:
        raise ReadError(f"{file} is not an XLSX workbook (not a zip container)") from None


def read_xlsx(
    path: Path, file: str, *, sheet: str | None = None, sheet_order=None
) -> Iterator[Table]:
    import openpyxl

    check_zip_container(path, file)
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for damaged workbooks
        raise ReadError(f"{file} cannot be opened as an XLSX workbook ({exc})") from None
    try:
        sheets = wb.worksheets
        if sheet:
            sheets = [ws for ws in sheets if ws.title == sheet]
            if not sheets:
                names = ", ".join(ws.title for ws in wb.worksheets)
                raise ReadError(f"{file} has no sheet {sheet!r} (it has {names})")
        if sheet_order is not None:  # sheets named after their content: dependency order
            sheets = sorted(sheets, key=lambda ws: sheet_order(ws.title))
        max_cell = limit("MAX_CELL_CHARS")
        max_rows = limit("MAX_ROWS_PER_FILE")
        for ws in sheets:
            it = ws.iter_rows(values_only=True)
            number, first = 0, None
            for values in it:
                number += 1
                if values and any(v not in (None, "") for v in values):
                    first = values
                    break
            if first is None:
                continue  # an empty sheet
            name = f"{file}:{ws.title}" if len(wb.worksheets) > 1 else file
            header = _clean_header([unescape_cell(xlsx_text(v)) for v in first], name)
            width = len(header)
            header_row = number

            def rows(it=it, width=width, start=header_row, name=name):
                n = start
                for values in it:
                    n += 1
                    if n - start > max_rows:
                        yield n, None, f"more than {max_rows:,} rows; the rest is not read"
                        return
                    cells = [xlsx_text(v) for v in values]
                    if not any(c.strip() for c in cells):
                        continue
                    if any(len(c) > max_cell for c in cells):
                        yield (
                            n,
                            [""] * width,
                            (f"a cell is longer than {max_cell:,} characters; the row is not read"),
                        )
                        continue
                    cells, problem = _fit(cells, width, short_ok=True)
                    yield n, cells, problem

            estimated = None
            with contextlib.suppress(Exception):
                estimated = max((ws.max_row or 0) - header_row, 0)
            yield Table(
                file=name,
                header=header,
                rows=rows(),
                sheet=ws.title,
                estimated_rows=estimated,
            )
    finally:
        wb.close()


def open_tables(
    path: Path,
    file: str,
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
    sheet: str | None = None,
    sheet_order=None,
) -> Iterator[Table]:
    suffix = path.suffix.lower()
    if suffix in XLSX_SUFFIXES:
        yield from read_xlsx(path, file, sheet=sheet, sheet_order=sheet_order)
    elif suffix in CSV_SUFFIXES or not suffix:
        yield read_csv(path, file, encoding=encoding, delimiter=delimiter)
    elif suffix == ".xls":
        raise ReadError(f"{file} is an old Excel (.xls) workbook; save it as .xlsx or CSV")
    else:
        raise ReadError(f"{file}: only CSV and XLSX files are read, not {suffix}")
