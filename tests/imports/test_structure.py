"""Structure files: each kind, in dependency order from one folder, in the reference PIM's
own names, re-imported without change, and their problems named by row and column."""

import pytest

from folio.catalog import structure as st
from folio.catalog.models import (
    AssociationType,
    Attribute,
    AttributeOption,
    Category,
    Channel,
    Family,
    FamilyVariant,
    Locale,
    Product,
    ProductGroup,
    ProductModel,
)
from tests.imports.conftest import counts, problems, run_import, write

pytestmark = pytest.mark.django_db

# A small catalog as the reference PIM exports it (its file names, columns and type names),
# deliberately listed in an order that is not the dependency order.
PIM_EXPORT = {
    "products.csv": (
        "sku;family;categories;enabled;name-en_US;name-fr_FR;description-en_US-ecommerce;"
        "price-EUR;price-USD;weight;weight-unit;color;X_SELL-products\n"
        "TS-RED-M;tshirts;men;1;Red T-shirt M;T-shirt rouge M;<p>Cotton</p>;19.90;21.90;"
        "180;GRAM;;TS-BLUE-M\n"
        "TS-BLUE-M;tshirts;men;1;Blue T-shirt M;;;19.90;;180;GRAM;;\n"
    ),
    "product_models.csv": (
        "code;family_variant;parent;categories;name-en_US\nSHIRT;shirts_by_color;;men;Shirt\n"
    ),
    "families.csv": (
        "code;label-en_US;attributes;attribute_as_label;attribute_as_image;"
        "requirements-ecommerce;requirements-mobile\n"
        "tshirts;T-shirts;sku,name,description,price,weight,color;name;;sku,name,price;sku,name\n"
    ),
    "family_variants.csv": (
        "code;family;label-en_US;variant-axes_1;variant-attributes_1\n"
        "shirts_by_color;tshirts;By colour;color;color,weight\n"
    ),
    "attributes.csv": (
        "code;type;group;localizable;scopable;unique;useable_as_grid_filter;max_characters;"
        "metric_family;default_metric_unit;decimals_allowed;negative_allowed;wysiwyg_enabled;"
        "label-en_US;label-fr_FR\n"
        "sku;pim_catalog_identifier;general;0;0;1;1;;;;;;;SKU;\n"
        "name;pim_catalog_text;general;1;0;0;1;100;;;;;;Name;Nom\n"
        "description;pim_catalog_textarea;general;1;1;0;0;;;;;;1;Description;\n"
        "price;pim_catalog_price_collection;general;0;0;0;1;;;;1;0;;Price;Prix\n"
        "weight;pim_catalog_metric;technical;0;0;0;0;;Weight;GRAM;1;0;;Weight;Poids\n"
        "color;pim_catalog_simpleselect;general;0;0;0;1;;;;;;;Colour;Couleur\n"
    ),
    "attribute_options.csv": (
        "attribute;code;sort_order;label-en_US;label-fr_FR\n"
        "color;red;1;Red;Rouge\n"
        "color;blue;2;Blue;Bleu\n"
    ),
    "attribute_groups.csv": (
        "code;sort_order;attributes;label-en_US\n"
        "general;1;sku,name,description,price,color;General\n"
        "technical;2;weight;Technical\n"
    ),
    "categories.csv": (
        "code;parent;label-en_US;label-fr_FR\n"
        "men;master;Men;Hommes\n"  # before its parent: read again once master exists
        "master;;Master catalog;Catalogue\n"
    ),
    "channels.csv": (
        "code;label-en_US;tree;locales;currencies;conversion_units\n"
        "ecommerce;E-commerce;master;en_US,fr_FR;EUR,USD;\n"
        "mobile;Mobile;master;en_US;EUR;\n"
    ),
    "locales.csv": "code;activated\nen_US;1\nfr_FR;1\n",
    "currencies.csv": "code;activated\nEUR;1\nUSD;1\n",
    "association_types.csv": (
        "code;label-en_US;is_two_way;is_quantified\nX_SELL;Cross sell;0;0\nPACK;Pack;0;1\n"
    ),
    "group_types.txt": "not a data file\n",
}


def _write_all(folder, content=PIM_EXPORT):
    for name, text in content.items():
        write(folder / name, text)
    return folder


