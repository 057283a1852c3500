"""Saved column mappings: a supplier's spreadsheet with its own column names, decimal
commas, units in cells, words for yes and no, lists and labels."""

import pytest

from folio.catalog.models import Product
from folio.errors import Conflict, InvalidInput, StaleWrite
from folio.imports import services
from folio.imports.models import ColumnMapping
from folio.linking.models import Link
from tests.assets import files as media_files
from tests.assets.conftest import media  # noqa: F401
from tests.imports.conftest import counts, problems, run_import, write

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]

SUPPLIER = (
    "Article no.;Product name;Volume;Dishwasher safe;Materials;Price EUR;Category;"
    "Internal note;Photo\n"
    "AC-1;Steel bottle;0,5 Liter;ja;Stainless Steel / Glass;1.234,50;Bottles;call Bob;a.jpg\n"
    "AC-2;Glass bottle;750;nein;Glass;19,90;Bottles;;\n"
    "AC-3;Odd bottle;1 l;vielleicht;Wood;9,00;Garden;;\n"
)
COLUMNS = [
    {"column": "Article no.", "field": "sku"},
    {"column": "Product name", "attribute": "name", "locale": "en_US"},
    {
        "column": "Volume",
        "attribute": "capacity",
        "transforms": [
            {"op": "decimal_comma"},
            {"op": "unit", "default_unit": "MILLILITER", "units": {"Liter": "LITER"}},
        ],
    },
    {
        "column": "Dishwasher safe",
        "attribute": "bpa_free",
        "transforms": [{"op": "boolean", "true": ["ja"], "false": ["nein"]}],
    },
    {
        "column": "Materials",
        "attribute": "materials",
        "transforms": [{"op": "split", "separator": "/"}, {"op": "options_by_label"}],
    },
    {
        "column": "Price EUR",
        "attribute": "price",
        "currency": "EUR",
        "transforms": [{"op": "decimal_comma"}],
    },
    {
        "column": "Category",
        "field": "categories",
        "transforms": [{"op": "map", "values": {"Bottles": "drinkware"}}],
    },
    {"column": "Internal note", "ignore": True},
    {"column": "Photo", "media": "main"},
]


def _data(sku, code, locale=None):
    for e in Product.objects.get(sku=sku).values.get(code, []):
        if e["locale"] == locale:
            return e["data"]
    return None


def test_a_supplier_spreadsheet_through_a_mapping(catalog, tmp_path):
    services.create_mapping(
        "acme", description="ACME price list", options={"family": "bottles"}, columns=COLUMNS
    )
    folder = tmp_path / "acme"
    write(folder / "acme-2025.csv", SUPPLIER)
    (folder / "a.jpg").write_bytes(media_files.jpeg())
    imp = run_import(
        folder / "acme-2025.csv", mapping=ColumnMapping.objects.get(name="acme"), kind="products"
    )
    assert counts(imp)["created"] == 2
    found = {(p["row"], p["column"], p["value"]) for p in problems(imp)}
    assert (4, "Dishwasher safe", "vielleicht") in found
    assert (4, "Materials", "Wood") in found
    assert (4, "Category", "Garden") in found
    assert _data("AC-1", "capacity") == {"amount": "0.5", "unit": "LITER"}
    assert _data("AC-2", "capacity") == {"amount": "750", "unit": "MILLILITER"}
    assert _data("AC-1", "bpa_free") is True and _data("AC-2", "bpa_free") is False
    assert _data("AC-1", "materials") == ["glass", "stainless_steel"]
    assert _data("AC-1", "price") == [{"amount": "1234.5", "currency": "EUR"}]
    assert _data("AC-1", "name", "en_US") == "Steel bottle"
    assert Product.objects.get(sku="AC-1").categories.get().code == "drinkware"
    assert Product.objects.get(sku="AC-1").family.code == "bottles"
    assert Link.objects.get(product__sku="AC-1").role == "main"
    assert not any("Internal note" in p["column"] for p in imp.report.problems)


