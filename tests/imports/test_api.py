"""The imports API: uploads run as jobs (here through the real worker), their progress,
counts and problems; column mappings with versions; exports and their files."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from folio.catalog.models import Product
from folio.jobs.models import Job
from folio.jobs.services import execute
from tests.conftest import wait_until

GOOD = "sku;family;name-en_US;color\nA;bottles;Alpha;blue\nB;bottles;Beta;green\n"
BAD = "sku;family;name-en_US;color\nA;bottles;Alpha;blue\nB;bottles;Beta;mauve\n"


def upload(client, text: str, name="products.csv", **form):
    return client.post(
        "/api/v1/imports",
        {"file": SimpleUploadedFile(name, text.encode()), **form},
    )


def run_jobs():
    """Run the queued jobs here, as the worker would (the worker process itself is tested
    below; in-process it would close this test's transaction)."""
    for job in Job.objects.filter(status=Job.Status.QUEUED).order_by("created_at"):
        execute(str(job.pk), "test-worker")


@pytest.mark.django_db(transaction=True)
def test_an_upload_runs_in_the_worker_and_reports(catalog, api_client, worker_process):
    client = api_client("catalog_editor")
    worker_process()
    response = upload(client, BAD)
    assert response.status_code == 202, response.content
    run = response.json()
    assert run["status"] == "pending" and run["job"]["status"] == "queued"

    def finished():
        state = client.get(f"/api/v1/imports/{run['id']}").json()
        done = state["status"] in ("done", "failed")
        return state if done and state["job"]["status"] not in ("queued", "running") else None

    state = wait_until(finished, timeout=60, what="the import to finish")
    assert state["status"] == "done", state
    assert state["counts"]["totals"]["created"] == 1
    assert state["counts"]["totals"]["skipped"] == 1
    assert state["job"]["status"] == "succeeded"
    assert (
        state["job"]["progress_done"],
        state["job"]["items_ok"],
        state["job"]["items_failed"],
    ) == (2, 1, 1)
    problems = client.get(f"/api/v1/imports/{run['id']}/problems").json()["results"]
    assert [(p["row"], p["column"], p["value"]) for p in problems] == [(3, "color", "mauve")]
    report = client.get(f"/api/v1/imports/{run['id']}/problems.csv")
    assert report["Content-Type"].startswith("text/csv")
    assert "mauve" in report.content.decode()
    job = client.get(f"/api/v1/jobs/{state['job']['id']}").json()
    assert job["errors"][0]["column"] == "color" and job["errors"][0]["row"] == 3
    assert Product.objects.filter(sku="A").exists()


@pytest.mark.django_db
def test_dry_run_through_the_api(catalog, api_client, django_capture_on_commit_callbacks):
    client = api_client("catalog_editor")
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, GOOD, dry_run="true")
    assert response.status_code == 202
    run_jobs()
    state = client.get(f"/api/v1/imports/{response.json()['id']}").json()
    assert state["dry_run"] and not state["written"] and "nothing written" in state["message"]
    assert state["counts"]["totals"]["created"] == 2
    assert not Product.objects.exists()


@pytest.mark.django_db
def test_who_may_import_and_see_runs(catalog, api_client, django_capture_on_commit_callbacks):
    viewer = api_client("viewer")
    assert upload(viewer, GOOD).status_code == 403
    editor = api_client("catalog_editor")
    with django_capture_on_commit_callbacks(execute=True):
        run = upload(editor, GOOD).json()
    other = api_client("catalog_editor", "another-editor")
    assert other.get(f"/api/v1/imports/{run['id']}").status_code == 200  # imports.view_*
    agency = api_client("agency")
    assert agency.get(f"/api/v1/imports/{run['id']}").status_code == 404
    assert [r["id"] for r in editor.get("/api/v1/imports").json()["results"]] == [run["id"]]


@pytest.mark.django_db
def test_a_hostile_zip_is_refused_as_a_whole(
    catalog, api_client, django_capture_on_commit_callbacks
):
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("products.csv", GOOD)
        z.writestr("../../etc/cron.d/evil", "x")
    client = api_client("catalog_editor")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/v1/imports", {"file": SimpleUploadedFile("in.zip", buf.getvalue())}
        )
    run_jobs()
    state = client.get(f"/api/v1/imports/{response.json()['id']}").json()
    assert state["status"] == "failed" and "'..'" in state["message"]
    assert not Product.objects.exists()


@pytest.mark.django_db
def test_uploads_have_a_size_limit(catalog, api_client, settings):
    settings.IMPORT_MAX_UPLOAD_BYTES = 10
    response = upload(api_client("catalog_editor"), GOOD)
    assert response.status_code == 413


