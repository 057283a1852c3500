"""REST API for managing assets: browse, detail, metadata edits, approval, rights, history,
and the structure around assets (collections, tags, custom fields, review workflows).

Thin: each operation checks the permission and calls the service modules. Agency users only
ever see assets in their collections (404 for the others). Edits take the version the caller
read (body `version` or If-Match); a stale one answers 409 with the current state.
"""

import datetime
from typing import Any

from django.http import HttpResponse
from ninja import Header, Query, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import ConfigDict

from folio.accounts.services import require
from folio.api import Pagination
from folio.assets import api as assets_api
from folio.assets import browse, editing, rights, workflow
from folio.assets.models import Asset, AssetChange, Collection, CustomField, ReviewWorkflow
from folio.errors import NotFound
from folio.versioning import expected_version, patch_and_version, shows_current

router = Router(tags=["assets"])
IF_MATCH = Header(None, alias="If-Match", description='The ETag of the version you edited: W/"3"')


class In(Schema):
    # A misspelt field must fail loudly, not be ignored while the rest is saved.
    model_config = ConfigDict(extra="forbid")


def _etag(data, version: int, response: HttpResponse):
    response["ETag"] = f'W/"{version}"'
    return data


# --- schemas ----------------------------------------------------------------------------------


class VersionSummary(Schema):
    number: int
    filename: str
    mime: str
    size: int
    width: int | None
    height: int | None
    pages: int | None
    duration: float | None
    uploaded_by: str | None
    uploaded_at: datetime.datetime

    @staticmethod
    def resolve_uploaded_by(obj):
        return obj.uploaded_by.username if obj.uploaded_by_id else None


class AssetBriefOut(Schema):
    id: int
    title: str
    type: str
    kind: str
    status: str
    tags: list[str]
    collections: list[str]
    expires_at: datetime.datetime | None
    current_version: VersionSummary | None
    version: int
    updated_at: datetime.datetime

    @staticmethod
    def resolve_tags(obj):
        return sorted(t.name for t in obj.tags.all())

    @staticmethod
    def resolve_collections(obj):
        return sorted(c.code for c in obj.collections.all())


class ReviewOut(Schema):
    step: str
    decision: str
    decided_by: str | None
    decided_at: datetime.datetime
    comment: str
    version_number: int

    @staticmethod
    def resolve_decided_by(obj):
        return obj.decided_by.username if obj.decided_by_id else None


class StepOut(Schema):
    name: str
    group: str | None


class RightsOut(Schema):
    licence: str
    territories: list[str]
    channels: list[str]
    valid_from: datetime.datetime | None
    expires_at: datetime.datetime | None
    expired: bool
    expiring: bool
    publishable: bool
    reasons: list[str]


class ApprovalOut(Schema):
    workflow: str
    steps: list[StepOut]
    reviews: list[ReviewOut]
    next_step: StepOut | None
    you_may_decide: bool


class AssetDetail(Schema):
    id: int
    title: str
    description: str
    type: str
    kind: str
    status: str
    alt_text: dict[str, str]
    tags: list[str]
    collections: list[str]
    creator: str
    copyright: str
    credit: str
    custom: dict[str, Any]
    rights: RightsOut
    approval: ApprovalOut
    current_version: VersionSummary | None
    metadata: dict[str, Any]
    created_by: str | None
    created_at: datetime.datetime
    version: int
    updated_at: datetime.datetime


class AssetPatch(In):
    title: str | None = None
    description: str | None = None
    kind: str | None = None
    alt_text: dict[str, Any] | None = None
    tags: list[str] | None = None
    collections: list[str] | None = None
    creator: str | None = None
    copyright: str | None = None
    credit: str | None = None
    licence: str | None = None
    territories: list[str] | None = None
    channels: list[str] | None = None
    valid_from: Any = None
    expires_at: Any = None
    custom: dict[str, Any] | None = None
    version: int | None = None


class DecisionIn(In):
    comment: str = ""
    step: str | None = None
    version: int | None = None


class RejectIn(In):
    comment: str
    step: str | None = None
    version: int | None = None


class QueueItem(Schema):
    asset: AssetBriefOut
    step: StepOut


class AssetChangeOut(Schema):
    version: int
    at: datetime.datetime
    user: str
    action: str
    changes: list[dict[str, Any]]

    @staticmethod
    def resolve_user(obj):
        return obj.username or "system"


