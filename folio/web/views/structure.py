"""The Structure area: what catalog managers maintain so that products can be described —
attributes with their groups and options, families with what each channel requires of them,
family variants with their axes, category trees, channels, locales and currencies.

Every write goes through folio.catalog.structure, the functions the API and the CLI call, with
the version the form was rendered with: a stale one is answered with 409 and the current state,
a refused setting with 422 and the reason next to the field it names. The permission a button
needs is the one the API requires for the same write; it is checked again on every POST.
"""

import re

from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _

from folio.accounts.services import require
from folio.catalog import structure
from folio.catalog.models import (
    Attribute,
    AttributeGroup,
    AttributeOption,
    Category,
    Channel,
    Currency,
    Family,
    FamilyRequirement,
    FamilyVariant,
    FamilyVariantAttribute,
    Locale,
    MeasurementFamily,
)
from folio.errors import Conflict, FolioError, InvalidInput, NotFound
from folio.web.views.base import (
    done,
    field_errors,
    form_version,
    int_param,
    page,
    posted_version,
    query_without,
    refused,
    whole_number,
)

T = Attribute.Type
PER_PAGE = 50
OPTIONS_PER_PAGE = 100
TREE_SHOWN = 2000  # nodes of one category tree drawn at once; deeper browsing goes by category


# --- shared -----------------------------------------------------------------------------------


def _failure(context: dict, exc: FolioError, action: str = "", request=None) -> int:
    return refused(context, exc, action, request, errors=_errors(exc))


def _errors(exc: FolioError) -> dict[str, list[str]]:
    """Reasons by the form field they belong to: "options[0].code" is the option form's
    code, "levels[1].axes" the levels grid."""
    out: dict[str, list[str]] = {}
    for where, reasons in field_errors(exc.details, exc.message).items():
        key = re.sub(r"^options\[\d+\]\.", "", where)
        if key.startswith("levels"):
            key = "levels"
        out.setdefault(key, []).extend(reasons)
    return out


def _locale_codes() -> list[str]:
    return list(Locale.objects.order_by("code").values_list("code", flat=True))


def _labels_from(post, locales: list[str], prefix: str = "label_") -> dict[str, str]:
    # Every locale is sent, an empty one too: clearing a label removes it.
    return {loc: post.get(prefix + loc, "") for loc in locales}


def _label_rows(labels: dict, locales: list[str]) -> list[dict]:
    return [{"locale": loc, "text": (labels or {}).get(loc, "")} for loc in locales]


def _codes(text: str) -> list[str]:
    return [c for c in re.split(r"[\s,;]+", text or "") if c]


def _pages(request, qs, per_page: int = PER_PAGE) -> dict:
    paginator = Paginator(qs, per_page)
    number = int_param(request.GET.get("page"), 1, high=max(paginator.num_pages, 1))
    current = paginator.page(number)
    base = query_without(request.GET, "page")
    prefix = f"{base}&" if base else ""
    return {
        "rows": list(current.object_list),
        "pager": {
            "number": number,
            "count": paginator.num_pages,
            "total": paginator.count,
            "previous": f"?{prefix}page={number - 1}" if current.has_previous() else "",
            "next": f"?{prefix}page={number + 1}" if current.has_next() else "",
        },
    }


# --- overview ---------------------------------------------------------------------------------


@page("catalog.view_attribute")
def index(request):
    counts = [
        (_("Attributes"), "web:structure_attributes", Attribute.objects.count()),
        (_("Attribute groups"), "web:structure_groups", AttributeGroup.objects.count()),
        (_("Families"), "web:structure_families", Family.objects.count()),
        (_("Family variants"), "web:structure_variants", FamilyVariant.objects.count()),
        (_("Categories"), "web:structure_categories", Category.objects.count()),
        (_("Channels"), "web:structure_channels", Channel.objects.count()),
        (_("Locales"), "web:structure_locales", Locale.objects.count()),
        (_("Currencies"), "web:structure_locales", Currency.objects.count()),
    ]
    areas = [{"label": label, "url": reverse(name), "count": n} for label, name, n in counts]
    return render(request, "web/structure/index.html", {"section": "structure", "areas": areas})


# --- attributes -------------------------------------------------------------------------------

BOOL_SETTINGS = ("unique", "is_gtin", "rich_text", "decimals_allowed", "negative_allowed")


def attribute_fields(a_type: str, localizable: bool) -> list[str]:
    """The settings an attribute of this type has (others are refused by the service)."""
    fields = ["labels", "group", "sort_order"]
    if localizable:
        fields.append("available_locales")
    if a_type in structure.UNIQUE_TYPES:
        fields.append("unique")
    if a_type in (T.IDENTIFIER, T.TEXT):
        fields += ["is_gtin", "text_rule", "regex"]
    if a_type in structure.TEXT_TYPES:
        fields.append("max_length")
    if a_type == T.TEXTAREA:
        fields.append("rich_text")
    if a_type in structure.NUMERIC_TYPES:
        fields += ["number_min", "number_max", "decimals_allowed", "negative_allowed"]
    if a_type == T.DATE:
        fields += ["date_min", "date_max"]
    if a_type == T.MEASUREMENT:
        fields += ["default_unit", "allowed_units"]
    return fields


