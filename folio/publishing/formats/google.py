"""Google Merchant Center product feeds: XML (RSS 2.0 with the g: namespace) and TSV.

Both hold one language (one file per locale) and are full feeds: Merchant Center replaces
what it holds with each file, so a product missing from the file is removed there.

A product's fragment is its `<item>` element or its TSV row, built by plain string work: a
feed of 100,000 products has to be made in seconds, and an ElementTree per item would be the
slowest step of the run. `write` streams the fragments between a header and a footer, so a
feed never sits in memory whole.

Rules followed: Google's product data specification (ids, length limits, GTIN check digits,
at most 10 additional images, "15.00 USD" prices, item_group_id for variants) and its text
feed format (tab-separated, repeated values comma-separated with commas in URLs as %2C).
"""

import html
import re
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote
from xml.sax.saxutils import escape

from folio.errors import InvalidInput
from folio.publishing.formats.base import Context, Entry, Format, Item, Problem

G_NS = "http://base.google.com/ns/1.0"

# Every attribute a feed can carry, in the order they are written (the TSV's columns). The
# ones not derived from the item itself come from the mapping under the same name.
ATTRIBUTES = (
    "id",
    "title",
    "description",
    "link",
    "image_link",
    "additional_image_link",
    "availability",
    "availability_date",
    "price",
    "sale_price",
    "brand",
    "gtin",
    "mpn",
    "identifier_exists",
    "condition",
    "google_product_category",
    "product_type",
    "item_group_id",
    "color",
    "size",
    "gender",
    "age_group",
    "material",
    "pattern",
    "shipping_weight",
    "custom_label_0",
    "custom_label_1",
    "custom_label_2",
    "custom_label_3",
    "custom_label_4",
)
# Mapped fields written after the derived ones, as they are (text cleaned up).
_LAST = (
    "gender",
    "age_group",
    "material",
    "pattern",
    "shipping_weight",
    "custom_label_0",
    "custom_label_1",
    "custom_label_2",
    "custom_label_3",
    "custom_label_4",
)
# Attributes whose several values Google reads separated by "/" (colour: up to three).
_SLASHED = frozenset({"color", "material", "pattern"})
_TEXT_REQUIRED = frozenset({"title", "description"})
_RICH = "description"  # the one field that may hold (sanitized) HTML
ENUMS = {
    "availability": ("in_stock", "out_of_stock", "preorder", "backorder"),
    "condition": ("new", "refurbished", "used"),
    "gender": ("male", "female", "unisex"),
    "age_group": ("newborn", "infant", "toddler", "kids", "adult"),
    "identifier_exists": ("yes", "no"),
}
MAX_ADDITIONAL_IMAGES = 10
URL_MAX = 2000

_ID = re.compile(r"[A-Za-z0-9_-]{1,50}")
_NOT_ID = re.compile(r"[^A-Za-z0-9_-]")
# Block-level tags become a space (words either side stay apart), inline tags vanish.
_BLOCK_TAG = re.compile(
    r"<\s*/?\s*(?:p|div|br|li|ul|ol|h[1-6]|tr|td|th|table|blockquote|section|article|pre|hr)"
    r"\b[^>]*>",
    re.IGNORECASE,
)
# Only what is a tag: "<3000>" or "a < b" in a text stays.
_TAG = re.compile(r"</?[A-Za-z][^>]*>|<!--.*?-->", re.DOTALL)
# Characters XML 1.0 cannot carry at all (a feed holding one is refused whole). Whitespace
# controls are gone already: text is whitespace-collapsed before this.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_CENT = Decimal("0.01")


# --- values as Google reads them ---------------------------------------------------------------


def one_line(value: str) -> str:
    """Text on one line: runs of whitespace (line breaks, tabs) become one space, characters
    XML cannot carry are dropped."""
    if (
        value.isprintable()  # no line breaks, tabs, controls, odd spaces
        and "  " not in value
        and value[:1] != " "
        and value[-1:] != " "
    ):
        return value  # the common case, without the work below
    value = " ".join(value.split())
    if _NOT_XML.search(value):
        value = _NOT_XML.sub("", value)
    return value


def plain_text(value: str) -> str:
    """Rich text (sanitized HTML) as plain text: tags removed, entities decoded, one line."""
    if "<" in value:
        value = _TAG.sub("", _BLOCK_TAG.sub(" ", value))
    if "&" in value:
        value = html.unescape(value)
    return one_line(value)


