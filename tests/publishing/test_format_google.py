"""Google Merchant Center feeds (XML and TSV), checked independently of the code that wrote
them: the XML parsed with namespaces, the TSV re-read with the csv module."""

import csv
from decimal import Decimal
from pathlib import Path
from xml.etree.ElementTree import Element

import pytest
from defusedxml import ElementTree

from folio.errors import InvalidInput
from folio.publishing.formats import get_format
from folio.publishing.formats.base import Context, Entry, Image, Item
from folio.publishing.formats.google import ATTRIBUTES, GoogleTsv, GoogleXml
from tests.assets.conftest import media  # noqa: F401 - the fixture

G = "{http://base.google.com/ns/1.0}"
CDN = "https://cdn.example.com/media"

BOTTLE_GTINS = {
    ("500", "Black"): "4006381000505",
    ("750", "Black"): "4006381000758",
    ("750", "Blue"): "4006381000765",
    ("750", "Green"): "4006381000772",
}


def image(sku: str, n: int, role: str = "gallery", url: str | None = None) -> Image:
    return Image(
        role=role,
        position=n,
        asset_id=100 + n,
        asset_version=1,
        filename=f"{sku}-{n}.jpg",
        url=url or f"{CDN}/{sku}-{n}.jpg",
        sha256=f"{n:064x}",
        storage_name=f"renditions/{n:02x}/{sku}-{n}.jpg",
        width=1500,
        height=1500,
        format="jpeg",
        alt=f"{sku} view {n}",
    )


def bottle(size: str = "750", colour: str = "Blue", locale: str = "en_US", **fields) -> Item:
    """A water bottle variant as the run hands it over: two-level family variant (size,
    then colour), the root model WB-SS as its group, a main image and three more."""
    sku = f"WB-{size}-SS-{colour.upper()}"
    values = {
        "title": "Stainless Steel Water Bottle",
        "description": "<p>Double-walled, BPA-free stainless steel bottle that keeps drinks "
        "cold for 24&nbsp;hours.</p>",
        "brand": "Aqualine",
        "gtin": BOTTLE_GTINS.get((size, colour)),
        "availability": "in_stock",
        "condition": "new",
        "price": {"amount": Decimal("24.90" if size == "750" else "19.90"), "currency": "USD"},
    }
    values.update(fields)
    return Item(
        sku=sku,
        product_id=hash(sku) % 1000,
        locale=locale,
        currency="USD",
        fields={k: v for k, v in values.items() if v is not None},
        values={},
        images=[image(sku, 1, "main")]
        + [image(sku, n) for n in (2, 3)]
        + [image(sku, 4, "lifestyle")],
        group="WB-SS",
        group_title="Stainless Steel Water Bottle",
        axes=[
            {"attribute": "size", "label": "Size", "value": f"{size} ml", "code": f"ml{size}"},
            {"attribute": "color", "label": "Colour", "value": colour, "code": colour.lower()},
        ],
        categories=["water_bottles"],
        category_path=["Drinkware", "Water bottles"],
        family="water_bottles",
    )


def espresso(**fields) -> Item:
    """The EspressoPro 3000: a simple product (no variants) with a rich-text description."""
    values = {
        "title": "EspressoPro 3000 Automatic Espresso Machine with Grinder",
        "description": "<p>The EspressoPro 3000 grinds <strong>whole beans</strong> fresh for "
        "every cup &amp; extracts at 15&nbsp;bar.</p>\n<ul><li>2 L tank</li><li>Milk "
        "frother</li></ul>",
        "brand": "BaristaPro",
        "gtin": "4006381003001",
        "availability": "in_stock",
        "condition": "new",
        "price": {"amount": Decimal("799.00"), "currency": "USD"},
    }
    values.update(fields)
    sku = "EP-3000"
    return Item(
        sku=sku,
        product_id=7,
        locale="en_US",
        currency="USD",
        fields={k: v for k, v in values.items() if v is not None},
        values={},
        images=[image(sku, 1, "main")] + [image(sku, n) for n in range(2, 7)],
        categories=["coffee_machines"],
        category_path=["Kitchen", "Coffee machines"],
        family="coffee_machines",
    )