def test_dates_defaults_and_text_transforms(catalog, files):
    services.create_mapping(
        "machines",
        options={"family": "coffee_machines", "delimiter": ","},
        columns=[
            {"column": "SKU", "field": "sku", "transforms": [{"op": "trim"}, {"op": "upper"}]},
            {
                "column": "Launch",
                "attribute": "release_date",
                "transforms": [{"op": "date", "format": "%d.%m.%Y"}],
            },
            {
                "column": "Warranty",
                "attribute": "warranty_years",
                "transforms": [
                    {"op": "replace", "old": " years", "new": ""},
                    {"op": "default", "value": "2"},
                ],
            },
        ],
    )
    path = files(
        "machines.csv",
        "SKU,Launch,Warranty\n ep-1 ,31.12.2025,3 years\nep-2,01.02.2026,\nep-3,2026-02-01,\n",
    )
    imp = run_import(path, mapping=ColumnMapping.objects.get(name="machines"), kind="products")
    assert _data("EP-1", "release_date") == "2025-12-31"
    assert _data("EP-1", "warranty_years") == "3"
    assert _data("EP-2", "warranty_years") == "2"
    [p] = problems(imp)
    assert p["row"] == 4 and p["column"] == "Launch" and "%d.%m.%Y" in p["reason"]


def test_columns_the_mapping_does_not_name_follow_the_conventions(catalog, files):
    services.create_mapping("partial", columns=[{"column": "Ref", "field": "sku"}])
    imp = run_import(
        files("p.csv", "Ref;family;name-en_US;Whatever\nA;bottles;Alpha;x\n"),
        mapping=ColumnMapping.objects.get(name="partial"),
        kind="products",
    )
    [p] = [p for p in problems(imp) if p["column"]]
    assert p["column"] == "Whatever"  # unknown: the file is refused, not silently cut
    assert not Product.objects.exists()


@pytest.mark.parametrize(
    "columns, words",
    [
        ([{"column": "A", "attribute": "nope"}], "no attribute 'nope'"),
        ([{"column": "A", "attribute": "name"}], "localizable: give the locale"),
        ([{"column": "A", "attribute": "brand", "locale": "en_US"}], "not localizable"),
        ([{"column": "A", "attribute": "short_title", "locale": "en_US"}], "give the channel"),
        ([{"column": "A", "field": "sku"}, {"column": "A", "ignore": True}], "mapped twice"),
        ([{"column": "A", "field": "colour"}], "field is one of"),
        ([{"column": "A", "field": "sku", "attribute": "brand"}], "exactly one"),
        ([{"column": "A", "attribute": "brand", "transforms": [{"op": "explode"}]}], "unknown op"),
        ([{"column": "A", "attribute": "brand", "transforms": [{"op": "date"}]}], "needs 'format'"),
        ([{"column": "A", "media": "Main Image"}], "a role"),
        ([{"column": "A", "attribute": "price", "currency": "XYZ"}], "currency"),
        ([{"column": "A", "attribute": "brand", "sheet": 1}], "does not belong"),
    ],
)
def test_a_bad_mapping_is_refused_with_every_problem(catalog, columns, words):
    with pytest.raises(InvalidInput) as exc:
        services.create_mapping("bad", columns=columns)
    assert any(words in d["reason"] for d in exc.value.details), exc.value.details
    assert not ColumnMapping.objects.exists()


def test_mapping_names_options_versions(catalog):
    with pytest.raises(InvalidInput):
        services.create_mapping("Has Spaces")
    with pytest.raises(InvalidInput, match=r"options\.colour"):
        services.create_mapping("m", options={"colour": "blue"})
    m = services.create_mapping("m", columns=[{"column": "Ref", "field": "sku"}])
    with pytest.raises(Conflict):
        services.create_mapping("m")
    services.update_mapping("m", expected_version=m.version, description="new")
    with pytest.raises(StaleWrite):
        services.update_mapping("m", expected_version=m.version, description="stale")
    services.delete_mapping("m")
    assert not ColumnMapping.objects.exists()
