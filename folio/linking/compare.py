"""Compare products side by side: attribute by attribute, for one channel and locale, with
the rows whose values differ marked, and each product's completeness there.

A fixed number of queries for any number of SKUs (at most MAX_SKUS): products with their
models, attributes with options, completeness rows.
"""

from folio.accounts.services import require
from folio.catalog import services as catalog
from folio.catalog import values as v
from folio.catalog.models import Channel, Completeness, Family, Product
from folio.errors import InvalidInput, NotFound
from folio.linking.sku360 import format_value, load_attributes

MAX_SKUS = 20


def _value(resolved: dict, a, channel: str, locale: str):
    return v.value_of(
        resolved, a.code, locale if a.localizable else None, channel if a.scopable else None
    )


def compare(skus: list[str], *, channel: str, locale: str, user=None) -> dict:
    """{"skus", "channel", "locale", "groups": [{code, label, rows: [{code, label, values:
    {sku: text}, differs}]}], "completeness": {sku: {ratio, missing, …} | None}}."""
    if user is not None:
        require(user, "catalog.view_product")
    skus = list(dict.fromkeys(s.strip() for s in skus if s and s.strip()))
    if len(skus) < 1:
        raise InvalidInput("name at least one SKU to compare", details={"field": "sku"})
    if len(skus) > MAX_SKUS:
        raise InvalidInput(
            f"compare at most {MAX_SKUS} products at once ({len(skus)} given)",
            details={"field": "sku", "max": MAX_SKUS, "given": len(skus)},
        )
    ch = Channel.objects.prefetch_related("locales").filter(code=channel).first()
    if ch is None:
        raise NotFound(f"no channel {channel!r}", details={"channel": channel})
    if locale not in {loc.code for loc in ch.locales.all()}:
        raise InvalidInput(
            f"channel {channel} is not sold in locale {locale!r}",
            details={"locale": locale, "channel": channel},
        )
    products = {
        p.sku: p
        for p in Product.objects.select_related("family", "parent__parent").filter(sku__in=skus)
    }
    unknown = [s for s in skus if s not in products]
    if unknown:
        raise NotFound(f"no product with SKU {', '.join(unknown)}", details={"skus": unknown})
    resolved = {s: catalog.resolved_values(products[s]) for s in skus}
    family_ids = {p.family_id for p in products.values() if p.family_id}
    family_codes = set(
        Family.attributes.through.objects.filter(family_id__in=family_ids).values_list(
            "attribute__code", flat=True
        )
    )
    codes = family_codes | {c for doc in resolved.values() for c in doc}
    attributes = load_attributes(codes)
    groups: dict[str, dict] = {}
    for a in sorted(
        attributes.values(),
        key=lambda a: (
            a.group.sort_order if a.group_id else 10**6,
            a.group.code if a.group_id else "",
            a.sort_order,
            a.code,
        ),
    ):
        data = {s: _value(resolved[s], a, channel, locale) for s in skus}
        shown = {s: format_value(a, d, locale) for s, d in data.items()}
        group = groups.setdefault(
            a.group.code if a.group_id else "",
            {
                "code": a.group.code if a.group_id else None,
                "label": a.group.label(locale) if a.group_id else "Other",
                "rows": [],
            },
        )
        group["rows"].append(
            {
                "code": a.code,
                "label": a.label(locale),
                "values": shown,
                # Compared on the stored data, not the text: "750 ml" and "0.75 L" differ as
                # stored and people want to see that.
                "differs": len({repr(d) for d in data.values()}) > 1,
            }
        )
    completeness = {s: None for s in skus}
    for c in Completeness.objects.filter(
        product__in=products.values(), channel=ch, locale__code=locale
    ).select_related("product"):
        completeness[c.product.sku] = {
            "ratio": c.ratio,
            "required": c.required,
            "filled": c.filled,
            "missing": c.missing,
            "stale": c.stale,
        }
    return {
        "skus": skus,
        "channel": channel,
        "locale": locale,
        "groups": list(groups.values()),
        "completeness": completeness,
    }
