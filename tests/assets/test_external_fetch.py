"""Renditions of assets that live in another DAM: the file is fetched from the stored
reference (a real HTTP server on 127.0.0.1 serving real JPEGs), kept as a local version
marked as fetched, rendered as usual, and fetched again when the other DAM announces a
change. The guards refuse what a hostile or broken reference could do."""

import datetime
import http.server
import threading

import pytest
from django.utils import timezone

from folio.assets import external
from folio.assets.models import Asset, AssetChange, AssetVersion, Blob
from folio.catalog import services as catalog_services
from folio.jobs.models import Job
from folio.jobs.services import execute
from folio.linking import services as linking
from folio.renditions import cache
from folio.renditions.jobs import render_one
from folio.renditions.models import Preset, Rendition
from tests.assets import files

FETCH_JOB = "folio.assets.external.fetch_external_files"


class Handler(http.server.BaseHTTPRequestHandler):
    routes: dict = {}  # path → (status, headers, body)
    hits: list = []

    def do_GET(self):
        self.hits.append((self.path, self.headers.get("Host")))
        status, headers, body = self.routes.get(self.path, (404, {}, b"not here"))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    Handler.routes, Handler.hits = {}, []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield base, Handler.routes
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def setup(db, settings, tmp_path, catalog, server):
    (tmp_path / "media").mkdir()
    (tmp_path / "uploads").mkdir()
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.UPLOAD_DIR = tmp_path / "uploads"
    # The test server is on the loopback address, which is refused by default.
    settings.EXTERNAL_FETCH_ALLOW_PRIVATE = True
    system, _ = external.register_system("acme-dam", "Acme DAM", "s3cret-shared-with-the-dam")
    catalog_services.create_product({"sku": "MUG-1", "family": "bottles"})
    base, routes = server
    return {"system": system, "base": base, "routes": routes}


JPEG_A = files.jpeg(320, 240, color=(200, 40, 40))
JPEG_B = files.jpeg(200, 300, color=(40, 40, 200))


def _fetch_jobs():
    return list(Job.objects.filter(kind=FETCH_JOB).order_by("created_at"))


def _run(job):
    execute(str(job.pk), "test-worker")
    job.refresh_from_db()
    return job


def test_a_linked_external_asset_is_fetched_and_rendered(setup):
    base, routes = setup["base"], setup["routes"]
    # The server says text/plain: the type is sniffed from the bytes.
    routes["/files/IMG-1"] = (200, {"Content-Type": "text/plain"}, JPEG_A)
    stamp = timezone.now() - datetime.timedelta(hours=1)
    asset = external.upsert_external(
        setup["system"],
        "IMG-1",
        url=f"{base}/files/IMG-1",
        status="approved",
        filename="front.jpg",
        updated_at=stamp,
    ).asset
    assert asset.current_version_id is None and not _fetch_jobs()  # not linked: not needed

    linking.link("MUG-1", asset.pk, "main")
    [job] = _fetch_jobs()
    assert _run(job).status == Job.Status.SUCCEEDED, job.message

    asset.refresh_from_db()
    version = asset.current_version
    assert version.number == 1 and version.filename == "front.jpg"
    assert version.mime == "image/jpeg" and (version.width, version.height) == (320, 240)
    assert version.size == len(JPEG_A)
    mark = external.fetched_mark(version)
    assert mark["url"] == f"{base}/files/IMG-1"
    assert mark["external_updated_at"] == stamp.isoformat()
    assert Blob.objects.filter(sha256=version.blob_id).exists()
    assert asset.status == "approved"  # still the other DAM's decision
    assert AssetChange.objects.filter(asset=asset, action="external_fetch").exists()
    # The version goes the way of an upload: previews, and renditions as usual.
    assert Job.objects.filter(kind="folio.assets.previews.make_previews").exists()
    preset = Preset.objects.create(
        code="thumb",
        name="thumb",
        spec={"format": "jpeg", "ops": [{"op": "resize", "mode": "fit", "width": 64}]},
    )
    rendition = render_one(cache.rendition_for(asset, preset))
    assert rendition.status == Rendition.Status.READY and rendition.width == 64

    # Up to date: fetching again reads nothing.
    hits = len(Handler.hits)
    assert external.fetch_file(asset.pk) == version
    assert len(Handler.hits) == hits


def test_a_change_in_the_other_dam_fetches_again(setup):
    base, routes = setup["base"], setup["routes"]
    routes["/a.jpg"] = (200, {"Content-Type": "image/jpeg"}, JPEG_A)
    first = timezone.now() - datetime.timedelta(hours=2)
    asset = external.upsert_external(
        setup["system"], "IMG-2", url=f"{base}/a.jpg", status="approved", updated_at=first
    ).asset
    linking.link("MUG-1", asset.pk, "main")
    _run(_fetch_jobs()[0])

    # The same event again (same updated_at): nothing to fetch.
    external.upsert_external(setup["system"], "IMG-2", url=f"{base}/a.jpg", updated_at=first)
    assert len(_fetch_jobs()) == 1
    # A newer file behind the same URL, announced by a newer updated_at.
    routes["/a.jpg"] = (200, {"Content-Type": "image/jpeg"}, JPEG_B)
    later = first + datetime.timedelta(hours=1)
    external.upsert_external(setup["system"], "IMG-2", updated_at=later)
    assert len(_fetch_jobs()) == 2
    assert _run(_fetch_jobs()[1]).status == Job.Status.SUCCEEDED
    asset.refresh_from_db()
    assert asset.current_version.number == 2
    assert (asset.current_version.width, asset.current_version.height) == (200, 300)
    assert external.fetched_mark(asset.current_version)["external_updated_at"] == (
        later.isoformat()
    )
    # A new URL with the same bytes: the mark moves, no third version.
    routes["/b.jpg"] = (200, {}, JPEG_B)
    external.upsert_external(setup["system"], "IMG-2", url=f"{base}/b.jpg")
    _run(_fetch_jobs()[2])
    asset.refresh_from_db()
    assert asset.versions.count() == 2
    assert external.fetched_mark(asset.current_version)["url"] == f"{base}/b.jpg"


