"""Previews: a small and a large sRGB image of each file version, made in the background.

A new version (`version_added`) starts one "Make previews" job once its transaction commits;
nothing is rendered on the request path, so an asset is usable at once and its previews
appear a moment later (state "pending" until then). The job renders one bounded "large"
image (fit 1600 px) and derives "thumb" (fit 256 px) from it, both WebP, stored as
content-addressed blobs like any file. It also computes the perceptual hash of images.

How each kind of file becomes a picture, without ever decoding more than needed:
- images (JPEG, PNG, TIFF incl. CMYK, WebP, AVIF, GIF, HEIC…): libvips `thumbnail`, which
  shrinks on load (a 50 MP JPEG is decoded at 1/8 scale) and converts colour with the
  embedded ICC profile (or a built-in CMYK one) to sRGB; animated images give frame one;
  HEIC falls back to pillow-heif where libvips has no HEVC decoder;
- SVG: rasterised from a sanitised copy (no script, no event handlers, no external refs);
- PDF: page one through PDFium at a bounded scale;
- video: one frame near 10 % of the duration (the keyframe before it), decoded alone;
- audio and other documents: no preview (the UI shows a type icon).
"""

import contextlib
import io
import logging
import re
import shutil
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyvips
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.dispatch import receiver

from folio.assets.models import Asset, AssetVersion, Preview
from folio.assets.signals import version_added
from folio.jobs.models import Job
from folio.jobs.services import JobContext, job, start_job

log = logging.getLogger("folio.assets")

SIZES = {"large": 1600, "thumb": 256}
NAMES = tuple(SIZES)
WEBP_QUALITY = 82
TIMEOUT_SECONDS = 120  # per job; a file that takes longer is broken or hostile
MAX_VIDEO_FRAMES = 300  # frames decoded at most while looking for the poster frame
MAX_PDF_SCALE = 4.0  # a tiny PDF page is not rendered at 50× just to reach 1600 px
MAX_SVG_BYTES = 20 * 1024 * 1024
POSTER_AT = 0.10  # of the video's duration

# libvips narrates every thumbnail at INFO level; a worker's log wants only its problems.
logging.getLogger("pyvips").setLevel(logging.WARNING)
# Keep libvips' operation cache small: a worker renders many different files once each.
pyvips.cache_set_max(20)
pyvips.cache_set_max_mem(64 * 1024 * 1024)


class PreviewFailed(Exception):
    """The file cannot be turned into a picture (corrupt, encrypted, too large, too slow)."""


# --- what has a preview -----------------------------------------------------------------------


def source_kind(mime: str) -> str | None:
    """How a file of this type is previewed, or None when it gets no preview."""
    mime = (mime or "").lower()
    if mime == "image/svg+xml":
        return "svg"
    if mime in ("image/heic", "image/heif", "image/heic-sequence", "image/heif-sequence"):
        return "heic"
    if mime.startswith("image/"):
        return "image"
    if mime == "application/pdf":
        return "pdf"
    if mime.startswith("video/"):
        return "video"
    return None


def is_hashable(mime: str) -> bool:
    """Perceptual hashes are for photos and graphics, not PDF pages or video frames."""
    return source_kind(mime) in ("image", "heic", "svg")


# --- the job ----------------------------------------------------------------------------------


@receiver(version_added, dispatch_uid="folio.assets.previews.version_added")
def _make_previews_later(sender, asset, version, **kwargs):
    if source_kind(version.mime) is None:
        return
    # start_job enqueues on commit: a rolled-back upload starts nothing.
    start_job(make_previews, version_id=version.pk)


