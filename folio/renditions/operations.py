"""The rendition engine: one source image + one spec → one encoded file.

A spec is data (see docs/renditions.md, "Operations"): a list of operations applied in order,
then an output format. Everything runs on libvips, streaming and never decoding more than the
output needs:

- when the operations before the first `resize` only rotate or convert colour, the source is
  opened with libvips `thumbnail`, which shrinks while decoding (a 50 MP JPEG is decoded at
  1/8 scale, WebP/HEIF/pyramidal TIFF at a lower level) and colour-converts with the embedded
  ICC profile on the way;
- when something must look at the pixels first (trim, background removal, flatten…), the
  source is shrunk on load to an *intermediate* image of about twice the final size (sized
  from a 1024 px analysis copy, so that a trim that keeps a fifth of the frame still leaves
  enough pixels), held in memory, and the remaining operations run on that;
- without a resize the output is as large as the source and the image streams from the file
  (`access="sequential"`) unless an operation needs two passes over it.

Pillow / pillow-heif are used only for formats libvips cannot decode here (HEVC-coded HEIC,
BMP…): they decode into a temporary uncompressed TIFF that libvips then reads like any file.

`render()` writes the encoded result to a temporary file and returns its facts; the caller
moves the file into storage (and deletes it when it does not).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import shutil
import string
import tempfile
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyvips
from django.conf import settings

from folio.errors import FolioError, InvalidInput

log = logging.getLogger("folio.renditions")
logging.getLogger("pyvips").setLevel(logging.WARNING)

MAX_FRAMES = 100  # frames of an animated GIF rendered at most
ANALYSIS_SIZE = 1024  # longest side of the copy a trim is planned on
OVERSAMPLE = 2.0  # intermediate image ÷ final size when pixels are analysed before resizing
MIN_QUALITY = 30  # max_bytes never lowers quality below this
MAX_QUALITY_STEPS = 7  # encodes tried at most while searching the quality for max_bytes
AVIF_EFFORT = 2  # 0 (fastest) … 9; 2 keeps a 2000 px AVIF within a second or so
WEBP_EFFORT = 4
DEFAULT_QUALITY = 85

# format → (file extension, can it be lossy, can it hold alpha, can it hold CMYK)
FORMATS = {
    "jpeg": ("jpg", True, False, True),
    "png": ("png", False, True, False),
    "webp": ("webp", True, True, False),
    "avif": ("avif", True, True, False),
    "tiff": ("tif", False, True, True),
    "gif": ("gif", False, True, False),
}
OPS = {
    "autorotate",
    "trim",
    "remove_background",
    "resize",
    "colour",
    "flatten",
    "sharpen",
    "strip",
    "fill_ratio",
}
# What `thumbnail` can do itself while it shrinks on load.
_THUMBNAIL_PRE_OPS = {"autorotate", "colour"}


class RenderFailed(FolioError):
    """The source could not be rendered with this spec (unreadable, or the output cannot meet
    a limit such as max_bytes)."""

    status = 422
    code = "render_failed"


@dataclass
class RenderResult:
    path: Path  # a temporary file: the caller moves it into storage
    format: str
    width: int
    height: int
    size: int
    confidence: float | None = None  # background removal's, when the spec removes it
    quality: int | None = None  # the quality used (lower than asked when max_bytes forced it)
    frames: int = 1


@dataclass
class _State:
    confidence: float | None = None
    strip: list[str] | None = None  # the metadata kept when a `strip` op ran
    keep_icc: bool = False


# --- spec validation ----------------------------------------------------------------------------


def validate_spec(spec: dict) -> dict:
    """The spec with defaults filled in, or InvalidInput naming what is wrong."""
    if not isinstance(spec, dict):
        raise InvalidInput("a rendition spec must be an object")
    ops = spec.get("ops", [])
    if not isinstance(ops, list):
        raise InvalidInput("spec.ops must be a list")
    errors = {}
    for i, op in enumerate(ops):
        if not isinstance(op, dict) or op.get("op") not in OPS:
            name = op.get("op") if isinstance(op, dict) else op
            errors[f"ops[{i}]"] = f"unknown operation {name!r}; known: {', '.join(sorted(OPS))}"
            continue
        if op["op"] == "resize":
            if op.get("mode", "fit") not in ("fit", "fill", "pad"):
                errors[f"ops[{i}].mode"] = "mode must be fit, fill or pad"
            w, h = op.get("width"), op.get("height")
            if w is None and h is None:
                errors[f"ops[{i}]"] = "resize needs a width or a height"
            for key, value in (("width", w), ("height", h)):
                if value is not None and (not isinstance(value, int) or not 1 <= value <= 20000):
                    errors[f"ops[{i}].{key}"] = "must be an integer from 1 to 20000"
            if op.get("mode") in ("fill", "pad") and (w is None or h is None):
                errors[f"ops[{i}]"] = f"{op['mode']} needs both width and height"
        if op["op"] == "colour" and op.get("to", "srgb") not in ("srgb", "cmyk"):
            errors[f"ops[{i}].to"] = "to must be srgb or cmyk"
    fmt = spec.get("format", "jpeg")
    if fmt not in FORMATS:
        errors["format"] = f"unknown format {fmt!r}; known: {', '.join(FORMATS)}"
    quality = spec.get("quality", DEFAULT_QUALITY)
    if not isinstance(quality, int) or not 1 <= quality <= 100:
        errors["quality"] = "quality must be an integer from 1 to 100"
    max_bytes = spec.get("max_bytes")
    if max_bytes is not None and (not isinstance(max_bytes, int) or max_bytes < 1):
        errors["max_bytes"] = "max_bytes must be a positive integer"
    if errors:
        raise InvalidInput("the rendition spec is not valid", details=errors)
    return {**spec, "ops": ops, "format": fmt, "quality": quality}


# --- the entry point ----------------------------------------------------------------------------


def render(source, spec: dict, *, max_pixels: int | None = None) -> RenderResult:
    """Render `source` (a path, or a binary file object) with `spec` into a temporary file."""
    spec = validate_spec(spec)
    max_pixels = max_pixels or settings.MAX_IMAGE_PIXELS
    with _local_path(source) as (path, name), _Source.open(path, name, max_pixels) as src:
        try:
            if spec["format"] == "gif" and src.pages > 1:
                image, state, frames = _render_animated(src, spec["ops"])
            else:
                image, state = _pipeline(src, spec["ops"])
                frames = 1
            return _encode(image, spec, state, frames)
        except pyvips.Error as exc:
            raise RenderFailed(f"{name} could not be rendered: {_first_line(exc)}") from exc


@contextlib.contextmanager
def _local_path(source) -> Iterator[tuple[str, str]]:
    """(a local path, a name for messages): decoders want a seekable file on disk."""
    if isinstance(source, str | os.PathLike):
        yield str(source), Path(source).name
        return
    name = Path(getattr(source, "name", "") or "the source image").name
    with tempfile.NamedTemporaryFile(prefix="render-src-", dir=_temp_dir()) as tmp:
        shutil.copyfileobj(source, tmp, 1024 * 1024)
        tmp.flush()
        yield tmp.name, name


def _temp_dir() -> str:
    path = Path(getattr(settings, "UPLOAD_DIR", tempfile.gettempdir()))
    path.mkdir(parents=True, exist_ok=True)
    return str(path)


def _first_line(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    return " ".join(line.strip() for line in lines[:3])[:300]


# --- the source ---------------------------------------------------------------------------------


@dataclass
class _Source:
    path: str  # what libvips reads (a decoded temp TIFF for formats it lacks)
    name: str
    width: int  # as stored, before any EXIF rotation
    height: int
    pages: int
    orientation: int
    interpretation: str
    loader: str
    has_icc: bool = False
    temp: str | None = None

    @classmethod
    @contextlib.contextmanager
    def open(cls, path: str, name: str, max_pixels: int) -> Iterator[_Source]:
        src = cls._probe(path, name, max_pixels)
        try:
            yield src
        finally:
            if src.temp:
                with contextlib.suppress(OSError):
                    os.unlink(src.temp)

    @classmethod
    def _probe(cls, path: str, name: str, max_pixels: int) -> _Source:
        try:
            header = pyvips.Image.new_from_file(path)  # the header only
        except pyvips.Error:
            header = None
        if header is not None and not _vips_decodes(header, path):
            log.debug("libvips cannot decode %s, using pillow-heif", name)
            header = None
        if header is None:
            return cls._via_pillow(path, name, max_pixels)
        _check_pixels(name, header.width, header.height, max_pixels)
        fields = header.get_fields()
        return cls(
            path=path,
            name=name,
            width=header.width,
            height=header.height,
            pages=header.get("n-pages") if "n-pages" in fields else 1,
            orientation=header.get("orientation") if "orientation" in fields else 1,
            interpretation=header.interpretation,
            loader=header.get("vips-loader"),
            has_icc="icc-profile-data" in fields,
        )

    @classmethod
    def _via_pillow(cls, path: str, name: str, max_pixels: int) -> _Source:
        from PIL import Image, UnidentifiedImageError

        try:
            import pillow_heif

            pillow_heif.register_heif_opener()
        except ImportError:  # pragma: no cover - pillow-heif is a dependency
            pass
        try:
            with Image.open(path) as pil:
                _check_pixels(name, pil.width, pil.height, max_pixels)
                pil.draft("RGB", (pil.width, pil.height))
                icc = pil.info.get("icc_profile")
                pil = pil.convert("RGBA" if "A" in pil.getbands() else "RGB")
                image = pyvips.Image.new_from_memory(
                    pil.tobytes(), pil.width, pil.height, len(pil.getbands()), "uchar"
                ).copy(interpretation="srgb")
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            raise InvalidInput(f"{name} is not an image Folio can read: {exc}") from exc
        if icc:
            image.set_type(pyvips.GValue.blob_type, "icc-profile-data", icc)
        fd, temp = tempfile.mkstemp(prefix="render-dec-", suffix=".tif", dir=_temp_dir())
        os.close(fd)
        image.tiffsave(temp)  # uncompressed: written and re-read at memory speed
        return cls(
            path=temp,
            name=name,
            width=image.width,
            height=image.height,
            pages=1,
            orientation=1,  # HEIF orientation is applied by the decoder
            interpretation="srgb",
            loader="pillow",
            has_icc=bool(icc),
            temp=temp,
        )

    def upright_size(self, autorotate: bool) -> tuple[int, int]:
        if autorotate and self.orientation in (5, 6, 7, 8):
            return self.height, self.width
        return self.width, self.height

    def load(self, page: int = 0, access: str = "sequential") -> pyvips.Image:
        kwargs = {"access": access}
        if self.pages > 1:
            kwargs["page"] = page
        return pyvips.Image.new_from_file(self.path, **kwargs)

    def thumbnail(self, width: int, height: int, page: int = 0, **options) -> pyvips.Image:
        target = f"{self.path}[page={page}]" if self.pages > 1 else self.path
        if self.interpretation == "cmyk":
            options.setdefault("input_profile", "cmyk")  # when it has no usable profile
        return pyvips.Image.thumbnail(target, width, height=height, **options)


_HEVC = {"decodes": None}  # learnt from the first HEVC file: a libvips build has it or not


def _vips_decodes(header: pyvips.Image, path: str) -> bool:
    """False for HEVC-coded HEIF when this libvips was built without an HEVC decoder."""
    if not header.get("vips-loader").startswith("heif"):
        return True
    fields = header.get_fields()
    if "heif-compression" in fields and header.get("heif-compression") != "hevc":
        return True
    if _HEVC["decodes"] is None:
        try:
            pyvips.Image.new_from_file(path).crop(0, 0, 1, 1).copy_memory()
            _HEVC["decodes"] = True
        except pyvips.Error as exc:
            if "hevc" not in str(exc).lower():
                return False  # this file is broken; do not conclude about the build
            _HEVC["decodes"] = False
    return _HEVC["decodes"]


def _check_pixels(name: str, width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise InvalidInput(
            f"{name} is {width} × {height} pixels, more than the {max_pixels:,} allowed",
            details={"pixels": width * height, "max_pixels": max_pixels},
        )


# --- the pipeline -------------------------------------------------------------------------------


def _pipeline(src: _Source, ops: list[dict], page: int = 0) -> tuple[pyvips.Image, _State]:
    state = _State()
    r = next((i for i, op in enumerate(ops) if op["op"] == "resize"), None)
    autorotate = any(op["op"] == "autorotate" for op in ops[: r if r is not None else len(ops)])
    if r is not None and all(op["op"] in _THUMBNAIL_PRE_OPS for op in ops[:r]):
        srgb = any(op["op"] == "colour" and op.get("to", "srgb") == "srgb" for op in ops[:r])
        pre = [op for op in ops[:r] if op["op"] == "colour" and not _is_srgb(op)]
        image = _resize_on_load(src, ops[r], page, autorotate=autorotate, srgb=srgb)
        if srgb:  # greyscale, 16-bit: what thumbnail leaves as it was
            image = _to_srgb(image)
        for op in pre:
            image = _apply(image, op, state)
        rest = ops[r + 1 :]
    elif r is not None:
        image = _load_intermediate(src, ops[:r], ops[r], page, autorotate)
        for op in ops[:r]:
            if op["op"] != "autorotate":  # done while loading
                image = _apply(image, op, state)
        image = _resize(image, ops[r])
        rest = ops[r + 1 :]
    else:
        two_pass = any(op["op"] in _TWO_PASS for op in ops) or (
            autorotate and src.orientation != 1  # a quarter turn reads across rows
        )
        image = src.load(page, access="random" if two_pass else "sequential")
        rest = ops
    for op in rest:
        if r is not None and (op["op"] in _TWO_PASS or op["op"] == "resize"):
            # Output-sized by now; in memory, it can be read twice (find the box, then crop).
            image = image.copy_memory()
        image = _apply(image, op, state)
    return image, state


_TWO_PASS = {"trim", "fill_ratio", "remove_background"}


def _is_srgb(op: dict) -> bool:
    return op.get("to", "srgb") == "srgb" and not op.get("icc")


def _apply(image: pyvips.Image, op: dict, state: _State) -> pyvips.Image:
    name = op["op"]
    if name == "autorotate":
        return image.autorot()
    if name == "trim":
        return _trim(image, op)
    if name == "remove_background":
        return _remove_background(image, op, state)
    if name == "resize":
        return _resize(image, op)
    if name == "colour":
        return _colour(image, op, state)
    if name == "flatten":
        return flatten(image, op.get("background", "#FFFFFF"))
    if name == "sharpen":
        return _sharpen(image, op)
    if name == "strip":
        return _strip(image, op, state)
    if name == "fill_ratio":
        return _fill_ratio(image, op)
    raise InvalidInput(f"unknown operation {name!r}")  # validate_spec stops these earlier


# --- loading and resizing -----------------------------------------------------------------------


def _resize_on_load(
    src: _Source, op: dict, page: int, *, autorotate: bool, srgb: bool
) -> pyvips.Image:
    """The resize done by libvips `thumbnail` on the file itself (shrink-on-load)."""
    mode = op.get("mode", "fit")
    upscale = bool(op.get("upscale", False))
    width, height = _box(op, *src.upright_size(autorotate))
    options = {"no_rotate": not autorotate, "size": "both" if upscale else "down"}
    # A file without a profile is sRGB already: an ICC transform there would be an identity
    # costing a colour conversion per source pixel.
    if srgb and (src.has_icc or src.interpretation not in ("srgb", "b-w")):
        options["output_profile"] = "srgb"
    if mode == "fill":
        focal = op.get("focal", "centre")
        if isinstance(focal, list | tuple):
            # Cover the box, then cut it out around the focal point.
            sw, sh = src.upright_size(autorotate)
            scale = max(width / sw, height / sh)
            if not upscale:
                scale = min(scale, 1.0)
            cw, ch = max(1, math.ceil(sw * scale)), max(1, math.ceil(sh * scale))
            image = src.thumbnail(cw, ch, page, **options)
            return _focal_crop(_cover(image, width, height, upscale), width, height, focal)
        return src.thumbnail(width, height, page, crop=_interesting(focal), **options)
    image = src.thumbnail(width, height, page, **options)
    if mode == "pad":
        image = _pad(image, width, height, op.get("background", "#FFFFFF"))
    return image


def _load_intermediate(
    src: _Source, pre: list[dict], op: dict, page: int, autorotate: bool
) -> pyvips.Image:
    """The source shrunk on load to about OVERSAMPLE × what the resize needs of it, in
    memory, so that the operations before the resize can read it more than once."""
    sw, sh = src.upright_size(autorotate)
    fx = fy = 1.0
    trim = next((o for o in pre if o["op"] == "trim"), None)
    if trim is not None:
        # Plan on a small copy how much of the frame a trim keeps, so the intermediate
        # still has enough pixels once cropped.
        preview = src.thumbnail(ANALYSIS_SIZE, ANALYSIS_SIZE, page, no_rotate=not autorotate)
        preview = preview.copy_memory()
        _left, _top, w, h = _trim_box(preview, trim)
        if w and h:
            # One preview pixel of slack on each side: the box was found on a coarser grid.
            fx = min(1.0, (w + 2) / preview.width)
            fy = min(1.0, (h + 2) / preview.height)
    width, height = _box(op, sw * fx, sh * fy)
    mode = op.get("mode", "fit")
    kw, kh = width / (sw * fx), height / (sh * fy)
    scale = max(kw, kh) if mode == "fill" else min(kw, kh)
    scale = min(1.0, scale * OVERSAMPLE)
    if scale >= 1.0:
        image = src.load(page, access="random")
        if autorotate:
            image = image.autorot()
    else:
        iw, ih = max(1, math.ceil(sw * scale)), max(1, math.ceil(sh * scale))
        image = src.thumbnail(iw, ih, page, no_rotate=not autorotate, size="down")
    return image.copy_memory()


def _box(op: dict, sw: float, sh: float) -> tuple[int, int]:
    """The resize's (width, height); a missing side follows the source's aspect ratio."""
    w, h = op.get("width"), op.get("height")
    if w is None:
        w = max(1, round(sw * h / sh))
    if h is None:
        h = max(1, round(sh * w / sw))
    return int(w), int(h)


def _interesting(focal) -> str:
    if focal in ("smart", "attention"):
        return "attention"
    if focal == "entropy":
        return "entropy"
    return "centre"


def _resize(image: pyvips.Image, op: dict) -> pyvips.Image:
    """The resize on an image already in memory (after trim, background removal…)."""
    mode = op.get("mode", "fit")
    upscale = bool(op.get("upscale", False))
    width, height = _box(op, image.width, image.height)
    size = "both" if upscale else "down"
    if mode == "fill":
        focal = op.get("focal", "centre")
        if isinstance(focal, list | tuple):
            scale = max(width / image.width, height / image.height)
            if not upscale:
                scale = min(scale, 1.0)
            if scale != 1.0:
                image = image.resize(scale, kernel="lanczos3")
            return _focal_crop(_cover(image, width, height, upscale), width, height, focal)
        return image.thumbnail_image(width, height=height, size=size, crop=_interesting(focal))
    image = image.thumbnail_image(width, height=height, size=size)
    if mode == "pad":
        image = _pad(image, width, height, op.get("background", "#FFFFFF"))
    return image


def _cover(image: pyvips.Image, width: int, height: int, upscale: bool) -> pyvips.Image:
    """Rounding can leave a cover-scaled image a pixel short of the box: stretch that pixel."""
    short_w, short_h = image.width < width, image.height < height
    if (short_w or short_h) and (upscale or image.width * image.height > width * height):
        image = image.resize(max(width / image.width, 1.0), vscale=max(height / image.height, 1.0))
    return image


def _focal_crop(image: pyvips.Image, width: int, height: int, focal) -> pyvips.Image:
    """A width × height cut centred on the focal point (x, y in 0..1), kept inside the image."""
    fx, fy = (min(1.0, max(0.0, float(v))) for v in focal)
    width, height = min(width, image.width), min(height, image.height)
    left = round(fx * image.width - width / 2)
    top = round(fy * image.height - height / 2)
    left = min(max(0, left), image.width - width)
    top = min(max(0, top), image.height - height)
    return image.crop(left, top, width, height)


def _pad(image: pyvips.Image, width: int, height: int, background) -> pyvips.Image:
    """The image centred on an exact width × height canvas of the background colour."""
    if image.width == width and image.height == height:
        return image
    colour = _canvas_colour(image, background)
    return image.gravity("centre", width, height, extend="background", background=colour)


def _canvas_colour(image: pyvips.Image, background) -> list[float]:
    """The background as pixel values for this image's bands (transparent when None)."""
    if background is None:
        return [0.0] * image.bands
    alpha = image.hasalpha()
    colour_bands = image.bands - (1 if alpha else 0)
    peak = 65535.0 if image.format == "ushort" else 255.0
    rgb = parse_colour(background)
    if image.interpretation == "cmyk":
        pixel = pyvips.Image.black(1, 1).new_from_image(rgb).copy(interpretation="srgb")
        values = pixel.cast("uchar").icc_transform("cmyk", input_profile="srgb")(0, 0)
    elif colour_bands < 3:
        values = [0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]]
    else:
        values = list(rgb)
    values = [round(float(v)) * peak / 255.0 for v in values][:colour_bands]
    values += [values[-1]] * (colour_bands - len(values))
    return values + ([peak] if alpha else [])


