"""REST API for products, product models, history, proposals and bulk work.

Thin: every operation calls folio.catalog.services / queries, which validate, version, record
history and audit. Values use the `{attribute: [{locale, scope, data}]}` document.
"""

import json
from datetime import datetime
from typing import Any

from django.conf import settings
from django.http import HttpResponse, StreamingHttpResponse
from ninja import Header, Query, Router, Schema, Status
from ninja.pagination import paginate

from folio.accounts import audit
from folio.accounts.services import require
from folio.api import Pagination
from folio.catalog import queries, services
from folio.catalog.models import ProductModel, Proposal
from folio.errors import InvalidInput, TooLarge
from folio.versioning import expected_version, parse_if_match, shows_current

router = Router(tags=["products"])
MAX_BULK_LINES = 10_000


class CompletenessOut(Schema):
    channel: str
    locale: str
    ratio: int
    required: int
    filled: int
    missing: list[str]
    stale: bool


class ProductOut(Schema):
    sku: str
    family: str | None
    parent: str | None
    enabled: bool
    categories: list[str]
    groups: list[str]
    values: dict[str, list[dict[str, Any]]]
    version: int
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_family(obj):
        return obj.family.code if obj.family_id else None

    @staticmethod
    def resolve_parent(obj):
        return obj.parent.code if obj.parent_id else None

    @staticmethod
    def resolve_categories(obj):
        return sorted(c.code for c in obj.categories.all())

    @staticmethod
    def resolve_groups(obj):
        return sorted(g.code for g in obj.groups.all())

    @staticmethod
    def resolve_values(obj):
        return services.resolved_values(obj)


class ProductDetail(ProductOut):
    origins: dict[str, str]
    completeness: list[CompletenessOut]
    associations: dict[str, dict[str, list[Any]]]

    @staticmethod
    def resolve_origins(obj):
        return services.value_origins(obj)

    @staticmethod
    def resolve_completeness(obj):
        return services.completeness_of(obj)

    @staticmethod
    def resolve_associations(obj):
        return services.associations_of(obj)


class ProductIn(Schema):
    sku: str
    family: str | None = None
    parent: str | None = None
    enabled: bool = True
    categories: list[str] = []
    groups: list[str] = []
    values: dict[str, Any] = {}
    associations: dict[str, Any] | None = None


class ProductPatch(Schema):
    family: str | None = None
    parent: str | None = None
    enabled: bool | None = None
    categories: list[str] | None = None
    groups: list[str] | None = None
    values: dict[str, Any] | None = None
    associations: dict[str, Any] | None = None
    version: int | None = None


class ProposalOut(Schema):
    id: int
    sku: str
    status: str
    base_version: int
    changes: dict[str, Any]
    proposed_by: str | None
    proposed_at: datetime
    reviewed_by: str | None
    reviewed_at: datetime | None
    comment: str

    @staticmethod
    def resolve_sku(obj):
        return obj.product.sku

    @staticmethod
    def resolve_proposed_by(obj):
        return obj.proposed_by.username if obj.proposed_by else None

    @staticmethod
    def resolve_reviewed_by(obj):
        return obj.reviewed_by.username if obj.reviewed_by else None


class ChangeOut(Schema):
    version: int
    at: datetime
    user: str
    via: str
    action: str
    changes: list[dict[str, Any]]
    proposed_by: str | None
    approved_by: str | None

    @staticmethod
    def resolve_user(obj):
        return obj.username or "system"

    @staticmethod
    def resolve_proposed_by(obj):
        p = obj.proposal
        return p.proposed_by.username if p and p.proposed_by else None

    @staticmethod
    def resolve_approved_by(obj):
        p = obj.proposal
        return p.reviewed_by.username if p and p.reviewed_by else None


class ReviewIn(Schema):
    comment: str = ""


class RestoreIn(Schema):
    version: int


class ModelOut(Schema):
    code: str
    family_variant: str
    parent: str | None
    values: dict[str, list[dict[str, Any]]]
    version: int
    variants_complete: dict[str, dict[str, str]] | None = None

    @staticmethod
    def resolve_family_variant(obj):
        return obj.family_variant.code

    @staticmethod
    def resolve_parent(obj):
        return obj.parent.code if obj.parent_id else None


class ModelIn(Schema):
    code: str
    family_variant: str | None = None
    parent: str | None = None
    categories: list[str] | None = None
    values: dict[str, Any] = {}


class ModelPatch(Schema):
    categories: list[str] | None = None
    values: dict[str, Any] | None = None
    version: int | None = None


def _with_etag(response_data, version: int, response: HttpResponse):
    response["ETag"] = f'W/"{version}"'
    return response_data


PRODUCT_PREFETCH = ("categories", "groups")


