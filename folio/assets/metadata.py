"""What a file is, read from its content and headers only, and the safety checks on it.

`extract(path, filename)` never decodes pixels or video frames: libvips opens images lazily
(`access="sequential"` reads the header; pixels would only be decoded on demand), pypdfium2
opens a PDF's cross-reference table and Info dictionary without rendering, and PyAV probes a
container's headers. So learning that a file is 12000×12000 costs a few kilobytes of reading.

Safety, before any byte is stored:

- The type comes from the content (magic numbers; SVG by its root element), never the name.
  A name whose extension says something else is *accepted* and reported as
  `metadata["extension_mismatch"]` = {"extension", "content"}: agencies send photo.jpg that is
  really a PNG every day, and refusing would only lose the file; the UI shows the mismatch and
  downloads use the real type. Executables are refused outright.
- Decompression bombs: the pixel count declared in the header is checked against
  settings.MAX_IMAGE_PIXELS before anything could decode it.
- Corrupt or truncated files are refused with the file name and the reason: header parsing
  fails for garbage, and the cheap end-of-file markers (JPEG EOI, PNG IEND, GIF trailer, PDF
  %%EOF) catch transfers cut off in the middle.
- SVG is XML that browsers run scripts in: `sanitise_svg` writes a copy without <script>,
  event handlers (on…=), javascript: links, external references and entity declarations,
  and that copy is what gets stored.
"""

import io
import logging
import mimetypes
import re
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path

from django.conf import settings

from folio.errors import InvalidInput

log = logging.getLogger("folio.assets")

EXECUTABLES = {
    "application/x-executable",
    "application/x-msdownload",
    "application/x-mach-binary",
    "application/x-sharedlib",
    "application/vnd.microsoft.portable-executable",
    "application/x-dosexec",
    "application/x-elf",
}
RASTER = {
    "image/jpeg",
    "image/png",
    "image/gif",
    "image/webp",
    "image/tiff",
    "image/heic",
    "image/heif",
    "image/avif",
}
# Names for the same type that differ between sniffers and the mimetypes table.
ALIASES = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "audio/x-wav": "audio/wav",
    "audio/wave": "audio/wav",
    "audio/vnd.wave": "audio/wav",
    "audio/x-m4a": "audio/mp4",
    "audio/m4a": "audio/mp4",
    "audio/mp3": "audio/mpeg",
    "audio/x-mpeg": "audio/mpeg",
    "image/heif": "image/heic",
    "video/x-m4v": "video/mp4",
    "image/x-ms-bmp": "image/bmp",
    "application/x-pdf": "application/pdf",
}
# Extensions that legitimately hold the sniffed type even though mimetypes maps them to
# another name (e.g. .m4v is MP4, .jfif is JPEG).
EXTRA_EXTENSIONS = {
    "image/jpeg": {".jpg", ".jpeg", ".jpe", ".jfif"},
    "image/heic": {".heic", ".heif", ".hif"},
    "image/avif": {".avif"},
    "image/tiff": {".tif", ".tiff"},
    "video/mp4": {".mp4", ".m4v"},
    "audio/mp4": {".m4a", ".mp4", ".aac"},
    "audio/mpeg": {".mp3"},
    "audio/wav": {".wav"},
    "video/webm": {".webm"},
    "audio/webm": {".webm", ".weba"},
    "application/zip": {".zip"},
}


def normalise_mime(mime: str) -> str:
    return ALIASES.get(mime, mime)


def asset_type(mime: str) -> str:
    if mime.startswith("image/"):
        return "image"
    if mime.startswith("video/"):
        return "video"
    if mime.startswith("audio/"):
        return "audio"
    if mime == "application/pdf":
        return "pdf"
    return "document"


def _refuse(filename: str, reason: str, code: str = "invalid_file", **details) -> InvalidInput:
    return InvalidInput(
        f"{filename}: {reason}",
        details={"filename": filename, "reason": reason, **details},
        code=code,
    )


def extension_mismatch(filename: str, mime: str) -> dict | None:
    """{"extension", "content"} when the name's extension says another type than the bytes."""
    ext = Path(filename).suffix.lower()
    if not ext:
        return None
    named = mimetypes.guess_type(f"x{ext}")[0]
    if named is None:
        return None  # an extension nobody knows says nothing
    mime = normalise_mime(mime)
    if normalise_mime(named) == mime or ext in EXTRA_EXTENSIONS.get(mime, ()):
        return None
    if ext in mimetypes.guess_all_extensions(mime):
        return None
    # Office documents are zips; a .docx sniffed as zip (or the reverse) is not a lie.
    office = ("openxmlformats", "opendocument")
    if "application/zip" in (mime, named) and any(o in mime + named for o in office):
        return None
    return {"extension": ext, "content": mime}