@job("Make previews", max_attempts=3)
def make_previews(ctx: JobContext, version_id: int) -> dict:
    """Render and store the previews of one version; safe to run again (it replaces them)."""
    version = AssetVersion.objects.select_related("blob").filter(pk=version_id).first()
    if version is None:
        return {"version_id": version_id, "previews": [], "skipped": "the version was deleted"}
    kind = source_kind(version.mime)
    if kind is None or version.pruned:
        return {"version_id": version_id, "previews": [], "skipped": "no preview for this file"}
    ctx.set_total(len(SIZES))
    deadline = Deadline(TIMEOUT_SECONDS)
    with local_copy(version.blob.storage_name) as path:
        large = render(kind, path, deadline)
    made = store_previews(version, large, deadline)
    ctx.advance(len(made))
    result = {"version_id": version_id, "previews": sorted(made)}
    if is_hashable(version.mime):
        from folio.assets.similarity import dhash

        phash = dhash(large)
        # Derived data, not a user's edit: the asset's row version is left alone so nobody's
        # open edit form turns stale because a background job finished.
        Asset.objects.filter(pk=version.asset_id, current_version_id=version.pk).update(phash=phash)
        result["phash"] = phash
    else:
        Asset.objects.filter(pk=version.asset_id, current_version_id=version.pk).exclude(
            phash=""
        ).update(phash="")
    return result


@dataclass
class Deadline:
    seconds: float

    def __post_init__(self):
        self.ends = time.monotonic() + self.seconds

    def expired(self) -> bool:
        return time.monotonic() > self.ends

    def check(self, what: str) -> None:
        if self.expired():
            raise PreviewFailed(f"{what} took longer than {self.seconds:.0f} s")

    def watch(self, image: pyvips.Image) -> pyvips.Image:
        """Make libvips stop computing `image` once the deadline has passed."""
        image.set_progress(True)

        def on_eval(img, progress):
            if self.expired():
                img.set_kill(True)

        image.signal_connect("eval", on_eval)
        return image


@contextlib.contextmanager
def local_copy(storage_name: str) -> Iterator[str]:
    """A local path of a stored file: the file itself on disk storage, else a temporary copy
    streamed from object storage (decoders want random access)."""
    try:
        yield default_storage.path(storage_name)
        return
    except NotImplementedError:
        pass
    tmp_dir = Path(settings.UPLOAD_DIR)
    tmp_dir.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.NamedTemporaryFile(prefix="preview-", dir=tmp_dir) as tmp,
        default_storage.open(storage_name, "rb") as src,
    ):
        shutil.copyfileobj(src, tmp, 1024 * 1024)
        tmp.flush()
        yield tmp.name


def store_previews(version: AssetVersion, large: pyvips.Image, deadline: Deadline) -> list[str]:
    from folio.assets import storage

    images = {"large": large, "thumb": fit(large, SIZES["thumb"])}
    encoded = {}
    for name, image in images.items():
        deadline.check("encoding the preview")
        encoded[name] = (encode(image), image.width, image.height)
    with transaction.atomic():
        if not AssetVersion.objects.filter(pk=version.pk).exists():
            return []  # deleted while rendering
        for name, (data, width, height) in encoded.items():
            blob, _ = storage.store(io.BytesIO(data), filename=f"{name}.webp")
            Preview.objects.update_or_create(
                version=version,
                name=name,
                defaults={"blob": blob, "width": width, "height": height},
            )
    return list(encoded)


def encode(image: pyvips.Image) -> bytes:
    return image.webpsave_buffer(Q=WEBP_QUALITY, keep="none", effort=2)


# --- rendering --------------------------------------------------------------------------------


def render(kind: str, path: str, deadline: Deadline | None = None) -> pyvips.Image:
    """The large preview of the file at `path`: 8-bit sRGB (alpha kept), fit 1600 px,
    computed and held in memory (a few MB at most)."""
    deadline = deadline or Deadline(TIMEOUT_SECONDS)
    renderers = {
        "image": _render_image,
        "heic": _render_heic,
        "svg": _render_svg,
        "pdf": _render_pdf,
        "video": _render_video,
    }
    try:
        image = renderers[kind](path, deadline)
        image = _to_srgb8(image)
        image = deadline.watch(image).copy_memory()
    except pyvips.Error as exc:
        if deadline.expired():
            raise PreviewFailed(f"making the preview took longer than {TIMEOUT_SECONDS} s") from exc
        raise PreviewFailed(f"the file could not be read: {_first_line(exc)}") from exc
    return image


def fit(image: pyvips.Image, size: int) -> pyvips.Image:
    if image.width <= size and image.height <= size:
        return image
    return image.thumbnail_image(size, height=size, size="down").copy_memory()


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return " ".join(line.strip() for line in text[:3])[:300]


