"""Crash safety, continued (see tests/test_crash_safety.py, whose fixtures and checks these
share): real processes killed with SIGKILL at fault points in a resumable upload, an export,
a publication to S3 and an all-or-nothing import. Afterwards the database is consistent, no
file or object is left that nothing names once the normal prune has run, nothing half-made
is presented as whole, and the interrupted work can be finished or is marked failed.
"""

import hashlib
import json
import uuid
from pathlib import Path

import pytest
import urllib3
from django.test import Client

from folio.accounts import services as accounts
from folio.assets import services as asset_services
from folio.assets.models import Asset, Blob, Upload
from folio.catalog import services as catalog_services
from folio.catalog.models import Product
from folio.imports import services as imports
from folio.imports.models import ExportRun, ImportRun
from folio.jobs.models import Job
from folio.publishing import runs
from folio.publishing.models import Feed, Publication
from tests.assets import files
from tests.conftest import run_folio
from tests.fixtures.catalog import espresso_pro
from tests.s3server import ACCESS, BUCKET, SECRET, seaweed  # noqa: F401 - fixture
from tests.test_crash_safety import (  # noqa: F401 - env, media, processes: fixtures
    assert_database_consistent,
    catalog_channel,
    env,
    free_port,
    killed,
    machines,
    media,
    media_files,
    processes,
    restart_worker,
)
from tests.test_crash_safety import serve as serve_web


@pytest.fixture
def var(settings, tmp_path, env):  # noqa: F811 - the fixture imported above
    """A var folder (uploads in progress, exports, publications' builds) of this test's own,
    for its processes and for itself."""
    root = tmp_path / "var"
    root.mkdir()
    settings.VAR_DIR = root
    settings.UPLOAD_DIR = root / "uploads"
    settings.PUBLICATIONS_DIR = root / "publications"
    env["FOLIO_VAR"] = str(root)
    return root


def swept(settings) -> None:
    """What the prune jobs sweep, given no grace period: files of dead processes."""
    settings.STALE_FILE_GRACE = 0
    imports.prune_runs()


# --- resumable uploads ---------------------------------------------------------------------


def prune_assets(env) -> None:  # noqa: F811
    """`folio assets prune` given no grace period: sweeps what dead processes left."""
    pruned = run_folio(["assets", "prune"], {**env, "FOLIO_STALE_FILE_GRACE": "0"})
    assert pruned.returncode == 0, pruned.stdout + pruned.stderr


def serve(processes, env, faults: str) -> tuple:  # noqa: F811
    server, http, port = serve_web(processes, env, faults)
    return server, http, f"http://127.0.0.1:{port}/api/v1/assets/uploads"


@pytest.mark.parametrize(
    "fault",
    ["uploads.chunk_written:2", "assets.file_stored:1", "uploads.completed:1"],
    ids=["mid-chunk", "stored-not-committed", "committed-not-cleaned"],
)
def test_resumable_upload_killed_mid_way_is_finished_and_leaves_no_orphan(
    media,  # noqa: F811
    var,
    make_user,
    env,  # noqa: F811
    processes,  # noqa: F811
    settings,
    fault,
):
    user = make_user("asset_manager")
    _, token = accounts.create_token(user, "upload")
    auth = {"Authorization": f"Bearer {token}"}
    server, http, url = serve(processes, env, fault)
    data = files.png(160, 120)
    sha = hashlib.sha256(data).hexdigest()
    third = len(data) // 3 + 1
    chunks = [(at, data[at : at + third]) for at in range(0, len(data), third)]
    assert len(chunks) == 3
    started = http.request(
        "POST",
        url,
        body=json.dumps({"filename": "big.png", "size": len(data)}),
        headers={**auth, "Content-Type": "application/json"},
    )
    assert started.status == 201, started.data
    upload_id = started.json()["id"]

    def put(at, chunk):
        return http.request(
            "PUT",
            f"{url}/{upload_id}",
            body=chunk,
            headers={**auth, "Content-Range": f"bytes {at}-{at + len(chunk) - 1}/{len(data)}"},
        )

    with pytest.raises(urllib3.exceptions.ProtocolError):  # the web process died: no answer
        if fault.startswith("uploads.chunk_written"):
            assert put(*chunks[0]).status == 200
            put(*chunks[1])  # written, its offset not recorded
        else:
            for chunk in chunks:
                assert put(*chunk).status == 200
            http.request(
                "POST",
                f"{url}/{upload_id}/complete",
                body="{}",
                headers={**auth, "Content-Type": "application/json"},
            )
    server.terminate()
    server.wait(timeout=30)
    assert_database_consistent()
    assembled = var / "uploads" / f"resumable-{upload_id}"
    assert assembled.is_file()
    upload = Upload.objects.filter(pk=upload_id).first()

    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    url_done = f"/api/v1/assets/uploads/{upload_id}/complete"

    def done():
        return client.post(url_done, {}, content_type="application/json").status_code

    if fault.startswith("uploads.chunk_written"):
        # The offset says the first chunk only: the client resumes from there, over the
        # second chunk's stray bytes.
        assert upload.received == len(chunks[0][1]) and not Asset.objects.exists()
        status = client.get(f"/api/v1/assets/uploads/{upload_id}").json()
        assert status["received"] == len(chunks[0][1])
        for at, chunk in chunks[1:]:
            sent = client.put(
                f"/api/v1/assets/uploads/{upload_id}",
                chunk,
                content_type="application/octet-stream",
                HTTP_CONTENT_RANGE=f"bytes {at}-{at + len(chunk) - 1}/{len(data)}",
            )
            assert sent.status_code == 200, sent.content
        assert done() == 201
    elif fault.startswith("assets.file_stored"):
        # The file was stored, no row committed: no half asset, the upload is still whole
        # and is completed again (before or after the prune swept the stored file).
        assert upload.received == len(data)
        assert not Asset.objects.exists() and not Blob.objects.exists()
        assert f"pending/{sha}" in media_files(media)
        settings.STALE_FILE_GRACE = 0
        asset_services.prune()  # what `folio assets prune` does
        assert media_files(media) == set()
        assert assembled.is_file()  # its upload is live
        assert done() == 201
    else:
        # The asset committed with the upload's end: the client, which never heard, cannot
        # make it twice; the assembled file is left for the prune.
        assert upload is None
        assert Asset.objects.get().current_version.blob.sha256 == sha
        assert done() == 404

    prune_assets(env)
    asset = Asset.objects.get()
    assert asset.current_version.blob.sha256 == sha
    assert media_files(media) == {b.storage_name for b in Blob.objects.all()}
    stored = media / asset.current_version.blob.storage_name
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == sha
    assert not Upload.objects.exists()
    assert list((var / "uploads").iterdir()) == []
    assert_database_consistent()


