"""REST API for SKU 360, compare, review together and find-by-SKU/GTIN. Thin: every
operation calls folio.linking.sku360 / compare / review."""

from typing import Any

from ninja import Query, Router, Schema

from folio.accounts.services import require
from folio.linking import compare as compare_service
from folio.linking import review, sku360
from folio.versioning import shows_current

router = Router(tags=["sku360"])


class ApproveIn(Schema):
    proposal_ids: list[int] = []
    asset_ids: list[int] = []
    comment: str = ""
    # What the reviewer saw, from GET …/review: its "version" and each file's ("asset id":
    # version). A request based on an earlier state is refused (409, details.current).
    product_version: int | None = None
    asset_versions: dict[int, int] = {}


class FindOut(Schema):
    query: str
    skus: list[str]


@router.get(
    "/catalog/products/{sku}/360",
    response=dict[str, Any],
    summary="Everything about one product: facts with origins, completeness, linked files "
    "with rights and renditions, history, proposals",
)
def product_360(request, sku: str, channel: str | None = None, locale: str | None = None):
    return sku360.sku360(sku, user=request.user, channel=channel, locale=locale)


@router.get(
    "/catalog/compare",
    response=dict[str, Any],
    summary="Compare up to 20 products attribute by attribute for one channel and locale",
)
def compare(request, channel: str, locale: str, sku: list[str] = Query(...)):
    return compare_service.compare(sku, channel=channel, locale=locale, user=request.user)


@router.get(
    "/catalog/products/{sku}/review",
    response=dict[str, Any],
    summary="A product's pending proposals (with diff) and pending linked files",
)
def review_bundle(request, sku: str):
    return review.review_bundle(sku, user=request.user)


@router.post(
    "/catalog/products/{sku}/review/approve",
    response=dict[str, Any],
    summary="Approve the product's proposals and its pending files together: all or nothing "
    "(product_version/asset_versions: refuse if changed since)",
)
@shows_current(review_bundle)
def approve_together(request, sku: str, payload: ApproveIn):
    return review.approve_together(
        sku,
        proposal_ids=payload.proposal_ids,
        asset_ids=payload.asset_ids,
        comment=payload.comment,
        user=request.user,
        product_version=payload.product_version,
        asset_versions=payload.asset_versions,
    )


@router.get("/find", response=FindOut, summary="SKUs for a typed SKU, SKU prefix or GTIN")
def find(request, q: str):
    require(request.user, "catalog.view_product")
    return {"query": q, "skus": sku360.resolve_sku(q)}