def _check_pixels(width: int, height: int) -> None:
    if width * height > settings.MAX_IMAGE_PIXELS:
        raise PreviewFailed(
            f"the image is {width} × {height} pixels, more than the "
            f"{settings.MAX_IMAGE_PIXELS:,} allowed"
        )


def _thumbnail(source, *, buffer: bool = False, size: str = "down", **options) -> pyvips.Image:
    maker = pyvips.Image.thumbnail_buffer if buffer else pyvips.Image.thumbnail
    return maker(
        source,
        SIZES["large"],
        height=SIZES["large"],
        size=size,
        output_profile="srgb",
        **options,
    )


def _render_image(path: str, deadline: Deadline) -> pyvips.Image:
    header = pyvips.Image.new_from_file(path)  # reads the header only
    _check_pixels(header.width, header.height)
    options = {}
    if header.interpretation == "cmyk":
        # Used only when the file has no usable profile of its own.
        options["input_profile"] = "cmyk"
    # `thumbnail` shrinks while decoding (JPEG DCT scaling, pyramid levels, WebP/HEIF
    # scaled decode) and reads line by line otherwise, so memory stays bounded.
    return _thumbnail(path, **options)


_vips_decodes_hevc = True  # until libvips shows it was built without an HEVC decoder


def _render_heic(path: str, deadline: Deadline) -> pyvips.Image:
    global _vips_decodes_hevc
    if _vips_decodes_hevc:
        try:
            image = _thumbnail(path)
            return image.copy_memory()  # decoding is where a missing HEVC plugin shows
        except pyvips.Error as exc:
            if "HEVC" in str(exc):
                _vips_decodes_hevc = False
            log.debug("libvips could not decode %s, using pillow-heif", path, exc_info=True)
    import pillow_heif

    heif = pillow_heif.open_heif(path, convert_hdr_to_8bit=True)
    _check_pixels(heif.size[0], heif.size[1])
    deadline.check("decoding the HEIC image")
    pil = heif.to_pillow()
    icc = pil.info.get("icc_profile")
    image = _from_pillow(pil)
    if icc:
        image.set_type(pyvips.GValue.blob_type, "icc-profile-data", icc)
    return image.thumbnail_image(
        SIZES["large"], height=SIZES["large"], size="down", output_profile="srgb"
    )


def _from_pillow(pil) -> pyvips.Image:
    if pil.mode not in ("RGB", "RGBA", "L", "LA"):
        pil = pil.convert("RGBA" if "A" in pil.getbands() else "RGB")
    bands = len(pil.getbands())
    image = pyvips.Image.new_from_memory(pil.tobytes(), pil.width, pil.height, bands, "uchar")
    return image.copy(interpretation="b-w" if bands <= 2 else "srgb")


def _render_svg(path: str, deadline: Deadline) -> pyvips.Image:
    with open(path, "rb") as f:
        raw = f.read(MAX_SVG_BYTES + 1)
    if len(raw) > MAX_SVG_BYTES:
        raise PreviewFailed("the SVG is larger than 20 MB")
    clean = sanitise_svg(raw)
    header = pyvips.Image.new_from_buffer(clean, "", access="sequential")
    _check_pixels(min(header.width, 100_000), min(header.height, 100_000))
    # Vectors scale up cleanly: a 120 px logo gets a sharp 1600 px preview.
    return _thumbnail(clean, buffer=True, size="both")


def _render_pdf(path: str, deadline: Deadline) -> pyvips.Image:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as exc:
        raise PreviewFailed(f"the PDF could not be opened: {exc}") from exc
    try:
        if len(pdf) == 0:
            raise PreviewFailed("the PDF has no pages")
        page = pdf[0]
        width, height = page.get_size()  # points
        if width <= 0 or height <= 0:
            raise PreviewFailed("the first page of the PDF has no size")
        scale = min(SIZES["large"] / max(width, height), MAX_PDF_SCALE)
        deadline.check("opening the PDF")
        bitmap = page.render(scale=scale)
        pil = bitmap.to_pil()
        page.close()
    finally:
        pdf.close()
    return _from_pillow(pil)