# --- exports -------------------------------------------------------------------------------


def export_folder_files(var: Path) -> set[str]:
    root = var / "exports"
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def test_export_killed_mid_file_is_failed_and_no_half_file_passes_for_it(
    catalog,
    api_client,
    env,  # noqa: F811
    var,
    processes,  # noqa: F811
    settings,
):
    machines(30)
    client = api_client("admin")
    proc = processes(["folio", "worker"], env, "export.chunk_written:1")
    response = client.post("/api/v1/exports", {"what": "products"}, content_type="application/json")
    assert response.status_code == 202, response.content
    run = ExportRun.objects.get(pk=response.json()["id"])
    killed(proc)
    run.refresh_from_db()
    assert (run.status, run.path) == ("running", "")
    # The rows so far are in a hidden part file; nothing carries the export's name.
    written = export_folder_files(var)
    assert len(written) == 1, written
    name = Path(next(iter(written))).name
    assert name.startswith(".products-") and ".part-" in name

    restart_worker(env)
    run.refresh_from_db()
    job = Job.objects.get(pk=run.job_id)
    assert job.status == "failed" and "died" in job.message
    assert run.status == "failed" and run.message.startswith("interrupted")
    assert client.get(f"/api/v1/exports/{run.pk}").json()["download"] is None
    swept(settings)
    assert export_folder_files(var) == set()
    assert_database_consistent()


def test_command_export_to_a_zip_killed_mid_way_leaves_no_zip_and_is_failed(
    catalog,
    env,  # noqa: F811
    var,
    processes,  # noqa: F811
    settings,
    tmp_path,
):
    machines(30)
    dest = tmp_path / "out" / "catalog.zip"
    proc = processes(["folio", "export", str(dest), "--quiet"], env, "export.chunk_written:1")
    killed(proc)
    assert not dest.parent.exists() or list(dest.parent.iterdir()) == []
    # The files gathered for the zip are in the exports folder, not the system's /tmp.
    assert any(p.startswith("work-") for p in export_folder_files(var))
    run = ExportRun.objects.get()
    job = Job.objects.get(pk=run.job_id)
    assert job.status == "running" and job.worker_id.startswith("cli-")

    restart_worker(env)
    job.refresh_from_db()
    run.refresh_from_db()
    assert job.status == "failed" and run.status == "failed"
    swept(settings)
    assert export_folder_files(var) == set()


# --- an all-or-nothing import ---------------------------------------------------------------