def _attribute_form(a: Attribute) -> dict:
    snap = structure.attribute_snapshot(a)
    form = {k: ("" if v is None else v) for k, v in snap.items()}
    form["sort_order"] = str(a.sort_order)
    form["max_length"] = "" if a.max_length is None else str(a.max_length)
    form["date_min"] = a.date_min.isoformat() if a.date_min else ""
    form["date_max"] = a.date_max.isoformat() if a.date_max else ""
    return form


def _attribute_form_from(post, locales: list[str], fields) -> dict:
    form: dict = {"labels": _labels_from(post, locales)}
    for name in fields:
        if name in BOOL_SETTINGS:
            form[name] = name in post
        elif name in ("available_locales", "allowed_units"):
            form[name] = post.getlist(name)
        elif name != "labels":
            form[name] = (post.get(name) or "").strip()
    return form


def _attribute_changes(form: dict, fields) -> dict:
    changes = {}
    for name in fields:
        value = form[name]
        if name == "group":
            value = value or None
        elif name == "sort_order":
            value = whole_number(value, 0)
        elif name == "max_length":
            value = whole_number(value)
        elif name in ("number_min", "number_max", "date_min", "date_max"):
            value = value or None
        changes[name] = value
    return changes


def _attribute_rows(attributes: list[Attribute]) -> list[dict]:
    """Family and option counts for one page of attributes: two queries whatever its size."""
    ids = [a.pk for a in attributes]
    families = dict(
        Family.attributes.through.objects.filter(attribute_id__in=ids)
        .values("attribute_id")
        .annotate(n=Count("family_id"))
        .values_list("attribute_id", "n")
    )
    options = dict(
        AttributeOption.objects.filter(attribute_id__in=ids)
        .values("attribute_id")
        .annotate(n=Count("id"))
        .values_list("attribute_id", "n")
    )
    return [
        {"attribute": a, "families": families.get(a.pk, 0), "options": options.get(a.pk, 0)}
        for a in attributes
    ]


@page("catalog.view_attribute")
def attributes(request):
    qs = Attribute.objects.select_related("group").order_by("code")
    search = (request.GET.get("q") or "").strip()
    a_type = request.GET.get("type") or ""
    group = request.GET.get("group") or ""
    if search:
        qs = qs.filter(Q(code__icontains=search) | Q(labels__icontains=search))
    if a_type:
        qs = qs.filter(type=a_type)
    if group:
        qs = qs.filter(group__code=group)
    listing = _pages(request, qs)
    return render(
        request,
        "web/structure/attributes.html",
        {
            "section": "structure",
            "rows": _attribute_rows(listing["rows"]),
            "pager": listing["pager"],
            "q": search,
            "type": a_type,
            "group": group,
            "types": T.choices,
            "groups": AttributeGroup.objects.order_by("sort_order", "code"),
            "can_add": request.user.has_perm("catalog.add_attribute"),
        },
    )


CREATE_FIELDS = ("code", "type", "group", "sort_order", "measurement_family", "default_unit")


@page("catalog.view_attribute", methods=("GET", "POST"))
def attribute_create(request):
    require(request.user, "catalog.add_attribute")
    locales = _locale_codes()
    form: dict = {"type": T.TEXT, "labels": {}, "localizable": False, "scopable": False}
    context: dict = {"section": "structure", "errors": {}}
    status = 200
    if request.method == "POST":
        post = request.POST
        form = {name: (post.get(name) or "").strip() for name in CREATE_FIELDS}
        form.update(
            labels=_labels_from(post, locales),
            localizable="localizable" in post,
            scopable="scopable" in post,
        )
        settings = {
            "labels": form["labels"],
            "group": form["group"] or None,
            "sort_order": whole_number(form["sort_order"], 0),
            "localizable": form["localizable"],
            "scopable": form["scopable"],
        }
        # Only a measurement has these; sent when given so that a wrong pairing is named.
        for name in ("measurement_family", "default_unit"):
            if form[name]:
                settings[name] = form[name]
        try:
            created = structure.create_attribute(form["code"], type=form["type"], **settings)
        except (InvalidInput, Conflict) as exc:
            status = _failure(context, exc, request=request)
        else:
            return done(
                request,
                _("Attribute %(code)s created; its further settings are below.")
                % {"code": created.code},
                reverse("web:structure_attribute", args=[created.code]),
            )
    units = [
        {"family": mf.code, "unit": unit}
        for mf in MeasurementFamily.objects.order_by("code")
        for unit in mf.units
    ]
    context.update(
        form=form,
        labels=_label_rows(form["labels"], locales),
        types=T.choices,
        groups=AttributeGroup.objects.order_by("sort_order", "code"),
        measurement_families=MeasurementFamily.objects.order_by("code"),
        units=units,
    )
    return render(request, "web/structure/attribute_create.html", context, status=status)


def _attribute(code: str) -> Attribute:
    a = (
        Attribute.objects.select_related("group", "measurement_family")
        .prefetch_related("available_locales")
        .filter(code=code)
        .first()
    )
    if a is None:
        raise NotFound(_("No attribute with code %(code)s.") % {"code": code})
    return a


