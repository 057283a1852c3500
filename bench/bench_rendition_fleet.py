"""Rendition throughput with two RQ worker processes against one (the worker fleet).

As bench_rendition_workers (the database queue), but the jobs go through RQ on Redis and
`python -m folio worker` runs RQ workers, each job in a forked work horse. Same photos, same
preset, VIPS_CONCURRENCY=1 per worker, workers started and idle beforehand; timed from the
enqueue until every rendition is ready. Rounds alternate one and two workers; medians reported.

Environment: FOLIO_BENCH_REDIS_URL (default redis://127.0.0.1:6379/12; that Redis database is
emptied), FOLIO_BENCH_FLEET_IMAGES (default 32), FOLIO_BENCH_FLEET_ROUNDS (3). Without a
reachable Redis the benchmark says so and reports nothing.
"""

import os
import sys

from bench import bench_rendition_workers as db_queue
from bench.harness import Result

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
    assets = db_queue._approved_photos(n)

    # This process enqueues to RQ, and the workers it starts run RQ workers.
    ctx.env = {**ctx.env, "FOLIO_REDIS_URL": REDIS_URL, "FOLIO_JOB_BACKEND": "rq"}
    fleet = override_settings(
        JOB_BACKEND="rq",
        TASKS={"default": {"BACKEND": "folio.jobs.fleet.FleetBackend", "QUEUES": ["default"]}},
        RQ_QUEUES={"default": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 3600}},
    )
    with fleet:
        try:
            times, job_counts = db_queue._rounds(ctx, assets, PARAMS["rounds"])
        finally:
            client.flushdb()
    return db_queue._result(
        name="rendition_fleet",
        title="rendition throughput on the RQ worker fleet, 2 worker processes vs 1",
        description=(
            f"{n} generated 3000×2000 JPEGs through web-2048-webp by the real job system on RQ "
            "(Redis); worker processes with one libvips thread each; enqueue → all ready."
        ),
        backend="RQ ",
        issue="issue 11",
        params=PARAMS,
        times=times,
        job_counts=job_counts,
    )
