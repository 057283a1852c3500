"""Rendition throughput with two worker processes against one.

N generated product photos (3000 × 2000 JPEG, each different) are rendered through the
`web-2048-webp` preset by the real job system: `ensure_renditions` queues the render jobs,
and `python -m folio worker` processes (started and idle beforehand, so start-up is not
timed) take them from the database queue. Each worker gets VIPS_CONCURRENCY=1 (one libvips
thread), so the speed-up measures the job system's parallelism across processes, not
libvips' threads. Timed: from the enqueue until every rendition is ready.

Rounds alternate one and two workers, each from an empty rendition cache; the median round
of each is reported. Every rendition must be ready and compliant, or the benchmark fails.
"""

import io
import os
import statistics
import subprocess
import sys
import time

from bench.harness import REPO_DIR, Metric, Result, Target

PARAMS = {
    "images": 32,
    "size": "3000 x 2000 JPEG (q 90), different content per image",
    "preset": "web-2048-webp (fit 2048, sRGB, sharpen, WebP q 82)",
    "rounds": 3,
    "worker_env": "VIPS_CONCURRENCY=1 per worker process",
    "jobs": "ensure_renditions splits the batch into jobs of at most cache.MAX_PER_JOB",
}


def _photo(i: int) -> bytes:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(i)
    h, w = 2000, 3000
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([(x * 255 // w), (y * 255 // h), ((x + y + i * 97) % 256)], axis=-1).astype(
        np.int16
    )
    noise = rng.integers(-12, 12, size=(h, w, 3), dtype=np.int16)
    pixels = np.clip(base + noise, 0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=90)
    return out.getvalue()


def _start_workers(ctx, n: int) -> list[subprocess.Popen]:
    env = {**os.environ, **ctx.env, "VIPS_CONCURRENCY": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    return [
        subprocess.Popen(
            [sys.executable, "-m", "folio", "worker"],
            cwd=REPO_DIR,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(n)
    ]


def _stop(workers) -> None:
    for proc in workers:
        proc.terminate()
    for proc in workers:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_for_workers(pids: set[int], timeout: float = 60) -> None:
    from folio.jobs.models import Worker

    deadline = time.monotonic() + timeout
    while set(Worker.objects.filter(pid__in=pids).values_list("pid", flat=True)) != pids:
        if time.monotonic() > deadline:
            raise RuntimeError("the worker processes did not start")
        time.sleep(0.1)


def _round(ctx, asset_ids: list[int], workers: int) -> tuple[float, int]:
    from folio.jobs.models import Worker
    from folio.renditions import cache
    from folio.renditions.models import Rendition

    Rendition.objects.all().delete()
    Worker.objects.all().delete()
    procs = _start_workers(ctx, workers)
    try:
        _wait_for_workers({p.pid for p in procs})
        started = time.perf_counter()
        _, jobs = cache.ensure_renditions(asset_ids, ["web-2048-webp"])
        while Rendition.objects.filter(status="pending").exists():
            if time.perf_counter() - started > 900:
                raise RuntimeError("renditions did not finish within 15 minutes")
            time.sleep(0.02)
        seconds = time.perf_counter() - started
    finally:
        _stop(procs)
    bad = Rendition.objects.exclude(status="ready").values_list("error", flat=True)
    if bad:
        raise RuntimeError(f"{len(bad)} renditions failed: {bad[0]}")
    if Rendition.objects.filter(compliance__passed=False).exists():
        raise RuntimeError("a rendition failed its compliance check")
    return seconds, len(jobs)


def _approved_photos(n: int) -> list[int]:
    """Upload n generated photos as approved assets; their ids. The preview jobs the uploads
    queue are deleted: they are not what is measured."""
    from folio.assets import services
    from folio.assets.models import Asset
    from folio.jobs.models import Job

    assets = []
    for i in range(n):
        asset = services.add_asset(io.BytesIO(_photo(i)), filename=f"photo-{i}.jpg")
        assets.append(asset.pk)
    Asset.objects.filter(pk__in=assets).update(status=Asset.Status.APPROVED)
    Job.objects.all().delete()
    return assets


def _rounds(ctx, assets: list[int], rounds: int) -> tuple[dict[int, list[float]], set[int]]:
    """A warm-up round, then `rounds` rounds alternating one and two workers: the seconds of
    each round by worker count, and the numbers of render jobs the rounds were split into."""
    _round(ctx, assets[:4], 1)  # warm-up: imports, first connections
    times = {1: [], 2: []}
    job_counts = set()
    for _ in range(rounds):
        for workers in (1, 2):
            seconds, jobs = _round(ctx, assets, workers)
            times[workers].append(seconds)
            job_counts.add(jobs)
    return times, job_counts


def _result(
    *,
    name: str,
    title: str,
    description: str,
    backend: str,
    issue: str,
    params: dict,
    times: dict[int, list[float]],
    job_counts: set[int],
) -> Result:
    """The report both queues share. `backend` names the worker kind in the metric labels
    ("" for the database queue, "RQ " for the fleet); `issue` is where the target comes from."""
    n = params["images"]
    one, two = statistics.median(times[1]), statistics.median(times[2])
    rate_one, rate_two = n / one, n / two
    metrics = [
        Metric(
            "speedup_2_workers",
            f"throughput with 2 {backend}worker processes ÷ with 1",
            rate_two / rate_one,
            "x",
            target=Target(">=", 1.6, source=issue),
        ),
        Metric(
            "throughput_2_workers",
            f"renditions/s, 2 {backend}workers",
            rate_two,
            "renditions/s",
            baseline=rate_one,
            baseline_label="1 worker",
        ),
        Metric(
            "per_rendition_1_worker",
            f"seconds per rendition, 1 {backend}worker",
            one / n * 1000,
            "ms",
        ),
    ]
    return Result(
        name=name,
        title=title,
        description=description,
        parameters=params,
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


def run(ctx) -> Result:
    from django_tasks_db.models import DBTaskResult

    n = PARAMS["images"]
    assets = _approved_photos(n)
    DBTaskResult.objects.all().delete()  # the database queue's records of those previews
    times, job_counts = _rounds(ctx, assets, PARAMS["rounds"])
    return _result(
        name="rendition_workers",
        title="rendition throughput, 2 worker processes vs 1",
        description=(
            f"{n} generated 3000×2000 JPEGs through web-2048-webp by the real job system; "
            "worker processes with one libvips thread each; enqueue → all ready."
        ),
        backend="",
        issue="issue 5",
        params=PARAMS,
        times=times,
        job_counts=job_counts,
    )
