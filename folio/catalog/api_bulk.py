"""REST API for bulk edits of products: start one over a filtered selection; follow it as a
job (GET /api/v1/jobs/{id})."""

from typing import Any

from ninja import Router, Schema, Status

from folio.accounts.services import require
from folio.catalog import bulk_edit
from folio.jobs.api import JobDetail

router = Router(tags=["products"])


class BulkEditIn(Schema):
    filter: dict[str, Any] = {}
    operations: list[dict[str, Any]]


@router.post(
    "/catalog/products/bulk-edit",
    response={202: JobDetail},
    summary="Apply operations to every product of a selection, in the background. `filter` "
    "takes the list's filters (family, category, enabled, channel, locale, completeness, "
    "completeness_op, updated_since, filter (attribute conditions), q, parent, stale) and "
    "`skus`. Operations: "
    '`{"op": "set", "attribute": "color", "locale": null, "scope": null, "data": "blue"}`, '
    '`{"op": "add"|"remove", "attribute": "materials", "data": ["glass"]}` (multi-selects, '
    'asset collections), `{"op": "set"|"add"|"remove", "field": "categories"|"groups", '
    '"value": ["coffee"]}`, `{"op": "set", "field": "family", "value": "bottles"}`, '
    '`{"op": "enable"}`, `{"op": "disable"}`. A bad operation or filter answers 422 and '
    "starts nothing; products the operations do not fit are reported per item in the job.",
)
def start_bulk_edit(request, payload: BulkEditIn):
    require(request.user, "catalog.change_product")
    job = bulk_edit.start_bulk_edit(payload.filter, payload.operations, user=request.user)
    return Status(202, job)
