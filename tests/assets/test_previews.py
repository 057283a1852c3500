"""Previews through the real background worker: every format becomes a bounded sRGB WebP,
colours survive colour management, and an asset is usable before its previews exist."""

import io
import os
import resource

import pytest
import pyvips
from PIL import Image

from folio.assets import previews, services
from folio.assets.models import Asset, Preview
from folio.jobs.models import Job
from folio.jobs.worker import Worker
from tests.assets import files

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("media")]


def add(data: bytes, filename: str, user=None, **kwargs) -> Asset:
    return services.add_asset(io.BytesIO(data), filename=filename, user=user, **kwargs)


def run_jobs() -> None:
    Worker(batch=True).run()


def fetch(client, asset: Asset, name: str) -> pyvips.Image:
    response = client.get(f"/api/v1/assets/{asset.pk}/preview/{name}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "image/webp"
    data = b"".join(response.streaming_content)
    return pyvips.Image.new_from_buffer(data, "")


def near(pixel, expected, tolerance=12) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, expected, strict=False))


def centre(image: pyvips.Image):
    return image.getpoint(image.width // 2, image.height // 2)


def cyan_cmyk_tiff() -> bytes:
    """Pure process cyan, no profile: only a CMYK→sRGB transform gets it right."""
    out = io.BytesIO()
    Image.new("CMYK", (60, 40), (255, 0, 0, 0)).save(out, "TIFF")
    return out.getvalue()


def p3_jpeg() -> bytes:
    """sRGB red expressed in Display P3 with the P3 profile embedded: the numbers in the file
    are (234, 51, 35); shown colour-correctly in sRGB it is red again."""
    red = pyvips.Image.black(80, 60).new_from_image([255, 0, 0]).copy(interpretation="srgb")
    return red.icc_transform("p3", input_profile="srgb").jpegsave_buffer(Q=95)


def animated_gif() -> bytes:
    out = io.BytesIO()
    frames = [Image.new("RGB", (40, 30), c) for c in [(0, 128, 0), (200, 0, 0), (0, 0, 200)]]
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return out.getvalue()


def test_every_format_gets_srgb_previews_in_the_background(api_client):
    client = api_client("asset_manager")
    user = client.user
    assets = {
        "jpeg": add(files.jpeg(2400, 1600, color=(200, 30, 30)), "big.jpg", user),
        "png_alpha": add(files.png(300, 200, alpha=True), "logo.png", user),
        "cmyk": add(cyan_cmyk_tiff(), "print.tif", user),
        "icc": add(p3_jpeg(), "wide-gamut.jpg", user),
        "heic": add(files.heic(120, 90, color=(250, 200, 0)), "phone.heic", user),
        "avif": add(files.avif(120, 90, color=(120, 60, 200)), "web.avif", user),
        "gif": add(animated_gif(), "banner.gif", user),
        "svg": add(files.svg(script=True, external=True), "logo.svg", user),
        "pdf": add(files.pdf(pages=2), "manual.pdf", user),
        "video": add(files.mp4(seconds=2), "brewing.mp4", user),
        "audio": add(files.wav(), "jingle.wav", user),
    }
    # Exactly one job per version, queued on commit, none run on the request path.
    jobs = Job.objects.filter(kind=previews.make_previews.job_name)
    assert jobs.count() == len(assets) - 1  # audio has no preview
    assert set(jobs.values_list("status", flat=True)) == {"queued"}

    # Usable before its previews exist: the asset answers, its previews say "pending".
    jpeg = assets["jpeg"]
    assert client.get(f"/api/v1/assets/{jpeg.pk}").status_code == 200
    state = client.get(f"/api/v1/assets/{jpeg.pk}/previews").json()
    assert state == {"state": "pending", "previews": {}, "message": ""}
    response = client.get(f"/api/v1/assets/{jpeg.pk}/preview/thumb")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "preview_pending"
    assert client.get(f"/api/v1/assets/{assets['audio'].pk}/previews").json()["state"] == "none"

    run_jobs()
    failed = list(jobs.exclude(status="succeeded").values_list("params", "message"))
    assert failed == []

    state = client.get(f"/api/v1/assets/{jpeg.pk}/previews").json()
    assert state["state"] == "ready"
    assert state["previews"]["thumb"] == {
        "url": f"/api/v1/assets/{jpeg.pk}/preview/thumb",
        "width": 256,
        "height": 171,
    }
    large = fetch(client, jpeg, "large")
    assert (large.width, large.height) == (1600, 1067)
    assert near(centre(large), (200, 30, 30))
    thumb = fetch(client, jpeg, "thumb")
    assert (thumb.width, thumb.height) == (256, 171)

    png = fetch(client, assets["png_alpha"], "large")
    assert (png.width, png.height, png.bands) == (300, 200, 4)  # never enlarged; alpha kept
    assert near(centre(png), (30, 120, 200, 128))

    # CMYK: process cyan is about (0, 158, 224) in sRGB; a naive inversion says (0, 255, 255).
    cmyk = fetch(client, assets["cmyk"], "large")
    assert cmyk.interpretation == "srgb" and cmyk.bands == 3
    assert near(centre(cmyk), (0, 158, 226), tolerance=20), centre(cmyk)

    # The embedded Display P3 profile is honoured: red comes back as sRGB red.
    icc = fetch(client, assets["icc"], "large")
    assert near(centre(icc), (255, 0, 0), tolerance=8), centre(icc)

    heic = fetch(client, assets["heic"], "large")
    assert (heic.width, heic.height) == (120, 90)
    assert near(centre(heic), (250, 200, 0), tolerance=15)
    avif = fetch(client, assets["avif"], "large")
    assert near(centre(avif), (120, 60, 200), tolerance=15)

    gif = fetch(client, assets["gif"], "large")
    assert (gif.width, gif.height) == (40, 30)  # one frame, not a strip of three
    assert near(centre(gif), (0, 128, 0))

    # Vectors are rendered sharp at the large size, from the sanitised file.
    svg = fetch(client, assets["svg"], "large")
    assert svg.width == 1600
    assert near(centre(svg), (11, 92, 173))

    pdf = fetch(client, assets["pdf"], "large")
    assert (pdf.width, pdf.height) == (1131, 1600)  # A4 portrait, page one
    assert near(pdf.getpoint(5, 5), (255, 255, 255))

    video = fetch(client, assets["video"], "large")
    assert (video.width, video.height) == (160, 90)
    assert near(centre(video), (0, 80, 160), tolerance=25)

    response = client.get(f"/api/v1/assets/{assets['audio'].pk}/preview/thumb")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "no_preview"

    # Images carry a perceptual hash; PDFs and videos do not.
    hashed = dict(Asset.objects.values_list("pk", "phash"))
    assert len(hashed[jpeg.pk]) == 16 and len(hashed[assets["svg"].pk]) == 16
    assert hashed[assets["pdf"].pk] == "" and hashed[assets["video"].pk] == ""


def test_preview_is_served_privately_with_the_blob_hash_as_etag(api_client):
    client = api_client("asset_manager")
    asset = add(files.jpeg(600, 400), "packshot.jpg", client.user)
    run_jobs()
    response = client.get(f"/api/v1/assets/{asset.pk}/preview/thumb")
    assert response.status_code == 200
    blob = Preview.objects.get(version=asset.current_version, name="thumb").blob
    assert response["ETag"] == f'"{blob.sha256}"'
    assert "private" in response["Cache-Control"]
    again = client.get(
        f"/api/v1/assets/{asset.pk}/preview/thumb", HTTP_IF_NONE_MATCH=response["ETag"]
    )
    assert again.status_code == 304
    assert client.get(f"/api/v1/assets/{asset.pk}/preview/huge").status_code == 404

    # Viewers may look; someone without a token may not; agencies only see their collections.
    assert api_client("viewer").get(f"/api/v1/assets/{asset.pk}/preview/thumb").status_code == 200
    from django.test import Client

    assert Client().get(f"/api/v1/assets/{asset.pk}/preview/thumb").status_code == 401
    assert api_client("agency").get(f"/api/v1/assets/{asset.pk}/preview/thumb").status_code == 404


def test_states_of_many_assets_name_each_failure(api_client, django_assert_max_num_queries):
    from django.core.files.storage import default_storage

    user = api_client("asset_manager").user
    broken = add(files.jpeg(64, 48, color=(9, 9, 9)), "broken.jpg", user)
    good = add(files.jpeg(64, 48, color=(200, 9, 9)), "good.jpg", user)
    with open(default_storage.path(broken.current_version.blob.storage_name), "r+b") as f:
        f.truncate(40)
    run_jobs()
    waiting = add(files.jpeg(64, 48, color=(9, 200, 9)), "waiting.jpg", user)  # not run yet
    assets = list(
        Asset.objects.filter(pk__in=[broken.pk, good.pk, waiting.pk]).select_related(
            "current_version"
        )
    )
    with django_assert_max_num_queries(2):  # previews, failed jobs (versions are loaded)
        states = previews.preview_states(assets)
    assert states[broken.pk]["state"] == "failed"
    assert "PreviewFailed" in states[broken.pk]["message"]
    assert states[good.pk]["state"] == "ready" and states[good.pk]["previews"]
    assert states[waiting.pk] == {"state": "pending", "previews": {}, "message": ""}


def test_a_broken_file_fails_its_job_with_the_reason(api_client):
    client = api_client("asset_manager")
    asset = add(files.jpeg(64, 48, color=(7, 77, 177)), "ok.jpg", client.user)
    # The stored bytes get damaged after upload (a disk fault): the job fails, says why.
    from django.core.files.storage import default_storage

    path = default_storage.path(asset.current_version.blob.storage_name)
    with open(path, "r+b") as f:
        f.truncate(40)
    run_jobs()
    job = Job.objects.get(kind=previews.make_previews.job_name)
    assert job.status == "failed"
    assert "PreviewFailed" in job.message
    state = client.get(f"/api/v1/assets/{asset.pk}/previews").json()
    assert state["state"] == "failed" and state["message"]
    response = client.get(f"/api/v1/assets/{asset.pk}/preview/thumb")
    assert response.json()["error"]["code"] == "preview_failed"


def _peak_rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="needs Linux /proc")
def test_a_50_megapixel_photo_is_thumbnailed_in_bounded_memory(tmp_path):
    path = tmp_path / "50mp.jpg"
    # A real 50 MP JPEG with detail (noise), written by libvips line by line.
    noise = pyvips.Image.gaussnoise(8660, 5774, mean=128, sigma=40).cast("uchar")
    noise.bandjoin([noise, noise]).copy(interpretation="srgb").jpegsave(str(path), Q=70)
    pyvips.cache_set_max(0)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak-RSS counter
    before = _peak_rss_kib()
    large = previews.render("image", str(path))
    peak = _peak_rss_kib() - before
    assert (large.width, large.height) == (1600, 1067)
    # Decoding it whole would take 150 MB for the pixels alone; shrink-on-load needs a
    # fraction of that. The bound is generous on purpose (allocator noise, thread stacks).
    assert peak < 100 * 1024, f"peak RSS grew by {peak / 1024:.0f} MB"


def test_sanitised_svg_keeps_the_drawing_and_drops_what_is_live():
    clean = previews.sanitise_svg(files.svg(script=True, external=True)).decode()
    assert "<script" not in clean and "onload" not in clean
    assert "tracker.example.com" not in clean and "javascript:" not in clean
    assert "#0B5CAD" in clean
    with pytest.raises(previews.PreviewFailed):
        previews.sanitise_svg(
            b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaa">]><svg>&a;</svg>'
        )
