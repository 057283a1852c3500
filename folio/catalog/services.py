"""Products and product models: the only writers of product facts.

Every write, single or bulk, goes through the same two steps:
1. `prepare_product` validates one item completely (fields, values, variant level, axes, uniqueness,
   references) against a `Structure` snapshot and computes the new state and its history
   entry — without touching the database;
2. `apply_batch` writes a batch of prepared items with a fixed number of statements: product rows,
   categories and groups, the filter index, completeness, history, the search index and the
   audit log.
So an item is saved whole or not at all, and thousands of items cost a handful of queries.
"""

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from folio import faults
from folio.accounts import audit
from folio.catalog import completeness, scoping
from folio.catalog import signals as catalog_signals
from folio.catalog import values as v
from folio.catalog.models import (
    Association,
    AssociationType,
    Category,
    Channel,
    Completeness,
    Family,
    FamilyVariant,
    Product,
    ProductChange,
    ProductGroup,
    ProductModel,
    Proposal,
    ValueIndex,
    sku_validator,
)
from folio.errors import Conflict, InvalidInput, NotFound, PermissionDenied, StaleWrite
from folio.search import index as search_index
from folio.versioning import APPLY_AGAIN, stale_write

log = logging.getLogger("folio.catalog")
PRODUCT_FIELDS = {
    "sku",
    "family",
    "parent",
    "enabled",
    "categories",
    "groups",
    "values",
    "associations",
    "version",
}
BATCH = 1000


# --- reading ------------------------------------------------------------------------------------


def get_product(sku: str) -> Product:
    product = (
        Product.objects.select_related("family", "parent__parent", "parent__family_variant")
        .filter(sku=sku)
        .first()
    )
    if product is None:
        raise NotFound(f"no product with SKU {sku!r}", details={"sku": sku})
    return product


def model_chain(product: Product) -> list[ProductModel]:
    """Root model first, then the sub-model, for a variant product; [] otherwise."""
    chain = []
    node = product.parent
    while node is not None:
        chain.insert(0, node)
        node = node.parent
    return chain


def resolved_values(product: Product) -> dict:
    return v.resolve(*(m.values for m in model_chain(product)), product.values)


def value_origins(product: Product) -> dict[str, str]:
    """Where each attribute's values come from: "self" or the code of the product model."""
    origins = {}
    for m in model_chain(product):
        origins.update({code: m.code for code in m.values})
    origins.update({code: "self" for code in product.values})
    return origins


def completeness_of(product: Product) -> list[dict]:
    fields = ("channel", "locale", "ratio", "required", "filled", "missing", "stale")
    rows = product.completeness.order_by("channel__code", "locale__code").values_list(
        "channel__code", "locale__code", *fields[2:]
    )
    return [dict(zip(fields, row, strict=True)) for row in rows]


def associations_of(product: Product) -> dict[str, dict[str, list]]:
    """{"X_SELL": {"products": [...], "product_models": [...], "groups": [...]}} as sent."""
    out: dict[str, dict[str, list]] = {}
    for a in product.associations.select_related(
        "type", "target_product", "target_model", "target_group"
    ):
        bucket = out.setdefault(a.type.code, {"products": [], "product_models": [], "groups": []})
        if a.target_product_id:
            sku = a.target_product.sku
            bucket["products"].append({"sku": sku, "quantity": a.quantity} if a.quantity else sku)
        elif a.target_model_id:
            bucket["product_models"].append(a.target_model.code)
        else:
            bucket["groups"].append(a.target_group.code)
    return out


def variants_complete(model: ProductModel) -> dict[str, dict[str, str]]:
    """Per channel and locale: "complete variants/total variants" below a product model."""
    rows = (
        Completeness.objects.filter(Q(product__parent=model) | Q(product__parent__parent=model))
        .values("channel__code", "locale__code")
        .annotate(total=Count("id"), complete=Count("id", filter=Q(ratio=100)))
    )
    out: dict[str, dict[str, str]] = {}
    for r in rows:
        out.setdefault(r["channel__code"], {})[r["locale__code"]] = f"{r['complete']}/{r['total']}"
    return out


def needs_review(product_family_id: int | None, user) -> bool:
    if user is not None and user.has_perm("catalog.review_product"):
        return False
    if Channel.objects.filter(requires_review=True).exists():
        return True
    return (
        bool(product_family_id)
        and Family.objects.filter(pk=product_family_id, requires_review=True).exists()
    )


# --- preparing a write ----------------------------------------------------------------------------


@dataclass
class Prepared:
    """One validated write, ready to apply."""

    product: Product
    created: bool
    changes: list[dict]
    categories: list[int] | None = None  # None: unchanged
    groups: list[int] | None = None
    associations: list[Association] | None = None
    action: str = "update"
    resolved: dict = field(default_factory=dict)
    proposal: Proposal | None = None


class Lookups:
    """Codes → rows, loaded once per batch so that validating N items costs O(1) queries."""

    def __init__(self, items: list[dict]):
        def codes(key):
            out = set()
            for it in items:
                val = it.get(key)
                if isinstance(val, list):
                    out.update(x for x in val if isinstance(x, str))
                elif isinstance(val, str):
                    out.add(val)
            return out

        self.families = {f.code: f for f in Family.objects.filter(code__in=codes("family"))}
        self.models = {
            m.code: m
            for m in ProductModel.objects.select_related("parent", "family_variant__family").filter(
                code__in=codes("parent")
            )
        }
        self.categories = dict(
            Category.objects.filter(code__in=codes("categories")).values_list("code", "id")
        )
        self.groups = dict(
            ProductGroup.objects.filter(code__in=codes("groups")).values_list("code", "id")
        )
        self.association_types = {t.code: t for t in AssociationType.objects.all()}


def _check_fields(item: dict, errors: v.ValueErrors) -> None:
    unknown = set(item) - PRODUCT_FIELDS
    for name in sorted(unknown):
        errors.add(name, "unknown field")