def asset_detail(asset: Asset, user) -> dict:
    asset = (
        Asset.objects.select_related("current_version__uploaded_by", "created_by")
        .prefetch_related("tags", "collections__workflow", "channels")
        .get(pk=asset.pk)
    )
    state = workflow.review_state(asset)
    return {
        **{
            f: getattr(asset, f)
            for f in (
                "id",
                "title",
                "description",
                "type",
                "kind",
                "status",
                "creator",
                "copyright",
                "credit",
                "created_at",
                "version",
                "updated_at",
            )
        },
        "alt_text": asset.alt_text or {},
        "custom": asset.custom or {},
        "tags": sorted(t.name for t in asset.tags.all()),
        "collections": sorted(c.code for c in asset.collections.all()),
        "rights": rights.rights_state(asset),
        "approval": {
            "workflow": state.workflow.code,
            "steps": list(state.workflow.steps),
            "reviews": state.decided,
            "next_step": state.next_step if asset.status == Asset.Status.IN_REVIEW else None,
            "you_may_decide": bool(
                asset.status == Asset.Status.IN_REVIEW
                and state.next_step
                and workflow.may_decide(user, state.next_step)
                and not (asset.current_version and asset.current_version.uploaded_by_id == user.pk)
            ),
        },
        "current_version": asset.current_version,
        "metadata": asset.current_version.metadata if asset.current_version else {},
        "created_by": asset.created_by.username if asset.created_by_id else None,
    }


def _detail_response(asset_id: int, request, response: HttpResponse):
    asset = browse.get_asset(asset_id, request.user)
    return _etag(asset_detail(asset, request.user), asset.version, response)


LIST_PREFETCH = ("tags", "collections")


# --- assets -----------------------------------------------------------------------------------


router.add_api_operation(
    "/assets", ["POST"], assets_api.upload_asset, tags=["assets"], **assets_api.UPLOAD_ASSET
)


@router.get(
    "/assets",
    response=list[AssetBriefOut],
    summary="Assets, filtered; newest first. q searches titles, descriptions, alt texts "
    "(all locales), file names, tags and embedded metadata",
)
@paginate(Pagination, ordering=("-id",))
def list_assets(
    request,
    q: str | None = None,
    type: list[str] = Query([]),
    kind: list[str] = Query([]),
    tag: list[str] = Query([], description="any of these tags"),
    collection: list[str] = Query([], description="in any of these collections (codes)"),
    status: list[str] = Query([]),
    expires_within_days: int | None = Query(None, ge=0),
    expired: bool | None = None,
    size_min: int | None = Query(None, ge=0, description="bytes, current version"),
    size_max: int | None = Query(None, ge=0),
    orientation: str | None = Query(None, description="landscape, portrait or square"),
    created_since: datetime.datetime | None = None,
    updated_since: datetime.datetime | None = None,
    **kwargs,
):
    require(request.user, "assets.view_asset")
    qs = browse.filter_assets(
        user=request.user,
        q=q,
        type=type,
        kind=kind,
        tags=tag,
        collections=collection,
        status=status,
        expires_within_days=expires_within_days,
        expired=expired,
        size_min=size_min,
        size_max=size_max,
        orientation=orientation,
        created_since=created_since,
        updated_since=updated_since,
    )
    return qs.select_related("current_version__uploaded_by").prefetch_related(*LIST_PREFETCH)


@router.get(
    "/assets/review-queue",
    response=list[QueueItem],
    summary="Assets awaiting a review step you may decide, oldest first",
)
def review_queue(request, limit: int = Query(200, ge=1, le=1000)):
    require(request.user, "assets.view_asset")
    return [
        {"asset": a, "step": step} for a, step in workflow.pending_for(request.user, limit=limit)
    ]


@router.get(
    "/assets/expiring",
    response=list[AssetBriefOut],
    summary="Assets whose usage rights end within `days` (default: the warning period), "
    "soonest first",
)
def expiring_assets(
    request, days: int | None = Query(None, ge=0), limit: int = Query(500, ge=1, le=5000)
):
    require(request.user, "assets.view_asset")
    qs = browse.visible_assets(request.user, rights.expiring(days))
    qs = qs.select_related("current_version__uploaded_by").prefetch_related(*LIST_PREFETCH)
    return list(qs[:limit])


@router.get(
    "/assets/{int:asset_id}",
    response=AssetDetail,
    summary="One asset: metadata, current version, status, rights and their state, "
    "this version's reviews and the next step",
)
def get_asset(request, asset_id: int, response: HttpResponse):
    require(request.user, "assets.view_asset")
    return _detail_response(asset_id, request, response)


