"""REST API for links between products and assets. Thin: permission check, then a service.

Paths live under /catalog/products/{sku}/links and /catalog/product-models/{code}/links so
they never collide with the catalog's /products/{sku} routes; this router is mounted first.
"""

from typing import Any

from ninja import Query, Router, Schema, Status

from folio.accounts.services import require
from folio.linking import autolink, services
from folio.linking import completeness as media_completeness
from folio.linking.models import MediaRequirement

router = Router(tags=["linking"])


class LinkIn(Schema):
    asset_id: int
    role: str
    position: int | None = None
    locale: str = ""
    channel: str | None = None


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


class ReorderIn(Schema):
    role: str
    asset_ids: list[int]
    locale: str = ""
    channel: str | None = None


class ReplaceIn(Schema):
    new_asset_id: int


class ReplaceEverywhereIn(Schema):
    new_asset_id: int
    preview: bool = True


class AutoIn(Schema):
    asset_ids: list[int]


class ResolvedQuery(Schema):
    locale: str | None = None
    channel: str | None = None


def _link(request, target, payload: LinkIn):
    return services.link(target, payload.asset_id, payload.role, position=payload.position,
                         locale=payload.locale, channel=payload.channel, user=request.user)


@router.post("/catalog/products/{sku}/links", response={201: LinkOut},
             summary="Link an asset to a product in a role (position omitted = append)")
def link_product(request, sku: str, payload: LinkIn):
    require(request.user, "linking.add_link")
    return Status(201, _link(request, services.resolve_target_product(sku), payload))


@router.post("/catalog/product-models/{code}/links", response={201: LinkOut},
             summary="Link an asset to a product model; its variants inherit it per role")
def link_model(request, code: str, payload: LinkIn):
    require(request.user, "linking.add_link")
    return Status(201, _link(request, services.resolve_target_model(code), payload))


@router.get("/catalog/products/{sku}/links", response=dict[str, list[dict[str, Any]]],
            summary="The links that apply to a product per role, inheritance resolved; each "
                    "names its origin (self or a model code)")
def resolved_links(request, sku: str, filters: Query[ResolvedQuery]):
    require(request.user, "linking.view_link")
    return services.links_for(services.resolve_target_product(sku), locale=filters.locale,
                              channel=filters.channel)


@router.post("/catalog/products/{sku}/links/reorder", response=list[LinkOut],
             summary="Order the links of one role/locale/channel")
def reorder(request, sku: str, payload: ReorderIn):
    require(request.user, "linking.change_link")
    return services.reorder(services.resolve_target_product(sku), payload.role,
                            payload.asset_ids, locale=payload.locale, channel=payload.channel,
                            user=request.user)


@router.delete("/links/{int:link_id}", response={204: None}, summary="Remove a link")
def unlink(request, link_id: int):
    require(request.user, "linking.delete_link")
    services.unlink(link_id, user=request.user)
    return Status(204, None)


@router.patch("/links/{int:link_id}", response=LinkOut, summary="Move a link to a position")
def move(request, link_id: int, payload: PositionIn):
    require(request.user, "linking.change_link")
    return services.move(link_id, payload.position, user=request.user)


@router.post("/links/{int:link_id}/replace", response=LinkOut,
             summary="Show another asset in the same place")
def replace(request, link_id: int, payload: ReplaceIn):
    require(request.user, "linking.change_link")
    return services.replace(link_id, payload.new_asset_id, user=request.user)


@router.get("/assets/{int:asset_id}/where-used", response=dict[str, Any],
            summary="Products, models, inheriting variants and channels showing an asset")
def where_used(request, asset_id: int):
    require(request.user, "linking.view_link")
    return {**services.where_used(asset_id), "impact": services.impact(asset_id)}


@router.post("/assets/{int:asset_id}/replace-everywhere", response=dict[str, Any],
             summary="Replace an asset in every link (preview by default; undoable)")
def replace_everywhere(request, asset_id: int, payload: ReplaceEverywhereIn):
    require(request.user, "linking.change_link")
    return services.replace_everywhere(asset_id, payload.new_asset_id, preview=payload.preview,
                                       user=request.user)


@router.post("/link-changes/{int:change_id}/undo", response=dict[str, Any],
             summary="Undo a link change (e.g. a replace-everywhere)")
def undo(request, change_id: int):
    require(request.user, "linking.change_link")
    change = services.undo(change_id, user=request.user)
    return {"change_id": change.pk, "undone": change.undone}


@router.post("/links/auto", response=dict[str, Any],
             summary="Link assets by their file names (auto-link patterns)")
def auto(request, payload: AutoIn):
    require(request.user, "linking.add_link")
    return autolink.autolink(payload.asset_ids, user=request.user)


class MediaRequirementIn(Schema):
    min_count: int = 1
    compliant_preset: str | None = None


class MediaRequirementOut(Schema):
    family: str
    channel: str
    role: str
    min_count: int
    compliant_preset: str | None

    @staticmethod
    def resolve_family(obj):
        return obj.family.code

    @staticmethod
    def resolve_channel(obj):
        return obj.channel.code

    @staticmethod
    def resolve_compliant_preset(obj):
        return obj.compliant_preset.code if obj.compliant_preset_id else None


@router.get("/catalog/families/{code}/media-requirements", response=list[MediaRequirementOut],
            summary="What products of a family need linked per channel (counts in completeness)")
def list_media_requirements(request, code: str):
    require(request.user, "linking.view_mediarequirement")
    return MediaRequirement.objects.filter(family__code=code).select_related(
        "family", "channel", "compliant_preset")


@router.put("/catalog/families/{code}/media-requirements/{channel}/{role}",
            response=MediaRequirementOut,
            summary="Require media of a role in a channel (optionally passing a preset's checks)")
def set_media_requirement(request, code: str, channel: str, role: str,
                          payload: MediaRequirementIn):
    require(request.user, "linking.change_mediarequirement")
    return media_completeness.set_requirement(code, channel, role, min_count=payload.min_count,
                                              compliant_preset=payload.compliant_preset)


@router.delete("/catalog/families/{code}/media-requirements/{channel}/{role}",
               response={204: None}, summary="Drop a media requirement")
def delete_media_requirement(request, code: str, channel: str, role: str):
    require(request.user, "linking.delete_mediarequirement")
    media_completeness.remove_requirement(code, channel, role)
    return Status(204, None)