def context(locale: str = "en_US", **options) -> Context:
    return Context(
        channel="marketplace",
        channel_label="Marketplace",
        feed="google",
        locale=locale,
        currency="USD",
        options=options,
        public_url="https://shop.example.com",
        publication_id=1,
    )


def publish(fmt, items: list[Item], out: Path, ctx: Context) -> list[Path]:
    """What the run does with a format: fragments in SKU order, then write()."""
    assert all(fmt.check(item) == [] for item in items), [fmt.check(i) for i in items]
    entries = (
        Entry(item.sku, fmt.fragment(item, ctx), fmt.data(item), item)
        for item in sorted(items, key=lambda i: i.sku)
    )
    return [out / name for name in fmt.write(out, ctx, entries)]


def catalogue() -> list[Item]:
    return [
        bottle("750", "Blue"),
        bottle("750", "Black"),
        bottle("750", "Green"),
        bottle("500", "Black"),
        espresso(),
    ]


def parse_items(path: Path) -> tuple[Element, dict[str, Element]]:
    root = ElementTree.parse(path).getroot()
    channel = root.find("channel")
    return root, {el.findtext(f"{G}id"): el for el in channel.findall("item")}


def test_the_registry_knows_both_google_formats():
    assert isinstance(get_format("google-xml"), GoogleXml)
    assert isinstance(get_format("google-tsv"), GoogleTsv)


def test_xml_feed_is_rss_2_with_every_g_field(tmp_path):
    [path] = publish(GoogleXml(), catalogue(), tmp_path, context())
    assert path.name == "google-en_US.xml"
    raw = path.read_bytes()
    assert raw.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    assert b'xmlns:g="http://base.google.com/ns/1.0"' in raw

    root, items = parse_items(path)
    assert root.tag == "rss"
    assert root.get("version") == "2.0"
    channel = root.find("channel")
    assert channel.findtext("title") == "Marketplace"
    assert channel.findtext("link") == "https://shop.example.com"
    assert channel.findtext("description")
    # channel header first, then the items, in SKU order
    assert [child.tag for child in channel][:3] == ["title", "link", "description"]
    assert list(items) == sorted(items)
    assert list(items) == [
        "EP-3000",
        "WB-500-SS-BLACK",
        "WB-750-SS-BLACK",
        "WB-750-SS-BLUE",
        "WB-750-SS-GREEN",
    ]

    blue = items["WB-750-SS-BLUE"]
    assert blue.findtext(f"{G}title") == "Stainless Steel Water Bottle"
    assert blue.findtext(f"{G}description") == (
        "Double-walled, BPA-free stainless steel bottle that keeps drinks cold for 24 hours."
    )
    assert blue.findtext(f"{G}link") == "https://shop.example.com/products/WB-750-SS-BLUE"
    assert blue.findtext(f"{G}image_link") == f"{CDN}/WB-750-SS-BLUE-1.jpg"
    assert [e.text for e in blue.findall(f"{G}additional_image_link")] == [
        f"{CDN}/WB-750-SS-BLUE-{n}.jpg" for n in (2, 3, 4)
    ]
    assert blue.findtext(f"{G}availability") == "in_stock"
    assert blue.findtext(f"{G}price") == "24.90 USD"
    assert blue.findtext(f"{G}brand") == "Aqualine"
    assert blue.findtext(f"{G}gtin") == "4006381000765"
    assert blue.find(f"{G}mpn") is None  # a GTIN identifies it
    assert blue.find(f"{G}identifier_exists") is None
    assert blue.findtext(f"{G}condition") == "new"
    assert blue.findtext(f"{G}item_group_id") == "WB-SS"
    assert blue.findtext(f"{G}color") == "Blue"
    assert blue.findtext(f"{G}size") == "750 ml"
    assert blue.findtext(f"{G}product_type") == "Drinkware > Water bottles"
    assert blue.find(f"{G}google_product_category") is None  # not mapped
    # every variant of the family shares the group, each has its own id
    assert {el.findtext(f"{G}item_group_id") for sku, el in items.items() if sku != "EP-3000"} == {
        "WB-SS"
    }
    assert items["WB-500-SS-BLACK"].findtext(f"{G}price") == "19.90 USD"
    assert items["WB-500-SS-BLACK"].findtext(f"{G}size") == "500 ml"

    machine = items["EP-3000"]
    assert machine.find(f"{G}item_group_id") is None
    assert machine.find(f"{G}color") is None
    assert machine.findtext(f"{G}product_type") == "Kitchen > Coffee machines"
    assert machine.findtext(f"{G}price") == "799.00 USD"
    # rich text arrives as plain text: tags gone, entities decoded, whitespace collapsed
    assert machine.findtext(f"{G}description") == (
        "The EspressoPro 3000 grinds whole beans fresh for every cup & extracts at 15 bar. "
        "2 L tank Milk frother"
    )
    assert len(machine.findall(f"{G}additional_image_link")) == 5

    # every element of an item is in the g: namespace and is a known attribute, in order
    for element in items.values():
        names = [child.tag.removeprefix(G) for child in element]
        assert all(child.tag.startswith(G) for child in element)
        assert set(names) <= set(ATTRIBUTES)
        assert names == sorted(names, key=ATTRIBUTES.index)


