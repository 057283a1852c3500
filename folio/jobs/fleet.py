"""The worker fleet: Folio's jobs on RQ (Redis), for workers on any number of machines.

Selected by FOLIO_REDIS_URL (FOLIO_JOB_BACKEND=rq). The jobs themselves do not change: the one
`run_job` task runs them here as on the embedded database worker. What RQ adds is a shared
queue any machine can take from, a work-horse process per job that is killed when the job
outlives its time limit, and RQ's failed-job registry as the dead-letter list. What Folio adds
on top: per-job-kind time limits, the same heartbeat rows as the database worker (so the reaper
notices a dead machine), and `reconcile()`, which brings Job rows in line with what Redis says
happened to their RQ job when the job's own code could not (work horse killed, Redis emptied).
"""

import contextlib
import datetime
import os
import socket
import time

import django_rq
from django.conf import settings
from django.db import close_old_connections, connections, transaction
from django.utils import timezone
from django.utils.crypto import get_random_string
from django_tasks.base import TASK_MAX_PRIORITY, TaskResult, TaskResultStatus
from django_tasks.signals import task_enqueued
from django_tasks.utils import get_random_id
from django_tasks_rq.backend import Job as TaskJob
from django_tasks_rq.backend import RQBackend, failed_callback, success_callback
from rq import Worker as RQWorker
from rq.exceptions import NoSuchJobError
from rq.job import Callback, JobStatus

from folio.jobs import services
from folio.jobs.models import Job

QUEUES = ["default"]
# RQ keeps finished jobs' results this long; the Job row is the lasting record.
RESULT_TTL = 3600
UNQUEUED_GRACE = 30  # seconds a new job may take to reach the queue (its transaction's commit)


class FleetBackend(RQBackend):
    """django-tasks-rq's backend, plus each job's time limit and a readable description.

    The time limit has to be given when the RQ job is created, which the stock backend does
    not offer, so this is its `enqueue` with `timeout`, `description` and `result_ttl` added.
    """

    def enqueue(self, task, args, kwargs):
        self.validate_task(task)
        task_result = TaskResult(
            task=task,
            id=get_random_id(),
            status=TaskResultStatus.READY,
            enqueued_at=None,
            started_at=None,
            last_attempted_at=None,
            finished_at=None,
            args=args,
            kwargs=kwargs,
            backend=self.alias,
            errors=[],
            worker_ids=[],
        )
        timeout, description = _job_limits(args, kwargs)
        queue = django_rq.get_queue(task.queue_name, job_class=TaskJob)
        job = queue.create_job(
            task.module_path,
            args=args,
            kwargs=kwargs,
            job_id=task_result.id,
            status=JobStatus.SCHEDULED if task.run_after else JobStatus.QUEUED,
            timeout=timeout,
            result_ttl=RESULT_TTL,
            description=description,
            on_failure=Callback(failed_callback),
            on_success=Callback(success_callback),
            meta={"backend_name": self.alias},
        )
        if task.run_after is None:
            job = queue.enqueue_job(job, at_front=task.priority == TASK_MAX_PRIORITY)
        else:
            job = queue.schedule_job(job, task.run_after)
        object.__setattr__(task_result, "enqueued_at", job.enqueued_at)
        task_enqueued.send(type(self), task_result=task_result)
        return task_result


def _job_limits(args, kwargs) -> tuple[int | None, str | None]:
    """(time limit, description) for run_job(job_id); (None, None) leaves the queue's own."""
    job_id = args[0] if args else kwargs.get("job_id")
    row = Job.objects.filter(pk=job_id).values("kind", "label").first() if job_id else None
    if row is None:
        return None, None
    return services.timeout_for(row["kind"]), f"{row['label']} ({job_id})"


