"""Finding products: filters by family, category (with descendants), enabled, completeness,
update time, attribute conditions and text, turned into one SQL query.

Attribute conditions read the derived `ValueIndex` (inherited values included) instead of
the JSON document, so each is an indexed lookup on (attribute, value, product).
"""

import datetime
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.db.models import Exists, F, OuterRef, Q, QuerySet

from folio.catalog import values as v
from folio.catalog.models import (
    Attribute,
    Category,
    Completeness,
    Family,
    Product,
    ValueIndex,
)
from folio.errors import InvalidInput

OPERATORS = ("=", "!=", "<", "<=", ">", ">=", "in", "empty", "not empty", "contains")
T = Attribute.Type
NUMERIC = {T.NUMBER, T.MEASUREMENT, T.PRICE}


@dataclass
class Condition:
    attribute: str
    op: str
    value: object = None
    locale: str | None = None
    scope: str | None = None
    unit: str | None = None  # measurement unit of `value`, or the currency of a price


@dataclass
class ProductFilter:
    families: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)  # a product in any, or below any
    enabled: bool | None = None
    complete_channel: str | None = None
    complete_locale: str | None = None
    completeness_op: str = ">="
    completeness: int | None = None
    updated_since: datetime.datetime | None = None
    conditions: list[Condition] = field(default_factory=list)
    search: str | None = None
    parent: str | None = None
    # True: products with completeness still being recomputed after a structure change (in
    # the given channel/locale, if any); False: products whose figures are all current.
    stale: bool | None = None


# A condition matching at most this many products drives the query (its product ids are
# looked up in the index, then sorted); broader ones are checked per product while the list
# is read in SKU order, which stops after one page. Measuring a condition costs one bounded
# index scan, far less than the wrong plan on a million products.
DRIVER_LIMIT = 2000
# Up to this many products of the chosen families are cheaper to collect by the family index
# and sort than to find by reading the whole catalog in SKU order.
FAMILY_SCAN_LIMIT = 20_000


def filter_products(f: ProductFilter, structure: v.Structure | None = None) -> QuerySet:
    qs = Product.objects.all()
    candidates: list[QuerySet] = []  # uncorrelated row sets with a product_id column
    if f.families:
        family_ids = list(Family.objects.filter(code__in=f.families).values_list("id", flat=True))
        # One family: its (family, sku) index yields products already in SKU order, so the
        # page stops early either way. Several large families: the index would collect and
        # sort all of their products first.
        narrow = len(family_ids) <= 1 or (
            Product.objects.filter(family_id__in=family_ids)[:FAMILY_SCAN_LIMIT].count()
            < FAMILY_SCAN_LIMIT
        )
        if narrow:
            qs = qs.filter(family_id__in=family_ids)
        else:
            # Many products: read them in SKU order and stop after a page, instead of letting
            # the family index collect (and then sort) every product of those families.
            # `family_id + 0` is the same value without the index.
            qs = qs.alias(family_unindexed=F("family_id") + 0).filter(
                family_unindexed__in=family_ids
            )
    if f.enabled is not None:
        qs = qs.filter(enabled=f.enabled)
    if f.parent:
        qs = qs.filter(Q(parent__code=f.parent) | Q(parent__parent__code=f.parent))
    if f.updated_since:
        qs = qs.filter(updated_at__gte=f.updated_since)
    if f.categories:
        paths = list(Category.objects.filter(code__in=f.categories).values_list("path", flat=True))
        unknown = set(f.categories) - {p.rsplit("/", 1)[-1] for p in paths}
        if unknown:
            raise InvalidInput(
                f"unknown category {', '.join(sorted(unknown))}",
                details={"field": "category", "unknown": sorted(unknown)},
            )
        below = Q()
        for path in paths:
            below |= Q(path=path) | Q(path__startswith=f"{path}/")
        in_tree = Product.categories.through.objects.filter(
            product_id=OuterRef("pk"), category__in=Category.objects.filter(below)
        )
        qs = qs.filter(Exists(in_tree))
    if f.completeness is not None:
        if not (f.complete_channel and f.complete_locale):
            raise InvalidInput(
                "a completeness filter needs a channel and a locale",
                details={"field": "completeness"},
            )
        lookup = {">=": "gte", ">": "gt", "<=": "lte", "<": "lt", "=": "exact"}.get(
            f.completeness_op
        )
        if lookup is None:
            raise InvalidInput(
                f"completeness operator {f.completeness_op!r} is not one of >=, >, <=, <, =",
                details={"field": "completeness"},
            )
        candidates.append(
            Completeness.objects.filter(
                channel__code=f.complete_channel,
                locale__code=f.complete_locale,
                **{f"ratio__{lookup}": f.completeness},
            )
        )
    if f.stale is not None:
        rows = Completeness.objects.filter(product_id=OuterRef("pk"), stale=True)
        if f.complete_channel:
            rows = rows.filter(channel__code=f.complete_channel)
        if f.complete_locale:
            rows = rows.filter(locale__code=f.complete_locale)
        qs = qs.filter(Exists(rows) if f.stale else ~Exists(rows))
    if f.conditions:
        attributes = (
            structure.attributes
            if structure
            else v.load_attributes({c.attribute for c in f.conditions})
        )
        for c in f.conditions:
            rows, negate = _condition(c, attributes)
            if negate:
                qs = qs.filter(~Exists(rows.filter(product_id=OuterRef("pk"))))
            else:
                candidates.append(rows)
    qs = _apply_candidates(qs, candidates)
    if f.search:
        from folio.search import index as search_index

        qs = qs.filter(pk__in=search_index.matching_ids(f.search, "product"))
    return qs