def test_identifiers_without_gtin(tmp_path):
    branded = espresso(gtin=None)
    branded.sku = "EP-2000"
    unbranded = espresso(gtin=None, brand=None)
    unbranded.sku = "EP-1000"
    with_mpn = espresso(gtin=None, mpn="BP-EP3-US")
    with_mpn.sku = "EP-3000-US"
    [path] = publish(GoogleXml(), [branded, unbranded, with_mpn], tmp_path, context())
    _, items = parse_items(path)

    assert items["EP-2000"].find(f"{G}gtin") is None
    assert items["EP-2000"].findtext(f"{G}mpn") == "EP-2000"  # brand + MPN identify it
    assert items["EP-2000"].find(f"{G}identifier_exists") is None
    assert items["EP-1000"].findtext(f"{G}mpn") == "EP-1000"
    assert items["EP-1000"].findtext(f"{G}identifier_exists") == "no"  # no brand, no GTIN
    assert items["EP-3000-US"].findtext(f"{G}mpn") == "BP-EP3-US"


def test_additional_image_link_is_capped_at_ten(tmp_path):
    item = espresso()
    item.images = [image("EP-3000", 1, "main")] + [image("EP-3000", n) for n in range(2, 16)]
    assert GoogleXml().check(item) == []  # more images than Google takes is no reason to skip
    [path] = publish(GoogleXml(), [item], tmp_path, context())
    _, items = parse_items(path)
    extra = [e.text for e in items["EP-3000"].findall(f"{G}additional_image_link")]
    assert extra == [f"{CDN}/EP-3000-{n}.jpg" for n in range(2, 12)]


def test_text_that_xml_cannot_carry_as_it_is(tmp_path):
    item = espresso(
        title='EspressoPro <3000> & "Barista" edition\x01',
        description="Tom & Jerry's <b>favourite</b> &lt;machine&gt;\x0b\twith\n\nsteam",
        google_product_category="Home & Garden > Kitchen & Dining > Kitchen Appliances",
    )
    [path] = publish(GoogleXml(), [item], tmp_path, context())
    _, items = parse_items(path)
    el = items["EP-3000"]
    assert el.findtext(f"{G}title") == 'EspressoPro <3000> & "Barista" edition'
    assert el.findtext(f"{G}description") == "Tom & Jerry's favourite <machine> with steam"
    assert el.findtext(f"{G}google_product_category") == (
        "Home & Garden > Kitchen & Dining > Kitchen Appliances"
    )


