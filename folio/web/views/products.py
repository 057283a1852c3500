"""Products: the grid (search, facets, saved filters, column chooser, selection → bulk edit or
compare), the product page (values by attribute group for one channel and locale, inherited
values marked, variant navigator, edit form with inline messages, completeness with links to
what is missing, media, history with diff and restore) and creating products."""

from django.contrib import messages
from django.db import transaction
from django.http import QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from folio.accounts.services import require
from folio.catalog import bulk_edit
from folio.catalog import services as catalog
from folio.catalog import values as v
from folio.catalog.models import (
    Attribute,
    Category,
    Completeness,
    Family,
    Product,
    ProductModel,
    Proposal,
)
from folio.errors import Conflict, InvalidInput, StaleWrite
from folio.search import facets as facet_counts
from folio.search import unified
from folio.web import values
from folio.web.models import SavedFilter
from folio.web.views import catalog_pages as pages
from folio.web.views import linking
from folio.web.views.base import (
    announce,
    channel_context,
    field_errors,
    int_param,
    is_htmx,
    page,
    query_without,
    toggled,
)

PAGE_SIZE = 50
FIXED_COLUMNS = {
    "family": gettext_lazy("Family"),
    "parent": gettext_lazy("Model"),
    "enabled": gettext_lazy("Enabled"),
    "completeness": gettext_lazy("Completeness"),
    "updated": gettext_lazy("Updated"),
}
DEFAULT_COLUMNS = ["name", "family", "completeness", "enabled"]
SESSION_COLUMNS = "folio.web.product_columns"


# --- the grid -------------------------------------------------------------------------------


def grid_filter(params: QueryDict, ctx: dict) -> dict:
    """The product filter a grid URL stands for, in bulk_edit's normalised form (so the same
    dict selects the grid's rows and a bulk edit's products)."""
    f: dict = {}
    q = (params.get("q") or "").strip()
    if q:
        f["search"] = q
    for key, name in (("family", "families"), ("category", "categories"), ("filter", "conditions")):
        chosen = [x.strip() for x in params.getlist(key) if x.strip()]
        if chosen:
            f[name] = chosen
    if params.get("enabled") in ("true", "false"):
        f["enabled"] = params["enabled"] == "true"
    if params.get("complete") in ("complete", "incomplete") and ctx["channel"]:
        f.update(
            complete_channel=ctx["channel"],
            complete_locale=ctx["locale"],
            completeness=100,
            completeness_op=">=" if params["complete"] == "complete" else "<",
        )
    if params.get("parent"):
        f["parent"] = params["parent"]
    return bulk_edit.normalise_filter(f)


def _columns(request) -> list[str]:
    if "col" in request.GET:
        cols = [c for c in request.GET.getlist("col") if c][:20]
        request.session[SESSION_COLUMNS] = cols
        return cols
    return request.session.get(SESSION_COLUMNS) or DEFAULT_COLUMNS


def _facets(qs, params, ctx) -> tuple[dict, int, bool]:
    total = qs.count()
    capped = total > facet_counts.FACET_LIMIT
    matching = (
        Product.objects.filter(pk__in=qs.order_by("pk").values("pk")[: facet_counts.FACET_LIMIT])
        if capped
        else qs
    )
    labels = {
        "family": dict(Family.objects.values_list("code", "labels")),
        "category": dict(Category.objects.values_list("code", "labels")),
    }
    out = {}
    for name, param in (("family", "family"), ("category", "category")):
        chosen = params.getlist(param)
        out[name] = [
            {
                "value": row["value"],
                "label": (labels[name].get(row["value"]) or {}).get(ctx["locale"])
                or (labels[name].get(row["value"]) or {}).get("en_US")
                or row["value"],
                "count": row["count"],
                "selected": row["value"] in chosen,
                "query": toggled(params, param, row["value"]),
            }
            for row in facet_counts.count(name, matching)
        ]
    if ctx["channel"]:
        current = params.get("complete")
        out["completeness"] = [
            {
                "value": row["value"],
                "label": _("complete") if row["value"] == "complete" else _("incomplete"),
                "count": row["count"],
                "selected": current == row["value"],
                "query": query_without(params, "complete", "page")
                + ("" if current == row["value"] else f"&complete={row['value']}"),
            }
            for row in facet_counts.count(
                "completeness", matching, channel=ctx["channel"], locale=ctx["locale"]
            )
        ]
    return out, total, capped


