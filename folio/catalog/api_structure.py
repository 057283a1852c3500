"""REST API for the catalog structure: locales, currencies, channels, attribute groups,
attributes and options, families and requirements, family variants, categories, measurement
families (read-only), product groups and association types.

Thin: each operation checks the permission and calls folio.catalog.structure. Every object
that can be changed answers with its `version` (in the body and as the ETag); PATCH, PUT and
DELETE take it back (body `version`, `?version=` or If-Match) so that nobody overwrites a
change they have not seen.
"""

import datetime
from decimal import Decimal

from django.http import HttpResponse
from ninja import Header, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import ConfigDict

from folio.accounts.services import require
from folio.api import Pagination
from folio.catalog import structure
from folio.catalog.models import (
    AssociationType,
    Attribute,
    AttributeGroup,
    Category,
    Channel,
    Currency,
    Family,
    FamilyVariant,
    Locale,
    MeasurementFamily,
    ProductGroup,
)
from folio.errors import NotFound
from folio.versioning import expected_version, patch_and_version, shows_current

router = Router(tags=["catalog structure"])
IF_MATCH = Header(None, alias="If-Match", description='The ETag of the version you edited: W/"3"')


class In(Schema):
    # A misspelt setting must fail loudly, not be ignored while the rest is saved.
    model_config = ConfigDict(extra="forbid")


def _tagged(response: HttpResponse, obj, version: int | None = None):
    """`obj` as the answer, its version as the ETag: what a later If-Match sends back."""
    response["ETag"] = f'W/"{obj.version if version is None else version}"'
    return obj


def _get(model, code: str, qs=None):
    obj = (qs if qs is not None else model.objects).filter(code=code).first()
    if obj is None:
        raise NotFound(f"no {model._meta.verbose_name} with code {code!r}", details={"code": code})
    return obj


# --- schemas ----------------------------------------------------------------------------------


class LocaleOut(Schema):
    code: str
    label: str
    version: int
    updated_at: datetime.datetime


class LocaleIn(In):
    code: str
    label: str = ""


class LocalePatch(In):
    label: str
    version: int | None = None


class ChannelOut(Schema):
    code: str
    labels: dict[str, str]
    kind: str
    locales: list[str]
    currencies: list[str]
    territories: list[str]
    category_tree: str | None
    requires_review: bool
    version: int
    updated_at: datetime.datetime

    @staticmethod
    def resolve_locales(obj):
        return sorted(loc.code for loc in obj.locales.all())

    @staticmethod
    def resolve_currencies(obj):
        return sorted(c.code for c in obj.currencies.all())

    @staticmethod
    def resolve_category_tree(obj):
        return obj.category_tree.code if obj.category_tree_id else None


class ChannelIn(In):
    code: str
    labels: dict[str, str] = {}
    kind: str = Channel.Kind.WEBSHOP
    locales: list[str]
    currencies: list[str] = []
    territories: list[str] = []
    category_tree: str | None = None
    requires_review: bool = False


class ChannelPatch(In):
    labels: dict[str, str] | None = None
    kind: str | None = None
    locales: list[str] | None = None
    currencies: list[str] | None = None
    territories: list[str] | None = None
    category_tree: str | None = None
    requires_review: bool | None = None
    version: int | None = None


class AttributeGroupOut(Schema):
    code: str
    labels: dict[str, str]
    sort_order: int
    version: int
    updated_at: datetime.datetime


class AttributeGroupIn(In):
    code: str
    labels: dict[str, str] = {}
    sort_order: int = 0


class AttributeGroupPatch(In):
    labels: dict[str, str] | None = None
    sort_order: int | None = None
    version: int | None = None