@router.patch(
    "/assets/{int:asset_id}",
    response=AssetDetail,
    summary="Change metadata and rights (alt_text and custom merge). Send `version` "
    "or If-Match; a stale one answers 409",
)
@shows_current(get_asset)
def update_asset(
    request,
    asset_id: int,
    payload: AssetPatch,
    response: HttpResponse,
    if_match: str | None = IF_MATCH,
):
    require(request.user, "assets.change_asset")
    changes = payload.dict(exclude_unset=True)
    expected = expected_version(changes.pop("version", None), if_match)
    editing.update_asset(asset_id, changes, expected_version=expected, user=request.user)
    return _detail_response(asset_id, request, response)


@router.post(
    "/assets/{int:asset_id}/submit",
    response=AssetDetail,
    summary="Submit the current version for review",
)
@shows_current(get_asset)
def submit(
    request,
    asset_id: int,
    response: HttpResponse,
    version: int | None = None,
    if_match: str | None = IF_MATCH,
):
    require(request.user, "assets.view_asset")
    workflow.submit_for_review(
        asset_id, request.user, expected_version=expected_version(version, if_match)
    )
    return _detail_response(asset_id, request, response)


@router.post(
    "/assets/{int:asset_id}/approve",
    response=AssetDetail,
    summary="Approve the next review step (or the named one, which must be next)",
)
@shows_current(get_asset)
def approve(
    request,
    asset_id: int,
    response: HttpResponse,
    payload: DecisionIn | None = None,
    if_match: str | None = IF_MATCH,
):
    require(request.user, "assets.approve_asset")
    payload = payload or DecisionIn()
    workflow.decide(
        asset_id,
        approve=True,
        comment=payload.comment,
        step=payload.step,
        user=request.user,
        expected_version=expected_version(payload.version, if_match),
    )
    return _detail_response(asset_id, request, response)


@router.post(
    "/assets/{int:asset_id}/reject",
    response=AssetDetail,
    summary="Reject the asset at the next review step, saying why",
)
@shows_current(get_asset)
def reject(
    request,
    asset_id: int,
    payload: RejectIn,
    response: HttpResponse,
    if_match: str | None = IF_MATCH,
):
    require(request.user, "assets.approve_asset")
    workflow.decide(
        asset_id,
        approve=False,
        comment=payload.comment,
        step=payload.step,
        user=request.user,
        expected_version=expected_version(payload.version, if_match),
    )
    return _detail_response(asset_id, request, response)


@router.post("/assets/{int:asset_id}/archive", response=AssetDetail, summary="Archive an asset")
@shows_current(get_asset)
def archive(
    request,
    asset_id: int,
    response: HttpResponse,
    version: int | None = None,
    if_match: str | None = IF_MATCH,
):
    require(request.user, "assets.change_asset")
    workflow.archive(asset_id, request.user, expected_version=expected_version(version, if_match))
    return _detail_response(asset_id, request, response)


@router.post(
    "/assets/{int:asset_id}/unarchive",
    response=AssetDetail,
    summary="Bring an archived asset back: approved if its version's review was "
    "complete, else draft",
)
@shows_current(get_asset)
def unarchive(
    request,
    asset_id: int,
    response: HttpResponse,
    version: int | None = None,
    if_match: str | None = IF_MATCH,
):
    require(request.user, "assets.change_asset")
    workflow.unarchive(asset_id, request.user, expected_version=expected_version(version, if_match))
    return _detail_response(asset_id, request, response)


@router.get(
    "/assets/{int:asset_id}/history",
    response=list[AssetChangeOut],
    summary="Every change of an asset, newest first: who, when, old → new",
)
@paginate(Pagination, ordering=("-id",))
def history(request, asset_id: int, **kwargs):
    require(request.user, "assets.view_asset")
    browse.get_asset(asset_id, request.user)
    return AssetChange.objects.filter(asset_id=asset_id)


# --- collections ------------------------------------------------------------------------------


class CollectionOut(Schema):
    code: str
    name: str
    description: str
    is_brand_kit: bool
    workflow: str | None
    agencies: list[str]
    version: int
    updated_at: datetime.datetime

    @staticmethod
    def resolve_workflow(obj):
        return obj.workflow.code if obj.workflow_id else None

    @staticmethod
    def resolve_agencies(obj):
        return sorted(u.username for u in obj.agencies.all())


class CollectionIn(In):
    code: str
    name: str = ""
    description: str = ""
    is_brand_kit: bool = False
    workflow: str | None = None
    agencies: list[str] = []


class CollectionPatch(In):
    name: str | None = None
    description: str | None = None
    is_brand_kit: bool | None = None
    workflow: str | None = None
    agencies: list[str] | None = None
    version: int | None = None