def _codes(item: dict, key: str, known: dict, errors: v.ValueErrors, what: str) -> list[int] | None:
    if key not in item:
        return None
    codes = item[key]
    if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
        errors.add(key, f"expected a list of {what} codes")
        return None
    missing = [c for c in codes if c not in known]
    if missing:
        errors.add(key, f"unknown {what} {', '.join(map(repr, missing))}")
        return None
    return sorted({known[c] for c in codes})


def _variant_rules(parent: ProductModel, structure: v.Structure):
    """(allowed attribute codes, explanation of wrong levels, axis codes) for a variant."""
    fv = parent.family_variant
    levels = structure.variant_levels.get(fv.pk, {})
    depth = max((lvl for lvl, _ in levels.values()), default=1)
    family_attrs = structure.family_attributes.get(fv.family_id, frozenset())
    allowed = frozenset(c for c, (lvl, _) in levels.items() if lvl == depth)
    wrong = {}
    for code in family_attrs - allowed:
        lvl = levels.get(code, (0, False))[0]
        owner = "the root product model" if lvl == 0 else "the sub product model"
        wrong[code] = f"belongs to {owner} (variant level {lvl}), not to the variant product"
    axes = tuple(sorted(c for c, (lvl, axis) in levels.items() if lvl == depth and axis))
    return allowed, wrong, axes, depth


def _axis_key(document: dict, axes: tuple[str, ...]) -> tuple:
    return tuple(repr(v.value_of(document, code, None, None)) for code in axes)


def prepare_product(
    item: dict,
    existing: Product | None,
    structure: v.Structure,
    lookups: Lookups,
    *,
    partial: bool,
    expected_version: int | None = None,
) -> tuple[Prepared | None, v.ValueErrors]:
    errors = v.ValueErrors()
    _check_fields(item, errors)
    sku = item.get("sku") if existing is None else existing.sku
    if existing is None:
        if not isinstance(sku, str) or not sku:
            errors.add("sku", "a SKU is required")
            return None, errors
        try:
            sku_validator(sku)
        except Exception as exc:  # ValidationError carries the rule's message
            errors.add("sku", " ".join(getattr(exc, "messages", [str(exc)])))
            return None, errors
    elif "sku" in item and item["sku"] != existing.sku:
        errors.add("sku", f"a SKU cannot change once created (it is {existing.sku!r})")
    if (
        existing is not None
        and expected_version is not None
        and existing.version != expected_version
    ):
        raise stale_write(
            f"product {existing.sku}",
            expected_version,
            existing.version,
            serialize(existing),
            then=APPLY_AGAIN,
        )

    product = existing or Product(sku=sku)
    old_values = dict(existing.values) if existing else {}
    changes: list[dict] = []

    # parent (variant) and family
    parent = existing.parent if existing else None
    if "parent" in item:
        code = item["parent"]
        if code in (None, ""):
            if existing and existing.parent_id:
                errors.add("parent", "a variant cannot be detached from its product model")
            parent = None
        elif code not in lookups.models:
            errors.add("parent", f"unknown product model {code!r}")
        else:
            parent = lookups.models[code]
            if existing and existing.parent_id and existing.parent_id != parent.pk:
                changes.append({"field": "parent", "old": existing.parent.code, "new": parent.code})
    family = existing.family if existing else None
    if parent is not None:
        fv_family = parent.family_variant.family
        if "family" in item and item["family"] not in (None, fv_family.code):
            errors.add("family", f"a variant of {parent.code} has the family {fv_family.code}")
        family = fv_family
    elif "family" in item:
        code = item["family"]
        if code in (None, ""):
            family = None
        elif code not in lookups.families:
            errors.add("family", f"unknown family {code!r}")
        else:
            family = lookups.families[code]
    if (existing.family_id if existing else None) != (family.pk if family else None):
        changes.append(
            {
                "field": "family",
                "old": existing.family.code if existing and existing.family else None,
                "new": family.code if family else None,
            }
        )

    # values
    allowed, wrong, axes, depth = None, None, (), 0
    if parent is not None:
        allowed, wrong, axes, depth = _variant_rules(parent, structure)
        if depth == 2 and parent.parent_id is None:
            errors.add(
                "parent",
                f"{parent.code} is a root model; variants of this family "
                "variant hang under a sub product model",
            )
        elif depth == 1 and parent.parent_id is not None:
            errors.add(
                "parent", f"{parent.code} is a sub product model of a one-level family variant"
            )
    elif family is not None:
        allowed = structure.family_attributes.get(family.pk, frozenset())
    new_values = old_values
    if "values" in item:
        checked = v.check_document(
            item["values"], structure, errors, allowed=allowed, wrong_level=wrong, partial=partial
        )
        new_values = v.merge(old_values, checked) if partial else v.normalise_order(checked)
    changes.extend(v.diff(old_values, new_values))
    for code in axes:
        if v.value_of(new_values, code, None, None) is None:
            errors.add(code, "is a variant axis: every variant needs a value")

    enabled = existing.enabled if existing else True
    if "enabled" in item:
        if not isinstance(item["enabled"], bool):
            errors.add("enabled", "expected true or false")
        else:
            if existing and existing.enabled != item["enabled"]:
                changes.append(
                    {"field": "enabled", "old": existing.enabled, "new": item["enabled"]}
                )
            enabled = item["enabled"]

    categories = _codes(item, "categories", lookups.categories, errors, "category")
    groups = _codes(item, "groups", lookups.groups, errors, "group")
    associations = _associations(item, lookups, errors)
    if errors:
        return None, errors

    product.family = family
    product.parent = parent
    product.enabled = enabled
    product.values = new_values
    prepared = Prepared(
        product=product,
        created=existing is None,
        changes=changes,
        categories=categories,
        groups=groups,
        associations=associations,
        action="create" if existing is None else "update",
    )
    prepared.axes = (axes, _axis_key(new_values, axes)) if axes else None
    return prepared, errors


