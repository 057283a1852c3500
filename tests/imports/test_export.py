"""Exports: the same conventions as imports (so import → export → import loses nothing),
filtered selections, labels for people, XLSX, media files."""

import csv
import io
import zipfile

import openpyxl
import pytest

from folio import demo
from folio.catalog.models import (
    Association,
    AssociationType,
    Attribute,
    AttributeGroup,
    Category,
    Channel,
    Family,
    FamilyVariant,
    Product,
    ProductGroup,
    ProductModel,
)
from folio.imports import exporter
from folio.linking.models import Link
from tests.assets.conftest import media  # noqa: F401
from tests.imports.conftest import counts, problems, run_import, write
from tests.imports.test_structure import PIM_EXPORT, _write_all

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]


def _files(folder) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def _wipe_products():
    Link.objects.all().delete()
    Association.objects.all().delete()
    Product.objects.all().delete()
    ProductModel.objects.filter(parent__isnull=False).delete()
    ProductModel.objects.all().delete()


def _wipe_everything():
    _wipe_products()
    FamilyVariant.objects.all().delete()
    Family.objects.all().delete()
    Attribute.objects.all().delete()
    AttributeGroup.objects.all().delete()
    AssociationType.objects.all().delete()
    ProductGroup.objects.all().delete()
    Channel.objects.all().delete()
    while Category.objects.exists():
        Category.objects.filter(children__isnull=True).delete()


def test_round_trip_of_a_whole_catalog_is_lossless(db, tmp_path):
    run_import(_write_all(tmp_path / "pim"))
    first = tmp_path / "first"
    exporter.export(first)
    _wipe_everything()
    imp = run_import(first)
    assert not problems(imp), problems(imp)
    second = tmp_path / "second"
    exporter.export(second)
    assert _files(first) == _files(second)
    assert set(_files(first)) == {
        "locales.csv",
        "currencies.csv",
        "categories.csv",
        "channels.csv",
        "attribute_groups.csv",
        "attributes.csv",
        "attribute_options.csv",
        "families.csv",
        "family_variants.csv",
        "association_types.csv",
        "groups.csv",
        "product_models.csv",
        "products.csv",
    }


def test_round_trip_of_the_demo_catalog(db, tmp_path):
    demo.seed(io.StringIO())
    first = tmp_path / "first"
    exporter.export(first)
    # The same files again: every row is unchanged.
    imp = run_import(first)
    assert not problems(imp), problems(imp)
    for f in imp.report.files:
        assert f["unchanged"] == f["rows"], f
    # Products and models gone, read back from the files: the export is the same, byte for byte.
    before = {p.sku: (p.values, p.enabled, p.family_id) for p in Product.objects.all()}
    _wipe_products()
    imp = run_import(first)
    assert not problems(imp), problems(imp)
    after = {p.sku: (p.values, p.enabled, p.family_id) for p in Product.objects.all()}
    assert after == before
    second = tmp_path / "second"
    exporter.export(second)
    assert _files(first) == _files(second)


def test_xlsx_round_trip(db, tmp_path):
    run_import(_write_all(tmp_path / "pim"))
    out = tmp_path / "catalog.zip"
    exporter.export(out, fmt="xlsx")
    with zipfile.ZipFile(out) as z:
        assert "products.xlsx" in z.namelist()
    _wipe_products()
    imp = run_import(out)
    assert not problems(imp), problems(imp)
    assert counts(imp, "products.xlsx")["created"] == 2


def test_filtered_selections(catalog, files, tmp_path):
    run_import(
        files(
            "products.csv",
            "sku;family;categories;color;enabled\n"
            "A;bottles;drinkware;blue;1\nB;bottles;coffee;green;1\n"
            "C;coffee_machines;coffee;;0\n",
        )
    )

    def skus(**filters):
        out = tmp_path / "out.csv"
        exporter.export(out, filters=filters)
        return [row["sku"] for row in csv.DictReader(io.StringIO(out.read_text()), delimiter=";")]

    assert skus() == ["A", "B", "C"]
    assert skus(family=["bottles"]) == ["A", "B"]
    assert skus(category=["kitchen"]) == ["B", "C"]  # coffee is below kitchen
    assert skus(filter=["color=blue"]) == ["A"]
    assert skus(enabled=False) == ["C"]


def test_labels_for_people(catalog, files, tmp_path):
    run_import(
        files(
            "products.csv",
            "sku;family;categories;color;materials;bpa_free;"
            "capacity\nA;bottles;drinkware;blue;glass;1;750 ml\n",
        )
    )
    Attribute.objects.filter(code="color").update(labels={"en_US": "Colour", "de_DE": "Farbe"})
    out = tmp_path / "out.xlsx"
    exporter.export(out, labels_locale="en_US")
    rows = list(openpyxl.load_workbook(out).active.iter_rows(values_only=True))
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["SKU"] == "A" and row["Family"] == "bottles"
    assert row["Colour"] == "Blue" and row["Materials"] == "Glass"
    assert row["Bpa_Free"] == "Yes"
    assert row["Capacity"] == "750 ml"


def test_exported_media_come_with_their_files(catalog, tmp_path):
    from tests.assets import files as media_files

    folder = tmp_path / "in"
    write(folder / "products.csv", "sku;family;media-main\nA;bottles;media/a.jpg\n")
    (folder / "media").mkdir()
    (folder / "media" / "a.jpg").write_bytes(media_files.jpeg())
    run_import(folder)
    out = tmp_path / "out"
    counts_ = exporter.export(out, what="products", media=True)
    assert counts_["media_files"] == 1
    [row] = csv.DictReader(io.StringIO((out / "products.csv").read_text()), delimiter=";")
    ref = row["media-main"]
    assert ref.startswith("media/") and (out / ref).is_file()
    single = tmp_path / "single.csv"
    exporter.export(single, media=True)
    assert "asset:" in single.read_text()
    # Importing the folder again finds the same asset by its content: nothing new.
    imp = run_import(out)
    assert counts(imp)["unchanged"] == 1 and imp.outcome["media"]["assets_created"] == 0
    assert Link.objects.count() == 1


def test_a_folder_export_needs_a_folder(catalog, tmp_path):
    from folio.errors import InvalidInput

    with pytest.raises(InvalidInput, match="folder"):
        exporter.export(tmp_path / "x.csv", what="structure")
    with pytest.raises(InvalidInput):
        exporter.export(tmp_path / "x.csv", fmt="pdf")
    assert PIM_EXPORT
