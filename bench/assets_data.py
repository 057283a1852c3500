"""Seeded files for the assets benchmark: camera-sized JPEGs and large real videos.

`jpeg_set()` makes distinct JPEGs of ~5 MB each (3000×2000 to 4000×3000 pixels, seeded
Gaussian noise over colour gradients, quality 95, with EXIF Make/Model/Artist/Copyright so
the header metadata has something to read), with libvips. They are written once into
`var/bench/assets-<key>/` and reused by later runs; the key hashes the parameters, the seed,
this generator's code and the libvips version (which shapes the bytes). A manifest
(`manifest.json`) lists each file's name, size, pixel size and SHA-256.

`make_video()` makes a real MP4 (MPEG-4 Part 2, intra-only, 1920×1080, 25 fps) of about the
size asked for, fast: a couple of seconds of distinct noise frames are encoded once and
their packets muxed over and over with advancing timestamps, so any size (2 GB included)
costs no more than writing it. The result is a valid, seekable, decodable video (PyAV and
FFmpeg read its header, duration and frames). Big videos are not cached: callers put them in
a temporary directory and delete them.

    .venv/bin/python -m bench.assets_data            # build (or find) the default JPEG set
    .venv/bin/python -m bench.assets_data video 500 /tmp/v.mp4   # a 500 MB video
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import sys
import time
from fractions import Fraction
from pathlib import Path

DEFAULT_SEED = 20250101
REPO_DIR = Path(__file__).resolve().parent.parent
CACHE_DIR = REPO_DIR / "var" / "bench"

# Pixel sizes of common cameras and phones (6 to 12 MP); each image gets one, seeded.
DIMENSIONS = [(3000, 2000), (3264, 2448), (3456, 2304), (3600, 2400), (4000, 2664), (4000, 3000)]
TARGET_BYTES = 5_000_000
QUALITY = 95
TOLERANCE = 0.06  # each file is within ±6 % of the target size


def _key(seed: int) -> str:
    """Files are made one by one from (seed, index), so a smaller set is a prefix of a larger
    one: the key leaves the count out and one cache folder serves every count."""
    import pyvips

    h = hashlib.sha256()
    h.update(
        json.dumps(
            {
                "seed": seed,
                "dimensions": DIMENSIONS,
                "target": TARGET_BYTES,
                "quality": QUALITY,
                "tolerance": TOLERANCE,
                "libvips": [pyvips.version(i) for i in range(3)],
            },
            sort_keys=True,
        ).encode()
    )
    for fn in (_render, _jpeg, _sigma_guess, _one):
        h.update(inspect.getsource(fn).encode())
    return h.hexdigest()[:12]


def _render(width: int, height: int, sigma: float, seed: int, index: int):
    """An sRGB image: seeded noise over gradients whose direction depends on the index."""
    import pyvips

    noise = pyvips.Image.gaussnoise(width, height, mean=128, sigma=sigma, seed=seed)
    xy = pyvips.Image.xyz(width, height)
    gx = xy[0] * (255.0 / width)
    gy = xy[1] * (255.0 / height)
    if index % 2:
        gx = 255 - gx
    if index % 3 == 1:
        gy = 255 - gy
    r = noise * 0.5 + gx * 0.5
    g = noise * 0.5 + gy * 0.5
    b = noise * 0.3 + (gx + gy) * 0.35
    return r.bandjoin([g, b]).cast("uchar").copy(interpretation="srgb")


def _jpeg(width: int, height: int, sigma: float, seed: int, index: int) -> bytes:
    import pyvips
    from PIL import Image

    image = _render(width, height, sigma, seed, index).copy()
    exif = Image.Exif()
    exif[0x010F] = "Folio Bench"  # Make
    exif[0x0110] = f"Generator {index % 7}"  # Model
    exif[0x013B] = f"Photographer {index:04d}"  # Artist
    exif[0x8298] = "(c) Folio benchmark data"  # Copyright
    image.set_type(pyvips.GValue.blob_type, "exif-data", exif.tobytes())  # "Exif\0\0" + TIFF
    return image.jpegsave_buffer(Q=QUALITY)


def _sigma_guess(width: int, height: int) -> float:
    # Measured with libvips 8.18 at Q95: bytes ≈ MP × (0.23 MB + 0.017 MB × sigma).
    mp = width * height / 1e6
    return max(4.0, (TARGET_BYTES / 1e6 - 0.23 * mp) / (0.017 * mp))


def _one(index: int, seed: int) -> tuple[bytes, dict]:
    import random

    rng = random.Random(seed * 1_000_003 + index)
    width, height = rng.choice(DIMENSIONS)
    if rng.random() < 0.25:  # some portrait shots
        width, height = height, width
    noise_seed = rng.randrange(2**31)
    sigma = _sigma_guess(width, height)
    data = b""
    for _ in range(4):  # size is affine in sigma: a secant step or two lands within tolerance
        data = _jpeg(width, height, sigma, noise_seed, index)
        if abs(len(data) - TARGET_BYTES) <= TOLERANCE * TARGET_BYTES:
            break
        mp = width * height / 1e6
        floor = 0.23e6 * mp
        sigma = max(2.0, sigma * (TARGET_BYTES - floor) / max(len(data) - floor, 1.0))
    return data, {
        "width": width,
        "height": height,
        "sigma": round(sigma, 2),
        "noise_seed": noise_seed,
    }


def jpeg_set(count: int = 234, *, seed: int = DEFAULT_SEED, log=print) -> tuple[Path, list[dict]]:
    """(directory, manifest rows) of `count` distinct JPEGs, made once and cached; a larger
    count adds the missing files to the cached set."""
    folder = CACHE_DIR / f"assets-{_key(seed)}"
    manifest_path = folder / "manifest.json"
    rows: list[dict] = []
    if manifest_path.exists():
        rows = json.loads(manifest_path.read_text())["files"]
        rows = [r for r in rows if (folder / r["name"]).is_file()]
        rows = rows[: next((i for i, r in enumerate(rows) if r["name"] != _name(i)), len(rows))]
        if len(rows) >= count:
            return folder, rows[:count]
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    for i in range(len(rows), count):
        data, facts = _one(i, seed)
        name = _name(i)
        partial = folder / f"{name}.part"
        partial.write_bytes(data)
        partial.rename(folder / name)
        rows.append(
            {"name": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest(), **facts}
        )
        if log and (i + 1) % 25 == 0:
            log(f"assets_data: {i + 1}/{count} JPEGs ({time.perf_counter() - started:.0f} s)")
        if (i + 1) % 25 == 0 or i + 1 == count:
            _write_manifest(folder, rows, seed)
    if len({r["sha256"] for r in rows}) != len(rows):
        raise RuntimeError("the generator made two identical files")
    return folder, rows[:count]


def _name(i: int) -> str:
    return f"img-{i:04d}.jpg"


def _write_manifest(folder: Path, rows: list[dict], seed: int) -> None:
    tmp = folder / "manifest.json.tmp"
    tmp.write_text(
        json.dumps(
            {"seed": seed, "quality": QUALITY, "target_bytes": TARGET_BYTES, "files": rows},
            indent=1,
        )
    )
    tmp.rename(folder / "manifest.json")


# --- video --------------------------------------------------------------------------------------


def make_video(
    path: Path,
    size_bytes: int,
    *,
    seed: int = DEFAULT_SEED,
    width: int = 1920,
    height: int = 1080,
    fps: int = 25,
    distinct_frames: int = 50,
) -> dict:
    """Write a real MP4 of about `size_bytes` (at least that, less one frame over) to `path`."""
    import av
    import numpy as np

    rng = np.random.default_rng(seed)
    encoder = av.CodecContext.create("mpeg4", "w")
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuv420p"
    encoder.time_base = Fraction(1, fps)
    encoder.framerate = Fraction(fps, 1)
    encoder.gop_size = 1  # every frame a keyframe: any sequence of packets is a valid stream
    encoder.bit_rate = 400_000_000
    encoder.qmin, encoder.qmax = 1, 3
    encoder.options = {"qscale": "2"}
    encoder.open()
    base = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    packets = []
    for i in range(distinct_frames):
        frame = av.VideoFrame.from_ndarray(np.roll(base, 37 * i, axis=1), format="rgb24")
        frame = frame.reformat(format="yuv420p")
        frame.pts = i
        packets += [bytes(p) for p in encoder.encode(frame)]
    packets += [bytes(p) for p in encoder.encode(None)]

    out = av.open(str(path), "w", format="mp4")
    stream = out.add_stream("mpeg4", rate=fps)
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    stream.time_base = Fraction(1, fps)
    stream.codec_context.extradata = encoder.extradata
    written = frames = 0
    try:
        while written < size_bytes:
            for data in packets:
                packet = av.Packet(data)
                packet.pts = packet.dts = frames
                packet.time_base = Fraction(1, fps)
                packet.stream = stream
                packet.is_keyframe = True
                out.mux(packet)
                frames += 1
                written += len(data)
                if written >= size_bytes:
                    break
    finally:
        out.close()
    return {
        "path": str(path),
        "bytes": path.stat().st_size,
        "frames": frames,
        "seconds": frames / fps,
        "codec": "mpeg4 (intra-only)",
        "container": "mp4",
        "width": width,
        "height": height,
    }


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "video":
        size_mb, target = int(sys.argv[2]), Path(sys.argv[3])
        print(make_video(target, size_mb * 1_000_000))
    else:
        n = int(sys.argv[1]) if len(sys.argv) > 1 else 234
        os.environ.setdefault("VIPS_CONCURRENCY", "2")
        folder, files = jpeg_set(n)
        total = sum(r["size"] for r in files)
        print(f"{len(files)} JPEGs, {total / 1e6:.0f} MB, in {folder}")
