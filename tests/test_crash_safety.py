"""Crash safety: real processes killed with SIGKILL in the middle of an import, a bulk edit,
an upload, a publication and a retryable job, at exact steps chosen by fault-injection points
(FOLIO_FAULT_POINTS, folio/faults.py) rather than by timing. Afterwards the database is
consistent, no file is left that nothing refers to, the publication folder serves a complete
release, and the interrupted job is resumed or failed with its partial report once a worker
starts again (the reaper runs at a worker's start).
"""

import datetime
import hashlib
import json
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import urllib3
from django.db import connection
from django.utils import timezone

from folio.accounts import services as accounts
from folio.assets.models import Asset, Blob
from folio.catalog import services as catalog_services
from folio.catalog.models import Completeness, Product, ProductChange, ValueIndex
from folio.imports.models import ImportProblem, ImportRun
from folio.jobs.models import Job, Worker
from folio.jobs.services import start_job
from folio.publishing import runs
from folio.publishing.models import Feed, Publication
from folio.search.models import Entry
from tests.assets import files
from tests.conftest import REPO, run_folio, wait_until
from tests.fixtures.catalog import espresso_pro

BATCH = catalog_services.BATCH  # products are written (imports, bulk edits) 1,000 to a transaction
DEAD_AFTER = 2  # FOLIO_JOB_WORKER_DEAD_AFTER of the processes started here, seconds


@pytest.fixture
def env(folio_env, tmp_path):
    """A process environment with the database backend's worker, a quick reaper and a media
    folder of this test's own (so that every file in it must be this test's)."""
    e = {k: v for k, v in folio_env.items() if k not in ("FOLIO_REDIS_URL", "FOLIO_JOB_BACKEND")}
    e.update(
        FOLIO_JOB_WORKER_DEAD_AFTER=str(DEAD_AFTER),
        FOLIO_JOB_HEARTBEAT_SECONDS="1",
        FOLIO_MEDIA=str(tmp_path / "media"),
    )
    return e


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    """The media folder of this test's processes (FOLIO_MEDIA) and of its own writes."""
    root = tmp_path / "media"
    root.mkdir()
    settings.MEDIA_ROOT = str(root)
    return root


@pytest.fixture
def processes():
    """start(args, env, faults) → a running `python -m folio ARGS`; all stopped afterwards."""
    started = []

    def start(args, env, faults: str = ""):
        log = open(Path(env["FOLIO_MEDIA"]).parent / f"proc-{len(started)}.log", "w")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-m", *args],
            cwd=REPO,
            env={**env, "FOLIO_FAULT_POINTS": faults},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        proc.log, proc.log_path = log, log.name
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.log.close()


def killed(proc, timeout: float = 90) -> None:
    """Wait for `proc` to kill itself at its fault point."""
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the process did not reach its fault point: {Path(proc.log_path).read_text()}")
    assert code == -signal.SIGKILL, Path(proc.log_path).read_text()


