"""Asset settings: what asset managers maintain around the files themselves — collections
(with their agencies and review workflow), tags, custom fields and approval workflows.

Every write goes through folio.assets.editing, the functions the API and the CLI call, with the
version the page was rendered with: a stale one is answered with 409 and the current state, a
refused setting with 422 and the reason next to the field it names. The permission a button
needs is the one the API requires for the same write; it is checked again on every POST.
What is listed is what the API lists for the same user: an agency sees only its collections
and the tags of the assets it may see.
"""

import re

from django.contrib import messages
from django.contrib.auth.models import Group
from django.core.paginator import Paginator
from django.db.models import Count
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from folio.accounts.services import require
from folio.assets import browse, editing, scoping
from folio.assets.models import Asset, Collection, CustomField, ReviewWorkflow
from folio.errors import Conflict, InvalidInput, NotFound
from folio.web import nav
from folio.web.views.base import (
    done,
    form_version,
    int_param,
    page,
    posted_version,
    query_without,
    refused,
)

nav.register(
    nav.NavEntry(
        "asset_settings",
        gettext_lazy("Asset settings"),
        "web:asset_settings",
        "assets.view_asset",
        35,
    )
)

TAGS_PER_PAGE = 100
SPARE_STEPS = 2  # empty step rows offered below a workflow's steps, to add some without script


# --- shared -----------------------------------------------------------------------------------


def _names(text: str) -> list[str]:
    return [c for c in re.split(r"[\s,;]+", text or "") if c]


def _base(area: str) -> dict:
    return {"section": "asset_settings", "area": area, "errors": {}, "posted": ""}


# --- overview ---------------------------------------------------------------------------------


@page("assets.view_asset")
def index(request):
    user = request.user
    counts = [
        (_("Collections"), "web:asset_collections", browse.visible_collections(user).count()),
        (_("Tags"), "web:asset_tags", editing.list_tags(user).count()),
        (_("Custom fields"), "web:asset_fields", CustomField.objects.count()),
        (_("Approval workflows"), "web:asset_workflows", ReviewWorkflow.objects.count()),
    ]
    areas = [{"label": label, "url": reverse(name), "count": n} for label, name, n in counts]
    return render(request, "web/asset_settings/index.html", {**_base(""), "areas": areas})


# --- collections ------------------------------------------------------------------------------


def _collection_form(c: Collection | None) -> dict:
    if c is None:
        return {
            "code": "",
            "name": "",
            "description": "",
            "is_brand_kit": False,
            "workflow": "",
            "agencies": "",
        }
    snap = editing.collection_snapshot(c)
    return {
        "code": c.code,
        "name": snap["name"],
        "description": snap["description"],
        "is_brand_kit": snap["is_brand_kit"],
        "workflow": snap["workflow"] or "",
        "agencies": " ".join(snap["agencies"]),
    }


def _collection_form_from(post) -> dict:
    return {
        "code": (post.get("code") or "").strip(),
        "name": (post.get("name") or "").strip(),
        "description": post.get("description") or "",
        "is_brand_kit": "is_brand_kit" in post,
        "workflow": post.get("workflow") or "",
        "agencies": post.get("agencies") or "",
    }


def _collection_settings(form: dict) -> dict:
    return {
        "name": form["name"],
        "description": form["description"],
        "is_brand_kit": form["is_brand_kit"],
        "workflow": form["workflow"] or None,
        "agencies": _names(form["agencies"]),
    }


def _workflow_codes() -> list[str]:
    return list(ReviewWorkflow.objects.order_by("code").values_list("code", flat=True))


@page("assets.view_asset", methods=("GET", "POST"))
def collections(request):
    user = request.user
    context = _base("collections")
    form = _collection_form(None)
    status = 200
    if request.method == "POST":
        require(user, "assets.add_collection")
        form = _collection_form_from(request.POST)
        settings = _collection_settings(form)
        if not settings["name"]:
            settings.pop("name")  # as the API: the name defaults to the code
        try:
            created = editing.create_collection(form["code"], **settings)
        except (InvalidInput, Conflict) as exc:
            status = refused(context, exc, "create", request)
        else:
            return done(
                request,
                _("Collection %(code)s created.") % {"code": created.code},
                reverse("web:asset_collection", args=[created.code]),
            )
    rows = (
        browse.visible_collections(user)
        .select_related("workflow")
        .annotate(asset_count=Count("assets", distinct=True))
        .order_by("code")
    )
    # A scoped manager creates none: a scope is what an administrator gives.
    can_add = user.has_perm("assets.add_collection") and scoping.manager_scope(user) is None
    context.update(collections=rows, form=form, workflows=_workflow_codes(), can_add=can_add)
    return render(request, "web/asset_settings/collections.html", context, status=status)


