"""Adding files: the synchronous part of add_asset against copying and hashing the same bytes,
and peak memory of large uploads (issue 4, item 13).

a) Subject: `services.add_asset(path, filename=…)` for 200 distinct JPEGs of ~5 MB
   (`bench/assets_data.py`, seeded, cached in var/bench/): hash in place, header metadata
   (libvips, EXIF), store into the media folder (FileSystemStorage in this run's fresh
   FOLIO_VAR), rows, history, audit, search index, and the "Make previews" job *enqueued*
   (its cost is included; the job itself — previews and perceptual hash — is not run).
b) Baseline, same run, same files: a plain streamed copy into a fresh folder with SHA-256
   over the bytes in the same pass (1 MiB chunks). The target (≤ 2×, from the issue) is on
   add_asset ÷ this. Cross-check on every 4th file: `shutil.copyfile` (sendfile) followed by
   `hashlib.file_digest`, to show the baseline is not a slow one. Subject and baseline run
   file by file in alternating order, in 3 rounds from the same state (no assets, no
   copies, dirty pages written out with os.sync); the median round is reported, all rounds
   are in the diagnostics. Every source file is read before each round (warm page cache);
   nothing is fsynced (neither does Django's FileSystemStorage). Wall time per phase of
   add_asset is taken by wrapping the functions it calls (a few µs per file), and cProfile
   runs on 10 more files.
c) The same through the API: multipart `POST /api/v1/assets` with a token through
   django.test.Client, for 20 other files of the same set, alternating with baseline b1.
   No target; the client's own cost of building the multipart body is measured apart.

Memory: in a fresh subprocess per case, one real MP4 of 100 MB, 500 MB and 2 GiB (made by
`assets_data.make_video`, deleted afterwards) goes through the resumable chunked upload API
(8 MiB chunks), `add_asset(path)` and `add_asset(open file)`. Peak RSS (VmHWM, reset through
/proc/self/clear_refs after a warm-up upload of a small video through the same path) is
compared with the RSS just before. The resumable path is measured twice: through
`folio.assets.uploads` with each chunk read from a stream (what the server holds), and
through the API with django.test.Client (which also holds each chunk's body in memory,
as a client process would; gc.collect() after each request, since the test client's
responses are reference cycles that keep each 8 MiB body until the cyclic GC runs).
Peak memory must stay flat whatever the size. Benchmark only: never part of the test suite
(the files are too big).

Environment: FOLIO_BENCH_ASSETS_IMAGES (default 200), FOLIO_BENCH_ASSETS_ROUNDS (3),
FOLIO_BENCH_ASSETS_MEMORY_MB (default "100,500,2048"; "" skips the memory part),
FOLIO_BENCH_SEED.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

MB = 1_000_000
MIB = 1024 * 1024
IMAGES = int(os.environ.get("FOLIO_BENCH_ASSETS_IMAGES", "200"))
ROUNDS = int(os.environ.get("FOLIO_BENCH_ASSETS_ROUNDS", "3"))
SEED = int(os.environ.get("FOLIO_BENCH_SEED", "20250101"))
WARMUP_IMAGES, API_IMAGES, PROFILE_IMAGES = 4, 20, 10
MEMORY_SIZES_MB = [
    int(x) for x in os.environ.get("FOLIO_BENCH_ASSETS_MEMORY_MB", "100,500,2048").split(",") if x
]
MEMORY_MODES = ("chunked_service", "chunked_api", "add_asset_path", "add_asset_stream")
CHUNK_BYTES = 8 * MIB  # resumable upload chunk (client side)
COPY_CHUNK = 1 * MIB
MEMORY_BOUND_MIB = 64.0  # peak RSS growth allowed at any size
FLAT_BOUND_MIB = 16.0  # growth at the largest size minus growth at the smallest

PARAMS = {
    "images": IMAGES,
    "image_target_bytes": 5_000_000,
    "image_dimensions": "3000×2000 to 4000×3000 (6–12 MP, a quarter portrait), seeded",
    "jpeg_quality": 95,
    "seed": SEED,
    "warmup_images": WARMUP_IMAGES,
    "api_images": API_IMAGES,
    "profile_images": PROFILE_IMAGES,
    "rounds": ROUNDS,
    "order": "per file, alternating folio/stream and stream/folio; copyfile (b2) on every "
    "4th file, between them",
    "page_cache": "warm: every source file read once before timing; outputs not fsynced",
    "storage": "FileSystemStorage, fresh FOLIO_VAR/media on the local disk",
    "baseline_chunk_bytes": COPY_CHUNK,
    "memory_sizes_mb": MEMORY_SIZES_MB,
    "memory_modes": list(MEMORY_MODES),
    "memory_video": "MP4, MPEG-4 Part 2 intra-only, 1920×1080, 25 fps (assets_data.make_video)",
    "resumable_chunk_bytes": CHUNK_BYTES,
    "chunked_api_gc": "gc.collect() after each PUT (test client garbage, see docstring)",
}


# --- baselines ----------------------------------------------------------------------------------


def copy_and_hash_stream(src: Path, dst: Path) -> str:
    """One pass: read 1 MiB, hash it, write it."""
    digest = hashlib.sha256()
    with open(src, "rb") as f, open(dst, "wb") as out:
        while chunk := f.read(COPY_CHUNK):
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def copy_then_hash(src: Path, dst: Path) -> str:
    """shutil.copyfile (sendfile on Linux: no copy through Python), then hash the source."""
    shutil.copyfile(src, dst)
    with open(src, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


# --- the benchmark --------------------------------------------------------------------------------


def run(ctx):
    from django.conf import settings
    from django.test import Client

    from bench import assets_data
    from bench.harness import Metric, Result, Target, hotspots, summarize
    from folio.accounts import services as accounts
    from folio.assets import services
    from folio.assets.models import Asset, Blob
    from folio.jobs.models import Job

    user = accounts.create_user("bench-uploader", roles=["asset_manager"])
    _, token = accounts.create_token(user, "bench uploads")
    auth = f"Bearer {token}"

    # The files: 200 measured + warm-up + API subset + profiling, all distinct.
    total_files = IMAGES + WARMUP_IMAGES + API_IMAGES + PROFILE_IMAGES
    t0 = time.perf_counter()
    folder, rows = assets_data.jpeg_set(total_files, seed=SEED)
    dataset_seconds = time.perf_counter() - t0
    main = rows[:IMAGES]
    warm = rows[IMAGES : IMAGES + WARMUP_IMAGES]
    api = rows[IMAGES + WARMUP_IMAGES : IMAGES + WARMUP_IMAGES + API_IMAGES]
    prof = rows[IMAGES + WARMUP_IMAGES + API_IMAGES :]

    # Warm the page cache with every source file (and check the cache is what it says).
    t0 = time.perf_counter()
    for r in rows:
        with open(folder / r["name"], "rb") as f:
            if hashlib.file_digest(f, "sha256").hexdigest() != r["sha256"]:
                raise RuntimeError(f"cached file {r['name']} differs from its manifest")
    warm_read_seconds = time.perf_counter() - t0

    media = Path(settings.MEDIA_ROOT)
    dirs = {n: media.parent / f"baseline-{n}" for n in ("stream", "copyfile")}
    for d in dirs.values():
        d.mkdir()

    def folio_add(r):
        services.add_asset(folder / r["name"], filename=r["name"], user=user)
        return r["sha256"]

    def stream(r):
        return copy_and_hash_stream(folder / r["name"], dirs["stream"] / r["name"])

    def copyfile(r):
        return copy_then_hash(folder / r["name"], dirs["copyfile"] / r["name"])

    variants = {"folio": folio_add, "stream": stream, "copyfile": copyfile}
    for r in warm:  # imports, first connections, libvips start-up
        for fn in variants.values():
            fn(r)

    # a) and b): ROUNDS rounds from the same state, each file by file in alternating order;
    # b2 on every 4th file only (a cross-check that b1 is not a slow baseline).
    clock, cpu_clock = time.perf_counter, time.process_time
    rounds = []
    for k in range(ROUNDS):
        _reset(media, dirs)  # untimed: no assets, blobs, jobs, copies; dirty pages written out
        for r in main:  # page cache warm for every source file
            Path(folder / r["name"]).read_bytes()
        times: dict[str, list[float]] = {"folio": [], "stream": [], "copyfile": []}
        b2_pairs = []  # (b1, b2) seconds on the files where both ran
        cpu = dict.fromkeys(times, 0.0)  # process CPU time (user + system, all threads)
        with phase_timer() as spent:  # a few µs per file: wall time per phase of add_asset
            for i, r in enumerate(main):
                order = ["folio", "stream"] if (i + k) % 2 == 0 else ["stream", "folio"]
                if i % 4 == 0:
                    order.insert(1, "copyfile")
                for name in order:
                    t, c = clock(), cpu_clock()
                    digest = variants[name](r)
                    times[name].append(clock() - t)
                    cpu[name] += cpu_clock() - c
                    if digest != r["sha256"]:
                        raise RuntimeError(f"{name} hashed {r['name']} wrong")
                if i % 4 == 0:
                    b2_pairs.append((times["stream"][-1], times["copyfile"][-1]))
        checks = _check_added(main, Asset, Blob, Job, dirs["stream"])
        seconds = {n: sum(v) for n, v in times.items()}
        rounds.append(
            {
                "seconds": seconds,
                "ratio": seconds["folio"] / seconds["stream"],
                "cpu_s": cpu,
                "cpu_ratio": cpu["folio"] / cpu["stream"],
                "per_file": {n: summarize(v) for n, v in times.items()},
                "b2_vs_b1_per_file_median": statistics.median(b / a for a, b in b2_pairs),
                "phases_ms": _per_file(spent, seconds["folio"], IMAGES),
                "checks": checks,
            }
        )
    chosen = sorted(rounds, key=lambda x: x["ratio"])[len(rounds) // 2]  # the median round
    seconds, cpu, per_file = chosen["seconds"], chosen["cpu_s"], chosen["per_file"]
    phases, checks = chosen["phases_ms"], chosen["checks"]
    total_bytes = sum(r["size"] for r in main)
    base_name = "stream"

    # c) the API, alternating with the streamed baseline, on other files.
    from django.test.client import BOUNDARY, encode_multipart

    client = Client()
    api_times, api_base, encode_times = [], [], []
    api_spent: dict[str, float] = {}
    api_patch = _wrap(services, "add_asset", "add_asset", api_spent)
    api_bytes = sum(r["size"] for r in api)
    for i, r in enumerate(api):
        path = folder / r["name"]

        def upload(r=r, path=path):
            with open(path, "rb") as fh:
                resp = client.post("/api/v1/assets", {"file": fh}, HTTP_AUTHORIZATION=auth)
            if resp.status_code != 201:
                raise RuntimeError(f"API upload answered {resp.status_code}: {resp.content[:300]}")
            if resp.json()["current_version"]["sha256"] != r["sha256"]:
                raise RuntimeError("the API stored different bytes")

        def base(r=r):
            stream_dst = dirs["stream"] / f"api-{r['name']}"
            copy_and_hash_stream(folder / r["name"], stream_dst)

        pair = (
            [("api", upload), ("base", base)] if i % 2 == 0 else [("base", base), ("api", upload)]
        )
        for name, fn in pair:
            t = clock()
            fn()
            (api_times if name == "api" else api_base).append(clock() - t)
        with open(path, "rb") as fh:  # the test client's own work, for the reader
            t = clock()
            encode_multipart(BOUNDARY, {"file": fh})
            encode_times.append(clock() - t)
    api_patch()
    api_sum = summarize(api_times)
    api_in_add = 1000 * api_spent["add_asset"] / len(api)

    # Where add_asset's time goes: profile it on 10 more files.
    profile = hotspots(
        lambda: [folio_add(r) for r in prof],
        1,
        ops_per_call=len(prof),
        top=15,
        focus=("folio/",),
    )

    # Free the disk before the memory part (the harness removes FOLIO_VAR at the end anyway).
    for d in dirs.values():
        shutil.rmtree(d, ignore_errors=True)

    memory = _memory(ctx, user, token) if MEMORY_SIZES_MB else {}

    ms = 1000.0
    mb = total_bytes / MB
    metrics = [
        Metric(
            "sync_add_vs_copy_hash",
            f"add_asset × {IMAGES} (~5 MB JPEGs), synchronous part, total (median of "
            f"{ROUNDS} rounds)",
            seconds["folio"],
            "s",
            baseline=seconds[base_name],
            baseline_label=f"copy + SHA-256 ({base_name})",
            target=Target("<=", 2.0, on="ratio", source="issue"),
            note="previews/phash jobs enqueued (cost included), not run",
        ),
        Metric(
            "add_asset_throughput",
            "add_asset throughput",
            mb / seconds["folio"],
            "MB/s",
            baseline=mb / seconds[base_name],
            baseline_label=f"copy + SHA-256 ({base_name})",
        ),
        Metric(
            "add_asset_per_file",
            "add_asset per file: median",
            per_file["folio"]["median"] * ms,
            "ms",
            p95=per_file["folio"]["p95"] * ms,
            baseline=per_file[base_name]["median"] * ms,
            baseline_label=f"copy + SHA-256 ({base_name}), median",
        ),
        Metric(
            "sync_add_cpu",
            f"add_asset × {IMAGES}, process CPU time (user + system)",
            cpu["folio"],
            "s",
            baseline=cpu[base_name],
            baseline_label=f"copy + SHA-256 ({base_name}), CPU time",
            note="less sensitive than wall time to other processes on the machine",
        ),
        Metric(
            "sync_add_ratio_rounds",
            f"ratio add_asset / copy + SHA-256 in each of the {ROUNDS} rounds: max",
            max(x["ratio"] for x in rounds),
            "x",
            note=", ".join(f"{x['ratio']:.2f}" for x in rounds),
        ),
        Metric(
            "baseline_b2_vs_b1",
            "cross-check: shutil.copyfile + hashlib.file_digest per file ÷ b1 (every 4th file)",
            chosen["b2_vs_b1_per_file_median"],
            "x",
        ),
        Metric(
            "api_upload_per_file",
            f"POST /api/v1/assets multipart (test client, token), {API_IMAGES} files: median",
            api_sum["median"] * ms,
            "ms",
            p95=api_sum["p95"] * ms,
            baseline=summarize(api_base)["median"] * ms,
            baseline_label="copy + SHA-256 (stream), median",
        ),
        Metric(
            "api_upload_throughput",
            "API upload throughput (incl. the test client building the body)",
            api_bytes / MB / sum(api_times),
            "MB/s",
            baseline=api_bytes / MB / sum(api_base),
            baseline_label="copy + SHA-256 (stream)",
        ),
        Metric(
            "api_client_encode_per_file",
            "of which the test client builds the multipart body: median",
            summarize(encode_times)["median"] * ms,
            "ms",
        ),
    ]
    metrics += _memory_metrics(memory, Metric, Target)

    notes = [
        f"{IMAGES} JPEGs, {total_bytes / MB:,.0f} MB ({min(r['size'] for r in main) / MB:.2f}–"
        f"{max(r['size'] for r in main) / MB:.2f} MB each); per round (add_asset / streamed "
        "copy+hash, wall; CPU): "
        + "; ".join(
            f"{x['seconds']['folio']:.2f} / {x['seconds']['stream']:.2f} s = {x['ratio']:.2f}×; "
            f"CPU {x['cpu_ratio']:.2f}×"
            for x in rounds
        )
        + " (the median round is reported)",
        f"checked: {checks['assets']} assets with the right SHA-256, size and pixel size, "
        f"{checks['stored_files']} stored files, {checks['jobs_queued']} 'Make previews' jobs "
        f"queued and {checks['jobs_run']} run; EXIF artist → creator on {checks['creator']}",
        f"page cache warm: all {len(rows)} source files read before timing "
        f"({warm_read_seconds:.1f} s) and again before each round; dirty pages written out "
        "(os.sync) before each round; "
        f"data set {'built' if dataset_seconds > 5 else 'cached'} "
        f"in {folder.relative_to(folder.parent.parent.parent)}",
    ]
    for mode, per_size in memory.items():
        text = ", ".join(
            f"{s} MB: +{v['growth_mib']:.1f} MiB ({v['seconds']:.1f} s)"
            for s, v in per_size.items()
        )
        notes.append(f"memory, {mode}: peak RSS growth {text}")

    return Result(
        name="assets",
        title="adding files: add_asset vs copy + SHA-256, and memory of large uploads",
        description=(
            f"services.add_asset for {IMAGES} distinct ~5 MB JPEGs (store, SHA-256, header "
            "metadata, rows; preview jobs enqueued, not run) against copying the same files "
            "and hashing them (baseline, same run, interleaved per file); the multipart API on "
            f"{API_IMAGES} more; peak RSS of 100 MB–2 GiB video uploads in subprocesses."
        ),
        parameters=PARAMS | {"total_bytes": total_bytes},
        metrics=metrics,
        diagnostics={
            "per_file_ms": {
                n: {k: (v * ms if k != "n" else v) for k, v in s.items()}
                for n, s in per_file.items()
            },
            "totals_s": seconds,
            "rounds": rounds,
            "api_ms": {k: (v * ms if k != "n" else v) for k, v in api_sum.items()},
            "warm_read_s": warm_read_seconds,
            "dataset": {"dir": str(folder), "files": len(rows), "seconds": dataset_seconds},
            "checks": checks,
            "cpu_s": cpu,
            "add_asset_phases_ms": phases,
            "api_ms_per_file_split": {
                "total_mean": round(1000 * sum(api_times) / len(api), 2),
                "in_add_asset": round(api_in_add, 2),
                "test_client_body_encoding": round(1000 * sum(encode_times) / len(api), 2),
                "request_parsing_auth_response": round(
                    1000 * (sum(api_times) - sum(encode_times)) / len(api) - api_in_add, 2
                ),
            },
            "add_asset_profile": profile,
            "memory": memory,
        },
        notes=notes,
    )


PHASES = [  # (module path, attribute, label); _store_file runs inside storage.put
    (
        "folio.assets.storage",
        "spool_path",
        "hash + copy into media staging, one pass (storage.spool_path)",
    ),
    ("folio.assets.metadata", "extract", "header metadata (metadata.extract)"),
    (
        "folio.assets.services",
        "_blob_and_duplicate",
        "blob lookup + duplicate check (services._blob_and_duplicate)",
    ),
    ("folio.assets.storage", "put", "store bytes + Blob row (storage.put)"),
    ("folio.assets.storage", "_store_file", "of which rename into place (storage._store_file)"),
    ("folio.assets.storage", "_save_marker", "of which pending marker (storage._save_marker)"),
    ("folio.search.index", "index_documents", "search index write (index.index_documents)"),
    ("folio.assets.browse", "reindex", "search re-read (browse.reindex; none for a new asset)"),
    ("folio.accounts.audit", "record", "audit entry (audit.record)"),
    ("folio.assets.previews", "start_job", "preview Job row (start_job)"),
    ("folio.jobs.services", "_enqueue", "task row on commit (jobs._enqueue)"),
]
NESTED = {
    "of which rename into place (storage._store_file)",
    "of which pending marker (storage._save_marker)",
}


def _wrap(owner, attr: str, label: str, spent: dict):
    """Replace owner.attr by a wrapper adding its wall time to spent[label]; returns undo."""
    import contextlib

    original = getattr(owner, attr)
    if attr == "spool_path":  # a context manager: time until it yields (hashing + copying)

        @contextlib.contextmanager
        def wrapper(*args, **kwargs):
            t = time.perf_counter()
            with original(*args, **kwargs) as value:
                spent[label] = spent.get(label, 0.0) + time.perf_counter() - t
                yield value

    else:

        def wrapper(*args, **kwargs):
            t = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                spent[label] = spent.get(label, 0.0) + time.perf_counter() - t

    setattr(owner, attr, wrapper)
    return lambda: setattr(owner, attr, original)


@contextlib.contextmanager
def phase_timer():
    """Time add_asset's phases by wrapping what it calls through module attributes."""
    import importlib

    spent: dict[str, float] = {}
    undo = []
    try:
        for path, attr, label in PHASES:
            module, _, cls = path.rpartition(".")
            if cls[0].isupper():
                owner = getattr(importlib.import_module(module), cls)
            else:
                owner = importlib.import_module(path)
            undo.append(_wrap(owner, attr, label, spent))
        yield spent
    finally:
        for fn in reversed(undo):
            fn()