def _cell_values(products, cols, attributes, ctx) -> list[dict]:
    ratios = {}
    if "completeness" in cols and ctx["channel"]:
        ratios = {
            pid: (ratio, missing)
            for pid, ratio, missing in Completeness.objects.filter(
                product__in=products, channel__code=ctx["channel"], locale__code=ctx["locale"]
            ).values_list("product_id", "ratio", "missing")
        }
    rows = []
    for p in products:
        resolved = catalog.resolved_values(p)  # the model chain is select_related
        cells = []
        for col in cols:
            if col == "family":
                cells.append({"text": p.family.label(ctx["locale"]) if p.family_id else ""})
            elif col == "parent":
                cells.append({"text": p.parent.code if p.parent_id else "", "model": True})
            elif col == "enabled":
                cells.append({"enabled": p.enabled})
            elif col == "updated":
                cells.append({"date": p.updated_at})
            elif col == "completeness":
                ratio, missing = ratios.get(p.pk, (None, []))
                cells.append({"ratio": ratio, "missing": len(missing)})
            elif col in attributes:
                shown = values.display(
                    attributes[col],
                    resolved.get(col, []),
                    channel=ctx["channel"],
                    locale=ctx["locale"],
                )
                cells.append({"text": "; ".join(x["text"] for x in shown)})
            else:
                cells.append({"text": ""})
        rows.append({"product": p, "cells": cells})
    return rows


@page("catalog.view_product")
def product_grid(request):
    ctx = channel_context(request)
    params = request.GET
    cols = _columns(request)
    page_number = int_param(params.get("page"), 1)
    context = {"section": "products", **ctx, "cols": cols, "page": page_number}
    try:
        filt = grid_filter(params, ctx)
        qs = bulk_edit.selection(filt)
        facets, total, capped = _facets(qs, params, ctx)
        offset = (page_number - 1) * PAGE_SIZE
        products = list(
            qs.select_related("family", "parent__parent").order_by("sku")[
                offset : offset + PAGE_SIZE + 1
            ]
        )
    except InvalidInput as exc:
        context.update(filter_error=exc.message, products=[], facets={}, total=0, capped=False)
        products, facets, total, capped = [], {}, 0, False
    has_next = len(products) > PAGE_SIZE
    products = products[:PAGE_SIZE]
    all_attributes = list(Attribute.objects.order_by("code").values("code", "labels", "type"))
    attr_cols = [c for c in cols if c not in FIXED_COLUMNS]
    attributes = values.load(attr_cols) if attr_cols else {}
    headers = [
        {
            "code": c,
            "label": FIXED_COLUMNS.get(c)
            or (attributes[c].label(ctx["locale"]) if c in attributes else c),
        }
        for c in cols
    ]
    suggestions = []
    q = (params.get("q") or "").strip()
    if q and total == 0 and "filter_error" not in context:
        # Nothing matched the words: the unified search also tries SKUs one typo away.
        hits = unified.search_all(q, user=request.user, kinds=["product"], limit=5)["hits"]
        suggestions = [h["sku"] for h in hits if h.get("sku")]
    context.update(
        rows=_cell_values(products, cols, attributes, ctx),
        headers=headers,
        facets=facets,
        total=total,
        capped=capped,
        has_next=has_next,
        has_previous=page_number > 1,
        next_query=query_without(params, "page") + f"&page={page_number + 1}",
        previous_query=query_without(params, "page") + f"&page={page_number - 1}",
        q=q,
        conditions=[x for x in params.getlist("filter") if x.strip()],
        families_chosen=params.getlist("family"),
        categories_chosen=params.getlist("category"),
        complete=params.get("complete") or "",
        enabled=params.get("enabled") or "",
        all_attributes=all_attributes,
        fixed_columns=FIXED_COLUMNS,
        saved_filters=SavedFilter.objects.filter(user=request.user, area="products"),
        current_query=query_without(params, "page"),
        suggestions=suggestions,
        chips=_chips(params),
    )
    response = render(request, "web/products/grid.html", context)
    if is_htmx(request):
        announce(
            response, ngettext("%(n)s product found", "%(n)s products found", total) % {"n": total}
        )
    return response


