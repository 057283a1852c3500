"""`folio import` and `folio export`: as real processes for exit codes and output, and
in-process for what they record (the run, its job, its problems)."""

import csv
import io

import pytest
from django.core.management import CommandError, call_command

from folio.catalog.models import Category, Product
from folio.imports.models import ExportRun, ImportProblem, ImportRun
from folio.jobs.models import Job
from tests.conftest import run_folio
from tests.imports.conftest import write

GOOD = "sku;family;name-en_US;color\nA;bottles;Alpha;blue\nB;bottles;Beta;green\n"
BAD = "sku;family;name-en_US;color\nA;bottles;Alpha;blue\nB;bottles;Beta;mauve\n"


def folio(*args):
    out, err = io.StringIO(), io.StringIO()
    extra = ["--quiet"] if args[0] == "import" else []
    call_command(*args, *extra, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.django_db
def test_import_records_a_run_and_an_inline_job(catalog, tmp_path):
    path = write(tmp_path / "products.csv", GOOD)
    out, _ = folio("import", str(path))
    assert "products.csv (products, utf-8, semicolon): 2 rows: 2 created" in out
    run = ImportRun.objects.get()
    assert run.via == "cli" and run.status == "done" and run.counts["totals"]["created"] == 2
    job = Job.objects.get(pk=run.job_id)
    # Its heartbeat is this process's: the reaper fails the job if the command is killed.
    assert job.status == "succeeded" and job.worker_id.startswith("cli-")
    assert (job.progress_done, job.items_ok) == (2, 2)
    out, _ = folio("import", str(path))
    assert "0 created, 0 updated, 2 unchanged" in out


@pytest.mark.django_db
def test_import_problems_exit_one_and_the_report(catalog, tmp_path):
    path = write(tmp_path / "products.csv", BAD)
    report = tmp_path / "report.csv"
    with pytest.raises(CommandError, match="1 problem"):
        folio("import", str(path), "--report", str(report))
    rows = list(csv.reader(io.StringIO(report.read_text()), delimiter=";"))
    assert rows[0] == ["severity", "file", "row", "column", "value", "code", "reason"]
    assert rows[1][:6] == ["error", "products.csv", "3", "color", "mauve", "B"]
    run = ImportRun.objects.get()
    assert run.problem_count == 1 and ImportProblem.objects.get(run=run).column == "color"
    assert Job.objects.get(pk=run.job_id).errors[0]["column"] == "color"


@pytest.mark.django_db
def test_dry_run_and_all_or_nothing(catalog, tmp_path):
    path = write(tmp_path / "products.csv", BAD)
    with pytest.raises(CommandError):
        folio("import", str(path), "--dry-run")
    assert not Product.objects.exists()
    assert "dry run" in ImportRun.objects.get().message
    with pytest.raises(CommandError):
        folio("import", str(path), "--all-or-nothing")
    assert not Product.objects.exists()


@pytest.mark.django_db
def test_export_command(catalog, tmp_path):
    folio("import", str(write(tmp_path / "products.csv", GOOD)))
    out, _ = folio("export", str(tmp_path / "out"), "--quiet")
    assert "2 products" in out
    assert (tmp_path / "out" / "attributes.csv").exists()
    folio("export", str(tmp_path / "blue.csv"), "--filter", "color=blue", "--quiet")
    assert [
        r["sku"]
        for r in csv.DictReader(io.StringIO((tmp_path / "blue.csv").read_text()), delimiter=";")
    ] == ["A"]
    run = ExportRun.objects.order_by("id").last()
    assert run.via == "cli" and run.status == "done" and run.counts["products"] == 1
    with pytest.raises(CommandError, match="attribute"):
        folio("export", str(tmp_path / "x.csv"), "--filter", "nope=1", "--quiet")


@pytest.mark.django_db
def test_permissions_follow_the_user(catalog, tmp_path, make_user):
    make_user("viewer", "vic")
    path = write(tmp_path / "products.csv", GOOD)
    with pytest.raises(CommandError, match=r"imports\.add_importrun"):
        folio("import", str(path), "--as-user", "vic")
    make_user("agency", "ada")
    with pytest.raises(CommandError, match=r"catalog\.view_product"):
        folio("export", str(tmp_path / "x.csv"), "--as-user", "ada", "--quiet")


def test_real_processes(folio_env, tmp_path):
    from folio.catalog.models import Locale

    Locale.objects.get_or_create(code="en_US")  # a transactional test may run after a flush
    folder = tmp_path / "in"
    write(folder / "categories.csv", "code;parent;label-en_US\nroot;;Root\nleaf;root;Leaf\n")
    done = run_folio(["import", str(folder)], folio_env)
    assert done.returncode == 0, done.stderr
    assert "categories.csv (categories" in done.stdout and "2 created" in done.stdout
    assert Category.objects.get(code="leaf").parent.code == "root"
    write(folder / "categories.csv", "code;parent\nx;nowhere\n")
    failed = run_folio(["import", str(folder)], folio_env)
    assert failed.returncode == 1
    assert "categories.csv:2 [parent] 'nowhere'" in failed.stderr
    missing = run_folio(["import", str(tmp_path / "nope.csv")], folio_env)
    assert missing.returncode != 0 and "no such file" in missing.stderr
    exported = run_folio(["export", str(tmp_path / "cats"), "--what", "categories"], folio_env)
    assert exported.returncode == 0, exported.stderr
    assert (tmp_path / "cats" / "categories.csv").read_text().startswith("code;parent")


@pytest.mark.django_db
def test_mappings_from_the_command_line(catalog, tmp_path):
    import json

    spec = tmp_path / "acme.json"
    spec.write_text(
        json.dumps(
            {
                "description": "ACME",
                "options": {"family": "bottles"},
                "columns": [{"column": "Ref", "field": "sku"}],
            }
        )
    )
    out, _ = folio("import_mapping", "save", "acme", str(spec))
    assert "created acme" in out
    out, _ = folio("import_mapping", "save", "acme", str(spec))
    assert "version 2" in out
    out, _ = folio("import_mapping", "list")
    assert out.startswith("acme  v2  1 columns  ACME")
    assert json.loads(folio("import_mapping", "show", "acme")[0])["options"] == {
        "family": "bottles"
    }
    path = write(tmp_path / "acme.csv", "Ref;name-en_US\nAC-1;Bottle\n")
    folio("import", str(path), "--mapping", "acme", "--kind", "products")
    assert Product.objects.get(sku="AC-1").family.code == "bottles"
    spec.write_text(json.dumps({"columns": [{"column": "Ref", "attribute": "nope"}]}))
    with pytest.raises(CommandError, match="nope"):
        folio("import_mapping", "save", "acme", str(spec))
    folio("import_mapping", "delete", "acme")


@pytest.mark.sqlite_only  # a SQLite setting; PostgreSQL has no memory map to leave
@pytest.mark.django_db(transaction=True)
def test_import_reads_sqlite_without_the_memory_map_and_restores_it(catalog, tmp_path):
    """A long import would otherwise count every database page it touched in its resident
    memory (bench/bench_imports.py); other work on the connection keeps the map."""
    from django.db import connection

    from folio.imports import services

    def mapped():
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA mmap_size")
            return cursor.fetchone()[0]

    configured = mapped()
    assert configured > 0  # folio/settings.py maps the database
    run = services.create_run(str(write(tmp_path / "products.csv", GOOD)), via="cli")
    progress = services.steps(run)
    assert next(progress) == ("total", 2)
    assert mapped() == 0
    assert sum(progress) == 2
    assert mapped() == configured
    assert Product.objects.filter(sku__in=["A", "B"]).count() == 2
