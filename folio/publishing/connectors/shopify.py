"""Shopify Admin GraphQL API: one `productSet` per product (a variant group is one Shopify
product with its variants), keyed by handle; `productDelete` when none of its variants is
left.

productSet replaces list fields as a whole (variants, files, options), so the product sent
holds every variant the store should keep under that handle: the changed ones from this run
and the unchanged ones from the feed's listings. It runs synchronously and answers with the
product or with userErrors (`field` points at the input, e.g. ["input", "variants", "2",
"price"], so the message lands on the right SKU).

Throttling is cost-based: every answer carries `extensions.cost.throttleStatus`
(currentlyAvailable, restoreRate); a THROTTLED answer is retried after the time the bucket
needs to refill the query's cost, and the next call waits ahead when the bucket is low.
HTTP 429 and 5xx are retried with backoff honouring Retry-After. All bounded.
"""

import json
import threading
import time
from decimal import Decimal, InvalidOperation

from django.conf import settings

from folio.publishing.connectors import http, no_credentials
from folio.publishing.formats.generic import cell_text, one_line, plain_text, slug
from folio.publishing.formats.shopify import ALT_MAX, MAX_OPTIONS, _cut

PRODUCT_SET = """
mutation FolioProductSet($identifier: ProductSetIdentifiers, $input: ProductSetInput!) {
  productSet(identifier: $identifier, input: $input, synchronous: true) {
    product { id handle variants(first: 250) { nodes { id sku } } }
    userErrors { code field message }
  }
}
""".strip()

PRODUCT_BY_HANDLE = """
query FolioProductByHandle($identifier: ProductIdentifierInput!) {
  productByIdentifier(identifier: $identifier) { id handle }
}
""".strip()

PRODUCT_DELETE = """
mutation FolioProductDelete($input: ProductDeleteInput!) {
  productDelete(input: $input) { deletedProductId userErrors { field message } }
}
""".strip()

SETTINGS = ("SHOPIFY_STORE_URL", "SHOPIFY_ACCESS_TOKEN")


# ---------------------------------------------------------------------------------------------
# configuration


def missing_settings(feed) -> list[str]:
    return [f"FOLIO_{name}" for name in SETTINGS if not getattr(settings, name, None)]


# ---------------------------------------------------------------------------------------------
# what the store should hold


def store_locale(feed, ctx) -> str:
    """The one language pushed: a Shopify store's products are in its default language.
    The feed option store_locale, else the feed's first locale, else the channel's locale in
    Folio's own language (LANGUAGE_CODE), else its first locale."""
    options = (ctx.options if ctx is not None else None) or feed.options or {}
    if options.get("store_locale"):
        return options["store_locale"]
    if feed.locales:
        return feed.locales[0]
    codes = sorted(feed.channel.locales.values_list("code", flat=True))
    language, _, region = settings.LANGUAGE_CODE.partition("-")
    own = f"{language}_{region.upper()}" if region else language
    if own in codes:
        return own
    return codes[0] if codes else (ctx.locale if ctx is not None else "")


def variant_of(data: dict, sku: str) -> dict:
    """One variant as the store should hold it, from the Shopify format's `data(item)` (the
    mapped fields plus handle, options and images)."""
    return {
        "sku": sku,
        "handle": data.get("handle") or slug(data.get("group") or sku),
        "options": [
            {"name": str(o["name"]), "value": str(o["value"])}
            for o in data.get("options") or []
            if o.get("name") and o.get("value")
        ],
        "images": [
            {"url": i["url"], "alt": one_line(i.get("alt"))}
            for i in data.get("images") or []
            if i.get("url")
        ],
        "price": _money(data.get("price")),
        "compare_at_price": _money(data.get("compare_at_price")),
        "cost": _money(data.get("cost_per_item")),
        "barcode": cell_text(data.get("barcode")),
        "weight": data.get("weight") if isinstance(data.get("weight"), dict) else None,
    }