def _per_file(spent: dict, total: float, n: int) -> dict:
    out = {label: round(1000 * spent.get(label, 0.0) / n, 2) for _, _, label in PHASES}
    outer = sum(v for k, v in spent.items() if k not in NESTED)
    out["rest (rows, history, signals, transaction, wrappers)"] = round(
        1000 * (total - outer) / n, 2
    )
    out["total"] = round(1000 * total / n, 2)
    out["files"] = n
    return out


def _reset(media: Path, dirs: dict) -> None:
    """Back to no assets: rows, blobs, stored files, jobs, search documents, baseline copies;
    then write dirty pages out so each round starts from the same writeback state."""
    from django_tasks_db.models import DBTaskResult

    from folio.assets import storage
    from folio.assets.models import Asset
    from folio.jobs.models import Job
    from folio.search import index as search_index

    ids = list(Asset.objects.values_list("pk", flat=True))
    Asset.objects.update(current_version=None)
    Asset.objects.all().delete()
    storage.delete_unreferenced_blobs()
    search_index.remove_documents("asset", ids)
    Job.objects.all().delete()
    DBTaskResult.objects.all().delete()
    for d in (media / "blobs", media / "pending", *dirs.values()):
        shutil.rmtree(d, ignore_errors=True)
    for d in dirs.values():
        d.mkdir()
    os.sync()


