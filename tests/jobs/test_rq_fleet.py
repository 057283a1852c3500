"""The worker fleet: jobs through RQ on a real Redis, taken by real `folio worker` processes.

Needs Redis on 127.0.0.1:6379. Each database backend's run, and each pytest-xdist worker of
it, uses a Redis database of its own (15 and 14 for SQLite and PostgreSQL on the first worker,
13 and 12 on the second, …), emptied before each test, so the passes and workers can run side
by side. Without Redis these tests are skipped with a warning saying so, and fail under CI=true
(as scripts/run-tests does for PostgreSQL) so a missing Redis cannot pass unnoticed.
"""

import contextlib
import datetime
import os
import signal
import time
import warnings
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from folio.accounts.audit import acting_as
from folio.jobs import services
from folio.jobs.models import Job
from folio.jobs.models import Worker as WorkerRow
from tests.assets.conftest import media  # noqa: F401 - the fixture
from tests.conftest import run_folio, wait_until
from tests.jobs import sample_jobs
from tests.renditions._support import add, product_jpeg, seeded  # noqa: F401 - seeded: fixture

pytestmark = pytest.mark.django_db(transaction=True)

FINISHED = ("succeeded", "failed", "cancelled")


def _redis_url() -> str:
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")) % 6
    db = 15 - 2 * worker - (0 if connection.vendor == "sqlite" else 1)
    return f"redis://127.0.0.1:6379/{db}"


@pytest.fixture
def redis_url():
    import redis

    url = _redis_url()
    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        message = f"REDIS UNREACHABLE at {url} ({exc}): the RQ worker-fleet tests did NOT run"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        warnings.warn(message, stacklevel=1)
        pytest.skip(message)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


@pytest.fixture
def fleet(redis_url, settings, folio_env, worker_process):
    """This process enqueues to RQ, and start() → a `folio worker` on RQ, ready for work."""
    settings.JOB_BACKEND = "rq"
    settings.TASKS = {
        "default": {"BACKEND": "folio.jobs.fleet.FleetBackend", "QUEUES": ["default"]}
    }
    settings.RQ_QUEUES = {"default": {"URL": redis_url, "DEFAULT_TIMEOUT": 3600}}
    folio_env["FOLIO_REDIS_URL"] = redis_url
    folio_env["FOLIO_JOB_RETRY_DELAY"] = "1"

    def start():
        proc = worker_process()
        # Ready once it has written its heartbeat (after its start-up reaping).
        wait_until(
            lambda: WorkerRow.objects.filter(pid=proc.pid).exists() or proc.poll() is not None,
            timeout=90,
            what="the RQ worker to start",
        )
        assert proc.poll() is None, Path(proc.log_path).read_text()
        proc.worker_id = WorkerRow.objects.get(pid=proc.pid).worker_id
        return proc

    return start


def start(func, user=None, **params):
    with acting_as(user, via="api"):
        return services.start_job(func, **params)


def finished(job, timeout=180) -> Job:
    # Generous: the machine running the tests may be busy; only a stuck job takes this long.
    return wait_until(
        lambda: (row := Job.objects.get(pk=job.pk)).status in FINISHED and row,
        timeout=timeout,
        what=f"job {job.label} to finish",
    )