def test_prices_have_two_decimals_and_a_currency(tmp_path):
    items = [
        espresso(price={"amount": Decimal("799"), "currency": "USD"}),
        bottle(price={"amount": Decimal("19.995"), "currency": "EUR"}),
        bottle("750", "Black", price=Decimal("24.9"), sale_price=Decimal("19.5")),
    ]
    [path] = publish(GoogleXml(), items, tmp_path, context())
    _, parsed = parse_items(path)
    assert parsed["EP-3000"].findtext(f"{G}price") == "799.00 USD"
    assert parsed["WB-750-SS-BLUE"].findtext(f"{G}price") == "20.00 EUR"
    assert parsed["WB-750-SS-BLACK"].findtext(f"{G}price") == "24.90 USD"  # the item's currency
    assert parsed["WB-750-SS-BLACK"].findtext(f"{G}sale_price") == "19.50 USD"


def test_limits_are_checked_on_the_plain_text():
    fmt = GoogleXml()
    problems = fmt.check(espresso(title="x" * 151, brand="B" * 71))
    assert {(p.field, p.message) for p in problems} == {
        ("title", "title is 151 characters, Google allows 150"),
        ("brand", "brand is 71 characters, Google allows 70"),
    }
    assert fmt.check(espresso(title="x" * 150, brand="B" * 70)) == []
    # 5,000 characters of text inside far longer HTML is within the limit
    html = "<p><strong>" + "</strong> <strong>".join(["word"] * 1000) + "</strong></p>"
    assert len(html) > 5000
    assert fmt.check(espresso(description=html)) == []
    [problem] = fmt.check(espresso(description="<p>" + "y" * 5001 + "</p>"))
    assert problem.field == "description"
    assert "5001 characters" in problem.message
    [problem] = fmt.check(espresso(description="<p> &nbsp; </p>"))
    assert problem.field == "description"
    assert "empty" in problem.message


def test_gtin_check_digit_is_refused_when_wrong():
    fmt = GoogleXml()
    [problem] = fmt.check(espresso(gtin="4006381003002"))
    assert problem.field == "gtin"
    assert problem.message == "gtin 4006381003002 ends in 2, but its GS1 check digit is 1"
    [problem] = fmt.check(espresso(gtin="40063810"))
    assert problem.field == "gtin"
    assert "check digit" in problem.message
    [problem] = fmt.check(espresso(gtin="12345"))
    assert "is not a GTIN-8, -12, -13 or -14" in problem.message
    # GTIN-8, -12 and -14 with right check digits pass
    for gtin in ("96385074", "890400021008", "8904000210037", "14006381003008"):
        assert fmt.check(espresso(gtin=gtin)) == [], gtin


def test_ids_google_cannot_take_are_refused_with_the_reason():
    fmt = GoogleXml()
    item = espresso()
    item.sku = "EP 3000/US"
    [problem] = fmt.check(item)
    assert problem.field == "id"
    assert problem.message == (
        "SKU 'EP 3000/US' cannot be the Google id (1–50 letters, digits, _ and -): it has ' ' '/'"
    )
    item.sku = "E" * 51
    [problem] = fmt.check(item)
    assert problem.field == "id"
    assert "51 characters" in problem.message
    item.sku = "EP_3000-us"
    assert fmt.check(item) == []


def test_images_and_enumerations_are_checked():
    fmt = GoogleTsv()
    item = espresso(availability="in stock", condition="mint")
    item.images = []
    problems = {p.field: p.message for p in fmt.check(item)}
    assert set(problems) == {"availability", "condition", "image_link"}
    assert problems["availability"] == (
        "availability 'in stock' is not one of in_stock, out_of_stock, preorder, backorder"
    )
    assert "no image" in problems["image_link"]
    item = espresso()
    item.images[0].url = "https://cdn.example.com/" + "a" * 2000
    [problem] = fmt.check(item)
    assert problem.field == "image_link"
    assert "2000" in problem.message


