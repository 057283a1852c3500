"""REST API for what is derived from and built around asset files: previews, near-duplicates,
brand kits with their palettes, and share links.

Previews are served through the API (signed-in users and tokens only, `assets.view_asset`),
streamed from the media storage with the blob's SHA-256 as ETag. Share links are managed
here; the public pages they open live in share_views (no login).
"""

import datetime
from typing import Any

from django.db.models import F
from django.http import FileResponse, HttpResponse, HttpResponseNotModified
from django.utils.cache import patch_cache_control
from ninja import Header, Query, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import ConfigDict

from folio.accounts.services import require
from folio.api import Pagination
from folio.assets import brandkit, browse, previews, sharing, similarity, storage
from folio.assets.models import AssetVersion, Preview
from folio.errors import NotFound
from folio.versioning import expected_version, shows_current

router = Router(tags=["assets: previews, brand kits, share links"])


class In(Schema):
    model_config = ConfigDict(extra="forbid")


# --- previews ---------------------------------------------------------------------------------


class PreviewImage(Schema):
    url: str
    width: int
    height: int


class PreviewsOut(Schema):
    state: str  # ready, pending, failed, none
    previews: dict[str, PreviewImage]
    message: str


@router.get(
    "/assets/{int:asset_id}/previews",
    response=PreviewsOut,
    summary="The preview state of an asset's current version, and the preview URLs once made "
    "(state: ready, pending, failed or none for types without preview)",
)
def asset_previews(request, asset_id: int):
    require(request.user, "assets.view_asset")
    asset = browse.get_asset(asset_id, request.user)
    return previews.preview_state(asset)


@router.get(
    "/assets/{int:asset_id}/preview/{name}",
    response={200: None, 304: None},
    summary="A preview image (thumb: fit 256 px, large: fit 1600 px; WebP, sRGB). 404 with "
    "code preview_pending while it is being made; `version` picks an older version",
)
def preview_image(request, asset_id: int, name: str, version: int | None = Query(None, ge=1)):
    require(request.user, "assets.view_asset")
    if name not in previews.NAMES:
        raise NotFound(
            f"no preview named {name!r} (there are {', '.join(previews.NAMES)})",
            details={"name": name},
        )
    asset = browse.get_asset(asset_id, request.user)
    if version is None:
        version_id = asset.current_version_id
    else:
        version_id = (
            AssetVersion.objects.filter(asset=asset, number=version)
            .values_list("pk", flat=True)
            .first()
        )
        if version_id is None:
            raise NotFound(
                f"asset {asset_id} has no version {version}", details={"version": version}
            )
    preview = (
        Preview.objects.select_related("blob").filter(version_id=version_id, name=name).first()
    )
    if preview is None:
        state = previews.preview_state(asset) if version is None else {"state": "pending"}
        if state["state"] == "none":
            raise NotFound(
                f"files of this type have no preview (asset {asset_id})", code="no_preview"
            )
        if state["state"] == "failed":
            raise NotFound(
                f"no preview could be made: {state['message']}",
                code="preview_failed",
                details={"message": state["message"]},
            )
        raise NotFound(
            "the preview is not ready yet; it is being made in the background",
            code="preview_pending",
            details={"asset_id": asset_id, "name": name},
        )
    etag = f'"{preview.blob_id}"'
    if etag in [t.strip() for t in request.headers.get("If-None-Match", "").split(",")]:
        response = HttpResponseNotModified()
    else:
        response = FileResponse(storage.open_blob(preview.blob), content_type="image/webp")
        response["Content-Length"] = str(preview.blob.size)
    response["ETag"] = etag
    response["X-Content-Type-Options"] = "nosniff"
    # Private: previews are for signed-in users; the ETag lets the browser revalidate cheaply.
    patch_cache_control(response, private=True, max_age=3600)
    return response


# --- near-duplicates --------------------------------------------------------------------------


class SimilarOut(Schema):
    id: int
    title: str
    type: str
    kind: str
    status: str
    distance: int
    thumb: str | None


class SimilarGroupOut(Schema):
    assets: list[SimilarOut]


