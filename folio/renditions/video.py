"""Web-ready video renditions through PyAV: MP4 (H.264/AAC) and WebM (VP9/Opus, else VP8
with Vorbis where this FFmpeg build lacks them), scaled to fit, trimmed to a maximum duration,
and poster frames (a still image of the video).

A video spec has no `ops`:
    {"format": "mp4" | "webm", "max_width": 1280, "max_height": 720, "max_duration": 30,
     "fps": 30, "crf": 23, "audio": true, "audio_bitrate": 128000}
    {"format": "jpeg" | "png" | "webp", "max_width": 1280, "max_height": 720, "at": 0.1,
     "quality": 85}     (a poster frame: `at` < 1 is a fraction of the duration, else seconds)

Rendering runs in the same render jobs, cache and rights rules as images; `check` reopens the
output with PyAV and checks duration, size, dimensions and codecs.
"""

import contextlib
import logging
import tempfile
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from django.conf import settings

log = logging.getLogger("folio.renditions")

VIDEO_FORMATS = ("mp4", "webm")
POSTER_FORMATS = ("jpeg", "png", "webp")
MAX_DECODED_FRAMES = 100_000  # a stream that never ends is cut off here
POSTER_AT = 0.1
AUDIO_RATE = 48_000
# Codec names as FFmpeg reports them when the output is opened again.
CODEC_NAMES = {
    "libx264": "h264",
    "libvpx-vp9": "vp9",
    "libvpx": "vp8",
    "libopus": "opus",
    "aac": "aac",
    "vorbis": "vorbis",
    "libvorbis": "vorbis",
    "opus": "opus",
}


class VideoFailed(Exception):
    pass


@dataclass
class VideoResult:
    path: Path
    format: str
    width: int
    height: int
    size: int
    confidence: float | None = None
    duration: float | None = None
    codecs: dict = field(default_factory=dict)


def _encoder(name: str) -> bool:
    import av

    try:
        av.codec.Codec(name, "w")
    except Exception:  # av raises several types for an absent codec
        return False
    return True


def codecs_for(fmt: str) -> tuple[str, str | None]:
    """(video encoder, audio encoder or None) for a container, from what this build has."""
    choices = {
        "mp4": [("libx264", "aac"), ("h264", "aac")],
        "webm": [
            ("libvpx-vp9", "libopus"),
            ("libvpx-vp9", "opus"),
            ("libvpx", "libvorbis"),
            ("libvpx", "vorbis"),
        ],
    }[fmt]
    for video_codec, audio_codec in choices:
        if _encoder(video_codec):
            return video_codec, audio_codec if _encoder(audio_codec) else None
    raise VideoFailed(f"this server's FFmpeg has no encoder for {fmt}")


def fit(width: int, height: int, max_width: int | None, max_height: int | None):
    """Even dimensions (4:2:0 needs them) fitting the box, never enlarged."""
    scale = 1.0
    if max_width:
        scale = min(scale, max_width / width)
    if max_height:
        scale = min(scale, max_height / height)
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


def _deadline_check(deadline: float | None, what: str) -> None:
    if deadline is not None and time.monotonic() > deadline:
        raise VideoFailed(f"{what} took too long")


def _open(path):
    import av

    try:
        return av.open(str(path), metadata_errors="ignore")
    except av.FFmpegError as exc:
        raise VideoFailed(f"the video could not be opened: {exc}") from exc


def _out_path(suffix: str) -> Path:
    folder = Path(settings.UPLOAD_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="rendition-", suffix=f".{suffix}", dir=folder)
    import os

    os.close(fd)
    return Path(name)


def render(path, spec: dict, *, deadline: float | None = None) -> VideoResult:
    fmt = spec.get("format")
    if fmt in POSTER_FORMATS:
        return poster(path, spec, deadline=deadline)
    if fmt not in VIDEO_FORMATS:
        raise VideoFailed(f"no video format {fmt!r}")
    return transcode(path, spec, deadline=deadline)