def test_all_or_nothing_import_killed_mid_way_wrote_nothing_and_is_failed_by_the_reaper(
    catalog,
    env,  # noqa: F811
    var,
    processes,  # noqa: F811
    tmp_path,
):
    source = tmp_path / "products.csv"
    source.write_text(
        "sku;family;brand\n" + "".join(f"AN-{i:05d};coffee_machines;All\n" for i in range(1500))
    )
    # Killed in its one transaction, with the first 1,000 products written in it.
    proc = processes(
        ["folio", "import", str(source), "--all-or-nothing", "--quiet"],
        env,
        "catalog.batch_before_commit:2",
    )
    killed(proc)
    assert not Product.objects.exists()
    run = ImportRun.objects.get()
    job = Job.objects.get(pk=run.job_id)
    assert job.status == "running" and job.worker_id.startswith("cli-")

    restart_worker(env)
    job.refresh_from_db()
    run.refresh_from_db()
    assert job.status == "failed" and "died" in job.message
    assert run.status == "failed" and "nothing was written" in run.message
    assert not run.written
    assert not Product.objects.exists()
    assert_database_consistent()


# --- publications to S3 --------------------------------------------------------------------


@pytest.fixture
def s3(seaweed, settings, env):  # noqa: F811
    endpoint, client = seaweed
    config = {
        "S3_ENDPOINT_URL": endpoint,
        "S3_REGION": "us-east-1",
        "S3_ACCESS_KEY": ACCESS,
        "S3_SECRET_KEY": SECRET,
    }
    for name, value in config.items():
        setattr(settings, name, value)
        env[f"FOLIO_{name}"] = value
    prefix = f"crash/{uuid.uuid4().hex[:8]}"

    def objects() -> set[str]:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
        return {o["Key"][len(prefix) + 1 :] for page in pages for o in page.get("Contents", [])}

    def current() -> dict:
        return json.loads(
            client.get_object(Bucket=BUCKET, Key=f"{prefix}/current.json")["Body"].read()
        )

    return type("S3", (), {"prefix": prefix, "objects": objects, "current": current})


@pytest.mark.parametrize(
    "fault", ["publish.release_file_uploaded:1", "publish.switched:1"], ids=["half", "switched"]
)
def test_publication_to_s3_killed_mid_release_is_rolled_back(
    catalog,
    env,  # noqa: F811
    var,
    s3,
    processes,  # noqa: F811
    fault,
):
    items = [espresso_pro(sku=f"EP-{i:03d}") for i in range(10)]
    for item in items:
        item["values"].pop("gtin", None)  # unique: one product only
    assert {r["status"] for r in catalog_services.bulk_upsert(items)} == {"created"}
    feed = Feed.objects.create(
        channel_id=catalog_channel(),
        code="shop",
        format="json",
        locales=["en_US", "de_DE"],
        currency="USD",
        destination={"kind": "s3", "bucket": BUCKET, "prefix": s3.prefix},
    )
    first = runs.publish(feed)
    assert first.status == "done", first.message
    before = s3.objects()
    release = {k for k in before if k.startswith(f"releases/{first.pk}/")}
    assert len(release) == 2 and s3.current()["publication"] == first.pk

    proc = processes(["folio", "worker"], env, fault)
    second = runs.start_publication(feed, mode="full")
    killed(proc)
    theirs = {k for k in s3.objects() if k.startswith(f"releases/{second.pk}/")}
    if fault.startswith("publish.switched"):
        assert len(theirs) == 2 and s3.current()["publication"] == second.pk
    else:
        assert len(theirs) == 1 and s3.current()["publication"] == first.pk

    restart_worker(env)
    second.refresh_from_db()
    assert second.status == "failed" and second.message.startswith("interrupted")
    # current.json names the last recorded release, whole; the dead run's objects are gone.
    assert s3.current() == {
        "publication": first.pk,
        "release": f"releases/{first.pk}/",
        "files": sorted(k.split("/", 2)[2] for k in release),
    }
    assert s3.objects() == before
    assert not list((var / "publications").rglob(f"builds/{second.pk}"))

    third = runs.publish(feed, mode="full")
    assert (third.status, third.counts["published"]) == ("done", 10), third.message
    assert s3.current()["publication"] == third.pk
    assert not any(k.startswith(f"releases/{second.pk}/") for k in s3.objects())
    assert Publication.objects.filter(status="running").count() == 0
    assert_database_consistent()


def test_a_failed_publication_s_objects_are_swept_by_the_next_run(catalog, var, s3, seaweed):  # noqa: F811
    """Recovery may not have got to it (the bucket was unreachable then): the next run of the
    feed deletes the objects of failed publications with its old releases."""
    _, client = seaweed
    feed = Feed.objects.create(
        channel_id=catalog_channel(),
        code="shop",
        format="json",
        locales=["en_US"],
        currency="USD",
        destination={"kind": "s3", "bucket": BUCKET, "prefix": s3.prefix},
    )
    dead = Publication.objects.create(
        feed=feed, channel_id=feed.channel_id, format="json", status="failed", message="x"
    )
    client.put_object(Bucket=BUCKET, Key=f"{s3.prefix}/releases/{dead.pk}/feed.json", Body=b"[")
    done = runs.publish(feed)
    assert done.status == "done", done.message
    assert not any(k.startswith(f"releases/{dead.pk}/") for k in s3.objects())