def _by_code(model, subject: str, code: str):
    obj = model.objects.filter(code=code).first()
    if obj is None:
        raise NotFound(f"no {subject} {code!r}", details={"code": code})
    return obj


def _collection(code: str, user) -> Collection:
    c = browse.visible_collections(user).select_related("workflow").filter(code=code).first()
    if c is None:
        raise NotFound(f"no collection {code!r}", details={"code": code})
    return c


@router.get("/asset-collections", response=list[CollectionOut], summary="Collections")
@paginate(Pagination, ordering=("code",))
def list_collections(request, **kwargs):
    require(request.user, "assets.view_asset")
    return (
        browse.visible_collections(request.user)
        .select_related("workflow")
        .prefetch_related("agencies")
    )


@router.post("/asset-collections", response={201: CollectionOut}, summary="Create a collection")
def create_collection(request, payload: CollectionIn):
    require(request.user, "assets.add_collection")
    data = payload.dict()
    if not data["name"]:
        data.pop("name")
    return Status(201, editing.create_collection(data.pop("code"), **data))


@router.get("/asset-collections/{code}", response=CollectionOut, summary="One collection")
def get_collection(request, code: str, response: HttpResponse):
    require(request.user, "assets.view_asset")
    c = _collection(code, request.user)
    return _etag(c, c.version, response)


@router.patch(
    "/asset-collections/{code}",
    response=CollectionOut,
    summary="Change a collection: name, brand kit, review workflow, agency users",
)
@shows_current(get_collection)
def update_collection(
    request,
    code: str,
    payload: CollectionPatch,
    response: HttpResponse,
    if_match: str | None = IF_MATCH,
):
    require(request.user, "assets.change_collection")
    changes = payload.dict(exclude_unset=True)
    expected = expected_version(changes.pop("version", None), if_match)
    c = editing.update_collection(code, expected_version=expected, **changes)
    return _etag(c, c.version, response)


@router.delete(
    "/asset-collections/{code}",
    response={204: None},
    summary="Delete a collection (its assets stay)",
)
@shows_current(get_collection)
def delete_collection(
    request, code: str, version: int | None = None, if_match: str | None = IF_MATCH
):
    require(request.user, "assets.delete_collection")
    editing.delete_collection(code, expected_version=expected_version(version, if_match))
    return Status(204, None)


# --- tags -------------------------------------------------------------------------------------


class TagOut(Schema):
    name: str
    asset_count: int
    version: int


class TagPatch(In):
    name: str
    version: int | None = None


class TagMergeIn(In):
    tags: list[str]
    into: str


@router.get("/asset-tags", response=list[TagOut], summary="Tags with how many assets carry each")
def list_tags(request, q: str | None = None, limit: int = Query(500, ge=1, le=5000)):
    require(request.user, "assets.view_asset")
    qs = editing.list_tags(request.user)
    if q:
        qs = qs.filter(name__contains=browse.normalise_tag(q))
    return list(qs[:limit])


@router.post(
    "/asset-tags/merge",
    response=TagOut,
    summary="Merge tags into one: their assets get `into`, the others are deleted",
)
def merge_tags(request, payload: TagMergeIn):
    require(request.user, "assets.change_tag")
    require(request.user, "assets.delete_tag")
    tag = editing.merge_tags(payload.tags, payload.into)
    return editing.list_tags().get(pk=tag.pk)


@router.get("/asset-tags/{name}", response=TagOut, summary="One tag with how many assets carry it")
def get_tag(request, name: str, response: HttpResponse):
    require(request.user, "assets.view_asset")
    tag = editing.get_tag(name, request.user)
    return _etag(tag, tag.version, response)


@router.patch("/asset-tags/{name}", response=TagOut, summary="Rename a tag")
@shows_current(get_tag)
def rename_tag(
    request, name: str, payload: TagPatch, response: HttpResponse, if_match: str | None = IF_MATCH
):
    require(request.user, "assets.change_tag")
    expected = expected_version(payload.version, if_match)
    tag = editing.rename_tag(name, payload.name, expected_version=expected)
    tag = editing.list_tags().get(pk=tag.pk)
    return _etag(tag, tag.version, response)


@router.delete("/asset-tags/{name}", response={204: None}, summary="Delete a tag")
@shows_current(get_tag)
def delete_tag(request, name: str, version: int | None = None, if_match: str | None = IF_MATCH):
    require(request.user, "assets.delete_tag")
    editing.delete_tag(name, expected_version=expected_version(version, if_match))
    return Status(204, None)


# --- custom fields ----------------------------------------------------------------------------


