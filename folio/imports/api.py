"""REST API for imports and exports.

Imports: upload a file (CSV, XLSX or a zip of a folder) and get a run whose job does the
work; follow it (`GET /imports/{id}`: status, counts per file, the job's progress) and read
every problem (`GET /imports/{id}/problems`, or as CSV). Column mappings for arbitrary
spreadsheets are saved and edited here too. Exports run as jobs as well; their file is
downloaded when done.
"""

from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from django.http import FileResponse, HttpResponse
from ninja import File, Header, Router, Schema, Status
from ninja.files import UploadedFile
from ninja.pagination import paginate
from pydantic import ConfigDict

from folio.accounts.services import require
from folio.api import Pagination
from folio.errors import InvalidInput, NotFound
from folio.imports import exporter, services
from folio.imports.models import ColumnMapping, ImportProblem
from folio.versioning import expected_version, patch_and_version, shows_current

router = Router(tags=["imports"])
IF_MATCH = Header(None, alias="If-Match", description='The ETag of the version you edited: W/"3"')


class In(Schema):
    model_config = ConfigDict(extra="forbid")


# --- mappings ---------------------------------------------------------------------------------


class MappingOut(Schema):
    name: str
    description: str
    options: dict
    columns: list[dict]
    version: int
    updated_at: datetime


class MappingIn(In):
    name: str
    description: str = ""
    options: dict[str, Any] = {}
    columns: list[dict[str, Any]] = []


class MappingPatch(In):
    description: str | None = None
    options: dict[str, Any] | None = None
    columns: list[dict[str, Any]] | None = None
    version: int | None = None


def _etag(m: ColumnMapping, response: HttpResponse) -> ColumnMapping:
    response["ETag"] = m.etag
    return m


@router.get("/imports/mappings", response=list[MappingOut], summary="Saved column mappings")
def list_mappings(request):
    require(request.user, "imports.view_columnmapping")
    return list(services.list_mappings())


@router.post(
    "/imports/mappings",
    response={201: MappingOut},
    summary="Save a column mapping: each rule maps a column to a field (sku, family…), an "
    "attribute (with locale, channel, currency; part=unit for a unit column), media (a role), "
    "an association, or ignores it; with transforms (trim, lower, upper, replace, default, "
    "decimal_comma, date, split, map, options_by_label, unit, boolean). Every problem answers "
    "422 naming the column.",
)
def create_mapping(request, payload: MappingIn, response: HttpResponse):
    require(request.user, "imports.add_columnmapping")
    m = services.create_mapping(
        payload.name,
        description=payload.description,
        options=payload.options,
        columns=payload.columns,
        user=request.user,
    )
    return Status(201, _etag(m, response))


@router.get("/imports/mappings/{name}", response=MappingOut, summary="One column mapping")
def get_mapping(request, name: str, response: HttpResponse):
    require(request.user, "imports.view_columnmapping")
    return _etag(services.get_mapping(name), response)


@router.patch(
    "/imports/mappings/{name}",
    response=MappingOut,
    summary="Change a mapping (send the version you read, or If-Match; 409 when stale)",
)
@shows_current(get_mapping)
def update_mapping(
    request,
    name: str,
    payload: MappingPatch,
    response: HttpResponse,
    if_match: str | None = IF_MATCH,
):
    require(request.user, "imports.change_columnmapping")
    changes, version = patch_and_version(payload, if_match)
    return _etag(services.update_mapping(name, expected_version=version, **changes), response)


@router.delete("/imports/mappings/{name}", response={204: None}, summary="Delete a mapping")
@shows_current(get_mapping)
def delete_mapping(request, name: str, version: int | None = None, if_match: str | None = IF_MATCH):
    require(request.user, "imports.delete_columnmapping")
    services.delete_mapping(name, expected_version=expected_version(version, if_match))
    return Status(204, None)


# --- imports ----------------------------------------------------------------------------------


class JobProgress(Schema):
    id: UUID
    status: str
    progress_done: int
    progress_total: int | None
    items_ok: int
    items_failed: int
    message: str


class ImportRunOut(Schema):
    id: int
    source: str
    status: str
    dry_run: bool
    all_or_nothing: bool
    mapping: str | None
    options: dict
    created_by: str | None
    via: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: int | None
    message: str
    problem_count: int
    written: bool
    counts: dict
    job: JobProgress | None

    @staticmethod
    def resolve_mapping(obj):
        return obj.mapping.name if obj.mapping_id else None

    @staticmethod
    def resolve_created_by(obj):
        return obj.created_by.username if obj.created_by_id else None


class ProblemOut(Schema):
    id: int
    severity: str
    file: str
    row: int | None
    column: str
    value: str
    code: str
    reason: str


def _flag(value: str | None) -> bool:
    return str(value or "").strip().lower() in ("1", "true", "yes", "on")


@router.post(
    "/imports",
    response={202: ImportRunOut},
    summary="Import a CSV, XLSX or zip file (multipart: file; dry_run, all_or_nothing, mapping, "
    "kind, encoding, delimiter, decimal_comma, sheet). Answers 202 with the run; its job does "
    "the work (GET /imports/{id} for progress, counts and problems).",
)
def start_import(request, file: File[UploadedFile]):
    require(request.user, "imports.add_importrun")
    post = request.POST
    delimiter = post.get("delimiter") or None
    delimiter = {"tab": "\t"}.get(delimiter, delimiter)
    run = services.start_import(
        file,
        file.name or "upload",
        user=request.user,
        dry_run=_flag(post.get("dry_run")),
        all_or_nothing=_flag(post.get("all_or_nothing")),
        mapping=post.get("mapping") or None,
        kind=post.get("kind") or None,
        encoding=post.get("encoding") or None,
        delimiter=delimiter,
        decimal_comma=_flag(post.get("decimal_comma")),
        sheet=post.get("sheet") or None,
    )
    return Status(202, services.get_import(run.pk, request.user))


