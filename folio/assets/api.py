"""REST API for putting files in: uploads (single-request and resumable) and versions.

Thin: every operation calls folio.assets.services / uploads. Browsing and editing assets
and their review live in other routers of this app.
"""

from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from django.http import FileResponse, HttpResponse
from ninja import File, Router, Schema, Status
from ninja.files import UploadedFile

from folio.accounts.services import require
from folio.assets import services, storage, uploads
from folio.assets.models import Asset, AssetVersion
from folio.errors import FolioError, InvalidInput
from folio.versioning import parse_if_match, shows_current

router = Router(tags=["assets"])


class Gone(FolioError):
    status = 410
    code = "gone"


class VersionOut(Schema):
    number: int
    filename: str
    mime: str
    size: int
    sha256: str
    width: int | None
    height: int | None
    pages: int | None
    duration: float | None
    metadata: dict[str, Any]
    uploaded_by: str | None
    uploaded_at: datetime
    comment: str
    pruned: bool
    current: bool

    @staticmethod
    def resolve_sha256(obj):
        return obj.blob_id

    @staticmethod
    def resolve_uploaded_by(obj):
        return obj.uploaded_by.username if obj.uploaded_by_id else None

    @staticmethod
    def resolve_current(obj):
        return obj.asset.current_version_id == obj.pk


class AssetOut(Schema):
    id: int
    title: str
    type: str
    kind: str
    status: str
    version: int
    collections: list[str]
    tags: list[str]
    creator: str
    copyright: str
    credit: str
    current_version: VersionOut | None
    created_at: datetime

    @staticmethod
    def resolve_collections(obj):
        return sorted(c.code for c in obj.collections.all())

    @staticmethod
    def resolve_tags(obj):
        return sorted(t.name for t in obj.tags.all())


class UploadIn(Schema):
    filename: str
    size: int
    asset_id: int | None = None


class UploadOut(Schema):
    id: UUID
    filename: str
    size: int
    received: int
    asset_id: int | None
    expires_at: datetime


class CompleteIn(Schema):
    title: str | None = None
    kind: str | None = None
    collections: list[str] = []
    tags: list[str] = []
    allow_duplicate: bool = False
    comment: str = ""


def _listed(request, name: str) -> list[str]:
    """Form lists: repeated fields (tags=a&tags=b) or one comma-separated value."""
    return [v.strip() for raw in request.POST.getlist(name) for v in raw.split(",") if v.strip()]


def _flag(value: str | None) -> bool:
    return str(value or "").strip().lower() in ("1", "true", "yes", "on")


def _source(upload: UploadedFile):
    """Django spools big multipart files to disk; examine that file in place, no copy."""
    if hasattr(upload, "temporary_file_path"):
        return Path(upload.temporary_file_path())
    return upload


def _asset_out(asset: Asset) -> Asset:
    return (
        Asset.objects.select_related("current_version__uploaded_by", "current_version__asset")
        .prefetch_related("collections", "tags")
        .get(pk=asset.pk)
    )


def _with_etag(response: HttpResponse, asset_version: int) -> None:
    response["ETag"] = f'W/"{asset_version}"'


def upload_asset(request, response: HttpResponse, file: File[UploadedFile]):
    require(request.user, "assets.add_asset")
    asset = services.add_asset(
        _source(file),
        filename=file.name,
        title=request.POST.get("title") or None,
        kind=request.POST.get("kind") or None,
        collections=_listed(request, "collections"),
        tags=_listed(request, "tags"),
        user=request.user,
        allow_duplicate=_flag(request.POST.get("allow_duplicate")),
    )
    asset = _asset_out(asset)
    _with_etag(response, asset.version)
    response["Location"] = f"/api/v1/assets/{asset.pk}"
    return Status(201, asset)


# Mounted by api_manage next to GET /assets: Django resolves a path to the first router that
# has it, so both methods of one path must live on one router (else one answers 405).
UPLOAD_ASSET = {
    "response": {201: AssetOut},
    "summary": "Upload a file as a new asset (multipart: file, title, kind, collections, tags)",
}


@router.post(
    "/assets/uploads",
    response={201: UploadOut},
    summary="Start a resumable upload (then PUT chunks with Content-Range, then complete)",
)
def start_upload(request, payload: UploadIn):
    require(request.user, "assets.change_asset" if payload.asset_id else "assets.add_asset")
    upload = uploads.start_upload(
        filename=payload.filename, size=payload.size, user=request.user, asset_id=payload.asset_id
    )
    return Status(201, upload)