class CustomFieldOut(Schema):
    code: str
    label: str
    type: str
    options: list[str]
    required: bool
    version: int
    updated_at: datetime.datetime


class CustomFieldIn(In):
    code: str
    label: str = ""
    type: str
    options: list[str] = []
    required: bool = False


class CustomFieldPatch(In):
    label: str | None = None
    type: str | None = None
    options: list[str] | None = None
    required: bool | None = None
    version: int | None = None


@router.get("/asset-custom-fields", response=list[CustomFieldOut], summary="Custom fields")
def list_custom_fields(request):
    require(request.user, "assets.view_asset")
    return list(CustomField.objects.all())


@router.post(
    "/asset-custom-fields",
    response={201: CustomFieldOut},
    summary="Define a custom field (text, select, date or number)",
)
def create_custom_field(request, payload: CustomFieldIn):
    require(request.user, "assets.add_customfield")
    data = payload.dict()
    if not data["label"]:
        data.pop("label")
    return Status(201, editing.create_custom_field(data.pop("code"), **data))


@router.get("/asset-custom-fields/{code}", response=CustomFieldOut, summary="One custom field")
def get_custom_field(request, code: str, response: HttpResponse):
    require(request.user, "assets.view_asset")
    f = _by_code(CustomField, "custom field", code)
    return _etag(f, f.version, response)


@router.patch(
    "/asset-custom-fields/{code}", response=CustomFieldOut, summary="Change a custom field"
)
@shows_current(get_custom_field)
def update_custom_field(
    request,
    code: str,
    payload: CustomFieldPatch,
    response: HttpResponse,
    if_match: str | None = IF_MATCH,
):
    require(request.user, "assets.change_customfield")
    changes, expected = patch_and_version(payload, if_match)
    f = editing.update_custom_field(code, expected_version=expected, **changes)
    return _etag(f, f.version, response)


@router.delete(
    "/asset-custom-fields/{code}",
    response={204: None},
    summary="Delete a custom field no asset holds a value for",
)
@shows_current(get_custom_field)
def delete_custom_field(
    request, code: str, version: int | None = None, if_match: str | None = IF_MATCH
):
    require(request.user, "assets.delete_customfield")
    editing.delete_custom_field(code, expected_version=expected_version(version, if_match))
    return Status(204, None)


# --- review workflows -------------------------------------------------------------------------


class WorkflowOut(Schema):
    code: str
    name: str
    steps: list[StepOut]
    kinds: list[str]
    version: int
    updated_at: datetime.datetime


class WorkflowIn(In):
    code: str
    name: str = ""
    steps: list[dict[str, Any]]
    kinds: list[str] = []


class WorkflowPatch(In):
    name: str | None = None
    steps: list[dict[str, Any]] | None = None
    kinds: list[str] | None = None
    version: int | None = None


@router.get(
    "/asset-workflows",
    response=list[WorkflowOut],
    summary="Review workflows: named steps in order, each decided by a group",
)
def list_workflows(request):
    require(request.user, "assets.view_asset")
    return list(ReviewWorkflow.objects.all())


@router.post("/asset-workflows", response={201: WorkflowOut}, summary="Create a review workflow")
def create_workflow(request, payload: WorkflowIn):
    require(request.user, "assets.add_reviewworkflow")
    data = payload.dict()
    if not data["name"]:
        data.pop("name")
    return Status(201, editing.create_workflow(data.pop("code"), **data))


@router.get("/asset-workflows/{code}", response=WorkflowOut, summary="One review workflow")
def get_workflow(request, code: str, response: HttpResponse):
    require(request.user, "assets.view_asset")
    w = _by_code(ReviewWorkflow, "review workflow", code)
    return _etag(w, w.version, response)


@router.patch("/asset-workflows/{code}", response=WorkflowOut, summary="Change a review workflow")
@shows_current(get_workflow)
def update_workflow(
    request,
    code: str,
    payload: WorkflowPatch,
    response: HttpResponse,
    if_match: str | None = IF_MATCH,
):
    require(request.user, "assets.change_reviewworkflow")
    changes, expected = patch_and_version(payload, if_match)
    w = editing.update_workflow(code, expected_version=expected, **changes)
    return _etag(w, w.version, response)


@router.delete(
    "/asset-workflows/{code}",
    response={204: None},
    summary="Delete a review workflow (collections using it fall back)",
)
@shows_current(get_workflow)
def delete_workflow(
    request, code: str, version: int | None = None, if_match: str | None = IF_MATCH
):
    require(request.user, "assets.delete_reviewworkflow")
    editing.delete_workflow(code, expected_version=expected_version(version, if_match))
    return Status(204, None)
