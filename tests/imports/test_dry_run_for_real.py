"""A finished dry run run for real (POST /api/v1/imports/{id}/run): the dry run's file, kept
by start_import, is imported with the same options and mapping; it is used once (a second
call is refused and imports nothing) and the run clean-up sweeps a kept file left too long."""

import os
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from folio.catalog.models import Product
from folio.imports import services
from folio.imports.models import ImportRun
from folio.jobs.models import Job
from folio.jobs.services import execute

# Read with the delimiter given to the dry run: the real run must read it the same way.
GOOD = "sku;family;name-en_US;color\nA;bottles;Alpha;blue\nB;bottles;Beta;green\n"


def run_jobs():
    """Run the queued jobs here, as the worker would."""
    for job in Job.objects.filter(status=Job.Status.QUEUED).order_by("created_at"):
        execute(str(job.pk), "test-worker")


def dry_run(client, text=GOOD, **form) -> int:
    response = client.post(
        "/api/v1/imports",
        {"file": SimpleUploadedFile("products.csv", text.encode()), "dry_run": "true", **form},
    )
    assert response.status_code == 202, response.content
    run_jobs()
    run = ImportRun.objects.get(pk=response.json()["id"])
    assert run.dry_run and run.status == ImportRun.Status.DONE and not run.written
    return run.pk


@pytest.mark.django_db
def test_a_dry_run_is_run_for_real_once(catalog, api_client, var_dir):
    client = api_client("catalog_editor")
    dry_id = dry_run(client, delimiter=";", all_or_nothing="true")
    assert not Product.objects.exists()
    kept = services.kept_upload_folder(dry_id)
    assert [f.name for f in kept.iterdir()] == ["products.csv"]  # the job deleted its own

    response = client.post(f"/api/v1/imports/{dry_id}/run")
    assert response.status_code == 202, response.content
    real = response.json()
    assert real["id"] != dry_id and not real["dry_run"] and real["status"] == "pending"
    assert real["source"] == "products.csv" and real["all_or_nothing"]
    assert real["options"]["delimiter"] == ";"
    assert not kept.exists()  # the real run staged its own copy; the kept one is gone
    run_jobs()
    state = client.get(f"/api/v1/imports/{real['id']}").json()
    assert state["status"] == "done" and state["written"], state
    assert state["counts"]["totals"]["created"] == 2
    assert sorted(Product.objects.values_list("sku", flat=True)) == ["A", "B"]

    # A second click imports nothing again and says why.
    again = client.post(f"/api/v1/imports/{dry_id}/run")
    assert again.status_code == 409
    assert "no longer kept" in again.json()["error"]["message"]
    assert ImportRun.objects.filter(dry_run=False).count() == 1
    # No copy of the file is left behind: the kept one and both runs' staged ones are gone.
    assert list(services.staging_dir().iterdir()) == []


@pytest.mark.django_db
def test_only_a_finished_dry_run_is_run_for_real(catalog, api_client, var_dir):
    client = api_client("catalog_editor")
    response = client.post(
        "/api/v1/imports", {"file": SimpleUploadedFile("products.csv", GOOD.encode())}
    )
    real_id = response.json()["id"]
    refused = client.post(f"/api/v1/imports/{real_id}/run")
    assert refused.status_code == 422 and "not a dry run" in refused.json()["error"]["message"]

    response = client.post(
        "/api/v1/imports",
        {"file": SimpleUploadedFile("products.csv", GOOD.encode()), "dry_run": "true"},
    )
    waiting_id = response.json()["id"]  # its job has not run yet
    refused = client.post(f"/api/v1/imports/{waiting_id}/run")
    assert refused.status_code == 409 and "pending" in refused.json()["error"]["message"]
    assert services.kept_upload_folder(waiting_id).is_dir()  # still kept for later
    assert ImportRun.objects.count() == 2


@pytest.mark.django_db
def test_who_may_run_a_dry_run_for_real(catalog, api_client, var_dir):
    editor = api_client("catalog_editor")
    dry_id = dry_run(editor)
    assert api_client("viewer").post(f"/api/v1/imports/{dry_id}/run").status_code == 403
    assert api_client("agency").post(f"/api/v1/imports/{dry_id}/run").status_code == 404
    assert services.kept_upload_folder(dry_id).is_dir()  # refused calls leave it kept
    assert ImportRun.objects.count() == 1


@pytest.mark.django_db
def test_a_kept_file_left_too_long_is_swept(catalog, api_client, var_dir, settings):
    client = api_client("catalog_editor")
    old_id = dry_run(client)
    fresh_id = dry_run(client)
    old = services.kept_upload_folder(old_id)
    stale = time.time() - settings.STALE_FILE_GRACE - 60
    for path in (*old.iterdir(), old):
        os.utime(path, (stale, stale))

    services.prune_runs()
    assert not old.exists()
    assert services.kept_upload_folder(fresh_id).is_dir()  # within the grace time: kept

    refused = client.post(f"/api/v1/imports/{old_id}/run")
    assert refused.status_code == 409 and "upload it again" in refused.json()["error"]["message"]
    assert not Product.objects.exists()


@pytest.mark.django_db
def test_a_dry_run_whose_mapping_was_deleted_is_not_run_without_it(catalog, api_client, var_dir):
    services.create_mapping("refs", columns=[{"column": "Ref", "field": "sku"}])
    client = api_client("catalog_editor")
    dry_id = dry_run(
        client, "Ref;family;name-en_US\nA;bottles;Alpha\n", delimiter=";", mapping="refs"
    )
    services.delete_mapping("refs")
    refused = client.post(f"/api/v1/imports/{dry_id}/run")
    assert refused.status_code == 409
    assert "'refs'" in refused.json()["error"]["message"]
    assert not Product.objects.exists()
    assert services.kept_upload_folder(dry_id).is_dir()  # kept: nothing was started
