"""schema.org JSON-LD: the file parsed back with json and checked against schema.org's
Product / ProductGroup shape — @context and @type, variants linked both ways (hasVariant ↔
inProductGroupWithID = productGroupID), variesBy, GTIN by length, brand, offers — and the
per-page script snippets."""

import json
import re

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


def publish(tmp_path, items, ctx, **kw):
    fmt = get_format("jsonld")
    names = fmt.write(tmp_path, ctx, entries(fmt, items, ctx, **kw))
    name = f"products-{ctx.locale}.jsonld"
    assert names[0] == name
    return names, json.loads((tmp_path / name).read_text(encoding="utf-8"))


def test_products_and_groups_with_variants_linked_both_ways(tmp_path):
    names, nodes = publish(tmp_path, catalogue("en_US"), context("en_US"))
    assert isinstance(nodes, list)
    assert all(node["@context"] == "https://schema.org" for node in nodes)
    by_type = {}
    for node in nodes:
        by_type.setdefault(node["@type"], []).append(node)
    assert sorted(by_type) == ["Product", "ProductGroup"]
    (group,) = by_type["ProductGroup"]
    assert sorted(p["sku"] for p in by_type["Product"]) == ["EP-3000", "WB-600-LID"]

    assert group["productGroupID"] == "WB-SS"
    assert group["name"] == "Stainless Steel Water Bottle"
    assert group["variesBy"] == ["https://schema.org/size", "https://schema.org/color"]
    assert group["brand"] == {"@type": "Brand", "name": "Aqualine"}
    variants = group["hasVariant"]
    assert [v["sku"] for v in variants] == [
        "WB-500-SS-BLACK",
        "WB-750-SS-BLACK",
        "WB-750-SS-BLUE",
        "WB-750-SS-GREEN",
    ]
    for variant in variants:
        assert variant["@type"] == "Product"
        assert variant["inProductGroupWithID"] == group["productGroupID"]
        assert re.fullmatch(r"\d{13}", variant["gtin13"])
        assert variant["offers"]["@type"] == "Offer"
        assert variant["offers"]["priceCurrency"] == "USD"
        assert variant["offers"]["availability"] == "https://schema.org/InStock"
        assert variant["offers"]["url"] == f"https://shop.example.com/products/{variant['sku']}"
        assert variant["image"][0] == f"{PUBLIC}/media/{variant['sku']}-1.jpg"
        assert "<" not in variant["description"]
    blue = variants[2]
    assert (blue["color"], blue["size"]) == ("Blue", "750 ml")
    assert blue["offers"]["price"] == "24.90"
    assert blue["description"] == (
        "Double-walled, BPA-free stainless steel bottle that keeps drinks cold for 24 hours.\n\n"
        "• Leak-proof lid"
    )

    machine = next(p for p in by_type["Product"] if p["sku"] == "EP-3000")
    assert machine["name"] == "EspressoPro 3000 Automatic Coffee Machine"
    assert machine["description"] == (
        "Bean-to-cup espresso with an integrated grinder & milk frother."
    )
    assert machine["gtin13"] == "4006381333931"
    assert machine["brand"]["name"] == "BaristaPro"
    assert machine["offers"]["price"] == "799.00"
    assert len(machine["image"]) == 2
    assert "inProductGroupWithID" not in machine
    assert machine["category"] == "Kitchen > Coffee machines"

    # One snippet per top-level node, each a script element holding the same node.
    snippets = sorted(n for n in names if n.startswith("snippets/"))
    assert snippets == [
        "snippets/en_US/ep-3000.html",
        "snippets/en_US/wb-600-lid.html",
        "snippets/en_US/wb-ss.html",
    ]
    html = (tmp_path / "snippets/en_US/wb-ss.html").read_text(encoding="utf-8")
    body = re.fullmatch(r'<script type="application/ld\+json">\n(.*)\n</script>\n', html, re.S)
    assert body
    assert json.loads(body.group(1)) == group


