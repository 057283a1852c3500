"""Bulk edit: the same operations applied to every product of a filtered selection, as a
background job.

Operations (validated against the structure before any job starts; a bad one is a 422):

    {"op": "set", "attribute": "color", "locale": null, "scope": null, "data": "blue"}
    {"op": "set", "attribute": "name", "locale": "en_US", "scope": null, "data": null}  # clear
    {"op": "add" | "remove", "attribute": "materials", "data": ["glass"]}   # multi-selects and
                                                                            # asset collections
    {"op": "set" | "add" | "remove", "field": "categories" | "groups", "value": ["coffee"]}
    {"op": "set", "field": "family", "value": "bottles"}
    {"op": "enable"} / {"op": "disable"}

Each product goes through the same prepare/apply steps as a single edit, so it is saved whole
or not at all; a product the operations do not fit (an attribute outside its family, a
variant's inherited attribute) is reported per item and the others go on. Where review is on,
a product's change becomes a proposal, as an edit in the UI would.
"""

import dataclasses
from collections import Counter

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils.dateparse import parse_datetime

from folio import faults
from folio.accounts import audit
from folio.catalog import queries, scoping, services
from folio.catalog import values as v
from folio.catalog.models import Attribute, Category, Family, Product, ProductGroup
from folio.errors import Conflict, InvalidInput
from folio.jobs.models import Job
from folio.jobs.services import JobContext, job, start_job
from folio.words import counted

T = Attribute.Type
BATCH = services.BATCH
SET_LIKE = (T.MULTISELECT, T.ASSET_COLLECTION)
FIELD_OPS = {
    "categories": ("set", "add", "remove"),
    "groups": ("set", "add", "remove"),
    "family": ("set",),
    "enabled": ("set",),
}
_FILTER_ALIASES = {
    "family": "families",
    "category": "categories",
    "channel": "complete_channel",
    "locale": "complete_locale",
    "filter": "conditions",
    "q": "search",
}
_FILTER_FIELDS = {f.name for f in dataclasses.fields(queries.ProductFilter)} | {"skus"}
_LISTS = ("families", "categories", "conditions", "skus")


# --- the selection ------------------------------------------------------------------------------


def normalise_filter(data) -> dict:
    """A ProductFilter-like dict (API names such as `family`, `filter`, `q` accepted) in
    canonical form, JSON-serialisable so that it can travel as a job parameter."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InvalidInput("the filter must be an object", details={"field": "filter"})
    out: dict = {}
    for key, value in data.items():
        name = _FILTER_ALIASES.get(key, key)
        if name not in _FILTER_FIELDS:
            known = ", ".join(sorted(_FILTER_FIELDS))
            raise InvalidInput(
                f"unknown filter {key!r}; use {known}",
                details={"field": f"filter.{key}", "reason": "unknown filter"},
            )
        if name in _LISTS and isinstance(value, str):
            value = [value]
        if name in _LISTS and (
            not isinstance(value, list) or not all(isinstance(x, str) for x in value)
        ):
            raise InvalidInput(
                f"filter {key} expects a list of texts",
                details={"field": f"filter.{key}", "reason": "expected a list"},
            )
        if value is None or (name in _LISTS and not value):
            continue
        out[name] = value
    return out


def selection(data: dict) -> QuerySet:
    """The products a (normalised) filter selects; InvalidInput names what is wrong."""
    kwargs = dict(data)
    skus = kwargs.pop("skus", None)
    kwargs["conditions"] = [queries.parse_condition(c) for c in kwargs.get("conditions", [])]
    if kwargs.get("updated_since"):
        since = parse_datetime(str(kwargs["updated_since"]))
        if since is None:
            raise InvalidInput(
                f"updated_since {kwargs['updated_since']!r} is not an ISO date-time",
                details={"field": "filter.updated_since"},
            )
        kwargs["updated_since"] = since
    for name in ("enabled", "stale"):
        if kwargs.get(name) not in (None, True, False):
            raise InvalidInput(
                f"filter {name} expects true or false", details={"field": f"filter.{name}"}
            )
    qs = queries.filter_products(queries.ProductFilter(**kwargs))
    if skus is not None:
        known = set(Product.objects.filter(sku__in=skus).values_list("sku", flat=True))
        unknown = sorted(set(skus) - known)
        if unknown:
            raise InvalidInput(
                f"unknown SKU {', '.join(unknown[:20])}",
                details={"field": "filter.skus", "unknown": unknown[:100]},
            )
        qs = qs.filter(sku__in=skus)
    return qs


# --- operations ---------------------------------------------------------------------------------


def validate_operations(operations, structure: v.Structure) -> list[dict]:
    """Every operation checked and normalised; InvalidInput lists each problem with the
    operation's index and the attribute, locale, channel and reason."""
    if not isinstance(operations, list) or not operations:
        raise InvalidInput("give at least one operation", details={"field": "operations"})
    problems: list[dict] = []
    clean = []
    for index, raw in enumerate(operations):
        errors = v.ValueErrors()
        op = _operation(raw, structure, errors)
        problems.extend({"operation": index, **item} for item in errors.items)
        if op is not None and not errors:
            clean.append(op)
    if problems:
        first = problems[0]
        where = first["attribute"]
        if first.get("locale"):
            where += f" [{first['locale']}]"
        if first.get("channel"):
            where += f" <{first['channel']}>"
        more = f" (and {counted(len(problems) - 1, 'more problem')})" if len(problems) > 1 else ""
        raise InvalidInput(
            f"operation {first['operation'] + 1}: {where}: {first['reason']}{more}",
            details=problems,
        )
    return clean


