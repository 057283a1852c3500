"""Product models: the values their variants share (edited here, inherited below), the variant
navigator, completeness of the variants, media, history with restore, and creating root and
sub product models."""

from django.contrib import messages
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from folio.accounts.services import require
from folio.catalog import services as catalog
from folio.catalog import values as v
from folio.catalog.models import FamilyVariant, ProductModel
from folio.errors import Conflict, InvalidInput, StaleWrite
from folio.web import values
from folio.web.views import catalog_pages as pages
from folio.web.views import linking
from folio.web.views.base import channel_context, field_errors, int_param, page
from folio.web.views.products import axis_inputs, axis_values, pages_depths


def model_context(request, model: ProductModel, ctx: dict, *, post=None, errors=None) -> dict:
    structure = v.Structure.load()
    editable, owners, _axes = pages.model_editable(model, structure)
    root = model.parent if model.parent_id else model
    resolved = v.resolve(root.values, model.values) if model.parent_id else dict(model.values)
    origins = {code: root.code for code in root.values} if model.parent_id else {}
    origins.update({code: "self" for code in model.values})
    fv = model.family_variant
    family_codes = set(structure.family_attributes.get(fv.family_id, frozenset()))
    level = 0 if model.parent_id is None else 1
    levels = structure.variant_levels.get(fv.pk, {})
    # A model shows the attributes of its level and the levels above it, not its variants'.
    shown_codes = {c for c in family_codes | set(resolved) if levels.get(c, (0, False))[0] <= level}
    changes = list(catalog.model_history(model.code)[: pages.HISTORY_SHOWN + 1])
    attributes = values.load(shown_codes | pages.history_codes(changes))
    can_edit = request.user.has_perm("catalog.change_productmodel")
    sections = values.sections(
        {c: a for c, a in attributes.items() if c in shown_codes},
        resolved,
        origins,
        editable=editable if can_edit else set(),
        channel=ctx["channel"],
        locale=ctx["locale"],
        currencies=sorted(structure.currencies),
        origin_urls={root.code: pages.model_url(root.code)} if model.parent_id else {},
        owners=owners,
        post=post,
        errors=errors,
    )
    complete = catalog.variants_complete(model)
    return {
        "section": "products",
        **ctx,
        "model": model,
        "root": root,
        "level": level,
        "depth": max((lvl for lvl, _ in levels.values()), default=1),
        "tree": pages.variant_tree(root, current=model.code, locale=ctx["locale"]),
        "sections": sections,
        "variants_complete": [
            {"channel": c, "locale": loc, "text": text}
            for c, by_locale in sorted(complete.items())
            for loc, text in sorted(by_locale.items())
        ],
        "history": pages.history_rows(
            changes[: pages.HISTORY_SHOWN], attributes, locale=ctx["locale"]
        ),
        "history_more": len(changes) > pages.HISTORY_SHOWN,
        "can_edit": can_edit,
        "errors": errors or {},
        "restore_url": reverse("web:model_restore", args=[model.code]),
        "media": linking.media_context(request, model, ctx),
    }


@page("catalog.view_productmodel", methods=("GET", "POST"))
def model_detail(request, code: str):
    ctx = channel_context(request)
    model = catalog.get_model(code)
    if request.method == "GET":
        return render(request, "web/products/model.html", model_context(request, model, ctx))
    require(request.user, "catalog.change_productmodel")
    structure = v.Structure.load()
    editable, _owners, _axes = pages.model_editable(model, structure)
    attributes = values.load(editable)
    patch = values.patch_from_form(
        attributes,
        sorted(editable),
        request.POST,
        model.values,
        channel=ctx["channel"],
        locale=ctx["locale"],
        currencies=sorted(structure.currencies),
    )
    back = pages.model_url(code, channel=ctx["channel"], locale=ctx["locale"])
    if not patch:
        messages.info(request, _("Nothing changed."))
        return redirect(back)
    try:
        saved = catalog.save_model(
            {"code": code, "values": patch},
            expected_version=int_param(request.POST.get("version"), model.version),
            create=False,
        )
    except StaleWrite as exc:
        messages.error(request, exc.message)
        context = model_context(request, model, ctx, post=request.POST)
        context["stale"] = True
        return render(request, "web/products/model.html", context, status=409)
    except InvalidInput as exc:
        messages.error(request, exc.message)
        context = model_context(
            request, model, ctx, post=request.POST, errors=field_errors(exc.details)
        )
        return render(request, "web/products/model.html", context, status=422)
    messages.success(
        request,
        _("Saved %(code)s (version %(v)s); its variants inherit the change.")
        % {"code": code, "v": saved.version},
    )
    return redirect(back)


@page("catalog.change_productmodel", methods=("POST",))
def model_restore(request, code: str):
    version = int_param(request.POST.get("version"), 0, low=0)
    current = request.POST.get("current") or ""
    model = catalog.restore_model_version(
        code, version, expected_version=int(current) if current.isdigit() else None
    )
    messages.success(
        request,
        _("Version %(old)s of %(code)s restored as version %(new)s.")
        % {"old": version, "code": code, "new": model.version},
    )
    return redirect(pages.model_url(code) + "#history")


def _sub_model_parents() -> list[dict]:
    """Root models whose family variant has two levels (they take sub-models)."""
    roots = list(
        ProductModel.objects.filter(parent__isnull=True)
        .select_related("family_variant__family")
        .order_by("code")
    )
    depth = pages_depths({m.family_variant_id for m in roots})
    return [
        {"code": m.code, "family": m.family_variant.family.code}
        for m in roots
        if depth.get(m.family_variant_id, 1) == 2
    ]


@page("catalog.add_productmodel", methods=("GET", "POST"))
def model_create(request):
    ctx = channel_context(request)
    data = request.POST if request.method == "POST" else request.GET
    parent = (data.get("parent") or "").strip()
    context = {
        "section": "products",
        "family_variants": FamilyVariant.objects.select_related("family").order_by("code"),
        "parents": _sub_model_parents(),
        "kind": data.get("kind") or ("sub" if parent else "root"),
        "code": data.get("code", ""),
        "family_variant": data.get("family_variant", ""),
        "parent": parent,
        "errors": {},
    }
    if request.method == "POST":
        item = {"code": (data.get("code") or "").strip()}
        if context["kind"] == "sub":
            item["parent"] = parent
            doc = axis_values(parent, 1, request.POST) if parent else {}
            if doc:
                item["values"] = doc
        else:
            item["family_variant"] = data.get("family_variant") or ""
        try:
            with transaction.atomic():
                model = catalog.save_model(item, create=True)
        except Conflict as exc:
            context["errors"] = {"code": [exc.message]}
        except InvalidInput as exc:
            context["errors"] = field_errors(exc.details, exc.message)
            context["message"] = exc.message
        else:
            messages.success(
                request,
                _("Product model %(code)s created: fill in the values its variants share.")
                % {"code": model.code},
            )
            return redirect(pages.model_url(model.code))
    context["axes"] = axis_inputs(
        parent if context["kind"] == "sub" else None,
        level=1,
        locale=ctx["locale"],
        post=request.POST if request.method == "POST" else None,
        errors=context["errors"],
    )
    status = 422 if context["errors"] else 200
    return render(request, "web/products/model_create.html", context, status=status)
