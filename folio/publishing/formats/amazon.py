"""Amazon listings feed: JSON_LISTINGS_FEED v2.0 (Selling Partner API Feeds).

    {"header": {"sellerId": "A1…", "version": "2.0", "issueLocale": "en_US"},
     "messages": [{"messageId": 1, "sku": "WB-750-SS-BLUE", "operationType": "UPDATE",
                   "productType": "PRODUCT", "requirements": "LISTING",
                   "attributes": {"item_name": [{"value": "…", "language_tag": "en_US",
                                                 "marketplace_id": "ATVPDKIKX0DER"}], …}}]}

Amazon takes changes: a full publication sends every product as UPDATE (and DELETE for what
the previous one held and this one does not); an incremental one sends UPDATE for products
never sent, PATCH (JSON Patch on the top-level attributes) for changed ones and DELETE for
removals. At most 25,000 messages per file, so a publication is amazon-<locale>-0001.json,
-0002.json….

A product's `data` (stored on its listing, diffed by the next run, read by the Amazon push
connector) is its attributes without marketplace ids — `{"item_name": [{"value": …,
"language_tag": "en_US"}], …}` — plus, for a variant, "_parent": the parent listing Amazon
needs for a variation family ({"sku": <product model code>, "attributes": {…}}). Keys starting
with "_" are not attributes. `message_attributes(data, ctx)`, `patches(previous, data, ctx)`
and `product_type(ctx)` turn it into what Amazon receives.

Every message is checked against Amazon's published message schema (amazon_schema/, copied
from the reference set): `check` refuses a product whose message fails it, and `write` never
writes one that does.
"""

import functools
import json
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, ClassVar

import jsonschema
from django.conf import settings

from folio.errors import InvalidInput
from folio.publishing.formats.base import Change, Context, Entry, Format, Item, Problem
from folio.publishing.formats.google import (
    axis_field,
    axis_values,
    gtin_problem,
    one_line,
    plain_text,
)

SCHEMA_DIR = Path(__file__).parent / "amazon_schema"
MARKETPLACE_US = "ATVPDKIKX0DER"
DEFAULT_PRODUCT_TYPE = "PRODUCT"
MAX_MESSAGES = 25_000  # per feed file (the schema's maxItems)
MAX_OTHER_IMAGES = 8  # other_product_image_locator_1…8
MAX_BULLETS = 5  # Amazon shows five bullet points
SKU_MAX = 40  # seller SKUs
# Attributes that are text in the listing's language (carry a language_tag).
TEXT_ATTRIBUTES = frozenset(
    {
        "item_name",
        "brand",
        "product_description",
        "bullet_point",
        "color",
        "size",
        "material",
        "manufacturer",
        "model_name",
        "style",
        "pattern",
        "generic_keyword",
        "special_feature",
    }
)
# Attributes that are not per marketplace.
_NO_MARKETPLACE = frozenset({"variation_theme"})
# Mapped fields this module turns into attributes itself; any other field is sent as the
# attribute of the same name.
_DERIVED = frozenset({"gtin", "price", "list_price", "bullet_point"})
_BULLET_BREAK = ("</li>", "<br>", "<br/>", "<br />", "</p>", "</div>")


# --- the schema --------------------------------------------------------------------------------


@functools.cache
def schema(name: str = "listings-feed-message-schema-v2.json") -> dict:
    return json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))


@functools.cache
def _message_validator() -> jsonschema.Draft7Validator:
    message_schema = schema()
    jsonschema.Draft7Validator.check_schema(message_schema)
    return jsonschema.Draft7Validator(message_schema)


def schema_problems(message: dict) -> list[str]:
    """Why `message` is not a valid listings feed message (empty when it is)."""
    errors = list(_message_validator().iter_errors(message))
    if not errors:
        return []
    best = jsonschema.exceptions.best_match(errors)
    where = "/".join(str(p) for p in best.absolute_path) or "the message"
    return [f"{where}: {best.message}"]