def rq_job(job):
    import django_rq
    from django_tasks_rq.backend import Job as TaskJob

    row = Job.objects.get(pk=job.pk)
    return TaskJob.fetch(row.task_result_id, connection=django_rq.get_connection("default"))


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            # pid (comm) state ppid …; comm may hold spaces, so split after its ")".
            if int(stat.read_text().rpartition(")")[2].split()[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def failed_registry_ids() -> list[str]:
    import django_rq
    from rq.registry import FailedJobRegistry

    return FailedJobRegistry(queue=django_rq.get_queue("default")).get_job_ids()


@pytest.mark.usefixtures("seeded", "media")
def test_two_workers_share_the_queue_and_run_real_jobs(fleet, folio_env, api_client, tmp_path):
    from django.conf import settings

    from folio.renditions import cache
    from folio.renditions.models import Rendition

    # The workers store files where this test looks (the media fixture's folder).
    folio_env["FOLIO_MEDIA"] = str(settings.MEDIA_ROOT)
    workers = [fleet(), fleet()]
    client = api_client("catalog_editor")

    # Two jobs that block: each worker can hold only one, so both must have taken work.
    gate = tmp_path / "go"
    blocked = [start(sample_jobs.wait_for_file, client.user, path=str(gate)) for _ in range(2)]
    running = wait_until(
        lambda: (
            (rows := list(Job.objects.filter(pk__in=[j.pk for j in blocked], status="running")))
            and len(rows) == 2
            and rows
        ),
        timeout=90,
        what="both blocking jobs to run",
    )
    assert {r.worker_id for r in running} == {w.worker_id for w in workers}

    # Meanwhile many more wait in Redis: sample jobs, and real previews and renditions.
    counted = [
        start(sample_jobs.count_items, client.user, items=[f"WB-{i}", "bad"], bad=["bad"])
        for i in range(8)
    ]
    assets = [add(product_jpeg(400, 300, seed=70 + i), f"p{i}.jpg") for i in range(3)]
    renditions, render_jobs = cache.ensure_renditions(assets, ["thumb-256"])
    assert render_jobs
    gate.touch()

    for job in blocked + counted + render_jobs:
        assert finished(job).status == "succeeded", Job.objects.get(pk=job.pk).message
    row = Job.objects.get(pk=counted[0].pk)
    assert (row.items_ok, row.items_failed, row.errors[0]["item"]) == (1, 1, "bad")
    previews = Job.objects.filter(kind="folio.assets.previews.make_previews")
    assert previews.count() == 3
    for job in previews:
        assert finished(job).status == "succeeded", job.message
    assert {r.status for r in Rendition.objects.filter(pk__in=[r.pk for r in renditions])} == {
        "ready"
    }
    # Every job ran in one of the two worker processes, recorded as such.
    ran_on = set(Job.objects.values_list("worker_id", flat=True))
    assert ran_on == {w.worker_id for w in workers}
    assert {WorkerRow.objects.get(worker_id=w).pid for w in ran_on} == {w.pid for w in workers}
    assert failed_registry_ids() == []


def test_a_failing_job_is_retried_then_listed_as_failed_with_its_error(
    fleet, folio_env, api_client
):
    worker = fleet()
    client = api_client("catalog_editor")
    job = start(sample_jobs.flaky_feed, client.user)
    row = finished(job)
    assert row.status == "failed"
    assert row.attempts == 3
    assert row.message == "ConnectionError: the supplier feed is unreachable (attempt 3)"

    # Visible where people look for dead jobs: the API, the CLI, and RQ's failed registry
    # (the last attempt only: the earlier ones were retried, not given up on).
    listed = client.get("/api/v1/jobs?status=failed").json()["results"]
    assert [(j["id"], j["attempts"], j["message"], j["worker_id"]) for j in listed] == [
        (str(job.pk), 3, row.message, worker.worker_id)
    ]
    out = run_folio(["jobs", "list", "--failed"], folio_env)
    assert out.returncode == 0, out.stderr
    assert str(job.pk) in out.stdout and row.message in out.stdout
    # RQ files the job as failed a moment after the job's own code recorded it.
    wait_until(lambda: failed_registry_ids() == [row.task_result_id], what="RQ's failed registry")
    assert "supplier feed is unreachable (attempt 3)" in rq_job(job).latest_result().exc_string


def test_a_job_past_its_time_limit_is_stopped_and_failed(fleet, api_client):
    proc = fleet()
    job = start(sample_jobs.sleep_past_limit, None, seconds=600)
    row = finished(job, timeout=120)  # the job would sleep ten minutes; its limit is 2 s
    assert row.status == "failed"
    assert row.message == "timed out: still running after its limit of 2 s"
    assert row.progress_done == 0
    # RQ files the job as failed a moment after the job's own code recorded it.
    wait_until(lambda: failed_registry_ids() == [row.task_result_id], what="RQ's failed registry")
    assert proc.poll() is None  # the worker itself goes on
    after = start(sample_jobs.count_items, None, items=["a"])
    assert finished(after).status == "succeeded"


def test_a_killed_work_horse_is_noticed_and_its_job_failed(fleet, tmp_path):
    proc = fleet()
    pid_file = tmp_path / "horse.pid"
    job = start(
        sample_jobs.wait_noting_pid, None, path=str(tmp_path / "never"), pid_file=str(pid_file)
    )
    wait_until(lambda: Job.objects.get(pk=job.pk).progress_done == 1, timeout=90, what="job to run")
    horse = int(pid_file.read_text())
    assert horse != proc.pid  # RQ runs each job in a forked work horse
    assert services.reap_dead_jobs()["rq_failed"] == 0  # running fine: nothing to do
    os.kill(horse, signal.SIGKILL)  # out of memory, or killed past its limit
    from rq.job import JobStatus

    wait_until(
        lambda: rq_job(job).get_status() == JobStatus.FAILED, timeout=90, what="RQ to fail it"
    )
    assert Job.objects.get(pk=job.pk).status == "running"  # its own code never got to say
    reaped = services.reap_dead_jobs()
    assert (reaped["rq_failed"], reaped["failed"]) == (1, 0)  # the worker itself is alive
    row = Job.objects.get(pk=job.pk)
    assert row.status == "failed"
    assert proc.worker_id in row.message and "Work-horse terminated unexpectedly" in row.message
    assert row.progress_done == 1 and row.finished_at is not None
    assert services.reap_dead_jobs()["rq_failed"] == 0


def test_jobs_of_a_dead_machine_are_reaped_through_heartbeats(fleet, tmp_path):
    proc = fleet()
    pid_file = tmp_path / "horse.pid"
    job = start(
        sample_jobs.wait_noting_pid, None, path=str(tmp_path / "never"), pid_file=str(pid_file)
    )
    wait_until(lambda: Job.objects.get(pk=job.pk).progress_done == 1, timeout=90, what="job to run")
    # The whole machine goes: the worker and its children (the work horse, RQ's scheduler),
    # with no chance to tell Redis.
    for pid in [int(pid_file.read_text()), *children(proc.pid), proc.pid]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    proc.wait(timeout=10)
    long_ago = timezone.now() - datetime.timedelta(hours=1)
    assert WorkerRow.objects.filter(worker_id=proc.worker_id).update(last_seen=long_ago) == 1
    reaped = services.reap_dead_jobs()
    assert (reaped["failed"], reaped["rq_failed"]) == (1, 0)
    row = Job.objects.get(pk=job.pk)
    assert row.status == "failed" and proc.worker_id in row.message and "died" in row.message


def test_a_job_that_vanished_from_redis_is_queued_again(fleet, redis_url):
    import redis

    job = start(sample_jobs.count_items, None, items=["a", "b"])
    assert Job.objects.get(pk=job.pk).task_result_id
    redis.Redis.from_url(redis_url).flushdb()  # Redis restarted without its data
    reaped = services.reap_dead_jobs()
    assert reaped["rq_requeued"] == 1
    fleet()
    row = finished(job)
    assert (row.status, row.items_ok, row.attempts) == ("succeeded", 2, 1)


def test_a_job_started_while_redis_is_down_waits_and_runs_once_it_is_back(
    fleet, redis_url, settings, api_client, caplog
):
    client = api_client("admin")
    settings.RQ_QUEUES = {"default": {"URL": "redis://127.0.0.1:1/0", "DEFAULT_TIMEOUT": 3600}}
    # Through the API, as a person would: the export is accepted (202) and its job kept.
    response = client.post("/api/v1/exports", {"format": "csv"}, content_type="application/json")
    assert response.status_code == 202, response.content
    job = Job.objects.get(pk=response.json()["job"]["id"])
    row = Job.objects.get(pk=job.pk)
    assert (row.status, row.task_result_id) == ("queued", "")
    assert "waiting for the job queue" in caplog.text

    # Too new to be handed over again (its own enqueue may be about to happen) …
    settings.RQ_QUEUES = {"default": {"URL": redis_url, "DEFAULT_TIMEOUT": 3600}}
    assert services.reap_dead_jobs()["rq_requeued"] == 0
    # … but once older than the grace period, the reconciler queues it, and it runs.
    Job.objects.filter(pk=job.pk).update(created_at=timezone.now() - datetime.timedelta(minutes=5))
    assert services.reap_dead_jobs()["rq_requeued"] == 1
    assert Job.objects.get(pk=job.pk).task_result_id
    fleet()
    assert finished(job).status == "succeeded", Job.objects.get(pk=job.pk).message
    assert services.reap_dead_jobs()["rq_requeued"] == 0  # queued once, never twice


def test_a_job_queued_by_its_creator_and_the_reconciler_at_once_is_queued_once(
    fleet, redis_url, settings
):
    # A job whose creating transaction stayed open past the grace period: when it commits,
    # the reconciler may see it before its creator's own enqueue runs. Both try; one wins.
    settings.RQ_QUEUES = {"default": {"URL": "redis://127.0.0.1:1/0", "DEFAULT_TIMEOUT": 3600}}
    job = start(sample_jobs.count_items, None, items=["a"])
    other = start(sample_jobs.count_items, None, items=["b"])
    assert Job.objects.get(pk=job.pk).task_result_id == ""  # committed, not yet queued
    settings.RQ_QUEUES = {"default": {"URL": redis_url, "DEFAULT_TIMEOUT": 3600}}
    Job.objects.filter(pk=job.pk).update(created_at=timezone.now() - datetime.timedelta(minutes=5))
    fresh_claim = f"{services.ENQUEUE_CLAIM}{int(time.time())}:busy"
    Job.objects.filter(pk=other.pk).update(task_result_id=fresh_claim)

    assert services.reap_dead_jobs()["rq_requeued"] == 1  # the reconciler queued it …
    assert services._enqueue(job.pk) is False  # … so the creator's late enqueue does not
    import django_rq

    assert len(django_rq.get_queue("default")) == 1

    # A claim left by a process that died while queueing is taken over after the grace.
    stale_claim = f"{services.ENQUEUE_CLAIM}{int(time.time()) - 600}:gone"
    assert services.reap_dead_jobs()["rq_requeued"] == 0  # being queued right now: left alone
    Job.objects.filter(pk=other.pk).update(task_result_id=stale_claim)
    assert services.reap_dead_jobs()["rq_requeued"] == 1
    assert not Job.objects.get(pk=other.pk).task_result_id.startswith(services.ENQUEUE_CLAIM)

    fleet()
    assert finished(job).status == "succeeded"
    assert finished(other).status == "succeeded"
    assert Job.objects.get(pk=job.pk).attempts == 1
