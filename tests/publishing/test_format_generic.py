"""Generic JSON and CSV: every resolved value, the images, categories and variant group,
read back with json and the csv module."""

import csv
import json

import pytest

from folio.publishing.formats import get_format
from tests.assets.conftest import media  # noqa: F401 - the fixture
from tests.publishing.format_items import (
    PUBLIC,
    catalogue,
    context,
    entries,
    espresso,
    publish_demo,
)

pytestmark = pytest.mark.usefixtures("media")


def publish(tmp_path, code, items, ctx, **kw):
    fmt = get_format(code)
    names = fmt.write(tmp_path, ctx, entries(fmt, items, ctx, **kw))
    assert len(names) == 1
    return tmp_path / names[0]


def read_csv(path, delimiter=","):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f, delimiter=delimiter))


def test_json_holds_every_value_image_and_the_group(tmp_path):
    path = publish(
        tmp_path, "json", catalogue("de_DE", currency="EUR"), context("de_DE", currency="EUR")
    )
    assert path.name == "products-de_DE.json"
    products = json.loads(path.read_text(encoding="utf-8"))
    assert [p["sku"] for p in products] == [
        "WB-500-SS-BLACK",
        "WB-600-LID",
        "WB-750-SS-BLACK",
        "WB-750-SS-BLUE",
        "WB-750-SS-GREEN",
    ]
    green = products[-1]
    assert green["locale"] == "de_DE" and green["currency"] == "EUR"
    assert green["group"] == "WB-SS" and green["group_title"] == "Edelstahl-Trinkflasche"
    assert [(a["attribute"], a["value"]) for a in green["axes"]] == [
        ("size", "750 ml"),
        ("color", "Grün"),
    ]
    assert green["values"]["color"] == {"label": "Farbe", "value": "Grün", "data": "green"}
    assert green["values"]["capacity"]["data"] == {"amount": "750", "unit": "MILLILITER"}
    assert green["values"]["bpa_free"] == {"label": "BPA-frei", "value": "ja", "data": True}
    assert green["categories"] == ["water_bottles"]
    assert green["category_path"] == ["Trinkgefäße", "Trinkflaschen"]
    assert green["fields"]["price"] == {"amount": "22.90", "currency": "EUR"}
    assert green["link"] == "https://shop.example.com/products/WB-750-SS-GREEN"
    assert green["images"][0] == {
        "url": f"{PUBLIC}/media/WB-750-SS-GREEN-1.jpg",
        "role": "main",
        "position": 1,
        "alt": "Flasche, vorne",
        "filename": "WB-750-SS-GREEN-1.jpg",
        "width": 120,
        "height": 160,
        "format": "jpeg",
    }
    assert [i["role"] for i in green["images"]] == ["main", "lifestyle"]


def test_json_pretty_and_reused_fragments_same_data(tmp_path):
    items = catalogue("fr_FR")
    ctx = context(
        "fr_FR",
        options={"pretty": True, "link_template": "https://shop.example.fr/p/{group}/{sku}"},
    )
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    fresh = publish(tmp_path / "a", "json", items, ctx)
    reused = publish(tmp_path / "b", "json", items, ctx, reused={i.sku for i in items})
    assert fresh.read_bytes() == reused.read_bytes()
    text = fresh.read_text(encoding="utf-8")
    assert '\n  "sku": "EP-3000",' in text
    products = json.loads(text)
    machine = products[0]
    assert machine["values"]["features"]["value"] == "Broyeur intégré, Mousseur à lait"
    assert machine["link"] == "https://shop.example.fr/p/EP-3000/EP-3000"


def test_empty_feed_is_an_empty_array(tmp_path):
    path = publish(tmp_path, "json", [], context("en_US"))
    assert json.loads(path.read_text()) == []