def _current_thumbs(asset_ids) -> set[int]:
    """Which of these assets have a thumbnail of their current version."""
    return set(
        Preview.objects.filter(
            version__asset_id__in=list(asset_ids),
            name="thumb",
            version_id=F("version__asset__current_version_id"),
        ).values_list("version__asset_id", flat=True)
    )


def _similar_row(asset, dist: int, thumbs: set[int]) -> dict:
    return {
        "id": asset.pk,
        "title": asset.title,
        "type": asset.type,
        "kind": asset.kind,
        "status": asset.status,
        "distance": dist,
        "thumb": previews.preview_url(asset.pk, "thumb") if asset.pk in thumbs else None,
    }


@router.get(
    "/assets/{int:asset_id}/similar",
    response=list[SimilarOut],
    summary="Near-duplicates of an image: the same picture resized, re-encoded or slightly "
    "edited (perceptual hash within max_distance bits of 64), closest first",
)
def similar_assets(request, asset_id: int, max_distance: int = Query(6, ge=0, le=7)):
    require(request.user, "assets.view_asset")
    browse.get_asset(asset_id, request.user)
    found = similarity.near_duplicates(
        asset_id, max_distance, among=browse.visible_assets(request.user)
    )
    thumbs = _current_thumbs(a.pk for a, _ in found)
    return [_similar_row(a, d, thumbs) for a, d in found]


@router.get(
    "/assets/near-duplicates",
    response=list[SimilarGroupOut],
    summary="Groups of near-duplicate images across the library, largest first",
)
def near_duplicate_groups(request, max_distance: int = Query(6, ge=0, le=7)):
    require(request.user, "assets.view_asset")
    visible = browse.visible_assets(request.user)
    groups = similarity.near_duplicate_groups(max_distance, among=visible)
    ids = [pk for g in groups for pk in g]
    by_id = visible.in_bulk(ids)
    thumbs = _current_thumbs(ids)
    out = []
    for group in groups:
        first = by_id.get(group[0])
        rows = []
        for pk in group:
            asset = by_id.get(pk)
            if asset is None:
                continue
            dist = similarity.distance(first.phash, asset.phash) if first else 0
            rows.append(_similar_row(asset, dist, thumbs))
        if len(rows) > 1:
            out.append({"assets": rows})
    return out


# --- brand kits -------------------------------------------------------------------------------


class ColourIn(In):
    name: str
    hex: str | None = None
    rgb: list[Any] | None = None
    cmyk: list[Any] | None = None


class ColourOut(Schema):
    name: str
    hex: str
    rgb: list[int]
    cmyk: list[float]


class PaletteOut(Schema):
    id: int
    name: str
    colours: list[ColourOut]
    version: int
    updated_at: datetime.datetime


class PaletteIn(In):
    name: str
    colours: list[dict[str, Any]]


class PalettePatch(In):
    name: str | None = None
    colours: list[dict[str, Any]] | None = None
    version: int | None = None


class BrandKitIn(In):
    code: str
    name: str
    description: str = ""


class BrandKitOut(Schema):
    code: str
    name: str
    description: str
    version: int
    updated_at: datetime.datetime


class KitAsset(Schema):
    id: int
    title: str
    kind: str
    status: str
    filename: str | None
    mime: str | None
    size: int | None
    width: int | None
    height: int | None
    publishable: bool
    reasons: list[str]
    thumb: str | None
    download: str | None


class BrandKitDetail(BrandKitOut):
    logos: list[KitAsset]
    palettes: list[PaletteOut]
    fonts: list[KitAsset]
    guidelines: list[KitAsset]


def _kit_asset(asset, ok: bool, reasons: list[str], thumbs: set[int]) -> dict:
    v = asset.current_version
    return {
        "id": asset.pk,
        "title": asset.title,
        "kind": asset.kind,
        "status": asset.status,
        "filename": v.filename if v else None,
        "mime": v.mime if v else None,
        "size": v.size if v else None,
        "width": v.width if v else None,
        "height": v.height if v else None,
        "publishable": ok,
        "reasons": reasons,
        "thumb": previews.preview_url(asset.pk, "thumb") if asset.pk in thumbs else None,
        "download": f"/api/v1/assets/{asset.pk}/versions/{v.number}/download" if v else None,
    }


