"""REST API for renditions: presets (with market overrides), each channel's image slots, and
the renditions of an asset (state, compliance, delivery address; requesting new ones).

Requesting renditions answers 202 with the jobs that make them; nothing renders on the
request path.
"""

from datetime import datetime
from typing import Any

from django.http import HttpResponse
from ninja import Header, Query, Router, Schema, Status
from pydantic import ConfigDict

from folio.accounts.services import require
from folio.assets import browse
from folio.errors import InvalidInput, NotFound
from folio.jobs.api import JobOut
from folio.renditions import cache, delivery
from folio.renditions import presets as service
from folio.renditions.models import Preset, Rendition
from folio.versioning import expected_version, patch_and_version, shows_current

router = Router(tags=["renditions"])
IF_MATCH = Header(None, alias="If-Match", description='The ETag of the version you edited: W/"3"')


class In(Schema):
    model_config = ConfigDict(extra="forbid")


# --- presets ----------------------------------------------------------------------------------


class PresetOut(Schema):
    code: str
    name: str
    description: str
    kind: str
    spec: dict
    rules: dict
    market_overrides: dict
    filename_template: str
    public: bool
    version: int
    updated_at: datetime
    spec_hash: str

    @staticmethod
    def resolve_spec_hash(obj):
        return service.spec_hash(service.effective_spec(obj))


class PresetIn(In):
    code: str
    name: str
    description: str = ""
    kind: str = "image"
    spec: dict
    rules: dict = {}
    market_overrides: dict = {}
    filename_template: str = "{sku}-{position}.{ext}"
    public: bool = False


class PresetPatch(In):
    name: str | None = None
    description: str | None = None
    kind: str | None = None
    spec: dict | None = None
    rules: dict | None = None
    market_overrides: dict | None = None
    filename_template: str | None = None
    public: bool | None = None
    version: int | None = None


class OverrideIn(In):
    spec: dict
    version: int | None = None


def _with_etag(preset: Preset, response: HttpResponse) -> Preset:
    response["ETag"] = preset.etag
    return preset


@router.get("/presets", response=list[PresetOut], summary="All rendition presets")
def list_presets(request, kind: str | None = Query(None)):
    require(request.user, "renditions.view_preset")
    qs = Preset.objects.order_by("code")
    return list(qs.filter(kind=kind) if kind else qs)


@router.post(
    "/presets",
    response={201: PresetOut},
    summary="Create a preset (spec and rules are "
    "checked strictly; errors name the op index and field)",
)
def create_preset(request, response: HttpResponse, payload: PresetIn):
    require(request.user, "renditions.add_preset")
    preset = service.create_preset(**payload.dict())
    return Status(201, _with_etag(preset, response))


@router.get("/presets/{code}", response=PresetOut, summary="One preset (ETag: its version)")
def get_preset(request, response: HttpResponse, code: str):
    require(request.user, "renditions.view_preset")
    return _with_etag(service.get_preset(code), response)


@router.patch(
    "/presets/{code}",
    response=PresetOut,
    summary="Change a preset (send the version "
    "you read, or If-Match); a changed spec re-renders what used it, in the background",
)
@shows_current(get_preset)
def update_preset(
    request,
    response: HttpResponse,
    code: str,
    payload: PresetPatch,
    if_match: str | None = IF_MATCH,
):
    require(request.user, "renditions.change_preset")
    changes, version = patch_and_version(payload, if_match)
    changes = {k: v for k, v in changes.items() if v is not None}
    preset = service.update_preset(code, expected_version=version, **changes)
    return _with_etag(preset, response)


@router.delete(
    "/presets/{code}",
    response={204: None},
    summary="Delete a preset no slot uses (version or If-Match: refuse if it changed)",
)
@shows_current(get_preset)
def delete_preset(request, code: str, version: int | None = None, if_match: str | None = IF_MATCH):
    require(request.user, "renditions.delete_preset")
    service.delete_preset(code, expected_version=expected_version(version, if_match))
    return Status(204, None)


@router.put(
    "/presets/{code}/markets/{locale}",
    response=PresetOut,
    summary="Set a market override (a partial spec deep-merged over the preset's)",
)
@shows_current(get_preset)
def set_override(
    request,
    response: HttpResponse,
    code: str,
    locale: str,
    payload: OverrideIn,
    if_match: str | None = IF_MATCH,
):
    require(request.user, "renditions.change_preset")
    version = expected_version(payload.version, if_match)
    preset = service.set_market_override(code, locale, payload.spec, expected_version=version)
    return _with_etag(preset, response)