@page("catalog.view_attribute", methods=("GET", "POST"))
def attribute_detail(request, code: str):
    a = _attribute(code)
    locales = _locale_codes()
    fields = attribute_fields(a.type, a.localizable)
    context: dict = {"section": "structure", "errors": {}, "posted": ""}
    form = None
    option_form: dict = {"code": "", "labels": {}, "sort_order": ""}
    status = 200
    if request.method == "POST":
        action = request.POST.get("action") or "settings"
        if action == "add_option":
            require(request.user, "catalog.add_attributeoption")
            option_form = {
                "code": (request.POST.get("code") or "").strip(),
                "labels": _labels_from(request.POST, locales),
                "sort_order": (request.POST.get("sort_order") or "").strip(),
            }
            item = {"code": option_form["code"], "labels": option_form["labels"]}
            if option_form["sort_order"]:
                item["sort_order"] = whole_number(option_form["sort_order"])
            try:
                structure.add_options(code, [item])
            except (InvalidInput, Conflict) as exc:
                status = _failure(context, exc, "add_option", request)
                # The form above keeps its fields clean: the reasons belong to this one.
                context["sub_errors"], context["errors"] = context["errors"], {}
            else:
                return done(
                    request,
                    _("Option %(option)s added to %(code)s.")
                    % {"option": item["code"], "code": code},
                    reverse("web:structure_attribute", args=[code]) + "#options",
                )
        else:
            require(request.user, "catalog.change_attribute")
            form = _attribute_form_from(request.POST, locales, fields)
            try:
                structure.update_attribute(
                    code,
                    expected_version=posted_version(request.POST.get("version")),
                    **_attribute_changes(form, fields),
                )
            except (InvalidInput, Conflict) as exc:
                status = _failure(context, exc, "settings", request)
                if context["stale"]:
                    form = None  # the current settings, with the current version
                a = _attribute(code)
            else:
                return done(
                    request,
                    _("Attribute %(code)s saved.") % {"code": code},
                    reverse("web:structure_attribute", args=[code]),
                )
    form = form or _attribute_form(a)
    has_options = a.type in (T.SELECT, T.MULTISELECT)
    options = _pages(request, a.options.order_by("sort_order", "code"), OPTIONS_PER_PAGE)
    family_list = list(a.families.order_by("code").values_list("code", flat=True))
    context.update(
        attribute=a,
        version=form_version(context, a),
        fields=fields,
        form=form,
        labels=_label_rows(form["labels"], locales),
        option_form=option_form,
        option_labels=_label_rows(option_form["labels"], locales),
        locales=locales,
        groups=AttributeGroup.objects.order_by("sort_order", "code"),
        units=list(a.measurement_family.units) if a.measurement_family_id else [],
        text_rules=Attribute.TextRule.choices,
        has_options=has_options,
        options=options["rows"] if has_options else [],
        pager=options["pager"],
        families=family_list,
        can_edit=request.user.has_perm("catalog.change_attribute"),
        can_add_option=request.user.has_perm("catalog.add_attributeoption"),
        can_edit_option=request.user.has_perm("catalog.change_attributeoption"),
    )
    return render(request, "web/structure/attribute.html", context, status=status)


@page("catalog.view_attribute", methods=("GET", "POST"))
def option_detail(request, code: str, option: str):
    a = _attribute(code)
    locales = _locale_codes()

    def current():
        found = a.options.filter(code=option).first()
        if found is None:
            raise NotFound(
                _("%(code)s has no option %(option)s.") % {"code": code, "option": option}
            )
        return found

    opt = current()
    context: dict = {"section": "structure", "errors": {}}
    form = None
    status = 200
    if request.method == "POST":
        version = posted_version(request.POST.get("version"))
        if request.POST.get("action") == "delete":
            require(request.user, "catalog.delete_attributeoption")
            try:
                structure.delete_option(code, option, expected_version=version)
            except (InvalidInput, Conflict) as exc:
                status = _failure(context, exc, "delete", request)
                opt = current()
            else:
                return done(
                    request,
                    _("Option %(option)s deleted.") % {"option": option},
                    reverse("web:structure_attribute", args=[code]) + "#options",
                )
        else:
            require(request.user, "catalog.change_attributeoption")
            form = {
                "labels": _labels_from(request.POST, locales),
                "sort_order": (request.POST.get("sort_order") or "").strip(),
            }
            try:
                structure.update_option(
                    code,
                    option,
                    expected_version=version,
                    labels=form["labels"],
                    sort_order=whole_number(form["sort_order"], 0),
                )
            except (InvalidInput, Conflict) as exc:
                status = _failure(context, exc, "save", request)
                opt = current()
                if context["stale"]:
                    form = None
            else:
                return done(
                    request,
                    _("Option %(option)s saved.") % {"option": option},
                    reverse("web:structure_attribute", args=[code]) + "#options",
                )
    form = form or {"labels": opt.labels, "sort_order": str(opt.sort_order)}
    context.update(
        attribute=a,
        option=opt,
        version=form_version(context, opt),
        form=form,
        labels=_label_rows(form["labels"], locales),
        can_edit=request.user.has_perm("catalog.change_attributeoption"),
        can_delete=request.user.has_perm("catalog.delete_attributeoption"),
    )
    return render(request, "web/structure/option.html", context, status=status)


# --- attribute groups -------------------------------------------------------------------------


