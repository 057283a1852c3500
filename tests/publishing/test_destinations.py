"""Destinations: a folder whose `current` release switches at once for a reader and keeps
the last releases; images hard-linked from a content-addressed cache; an S3 bucket (a real
SeaweedFS, as the S3 media tests start it) with current.json written last; an HTTP endpoint
(a real local server) that must answer 2xx; and whole publications to each."""

import hashlib
import io
import json
import os
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest

from folio.assets import storage
from folio.publishing import destinations, runs
from folio.publishing.models import Listing
from tests.assets.conftest import media  # noqa: F401 - the fixture
from tests.publishing.run_helpers import (  # noqa: F401 - fixtures
    items_of,
    make_feed,
    own_demo_catalog,
    test_formats,
)
from tests.s3server import ACCESS, BUCKET, SECRET, s3_media, seaweed  # noqa: F401 - fixtures


def fake_feed(destination=None, code="feed"):
    """Destinations read a feed's channel code, code and destination only."""
    return SimpleNamespace(
        channel=SimpleNamespace(code="shop"), code=code, destination=destination or {}
    )


def release(dest, n: int, lines: int = 2000):
    staged = dest.stage(n)
    (staged / "feed.txt").write_text(f"{n}\n" * lines)
    (staged / "count.txt").write_text(str(n))
    return dest.switch(staged, SimpleNamespace(pk=n), {})


# --- folder ---------------------------------------------------------------------------------


def test_a_reader_sees_one_whole_release_at_a_time(settings, tmp_path):
    settings.PUBLICATIONS_DIR = tmp_path
    settings.PUBLICATIONS_KEEP = 3
    dest = destinations.for_feed(fake_feed())
    release(dest, 1)
    current = tmp_path / "shop" / "feed" / "current"
    started, stop = threading.Event(), threading.Event()
    seen, problems = [], []

    def reader():
        while True:
            finishing = stop.is_set()
            try:
                lines = (current / "feed.txt").read_text().splitlines()
            except OSError as exc:  # `current` must exist at every moment
                problems.append(repr(exc))
                return
            if len(lines) != 2000 or len(set(lines)) != 1:
                problems.append(f"a mixed or partial file: {len(lines)} lines, {set(lines)}")
            seen.append(int(lines[0]))
            started.set()
            if finishing:
                return

    thread = threading.Thread(target=reader)
    thread.start()
    started.wait()
    for n in range(2, 31):
        switched = release(dest, n)
        dest.finish(switched)
    stop.set()
    thread.join()
    assert problems == []
    assert seen == sorted(seen) and seen[0] == 1 and seen[-1] == 30  # never back in time
    releases = sorted(int(p.name) for p in (tmp_path / "shop" / "feed" / "releases").iterdir())
    assert releases == [28, 29, 30]  # FOLIO_PUBLICATIONS_KEEP
    assert os.readlink(current) == "releases/30"


def test_an_abandoned_build_leaves_current_and_undo_goes_back(settings, tmp_path):
    settings.PUBLICATIONS_DIR = tmp_path
    dest = destinations.for_feed(fake_feed({"kind": "folder", "path": str(tmp_path / "out")}))
    release(dest, 1)
    staged = dest.stage(2)
    (staged / "feed.txt").write_text("half")
    dest.discard(staged)
    assert (tmp_path / "out" / "current" / "count.txt").read_text() == "1"
    assert sorted(p.name for p in (tmp_path / "out" / "releases").iterdir()) == ["1"]

    switched = release(dest, 3)
    assert (tmp_path / "out" / "current" / "count.txt").read_text() == "3"
    dest.undo(switched)
    assert (tmp_path / "out" / "current" / "count.txt").read_text() == "1"
    assert (tmp_path / "out" / "releases" / "3").is_dir()  # kept, just not current


@pytest.mark.django_db
@pytest.mark.usefixtures("media")
def test_images_come_from_the_cache_once(tmp_path):
    blob, _ = storage.store(io.BytesIO(b"\xff\xd8 not really a jpeg"), filename="x.jpg")
    cache = tmp_path / "cache"
    wanted = {"X.MAIN.jpg": (blob.sha256, blob.storage_name)}
    assert destinations.place_images(cache, tmp_path / "r1" / "images", wanted) == 1
    assert destinations.place_images(cache, tmp_path / "r2" / "images", wanted) == 0
    first = os.stat(tmp_path / "r1" / "images" / "X.MAIN.jpg")
    second = os.stat(tmp_path / "r2" / "images" / "X.MAIN.jpg")
    assert first.st_ino == second.st_ino and first.st_nlink == 3  # the cache's and two links
    assert (tmp_path / "r2" / "images" / "X.MAIN.jpg").read_bytes() == b"\xff\xd8 not really a jpeg"


