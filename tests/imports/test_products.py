"""Product files in the open-PIM conventions: each kind of column, lists, variants,
associations, empty cells, references to things that do not exist, duplicates."""

import datetime

import openpyxl
import pytest

from folio.catalog import services
from folio.catalog.models import Association, Product, ProductChange, ProductModel
from tests.imports.conftest import counts, problems, run_import

pytestmark = pytest.mark.django_db

HEADER = (
    "sku;family;categories;enabled;groups;name-en_US;name-de_DE;"
    "short_title-en_US-marketplace;description-en_US-ecommerce;brand;gtin;price-USD;price-EUR;"
    "capacity;capacity-unit;height;bpa_free;color;materials;release_date;manual_url\n"
)


def values(sku: str) -> dict:
    return Product.objects.get(sku=sku).values


def data(sku: str, code: str, locale=None, scope=None):
    for e in values(sku).get(code, []):
        if e["locale"] == locale and e["scope"] == scope:
            return e["data"]
    return None


def test_every_kind_of_column(catalog, files):
    path = files(
        "products.csv",
        HEADER + "WB-1;bottles;drinkware,kitchen;1;winter_collection;Steel bottle;Stahlflasche;"
        "Steel Bottle 750;<p>Keeps <b>cold</b></p>;Aqua;4006381333931;24.90;22.90;750;MILLILITER;"
        "25.5 cm;yes;blue;glass,stainless_steel;;\n"
        "WB-2;bottles;drinkware;0;;Glass bottle;;;;;;19.9;;0.5 L;;30 cm;0;green;glass;;\n"
        "EP-1;coffee_machines;coffee;1;;Espresso;;;;;;499;;;;;;;;2025-03-01;"
        "https://example.com/manual.pdf\n",
    )
    imp = run_import(path)
    assert not problems(imp), problems(imp)
    assert counts(imp) | {} == counts(imp) and counts(imp)["created"] == 3
    p = Product.objects.get(sku="WB-1")
    assert p.family.code == "bottles" and p.enabled
    assert sorted(c.code for c in p.categories.all()) == ["drinkware", "kitchen"]
    assert [g.code for g in p.groups.all()] == ["winter_collection"]
    assert data("WB-1", "name", "en_US") == "Steel bottle"
    assert data("WB-1", "name", "de_DE") == "Stahlflasche"
    assert data("WB-1", "short_title", "en_US", "marketplace") == "Steel Bottle 750"
    assert data("WB-1", "description", "en_US", "ecommerce") == "<p>Keeps <b>cold</b></p>"
    assert data("WB-1", "price") == [
        {"amount": "22.9", "currency": "EUR"},
        {"amount": "24.9", "currency": "USD"},
    ]
    assert data("WB-1", "capacity") == {"amount": "750", "unit": "MILLILITER"}
    assert data("WB-1", "bpa_free") is True
    assert data("WB-1", "color") == "blue"
    assert data("WB-1", "materials") == ["glass", "stainless_steel"]
    # A unit after the amount, as a symbol, in one cell.
    assert data("WB-2", "capacity") == {"amount": "0.5", "unit": "LITER"}
    assert data("WB-2", "height") == {"amount": "30", "unit": "CENTIMETER"}
    assert data("WB-2", "bpa_free") is False
    assert not Product.objects.get(sku="WB-2").enabled
    assert data("EP-1", "release_date") == "2025-03-01"
    assert data("EP-1", "manual_url") == "https://example.com/manual.pdf"


@pytest.mark.parametrize("delimiter", [";", ",", "\t", "|"])
def test_the_delimiter_is_detected(catalog, files, delimiter):
    rows = [
        ["sku", "family", "name-en_US", "materials"],
        ["D-1", "bottles", "One", "glass"],
        ["D-2", "bottles", "Two", "glass"],
    ]
    if delimiter == ",":
        rows[1][3] = '"glass,stainless_steel"'
    path = files("products.csv", "\n".join(delimiter.join(r) for r in rows) + "\n")
    imp = run_import(path)
    assert not problems(imp), problems(imp)
    assert counts(imp)["created"] == 2
    assert data("D-1", "name", "en_US") == "One"
    assert imp.report.files[0]["delimiter"] in ("semicolon", "comma", "tab", "pipe")
    if delimiter == ",":
        assert data("D-1", "materials") == ["glass", "stainless_steel"]