@page("catalog.view_attributegroup", methods=("GET", "POST"))
def groups(request):
    locales = _locale_codes()
    context: dict = {"section": "structure", "errors": {}}
    form: dict = {"code": "", "labels": {}, "sort_order": ""}
    status = 200
    if request.method == "POST":
        require(request.user, "catalog.add_attributegroup")
        form = {
            "code": (request.POST.get("code") or "").strip(),
            "labels": _labels_from(request.POST, locales),
            "sort_order": (request.POST.get("sort_order") or "").strip(),
        }
        try:
            group = structure.create_attribute_group(
                form["code"], labels=form["labels"], sort_order=whole_number(form["sort_order"], 0)
            )
        except (InvalidInput, Conflict) as exc:
            status = _failure(context, exc, request=request)
        else:
            return done(
                request,
                _("Attribute group %(code)s created.") % {"code": group.code},
                reverse("web:structure_groups"),
            )
    rows = AttributeGroup.objects.annotate(n=Count("attributes")).order_by("sort_order", "code")
    context.update(
        groups=rows,
        form=form,
        labels=_label_rows(form["labels"], locales),
        can_add=request.user.has_perm("catalog.add_attributegroup"),
    )
    return render(request, "web/structure/groups.html", context, status=status)


@page("catalog.view_attributegroup", methods=("GET", "POST"))
def group_detail(request, code: str):
    group = AttributeGroup.objects.filter(code=code).first()
    if group is None:
        raise NotFound(_("No attribute group with code %(code)s.") % {"code": code})
    locales = _locale_codes()
    context: dict = {"section": "structure", "errors": {}}
    form = None
    status = 200
    if request.method == "POST":
        require(request.user, "catalog.change_attributegroup")
        form = {
            "labels": _labels_from(request.POST, locales),
            "sort_order": (request.POST.get("sort_order") or "").strip(),
        }
        try:
            structure.update_attribute_group(
                code,
                expected_version=posted_version(request.POST.get("version")),
                labels=form["labels"],
                sort_order=whole_number(form["sort_order"], 0),
            )
        except (InvalidInput, Conflict) as exc:
            status = _failure(context, exc, request=request)
            group.refresh_from_db()
            if context["stale"]:
                form = None
        else:
            return done(
                request,
                _("Attribute group %(code)s saved.") % {"code": code},
                reverse("web:structure_group", args=[code]),
            )
    form = form or {"labels": group.labels, "sort_order": str(group.sort_order)}
    members = group.attributes.order_by("sort_order", "code")
    context.update(
        group=group,
        version=form_version(context, group),
        form=form,
        labels=_label_rows(form["labels"], locales),
        members=members[:PER_PAGE],
        more=max(members.count() - PER_PAGE, 0),
        can_edit=request.user.has_perm("catalog.change_attributegroup"),
    )
    return render(request, "web/structure/group.html", context, status=status)


# --- families ---------------------------------------------------------------------------------


@page("catalog.view_family")
def families(request):
    qs = Family.objects.order_by("code")
    search = (request.GET.get("q") or "").strip()
    if search:
        qs = qs.filter(Q(code__icontains=search) | Q(labels__icontains=search))
    listing = _pages(request, qs)
    ids = [f.pk for f in listing["rows"]]
    members = dict(
        Family.attributes.through.objects.filter(family_id__in=ids)
        .values("family_id")
        .annotate(n=Count("attribute_id"))
        .values_list("family_id", "n")
    )
    variants: dict[int, list[str]] = {}
    for family_id, variant in FamilyVariant.objects.filter(family_id__in=ids).values_list(
        "family_id", "code"
    ):
        variants.setdefault(family_id, []).append(variant)
    rows = [
        {
            "family": f,
            "attributes": members.get(f.pk, 0),
            "variants": sorted(variants.get(f.pk, [])),
        }
        for f in listing["rows"]
    ]
    return render(
        request,
        "web/structure/families.html",
        {
            "section": "structure",
            "rows": rows,
            "pager": listing["pager"],
            "q": search,
            "can_add": request.user.has_perm("catalog.add_family"),
        },
    )


@page("catalog.view_family", methods=("GET", "POST"))
def family_create(request):
    require(request.user, "catalog.add_family")
    locales = _locale_codes()
    context: dict = {"section": "structure", "errors": {}}
    form: dict = {"code": "", "labels": {}, "attributes": ""}
    status = 200
    if request.method == "POST":
        form = {
            "code": (request.POST.get("code") or "").strip(),
            "labels": _labels_from(request.POST, locales),
            "attributes": request.POST.get("attributes") or "",
        }
        try:
            family = structure.create_family(
                form["code"], labels=form["labels"], attributes=_codes(form["attributes"])
            )
        except (InvalidInput, Conflict) as exc:
            status = _failure(context, exc, request=request)
        else:
            return done(
                request,
                _("Family %(code)s created; choose what each channel requires below.")
                % {"code": family.code},
                reverse("web:structure_family", args=[family.code]),
            )
    context.update(
        form=form,
        labels=_label_rows(form["labels"], locales),
        all_attributes=Attribute.objects.order_by("code").values_list("code", flat=True),
    )
    return render(request, "web/structure/family_create.html", context, status=status)


def _family(code: str) -> Family:
    family = Family.objects.select_related("label_attribute", "image_attribute").filter(code=code)
    found = family.first()
    if found is None:
        raise NotFound(_("No family with code %(code)s.") % {"code": code})
    return found