@router.get(
    "/catalog/products",
    response=list[ProductOut],
    summary="Products, filtered; values include inherited ones",
)
@paginate(Pagination, ordering=("sku",))
def list_products(
    request,
    family: list[str] = Query([]),
    category: list[str] = Query([], description="in this category or below"),
    enabled: bool | None = None,
    channel: str | None = None,
    locale: str | None = None,
    completeness: int | None = Query(
        None, ge=0, le=100, description="minimum completeness (needs channel+locale)"
    ),
    completeness_op: str = ">=",
    updated_since: datetime | None = None,
    filter: list[str] = Query(
        [],
        description="attribute conditions, e.g. `capacity>=500 ml`, `color in blue,green`, "
        "`name[en_US] contains bottle`, `short_title[en_US@marketplace] empty`, `price[USD]<30`",
    ),
    q: str | None = Query(None, description="full-text search over SKU and text values"),
    parent: str | None = None,
    stale: bool | None = Query(
        None,
        description="true: completeness still being recomputed after a structure change "
        "(in channel/locale if given); false: current",
    ),
    **kwargs,
):
    require(request.user, "catalog.view_product")
    f = queries.ProductFilter(
        families=family,
        categories=category,
        enabled=enabled,
        complete_channel=channel,
        complete_locale=locale,
        completeness=completeness,
        completeness_op=completeness_op,
        updated_since=updated_since,
        conditions=[queries.parse_condition(x) for x in filter],
        search=q,
        parent=parent,
        stale=stale,
    )
    qs = queries.filter_products(f).select_related("family", "parent__parent")
    return qs.prefetch_related(*PRODUCT_PREFETCH)


@router.post("/catalog/products", response={201: ProductDetail}, summary="Create a product")
def create_product(request, payload: ProductIn, response: HttpResponse):
    require(request.user, "catalog.add_product")
    product = services.create_product(payload.dict(exclude_none=True))
    product = services.get_product(product.sku)
    return Status(201, _with_etag(product, product.version, response))


@router.post(
    "/catalog/products/bulk",
    summary="Create or update many products from NDJSON (one product per line); answers one "
    "NDJSON status line per item. Content-Type: application/x-ndjson.",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/x-ndjson": {
                    "schema": {"type": "string", "description": "one product JSON object per line"}
                }
            }
        }
    },
)
def bulk_upsert(request):
    require(request.user, "catalog.add_product")
    require(request.user, "catalog.change_product")
    body = request.body  # bounded by DATA_UPLOAD_MAX_MEMORY_SIZE
    if len(body) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
        raise TooLarge("the NDJSON body is larger than allowed")
    items = []
    for number, raw in enumerate(body.splitlines(), start=1):
        if not raw.strip():
            continue
        if len(items) >= MAX_BULK_LINES:
            raise TooLarge(f"at most {MAX_BULK_LINES} products per request; split the file")
        try:
            items.append(json.loads(raw))
        except json.JSONDecodeError as exc:
            items.append(_BadLine(f"line {number} is not JSON: {exc.msg} (column {exc.colno})"))
    results = services.bulk_upsert(items, user=request.user)
    # The writes happen while the response streams, after this view has returned and the
    # request's actor is gone: each step runs as the caller, so history and audit name them.
    actor = audit.current_actor()

    def as_caller(iterator):
        while True:
            token = audit.set_actor(actor)
            try:
                step = next(iterator, None)
            finally:
                audit.reset_actor(token)
            if step is None:
                return
            yield step

    def lines():
        for result, item in zip(as_caller(iter(results)), items, strict=True):
            if isinstance(item, _BadLine):
                result = {**result, "message": item.reason}
            yield json.dumps(result) + "\n"

    return StreamingHttpResponse(lines(), content_type="application/x-ndjson")


class _BadLine:
    def __init__(self, reason: str):
        self.reason = reason


@router.get(
    "/catalog/products/{sku}",
    response=ProductDetail,
    summary="One product: resolved values with their origin, completeness, associations",
)
def get_product(request, sku: str, response: HttpResponse):
    require(request.user, "catalog.view_product")
    product = services.get_product(sku)
    return _with_etag(product, product.version, response)


@router.patch(
    "/catalog/products/{sku}",
    response={200: ProductDetail, 202: ProposalOut},
    summary="Change a product (merge). Send `version` or If-Match; a stale one answers 409. "
    "Where review is on, the change becomes a proposal (202).",
)
@shows_current(get_product)
def update_product(
    request,
    sku: str,
    payload: ProductPatch,
    response: HttpResponse,
    if_match: str | None = Header(None, alias="If-Match"),
):
    require(request.user, "catalog.change_product")
    patch = payload.dict(exclude_unset=True)
    version = expected_version(patch.pop("version", None), if_match)
    result = services.update_product(sku, patch, expected_version=version, user=request.user)
    if isinstance(result, Proposal):
        return Status(202, result)
    product = services.get_product(sku)
    return Status(200, _with_etag(product, product.version, response))


@router.delete("/catalog/products/{sku}", response={204: None}, summary="Delete a product")
@shows_current(get_product)
def delete_product(
    request,
    sku: str,
    version: int | None = None,
    if_match: str | None = Header(None, alias="If-Match"),
):
    require(request.user, "catalog.delete_product")
    services.delete_product(sku, expected_version=expected_version(version, if_match))
    return Status(204, None)