def test_french_copy_gtin_lengths_and_no_snippets(tmp_path):
    machine = espresso("fr_FR", currency="EUR")
    eight = espresso("fr_FR", currency="EUR")
    eight.sku, eight.fields = "EP-MINI", {**eight.fields, "gtin": "96385074"}
    odd = espresso("fr_FR", currency="EUR")
    odd.sku, odd.fields = "EP-ODD", {**odd.fields, "gtin": "123456"}
    ctx = context(
        "fr_FR", currency="EUR", options={"snippets": False, "availability": "out_of_stock"}
    )
    names, nodes = publish(tmp_path, [machine, eight, odd], ctx)
    assert names == ["products-fr_FR.jsonld"]
    assert not (tmp_path / "snippets").exists()
    first = nodes[0]
    assert first["name"] == "Machine à café automatique EspressoPro 3000"
    assert first["description"].startswith("Expresso broyé à la demande")
    assert first["offers"]["priceCurrency"] == "EUR"
    assert first["offers"]["price"] == "749.00"
    assert first["offers"]["availability"] == "https://schema.org/OutOfStock"
    assert nodes[1]["gtin8"] == "96385074"
    assert nodes[2]["gtin"] == "123456"


def test_snippet_cannot_close_the_script_element(tmp_path):
    item = espresso("en_US")
    item.fields["name"] = "Machine </script><script>alert(1)</script> & more"
    _, nodes = publish(tmp_path, [item], context("en_US"))
    assert nodes[0]["name"] == "Machine </script><script>alert(1)</script> & more"
    html = (tmp_path / "snippets/en_US/ep-3000.html").read_text(encoding="utf-8")
    assert html.count("</script>") == 1
    inner = html.split("\n", 1)[1].rsplit("</script>", 1)[0]
    assert json.loads(inner)["name"] == nodes[0]["name"]


def test_reused_fragments_give_the_same_file(tmp_path):
    items = catalogue("de_DE", currency="EUR")
    ctx = context("de_DE", currency="EUR")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    _, fresh = publish(tmp_path / "a", items, ctx)
    _, reused = publish(tmp_path / "b", items, ctx, reused={i.sku for i in items})
    assert fresh == reused
    group = next(n for n in fresh if n["@type"] == "ProductGroup")
    assert [v["color"] for v in group["hasVariant"]] == ["Schwarz", "Schwarz", "Blau", "Grün"]
    assert group["name"] == "Edelstahl-Trinkflasche"


def test_name_and_price_are_required():
    fmt = get_format("jsonld")
    assert fmt.required_fields == ("name", "price")
    assert fmt.default_mapping["gtin"] == {"attribute": "@gtin"}


@pytest.mark.django_db
def test_demo_catalog_publishes_to_jsonld(settings, tmp_path):
    settings.PUBLIC_URL = "https://shop.example.com"
    publication, folder, published = publish_demo(
        settings, tmp_path, "webshop", "jsonld", currency="EUR"
    )
    names = {f["name"] for f in publication.files}
    assert {"products-en_US.jsonld", "products-de_DE.jsonld"} <= names
    for locale in ("en_US", "de_DE"):
        nodes = json.loads((folder / f"products-{locale}.jsonld").read_text(encoding="utf-8"))
        assert all(node["@context"] == "https://schema.org" for node in nodes)
        skus = set()
        for node in nodes:
            if node["@type"] == "ProductGroup":
                assert node["hasVariant"]
                for variant in node["hasVariant"]:
                    assert variant["inProductGroupWithID"] == node["productGroupID"]
                    assert variant["offers"]["priceCurrency"] == "EUR"
                    skus.add(variant["sku"])
            else:
                assert node["@type"] == "Product"
                skus.add(node["sku"])
            assert f"snippets/{locale}/" in " ".join(names)
        assert skus == published[locale]
        group = next(n for n in nodes if n["@type"] == "ProductGroup")
        assert group["productGroupID"] == "WB-SS"
        assert "https://schema.org/color" in group["variesBy"]
        assert group["name"] == (
            "Stainless Steel Water Bottle" if locale == "en_US" else "Edelstahl-Trinkflasche"
        )
        variant = group["hasVariant"][0]
        assert variant["gtin13"] and variant["image"][0].startswith("http")
        assert variant["brand"] == {"@type": "Brand", "name": "Aqualine"}