@page("catalog.view_family", methods=("GET", "POST"))
def family_detail(request, code: str):
    family = _family(code)
    locales = _locale_codes()
    channels = list(Channel.objects.order_by("code"))
    context: dict = {"section": "structure", "errors": {}, "posted": ""}
    settings_form = None
    add_text = ""
    posted_requirements = None
    status = 200
    if request.method == "POST":
        require(request.user, "catalog.change_family")
        action = request.POST.get("action") or "settings"
        version = posted_version(request.POST.get("version"))
        post = request.POST
        try:
            if action == "attributes":
                add_text = post.get("add") or ""
                kept = post.getlist("attributes")
                wanted = list(dict.fromkeys([*kept, *_codes(add_text)]))
                structure.update_family(code, expected_version=version, attributes=wanted)
                said = _("Attributes of %(code)s saved.")
            elif action == "requirements":
                posted_requirements = {c.code: post.getlist(f"req_{c.code}") for c in channels}
                structure.set_requirements(code, posted_requirements, expected_version=version)
                said = _(
                    "Requirements of %(code)s saved; completeness is being recomputed for its "
                    "products."
                )
            else:
                action = "settings"
                settings_form = {
                    "labels": _labels_from(post, locales),
                    "label_attribute": post.get("label_attribute") or "",
                    "image_attribute": post.get("image_attribute") or "",
                    "requires_review": "requires_review" in post,
                }
                structure.update_family(
                    code,
                    expected_version=version,
                    labels=settings_form["labels"],
                    label_attribute=settings_form["label_attribute"] or None,
                    image_attribute=settings_form["image_attribute"] or None,
                    requires_review=settings_form["requires_review"],
                )
                said = _("Family %(code)s saved.")
        except (InvalidInput, Conflict) as exc:
            status = _failure(context, exc, action, request)
            family = _family(code)
            if context["stale"]:
                settings_form, add_text, posted_requirements = None, "", None
        else:
            anchor = {"attributes": "#attributes", "requirements": "#requirements"}.get(action, "")
            return done(
                request,
                said % {"code": code},
                reverse("web:structure_family", args=[code]) + anchor,
            )
    members = list(
        family.attributes.select_related("group").order_by(
            "group__sort_order", "sort_order", "code"
        )
    )
    required: dict[str, set[str]] = {c.code: set() for c in channels}
    for channel_code, attribute_code in FamilyRequirement.objects.filter(family=family).values_list(
        "channel__code", "attribute__code"
    ):
        required.setdefault(channel_code, set()).add(attribute_code)
    if posted_requirements is not None:
        required = {k: set(v) for k, v in posted_requirements.items()}
    settings_form = settings_form or {
        "labels": family.labels,
        "label_attribute": family.label_attribute.code if family.label_attribute_id else "",
        "image_attribute": family.image_attribute.code if family.image_attribute_id else "",
        "requires_review": family.requires_review,
    }
    member_codes = {a.code for a in members}
    context.update(
        family=family,
        version=form_version(context, family),
        form=settings_form,
        labels=_label_rows(settings_form["labels"], locales),
        members=members,
        channels=channels,
        grid=[
            {
                "attribute": a,
                "cells": [
                    {"channel": c.code, "required": a.code in required[c.code]} for c in channels
                ],
            }
            for a in members
        ],
        label_candidates=[a for a in members if a.type in (T.TEXT, T.IDENTIFIER)],
        image_candidates=[a for a in members if a.type == T.ASSET_COLLECTION],
        candidates=Attribute.objects.exclude(code__in=member_codes)
        .order_by("code")
        .values_list("code", flat=True),
        add_text=add_text,
        variants=family.variants.order_by("code"),
        can_edit=request.user.has_perm("catalog.change_family"),
    )
    return render(request, "web/structure/family.html", context, status=status)


# --- family variants --------------------------------------------------------------------------


@page("catalog.view_familyvariant")
def variants(request):
    qs = FamilyVariant.objects.select_related("family").order_by("code")
    family = request.GET.get("family") or ""
    if family:
        qs = qs.filter(family__code=family)
    listing = _pages(request, qs)
    axes: dict[int, dict[int, list[str]]] = {}
    for variant_id, level, attribute in (
        FamilyVariantAttribute.objects.filter(
            family_variant_id__in=[v.pk for v in listing["rows"]], is_axis=True
        )
        .order_by("level", "attribute__code")
        .values_list("family_variant_id", "level", "attribute__code")
    ):
        axes.setdefault(variant_id, {}).setdefault(level, []).append(attribute)
    rows = [
        {"variant": v, "levels": [axes.get(v.pk, {})[n] for n in sorted(axes.get(v.pk, {}))]}
        for v in listing["rows"]
    ]
    return render(
        request,
        "web/structure/variants.html",
        {
            "section": "structure",
            "rows": rows,
            "pager": listing["pager"],
            "family": family,
            "families": Family.objects.order_by("code").values_list("code", flat=True),
            "can_add": request.user.has_perm("catalog.add_familyvariant"),
        },
    )


def _placement_from(post, members) -> dict[str, dict]:
    out = {}
    for a in members:
        level = post.get(f"level_{a.code}") or "0"
        out[a.code] = {
            "level": level if level in ("0", "1", "2") else "0",
            "axis": f"axis_{a.code}" in post,
        }
    return out