def _may_change(user, c: Collection, perm: str) -> bool:
    if not user.has_perm(perm):
        return False
    scope = scoping.manager_scope(user)
    return scope is None or c.pk in scope.ids


@page("assets.view_asset", methods=("GET", "POST"))
def collection_detail(request, code: str):
    user = request.user

    def load() -> Collection:
        found = (
            browse.visible_collections(user)
            .select_related("workflow")
            .prefetch_related("agencies", "managers")
            .annotate(asset_count=Count("assets", distinct=True))
            .filter(code=code)
            .first()
        )
        if found is None:
            raise NotFound(_("No collection with code %(code)s.") % {"code": code})
        return found

    c = load()
    context = _base("collections")
    form = None
    status = 200
    if request.method == "POST":
        version = posted_version(request.POST.get("version"))
        action = request.POST.get("action") or "save"
        if action == "delete":
            require(user, "assets.delete_collection")
            try:
                editing.delete_collection(code, expected_version=version)
            except (InvalidInput, Conflict) as exc:
                status = refused(context, exc, "delete", request)
                c = load()
            else:
                return done(
                    request,
                    _("Collection %(code)s deleted; its files stay in the library.")
                    % {"code": code},
                    reverse("web:asset_collections"),
                )
        else:
            require(user, "assets.change_collection")
            form = _collection_form_from(request.POST)
            form["code"] = code
            try:
                editing.update_collection(
                    code, expected_version=version, **_collection_settings(form)
                )
            except (InvalidInput, Conflict) as exc:
                status = refused(context, exc, "save", request)
                c = load()
                if context["stale"]:
                    form = None  # the current settings, with the current version
            else:
                return done(
                    request,
                    _("Collection %(code)s saved.") % {"code": code},
                    reverse("web:asset_collection", args=[code]),
                )
    context.update(
        collection=c,
        version=form_version(context, c),
        form=form or _collection_form(c),
        workflows=_workflow_codes(),
        agencies=sorted(u.username for u in c.agencies.all()),
        managers=sorted(u.username for u in c.managers.all()),
        can_edit=_may_change(user, c, "assets.change_collection"),
        can_delete=_may_change(user, c, "assets.delete_collection"),
        assets_url=reverse("web:assets") + f"?collection={c.code}",
    )
    return render(request, "web/asset_settings/collection.html", context, status=status)


# --- tags -------------------------------------------------------------------------------------


@page("assets.view_asset", methods=("GET", "POST"))
def tags(request):
    user = request.user
    context = _base("tags")
    context.update(target="", merge_form={"tags": [], "into": ""})
    status = 200
    if request.method == "POST":
        action = request.POST.get("action") or "rename"
        name = request.POST.get("name") or ""
        version = posted_version(request.POST.get("version"))
        try:
            if action == "merge":
                require(user, "assets.change_tag")
                require(user, "assets.delete_tag")
                sources = request.POST.getlist("tags")
                into = request.POST.get("into") or ""
                context["merge_form"] = {"tags": sources, "into": into}
                if not sources:
                    raise InvalidInput(_("Choose the tags to merge."), details={"field": "tags"})
                # Only what this user may see can be merged, as in the list.
                for source in sources:
                    editing.get_tag(source, user)
                target = editing.merge_tags(sources, into)
                said = ngettext(
                    "%(count)s tag merged into %(name)s.",
                    "%(count)s tags merged into %(name)s.",
                    len(sources),
                ) % {
                    "count": len(sources),
                    "name": target.name,
                }
            elif action == "delete":
                require(user, "assets.delete_tag")
                context["target"] = name
                editing.get_tag(name, user)
                editing.delete_tag(name, expected_version=version)
                said = _("Tag %(name)s deleted.") % {"name": name}
            else:
                require(user, "assets.change_tag")
                context["target"] = name
                editing.get_tag(name, user)
                tag = editing.rename_tag(
                    name, request.POST.get("new_name") or "", expected_version=version
                )
                said = _("Tag %(old)s renamed to %(new)s.") % {"old": name, "new": tag.name}
        except (InvalidInput, Conflict) as exc:
            status = refused(context, exc, action, request)
            if action == "rename" and not context["stale"]:
                context["typed"] = request.POST.get("new_name") or ""
        else:
            messages.success(request, said)
            query = query_without(request.GET)
            return redirect(reverse("web:asset_tags") + (f"?{query}" if query else ""))
    qs = editing.list_tags(user)
    search = (request.GET.get("q") or "").strip()
    if search:
        qs = qs.filter(name__contains=browse.normalise_tag(search))
    paginator = Paginator(qs, TAGS_PER_PAGE)
    number = int_param(request.GET.get("page"), 1, high=max(paginator.num_pages, 1))
    current = paginator.page(number)
    base = query_without(request.GET, "page")
    prefix = f"{base}&" if base else ""
    context.update(
        tags=list(current.object_list),
        q=search,
        pager={
            "number": number,
            "count": paginator.num_pages,
            "total": paginator.count,
            "previous": f"?{prefix}page={number - 1}" if current.has_previous() else "",
            "next": f"?{prefix}page={number + 1}" if current.has_next() else "",
        },
        query=request.GET.urlencode(),
        can_rename=user.has_perm("assets.change_tag"),
        can_delete=user.has_perm("assets.delete_tag"),
        can_merge=user.has_perm("assets.change_tag") and user.has_perm("assets.delete_tag"),
    )
    return render(request, "web/asset_settings/tags.html", context, status=status)