def _check_added(rows, Asset, Blob, Job, copies: Path) -> dict:
    from django.core.files.storage import default_storage

    from folio.assets import storage

    by_name = {r["name"]: r for r in rows}
    assets = list(Asset.objects.select_related("current_version"))
    if len(assets) != len(rows):
        raise RuntimeError(f"{len(assets)} assets for {len(rows)} files")
    creator = 0
    for a in assets:
        v = a.current_version
        r = by_name[v.filename]
        if (v.blob_id, v.size, v.width, v.height, v.mime) != (
            r["sha256"],
            r["size"],
            r["width"],
            r["height"],
            "image/jpeg",
        ):
            raise RuntimeError(f"{v.filename} was stored wrong: {v.blob_id} {v.size}")
        creator += a.creator.startswith("Photographer")
    stored = 0
    for blob in Blob.objects.all():
        if default_storage.size(storage.blob_name(blob.sha256)) != blob.size:
            raise RuntimeError(f"stored file of {blob.sha256} has the wrong size")
        stored += 1
    for r in rows:
        if (copies / r["name"]).stat().st_size != r["size"]:
            raise RuntimeError(f"baseline copy {copies / r['name']} has the wrong size")
    queued = Job.objects.filter(label="Make previews", status=Job.Status.QUEUED).count()
    run_jobs = Job.objects.exclude(status=Job.Status.QUEUED).count()
    if queued != len(rows) or run_jobs:
        raise RuntimeError(f"{queued} preview jobs queued, {run_jobs} run, for {len(rows)} files")
    return {
        "assets": len(assets),
        "stored_files": stored,
        "jobs_queued": queued,
        "jobs_run": run_jobs,
        "creator": creator,
    }