class AttributeOut(Schema):
    code: str
    type: str
    labels: dict[str, str]
    group: str | None
    sort_order: int
    localizable: bool
    scopable: bool
    available_locales: list[str]
    unique: bool
    is_gtin: bool
    max_length: int | None
    text_rule: str
    regex: str
    rich_text: bool
    number_min: str | None
    number_max: str | None
    decimals_allowed: bool
    negative_allowed: bool
    date_min: datetime.date | None
    date_max: datetime.date | None
    measurement_family: str | None
    default_unit: str
    allowed_units: list[str]
    version: int
    updated_at: datetime.datetime

    @staticmethod
    def resolve_group(obj):
        return obj.group.code if obj.group_id else None

    @staticmethod
    def resolve_available_locales(obj):
        return sorted(loc.code for loc in obj.available_locales.all())

    @staticmethod
    def resolve_number_min(obj):
        return structure.decimal_text(obj.number_min)

    @staticmethod
    def resolve_number_max(obj):
        return structure.decimal_text(obj.number_max)

    @staticmethod
    def resolve_measurement_family(obj):
        return obj.measurement_family.code if obj.measurement_family_id else None


class AttributeSettings(In):
    labels: dict[str, str] | None = None
    group: str | None = None
    sort_order: int | None = None
    available_locales: list[str] | None = None
    unique: bool | None = None
    is_gtin: bool | None = None
    max_length: int | None = None
    text_rule: str | None = None
    regex: str | None = None
    rich_text: bool | None = None
    number_min: Decimal | None = None
    number_max: Decimal | None = None
    decimals_allowed: bool | None = None
    negative_allowed: bool | None = None
    date_min: datetime.date | None = None
    date_max: datetime.date | None = None
    measurement_family: str | None = None
    default_unit: str | None = None
    allowed_units: list[str] | None = None


class AttributeIn(AttributeSettings):
    code: str
    type: str
    localizable: bool = False
    scopable: bool = False


class AttributePatch(AttributeSettings):
    # Accepted only to be refused with a reason: these are fixed once the attribute exists.
    type: str | None = None
    localizable: bool | None = None
    scopable: bool | None = None
    version: int | None = None


class OptionOut(Schema):
    code: str
    labels: dict[str, str]
    sort_order: int
    version: int
    updated_at: datetime.datetime


class OptionIn(In):
    code: str
    labels: dict[str, str] = {}
    sort_order: int | None = None


class OptionsIn(In):
    options: list[OptionIn]


class OptionPatch(In):
    labels: dict[str, str] | None = None
    sort_order: int | None = None
    version: int | None = None


class FamilyOut(Schema):
    code: str
    labels: dict[str, str]
    attributes: list[str]
    label_attribute: str | None
    image_attribute: str | None
    requires_review: bool
    requirements: dict[str, list[str]]
    version: int
    updated_at: datetime.datetime

    @staticmethod
    def resolve_attributes(obj):
        return sorted(a.code for a in obj.attributes.all())

    @staticmethod
    def resolve_label_attribute(obj):
        return obj.label_attribute.code if obj.label_attribute_id else None

    @staticmethod
    def resolve_image_attribute(obj):
        return obj.image_attribute.code if obj.image_attribute_id else None

    @staticmethod
    def resolve_requirements(obj):
        return structure.family_requirements(obj)


class FamilyIn(In):
    code: str
    labels: dict[str, str] = {}
    attributes: list[str] = []
    label_attribute: str | None = None
    image_attribute: str | None = None
    requires_review: bool = False
    requirements: dict[str, list[str]] = {}


class FamilyPatch(In):
    labels: dict[str, str] | None = None
    attributes: list[str] | None = None
    label_attribute: str | None = None
    image_attribute: str | None = None
    requires_review: bool | None = None
    requirements: dict[str, list[str]] | None = None
    version: int | None = None


class RequirementsOut(Schema):
    family: str
    requirements: dict[str, list[str]]
    version: int


class RequirementsIn(In):
    requirements: dict[str, list[str]]
    version: int | None = None


class LevelOut(Schema):
    level: int
    axes: list[str]
    attributes: list[str]


class LevelIn(In):
    axes: list[str]
    attributes: list[str] = []


class FamilyVariantOut(Schema):
    code: str
    family: str
    labels: dict[str, str]
    levels: list[LevelOut]
    version: int
    updated_at: datetime.datetime

    @staticmethod
    def resolve_family(obj):
        return obj.family.code

    @staticmethod
    def resolve_levels(obj):
        return structure.variant_levels(obj)


class FamilyVariantIn(In):
    code: str
    family: str
    labels: dict[str, str] = {}
    levels: list[LevelIn]