# --- custom fields ----------------------------------------------------------------------------


def _field_form(f: CustomField | None) -> dict:
    if f is None:
        return {
            "code": "",
            "label": "",
            "type": CustomField.Type.TEXT,
            "options": "",
            "required": False,
        }
    return {
        "code": f.code,
        "label": f.label,
        "type": f.type,
        "options": "\n".join(f.options or []),
        "required": f.required,
    }


def _field_form_from(post) -> dict:
    return {
        "code": (post.get("code") or "").strip(),
        "label": (post.get("label") or "").strip(),
        "type": post.get("type") or "",
        "options": post.get("options") or "",
        "required": "required" in post,
    }


def _field_settings(form: dict) -> dict:
    # One option a line; a blank line is no option.
    options = [line.strip() for line in form["options"].splitlines() if line.strip()]
    return {
        "label": form["label"] or form["code"],
        "type": form["type"],
        "options": options,
        "required": form["required"],
    }


def _field_usage(codes: list[str]) -> dict[str, int]:
    """How many assets hold a value for each field: one query per field, a handful at most."""
    return {code: Asset.objects.filter(custom__has_key=code).count() for code in codes}


@page("assets.view_asset", methods=("GET", "POST"))
def fields(request):
    context = _base("fields")
    form = _field_form(None)
    status = 200
    if request.method == "POST":
        require(request.user, "assets.add_customfield")
        form = _field_form_from(request.POST)
        try:
            made = editing.create_custom_field(form["code"], **_field_settings(form))
        except (InvalidInput, Conflict) as exc:
            status = refused(context, exc, "create", request)
        else:
            return done(
                request,
                _("Custom field %(code)s created.") % {"code": made.code},
                reverse("web:asset_fields"),
            )
    context.update(
        fields=CustomField.objects.order_by("code"),
        form=form,
        types=CustomField.Type.choices,
        can_add=request.user.has_perm("assets.add_customfield"),
    )
    return render(request, "web/asset_settings/fields.html", context, status=status)


@page("assets.view_asset", methods=("GET", "POST"))
def field_detail(request, code: str):
    def load() -> CustomField:
        found = CustomField.objects.filter(code=code).first()
        if found is None:
            raise NotFound(_("No custom field with code %(code)s.") % {"code": code})
        return found

    f = load()
    context = _base("fields")
    form = None
    status = 200
    if request.method == "POST":
        version = posted_version(request.POST.get("version"))
        action = request.POST.get("action") or "save"
        if action == "delete":
            require(request.user, "assets.delete_customfield")
            try:
                editing.delete_custom_field(code, expected_version=version)
            except (InvalidInput, Conflict) as exc:
                status = refused(context, exc, "delete", request)
                f = load()
            else:
                return done(
                    request,
                    _("Custom field %(code)s deleted.") % {"code": code},
                    reverse("web:asset_fields"),
                )
        else:
            require(request.user, "assets.change_customfield")
            form = _field_form_from(request.POST)
            form["code"] = code
            try:
                editing.update_custom_field(code, expected_version=version, **_field_settings(form))
            except (InvalidInput, Conflict) as exc:
                status = refused(context, exc, "save", request)
                f = load()
                if context["stale"]:
                    form = None
            else:
                return done(
                    request,
                    _("Custom field %(code)s saved.") % {"code": code},
                    reverse("web:asset_field", args=[code]),
                )
    context.update(
        field=f,
        version=form_version(context, f),
        form=form or _field_form(f),
        types=CustomField.Type.choices,
        used=_field_usage([f.code])[f.code],
        can_edit=request.user.has_perm("assets.change_customfield"),
        can_delete=request.user.has_perm("assets.delete_customfield"),
    )
    return render(request, "web/asset_settings/field.html", context, status=status)


# --- approval workflows -----------------------------------------------------------------------


def _workflow_form(w: ReviewWorkflow | None) -> dict:
    if w is None:
        return {"code": "", "name": "", "steps": [], "kinds": []}
    return {
        "code": w.code,
        "name": w.name,
        "steps": [{"name": s.get("name", ""), "group": s.get("group") or ""} for s in w.steps],
        "kinds": list(w.kinds or []),
    }