# --- memory ---------------------------------------------------------------------------------------


def _memory(ctx, user, token) -> dict:
    """{mode: {size_mb: figures}}, each case in a fresh process."""
    from bench import assets_data

    work = ctx.var_dir / "memory"
    work.mkdir()
    results: dict = {m: {} for m in MEMORY_MODES}
    warm_video = work / "warmup.mp4"
    assets_data.make_video(warm_video, 8 * MB, seed=SEED + 1)
    try:
        for size_mb in MEMORY_SIZES_MB:
            video = work / f"video-{size_mb}mb.mp4"
            nbytes = size_mb * MIB if size_mb >= 1024 else size_mb * MB
            t0 = time.perf_counter()
            facts = assets_data.make_video(video, nbytes, seed=SEED + size_mb)
            facts["make_seconds"] = round(time.perf_counter() - t0, 1)
            with open(video, "rb") as f:
                facts["sha256"] = hashlib.file_digest(f, "sha256").hexdigest()
            for mode in MEMORY_MODES:
                out = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "bench.bench_assets",
                        "--memory-child",
                        mode,
                        str(video),
                        str(warm_video),
                    ],
                    env=ctx.subprocess_env()
                    | {
                        "FOLIO_BENCH_TOKEN": token,
                        "FOLIO_BENCH_USER": user.username,
                        "FOLIO_BENCH_SHA256": facts["sha256"],
                    },
                    capture_output=True,
                    text=True,
                    cwd=Path(__file__).resolve().parent.parent,
                )
                if out.returncode != 0:
                    raise RuntimeError(f"memory child {mode} {size_mb} MB failed:\n{out.stderr}")
                figures = json.loads(out.stdout.strip().splitlines()[-1])
                figures["file_bytes"] = facts["bytes"]
                figures["video"] = {k: facts[k] for k in ("frames", "seconds", "make_seconds")}
                results[mode][size_mb] = figures
            video.unlink()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return results


