"""Rendition throughput with two RQ worker processes against one (the worker fleet).

As bench_rendition_workers (the database queue), but the jobs go through RQ on Redis and
`python -m folio worker` runs RQ workers, each job in a forked work horse. Same photos, same
preset, VIPS_CONCURRENCY=1 per worker, workers started and idle beforehand; timed from the
enqueue until every rendition is ready. Rounds alternate one and two workers; medians reported.

Environment: FOLIO_BENCH_REDIS_URL (default redis://127.0.0.1:6379/12; that Redis database is
emptied), FOLIO_BENCH_FLEET_IMAGES (default 32), FOLIO_BENCH_FLEET_ROUNDS (3). Without a
reachable Redis the benchmark says so and reports nothing.
"""

import io
import os
import statistics
import sys

from bench import bench_rendition_workers as db_queue
from bench.harness import Metric, Result, Target

REDIS_URL = os.environ.get("FOLIO_BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
PARAMS = {
    **db_queue.PARAMS,
    "images": int(os.environ.get("FOLIO_BENCH_FLEET_IMAGES", "32")),
    "rounds": int(os.environ.get("FOLIO_BENCH_FLEET_ROUNDS", "3")),
    "queue": "RQ on Redis (FOLIO_REDIS_URL), one forked work horse per job",
}


def run(ctx) -> Result | None:
    import redis
    from django.test.utils import override_settings

    from folio.assets import services
    from folio.assets.models import Asset
    from folio.jobs.models import Job

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        print(
            f"rendition_fleet: Redis at {REDIS_URL} unreachable ({exc}); skipped",
            file=sys.stderr,
        )
        return None
    client.flushdb()

    n = PARAMS["images"]
    assets = []
    for i in range(n):
        asset = services.add_asset(io.BytesIO(db_queue._photo(i)), filename=f"photo-{i}.jpg")
        assets.append(asset.pk)
    Asset.objects.filter(pk__in=assets).update(status=Asset.Status.APPROVED)
    Job.objects.all().delete()  # the previews of the uploads are not what is measured

    # This process enqueues to RQ, and the workers it starts run RQ workers.
    ctx.env = {**ctx.env, "FOLIO_REDIS_URL": REDIS_URL, "FOLIO_JOB_BACKEND": "rq"}
    fleet = override_settings(
        JOB_BACKEND="rq",
        TASKS={"default": {"BACKEND": "folio.jobs.fleet.FleetBackend", "QUEUES": ["default"]}},
        RQ_QUEUES={"default": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 3600}},
    )
    times = {1: [], 2: []}
    job_counts = set()
    with fleet:
        try:
            db_queue._round(ctx, assets[: min(4, n)], 1)  # warm-up: imports, first connections
            for _ in range(PARAMS["rounds"]):
                for workers in (1, 2):
                    seconds, jobs = db_queue._round(ctx, assets, workers)
                    times[workers].append(seconds)
                    job_counts.add(jobs)
        finally:
            client.flushdb()
    one, two = statistics.median(times[1]), statistics.median(times[2])
    rate_one, rate_two = n / one, n / two
    metrics = [
        Metric(
            "speedup_2_workers",
            "throughput with 2 RQ worker processes ÷ with 1",
            rate_two / rate_one,
            "x",
            target=Target(">=", 1.6, source="issue 11"),
        ),
        Metric(
            "throughput_2_workers",
            "renditions/s, 2 RQ workers",
            rate_two,
            "renditions/s",
            baseline=rate_one,
            baseline_label="1 worker",
        ),
        Metric(
            "per_rendition_1_worker", "seconds per rendition, 1 RQ worker", one / n * 1000, "ms"
        ),
    ]
    return Result(
        name="rendition_fleet",
        title="rendition throughput on the RQ worker fleet, 2 worker processes vs 1",
        description=(
            f"{n} generated 3000×2000 JPEGs through web-2048-webp by the real job system on RQ "
            "(Redis); worker processes with one libvips thread each; enqueue → all ready."
        ),
        parameters=PARAMS,
        metrics=metrics,
        diagnostics={
            "round_seconds": {f"{k}_worker(s)": v for k, v in times.items()},
            "render_jobs_per_round": sorted(job_counts),
            "cpu_count": os.cpu_count(),
        },
        notes=[
            "1 worker rounds: " + ", ".join(f"{t:.2f} s" for t in times[1]),
            "2 worker rounds: " + ", ".join(f"{t:.2f} s" for t in times[2]),
        ],
    )