def test_colour_and_size_axes_can_be_named_by_the_feed(tmp_path):
    item = bottle()
    item.axes = [
        {"attribute": "capacity", "label": "Capacity", "value": "750 ml", "code": "ml750"},
        {"attribute": "finish", "label": "Finish", "value": "Matte blue", "code": "blue"},
    ]
    # attribute codes that do not say colour/size: no guess
    [path] = publish(GoogleXml(), [item], tmp_path, context())
    _, items = parse_items(path)
    assert items["WB-750-SS-BLUE"].find(f"{G}color") is None
    assert items["WB-750-SS-BLUE"].find(f"{G}size") is None
    # the feed names them
    ctx = context(axis_fields={"color": "finish", "size": "capacity"})
    [path] = publish(GoogleXml(), [item], tmp_path, ctx)
    _, items = parse_items(path)
    assert items["WB-750-SS-BLUE"].findtext(f"{G}color") == "Matte blue"
    assert items["WB-750-SS-BLUE"].findtext(f"{G}size") == "750 ml"
    # "colour" in a code is a colour too; a mapped color wins over the axis
    item.axes[1]["attribute"] = "colour_name"
    [path] = publish(
        GoogleXml(), [item, bottle("500", "Black", color="Jet black")], tmp_path, context()
    )
    _, items = parse_items(path)
    assert items["WB-750-SS-BLUE"].findtext(f"{G}color") == "Matte blue"
    assert items["WB-500-SS-BLACK"].findtext(f"{G}color") == "Jet black"


def test_link_template_and_one_file_per_locale(tmp_path):
    ctx = context(
        "de_DE", link_template="https://shop.example.de/p/{group}/{sku}?lang=de", title="Shop DE"
    )
    [path] = publish(GoogleXml(), [bottle(locale="de_DE"), espresso()], tmp_path, ctx)
    assert path.name == "google-de_DE.xml"
    root, items = parse_items(path)
    assert root.find("channel").findtext("title") == "Shop DE"
    assert items["WB-750-SS-BLUE"].findtext(f"{G}link") == (
        "https://shop.example.de/p/WB-SS/WB-750-SS-BLUE?lang=de"
    )
    assert items["EP-3000"].findtext(f"{G}link") == (
        "https://shop.example.de/p/EP-3000/EP-3000?lang=de"
    )
    with pytest.raises(InvalidInput) as e:
        GoogleXml().fragment(espresso(), context(link_template="https://x.example/{slug}"))
    assert e.value.details["field"] == "options.link_template"


