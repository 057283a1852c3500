"""REST API for links between products and assets. Thin: permission check, then a service.

Paths live under /catalog/products/{sku}/links and /catalog/product-models/{code}/links so
they never collide with the catalog's /products/{sku} routes; this router is mounted first.
"""

from typing import Any

from django.http import HttpResponse
from ninja import Header, Query, Router, Schema, Status

from folio.accounts.services import require
from folio.linking import autolink, services
from folio.linking import completeness as media_completeness
from folio.linking.models import MediaRequirement
from folio.versioning import expected_version, shows_current

router = Router(tags=["linking"])

# Concurrent edits: every product and product model has one version for the links it owns
# (linking.models.LinkSet). GET …/links answers it as the ETag; each link write may name it
# (`version` in the body, or If-Match) and answers 409 with the current links when they
# changed since. Writes answer the new version as ETag (and `links_version`).
IF_MATCH = Header(
    None, alias="If-Match", description='The links version (ETag of GET …/links) you edited: W/"3"'
)


def _etag(response: HttpResponse, version: int) -> None:
    response["ETag"] = f'W/"{version}"'


class LinkIn(Schema):
    asset_id: int
    role: str
    position: int | None = None
    locale: str = ""
    channel: str | None = None
    version: int | None = None  # the owner's links version you saw (or If-Match)


class LinkOut(Schema):
    id: int
    product: str | None
    product_model: str | None
    asset_id: int
    role: str
    position: int
    locale: str
    channel: str | None
    source: str
    links_version: int | None = None  # the owner's links version after this write

    @staticmethod
    def resolve_product(obj):
        return obj.product.sku if obj.product_id else None

    @staticmethod
    def resolve_product_model(obj):
        return obj.product_model.code if obj.product_model_id else None

    @staticmethod
    def resolve_channel(obj):
        return obj.channel.code if obj.channel_id else None


class PositionIn(Schema):
    position: int
    version: int | None = None


class ReorderIn(Schema):
    role: str
    asset_ids: list[int]
    locale: str = ""
    channel: str | None = None
    version: int | None = None


class ReplaceIn(Schema):
    new_asset_id: int
    version: int | None = None


class ReplaceEverywhereIn(Schema):
    new_asset_id: int
    preview: bool = True


class AutoIn(Schema):
    asset_ids: list[int]


class ResolvedQuery(Schema):
    locale: str | None = None
    channel: str | None = None


def _link(request, target, payload: LinkIn, if_match, response: HttpResponse):
    new = services.link(
        target,
        payload.asset_id,
        payload.role,
        position=payload.position,
        locale=payload.locale,
        channel=payload.channel,
        user=request.user,
        expected_version=expected_version(payload.version, if_match),
    )
    _etag(response, new.links_version)
    return new


@router.post(
    "/catalog/products/{sku}/links",
    response={201: LinkOut},
    summary="Link an asset to a product in a role (position omitted = append); "
    "send the links version (body or If-Match) to refuse a stale write",
)
def link_product(
    request, sku: str, payload: LinkIn, response: HttpResponse, if_match: str | None = IF_MATCH
):
    require(request.user, "linking.add_link")
    target = services.resolve_target_product(sku)
    return Status(201, _link(request, target, payload, if_match, response))


@router.post(
    "/catalog/product-models/{code}/links",
    response={201: LinkOut},
    summary="Link an asset to a product model; its variants inherit it per role",
)
def link_model(
    request, code: str, payload: LinkIn, response: HttpResponse, if_match: str | None = IF_MATCH
):
    require(request.user, "linking.add_link")
    target = services.resolve_target_model(code)
    return Status(201, _link(request, target, payload, if_match, response))


@router.get(
    "/catalog/products/{sku}/links",
    response=dict[str, list[dict[str, Any]]],
    summary="The links that apply to a product per role, inheritance resolved; each "
    "names its origin (self or a model code). ETag: the version of the links "
    "the product owns",
)
def resolved_links(request, sku: str, filters: Query[ResolvedQuery], response: HttpResponse):
    require(request.user, "linking.view_link")
    product = services.resolve_target_product(sku)
    _etag(response, services.links_version(product))
    return services.links_for(product, locale=filters.locale, channel=filters.channel)


@router.get(
    "/catalog/product-models/{code}/links",
    response=dict[str, list[dict[str, Any]]],
    summary="The links that apply to a product model per role (a sub-model inherits "
    "its root's). ETag: the version of the links the model owns",
)
def model_links(request, code: str, filters: Query[ResolvedQuery], response: HttpResponse):
    require(request.user, "linking.view_link")
    model = services.resolve_target_model(code)
    _etag(response, services.links_version(model))
    return services.links_for(model, locale=filters.locale, channel=filters.channel)


@router.post(
    "/catalog/products/{sku}/links/reorder",
    response=list[LinkOut],
    summary="Order the links of one role/locale/channel (send the links version)",
)
def reorder(
    request, sku: str, payload: ReorderIn, response: HttpResponse, if_match: str | None = IF_MATCH
):
    require(request.user, "linking.change_link")
    ordered = services.reorder(
        services.resolve_target_product(sku),
        payload.role,
        payload.asset_ids,
        locale=payload.locale,
        channel=payload.channel,
        user=request.user,
        expected_version=expected_version(payload.version, if_match),
    )
    if ordered:
        _etag(response, ordered[0].links_version)
    return ordered