class FamilyVariantPatch(In):
    family: str | None = None  # fixed; accepted only to be refused with a reason
    labels: dict[str, str] | None = None
    levels: list[LevelIn] | None = None
    version: int | None = None


class CategoryOut(Schema):
    code: str
    labels: dict[str, str]
    parent: str | None
    tree: str
    path: str
    sort_order: int
    version: int
    updated_at: datetime.datetime

    @staticmethod
    def resolve_parent(obj):
        return obj.parent.code if obj.parent_id else None

    @staticmethod
    def resolve_tree(obj):
        return structure.tree_of(obj)


class CategoryIn(In):
    code: str
    parent: str | None = None
    labels: dict[str, str] = {}
    sort_order: int = 0


class CategoryPatch(In):
    parent: str | None = None
    labels: dict[str, str] | None = None
    sort_order: int | None = None
    version: int | None = None


class MeasurementFamilyOut(Schema):
    code: str
    labels: dict[str, str]
    standard_unit: str
    units: dict[str, dict]


class GroupOut(Schema):
    code: str
    labels: dict[str, str]
    version: int
    updated_at: datetime.datetime


class GroupIn(In):
    code: str
    labels: dict[str, str] = {}


class GroupPatch(In):
    labels: dict[str, str] | None = None
    version: int | None = None


class AssociationTypeOut(Schema):
    code: str
    labels: dict[str, str]
    two_way: bool
    quantified: bool
    version: int
    updated_at: datetime.datetime


class AssociationTypeIn(In):
    code: str
    labels: dict[str, str] = {}
    two_way: bool = False
    quantified: bool = False


class AssociationTypePatch(In):
    labels: dict[str, str] | None = None
    two_way: bool | None = None
    quantified: bool | None = None
    version: int | None = None


# --- locales and currencies -------------------------------------------------------------------


@router.get("/catalog/locales", response=list[LocaleOut], summary="Locales")
@paginate(Pagination, ordering=("code",))
def list_locales(request, **kwargs):
    require(request.user, "catalog.view_locale")
    return Locale.objects.all()


@router.post("/catalog/locales", response={201: LocaleOut}, summary="Add a locale")
def create_locale(request, payload: LocaleIn, response: HttpResponse):
    require(request.user, "catalog.add_locale")
    return Status(
        201, _tagged(response, structure.create_locale(payload.code, label=payload.label))
    )


@router.get("/catalog/locales/{code}", response=LocaleOut, summary="One locale")
def get_locale(request, code: str, response: HttpResponse):
    require(request.user, "catalog.view_locale")
    return _tagged(response, _get(Locale, code))


@router.patch(
    "/catalog/locales/{code}",
    response=LocaleOut,
    summary="Change a locale's label; send its version (body or If-Match)",
)
@shows_current(get_locale)
def update_locale(
    request,
    code: str,
    payload: LocalePatch,
    response: HttpResponse,
    if_match: str | None = IF_MATCH,
):
    require(request.user, "catalog.change_locale")
    version = expected_version(payload.version, if_match)
    return _tagged(
        response, structure.update_locale(code, label=payload.label, expected_version=version)
    )


@router.delete(
    "/catalog/locales/{code}", response={204: None}, summary="Delete a locale no channel uses"
)
@shows_current(get_locale)
def delete_locale(request, code: str, version: int | None = None, if_match: str | None = IF_MATCH):
    require(request.user, "catalog.delete_locale")
    structure.delete_locale(code, expected_version=expected_version(version, if_match))
    return Status(204, None)


@router.get("/catalog/currencies", response=list[LocaleOut], summary="Currencies")
@paginate(Pagination, ordering=("code",))
def list_currencies(request, **kwargs):
    require(request.user, "catalog.view_currency")
    return Currency.objects.all()


@router.post("/catalog/currencies", response={201: LocaleOut}, summary="Add a currency")
def create_currency(request, payload: LocaleIn, response: HttpResponse):
    require(request.user, "catalog.add_currency")
    return Status(
        201, _tagged(response, structure.create_currency(payload.code, label=payload.label))
    )