def product_of(item, ctx) -> dict:
    """The product's own fields (ProductSetInput scalars), from a product resolved in this
    run: the group's title for a variant group, as the CSV format writes them."""
    fields = item.fields
    options = (ctx.options if ctx is not None else None) or {}
    title = one_line(item.group_title if item.group and item.group_title else fields.get("title"))
    product = {"title": title}
    description = fields.get("description")
    if description:
        product["descriptionHtml"] = str(description)
    vendor = cell_text(fields.get("vendor")) or options.get("vendor", "")
    if vendor:
        product["vendor"] = vendor
    kind = cell_text(fields.get("type")) or (item.category_path[-1] if item.category_path else "")
    if kind:
        product["productType"] = kind
    tags = _list(fields.get("tags"))
    if tags:
        product["tags"] = tags
    status = str(options.get("status") or "active").upper()
    product["status"] = status if status in {"ACTIVE", "DRAFT", "ARCHIVED"} else "ACTIVE"
    seo = {
        k: v
        for k, v in (
            ("title", one_line(fields.get("seo_title"))),
            ("description", plain_text(fields.get("seo_description"))),
        )
        if v
    }
    if seo:
        product["seo"] = seo
    return product


def _list(value) -> list[str]:
    if not value:
        return []
    if isinstance(value, str):
        return [t.strip() for t in value.split(",") if t.strip()]
    return [str(t) for t in value]


def _money(value) -> str | None:
    if isinstance(value, dict):
        value = value.get("amount")
    if value in (None, ""):
        return None
    try:
        return format(Decimal(str(value)), "f")
    except InvalidOperation:
        return None


def _file(image: dict, title: str) -> dict:
    # An image without alt text of its own gets the product's title, as in the CSV.
    return {
        "originalSource": image["url"],
        "alt": _cut(image["alt"] or title, ALT_MAX),
        "contentType": "IMAGE",
    }


def product_input(handle: str, variants: list[dict], product: dict | None) -> dict:
    """ProductSetInput for every variant the store keeps under `handle` (SKU order).
    `product`: the product's own fields when a product of the group was resolved in this run;
    without them (only removals in the group) those fields are left as they are, since
    productSet changes only the scalar fields it is given."""
    title = (product or {}).get("title", "")
    option_names: list[str] = []
    for variant in variants:
        for option in variant["options"]:
            if option["name"] not in option_names:
                option_names.append(option["name"])
    option_names = option_names[:MAX_OPTIONS]

    def values_of(variant) -> list[tuple[str, str]]:
        if not option_names:
            # One variant: Shopify's "Default Title". Several without axes cannot be told
            # apart by options; their SKUs do it.
            return [("Title", "Default Title" if len(variants) == 1 else variant["sku"])]
        by_name = {o["name"]: o["value"] for o in variant["options"]}
        return [(name, by_name.get(name) or "-") for name in option_names]

    product_options = []
    for position, name in enumerate(option_names or ["Title"], start=1):
        values: list[str] = []
        for variant in variants:
            value = dict(values_of(variant))[name]
            if value not in values:
                values.append(value)
        product_options.append(
            {"name": name, "position": position, "values": [{"name": v} for v in values]}
        )

    files, seen = [], set()
    for variant in variants:
        for image in variant["images"]:
            if image["url"] not in seen:
                seen.add(image["url"])
                files.append(_file(image, title))

    variant_inputs = []
    for position, variant in enumerate(variants, start=1):
        entry = {
            "optionValues": [{"optionName": n, "name": v} for n, v in values_of(variant)],
            "sku": variant["sku"],
            "position": position,
        }
        if variant["price"] is not None:
            entry["price"] = variant["price"]
        if variant["compare_at_price"] is not None:
            entry["compareAtPrice"] = variant["compare_at_price"]
        if variant["barcode"]:
            entry["barcode"] = variant["barcode"]
        inventory = {}
        if variant["cost"] is not None:
            inventory["cost"] = variant["cost"]
        weight = _weight(variant["weight"])
        if weight:
            inventory["measurement"] = {"weight": weight}
        if inventory:
            entry["inventoryItem"] = inventory
        if variant["images"] and len(variants) > 1:
            # The variant's own picture ("Variant image URL"); it is among the files.
            entry["file"] = _file(variant["images"][0], title)
        variant_inputs.append(entry)

    return {
        "handle": handle,
        **(product or {}),
        "productOptions": product_options,
        "variants": variant_inputs,
        "files": files,
    }