@functools.lru_cache(maxsize=4096)
def _schema_problems_of(message_json: str) -> tuple[str, ...]:
    # The variation parent's message is the same for every child of a family: checked once.
    return tuple(schema_problems(json.loads(message_json)))


# --- options -----------------------------------------------------------------------------------


def seller_id(ctx: Context) -> str | None:
    return ctx.options.get("seller_id") or settings.AMAZON_SELLER_ID or None


def marketplace_id(ctx: Context) -> str:
    """The marketplace of the context's locale: options["marketplace_ids"][locale], else
    options["marketplace_id"], else the US marketplace."""
    by_locale = ctx.options.get("marketplace_ids") or {}
    return by_locale.get(ctx.locale) or ctx.options.get("marketplace_id") or MARKETPLACE_US


def product_type(ctx: Context) -> str:
    return ctx.options.get("product_type") or DEFAULT_PRODUCT_TYPE


def _require_seller(ctx: Context) -> str:
    seller = seller_id(ctx)
    if not seller:
        raise InvalidInput(
            f"the Amazon feed {ctx.feed!r} has no seller id: set the feed option seller_id "
            "(or FOLIO_AMAZON_SELLER_ID)",
            details={"field": "options.seller_id", "feed": ctx.feed, "channel": ctx.channel},
        )
    return seller


# --- values ------------------------------------------------------------------------------------


def _number(value: Any) -> int | float:
    """A JSON number for Amazon (prices, measurements); ValueError when it is not one."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{value!r} is not a number")
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a number") from None
    if not number.is_finite():
        raise ValueError(f"{value!r} is not a number")
    return int(number) if number == number.to_integral_value() else float(number)


def _price(value: Any, currency: str) -> tuple[int | float, str]:
    if isinstance(value, dict):
        currency = value.get("currency") or currency
        value = value.get("amount")
    amount = _number(value)
    if amount < 0:
        raise ValueError(f"{value} is negative")
    if not currency:
        raise ValueError("no currency")
    return amount, currency


def _bullets(value: Any) -> list[str]:
    """Bullet points: one per list element, or per list item / line of rich text."""
    if isinstance(value, list | tuple):
        points = [one_line(str(v)) for v in value]
    else:
        value = str(value)
        for tag in _BULLET_BREAK:
            value = value.replace(tag, "\n").replace(tag.upper(), "\n")
        points = [plain_text(line) for line in value.split("\n")]
    return [p for p in points if p][:MAX_BULLETS]


def _values(value: Any, lang: str, textual: bool) -> list[dict]:
    """A mapped value as Amazon attribute values (without marketplace ids)."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [v for element in value for v in _values(element, lang, textual)]
    if isinstance(value, bool):
        return [{"value": value}]
    if isinstance(value, Decimal | int | float):
        return [{"value": _number(value)}]
    if isinstance(value, dict) and "amount" in value:
        unit = {"currency": value["currency"]} if value.get("currency") else {}
        if value.get("unit"):
            unit = {"unit": value["unit"]}
        return [{"value": _number(value["amount"]), **unit}]
    text = one_line(str(value))
    if not text:
        return []
    return [{"value": text, "language_tag": lang}] if textual else [{"value": text}]


def _identifier_type(gtin: str) -> str:
    return {12: "upc", 14: "gtin"}.get(len(gtin), "ean")  # EAN-13 and EAN-8


# --- the format --------------------------------------------------------------------------------