@router.get(
    "/assets/uploads/{uuid:upload_id}", response=UploadOut, summary="Where an upload stands"
)
def upload_status(request, upload_id: UUID):
    return uploads.get_upload(upload_id, request.user)


@router.put(
    "/assets/uploads/{uuid:upload_id}",
    response=UploadOut,
    summary="Send one chunk (raw body, Content-Range: bytes START-END/TOTAL)",
)
def upload_chunk(request, upload_id: UUID):
    return uploads.receive_chunk(
        upload_id, request, content_range=request.headers.get("Content-Range"), user=request.user
    )


@router.post(
    "/assets/uploads/{uuid:upload_id}/complete",
    response={201: AssetOut},
    summary="Turn a fully received upload into an asset, or a new version of one",
)
def complete_upload(request, upload_id: UUID, response: HttpResponse, payload: CompleteIn = None):
    payload = payload or CompleteIn()
    upload = uploads.get_upload(upload_id, request.user)
    require(request.user, "assets.change_asset" if upload.asset_id else "assets.add_asset")
    result = uploads.complete_upload(
        upload_id,
        user=request.user,
        title=payload.title,
        kind=payload.kind,
        collections=payload.collections,
        tags=payload.tags,
        allow_duplicate=payload.allow_duplicate,
        comment=payload.comment,
        expected_version=parse_if_match(request.headers.get("If-Match")),
    )
    asset = _asset_out(result.asset if isinstance(result, AssetVersion) else result)
    _with_etag(response, asset.version)
    return Status(201, asset)


@router.delete("/assets/uploads/{uuid:upload_id}", response={204: None}, summary="Cancel an upload")
def cancel_upload(request, upload_id: UUID):
    uploads.cancel_upload(upload_id, request.user)
    return Status(204, None)


@router.post(
    "/assets/{int:asset_id}/versions",
    response={201: VersionOut},
    summary="Upload a new file version (multipart: file, comment); If-Match: the asset's ETag",
)
@shows_current("folio.assets.api_manage:get_asset")
def add_version(request, asset_id: int, response: HttpResponse, file: File[UploadedFile]):
    require(request.user, "assets.change_asset")
    version = services.add_version(
        asset_id,
        _source(file),
        filename=file.name,
        expected_version=parse_if_match(request.headers.get("If-Match")),
        comment=request.POST.get("comment", ""),
        user=request.user,
    )
    version = AssetVersion.objects.select_related("asset", "uploaded_by").get(pk=version.pk)
    _with_etag(response, version.asset.version)
    return Status(201, version)


@router.get(
    "/assets/{int:asset_id}/versions",
    response=list[VersionOut],
    summary="All versions of an asset, newest first",
)
def list_versions(request, asset_id: int):
    require(request.user, "assets.view_asset")
    return list(services.versions(asset_id, request.user).select_related("asset"))


@router.get(
    "/assets/{int:asset_id}/versions/{int:number}/download",
    summary="Download a version's original file",
    response={200: None},
)
def download_version(request, asset_id: int, number: int):
    require(request.user, "assets.view_asset")
    version = services.get_version(asset_id, number, request.user)
    if version.pruned:
        raise Gone(
            f"the file of version {number} was removed by the version retention setting",
            details={"asset_id": asset_id, "version": number},
        )
    response = FileResponse(
        storage.open_blob(version.blob),
        as_attachment=True,
        filename=version.filename,
        content_type=version.mime or "application/octet-stream",
    )
    response["Content-Length"] = str(version.size)
    response["X-Content-Type-Options"] = "nosniff"
    # Even a sanitised SVG opened directly must not run anything or load anything.
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    response["ETag"] = f'"{version.blob_id}"'
    return response


@router.post(
    "/assets/{int:asset_id}/versions/{int:number}/restore",
    response={201: VersionOut},
    summary="Make an earlier version current again (as a new version)",
)
@shows_current("folio.assets.api_manage:get_asset")
def restore_version(request, asset_id: int, number: int, response: HttpResponse):
    require(request.user, "assets.change_asset")
    if number <= 0:
        raise InvalidInput("version numbers start at 1", details={"version": number})
    version = services.restore_version(
        asset_id,
        number,
        parse_if_match(request.headers.get("If-Match")),
        user=request.user,
    )
    version = AssetVersion.objects.select_related("asset", "uploaded_by").get(pk=version.pk)
    _with_etag(response, version.asset.version)
    return Status(201, version)