def restart_worker(env) -> None:
    """Once the killed process's heartbeat is older than DEAD_AFTER, run a worker: it reaps
    the dead process's jobs as it starts, runs what is queued (a retried job), and exits."""

    def all_dead():
        cutoff = timezone.now() - datetime.timedelta(seconds=DEAD_AFTER + 0.5)
        return not Worker.objects.filter(last_seen__gte=cutoff).exists()

    wait_until(all_dead, timeout=30, interval=0.2, what="the dead worker's heartbeat to age")
    done = run_folio(["worker", "--batch"], env, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def assert_database_consistent() -> None:
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            assert cursor.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            assert cursor.execute("PRAGMA foreign_key_check").fetchall() == []
    # The search index and the value index are written in the products' own transactions.
    products = set(Product.objects.values_list("pk", flat=True))
    indexed = Entry.objects.filter(kind="product").values_list("ref_id", flat=True)
    assert {int(i) for i in indexed} == products
    assert not ValueIndex.objects.exclude(product_id__in=products).exists()


def brands() -> dict[str, int]:
    """How many products have each brand, read from the products and from the value index:
    the two must agree."""
    from_values = {}
    for values in Product.objects.values_list("values", flat=True):
        for entry in values.get("brand", []):
            from_values[entry["data"]] = from_values.get(entry["data"], 0) + 1
    from_index = {}
    for text in ValueIndex.objects.filter(attribute__code="brand").values_list("text", flat=True):
        from_index[text] = from_index.get(text, 0) + 1
    assert from_values == from_index
    return from_values


def machines(n: int, brand: str = "Old") -> None:
    items = [
        {"sku": f"CM-{i:05d}", "family": "coffee_machines", "categories": ["coffee"], "values": {}}
        for i in range(n)
    ]
    for item in items:
        item["values"]["brand"] = [{"locale": None, "scope": None, "data": brand}]
    results = list(catalog_services.bulk_upsert(items))
    assert {r["status"] for r in results} == {"created"}, results[:3]


# --- imports -------------------------------------------------------------------------------


def products_csv(path: Path, n: int) -> Path:
    lines = ["sku;family;brand"]
    for i in range(n):
        # Row 6 of the file (the 5th product) names no family of ours: a problem to report.
        lines.append(f"IM-{i:05d};{'nope' if i == 4 else 'coffee_machines'};Imported")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_import_killed_mid_batch_keeps_whole_batches_and_is_safe_to_rerun(
    catalog, env, processes, tmp_path
):
    source = products_csv(tmp_path / "products.csv", 1500)
    # Killed inside the transaction of the second batch of products, before its commit.
    proc = processes(
        ["folio", "import", str(source), "--quiet"], env, "catalog.batch_before_commit:2"
    )
    killed(proc)
    assert_database_consistent()
    # The first batch is all there (its bad row aside), the second not at all.
    assert Product.objects.count() == BATCH - 1
    assert brands() == {"Imported": BATCH - 1}
    run = ImportRun.objects.get()
    job = Job.objects.get(pk=run.job_id)
    assert (run.status, job.status) == ("running", "running")  # until the reaper notices
    assert job.worker_id.startswith("cli-")

    restart_worker(env)
    job.refresh_from_db()
    run.refresh_from_db()
    assert job.status == "failed" and "died" in job.message
    # The partial report: how far it got (the first batch: 999 products and the bad row),
    # and the bad row itself.
    assert (job.progress_done, job.items_ok, job.items_failed) == (BATCH, BATCH - 1, 1)
    assert [(e["row"], e["column"]) for e in job.errors] == [(6, "family")]
    assert run.status == "failed" and run.message.startswith("interrupted")
    assert run.counts["totals"] == {"rows": BATCH, "imported": BATCH - 1, "skipped": 1}
    problems = list(ImportProblem.objects.filter(run=run).values_list("row", "reason"))
    assert problems[0][0] == 6 and problems[-1][1].startswith("interrupted")

    # Running it again finishes the job: the rows written before come out unchanged.
    again = run_folio(["import", str(source), "--quiet"], env, timeout=120)
    assert again.returncode == 1, again.stdout + again.stderr  # the bad row is still bad
    assert "500 created, 0 updated, 999 unchanged, 1 skipped" in again.stdout
    assert Product.objects.count() == 1499
    assert brands() == {"Imported": 1499}
    assert_database_consistent()


def test_import_of_an_upload_killed_on_the_worker_fails_and_removes_the_upload(
    catalog, api_client, env, processes, tmp_path
):
    client = api_client("catalog_editor")
    source = products_csv(tmp_path / "products.csv", 1200)
    proc = processes(["folio", "worker"], env, "import.row_committed:1100")
    with open(source, "rb") as f:
        response = client.post("/api/v1/imports", {"file": f})
    assert response.status_code == 202, response.content
    run = ImportRun.objects.get(pk=response.json()["id"])
    staged = Path(run.staged_path)
    assert staged.is_file()
    killed(proc)
    assert_database_consistent()
    assert Product.objects.count() == 1199  # both batches committed before the 1,100th row
    restart_worker(env)
    run.refresh_from_db()
    job = Job.objects.get(pk=run.job_id)
    assert job.status == "failed" and run.status == "failed"
    # Progress is recorded every hundred rows: at the 1,100th row, 1,000 were reported.
    assert job.progress_done == BATCH and job.items_failed == 1
    assert not staged.parent.exists()  # the uploaded copy is gone with the run


# --- bulk edits ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fault", ["bulk_edit.batch_written:2", "bulk_edit.batch_committed:1"], ids=["before", "after"]
)
def test_bulk_edit_killed_between_batches_reports_exactly_what_was_edited(
    catalog, api_client, env, processes, fault
):
    machines(1500)
    client = api_client("catalog_editor")
    proc = processes(["folio", "worker"], env, fault)
    response = client.post(
        "/api/v1/catalog/products/bulk-edit",
        {"filter": {}, "operations": [{"op": "set", "attribute": "brand", "data": "New"}]},
        content_type="application/json",
    )
    assert response.status_code == 202, response.content
    job_id = response.json()["id"]
    killed(proc)
    assert_database_consistent()
    # Killed before the second batch's commit or after the first's: the same 1,000 products,
    # the first by id, are edited, each with its history entry, and the job says so.
    assert brands() == {"New": BATCH, "Old": 500}
    edited = Product.objects.filter(values__brand__0__data="New").order_by("pk")
    assert list(edited.values_list("sku", flat=True)) == [f"CM-{i:05d}" for i in range(BATCH)]
    assert ProductChange.objects.filter(action="bulk_edit").count() == BATCH
    job = Job.objects.get(pk=job_id)
    assert (job.status, job.progress_done, job.items_ok, job.progress_total) == (
        "running",
        BATCH,
        BATCH,
        1500,
    )

    restart_worker(env)
    job.refresh_from_db()
    assert job.status == "failed" and "partial progress is kept" in job.message
    assert (job.progress_done, job.items_ok, job.items_failed) == (BATCH, BATCH, 0)

    if fault != "bulk_edit.batch_written:2":
        return  # the same state as the other case: its rerun is checked there
    # Started again it finishes the rest; the edited ones come out unchanged.
    worker = processes(["folio", "worker"], env)
    response = client.post(
        "/api/v1/catalog/products/bulk-edit",
        {"filter": {}, "operations": [{"op": "set", "attribute": "brand", "data": "New"}]},
        content_type="application/json",
    )
    again = Job.objects.get(pk=response.json()["id"])
    wait_until(lambda: Job.objects.get(pk=again.pk).is_finished, timeout=120, what="the rerun")
    again.refresh_from_db()
    assert again.status == "succeeded", again.message
    assert again.result == {
        "selected": 1500,
        "updated": 500,
        "proposed": 0,
        "unchanged": BATCH,
        "failed": 0,
    }
    assert brands() == {"New": 1500}
    worker.terminate()
    worker.wait(timeout=30)