def _operation(raw, structure: v.Structure, errors: v.ValueErrors) -> dict | None:
    if not isinstance(raw, dict):
        errors.add("operation", 'expected an object such as {"op": "set", "attribute": …}')
        return None
    op = raw.get("op")
    if op in ("enable", "disable"):
        return {"op": "set", "field": "enabled", "value": op == "enable"}
    if op not in ("set", "add", "remove"):
        errors.add("op", f"unknown operation {op!r}; use set, add, remove, enable or disable")
        return None
    if ("attribute" in raw) == ("field" in raw):
        errors.add("operation", "name either an attribute or a field")
        return None
    if "attribute" in raw:
        return _value_operation(op, raw, structure, errors)
    return _field_operation(op, raw, errors)


def _value_operation(op: str, raw: dict, structure: v.Structure, errors: v.ValueErrors):
    code = raw["attribute"]
    a = structure.attributes.get(code) if isinstance(code, str) else None
    if a is None:
        errors.add(str(code), "unknown attribute")
        return None
    locale, scope = raw.get("locale"), raw.get("scope")
    if "data" not in raw:
        errors.add(code, "give the data to set (null clears the value)", locale=locale, scope=scope)
        return None
    data = raw["data"]
    if op != "set":
        if a.type not in SET_LIKE:
            errors.add(
                code,
                f"{op} works on multi-selects and asset collections; use set for a {a.type}",
                locale=locale,
                scope=scope,
            )
            return None
        data = [data] if isinstance(data, str | int) else data
        if not data:
            errors.add(code, f"give the items to {op}", locale=locale, scope=scope)
            return None
    checked = v.check_document(
        {code: [{"locale": locale, "scope": scope, "data": data}]},
        structure,
        errors,
        partial=True,
    )
    if errors:
        return None
    return {
        "op": op,
        "attribute": code,
        "locale": locale,
        "scope": scope,
        "data": checked[code][0]["data"],
    }


def _field_operation(op: str, raw: dict, errors: v.ValueErrors):
    name = raw["field"]
    if name not in FIELD_OPS:
        errors.add(str(name), f"unknown field; use {', '.join(FIELD_OPS)} or an attribute")
        return None
    if op not in FIELD_OPS[name]:
        errors.add(name, f"{name} can only be {' or '.join(FIELD_OPS[name])}, not {op}")
        return None
    value = raw.get("value")
    if name == "enabled":
        if not isinstance(value, bool):
            errors.add(name, "expected true or false")
            return None
    elif name == "family":
        if not isinstance(value, str) or not Family.objects.filter(code=value).exists():
            errors.add(name, f"unknown family {value!r}")
            return None
    else:
        value = [value] if isinstance(value, str) else value
        if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
            errors.add(name, f"expected a list of {name[:-1].replace('ie', 'y')} codes")
            return None
        if op != "set" and not value:
            errors.add(name, f"give the {name} to {op}")
            return None
        model = Category if name == "categories" else ProductGroup
        known = set(model.objects.filter(code__in=value).values_list("code", flat=True))
        unknown = [c for c in value if c not in known]
        if unknown:
            what = "category" if name == "categories" else "group"
            errors.add(name, f"unknown {what} {', '.join(map(repr, unknown))}")
            return None
        value = sorted(set(value))
    return {"op": op, "field": name, "value": value}