_HEX = re.compile(r"^#?([0-9a-fA-F]{6})$")


def parse_colour(value) -> list[int]:
    """ "#FFFFFF", "FFFFFF", "white", [255, 255, 255] → [255, 255, 255]."""
    if isinstance(value, list | tuple) and len(value) >= 3:
        return [int(v) for v in value[:3]]
    if isinstance(value, str):
        named = {"white": "FFFFFF", "black": "000000"}
        text = named.get(value.strip().lower(), value.strip())
        m = _HEX.match(text)
        if m:
            h = m.group(1)
            return [int(h[i : i + 2], 16) for i in (0, 2, 4)]
    raise InvalidInput(f"{value!r} is not a colour (use #RRGGBB)")


# --- the other operations -----------------------------------------------------------------------


def _trim_box(image: pyvips.Image, op: dict) -> tuple[int, int, int, int]:
    from folio.renditions.compliance import content_box

    background = op.get("background")
    return content_box(
        image,
        background=parse_colour(background) if background else None,
        threshold=float(op.get("threshold", 10)),
    )


def _trim(image: pyvips.Image, op: dict) -> pyvips.Image:
    left, top, width, height = _trim_box(image, op)
    if width == 0 or height == 0:  # a uniform image: nothing to trim to
        return image
    if (left, top, width, height) == (0, 0, image.width, image.height):
        return image
    return image.crop(left, top, width, height)