def _chips(params: QueryDict) -> list[dict]:
    """The active filters, each with the query string that removes it."""
    chips = []
    for key, label in (
        ("q", _("search")),
        ("family", _("family")),
        ("category", _("category")),
        ("filter", _("condition")),
        ("complete", _("completeness")),
        ("enabled", _("enabled")),
        ("parent", _("model")),
    ):
        for value in params.getlist(key):
            if value:
                chips.append({"label": f"{label}: {value}", "query": toggled(params, key, value)})
    return chips


@page(methods=("POST",))
def saved_filter_save(request):
    """Save the grid's current query under a name (a personal preference: any role)."""
    area = request.POST.get("area") if request.POST.get("area") == "assets" else "products"
    name = (request.POST.get("name") or "").strip()[:100]
    query = (request.POST.get("query") or "")[:2000]
    back = reverse("web:assets" if area == "assets" else "web:products") + "?" + query
    if not name:
        messages.error(request, _("Give the filter a name."))
        return redirect(back)
    SavedFilter.objects.update_or_create(
        user=request.user, area=area, name=name, defaults={"query": query}
    )
    messages.success(request, _("Filter “%(name)s” saved.") % {"name": name})
    return redirect(back)


@page(methods=("POST",))
def saved_filter_delete(request, filter_id: int):
    found = SavedFilter.objects.filter(user=request.user, pk=filter_id).first()
    area = found.area if found else "products"
    if found:
        found.delete()
        messages.success(request, _("Filter “%(name)s” deleted.") % {"name": found.name})
    return redirect(reverse("web:assets" if area == "assets" else "web:products"))


# --- bulk edit ----------------------------------------------------------------------------


OPERATION_ROWS = 3
OP_CHOICES = [
    ("set", gettext_lazy("set")),
    ("add", gettext_lazy("add (multi-selects, categories, groups)")),
    ("remove", gettext_lazy("remove (multi-selects, categories, groups)")),
    ("enable", gettext_lazy("enable")),
    ("disable", gettext_lazy("disable")),
]
FIELD_CHOICES = [
    ("field:categories", gettext_lazy("categories")),
    ("field:groups", gettext_lazy("groups")),
    ("field:family", gettext_lazy("family")),
]


def _operations(post) -> tuple[list[dict], list[int]]:
    """The operations a bulk-edit form describes and the form row of each (empty rows left
    out); attribute values are read by the attribute's type, as the CLI reads them."""
    ops, rows = [], []
    structure = None
    for i in range(OPERATION_ROWS):
        op = post.get(f"op{i}") or ""
        target = post.get(f"target{i}") or ""
        value = (post.get(f"value{i}") or "").strip()
        if not op:
            continue
        rows.append(i)
        if op in ("enable", "disable"):
            ops.append({"op": op})
        elif target.startswith("field:"):
            name = target[len("field:") :]
            items = [x.strip() for x in value.split(",") if x.strip()]
            ops.append({"op": op, "field": name, "value": value if name == "family" else items})
        elif not target:
            raise InvalidInput(
                _("operation %(n)s: choose an attribute or a field") % {"n": len(rows)},
                details=[{"operation": len(rows) - 1, "reason": _("choose an attribute")}],
            )
        else:
            locale, channel = post.get(f"locale{i}") or "", post.get(f"channel{i}") or ""
            where = f"[{locale}{'@' + channel if channel else ''}]" if locale or channel else ""
            structure = structure or v.Structure.load()
            try:
                ops.append(bulk_edit.operation_from_text(op, f"{target}{where}={value}", structure))
            except InvalidInput as exc:
                raise InvalidInput(
                    exc.message, details=[{"operation": len(rows) - 1, "reason": exc.message}]
                ) from None
    return ops, rows