@router.get(
    "/catalog/products/{sku}/history",
    response=list[ChangeOut],
    summary="Every saved change, newest first: who, when, old → new",
)
@paginate(Pagination, ordering=("-version",))
def product_history(request, sku: str, **kwargs):
    require(request.user, "catalog.view_product")
    return services.history(sku)


@router.post(
    "/catalog/products/{sku}/restore",
    response=ProductDetail,
    summary="Restore an earlier version (recorded as a new version)",
)
@shows_current(get_product)
def restore_product(
    request,
    sku: str,
    payload: RestoreIn,
    response: HttpResponse,
    if_match: str | None = Header(None, alias="If-Match"),
):
    require(request.user, "catalog.change_product")
    product = services.restore_version(
        sku, payload.version, expected_version=parse_if_match(if_match)
    )
    product = services.get_product(product.sku)
    return _with_etag(product, product.version, response)


@router.get(
    "/catalog/products/{sku}/completeness",
    response=list[CompletenessOut],
    summary="Completeness per channel and locale, with what is missing",
)
def product_completeness(request, sku: str):
    require(request.user, "catalog.view_product")
    return services.completeness_of(services.get_product(sku))


@router.get(
    "/catalog/proposals",
    response=list[ProposalOut],
    summary="Proposed product changes awaiting review",
)
@paginate(Pagination, ordering=("-id",))
def list_proposals(request, status: Proposal.Status = Proposal.Status.PENDING, **kwargs):
    require(request.user, "catalog.view_product")
    return Proposal.objects.filter(status=status).select_related(
        "product", "proposed_by", "reviewed_by"
    )


@router.post(
    "/catalog/proposals/{proposal_id}/approve",
    response=ProposalOut,
    summary="Approve a proposal: it becomes the live, publishable version",
)
def approve_proposal(request, proposal_id: int, payload: ReviewIn | None = None):
    comment = payload.comment if payload else ""
    return services.review_proposal(proposal_id, approve=True, comment=comment, user=request.user)


@router.post(
    "/catalog/proposals/{proposal_id}/reject",
    response=ProposalOut,
    summary="Reject a proposal with a comment",
)
def reject_proposal(request, proposal_id: int, payload: ReviewIn):
    if not payload.comment.strip():
        raise InvalidInput("say why the proposal is rejected", details={"field": "comment"})
    return services.review_proposal(
        proposal_id, approve=False, comment=payload.comment, user=request.user
    )


@router.get("/catalog/product-models", response=list[ModelOut], summary="Product models")
@paginate(Pagination, ordering=("code",))
def list_models(request, family_variant: str | None = None, **kwargs):
    require(request.user, "catalog.view_productmodel")
    qs = ProductModel.objects.select_related("family_variant", "parent")
    if family_variant:
        qs = qs.filter(family_variant__code=family_variant)
    return qs


@router.get(
    "/catalog/product-models/{code}",
    response=ModelOut,
    summary="A product model with complete variants / total variants per channel+locale",
)
def get_model(request, code: str, response: HttpResponse):
    require(request.user, "catalog.view_productmodel")
    model = services.get_model(code)
    model.variants_complete = services.variants_complete(model)
    return _with_etag(model, model.version, response)


@router.post(
    "/catalog/product-models",
    response={201: ModelOut},
    summary="Create a root or sub product model",
)
def create_model(request, payload: ModelIn):
    require(request.user, "catalog.add_productmodel")
    return Status(201, services.save_model(payload.dict(exclude_none=True), create=True))


@router.patch(
    "/catalog/product-models/{code}",
    response=ModelOut,
    summary="Change a product model (merge); its variants inherit the change",
)
@shows_current(get_model)
def update_model(
    request,
    code: str,
    payload: ModelPatch,
    response: HttpResponse,
    if_match: str | None = Header(None, alias="If-Match"),
):
    require(request.user, "catalog.change_productmodel")
    data = payload.dict(exclude_unset=True)
    version = expected_version(data.pop("version", None), if_match)
    services.save_model({"code": code, **data}, expected_version=version, create=False)
    return get_model(request, code, response)


@router.get(
    "/catalog/product-models/{code}/history",
    response=list[ChangeOut],
    summary="Every saved change of a product model, newest first",
)
@paginate(Pagination, ordering=("-version",))
def model_history(request, code: str, **kwargs):
    require(request.user, "catalog.view_productmodel")
    return services.model_history(code)


@router.post(
    "/catalog/product-models/{code}/restore",
    response=ModelOut,
    summary="Restore an earlier version of a product model (its variants inherit it)",
)
@shows_current(get_model)
def restore_model(
    request,
    code: str,
    payload: RestoreIn,
    response: HttpResponse,
    if_match: str | None = Header(None, alias="If-Match"),
):
    require(request.user, "catalog.change_productmodel")
    services.restore_model_version(code, payload.version, expected_version=parse_if_match(if_match))
    return get_model(request, code, response)
