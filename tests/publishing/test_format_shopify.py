"""Shopify product CSV: written from items as the run hands them over, read back with the csv
module and checked against Shopify's layout (channels.md): the current header set, rows
grouped by handle, product fields on the first row, variant rows, image rows with ascending
positions, Default Title for products without variants, formula injection escaped."""

import csv
import dataclasses
import re
from decimal import Decimal

import pytest

from folio.publishing.formats import get_format
from tests.assets.conftest import media  # noqa: F401 - the fixture
from tests.publishing.format_items import (
    PUBLIC,
    bottle,
    catalogue,
    context,
    entries,
    espresso,
    publish_demo,
)

pytestmark = pytest.mark.usefixtures("media")

HEADER = [
    "Title",
    "URL handle",
    "Description",
    "Vendor",
    "Product category",
    "Type",
    "Tags",
    "Published on online store",
    "Status",
    "SKU",
    "Barcode",
    "Option1 name",
    "Option1 value",
    "Option2 name",
    "Option2 value",
    "Option3 name",
    "Option3 value",
    "Price",
    "Compare-at price",
    "Cost per item",
    "Charge tax",
    "Inventory tracker",
    "Inventory quantity",
    "Continue selling when out of stock",
    "Weight value (grams)",
    "Weight unit for display",
    "Requires shipping",
    "Product image URL",
    "Image position",
    "Image alt text",
    "Variant image URL",
    "Gift card",
    "SEO title",
    "SEO description",
]


