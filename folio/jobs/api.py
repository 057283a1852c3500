from datetime import datetime
from uuid import UUID

from django.http import HttpResponse
from ninja import Field, Header, Router, Schema
from ninja.pagination import paginate

from folio.accounts.services import require
from folio.api import Pagination
from folio.jobs import services
from folio.jobs.models import Job, Schedule
from folio.versioning import patch_and_version, shows_current

router = Router(tags=["jobs"])


class JobOut(Schema):
    id: UUID
    kind: str
    label: str
    status: str
    params: dict
    created_by: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    progress_done: int
    progress_total: int | None
    items_ok: int
    items_failed: int
    message: str
    attempts: int
    max_attempts: int
    cancel_requested: bool
    worker_id: str | None = Field(
        None, description="the worker process that ran it last (host-pid-…); null until claimed"
    )

    @staticmethod
    def resolve_created_by(obj):
        return obj.created_by.username if obj.created_by else None

    @staticmethod
    def resolve_worker_id(obj):
        return obj.worker_id or None


class JobDetail(JobOut):
    errors: list[dict]
    result: dict | list | str | int | float | None


class ScheduleOut(Schema):
    name: str
    description: str
    job: str
    params: dict
    every_seconds: int | None
    cron: str
    enabled: bool
    next_run_at: datetime
    last_run_at: datetime | None
    version: int


class SchedulePatch(Schema):
    enabled: bool | None = None
    every_seconds: int | None = None
    cron: str | None = None
    params: dict | None = None
    description: str | None = None
    version: int | None = None


@router.get("/jobs", response=list[JobOut], summary="Background jobs, newest first")
# created_at is not unique; the id after it makes the order of equal timestamps stable, which
# the paginator's offset within one position relies on.
@paginate(Pagination, ordering=("-created_at", "-id"))
def list_jobs(request, status: Job.Status | None = None, kind: str | None = None, **kwargs):
    qs = services.visible_jobs(request.user).select_related("created_by")
    if status:
        qs = qs.filter(status=status)
    if kind:
        qs = qs.filter(kind=kind)
    return qs


@router.get(
    "/jobs/{job_id}",
    response=JobDetail,
    summary="One job: status, progress, per-item errors and result",
)
def get_job(request, job_id: UUID):
    return services.get_job(job_id, request.user)


@router.post("/jobs/{job_id}/cancel", response=JobDetail, summary="Cancel a queued or running job")
def cancel_job(request, job_id: UUID):
    return services.cancel_job(job_id, request.user)


@router.get("/schedules", response=list[ScheduleOut], summary="Recurring jobs")
def list_schedules(request):
    # What runs when (and with which parameters) is for those who may see every job.
    require(request.user, "jobs.view_job")
    return Schedule.objects.all()


@router.get("/schedules/{name}", response=ScheduleOut, summary="One recurring job (ETag: version)")
def get_schedule(request, name: str, response: HttpResponse):
    require(request.user, "jobs.view_job")
    schedule = services.get_schedule(name)
    response["ETag"] = schedule.etag
    return schedule


@router.patch(
    "/schedules/{name}",
    response=ScheduleOut,
    summary="Change a schedule; send its version (body or If-Match) to avoid lost updates",
)
@shows_current(get_schedule)
def update_schedule(
    request,
    name: str,
    payload: SchedulePatch,
    response: HttpResponse,
    if_match: str | None = Header(None, alias="If-Match"),
):
    from folio.accounts.services import require

    require(request.user, "jobs.change_schedule")
    changes, version = patch_and_version(payload, if_match)
    schedule = services.update_schedule(name, expected_version=version, **changes)
    response["ETag"] = schedule.etag
    return schedule
