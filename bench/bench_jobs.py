"""Background jobs end to end: start_job N trivial jobs, then run them through the real
database worker (folio.jobs.worker.Worker, batch mode, in this process).

Baseline, same run: the same trivial function called directly N times. The ratio is the cost
of the job machinery (Job row, task row, claiming, status updates, audit actor) per job.
Every job must have succeeded, or the benchmark fails.
"""

from collections import Counter

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tasks_db.models import DBTaskResult

from bench import data
from bench.harness import Metric, Result, Target, hotspots, summarize, timed
from folio.jobs.models import Job
from folio.jobs.services import job, start_job
from folio.jobs.worker import Worker

PARAMS = {
    "jobs": 500,
    "rounds": 3,
    "warmup_jobs": 50,
    "seed": data.DEFAULT_SEED,
    "enqueue": "start_job once per job, each in its own transaction (as N API calls would)",
    "worker": "folio.jobs.worker.Worker(batch=True) in this process, one worker",
    "job_body": "returns i * 2 (no database work of its own)",
}


@job("Benchmark: no-op")
def noop(ctx, *, i: int, sku: str) -> int:
    return i * 2


def run(ctx) -> Result:
    n, rounds = PARAMS["jobs"], PARAMS["rounds"]
    params = data.job_params(n, seed=PARAMS["seed"])

    # Baseline: the function itself, called directly.
    def direct():
        for p in params:
            noop(None, **p)

    def enqueue():
        return [start_job(noop, **p) for p in params]

    def drain():
        Worker(batch=True, interval=0).run()

    # Warm-up round (imports, first connections, statement caches), not timed.
    for p in params[: PARAMS["warmup_jobs"]]:
        start_job(noop, **p)
    drain()

    timings = []  # (enqueue s, worker s, direct s) per round, each from an empty queue
    for _ in range(rounds):
        Job.objects.all().delete()
        DBTaskResult.objects.all().delete()
        direct_seconds, _ = timed(direct)
        enqueue_seconds, _ = timed(enqueue)
        if Job.objects.filter(status=Job.Status.QUEUED).count() != n:
            raise RuntimeError("not every job was queued")
        run_seconds, _ = timed(drain)
        _check_all_succeeded(n, params)
        timings.append((enqueue_seconds, run_seconds, direct_seconds))
    # The median round by end-to-end time is reported; all rounds are in the diagnostics.
    timings.sort(key=lambda t: t[0] + t[1])
    enqueue_seconds, run_seconds, direct_seconds = timings[len(timings) // 2]

    # Per job, as the worker recorded it: started_at → finished_at (inside execute()).
    durations = [
        (f - s).total_seconds()
        for s, f in Job.objects.values_list("started_at", "finished_at")
        if s and f
    ]
    in_job = summarize(durations)

    # Where the worker's time goes: profile a second, smaller batch.
    profile_n = 100
    for p in params[:profile_n]:
        start_job(noop, **p)
    profile = hotspots(
        lambda: Worker(batch=True, interval=0).run(),
        1,
        ops_per_call=profile_n,
        focus=("folio/", "django_tasks_db/", "django_tasks/"),
    )
    queries = _queries_per_job(params[:profile_n])

    total = enqueue_seconds + run_seconds
    ms = 1000.0
    metrics = [
        Metric(
            "end_to_end_throughput",
            "jobs/s end to end (enqueue + run)",
            n / total,
            "jobs/s",
            target=Target(">=", 50.0, source="provisional"),
        ),
        Metric(
            "end_to_end_per_job",
            "end to end per job (enqueue + run)",
            total / n * ms,
            "ms",
            baseline=direct_seconds / n * ms,
            baseline_label="direct call",
        ),
        Metric(
            "per_job_overhead",
            "job machinery overhead per job (end to end − direct call)",
            (total - direct_seconds) / n * ms,
            "ms",
        ),
        Metric("enqueue_per_job", "start_job per job", enqueue_seconds / n * ms, "ms"),
        Metric(
            "worker_per_job",
            "worker time per job (claim, run, record)",
            run_seconds / n * ms,
            "ms",
        ),
        Metric(
            "execute_per_job",
            "inside execute(): started_at → finished_at, median",
            in_job["median"] * ms,
            "ms",
            p95=in_job["p95"] * ms,
        ),
    ]
    notes = [
        f"median of {rounds} rounds of {n} jobs: enqueue {enqueue_seconds:.2f} s, worker "
        f"{run_seconds:.2f} s, direct calls {direct_seconds * 1e6 / n:.2f} µs each; "
        "end to end per round: "
        + ", ".join(f"{e + r:.2f} s" for e, r, _ in sorted(timings, key=lambda t: t[0] + t[1])),
        f"database statements per job: {queries}",
    ]
    if connection.vendor == "sqlite":
        notes.append(
            "on SQLite (CONN_MAX_AGE=0) the worker closes its connection after every task and "
            "reconnects for the next (close_old_connections in the worker loop)"
        )
    return Result(
        name="jobs",
        title="trivial jobs through start_job and the database worker",
        description=(
            f"start_job {n} trivial jobs, run them with the real database worker (batch mode), "
            "against calling the same function directly (baseline, same run)."
        ),
        parameters=PARAMS,
        metrics=metrics,
        diagnostics={
            "rounds_seconds": [{"enqueue": e, "worker": r, "direct": d} for e, r, d in timings],
            "execute_ms": {k: (v * ms if k != "n" else v) for k, v in in_job.items()},
            "queries_per_job": queries,
            "worker_profile": profile,
        },
        notes=notes,
    )


def _check_all_succeeded(n: int, params: list[dict]) -> None:
    succeeded = Job.objects.filter(status=Job.Status.SUCCEEDED).count()
    tasks_ok = DBTaskResult.objects.filter(status="SUCCESSFUL").count()
    if succeeded != n or tasks_ok != n:
        statuses = Counter(Job.objects.values_list("status", flat=True))
        raise RuntimeError(
            f"{succeeded}/{n} jobs succeeded, {tasks_ok}/{n} task rows successful {statuses}"
        )
    if set(Job.objects.values_list("result", flat=True)) != {p["i"] * 2 for p in params}:
        raise RuntimeError("job results differ from the direct calls")


def _queries_per_job(params: list[dict]) -> dict:
    """SQL statements per job, averaged over a batch: start_job, and the worker's share
    (its start-up queries, once per run, are spread over the batch)."""
    with CaptureQueriesContext(connection) as enqueue:
        for p in params:
            start_job(noop, **p)
    with CaptureQueriesContext(connection) as worker:
        Worker(batch=True, interval=0).run()
    k = len(params)
    return {"start_job": round(len(enqueue) / k, 2), "worker": round(len(worker) / k, 2)}
