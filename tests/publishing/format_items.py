"""Items for the Shopify, JSON-LD, generic and PDF format tests, built as the publish run
hands them over: the water bottle's colour variants (English and German copy), the
EspressoPro 3000 (English and French), and a bottle lid whose SKU sorts between the bottle's
variants. Images are real small JPEGs (and a CMYK TIFF, as print presets make) put into the
media storage under content-addressed names."""

import hashlib
from decimal import Decimal

import pyvips
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from folio.publishing.formats.base import Context, Entry, Image, Item

PUBLIC = "https://cdn.example.com"

BOTTLE = {
    "en_US": {
        "name": "Stainless Steel Water Bottle",
        "description": "<p>Double-walled, BPA-free stainless steel bottle that keeps drinks "
        "cold for 24 hours.</p><ul><li>Leak-proof lid</li></ul>",
        "colors": {"black": "Black", "blue": "Blue", "green": "Green"},
        "labels": {
            "color": "Colour",
            "size": "Size",
            "capacity": "Capacity",
            "material": "Material",
            "bpa_free": "BPA-free",
        },
        "material": "Stainless steel",
        "yes": "yes",
        "category_path": ["Drinkware", "Water bottles"],
        "alt": "Bottle, front",
    },
    "de_DE": {
        "name": "Edelstahl-Trinkflasche",
        "description": "<p>Doppelwandige, BPA-freie Edelstahlflasche – hält Getränke "
        "24 Stunden kalt.</p>",
        "colors": {"black": "Schwarz", "blue": "Blau", "green": "Grün"},
        "labels": {
            "color": "Farbe",
            "size": "Größe",
            "capacity": "Fassungsvermögen",
            "material": "Material",
            "bpa_free": "BPA-frei",
        },
        "material": "Edelstahl",
        "yes": "ja",
        "category_path": ["Trinkgefäße", "Trinkflaschen"],
        "alt": "Flasche, vorne",
    },
}
ESPRESSO = {
    "en_US": {
        "name": "EspressoPro 3000 Automatic Coffee Machine",
        "description": "<p>Bean-to-cup espresso with an integrated grinder &amp; milk frother.</p>",
        "labels": {"power": "Power", "pump_pressure": "Pump pressure", "features": "Features"},
        "features": "Integrated grinder, Milk frother",
        "category_path": ["Kitchen", "Coffee machines"],
    },
    "fr_FR": {
        "name": "Machine à café automatique EspressoPro 3000",
        "description": "<p>Expresso broyé à la demande, broyeur intégré et mousseur à lait. "
        "Crème légère, café corsé.</p>",
        "labels": {
            "power": "Puissance",
            "pump_pressure": "Pression de la pompe",
            "features": "Fonctions",
        },
        "features": "Broyeur intégré, Mousseur à lait",
        "category_path": ["Cuisine", "Machines à café"],
    },
}
BOTTLE_GTINS = {
    ("ml500", "black"): "4006381000505",
    ("ml750", "black"): "4006381000758",
    ("ml750", "blue"): "4006381000765",
    ("ml750", "green"): "4006381000772",
}
COLOURS = {"black": (20, 20, 20), "blue": (30, 60, 200), "green": (30, 160, 60)}


def jpeg(color, width=120, height=160) -> bytes:
    image = pyvips.Image.black(width, height).new_from_image(list(color))
    return image.copy(interpretation="srgb").write_to_buffer(".jpg", Q=85)


def cmyk_tiff(color, width=90, height=120) -> bytes:
    image = pyvips.Image.black(width, height).new_from_image(list(color))
    return image.copy(interpretation="srgb").colourspace("cmyk").write_to_buffer(".tif")


def stored(data: bytes) -> tuple[str, str]:
    """Put `data` into the media storage as a blob is stored: (sha256, storage name)."""
    sha = hashlib.sha256(data).hexdigest()
    name = f"blobs/{sha[:2]}/{sha[2:4]}/{sha}"
    if not default_storage.exists(name):
        default_storage.save(name, ContentFile(data))
    return sha, name