def _associations(item: dict, lookups: Lookups, errors: v.ValueErrors):
    """{"X_SELL": {"products": ["SKU", …], "product_models": […], "groups": […]},
    "PACK": {"products": [{"sku": "FILTER-2", "quantity": 2}]}} → unsaved Association rows."""
    if "associations" not in item:
        return None
    data = item["associations"]
    if not isinstance(data, dict):
        errors.add("associations", "expected an object keyed by association type")
        return None
    rows = []
    for type_code, targets in data.items():
        t = lookups.association_types.get(type_code)
        if t is None:
            errors.add("associations", f"unknown association type {type_code!r}")
            continue
        if not isinstance(targets, dict):
            errors.add("associations", f"{type_code}: expected products/product_models/groups")
            continue
        for sku_or_item in targets.get("products", []):
            sku, qty = (
                (sku_or_item, None)
                if isinstance(sku_or_item, str)
                else (sku_or_item.get("sku"), sku_or_item.get("quantity"))
            )
            if t.quantified and (not isinstance(qty, int) or qty < 1):
                errors.add("associations", f"{type_code}: {sku} needs a quantity of at least 1")
                continue
            rows.append(("product", t, sku, qty if t.quantified else None))
        for code in targets.get("product_models", []):
            rows.append(("model", t, code, None))
        for code in targets.get("groups", []):
            rows.append(("group", t, code, None))
    return rows


# --- applying a batch ----------------------------------------------------------------------------


def apply_batch(batch: list[Prepared], structure: v.Structure, *, action_label: str) -> None:
    """Write a batch of prepared items in one transaction with a fixed number of statements."""
    now = timezone.now()
    actor = audit.current_actor()
    new = [p for p in batch if p.created]
    old = [p for p in batch if not p.created]
    _check_axes(batch)
    _check_unique(batch, structure)
    for p in new:
        p.product.created_at = now
        p.product.updated_at = now
    if new:
        Product.objects.bulk_create([p.product for p in new], batch_size=BATCH)
        missing_pk = [p.product for p in new if p.product.pk is None]
        if missing_pk:  # backends without RETURNING on bulk insert
            ids = dict(
                Product.objects.filter(sku__in=[x.sku for x in missing_pk]).values_list("sku", "id")
            )
            for x in missing_pk:
                x.pk = x.id = ids[x.sku]
    if old:
        for p in old:
            p.product.updated_at = now
        # The version check of each item happened in _prepare under this same transaction;
        # the UPDATE bumps it, so a concurrent writer's stale version misses.
        for p in old:
            updated = Product.objects.filter(pk=p.product.pk, version=p.product.version).update(
                family=p.product.family,
                parent=p.product.parent,
                enabled=p.product.enabled,
                values=p.product.values,
                updated_at=now,
                version=F("version") + 1,
            )
            if not updated:
                raise StaleWrite(f"product {p.product.sku} was changed meanwhile; try again")
            p.product.version += 1

    ids = [p.product.pk for p in batch]
    _write_m2m(batch)
    _write_associations(batch)
    variant_docs = resolve_batch(batch)
    _write_index(ids, variant_docs, structure)
    write_completeness(batch, variant_docs, structure)
    _write_search(batch, variant_docs, structure)
    _write_history(batch, now, actor)
    if len(batch) == 1:
        p = batch[0]
        audit.record(
            f"product.{p.action}",
            p.product,
            summary=f"{p.action} {p.product.sku}",
            changes={"count": len(p.changes)},
        )
    elif batch:
        audit.record(
            f"product.{action_label}",
            object_type="catalog.product",
            summary=f"{action_label}: {len(new)} created, {len(old)} updated",
            changes={"skus": [p.product.sku for p in batch[:50]], "count": len(batch)},
        )


def _write_history(batch: list[Prepared], now, actor) -> None:
    """One ProductChange row per created or changed product, as plain rows (_insert_rows):
    on PostgreSQL a model instance per row and one VALUES insert of the whole batch were
    ~10 % of an import there (psycopg parses that long statement's text in Python)."""
    at = ProductChange._meta.get_field("at").get_db_prep_save(now, connection)
    changes = ProductChange._meta.get_field("changes")
    user_id = actor.user.pk if getattr(actor.user, "pk", None) else None
    username = actor.label if actor.user else ""
    _insert_rows(
        ProductChange,
        ("product", "version", "at", "user", "username", "via", "action", "changes", "proposal"),
        (
            (
                p.product.pk,
                p.product.version,
                at,
                user_id,
                username,
                actor.via,
                p.action,
                changes.get_db_prep_save(p.changes, connection),
                p.proposal.pk if p.proposal is not None else None,
            )
            for p in batch
            if p.changes or p.created
        ),
    )


def _check_axes(batch: list[Prepared]) -> None:
    """Two variants of one model never share axis values (in the batch or in the database)."""
    by_parent: dict[int, list[Prepared]] = {}
    for p in batch:
        if getattr(p, "axes", None):
            by_parent.setdefault(p.product.parent_id, []).append(p)
    for parent_id, items in by_parent.items():
        axes = items[0].axes[0]
        taken = {}
        siblings = Product.objects.filter(parent_id=parent_id).exclude(
            pk__in=[p.product.pk for p in items if p.product.pk]
        )
        for sku, values in siblings.values_list("sku", "values"):
            taken[_axis_key(values, axes)] = sku
        for p in items:
            key = p.axes[1]
            if key in taken:
                combo = ", ".join(f"{a}={k}" for a, k in zip(axes, key, strict=True))
                raise InvalidInput(
                    f"{p.product.sku}: variant {taken[key]} of the same model already has {combo}",
                    details=[
                        {
                            "sku": p.product.sku,
                            "attribute": ",".join(axes),
                            "reason": f"duplicate axis values ({combo}) with {taken[key]}",
                        }
                    ],
                )
            taken[key] = p.product.sku