def _fill_ratio(image: pyvips.Image, op: dict) -> pyvips.Image:
    """Scale the content (the non-background box) up until it fills at least `min` of the
    frame along its dominant side, keeping the frame size and centring it."""
    from folio.renditions.compliance import content_box

    wanted = float(op.get("min", 0.85))
    background = op.get("background")
    bg = parse_colour(background) if background else None
    image = image.copy_memory()
    left, top, width, height = content_box(image, background=bg, threshold=10)
    if width == 0 or height == 0:
        return image
    ratio = max(width / image.width, height / image.height)
    if ratio >= wanted:
        return image
    content = image.crop(left, top, width, height)
    scale = min(wanted / ratio, image.width / width, image.height / height)
    content = content.resize(scale, kernel="lanczos3")
    if background is None and not image.hasalpha():
        corner = image.crop(0, 0, 1, 1)(0, 0)
        fill = [float(v) for v in corner]
    else:
        fill = _canvas_colour(image, bg)
    return content.gravity(
        "centre", image.width, image.height, extend="background", background=fill
    )


def _remove_background(image: pyvips.Image, op: dict, state: _State) -> pyvips.Image:
    try:
        from folio.renditions.background import remove_background
    except ImportError as exc:
        raise RenderFailed(
            "background removal is not available in this installation "
            f"(folio.renditions.background could not be imported: {exc})"
        ) from exc
    result = remove_background(
        _to_srgb(image),
        background=op.get("background"),
        keep_shadow=bool(op.get("keep_shadow", False)),
    )
    state.confidence = (
        result.confidence if state.confidence is None else min(state.confidence, result.confidence)
    )
    return result.image