def _render_video(path: str, deadline: Deadline) -> pyvips.Image:
    import av

    try:
        container = av.open(path, metadata_errors="ignore")
    except av.FFmpegError as exc:
        raise PreviewFailed(f"the video could not be opened: {exc}") from exc
    with container:
        if not container.streams.video:
            raise PreviewFailed("the file has no video stream")
        stream = container.streams.video[0]
        frame = _poster_frame(container, stream, deadline)
        if frame is None:
            raise PreviewFailed("no frame of the video could be decoded")
        width, height = _fit_size(frame.width, frame.height, SIZES["large"])
        pil = frame.reformat(width=width, height=height, format="rgb24").to_image()
    return _from_pillow(pil)


def _poster_frame(container, stream, deadline: Deadline):
    """The keyframe at or before ~10 % of the video (the very first frame is often black),
    decoding as few frames as possible; the first frame if seeking is not possible."""
    import av

    duration = container.duration  # microseconds (AV_TIME_BASE), None if unknown
    if duration and duration > 0:
        with contextlib.suppress(av.FFmpegError, OverflowError, ValueError):
            container.seek(int(duration * POSTER_AT), backward=True, any_frame=False)
            stream.codec_context.skip_frame = "NONKEY"
            frame = _first_frame(container, stream, deadline)
            if frame is not None:
                return frame
        with contextlib.suppress(av.FFmpegError):
            container.seek(0)
    stream.codec_context.skip_frame = "DEFAULT"
    return _first_frame(container, stream, deadline)


def _first_frame(container, stream, deadline: Deadline):
    import av

    try:
        for n, frame in enumerate(container.decode(stream)):
            if frame is not None:
                return frame
            if n >= MAX_VIDEO_FRAMES:
                break
            deadline.check("finding a video frame")
    except av.FFmpegError:
        log.debug("video decoding stopped early", exc_info=True)
    return None


def _fit_size(width: int, height: int, size: int) -> tuple[int, int]:
    scale = min(1.0, size / max(width, height))
    return max(2, round(width * scale)) // 2 * 2, max(2, round(height * scale)) // 2 * 2


def _to_srgb8(image: pyvips.Image) -> pyvips.Image:
    """8-bit sRGB with or without alpha, whatever came out of the decoder."""
    if image.interpretation not in ("srgb", "b-w") or image.format != "uchar":
        image = image.colourspace("srgb")
    if image.format != "uchar":
        image = image.cast("uchar")
    if image.bands == 2 or image.bands == 1:  # grey (+alpha) becomes RGB for one code path
        image = image.colourspace("srgb")
    if image.bands > 4:
        image = image.extract_band(0, n=4)
    return image


# --- SVG sanitising ---------------------------------------------------------------------------

_SVG_NS = "http://www.w3.org/2000/svg"
_XLINK_NS = "http://www.w3.org/1999/xlink"
_FORBIDDEN_TAGS = {
    "script",
    "foreignobject",
    "iframe",
    "embed",
    "object",
    "audio",
    "video",
    "handler",
    "listener",
}
_SAFE_DATA_URI = re.compile(r"^data:image/(png|jpeg|gif|webp);base64,", re.I)
_CSS_URL = re.compile(r"url\(\s*['\"]?\s*(?!#)[^)]*\)|@import[^;]*;?", re.I)

ET.register_namespace("", _SVG_NS)
ET.register_namespace("xlink", _XLINK_NS)


def _local(name: str) -> str:
    return name.rsplit("}", 1)[-1].lower()