@router.post(
    "/imports/{int:run_id}/run",
    response={202: ImportRunOut},
    summary="Run a finished dry run for real: its file (kept for FOLIO_STALE_FILE_GRACE after "
    "the upload) is imported again with the dry run's options and mapping, this time writing. "
    "Answers 202 with the new run; 409 when the file is no longer kept (already run for real, "
    "or too old: upload it again) or the dry run has not finished; 422 when it is not a dry run.",
)
def run_dry_run_for_real(request, run_id: int):
    run = services.run_dry_run_for_real(run_id, request.user)
    return Status(202, services.get_import(run.pk, request.user))


@router.get("/imports", response=list[ImportRunOut], summary="Import runs, newest first")
@paginate(Pagination, ordering=("-id",))
def list_imports(request, **kwargs):
    from folio.imports.models import ImportRun

    return services.visible_runs(ImportRun, request.user, "imports.view_importrun").select_related(
        "mapping"
    )


@router.get(
    "/imports/{int:run_id}",
    response=ImportRunOut,
    summary="One import: status, counts per file, the job's progress",
)
def get_import(request, run_id: int):
    return services.get_import(run_id, request.user)


@router.get(
    "/imports/{int:run_id}/problems",
    response=list[ProblemOut],
    summary="Every problem of an import (file, row, column, value, reason); filter by "
    "severity (error, warning) or file",
)
@paginate(Pagination, ordering=("id",))
def list_problems(
    request, run_id: int, severity: str | None = None, file: str | None = None, **kwargs
):
    run = services.get_import(run_id, request.user)
    qs = ImportProblem.objects.filter(run=run)
    if severity:
        qs = qs.filter(severity=severity)
    if file:
        qs = qs.filter(file=file)
    return qs


@router.get(
    "/imports/{int:run_id}/problems.csv",
    summary="The problems of an import as a CSV file (for a spreadsheet)",
    response={200: None},
)
def problems_csv(request, run_id: int):
    run = services.get_import(run_id, request.user)
    rows = [["severity", "file", "row", "column", "value", "code", "reason"]]
    rows += [
        [p.severity, p.file, p.row or "", p.column, p.value, p.code, p.reason]
        for p in ImportProblem.objects.filter(run=run).order_by("id").iterator()
    ]
    response = HttpResponse(exporter.csv_text(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{run.pk}-problems.csv"'
    return response


# --- exports ----------------------------------------------------------------------------------


class ExportIn(In):
    what: str = "products"
    format: str = "csv"
    labels: str | None = None  # a locale: labels instead of codes
    locales: list[str] = []
    filter: dict[str, Any] = {}
    media: bool = False


class ExportRunOut(Schema):
    id: int
    what: str
    format: str
    status: str
    options: dict
    created_by: str | None
    created_at: datetime
    finished_at: datetime | None
    duration_ms: int | None
    message: str
    counts: dict
    job: JobProgress | None
    download: str | None

    @staticmethod
    def resolve_created_by(obj):
        return obj.created_by.username if obj.created_by_id else None

    @staticmethod
    def resolve_download(obj):
        return f"/api/v1/exports/{obj.pk}/file" if obj.path else None


@router.post(
    "/exports",
    response={202: ExportRunOut},
    summary="Export products (filter: the product list's filters — family, category, enabled, "
    "filter conditions, q…), models, the structure or everything (a zip), as CSV or XLSX, "
    "with codes or labels. Answers 202; download the file when the job is done.",
)
def start_export(request, payload: ExportIn):
    run = services.start_export(
        user=request.user,
        what=payload.what,
        fmt=payload.format,
        filters=payload.filter,
        locales=payload.locales,
        labels_locale=payload.labels,
        media=payload.media,
    )
    return Status(202, services.get_export(run.pk, request.user))


@router.get("/exports", response=list[ExportRunOut], summary="Export runs, newest first")
@paginate(Pagination, ordering=("-id",))
def list_exports(request, **kwargs):
    from folio.imports.models import ExportRun

    return services.visible_runs(ExportRun, request.user, "imports.view_exportrun")


@router.get("/exports/{int:run_id}", response=ExportRunOut, summary="One export")
def get_export(request, run_id: int):
    return services.get_export(run_id, request.user)


@router.get("/exports/{int:run_id}/file", summary="Download an export's file", response={200: None})
def download_export(request, run_id: int):
    run = services.get_export(run_id, request.user)
    services.check_export_permissions(request.user, run.what)
    path = Path(run.path) if run.path else None
    if path is None or not path.is_file():
        raise NotFound(f"export {run_id} has no file (status {run.status})")
    if not path.resolve().is_relative_to(services.exports_dir().resolve()):
        raise InvalidInput(
            f"export {run_id} was written outside the exports folder (by the "
            "command line); it is not served"
        )
    content_type = {
        ".csv": "text/csv; charset=utf-8",
        ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ".zip": "application/zip",
    }.get(path.suffix, "application/octet-stream")
    response = FileResponse(
        open(path, "rb"),  # noqa: SIM115 - FileResponse closes it
        as_attachment=True,
        filename=path.name,
        content_type=content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response