def test_csv_one_column_per_attribute_and_image_columns(tmp_path):
    path = publish(tmp_path, "csv", catalogue("en_US"), context("en_US"))
    assert path.name == "products-en_US.csv"
    rows = read_csv(path)
    header, body = rows[0], rows[1:]
    assert header[:7] == ["sku", "group", "axes", "family", "categories", "category", "link"]
    for code in (
        "name",
        "description",
        "size",
        "color",
        "capacity",
        "material",
        "bpa_free",
        "gtin",
        "power",
        "pump_pressure",
        "features",
    ):
        assert header.count(code) == 1
    # The espresso machine has two images, the bottles two, the lid none.
    assert header[-2:] == ["image_1", "image_2"]
    table = {row[0]: dict(zip(header, row, strict=True)) for row in body}
    assert list(table) == [
        "EP-3000",
        "WB-500-SS-BLACK",
        "WB-600-LID",
        "WB-750-SS-BLACK",
        "WB-750-SS-BLUE",
        "WB-750-SS-GREEN",
    ]
    blue = table["WB-750-SS-BLUE"]
    assert (blue["group"], blue["axes"], blue["color"], blue["capacity"]) == (
        "WB-SS",
        "size, color",
        "Blue",
        "750 ml",
    )
    assert blue["category"] == "Drinkware > Water bottles"
    assert blue["image_1"] == f"{PUBLIC}/media/WB-750-SS-BLUE-1.jpg"
    assert blue["power"] == ""
    machine = table["EP-3000"]
    assert machine["power"] == "1450 W" and machine["color"] == ""
    assert table["WB-600-LID"]["image_1"] == ""


def test_csv_localized_labels_and_delimiter(tmp_path):
    ctx = context("de_DE", currency="EUR", options={"headers": "both", "delimiter": ";"})
    path = publish(tmp_path, "csv", catalogue("de_DE", currency="EUR"), ctx)
    rows = read_csv(path, delimiter=";")
    codes, labels = rows[0], rows[1]
    label = dict(zip(codes, labels, strict=True))
    assert label["sku"] == "Artikelnummer"
    assert label["color"] == "Farbe"
    assert label["capacity"] == "Fassungsvermögen"
    assert label["image_1"] == "Bild 1"
    assert rows[2][0] == "WB-500-SS-BLACK"

    (tmp_path / "labels").mkdir()
    only = publish(
        tmp_path / "labels",
        "csv",
        catalogue("de_DE", currency="EUR"),
        context("de_DE", options={"headers": "labels"}),
    )
    assert read_csv(only)[0][:2] == ["Artikelnummer", "Produktgruppe"]


def test_csv_formula_injection_escaped_in_every_cell(tmp_path):
    item = espresso("en_US")
    item.values["features"]["value"] = "=cmd|' /C calc'!A0"
    item.values["power"]["value"] = "+1450 W"
    item.values["pump_pressure"]["value"] = "-15 bar"
    item.values["name"]["label"] = "@label"
    item.images[0].url = "\rhttps://x.example/a.jpg"
    path = publish(tmp_path, "csv", [item], context("en_US", options={"headers": "both"}))
    rows = read_csv(path)
    table = dict(zip(rows[0], rows[2], strict=True))
    assert table["features"] == "'=cmd|' /C calc'!A0"
    assert table["power"] == "'+1450 W"
    assert table["pump_pressure"] == "'-15 bar"
    assert table["image_1"] == "'\rhttps://x.example/a.jpg"
    assert "'@label" in rows[1]
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell


@pytest.mark.django_db
def test_demo_catalog_publishes_to_json(settings, tmp_path):
    publication, folder, published = publish_demo(
        settings, tmp_path, "webshop", "json", currency="USD"
    )
    assert sorted(f["name"] for f in publication.files) == [
        "products-de_DE.json",
        "products-en_US.json",
    ]
    for locale in ("en_US", "de_DE"):
        products = json.loads((folder / f"products-{locale}.json").read_text(encoding="utf-8"))
        assert {p["sku"] for p in products} == published[locale]
        assert [p["sku"] for p in products] == sorted(p["sku"] for p in products)
        blue = next(p for p in products if p["sku"] == "WB-750-SS-BLUE")
        assert blue["group"] == "WB-SS" and blue["locale"] == locale
        assert blue["values"]["color"]["value"] == ("Blue" if locale == "en_US" else "Blau")
        assert blue["images"] and blue["images"][0]["position"] == 1
        assert blue["categories"] == ["water_bottles"]


@pytest.mark.django_db
def test_demo_catalog_publishes_to_csv(settings, tmp_path):
    _, folder, published = publish_demo(
        settings, tmp_path, "webshop", "csv", currency="USD", options={"headers": "both"}
    )
    for locale in ("en_US", "de_DE"):
        rows = read_csv(folder / f"products-{locale}.csv")
        codes, labels, body = rows[0], rows[1], rows[2:]
        assert codes[0] == "sku" and "image_1" in codes and "color" in codes
        # attribute columns carry the attribute's label in the file's locale, fixed ones ours
        assert labels[codes.index("color")] == ("Colour" if locale == "en_US" else "Farbe")
        assert labels[0] == ("SKU" if locale == "en_US" else "Artikelnummer")
        assert {row[0] for row in body} == published[locale]
        assert all(len(row) == len(codes) for row in body)