@router.get("/catalog/currencies/{code}", response=LocaleOut, summary="One currency")
def get_currency(request, code: str, response: HttpResponse):
    require(request.user, "catalog.view_currency")
    return _tagged(response, _get(Currency, code))


@router.patch(
    "/catalog/currencies/{code}",
    response=LocaleOut,
    summary="Change a currency's label; send its version (body or If-Match)",
)
@shows_current(get_currency)
def update_currency(
    request,
    code: str,
    payload: LocalePatch,
    response: HttpResponse,
    if_match: str | None = IF_MATCH,
):
    require(request.user, "catalog.change_currency")
    version = expected_version(payload.version, if_match)
    return _tagged(
        response, structure.update_currency(code, label=payload.label, expected_version=version)
    )


@router.delete(
    "/catalog/currencies/{code}",
    response={204: None},
    summary="Delete a currency no channel or price uses",
)
@shows_current(get_currency)
def delete_currency(
    request, code: str, version: int | None = None, if_match: str | None = IF_MATCH
):
    require(request.user, "catalog.delete_currency")
    structure.delete_currency(code, expected_version=expected_version(version, if_match))
    return Status(204, None)


# --- channels ---------------------------------------------------------------------------------


def _channels():
    return Channel.objects.select_related("category_tree").prefetch_related("locales", "currencies")


@router.get("/catalog/channels", response=list[ChannelOut], summary="Channels")
@paginate(Pagination, ordering=("code",))
def list_channels(request, **kwargs):
    require(request.user, "catalog.view_channel")
    return _channels()


@router.post("/catalog/channels", response={201: ChannelOut}, summary="Create a channel")
def create_channel(request, payload: ChannelIn, response: HttpResponse):
    require(request.user, "catalog.add_channel")
    data = payload.dict()
    return Status(201, _tagged(response, structure.create_channel(data.pop("code"), **data)))


@router.get("/catalog/channels/{code}", response=ChannelOut, summary="One channel")
def get_channel(request, code: str, response: HttpResponse):
    require(request.user, "catalog.view_channel")
    return _tagged(response, _get(Channel, code, _channels()))


@router.patch(
    "/catalog/channels/{code}",
    response=ChannelOut,
    summary="Change a channel; send its version (body or If-Match)",
)
@shows_current(get_channel)
def update_channel(
    request,
    code: str,
    payload: ChannelPatch,
    response: HttpResponse,
    if_match: str | None = IF_MATCH,
):
    require(request.user, "catalog.change_channel")
    changes, version = patch_and_version(payload, if_match)
    return _tagged(response, structure.update_channel(code, expected_version=version, **changes))


@router.delete("/catalog/channels/{code}", response={204: None}, summary="Delete a channel")
@shows_current(get_channel)
def delete_channel(request, code: str, version: int | None = None, if_match: str | None = IF_MATCH):
    require(request.user, "catalog.delete_channel")
    structure.delete_channel(code, expected_version=expected_version(version, if_match))
    return Status(204, None)


# --- attribute groups -------------------------------------------------------------------------


@router.get(
    "/catalog/attribute-groups", response=list[AttributeGroupOut], summary="Attribute groups"
)
@paginate(Pagination, ordering=("code",))
def list_attribute_groups(request, **kwargs):
    require(request.user, "catalog.view_attributegroup")
    return AttributeGroup.objects.all()


@router.post(
    "/catalog/attribute-groups",
    response={201: AttributeGroupOut},
    summary="Create an attribute group",
)
def create_attribute_group(request, payload: AttributeGroupIn, response: HttpResponse):
    require(request.user, "catalog.add_attributegroup")
    data = payload.dict()
    return Status(
        201, _tagged(response, structure.create_attribute_group(data.pop("code"), **data))
    )


@router.get(
    "/catalog/attribute-groups/{code}", response=AttributeGroupOut, summary="One attribute group"
)
def get_attribute_group(request, code: str, response: HttpResponse):
    require(request.user, "catalog.view_attributegroup")
    return _tagged(response, _get(AttributeGroup, code))