class AmazonJson(Format):
    code = "amazon-json"
    reads_values = False  # mapped fields only
    label = "Amazon JSON_LISTINGS_FEED v2.0"
    full_feed = False
    per_locale = True
    default_mapping: ClassVar[dict[str, dict]] = {
        "item_name": {"attribute": "name"},
        "brand": {"attribute": "brand"},
        "product_description": {"attribute": "description"},
        "gtin": {"attribute": "@gtin"},
        "price": {"attribute": "price"},
        "condition_type": {"constant": "new_new"},
    }
    limits: ClassVar[dict[str, int]] = {
        "item_name": 200,
        "brand": 100,
        "product_description": 2000,
        "bullet_point": 500,  # each
    }
    required_fields = ("item_name", "price")
    max_images = 1 + MAX_OTHER_IMAGES + 1  # main, others, swatch

    # -- per product --

    def data(self, item: Item) -> dict[str, Any]:
        lang = item.locale
        fields = item.fields
        attributes: dict[str, list[dict]] = {}
        for name, value in fields.items():
            if name in _DERIVED or value is None:
                continue
            if name == "product_description" and isinstance(value, str):
                value = plain_text(value)  # rich text; Amazon takes plain text
            values = _values(value, lang, name in TEXT_ATTRIBUTES)
            if values:
                attributes[name] = values
        if fields.get("bullet_point") is not None:
            points = _bullets(fields["bullet_point"])
            if points:
                attributes["bullet_point"] = [{"value": p, "language_tag": lang} for p in points]
        gtin = fields.get("gtin")
        gtin = str(gtin).strip() if gtin not in (None, "") else ""
        if gtin:
            attributes["externally_assigned_product_identifier"] = [
                {"type": _identifier_type(gtin), "value": gtin}
            ]
        else:
            attributes["supplier_declared_has_product_identifier_exemption"] = [{"value": True}]
        if fields.get("price") is not None:
            amount, currency = _price(fields["price"], item.currency)
            attributes["purchasable_offer"] = [
                {"currency": currency, "our_price": [{"schedule": [{"value_with_tax": amount}]}]}
            ]
            attributes["list_price"] = [{"value": amount, "currency": currency}]
        if fields.get("list_price") is not None:
            amount, currency = _price(fields["list_price"], item.currency)
            attributes["list_price"] = [{"value": amount, "currency": currency}]
        attributes.update(self._images(item))
        if item.group:
            axes = axis_values(item.axes, None)
            for name in ("color", "size"):
                if name in axes and name not in attributes:
                    attributes[name] = [{"value": axes[name], "language_tag": lang}]
            theme = variation_theme(item.axes)
            attributes["parentage_level"] = [{"value": "child"}]
            attributes["child_parent_sku_relationship"] = [
                {"child_relationship_type": "variation", "parent_sku": item.group}
            ]
            if theme:
                attributes["variation_theme"] = [{"name": theme}]
            parent = {
                "item_name": [
                    {"value": one_line(item.group_title or item.group), "language_tag": lang}
                ],
                "parentage_level": [{"value": "parent"}],
            }
            if "brand" in attributes:
                parent["brand"] = attributes["brand"]
            if theme:
                parent["variation_theme"] = [{"name": theme}]
            return {**attributes, "_parent": {"sku": item.group, "attributes": parent}}
        return attributes

    def _images(self, item: Item) -> dict[str, list[dict]]:
        images = item.images
        main = next((i for i in images if i.role == "main"), None)
        swatch = next((i for i in images if i.role == "swatch"), None)
        others = [i for i in images if i.role not in ("main", "swatch")]
        if main is None and others:
            main = others.pop(0)
        out = {}
        if main is not None:
            out["main_product_image_locator"] = [{"media_location": main.url}]
        for n, image in enumerate(others[:MAX_OTHER_IMAGES], start=1):
            out[f"other_product_image_locator_{n}"] = [{"media_location": image.url}]
        if swatch is not None:
            out["swatch_product_image_locator"] = [{"media_location": swatch.url}]
        return out

    def check(self, item: Item, ctx: Context | None = None) -> list[Problem]:
        """What Amazon would refuse. With `ctx`, the feed's own settings are checked too (a
        seller id is needed to send anything)."""
        problems = []
        if len(item.sku) > SKU_MAX:
            problems.append(
                Problem(
                    "sku",
                    f"SKU {item.sku!r} is {len(item.sku)} characters, Amazon allows {SKU_MAX}",
                )
            )
        if ctx is not None and not seller_id(ctx):
            problems.append(
                Problem(
                    "seller_id",
                    "no seller id: set the feed option seller_id (or FOLIO_AMAZON_SELLER_ID)",
                )
            )
        fields = item.fields
        gtin = fields.get("gtin")
        if gtin not in (None, ""):
            why = gtin_problem(str(gtin).strip())
            if why:
                problems.append(Problem("gtin", why))
        for name in ("price", "list_price"):
            if fields.get(name) is not None:
                try:
                    _price(fields[name], item.currency)
                except ValueError as e:
                    problems.append(Problem(name, f"{name} is not a price: {e}"))
        if not any(i.role != "swatch" for i in item.images):
            problems.append(
                Problem(
                    "main_product_image_locator",
                    "no main image: Amazon needs one (main_product_image_locator)",
                )
            )
        try:
            data = self.data(item)
        except ValueError as e:
            if not any(p.field in ("price", "list_price") for p in problems):
                problems.append(Problem("fields", f"a mapped value is not a number: {e}"))
            return problems
        for name, limit in self.limits.items():
            for value in data.get(name, ()):
                text = value.get("value")
                if isinstance(text, str) and len(text) > limit:
                    problems.append(
                        Problem(name, f"{name} is {len(text)} characters, Amazon allows {limit}")
                    )
        probe = ctx or Context(
            channel="",
            channel_label="",
            feed="",
            locale=item.locale,
            currency=item.currency,
            options={},
            public_url="",
        )
        # messageId is given when the file is written; any number stands for it here
        checks = [
            (item.sku, schema_problems({"messageId": 1, **update_message(item.sku, data, probe)}))
        ]
        parent = data.get("_parent")
        if parent:
            message = update_message(
                parent["sku"], parent["attributes"], probe, requirements="LISTING_PRODUCT_ONLY"
            )
            checks.append((parent["sku"], _schema_problems_of(_dumps({"messageId": 1, **message}))))
        for sku, whys in checks:
            for why in whys:
                problems.append(
                    Problem(
                        "message",
                        f"the listings message of {sku} does not match Amazon's schema: {why}",
                    )
                )
        return problems

    def fragment(self, item: Item, ctx: Context) -> str:
        return _dumps(update_message(item.sku, self.data(item), ctx))

    # -- files --

    def write(self, out: Path, ctx: Context, entries: Iterable[Entry]) -> list[str]:
        """Every product as UPDATE (a variation family's parent before its first child), then
        DELETE for what the previous publication held and this one does not."""
        parents: set[str] = set()
        sent: set[str] = set()
        with _Files(out, ctx) as files:
            for entry in entries:
                parent = (entry.data or {}).get("_parent")
                if parent and parent["sku"] not in parents:
                    parents.add(parent["sku"])
                    files.add(parent_message(parent, ctx))
                sent.add(entry.sku)
                files.add_fragment(entry.fragment)
            for sku in sorted(set(ctx.previous or ()) - sent - parents):
                files.add(delete_message(sku))
        return files.names

    def write_delta(self, out: Path, ctx: Context, changes: list[Change]) -> list[str]:
        """UPDATE for products never sent, PATCH for changed ones, DELETE for removals (and
        the parent of a variation family whose parent listing changed or is new). A
        publication with nothing to send writes no file (a feed holds at least 1 message)."""
        parents: set[str] = set()
        with _Files(out, ctx) as files:
            for change in changes:
                data, previous = change.data, change.previous
                if data is None:
                    if previous is not None:
                        files.add(delete_message(change.sku))
                    continue
                parent = data.get("_parent")
                if (
                    parent
                    and parent["sku"] not in parents
                    and (previous is None or parent != previous.get("_parent"))
                ):
                    parents.add(parent["sku"])
                    files.add(parent_message(parent, ctx))
                if previous is None:
                    files.add(update_message(change.sku, data, ctx))
                    continue
                ops = patches(previous, data, ctx)
                if ops:
                    files.add(patch_message(change.sku, ops, ctx))
        return files.names