@router.delete(
    "/presets/{code}/markets/{locale}", response=PresetOut, summary="Remove a market override"
)
@shows_current(get_preset)
def delete_override(
    request, response: HttpResponse, code: str, locale: str, if_match: str | None = IF_MATCH
):
    require(request.user, "renditions.change_preset")
    preset = service.delete_market_override(
        code, locale, expected_version=expected_version(None, if_match)
    )
    return _with_etag(preset, response)


@router.post(
    "/presets/{code}/rerender",
    response={202: JobOut},
    summary="Re-render every source in use whose rendition predates the current spec",
)
def rerender_preset(request, code: str):
    require(request.user, "renditions.change_preset")
    from folio.renditions.jobs import start_rerender

    return Status(202, start_rerender(service.get_preset(code), user=request.user))


# --- image slots ------------------------------------------------------------------------------


class SlotOut(Schema):
    channel: str
    role: str
    preset: str
    max_count: int
    required: bool
    filename_template: str
    version: int

    @staticmethod
    def resolve_channel(obj):
        return obj.channel.code

    @staticmethod
    def resolve_preset(obj):
        return obj.preset.code


class SlotIn(In):
    role: str
    preset: str
    max_count: int = 1
    required: bool = False
    filename_template: str = ""


class SlotPatch(In):
    role: str | None = None
    preset: str | None = None
    max_count: int | None = None
    required: bool | None = None
    filename_template: str | None = None
    version: int | None = None


@router.get(
    "/channels/{code}/image-slots",
    response=list[SlotOut],
    summary="The images a channel asks for: role → preset, how many, required",
)
def list_slots(request, code: str):
    require(request.user, "renditions.view_imageslot")
    return service.list_slots(code)


@router.post("/channels/{code}/image-slots", response={201: SlotOut}, summary="Add an image slot")
def create_slot(request, code: str, payload: SlotIn):
    require(request.user, "renditions.add_imageslot")
    return Status(201, service.create_slot(code, **payload.dict()))


@router.get(
    "/channels/{code}/image-slots/{role}", response=SlotOut, summary="One image slot (ETag)"
)
def get_slot(request, response: HttpResponse, code: str, role: str):
    require(request.user, "renditions.view_imageslot")
    return _with_etag(service.get_slot(code, role), response)


@router.patch(
    "/channels/{code}/image-slots/{role}",
    response=SlotOut,
    summary="Change an image slot (send the version you read, or If-Match; 409 when stale)",
)
@shows_current(get_slot)
def update_slot(
    request,
    response: HttpResponse,
    code: str,
    role: str,
    payload: SlotPatch,
    if_match: str | None = IF_MATCH,
):
    require(request.user, "renditions.change_imageslot")
    changes, version = patch_and_version(payload, if_match)
    changes = {k: v for k, v in changes.items() if v is not None}
    slot = service.update_slot(code, role, expected_version=version, **changes)
    return _with_etag(slot, response)


@router.delete(
    "/channels/{code}/image-slots/{role}",
    response={204: None},
    summary="Delete an image slot (version or If-Match: refuse if it changed)",
)
@shows_current(get_slot)
def delete_slot(
    request, code: str, role: str, version: int | None = None, if_match: str | None = IF_MATCH
):
    require(request.user, "renditions.delete_imageslot")
    service.delete_slot(code, role, expected_version=expected_version(version, if_match))
    return Status(204, None)


# --- an asset's renditions --------------------------------------------------------------------


class RenditionOut(Schema):
    preset: str
    locale: str
    status: str  # ready, pending, failed, none (not requested yet)
    id: int | None = None
    format: str = ""
    width: int | None = None
    height: int | None = None
    size: int | None = None
    compliance: dict = {}
    confidence: float | None = None
    needs_review: bool = False
    error: str = ""
    rendered_at: datetime | None = None
    duration_ms: int | None = None
    url: str | None = None


class RenditionsRequest(In):
    presets: list[str]
    locale: str | None = None


class RenditionsQueued(Schema):
    renditions: list[RenditionOut]
    jobs: list[JobOut]


def _kind_of(asset) -> str | None:
    return {"image": "image", "video": "video"}.get(asset.type)