def _levels(placement: dict[str, dict]) -> list[dict]:
    """The grid as the service's levels: as many levels as the deepest one ticked."""
    depth = max((int(p["level"]) for p in placement.values()), default=0) or 1
    levels = [{"axes": [], "attributes": []} for _n in range(depth)]
    for code, p in placement.items():
        n = int(p["level"])
        if n:
            levels[n - 1]["axes" if p["axis"] else "attributes"].append(code)
    return levels


def _grid(members, placement: dict[str, dict]) -> list[dict]:
    return [
        {
            "attribute": a,
            "level": placement.get(a.code, {}).get("level", "0"),
            "axis": placement.get(a.code, {}).get("axis", False),
            "can_axis": a.type in structure.AXIS_TYPES and not (a.localizable or a.scopable),
        }
        for a in members
    ]


def _members(family: Family) -> list[Attribute]:
    return list(family.attributes.order_by("sort_order", "code"))


@page("catalog.view_familyvariant", methods=("GET", "POST"))
def variant_create(request):
    require(request.user, "catalog.add_familyvariant")
    locales = _locale_codes()
    data = request.POST if request.method == "POST" else request.GET
    family_code = data.get("family") or ""
    family = Family.objects.filter(code=family_code).first() if family_code else None
    members = _members(family) if family else []
    context: dict = {"section": "structure", "errors": {}}
    form = {"code": (data.get("code") or "").strip(), "labels": _labels_from(data, locales)}
    placement = _placement_from(data, members)
    status = 200
    if request.method == "POST":
        try:
            variant = structure.create_family_variant(
                form["code"], family=family_code, labels=form["labels"], levels=_levels(placement)
            )
        except (InvalidInput, Conflict) as exc:
            status = _failure(context, exc, request=request)
        else:
            return done(
                request,
                _("Family variant %(code)s created.") % {"code": variant.code},
                reverse("web:structure_variant", args=[variant.code]),
            )
    context.update(
        family=family,
        families=Family.objects.order_by("code"),
        form=form,
        labels=_label_rows(form["labels"], locales),
        grid=_grid(members, placement),
    )
    return render(request, "web/structure/variant_create.html", context, status=status)


@page("catalog.view_familyvariant", methods=("GET", "POST"))
def variant_detail(request, code: str):
    def load():
        found = FamilyVariant.objects.select_related("family").filter(code=code).first()
        if found is None:
            raise NotFound(_("No family variant with code %(code)s.") % {"code": code})
        return found

    variant = load()
    locales = _locale_codes()
    members = _members(variant.family)
    context: dict = {"section": "structure", "errors": {}}
    form = placement = None
    status = 200
    if request.method == "POST":
        require(request.user, "catalog.change_familyvariant")
        form = {"labels": _labels_from(request.POST, locales)}
        placement = _placement_from(request.POST, members)
        try:
            structure.update_family_variant(
                code,
                expected_version=posted_version(request.POST.get("version")),
                labels=form["labels"],
                levels=_levels(placement),
            )
        except (InvalidInput, Conflict) as exc:
            status = _failure(context, exc, request=request)
            variant = load()
            if context["stale"]:
                form = placement = None
        else:
            return done(
                request,
                _("Family variant %(code)s saved.") % {"code": code},
                reverse("web:structure_variant", args=[code]),
            )
    if placement is None:
        placement = {
            fva.attribute.code: {"level": str(fva.level), "axis": fva.is_axis}
            for fva in variant.level_attributes.select_related("attribute")
        }
    form = form or {"labels": variant.labels}
    context.update(
        variant=variant,
        version=form_version(context, variant),
        form=form,
        labels=_label_rows(form["labels"], locales),
        grid=_grid(members, placement),
        levels=structure.variant_levels(variant),
        models=variant.models.count(),
        can_edit=request.user.has_perm("catalog.change_familyvariant"),
    )
    return render(request, "web/structure/variant.html", context, status=status)


# --- categories -------------------------------------------------------------------------------


def _nest(categories: list[Category]) -> list[dict]:
    """Categories ordered by path → nested nodes, siblings by sort order then code."""
    nodes = {c.pk: {"category": c, "children": []} for c in categories}
    roots = []
    for c in categories:
        parent = nodes.get(c.parent_id)
        (parent["children"] if parent else roots).append(nodes[c.pk])

    def order(items):
        items.sort(key=lambda n: (n["category"].sort_order, n["category"].code))
        for n in items:
            order(n["children"])
        return items

    return order(roots)


@page("catalog.view_category", methods=("GET", "POST"))
def categories(request):
    locales = _locale_codes()
    trees = list(Category.objects.filter(parent__isnull=True).order_by("sort_order", "code"))
    context: dict = {"section": "structure", "errors": {}}
    form: dict = {"code": "", "labels": {}}
    status = 200
    if request.method == "POST":
        require(request.user, "catalog.add_category")
        form = {
            "code": (request.POST.get("code") or "").strip(),
            "labels": _labels_from(request.POST, locales),
        }
        try:
            tree = structure.create_category(form["code"], labels=form["labels"])
        except (InvalidInput, Conflict) as exc:
            status = _failure(context, exc, request=request)
        else:
            return done(
                request,
                _("Category tree %(code)s created.") % {"code": tree.code},
                reverse("web:structure_categories") + f"?tree={tree.code}",
            )
    codes = [t.code for t in trees]
    current = request.GET.get("tree") or (codes[0] if codes else "")
    nodes, total = [], 0
    if current in codes:
        qs = structure.categories_in_tree(current).order_by("path")
        shown = list(qs[:TREE_SHOWN])
        total = len(shown) if len(shown) < TREE_SHOWN else qs.count()
        nodes = _nest(shown)
    context.update(
        trees=trees,
        tree=current,
        nodes=nodes,
        total=total,
        truncated=total > TREE_SHOWN,
        form=form,
        labels=_label_rows(form["labels"], locales),
        can_add=request.user.has_perm("catalog.add_category"),
    )
    return render(request, "web/structure/categories.html", context, status=status)