def _check_unique(batch: list[Prepared], structure: v.Structure) -> None:
    unique = [a for a in structure.attributes.values() if a.unique]
    if not unique:
        return
    for a in unique:
        seen: dict[tuple, str] = {}
        for p in batch:
            for e in p.product.values.get(a.code, []):
                key = (e["locale"], e["scope"], str(e["data"]))
                if key in seen and seen[key] != p.product.sku:
                    raise InvalidInput(
                        f"{p.product.sku}: {a.code} {e['data']!r} is also given to "
                        f"{seen[key]}; it must be unique",
                        details=[
                            {"sku": p.product.sku, "attribute": a.code, "reason": "not unique"}
                        ],
                    )
                seen[key] = p.product.sku
        if not seen:
            continue
        clash = (
            ValueIndex.objects.filter(attribute_id=a.id, text__in=[k[2] for k in seen])
            .exclude(product_id__in=[p.product.pk for p in batch if p.product.pk])
            .values_list("text", "product__sku")
            .first()
        )
        if clash:
            raise InvalidInput(
                f"{a.code} {clash[0]!r} belongs to {clash[1]} already; it must be unique",
                details=[{"attribute": a.code, "reason": "not unique", "other_sku": clash[1]}],
            )


def _write_m2m(batch: list[Prepared]) -> None:
    for rel, attr in (
        (Product.categories.through, "categories"),
        (Product.groups.through, "groups"),
    ):
        target = "category_id" if attr == "categories" else "productgroup_id"
        changed = [p for p in batch if getattr(p, attr) is not None]
        if not changed:
            continue
        current: dict[int, set[int]] = {}
        for pid, tid in rel.objects.filter(
            product_id__in=[p.product.pk for p in changed]
        ).values_list("product_id", target):
            current.setdefault(pid, set()).add(tid)
        rel.objects.filter(product_id__in=[p.product.pk for p in changed]).delete()
        _insert_rows(
            rel,
            ("product", target.removesuffix("_id")),
            ((p.product.pk, t) for p in changed for t in getattr(p, attr)),
        )
        for p in changed:
            before = sorted(current.get(p.product.pk, ()))
            if before != list(getattr(p, attr)) and not p.created:
                p.changes.append({"field": attr, "old": before, "new": list(getattr(p, attr))})


def _write_associations(batch: list[Prepared]) -> None:
    changed = [p for p in batch if p.associations is not None]
    if not changed:
        return
    skus = {row[2] for p in changed for row in p.associations if row[0] == "product"}
    products = dict(Product.objects.filter(sku__in=skus).values_list("sku", "id"))
    products.update({p.product.sku: p.product.pk for p in batch})
    models = dict(
        ProductModel.objects.values_list("code", "id").filter(
            code__in={row[2] for p in changed for row in p.associations if row[0] == "model"}
        )
    )
    groups = dict(
        ProductGroup.objects.values_list("code", "id").filter(
            code__in={row[2] for p in changed for row in p.associations if row[0] == "group"}
        )
    )
    types = {row[1].pk for p in changed for row in p.associations}
    Association.objects.filter(product_id__in=[p.product.pk for p in changed]).delete()
    rows = []
    for p in changed:
        for kind, t, code, qty in p.associations:
            table = {"product": products, "model": models, "group": groups}[kind]
            if code not in table:
                raise InvalidInput(
                    f"{p.product.sku}: association {t.code} names unknown {kind} {code!r}",
                    details=[
                        {
                            "sku": p.product.sku,
                            "attribute": "associations",
                            "reason": f"unknown {kind} {code}",
                        }
                    ],
                )
            target = {
                "product": "target_product_id",
                "model": "target_model_id",
                "group": "target_group_id",
            }[kind]
            rows.append(
                Association(product_id=p.product.pk, type=t, quantity=qty, **{target: table[code]})
            )
            if t.two_way and kind == "product" and table[code] != p.product.pk:
                Association.objects.filter(
                    product_id=table[code], type=t, target_product_id=p.product.pk
                ).delete()
                rows.append(
                    Association(
                        product_id=table[code], type=t, quantity=qty, target_product_id=p.product.pk
                    )
                )
    del types
    Association.objects.bulk_create(rows, batch_size=BATCH)


def resolve_batch(batch: list[Prepared]) -> dict[int, dict]:
    docs = {}
    for p in batch:
        p.resolved = resolved_values(p.product) if p.product.parent_id else p.product.values
        docs[p.product.pk] = p.resolved
    return docs


def _insert_rows(model, fields: tuple[str, ...], rows: Iterable[tuple]) -> None:
    """INSERT derived rows (index, completeness, category links) with cursor.executemany.

    Performance: bulk_create builds and then takes apart one model instance per row, which
    was about half of the write path's time at 20+ rows per product (bench/bench_catalog.py);
    these rows have no defaults, signals or returned ids to care about, so plain tuples in
    the column order of `fields` go straight to the driver, in chunks. On PostgreSQL they
    are streamed with COPY: psycopg's executemany formats and sends one statement per row,
    which made the index rows 2–3× slower to write there than on SQLite.
    """
    qn = connection.ops.quote_name
    columns = ", ".join(qn(model._meta.get_field(f).column) for f in fields)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            copy_sql = f"COPY {qn(model._meta.db_table)} ({columns}) FROM STDIN"
            with cursor.cursor.copy(copy_sql) as copy:
                for row in rows:
                    copy.write_row(row)
        return
    sql = (
        f"INSERT INTO {qn(model._meta.db_table)} ({columns}) "  # noqa: S608 - names from _meta
        f"VALUES ({', '.join(['%s'] * len(fields))})"
    )
    chunk: list[tuple] = []
    with connection.cursor() as cursor:
        for row in rows:
            chunk.append(row)
            if len(chunk) >= BATCH * 5:
                cursor.executemany(sql, chunk)
                chunk = []
        if chunk:
            cursor.executemany(sql, chunk)