WEIGHT_UNITS = {"g": "GRAMS", "kg": "KILOGRAMS", "oz": "OUNCES", "lb": "POUNDS"}


def _weight(value: dict | None) -> dict | None:
    if not value or str(value.get("unit") or "").lower() not in WEIGHT_UNITS:
        return None
    amount = _money(value.get("amount"))
    if amount is None:
        return None
    return {"value": float(amount), "unit": WEIGHT_UNITS[str(value["unit"]).lower()]}


def plan(feed, changes, ctx) -> dict[str, dict]:
    """handle → {"variants": every variant the store keeps under it (SKU order), "product":
    the product's fields (None when no product of it was resolved in this run), "skus": the
    changed and removed SKUs this push answers for}. No variants left: delete the product."""
    from folio.publishing.models import Listing

    groups: dict[str, dict] = {}

    def group(handle):
        return groups.setdefault(handle, {"variants": {}, "product": None, "skus": []})

    for change in sorted(changes, key=lambda c: c.sku):
        source = change.data if change.data is not None else (change.previous or {})
        variant = variant_of(source, change.sku)
        target = group(variant["handle"])
        target["skus"].append(change.sku)
        if change.data is not None:
            target["variants"][change.sku] = variant
            if target["product"] is None and change.item is not None:
                target["product"] = product_of(change.item, ctx)
        if change.previous is not None and change.data is not None:
            # A variant that moved to another group leaves its old product.
            old = variant_of(change.previous, change.sku)["handle"]
            if old != variant["handle"]:
                group(old)
    # The unchanged variants of every product touched, as last sent (the run has already
    # stored this publication's listings, so changed SKUs are left out and taken from above).
    listings = Listing.objects.filter(feed=feed, data__handle__in=list(groups)).exclude(
        sku__in=[c.sku for c in changes]
    )
    if ctx is not None:
        listings = listings.filter(locale=ctx.locale)
    for sku, data in listings.values_list("sku", "data").iterator():
        variant = variant_of(data or {}, sku)
        if variant["handle"] in groups:
            groups[variant["handle"]]["variants"].setdefault(sku, variant)
    return {
        handle: {**g, "variants": [g["variants"][s] for s in sorted(g["variants"])]}
        for handle, g in groups.items()
    }


def _other_language(feed, changes, ctx) -> dict[str, dict] | None:
    primary = store_locale(feed, ctx)
    if ctx is None or not primary or ctx.locale == primary:
        return None
    return {
        c.sku: {
            "status": "skipped",
            "message": f"not pushed: the store's products are in "
            f"{primary}; {ctx.locale} is published in files only",
        }
        for c in changes
    }


# ---------------------------------------------------------------------------------------------
# dry run


def dry_run(feed, changes, ctx, missing: list[str]) -> dict[str, dict]:
    other = _other_language(feed, changes, ctx)
    if other is not None:
        return other
    results = {}
    for handle, group in plan(feed, changes, ctx).items():
        if group["variants"]:
            data = product_input(handle, group["variants"], group["product"])
            what = (
                f"would productSet handle {handle} ({len(data['variants'])} variants, "
                f"{len(data['files'])} images)"
            )
            operation = "productSet"
        else:
            what, operation = f"would productDelete handle {handle}", "productDelete"
        for sku in group["skus"]:
            results[sku] = {
                "status": "dry_run",
                "operation": operation,
                "handle": handle,
                "message": f"{what} ({no_credentials(missing)})",
            }
    return results


# ---------------------------------------------------------------------------------------------
# pushing