def _colour(image: pyvips.Image, op: dict, state: _State) -> pyvips.Image:
    if op.get("to", "srgb") == "srgb":
        return _to_srgb(image)
    image = _to_srgb(image)
    if image.hasalpha():  # print has no transparency
        image = image.flatten(background=[255, 255, 255])
    state.keep_icc = True  # a CMYK file is meaningless without its profile
    return image.icc_transform(op.get("icc") or "cmyk", input_profile="srgb", intent="relative")


def _to_srgb(image: pyvips.Image) -> pyvips.Image:
    """8-bit sRGB (alpha kept), colour-managed when the image has a profile or is CMYK."""
    has_icc = image.get_typeof("icc-profile-data") != 0
    if image.interpretation == "cmyk" or (has_icc and image.interpretation != "srgb"):
        fallback = "cmyk" if image.interpretation == "cmyk" else "srgb"
        image = image.icc_transform("srgb", embedded=True, input_profile=fallback)
    elif has_icc:
        # An RGB image in another RGB space (Adobe RGB, Display P3…).
        with contextlib.suppress(pyvips.Error):
            image = image.icc_transform("srgb", embedded=True, input_profile="srgb")
    if image.interpretation not in ("srgb",):
        image = image.colourspace("srgb")
    if image.format != "uchar":
        image = image.cast("uchar")
    return image