def _memory_metrics(memory: dict, Metric, Target) -> list:
    metrics = []
    for mode, per_size in memory.items():
        if not per_size:
            continue
        sizes = sorted(per_size)
        for size in sizes:
            v = per_size[size]
            label = f"{size / 1024:g} GiB" if size >= 1024 else f"{size} MB"
            metrics.append(
                Metric(
                    f"memory_{mode}_{size}",
                    f"peak RSS growth, {mode.replace('_', ' ')}, {label} video "
                    f"({v['mb_per_s']:.0f} MB/s)",
                    v["growth_mib"],
                    "MiB",
                    baseline=v["idle_rss_mib"],
                    baseline_label="RSS before the upload (after a warm-up upload)",
                    target=Target("<=", MEMORY_BOUND_MIB, source="brief"),
                )
            )
        if len(sizes) > 1:
            lo, hi = per_size[sizes[0]], per_size[sizes[-1]]
            metrics.append(
                Metric(
                    f"memory_{mode}_slope",
                    f"growth at {sizes[-1]} MB minus growth at {sizes[0]} MB, {mode}",
                    hi["growth_mib"] - lo["growth_mib"],
                    "MiB",
                    target=Target("<=", FLAT_BOUND_MIB, source="brief"),
                )
            )
    return metrics


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux ≥ 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class _Body:
    """A request body of n bytes read from f, as a WSGI server's input stream gives it."""

    def __init__(self, f, n: int):
        self.f, self.left = f, n

    def read(self, size: int = -1) -> bytes:
        size = self.left if size is None or size < 0 else min(size, self.left)
        data = self.f.read(size)
        self.left -= len(data)
        return data