def test_content_types():
    assert destinations.content_type("feed-en_US.xml") == "application/xml"
    assert destinations.content_type("feed.tsv").startswith("text/tab-separated-values")
    assert destinations.content_type("a.jpg") == "image/jpeg"
    assert destinations.content_type("sheet.pdf") == "application/pdf"


# --- s3 -------------------------------------------------------------------------------------


@pytest.fixture
def s3(request, settings, tmp_path):
    endpoint, client = request.getfixturevalue("seaweed")  # skips when SeaweedFS is missing
    settings.S3_ENDPOINT_URL = endpoint
    settings.S3_REGION = "us-east-1"
    settings.S3_ACCESS_KEY = ACCESS
    settings.S3_SECRET_KEY = SECRET
    settings.PUBLICATIONS_DIR = tmp_path / "publications"
    prefix = f"feeds/{uuid.uuid4().hex[:8]}"

    def get(key):
        return client.get_object(Bucket=BUCKET, Key=f"{prefix}/{key}")

    return SimpleNamespace(client=client, prefix=prefix, get=get)


def s3_release(dest, n: int, images: dict[str, bytes]):
    staged = dest.stage(n)
    (staged / "feed.xml").write_text(f"<feed n='{n}'/>")
    (staged / "images").mkdir()
    for name, data in images.items():
        (staged / "images" / name).write_bytes(data)
    shas = {name: hashlib.sha256(data).hexdigest() for name, data in images.items()}
    return dest.switch(staged, SimpleNamespace(pk=n), shas)


def test_s3_uploads_the_release_then_points_current_at_it(s3, settings):
    dest = destinations.for_feed(fake_feed({"kind": "s3", "bucket": BUCKET, "prefix": s3.prefix}))
    one = s3_release(dest, 1, {"a.jpg": b"A1", "b.jpg": b"B1"})
    assert one.location == f"s3://{BUCKET}/{s3.prefix}/releases/1/"
    feed = s3.get("releases/1/feed.xml")
    assert feed["Body"].read() == b"<feed n='1'/>" and feed["ContentType"] == "application/xml"
    assert json.loads(s3.get("current.json")["Body"].read())["release"] == "releases/1/"
    assert s3.get("images/a.jpg")["Body"].read() == b"A1"

    # an image whose bytes the bucket holds already is not sent again
    s3.client.put_object(Bucket=BUCKET, Key=f"{s3.prefix}/images/a.jpg", Body=b"untouched")
    two = s3_release(dest, 2, {"a.jpg": b"A1", "b.jpg": b"B2"})
    assert s3.get("images/a.jpg")["Body"].read() == b"untouched"
    assert s3.get("images/b.jpg")["Body"].read() == b"B2"
    assert json.loads(s3.get("current.json")["Body"].read())["publication"] == 2

    dest.undo(two)
    assert json.loads(s3.get("current.json")["Body"].read())["publication"] == 1
    settings.PUBLICATIONS_KEEP = 1
    three = s3_release(dest, 3, {"a.jpg": b"A1"})
    dest.finish(three)
    listed = s3.client.list_objects_v2(Bucket=BUCKET, Prefix=f"{s3.prefix}/releases/")
    assert {o["Key"].split("/")[3] for o in listed["Contents"]} == {"3"}


@pytest.mark.django_db
@pytest.mark.usefixtures("own_demo_catalog")
def test_a_publication_to_s3(s3):
    feed = make_feed(
        destination={
            "kind": "s3",
            "bucket": BUCKET,
            "prefix": s3.prefix,
            "public_base_url": "https://cdn.example/shop",
        }
    )
    p = runs.publish(feed)
    assert p.status == "done", p.message
    assert p.location == f"s3://{BUCKET}/{s3.prefix}/releases/{p.pk}/"
    body = s3.get(f"releases/{p.pk}/feed-en_US.jsonl")["Body"].read().decode()
    rows = {json.loads(line)["sku"]: json.loads(line) for line in body.splitlines()}
    image = rows["EP-3000"]["images"][0]
    assert image["url"] == f"https://cdn.example/shop/images/{image['file']}"
    data = s3.get(f"images/{image['file']}")["Body"].read()
    assert hashlib.sha256(data).hexdigest() == image["sha256"]
    assert json.loads(s3.get("current.json")["Body"].read())["files"] == ["feed-en_US.jsonl"]