def _write_index(ids: list[int], docs: dict[int, dict], structure: v.Structure) -> None:
    ValueIndex.objects.filter(product_id__in=ids).delete()
    _insert_rows(
        ValueIndex,
        ("product", "attribute", "locale", "scope", "unit", "text", "number"),
        (
            (pid, *row)  # row: (attribute_id, locale, scope, unit, text, number)
            for pid, doc in docs.items()
            for row in v.index_rows(doc, structure)
        ),
    )


def write_completeness(batch: list[Prepared], docs: dict[int, dict], structure: v.Structure):
    # Rows complete before this write, read only when someone listens for products becoming
    # complete (webhooks): the one extra query per batch that noticing it costs.
    before = (
        set(
            Completeness.objects.filter(product_id__in=list(docs), ratio=100).values_list(
                "product_id", "channel_id", "locale_id"
            )
        )
        if catalog_signals.completeness_watched()
        else None
    )
    Completeness.objects.filter(product_id__in=list(docs)).delete()
    # Requirements other domains registered (media), one call per provider for the batch.
    extra: dict[int, dict] = {}
    for (pid, channel_code, locale), counts in completeness.extra_requirements(
        [p.product for p in batch], structure
    ).items():
        extra.setdefault(pid, {})[(channel_code, locale)] = counts
    missing = Completeness._meta.get_field("missing")
    reached: list[tuple[int, str, str]] = []

    def rows():
        for p in batch:
            for row in completeness.compute(
                docs[p.product.pk], p.product.family_id, structure, extra.get(p.product.pk)
            ):
                key = (p.product.pk, row["channel_id"], row["locale_id"])
                if before is not None and row["ratio"] == 100 and key not in before:
                    reached.append((p.product.pk, row["channel"], row["locale"]))
                yield (
                    p.product.pk,
                    row["channel_id"],
                    row["locale_id"],
                    row["required"],
                    row["filled"],
                    row["ratio"],
                    missing.get_db_prep_save(row["missing"], connection),  # JSON for the backend
                    False,
                )

    _insert_rows(
        Completeness,
        ("product", "channel", "locale", "required", "filled", "ratio", "missing", "stale"),
        rows(),
    )
    if reached:
        catalog_signals.completeness_reached.send(
            sender=Completeness, reached=reached, products={p.product.pk: p.product for p in batch}
        )


def _write_search(batch: list[Prepared], docs: dict[int, dict], structure: v.Structure) -> None:
    search_index.index_documents(
        _search_doc(p.product, docs[p.product.pk], structure) for p in batch
    )


def _search_doc(product: Product, doc: dict, structure: v.Structure):
    # Title and body come from one pass over the document (sanitising rich text is not free).
    title, body = v.text_for_search(doc, structure)
    return search_index.SearchDoc(
        kind="product",
        ref_id=product.pk,
        identifiers=[product.sku, *_gtins(doc, structure)],
        title=title,
        body=body,
    )


def _gtins(doc: dict, structure: v.Structure) -> list[str]:
    return [
        str(e["data"])
        for code, entries in doc.items()
        if (a := structure.attributes.get(code)) and a.is_gtin
        for e in entries
    ]


# --- public writes ---


def serialize(product: Product, *, resolved: bool = False) -> dict:
    return {
        "sku": product.sku,
        "family": product.family.code if product.family_id else None,
        "parent": product.parent.code if product.parent_id else None,
        "enabled": product.enabled,
        "values": resolved_values(product) if resolved else product.values,
        "version": product.version,
    }


def _raise(errors: v.ValueErrors, subject: str):
    raise InvalidInput(errors.message(subject), details=errors.items)


@transaction.atomic
def create_product(data: dict, *, user=None) -> Product:
    if Product.objects.filter(sku=data.get("sku")).exists():
        raise Conflict(
            f"a product with SKU {data.get('sku')!r} exists already",
            details={"sku": data.get("sku")},
        )
    structure = v.Structure.load()
    prepared, errors = prepare_product(data, None, structure, Lookups([data]), partial=False)
    if errors:
        _raise(errors, f"product {data.get('sku')} not created")
    scoping.check_products([prepared], user)
    try:
        with transaction.atomic():
            apply_batch([prepared], structure, action_label="create")
    except IntegrityError:
        raise Conflict(f"a product with SKU {data.get('sku')!r} exists already") from None
    return prepared.product


@transaction.atomic
def update_product(
    sku: str, patch: dict, *, expected_version: int | None = None, user=None
) -> Product | Proposal:
    """Merge `patch` into the product. Under review, the change becomes a proposal instead."""
    product = Product.objects.select_for_update().filter(sku=sku).first()
    if product is None:
        raise NotFound(f"no product with SKU {sku!r}", details={"sku": sku})
    # Out of the editor's scope is a 403 whatever the patch holds (checked again once the
    # patch is known: the product must stay in scope).
    scoping.check_product(product, user)
    structure = v.Structure.load()
    prepared, errors = prepare_product(
        patch, product, structure, Lookups([patch]), partial=True, expected_version=expected_version
    )
    if errors:
        _raise(errors, f"product {sku} not saved")
    scoping.check_products([prepared], user)
    if needs_review(prepared.product.family_id, user or audit.current_actor().user):
        return propose(product, patch, user or audit.current_actor().user)
    apply_batch([prepared], structure, action_label="update")
    return prepared.product


@transaction.atomic
def delete_product(sku: str, *, expected_version: int | None = None, user=None) -> None:
    product = get_product(sku)
    scoping.check_product(product, user)
    if expected_version is not None and product.version != expected_version:
        raise StaleWrite(
            f"product {sku} was changed meanwhile",
            details={"current_version": product.version, "current": serialize(product)},
        )
    audit.record(
        "product.delete", product, summary=f"delete {sku}", changes={"snapshot": serialize(product)}
    )
    search_index.remove_documents("product", [product.pk])
    product.delete()