def test_a_whole_catalog_from_the_reference_pim_loads_in_dependency_order(db, tmp_path):
    folder = _write_all(tmp_path / "pim")
    imp = run_import(folder)
    assert not problems(imp), problems(imp)
    order = [f["kind"] for f in imp.report.files]
    assert order == [
        "locales",
        "currencies",
        "categories",
        "channels",
        "attribute_groups",
        "attributes",
        "attribute_options",
        "families",
        "family_variants",
        "association_types",
        "product_models",
        "products",
    ]
    ecommerce = Channel.objects.get(code="ecommerce")
    assert ecommerce.category_tree.code == "master"
    assert sorted(loc.code for loc in ecommerce.locales.all()) == ["en_US", "fr_FR"]
    assert Category.objects.get(code="men").parent.code == "master"
    weight = Attribute.objects.get(code="weight")
    assert weight.type == "measurement" and weight.measurement_family.code == "weight"
    assert weight.default_unit == "GRAM" and weight.group.code == "technical"
    assert not weight.negative_allowed
    name = Attribute.objects.get(code="name")
    assert name.max_length == 100 and name.labels == {"en_US": "Name", "fr_FR": "Nom"}
    assert Attribute.objects.get(code="description").rich_text
    assert not Attribute.objects.filter(code="sku").exists()  # the SKU is a product field
    assert (
        AttributeOption.objects.get(attribute__code="color", code="blue").labels["fr_FR"] == "Bleu"
    )
    family = Family.objects.get(code="tshirts")
    assert st.family_requirements(family) == {"ecommerce": ["name", "price"], "mobile": ["name"]}
    assert family.label_attribute.code == "name"
    fv = FamilyVariant.objects.get(code="shirts_by_color")
    assert st.variant_levels(fv) == [{"level": 1, "axes": ["color"], "attributes": ["weight"]}]
    assert AssociationType.objects.get(code="PACK").quantified
    assert ProductModel.objects.get(code="SHIRT").family_variant == fv
    assert Product.objects.count() == 2
    warnings = " | ".join(
        f"{p['file']} {p['column']} {p['reason']}" for p in problems(imp, "warning")
    )
    assert "useable_as_grid_filter" in warnings and "conversion_units" in warnings
    assert "group_types.txt" in warnings
    assert "SKU in Folio" in warnings

    again = run_import(folder)
    assert not problems(again), problems(again)
    for f in again.report.files:
        assert f["created"] == f["updated"] == f["skipped"] == 0, f


def test_structure_problems_name_row_column_and_value(db, tmp_path):
    folder = _write_all(tmp_path / "pim")
    run_import(folder)
    bad = tmp_path / "bad"
    write(
        bad / "attributes.csv",
        "code;type;localizable;max_length;label-en_US\n"
        "ok_one;text;0;;Fine\n"
        "bad-code;text;0;;Dash\n"
        "size;pim_catalog_simpleselect;perhaps;;Size\n"
        "short;text;0;99999;Too long\n",
    )
    write(bad / "families.csv", "code;attributes;requirements-ecommerce\nf1;name,ghost;name\n")
    imp = run_import(bad)
    found = {(p["file"], p["row"], p["column"]): p for p in problems(imp)}
    assert ("attributes.csv", 3, "code") in found
    assert found[("attributes.csv", 4, "localizable")]["value"] == "perhaps"
    assert ("attributes.csv", 5, "max_length") in found
    assert "ghost" in found[("families.csv", 2, "attributes")]["reason"]
    assert Attribute.objects.filter(code="ok_one").exists()
    assert counts(imp, "attributes.csv")["created"] == 1


def test_a_structure_file_with_an_unknown_column_is_not_read(db, files):
    imp = run_import(files("categories.csv", "code;parent;colour\nroot;;red\n"))
    [p] = [p for p in problems(imp) if p["column"]]
    assert p["column"] == "colour" and "not a column of categories" in p["reason"]
    assert not Category.objects.exists()


def test_changing_structure_through_a_file_updates_only_what_differs(db, tmp_path):
    folder = _write_all(tmp_path / "pim")
    run_import(folder)
    imp = run_import(
        write(
            tmp_path / "attribute_options.csv",
            "attribute;code;label-en_US\ncolor;red;Crimson\ncolor;blue;Blue\n",
        )
    )
    assert counts(imp)["updated"] == 1 and counts(imp)["unchanged"] == 1
    red = AttributeOption.objects.get(code="red")
    assert red.labels == {"en_US": "Crimson", "fr_FR": "Rouge"}  # fr_FR: no column, kept
    imp = run_import(
        write(tmp_path / "groups.csv", "code;label-en_US;type\nsummer;Summer;RELATED\n")
    )
    assert ProductGroup.objects.get(code="summer").labels == {"en_US": "Summer"}
    assert any(p["column"] == "type" for p in problems(imp, "warning"))


def test_locales_and_currencies(db, files):
    imp = run_import(files("locales.csv", "code;label\nit_IT;Italiano\nxx;Bad\n"))
    assert Locale.objects.get(code="it_IT").label == "Italiano"
    [p] = problems(imp)
    assert p["row"] == 3 and p["column"] == "code" and p["value"] == "xx"


def test_a_workbook_with_a_sheet_per_kind(catalog, tmp_path):
    import openpyxl

    wb = openpyxl.Workbook()
    products = wb.active
    products.title = "products"
    products.append(["sku", "family", "categories"])
    products.append(["A", "bottles", "summer"])
    categories = wb.create_sheet("categories")
    categories.append(["code", "parent", "label-en_US"])
    categories.append(["summer", "master", "Summer"])
    wb.save(tmp_path / "catalog.xlsx")
    imp = run_import(tmp_path / "catalog.xlsx")
    assert not problems(imp), problems(imp)
    assert [f["file"] for f in imp.report.files] == [
        "catalog.xlsx:categories",
        "catalog.xlsx:products",
    ]
    assert Product.objects.get(sku="A").categories.get().code == "summer"