@router.patch(
    "/catalog/attribute-groups/{code}",
    response=AttributeGroupOut,
    summary="Change an attribute group",
)
@shows_current(get_attribute_group)
def update_attribute_group(
    request,
    code: str,
    payload: AttributeGroupPatch,
    response: HttpResponse,
    if_match: str | None = IF_MATCH,
):
    require(request.user, "catalog.change_attributegroup")
    changes, version = patch_and_version(payload, if_match)
    return _tagged(
        response, structure.update_attribute_group(code, expected_version=version, **changes)
    )


@router.delete(
    "/catalog/attribute-groups/{code}",
    response={204: None},
    summary="Delete an empty attribute group",
)
@shows_current(get_attribute_group)
def delete_attribute_group(
    request, code: str, version: int | None = None, if_match: str | None = IF_MATCH
):
    require(request.user, "catalog.delete_attributegroup")
    structure.delete_attribute_group(code, expected_version=expected_version(version, if_match))
    return Status(204, None)


# --- attributes and options -------------------------------------------------------------------


def _attributes():
    return Attribute.objects.select_related("group", "measurement_family").prefetch_related(
        "available_locales"
    )


@router.get("/catalog/attributes", response=list[AttributeOut], summary="Attributes")
@paginate(Pagination, ordering=("code",))
def list_attributes(request, type: str | None = None, group: str | None = None, **kwargs):
    require(request.user, "catalog.view_attribute")
    qs = _attributes()
    if type:
        qs = qs.filter(type=type)
    if group:
        qs = qs.filter(group__code=group)
    return qs


@router.post(
    "/catalog/attributes",
    response={201: AttributeOut},
    summary="Create an attribute; type, localizable and scopable are fixed from then on",
)
def create_attribute(request, payload: AttributeIn, response: HttpResponse):
    require(request.user, "catalog.add_attribute")
    data = payload.dict(exclude_unset=True)
    code, type_ = data.pop("code"), data.pop("type")
    # Explicit nulls mean "not set"; the service's defaults then apply.
    data = {k: v for k, v in data.items() if v is not None}
    return Status(201, _tagged(response, structure.create_attribute(code, type=type_, **data)))


@router.get("/catalog/attributes/{code}", response=AttributeOut, summary="One attribute")
def get_attribute(request, code: str, response: HttpResponse):
    require(request.user, "catalog.view_attribute")
    return _tagged(response, _get(Attribute, code, _attributes()))


@router.patch(
    "/catalog/attributes/{code}",
    response=AttributeOut,
    summary="Change an attribute's settings; send its version (body or If-Match)",
)
@shows_current(get_attribute)
def update_attribute(
    request,
    code: str,
    payload: AttributePatch,
    response: HttpResponse,
    if_match: str | None = IF_MATCH,
):
    require(request.user, "catalog.change_attribute")
    changes, version = patch_and_version(payload, if_match)
    return _tagged(response, structure.update_attribute(code, expected_version=version, **changes))


@router.delete(
    "/catalog/attributes/{code}",
    response={204: None},
    summary="Delete an attribute no family and no product uses",
)
@shows_current(get_attribute)
def delete_attribute(
    request, code: str, version: int | None = None, if_match: str | None = IF_MATCH
):
    require(request.user, "catalog.delete_attribute")
    structure.delete_attribute(code, expected_version=expected_version(version, if_match))
    return Status(204, None)


@router.get(
    "/catalog/attributes/{code}/options",
    response=list[OptionOut],
    summary="Options of a select or multiselect attribute",
)
@paginate(Pagination, ordering=("code",))
def list_options(request, code: str, **kwargs):
    require(request.user, "catalog.view_attribute")
    return _get(Attribute, code).options.all()


@router.post(
    "/catalog/attributes/{code}/options",
    response={201: list[OptionOut]},
    summary="Add options (all or none)",
)
def add_options(request, code: str, payload: OptionsIn):
    require(request.user, "catalog.add_attributeoption")
    options = [o.dict(exclude_none=True) for o in payload.options]
    return Status(201, structure.add_options(code, options))


@router.get(
    "/catalog/attributes/{code}/options/{option}",
    response=OptionOut,
    summary="One option of a select or multiselect attribute",
)
def get_option(request, code: str, option: str, response: HttpResponse):
    require(request.user, "catalog.view_attribute")
    return _tagged(response, structure.get_option(code, option))


