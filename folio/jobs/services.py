"""The one way to run long work in the background, and to see how it is going.

Domain apps declare a job with `@job("…label…")` on a plain function taking a JobContext and
keyword parameters, then call `start_job(that_function, **params)`. Every job runs through
the single Django task `run_job`, so any Tasks backend (the embedded database worker today, a
Redis queue when scaled out) runs the same code.
"""

import contextlib
import datetime
import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cronsim import CronSim, CronSimError
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.dispatch import Signal
from django.utils import timezone
from django.utils.crypto import get_random_string
from django.utils.module_loading import import_string

from folio.accounts import audit
from folio.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from folio.jobs.models import Job, Schedule, Worker
from folio.monitoring import metrics
from folio.versioning import save_versioned

log = logging.getLogger("folio.jobs")


class JobCancelled(Exception):
    pass


@dataclass(frozen=True)
class JobSpec:
    name: str
    label: str
    func: Callable
    max_attempts: int
    schedulable: bool
    timeout: int | None = None  # seconds; None: settings.JOB_TIMEOUT
    retry_errors: bool = False  # also retry attempts that raised, not only dead workers' ones


REGISTRY: dict[str, JobSpec] = {}

# Sent by the reaper (on commit) for each job whose worker died mid-way, with `job` and
# `retrying` (True: queued again; False: marked failed). The app that owns the job's records
# (an import run, a publication) marks them failed too and removes what the dead process
# left half-done, so that nothing stays "running" forever.
job_died = Signal()


def job(
    label: str,
    *,
    max_attempts: int = 1,
    schedulable: bool = False,
    timeout: int | None = None,
    retry_errors: bool = False,
):
    """Declare a background job. `max_attempts` > 1 only for jobs that are safe to re-run
    from the start after a worker died mid-way (they must be idempotent); with `retry_errors`
    an attempt that raised is retried too, after FOLIO_JOB_RETRY_DELAY (doubling) — for
    errors that pass (a supplier's server down), not for bad input, which fails the same way
    every time. `timeout` (seconds) overrides FOLIO_JOB_TIMEOUT; RQ workers enforce it."""

    def register(func):
        name = f"{func.__module__}.{func.__qualname__}"
        REGISTRY[name] = JobSpec(
            name, label, func, max_attempts, schedulable, timeout, retry_errors
        )
        func.job_name = name
        return func

    return register


def get_spec(name: str) -> JobSpec:
    if name not in REGISTRY:
        # The job's module may not be imported in this process yet.
        with contextlib.suppress(ImportError):
            import_string(name)
    if name not in REGISTRY:
        raise NotFound(f"no job named {name!r}")
    return REGISTRY[name]


def timeout_for(kind: str) -> int:
    """The time limit of a job kind, in seconds."""
    try:
        spec = get_spec(kind)
    except NotFound:
        return settings.JOB_TIMEOUT
    return spec.timeout or settings.JOB_TIMEOUT


