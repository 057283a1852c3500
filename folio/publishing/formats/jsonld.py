"""schema.org JSON-LD for web shops: `products-<locale>.jsonld`, one JSON array of a
`Product` per product outside any group and a `ProductGroup` per product group whose
`hasVariant` holds its variants' `Product`s, each node with its own "@context".

Facts: /work/shared/reference/channels.md (schema.org), https://schema.org/ProductGroup.
A group carries `productGroupID` (the root product model's code) and `variesBy` (schema.org
property URLs for colour and size, the axis label otherwise); each variant points back with
`inProductGroupWithID` and carries its axis values (color, size, or an additionalProperty).
The GTIN goes under gtin8/gtin12/gtin13/gtin14 by its length ("gtin" otherwise); the
description is plain text; offers hold price, currency, availability and the page URL.

Unless the feed's `snippets` option is false, each top-level node is also written as a
ready-to-embed `<script type="application/ld+json">` under `snippets/<locale>/<handle>.html`
for the product's (or the group's) page; "<", ">" and "&" are escaped inside it so no value
can close the script element.

A product's fragment is its own Product node plus what its group needs; `write` gathers the
variants of a group (generic.grouped) and streams the array.
"""

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

from folio.publishing.formats.base import Context, Entry, Format, Item
from folio.publishing.formats.generic import (
    amount_text,
    cell_text,
    dumps,
    grouped,
    one_line,
    plain_text,
    product_link,
    slug,
)

CONTEXT = "https://schema.org"
# Axes schema.org has a Product property for; others become additionalProperty values.
PROPERTIES = {
    "color": "color",
    "colour": "color",
    "size": "size",
    "material": "material",
    "pattern": "pattern",
}
AVAILABILITY = {
    "instock": "InStock",
    "in_stock": "InStock",
    "outofstock": "OutOfStock",
    "out_of_stock": "OutOfStock",
    "preorder": "PreOrder",
    "backorder": "BackOrder",
}


def gtin_property(gtin: str) -> str:
    return {8: "gtin8", 12: "gtin12", 13: "gtin13", 14: "gtin14"}.get(len(gtin), "gtin")


def _availability(item: Item, ctx: Context) -> str:
    value = cell_text(item.fields.get("availability")) or ctx.options.get("availability") or ""
    name = AVAILABILITY.get(value.strip().lower().replace(" ", ""), "InStock")
    return f"https://schema.org/{name}"


def _brand(value: Any) -> dict | None:
    name = one_line(value)
    return {"@type": "Brand", "name": name} if name else None


def product_node(item: Item, ctx: Context) -> dict[str, Any]:
    fields = item.fields
    url = product_link(ctx, item.sku, item.group)
    node: dict[str, Any] = {"@type": "Product", "@id": f"{url}#product"}
    node["name"] = one_line(fields.get("name"))
    description = plain_text(fields.get("description"))
    if description:
        node["description"] = description
    node["sku"] = item.sku
    gtin = cell_text(fields.get("gtin")).strip()
    if gtin:
        node[gtin_property(gtin)] = gtin
    brand = _brand(fields.get("brand"))
    if brand:
        node["brand"] = brand
    if item.category_path:
        node["category"] = " > ".join(item.category_path)
    if item.images:
        node["image"] = [image.url for image in item.images]
    node["url"] = url
    if item.group:
        node["inProductGroupWithID"] = item.group
        extra = []
        for axis in item.axes:
            prop = PROPERTIES.get(axis.get("attribute", ""))
            if prop:
                node[prop] = axis.get("value", "")
            else:
                extra.append(
                    {
                        "@type": "PropertyValue",
                        "name": axis.get("label") or axis.get("attribute", ""),
                        "value": axis.get("value", ""),
                    }
                )
        if extra:
            node["additionalProperty"] = extra
    price = fields.get("price")
    if price not in (None, ""):
        currency = price.get("currency") if isinstance(price, dict) else None
        node["offers"] = {
            "@type": "Offer",
            "price": amount_text(price),
            "priceCurrency": currency or item.currency,
            "availability": _availability(item, ctx),
            "url": url,
        }
    return node


def varies_by(axes: list[dict]) -> list[str]:
    out = []
    for axis in axes:
        prop = PROPERTIES.get(axis.get("attribute", ""))
        out.append(f"https://schema.org/{prop}" if prop else axis.get("label") or axis["attribute"])
    return out


def script(node: dict) -> str:
    """`node` as an HTML script element's content that no value can end early."""
    text = json.dumps(node, ensure_ascii=False, indent=2)
    text = text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
    return f'<script type="application/ld+json">\n{text}\n</script>\n'


class JsonLd(Format):
    code = "jsonld"
    reads_values = False  # mapped fields only
    label = "schema.org JSON-LD (web shop)"
    full_feed = True
    per_locale = True
    default_mapping: ClassVar[dict[str, dict]] = {
        "name": {"attribute": "name"},
        "description": {"attribute": "description"},
        "brand": {"attribute": "brand"},
        "gtin": {"attribute": "@gtin"},
        "price": {"attribute": "price"},
    }
    # Also mappable: availability (in_stock, out_of_stock, preorder, backorder or the
    # schema.org names); the feed option `availability` (same values) is the default.
    required_fields = ("name", "price")

    def fragment(self, item: Item, ctx: Context) -> str:
        group = None
        if item.group:
            fields = item.fields
            group = {
                "name": one_line(item.group_title) or one_line(fields.get("name")),
                "description": plain_text(fields.get("description")),
                "brand": _brand(fields.get("brand")),
                "category": " > ".join(item.category_path),
                "variesBy": varies_by(item.axes),
            }
        return dumps(
            {"key": item.group or item.sku, "group": group, "product": product_node(item, ctx)}
        )

    def write(self, out: Path, ctx: Context, entries: Iterable[Entry]) -> list[str]:
        name = f"products-{ctx.locale}.jsonld"
        snippets = ctx.options.get("snippets", True) is not False
        names = [name]
        folder = out / "snippets" / ctx.locale
        parts = ((json.loads(e.fragment)["key"], e.fragment) for e in entries)
        with open(out / name, "w", encoding="utf-8", newline="\n", buffering=1 << 20) as f:
            f.write("[")
            first = True
            for key, fragments in grouped(parts):
                node = _node(key, [json.loads(text) for text in fragments])
                f.write("\n" if first else ",\n")
                first = False
                f.write(json.dumps(node, ensure_ascii=False, separators=(",", ":")))
                if snippets:
                    folder.mkdir(parents=True, exist_ok=True)
                    snippet = f"{slug(key) or 'product'}.html"
                    (folder / snippet).write_text(script(node), encoding="utf-8")
                    names.append(f"snippets/{ctx.locale}/{snippet}")
            f.write("\n]\n")
        return names


def _node(key: str, parts: list[dict]) -> dict[str, Any]:
    """A top-level node: the product itself, or its group with every variant in it."""
    first = parts[0]
    if first["group"] is None:
        return {"@context": CONTEXT, **first["product"]}
    group = first["group"]
    node: dict[str, Any] = {"@context": CONTEXT, "@type": "ProductGroup", "name": group["name"]}
    if group["description"]:
        node["description"] = group["description"]
    if group["brand"]:
        node["brand"] = group["brand"]
    if group["category"]:
        node["category"] = group["category"]
    node["productGroupID"] = key
    node["variesBy"] = group["variesBy"]
    node["hasVariant"] = [part["product"] for part in parts]
    return node
