"""Facet counts over the objects a unified search matched: one grouped query per facet.

A facet belongs to one kind: family, category and completeness count products; status, kind,
tags and collections count assets. Counts are over the whole matching set up to
FACET_LIMIT matches; above it they are over the first FACET_LIMIT (by id), and the response
says so (`facets_capped`, `facet_sample`): counting a million matches on every keystroke
would cost more than the counts are worth, and the first ten thousand show the shape.
"""

from django.db.models import Case, CharField, Count, F, QuerySet, Value, When

from folio.errors import InvalidInput

FACET_LIMIT = 10_000
# Values per facet, most frequent first.
MAX_VALUES = 50

# facet name → (kind it counts, the field grouped on, relative to the kind's model)
FACETS: dict[str, tuple[str, str]] = {
    "family": ("product", "family__code"),
    "category": ("product", "categories__code"),
    "completeness": ("product", ""),
    "status": ("asset", "status"),
    "kind": ("asset", "kind"),
    "tags": ("asset", "tags__name"),
    "collections": ("asset", "collections__code"),
}
# M2M facets: an object with no value is not counted (there is no "none" bucket).
_MANY = {"categories__code", "tags__name", "collections__code"}


def check(names, *, channel: str | None, locale: str | None) -> list[str]:
    for name in names:
        if name not in FACETS:
            raise InvalidInput(
                f"unknown facet {name!r}; facets are {', '.join(FACETS)}",
                details={"field": "facet", "value": str(name)[:100]},
            )
    if "completeness" in names and not (channel and locale):
        raise InvalidInput(
            "the completeness facet needs a channel and a locale",
            details={"field": "channel" if not channel else "locale", "facet": "completeness"},
        )
    return list(dict.fromkeys(names))


def sample(qs: QuerySet) -> tuple[QuerySet, int | None]:
    """The matching set to count over, and the sample size when it was capped (one COUNT)."""
    total = qs.count()
    if total <= FACET_LIMIT:
        return qs, None
    first = qs.order_by("pk").values("pk")[:FACET_LIMIT]
    return qs.model.objects.filter(pk__in=first), FACET_LIMIT


def _grouped(qs: QuerySet, field: str) -> list[dict]:
    if field in _MANY:
        qs = qs.filter(**{f"{field}__isnull": False})
    rows = (
        qs.order_by()
        .values(value=F(field))
        .annotate(count=Count("pk"))
        .order_by("-count", "value")[:MAX_VALUES]
    )
    return [{"value": r["value"], "count": r["count"]} for r in rows]


def completeness(products: QuerySet, channel: str, locale: str) -> list[dict]:
    from folio.catalog.models import Completeness

    rows = (
        Completeness.objects.filter(
            product__in=products.order_by().values("pk"),
            channel__code=channel,
            locale__code=locale,
        )
        .annotate(
            value=Case(
                When(ratio__gte=100, then=Value("complete")),
                default=Value("incomplete"),
                output_field=CharField(),
            )
        )
        .order_by()
        .values("value")
        .annotate(count=Count("pk"))
        .order_by("value")
    )
    return [{"value": r["value"], "count": r["count"]} for r in rows]


def count(name: str, qs: QuerySet, *, channel=None, locale=None, collections=None) -> list[dict]:
    """Counts for one facet over `qs` (the matching objects of the facet's kind)."""
    if name == "completeness":
        return completeness(qs, channel, locale)
    field = FACETS[name][1]
    if name == "collections" and collections is not None:
        # An agency user counts only the collections it may see, not the others an asset of
        # theirs is also in.
        qs = qs.filter(collections__in=collections)
        return _grouped_filtered(qs, field, collections)
    return _grouped(qs, field)


def _grouped_filtered(qs: QuerySet, field: str, collections: QuerySet) -> list[dict]:
    # The join filtered on the visible collections is the one grouped on (one join, one query).
    rows = (
        qs.order_by()
        .values(value=F(field))
        .annotate(count=Count("pk", distinct=True))
        .order_by("-count", "value")[:MAX_VALUES]
    )
    return [{"value": r["value"], "count": r["count"]} for r in rows]