def _workflow_form_from(post) -> dict:
    names, groups = post.getlist("step_name"), post.getlist("step_group")
    steps = [
        {"name": (n or "").strip(), "group": g or ""}
        for n, g in zip(names, groups + [""] * (len(names) - len(groups)), strict=False)
    ]
    return {
        "code": (post.get("code") or "").strip(),
        "name": (post.get("name") or "").strip(),
        # A row left empty is no step (the spare rows); a group without a name is one.
        "steps": [s for s in steps if s["name"] or s["group"]],
        "kinds": post.getlist("kinds"),
    }


def _workflow_settings(form: dict) -> dict:
    return {
        "name": form["name"] or form["code"],
        "steps": [{"name": s["name"], "group": s["group"] or None} for s in form["steps"]],
        "kinds": form["kinds"],
    }


def _step_rows(form: dict, errors: dict) -> list[dict]:
    rows = [
        {
            "index": i,
            "name": s["name"],
            "group": s["group"],
            "errors": errors.get(f"steps.{i}.name", [])
            + errors.get(f"steps.{i}.group", [])
            + errors.get(f"steps.{i}", []),
        }
        for i, s in enumerate(form["steps"])
    ]
    start = len(rows)
    rows += [
        {"index": start + i, "name": "", "group": "", "errors": []} for i in range(SPARE_STEPS)
    ]
    return rows


def _workflow_choices() -> dict:
    return {
        "groups": list(Group.objects.order_by("name").values_list("name", flat=True)),
        "kinds": Asset.Kind.choices,
    }


@page("assets.view_asset", methods=("GET", "POST"))
def workflows(request):
    context = _base("workflows")
    form = _workflow_form(None)
    status = 200
    if request.method == "POST":
        require(request.user, "assets.add_reviewworkflow")
        form = _workflow_form_from(request.POST)
        try:
            made = editing.create_workflow(form["code"], **_workflow_settings(form))
        except (InvalidInput, Conflict) as exc:
            status = refused(context, exc, "create", request)
        else:
            return done(
                request,
                _("Approval workflow %(code)s created.") % {"code": made.code},
                reverse("web:asset_workflow", args=[made.code]),
            )
    context.update(
        workflows=ReviewWorkflow.objects.order_by("code"),
        form=form,
        steps=_step_rows(form, context["errors"]),
        can_add=request.user.has_perm("assets.add_reviewworkflow"),
        **_workflow_choices(),
    )
    return render(request, "web/asset_settings/workflows.html", context, status=status)


@page("assets.view_asset", methods=("GET", "POST"))
def workflow_detail(request, code: str):
    def load() -> ReviewWorkflow:
        found = ReviewWorkflow.objects.filter(code=code).first()
        if found is None:
            raise NotFound(_("No approval workflow with code %(code)s.") % {"code": code})
        return found

    w = load()
    context = _base("workflows")
    form = None
    status = 200
    if request.method == "POST":
        version = posted_version(request.POST.get("version"))
        action = request.POST.get("action") or "save"
        if action == "delete":
            require(request.user, "assets.delete_reviewworkflow")
            try:
                editing.delete_workflow(code, expected_version=version)
            except (InvalidInput, Conflict) as exc:
                status = refused(context, exc, "delete", request)
                w = load()
            else:
                return done(
                    request,
                    _("Approval workflow %(code)s deleted.") % {"code": code},
                    reverse("web:asset_workflows"),
                )
        else:
            require(request.user, "assets.change_reviewworkflow")
            form = _workflow_form_from(request.POST)
            form["code"] = code
            try:
                editing.update_workflow(code, expected_version=version, **_workflow_settings(form))
            except (InvalidInput, Conflict) as exc:
                status = refused(context, exc, "save", request)
                w = load()
                if context["stale"]:
                    form = None
            else:
                return done(
                    request,
                    _("Approval workflow %(code)s saved.") % {"code": code},
                    reverse("web:asset_workflow", args=[code]),
                )
    form = form or _workflow_form(w)
    context.update(
        workflow=w,
        version=form_version(context, w),
        form=form,
        steps=_step_rows(form, context["errors"]),
        # Only the collections this user may see (an agency: its own).
        collections=list(
            browse.visible_collections(request.user)
            .filter(workflow=w)
            .order_by("code")
            .values_list("code", flat=True)
        ),
        can_edit=request.user.has_perm("assets.change_reviewworkflow"),
        can_delete=request.user.has_perm("assets.delete_reviewworkflow"),
        **_workflow_choices(),
    )
    return render(request, "web/asset_settings/workflow.html", context, status=status)