@page("catalog.view_category", methods=("GET", "POST"))
def category_detail(request, code: str):
    def load():
        found = Category.objects.select_related("parent").filter(code=code).first()
        if found is None:
            raise NotFound(_("No category with code %(code)s.") % {"code": code})
        return found

    category = load()
    locales = _locale_codes()
    context: dict = {"section": "structure", "errors": {}, "posted": ""}
    form = None
    child: dict = {"code": "", "labels": {}}
    status = 200
    if request.method == "POST":
        action = request.POST.get("action") or "save"
        post = request.POST
        if action == "add_child":
            require(request.user, "catalog.add_category")
            child = {
                "code": (post.get("code") or "").strip(),
                "labels": _labels_from(post, locales, "child_label_"),
            }
            try:
                made = structure.create_category(child["code"], parent=code, labels=child["labels"])
            except (InvalidInput, Conflict) as exc:
                status = _failure(context, exc, "add_child", request)
                # The form above keeps its fields clean: the reasons belong to this one.
                context["sub_errors"], context["errors"] = context["errors"], {}
            else:
                return done(
                    request,
                    _("Category %(child)s added under %(code)s.")
                    % {"child": made.code, "code": code},
                    reverse("web:structure_category", args=[code]) + "#children",
                )
        else:
            require(request.user, "catalog.change_category")
            form = {
                "labels": _labels_from(post, locales),
                "sort_order": (post.get("sort_order") or "").strip(),
                "parent": (post.get("parent") or "").strip(),
            }
            changes = {"labels": form["labels"], "sort_order": whole_number(form["sort_order"], 0)}
            if category.parent_id and form["parent"] and form["parent"] != category.parent.code:
                changes["parent"] = form["parent"]
            try:
                structure.update_category(
                    code, expected_version=posted_version(post.get("version")), **changes
                )
            except (InvalidInput, Conflict) as exc:
                status = _failure(context, exc, "save", request)
                category = load()
                if context["stale"]:
                    form = None
            else:
                return done(
                    request,
                    _("Category %(code)s saved.") % {"code": code},
                    reverse("web:structure_category", args=[code]),
                )
    form = form or {
        "labels": category.labels,
        "sort_order": str(category.sort_order),
        "parent": category.parent.code if category.parent_id else "",
    }
    ancestors = category.path.split("/")[:-1]
    tree = ancestors[0] if ancestors else category.code
    places = []
    if category.parent_id:
        places = list(
            structure.categories_in_tree(tree)
            .exclude(Q(pk=category.pk) | Q(path__startswith=category.path + "/"))
            .order_by("path")
            .values_list("code", "path")[:TREE_SHOWN]
        )
    context.update(
        category=category,
        version=form_version(context, category),
        tree=tree,
        ancestors=ancestors,
        form=form,
        labels=_label_rows(form["labels"], locales),
        child=child,
        child_labels=_label_rows(child["labels"], locales),
        children=category.children.order_by("sort_order", "code"),
        places=places,
        channels=category.channels.order_by("code").values_list("code", flat=True),
        can_edit=request.user.has_perm("catalog.change_category"),
        can_add=request.user.has_perm("catalog.add_category"),
    )
    return render(request, "web/structure/category.html", context, status=status)


# --- channels ---------------------------------------------------------------------------------


def _channels():
    return Channel.objects.select_related("category_tree").prefetch_related("locales", "currencies")


@page("catalog.view_channel")
def channels(request):
    return render(
        request,
        "web/structure/channels.html",
        {
            "section": "structure",
            "channels": _channels().order_by("code"),
            "can_add": request.user.has_perm("catalog.add_channel"),
        },
    )


def _channel_form(channel: Channel) -> dict:
    snap = structure.channel_snapshot(channel)
    return {
        "code": channel.code,
        "labels": snap["labels"],
        "kind": snap["kind"],
        "locales": snap["locales"],
        "currencies": snap["currencies"],
        "territories": " ".join(snap["territories"]),
        "category_tree": snap["category_tree"] or "",
        "requires_review": snap["requires_review"],
    }


def _channel_form_from(post, locales: list[str]) -> dict:
    return {
        "code": (post.get("code") or "").strip(),
        "labels": _labels_from(post, locales),
        "kind": post.get("kind") or "",
        "locales": post.getlist("locales"),
        "currencies": post.getlist("currencies"),
        "territories": post.get("territories") or "",
        "category_tree": post.get("category_tree") or "",
        "requires_review": "requires_review" in post,
    }


def _channel_settings(form: dict) -> dict:
    return {
        "labels": form["labels"],
        "kind": form["kind"],
        "locales": form["locales"],
        "currencies": form["currencies"],
        "territories": _codes(form["territories"]),
        "category_tree": form["category_tree"] or None,
        "requires_review": form["requires_review"],
    }


