"""`folio import --run-dry-run ID`: a finished dry run (started on the web or through the
API, which keep its file) imported for real from the command line, in the command's own
process with its progress bar, through the service behind POST /api/v1/imports/{id}/run.
With --as-user it needs what that user would need through the API."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from folio.catalog.models import Product
from folio.imports import services
from folio.imports.models import ImportRun
from folio.jobs.models import Job
from folio.jobs.services import execute
from tests.imports.conftest import write

pytestmark = pytest.mark.django_db

# Read with the delimiter the dry run was given: the real run must read it the same way.
WITH_A_BAD_ROW = "sku;family;name-en_US;color\nA;bottles;Alpha;blue\nB;bottles;Beta;mauve\n"


@pytest.fixture
def cora(make_user):
    return make_user("catalog_editor", "cora")


def folio(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def web_dry_run(user, text=WITH_A_BAD_ROW, **options) -> ImportRun:
    """A dry run as the web page or the API starts it; the test plays the worker."""
    upload = SimpleUploadedFile("products.csv", text.encode(), content_type="text/csv")
    run = services.start_import(upload, "products.csv", user=user, dry_run=True, **options)
    for job in Job.objects.filter(status=Job.Status.QUEUED):
        execute(str(job.pk), "test-worker")
    run.refresh_from_db()
    assert run.status == "done" and run.problem_count == 1 and not Product.objects.exists()
    return run


def test_a_dry_run_is_run_for_real_from_the_command_line(catalog, cora, var_dir):
    dry = web_dry_run(cora, delimiter=";")
    # The bad row is refused again (exit status 1), the good one written.
    with pytest.raises(CommandError, match="1 problem"):
        folio("import", "--run-dry-run", str(dry.pk), "--as-user", "cora")
    real = ImportRun.objects.exclude(pk=dry.pk).get()
    assert (real.via, real.dry_run, real.status, real.written) == ("cli", False, "done", True)
    assert real.created_by == cora and real.source == "products.csv"
    assert real.options["delimiter"] == ";"
    assert real.counts["totals"]["created"] == 1 and real.problems.get().value == "mauve"
    assert list(Product.objects.values_list("sku", flat=True)) == ["A"]
    job = Job.objects.get(pk=real.job_id)
    assert job.status == "succeeded" and job.progress_done == 2
    # No copy of the file is left behind, and the file is used once.
    assert list(services.staging_dir().iterdir()) == []
    with pytest.raises(CommandError, match="no longer kept"):
        folio("import", "--run-dry-run", str(dry.pk), "--quiet")
    assert ImportRun.objects.count() == 2


def test_the_progress_bar_and_the_summary(catalog, cora, var_dir, capsys):
    good = "sku;family;name-en_US\nA;bottles;Alpha\nB;bottles;Beta\n"
    dry = web_dry_run_ok(cora, good)
    out, _ = folio("import", "--run-dry-run", str(dry.pk))
    assert f"dry run {dry.pk} for real" in out
    assert "products.csv (products, utf-8, semicolon): 2 rows: 2 created" in out
    assert "importing: 2 done" in capsys.readouterr().err  # the bar, outside a terminal
    assert Product.objects.count() == 2


def web_dry_run_ok(user, text) -> ImportRun:
    upload = SimpleUploadedFile("products.csv", text.encode(), content_type="text/csv")
    run = services.start_import(upload, "products.csv", user=user, dry_run=True)
    for job in Job.objects.filter(status=Job.Status.QUEUED):
        execute(str(job.pk), "test-worker")
    return run


def test_as_user_needs_the_import_permission(catalog, cora, make_user, var_dir):
    dry = web_dry_run(cora)
    make_user("viewer", "cli-viewer")
    with pytest.raises(CommandError, match=r"imports\.add_importrun"):
        folio("import", "--run-dry-run", str(dry.pk), "--as-user", "cli-viewer", "--quiet")
    assert ImportRun.objects.count() == 1 and services.dry_run_file_kept(dry)


def test_what_cannot_be_run_for_real_is_said(catalog, cora, var_dir, tmp_path):
    path = write(tmp_path / "products.csv", WITH_A_BAD_ROW)
    with pytest.raises(CommandError, match="1 problem"):
        folio("import", str(path), "--dry-run", "--quiet")
    cli_dry = ImportRun.objects.get()
    with pytest.raises(CommandError, match="started from the command line"):
        folio("import", "--run-dry-run", str(cli_dry.pk), "--quiet")
    with pytest.raises(CommandError, match="is not a dry run"):
        real = services.create_run(str(path), via="cli")
        folio("import", "--run-dry-run", str(real.pk), "--quiet")
    with pytest.raises(CommandError, match="no import 999"):
        folio("import", "--run-dry-run", "999", "--quiet")
    dry = web_dry_run(cora)
    with pytest.raises(CommandError, match=r"leave out .*products\.csv, --mapping"):
        folio("import", str(path), "--run-dry-run", str(dry.pk), "--mapping", "x")
    with pytest.raises(CommandError, match="name the file"):
        folio("import", "--quiet")
    assert services.dry_run_file_kept(dry) and not Product.objects.exists()