def image(sku, role, position, data: bytes, *, alt="", fmt="jpeg", asset_id=1) -> Image:
    sha, name = stored(data)
    ext = "tif" if fmt == "tiff" else "jpg"
    filename = f"{sku}-{position}.{ext}"
    return Image(
        role=role,
        position=position,
        asset_id=asset_id,
        asset_version=1,
        filename=filename,
        url=f"{PUBLIC}/media/{filename}",
        sha256=sha,
        storage_name=name,
        width=120,
        height=160,
        format=fmt,
        alt=alt,
    )


def _value(label, value, data):
    return {"label": label, "value": value, "data": data}


def bottle(size: str, color: str, locale: str = "en_US", *, currency="USD", print_images=False):
    copy = BOTTLE[locale]
    ml = size[2:]
    sku = f"WB-{ml}-SS-{color.upper()}"
    price = Decimal("24.90") if ml == "750" else Decimal("19.90")
    if currency == "EUR":
        price -= 2
    colour = copy["colors"][color]
    labels = copy["labels"]
    rgb = COLOURS[color]
    if print_images:
        images = [image(sku, "main", 1, cmyk_tiff(rgb), fmt="tiff", alt=copy["alt"])]
    else:
        images = [
            image(sku, "main", 1, jpeg(rgb), alt=copy["alt"]),
            # The model's lifestyle picture, linked once on the root model: every variant
            # shows it, and a Shopify product must list it once.
            image("WB-SS", "lifestyle", 2, jpeg((240, 240, 230)), asset_id=2),
        ]
    return Item(
        sku=sku,
        product_id=hash(sku) % 10_000,
        locale=locale,
        currency=currency,
        fields={
            "title": copy["name"],
            "name": copy["name"],
            "description": copy["description"],
            "vendor": "Aqualine",
            "brand": "Aqualine",
            "price": {"amount": price, "currency": currency},
            "barcode": BOTTLE_GTINS[(size, color)],
            "gtin": BOTTLE_GTINS[(size, color)],
            "weight": {"amount": Decimal("410" if ml == "750" else "320"), "unit": "g"},
        },
        values={
            "name": _value("Name", copy["name"], copy["name"]),
            "description": _value("Description", copy["description"], copy["description"]),
            "size": _value(labels["size"], f"{ml} ml", size),
            "color": _value(labels["color"], colour, color),
            "capacity": _value(
                labels["capacity"], f"{ml} ml", {"amount": ml, "unit": "MILLILITER"}
            ),
            "material": _value(labels["material"], copy["material"], ["stainless_steel"]),
            "bpa_free": _value(labels["bpa_free"], copy["yes"], True),
            "gtin": _value("GTIN", BOTTLE_GTINS[(size, color)], BOTTLE_GTINS[(size, color)]),
        },
        images=images,
        group="WB-SS",
        group_title=copy["name"],
        axes=[
            {"attribute": "size", "label": labels["size"], "value": f"{ml} ml", "code": size},
            {"attribute": "color", "label": labels["color"], "value": colour, "code": color},
        ],
        categories=["water_bottles"],
        category_path=copy["category_path"],
        family="water_bottles",
    )