def sanitise_svg(data: bytes) -> bytes:
    """The SVG without anything active or external: scripts, event handlers, foreign
    content, external or javascript: links and CSS urls. DOCTYPEs (entity expansion) are
    refused outright. What remains is only drawing."""
    head = data[:4096].lower()
    if b"<!doctype" in head or b"<!entity" in data.lower():
        raise PreviewFailed("the SVG declares a DOCTYPE or entities, which are not allowed")
    try:
        # Safe here: with DOCTYPEs refused above no entity can be declared, and expat
        # never fetches anything external.
        root = ET.fromstring(data)  # noqa: S314
    except ET.ParseError as exc:
        raise PreviewFailed(f"the SVG is not well-formed XML: {exc}") from exc
    if _local(root.tag) != "svg":
        raise PreviewFailed("the file is not an SVG image")
    _clean_element(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _clean_element(element: ET.Element) -> None:
    for child in list(element):
        if not isinstance(child.tag, str) or _local(child.tag) in _FORBIDDEN_TAGS:
            element.remove(child)
            continue
        if _local(child.tag) == "style" and child.text:
            child.text = _CSS_URL.sub("", child.text)
        _clean_element(child)
    for name in list(element.attrib):
        value = element.attrib[name].strip()
        local = _local(name)
        external = local == "href" and not (value.startswith("#") or _SAFE_DATA_URI.match(value))
        if local.startswith("on") or external:
            del element.attrib[name]
        elif local == "style":
            element.attrib[name] = _CSS_URL.sub("", value)
        elif "url(" in value.lower() and _CSS_URL.search(value):
            del element.attrib[name]


# --- state as the API shows it ----------------------------------------------------------------


def preview_url(asset_id: int, name: str) -> str:
    return f"/api/v1/assets/{asset_id}/preview/{name}"


def preview_states(assets: Iterable[Asset]) -> dict[int, dict]:
    """{asset id: {"state", "previews": {name: {url, width, height}}, "message"}} for many
    assets in at most three queries. state: "ready", "pending" (the job has not run yet), "failed"
    (the file cannot be previewed; message says why) or "none" (a type without preview)."""
    assets = list(assets)
    version_ids = [a.current_version_id for a in assets if a.current_version_id]
    by_version: dict[int, dict] = {}
    for p in Preview.objects.filter(version_id__in=version_ids).only(
        "version_id", "name", "width", "height"
    ):
        by_version.setdefault(p.version_id, {})[p.name] = p
    # Callers that loaded the current versions (select_related) spare the query for types.
    loaded = {
        a.current_version_id: a.current_version.mime
        for a in assets
        if a.current_version_id and Asset.current_version.is_cached(a)
    }
    missing = [vid for vid in version_ids if vid not in loaded]
    mimes = loaded | (
        dict(AssetVersion.objects.filter(pk__in=missing).values_list("pk", "mime"))
        if missing
        else {}
    )
    waiting = [
        vid for vid in version_ids if vid not in by_version and source_kind(mimes.get(vid, ""))
    ]
    failed = _failed_jobs(waiting)
    states = {}
    for asset in assets:
        vid = asset.current_version_id
        previews = by_version.get(vid, {})
        if previews:
            states[asset.pk] = {
                "state": "ready",
                "previews": {
                    name: {
                        "url": preview_url(asset.pk, name),
                        "width": p.width,
                        "height": p.height,
                    }
                    for name, p in sorted(previews.items())
                },
                "message": "",
            }
        elif vid is None or not source_kind(mimes.get(vid, "")):
            states[asset.pk] = {"state": "none", "previews": {}, "message": ""}
        elif vid in failed:
            states[asset.pk] = {"state": "failed", "previews": {}, "message": failed[vid]}
        else:
            states[asset.pk] = {"state": "pending", "previews": {}, "message": ""}
    return states


def preview_state(asset: Asset) -> dict:
    return preview_states([asset])[asset.pk]


def _failed_jobs(version_ids: list[int]) -> dict[int, str]:
    """Versions whose last preview job failed for good (no attempt left), with why."""
    if not version_ids:
        return {}
    failed = {}
    # Only the versions asked about: a short list, read in one round trip (an iterator's
    # server-side cursor on PostgreSQL took three).
    rows = Job.objects.filter(
        kind=make_previews.job_name,
        status=Job.Status.FAILED,
        params__version_id__in=list(version_ids),
    ).order_by("created_at")
    for params, message in rows.values_list("params", "message"):
        failed[params["version_id"]] = message
    return failed


def requeue(version: AssetVersion) -> Job:
    """Make the previews of `version` again (after a failure, or a renderer upgrade)."""
    return start_job(make_previews, version_id=version.pk)