def bulk_upsert(items: Iterable[Any], *, batch_size: int = BATCH, user=None) -> Iterator[dict]:
    """Create or update many products; yields one status line per item, in input order.

    Items are validated one by one; the valid ones of a batch are written together, so a bad
    item is reported and skipped without half-writing anything. An item that becomes invalid
    only against the rest of its batch (duplicate axis values or unique values) is retried
    alone so that only it fails.
    """
    # The structure is read once per call: with 1,000 attributes reading it costs as much as
    # writing a few hundred products, and an import does not change it while it runs.
    structure = None
    # Who may change what is read once too: the acting editor's category trees, if scoped.
    # (`user` for callers that consume this generator outside the request, e.g. streaming.)
    scope = scoping.editor_scope(user)
    batch: list[tuple[int, Any]] = []
    for line, item in enumerate(items, start=1):
        batch.append((line, item))
        if len(batch) >= batch_size:
            structure = structure or v.Structure.load()
            yield from _upsert_batch(batch, structure, scope)
            batch = []
    if batch:
        yield from _upsert_batch(batch, structure or v.Structure.load(), scope)


def _upsert_batch(batch: list[tuple[int, Any]], structure: v.Structure, scope=None) -> list[dict]:
    results: dict[int, dict] = {}
    dicts = [item for _, item in batch if isinstance(item, dict)]
    with transaction.atomic():
        lookups = Lookups(dicts)
        existing = {
            p.sku: p
            for p in Product.objects.select_related(
                "parent__parent", "parent__family_variant", "family"
            ).filter(sku__in=[d.get("sku") for d in dicts if isinstance(d.get("sku"), str)])
        }
        prepared: list[tuple[int, Prepared]] = []
        seen: set[str] = set()
        for line, item in batch:
            sku = item.get("sku") if isinstance(item, dict) else None
            if not isinstance(item, dict):
                results[line] = _status(line, None, "error", "expected a JSON object")
                continue
            if sku in seen:
                results[line] = _status(
                    line,
                    sku,
                    "error",
                    "the same SKU appears twice in this request; send one item per SKU",
                )
                continue
            try:
                p, errors = prepare_product(
                    item,
                    existing.get(sku),
                    structure,
                    lookups,
                    partial=sku in existing,
                    expected_version=item.get("version"),
                )
            except StaleWrite as exc:
                results[line] = _status(line, sku, "conflict", exc.message)
                continue
            if errors:
                results[line] = _status(line, sku, "error", errors.message(f"{sku}"), errors.items)
                continue
            seen.add(sku)
            prepared.append((line, p))
        drop_unchanged_relations([p for _, p in prepared if not p.created])
        for line, p in list(prepared):
            if (
                not p.created
                and not p.changes
                and all(x is None for x in (p.categories, p.groups, p.associations))
            ):
                results[line] = _status(line, p.product.sku, "unchanged")
                prepared.remove((line, p))
        # Out of the editor's category trees (unchanged items above are no write): refused
        # per item, the rest of the batch goes on.
        refused = scoping.out_of_scope_products(scope, [p for _, p in prepared])
        for line, p in list(prepared):
            if p.product.sku in refused:
                results[line] = _status(line, p.product.sku, "forbidden", refused[p.product.sku])
                prepared.remove((line, p))
        try:
            with transaction.atomic():
                apply_batch([p for _, p in prepared], structure, action_label="bulk_upsert")
            for line, p in prepared:
                results[line] = _status(line, p.product.sku, "created" if p.created else "updated")
        except (InvalidInput, IntegrityError):
            # One item clashes with another of the batch: write them one by one.
            for line, p in prepared:
                try:
                    with transaction.atomic():
                        if p.created:
                            p.product.pk = None
                        apply_batch([p], structure, action_label="bulk_upsert")
                    results[line] = _status(
                        line, p.product.sku, "created" if p.created else "updated"
                    )
                except InvalidInput as exc:
                    results[line] = _status(line, p.product.sku, "error", exc.message, exc.details)
                except IntegrityError as exc:
                    results[line] = _status(line, p.product.sku, "error", f"not saved: {exc}")
        # Crash tests kill the process here, before the commit: none of the batch is kept.
        faults.point("catalog.batch_before_commit")
    return [results[line] for line, _ in batch]


def drop_unchanged_relations(items: list[Prepared]) -> None:
    """Re-sending a product's current categories, groups or associations is no change, so a
    re-run of the same import writes nothing and records no history."""
    if not items:
        return
    ids = [p.product.pk for p in items]
    current: dict[str, dict[int, list]] = {"categories": {}, "groups": {}}
    for attr, rel, target in (
        ("categories", Product.categories.through, "category_id"),
        ("groups", Product.groups.through, "productgroup_id"),
    ):
        for pid, tid in rel.objects.filter(product_id__in=ids).values_list("product_id", target):
            current[attr].setdefault(pid, []).append(tid)
    links: dict[int, set] = {}
    for row in Association.objects.filter(product_id__in=ids).values_list(
        "product_id",
        "type__code",
        "target_product__sku",
        "target_model__code",
        "target_group__code",
        "quantity",
    ):
        links.setdefault(row[0], set()).add(row[1:])
    for p in items:
        for attr in ("categories", "groups"):
            if getattr(p, attr) is not None and sorted(
                current[attr].get(p.product.pk, [])
            ) == getattr(p, attr):
                setattr(p, attr, None)
        if p.associations is not None:
            wanted = {
                (
                    t.code,
                    code if kind == "product" else None,
                    code if kind == "model" else None,
                    code if kind == "group" else None,
                    qty,
                )
                for kind, t, code, qty in p.associations
            }
            if wanted == links.get(p.product.pk, set()):
                p.associations = None


