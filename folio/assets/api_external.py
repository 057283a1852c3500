"""REST API for working with another DAM, both ways.

- Folio referencing another DAM: register external systems (admin), upsert and list the
  assets it holds for Folio (same service as the webhook, see external.py).
- Folio as the DAM of another PIM: GET /dam/assets, a read-only feed of approved, in-rights
  assets with where to download them and the SKUs they are linked to.
"""

import datetime
from typing import Any

from django.apps import apps
from django.db.models import Prefetch
from django.http import HttpResponse
from ninja import Header, Query, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import ConfigDict

from folio.accounts.services import require
from folio.api import Pagination
from folio.assets import browse, external, rights
from folio.assets.models import Asset
from folio.versioning import expected_version

router = Router(tags=["external DAM"])
# Only the admin role ("*") has this: asset managers' assets.add_* does not match it.
MANAGE = "assets.manage_external_systems"
IF_MATCH = Header(None, alias="If-Match", description='The ETag of the version you edited: W/"3"')


class In(Schema):
    model_config = ConfigDict(extra="forbid")


class SystemIn(In):
    code: str
    name: str = ""
    secret: str | None = None  # generated when not given


class SystemPatch(In):
    name: str
    version: int | None = None


class RotateIn(In):
    secret: str | None = None  # generated when not given
    version: int | None = None


class SystemOut(Schema):
    code: str
    name: str
    version: int
    created_at: datetime.datetime


class SystemCreated(SystemOut):
    secret: str  # shown this once; Folio never shows it again


class SystemSecretOut(Schema):
    code: str
    version: int
    secret: str  # shown this once, as at registration


class ExternalAssetIn(In):
    url: str | None = None
    title: str | None = None
    kind: str | None = None
    status: str | None = None
    alt_text: dict[str, str] | None = None
    licence: str | None = None
    territories: list[str] | None = None
    channels: list[str] | None = None
    valid_from: Any = None
    expires_at: Any = None
    filename: str | None = None
    mime: str | None = None
    width: int | None = None
    height: int | None = None
    updated_at: Any = None


class ExternalAssetOut(Schema):
    id: int
    external_system: str
    external_id: str
    external_url: str
    title: str
    type: str
    kind: str
    status: str
    alt_text: dict[str, str]
    licence: str
    territories: list[str]
    channels: list[str]
    valid_from: datetime.datetime | None
    expires_at: datetime.datetime | None
    file: dict[str, Any]
    external_updated_at: datetime.datetime | None
    version: int
    updated_at: datetime.datetime

    @staticmethod
    def resolve_channels(obj):
        return sorted(c.code for c in obj.channels.all())

    @staticmethod
    def resolve_file(obj):
        return (obj.custom or {}).get("external_file") or {}


class UpsertOut(Schema):
    result: str
    asset: ExternalAssetOut


@router.post(
    "/external-systems",
    response={201: SystemCreated},
    summary="Register another DAM (its shared webhook secret is shown once)",
)
def create_system(request, payload: SystemIn):
    require(request.user, MANAGE)
    system, secret = external.register_system(payload.code, payload.name, payload.secret)
    return Status(
        201,
        {
            "code": system.code,
            "name": system.name,
            "version": system.version,
            "created_at": system.created_at,
            "secret": secret,
        },
    )


@router.get("/external-systems", response=list[SystemOut], summary="Registered DAMs")
def list_systems(request):
    require(request.user, MANAGE)
    from folio.assets.models import ExternalSystem

    return list(ExternalSystem.objects.all())


@router.patch(
    "/external-systems/{code}",
    response=SystemOut,
    summary="Rename a registered DAM (send the version you read, or If-Match; 409 when it "
    "changed meanwhile)",
)
def update_system(
    request,
    response: HttpResponse,
    code: str,
    payload: SystemPatch,
    if_match: str | None = IF_MATCH,
):
    require(request.user, MANAGE)
    system = external.update_system(
        code, name=payload.name, expected_version=expected_version(payload.version, if_match)
    )
    response["ETag"] = system.etag
    return system


