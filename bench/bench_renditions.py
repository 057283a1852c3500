"""Renditions: how fast and how lean the rendition engine turns a large master into a channel
image, against the same work done with bare pyvips calls and with a plain Pillow pipeline.

(a) a 24 MP JPEG (6000 × 4000) → 1000 px JPEG q85 through `operations.render` with a full
    spec (autorotate, resize fit 1000, sRGB, sharpen, strip, progressive JPEG q85);
    baselines in the same run, interleaved: the same steps as bare pyvips calls (thumbnail
    with sRGB output profile, sharpen, jpegsave) and Pillow (open, `thumbnail((1000, 1000),
    LANCZOS, reducing_gap=None)` so no JPEG draft mode, save q85);
(b) the same for a 2 MP PNG;
(c) the peak RSS growth of a worker-like process (Django set up, one libvips thread,
    libvips operation cache off) rendering a 50 MP JPEG, over its idle RSS after a warm-up
    render, read from /proc/self/status (VmHWM after resetting it with clear_refs).

Every source is generated with pyvips from fixed seeds (gradients, soft shapes, a texture and
Gaussian noise, so JPEG and PNG have photographic entropy) in the run's scratch directory.
The benchmark process renders with one libvips thread as a worker does; Pillow is
single-threaded anyway.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pyvips

from bench.harness import Metric, Result, Target, interleave, repeat, summarize

PARAMS = {
    "seed": 20250101,
    "jpeg_source": "6000 × 4000 JPEG q90, 4:2:0, seeded gradients + shapes + texture + noise",
    "png_source": "1600 × 1250 PNG (2.0 MP), compression 6, same generator",
    "big_source": "8660 × 5774 JPEG q85 (50 MP), same generator",
    "output": "fit 1000 × 1000, sRGB, sharpen sigma 0.5, metadata stripped, JPEG q85 "
    "progressive with optimised Huffman tables",
    "pillow": "Image.open → thumbnail((1000, 1000), LANCZOS, reducing_gap=None) → save q85",
    "repeats": 15,
    "warmup": 2,
    "libvips_threads": 1,
    "libvips_cache": "off (cache_set_max(0)): a worker renders each file once",
}

SPEC = {
    "ops": [
        {"op": "autorotate"},
        {"op": "resize", "mode": "fit", "width": 1000, "height": 1000},
        {"op": "colour", "to": "srgb"},
        {"op": "sharpen", "sigma": 0.5},
        {"op": "strip", "keep": ["copyright", "artist"]},
    ],
    "format": "jpeg",
    "quality": 85,
    "progressive": True,
}


def photo(width: int, height: int, seed: int) -> pyvips.Image:
    """A photographic-ish sRGB image: smooth gradients and shapes, a fine texture and
    sensor-like noise (deterministic for a seed)."""
    xyz = pyvips.Image.xyz(width, height)
    x = xyz.extract_band(0) / width
    y = xyz.extract_band(1) / height
    blob = ((x - 0.35) ** 2 + (y - 0.55) ** 2) * -9.0
    glow = blob.exp() * 90.0
    texture = (x * 2400.0 + y * 900.0).sin() * 6.0
    bands = []
    for i, (base, gx, gy) in enumerate(((40, 150, 40), (60, 60, 120), (90, -40, 60))):
        noise = pyvips.Image.gaussnoise(width, height, mean=0.0, sigma=9.0, seed=seed + i)
        bands.append(x * gx + y * gy + base + glow * (1.0 - 0.3 * i) + texture + noise)
    image = bands[0].bandjoin(bands[1:])
    return image.maxpair(0).minpair(255).cast("uchar").copy(interpretation="srgb")


def make_sources(directory: Path, seed: int) -> dict[str, Path]:
    paths = {
        "jpeg": directory / "photo-24mp.jpg",
        "png": directory / "photo-2mp.png",
        "big": directory / "photo-50mp.jpg",
    }
    photo(6000, 4000, seed).jpegsave(str(paths["jpeg"]), Q=90)
    photo(1600, 1250, seed + 10).pngsave(str(paths["png"]), compression=6)
    photo(8660, 5774, seed + 20).jpegsave(str(paths["big"]), Q=85)
    return paths


def run(ctx) -> Result:
    from folio.renditions import operations

    pyvips.cache_set_max(0)
    pyvips.concurrency_set(PARAMS["libvips_threads"])
    work = Path(tempfile.mkdtemp(prefix="renditions-", dir=ctx.var_dir))
    sources = make_sources(work, PARAMS["seed"])
    out_dir = work / "out"
    out_dir.mkdir()

    def folio(path):
        def call():
            result = operations.render(path, SPEC)
            os.unlink(result.path)
            return result

        return call

    def bare(path):
        target = str(out_dir / "bare.jpg")

        def call():
            # The sources carry no ICC profile, so converting to sRGB is a colourspace call
            # (a no-op here); an sRGB→sRGB ICC transform would only add work.
            image = pyvips.Image.thumbnail(str(path), 1000, height=1000, size="down")
            image = image.colourspace("srgb").sharpen(sigma=0.5)
            image.jpegsave(target, Q=85, interlace=True, optimize_coding=True, keep="none")
            os.unlink(target)

        return call

    def pillow(path):
        from PIL import Image

        target = str(out_dir / "pillow.jpg")

        def call():
            with Image.open(path) as image:
                image.thumbnail((1000, 1000), Image.LANCZOS, reducing_gap=None)
                image.convert("RGB").save(target, "JPEG", quality=85)
            os.unlink(target)

        return call

    # The outputs are what they claim before anything is timed.
    checks = {}
    for key in ("jpeg", "png"):
        result = operations.render(sources[key], SPEC)
        image = pyvips.Image.new_from_file(str(result.path))
        if max(image.width, image.height) != 1000 or image.get("vips-loader") != "jpegload":
            raise RuntimeError(f"unexpected rendition of the {key} source: {result}")
        checks[key] = {"width": result.width, "height": result.height, "bytes": result.size}
        os.unlink(result.path)

    metrics: list[Metric] = []
    diagnostics: dict = {"outputs": checks, "sources": {}}
    for key, label, pillow_target in (
        ("jpeg", "24 MP JPEG", 3.0),
        ("png", "2 MP PNG", 1.8),
    ):
        path = sources[key]
        diagnostics["sources"][key] = {"bytes": path.stat().st_size}
        samples = interleave(
            {"folio": folio(path), "bare": bare(path), "pillow": pillow(path)},
            PARAMS["repeats"],
            warmup=PARAMS["warmup"],
            block=1,
        )
        stats = {name: summarize(s) for name, s in samples.items()}
        diagnostics[f"{key}_seconds"] = stats
        f, b, p = (stats[n]["median"] for n in ("folio", "bare", "pillow"))
        ms = 1000.0
        metrics += [
            Metric(
                f"{key}_render_vs_bare_pyvips",
                f"{label} → 1000 px JPEG q85: operations.render (median) vs bare pyvips",
                f * ms,
                "ms",
                p95=stats["folio"]["p95"] * ms,
                baseline=b * ms,
                baseline_label="bare pyvips calls, same steps",
                target=Target("<=", 1.3, on="ratio", source="brief"),
            ),
            Metric(
                f"{key}_speedup_over_pillow",
                f"{label} → 1000 px JPEG q85: speed-up of operations.render over Pillow",
                p / f,
                "×",
                target=Target(">=", pillow_target, source="brief"),
                note=f"Pillow median {p * ms:.0f} ms, Folio {f * ms:.0f} ms",
            ),
            Metric(
                f"{key}_pillow",
                f"{label} → 1000 px JPEG q85: Pillow without draft (median)",
                p * ms,
                "ms",
                p95=stats["pillow"]["p95"] * ms,
            ),
        ]

    for key in ("jpeg", "png"):
        diagnostics[f"{key}_stages_ms"] = _stages(sources[key], out_dir, folio(sources[key]))

    memory = _worker_memory(ctx, sources["big"])
    diagnostics["worker_memory"] = memory
    metrics.append(
        Metric(
            "worker_peak_rss_growth_50mp",
            "worker rendering a 50 MP JPEG → 1000 px: peak RSS over idle RSS",
            memory["shrink_on_load"]["growth_mb"],
            "MB",
            target=Target("<=", 100.0, source="brief"),
            note=f"idle RSS {memory['shrink_on_load']['idle_mb']:.0f} MB, one libvips thread",
        )
    )
    metrics.append(
        Metric(
            "worker_peak_rss_growth_50mp_trim",
            "same, with a trim before the resize (analysis copy + intermediate path)",
            memory["intermediate"]["growth_mb"],
            "MB",
            target=Target("<=", 100.0, source="brief"),
        )
    )
    notes = [
        "Times are medians of interleaved runs (Folio, bare pyvips, Pillow one after the other, "
        f"{PARAMS['repeats']} rounds after {PARAMS['warmup']} warm-up rounds); each run reads "
        "the file from disk (page cache) and writes its output file.",
        "The 2-workers-vs-1 throughput is measured with the job system by another benchmark.",
    ]
    return Result(
        name="renditions",
        title="Rendition engine: 24 MP JPEG and 2 MP PNG to a 1000 px JPEG, worker memory",
        description=__doc__.split("\n\n")[0].replace("\n", " "),
        parameters=PARAMS,
        metrics=metrics,
        diagnostics=diagnostics,
        notes=notes,
    )


def _stages(path: Path, out_dir: Path, folio_call) -> dict:
    """Where the time goes (median of 5 each): the cumulative cost of each step done with
    bare pyvips on one thread, the Pillow steps, and Folio's render with two threads."""
    from PIL import Image

    target = str(out_dir / "stage.jpg")

    def thumb():
        return pyvips.Image.thumbnail(str(path), 1000, height=1000, size="down")

    steps = {
        "vips_decode_resize": lambda: thumb().copy_memory(),
        "vips_decode_resize_sharpen": lambda: thumb().sharpen(sigma=0.5).copy_memory(),
        "vips_all_baseline_jpeg": lambda: thumb().sharpen(sigma=0.5).jpegsave(target, Q=85),
        "vips_all_progressive_optimised_jpeg": lambda: (
            thumb().sharpen(sigma=0.5).jpegsave(target, Q=85, interlace=True, optimize_coding=True)
        ),
        "vips_decode_resize_then_progressive_jpeg_no_sharpen": lambda: thumb().jpegsave(
            target, Q=85, interlace=True, optimize_coding=True
        ),
    }

    def pillow_resize():
        with Image.open(path) as image:
            image.thumbnail((1000, 1000), Image.LANCZOS, reducing_gap=None)
            return image

    steps["pillow_decode_resize"] = pillow_resize
    steps["pillow_all_baseline_jpeg"] = lambda: (
        pillow_resize().convert("RGB").save(target, "JPEG", quality=85)
    )
    out = {}
    for name, fn in steps.items():
        out[name] = round(1000 * summarize(repeat(fn, 5, warmup=1))["median"], 1)
    pyvips.concurrency_set(2)
    try:
        out["folio_render_two_libvips_threads"] = round(
            1000 * summarize(repeat(folio_call, 5, warmup=1))["median"], 1
        )
    finally:
        pyvips.concurrency_set(PARAMS["libvips_threads"])
    return out