def test_tsv_feed_reads_back_with_the_csv_module(tmp_path):
    tricky = espresso(
        title='EspressoPro 3000 12" edition',
        description="<p>Line one\tcolumn</p>\n<p>Line two</p>",
    )
    tricky.images[1].url = f"{CDN}/EP-3000,side.jpg"
    [path] = publish(GoogleTsv(), [*catalogue()[:2], tricky], tmp_path, context())
    assert path.name == "google-en_US.tsv"
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t"))
    assert rows[0] == list(ATTRIBUTES)
    assert all(len(row) == len(ATTRIBUTES) for row in rows)
    by_id = {row[0]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    assert list(by_id) == ["EP-3000", "WB-750-SS-BLACK", "WB-750-SS-BLUE"]

    machine = by_id["EP-3000"]
    assert machine["title"] == 'EspressoPro 3000 12" edition'
    assert machine["description"] == "Line one column Line two"
    assert machine["image_link"] == f"{CDN}/EP-3000-1.jpg"
    # repeated values: comma-separated, commas inside a URL encoded
    assert machine["additional_image_link"].split(",") == [
        f"{CDN}/EP-3000%2Cside.jpg",
        *[f"{CDN}/EP-3000-{n}.jpg" for n in range(3, 7)],
    ]
    assert machine["price"] == "799.00 USD"
    assert machine["gtin"] == "4006381003001"
    assert machine["item_group_id"] == ""
    blue = by_id["WB-750-SS-BLUE"]
    assert blue["item_group_id"] == "WB-SS"
    assert (blue["color"], blue["size"]) == ("Blue", "750 ml")
    assert blue["product_type"] == "Drinkware > Water bottles"
    assert blue["link"] == "https://shop.example.com/products/WB-750-SS-BLUE"
    # one product per line: no stray line breaks or tabs
    assert len(path.read_text(encoding="utf-8").splitlines()) == 4


def test_write_streams_fragments_to_the_file(tmp_path):
    """write() takes any iterable and writes as it goes (a 100,000-product feed is never
    held whole): by the time the last entry is handed over, most of the file is on disk."""
    fmt = GoogleXml()
    ctx = context()
    fragment = fmt.fragment(espresso(), ctx)
    path = tmp_path / "google-en_US.xml"
    seen_on_disk = []

    def entries():
        for n in range(20_000):
            yield Entry(f"EP-{n:05d}", fragment.replace("EP-3000", f"EP-{n:05d}"), {})
        seen_on_disk.append(path.stat().st_size)

    fmt.write(tmp_path, ctx, entries())
    total = path.stat().st_size
    assert seen_on_disk[0] > total // 2
    _, items = parse_items(path)
    assert len(items) == 20_000


# --- through the real run ----------------------------------------------------------------------


@pytest.fixture
def demo_catalog(settings, tmp_path, media):  # noqa: F811 - the fixture imported above
    import io

    from folio import demo

    settings.PUBLICATIONS_DIR = tmp_path / "publications"
    settings.PUBLIC_URL = "https://demo.folio.example"
    demo.seed(io.StringIO())


@pytest.mark.django_db
def test_demo_marketplace_publishes_a_google_feed(demo_catalog):
    from folio.catalog.models import Channel
    from folio.publishing import runs
    from folio.publishing.models import Feed, Publication, PublishedItem

    feed = Feed.objects.create(
        channel=Channel.objects.get(code="marketplace"),
        code="merchant-center",
        format="google-xml",
        locales=["en_US"],
        currency="USD",
        # the marketplace has no description of its own: the web shop's
        mapping={"description": {"attribute": "description", "scope": "webshop"}},
    )
    publication = runs.publish(feed, mode="full")
    assert publication.status == Publication.Status.DONE, publication.message
    assert [f["name"] for f in publication.files] == ["google-en_US.xml"]
    root, items = parse_items(Path(publication.location) / "google-en_US.xml")
    assert root.find("channel").findtext("title") == "Marketplace"

    sent = set(
        PublishedItem.objects.filter(publication=publication, action="added").values_list(
            "sku", flat=True
        )
    )
    assert set(items) == sent
    assert {"WB-750-SS-BLUE", "WB-750-SS-BLACK", "EP-3000"} <= sent
    assert "WB-500-SS-GREEN" not in items  # no GTIN yet: skipped, in the report

    blue = items["WB-750-SS-BLUE"]
    assert blue.findtext(f"{G}title") == "Stainless Steel Water Bottle"
    assert blue.findtext(f"{G}description").startswith("Double-walled, BPA-free")
    assert "<" not in blue.findtext(f"{G}description")
    assert blue.findtext(f"{G}price") == "24.90 USD"
    assert blue.findtext(f"{G}brand") == "Aqualine"
    assert blue.findtext(f"{G}gtin") == "4006381000765"
    assert blue.findtext(f"{G}availability") == "in_stock"
    assert blue.findtext(f"{G}condition") == "new"
    assert blue.findtext(f"{G}item_group_id") == "WB-SS"
    assert blue.findtext(f"{G}color") == "Blue"
    assert blue.findtext(f"{G}size") == "750 ml"
    assert blue.findtext(f"{G}product_type") == "Drinkware > Water bottles"
    assert blue.findtext(f"{G}link") == "https://demo.folio.example/products/WB-750-SS-BLUE"
    assert blue.findtext(f"{G}image_link").startswith("https://demo.folio.example/")
    assert len(blue.findall(f"{G}additional_image_link")) <= 10

    machine = items["EP-3000"]
    assert machine.find(f"{G}item_group_id") is None
    assert machine.findtext(f"{G}gtin") == "4006381003001"
    assert machine.findtext(f"{G}price") == "799.00 USD"
    assert machine.findtext(f"{G}product_type") == "Kitchen > Coffee machines"