def _has_text(value: str) -> bool:
    """plain_text(value) != "", mostly without building it."""
    if "<" in value:
        value = _TAG.sub("", value)
    if "&" in value or not value.isprintable():
        return plain_text(value) != ""
    return value != "" and not value.isspace()


def xml_escape(value: str) -> str:
    if "&" in value or "<" in value or ">" in value:
        return escape(value)
    return value


def text(value: Any, joiner: str = ", ") -> str:
    """Any mapped value as one line of text ("" when empty)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return one_line(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, list | tuple):
        return joiner.join(t for t in (text(v) for v in value) if t)
    if isinstance(value, dict) and "amount" in value:
        # a measurement ("410 g") or a price without its own field rules
        unit = value.get("unit") or value.get("currency") or ""
        return f"{text(value['amount'])} {unit}".strip()
    return one_line(str(value))


def money(value: Any, currency: str) -> str:
    """A price as Google writes it, "24.90 USD"; ValueError when it is not one."""
    if isinstance(value, dict):
        currency = value.get("currency") or currency
        value = value.get("amount")
    if value is None or isinstance(value, bool):
        raise ValueError("no amount")
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"{value!r} is not an amount") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"{value!r} is not an amount")
    if not currency:
        raise ValueError("no currency")
    return f"{amount.quantize(_CENT, ROUND_HALF_UP)} {currency}"


def gtin_check_digit(body: str) -> int:
    """GS1 check digit over the digits before it: weights 3,1,3,… from the right. The same
    rule as catalog.values.gtin_is_valid, kept here so formats import nothing from the
    database layer."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def gtin_problem(code: str) -> str | None:
    """Why `code` is not a GTIN-8/12/13/14, or None when it is one."""
    if not code.isdigit() or len(code) not in (8, 12, 13, 14):
        return f"gtin {code!r} is not a GTIN-8, -12, -13 or -14 (8, 12, 13 or 14 digits)"
    expected = gtin_check_digit(code[:-1])
    if int(code[-1]) != expected:
        return f"gtin {code} ends in {code[-1]}, but its GS1 check digit is {expected}"
    return None


def axis_field(code: str, overrides: dict[str, str] | None = None) -> str | None:
    """Which of Google's "color" and "size" the axis attribute `code` gives (None: neither):
    the attribute code `overrides` names for it (Feed.options["axis_fields"]), else a code
    containing color/colour or size."""
    lowered = code.lower()
    for name in ("color", "size"):
        if overrides and name in overrides:
            if overrides[name] == code:
                return name
        elif name in lowered or (name == "color" and "colour" in lowered):
            return name
    return None


def axis_values(axes: list[dict], overrides: dict[str, str] | None = None) -> dict[str, str]:
    """The colour and size labels of a variant, from its axes ({"color": "Blue", …})."""
    found: dict[str, str] = {}
    for axis in axes:
        value = axis.get("value")
        if value in (None, ""):
            continue
        name = axis_field(axis.get("attribute") or "", overrides)
        if name and name not in found:
            found[name] = text(value, "/")
    return found


def product_link(item: Item, ctx: Context) -> str:
    """The product page: the feed's link_template ({sku}, {group}) or <public URL>/products/…"""
    template = ctx.options.get("link_template")
    sku = quote(item.sku, safe="")
    if not template:
        return f"{ctx.public_url}/products/{sku}"
    try:
        return template.format(sku=sku, group=quote(item.group or item.sku, safe=""))
    except (KeyError, IndexError, ValueError) as e:
        raise InvalidInput(
            f"feed option link_template {template!r} cannot be filled: only {{sku}} and "
            "{group} are known",
            details={"field": "options.link_template", "value": template},
        ) from e


# --- the formats -------------------------------------------------------------------------------