def espresso(locale: str = "en_US", *, currency="USD", print_images=False):
    copy = ESPRESSO[locale]
    labels = copy["labels"]
    sku = "EP-3000"
    if print_images:
        images = [
            image(sku, "main", 1, cmyk_tiff((120, 70, 40)), fmt="tiff", asset_id=10),
            image(sku, "gallery", 2, cmyk_tiff((90, 90, 90)), fmt="tiff", asset_id=11),
            image(sku, "gallery", 3, cmyk_tiff((200, 180, 160)), fmt="tiff", asset_id=12),
        ]
    else:
        images = [
            image(sku, "main", 1, jpeg((120, 70, 40)), asset_id=10),
            image(sku, "gallery", 2, jpeg((90, 90, 90)), asset_id=11),
        ]
    price = Decimal("799.00") if currency == "USD" else Decimal("749")
    return Item(
        sku=sku,
        product_id=3000,
        locale=locale,
        currency=currency,
        fields={
            "title": copy["name"],
            "name": copy["name"],
            "description": copy["description"],
            "vendor": "BaristaPro",
            "brand": "BaristaPro",
            "price": {"amount": price, "currency": currency},
            "barcode": "4006381333931",
            "gtin": "4006381333931",
            "weight": {"amount": Decimal("9.5"), "unit": "kg"},
        },
        values={
            "name": _value("Name", copy["name"], copy["name"]),
            "description": _value("Description", copy["description"], copy["description"]),
            "power": _value(labels["power"], "1450 W", {"amount": "1450", "unit": "WATT"}),
            "pump_pressure": _value(
                labels["pump_pressure"], "15 bar", {"amount": "15", "unit": "BAR"}
            ),
            "features": _value(
                labels["features"], copy["features"], ["integrated_grinder", "milk_frother"]
            ),
        },
        images=images,
        categories=["coffee_machines"],
        category_path=copy["category_path"],
        family="coffee_machines",
    )


def lid(locale: str = "en_US", *, currency="USD"):
    """An accessory outside any group whose SKU sorts between the bottle's variants."""
    name = {"en_US": "Spare lid", "de_DE": "Ersatzdeckel", "fr_FR": "Couvercle"}[locale]
    return Item(
        sku="WB-600-LID",
        product_id=600,
        locale=locale,
        currency=currency,
        fields={
            "title": name,
            "name": name,
            "price": {"amount": Decimal("4.50"), "currency": currency},
        },
        values={"name": _value("Name", name, name)},
        images=[],
        categories=["water_bottles"],
        category_path=BOTTLE.get(locale, BOTTLE["en_US"])["category_path"],
        family="accessories",
    )


def catalogue(locale: str = "en_US", *, currency="USD", print_images=False) -> list[Item]:
    """Every item in SKU order, as the run hands entries to `write`."""
    items = [lid(locale, currency=currency)]
    if locale in BOTTLE:
        items += [
            bottle(size, color, locale, currency=currency, print_images=print_images)
            for size, color in BOTTLE_GTINS
        ]
    if locale in ESPRESSO:
        items.append(espresso(locale, currency=currency, print_images=print_images))
    return sorted(items, key=lambda item: item.sku)


def context(locale="en_US", *, currency="USD", options=None, **extra) -> Context:
    return Context(
        channel="webshop",
        channel_label="Web shop",
        feed="main",
        locale=locale,
        currency=currency,
        options=options or {},
        public_url="https://shop.example.com",
        **extra,
    )


def entries(fmt, items, ctx, *, reused=()) -> list[Entry]:
    """Entries as the run makes them; SKUs in `reused` come without their item (a fragment
    reused from the previous publication)."""
    return [
        Entry(
            sku=item.sku,
            fragment=fmt.fragment(item, ctx),
            data=fmt.data(item),
            item=None if item.sku in reused else item,
        )
        for item in items
    ]


# --- end to end: the demo catalog through the publish run --------------------------------------


def publish_demo(settings, tmp_path, channel: str, fmt: str, **feed):
    """Seed the demo, add a feed of format `fmt` on its `channel` (a row, as the feeds API
    would leave it) and publish it in full; (publication, release folder, published SKUs by
    locale)."""
    import io
    from pathlib import Path

    from folio import demo
    from folio.catalog.models import Channel
    from folio.publishing import runs
    from folio.publishing.models import Feed, PublishedItem

    settings.PUBLICATIONS_DIR = tmp_path / "publications"
    demo.seed(io.StringIO())
    row = Feed.objects.create(
        channel=Channel.objects.get(code=channel), code=f"test-{fmt}", format=fmt, **feed
    )
    publication = runs.publish(row, mode="full")
    assert publication.status == "done", publication.message
    published: dict[str, set[str]] = {}
    for sku, locale in PublishedItem.objects.filter(
        publication=publication, action=PublishedItem.Action.ADDED
    ).values_list("sku", "locale"):
        published.setdefault(locale, set()).add(sku)
    return publication, Path(publication.location), published
