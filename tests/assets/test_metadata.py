"""Metadata read from real files' headers, and the files that must be refused."""

import subprocess
import sys
import textwrap

import pytest

from folio.assets import metadata
from folio.errors import InvalidInput
from tests.assets import files
from tests.conftest import REPO


@pytest.fixture
def read(tmp_path):
    def read(data: bytes, name: str) -> dict:
        path = tmp_path / "probe"
        path.write_bytes(data)
        return metadata.extract(path, name)

    return read


@pytest.mark.parametrize(
    ("make", "name", "mime", "kind", "size"),
    [
        (files.jpeg, "a.jpg", "image/jpeg", "image", (64, 48)),
        (lambda: files.png(alpha=True), "a.png", "image/png", "image", (64, 48)),
        (files.webp, "a.webp", "image/webp", "image", (64, 48)),
        (files.avif, "a.avif", "image/avif", "image", (64, 48)),
        (files.heic, "a.heic", "image/heic", "image", (64, 48)),
        (files.tiff, "a.tif", "image/tiff", "image", (64, 48)),
        (files.svg, "logo.svg", "image/svg+xml", "image", (120, 80)),
        (files.mp4, "clip.mp4", "video/mp4", "video", (160, 90)),
        (files.mov, "clip.mov", "video/quicktime", "video", (160, 90)),
        (files.webm, "clip.webm", "video/webm", "video", (160, 90)),
        (files.wav, "a.wav", "audio/wav", "audio", (None, None)),
        (files.mp3, "a.mp3", "audio/mpeg", "audio", (None, None)),
        (files.m4a, "a.m4a", "audio/mp4", "audio", (None, None)),
        (lambda: files.pdf(3), "m.pdf", "application/pdf", "pdf", (595, 842)),
        (
            files.docx,
            "care.docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "document",
            (None, None),
        ),
    ],
)
def test_each_type_is_recognised_from_its_content(read, make, name, mime, kind, size):
    info = read(make(), name)
    assert (info["mime"], info["type"]) == (mime, kind)
    assert (info["width"], info["height"]) == size
    assert "extension_mismatch" not in info["metadata"]


def test_image_details(read):
    exif = {
        0x010F: "Canon",
        0x0110: "EOS R5",
        0x0112: 6,
        0x013B: "Jane Doe",
        0x8298: "(c) Aqualine",
    }
    meta = read(files.jpeg(exif=exif), "shot.jpg")["metadata"]
    assert meta["camera"] == "Canon EOS R5"
    assert meta["orientation"] == 6
    assert meta["creator"] == "Jane Doe" and meta["copyright"] == "(c) Aqualine"
    assert meta["colour_space"] == "sRGB"
    assert read(files.png(alpha=True), "a.png")["metadata"]["has_alpha"] is True
    assert read(files.grey_png(), "g.png")["metadata"]["colour_space"] == "grey"


def test_cmyk_with_icc_profile(read):
    meta = read(files.cmyk_tiff(), "print.tif")["metadata"]
    assert meta["colour_space"] == "CMYK"
    assert meta["icc_profile"]  # the profile's description


def test_animated_gif_frames_pdf_pages_and_media_timing(read):
    assert read(files.gif(animated=True, frames=4), "a.gif")["metadata"]["frames"] == 4
    pdf = read(files.pdf(pages=5), "manual.pdf")
    assert pdf["pages"] == 5
    assert pdf["metadata"]["pdf_title"] == "EspressoPro manual"
    assert pdf["metadata"]["creator"] == "Aqualine"
    video = read(files.mp4(seconds=2, fps=10), "clip.mp4")
    assert video["duration"] == pytest.approx(2, abs=0.2)
    assert video["metadata"]["video_codec"] == "h264"
    assert video["metadata"]["fps"] == pytest.approx(10)
    audio = read(files.m4a(seconds=1), "a.m4a")
    assert audio["duration"] == pytest.approx(1, abs=0.1)
    assert audio["metadata"]["audio_codec"] == "aac"


def test_a_lying_extension_is_accepted_and_reported(read):
    data, name = files.lying_extension()
    info = read(data, name)
    assert info["mime"] == "image/png"
    assert info["metadata"]["extension_mismatch"] == {"extension": ".jpg", "content": "image/png"}


@pytest.mark.parametrize(
    ("data", "name", "code"),
    [
        (files.bomb_png(), "bomb.png", "too_many_pixels"),
        (files.truncated_jpeg(), "cut.jpg", "truncated"),
        (files.corrupt_png(), "broken.png", "truncated"),
        (files.truncated_mp4(), "cut.mp4", "corrupt"),
        (files.pdf()[:400], "cut.pdf", "truncated"),
        (files.executable(), "setup.jpg", "executable"),
    ],
)
def test_bad_files_are_refused_naming_file_and_reason(read, data, name, code):
    with pytest.raises(InvalidInput) as err:
        read(data, name)
    assert err.value.code == code
    assert err.value.message.startswith(f"{name}: ")
    assert err.value.details["filename"] == name and err.value.details["reason"]


def test_svg_script_handlers_and_external_refs_are_found_and_removed(tmp_path):
    src, dst = tmp_path / "in.svg", tmp_path / "out.svg"
    src.write_bytes(files.svg(script=True, external=True))
    removed = metadata.sanitise_svg(src, dst, "logo.svg")
    assert any("script" in r for r in removed) and any("onload" in r for r in removed)
    safe = dst.read_text()
    for bad in ("<script", "onload", "javascript:", "tracker.example.com"):
        assert bad not in safe
    assert "<rect" in safe  # the drawing itself survives
    assert metadata.sanitise_svg(dst, tmp_path / "again.svg", "logo.svg") == []


def test_svg_with_entities_is_refused(tmp_path):
    path = tmp_path / "x.svg"
    path.write_bytes(
        b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaa">]>'
        b'<svg xmlns="http://www.w3.org/2000/svg">&a;</svg>'
    )
    with pytest.raises(InvalidInput, match="entities"):
        metadata.extract(path, "x.svg")


def test_a_huge_image_is_measured_from_its_header_without_decoding(tmp_path):
    """12000×12000 RGB would take 432 MB decoded; reading its header must stay far below."""
    import pyvips

    path = tmp_path / "huge.jpg"
    pyvips.Image.black(12000, 12000, bands=3).jpegsave(str(path), Q=50)
    script = textwrap.dedent(
        f"""
        import os, resource, django
        os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
        os.environ["FOLIO_MAX_IMAGE_PIXELS"] = "200000000"  # 144 MP is over the default
        django.setup()
        from folio.assets import metadata
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        info = metadata.extract({str(path)!r}, "huge.jpg")
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(info["width"], info["height"], (after - before) // 1024)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout.split()
    width, height, grown_mb = int(out[0]), int(out[1]), int(out[2])
    assert (width, height) == (12000, 12000)
    assert grown_mb < 50, f"reading the header grew memory by {grown_mb} MB"
