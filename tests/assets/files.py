"""Real encoded files for the assets tests, made on the fly (nothing checked in).

Every factory returns bytes; signatures are shared by several test modules, so keep them
stable. Pillow/pillow-heif make images, PyAV encodes short video/audio clips, and the PDF is
written by hand (a minimal valid file with N pages, a title and an author).
"""

import io
import struct
import zipfile
import zlib
from fractions import Fraction

from PIL import Image, ImageCms


def _image(mode: str, width: int, height: int, color) -> Image.Image:
    return Image.new(mode, (width, height), color)


def jpeg(
    width: int = 64,
    height: int = 48,
    color=(200, 30, 30),
    exif: dict | None = None,
    quality: int = 85,
) -> bytes:
    """A baseline JPEG. `exif` maps EXIF tag ids (e.g. 0x010F Make, 0x0110 Model, 0x013B
    Artist, 0x8298 Copyright, 0x0112 Orientation) to values."""
    img = _image("RGB", width, height, color)
    out = io.BytesIO()
    kwargs = {"quality": quality}
    if exif:
        e = Image.Exif()
        for tag, value in exif.items():
            e[tag] = value
        kwargs["exif"] = e.tobytes()
    img.save(out, "JPEG", **kwargs)
    return out.getvalue()


def png(width: int = 64, height: int = 48, color=(30, 120, 200), alpha: bool = False) -> bytes:
    if alpha:
        img = _image("RGBA", width, height, (*color[:3], 128))
    else:
        img = _image("RGB", width, height, color[:3])
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def webp(width: int = 64, height: int = 48, color=(10, 200, 90)) -> bytes:
    out = io.BytesIO()
    _image("RGB", width, height, color).save(out, "WEBP", quality=80)
    return out.getvalue()


def avif(width: int = 64, height: int = 48, color=(120, 60, 200)) -> bytes:
    out = io.BytesIO()
    _image("RGB", width, height, color).save(out, "AVIF", quality=60)
    return out.getvalue()


def heic(width: int = 64, height: int = 48, color=(250, 200, 0)) -> bytes:
    import pillow_heif

    heif = pillow_heif.from_pillow(_image("RGB", width, height, color))
    out = io.BytesIO()
    heif.save(out, quality=60)
    return out.getvalue()


def tiff(width: int = 64, height: int = 48, color=(90, 90, 90)) -> bytes:
    out = io.BytesIO()
    _image("RGB", width, height, color).save(out, "TIFF")
    return out.getvalue()


def _cmyk_profile() -> bytes:
    """An ICC profile for the CMYK file. Little CMS cannot build a CMYK output profile from
    scratch, so a Lab profile stands in: the point is an embedded profile with a name."""
    profile = ImageCms.createProfile("LAB")
    return ImageCms.ImageCmsProfile(profile).tobytes()


def cmyk_tiff(width: int = 40, height: int = 30, icc: bool = True) -> bytes:
    """A print-ready CMYK TIFF with an embedded ICC profile (as agencies deliver)."""
    img = _image("CMYK", width, height, (0, 60, 100, 10))
    out = io.BytesIO()
    kwargs = {"icc_profile": _cmyk_profile()} if icc else {}
    img.save(out, "TIFF", **kwargs)
    return out.getvalue()


def cmyk_jpeg(width: int = 40, height: int = 30) -> bytes:
    out = io.BytesIO()
    _image("CMYK", width, height, (0, 60, 100, 10)).save(out, "JPEG", quality=80)
    return out.getvalue()


def grey_png(width: int = 32, height: int = 32) -> bytes:
    out = io.BytesIO()
    _image("L", width, height, 128).save(out, "PNG")
    return out.getvalue()


def gif(width: int = 32, height: int = 24, animated: bool = False, frames: int = 3) -> bytes:
    out = io.BytesIO()
    if not animated:
        _image("P", width, height, 1).save(out, "GIF")
        return out.getvalue()
    images = [_image("RGB", width, height, (i * 60 % 256, 100, 200)) for i in range(frames)]
    images[0].save(out, "GIF", save_all=True, append_images=images[1:], duration=100, loop=0)
    return out.getvalue()


def svg(script: bool = False, external: bool = False, width: int = 120, height: int = 80) -> bytes:
    """An SVG logo; `script` adds a <script> and an onload handler, `external` an external
    image reference and a javascript: link (the things an SVG must never be served with)."""
    extra = ""
    attrs = ""
    if script:
        extra += '<script type="text/javascript">alert(document.cookie)</script>'
        attrs += ' onload="alert(1)"'
    if external:
        extra += (
            '<image href="https://tracker.example.com/pixel.png" width="1" height="1"/>'
            '<a xlink:href="javascript:alert(2)"><text x="5" y="70">x</text></a>'
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}"{attrs}>'
        "<title>Aqualine logo</title>"
        f'<rect x="10" y="10" width="{width - 20}" height="{height - 20}" fill="#0B5CAD"/>'
        f"{extra}</svg>\n"
    ).encode()