def _out(asset, preset: Preset, row: Rendition | None, locale: str | None) -> dict:
    applied = service.applied_locale(preset, locale)
    if row is None:
        return {"preset": preset.code, "locale": applied, "status": "none"}
    published = row.status == Rendition.Status.READY and not row.needs_review
    return {
        "preset": preset.code,
        "locale": row.locale,
        "status": row.status,
        "id": row.pk,
        "format": row.format,
        "width": row.width,
        "height": row.height,
        "size": row.size,
        "compliance": row.compliance or {},
        "confidence": row.confidence,
        "needs_review": row.needs_review,
        "error": row.error,
        "rendered_at": row.rendered_at,
        "duration_ms": row.duration_ms,
        "url": delivery.url_for(asset, preset, locale=locale) if published else None,
    }


@router.get(
    "/assets/{int:asset_id}/renditions",
    response=list[RenditionOut],
    summary="Per preset: the rendition of the asset's current file (status, compliance, "
    "confidence, needs_review, delivery URL); status none = not requested yet",
)
def asset_renditions(
    request, asset_id: int, locale: str | None = Query(None), preset: list[str] | None = Query(None)
):
    require(request.user, "renditions.view_rendition")
    asset = browse.get_asset(asset_id, request.user)
    kind = _kind_of(asset)
    if kind is None or asset.current_version is None:
        return []
    qs = Preset.objects.filter(kind=kind).order_by("code")
    if preset:
        qs = qs.filter(code__in=preset)
    presets = list(qs)
    sha = asset.current_version.blob_id
    hashes = {p.code: service.spec_hash(service.effective_spec(p, locale)) for p in presets}
    rows = {
        r.spec_hash: r
        for r in Rendition.objects.filter(source_sha256=sha, spec_hash__in=hashes.values())
    }
    return [_out(asset, p, rows.get(hashes[p.code]), locale) for p in presets]


@router.post(
    "/assets/{int:asset_id}/renditions",
    response={202: RenditionsQueued},
    summary="Ask for renditions through these presets; answered at once with the jobs "
    "that make the missing ones (existing renditions are reused)",
)
def request_renditions(request, asset_id: int, payload: RenditionsRequest):
    require(request.user, "renditions.add_rendition")
    asset = browse.get_asset(asset_id, request.user)
    if not payload.presets:
        raise InvalidInput("name at least one preset", details={"field": "presets"})
    presets = [service.get_preset(code) for code in payload.presets]
    kind = _kind_of(asset)
    wrong = [p.code for p in presets if p.kind != kind]
    if wrong:
        raise InvalidInput(
            f"presets {', '.join(wrong)} are not for {asset.type} files",
            details={"presets": wrong, "asset_type": asset.type},
        )
    if asset.current_version is None:
        raise InvalidInput(f"asset {asset_id} has no file")
    rows, jobs = cache.ensure_renditions(
        [asset.current_version], presets, locale=payload.locale, user=request.user
    )
    by_hash = {r.spec_hash: r for r in rows}
    out = [
        _out(
            asset,
            p,
            by_hash.get(service.spec_hash(service.effective_spec(p, payload.locale))),
            payload.locale,
        )
        for p in presets
    ]
    return Status(202, {"renditions": out, "jobs": jobs})


class RenditionReviewIn(In):
    accept: bool
    comment: str = ""


@router.post(
    "/renditions/{int:rendition_id}/review",
    response=dict[str, Any],
    summary="Accept a rendition that awaits review (a doubtful cut-out), or reject it",
)
def review_rendition(request, rendition_id: int, payload: RenditionReviewIn):
    require(request.user, "renditions.change_rendition")
    from folio.accounts import audit

    row = Rendition.objects.filter(pk=rendition_id).first()
    if row is None:
        raise NotFound(f"no rendition {rendition_id}")
    if payload.accept:
        Rendition.objects.filter(pk=row.pk).update(needs_review=False)
    else:
        Rendition.objects.filter(pk=row.pk).update(
            needs_review=False,
            status=Rendition.Status.FAILED,
            error=f"rejected in review: {payload.comment}".strip().rstrip(":"),
        )
        from folio.renditions.jobs import rendition_changed

        rendition_changed.send(
            sender=Rendition, sources=[row.source_sha256], preset_ids=[row.preset_id]
        )
    audit.record(
        "rendition.review",
        row,
        summary=f"{'accepted' if payload.accept else 'rejected'} rendition {row.pk}",
        changes={"comment": payload.comment},
    )
    row.refresh_from_db()
    return {
        "id": row.pk,
        "status": row.status,
        "needs_review": row.needs_review,
        "error": row.error,
    }