class _Google(Format):
    full_feed = True
    reads_values = False  # mapped fields only
    per_locale = True
    # Google fetches every image from its URL: the release needs the files only when those
    # URLs point into it (a destination's public_base_url); runs.py reads this.
    image_files = False
    default_mapping: ClassVar[dict[str, dict]] = {
        "title": {"attribute": "name"},
        "description": {"attribute": "description"},
        "brand": {"attribute": "brand"},
        "gtin": {"attribute": "@gtin"},
        "availability": {"constant": "in_stock"},
        "condition": {"constant": "new"},
        "price": {"attribute": "price"},
    }
    limits: ClassVar[dict[str, int]] = {
        "title": 150,
        "description": 5000,
        "brand": 70,
        "mpn": 70,
        "item_group_id": 50,
        "product_type": 750,
        "color": 100,
        "size": 100,
        "material": 200,
        "pattern": 100,
        "custom_label_0": 100,
        "custom_label_1": 100,
        "custom_label_2": 100,
        "custom_label_3": 100,
        "custom_label_4": 100,
    }
    required_fields = ("title", "description", "price")
    max_images = 1 + MAX_ADDITIONAL_IMAGES
    # The fields a feed's mapping may name (feeds.py refuses others: they would be ignored).
    fields = ATTRIBUTES[1:]

    def check(self, item: Item) -> list[Problem]:
        problems = []
        sku = item.sku
        if not _ID.fullmatch(sku):
            bad = sorted(set(_NOT_ID.findall(sku)))
            why = f"has {len(sku)} characters" if not bad else "has " + " ".join(map(repr, bad))
            problems.append(
                Problem(
                    "id",
                    f"SKU {sku!r} cannot be the Google id (1–50 letters, digits, _ and -): "
                    f"it {why}",
                )
            )
        fields = item.fields
        limits = self.limits
        # Plain text is never longer than the raw value, so most values need no conversion.
        for name, value in fields.items():
            if name == "price" or name == "sale_price":
                if value is not None:
                    try:
                        money(value, item.currency)
                    except ValueError as e:
                        problems.append(Problem(name, f"{name} is not a price: {e}"))
                continue
            limit = limits.get(name)
            allowed = ENUMS.get(name)
            if (
                isinstance(value, str)
                and name != "gtin"
                and (limit is None or len(value) <= limit)
                and (allowed is None or value in allowed)
            ):
                # fits as it is: plain text is never longer than the raw value
                if name in _TEXT_REQUIRED and not (
                    _has_text(value) if name == _RICH else one_line(value)
                ):
                    problems.append(
                        Problem(name, f"{name} is empty once HTML and spaces are removed")
                    )
                continue
            if name == "availability" and isinstance(value, bool):
                continue
            if name == _RICH and isinstance(value, str):
                plain = plain_text(value)
            else:
                plain = text(value, "/" if name in _SLASHED else ", ")
            if name in _TEXT_REQUIRED and not plain:
                problems.append(Problem(name, f"{name} is empty once HTML and spaces are removed"))
            if limit and len(plain) > limit:
                problems.append(
                    Problem(name, f"{name} is {len(plain)} characters, Google allows {limit}")
                )
            if allowed and plain and plain not in allowed:
                problems.append(
                    Problem(name, f"{name} {plain!r} is not one of {', '.join(allowed)}")
                )
            if name == "gtin" and plain:
                why = gtin_problem(plain)
                if why:
                    problems.append(Problem("gtin", why))
        if item.group and len(item.group) > limits["item_group_id"]:
            problems.append(
                Problem(
                    "item_group_id",
                    f"item_group_id {item.group!r} (the product model) is {len(item.group)} "
                    f"characters, Google allows {limits['item_group_id']}",
                )
            )
        images = item.images
        if not images:
            problems.append(
                Problem("image_link", "no image: Google needs one (image_link) for every product")
            )
        for i, image in enumerate(images[: self.max_images]):
            if len(image.url) > URL_MAX:
                name = "image_link" if i == 0 else "additional_image_link"
                problems.append(
                    Problem(
                        name,
                        f"{name} {image.filename} has a URL of {len(image.url)} characters, "
                        f"Google allows {URL_MAX}",
                    )
                )
        return problems

    def attributes(self, item: Item, ctx: Context) -> dict[str, str | list[str]]:
        """Every attribute of the item in ATTRIBUTES order, empty ones left out;
        additional_image_link is a list."""
        f = item.fields
        get = f.get
        out: dict[str, Any] = {"id": item.sku}
        value = get("title")
        value = one_line(value) if isinstance(value, str) else text(value)
        if value:
            out["title"] = value
        value = get("description")
        value = plain_text(value) if isinstance(value, str) else text(value)
        if value:
            out["description"] = value
        value = get("link")
        out["link"] = value if isinstance(value, str) and value else product_link(item, ctx)
        images = item.images
        if images:
            out["image_link"] = images[0].url
            if len(images) > 1:
                out["additional_image_link"] = [
                    i.url for i in images[1 : 1 + MAX_ADDITIONAL_IMAGES]
                ]
        value = get("availability")
        if isinstance(value, bool):
            value = "in_stock" if value else "out_of_stock"
        out["availability"] = text(value) or "in_stock"
        if "availability_date" in f:
            value = text(f["availability_date"])
            if value:
                out["availability_date"] = value
        currency = item.currency
        if get("price") is not None:
            out["price"] = money(f["price"], currency)
        if get("sale_price") is not None:
            out["sale_price"] = money(f["sale_price"], currency)
        brand = text(get("brand"))
        if brand:
            out["brand"] = brand
        gtin = text(get("gtin"))
        mpn = text(get("mpn"))
        if gtin:
            out["gtin"] = gtin
        elif not mpn:
            # Without a GTIN, Google identifies a product by brand + MPN; the SKU is the
            # part number the shop knows it by.
            mpn = item.sku
        if mpn:
            out["mpn"] = mpn
        value = get("identifier_exists")
        if value is not None:
            value = text(value)
            if value:
                out["identifier_exists"] = value
        elif not gtin and not brand:
            out["identifier_exists"] = "no"
        out["condition"] = text(get("condition")) or "new"
        if "google_product_category" in f:
            value = text(f["google_product_category"])
            if value:
                out["google_product_category"] = value
        value = text(get("product_type")) or " > ".join(one_line(c) for c in item.category_path)
        if value:
            out["product_type"] = value
        if item.group:
            out["item_group_id"] = one_line(item.group)
        axes = axis_values(item.axes, ctx.options.get("axis_fields")) if item.axes else {}
        for name in ("color", "size"):
            value = text(get(name), "/") or axes.get(name)
            if value:
                out[name] = value
        for name in _LAST:
            if name in f:
                value = text(f[name], "/" if name in _SLASHED else ", ")
                if value:
                    out[name] = value
        return out


