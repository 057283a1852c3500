"""Generic JSON and CSV feeds: every resolved value of every product, for systems that take
Folio's own shape (ERP, search, a custom shop), plus the helpers the other file formats of
this package share (CSV cells safe from formula injection, plain text from sanitized HTML,
product links, grouping variants with bounded memory).

JSON: one file per locale, `products-<locale>.json`, holding one array with one object per
product (one product per line unless the feed's `pretty` option is on). An array rather than
JSON Lines because every JSON reader takes it as it is; it is still streamed fragment by
fragment, never held whole.

CSV: one file per locale, `products-<locale>.csv`: fixed columns (sku, group, axes, family,
categories, category, link), then one column per attribute that any product has, headed by
the attribute code, then image_1…image_n (URLs). Option `headers`: "codes" (default),
"labels" (the localized labels instead) or "both" (a second header row of labels). Every cell
that a spreadsheet would run as a formula (starting with =, +, -, @, a tab or a carriage
return) gets a leading apostrophe; that includes text such as "-5 °C", which then shows the
apostrophe in other readers — the price of never running a formula from a product value.
"""

import contextlib
import csv
import json
import re
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote

from folio.publishing.formats.base import Context, Entry, Format, Item, jsonable

# --- shared helpers -----------------------------------------------------------------------------

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell_text(value: Any) -> str:
    """A value as one spreadsheet cell's text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict) and "amount" in value:
        unit = value.get("currency") or value.get("unit") or ""
        return f"{cell_text(value['amount'])} {unit}".strip()
    if isinstance(value, list | tuple):
        return ", ".join(cell_text(v) for v in value)
    return str(value)


def safe_cell(value: Any) -> str:
    """The cell's text, with a leading apostrophe where a spreadsheet would read a formula
    (OWASP's CSV injection advice). Applied to every cell, whatever its column."""
    text = cell_text(value)
    if text.startswith(FORMULA_START):
        return "'" + text
    return text


_BLOCKS = frozenset(
    {
        "p",
        "div",
        "ul",
        "ol",
        "table",
        "tr",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "blockquote",
        "section",
        "article",
        "header",
        "footer",
    }
)


class _TextOf(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "br":
            self.parts.append("\n")
        elif tag == "li":
            self.parts.append("\n• ")
        elif tag in ("td", "th"):
            self.parts.append(" ")
        elif tag in _BLOCKS:
            self.parts.append("\n\n")

    def handle_endtag(self, tag):
        if tag in _BLOCKS or tag == "li":
            self.parts.append("\n")

    def handle_data(self, data):
        self.parts.append(data)


def plain_text(value: Any) -> str:
    """Text without markup: paragraphs and list items on their own lines, entities decoded,
    runs of spaces collapsed (textarea values may hold sanitized HTML)."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else cell_text(value)
    if "<" in text or "&" in text:
        parser = _TextOf()
        parser.feed(text)
        parser.close()
        text = "".join(parser.parts)
    lines = [" ".join(line.split()) for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def one_line(value: Any) -> str:
    """A text value (a name, a label: not HTML) on one line, spaces collapsed."""
    return " ".join(cell_text(value).split())


_TRANSLIT = str.maketrans(
    {
        "ß": "ss",
        "æ": "ae",
        "Æ": "AE",
        "ø": "o",
        "Ø": "O",
        "œ": "oe",
        "Œ": "OE",
        "đ": "d",
        "Đ": "D",
        "ł": "l",
        "Ł": "L",
        "þ": "th",
    }
)


def slug(text: str) -> str:
    """Lower-case letters, digits and dashes (Shopify handles, file names)."""
    text = unicodedata.normalize("NFKD", text.translate(_TRANSLIT))
    text = text.encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def product_link(ctx: Context, sku: str, group: str | None = None) -> str:
    """The product page: the feed's link_template ({sku}, {group}; feeds.py checks it) or
    <public URL>/products/<sku>."""
    template = ctx.options.get("link_template")
    quoted = quote(sku, safe="")
    if not template:
        return f"{ctx.public_url.rstrip('/')}/products/{quoted}"
    return template.format(sku=quoted, group=quote(group or sku, safe=""))


def amount_text(price: Any, places: int = 2) -> str:
    """The amount of a mapped price ({"amount", "currency"}) or number, as "24.90"."""
    if isinstance(price, dict):
        price = price.get("amount")
    if price is None or price == "":
        return ""
    value = Decimal(str(price))
    return format(value.quantize(Decimal(1).scaleb(-places)), "f")


def dumps(value: Any) -> str:
    """Compact one-line JSON (fragments; newlines inside strings are escaped)."""
    return json.dumps(jsonable(value), ensure_ascii=False, separators=(",", ":"))


def grouped(pairs: Iterable[tuple[str, str]]) -> Iterator[tuple[str, list[str]]]:
    """(key, text) pairs → (key, [texts]) with every text of one key together, keys in the
    order first seen, texts in arrival order.

    Entries reach `write` in SKU order, which does not keep the variants of one product group
    together (a product "WB-600-LID" sorts between "WB-500-SS-BLUE" and "WB-750-SS-BLUE").
    The texts are spooled to a temporary file and read back one group at a time, so memory
    holds the offsets and one group, never the whole feed."""
    with tempfile.TemporaryFile("w+b") as spool:
        spans: dict[str, list[tuple[int, int]]] = {}
        offset = 0
        for key, text in pairs:
            data = text.encode("utf-8")
            spool.write(data)
            spans.setdefault(key, []).append((offset, len(data)))
            offset += len(data)
        for key, places in spans.items():
            texts = []
            for start, size in places:
                spool.seek(start)
                texts.append(spool.read(size).decode("utf-8"))
            yield key, texts


# Words of the files' own furniture (column labels, PDF headings), by language.
WORDS = {
    "en": {
        "sku": "SKU",
        "gtin": "GTIN",
        "price": "Price",
        "brand": "Brand",
        "description": "Description",
        "specifications": "Specifications",
        "catalogue": "Catalogue",
        "page": "Page {page} of {pages}",
        "group": "Product group",
        "axes": "Variant axes",
        "family": "Family",
        "categories": "Categories",
        "category": "Category",
        "link": "Link",
        "image": "Image",
        "other": "Other",
        "products": "{count} products",
        "product": "1 product",
    },
    "de": {
        "sku": "Artikelnummer",
        "gtin": "GTIN",
        "price": "Preis",
        "brand": "Marke",
        "description": "Beschreibung",
        "specifications": "Technische Daten",
        "catalogue": "Katalog",
        "page": "Seite {page} von {pages}",
        "group": "Produktgruppe",
        "axes": "Varianten nach",
        "family": "Produktfamilie",
        "categories": "Kategorien",
        "category": "Kategorie",
        "link": "Link",
        "image": "Bild",
        "other": "Weitere",
        "products": "{count} Produkte",
        "product": "1 Produkt",
    },
    "fr": {
        "sku": "Référence",
        "gtin": "GTIN",
        "price": "Prix",
        "brand": "Marque",
        "description": "Description",
        "specifications": "Caractéristiques",
        "catalogue": "Catalogue",
        "page": "Page {page} sur {pages}",
        "group": "Gamme",
        "axes": "Déclinaisons",
        "family": "Famille",
        "categories": "Catégories",
        "category": "Catégorie",
        "link": "Lien",
        "image": "Image",
        "other": "Autres",
        "products": "{count} produits",
        "product": "1 produit",
    },
}


def words(locale: str) -> dict[str, str]:
    return WORDS.get(locale.split("_")[0].lower(), WORDS["en"])


# --- the generic record -------------------------------------------------------------------------


def record(item: Item, ctx: Context) -> dict[str, Any]:
    """Everything Folio resolved for one product in one locale."""
    return {
        "sku": item.sku,
        "locale": item.locale,
        "currency": item.currency,
        "enabled": item.enabled,
        "family": item.family,
        "group": item.group,
        "group_title": item.group_title,
        "axes": item.axes,
        "categories": item.categories,
        "category_path": item.category_path,
        "link": product_link(ctx, item.sku, item.group),
        "fields": item.fields,
        "values": {
            code: {
                "label": v.get("label", code),
                "value": v.get("value", ""),
                "data": v.get("data"),
            }
            for code, v in item.values.items()
        },
        "images": [
            {
                "url": image.url,
                "role": image.role,
                "position": image.position,
                "alt": image.alt,
                "filename": image.filename,
                "width": image.width,
                "height": image.height,
                "format": image.format,
            }
            for image in item.images
        ],
        "product_version": item.product_version,
    }


class Json(Format):
    code = "json"
    label = "Generic JSON"
    full_feed = True
    per_locale = True

    def fragment(self, item: Item, ctx: Context) -> str:
        return dumps(record(item, ctx))

    def write(self, out: Path, ctx: Context, entries: Iterable[Entry]) -> list[str]:
        name = f"products-{ctx.locale}.json"
        pretty = bool(ctx.options.get("pretty"))
        with open(out / name, "w", encoding="utf-8", newline="\n", buffering=1 << 20) as f:
            f.write("[")
            first = True
            for entry in entries:
                f.write("\n" if first else ",\n")
                first = False
                if pretty:
                    f.write(json.dumps(json.loads(entry.fragment), ensure_ascii=False, indent=2))
                else:
                    f.write(entry.fragment)
            f.write("\n]\n")
        return [name]


FIXED_COLUMNS = ("sku", "group", "axes", "family", "categories", "category", "link")


class Csv(Format):
    code = "csv"
    label = "Generic CSV"
    full_feed = True
    per_locale = True
    headers: ClassVar[tuple[str, ...]] = ("codes", "labels", "both")

    def fragment(self, item: Item, ctx: Context) -> str:
        return dumps(
            {
                "fixed": {
                    "sku": item.sku,
                    "group": item.group or "",
                    "axes": ", ".join(axis.get("attribute", "") for axis in item.axes),
                    "family": item.family or "",
                    "categories": ", ".join(item.categories),
                    "category": " > ".join(item.category_path),
                    "link": product_link(ctx, item.sku, item.group),
                },
                "cells": {code: cell_text(v.get("value", "")) for code, v in item.values.items()},
                "labels": {code: v.get("label") or code for code, v in item.values.items()},
                "images": [image.url for image in item.images],
            }
        )

    def write(self, out: Path, ctx: Context, entries: Iterable[Entry]) -> list[str]:
        name = f"products-{ctx.locale}.csv"
        headers = ctx.options.get("headers") or "codes"
        delimiter = ctx.options.get("delimiter") or ","
        # The columns are the attributes any product has: known only after every entry, so
        # the fragments are spooled once and written on the second pass.
        columns: dict[str, str] = {}
        images = 0
        with contextlib.ExitStack() as stack:
            spool = stack.enter_context(
                tempfile.TemporaryFile("w+", encoding="utf-8", newline="\n")
            )
            for entry in entries:
                row = json.loads(entry.fragment)
                for code in row["cells"]:
                    if code not in columns:
                        columns[code] = row["labels"].get(code) or code
                images = max(images, len(row["images"]))
                spool.write(entry.fragment)
                spool.write("\n")
            spool.seek(0)
            f = stack.enter_context(
                open(out / name, "w", encoding="utf-8", newline="", buffering=1 << 20)
            )
            writer = csv.writer(f, delimiter=delimiter, lineterminator="\r\n")
            said = words(ctx.locale)
            image_codes = [f"image_{n}" for n in range(1, images + 1)]
            codes = [*FIXED_COLUMNS, *columns, *image_codes]
            labels = [
                *(said.get(c, c) for c in FIXED_COLUMNS),
                *columns.values(),
                *(f"{said['image']} {n}" for n in range(1, images + 1)),
            ]
            if headers in ("codes", "both"):
                writer.writerow([safe_cell(c) for c in codes])
            if headers in ("labels", "both"):
                writer.writerow([safe_cell(c) for c in labels])
            for line in spool:
                row = json.loads(line)
                fixed, cells, urls = row["fixed"], row["cells"], row["images"]
                writer.writerow(
                    [
                        *(safe_cell(fixed.get(c, "")) for c in FIXED_COLUMNS),
                        *(safe_cell(cells.get(c, "")) for c in columns),
                        *(safe_cell(u) for u in urls),
                        *([""] * (images - len(urls))),
                    ]
                )
        return [name]