def _video(fmt: str, codec: str, seconds: float, width: int, height: int, fps: int) -> bytes:
    import av

    out = io.BytesIO()
    with av.open(out, mode="w", format=fmt) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        if codec == "libx264":
            stream.options = {"preset": "ultrafast"}
        elif codec.startswith("libvpx"):
            stream.options = {"deadline": "realtime", "cpu-used": "8"}
        for i in range(int(seconds * fps)):
            img = Image.new("RGB", (width, height), (i * 8 % 256, 80, 160))
            frame = av.VideoFrame.from_image(img)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()


def mp4(seconds: float = 1, width: int = 160, height: int = 90, fps: int = 12) -> bytes:
    return _video("mp4", "libx264", seconds, width, height, fps)


def mov(seconds: float = 1, width: int = 160, height: int = 90, fps: int = 12) -> bytes:
    return _video("mov", "libx264", seconds, width, height, fps)


def webm(seconds: float = 1, width: int = 160, height: int = 90, fps: int = 12) -> bytes:
    return _video("webm", "libvpx", seconds, width, height, fps)


def _audio(fmt: str, codec: str, seconds: float, rate: int = 22050) -> bytes:
    import math

    import av

    out = io.BytesIO()
    with av.open(out, mode="w", format=fmt) as container:
        stream = container.add_stream(codec, rate=rate)
        stream.layout = "mono"
        samples = int(seconds * rate)
        tone = struct.pack(
            f"<{samples}h",
            *(int(math.sin(2 * math.pi * 440 * i / rate) * 8000) for i in range(samples)),
        )
        frame = av.AudioFrame(format="s16", layout="mono", samples=samples)
        frame.planes[0].update(tone)
        frame.sample_rate = rate
        frame.time_base = Fraction(1, rate)
        frame.pts = 0
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()


def wav(seconds: float = 1) -> bytes:
    return _audio("wav", "pcm_s16le", seconds)


def mp3(seconds: float = 1) -> bytes:
    return _audio("mp3", "libmp3lame", seconds)


def m4a(seconds: float = 1) -> bytes:
    return _audio("ipod", "aac", seconds)


def pdf(pages: int = 2, title: str = "EspressoPro manual", author: str = "Aqualine") -> bytes:
    """A minimal valid PDF: `pages` A4 pages with one line of text each, and an Info dict."""
    objects: list[bytes] = []
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(pages))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for i in range(pages):
        content = f"BT /F1 24 Tf 72 720 Td (Page {i + 1}) Tj ET".encode()
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {5 + 2 * i} 0 R >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
    objects.append(f"<< /Title ({title}) /Author ({author}) >>".encode())
    info = len(objects)
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % n + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n"
        % (len(objects) + 1, info, xref)
    )
    return out.getvalue()


def docx(text: str = "Care instructions") -> bytes:
    """A small Word document (a zip with the OOXML parts Word needs)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/word/document.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
        )
        z.writestr(
            "_rels/.rels",
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
            '2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>',
        )
        z.writestr(
            "word/document.xml",
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
            f"<w:body><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:body></w:document>",
        )
    return out.getvalue()


def bomb_png(width: int = 30000, height: int = 30000) -> bytes:
    """A tiny PNG whose header declares a huge canvas (a decompression bomb): the IDAT holds
    only a few compressed rows, enough for sniffers and header readers to believe it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    rows = zlib.compress((b"\x00" + b"\x00" * width) * 4, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def truncated_jpeg(width: int = 64, height: int = 48) -> bytes:
    """A JPEG cut off in the middle of its scan data (an interrupted transfer)."""
    data = jpeg(width, height)
    return data[: len(data) // 2]


def truncated_mp4() -> bytes:
    data = mp4()
    return data[: len(data) // 3]


def corrupt_png() -> bytes:
    """A PNG signature followed by garbage: sniffs as PNG, cannot be read."""
    return b"\x89PNG\r\n\x1a\n" + b"\x00\x13garbage-not-an-ihdr" * 4


def random_bytes(n: int = 4096, seed: int = 1) -> bytes:
    import random

    return random.Random(seed).randbytes(n)


def executable() -> bytes:
    """The start of a Linux ELF binary."""
    return b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00" + b"\x00" * 200


def lying_extension() -> tuple[bytes, str]:
    """PNG bytes under a .jpg name."""
    return png(), "photo.jpg"