@pytest.mark.django_db
def test_mappings_crud_with_versions(catalog, api_client):
    client = api_client("catalog_editor")
    body = {
        "name": "acme",
        "options": {"family": "bottles"},
        "columns": [{"column": "Ref", "field": "sku"}],
    }
    created = client.post("/api/v1/imports/mappings", body, content_type="application/json")
    assert created.status_code == 201, created.content
    etag = created["ETag"]
    bad = client.post(
        "/api/v1/imports/mappings",
        {"name": "bad", "columns": [{"column": "X", "attribute": "nope"}]},
        content_type="application/json",
    )
    assert bad.status_code == 422 and "nope" in bad.json()["error"]["message"]
    changed = client.patch(
        "/api/v1/imports/mappings/acme",
        {"description": "ACME"},
        content_type="application/json",
        HTTP_IF_MATCH=etag,
    )
    assert changed.status_code == 200 and changed.json()["version"] == 2
    stale = client.patch(
        "/api/v1/imports/mappings/acme",
        {"description": "old"},
        content_type="application/json",
        HTTP_IF_MATCH=etag,
    )
    assert stale.status_code == 409
    assert client.get("/api/v1/imports/mappings").json()[0]["description"] == "ACME"
    viewer = api_client("viewer")
    assert viewer.get("/api/v1/imports/mappings/acme").status_code == 200
    assert viewer.delete("/api/v1/imports/mappings/acme").status_code == 403
    assert client.delete("/api/v1/imports/mappings/acme").status_code == 204


@pytest.mark.django_db
def test_an_upload_with_a_mapping(catalog, api_client, django_capture_on_commit_callbacks):
    client = api_client("catalog_editor")
    client.post(
        "/api/v1/imports/mappings",
        {
            "name": "acme",
            "options": {"family": "bottles", "kind": "products"},
            "columns": [
                {"column": "Ref", "field": "sku"},
                {"column": "Title", "attribute": "name", "locale": "en_US"},
            ],
        },
        content_type="application/json",
    )
    with django_capture_on_commit_callbacks(execute=True):
        run = upload(client, "Ref,Title\nAC-1,Bottle\n", name="acme.csv", mapping="acme").json()
    run_jobs()
    assert client.get(f"/api/v1/imports/{run['id']}").json()["mapping"] == "acme"
    assert Product.objects.get(sku="AC-1").family.code == "bottles"
    unknown = upload(client, GOOD, mapping="nope")
    assert unknown.status_code == 404


@pytest.mark.django_db
def test_exports_through_the_api(catalog, api_client, django_capture_on_commit_callbacks):
    editor = api_client("catalog_editor")
    with django_capture_on_commit_callbacks(execute=True):
        upload(editor, GOOD)
    run_jobs()
    viewer = api_client("viewer")
    with django_capture_on_commit_callbacks(execute=True):
        response = viewer.post(
            "/api/v1/exports",
            {"what": "products", "filter": {"filter": ["color=blue"]}},
            content_type="application/json",
        )
    assert response.status_code == 202, response.content
    run_jobs()
    state = viewer.get(f"/api/v1/exports/{response.json()['id']}").json()
    assert state["status"] == "done" and state["counts"]["products"] == 1
    download = viewer.get(state["download"])
    assert download.status_code == 200
    text = b"".join(download.streaming_content).decode()
    assert [r["sku"] for r in csv.DictReader(io.StringIO(text), delimiter=";")] == ["A"]
    bad = viewer.post(
        "/api/v1/exports", {"filter": {"filter": ["nope=1"]}}, content_type="application/json"
    )
    assert bad.status_code == 422
    agency = api_client("agency")
    assert agency.post("/api/v1/exports", {}, content_type="application/json").status_code == 403


@pytest.mark.django_db
def test_old_runs_and_export_files_are_pruned(
    catalog, api_client, django_capture_on_commit_callbacks
):
    import datetime
    from pathlib import Path

    from django.utils import timezone

    from folio.imports.models import ExportRun, ImportRun

    client = api_client("catalog_editor")
    with django_capture_on_commit_callbacks(execute=True):
        upload(client, GOOD)
        client.post("/api/v1/exports", {}, content_type="application/json")
    run_jobs()
    export = ExportRun.objects.get()
    assert Path(export.path).is_file()
    old = timezone.now() - datetime.timedelta(days=365)
    ImportRun.objects.update(created_at=old)
    ExportRun.objects.update(created_at=old)
    with django_capture_on_commit_callbacks(execute=True):
        upload(client, GOOD)
    assert ImportRun.objects.count() == 1 and not ExportRun.objects.exists()
    assert not Path(export.path).exists()