def _memory_child(mode: str, video: str, warm_video: str) -> int:
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.test import Client

    from folio.assets import services, storage, uploads
    from folio.assets.models import Asset

    user = get_user_model().objects.get(username=os.environ["FOLIO_BENCH_USER"])
    auth = f"Bearer {os.environ['FOLIO_BENCH_TOKEN']}"
    client = Client()

    def upload(path: Path):
        if mode == "add_asset_path":
            return services.add_asset(path, filename=path.name, user=user)
        if mode == "add_asset_stream":
            with open(path, "rb") as f:
                return services.add_asset(f, filename=path.name, user=user)
        size = path.stat().st_size
        if mode == "chunked_service":  # uploads.* as the API calls them, the body a stream
            upload = uploads.start_upload(filename=path.name, size=size, user=user)
            offset = 0
            with open(path, "rb") as f:
                while offset < size:
                    n = min(CHUNK_BYTES, size - offset)
                    uploads.receive_chunk(
                        upload.id,
                        _Body(f, n),
                        content_range=f"bytes {offset}-{offset + n - 1}/{size}",
                        user=user,
                    )
                    offset += n
            return uploads.complete_upload(upload.id, user=user)
        r = client.post(
            "/api/v1/assets/uploads",
            {"filename": path.name, "size": size},
            content_type="application/json",
            HTTP_AUTHORIZATION=auth,
        )
        if r.status_code != 201:
            raise RuntimeError(f"start upload: {r.status_code} {r.content[:300]}")
        uid = r.json()["id"]
        offset = 0
        with open(path, "rb") as f:
            while chunk := f.read(CHUNK_BYTES):
                end = offset + len(chunk) - 1
                r = client.put(
                    f"/api/v1/assets/uploads/{uid}",
                    chunk,
                    content_type="application/octet-stream",
                    HTTP_AUTHORIZATION=auth,
                    HTTP_CONTENT_RANGE=f"bytes {offset}-{end}/{size}",
                )
                if r.status_code != 200:
                    raise RuntimeError(f"chunk at {offset}: {r.status_code} {r.content[:300]}")
                offset = end + 1
                # The test client's response and request form reference cycles holding the
                # chunk (FakePayload); without a collection here they pile up until the
                # cyclic GC runs (+160 MiB at 2 GiB), which a real server never holds.
                del chunk, r
                gc.collect()
        r = client.post(
            f"/api/v1/assets/uploads/{uid}/complete",
            {},
            content_type="application/json",
            HTTP_AUTHORIZATION=auth,
        )
        if r.status_code != 201:
            raise RuntimeError(f"complete: {r.status_code} {r.content[:300]}")
        return Asset.objects.get(pk=r.json()["id"])

    def remove(asset):
        sha = asset.current_version.blob_id
        Asset.objects.filter(pk=asset.pk).update(current_version=None)
        Asset.objects.filter(pk=asset.pk).delete()
        storage.delete_unreferenced_blobs(candidates={sha})

    start_hwm = _status_kib("VmHWM")
    remove(upload(Path(warm_video)))  # imports, libraries, first queries: not what we measure
    gc.collect()
    idle = _status_kib("VmRSS")
    reset = _reset_peak()
    before_hwm = _status_kib("VmHWM")
    t0 = time.perf_counter()
    asset = upload(Path(video))
    seconds = time.perf_counter() - t0
    peak = _status_kib("VmHWM")
    after = _status_kib("VmRSS")
    v = asset.current_version
    ok = (
        v.blob_id == os.environ["FOLIO_BENCH_SHA256"]
        and v.size == Path(video).stat().st_size
        and v.mime == "video/mp4"
        and asset.type == "video"
        and (v.duration or 0) > 0
        and v.width == 1920
    )
    if not ok:
        raise RuntimeError(f"stored wrong: {v.blob_id} {v.size} {v.mime} {v.duration} {v.width}")
    remove(asset)
    base = idle if reset else before_hwm
    print(
        json.dumps(
            {
                "mode": mode,
                "seconds": round(seconds, 2),
                "mb_per_s": round(Path(video).stat().st_size / MB / seconds, 1),
                "start_hwm_mib": round(start_hwm / 1024, 1),
                "idle_rss_mib": round(idle / 1024, 1),
                "peak_hwm_mib": round(peak / 1024, 1),
                "after_rss_mib": round(after / 1024, 1),
                "growth_mib": round((peak - base) / 1024, 1),
                "hwm_reset": reset,
                "duration_s": v.duration,
            }
        )
    )
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--memory-child":
        sys.exit(_memory_child(*sys.argv[2:]))
    print("run it with: python -m bench assets", file=sys.stderr)
    sys.exit(2)