def operation_from_text(op: str, text: str, structure: v.Structure | None = None) -> dict:
    """`capacity=750 ml`, `name[en_US]=Bottle`, `short_title[en_US@marketplace]=…`,
    `materials=glass,stainless_steel`, `price=24.90 USD, 22 EUR` → an operation (for the CLI).

    The value is read by the attribute's type; JSON is taken as it is for anything else.
    """
    import contextlib
    import json
    import re

    m = re.fullmatch(r"\s*([A-Za-z0-9_]+)(?:\[([^\]]*)\])?\s*=(.*)", text, re.S)
    if not m:
        raise InvalidInput(
            f"cannot read {text!r}; write attribute=value, e.g. color=blue or name[en_US]=Bottle",
            details={"operation": text},
        )
    code, where, raw = m[1], m[2] or "", m[3].strip()
    locale, _, scope = where.partition("@")
    structure = structure or v.Structure.load()
    a = structure.attributes.get(code)
    data: object = raw
    if raw == "":
        data = None
    elif a is None:
        pass  # validate_operations names the unknown attribute
    elif a.type in SET_LIKE:
        data = [x.strip() for x in raw.split(",") if x.strip()]
    elif a.type == T.BOOLEAN:
        data = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}.get(
            raw.lower(), raw
        )
    elif a.type == T.MEASUREMENT:
        amount_unit = re.fullmatch(r"(-?[0-9.]+)\s*(\S+)", raw)
        if amount_unit:
            data = {"amount": amount_unit[1], "unit": amount_unit[2]}
    elif a.type == T.PRICE:
        prices = [re.fullmatch(r"\s*(-?[0-9.]+)\s*([A-Za-z]{3})\s*", p) for p in raw.split(",")]
        if all(prices):
            data = [{"amount": p[1], "currency": p[2]} for p in prices]
    elif a.type == T.NUMBER:
        data = raw
    elif raw[:1] in "[{":
        with contextlib.suppress(json.JSONDecodeError):
            data = json.loads(raw)
    return {
        "op": op,
        "attribute": code,
        "locale": locale or None,
        "scope": scope or None,
        "data": data,
    }


# --- starting and running -----------------------------------------------------------------------


def start_bulk_edit(filter: dict | None, operations: list[dict], user=None) -> Job:
    """Check the selection and the operations, then start the job that applies them.

    Nothing is changed here: a mistake in the request is a 422 before any product is
    touched, and the job re-reads the selection when it starts.
    """
    structure = v.Structure.load()
    clean_filter = normalise_filter(filter)
    clean_ops = validate_operations(operations, structure)
    count = selection(clean_filter).count()
    with transaction.atomic():
        row = start_job(
            bulk_edit,
            user=user,
            label=f"Bulk edit of {counted(count, 'product')}",
            filter=clean_filter,
            operations=clean_ops,
        )
        # The expected size, so that a client can show it before a worker picks the job up.
        Job.objects.filter(pk=row.pk).update(progress_total=count)
        row.progress_total = count
        audit.record(
            "product.bulk_edit_start",
            row,
            summary=f"bulk edit of {counted(count, 'product')}, "
            f"{counted(len(clean_ops), 'operation')}",
            changes={"filter": clean_filter, "operations": clean_ops},
        )
    return row


@job("Bulk edit")
def bulk_edit(ctx: JobContext, filter: dict, operations: list[dict]) -> dict:
    structure = v.Structure.load()
    # The structure may have changed since the request was checked.
    operations = validate_operations(operations, structure)
    # The ids are taken once: the edit itself may change what the filter matches (disabling
    # the enabled ones), and paging over a live query would then skip or repeat products.
    ids = list(selection(filter).order_by("pk").values_list("pk", flat=True))
    ctx.set_total(len(ids))
    counts: Counter = Counter()
    user = audit.current_actor().user
    reviews: dict[int | None, bool] = {}

    def review(family_id):
        if family_id not in reviews:
            reviews[family_id] = services.needs_review(family_id, user)
        return reviews[family_id]

    job_row = ctx.job
    for start in range(0, len(ids), BATCH):
        # A batch and the job's count of it commit together: if the worker is killed, the
        # job's report says exactly which products were edited (each batch is all or none).
        with transaction.atomic():
            results = _edit(ids[start : start + BATCH], operations, structure, user, review)
            for sku, status, message, details in results:
                counts[status] += 1
                job_row.progress_done += 1
                if status != "failed":
                    job_row.items_ok += 1
                    continue
                job_row.items_failed += 1
                if len(job_row.errors) < Job.MAX_KEPT_ERRORS:
                    first = details[0] if details else {}
                    where = {k: first.get(k) for k in ("attribute", "locale", "channel", "reason")}
                    job_row.errors.append({"item": sku, "message": message, "sku": sku, **where})
            ctx.record_progress()
            faults.point("bulk_edit.batch_written")  # crash tests: before the commit
        faults.point("bulk_edit.batch_committed")  # crash tests: after it
        ctx.flush()  # notices a cancellation between batches
    ctx.flush(force=True)
    return {
        "selected": len(ids),
        "updated": counts["updated"],
        "proposed": counts["proposed"],
        "unchanged": counts["unchanged"],
        "failed": counts["failed"],
    }