@router.delete(
    "/links/{int:link_id}",
    response={204: None},
    summary="Remove a link (version or If-Match: its owner's links version)",
)
def unlink(
    request,
    link_id: int,
    response: HttpResponse,
    version: int | None = None,
    if_match: str | None = IF_MATCH,
):
    require(request.user, "linking.delete_link")
    new_version = services.unlink(
        link_id, user=request.user, expected_version=expected_version(version, if_match)
    )
    _etag(response, new_version)
    return Status(204, None)


@router.patch(
    "/links/{int:link_id}",
    response=LinkOut,
    summary="Move a link to a position (send its owner's links version)",
)
def move(
    request,
    link_id: int,
    payload: PositionIn,
    response: HttpResponse,
    if_match: str | None = IF_MATCH,
):
    require(request.user, "linking.change_link")
    moved = services.move(
        link_id,
        payload.position,
        user=request.user,
        expected_version=expected_version(payload.version, if_match),
    )
    _etag(response, moved.links_version)
    return moved


@router.post(
    "/links/{int:link_id}/replace",
    response=LinkOut,
    summary="Show another asset in the same place (send its owner's links version)",
)
def replace(
    request,
    link_id: int,
    payload: ReplaceIn,
    response: HttpResponse,
    if_match: str | None = IF_MATCH,
):
    require(request.user, "linking.change_link")
    replaced = services.replace(
        link_id,
        payload.new_asset_id,
        user=request.user,
        expected_version=expected_version(payload.version, if_match),
    )
    _etag(response, replaced.links_version)
    return replaced


@router.get(
    "/assets/{int:asset_id}/where-used",
    response=dict[str, Any],
    summary="Products, models, inheriting variants and channels showing an asset",
)
def where_used(request, asset_id: int):
    require(request.user, "linking.view_link")
    return {**services.where_used(asset_id), "impact": services.impact(asset_id)}


@router.post(
    "/assets/{int:asset_id}/replace-everywhere",
    response=dict[str, Any],
    summary="Replace an asset in every link (preview by default; undoable)",
)
def replace_everywhere(request, asset_id: int, payload: ReplaceEverywhereIn):
    require(request.user, "linking.change_link")
    return services.replace_everywhere(
        asset_id, payload.new_asset_id, preview=payload.preview, user=request.user
    )


@router.post(
    "/link-changes/{int:change_id}/undo",
    response=dict[str, Any],
    summary="Undo a link change (e.g. a replace-everywhere)",
)
def undo(request, change_id: int):
    require(request.user, "linking.change_link")
    change = services.undo(change_id, user=request.user)
    return {"change_id": change.pk, "undone": change.undone}


@router.post(
    "/links/auto",
    response=dict[str, Any],
    summary="Link assets by their file names (auto-link patterns)",
)
def auto(request, payload: AutoIn):
    require(request.user, "linking.add_link")
    return autolink.autolink(payload.asset_ids, user=request.user)


class MediaRequirementIn(Schema):
    min_count: int = 1
    compliant_preset: str | None = None
    version: int | None = None


class MediaRequirementOut(Schema):
    family: str
    channel: str
    role: str
    min_count: int
    compliant_preset: str | None
    version: int

    @staticmethod
    def resolve_family(obj):
        return obj.family.code

    @staticmethod
    def resolve_channel(obj):
        return obj.channel.code

    @staticmethod
    def resolve_compliant_preset(obj):
        return obj.compliant_preset.code if obj.compliant_preset_id else None


@router.get(
    "/catalog/families/{code}/media-requirements",
    response=list[MediaRequirementOut],
    summary="What products of a family need linked per channel (counts in completeness)",
)
def list_media_requirements(request, code: str):
    require(request.user, "linking.view_mediarequirement")
    return MediaRequirement.objects.filter(family__code=code).select_related(
        "family", "channel", "compliant_preset"
    )


@router.get(
    "/catalog/families/{code}/media-requirements/{channel}/{role}",
    response=MediaRequirementOut,
    summary="One media requirement (ETag: its version)",
)
def get_media_requirement(request, code: str, channel: str, role: str, response: HttpResponse):
    require(request.user, "linking.view_mediarequirement")
    req = media_completeness.get_requirement(code, channel, role)
    response["ETag"] = req.etag
    return req


@router.put(
    "/catalog/families/{code}/media-requirements/{channel}/{role}",
    response=MediaRequirementOut,
    summary="Require media of a role in a channel (optionally passing a preset's checks); "
    "to change an existing one send the version you read (body or If-Match): a stale one "
    "answers 409 with the current requirement",
)
@shows_current(get_media_requirement)
def set_media_requirement(
    request,
    code: str,
    channel: str,
    role: str,
    payload: MediaRequirementIn,
    response: HttpResponse,
    if_match: str | None = Header(None, alias="If-Match"),
):
    require(request.user, "linking.change_mediarequirement")
    req = media_completeness.set_requirement(
        code,
        channel,
        role,
        min_count=payload.min_count,
        compliant_preset=payload.compliant_preset,
        expected_version=expected_version(payload.version, if_match),
    )
    response["ETag"] = req.etag
    return req


@router.delete(
    "/catalog/families/{code}/media-requirements/{channel}/{role}",
    response={204: None},
    summary="Drop a media requirement (version or If-Match: refuse if it changed)",
)
@shows_current(get_media_requirement)
def delete_media_requirement(
    request,
    code: str,
    channel: str,
    role: str,
    version: int | None = None,
    if_match: str | None = Header(None, alias="If-Match"),
):
    require(request.user, "linking.delete_mediarequirement")
    media_completeness.remove_requirement(
        code, channel, role, expected_version=expected_version(version, if_match)
    )
    return Status(204, None)