class GoogleXml(_Google):
    code = "google-xml"
    label = "Google Merchant Center XML (RSS 2.0)"
    extension = "xml"

    def fragment(self, item: Item, ctx: Context) -> str:
        parts = ["  <item>"]
        add = parts.append
        for name, value in self.attributes(item, ctx).items():
            if name == "additional_image_link":
                for url in value:
                    add(f"    <g:{name}>{xml_escape(url)}</g:{name}>")
            else:
                add(f"    <g:{name}>{xml_escape(value)}</g:{name}>")
        add("  </item>")
        return "\n".join(parts)

    def write(self, out: Path, ctx: Context, entries: Iterable[Entry]) -> list[str]:
        name = f"google-{ctx.locale}.xml"
        options = ctx.options
        title = options.get("title") or ctx.channel_label or ctx.channel
        link = options.get("link") or ctx.public_url or ""
        description = options.get("description") or f"{title} products ({ctx.locale})"
        with open(out / name, "w", encoding="utf-8", newline="\n", buffering=1 << 20) as f:
            f.write(
                '<?xml version="1.0" encoding="UTF-8"?>\n'
                f'<rss version="2.0" xmlns:g="{G_NS}">\n'
                "<channel>\n"
                f"  <title>{escape(one_line(title))}</title>\n"
                f"  <link>{escape(link)}</link>\n"
                f"  <description>{escape(one_line(description))}</description>\n"
            )
            write = f.write
            for entry in entries:
                write(entry.fragment)
                write("\n")
            f.write("</channel>\n</rss>\n")
        return [name]


def _cell(value: str) -> str:
    # Tabs and line breaks would break the row; a quote makes the cell a quoted one (quoted
    # fields are on by default for Merchant Center's file sources), with quotes doubled.
    if "\t" in value or "\n" in value or "\r" in value:
        value = value.replace("\t", " ").replace("\r", " ").replace("\n", " ")
    if '"' in value:
        value = '"' + value.replace('"', '""') + '"'
    return value


class GoogleTsv(_Google):
    code = "google-tsv"
    label = "Google Merchant Center TSV"
    extension = "tsv"

    def fragment(self, item: Item, ctx: Context) -> str:
        values = self.attributes(item, ctx)
        extra = values.get("additional_image_link")
        if extra:
            # repeated values are comma-separated: commas inside a URL must not split it
            values["additional_image_link"] = ",".join(u.replace(",", "%2C") for u in extra)
        image = values.get("image_link")
        if image and "," in image:
            values["image_link"] = image.replace(",", "%2C")
        get = values.get
        return "\t".join(_cell(get(name, "")) for name in ATTRIBUTES)

    def write(self, out: Path, ctx: Context, entries: Iterable[Entry]) -> list[str]:
        name = f"google-{ctx.locale}.tsv"
        with open(out / name, "w", encoding="utf-8", newline="\n", buffering=1 << 20) as f:
            f.write("\t".join(ATTRIBUTES))
            f.write("\n")
            write = f.write
            for entry in entries:
                write(entry.fragment)
                write("\n")
        return [name]