def variation_theme(axes: list[dict]) -> str:
    """The variation theme ("SIZE/COLOR") from the variant's axes in the family variant's
    order: COLOR and SIZE for colour/size axes, the attribute code in capitals for others."""
    codes = [axis.get("attribute") or "" for axis in axes]
    return "/".join((axis_field(code) or code).upper() for code in codes if code)


def message_attributes(data: dict[str, Any], ctx: Context) -> dict[str, list[dict]]:
    """A product's data as the attributes of a listings message (marketplace ids added)."""
    marketplace = marketplace_id(ctx)
    return {
        name: values
        if name in _NO_MARKETPLACE
        else [{**v, "marketplace_id": marketplace} for v in values]
        for name, values in data.items()
        if not name.startswith("_")
    }


def update_message(
    sku: str, data: dict[str, Any], ctx: Context, *, requirements: str = "LISTING"
) -> dict:
    return {
        "sku": sku,
        "operationType": "UPDATE",
        "productType": product_type(ctx),
        "requirements": requirements,
        "attributes": message_attributes(data, ctx),
    }


def parent_message(parent: dict[str, Any], ctx: Context) -> dict:
    """The UPDATE of a variation family's parent listing (data["_parent"] of a child)."""
    return update_message(
        parent["sku"], parent["attributes"], ctx, requirements="LISTING_PRODUCT_ONLY"
    )