_WORKER = r"""
import json, os, sys
import django
django.setup()
import pyvips
from folio.renditions import operations

pyvips.cache_set_max(0)
spec = json.loads(sys.argv[2])
small = sys.argv[3]


def status(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0


os.unlink(operations.render(small, spec).path)  # warm-up: codecs, threads, Django
out = {}
for name, ops in (("shrink_on_load", spec["ops"]),
                  ("intermediate", spec["ops"][:1] + [{"op": "trim"}] + spec["ops"][1:])):
    os.unlink(operations.render(small, {**spec, "ops": ops}).path)
    idle = status("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    result = operations.render(sys.argv[1], {**spec, "ops": ops})
    peak = status("VmHWM")
    out[name] = {"idle_mb": round(idle, 1), "peak_mb": round(peak, 1),
                 "growth_mb": round(peak - idle, 1), "width": result.width,
                 "height": result.height}
    os.unlink(result.path)
print(json.dumps(out))
"""


def _worker_memory(ctx, big: Path) -> dict:
    small = big.parent / "warmup.jpg"
    photo(800, 600, 1).jpegsave(str(small), Q=85)
    env = {**ctx.subprocess_env(), "VIPS_CONCURRENCY": "1"}
    done = subprocess.run(
        [sys.executable, "-c", _WORKER, str(big), json.dumps(SPEC), str(small)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the worker process failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])