def transcode(path, spec: dict, *, deadline: float | None = None) -> VideoResult:
    import av

    fmt = spec["format"]
    video_codec, audio_codec = codecs_for(fmt)
    max_duration = spec.get("max_duration")
    out_path = _out_path(fmt)
    try:
        with _open(path) as source:
            if not source.streams.video:
                raise VideoFailed("the file has no video stream")
            vin = source.streams.video[0]
            ain = (
                source.streams.audio[0]
                if spec.get("audio", True) and source.streams.audio
                else None
            )
            if ain is not None and audio_codec is None:
                ain = None  # no encoder: a silent rendition rather than none
            width, height = fit(
                vin.codec_context.width,
                vin.codec_context.height,
                spec.get("max_width"),
                spec.get("max_height"),
            )
            source_rate = vin.average_rate or vin.guessed_rate or Fraction(25)
            rate = Fraction(source_rate).limit_denominator(1001)
            if spec.get("fps") and spec["fps"] < rate:
                rate = Fraction(spec["fps"]).limit_denominator(1001)
            options = {"movflags": "+faststart"} if fmt == "mp4" else {}
            with av.open(str(out_path), "w", format=fmt, options=options) as out:
                vout = out.add_stream(video_codec, rate=rate)
                vout.width, vout.height, vout.pix_fmt = width, height, "yuv420p"
                crf = str(spec.get("crf", 23 if fmt == "mp4" else 33))
                if video_codec in ("libx264", "h264"):
                    vout.options = {"preset": "veryfast", "crf": crf, "profile": "high"}
                else:
                    vout.options = {
                        "deadline": "realtime",
                        "cpu-used": "8",
                        "crf": crf,
                        "b": "0",
                        "row-mt": "1",
                    }
                aout = resampler = None
                if ain is not None:
                    aout = out.add_stream(audio_codec, rate=AUDIO_RATE)
                    aout.layout = "stereo"
                    aout.bit_rate = spec.get("audio_bitrate", 128_000)
                    resampler = av.AudioResampler(
                        format=aout.format.name, layout="stereo", rate=AUDIO_RATE
                    )
                frames = _encode(
                    source, vin, ain, vout, aout, resampler, out, rate, max_duration, deadline
                )
        if frames == 0:
            raise VideoFailed("no frame of the video could be decoded")
        info = probe(out_path)
        return VideoResult(
            path=out_path,
            format=fmt,
            width=info["width"],
            height=info["height"],
            size=out_path.stat().st_size,
            duration=info["duration"],
            codecs={"video": info["video_codec"], "audio": info["audio_codec"]},
        )
    except BaseException:
        out_path.unlink(missing_ok=True)
        raise


def _encode(source, vin, ain, vout, aout, resampler, out, rate, max_duration, deadline) -> int:
    import av

    frame_step = 1 / float(rate)
    next_time = None
    video_frames = 0
    audio_samples = 0
    video_done = False
    audio_done = ain is None
    streams = [vin] + ([ain] if ain is not None else [])
    try:
        for packet in source.demux(streams):
            if video_done and audio_done:
                break
            _deadline_check(deadline, "transcoding the video")
            try:
                decoded = packet.decode()
            except av.FFmpegError:
                continue  # a damaged packet loses its frames, not the rendition
            for frame in decoded:
                t = frame.time if frame.time is not None else 0.0
                if packet.stream is vin:
                    if video_done:
                        continue
                    if (max_duration is not None and t >= max_duration) or (
                        video_frames >= MAX_DECODED_FRAMES
                    ):
                        video_done = True
                        continue
                    if next_time is not None and t + 1e-6 < next_time:
                        continue  # dropped to reach the target frame rate
                    next_time = (t if next_time is None else next_time) + frame_step
                    scaled = frame.reformat(width=vout.width, height=vout.height, format="yuv420p")
                    scaled.pts = video_frames
                    scaled.time_base = Fraction(1) / rate
                    video_frames += 1
                    out.mux(vout.encode(scaled))
                else:
                    if audio_done:
                        continue
                    if max_duration is not None and t >= max_duration:
                        audio_done = True
                        continue
                    frame.pts = None
                    for resampled in resampler.resample(frame):
                        resampled.pts = audio_samples
                        resampled.time_base = Fraction(1, AUDIO_RATE)
                        audio_samples += resampled.samples
                        out.mux(aout.encode(resampled))
    except av.FFmpegError as exc:
        if video_frames == 0:
            raise VideoFailed(f"the video could not be decoded: {exc}") from exc
        log.debug("video decoding stopped early", exc_info=True)
    out.mux(vout.encode(None))
    if aout is not None:
        for resampled in resampler.resample(None) or []:
            resampled.pts = audio_samples
            audio_samples += resampled.samples
            out.mux(aout.encode(resampled))
        out.mux(aout.encode(None))
    return video_frames


