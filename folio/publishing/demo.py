"""Demo feeds: the demo catalog publishes to every format with one command each.

- marketplace: `google` (Google Merchant XML, a title template "{brand} {name} {capacity}" cut
  to Google's 150 characters, the web shop's description), `google-tsv` (the same as a text
  feed) and `amazon` (JSON_LISTINGS_FEED, images named the Amazon way);
- webshop: `shopify` (product CSV), `jsonld` (schema.org), `json` and `csv` (generic);
- print: a channel of its own (English and German, euros) whose main image is a CMYK
  300 dpi rendition, with a `catalogue` feed of PDF product sheets and category catalogues.

    folio publish marketplace --feed google
    folio publish webshop --feed shopify
    folio publish print

The demo catalog's own gaps show in the reports, as they would in a real catalog: the green
500 ml bottle has no GTIN yet (skipped by the marketplace for a missing attribute), the green
750 ml bottle's packshots are still in review (skipped for an unapproved image), the
EspressoPro has no German copy (skipped by the German web shop and print feeds).

Made through the same service functions as the API. Idempotent: a feed, channel or slot that
exists is left as it is.
"""

from folio.catalog import structure
from folio.catalog.models import Channel
from folio.errors import NotFound
from folio.publishing import feeds
from folio.publishing.models import Feed

PRINT = "print"
PRINT_PRESET = "print-300dpi-cmyk"
GOOGLE_TITLE = {"template": "{brand} {name} {capacity}", "max_length": 150, "truncate": True}
# The marketplace has no description of its own: Google takes the web shop's.
SHOP_DESCRIPTION = {"attribute": "description", "scope": "webshop"}

# (channel, code, settings)
FEEDS = [
    (
        "marketplace",
        "google",
        {
            "name": "Google Merchant Center (XML)",
            "format": "google-xml",
            "locales": ["en_US"],
            "currency": "USD",
            "mapping": {"title": GOOGLE_TITLE, "description": SHOP_DESCRIPTION},
            "options": {"title": "Aqualine and EspressoPro"},
        },
    ),
    (
        "marketplace",
        "google-tsv",
        {
            "name": "Google Merchant Center (TSV)",
            "format": "google-tsv",
            "locales": ["en_US"],
            "currency": "USD",
            "mapping": {"title": GOOGLE_TITLE, "description": SHOP_DESCRIPTION},
        },
    ),
    (
        "marketplace",
        "amazon",
        {
            "name": "Amazon listings (JSON_LISTINGS_FEED)",
            "format": "amazon-json",
            "locales": ["en_US"],
            "currency": "USD",
            "options": {"seller_id": "A1DEMOSELLER", "image_names": "amazon"},
        },
    ),
    (
        "webshop",
        "shopify",
        {"name": "Shopify product CSV", "format": "shopify-csv", "currency": "USD"},
    ),
    ("webshop", "jsonld", {"name": "schema.org JSON-LD", "format": "jsonld", "currency": "USD"}),
    ("webshop", "json", {"name": "Generic JSON", "format": "json", "currency": "USD"}),
    ("webshop", "csv", {"name": "Generic CSV", "format": "csv", "currency": "USD"}),
    (PRINT, "catalogue", {"name": "Print catalogue (PDF)", "format": "pdf"}),
]


def seed(out) -> None:
    channels = set(
        Channel.objects.filter(code__in=("webshop", "marketplace")).values_list("code", flat=True)
    )
    if channels != {"webshop", "marketplace"}:
        return  # the demo catalog was not seeded (a database with a catalog of its own)
    made_channel = _print_channel()
    made_slot = _print_slot()
    made = 0
    for channel, code, data in FEEDS:
        if Feed.objects.filter(channel__code=channel, code=code).exists():
            continue
        feeds.create_feed(channel, {"code": code, **data})
        made += 1
    if made or made_channel or made_slot:
        out.write(
            f"Demo publishing: {made} feeds (Google XML and TSV, Amazon on marketplace; "
            "Shopify, JSON-LD, JSON, CSV on webshop; a PDF catalogue on the print channel); "
            "publish one with `folio publish marketplace --feed google`\n"
        )


def _print_channel() -> bool:
    if Channel.objects.filter(code=PRINT).exists():
        return False
    structure.create_channel(
        PRINT,
        labels={"en_US": "Print catalogue", "de_DE": "Druckkatalog"},
        kind="print",
        locales=["en_US", "de_DE"],
        currencies=["EUR"],
        territories=["US", "DE"],
        category_tree="master",
    )
    return True


def _print_slot() -> bool:
    from folio.renditions import cache
    from folio.renditions import presets as preset_service
    from folio.renditions.demo import _ensure_presets, _packshots

    try:
        preset_service.get_slot(PRINT, "main")
        return False
    except NotFound:
        pass
    _ensure_presets({PRINT_PRESET})
    slot = preset_service.create_slot(PRINT, role="main", preset=PRINT_PRESET, max_count=1)
    # As for the other demo channels: the worker makes the renditions, `make run` shows them
    # arriving; a publication renders what is still missing itself.
    assets = _packshots(PRINT, main_only=True)
    if assets:
        cache.ensure_renditions(assets, [slot.preset])
    return True
