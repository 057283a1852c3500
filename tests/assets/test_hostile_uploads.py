"""A corpus of hostile files, made at test time, sent through the real upload API.

Each one is refused cleanly (422 naming the file and the reason, and nothing stored: no Blob
row, no file, no temporary file), made safe (SVG), or stored as what it really is and only
ever served as a download of its real type, never run by a browser in Folio's origin.
Zip slip and zip bombs in imports are in tests/imports/test_bad_input.py.
"""

import io
import struct
import zipfile
from pathlib import Path

import pytest
import pyvips
from django.core.files.uploadedfile import SimpleUploadedFile

from folio.assets.models import Asset, Preview
from tests.assets import files

JPEG = files.jpeg(64, 48)


def _jpeg_declaring(width: int, height: int) -> bytes:
    """A real 64×48 JPEG whose frame header (SOF0) claims another size."""
    at = JPEG.index(b"\xff\xc0")
    return JPEG[: at + 5] + struct.pack(">HH", height, width) + JPEG[at + 9 :]


def _zip(name: str, data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr(name, data)
    return out.getvalue()


def _jpeg_with_comment(text: bytes) -> bytes:
    """A JPEG carrying `text` in a comment segment: a JPEG/HTML polyglot."""
    return JPEG[:2] + b"\xff\xfe" + struct.pack(">H", len(text) + 2) + text + JPEG[2:]


SVG_OPEN = (
    '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
    'width="40" height="20">'
)

# name → (bytes, code of the refusal)
REFUSED = {
    "bomb-100000x100000.png": (files.bomb_png(100_000, 100_000), "too_many_pixels"),
    "bomb-65000x65000.jpg": (_jpeg_declaring(65_000, 65_000), "too_many_pixels"),
    "jpeg-zip-polyglot.jpg": (JPEG + _zip("../../evil.html", b"<script>x</script>"), "truncated"),
    "truncated.png": (files.png(200, 200)[:300], "truncated"),
    "truncated.jpg": (files.truncated_jpeg(), "truncated"),
    "xxe.svg": (
        b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        + SVG_OPEN.encode()
        + b"<text>&x;</text></svg>",
        "unsafe_svg",
    ),
    "billion-laughs.svg": (
        b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;&a;">'
        b'<!ENTITY c "&b;&b;&b;&b;&b;">]>' + SVG_OPEN.encode() + b"<text>&c;</text></svg>",
        "unsafe_svg",
    ),
    "program.jpg": (files.executable(), "executable"),
}

LIVE_SVG = (
    SVG_OPEN
    + '<script>alert("svg")</script>'
    + '<rect width="40" height="20" fill="#c00" onload="alert(1)"/>'
    + '<image xlink:href="file:///etc/passwd" width="1" height="1"/>'
    + '<image href="http://tracker.example/pixel.png" width="1" height="1"/>'
    + '<use href="https://evil.example/sprite.svg#icon"/>'
    + '<foreignObject width="10" height="10"><iframe xmlns="http://www.w3.org/1999/xhtml" '
    + 'src="javascript:alert(2)"/></foreignObject>'
    + '<a href="#top"><set attributeName="href" to="javascript:alert(3)"/>'
    + '<animate attributeName="xlink:href" values="javascript:alert(4)"/><text y="15">hi</text></a>'
    + '<style>@import url("https://evil.example/x.css");</style>'
    + "</svg>"
).encode()


@pytest.fixture
def hostile(tmp_path) -> Path:
    """The corpus as files on disk, as an attacker would send them."""
    folder = tmp_path / "hostile"
    folder.mkdir()
    for name, (data, _code) in REFUSED.items():
        (folder / name).write_bytes(data)
    (folder / "live.svg").write_bytes(LIVE_SVG)
    return folder


def post(client, path: Path, name: str | None = None):
    upload = SimpleUploadedFile(name or path.name, path.read_bytes())
    return client.post("/api/v1/assets", {"file": upload})


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_hostile_files_are_refused_and_leave_nothing(api_client, nothing_left, hostile, name):
    response = post(api_client("asset_manager"), hostile / name)
    assert response.status_code == 422, response.content
    error = response.json()["error"]
    assert error["code"] == REFUSED[name][1]
    assert name in error["message"]  # names the file, and says why
    assert nothing_left()


def test_the_resumable_path_refuses_them_too(api_client, nothing_left, hostile):
    client = api_client("asset_manager")
    data = (hostile / "bomb-100000x100000.png").read_bytes()
    started = client.post(
        "/api/v1/assets/uploads",
        {"filename": "bomb.png", "size": len(data)},
        content_type="application/json",
    ).json()
    url = f"/api/v1/assets/uploads/{started['id']}"
    client.generic(
        "PUT",
        url,
        data,
        content_type="application/octet-stream",
        HTTP_CONTENT_RANGE=f"bytes 0-{len(data) - 1}/{len(data)}",
    )
    done = client.post(f"{url}/complete", {}, content_type="application/json")
    assert done.status_code == 422
    assert done.json()["error"]["code"] == "too_many_pixels"
    assert nothing_left()


def test_live_svg_content_is_removed_before_storing(api_client, media, hostile):
    client = api_client("asset_manager")
    response = post(client, hostile / "live.svg")
    assert response.status_code == 201, response.content
    removed = " ".join(response.json()["current_version"]["metadata"]["svg_sanitised"])
    for what in ("<script>", "onload", "file:///etc/passwd", "tracker.example", "<use>"):
        assert what in removed
    download = client.get(f"/api/v1/assets/{response.json()['id']}/versions/1/download")
    stored = b"".join(download.streaming_content)
    for live in (
        b"<script",
        b"onload",
        b"file:",
        b"evil.example",
        b"tracker",
        b"javascript:",
        b"iframe",
    ):
        assert live not in stored, live
    assert b"<rect" in stored and b"hi</text>" in stored  # the drawing itself is kept
    assert "sandbox" in download["Content-Security-Policy"]


@pytest.mark.parametrize(
    ("data", "name", "real_type"),
    [
        (
            _jpeg_with_comment(b"<html><script>alert(1)</script></html>"),
            "polyglot.jpg",
            "image/jpeg",
        ),
        (files.png(), "photo.jpg", "image/png"),
        (b"<!DOCTYPE html><html><script>alert(1)</script></html>", "photo.jpg", None),
    ],
)
def test_what_is_kept_is_served_as_its_real_type_and_only_as_a_download(
    api_client, media, data, name, real_type
):
    """A file that is what it says only in part is stored (agencies send photo.jpg that is
    really a PNG every day), typed by its content, and never served inline."""
    client = api_client("asset_manager")
    response = post_bytes(client, data, name)
    assert response.status_code == 201, response.content
    version = response.json()["current_version"]
    if real_type:
        assert version["mime"] == real_type
    assert version["mime"] != "text/html"
    if real_type != "image/jpeg":
        assert version["metadata"]["extension_mismatch"]["extension"] == ".jpg"
    download = client.get(f"/api/v1/assets/{response.json()['id']}/versions/1/download")
    assert download["Content-Type"] == version["mime"]
    assert download["Content-Disposition"].startswith("attachment")
    assert download["X-Content-Type-Options"] == "nosniff"


def post_bytes(client, data: bytes, name: str):
    return client.post("/api/v1/assets", {"file": SimpleUploadedFile(name, data)})


@pytest.mark.django_db(transaction=True)
def test_extreme_dimensions_are_stored_and_previewed_within_bounds(api_client, media):
    """1×100000 is few pixels (no bomb), so it is accepted; its previews must still be made,
    bounded, and not crash the worker."""
    from folio.jobs.worker import Worker

    client = api_client("asset_manager")
    tall = pyvips.Image.black(1, 100_000).pngsave_buffer()
    response = post_bytes(client, tall, "tall.png")
    assert response.status_code == 201, response.content
    assert (response.json()["current_version"]["width"], 100_000) == (1, 100_000)
    Worker(batch=True).run()
    asset = Asset.objects.get(pk=response.json()["id"])
    thumbs = Preview.objects.filter(version=asset.current_version)
    assert thumbs.exists()
    for preview in thumbs:
        assert preview.width >= 1 and 1 <= preview.height <= 4096