@page("catalog.view_product", methods=("GET", "POST"))
def bulk_edit_page(request):
    data = request.POST if request.method == "POST" else request.GET
    ctx = channel_context(request)
    skus = [s for s in data.getlist("sku") if s]
    context = {
        "section": "products",
        **ctx,
        "skus": skus,
        "op_choices": OP_CHOICES,
        "field_choices": FIELD_CHOICES,
    }
    if skus:
        filt = {"skus": skus}
    else:
        params = QueryDict(data.get("query") or "", mutable=False) if "query" in data else data
        filt = grid_filter(params, ctx)
        context["query"] = params.urlencode()
    context["count"] = bulk_edit.selection(filt).count()
    context["attributes"] = list(
        Attribute.objects.exclude(type=Attribute.Type.IDENTIFIER).order_by("code")
    )
    context["submitted"] = data if request.method == "POST" else None
    status = 200
    if request.method == "POST":
        require(request.user, "catalog.change_product")
        rows: list[int] = []
        try:
            ops, rows = _operations(request.POST)
            job = bulk_edit.start_bulk_edit(filt, ops, user=request.user)
            context["job"] = job
            messages.success(
                request,
                ngettext(
                    "Bulk edit of %(n)s product started.",
                    "Bulk edit of %(n)s products started.",
                    job.progress_total,
                )
                % {"n": job.progress_total},
            )
        except InvalidInput as exc:
            status = 422
            context["error"] = exc.message
            problems = exc.details if isinstance(exc.details, list) else []
            context["row_errors"] = {
                rows[p["operation"]]: p.get("reason")
                for p in problems
                if isinstance(p, dict)
                and isinstance(p.get("operation"), int)
                and p["operation"] < len(rows)
            }
    row_errors = context.get("row_errors", {})
    context["rows"] = [
        {
            "i": i,
            **{
                k: (data.get(f"{k}{i}") or "") if request.method == "POST" else ""
                for k in ("op", "target", "value", "locale", "channel")
            },
            "error": row_errors.get(i),
        }
        for i in range(OPERATION_ROWS)
    ]
    return render(request, "web/products/bulk_edit.html", context, status=status)


# --- the product page -----------------------------------------------------------------------


def _categories() -> list[dict]:
    return [
        {"code": code, "label": "— " * path.count("/") + ((labels or {}).get("en_US") or code)}
        for code, path, labels in Category.objects.order_by("path").values_list(
            "code", "path", "labels"
        )
    ]


def product_context(request, product: Product, ctx: dict, *, post=None, errors=None) -> dict:
    structure = v.Structure.load()
    editable, owners = pages.product_editable(product, structure)
    resolved = catalog.resolved_values(product)
    origins = catalog.value_origins(product)
    chain = catalog.model_chain(product)
    family_codes = set(structure.family_attributes.get(product.family_id, frozenset()))
    changes = list(catalog.history(product.sku)[: pages.HISTORY_SHOWN + 1])
    codes = family_codes | set(resolved) | pages.history_codes(changes)
    attributes = values.load(codes)
    shown = {c: a for c, a in attributes.items() if c in family_codes | set(resolved)}
    can_edit = request.user.has_perm("catalog.change_product")
    sections = values.sections(
        shown,
        resolved,
        origins,
        editable=editable if can_edit else set(),
        channel=ctx["channel"],
        locale=ctx["locale"],
        currencies=sorted(structure.currencies),
        origin_urls={m.code: pages.model_url(m.code) for m in chain},
        owners=owners,
        post=post,
        errors=errors,
    )
    completeness = pages.completeness_panel(
        catalog.completeness_of(product), attributes, sku=product.sku, owners=owners
    )
    categories_now = sorted(c.code for c in product.categories.all())
    tree = (
        pages.variant_tree(chain[0], current=product.sku, locale=ctx["locale"]) if chain else None
    )
    siblings = [product.sku]
    if tree:
        for node in [tree, *tree["children"]]:
            siblings += [p["key"] for p in node["variants"] if p["key"] != product.sku]
    return {
        "section": "products",
        **ctx,
        "product": product,
        "chain": chain,
        "tree": tree,
        "compare_query": urlencode(
            [("sku", s) for s in siblings[:8]]
            + [("channel", ctx["channel"]), ("locale", ctx["locale"])]
        ),
        "restore_url": reverse("web:product_restore", args=[product.sku]),
        "sections": sections,
        "completeness": completeness,
        "history": pages.history_rows(
            changes[: pages.HISTORY_SHOWN], attributes, locale=ctx["locale"]
        ),
        "history_more": len(changes) > pages.HISTORY_SHOWN,
        "can_edit": can_edit,
        "categories": _categories(),
        "categories_now": categories_now,
        "posted_categories": post.getlist("categories") if post is not None else None,
        "errors": errors or {},
        "pending_proposals": Proposal.objects.filter(
            product=product, status=Proposal.Status.PENDING
        ).count(),
        "media": linking.media_context(request, product, ctx),
    }