def push(feed, publication, changes, ctx) -> dict[str, dict]:
    other = _other_language(feed, changes, ctx)
    if other is not None:
        return other
    client = Client()
    results = {}
    for handle, group in plan(feed, changes, ctx).items():
        try:
            if group["variants"]:
                outcome = client.product_set(handle, group["variants"], group["product"])
            else:
                outcome = client.product_delete(handle)
        except ShopifyError as exc:
            outcome = {
                "status": "error",
                "message": str(exc),
                "operation": exc.operation,
                "handle": handle,
            }
        for sku in group["skus"]:
            result = {k: v for k, v in outcome.items() if k not in ("variants", "by_sku")}
            result.update((outcome.get("by_sku") or {}).get(sku) or {})
            if (outcome.get("variants") or {}).get(sku):
                result["variant_id"] = outcome["variants"][sku]
            results[sku] = result
    return results


class ShopifyError(Exception):
    def __init__(self, message: str, operation: str):
        super().__init__(message)
        self.operation = operation


class Client:
    """One store's GraphQL endpoint, with the cost bucket's last known state."""

    def __init__(self):
        store = settings.SHOPIFY_STORE_URL.rstrip("/")
        if "://" not in store:
            store = f"https://{store}"
        self.url = f"{store}/admin/api/{settings.SHOPIFY_API_VERSION}/graphql.json"
        self.token = settings.SHOPIFY_ACCESS_TOKEN
        self.lock = threading.Lock()
        self.bucket = None  # (currentlyAvailable, restoreRate, maximumAvailable, at)
        self.last_cost = 0.0

    # the cost bucket -------------------------------------------------------------------------

    def _remember(self, cost: dict | None) -> None:
        status = (cost or {}).get("throttleStatus") or {}
        try:
            available = float(status["currentlyAvailable"])
            rate = float(status["restoreRate"])
            maximum = float(status.get("maximumAvailable") or available)
        except (KeyError, TypeError, ValueError):
            return
        with self.lock:
            self.bucket = (available, rate, maximum, time.monotonic())
            requested = cost.get("requestedQueryCost")
            if isinstance(requested, int | float):
                self.last_cost = float(requested)

    def _ahead(self) -> None:
        """Wait before a call when the bucket (as last seen) cannot pay for another like the
        last one: cheaper than being THROTTLED and retried."""
        with self.lock:
            if not self.bucket or not self.last_cost:
                return
            available, rate, maximum, at = self.bucket
            now_available = min(maximum, available + (time.monotonic() - at) * rate)
            wait = (self.last_cost - now_available) / rate if rate > 0 else 0.0
        if wait > 0:
            time.sleep(min(http.MAX_WAIT, wait))

    def _wait(self, response: http.Response, attempt: int) -> float | None:
        if response.status != 200:
            return http.default_wait(response, attempt)
        data = response.json()
        if not isinstance(data, dict):
            return None
        cost = (data.get("extensions") or {}).get("cost")
        self._remember(cost)
        if not _throttled(data):
            return None
        status = (cost or {}).get("throttleStatus") or {}
        try:
            needed = float(cost["requestedQueryCost"]) - float(status["currentlyAvailable"])
            return max(0.0, needed / float(status["restoreRate"]))
        except (KeyError, TypeError, ValueError, ZeroDivisionError):
            return http.backoff(attempt)

    # calls -----------------------------------------------------------------------------------

    def call(self, query: str, variables: dict, operation: str) -> dict:
        """POST one GraphQL operation; its `data`, or ShopifyError naming what went wrong."""
        body = json.dumps({"query": query, "variables": variables}).encode()
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "X-Shopify-Access-Token": self.token,
        }
        try:
            response = http.request(
                "POST", self.url, headers=headers, body=body, wait=self._wait, before=self._ahead
            )
        except http.Unreachable as exc:
            raise ShopifyError(f"Shopify could not be reached: {exc}", operation) from None
        data = response.json()
        if response.status in (401, 403):
            raise ShopifyError(
                f"Shopify refused the access token ({response.status}): check "
                "FOLIO_SHOPIFY_ACCESS_TOKEN and the app's access scopes (write_products)",
                operation,
            )
        if response.status != 200 or not isinstance(data, dict):
            detail = data.get("errors") if isinstance(data, dict) else None
            raise ShopifyError(
                f"Shopify answered {response.status}"
                + (f": {detail}" if detail else "")
                + (f" after {response.attempts} attempts" if response.attempts > 1 else ""),
                operation,
            )
        if _throttled(data):
            raise ShopifyError(
                f"throttled by Shopify after {response.attempts} attempts", operation
            )
        if data.get("errors"):
            messages = "; ".join(
                str(e.get("message")) if isinstance(e, dict) else str(e) for e in data["errors"]
            )
            raise ShopifyError(f"Shopify refused the request: {messages}", operation)
        return data.get("data") or {}

    def product_set(self, handle: str, variants: list[dict], product: dict | None) -> dict:
        data = self.call(
            PRODUCT_SET,
            {"identifier": {"handle": handle}, "input": product_input(handle, variants, product)},
            "productSet",
        )
        payload = data.get("productSet") or {}
        base = {"operation": "productSet", "handle": handle}
        errors = payload.get("userErrors") or []
        if errors:
            return {**base, **_user_errors(errors, [v["sku"] for v in variants])}
        product = payload.get("product") or {}
        nodes = ((product.get("variants") or {}).get("nodes")) or []
        return {
            **base,
            "status": "ok",
            "message": "saved",
            "product_id": product.get("id"),
            "variants": {n.get("sku"): n.get("id") for n in nodes if n.get("sku")},
        }

    def product_delete(self, handle: str) -> dict:
        base = {"operation": "productDelete", "handle": handle}
        found = self.call(
            PRODUCT_BY_HANDLE, {"identifier": {"handle": handle}}, "productDelete"
        ).get("productByIdentifier")
        if not found:
            return {**base, "status": "ok", "message": "not in the store (nothing to delete)"}
        data = self.call(PRODUCT_DELETE, {"input": {"id": found["id"]}}, "productDelete")
        payload = data.get("productDelete") or {}
        errors = payload.get("userErrors") or []
        if errors:
            return {
                **base,
                "status": "error",
                "product_id": found["id"],
                "message": "; ".join(_error_text(e) for e in errors),
            }
        return {
            **base,
            "status": "ok",
            "message": "deleted",
            "product_id": payload.get("deletedProductId") or found["id"],
        }