# --- a retryable job -----------------------------------------------------------------------


def test_a_retryable_job_killed_mid_way_is_resumed_to_the_end(catalog, env, processes):
    from folio.catalog.jobs import recompute_completeness

    machines(1500)
    rows = Completeness.objects.values_list("product", "channel", "locale", "filled")
    right = sorted(rows)
    Completeness.objects.update(stale=True, filled=999)  # what a recompute must put right
    proc = processes(["folio", "worker"], env, "completeness.batch_committed:1")
    job = start_job(recompute_completeness, scopes=[{"family_ids": None, "channel_ids": None}])
    killed(proc)
    assert Completeness.objects.filter(stale=True).values("product").distinct().count() == 500
    restart_worker(env)  # reaps (queues it again), then runs it from the start
    job.refresh_from_db()
    assert (job.status, job.attempts, job.result) == ("succeeded", 2, {"recomputed": 1500})
    assert not Completeness.objects.filter(stale=True).exists()
    assert (
        sorted(Completeness.objects.values_list("product", "channel", "locale", "filled")) == right
    )
    assert_database_consistent()


# --- uploads -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def media_files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def serve(processes, env, faults: str) -> tuple:
    """A real gunicorn (one worker) over the test database, with these fault points armed;
    returns it once it answers, with an HTTP pool and its port."""
    port = free_port()
    server = processes(
        [
            "gunicorn",
            "folio.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--graceful-timeout",
            "1",
        ],
        env,
        faults,
    )
    http = urllib3.PoolManager(retries=False, timeout=60)

    def answering():
        try:
            return http.request("GET", f"http://127.0.0.1:{port}/health/live").status < 500
        except urllib3.exceptions.HTTPError:
            return False

    wait_until(answering, timeout=60, interval=0.2, what="gunicorn to answer")
    return server, http, port


@pytest.mark.parametrize("fault", ["assets.file_stored", "assets.upload_committed"])
def test_web_process_killed_mid_upload_leaves_no_orphan_file(
    media, make_user, env, processes, fault
):
    user = make_user("asset_manager")
    _, token = accounts.create_token(user, "upload")
    server, http, port = serve(processes, env, f"{fault}:1")
    data = files.png(80, 60)
    sha = hashlib.sha256(data).hexdigest()
    with pytest.raises(urllib3.exceptions.ProtocolError):  # the web process died: no answer
        http.request(
            "POST",
            f"http://127.0.0.1:{port}/api/v1/assets",
            fields={"file": ("crash.png", data, "image/png")},
            headers={"Authorization": f"Bearer {token}"},
        )
    server.terminate()
    server.wait(timeout=30)
    assert_database_consistent()
    stored = f"blobs/{sha[:2]}/{sha[2:4]}/{sha}"
    assert stored in media_files(media)
    if fault == "assets.file_stored":
        # The file was stored, its rows never committed: a pending marker says so.
        assert not Asset.objects.exists() and not Blob.objects.exists()
        assert f"pending/{sha}" in media_files(media)
    else:
        # Committed (the client never heard): the asset is whole, nothing is pending.
        asset = Asset.objects.get()
        assert asset.current_version.blob.sha256 == sha
        assert media_files(media) == {stored}

    # The prune job sweeps what dead processes left (given no grace period here).
    pruned = run_folio(["assets", "prune"], {**env, "FOLIO_STALE_FILE_GRACE": "0"})
    assert pruned.returncode == 0, pruned.stdout + pruned.stderr
    referenced = {b.storage_name for b in Blob.objects.all()}
    assert media_files(media) == referenced
    assert bool(referenced) == (fault == "assets.upload_committed")