def _edit(ids, operations, structure, user, review) -> list[tuple]:
    """Edit a batch together; if the batch clashes as a whole (two products given the same
    unique value, a variant's axis values taken), each product is tried alone so that only
    the clashing ones fail."""
    try:
        with transaction.atomic():
            return _edit_batch(ids, operations, structure, user, review)
    except (InvalidInput, Conflict, IntegrityError) as exc:
        if len(ids) > 1:
            return [r for pid in ids for r in _edit([pid], operations, structure, user, review)]
        sku = Product.objects.filter(pk=ids[0]).values_list("sku", flat=True).first()
        message = getattr(exc, "message", None) or f"not saved: {exc}"
        details = getattr(exc, "details", None)
        if not isinstance(details, list):
            details = [{"attribute": None, "reason": message}]
        return [(sku, "failed", message, details)]


def _edit_batch(ids, operations, structure, user, review) -> list[tuple]:
    products = list(
        Product.objects.select_for_update(of=("self",))
        .select_related("family", "parent__parent", "parent__family_variant__family")
        .filter(pk__in=ids)
        .order_by("pk")
    )  # deleted since the selection was taken: gone from the list, nothing to edit
    relations = _relation_codes([p.pk for p in products])
    patches = [
        (p, _patch(p, operations, structure, relations["categories"], relations["groups"]))
        for p in products
    ]
    lookups = services.Lookups([patch for _, patch in patches])
    results: list[tuple] = []
    prepared = []
    for product, patch in patches:
        sku = product.sku
        p, errors = services.prepare_product(patch, product, structure, lookups, partial=True)
        if errors:
            results.append((sku, "failed", errors.message(sku), errors.items))
        else:
            prepared.append((patch, p))
    services.drop_unchanged_relations([p for _, p in prepared])
    # Out of the acting editor's category trees: refused per product that would change (a
    # fixed number of queries for the whole batch), the rest of the batch goes on.
    refused = scoping.out_of_scope_products(
        scoping.editor_scope(user),
        [p for _, p in prepared if p.changes or p.categories is not None or p.groups is not None],
    )
    for patch, p in list(prepared):
        if p.product.sku in refused:
            message = refused[p.product.sku]
            results.append((p.product.sku, "failed", message, [{"reason": message}]))
            prepared.remove((patch, p))
    to_apply = []
    for patch, p in prepared:
        if not p.changes and p.categories is None and p.groups is None:
            results.append((p.product.sku, "unchanged", "", None))
        elif review(p.product.family_id):
            services.propose(p.product, patch, user)
            results.append((p.product.sku, "proposed", "", None))
        else:
            p.action = "bulk_edit"
            to_apply.append(p)
    services.apply_batch(to_apply, structure, action_label="bulk_edit")
    results.extend((p.product.sku, "updated", "", None) for p in to_apply)
    return results


def _relation_codes(ids: list[int]) -> dict[str, dict[int, list[str]]]:
    out: dict[str, dict[int, list[str]]] = {"categories": {}, "groups": {}}
    for pid, code in Product.categories.through.objects.filter(product_id__in=ids).values_list(
        "product_id", "category__code"
    ):
        out["categories"].setdefault(pid, []).append(code)
    for pid, code in Product.groups.through.objects.filter(product_id__in=ids).values_list(
        "product_id", "productgroup__code"
    ):
        out["groups"].setdefault(pid, []).append(code)
    return out


def _patch(product: Product, operations, structure, categories, groups) -> dict:
    """The operations, in order, as the PATCH of one product (what an editor would send)."""
    patch: dict = {}
    values: dict[tuple, object] = {}
    relations = {
        "categories": set(categories.get(product.pk, ())),
        "groups": set(groups.get(product.pk, ())),
    }
    touched: set[str] = set()
    for op in operations:
        if "attribute" in op:
            key = (op["attribute"], op["locale"], op["scope"])
            current = values[key] if key in values else v.value_of(product.values, *key)
            if op["op"] == "set":
                new = op["data"]
            elif op["op"] == "add":
                current = list(current or [])
                if structure.attributes[op["attribute"]].type == T.MULTISELECT:
                    new = sorted(set(current) | set(op["data"]))
                else:  # asset collections keep their order: the first image is the main one
                    new = current + [x for x in op["data"] if x not in current]
            else:
                new = [x for x in current or [] if x not in op["data"]] or None
            values[key] = new
        elif op["field"] in ("categories", "groups"):
            name = op["field"]
            touched.add(name)
            if op["op"] == "set":
                relations[name] = set(op["value"])
            elif op["op"] == "add":
                relations[name] |= set(op["value"])
            else:
                relations[name] -= set(op["value"])
        else:
            patch[op["field"]] = op["value"]
    if values:
        document: dict[str, list] = {}
        for (code, locale, scope), data in values.items():
            document.setdefault(code, []).append({"locale": locale, "scope": scope, "data": data})
        patch["values"] = document
    for name in sorted(touched):
        patch[name] = sorted(relations[name])
    return patch