class FleetWorker(RQWorker):
    """An RQ worker that also writes Folio's heartbeat row under its RQ name.

    The name is what `run_job` records as the Job's worker_id, so the reaper can tell the jobs
    of a machine that stopped beating from those of a live one, as with the database worker.
    The beat rides on RQ's own heartbeat, in the main thread: a beating thread would make each
    fork of a work horse risk inheriting a lock that thread held, and the horse hanging on it
    (seen: a horse stuck in a futex wait). RQ beats while it waits for work (every
    `dequeue_timeout`, worker_ttl - 15 s) and while it watches a horse
    (`job_monitoring_interval`); both are set to JOB_HEARTBEAT_SECONDS.
    """

    def __init__(self, *args, heartbeat_seconds: float | None = None, **kwargs):
        if not kwargs.get("name"):
            kwargs["name"] = f"{socket.gethostname()[:30]}-{os.getpid()}-{get_random_string(6)}"
        beat = int(heartbeat_seconds or settings.JOB_HEARTBEAT_SECONDS)
        kwargs.setdefault("worker_ttl", beat + 15)
        kwargs.setdefault("job_monitoring_interval", beat)
        super().__init__(*args, **kwargs)
        self.heartbeat_seconds = beat
        self._last_beat = 0.0

    def beat(self) -> None:
        services.heartbeat(self.name, socket.gethostname(), os.getpid())
        self._last_beat = time.monotonic()

    def heartbeat(self, *args, **kwargs):
        super().heartbeat(*args, **kwargs)
        if self.is_horse or time.monotonic() - self._last_beat < self.heartbeat_seconds / 2:
            return
        try:
            close_old_connections()
            self.beat()
        except Exception:  # a missed beat is retried next time; never kill the worker
            services.log.exception("worker heartbeat failed")

    def work(self, *args, **kwargs):
        self.beat()
        services.reap_dead_jobs()
        return super().work(*args, **kwargs)

    def fork_work_horse(self, job, queue):
        # The horse must open its own database connection, not share the parent's socket.
        connections.close_all()
        return super().fork_work_horse(job, queue)

    def perform_job(self, job, queue, execution):
        try:
            return super().perform_job(job, queue, execution)
        finally:
            # The horse leaves with os._exit; say goodbye to the database properly first.
            connections.close_all()


def get_worker(*, name: str | None = None) -> FleetWorker:
    return django_rq.get_worker(*QUEUES, worker_class=FleetWorker, job_class=TaskJob, name=name)


def reconcile() -> dict:
    """Bring unfinished Job rows in line with their RQ job when the job's own code could not.

    A work horse killed from outside (past its time limit plus RQ's grace, out of memory) never
    reaches `execute`'s error handling: RQ puts its job in the failed registry and the Job row
    would stay "running" forever. A job whose RQ job vanished (Redis restarted without its data)
    would wait forever. The first is retried or failed like a dead worker's job, the second
    queued again.
    """
    connection = django_rq.get_connection(QUEUES[0])
    retried = failed = requeued = 0
    # Jobs started while Redis was unreachable have no queue entry at all (services._enqueue
    # kept them); the grace period leaves alone those whose enqueue is just about to happen.
    waiting = Job.objects.filter(
        status=Job.Status.QUEUED,
        task_result_id="",
        created_at__lt=timezone.now() - datetime.timedelta(seconds=UNQUEUED_GRACE),
    )
    for pk in waiting.values_list("pk", flat=True):
        requeued += services._enqueue(pk)
    unfinished = Job.objects.filter(status__in=[Job.Status.QUEUED, Job.Status.RUNNING]).exclude(
        task_result_id=""
    )
    for row in unfinished:
        claim_age = services.enqueue_claim_age(row.task_result_id)
        if claim_age is not None and claim_age < UNQUEUED_GRACE:
            continue  # another process is queueing it right now
        rq_job = rq_status = None  # a claim this old: the process queueing it died
        if claim_age is None:
            with contextlib.suppress(NoSuchJobError):
                found = TaskJob.fetch(row.task_result_id, connection=connection)
                rq_status = found.get_status()
                rq_job = found
        if rq_job is not None and rq_status not in (
            JobStatus.FAILED,
            JobStatus.STOPPED,
            JobStatus.CANCELED,
        ):
            continue
        with transaction.atomic():
            claimed = Job.objects.filter(
                pk=row.pk, status=row.status, task_result_id=row.task_result_id
            )
            if rq_job is None and row.status == Job.Status.QUEUED:
                if claimed.update(task_result_id=""):
                    requeued += 1
                    transaction.on_commit(lambda pk=row.pk: services._enqueue(pk))
                continue
            why = _rq_failure(rq_job, row)
            if row.attempts < row.max_attempts and not row.cancel_requested:
                if claimed.update(
                    status=Job.Status.QUEUED, task_result_id="", message=f"{why}; retrying"
                ):
                    retried += 1
                    transaction.on_commit(lambda pk=row.pk: services._enqueue(pk))
            elif claimed.update(
                status=Job.Status.FAILED,
                finished_at=timezone.now(),
                message=f"{why}; partial progress is kept, start the job again",
            ):
                failed += 1
    return {"rq_retried": retried, "rq_failed": failed, "rq_requeued": requeued}


def _rq_failure(rq_job, row: Job) -> str:
    if rq_job is None:
        return "its queue entry vanished from Redis"
    result = rq_job.latest_result()
    detail = (result.exc_string or "").strip().splitlines()[-1:] if result else []
    detail = " ".join(detail).strip().rstrip(";") or "no detail from RQ"
    where = f" on worker {row.worker_id}" if row.worker_id else ""
    return f"the process running it{where} stopped: {detail}"
