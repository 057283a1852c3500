"""Jobs through the real database worker: progress, per-item errors, cancellation, and what
happens when a worker dies mid-job."""

import datetime
import os
import signal
import socket
import subprocess

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from folio.accounts.audit import acting_as
from folio.jobs import services
from folio.jobs.models import Job
from folio.jobs.models import Worker as WorkerRow
from folio.jobs.worker import Worker
from tests.conftest import wait_until
from tests.jobs import sample_jobs

pytestmark = pytest.mark.django_db(transaction=True)


def start(func, client, **params):
    with acting_as(client.user, via="api"):
        return services.start_job(func, **params)


def job_state(client, job):
    response = client.get(f"/api/v1/jobs/{job.pk}")
    assert response.status_code == 200, response.content
    return response.json()


def finished(client, job, timeout=30):
    return wait_until(
        lambda: (
            (s := job_state(client, job))["status"] in ("succeeded", "failed", "cancelled") and s
        ),
        timeout=timeout,
        what=f"job {job.label} to finish",
    )


def test_jobs_run_in_the_worker_process(api_client, worker_process):
    client = api_client("catalog_editor")
    proc = worker_process()
    items = ["WB-1", "WB-2", "bad-1", "WB-3", "bad-2"]
    counted = start(sample_jobs.count_items, client, items=items, bad=["bad-1", "bad-2"])
    exploded = start(sample_jobs.explode, client)

    state = finished(client, counted)
    assert state["status"] == "succeeded"
    assert (state["progress_done"], state["progress_total"]) == (5, 5)
    assert (state["items_ok"], state["items_failed"]) == (3, 2)
    assert state["errors"] == [
        {"item": "bad-1", "message": "bad-1 is not a valid SKU", "column": "sku"},
        {"item": "bad-2", "message": "bad-2 is not a valid SKU", "column": "sku"},
    ]
    assert state["result"] == {"seen": 5}
    assert state["created_by"] == client.user.username
    assert state["attempts"] == 1

    state = finished(client, exploded)
    assert state["status"] == "failed"
    assert state["message"] == "RuntimeError: the supplier feed is unreachable"

    # It really was the subprocess, which beats its heartbeat under its own pid.
    row = Job.objects.get(pk=counted.pk)
    assert WorkerRow.objects.get(worker_id=row.worker_id).pid == proc.pid
    assert job_state(client, counted)["worker_id"] == row.worker_id  # shown to operators
    assert proc.poll() is None


def test_queued_job_is_cancelled_and_never_runs(api_client):
    client = api_client("catalog_editor")
    job = start(sample_jobs.count_items, client, items=["a"])
    response = client.post(f"/api/v1/jobs/{job.pk}/cancel")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "cancelled"
    assert response.json()["message"] == "cancelled before it started"

    Worker(batch=True).run()  # the queued task is picked up, and finds nothing to do
    state = job_state(client, job)
    assert (state["status"], state["attempts"], state["started_at"]) == ("cancelled", 0, None)
    # Cancelling it again is a conflict, in the one error body.
    response = client.post(f"/api/v1/jobs/{job.pk}/cancel")
    assert response.status_code == 409
    assert response.json()["error"]["details"] == {"status": "cancelled"}


def test_running_job_stops_when_cancelled(api_client, worker_process, tmp_path):
    client = api_client("catalog_editor")
    worker_process()
    job = start(sample_jobs.wait_for_file, client, path=str(tmp_path / "never"))
    wait_until(lambda: job_state(client, job)["status"] == "running", what="job to start")
    assert client.post(f"/api/v1/jobs/{job.pk}/cancel").json()["cancel_requested"] is True
    state = finished(client, job)
    assert state["status"] == "cancelled"
    assert state["message"] == "cancelled on request"


def test_only_starter_or_admin_may_cancel_and_agency_sees_own_jobs(api_client):
    editor = api_client("catalog_editor")
    viewer = api_client("viewer")
    agency = api_client("agency")
    job = start(sample_jobs.count_items, editor, items=["a"])
    response = viewer.post(f"/api/v1/jobs/{job.pk}/cancel")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    # Agency users see only the jobs they started themselves.
    assert agency.get(f"/api/v1/jobs/{job.pk}").status_code == 404
    assert agency.get("/api/v1/jobs").json()["results"] == []
    assert [j["id"] for j in viewer.get("/api/v1/jobs").json()["results"]] == [str(job.pk)]