def _status(line, sku, status, message="", details=None) -> dict:
    out = {"line": line, "sku": sku, "status": status}
    if message:
        out["message"] = message
    if details:
        out["details"] = details
    return out


# --- history ------------------------------------------------------------------------------------


def history(sku: str):
    product = get_product(sku)
    return product.history.select_related("proposal__proposed_by", "proposal__reviewed_by")


@transaction.atomic
def restore_version(sku: str, version: int, *, expected_version: int | None = None) -> Product:
    """Bring a product back to an earlier version (as a new version: history is never rewritten)."""
    product = Product.objects.select_for_update().filter(sku=sku).first()
    if product is None:
        raise NotFound(f"no product with SKU {sku!r}")
    scoping.check_product(product)
    if not 1 <= version < product.version:
        raise InvalidInput(
            f"{sku} has versions 1 to {product.version}; cannot restore {version}",
            details={"sku": sku, "version": version},
        )
    doc = product.values
    enabled, categories = product.enabled, None
    for change in product.history.filter(version__gt=version).order_by("-version"):
        doc = v.undo(doc, change.changes)
        for c in change.changes:
            if c.get("field") == "enabled":
                enabled = c["old"]
            elif c.get("field") == "categories":
                categories = c["old"]
    structure = v.Structure.load()
    patch_values = {
        code: [{"locale": e["locale"], "scope": e["scope"], "data": None} for e in entries]
        for code, entries in product.values.items()
        if code not in doc
    }
    for code, entries in doc.items():
        patch_values.setdefault(code, []).extend(entries)
    prepared, errors = prepare_product(
        {"values": patch_values, "enabled": enabled},
        product,
        structure,
        Lookups([]),
        partial=True,
        expected_version=expected_version,
    )
    if errors:
        _raise(errors, f"version {version} of {sku} cannot be restored under today's structure")
    if categories is not None:
        prepared.categories = categories
    scoping.check_products([prepared])
    prepared.action = "restore"
    prepared.changes.insert(0, {"field": "restored_version", "old": None, "new": version})
    apply_batch([prepared], structure, action_label="restore")
    return prepared.product


# --- review ---


def propose(product: Product, patch: dict, user) -> Proposal:
    proposal = Proposal.objects.create(
        product=product,
        base_version=product.version,
        changes=patch,
        proposed_by=user if getattr(user, "pk", None) else None,
    )
    audit.record("product.propose", product, summary=f"proposal {proposal.pk} for {product.sku}")
    return proposal


@transaction.atomic
def review_proposal(proposal_id: int, *, approve: bool, comment: str = "", user=None) -> Proposal:
    user = user or audit.current_actor().user
    if user is None or not user.has_perm("catalog.review_product"):
        raise PermissionDenied("only catalog reviewers approve or reject proposals")
    proposal = (
        Proposal.objects.select_for_update()
        .select_related("product")
        .filter(pk=proposal_id)
        .first()
    )
    if proposal is None:
        raise NotFound(f"no proposal {proposal_id}")
    if proposal.status != Proposal.Status.PENDING:
        raise Conflict(f"proposal {proposal_id} is {proposal.status} already")
    if approve and proposal.proposed_by_id == user.pk:
        raise PermissionDenied("a proposal is approved by someone other than its author")
    proposal.status = Proposal.Status.APPROVED if approve else Proposal.Status.REJECTED
    proposal.reviewed_by, proposal.reviewed_at, proposal.comment = user, timezone.now(), comment
    proposal.save()
    if approve:
        product = proposal.product
        structure = v.Structure.load()
        prepared, errors = prepare_product(
            proposal.changes, product, structure, Lookups([proposal.changes]), partial=True
        )
        if errors:
            _raise(errors, f"proposal {proposal_id} no longer applies")
        prepared.action = "approve"
        prepared.proposal = proposal
        apply_batch([prepared], structure, action_label="approve")
    audit.record(
        "proposal.approve" if approve else "proposal.reject",
        proposal,
        summary=f"{proposal.product.sku}: {comment[:200]}",
    )
    return proposal


# --- product models ---


def get_model(code: str) -> ProductModel:
    model = (
        ProductModel.objects.select_related("parent", "family_variant__family")
        .filter(code=code)
        .first()
    )
    if model is None:
        raise NotFound(f"no product model {code!r}", details={"code": code})
    return model


def _model_rules(fv: FamilyVariant, level: int, structure: v.Structure):
    levels = structure.variant_levels.get(fv.pk, {})
    family_attrs = structure.family_attributes.get(fv.family_id, frozenset())
    own = frozenset(c for c in family_attrs | set(levels) if levels.get(c, (0, False))[0] == level)
    wrong = {}
    for code in (family_attrs | set(levels)) - own:
        lvl = levels.get(code, (0, False))[0]
        where = {
            0: "the root product model",
            1: "the level-1 sub product model or variant",
            2: "the variant products",
        }[lvl]
        wrong[code] = f"belongs to {where} (variant level {lvl})"
    axes = tuple(sorted(c for c, (lvl, axis) in levels.items() if lvl == level and axis))
    return own, wrong, axes


