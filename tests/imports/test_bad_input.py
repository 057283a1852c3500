"""Bad input: encodings, ragged rows, oversized cells, files that are not what they say,
zips with path tricks and bombs, and spreadsheet formulas."""

import io
import stat
import zipfile

import openpyxl
import pytest

from folio.catalog.models import Product
from folio.errors import InvalidInput
from folio.imports import exporter
from folio.imports.readers import escape_cell, unescape_cell
from folio.imports.sources import open_source
from tests.imports.conftest import counts, problems, run_import, write

pytestmark = pytest.mark.django_db

TEXT = "sku;family;name-en_US;name-de_DE\nA;bottles;Crème brûlée;Größe Über\n"


def _names():
    p = Product.objects.get(sku="A")
    return {e["locale"]: e["data"] for e in p.values["name"]}


@pytest.mark.parametrize(
    "encoding, raw",
    [
        ("utf-8", TEXT.encode("utf-8")),
        ("utf-8 with BOM", b"\xef\xbb\xbf" + TEXT.encode("utf-8")),
        ("utf-16 with BOM", TEXT.encode("utf-16")),
        ("utf-16-le without BOM", TEXT.encode("utf-16-le")),
        ("latin-1", TEXT.encode("latin-1")),
        ("windows-1252", TEXT.encode("cp1252")),
    ],
)
def test_encodings_are_read_or_detected(catalog, tmp_path, encoding, raw):
    path = tmp_path / "products.csv"
    path.write_bytes(raw)
    imp = run_import(path)
    assert not problems(imp), problems(imp)
    assert _names() == {"en_US": "Crème brûlée", "de_DE": "Größe Über"}
    if encoding in ("latin-1", "windows-1252"):
        [note] = problems(imp, "warning")
        assert "not UTF-8" in note["reason"]


def test_a_binary_file_is_refused_clearly(catalog, tmp_path):
    path = tmp_path / "products.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20)
    imp = run_import(path)
    [p] = problems(imp)
    assert "not a text file" in p["reason"]


def test_an_unknown_encoding_name_is_refused(catalog, files):
    imp = run_import(files("products.csv", TEXT), encoding="klingon-8")
    [p] = problems(imp)
    assert "klingon-8" in p["reason"]


def test_bytes_that_break_utf8_later_in_the_file_stop_it_with_the_row(catalog, tmp_path):
    good = "".join(f"P{i};bottles;Name {i};\n" for i in range(3000))  # past the sniffed part
    raw = ("sku;family;name-en_US;name-de_DE\n" + good).encode() + b"Z;bottles;Caf\xe9;\n"
    path = tmp_path / "products.csv"
    path.write_bytes(raw)
    imp = run_import(path)
    [p] = problems(imp)
    assert p["row"] == 3002 and "not utf-8 text" in p["reason"]
    assert Product.objects.count() == 3000  # the rows before it were read


def test_ragged_rows_are_reported_and_skipped(catalog, files):
    imp = run_import(
        files(
            "products.csv",
            "sku;family;name-en_US\nA;bottles;Alpha\n"
            "B;bottles\nC;bottles;Gamma;extra\nD;bottles;Delta;\n",
        )
    )
    rows = {p["row"]: p["reason"] for p in problems(imp)}
    assert set(rows) == {3, 4}
    assert "2 cells" in rows[3] and "4 cells" in rows[4]
    assert sorted(Product.objects.values_list("sku", flat=True)) == ["A", "D"]


def test_oversized_cells_are_refused_per_row(catalog, files, settings):
    settings.IMPORT_MAX_CELL_CHARS = 1000
    imp = run_import(
        files("products.csv", f"sku;family;name-en_US\nA;bottles;{'x' * 5000}\nB;bottles;Fine\n")
    )
    [p] = problems(imp)
    assert p["row"] == 2 and "longer than 1,000 characters" in p["reason"]
    assert list(Product.objects.values_list("sku", flat=True)) == ["B"]


def test_a_duplicated_column_or_an_empty_header_refuses_the_file(catalog, files):
    imp = run_import(files("products.csv", "sku;family;sku\nA;bottles;A\n"))
    assert "appears twice" in problems(imp)[0]["reason"]
    imp = run_import(files("products2.csv", "\nA;bottles\n"))
    assert "empty" in problems(imp)[0]["reason"]


def test_old_excel_and_other_files(catalog, files):
    assert "old Excel" in problems(run_import(files("products.xls", "x")))[0]["reason"]
    imp = run_import(files("products.xlsx", "not a zip"))
    assert "not an XLSX" in problems(imp)[0]["reason"]


# --- zips -----------------------------------------------------------------------------------


def _zip(path, entries):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in entries:
            if isinstance(data, zipfile.ZipInfo):
                z.writestr(data, b"/etc/passwd")
            else:
                z.writestr(name, data)
    return path