def kill_worker_mid_job(client, worker_process, func, path):
    """Start `func` in a worker subprocess, SIGKILL the worker while the job runs, and make
    its heartbeat stale as if JOB_WORKER_DEAD_AFTER had passed."""
    proc = worker_process()
    job = start(func, client, path=str(path))
    wait_until(
        lambda: (s := job_state(client, job))["status"] == "running" and s["progress_done"] == 1,
        what="job to run",
    )
    worker_id = Job.objects.get(pk=job.pk).worker_id
    assert services.reap_dead_jobs()["failed"] == 0  # alive: nothing to reap
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    long_ago = timezone.now() - datetime.timedelta(hours=1)
    assert WorkerRow.objects.filter(worker_id=worker_id).update(last_seen=long_ago) == 1
    return job, worker_id


def test_job_of_a_dead_worker_is_failed(api_client, worker_process, tmp_path):
    client = api_client("catalog_editor")
    job, worker_id = kill_worker_mid_job(
        client, worker_process, sample_jobs.wait_for_file, tmp_path / "never"
    )
    assert services.reap_dead_jobs() == {"retried": 0, "failed": 1, "task_results_failed": 1}
    state = job_state(client, job)
    assert state["status"] == "failed"
    assert worker_id in state["message"] and "died" in state["message"]
    assert state["progress_done"] == 1  # partial progress is kept
    assert state["finished_at"] is not None
    task = DBTaskResult.objects.get(id=Job.objects.get(pk=job.pk).task_result_id)
    assert task.status == "FAILED"
    # Reaping again changes nothing.
    assert services.reap_dead_jobs() == {"retried": 0, "failed": 0, "task_results_failed": 0}


def test_job_of_a_dead_worker_is_retried_when_allowed(api_client, worker_process, tmp_path):
    client = api_client("catalog_editor")
    flag = tmp_path / "go"
    job, worker_id = kill_worker_mid_job(
        client, worker_process, sample_jobs.wait_for_file_retried, flag
    )
    assert services.reap_dead_jobs()["retried"] == 1
    state = job_state(client, job)
    assert state["status"] == "queued"
    assert state["message"] == f"worker {worker_id} died; retrying"

    flag.touch()
    Worker(batch=True).run()  # a healthy worker picks the retry up
    state = job_state(client, job)
    assert state["status"] == "succeeded", state
    assert state["attempts"] == 2
    # The retry started over: progress counts this attempt only.
    assert (state["progress_done"], state["progress_total"], state["items_ok"]) == (2, 2, 2)
    assert state["message"] == ""


def test_a_running_process_on_this_machine_is_alive_however_late_its_heartbeat():
    # A `folio import` holding SQLite's write lock cannot beat; it must not be reaped.
    long_ago = timezone.now() - datetime.timedelta(hours=1)
    host = socket.gethostname()
    WorkerRow.objects.create(
        worker_id="busy",
        hostname=host,
        pid=os.getpid(),
        started_at=timezone.now(),
        last_seen=long_ago,
    )
    # A dead process, a process that started after the row (its pid reused), another machine.
    dead = subprocess.Popen(["true"])
    dead.wait()
    WorkerRow.objects.create(
        worker_id="gone", hostname=host, pid=dead.pid, started_at=long_ago, last_seen=long_ago
    )
    WorkerRow.objects.create(
        worker_id="reused", hostname=host, pid=os.getpid(), started_at=long_ago, last_seen=long_ago
    )
    WorkerRow.objects.create(
        worker_id="elsewhere",
        hostname=f"not-{host}",
        pid=os.getpid(),
        started_at=timezone.now(),
        last_seen=long_ago,
    )
    alive = services.live_worker_ids()
    assert "busy" in alive
    assert not {"gone", "reused", "elsewhere"} & alive