@router.patch(
    "/catalog/attributes/{code}/options/{option}",
    response=OptionOut,
    summary="Change an option's labels or sort order; send its version (body or If-Match)",
)
@shows_current(get_option)
def update_option(
    request,
    code: str,
    option: str,
    payload: OptionPatch,
    response: HttpResponse,
    if_match: str | None = IF_MATCH,
):
    require(request.user, "catalog.change_attributeoption")
    changes, version = patch_and_version(payload, if_match)
    return _tagged(
        response, structure.update_option(code, option, expected_version=version, **changes)
    )


@router.delete(
    "/catalog/attributes/{code}/options/{option}",
    response={204: None},
    summary="Delete an option no product uses",
)
@shows_current(get_option)
def delete_option(
    request, code: str, option: str, version: int | None = None, if_match: str | None = IF_MATCH
):
    require(request.user, "catalog.delete_attributeoption")
    structure.delete_option(code, option, expected_version=expected_version(version, if_match))
    return Status(204, None)


# --- families ---------------------------------------------------------------------------------


def _families():
    return Family.objects.select_related("label_attribute", "image_attribute").prefetch_related(
        "attributes", "requirements__channel", "requirements__attribute"
    )


@router.get("/catalog/families", response=list[FamilyOut], summary="Families")
@paginate(Pagination, ordering=("code",))
def list_families(request, **kwargs):
    require(request.user, "catalog.view_family")
    return _families()


@router.post("/catalog/families", response={201: FamilyOut}, summary="Create a family")
def create_family(request, payload: FamilyIn, response: HttpResponse):
    require(request.user, "catalog.add_family")
    data = payload.dict()
    return Status(201, _tagged(response, structure.create_family(data.pop("code"), **data)))


@router.get("/catalog/families/{code}", response=FamilyOut, summary="One family")
def get_family(request, code: str, response: HttpResponse):
    require(request.user, "catalog.view_family")
    return _tagged(response, _get(Family, code, _families()))


@router.patch(
    "/catalog/families/{code}",
    response=FamilyOut,
    summary="Change a family; requirements given replace those of the channels they name",
)
@shows_current(get_family)
def update_family(
    request,
    code: str,
    payload: FamilyPatch,
    response: HttpResponse,
    if_match: str | None = IF_MATCH,
):
    require(request.user, "catalog.change_family")
    changes, version = patch_and_version(payload, if_match)
    return _tagged(response, structure.update_family(code, expected_version=version, **changes))


@router.delete(
    "/catalog/families/{code}",
    response={204: None},
    summary="Delete a family without products or variants",
)
@shows_current(get_family)
def delete_family(request, code: str, version: int | None = None, if_match: str | None = IF_MATCH):
    require(request.user, "catalog.delete_family")
    structure.delete_family(code, expected_version=expected_version(version, if_match))
    return Status(204, None)


def _requirements(family: Family) -> dict:
    return {
        "family": family.code,
        "requirements": structure.family_requirements(family, all_channels=True),
        "version": family.version,
    }


@router.get(
    "/catalog/families/{code}/requirements",
    response=RequirementsOut,
    summary="What each channel requires of the family's products",
)
def get_requirements(request, code: str, response: HttpResponse):
    require(request.user, "catalog.view_family")
    family = _get(Family, code, _families())
    return _tagged(response, _requirements(family), family.version)


@router.put(
    "/catalog/families/{code}/requirements",
    response=RequirementsOut,
    summary="Replace the requirements of the channels named; other channels keep theirs",
)
@shows_current(get_requirements)
def set_requirements(
    request,
    code: str,
    payload: RequirementsIn,
    response: HttpResponse,
    if_match: str | None = IF_MATCH,
):
    require(request.user, "catalog.change_family")
    family = structure.set_requirements(
        code, payload.requirements, expected_version=expected_version(payload.version, if_match)
    )
    return _tagged(response, _requirements(family), family.version)


# --- family variants --------------------------------------------------------------------------


def _variants():
    return FamilyVariant.objects.select_related("family").prefetch_related(
        "level_attributes__attribute"
    )