def flatten(image: pyvips.Image, background="#FFFFFF") -> pyvips.Image:
    if not image.hasalpha():
        return image
    colour = _canvas_colour(image, background)[:-1]
    return image.flatten(background=colour)


def _sharpen(image: pyvips.Image, op: dict) -> pyvips.Image:
    sigma = float(op.get("sigma", 0.5))
    alpha = None
    if image.hasalpha():
        image, alpha = image.extract_band(0, n=image.bands - 1), image.extract_band(image.bands - 1)
    if image.interpretation in ("srgb", "b-w") and image.format == "uchar":
        out = image.sharpen(sigma=sigma)
        out = out.colourspace(image.interpretation).cast("uchar")
    else:  # CMYK and others: a plain unsharp mask on every band
        blurred = image.gaussblur(sigma)
        out = (image + (image - blurred) * 1.0).cast(image.format)
    if alpha is not None:
        out = out.bandjoin(alpha)
    return out


_EXIF_TAGS = {"copyright": 0x8298, "artist": 0x013B}
_XMP_TAGS = {"copyright": "rights", "artist": "creator"}


def _strip(image: pyvips.Image, op: dict, state: _State) -> pyvips.Image:
    """Drop all metadata but the fields named in `keep` (copyright, artist), written back
    as a fresh minimal EXIF block and a minimal XMP packet."""
    keep = [k for k in op.get("keep", ["copyright", "artist"]) if k in _EXIF_TAGS]
    values = _kept_values(image, keep)
    image = image.copy()
    for name in image.get_fields():
        if name.startswith(("exif-", "xmp-", "iptc-", "photoshop-")) or name == "orientation":
            image.remove(name)
    state.strip = []
    if values:
        from PIL import Image as PILImage

        exif = PILImage.Exif()
        for key, value in values.items():
            exif[_EXIF_TAGS[key]] = value
        image.set_type(pyvips.GValue.blob_type, "exif-data", exif.tobytes())
        image.set_type(pyvips.GValue.blob_type, "xmp-data", _xmp(values))
        state.strip = ["exif", "xmp"]
    return image