def poster(path, spec: dict, *, deadline: float | None = None) -> VideoResult:
    """One frame at `at` (fraction of the duration below 1, else seconds), as an image."""
    import av

    fmt = spec["format"]
    at = spec.get("at", POSTER_AT)
    with _open(path) as source:
        if not source.streams.video:
            raise VideoFailed("the file has no video stream")
        stream = source.streams.video[0]
        duration = source.duration / av.time_base if source.duration else None
        seconds = at * duration if (at < 1 and duration) else (at if at >= 1 else 0.0)
        if duration:
            seconds = min(seconds, max(0.0, duration - 0.05))
        frame = None
        with contextlib.suppress(av.FFmpegError, OverflowError, ValueError):
            if seconds > 0:
                source.seek(int(seconds * av.time_base), backward=True)
        try:
            for n, candidate in enumerate(source.decode(stream)):
                _deadline_check(deadline, "finding the poster frame")
                frame = candidate
                if candidate.time is None or candidate.time + 1e-6 >= seconds or n > 2000:
                    break
        except av.FFmpegError as exc:
            if frame is None:
                raise VideoFailed(f"no frame of the video could be decoded: {exc}") from exc
        if frame is None:
            raise VideoFailed("no frame of the video could be decoded")
        width, height = fit(
            frame.width, frame.height, spec.get("max_width"), spec.get("max_height")
        )
        image = frame.reformat(width=width, height=height, format="rgb24").to_image()
    out_path = _out_path({"jpeg": "jpg"}.get(fmt, fmt))
    try:
        image.save(
            out_path,
            {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}[fmt],
            quality=spec.get("quality", 85),
        )
    except BaseException:
        out_path.unlink(missing_ok=True)
        raise
    return VideoResult(
        path=out_path, format=fmt, width=width, height=height, size=out_path.stat().st_size
    )


def probe(path) -> dict:
    """What a player will find: container, codecs, size and duration, read back by PyAV."""
    import av

    with _open(path) as container:
        video = container.streams.video[0] if container.streams.video else None
        audio = container.streams.audio[0] if container.streams.audio else None
        duration = None
        if container.duration:
            duration = container.duration / av.time_base
        elif video is not None and video.duration and video.time_base:
            duration = float(video.duration * video.time_base)
        return {
            "container": container.format.name,
            "video_codec": video.codec_context.name if video else None,
            "audio_codec": audio.codec_context.name if audio else None,
            "width": video.codec_context.width if video else None,
            "height": video.codec_context.height if video else None,
            "duration": duration,
        }


def check(path, rules: dict, *, format: str | None = None) -> dict:
    """Compliance of a video rendition ({passed, checks}); a poster frame is an image and is
    checked by the image rules."""
    if format in POSTER_FORMATS:
        from folio.renditions import compliance

        image_rules = {
            k: v
            for k, v in rules.items()
            if k not in ("max_duration", "video_codecs", "audio_codecs")
        }
        return compliance.check(path, image_rules, format=format)
    checks = []

    def add(rule, passed, detail):
        checks.append({"rule": rule, "passed": bool(passed), "detail": detail})

    try:
        info = probe(path)
    except VideoFailed as exc:
        return {
            "passed": False,
            "checks": [{"rule": "readable", "passed": False, "detail": str(exc)}],
        }
    size = Path(path).stat().st_size
    add("readable", info["video_codec"] is not None, f"container {info['container']}")
    if "formats" in rules:
        names = set(info["container"].split(","))
        add(
            "formats",
            bool(names & set(rules["formats"])),
            f"{format or info['container']} (allowed: {', '.join(rules['formats'])})",
        )
    if "max_duration" in rules:
        d = info["duration"]
        # Container durations are rounded to the last frame or audio packet.
        add(
            "max_duration",
            d is not None and d <= rules["max_duration"] + 0.1,
            f"{d:.2f} s (at most {rules['max_duration']} s)"
            if d is not None
            else "duration unknown",
        )
    if "max_bytes" in rules:
        add("max_bytes", size <= rules["max_bytes"], f"{size} bytes (at most {rules['max_bytes']})")
    if "video_codecs" in rules:
        add(
            "video_codecs",
            info["video_codec"] in rules["video_codecs"],
            f"{info['video_codec']} (allowed: {', '.join(rules['video_codecs'])})",
        )
    if "audio_codecs" in rules:
        ok = info["audio_codec"] is None or info["audio_codec"] in rules["audio_codecs"]
        add(
            "audio_codecs",
            ok,
            f"{info['audio_codec'] or 'no audio'} (allowed: {', '.join(rules['audio_codecs'])})",
        )
    for rule, value, limit_ok in (
        ("max_width", info["width"], lambda v, m: v <= m),
        ("max_height", info["height"], lambda v, m: v <= m),
        ("min_width", info["width"], lambda v, m: v >= m),
        ("min_height", info["height"], lambda v, m: v >= m),
    ):
        if rule in rules:
            add(
                rule,
                value is not None and limit_ok(value, rules[rule]),
                f"{value} px ({rule.replace('_', ' ')} {rules[rule]})",
            )
    return {"passed": all(c["passed"] for c in checks), "checks": checks}