def test_redirects_are_followed(setup):
    base, routes = setup["base"], setup["routes"]
    routes["/old"] = (302, {"Location": "/new.jpg"}, b"")
    routes["/new.jpg"] = (200, {}, JPEG_A)
    asset = external.upsert_external(setup["system"], "R", url=f"{base}/old").asset
    version = external.fetch_file(asset.pk)
    assert version.filename == "new.jpg" and version.mime == "image/jpeg"
    # Where a redirect leads is checked like the first URL.
    routes["/hop"] = (302, {"Location": "file:///etc/passwd"}, b"")
    hop = external.upsert_external(setup["system"], "H", url=f"{base}/hop").asset
    with pytest.raises(external.FetchFailed, match="only http and https"):
        external.fetch_file(hop.pk)
    routes["/loop"] = (302, {"Location": "/loop"}, b"")
    looping = external.upsert_external(setup["system"], "L", url=f"{base}/loop").asset
    with pytest.raises(external.FetchFailed, match="redirects"):
        external.fetch_file(looping.pk)


@pytest.mark.parametrize(
    "route, reason",
    [
        ((404, {}, b"gone"), "answered 404"),
        ((200, {"Content-Type": "text/html"}, b"<html><body>Login</body></html>"), "not an image"),
        ((200, {}, b"x" * 5000), "larger than"),
        ((200, {}, b""), "empty"),
    ],
)
def test_bad_answers_are_refused_and_write_nothing(setup, settings, route, reason):
    base, routes = setup["base"], setup["routes"]
    settings.MAX_UPLOAD_BYTES = 4096
    routes["/f"] = route
    asset = external.upsert_external(setup["system"], "BAD", url=f"{base}/f").asset
    with pytest.raises(external.InvalidInput, match=reason):
        external.fetch_file(asset.pk)
    assert not AssetVersion.objects.exists() and not Blob.objects.exists()


def test_private_addresses_are_refused_unless_allowed(setup, settings):
    base, routes = setup["base"], setup["routes"]
    routes["/a.jpg"] = (200, {}, JPEG_A)
    settings.EXTERNAL_FETCH_ALLOW_PRIVATE = False
    asset = external.upsert_external(setup["system"], "P", url=f"{base}/a.jpg").asset
    with pytest.raises(external.FetchFailed, match="FOLIO_EXTERNAL_FETCH_ALLOW_PRIVATE"):
        external.fetch_file(asset.pk)
    assert not Handler.hits  # refused before connecting
    for url in (
        "http://localhost/x.jpg",
        "http://10.0.0.7/x.jpg",
        "http://169.254.169.254/",
        "http://[::1]/x.jpg",
        "http://[::ffff:127.0.0.1]/x.jpg",
        "http://0.0.0.0/",
    ):
        with pytest.raises(external.FetchFailed):
            external._open(url, 1000)
    for url in ("ftp://dam.example/x.jpg", "file:///etc/passwd", "http:///x", "nonsense"):
        with pytest.raises(external.FetchFailed):
            external._checked_address(url)


def test_the_environment_variable_allows_private_addresses(setup, settings, monkeypatch):
    del settings.EXTERNAL_FETCH_ALLOW_PRIVATE
    monkeypatch.delenv("FOLIO_EXTERNAL_FETCH_ALLOW_PRIVATE", raising=False)
    assert external.allow_private() is False
    monkeypatch.setenv("FOLIO_EXTERNAL_FETCH_ALLOW_PRIVATE", "true")
    assert external.allow_private() is True
    base, routes = setup["base"], setup["routes"]
    routes["/a.jpg"] = (200, {}, JPEG_A)
    asset = external.upsert_external(setup["system"], "E", url=f"{base}/a.jpg").asset
    assert external.fetch_file(asset.pk).mime == "image/jpeg"


def test_a_failed_fetch_is_reported_by_the_job(setup):
    base = setup["base"]
    asset = external.upsert_external(
        setup["system"], "MISSING", url=f"{base}/nothing.jpg", status="approved"
    ).asset
    linking.link("MUG-1", asset.pk, "main")
    job = _run(_fetch_jobs()[0])
    assert job.status == Job.Status.SUCCEEDED
    assert job.items_failed == 1 and "answered 404" in job.errors[0]["message"]
    assert Asset.objects.get(pk=asset.pk).current_version_id is None


def test_uploaded_files_and_local_assets_are_left_alone(setup):
    local = Asset.objects.create(title="local", type="image")
    assert external.needs_fetch(local) is False
    with pytest.raises(external.InvalidInput):
        external.fetch_file(local.pk)