def _apply_candidates(qs: QuerySet, candidates: list[QuerySet]) -> QuerySet:
    """Let the most selective narrow condition drive; check the others per product."""
    if not candidates:
        return qs
    sizes = [rows.values("product_id")[:DRIVER_LIMIT].count() for rows in candidates]
    driver = min(range(len(candidates)), key=sizes.__getitem__)
    for i, rows in enumerate(candidates):
        if i == driver and sizes[i] < DRIVER_LIMIT:
            qs = qs.filter(pk__in=rows.values("product_id"))
        else:
            qs = qs.filter(Exists(rows.filter(product_id=OuterRef("pk"))))
    return qs


def _condition(c: Condition, attributes: dict[str, v.AttributeInfo]) -> tuple[QuerySet, bool]:
    """(the index rows the condition asks for, whether products must NOT have them)."""
    a = attributes.get(c.attribute)
    if a is None:
        raise InvalidInput(
            f"unknown attribute {c.attribute!r} in filter",
            details={"attribute": c.attribute, "reason": "unknown attribute"},
        )
    if c.op not in OPERATORS:
        raise InvalidInput(
            f"operator {c.op!r} is not one of {', '.join(OPERATORS)}",
            details={"attribute": c.attribute, "reason": "unknown operator"},
        )
    if a.localizable and not c.locale:
        raise InvalidInput(
            f"{a.code} is localizable: filter with a locale",
            details={"attribute": a.code, "reason": "locale required"},
        )
    if a.scopable and not c.scope:
        raise InvalidInput(
            f"{a.code} is scopable: filter with a channel (scope)",
            details={"attribute": a.code, "reason": "channel required"},
        )
    rows = ValueIndex.objects.filter(attribute_id=a.id, locale=c.locale or "", scope=c.scope or "")
    if c.op == "empty":
        return rows, True
    if c.op == "not empty":
        return rows, False
    if a.type in NUMERIC:
        if a.type == T.PRICE:
            if not c.unit:
                raise InvalidInput(
                    f"{a.code} is a price: give the currency (unit)",
                    details={"attribute": a.code, "reason": "currency required"},
                )
            rows = rows.filter(unit=c.unit.upper())
        values = c.value if c.op == "in" else [c.value]
        if not isinstance(values, list):
            values = [values]
        numbers = [_number(a, x, c) for x in values]
        column = "number"
    else:
        numbers = None
        column = "text"
        values = c.value if isinstance(c.value, list) else [c.value]
        if a.type == T.BOOLEAN:
            values = ["true" if x in (True, "true", "1", 1) else "false" for x in values]
        else:
            values = [str(x) for x in values]
    target = numbers if numbers is not None else values
    lookups = {"=": "exact", "<": "lt", "<=": "lte", ">": "gt", ">=": "gte"}
    if c.op == "in":
        return rows.filter(**{f"{column}__in": target}), False
    if c.op == "contains":
        if column != "text":
            raise InvalidInput(
                f"contains works on text, not on {a.type}",
                details={"attribute": a.code, "reason": "operator not allowed"},
            )
        return rows.filter(text__icontains=target[0]), False
    if c.op == "!=":
        return rows.filter(**{column: target[0]}), True
    return rows.filter(**{f"{column}__{lookups[c.op]}": target[0]}), False


def _number(a: v.AttributeInfo, raw, c: Condition) -> float:
    try:
        number = Decimal(str(raw))
    except InvalidOperation:
        raise InvalidInput(
            f"{a.code}: {raw!r} is not a number",
            details={"attribute": a.code, "reason": "not a number"},
        ) from None
    if a.type == T.MEASUREMENT:
        unit = c.unit or next(iter(a.units), None)
        unit = unit if unit in a.units else a.unit_symbols.get(str(unit).lower(), unit)
        if unit not in a.units:
            raise InvalidInput(
                f"{a.code}: unit {c.unit!r} is not one of {', '.join(a.units)}",
                details={"attribute": a.code, "reason": "unknown unit"},
            )
        return v.to_standard(a, {"amount": str(number), "unit": unit})
    return float(number)


def parse_condition(text: str) -> Condition:
    """`capacity>=500 ml`, `color in blue,green`, `name[en_US] contains bottle`,
    `short_title[en_US@marketplace] empty`, `price[USD]<30` → a Condition."""
    import re

    m = re.fullmatch(
        r"\s*(?P<attr>[A-Za-z0-9_]+)(?:\[(?P<where>[^\]]*)\])?\s*"
        r"(?P<op>not empty|empty|contains|in|!=|<=|>=|=|<|>)\s*(?P<value>.*?)\s*",
        text,
    )
    if not m:
        raise InvalidInput(
            f"cannot read the filter {text!r}; write e.g. capacity>=500 ml",
            details={"filter": text},
        )
    where = m["where"] or ""
    locale, _, scope = where.partition("@")
    unit = None
    if locale and locale.isupper() and len(locale) == 3:  # price[USD]
        unit, locale = locale, ""
    value: object = m["value"]
    op = m["op"]
    if op == "in":
        value = [x.strip() for x in m["value"].split(",") if x.strip()]
    elif op not in ("empty", "not empty"):
        number_unit = re.fullmatch(r"(-?[0-9.]+)\s*([A-Za-z°]+)", m["value"])
        if number_unit:
            value, unit = number_unit[1], unit or number_unit[2]
    return Condition(
        attribute=m["attr"],
        op=op,
        value=value,
        locale=locale or None,
        scope=scope or None,
        unit=unit,
    )