def _throttled(data: dict) -> bool:
    return any(
        isinstance(e, dict) and (e.get("extensions") or {}).get("code") == "THROTTLED"
        for e in data.get("errors") or []
    )


def _error_text(error: dict) -> str:
    field = ".".join(str(f) for f in error.get("field") or [])
    code = f" [{error['code']}]" if error.get("code") else ""
    return f"{error.get('message')}{code}" + (f" ({field})" if field else "")


def _user_errors(errors: list[dict], skus: list[str]) -> dict:
    """productSet is all or nothing: every SKU of the product failed; a userError whose field
    points at one variant (["input", "variants", "2", …]) is that SKU's own message."""
    by_sku: dict[str, list[str]] = {}
    general = []
    for error in errors:
        field = [str(f) for f in error.get("field") or []]
        if (
            len(field) >= 3
            and field[:2] == ["input", "variants"]
            and field[2].isdigit()
            and int(field[2]) < len(skus)
        ):
            by_sku.setdefault(skus[int(field[2])], []).append(_error_text(error))
        else:
            general.append(_error_text(error))
    message = "; ".join(general + [m for ms in by_sku.values() for m in ms])
    return {
        "status": "error",
        "message": message,
        "by_sku": {
            sku: {"message": "; ".join(by_sku[sku] + general)}
            if sku in by_sku
            else {"message": f"not saved: the product was refused ({message})"}
            for sku in skus
        },
    }
