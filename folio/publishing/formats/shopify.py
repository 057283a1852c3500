"""Shopify product CSV (the current import template's headers), one file per locale:
`shopify-<locale>.csv`.

Facts: /work/shared/reference/channels.md (Shopify product CSV). A Shopify product is a set
of rows sharing a URL handle: the first row carries the product's fields and its first
variant; each further variant is a row with the handle, its option values, SKU, price and
barcode; each further image is a row with the handle, the image URL, its position (1, 2, …)
and alt text. A product with no variants has the single option Title = Default Title.

A Folio product group (the root product model, `Item.group`) is one Shopify product whose
handle is the group's code as a slug; a product outside any group is a Shopify product of
its own whose handle is its SKU as a slug. The variant axes (up to three) are the options.

Each Folio product's fragment is its own part of that (product fields, variant fields, its
images) as JSON; `write` gathers the parts of one handle (see generic.grouped: variants
arrive in SKU order, not necessarily next to each other) and writes the handle's rows
together: product row, further variant rows, further image rows. The group's images are the
images of its variants in SKU order, each URL once; every variant row names its own first
image as its "Variant image URL".

Every cell is escaped against formula injection (generic.safe_cell). Prices are never
negative here, so no legitimate cell starts with "-"; text that does gets the apostrophe.
"""

import csv
import json
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, ClassVar

from folio.publishing.formats.base import Context, Entry, Format, Item, Problem, jsonable
from folio.publishing.formats.generic import (
    amount_text,
    cell_text,
    dumps,
    grouped,
    one_line,
    plain_text,
    safe_cell,
    slug,
)