def extract(path_or_file, filename: str, *, mime: str | None = None) -> dict:
    """Read what a file is from its headers. Returns
    {mime, type, size, width, height, pages, duration, metadata}; raises InvalidInput naming
    the file and the reason for files that must not be stored."""
    from folio.assets.storage import sniff

    path = _local_path(path_or_file)
    size = path.stat().st_size
    if mime is None:
        with open(path, "rb") as f:
            mime = sniff(f.read(8192))
    mime = normalise_mime(mime)
    if mime in EXECUTABLES:
        raise _refuse(filename, "programs cannot be stored as assets", code="executable")
    info: dict = {
        "mime": mime,
        "type": asset_type(mime),
        "size": size,
        "width": None,
        "height": None,
        "pages": None,
        "duration": None,
        "metadata": {},
    }
    mismatch = extension_mismatch(filename, mime)
    if mismatch:
        info["metadata"]["extension_mismatch"] = mismatch
    if mime in RASTER:
        _check_complete(path, mime, filename)
        _image(path, mime, filename, info)
    elif mime == "image/svg+xml":
        _svg(path, filename, info)
    elif mime == "application/pdf":
        _check_complete(path, mime, filename)
        _pdf(path, filename, info)
    elif mime.startswith(("video/", "audio/")):
        _media(path, filename, info)
    return info


def _local_path(path_or_file) -> Path:
    if isinstance(path_or_file, (str, Path)):
        return Path(path_or_file)
    name = getattr(path_or_file, "name", None)
    if name and Path(name).exists():
        return Path(name)
    raise TypeError("extract() needs a local file path (spool uploads first)")


# --- images -------------------------------------------------------------------------------


def _check_complete(path: Path, mime: str, filename: str) -> None:
    """Cheap end-of-file markers: a transfer cut off mid-way is refused without decoding."""
    with open(path, "rb") as f:
        f.seek(0, io.SEEK_END)
        end = f.tell()
        f.seek(max(0, end - 1024))
        tail = f.read()
    ok = True
    if mime == "image/jpeg":
        ok = b"\xff\xd9" in tail[-64:]
    elif mime == "image/png":
        ok = b"IEND" in tail[-32:]
    elif mime == "image/gif":
        ok = tail.rstrip(b"\x00").endswith(b";")
    elif mime == "application/pdf":
        ok = b"%%EOF" in tail
    if not ok:
        raise _refuse(
            filename,
            "the file is truncated (its end is missing), or other data was appended after it",
            code="truncated",
        )


def _image(path: Path, mime: str, filename: str, info: dict) -> None:
    import pyvips

    try:
        image = pyvips.Image.new_from_file(str(path), access="sequential")
        width, height = image.width, image.height
    except pyvips.Error as exc:
        if mime in ("image/heic", "image/avif"):
            _image_pillow(path, filename, info)
            return
        raise _refuse(
            filename, f"not a readable image ({_first_line(exc)})", code="corrupt"
        ) from None
    _check_pixels(filename, width, height)
    fields = set(image.get_fields())
    meta = info["metadata"]
    info["width"], info["height"] = width, height
    if "n-pages" in fields and image.get("n-pages") > 1:
        n = image.get("n-pages")
        if mime == "image/gif" or mime == "image/webp":
            meta["frames"] = n
            meta["animated"] = True
        else:
            info["pages"] = n
    if "orientation" in fields:
        meta["orientation"] = image.get("orientation")
    meta["bands"] = image.bands
    meta["has_alpha"] = bool(image.hasalpha())
    meta["colour_space"] = _colour_space(str(image.interpretation))
    if "bits-per-sample" in fields:
        meta["bits_per_sample"] = image.get("bits-per-sample")
    if "icc-profile-data" in fields:
        meta["icc_profile"] = _icc_description(image.get("icc-profile-data"))
    if "exif-data" in fields:
        meta.update(_exif(image.get("exif-data")))
    if "iptc-data" in fields:
        meta.update(_iptc(image.get("iptc-data")))
    if "xmp-data" in fields:
        meta.update(_xmp(image.get("xmp-data")))
    _promote_rights(meta)


def _image_pillow(path: Path, filename: str, info: dict) -> None:
    """HEIC/AVIF through pillow-heif when this libvips build cannot read them; Pillow's open()
    reads the header only, too."""
    from PIL import Image, UnidentifiedImageError

    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
        with Image.open(path) as img:
            width, height = img.size
            _check_pixels(filename, width, height)
            info["width"], info["height"] = width, height
            info["metadata"]["colour_space"] = _colour_space(img.mode)
            exif = img.info.get("exif")
            if exif:
                info["metadata"].update(_exif(exif))
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise _refuse(filename, f"not a readable image ({exc})", code="corrupt") from None