def _kept_values(image: pyvips.Image, keep: list[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    if image.get_typeof("exif-data"):
        from PIL import Image as PILImage

        exif = PILImage.Exif()
        with contextlib.suppress(Exception):
            exif.load(image.get("exif-data"))
        for key in keep:
            value = exif.get(_EXIF_TAGS[key])
            if isinstance(value, bytes):
                value = value.decode("utf-8", "replace")
            if value and str(value).strip("\x00 "):
                values[key] = str(value).strip("\x00 ")
    if image.get_typeof("xmp-data"):
        xmp = image.get("xmp-data").decode("utf-8", "replace")
        for key in keep:
            if key in values:
                continue
            m = re.search(rf"<dc:{_XMP_TAGS[key]}>.*?<rdf:li[^>]*>(.*?)</rdf:li>", xmp, re.S)
            if m and m.group(1).strip():
                values[key] = _xml_unescape(m.group(1).strip())
    return values


def _xml_unescape(text: str) -> str:
    return (
        text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&amp;", "&")
    )


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _xmp(values: dict[str, str]) -> bytes:
    parts = []
    if "copyright" in values:
        parts.append(
            '<dc:rights><rdf:Alt><rdf:li xml:lang="x-default">'
            f"{_xml_escape(values['copyright'])}</rdf:li></rdf:Alt></dc:rights>"
        )
    if "artist" in values:
        parts.append(
            f"<dc:creator><rdf:Seq><rdf:li>{_xml_escape(values['artist'])}</rdf:li>"
            "</rdf:Seq></dc:creator>"
        )
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        + "".join(parts)
        + '</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    ).encode()


# --- animation ----------------------------------------------------------------------------------


def _render_animated(src: _Source, ops: list[dict]) -> tuple[pyvips.Image, _State, int]:
    """Each frame (at most MAX_FRAMES) through the same pipeline, joined again."""
    count = min(src.pages, MAX_FRAMES)
    frames, state = [], None
    for page in range(count):
        image, frame_state = _pipeline(src, ops, page)
        image = _to_srgb(image)
        if frames and (image.width, image.height) != (frames[0].width, frames[0].height):
            image = image.gravity("centre", frames[0].width, frames[0].height)
        if frames and image.bands != frames[0].bands:
            image = image.bandjoin(255) if image.bands < frames[0].bands else flatten(image)
        frames.append(image.copy_memory())
        state = state or frame_state
    joined = pyvips.Image.arrayjoin(frames, across=1).copy()
    joined.set_type(pyvips.GValue.gint_type, "page-height", frames[0].height)
    header = pyvips.Image.new_from_file(src.path)
    if header.get_typeof("delay"):
        delays = list(header.get("delay"))[:count]
        delays += [delays[-1] if delays else 100] * (count - len(delays))
        joined.set_type(pyvips.GValue.array_int_type, "delay", delays)
    if header.get_typeof("loop"):
        joined.set_type(pyvips.GValue.gint_type, "loop", header.get("loop"))
    return joined, state, count


# --- encoding -----------------------------------------------------------------------------------


def _prepare_for(image: pyvips.Image, fmt: str, state: _State, dpi) -> pyvips.Image:
    _ext, _lossy, alpha_ok, cmyk_ok = FORMATS[fmt]
    if image.interpretation == "cmyk" and not cmyk_ok:
        image = _to_srgb(image)
    if image.interpretation not in ("srgb", "b-w", "cmyk") or image.format != "uchar":
        image = _to_srgb(image)
    if image.hasalpha() and not alpha_ok:
        image = flatten(image, "#FFFFFF")
    if dpi:
        ppmm = float(dpi) / 25.4
        image = image.copy(xres=ppmm, yres=ppmm)
    return image


def _keep_flags(state: _State, image: pyvips.Image) -> str | None:
    if state.strip is None:
        return None  # no strip op: libvips keeps what the image carries
    keep = list(state.strip)
    if state.keep_icc or image.interpretation == "cmyk":
        keep.append("icc")
    return ",".join(keep) if keep else "none"


def _save(image: pyvips.Image, path: str, fmt: str, quality: int, spec: dict, keep) -> None:
    options = {} if keep is None else {"keep": keep}
    if fmt == "jpeg":
        image.jpegsave(
            path,
            Q=quality,
            interlace=bool(spec.get("progressive", True)),
            optimize_coding=True,
            **options,
        )
    elif fmt == "png":
        image.pngsave(path, compression=6, **options)
    elif fmt == "webp":
        image.webpsave(path, Q=quality, effort=WEBP_EFFORT, **options)
    elif fmt == "avif":
        image.heifsave(path, Q=quality, compression="av1", effort=AVIF_EFFORT, **options)
    elif fmt == "tiff":
        image.tiffsave(path, compression="lzw", predictor="horizontal", **options)
    elif fmt == "gif":
        image.gifsave(path, effort=4, **options)


def _encode(image: pyvips.Image, spec: dict, state: _State, frames: int) -> RenderResult:
    fmt = spec["format"]
    ext, lossy, _alpha, _cmyk = FORMATS[fmt]
    image = _prepare_for(image, fmt, state, spec.get("dpi"))
    keep = _keep_flags(state, image)
    quality = int(spec.get("quality", DEFAULT_QUALITY))
    max_bytes = spec.get("max_bytes")
    if max_bytes:
        image = image.copy_memory()  # output-sized; encoded more than once
    fd, path = tempfile.mkstemp(prefix="rendition-", suffix=f".{ext}", dir=_temp_dir())
    os.close(fd)
    try:
        _save(image, path, fmt, quality, spec, keep)
        size = os.path.getsize(path)
        if max_bytes and size > max_bytes:
            quality, size = _fit_bytes(image, path, fmt, quality, spec, keep, max_bytes, size)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
    height = image.height // frames if frames > 1 else image.height
    return RenderResult(
        path=Path(path),
        format=fmt,
        width=image.width,
        height=height,
        size=size,
        confidence=state.confidence,
        quality=quality if lossy else None,
        frames=frames,
    )


def _fit_bytes(image, path, fmt, quality, spec, keep, max_bytes, size) -> tuple[int, int]:
    """The highest quality whose file is at most max_bytes (binary search, bounded)."""
    lossy = FORMATS[fmt][1]
    if not lossy:
        raise RenderFailed(
            f"the {fmt.upper()} file is {size:,} bytes, more than max_bytes {max_bytes:,}, "
            "and the format has no quality to lower",
            details={"size": size, "max_bytes": max_bytes},
        )
    low, high = MIN_QUALITY, quality - 1
    best = None
    smallest = size
    for _ in range(MAX_QUALITY_STEPS):
        if low > high:
            break
        q = (low + high) // 2
        _save(image, path, fmt, q, spec, keep)
        s = os.path.getsize(path)
        smallest = min(smallest, s)
        if s <= max_bytes:
            best = (q, s)
            low = q + 1
        else:
            high = q - 1
    if best is None:
        raise RenderFailed(
            f"the image cannot be encoded in {max_bytes:,} bytes: {smallest:,} bytes even at "
            f"quality {MIN_QUALITY}",
            details={"smallest": smallest, "max_bytes": max_bytes},
        )
    q, s = best
    if os.path.getsize(path) != s or q != low - 1:
        _save(image, path, fmt, q, spec, keep)
        s = os.path.getsize(path)
    return q, s


# --- file names ---------------------------------------------------------------------------------

FILENAME_VARIABLES = ("sku", "gtin", "role", "position", "locale", "channel", "title_slug", "ext")
MAX_FILENAME = 200
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_SAFE = re.compile(r"[A-Za-z0-9._-]+")


def _is_safe_filename(text: str) -> bool:
    """Whether sanitise_filename would give `text` back unchanged."""
    return (
        0 < len(text) <= MAX_FILENAME
        and _SAFE.fullmatch(text) is not None
        and text[0] not in "-."
        and text[-1] not in "-."
        and "--" not in text
        and ".." not in text
    )


class _Formatter(string.Formatter):
    """str.format with two extra conversions for marketplace names:
    `{position:PT}` → PT01, PT02… (Amazon's variant codes), `{role:upper}` → MAIN."""

    def format_field(self, value, format_spec):
        if format_spec == "upper":
            return str(value).upper()
        if format_spec == "lower":
            return str(value).lower()
        if format_spec == "PT":
            return f"PT{int(value):02d}"
        return super().format_field(value, format_spec)


def filename(template: str, **context) -> str:
    """A file name from a template such as `{gtin}.{role:upper}.{ext}` ("4006381333931.MAIN.jpg")
    or `{sku}-{position:02}.{ext}`; a missing variable is an InvalidInput naming it, and the
    result is one safe path component (letters, digits, `.`, `_`, `-`)."""
    formatter = _Formatter()
    needed = []
    try:
        parsed = list(formatter.parse(template))
    except ValueError as exc:
        raise InvalidInput(f"the file name template {template!r} is not valid: {exc}") from exc
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if not name or not name.isidentifier() or conversion or "{" in (spec or ""):
            raise InvalidInput(f"the file name template {template!r} has an invalid field {name!r}")
        needed.append(name)
    missing = [n for n in needed if context.get(n) in (None, "")]
    if missing:
        raise InvalidInput(
            f"the file name template {template!r} needs {', '.join(missing)}, "
            "which this product or image does not have",
            details={"missing": missing, "template": template},
        )
    try:
        text = formatter.format(template, **context)
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise InvalidInput(f"the file name template {template!r} cannot be filled: {exc}") from exc
    return sanitise_filename(text)


def sanitise_filename(text: str) -> str:
    """One safe path component: ASCII letters, digits, `.`, `_` and `-`, no runs of `-` or
    `.`, none at either end, at most MAX_FILENAME characters (the extension kept)."""
    if _is_safe_filename(text):  # most names already are (a feed names every image)
        return text
    return _sanitised(text)


def _sanitised(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = _UNSAFE.sub("-", text).strip("-.")
    text = re.sub(r"-{2,}", "-", text)
    text = re.sub(r"\.{2,}", ".", text)
    if not text:
        raise InvalidInput("the file name is empty once unsafe characters are removed")
    if len(text) > MAX_FILENAME:
        stem, dot, ext = text.rpartition(".")
        if dot and len(ext) <= 5:
            text = stem[: MAX_FILENAME - len(ext) - 1] + "." + ext
        else:
            text = text[:MAX_FILENAME]
    return text


__all__ = [
    "FORMATS",
    "RenderFailed",
    "RenderResult",
    "filename",
    "flatten",
    "parse_colour",
    "render",
    "validate_spec",
]