class JobContext:
    """Handed to a running job: report progress and per-item errors, notice cancellation."""

    FLUSH_EVERY = 0.5  # seconds; progress is written in batches, not per item

    def __init__(self, job_row: Job):
        self.job = job_row
        self._last_flush = 0.0
        self._last_beat = time.monotonic()

    def set_total(self, total: int) -> None:
        self.job.progress_total = total
        self.flush(force=True)

    def advance(self, n: int = 1, *, ok: int | None = None) -> None:
        self.job.progress_done += n
        self.job.items_ok += n if ok is None else ok
        self.flush()

    def item_failed(self, item: str, message: str, **where) -> None:
        """Record one failed item (the job goes on). `where` names row, column, attribute…"""
        self.job.progress_done += 1
        self.job.items_failed += 1
        if len(self.job.errors) < Job.MAX_KEPT_ERRORS:
            self.job.errors.append({"item": str(item), "message": message, **where})
        self.flush()

    def flush(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_flush < self.FLUSH_EVERY:
            return
        self._last_flush = now
        self.record_progress()
        if Job.objects.filter(pk=self.job.pk, cancel_requested=True).exists():
            raise JobCancelled()

    def record_progress(self) -> None:
        """Write the counts and errors so far, now. Called inside the transaction that commits
        a batch of the job's work, so that the job's report says exactly what was committed
        even if the process is killed the next moment."""
        Job.objects.filter(pk=self.job.pk).update(
            progress_done=self.job.progress_done,
            progress_total=self.job.progress_total,
            items_ok=self.job.items_ok,
            items_failed=self.job.items_failed,
            errors=self.job.errors,
        )
        if self.job.worker_id and self.job.worker_id == _this_process:
            # A command running its job itself beats as it goes (see this_process_as_worker).
            now = time.monotonic()
            if now - self._last_beat >= settings.JOB_HEARTBEAT_SECONDS:
                self._last_beat = now
                heartbeat(self.job.worker_id, socket.gethostname(), os.getpid())


def start_job(func_or_name, *, label: str | None = None, user=None, schedule=None, **params) -> Job:
    """Create the Job row and enqueue it once the surrounding transaction commits."""
    spec = get_spec(func_or_name if isinstance(func_or_name, str) else func_or_name.job_name)
    actor_user = user if user is not None else audit.current_actor().user
    row = Job.objects.create(
        kind=spec.name,
        label=label or spec.label,
        params=params,
        created_by=actor_user if getattr(actor_user, "pk", None) else None,
        schedule=schedule,
        max_attempts=spec.max_attempts,
    )
    if row.created_by_id:
        # What a person sets going (an import, an export, a re-render…) is a write of theirs;
        # jobs the scheduler or another job starts are in the jobs list, not the audit log.
        audit.record("job.start", row, summary=row.label, changes={"kind": spec.name})
    transaction.on_commit(lambda: _enqueue(row.pk))
    return row


# task_result_id while a process is handing the job to the queue: "claim:<unix time>:<random>".
ENQUEUE_CLAIM = "claim:"


def enqueue_claim_age(task_result_id: str) -> float | None:
    """Seconds since a process claimed the job for queueing; None when it is not a claim."""
    if not task_result_id.startswith(ENQUEUE_CLAIM):
        return None
    try:
        return time.time() - int(task_result_id.split(":")[1])
    except (IndexError, ValueError):
        return float("inf")


def _enqueue(job_id, delay: float = 0) -> bool:
    from folio.jobs.tasks import run_job

    task = run_job
    if delay > 0 and run_job.get_backend().supports_defer:
        task = run_job.using(run_after=timezone.now() + datetime.timedelta(seconds=delay))
    # Claim the row before queueing: the job's creator (on commit) and the RQ reconciler (for
    # jobs that waited out a Redis outage) may both try to queue the same job; only the one
    # whose claim matched queues it, so a job never runs twice.
    claim = f"{ENQUEUE_CLAIM}{int(time.time())}:{get_random_string(16)}"
    if not Job.objects.filter(pk=job_id, task_result_id="").update(task_result_id=claim):
        return False
    try:
        result = task.enqueue(str(job_id))
    except _queue_unreachable() as exc:
        # The job is kept (queued, with no queue entry): the RQ reconciler hands it to the
        # queue once Redis answers again, so a Redis outage delays work but loses none.
        Job.objects.filter(pk=job_id, task_result_id=claim).update(task_result_id="")
        log.warning("job %s is waiting for the job queue, which is unreachable: %s", job_id, exc)
        return False
    except BaseException:
        Job.objects.filter(pk=job_id, task_result_id=claim).update(task_result_id="")
        raise
    Job.objects.filter(pk=job_id, task_result_id=claim).update(task_result_id=str(result.id))
    return True


def _queue_unreachable() -> tuple[type[BaseException], ...]:
    if settings.JOB_BACKEND != "rq":
        return ()  # the database backend's errors are the database's: they must surface
    from redis.exceptions import ConnectionError, TimeoutError

    return (ConnectionError, TimeoutError)


def execute(job_id: str, worker_id: str) -> str | None:
    """Run one job in this process (called by the `run_job` task); returns its new status."""
    with transaction.atomic():
        row = Job.objects.select_for_update().filter(pk=job_id).first()
        if row is None or row.is_finished:
            return None  # cancelled (or pruned) before a worker got to it
        row.status = Job.Status.RUNNING
        row.started_at = row.started_at or timezone.now()
        row.attempts += 1
        row.worker_id = worker_id[:64]
        # A retried job starts over from the beginning (that is what max_attempts > 1
        # promises), so the counts of the attempt that died must not add up with this one's.
        row.progress_done = row.items_ok = row.items_failed = 0
        row.progress_total = None
        row.errors = []
        row.save(
            update_fields=[
                "status",
                "started_at",
                "attempts",
                "worker_id",
                "progress_done",
                "progress_total",
                "items_ok",
                "items_failed",
                "errors",
            ]
        )
    spec = get_spec(row.kind)
    ctx = JobContext(row)
    user = row.created_by
    try:
        with audit.acting_as(user, via="job"):
            result = spec.func(ctx, **row.params)
    except JobCancelled:
        _finish(row, Job.Status.CANCELLED, message="cancelled on request")
    except Exception as exc:  # the job failed as a whole; record why, the worker goes on
        log.exception("job %s (%s) failed", row.pk, row.kind)
        message = f"{type(exc).__name__}: {exc}"[:2000]
        if _is_timeout(exc):
            # Interrupted anywhere, perhaps mid-query: start over on a fresh connection.
            from django.db import connection

            connection.close()
            message = f"timed out: still running after its limit of {timeout_for(row.kind)} s"
        elif spec.retry_errors and row.attempts < row.max_attempts and not _cancel_requested(row):
            # Such jobs are idempotent: start over after a pause that doubles each time.
            delay = settings.JOB_RETRY_DELAY * 2 ** (row.attempts - 1)
            _retry(row, f"attempt {row.attempts} of {row.max_attempts} failed: {message}", delay)
            return Job.Status.QUEUED
        _finish(row, Job.Status.FAILED, message=message)
        return Job.Status.FAILED
    else:
        _finish(row, Job.Status.SUCCEEDED, result=result)
    return row.status


def _is_timeout(exc: Exception) -> bool:
    try:
        from rq.timeouts import JobTimeoutException
    except ImportError:  # pragma: no cover - rq is a dependency
        return False
    return isinstance(exc, JobTimeoutException)


def _cancel_requested(row: Job) -> bool:
    return Job.objects.filter(pk=row.pk, cancel_requested=True).exists()


def _retry(row: Job, message: str, delay: float) -> None:
    """Queue a failed attempt again; its counts are reset when the next attempt starts."""
    Job.objects.filter(pk=row.pk).update(
        status=Job.Status.QUEUED,
        task_result_id="",
        message=message[:2000],
        progress_done=row.progress_done,
        progress_total=row.progress_total,
        items_ok=row.items_ok,
        items_failed=row.items_failed,
        errors=row.errors,
    )
    _enqueue(row.pk, delay)


def _finish(row: Job, status: str, *, message: str = "", result=None) -> None:
    metrics.observe_job(row.kind, status, row.started_at.timestamp() if row.started_at else None)
    row.status = status
    row.finished_at = timezone.now()
    row.message = message
    row.result = result
    Job.objects.filter(pk=row.pk).update(
        status=status,
        finished_at=row.finished_at,
        message=message,
        result=result,
        progress_done=row.progress_done,
        progress_total=row.progress_total,
        items_ok=row.items_ok,
        items_failed=row.items_failed,
        errors=row.errors,
    )


def visible_jobs(user):
    qs = Job.objects.all()
    return qs if user.has_perm("jobs.view_job") else qs.filter(created_by=user)


def get_job(job_id, user) -> Job:
    row = visible_jobs(user).filter(pk=job_id).first()
    if row is None:
        raise NotFound(f"no job {job_id}")
    return row


@transaction.atomic
def cancel_job(job_id, user) -> Job:
    row = get_job(job_id, user)
    if row.created_by_id != user.pk and not user.has_perm("jobs.change_job"):
        raise PermissionDenied("only the job's starter or an administrator can cancel it")
    if row.is_finished:
        raise Conflict(f"the job has {row.status} already", details={"status": row.status})
    if row.status == Job.Status.QUEUED:
        _finish(row, Job.Status.CANCELLED, message="cancelled before it started")
    else:
        Job.objects.filter(pk=row.pk).update(cancel_requested=True)
        row.cancel_requested = True
    audit.record("job.cancel", row, summary=row.label)
    return row


# --- workers and the reaper -------------------------------------------------------------------


def heartbeat(worker_id: str, hostname: str, pid: int) -> None:
    Worker.objects.update_or_create(
        worker_id=worker_id,
        defaults={"hostname": hostname, "pid": pid, "last_seen": timezone.now()},
    )


_this_process: str | None = None


def this_process_as_worker() -> str:
    """A worker id for jobs this process runs itself (`folio import` and `folio export` run
    their job in the command, not on a worker). The job's progress reports (JobContext)
    write its heartbeat as they go, so that when the command is killed the reaper notices and
    fails its job like a dead worker's. (No thread: the command's own loop beats.)"""
    global _this_process
    host, pid = socket.gethostname(), os.getpid()
    if _this_process is None or not _this_process.startswith(f"cli-{host[:30]}-{pid}-"):
        _this_process = f"cli-{host[:30]}-{pid}-{get_random_string(6)}"
    heartbeat(_this_process, host, pid)
    return _this_process


def beat_in_background(worker_id: str) -> Callable[[], None]:
    """Beat for `worker_id` from a thread until the returned function is called: for work
    that runs in a command and reports nothing until it ends (an import in one transaction),
    so that the reaper can still tell it alive from killed. On SQLite a beat waits while that
    transaction holds the write lock; a reaper on the same machine then sees the process
    running (live_worker_ids), one on another machine cannot reach SQLite anyway."""
    import threading

    from django.db import connection

    stop = threading.Event()
    host, pid = socket.gethostname(), os.getpid()

    def beat() -> None:
        while not stop.wait(settings.JOB_HEARTBEAT_SECONDS):
            try:
                heartbeat(worker_id, host, pid)
            except Exception:  # a missed beat is retried next time
                log.warning("heartbeat of %s failed", worker_id, exc_info=True)
        connection.close()

    thread = threading.Thread(target=beat, name="heartbeat", daemon=True)
    thread.start()

    def stopped() -> None:
        stop.set()
        thread.join(timeout=2)  # its connection closed before the command's own

    return stopped


def live_worker_ids() -> set[str]:
    cutoff = timezone.now() - datetime.timedelta(seconds=settings.JOB_WORKER_DEAD_AFTER)
    alive = set(Worker.objects.filter(last_seen__gte=cutoff).values_list("worker_id", flat=True))
    # A process on this machine that is still running is alive even when its beats are late:
    # on SQLite a command's heartbeat waits while its own long transaction (an all-or-nothing
    # import) holds the write lock, and must not be taken for a dead one meanwhile.
    stale_here = Worker.objects.filter(last_seen__lt=cutoff, hostname=socket.gethostname())
    for worker in stale_here.order_by("-last_seen")[:1000]:
        if _process_running_here(worker.pid, worker.started_at):
            alive.add(worker.worker_id)
    return alive


def _process_running_here(pid: int, not_after: datetime.datetime) -> bool:
    """Whether process `pid` of this machine runs and started before `not_after` (so a new
    process that reuses a dead worker's pid is not mistaken for it). Linux /proc; False
    where that cannot be read."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = next(
            int(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime ")
        )
    except (OSError, StopIteration, ValueError):
        return False
    fields = stat.rpartition(")")[2].split()  # after "pid (comm)": state, ppid, …
    if fields[0] in ("Z", "X"):  # killed, not yet waited for
        return False
    started = boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    return started <= not_after.timestamp() + 1


def reap_dead_jobs() -> dict:
    """Jobs left running by a worker that stopped beating are retried or marked failed."""
    from django_tasks_db.models import DBTaskResult

    alive = live_worker_ids()
    retried = failed = 0
    for row in Job.objects.filter(status=Job.Status.RUNNING).exclude(worker_id__in=alive):
        if row.worker_id == "inline":
            continue
        with transaction.atomic():
            claimed = Job.objects.filter(
                pk=row.pk, status=Job.Status.RUNNING, worker_id=row.worker_id
            )
            if row.attempts < row.max_attempts and not row.cancel_requested:
                if claimed.update(
                    status=Job.Status.QUEUED,
                    task_result_id="",
                    message=f"worker {row.worker_id} died; retrying",
                ):
                    retried += 1
                    transaction.on_commit(lambda pk=row.pk: _enqueue(pk))
                    transaction.on_commit(lambda pk=row.pk: announce_job_died(pk, retrying=True))
            elif claimed.update(
                status=Job.Status.FAILED,
                finished_at=timezone.now(),
                message=f"the worker running this job ({row.worker_id}) died; "
                "partial progress is kept, start the job again",
            ):
                failed += 1
                transaction.on_commit(lambda pk=row.pk: announce_job_died(pk, retrying=False))
    # The task rows of dead workers would otherwise stay "running" forever.
    orphaned = 0
    for result in DBTaskResult.objects.filter(status="RUNNING"):
        if result.worker_ids and result.worker_ids[-1] not in alive:
            result.set_failed(RuntimeError(f"worker {result.worker_ids[-1]} died"))
            orphaned += 1
    stale = timezone.now() - datetime.timedelta(seconds=settings.JOB_WORKER_DEAD_AFTER * 10)
    Worker.objects.filter(last_seen__lt=stale).delete()
    reaped = {"retried": retried, "failed": failed, "task_results_failed": orphaned}
    if settings.JOB_BACKEND == "rq":
        from folio.jobs import fleet

        reaped |= fleet.reconcile()
    return reaped


def announce_job_died(job_id, *, retrying: bool) -> None:
    """Send job_died for a job just queued again or failed because its process died (the
    reaper calls it on commit; so should any other code that reaps, e.g. the RQ fleet's)."""
    row = Job.objects.filter(pk=job_id).first()
    if row is None:
        return
    for receiver, outcome in job_died.send_robust(sender=Job, job=row, retrying=retrying):
        if isinstance(outcome, Exception):  # the next reaper run cannot retry it; say so
            log.error(
                "cleaning up after dead job %s (%s) failed in %s",
                job_id,
                row.kind,
                getattr(receiver, "__qualname__", receiver),
                exc_info=outcome,
            )


def prune_finished(days: int | None = None) -> dict:
    from django_tasks_db.models import DBTaskResult

    days = settings.JOB_RETENTION_DAYS if days is None else days
    cutoff = timezone.now() - datetime.timedelta(days=days)
    jobs, _ = Job.objects.filter(status__in=Job.FINISHED, finished_at__lt=cutoff).delete()
    results, _ = DBTaskResult.objects.filter(
        Q(status="SUCCESSFUL") | Q(status="FAILED"), finished_at__lt=cutoff
    ).delete()
    return {"jobs_deleted": jobs, "task_results_deleted": results}


# --- schedules ---------------------------------------------------------------------------------


def next_run(schedule: Schedule, after: datetime.datetime) -> datetime.datetime:
    if schedule.every_seconds:
        return after + datetime.timedelta(seconds=schedule.every_seconds)
    return next(CronSim(schedule.cron, after.astimezone(datetime.UTC)))


def _validate_schedule(schedule: Schedule) -> None:
    if bool(schedule.every_seconds) == bool(schedule.cron):
        raise InvalidInput(
            "a schedule needs either every_seconds or cron, not both",
            details={"schedule": schedule.name, "field": "every_seconds/cron"},
        )
    if schedule.every_seconds is not None and schedule.every_seconds < 10:
        raise InvalidInput(
            "every_seconds must be at least 10",
            details={"schedule": schedule.name, "field": "every_seconds"},
        )
    if schedule.cron:
        try:
            CronSim(schedule.cron, timezone.now())
        except CronSimError as exc:
            raise InvalidInput(
                f"cron expression {schedule.cron!r} is invalid: {exc}",
                details={"schedule": schedule.name, "field": "cron"},
            ) from None
    spec = get_spec(schedule.job)
    if not spec.schedulable:
        raise InvalidInput(
            f"job {schedule.job!r} cannot be scheduled",
            details={"schedule": schedule.name, "field": "job"},
        )


def schedule_snapshot(s: Schedule) -> dict:
    return {
        "name": s.name,
        "version": s.version,
        "job": s.job,
        "params": s.params,
        "every_seconds": s.every_seconds,
        "cron": s.cron,
        "enabled": s.enabled,
        "next_run_at": s.next_run_at.isoformat() if s.next_run_at else None,
    }


@transaction.atomic
def get_schedule(name: str) -> Schedule:
    schedule = Schedule.objects.filter(name=name).first()
    if schedule is None:
        raise NotFound(f"no schedule named {name!r}", details={"schedule": name})
    return schedule


def update_schedule(name: str, *, expected_version: int | None, **changes) -> Schedule:
    schedule = get_schedule(name)
    before = schedule_snapshot(schedule)
    allowed = {"enabled", "every_seconds", "cron", "params", "description"}
    unknown = set(changes) - allowed
    if unknown:
        raise InvalidInput(f"cannot change {', '.join(sorted(unknown))} of a schedule")
    for field, value in changes.items():
        setattr(schedule, field, value)
    if changes.get("cron"):
        schedule.every_seconds = None
    if changes.get("every_seconds"):
        schedule.cron = ""
    _validate_schedule(schedule)
    if {"every_seconds", "cron", "enabled"} & set(changes):
        schedule.next_run_at = next_run(schedule, timezone.now())
    fields = sorted(set(changes) | {"every_seconds", "cron", "next_run_at"})
    save_versioned(schedule, expected_version, fields, snapshot=schedule_snapshot)
    after = schedule_snapshot(schedule)
    audit.record(
        "schedule.update",
        schedule,
        summary=f"schedule {name}",
        changes={k: [before[k], after[k]] for k in after if before[k] != after[k]},
    )
    return schedule


def run_due_schedules(now: datetime.datetime | None = None) -> list[Job]:
    """Start the job of every due schedule once, however many schedulers run."""
    now = now or timezone.now()
    started = []
    for schedule in Schedule.objects.filter(enabled=True, next_run_at__lte=now):
        with transaction.atomic():
            claimed = Schedule.objects.filter(
                pk=schedule.pk, next_run_at=schedule.next_run_at
            ).update(next_run_at=next_run(schedule, now), last_run_at=now)
            if not claimed:
                continue  # another scheduler took it
            running = Job.objects.filter(schedule=schedule).exclude(status__in=Job.FINISHED)
            if running.exists():
                log.info("schedule %s: previous run still going, skipped", schedule.name)
                continue
            with audit.acting_as(None, via="system"):
                started.append(start_job(schedule.job, schedule=schedule, **schedule.params))
    return started
