"""Video renditions through the real worker: MP4 (H.264/AAC) and WebM (VP9/Opus) from a
generated clip, scaled and trimmed, codecs verified by reopening the output with PyAV, and a
poster frame."""

import io
from fractions import Fraction

import av
import numpy as np
import pytest
import pyvips

from folio.assets import storage
from folio.renditions import cache, video
from folio.renditions.models import Preset
from tests.assets.conftest import media  # noqa: F401 - the fixture
from tests.renditions._support import add, run_jobs, seeded  # noqa: F401

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("media", "seeded"),
]


def clip(seconds: float = 4, width: int = 640, height: int = 360, fps: int = 24) -> bytes:
    """An H.264/AAC MP4 with a changing picture and a tone."""
    out = io.BytesIO()
    rate = 44_100
    with av.open(out, "w", format="mp4") as container:
        v = container.add_stream("libx264", rate=fps)
        v.width, v.height, v.pix_fmt = width, height, "yuv420p"
        v.options = {"preset": "ultrafast"}
        a = container.add_stream("aac", rate=rate)
        a.layout = "mono"
        for i in range(int(seconds * fps)):
            pixels = np.full((height, width, 3), (i * 6) % 256, dtype=np.uint8)
            pixels[:, : width // 4] = (200, 30, 30)
            for packet in v.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                container.mux(packet)
        n, done = 1024, 0
        while done < seconds * rate:
            t = (np.arange(done, done + n) / rate).astype(np.float32)
            samples = (0.2 * np.sin(2 * np.pi * 440 * t)).reshape(1, -1).astype(np.float32)
            frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = rate, done, Fraction(1, rate)
            done += n
            for packet in a.encode(frame):
                container.mux(packet)
        for stream in (v, a):
            for packet in stream.encode():
                container.mux(packet)
    return out.getvalue()


def output_of(row) -> bytes:
    with storage.open_blob(row.blob) as f:
        return f.read()


def reopen(data: bytes) -> dict:
    with av.open(io.BytesIO(data)) as container:
        v, a = container.streams.video[0], container.streams.audio[0]
        frames = sum(1 for _ in container.decode(v))
        return {
            "video": v.codec_context.name,
            "audio": a.codec_context.name,
            "size": (v.codec_context.width, v.codec_context.height),
            "duration": container.duration / av.time_base,
            "frames": frames,
        }


@pytest.mark.parametrize(
    ("fmt", "video_codec", "audio_codec"), [("mp4", "h264", "aac"), ("webm", "vp9", "opus")]
)
def test_web_video_is_scaled_trimmed_and_of_the_right_codecs(fmt, video_codec, audio_codec):
    assert video.codecs_for(fmt)[0] in ("libx264", "libvpx-vp9")
    Preset.objects.create(
        code=f"short-{fmt}",
        name=f"Short {fmt}",
        kind="video",
        spec={"format": fmt, "max_width": 320, "max_height": 320, "max_duration": 1.5},
        rules={
            "formats": [fmt],
            "max_duration": 1.5,
            "max_width": 320,
            "video_codecs": [video_codec],
            "audio_codecs": [audio_codec],
        },
    )
    asset = add(clip(seconds=4), "brewing.mp4")
    row = cache.rendition_for(asset, f"short-{fmt}")
    run_jobs()
    row.refresh_from_db()
    assert row.status == "ready", row.error
    assert row.compliance["passed"] is True, row.compliance
    assert (row.format, row.width, row.height) == (fmt, 320, 180)
    facts = reopen(output_of(row))
    assert facts["video"] == video_codec and facts["audio"] == audio_codec
    assert facts["size"] == (320, 180)
    assert facts["duration"] <= 1.6
    assert 30 <= facts["frames"] <= 37  # 1.5 s at 24 fps


def test_seeded_video_presets_and_a_poster_frame():
    asset = add(clip(seconds=2), "pour.mp4")
    rows, _ = cache.ensure_renditions([asset], ["video-mp4-720", "video-webm-720", "video-poster"])
    run_jobs()
    by_code = {}
    for row in rows:
        row.refresh_from_db()
        by_code[row.preset.code] = row
    for code in ("video-mp4-720", "video-webm-720", "video-poster"):
        assert by_code[code].status == "ready", by_code[code].error
        assert by_code[code].compliance["passed"] is True, by_code[code].compliance
    assert reopen(output_of(by_code["video-mp4-720"]))["size"] == (640, 360)  # never enlarged
    poster = pyvips.Image.new_from_buffer(output_of(by_code["video-poster"]), "")
    assert (poster.width, poster.height) == (640, 360)
    assert by_code["video-poster"].blob.mime == "image/jpeg"
    # The left quarter of every frame is red.
    r, g, b = poster.getpoint(20, 180)[:3]
    assert r > 150 and g < 80 and b < 80


def test_a_video_over_the_limits_fails_compliance():
    Preset.objects.create(
        code="tiny-mp4",
        name="Tiny",
        kind="video",
        spec={"format": "mp4", "max_width": 320},
        rules={"max_duration": 1, "max_bytes": 1000, "video_codecs": ["vp9"]},
    )
    asset = add(clip(seconds=2), "long.mp4")
    row = cache.rendition_for(asset, "tiny-mp4")
    run_jobs()
    row.refresh_from_db()
    assert row.status == "ready"
    assert row.compliance["passed"] is False
    failed = {c["rule"] for c in row.compliance["checks"] if not c["passed"]}
    assert failed == {"max_duration", "max_bytes", "video_codecs"}