@pytest.mark.django_db
@pytest.mark.usefixtures("s3_media", "own_demo_catalog")  # in this order: the assets go to S3
def test_with_s3_media_a_feed_without_destination_publishes_into_the_media_bucket(request):
    _, client = request.getfixturevalue("seaweed")
    feed = make_feed()
    assert not feed.destination
    p = runs.publish(feed)
    assert p.status == "done", p.message
    prefix = f"assets-test/publications/{feed.channel.code}/{feed.code}"
    assert p.location == f"s3://{BUCKET}/{prefix}/releases/{p.pk}/"
    pointer = json.loads(
        client.get_object(Bucket=BUCKET, Key=f"{prefix}/current.json")["Body"].read()
    )
    assert pointer["publication"] == p.pk and pointer["files"] == ["feed-en_US.jsonl"]
    body = client.get_object(Bucket=BUCKET, Key=f"{prefix}/releases/{p.pk}/feed-en_US.jsonl")
    rows = [json.loads(line) for line in body["Body"].read().decode().splitlines()]
    image = next(r for r in rows if r["sku"] == "EP-3000")["images"][0]
    data = client.get_object(Bucket=BUCKET, Key=f"{prefix}/images/{image['file']}")["Body"].read()
    assert hashlib.sha256(data).hexdigest() == image["sha256"]
    # No release lives on this machine (only the staging area and the image cache do).
    local = destinations.feed_folder(feed)
    assert not (local / "current").exists() and not (local / "releases").exists()


# --- http -----------------------------------------------------------------------------------


class Receiver:
    """A local HTTP endpoint that keeps what it is sent and answers `status`."""

    def __init__(self):
        self.received: list[dict] = []
        self.status, self.answer = 200, b"ok"
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.received.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body}
                )
                self.send_response(receiver.status)
                self.send_header("Content-Length", str(len(receiver.answer)))
                self.end_headers()
                self.wfile.write(receiver.answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # A kept-alive client connection must not hold up the shutdown for its idle timeout.
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.url = f"http://127.0.0.1:{self.server.server_port}/feeds/upload"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def test_http_posts_each_file_and_refuses_non_2xx(receiver, settings, tmp_path):
    settings.PUBLICATIONS_DIR = tmp_path
    dest = destinations.for_feed(
        fake_feed(
            {"kind": "http", "url": receiver.url, "headers": {"Authorization": "Bearer t0ken"}}
        )
    )
    staged = dest.stage(1)
    (staged / "feed.xml").write_text("<rss/>")
    (staged / "feed.tsv").write_text("id\ttitle\n")
    switched = dest.switch(staged, SimpleNamespace(pk=1), {})
    assert switched.location == receiver.url
    sent = {r["headers"]["Content-Disposition"]: r for r in receiver.received}
    xml = sent['attachment; filename="feed.xml"']
    assert xml["body"] == b"<rss/>" and xml["headers"]["Content-Type"] == "application/xml"
    assert xml["headers"]["Authorization"] == "Bearer t0ken"
    assert xml["headers"]["X-Folio-Publication"] == "1"
    assert sent['attachment; filename="feed.tsv"']["headers"]["Content-Type"].startswith(
        "text/tab-separated-values"
    )
    assert not staged.exists()

    receiver.status, receiver.answer = 413, b"feed too large"
    staged = dest.stage(2)
    (staged / "feed.xml").write_text("<rss/>")
    with pytest.raises(destinations.DestinationError) as refused:
        dest.switch(staged, SimpleNamespace(pk=2), {})
    assert "413" in str(refused.value) and "feed too large" in str(refused.value)
    assert receiver.url in str(refused.value)


@pytest.mark.django_db
@pytest.mark.usefixtures("own_demo_catalog")
def test_a_publication_to_http_fails_cleanly_then_succeeds(receiver):
    feed = make_feed(destination={"kind": "http", "url": receiver.url})
    receiver.status, receiver.answer = 503, b"try again later"
    failed = runs.publish(feed)
    assert failed.status == "failed" and "503" in failed.message
    assert not Listing.objects.filter(feed=feed).exists()

    receiver.status, receiver.answer = 201, b""
    receiver.received.clear()
    p = runs.publish(feed)
    assert p.status == "done" and p.location == receiver.url
    assert p.base_id is None  # the failed run is no base
    assert [r["headers"]["Content-Disposition"] for r in receiver.received] == [
        'attachment; filename="feed-en_US.jsonl"'
    ]
    assert receiver.received[0]["headers"]["X-Folio-Feed"] == "webshop/shop"
    assert Listing.objects.filter(feed=feed).count() == 4
    assert {i.action for i in items_of(p).values()} == {"added", "skipped"}