@pytest.mark.parametrize(
    "name, why",
    [
        ("../evil.csv", "'..'"),
        ("folder/../../evil.csv", "'..'"),
        ("/etc/evil.csv", "absolute"),
        ("C:/evil.csv", "drive letter"),
        ("folder\\..\\evil.csv", "backslash"),
    ],
)
def test_zip_entries_with_path_tricks_are_refused(catalog, tmp_path, name, why):
    path = _zip(tmp_path / "in.zip", [("products.csv", "sku;family\nA;bottles\n"), (name, "x")])
    with pytest.raises(InvalidInput) as exc:
        open_source(path)
    assert why in exc.value.message
    assert not (tmp_path / "evil.csv").exists()
    assert not Product.objects.exists()


def test_a_symbolic_link_in_a_zip_is_refused(catalog, tmp_path):
    link = zipfile.ZipInfo("media/passwd.jpg")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    path = _zip(
        tmp_path / "in.zip",
        [("products.csv", "sku;family\nA;bottles\n"), ("media/passwd.jpg", link)],
    )
    with pytest.raises(InvalidInput) as exc:
        open_source(path)
    assert "symbolic link" in exc.value.message


def test_a_zip_bomb_is_refused(catalog, tmp_path):
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("products.csv", b"0" * (50 * 1024 * 1024))
    with pytest.raises(InvalidInput) as exc:
        open_source(path)
    assert "zip bomb" in exc.value.message


def test_a_zip_of_a_folder_imports_like_the_folder(catalog, tmp_path):
    path = _zip(
        tmp_path / "in.zip",
        [
            ("export/categories.csv", "code;parent\nsummer;master\n"),
            ("export/products.csv", "sku;family;categories\nA;bottles;summer\n"),
            ("__MACOSX/export/._products.csv", "junk"),
        ],
    )
    imp = run_import(path)
    assert not problems(imp), problems(imp)
    assert Product.objects.get(sku="A").categories.get().code == "summer"


def test_too_many_zip_entries(catalog, tmp_path, settings):
    settings.IMPORT_MAX_ZIP_ENTRIES = 3
    path = _zip(tmp_path / "in.zip", [(f"f{i}.csv", "x") for i in range(5)])
    with pytest.raises(InvalidInput, match="at most 3"):
        open_source(path)


def test_media_cells_cannot_leave_the_import(catalog, tmp_path):
    secret = write(tmp_path / "secret.jpg", "secret")
    folder = tmp_path / "import"
    write(
        folder / "products.csv",
        f"sku;family;media-main\nA;bottles;../secret.jpg\nB;bottles;{secret}\n",
    )
    (folder / "media").mkdir()
    (folder / "media" / "link.jpg").symlink_to(secret)
    write(folder / "products2.csv", "sku;family;media-main\nC;bottles;media/link.jpg\n")
    imp = run_import(folder)
    reasons = {(p["file"], p["row"]): p["reason"] for p in problems(imp)}
    assert "leaves the import" in reasons[("products.csv", 2)]
    assert "absolute path" in reasons[("products.csv", 3)]
    assert "outside the import" in reasons[("products2.csv", 2)]
    assert not Product.objects.exists()


# --- formulas ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["=1+1", "+49 30 1234", "-5", "@SUM(A1)", "\tx", "\rx", "'=quoted", "'plain", "''", "'"]
)
def test_escaping_is_reversible(text):
    escaped = escape_cell(text)
    if text[0] in "=+-@\t\r":
        assert escaped == "'" + text
    assert unescape_cell(escaped) == text


def test_exports_escape_formulas_and_imports_read_them_back(catalog, tmp_path):
    run_import(
        write(
            tmp_path / "p.csv",
            'sku;family;name-en_US;brand\nA;bottles;=HYPERLINK("http://x");'
            "@cmd\nB;bottles;-minus;+plus\n",
        )
    )
    out = tmp_path / "out.csv"
    exporter.export(out)
    text = out.read_text()
    assert "'=HYPERLINK" in text and ";'@cmd" in text and "'-minus" in text
    xlsx = tmp_path / "out.xlsx"
    exporter.export(xlsx)
    ws = openpyxl.load_workbook(xlsx).active
    cells = [c.value for row in ws.iter_rows() for c in row if c.value]
    assert '\'=HYPERLINK("http://x")' in cells
    assert not any(isinstance(c, str) and c.startswith("=") for c in cells)
    before = {p.sku: p.values for p in Product.objects.all()}
    imp = run_import(out)
    assert counts(imp)["unchanged"] == 2, problems(imp)
    imp = run_import(xlsx)
    assert counts(imp)["unchanged"] == 2, problems(imp)
    assert {p.sku: p.values for p in Product.objects.all()} == before


def test_problem_reports_escape_formulas_too():
    text = exporter.csv_text([["value"], ["=cmd|' /C calc'!A0"]])
    assert text.splitlines()[1].startswith("'=") or text.splitlines()[1].startswith("\"'=")
    assert io  # the module is used by other tests