def patch_message(sku: str, ops: list[dict], ctx: Context) -> dict:
    return {"sku": sku, "operationType": "PATCH", "productType": product_type(ctx), "patches": ops}


def delete_message(sku: str) -> dict:
    return {"sku": sku, "operationType": "DELETE"}


def patches(previous: dict[str, Any], data: dict[str, Any], ctx: Context) -> list[dict]:
    """JSON Patch operations turning what was sent into what is sent now: "replace" for each
    top-level attribute that differs, "delete" for each one no longer there."""
    marketplace = marketplace_id(ctx)
    now = message_attributes(data, ctx)
    ops = []
    for name, values in now.items():
        if previous.get(name) != data[name]:
            ops.append({"op": "replace", "path": f"/attributes/{name}", "value": values})
    for name, values in previous.items():
        if name.startswith("_") or name in data:
            continue
        # Amazon deletes the values its selectors match: the marketplace, and the language
        # for text attributes.
        selectors = []
        for value in values:
            selector = {} if name in _NO_MARKETPLACE else {"marketplace_id": marketplace}
            if "language_tag" in value:
                selector["language_tag"] = value["language_tag"]
            if selector not in selectors:
                selectors.append(selector)
        op = {"op": "delete", "path": f"/attributes/{name}"}
        if any(selectors):
            op["value"] = selectors
        ops.append(op)
    return ops


def _dumps(message: dict) -> str:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"))


class _Files:
    """Feed files of at most MAX_MESSAGES messages each, written as messages come. Messages
    built here are checked against the schema first; rendered fragments were checked by
    `check` when they were made."""

    def __init__(self, out: Path, ctx: Context):
        self.out = out
        self.stem = f"amazon-{ctx.locale}"
        header = {"sellerId": _require_seller(ctx), "version": "2.0", "issueLocale": ctx.locale}
        self.header = _dumps(header)
        self.names: list[str] = []
        self.file = None
        self.count = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def add(self, message: dict) -> None:
        problems = schema_problems({"messageId": 1, **message})
        if problems:
            # Every value was checked before it came here: this is a bug, not bad data.
            raise ValueError(
                f"the listings message of {message['sku']} fails the schema: {problems[0]}"
            )
        self.add_fragment(_dumps(message))

    def add_fragment(self, fragment: str) -> None:
        """`fragment`: a message without its messageId, as JSON ('{"sku":…}')."""
        if self.file is None or self.count == MAX_MESSAGES:
            self.close()
            name = f"{self.stem}-{len(self.names) + 1:04d}.json"
            self.names.append(name)
            path = self.out / name
            self.file = open(path, "w", encoding="utf-8", newline="\n", buffering=1 << 20)  # noqa: SIM115
            self.file.write(f'{{"header":{self.header},\n"messages":[\n')
            self.count = 0
        self.count += 1
        if self.count > 1:
            self.file.write(",\n")
        self.file.write(f'{{"messageId":{self.count},{fragment[1:]}')

    def close(self) -> None:
        if self.file is not None:
            self.file.write("\n]}\n")
            self.file.close()
            self.file = None