@router.get("/catalog/family-variants", response=list[FamilyVariantOut], summary="Family variants")
@paginate(Pagination, ordering=("code",))
def list_family_variants(request, family: str | None = None, **kwargs):
    require(request.user, "catalog.view_familyvariant")
    qs = _variants()
    return qs.filter(family__code=family) if family else qs


@router.post(
    "/catalog/family-variants",
    response={201: FamilyVariantOut},
    summary="Create a family variant: 1 or 2 levels, each with 1–5 axes",
)
def create_family_variant(request, payload: FamilyVariantIn, response: HttpResponse):
    require(request.user, "catalog.add_familyvariant")
    data = payload.dict()
    return Status(201, _tagged(response, structure.create_family_variant(data.pop("code"), **data)))


@router.get(
    "/catalog/family-variants/{code}", response=FamilyVariantOut, summary="One family variant"
)
def get_family_variant(request, code: str, response: HttpResponse):
    require(request.user, "catalog.view_familyvariant")
    return _tagged(response, _get(FamilyVariant, code, _variants()))


@router.patch(
    "/catalog/family-variants/{code}",
    response=FamilyVariantOut,
    summary="Change a family variant's labels or levels",
)
@shows_current(get_family_variant)
def update_family_variant(
    request,
    code: str,
    payload: FamilyVariantPatch,
    response: HttpResponse,
    if_match: str | None = IF_MATCH,
):
    require(request.user, "catalog.change_familyvariant")
    changes, version = patch_and_version(payload, if_match)
    return _tagged(
        response, structure.update_family_variant(code, expected_version=version, **changes)
    )


@router.delete(
    "/catalog/family-variants/{code}",
    response={204: None},
    summary="Delete a family variant no product model uses",
)
@shows_current(get_family_variant)
def delete_family_variant(
    request, code: str, version: int | None = None, if_match: str | None = IF_MATCH
):
    require(request.user, "catalog.delete_familyvariant")
    structure.delete_family_variant(code, expected_version=expected_version(version, if_match))
    return Status(204, None)


# --- categories -------------------------------------------------------------------------------


@router.get(
    "/catalog/categories",
    response=list[CategoryOut],
    summary="Categories, optionally of one tree (?tree=master) or below one parent",
)
@paginate(Pagination, ordering=("code",))
def list_categories(request, tree: str | None = None, parent: str | None = None, **kwargs):
    require(request.user, "catalog.view_category")
    qs = structure.categories_in_tree(tree) if tree else Category.objects.all()
    if parent:
        qs = qs.filter(parent=_get(Category, parent))
    return qs.select_related("parent")


@router.post(
    "/catalog/categories",
    response={201: CategoryOut},
    summary="Create a category (without parent: a new tree)",
)
def create_category(request, payload: CategoryIn, response: HttpResponse):
    require(request.user, "catalog.add_category")
    data = payload.dict()
    return Status(201, _tagged(response, structure.create_category(data.pop("code"), **data)))


@router.get("/catalog/categories/{code}", response=CategoryOut, summary="One category")
def get_category(request, code: str, response: HttpResponse):
    require(request.user, "catalog.view_category")
    return _tagged(response, _get(Category, code, Category.objects.select_related("parent")))


@router.patch(
    "/catalog/categories/{code}",
    response=CategoryOut,
    summary="Change a category; a new parent (in the same tree) moves it with its subtree",
)
@shows_current(get_category)
def update_category(
    request,
    code: str,
    payload: CategoryPatch,
    response: HttpResponse,
    if_match: str | None = IF_MATCH,
):
    require(request.user, "catalog.change_category")
    changes, version = patch_and_version(payload, if_match)
    return _tagged(response, structure.update_category(code, expected_version=version, **changes))


@router.delete(
    "/catalog/categories/{code}",
    response={204: None},
    summary="Delete a category without sub-categories or products",
)
@shows_current(get_category)
def delete_category(
    request, code: str, version: int | None = None, if_match: str | None = IF_MATCH
):
    require(request.user, "catalog.delete_category")
    structure.delete_category(code, expected_version=expected_version(version, if_match))
    return Status(204, None)


# --- measurement families (read-only) ---------------------------------------------------------