def publish(tmp_path, items, ctx, **kw):
    fmt = get_format("shopify-csv")
    names = fmt.write(tmp_path, ctx, entries(fmt, items, ctx, **kw))
    assert names == [f"shopify-{ctx.locale}.csv"]
    with open(tmp_path / names[0], newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = [dict(zip(header, row, strict=True)) for row in reader]
    return header, rows


def by_handle(rows):
    groups: dict[str, list[dict]] = {}
    order = []
    for row in rows:
        handle = row["URL handle"]
        if not order or order[-1] != handle:
            assert handle not in groups, f"rows of {handle} are not contiguous"
            order.append(handle)
        groups.setdefault(handle, []).append(row)
    return groups


def test_products_variants_and_images_grouped_by_handle(tmp_path):
    header, rows = publish(tmp_path, catalogue("en_US"), context("en_US"))
    assert header == HEADER
    groups = by_handle(rows)
    # The lid's SKU sorts between the bottle's variants; the bottle's rows stay together.
    assert set(groups) == {"wb-ss", "wb-600-lid", "ep-3000"}
    assert all(re.fullmatch(r"[a-z0-9-]+", handle) for handle in groups)

    bottle_rows = groups["wb-ss"]
    first = bottle_rows[0]
    assert first["Title"] == "Stainless Steel Water Bottle"
    assert first["Description"].startswith("<p>Double-walled")
    assert first["Vendor"] == "Aqualine"
    assert first["Type"] == "Water bottles"
    assert first["Status"] == "active"
    assert first["Published on online store"] == "TRUE"
    assert (first["Option1 name"], first["Option2 name"]) == ("Size", "Colour")

    variants = [row for row in bottle_rows if row["SKU"]]
    assert [
        (r["SKU"], r["Option1 value"], r["Option2 value"], r["Price"], r["Barcode"])
        for r in variants
    ] == [
        ("WB-500-SS-BLACK", "500 ml", "Black", "19.90", "4006381000505"),
        ("WB-750-SS-BLACK", "750 ml", "Black", "24.90", "4006381000758"),
        ("WB-750-SS-BLUE", "750 ml", "Blue", "24.90", "4006381000765"),
        ("WB-750-SS-GREEN", "750 ml", "Green", "24.90", "4006381000772"),
    ]
    for row in variants:
        assert row["Variant image URL"] == f"{PUBLIC}/media/{row['SKU']}-1.jpg"
        assert row["Weight value (grams)"] == ("320" if "500" in row["SKU"] else "410")
        assert row["Weight unit for display"] == "g"
    # Further variant rows carry no product fields.
    assert all(r["Title"] == "" and r["Option1 name"] == "" for r in variants[1:])

    # Every picture of the group once, positions ascending from 1; the model's lifestyle
    # picture that every variant inherits appears once.
    pictures = [
        (r["Image position"], r["Product image URL"]) for r in bottle_rows if r["Product image URL"]
    ]
    urls = [url for _, url in pictures]
    assert [int(p) for p, _ in pictures] == list(range(1, len(pictures) + 1))
    assert len(urls) == len(set(urls)) == 5
    assert urls.count(f"{PUBLIC}/media/WB-SS-2.jpg") == 1
    image_rows = [r for r in bottle_rows if not r["SKU"]]
    assert all(r["Product image URL"] and r["Title"] == "" for r in image_rows)
    alts = {r["Product image URL"]: r["Image alt text"] for r in bottle_rows}
    assert alts[f"{PUBLIC}/media/WB-750-SS-BLUE-1.jpg"] == "Bottle, front"
    # No alt text of its own: the product's title.
    assert alts[f"{PUBLIC}/media/WB-SS-2.jpg"] == "Stainless Steel Water Bottle"

    (lid,) = groups["wb-600-lid"]
    assert (lid["Option1 name"], lid["Option1 value"]) == ("Title", "Default Title")
    assert lid["Option2 name"] == lid["Option2 value"] == ""
    assert lid["SKU"] == "WB-600-LID" and lid["Price"] == "4.50"
    assert lid["Product image URL"] == lid["Image position"] == ""

    machine = groups["ep-3000"]
    assert machine[0]["Title"] == "EspressoPro 3000 Automatic Coffee Machine"
    assert machine[0]["Option1 value"] == "Default Title"
    assert machine[0]["Price"] == "799.00"
    assert (machine[0]["Weight value (grams)"], machine[0]["Weight unit for display"]) == (
        "9500",
        "kg",
    )
    assert [(r["Image position"], r["SKU"]) for r in machine] == [("1", "EP-3000"), ("2", "")]


def test_german_copy_in_euros(tmp_path):
    _, rows = publish(
        tmp_path, catalogue("de_DE", currency="EUR"), context("de_DE", currency="EUR")
    )
    groups = by_handle(rows)
    first = groups["wb-ss"][0]
    assert first["Title"] == "Edelstahl-Trinkflasche"
    assert "hält Getränke" in first["Description"]
    assert first["Type"] == "Trinkflaschen"
    assert (first["Option1 name"], first["Option2 name"]) == ("Größe", "Farbe")
    colours = [r["Option2 value"] for r in groups["wb-ss"] if r["SKU"]]
    assert colours == ["Schwarz", "Schwarz", "Blau", "Grün"]
    assert [r["Price"] for r in groups["wb-ss"] if r["SKU"]][1] == "22.90"
    assert "ep-3000" not in groups  # no German copy of the machine in this catalogue


def test_reused_fragments_give_the_same_file(tmp_path):
    items = catalogue("en_US")
    ctx = context("en_US")
    fresh = tmp_path / "fresh"
    reused = tmp_path / "reused"
    fresh.mkdir()
    reused.mkdir()
    publish(fresh, items, ctx)
    publish(reused, items, ctx, reused={item.sku for item in items})
    name = "shopify-en_US.csv"
    assert (fresh / name).read_bytes() == (reused / name).read_bytes()


def test_formula_injection_escaped_in_every_cell(tmp_path):
    item = espresso("en_US")
    item.fields["title"] = '=HYPERLINK("http://evil.example","click")'
    item.fields["tags"] = ["+49 hotline", "@home", "-sale"]
    item.fields["vendor"] = "\tTabbed"
    item.images[0].alt = "-1 image"
    _, rows = publish(tmp_path, [item], context("en_US"))
    first = rows[0]
    assert first["Title"] == '\'=HYPERLINK("http://evil.example","click")'
    assert first["Tags"] == "'+49 hotline, @home, -sale"
    assert first["Vendor"] == "'\tTabbed"
    assert first["Image alt text"] == "'-1 image"
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value
    assert first["Price"] == "799.00"


def test_check_refuses_more_than_three_options_and_long_titles():
    fmt = get_format("shopify-csv")
    item = bottle("ml750", "blue")
    assert fmt.check(item) == []
    item.axes = [
        *item.axes,
        {"attribute": "material", "label": "Material", "value": "Steel", "code": "steel"},
        {"attribute": "lid", "label": "Lid", "value": "Sport", "code": "sport"},
    ]
    problems = fmt.check(item)
    assert [p.field for p in problems] == ["options"]
    assert "4 variant axes" in problems[0].message and "at most 3" in problems[0].message

    long = dataclasses.replace(espresso(), fields={**espresso().fields, "title": "x" * 256})
    assert [p.field for p in fmt.check(long)] == ["title"]
    assert fmt.required_fields == ("title", "price")


def test_draft_when_disabled_and_feed_options(tmp_path):
    item = espresso("en_US")
    item.enabled = False
    other = bottle("ml750", "blue")
    other.fields["vendor"] = None
    other.fields["price"] = {"amount": Decimal("24.9"), "currency": "USD"}
    ctx = context("en_US", options={"status": "draft", "published": False, "vendor": "Folio"})
    _, rows = publish(tmp_path, [item, other], ctx)
    groups = by_handle(rows)
    assert (groups["ep-3000"][0]["Status"], groups["ep-3000"][0]["Published on online store"]) == (
        "draft",
        "FALSE",
    )
    bottle_row = groups["wb-ss"][0]
    assert (bottle_row["Status"], bottle_row["Published on online store"]) == ("draft", "FALSE")
    assert bottle_row["Vendor"] == "Folio"
    assert bottle_row["Price"] == "24.90"


@pytest.mark.django_db
def test_demo_catalog_publishes_to_shopify_csv(settings, tmp_path):
    publication, folder, published = publish_demo(
        settings, tmp_path, "webshop", "shopify-csv", currency="USD"
    )
    assert sorted(f["name"] for f in publication.files) == [
        "shopify-de_DE.csv",
        "shopify-en_US.csv",
    ]
    for locale in ("en_US", "de_DE"):
        with open(folder / f"shopify-{locale}.csv", newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            assert next(reader) == HEADER
            rows = [dict(zip(HEADER, row, strict=True)) for row in reader]
        groups = by_handle(rows)
        skus = {r["SKU"] for r in rows if r["SKU"]}
        assert skus == published[locale]
        bottles = groups["wb-ss"]
        # option names are the attributes' labels in the file's locale
        assert (bottles[0]["Option1 name"], bottles[0]["Option2 name"]) == (
            ("Size", "Colour") if locale == "en_US" else ("Größe", "Farbe")
        )
        colours = {r["Option2 value"] for r in bottles if r["SKU"]}
        assert colours <= (
            {"Black", "Blue", "Green"} if locale == "en_US" else {"Schwarz", "Blau", "Grün"}
        )
        assert all(r["SKU"].startswith("WB-") for r in bottles if r["SKU"])
        positions = [int(r["Image position"]) for r in bottles if r["Image position"]]
        assert positions == list(range(1, len(positions) + 1)) and positions
        for row in rows:
            assert not any(v.startswith(("=", "+", "-", "@")) for v in row.values())
        if locale == "en_US":
            assert groups["ep-3000"][0]["Option1 value"] == "Default Title"
        else:
            assert bottles[0]["Title"] == "Edelstahl-Trinkflasche"
    assert "EP-3000" in published["en_US"]
    assert "EP-3000" not in published["de_DE"]  # no German copy