@page("catalog.view_product", methods=("GET", "POST"))
def product_detail(request, sku: str):
    ctx = channel_context(request)
    product = catalog.get_product(sku)
    if request.method == "GET":
        return render(request, "web/products/detail.html", product_context(request, product, ctx))
    require(request.user, "catalog.change_product")
    post = request.POST
    structure = v.Structure.load()
    editable, _owners = pages.product_editable(product, structure)
    attributes = values.load(editable)
    patch: dict = {}
    value_patch = values.patch_from_form(
        attributes,
        sorted(editable),
        post,
        product.values,
        channel=ctx["channel"],
        locale=ctx["locale"],
        currencies=sorted(structure.currencies),
    )
    if value_patch:
        patch["values"] = value_patch
    if "present_enabled" in post:
        enabled = post.get("enabled") == "on"
        if enabled != product.enabled:
            patch["enabled"] = enabled
    if "present_categories" in post:
        chosen = sorted({c for c in post.getlist("categories") if c})
        if chosen != sorted(c.code for c in product.categories.all()):
            patch["categories"] = chosen
    back = pages.product_url(sku, channel=ctx["channel"], locale=ctx["locale"])
    if not patch:
        messages.info(request, _("Nothing changed."))
        return redirect(back)
    try:
        result = catalog.update_product(
            sku,
            patch,
            expected_version=int_param(post.get("version"), product.version),
            user=request.user,
        )
    except StaleWrite as exc:
        messages.error(request, exc.message)
        context = product_context(request, product, ctx, post=post)
        context["stale"] = True
        return render(request, "web/products/detail.html", context, status=409)
    except InvalidInput as exc:
        messages.error(request, exc.message)
        context = product_context(
            request, product, ctx, post=post, errors=field_errors(exc.details)
        )
        return render(request, "web/products/detail.html", context, status=422)
    if isinstance(result, Proposal):
        messages.info(
            request,
            _("Your change awaits review (proposal %(id)s); the live product is unchanged.")
            % {"id": result.pk},
        )
    else:
        messages.success(
            request, _("Saved %(sku)s (version %(v)s).") % {"sku": sku, "v": result.version}
        )
    return redirect(back)


@page("catalog.change_product", methods=("POST",))
def product_restore(request, sku: str):
    version = int_param(request.POST.get("version"), 0, low=0)
    current = request.POST.get("current") or ""
    product = catalog.restore_version(
        sku, version, expected_version=int(current) if current.isdigit() else None
    )
    messages.success(
        request,
        _("Version %(old)s of %(sku)s restored as version %(new)s.")
        % {"old": version, "sku": sku, "new": product.version},
    )
    return redirect(pages.product_url(sku) + "#history")


# --- creating -----------------------------------------------------------------------------


def _variant_parents() -> list[dict]:
    """Models that take variant products: sub-models of two-level family variants, root
    models of one-level ones."""
    models = list(
        ProductModel.objects.select_related("family_variant__family", "parent").order_by("code")
    )
    depth = pages_depths({m.family_variant_id for m in models})
    return [
        {"code": m.code, "family": m.family_variant.family.code}
        for m in models
        if (depth.get(m.family_variant_id, 1) == 2) == (m.parent_id is not None)
    ]