def _channel_choices(locales: list[str]) -> dict:
    return {
        "kinds": Channel.Kind.choices,
        "all_locales": locales,
        "all_currencies": list(Currency.objects.order_by("code").values_list("code", flat=True)),
        "trees": list(
            Category.objects.filter(parent__isnull=True)
            .order_by("code")
            .values_list("code", flat=True)
        ),
    }


@page("catalog.view_channel", methods=("GET", "POST"))
def channel_create(request):
    require(request.user, "catalog.add_channel")
    locales = _locale_codes()
    context: dict = {"section": "structure", "errors": {}}
    form = {
        "code": "",
        "labels": {},
        "kind": Channel.Kind.WEBSHOP,
        "locales": [],
        "currencies": [],
        "territories": "",
        "category_tree": "",
        "requires_review": False,
    }
    status = 200
    if request.method == "POST":
        form = _channel_form_from(request.POST, locales)
        try:
            channel = structure.create_channel(form["code"], **_channel_settings(form))
        except (InvalidInput, Conflict) as exc:
            status = _failure(context, exc, request=request)
        else:
            return done(
                request,
                _("Channel %(code)s created.") % {"code": channel.code},
                reverse("web:structure_channel", args=[channel.code]),
            )
    context.update(
        form=form, labels=_label_rows(form["labels"], locales), **_channel_choices(locales)
    )
    return render(request, "web/structure/channel_create.html", context, status=status)


@page("catalog.view_channel", methods=("GET", "POST"))
def channel_detail(request, code: str):
    def load():
        found = _channels().filter(code=code).first()
        if found is None:
            raise NotFound(_("No channel with code %(code)s.") % {"code": code})
        return found

    channel = load()
    locales = _locale_codes()
    context: dict = {"section": "structure", "errors": {}}
    form = None
    status = 200
    if request.method == "POST":
        require(request.user, "catalog.change_channel")
        form = _channel_form_from(request.POST, locales)
        try:
            structure.update_channel(
                code,
                expected_version=posted_version(request.POST.get("version")),
                **_channel_settings(form),
            )
        except (InvalidInput, Conflict) as exc:
            status = _failure(context, exc, request=request)
            channel = load()
            if context["stale"]:
                form = None
        else:
            return done(
                request,
                _("Channel %(code)s saved.") % {"code": code},
                reverse("web:structure_channel", args=[code]),
            )
    form = form or _channel_form(channel)
    context.update(
        channel=channel,
        version=form_version(context, channel),
        form=form,
        labels=_label_rows(form["labels"], locales),
        can_edit=request.user.has_perm("catalog.change_channel"),
        **_channel_choices(locales),
    )
    return render(request, "web/structure/channel.html", context, status=status)


# --- locales and currencies -------------------------------------------------------------------

KINDS = {
    "locale": (Locale, structure.create_locale, structure.update_locale, structure.delete_locale),
    "currency": (
        Currency,
        structure.create_currency,
        structure.update_currency,
        structure.delete_currency,
    ),
}


@page("catalog.view_locale", methods=("GET", "POST"))
def locales(request):
    require(request.user, "catalog.view_currency")
    context: dict = {"section": "structure", "errors": {}, "posted": "", "target": ""}
    status = 200
    forms = {"locale": {"code": "", "label": ""}, "currency": {"code": "", "label": ""}}
    if request.method == "POST":
        kind = request.POST.get("kind")
        if kind not in KINDS:
            require(request.user, "catalog.change_locale")  # refused before it is explained
            raise InvalidInput(_("kind: expected locale or currency"), details={"field": "kind"})
        model, create, update, delete = KINDS[kind]
        action = request.POST.get("action") or "create"
        perm = {"create": "add", "save": "change", "delete": "delete"}.get(action, "add")
        require(request.user, f"catalog.{perm}_{model._meta.model_name}")
        code = (request.POST.get("code") or "").strip()
        label = request.POST.get("label") or ""
        version = posted_version(request.POST.get("version"))
        try:
            if action == "delete":
                delete(code, expected_version=version)
                said = _("%(code)s deleted.")
            elif action == "save":
                update(code, label=label, expected_version=version)
                said = _("%(code)s saved.")
            else:
                forms[kind] = {"code": code, "label": label}
                create(code, label=label)
                said = _("%(code)s added.")
        except (InvalidInput, Conflict) as exc:
            status = _failure(context, exc, f"{kind}_{action}", request)
            context["target"] = code
        else:
            return done(
                request, said % {"code": code}, reverse("web:structure_locales") + f"#{kind}-list"
            )
    context.update(
        locales=Locale.objects.annotate(channels_n=Count("channels")).order_by("code"),
        currencies=Currency.objects.annotate(channels_n=Count("channels")).order_by("code"),
        forms=forms,
        perms_for={
            "locale": {
                "add": request.user.has_perm("catalog.add_locale"),
                "change": request.user.has_perm("catalog.change_locale"),
                "delete": request.user.has_perm("catalog.delete_locale"),
            },
            "currency": {
                "add": request.user.has_perm("catalog.add_currency"),
                "change": request.user.has_perm("catalog.change_currency"),
                "delete": request.user.has_perm("catalog.delete_currency"),
            },
        },
    )
    return render(request, "web/structure/locales.html", context, status=status)