# --- publications --------------------------------------------------------------------------


def release_is_complete(folder: Path, publication: Publication) -> bool:
    current = folder / "current"
    if os_readlink(current) != f"releases/{publication.pk}":
        return False
    for f in publication.files:
        path = current / f["name"]
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != f["sha256"]:
            return False
    return True


def os_readlink(path: Path) -> str | None:
    return str(path.readlink()) if path.is_symlink() else None


@pytest.mark.parametrize("fault", ["publish.release_written", "publish.switched"])
def test_publication_killed_before_it_is_recorded_keeps_the_last_release_live(
    catalog, env, processes, tmp_path, fault
):
    items = [espresso_pro(sku=f"EP-{i:03d}") for i in range(20)]
    for item in items:
        item["values"].pop("gtin", None)  # unique: one product only
    assert {r["status"] for r in catalog_services.bulk_upsert(items)} == {"created"}
    folder = tmp_path / "feed"
    feed = Feed.objects.create(
        channel_id=catalog_channel(),
        code="shop",
        format="json",
        locales=["en_US"],
        currency="USD",
        destination={"kind": "folder", "path": str(folder)},
    )
    first = runs.publish(feed)
    assert (first.status, first.counts["published"]) == ("done", 20), first.message
    assert release_is_complete(folder, first)

    proc = processes(["folio", "worker"], env, f"{fault}:1")
    second = runs.start_publication(feed, mode="full")
    killed(proc)
    if fault == "publish.switched":
        # The window this test is about: switched in, not recorded.
        assert os_readlink(folder / "current") == f"releases/{second.pk}"
    else:
        assert (folder / "releases" / f".building-{second.pk}").is_dir()

    restart_worker(env)
    second.refresh_from_db()
    assert second.status == "failed" and second.message.startswith("interrupted")
    assert Job.objects.get(pk=second.job_id).status == "failed"
    # Readers see the last recorded release, whole; nothing of the dead run is left.
    assert release_is_complete(folder, first)
    assert sorted(p.name for p in (folder / "releases").iterdir()) == [str(first.pk)]

    # The next run compares against the listings of the last recorded run, as the files do.
    third = runs.publish(feed)
    assert (third.status, third.counts["unchanged"]) == ("done", 20), third.message
    assert release_is_complete(folder, third) or third.files == []
    published = json.loads((folder / "current" / first.files[0]["name"]).read_text())
    assert sorted(p["sku"] for p in published) == [f"EP-{i:03d}" for i in range(20)]
    assert_database_consistent()


def catalog_channel() -> int:
    from folio.catalog.models import Channel

    return Channel.objects.get(code="ecommerce").pk


def test_a_mistyped_fault_point_is_refused_at_start(env):
    done = run_folio(["jobs", "list"], {**env, "FOLIO_FAULT_POINTS": "import.row_committed:x"})
    assert done.returncode != 0
    assert "FOLIO_FAULT_POINTS: 'import.row_committed:x' is not point:hit" in done.stderr


@pytest.mark.django_db
def test_import_and_export_folders_no_run_names_are_swept_once_stale(settings, tmp_path):
    """What a process killed before recording its run leaves (an export's half-written file,
    an upload staged for an import whose run never committed) goes with the next prune."""
    import os
    import time

    from folio.imports import services as imports

    def folder(parent: Path, name: str, age: float) -> Path:
        path = parent / f"{name}-{tmp_path.name}"
        path.mkdir()
        (path / "file.csv").write_text("sku\n")
        for p in (path / "file.csv", path):
            os.utime(p, (time.time() - age, time.time() - age))
        return path

    stale = settings.STALE_FILE_GRACE + 60
    dead_export = folder(imports.exports_dir(), "dead", stale)
    dead_upload = folder(imports.staging_dir(), "dead", stale)
    fresh = folder(imports.exports_dir(), "fresh", 10)  # perhaps still being written
    named = folder(imports.staging_dir(), "named", stale)  # its run is queued
    ImportRun.objects.create(source="products.csv", staged_path=str(named / "file.csv"))
    assert imports.prune_runs()["left_by_dead_processes"] >= 2
    assert not dead_export.exists() and not dead_upload.exists()
    assert fresh.is_dir() and named.is_dir()
    for path in (fresh, named):
        shutil.rmtree(path)