def pages_depths(fv_ids) -> dict[int, int]:
    from django.db.models import Max

    from folio.catalog.models import FamilyVariantAttribute

    return dict(
        FamilyVariantAttribute.objects.filter(family_variant_id__in=fv_ids)
        .values("family_variant_id")
        .annotate(depth=Max("level"))
        .values_list("family_variant_id", "depth")
    )


def axis_inputs(
    parent_code: str | None, *, level: int | None = None, locale: str, post=None, errors=None
) -> list[dict]:
    """The inputs of the axes a new variant (or sub-model) of `parent_code` needs."""
    if not parent_code:
        return []
    model = ProductModel.objects.select_related("family_variant").filter(code=parent_code).first()
    if model is None:
        return []
    axes = pages.axis_levels(model.family_variant_id)
    if level is None:
        level = max(axes, default=1)
    codes = axes.get(level, [])
    attributes = values.load(codes)
    out = []
    for code in codes:
        a = attributes[code]
        value = (
            values.posted(a, post, f"v.{code}", [])
            if post is not None
            else values.shown(a, None, [])
        )
        out.append(
            {
                "code": code,
                "label": a.label(locale),
                "type": a.type,
                "errors": (errors or {}).get(code, []),
                "input": {
                    "name": f"v.{code}",
                    "id": f"v-{code}",
                    "value": value,
                    "options": values.options(a, locale),
                    "units": values.units(a),
                    "currencies": [],
                    "max_length": a.max_length,
                },
            }
        )
    return out


def axis_values(parent_code: str, level: int | None, post) -> dict:
    model = ProductModel.objects.filter(code=parent_code).first()
    if model is None:
        return {}
    axes = pages.axis_levels(model.family_variant_id)
    codes = axes.get(level if level is not None else max(axes, default=1), [])
    attributes = values.load(codes)
    doc = {}
    for code in codes:
        data = values.to_data(
            attributes[code], values.posted(attributes[code], post, f"v.{code}", [])
        )
        if data is not None:
            doc[code] = [{"locale": None, "scope": None, "data": data}]
    return doc


@page("catalog.view_product")
def axis_fields(request):
    """The axis inputs for the chosen model (htmx, when the model select changes)."""
    ctx = channel_context(request)
    level = 1 if request.GET.get("level") == "1" else None
    return render(
        request,
        "web/products/_axes.html",
        {"axes": axis_inputs(request.GET.get("parent"), level=level, locale=ctx["locale"])},
    )


@page("catalog.add_product", methods=("GET", "POST"))
def product_create(request):
    ctx = channel_context(request)
    data = request.POST if request.method == "POST" else request.GET
    parent = (data.get("parent") or "").strip()
    context = {
        "section": "products",
        "families": Family.objects.order_by("code"),
        "parents": _variant_parents(),
        "kind": data.get("kind") or ("variant" if parent else "simple"),
        "sku": data.get("sku", ""),
        "family": data.get("family", ""),
        "parent": parent,
        "errors": {},
    }
    if request.method == "POST":
        item = {"sku": (data.get("sku") or "").strip()}
        if context["kind"] == "variant":
            item["parent"] = parent
            doc = axis_values(parent, None, request.POST) if parent else {}
            if doc:
                item["values"] = doc
        elif data.get("family"):
            item["family"] = data["family"]
        try:
            with transaction.atomic():
                product = catalog.create_product(item, user=request.user)
        except Conflict as exc:
            context["errors"] = {"sku": [exc.message]}
        except InvalidInput as exc:
            context["errors"] = field_errors(exc.details, exc.message)
            context["message"] = exc.message
        else:
            messages.success(
                request, _("Product %(sku)s created: fill in its values.") % {"sku": product.sku}
            )
            return redirect(pages.product_url(product.sku))
    context["axes"] = axis_inputs(
        parent if context["kind"] == "variant" else None,
        locale=ctx["locale"],
        post=request.POST if request.method == "POST" else None,
        errors=context["errors"],
    )
    status = 422 if context["errors"] else 200
    return render(request, "web/products/create.html", context, status=status)