COLUMNS = (
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
)
MAX_OPTIONS = 3
ALT_MAX = 512  # unconfirmed limit: cut at a word boundary rather than refuse the product
GRAMS = {
    "g": Decimal(1),
    "kg": Decimal(1000),
    "mg": Decimal("0.001"),
    "lb": Decimal("453.59237"),
    "oz": Decimal("28.349523125"),
}
# Shopify's display units; any other unit is shown in grams.
DISPLAY_UNITS = ("g", "kg", "lb", "oz")


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    head = text[:limit]
    space = head.rfind(" ")
    return (head[:space] if space > limit // 2 else head).rstrip()


def _flag(value: Any, default: bool) -> str:
    if value is None or value == "":
        value = default
    if isinstance(value, str):
        value = value.strip().lower() in ("true", "yes", "1")
    return "TRUE" if value else "FALSE"


def _weight(value: Any) -> tuple[str, str]:
    """(grams, display unit) of a mapped measurement {"amount", "unit": symbol}."""
    if not isinstance(value, dict) or value.get("amount") in (None, ""):
        return "", ""
    unit = str(value.get("unit") or "g").lower()
    try:
        amount = Decimal(str(value["amount"]))
    except InvalidOperation:
        return "", ""
    if unit not in GRAMS:
        return "", ""
    grams = (amount * GRAMS[unit]).quantize(Decimal("0.01")).normalize()
    return format(grams, "f"), unit if unit in DISPLAY_UNITS else "g"


def handle_of(item: Item) -> str:
    return slug(item.group) if item.group else slug(item.sku)


class ShopifyCsv(Format):
    code = "shopify-csv"
    reads_values = False  # mapped fields only
    label = "Shopify product CSV"
    full_feed = True
    per_locale = True
    default_mapping: ClassVar[dict[str, dict]] = {
        "title": {"attribute": "name"},
        "description": {"attribute": "description"},
        "vendor": {"attribute": "brand"},
        "price": {"attribute": "price"},
        "barcode": {"attribute": "@gtin"},
        "weight": {"attribute": "weight"},
    }
    # Other fields a feed's mapping may fill: product_category (Shopify's standard product
    # taxonomy), type (default: the deepest category's label), tags, compare_at_price,
    # cost_per_item, inventory_quantity, seo_title, seo_description.
    limits: ClassVar[dict[str, int]] = {
        "title": 255,
        "vendor": 255,
        "type": 255,
        "seo_title": 70,
        "seo_description": 320,
    }
    required_fields = ("title", "price")

    def check(self, item: Item) -> list[Problem]:
        problems = super().check(item)
        if len(item.axes) > MAX_OPTIONS:
            names = ", ".join(axis.get("label") or axis.get("attribute", "") for axis in item.axes)
            problems.append(
                Problem(
                    "options",
                    f"{len(item.axes)} variant axes ({names}): Shopify products have at most "
                    f"{MAX_OPTIONS} options",
                )
            )
        if not handle_of(item):
            source = f"product group {item.group!r}" if item.group else f"SKU {item.sku!r}"
            problems.append(
                Problem("handle", f"{source} has no letters or digits for a Shopify URL handle")
            )
        return problems

    def data(self, item: Item) -> dict[str, Any]:
        # What a push connector and the diff need besides the fields: the handle, the options
        # and the images by URL.
        return {
            **{k: jsonable(v) for k, v in item.fields.items()},
            "handle": handle_of(item),
            "group": item.group,
            "options": [
                {"name": axis.get("label", ""), "value": axis.get("value", "")}
                for axis in item.axes[:MAX_OPTIONS]
            ],
            "images": [{"url": i.url, "position": i.position, "alt": i.alt} for i in item.images],
        }

    def fragment(self, item: Item, ctx: Context) -> str:
        fields, options = item.fields, ctx.options
        title = item.group_title if item.group and item.group_title else fields.get("title")
        title = one_line(title)
        enabled = item.enabled
        product = {
            "Title": title,
            "Description": cell_text(fields.get("description")),
            "Vendor": cell_text(fields.get("vendor")) or options.get("vendor", ""),
            "Product category": cell_text(fields.get("product_category")),
            "Type": cell_text(fields.get("type"))
            or (item.category_path[-1] if item.category_path else ""),
            "Tags": cell_text(fields.get("tags")),
            "Published on online store": _flag(options.get("published"), True)
            if enabled
            else "FALSE",
            "Status": (options.get("status") or "active") if enabled else "draft",
            "Gift card": "FALSE",
            "SEO title": one_line(fields.get("seo_title")),
            "SEO description": plain_text(fields.get("seo_description")),
        }
        grams, unit = _weight(fields.get("weight"))
        variant = {
            "SKU": item.sku,
            "Barcode": cell_text(fields.get("barcode")),
            "Price": amount_text(fields.get("price")),
            "Compare-at price": amount_text(fields.get("compare_at_price")),
            "Cost per item": amount_text(fields.get("cost_per_item")),
            "Charge tax": "TRUE",
            "Inventory tracker": "",
            "Inventory quantity": cell_text(fields.get("inventory_quantity")),
            "Continue selling when out of stock": "",
            "Weight value (grams)": grams,
            "Weight unit for display": unit,
            "Requires shipping": "TRUE",
            "Variant image URL": item.images[0].url if item.images else "",
        }
        names = {}
        if item.axes:
            for n, axis in enumerate(item.axes[:MAX_OPTIONS], start=1):
                names[f"Option{n} name"] = axis.get("label") or axis.get("attribute", "")
                variant[f"Option{n} value"] = axis.get("value", "")
        else:
            names["Option1 name"] = "Title"
            variant["Option1 value"] = "Default Title"
        # An image without alt text of its own gets the product's title (not the variant's
        # colour: the group's shared pictures come through whichever variant is first).
        images = [
            {"url": image.url, "alt": _cut(one_line(image.alt) or title or "", ALT_MAX)}
            for image in item.images
        ]
        return dumps(
            {
                "handle": handle_of(item),
                "product": product,
                "option_names": names,
                "variant": variant,
                "images": images,
            }
        )

    def write(self, out: Path, ctx: Context, entries: Iterable[Entry]) -> list[str]:
        name = f"shopify-{ctx.locale}.csv"
        with open(out / name, "w", encoding="utf-8", newline="", buffering=1 << 20) as f:
            writer = csv.writer(f, lineterminator="\r\n")
            writer.writerow(COLUMNS)
            parts = ((json.loads(e.fragment)["handle"], e.fragment) for e in entries)
            for handle, fragments in grouped(parts):
                for row in _rows(handle, [json.loads(text) for text in fragments]):
                    writer.writerow([safe_cell(row.get(column, "")) for column in COLUMNS])
        return [name]


def _rows(handle: str, parts: list[dict]) -> list[dict[str, str]]:
    """The rows of one Shopify product: its variants (the first with the product fields),
    then one row per further image."""
    images: list[dict] = []
    seen: set[str] = set()
    for part in parts:
        for image in part["images"]:
            if image["url"] not in seen:
                seen.add(image["url"])
                images.append(image)
    rows = []
    for n, part in enumerate(parts):
        row = {"URL handle": handle, **part["variant"]}
        if n == 0:
            row.update(part["product"])
            row.update(part["option_names"])
        rows.append(row)
    for position, image in enumerate(images, start=1):
        if position == 1:
            row = rows[0]
        else:
            row = {"URL handle": handle}
            rows.append(row)
        row.update(
            {
                "Product image URL": image["url"],
                "Image position": str(position),
                "Image alt text": image["alt"],
            }
        )
    return rows