def _check_pixels(filename: str, width: int, height: int) -> None:
    limit = settings.MAX_IMAGE_PIXELS
    if width * height > limit:
        raise _refuse(
            filename,
            f"the image declares {width}×{height} pixels ({width * height / 1e6:.0f} MP), "
            f"more than the {limit / 1e6:.0f} MP allowed (a decompression bomb or an "
            "oversized scan)",
            code="too_many_pixels",
            width=width,
            height=height,
            max_pixels=limit,
        )


def _colour_space(interpretation: str) -> str:
    value = interpretation.lower()
    if value in ("cmyk",):
        return "CMYK"
    if value in ("b-w", "grey16", "l", "la", "1", "i", "i;16"):
        return "grey"
    if value in ("srgb", "rgb16", "rgb", "rgba", "p", "multiband"):
        return "sRGB"
    if value in ("scrgb",):
        return "scRGB"
    if value in ("lab", "labs", "labq"):
        return "Lab"
    return value


def _icc_description(data: bytes) -> str:
    from PIL import ImageCms

    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(data))
        return ImageCms.getProfileDescription(profile).strip() or "embedded"
    except (OSError, ImageCms.PyCMSError, TypeError):
        return "embedded (unreadable)"


EXIF_TAGS = {
    0x010F: "camera_make",
    0x0110: "camera_model",
    0x013B: "artist",
    0x8298: "copyright",
    0x010E: "description",
    0x0132: "modified_at",
    0x0131: "software",
}
EXIF_IFD_TAGS = {0x9003: "taken_at", 0xA434: "lens"}


def _exif(data: bytes) -> dict:
    from PIL import Image

    out: dict = {}
    try:
        exif = Image.Exif()
        exif.load(data)
    except Exception:  # EXIF in the wild is often broken; it is optional information
        return out
    for tag, key in EXIF_TAGS.items():
        value = exif.get(tag)
        if value not in (None, ""):
            out[key] = _clean(value)
    try:
        sub = exif.get_ifd(0x8769)
    except Exception:
        sub = {}
    for tag, key in EXIF_IFD_TAGS.items():
        value = sub.get(tag)
        if value not in (None, ""):
            out[key] = _clean(value)
    if 0x0112 in exif:
        out["orientation"] = int(exif[0x0112])
    if out.get("camera_make") or out.get("camera_model"):
        out["camera"] = " ".join(
            v for v in (out.get("camera_make"), out.get("camera_model")) if v
        ).strip()
    return out


def _clean(value) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return str(value).strip("\x00 ").strip()


IPTC_TAGS = {
    (2, 5): "iptc_title",
    (2, 25): "keywords",
    (2, 37): "iptc_expires",
    (2, 80): "byline",
    (2, 110): "credit",
    (2, 115): "source",
    (2, 116): "copyright_notice",
    (2, 120): "caption",
}


def _iptc(data: bytes) -> dict:
    """IPTC-IIM datasets (0x1C record dataset length value), found inside the Photoshop
    APP13 block that libvips hands over."""
    out: dict = {}
    i = 0
    while True:
        i = data.find(b"\x1c", i)
        if i < 0 or i + 5 > len(data):
            break
        record, dataset = data[i + 1], data[i + 2]
        length = int.from_bytes(data[i + 3 : i + 5], "big")
        if record != 2 or length & 0x8000 or i + 5 + length > len(data):
            i += 1
            continue
        key = IPTC_TAGS.get((record, dataset))
        value = data[i + 5 : i + 5 + length].decode("utf-8", "replace").strip()
        if key == "keywords":
            out.setdefault("keywords", []).append(value)
        elif key:
            out[key] = value
        i += 5 + length
    if "iptc_expires" in out:
        raw = out.pop("iptc_expires")
        try:
            out["expires"] = datetime.strptime(raw[:8], "%Y%m%d").date().isoformat()
        except ValueError:
            out["expires_raw"] = raw
    return out


XMP_FIELDS = {
    "dc:creator": "creator",
    "dc:rights": "rights",
    "dc:title": "xmp_title",
    "dc:description": "xmp_description",
    "photoshop:Credit": "credit",
    "photoshop:Source": "source",
    "xmpRights:UsageTerms": "usage_terms",
    "xmpRights:WebStatement": "licence_url",
    "plus:LicenseEndDate": "expires",
    "Iptc4xmpExt:LicenseEndDate": "expires",
    "photoshop:DateCreated": "created",
}