@router.get("/brand-kits", response=list[BrandKitOut], summary="Brand kits")
def list_brand_kits(request):
    require(request.user, "assets.view_collection")
    return list(brandkit.brand_kits(request.user))


@router.post(
    "/brand-kits",
    response={201: BrandKitOut},
    summary="Create a brand kit (or make an existing collection one)",
)
def create_brand_kit(request, payload: BrandKitIn):
    kit = brandkit.create_brand_kit(
        payload.code, payload.name, description=payload.description, user=request.user
    )
    return Status(201, kit)


@router.get(
    "/brand-kits/{code}",
    response=BrandKitDetail,
    summary="A brand kit: logos, palettes, fonts and guidelines. Without edit rights only "
    "approved assets within their usage rights are listed",
)
def get_brand_kit(request, code: str, response: HttpResponse):
    require(request.user, "assets.view_collection")
    kit = brandkit.get_brand_kit(code, request.user)
    contents = brandkit.brand_kit_contents(kit, request.user)
    ids = [a.pk for s in brandkit.SECTIONS for a, _, _ in contents[s]]
    thumbs = _current_thumbs(ids)
    response["ETag"] = kit.etag
    return {
        "code": kit.code,
        "name": kit.name,
        "description": kit.description,
        "version": kit.version,
        "updated_at": kit.updated_at,
        "palettes": contents["palettes"],
        **{
            section: [_kit_asset(a, ok, reasons, thumbs) for a, ok, reasons in contents[section]]
            for section in brandkit.SECTIONS
        },
    }


@router.get(
    "/brand-kits/{code}/palettes",
    response=list[PaletteOut],
    summary="The colour palettes of a brand kit",
)
def list_palettes(request, code: str):
    require(request.user, "assets.view_collection")
    kit = brandkit.get_brand_kit(code, request.user)
    return list(kit.palettes.order_by("name", "id"))


@router.get(
    "/brand-kits/{code}/palettes/{int:palette_id}",
    response=PaletteOut,
    summary="One colour palette (ETag: its version)",
)
def get_palette(request, code: str, palette_id: int, response: HttpResponse):
    require(request.user, "assets.view_collection")
    palette = brandkit.get_palette(code, palette_id, request.user)
    response["ETag"] = palette.etag
    return palette


@router.post(
    "/brand-kits/{code}/palettes",
    response={201: PaletteOut},
    summary="Add a colour palette: colours with name and HEX and/or RGB (they must agree), "
    "CMYK in percent (computed naively when left out)",
)
def add_palette(request, code: str, payload: PaletteIn, response: HttpResponse):
    palette = brandkit.add_palette(code, payload.name, payload.colours, user=request.user)
    response["ETag"] = palette.etag
    return Status(201, palette)


@router.patch(
    "/brand-kits/{code}/palettes/{int:palette_id}",
    response=PaletteOut,
    summary="Change a palette's name or colours; send the version you read (body or "
    "If-Match): a stale one answers 409 with the current palette",
)
@shows_current(get_palette)
def update_palette(
    request,
    code: str,
    palette_id: int,
    payload: PalettePatch,
    response: HttpResponse,
    if_match: str | None = Header(None, alias="If-Match"),
):
    expected = expected_version(payload.version, if_match)
    palette = brandkit.update_palette(
        code,
        palette_id,
        version=expected,
        name=payload.name,
        colours=payload.colours,
        user=request.user,
    )
    response["ETag"] = palette.etag
    return palette


@router.delete(
    "/brand-kits/{code}/palettes/{int:palette_id}",
    response={204: None},
    summary="Delete a palette (version or If-Match: refuse if it changed)",
)
@shows_current(get_palette)
def delete_palette(
    request,
    code: str,
    palette_id: int,
    version: int | None = None,
    if_match: str | None = Header(None, alias="If-Match"),
):
    brandkit.delete_palette(
        code, palette_id, user=request.user, expected_version=expected_version(version, if_match)
    )
    return Status(204, None)