@router.post(
    "/external-systems/{code}/rotate-secret",
    response=SystemSecretOut,
    summary="Replace a DAM's shared webhook secret (generated unless given; answered here "
    "once). The old secret is refused from then on",
)
def rotate_system_secret(
    request, response: HttpResponse, code: str, payload: RotateIn, if_match: str | None = IF_MATCH
):
    require(request.user, MANAGE)
    system, secret = external.rotate_system_secret(
        code, expected_version=expected_version(payload.version, if_match), secret=payload.secret
    )
    response["ETag"] = system.etag
    return {"code": system.code, "version": system.version, "secret": secret}


@router.delete(
    "/external-systems/{code}",
    response={204: None},
    summary="Remove a registered DAM (version or If-Match: refuse if changed; 409 while "
    "any asset from it is not archived)",
)
def delete_system(request, code: str, version: int | None = None, if_match: str | None = IF_MATCH):
    require(request.user, MANAGE)
    external.delete_system(code, expected_version=expected_version(version, if_match))
    return Status(204, None)


@router.put(
    "/external-assets/{system}/{external_id}",
    response=UpsertOut,
    summary="Create or update the reference to an asset of another DAM",
)
def upsert_asset(request, system: str, external_id: str, payload: ExternalAssetIn):
    require(request.user, "assets.change_asset")
    facts = payload.dict(exclude_unset=True)
    done = external.upsert_external(system, external_id, user=request.user, **facts)
    asset = Asset.objects.prefetch_related("channels").get(pk=done.asset.pk)
    return {"result": done.result, "asset": asset}


@router.get(
    "/external-assets", response=list[ExternalAssetOut], summary="Assets referenced from other DAMs"
)
@paginate(Pagination, ordering=("-id",))
def list_external(request, system: str | None = None, **kwargs):
    require(request.user, "assets.view_asset")
    return browse.visible_assets(request.user, external.external_assets(system))


# --- Folio as a DAM for another PIM -----------------------------------------------------------


class FeedLink(Schema):
    sku: str
    role: str
    position: int
    locale: str
    channel: str | None


class FeedAsset(Schema):
    id: int
    title: str
    type: str
    kind: str
    alt_text: dict[str, str]
    licence: str
    territories: list[str]
    channels: list[str]
    valid_from: datetime.datetime | None
    expires_at: datetime.datetime | None
    file: dict[str, Any]
    download_url: str | None
    links: list[FeedLink]
    updated_at: datetime.datetime

    @staticmethod
    def resolve_channels(obj):
        return sorted(c.code for c in obj.channels.all())

    @staticmethod
    def resolve_file(obj):
        v = obj.current_version
        if v is None:  # an external asset: what its DAM told us
            return (obj.custom or {}).get("external_file") or {}
        return {"filename": v.filename, "mime": v.mime, "width": v.width, "height": v.height}

    @staticmethod
    def resolve_download_url(obj):
        if obj.current_version is not None:
            return f"/api/v1/assets/{obj.pk}/versions/{obj.current_version.number}/download"
        return external.rendition_source(obj)

    @staticmethod
    def resolve_links(obj):
        return [
            {
                "sku": lk.product.sku,
                "role": lk.role,
                "position": lk.position,
                "locale": lk.locale,
                "channel": lk.channel.code if lk.channel_id else None,
            }
            for lk in getattr(obj, "feed_links", [])
        ]


@router.get(
    "/dam/assets",
    response=list[FeedAsset],
    summary="Approved, in-rights assets with download URLs and links by SKU",
)
@paginate(Pagination, ordering=("-id",))
def dam_feed(request, updated_since: datetime.datetime | None = Query(None), **kwargs):
    require(request.user, "assets.view_asset")
    qs = browse.visible_assets(
        request.user,
        Asset.objects.filter(rights.publishable_q())
        .select_related("current_version")
        .prefetch_related("channels"),
    )
    if updated_since is not None:
        qs = qs.filter(updated_at__gte=updated_since)
    # Links belong to the linking app, which depends on assets and not the other way round:
    # looked up by name, so assets work without it.
    # An agency sees files, not the catalog: no links by SKU.
    if apps.is_installed("folio.linking") and not browse.is_restricted(request.user):
        link_model = apps.get_model("linking", "Link")
        qs = qs.prefetch_related(
            Prefetch(
                "links",
                queryset=link_model.objects.filter(product__isnull=False)
                .select_related("product", "channel")
                .order_by("product__sku", "role", "position"),
                to_attr="feed_links",
            )
        )
    return qs