def _xmp(data) -> dict:
    """The few rights fields of an XMP packet, as text. Read with regular expressions on the
    packet (attributes or rdf:li items), so a malformed packet costs nothing but its fields."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)
    out: dict = {}
    for tag, key in XMP_FIELDS.items():
        name = re.escape(tag)
        found = re.search(rf'{name}="([^"]*)"', text)
        value = found.group(1) if found else None
        if value is None:
            found = re.search(rf"<{name}[^>]*>(.*?)</{name}>", text, re.S)
            if found:
                inner = found.group(1)
                items = re.findall(r"<rdf:li[^>]*>(.*?)</rdf:li>", inner, re.S)
                value = ", ".join(i.strip() for i in items) if items else inner.strip()
        if value:
            out[key] = _unescape(value)
    return out


def _unescape(value: str) -> str:
    return (
        value.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", '"')
        .replace("&apos;", "'")
        .replace("&amp;", "&")
        .strip()
    )


def _promote_rights(meta: dict) -> None:
    """One name per fact whichever standard carried it (XMP over IPTC over EXIF)."""
    creator = meta.get("creator") or meta.get("byline") or meta.get("artist")
    if creator:
        meta["creator"] = creator
    rights = meta.get("rights") or meta.get("copyright_notice") or meta.get("copyright")
    if rights:
        meta["copyright"] = rights


# --- SVG ----------------------------------------------------------------------------------

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
DANGEROUS_ELEMENTS = {"script", "foreignObject", "iframe", "embed", "object", "handler"}
LINK_ATTRS = {"href", f"{{{XLINK_NS}}}href", "src"}
MAX_SVG_BYTES = 20 * 1024 * 1024


def _svg(path: Path, filename: str, info: dict) -> None:
    root, findings = _parse_svg(path, filename)
    meta = info["metadata"]
    width, height = _svg_size(root)
    info["width"], info["height"] = width, height
    meta["colour_space"] = "sRGB"
    if findings:
        meta["svg_unsafe"] = findings
    title = root.find(f"{{{SVG_NS}}}title")
    if title is not None and (title.text or "").strip():
        meta["svg_title"] = title.text.strip()


def _parse_svg(path: Path, filename: str):
    if path.stat().st_size > MAX_SVG_BYTES:
        raise _refuse(filename, "the SVG is larger than 20 MiB", code="too_large")
    raw = path.read_bytes()
    if b"<!ENTITY" in raw:
        # Entities are how XML bombs and file-reading tricks work; logos never need them.
        raise _refuse(
            filename, "the SVG declares XML entities, which are not allowed", code="unsafe_svg"
        )
    try:
        # Safe here: entity declarations were refused above, and ElementTree never fetches
        # external DTDs or resources.
        root = ET.fromstring(raw)  # noqa: S314
    except ET.ParseError as exc:
        raise _refuse(filename, f"not a well-formed SVG ({exc})", code="corrupt") from None
    if _local(root.tag) != "svg":
        raise _refuse(filename, "the XML file is not an SVG image", code="corrupt")
    return root, _svg_findings(root)


def _local(tag) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _animates_link(el) -> bool:
    """<set>/<animate> that change a link: `<a><set attributeName="href" to="javascript:…">`
    turns a harmless link into a script when clicked, whatever its own href said."""
    return _local(el.tag) in ("set", "animate") and el.get("attributeName", "").strip() in (
        "href",
        "xlink:href",
    )


def _svg_findings(root) -> list[str]:
    findings = []
    for el in root.iter():
        name = _local(el.tag)
        if name in DANGEROUS_ELEMENTS:
            findings.append(f"<{name}> element")
        elif _animates_link(el):
            findings.append(f"<{name}> changing a link")
        for attr, value in el.attrib.items():
            local = _local(attr)
            if local.lower().startswith("on"):
                findings.append(f"{local} handler on <{name}>")
            elif attr in LINK_ATTRS and _external(value):
                findings.append(f"external reference {value[:80]!r} on <{name}>")
            elif local == "style" and ("url(" in value and _css_external(value)):
                findings.append(f"external style reference on <{name}>")
        if name == "style" and el.text and _css_external(el.text):
            findings.append("external reference in <style>")
    return findings


def _external(value: str) -> bool:
    v = value.strip().lower()
    return not v.startswith("#") and not v.startswith("data:image/")


def _css_external(css: str) -> bool:
    lowered = css.lower()
    return "@import" in lowered or bool(re.search(r"url\(\s*['\"]?(?!#|data:image/)", lowered))


def _svg_size(root) -> tuple[int | None, int | None]:
    def number(value):
        if not value:
            return None
        found = re.match(r"\s*([0-9.]+)", value)
        return round(float(found.group(1))) if found else None

    width, height = number(root.get("width")), number(root.get("height"))
    if (width is None or height is None) and root.get("viewBox"):
        parts = re.split(r"[\s,]+", root.get("viewBox").strip())
        if len(parts) == 4:
            width = width or number(parts[2])
            height = height or number(parts[3])
    return width, height


def sanitise_svg(src: Path, dst: Path, filename: str) -> list[str]:
    """Write a copy of the SVG without anything live; returns what was removed (empty when
    the file was clean, in which case `dst` is not written)."""
    root, findings = _parse_svg(src, filename)
    if not findings:
        return []
    ET.register_namespace("", SVG_NS)
    ET.register_namespace("xlink", XLINK_NS)

    def clean(el):
        for child in list(el):
            if _local(child.tag) in DANGEROUS_ELEMENTS or _animates_link(child):
                el.remove(child)
                continue
            if _local(child.tag) == "style" and child.text and _css_external(child.text):
                el.remove(child)
                continue
            clean(child)
        for attr in list(el.attrib):
            local = _local(attr)
            value = el.attrib[attr]
            if (
                local.lower().startswith("on")
                or (attr in LINK_ATTRS and _external(value))
                or (local == "style" and _css_external(value))
            ):
                del el.attrib[attr]

    clean(root)
    dst.write_bytes(b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root))
    return findings


# --- PDF ----------------------------------------------------------------------------------


def _pdf(path: Path, filename: str, info: dict) -> None:
    import pypdfium2 as pdfium

    try:
        doc = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        reason = str(exc)
        if "password" in reason.lower():
            raise _refuse(filename, "the PDF is password-protected", code="encrypted") from None
        raise _refuse(filename, f"not a readable PDF ({reason})", code="corrupt") from None
    try:
        info["pages"] = len(doc)
        meta = info["metadata"]
        for key, value in doc.get_metadata_dict(skip_empty=True).items():
            if key in ("Title", "Author", "Subject", "Keywords", "Creator", "Producer"):
                meta[f"pdf_{key.lower()}"] = value
        if info["pages"]:
            w, h = doc.get_page_size(0)
            info["width"], info["height"] = round(w), round(h)  # points, 1/72 inch
            meta["page_size_unit"] = "pt"
        if meta.get("pdf_author"):
            meta["creator"] = meta["pdf_author"]
    finally:
        doc.close()


# --- video and audio ----------------------------------------------------------------------


def _media(path: Path, filename: str, info: dict) -> None:
    import av

    try:
        container = av.open(str(path), mode="r", metadata_errors="ignore")
    except (av.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise _refuse(
            filename, f"not a readable media file ({_first_line(exc)})", code="corrupt"
        ) from None
    meta = info["metadata"]
    try:
        meta["container"] = container.format.name
        if container.duration is not None:
            info["duration"] = round(container.duration / 1_000_000, 3)
        if container.bit_rate:
            meta["bit_rate"] = container.bit_rate
        video = next(iter(container.streams.video), None)
        audio = next(iter(container.streams.audio), None)
        if video is None and audio is None:
            raise _refuse(filename, "the file has no video or audio stream", code="corrupt")
        if video is not None:
            ctx = video.codec_context
            info["width"], info["height"] = ctx.width or None, ctx.height or None
            meta["video_codec"] = ctx.name
            rate = video.average_rate or video.guessed_rate
            if rate:
                meta["fps"] = round(float(rate), 3)
            if info["duration"] is None and video.duration and video.time_base:
                info["duration"] = round(float(video.duration * video.time_base), 3)
            if video.frames:
                meta["frames"] = video.frames
        if audio is not None:
            ctx = audio.codec_context
            meta["audio_codec"] = ctx.name
            meta["sample_rate"] = ctx.sample_rate
            meta["channels"] = ctx.channels if hasattr(ctx, "channels") else None
            if info["duration"] is None and audio.duration and audio.time_base:
                info["duration"] = round(float(audio.duration * audio.time_base), 3)
        if video is None and info["type"] == "video":
            info["type"] = "audio"  # an .mp4/.webm with sound only
        if video is not None and info["type"] == "audio":
            info["type"] = "video"
        for key, value in (container.metadata or {}).items():
            if key in ("title", "artist", "copyright", "creation_time", "comment"):
                meta[f"tag_{key}"] = value
    finally:
        container.close()


def _first_line(exc) -> str:
    # FFmpeg errors end with the (temporary) path; users need the reason, not our paths.
    text = getattr(exc, "strerror", None) or str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