@router.get(
    "/catalog/measurement-families",
    response=list[MeasurementFamilyOut],
    summary="Measurement families with their units and conversions",
)
@paginate(Pagination, ordering=("code",))
def list_measurement_families(request, **kwargs):
    require(request.user, "catalog.view_measurementfamily")
    return MeasurementFamily.objects.all()


@router.get(
    "/catalog/measurement-families/{code}",
    response=MeasurementFamilyOut,
    summary="One measurement family",
)
def get_measurement_family(request, code: str):
    require(request.user, "catalog.view_measurementfamily")
    return _get(MeasurementFamily, code)


# --- product groups and association types -----------------------------------------------------


@router.get("/catalog/groups", response=list[GroupOut], summary="Product groups")
@paginate(Pagination, ordering=("code",))
def list_groups(request, **kwargs):
    require(request.user, "catalog.view_productgroup")
    return ProductGroup.objects.all()


@router.post("/catalog/groups", response={201: GroupOut}, summary="Create a product group")
def create_group(request, payload: GroupIn, response: HttpResponse):
    require(request.user, "catalog.add_productgroup")
    return Status(
        201, _tagged(response, structure.create_group(payload.code, labels=payload.labels))
    )


@router.get("/catalog/groups/{code}", response=GroupOut, summary="One product group")
def get_group(request, code: str, response: HttpResponse):
    require(request.user, "catalog.view_productgroup")
    return _tagged(response, _get(ProductGroup, code))


@router.patch("/catalog/groups/{code}", response=GroupOut, summary="Change a product group")
@shows_current(get_group)
def update_group(
    request,
    code: str,
    payload: GroupPatch,
    response: HttpResponse,
    if_match: str | None = IF_MATCH,
):
    require(request.user, "catalog.change_productgroup")
    changes, version = patch_and_version(payload, if_match)
    return _tagged(response, structure.update_group(code, expected_version=version, **changes))


@router.delete(
    "/catalog/groups/{code}", response={204: None}, summary="Delete an empty product group"
)
@shows_current(get_group)
def delete_group(request, code: str, version: int | None = None, if_match: str | None = IF_MATCH):
    require(request.user, "catalog.delete_productgroup")
    structure.delete_group(code, expected_version=expected_version(version, if_match))
    return Status(204, None)


@router.get(
    "/catalog/association-types", response=list[AssociationTypeOut], summary="Association types"
)
@paginate(Pagination, ordering=("code",))
def list_association_types(request, **kwargs):
    require(request.user, "catalog.view_associationtype")
    return AssociationType.objects.all()


@router.post(
    "/catalog/association-types",
    response={201: AssociationTypeOut},
    summary="Create an association type",
)
def create_association_type(request, payload: AssociationTypeIn, response: HttpResponse):
    require(request.user, "catalog.add_associationtype")
    data = payload.dict()
    return Status(
        201, _tagged(response, structure.create_association_type(data.pop("code"), **data))
    )


@router.get(
    "/catalog/association-types/{code}",
    response=AssociationTypeOut,
    summary="One association type",
)
def get_association_type(request, code: str, response: HttpResponse):
    require(request.user, "catalog.view_associationtype")
    return _tagged(response, _get(AssociationType, code))


@router.patch(
    "/catalog/association-types/{code}",
    response=AssociationTypeOut,
    summary="Change an association type",
)
@shows_current(get_association_type)
def update_association_type(
    request,
    code: str,
    payload: AssociationTypePatch,
    response: HttpResponse,
    if_match: str | None = IF_MATCH,
):
    require(request.user, "catalog.change_associationtype")
    changes, version = patch_and_version(payload, if_match)
    return _tagged(
        response, structure.update_association_type(code, expected_version=version, **changes)
    )


@router.delete(
    "/catalog/association-types/{code}",
    response={204: None},
    summary="Delete an association type no product uses",
)
@shows_current(get_association_type)
def delete_association_type(
    request, code: str, version: int | None = None, if_match: str | None = IF_MATCH
):
    require(request.user, "catalog.delete_associationtype")
    structure.delete_association_type(code, expected_version=expected_version(version, if_match))
    return Status(204, None)