# --- share links ------------------------------------------------------------------------------


class ShareLinkIn(In):
    name: str
    assets: list[int] = []
    collection: str | None = None
    expires_at: datetime.datetime
    preset: str = "original"


class ShareLinkOut(Schema):
    id: int
    name: str
    state: str  # active, expired, revoked
    assets: list[int]
    collection: str | None
    preset: str
    created_by: str | None
    created_at: datetime.datetime
    expires_at: datetime.datetime
    revoked_at: datetime.datetime | None
    downloads: int
    version: int

    @staticmethod
    def resolve_state(obj):
        return sharing.link_state(obj)

    @staticmethod
    def resolve_assets(obj):
        return sorted(a.pk for a in obj.assets.all())

    @staticmethod
    def resolve_collection(obj):
        return obj.collection.code if obj.collection_id else None

    @staticmethod
    def resolve_created_by(obj):
        return obj.created_by.username if obj.created_by_id else None

    @staticmethod
    def resolve_downloads(obj):
        count = getattr(obj, "downloads_count", None)
        return obj.downloads.count() if count is None else count


class ShareLinkCreated(ShareLinkOut):
    token: str
    url: str


class DownloadOut(Schema):
    asset: int | None
    zip: bool
    at: datetime.datetime
    ip: str | None

    @staticmethod
    def resolve_asset(obj):
        return obj.asset_id


class ShareLinkDetail(ShareLinkOut):
    recent_downloads: list[DownloadOut]


@router.post(
    "/share-links",
    response={201: ShareLinkCreated},
    summary="Create a share link for assets or a collection; the response holds the link "
    "(token and url) once, it cannot be shown again",
)
def create_share_link(request, payload: ShareLinkIn):
    link, token = sharing.create_share_link(
        name=payload.name,
        asset_ids=payload.assets,
        collection=payload.collection,
        expires_at=payload.expires_at,
        preset=payload.preset,
        user=request.user,
    )
    link = sharing.share_links().prefetch_related("assets").get(pk=link.pk)
    link.token = token
    link.url = request.build_absolute_uri(f"/share/{token}/")
    return Status(201, link)


@router.get(
    "/share-links",
    response=list[ShareLinkOut],
    summary="Share links with their state and number of downloads; newest first",
)
@paginate(Pagination, ordering=("-id",))
def list_share_links(request, state: str | None = Query(None), **kwargs):
    require(request.user, "assets.change_asset")
    qs = sharing.share_links(request.user).prefetch_related("assets")
    now = datetime.datetime.now(datetime.UTC)
    if state == "active":
        qs = qs.filter(revoked_at__isnull=True, expires_at__gt=now)
    elif state == "expired":
        qs = qs.filter(revoked_at__isnull=True, expires_at__lte=now)
    elif state == "revoked":
        qs = qs.filter(revoked_at__isnull=False)
    return qs


@router.get(
    "/share-links/{int:link_id}",
    response=ShareLinkDetail,
    summary="One share link with its latest downloads",
)
def get_share_link(request, link_id: int, response: HttpResponse):
    link = sharing.get_share_link(link_id, request.user)
    link.recent_downloads = list(link.downloads.order_by("-at", "-id")[:100])
    response["ETag"] = link.etag
    return link


@router.post(
    "/share-links/{int:link_id}/revoke",
    response=ShareLinkOut,
    summary="Withdraw a share link at once (its address answers 410 from now on); with the "
    "version you read (query or If-Match), a link changed since answers 409",
)
@shows_current(get_share_link)
def revoke_share_link(
    request,
    link_id: int,
    response: HttpResponse,
    version: int | None = None,
    if_match: str | None = Header(None, alias="If-Match"),
):
    sharing.revoke_share_link(
        link_id, request.user, expected_version=expected_version(version, if_match)
    )
    link = sharing.get_share_link(link_id, request.user)
    response["ETag"] = link.etag
    return link
