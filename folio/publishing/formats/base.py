"""The contract between the publish run and the feed formats.

The run (folio/publishing/runs.py) resolves each selected product, in each published locale,
into one `Item`: the mapped field values, the variant group, the images of the channel's image
slots with their file names and URLs, the categories. A format turns items into files and
knows nothing about the database:

- `check(item)` lists what the format's rules refuse (length limits, GTIN check digit, id
  characters, image counts): each becomes a "validation failure" reason in the report and the
  product is skipped.
- `fragment(item)` renders the product's own piece of the feed (an XML <item>, a TSV row, a
  JSON document). Fragments are stored per product (Listing.fragment) and reused by the next
  incremental run when nothing the product depends on changed.
- `write(out, ctx, entries)` writes the whole publication into the directory `out` (a fresh
  directory the run switches to atomically afterwards): `entries` are the fragments of every
  product the destination should hold, changed or reused, in SKU order.
- Delta formats (Amazon) also implement `write_delta(out, ctx, changes)`: only the changed
  products (with what was sent before) and the removals.
"""

import dataclasses
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar


@dataclasses.dataclass
class Image:
    """One image of a listing: a rendition of a linked asset through the channel slot's
    preset, under the file name the slot's template gives it."""

    role: str  # the slot's role: main, gallery, swatch, lifestyle…
    position: int  # 1-based across the listing (the main image first)
    asset_id: int
    asset_version: int  # AssetVersion.number of the file rendered
    filename: str  # as published: "0012345678905.MAIN.jpg", "WB-750-SS-2.jpg"
    url: str  # absolute URL the channel fetches it from
    sha256: str  # of the rendition's bytes
    storage_name: str  # where the rendition's bytes are in the media storage
    width: int | None = None
    height: int | None = None
    format: str = ""  # jpeg, png, webp, tiff, pdf…
    alt: str = ""  # alt text in the item's locale


@dataclasses.dataclass
class Item:
    """One product, in one locale of one feed, resolved and mapped."""

    sku: str
    product_id: int
    locale: str
    currency: str
    # The mapped fields, format field name → value (str, Decimal, list, dict): what the
    # feed's mapping and the format's default mapping produced. Prices come as
    # {"amount": Decimal, "currency": "USD"}; measurements as {"amount": Decimal, "unit": "ml"}.
    fields: dict[str, Any]
    # Every resolved value as people read it in this locale/channel: attribute code →
    # {"label": "Capacity", "value": "750 ml", "data": raw data} (generic formats, PDF);
    # empty for formats whose `reads_values` is False.
    values: dict[str, dict]
    images: list[Image]
    enabled: bool = True
    # Variants: the root product model's code (Google item_group_id, Shopify handle, schema.org
    # ProductGroup) and the axes that tell the variants apart, in the family variant's order:
    # [{"attribute": "color", "label": "Colour", "value": "Blue", "code": "blue"}].
    group: str | None = None
    group_title: str = ""
    axes: list[dict] = dataclasses.field(default_factory=list)
    # Category codes of the product in the channel's tree, and the deepest one's labels from
    # the root down (["Drinkware", "Water bottles"]) for product_type / breadcrumbs.
    categories: list[str] = dataclasses.field(default_factory=list)
    category_path: list[str] = dataclasses.field(default_factory=list)
    family: str | None = None
    product_version: int = 1


@dataclasses.dataclass
class Context:
    """What a whole feed file needs besides its items."""

    channel: str  # code
    channel_label: str
    feed: str  # code
    locale: str
    currency: str
    options: dict[str, Any]  # Feed.options
    public_url: str  # base of links and image URLs (FOLIO_PUBLIC_URL or the destination's)
    publication_id: int | None = None
    # Delta runs: fragments/data of the previous publication, by SKU (None on a first run).
    previous: dict[str, dict] | None = None
    # The folder holding the previous successful publication's files (for formats that copy
    # what did not change instead of rebuilding it: PDF sheets); None when there is none.
    previous_dir: Path | None = None


@dataclasses.dataclass
class Entry:
    """A product the destination holds after this publication: its fragment (new or reused)
    and the item when it was resolved in this run (None for a reused fragment)."""

    sku: str
    fragment: str
    data: dict[str, Any]
    item: Item | None = None


@dataclasses.dataclass
class Change:
    """A product an incremental delta run sends: new data, and what was sent before."""

    sku: str
    data: dict[str, Any] | None  # None: remove the product from the channel
    previous: dict[str, Any] | None  # None: never sent before
    item: Item | None = None


@dataclasses.dataclass
class Problem:
    """A reason a format refuses an item ("validation failure" in the report)."""

    field: str
    message: str


class Format:
    """Base of every feed format; subclasses set the class attributes and implement
    `fragment` and `write` (and `check`, `data` where the defaults don't fit)."""

    code: ClassVar[str]
    label: ClassVar[str]
    # True where the destination replaces everything with each file (Google's full feed,
    # CSV imports); False where it takes changes (Amazon PATCH/DELETE).
    full_feed: ClassVar[bool] = True
    # One file per locale (feeds hold one language) or one file for all locales.
    per_locale: ClassVar[bool] = True
    # field → rule, as in Feed.mapping; the feed's own mapping overrides per field.
    default_mapping: ClassVar[dict[str, dict]] = {}
    # field → maximum characters (enforced by `check`).
    limits: ClassVar[dict[str, int]] = {}
    # Fields a listing cannot go out without (a missing one is a "missing attribute" reason
    # naming the attribute the mapping reads it from).
    required_fields: ClassVar[tuple[str, ...]] = ()
    max_images: ClassVar[int | None] = None
    # Whether `write`/`fragment` read Item.values. Formats that write only their mapped
    # fields say False and are spared formatting every value of every product.
    reads_values: ClassVar[bool] = True
    # Part of every listing's run-wide key: raised when what formats write for the same
    # inputs changes (2: prices and amounts in each locale's form, 2026-11-28), so the next
    # incremental run rebuilds every listing rather than keep fragments written the old way.
    version: ClassVar[int] = 2

    def check(self, item: Item) -> list[Problem]:
        problems = []
        for name, limit in self.limits.items():
            value = item.fields.get(name)
            if isinstance(value, str) and len(value) > limit:
                problems.append(
                    Problem(name, f"{name} is {len(value)} characters, the format allows {limit}")
                )
        return problems

    def data(self, item: Item) -> dict[str, Any]:
        """What was sent, as JSON-able data (stored on the Listing; delta formats diff it)."""
        return {k: jsonable(v) for k, v in item.fields.items()}

    def fragment(self, item: Item, ctx: Context) -> str:
        raise NotImplementedError

    def write(self, out: Path, ctx: Context, entries: Iterable[Entry]) -> list[str]:
        """Write the publication's files into `out`; return their names (relative)."""
        raise NotImplementedError

    def write_delta(self, out: Path, ctx: Context, changes: list[Change]) -> list[str]:
        raise NotImplementedError(f"{self.code} has no delta mechanism")


def jsonable(value):
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value
