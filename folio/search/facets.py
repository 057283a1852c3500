"""Facet counts over the objects a unified search matched: one grouped query per facet.

A facet belongs to one kind: family, category and completeness count products; status, kind,
tags and collections count assets. Counts are over the whole matching set up to
FACET_LIMIT matches; above it they are over the first FACET_LIMIT in index order
(folio.search.unified reads no more), and the response says so (`facets_capped`,
`facet_sample`): counting a million matches on every keystroke would cost more than the
counts are worth, and the first ten thousand show the shape.

Facet keys: a product's entry carries its family and category ids (`extra["facets"]`,
written by folio.search.index from the catalog tables whenever the product is indexed, which
the catalog does in the transaction of every product write, after its categories). The
search reads them with the matching ids, so the family and category facets cost no read of
the product rows or the product–category table: on a large catalog those are one random
page each per matching product. Entries without keys (indexed before they existed, or
documents of no product) are counted from the catalog tables as before.
"""

from collections import Counter

from django.db import connection
from django.db.models import Case, CharField, Count, F, QuerySet, Value, When

from folio.errors import InvalidInput
from folio.search import backends

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


def count(
    name: str, qs: QuerySet, *, channel=None, locale=None, collections=None, ids=None
) -> list[dict]:
    """Counts for one facet over `qs` (the matching objects of the facet's kind). `ids`: the
    same objects' ids as a subquery (RawSQL), when the caller has them: family and category
    are then counted by id first and named after (see _by_key)."""
    if name == "completeness":
        return completeness(qs, channel, locale)
    if name in _BY_KEY and ids is not None:
        return _by_key(name, ids)
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


def _tables(name: str) -> tuple[str, str, str, str]:
    """(table, key column, id column, named table) of a product facet counted by key."""
    from folio.catalog.models import Category, Family, Product

    if name == "family":
        return Product._meta.db_table, "family_id", "id", Family._meta.db_table
    through = Product.categories.through._meta
    return through.db_table, "category_id", "product_id", Category._meta.db_table


_BY_KEY = ("family", "category")
# Facet keys as one short string of tokens, cheap to count however many entries are read:
# "f12 c3 c40" is family 12, categories 3 and 40; "f" alone: no family.
KEY_PREFIX = {"family": "f", "category": "c"}
EXTRA_KEY = backends.EXTRA_KEY


def product_keys(product_ids) -> dict[int, str]:
    """The facet keys of these products, as indexed (products that do not exist: none)."""
    from folio.catalog.models import Product

    ids = sorted(set(product_ids))
    if not ids:
        return {}
    families: dict[int, int | None] = {}
    categories: dict[int, list[int]] = {}
    # One query: the product rows joined to their categories (None: the product has none).
    rows = Product.objects.filter(pk__in=ids).values_list("pk", "family_id", "categories")
    for pid, family, cid in rows:
        families[pid] = family
        if cid is not None:
            categories.setdefault(pid, []).append(cid)
    return {
        pid: " ".join(
            [f"f{'' if family is None else family}"]
            + [f"c{c}" for c in sorted(categories.get(pid, ()))]
        )
        for pid, family in families.items()
    }


def count_keys(names: list[str], keys: list[str], others: list[int]) -> dict[str, list[dict]]:
    """Family and category counts over products given by their facet keys (`keys`, one string
    per product) and, for products whose entry has none, by id (`others`, counted from the
    catalog tables): the same counts and order as _by_key over all of them."""
    tokens = Counter(" ".join(keys).split())
    others_in = None
    if others:
        from django.db.models.expressions import RawSQL

        sql, params = backends.current().ids_sql(others)
        others_in = RawSQL(sql, params)  # noqa: S611 (constant SQL, the ids are one parameter)
    result = {}
    for name in names:
        prefix = KEY_PREFIX[name]
        counts: dict[int | None, int] = {}
        for token, n in tokens.items():
            if token[0] == prefix:
                key = int(token[1:]) if len(token) > 1 else None
                counts[key] = counts.get(key, 0) + n
        if others_in is not None:
            for key, n in _key_counts(name, others_in):
                counts[key] = counts.get(key, 0) + n
        result[name] = _named(name, counts)
    return result


def _key_counts(name: str, ids) -> list[tuple]:
    """(key, count) of these products for a facet counted by key, from the catalog tables."""
    table, key, id_column, _ = _tables(name)
    sql = (
        f"SELECT {key}, COUNT(*) FROM {table} WHERE {id_column} IN ({ids.sql}) "  # noqa: S608
        f"GROUP BY {key}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, ids.params)
        return cursor.fetchall()


def _named(name: str, counts: dict) -> list[dict]:
    """The most frequent MAX_VALUES keys with their codes, ordered as _by_key orders them (by
    the database, so ties sort by its collation as before)."""
    if not counts:
        return []
    _, _, _, named = _tables(name)
    join = "LEFT JOIN" if name == "family" else "JOIN"
    pairs, params = backends.current().pairs_sql([[k, n] for k, n in counts.items()])
    sql = (
        f"SELECT t.code, g.n FROM ({pairs}) AS g "  # noqa: S608
        f"{join} {named} AS t ON t.id = g.k ORDER BY g.n DESC, t.code LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, MAX_VALUES])
        return [{"value": code, "count": count} for code, count in cursor.fetchall()]


def _by_key(name: str, ids) -> list[dict]:
    """Product facet counts grouped on the foreign key (an integer), the codes looked up for
    the groups only: one index probe per product (for categories the product–category
    table's covering index, never the product row), no join per matching row."""
    table, key, id_column, named = _tables(name)
    join = "LEFT JOIN" if name == "family" else "JOIN"
    sql = (
        f"SELECT t.code, g.n FROM (SELECT {key} AS k, COUNT(*) AS n FROM {table} "  # noqa: S608
        f"WHERE {id_column} IN ({ids.sql}) GROUP BY {key}) AS g "
        f"{join} {named} AS t ON t.id = g.k ORDER BY g.n DESC, t.code LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*ids.params, MAX_VALUES])
        return [{"value": code, "count": count} for code, count in cursor.fetchall()]