def test_xlsx_with_typed_cells(catalog, tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "products"
    ws.append(
        [
            "sku",
            "family",
            "name-en_US",
            "price-USD",
            "capacity",
            "capacity-unit",
            "bpa_free",
            "warranty_years",
            "release_date",
        ]
    )
    ws.append(["X-1", "bottles", "Excel bottle", 24.9, 750, "MILLILITER", True, None, None])
    ws.append(
        [
            "X-2",
            "coffee_machines",
            "Excel machine",
            499,
            None,
            None,
            None,
            2,
            datetime.datetime(2025, 3, 1),
        ]
    )
    path = tmp_path / "products.xlsx"
    wb.save(path)
    imp = run_import(path)
    assert not problems(imp), problems(imp)
    assert counts(imp)["created"] == 2
    assert data("X-1", "price") == [{"amount": "24.9", "currency": "USD"}]
    assert data("X-1", "capacity") == {"amount": "750", "unit": "MILLILITER"}
    assert data("X-1", "bpa_free") is True
    assert data("X-2", "warranty_years") == "2"
    assert data("X-2", "release_date") == "2025-03-01"


def test_variants_and_models(catalog, files):
    models = files(
        "product_models.csv",
        "code;family_variant;parent;categories;name-en_US;description-en_US-ecommerce;size;"
        "capacity\n"
        "WB-SUB;;WB-ROOT;;;;ml750;750 ml\n"  # before its root: waits for it
        "WB-ROOT;bottles_by_size_color;;drinkware;Water bottle;<p>Steel</p>;;\n",
    )
    products = files(
        "products.csv",
        "sku;parent;color;gtin;price-USD\n"
        "WB-BLUE;WB-SUB;blue;4006381333931;24.90\n"
        "WB-GREEN;WB-SUB;green;;24.90\n",
    )
    imp = run_import(models.parent)
    assert not problems(imp), problems(imp)
    assert counts(imp, "product_models.csv")["created"] == 2
    assert counts(imp, "products.csv")["created"] == 2
    sub = ProductModel.objects.get(code="WB-SUB")
    assert sub.parent.code == "WB-ROOT"
    assert sub.values["size"][0]["data"] == "ml750"
    blue = Product.objects.get(sku="WB-BLUE")
    assert blue.parent == sub and blue.family.code == "bottles"
    assert services.resolved_values(blue)["name"][0]["data"] == "Water bottle"
    del products


def test_a_value_at_the_wrong_variant_level_is_reported(catalog, files):
    imp = run_import(
        files("m.csv", "code;family_variant;name-en_US\nR;bottles_by_size_color;R\n"),
        kind="product_models",
    )
    assert counts(imp)["created"] == 1
    path = files("products.csv", "sku;parent;name-en_US;color\nV-1;R;Own name;blue\n")
    imp = run_import(path)
    found = {p["column"]: p for p in problems(imp)}
    assert found["name-en_US"]["row"] == 2 and found["name-en_US"]["value"] == "Own name"
    assert "root product model" in found["name-en_US"]["reason"]
    assert "sub product model" in found["parent"]["reason"]  # a 2-level variant


def test_associations_including_rows_further_down(catalog, files):
    path = files(
        "products.csv",
        "sku;family;X_SELL-products;X_SELL-groups;PACK-products;PACK-products-quantity\n"
        "A;bottles;B,C;winter_collection;C;2\n"
        "B;bottles;;;;\n"
        "C;bottles;A;;;\n",
    )
    imp = run_import(path)
    assert not problems(imp), problems(imp)
    assert counts(imp)["created"] == 3
    a = services.associations_of(Product.objects.get(sku="A"))
    assert sorted(a["X_SELL"]["products"]) == ["B", "C"]
    assert a["X_SELL"]["groups"] == ["winter_collection"]
    assert a["PACK"]["products"] == [{"sku": "C", "quantity": 2}]
    again = run_import(path)
    assert counts(again)["unchanged"] == 3, counts(again)


def test_associations_the_file_does_not_speak_for_are_kept(catalog, files):
    run_import(
        files(
            "p.csv",
            "sku;family;X_SELL-products;SUBSTITUTION-products\nA;bottles;;\n"
            "B;bottles;A;\nC;bottles;;B\n",
        )
    )
    run_import(files("p2.csv", "sku;X_SELL-products\nC;A\n"))
    links = services.associations_of(Product.objects.get(sku="C"))
    assert links["X_SELL"]["products"] == ["A"]
    assert links["SUBSTITUTION"]["products"] == ["B"]


def test_an_association_to_nothing_is_reported_and_the_row_skipped(catalog, files):
    imp = run_import(
        files("products.csv", "sku;family;X_SELL-products\nA;bottles;NOPE\nB;bottles;\n")
    )
    [p] = problems(imp)
    assert p["row"] == 2 and p["column"] == "X_SELL-products"
    assert "NOPE" in p["reason"]
    assert not Product.objects.filter(sku="A").exists()
    assert Product.objects.filter(sku="B").exists()
    assert not Association.objects.exists()


def test_empty_cells_clear_what_the_file_speaks_for(catalog, files):
    run_import(
        files(
            "a.csv",
            "sku;family;categories;name-en_US;brand;price-USD;price-EUR\n"
            "A;bottles;drinkware;Bottle;Aqua;10;9\n",
        )
    )
    # No EUR column: the EUR price stays. An empty brand clears it; categories too.
    imp = run_import(files("b.csv", "sku;categories;brand;price-USD;name-en_US\nA;;;12;Bottle\n"))
    assert counts(imp)["updated"] == 1
    assert data("A", "brand") is None
    assert data("A", "price") == [
        {"amount": "9", "currency": "EUR"},
        {"amount": "12", "currency": "USD"},
    ]
    assert not Product.objects.get(sku="A").categories.exists()
    # Columns the file does not have are left alone.
    assert data("A", "name", "en_US") == "Bottle"


def test_references_to_missing_things_name_column_value_and_reason(catalog, files):
    path = files(
        "products.csv",
        "sku;family;categories;color;materials;capacity\n"
        "A;no_such_family;;;;\n"
        "B;bottles;no_such_category;;;\n"
        "C;bottles;;purple;;\n"
        "D;bottles;;;glass,plutonium;\n"
        "E;bottles;;;;750 parsecs\n"
        "F;bottles;;blue;glass;750 ml\n",
    )
    imp = run_import(path)
    found = {(p["row"], p["column"], p["value"]) for p in problems(imp)}
    assert (2, "family", "no_such_family") in found
    assert (3, "categories", "no_such_category") in found
    assert (4, "color", "purple") in found
    assert (5, "materials", "glass,plutonium") in found
    assert (6, "capacity", "750 parsecs") in found
    assert counts(imp)["created"] == 1 and counts(imp)["skipped"] == 5
    reasons = " | ".join(p["reason"] for p in problems(imp))
    assert "no_such_family" in reasons and "plutonium" in reasons and "parsecs" in reasons


def test_duplicate_skus_in_one_file(catalog, files):
    imp = run_import(
        files("products.csv", "sku;family;brand\nA;bottles;First\nB;bottles;x\nA;bottles;Second\n")
    )
    [p] = problems(imp)
    assert p["row"] == 4 and p["column"] == "sku" and p["value"] == "A"
    assert "first on row 2" in p["reason"]
    assert data("A", "brand") == "First"


def test_unknown_columns_refuse_the_file_and_are_named(catalog, files):
    imp = run_import(
        files("products.csv", "sku;family;nmae-en_US;colour;name-xx_XX\nA;bottles;Bottle;blue;x\n")
    )
    cols = {p["column"]: p["reason"] for p in problems(imp)}
    assert "did you mean name" in cols["nmae-en_US"]
    assert "colour" in cols
    assert "not a locale" in cols["name-xx_XX"]
    assert not Product.objects.exists()


def test_a_locale_no_channel_uses_is_a_warning_and_its_values_fail(catalog, files):
    from folio.catalog.models import Locale

    Locale.objects.get_or_create(code="it_IT")
    imp = run_import(
        files(
            "products.csv",
            "sku;family;name-en_US;name-it_IT\nA;bottles;Bottle;\nB;bottles;Bottle;Bottiglia\n",
        )
    )
    assert any("not active" in p["reason"] for p in problems(imp, "warning"))
    [p] = problems(imp)
    assert p["row"] == 3 and p["column"] == "name-it_IT" and p["value"] == "Bottiglia"
    assert Product.objects.filter(sku="A").exists()


def test_re_running_records_no_history(catalog, files):
    path = files(
        "products.csv",
        HEADER + "WB-1;bottles;drinkware;1;;Bottle;;;;;;24.90;;750;MILLILITER;;1;blue;glass;;\n",
    )
    run_import(path)
    history = ProductChange.objects.count()
    imp = run_import(path)
    assert counts(imp)["unchanged"] == 1
    assert ProductChange.objects.count() == history


def test_variant_rows_may_carry_their_models_values(catalog, files):
    """Other PIMs export variants with everything they show: values equal to the models'
    are left out, different ones are refused naming the level they belong to."""
    run_import(
        files(
            "product_models.csv",
            "code;family_variant;parent;name-en_US;size;"
            "capacity\nR;bottles_by_size_color;;Bottle;;\n"
            "S;;R;;ml750;750 ml\n",
        )
    )
    path = files(
        "products.csv",
        "sku;parent;name-en_US;size;capacity;color\n"
        "V-1;S;Bottle;ml750;750 MILLILITER;blue\n"
        "V-2;S;Other name;ml750;750 ml;green\n",
    )
    imp = run_import(path)
    assert counts(imp)["created"] == 1
    [p] = problems(imp)
    assert (p["row"], p["column"], p["value"]) == (3, "name-en_US", "Other name")
    assert "root product model" in p["reason"]
    assert set(Product.objects.get(sku="V-1").values) == {"color"}