def save_model(data: dict, *, expected_version: int | None = None, create: bool) -> ProductModel:
    """Create or update (merge) a product model; its variants are re-indexed in the same
    transaction because they inherit its values."""
    errors = v.ValueErrors()
    allowed_fields = {"code", "family_variant", "parent", "categories", "values", "version"}
    for name in sorted(set(data) - allowed_fields):
        errors.add(name, "unknown field")
    code = data.get("code")
    with transaction.atomic():
        structure = v.Structure.load()
        if create:
            if not isinstance(code, str) or not code:
                raise InvalidInput("a product model needs a code", details={"field": "code"})
            if ProductModel.objects.filter(code=code).exists():
                raise Conflict(f"a product model {code!r} exists already")
            parent = get_model(data["parent"]) if data.get("parent") else None
            if parent is not None:
                fv = parent.family_variant
                if parent.parent_id is not None:
                    raise InvalidInput(
                        f"{parent.code} is a sub product model; models nest one level only",
                        details={"field": "parent"},
                    )
            else:
                fv = (
                    FamilyVariant.objects.select_related("family")
                    .filter(code=data.get("family_variant"))
                    .first()
                )
                if fv is None:
                    raise InvalidInput(
                        f"unknown family variant {data.get('family_variant')!r}",
                        details={"field": "family_variant"},
                    )
            model = ProductModel(code=code, family_variant=fv, parent=parent)
            old_values: dict = {}
        else:
            model = (
                ProductModel.objects.select_for_update(of=("self",))
                .select_related("family_variant__family", "parent")
                .filter(code=code)
                .first()
            )
            if model is None:
                raise NotFound(f"no product model {code!r}")
            scoping.check_model(model, None)
            if expected_version is not None and model.version != expected_version:
                raise StaleWrite(
                    f"product model {code} was changed meanwhile",
                    details={"current_version": model.version},
                )
            for fixed in ("family_variant", "parent"):
                if fixed in data and data[fixed] != getattr(getattr(model, fixed), "code", None):
                    errors.add(fixed, f"the {fixed.replace('_', ' ')} of a model cannot change")
            fv = model.family_variant
            old_values = dict(model.values)
        levels = max(
            (lvl for lvl, _ in structure.variant_levels.get(fv.pk, {}).values()), default=1
        )
        level = 0 if model.parent_id is None and model.parent is None else 1
        if level == 1 and levels < 2:
            errors.add("parent", f"family variant {fv.code} has one level: no sub product models")
        allowed, wrong, axes = _model_rules(fv, level, structure)
        new_values = old_values
        if "values" in data:
            checked = v.check_document(
                data["values"],
                structure,
                errors,
                allowed=allowed,
                wrong_level=wrong,
                partial=not create,
            )
            new_values = v.merge(old_values, checked) if not create else v.normalise_order(checked)
        for axis in axes:
            if v.value_of(new_values, axis, None, None) is None:
                errors.add(axis, "is a variant axis: every sub product model needs a value")
        categories = (
            _codes(
                data,
                "categories",
                dict(
                    Category.objects.filter(code__in=data.get("categories") or []).values_list(
                        "code", "id"
                    )
                ),
                errors,
                "category",
            )
            if isinstance(data.get("categories"), list)
            else None
        )
        if errors:
            _raise(errors, f"product model {code} not saved")
        scoping.check_model(model, categories)
        if axes:
            key = _axis_key(new_values, axes)
            for other, vals in (
                ProductModel.objects.filter(parent=model.parent)
                .exclude(pk=model.pk)
                .values_list("code", "values")
            ):
                if _axis_key(vals, axes) == key:
                    raise InvalidInput(
                        f"sub product model {other} already has these axis values",
                        details=[
                            {
                                "attribute": ",".join(axes),
                                "reason": f"duplicate axis values with {other}",
                            }
                        ],
                    )
        changes = v.diff(old_values, new_values)
        if not create and categories is not None:
            # A change of categories alone is a change too: it gets a version (so a
            # concurrent edit based on the earlier one is refused) and a history entry.
            old_codes = sorted(model.categories.values_list("code", flat=True))
            new_codes = sorted(set(data["categories"]))
            if old_codes != new_codes:
                changes = [*changes, {"field": "categories", "old": old_codes, "new": new_codes}]
        model.values = new_values
        if create:
            model.save()
        elif changes:
            ProductModel.objects.filter(pk=model.pk).update(
                values=new_values, version=F("version") + 1, updated_at=timezone.now()
            )
            model.version += 1
        if categories is not None:
            model.categories.set(categories)
        if changes or create:
            actor = audit.current_actor()
            ProductChange.objects.create(
                product_model=model,
                version=model.version,
                action="create" if create else "update",
                changes=changes,
                user=actor.user if getattr(actor.user, "pk", None) else None,
                username=actor.label if actor.user else "",
                via=actor.via,
            )
            audit.record(
                f"product_model.{'create' if create else 'update'}",
                model,
                summary=f"{'create' if create else 'update'} model {code}",
                changes={"count": len(changes)},
            )
            if not create:
                refresh_variants(model, structure)
    return model


def refresh_variants(model: ProductModel, structure: v.Structure) -> int:
    """Re-derive index, completeness and search of every variant below `model`."""
    variants = list(
        Product.objects.select_related("parent__parent", "family").filter(
            Q(parent=model) | Q(parent__parent=model)
        )
    )
    for start in range(0, len(variants), BATCH):
        chunk = [
            Prepared(product=p, created=False, changes=[]) for p in variants[start : start + BATCH]
        ]
        docs = resolve_batch(chunk)
        _write_index([p.product.pk for p in chunk], docs, structure)
        write_completeness(chunk, docs, structure)
        _write_search(chunk, docs, structure)
    return len(variants)


def model_history(code: str):
    return get_model(code).history.all()


def restore_model_version(code: str, version: int, *, expected_version: int | None = None):
    """Bring a product model's values back to an earlier version (as a new version)."""
    model = get_model(code)
    if not 1 <= version < model.version:
        raise InvalidInput(
            f"{code} has versions 1 to {model.version}; cannot restore {version}",
            details={"code": code, "version": version},
        )
    doc = model.values
    for change in model.history.filter(version__gt=version).order_by("-version"):
        doc = v.undo(doc, change.changes)
    patch = {
        attr: [{"locale": e["locale"], "scope": e["scope"], "data": None} for e in entries]
        for attr, entries in model.values.items()
        if attr not in doc
    }
    for attr, entries in doc.items():
        patch.setdefault(attr, []).extend(entries)
    return save_model(
        {"code": code, "values": patch}, expected_version=expected_version, create=False
    )
