"""The import pages: the recent runs and the upload form, a run's page following its job and
then showing the counts and every problem (file, row, column, value, reason), "Run for real"
after a dry run, the saved column mappings. Real CSV files are uploaded through the page and
the test plays the worker (it runs the queued jobs as the worker would). Viewers see runs but
no form, and their POSTs are refused."""

import html as html_lib
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from folio.catalog.models import Product
from folio.imports import services
from folio.imports.models import ImportProblem, ImportRun
from folio.jobs.models import Job
from folio.jobs.services import execute

pytestmark = pytest.mark.django_db

# Row 3 (the header is row 1) has a colour the catalog does not offer.
WITH_A_BAD_ROW = "sku;family;name-en_US;color\nA;bottles;Alpha;blue\nB;bottles;Beta;mauve\n"
GOOD = "sku;family;name-en_US;color\nA;bottles;Alpha;blue\nB;bottles;Beta;green\n"


def html(response) -> str:
    return response.content.decode()


def csv_file(text: str, name: str = "products.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(), content_type="text/csv")


def run_jobs() -> None:
    """What the worker does with the queued jobs."""
    for job in Job.objects.filter(status=Job.Status.QUEUED).order_by("created_at"):
        execute(str(job.pk), "test-worker")


def run_id(response) -> int:
    return int(re.fullmatch(r"/imports/(\d+)/", response["Location"]).group(1))


def test_dry_run_reports_the_bad_row_and_writes_nothing_then_runs_for_real(
    catalog, var_dir, client_for
):
    editor = client_for("catalog_editor")
    page = html(editor.get("/imports/"))
    assert 'href="/imports/"' in page  # the "Imports" nav entry
    assert 'enctype="multipart/form-data"' in page and 'name="file"' in page

    response = editor.post("/imports/", {"file": csv_file(WITH_A_BAD_ROW), "mode": "dry_run"})
    assert response.status_code == 302, html(response)
    dry_id = run_id(response)

    # While its job waits: the job's progress partial, and the watcher asking every second.
    waiting = html(editor.get(f"/imports/{dry_id}/"))
    assert 'class="job-progress"' in waiting
    assert f'hx-get="/imports/{dry_id}/watch/"' in waiting
    assert editor.get(f"/imports/{dry_id}/watch/").status_code == 204

    run_jobs()
    watch = editor.get(f"/imports/{dry_id}/watch/")
    assert watch.status_code == 200 and watch["HX-Refresh"] == "true"

    report = html(editor.get(f"/imports/{dry_id}/"))
    assert "hx-trigger" not in report  # finished: nothing polls any more
    assert "nothing written" in report
    problem = re.search(r'<tr class="problem">.*?</tr>', report, re.S).group(0)
    cells = [
        html_lib.unescape(re.sub(r"<[^>]+>", "", c)).strip()
        for c in re.findall(r"<td.*?</td>", problem, re.S)
    ]
    reason = ImportProblem.objects.get(run_id=dry_id).reason
    assert cells[1:] == ["products.csv", "3", "color", "mauve", "B", reason]
    assert re.search(r"<dt>Created</dt><dd>1</dd>", report)
    assert re.search(r"<dt>Skipped</dt><dd>1</dd>", report)
    assert not Product.objects.exists()  # a dry run writes nothing
    assert "Run for real</button>" in report

    # The runs list shows it, with who, the file and its status.
    listed = re.search(
        rf'<tr><td><a href="/imports/{dry_id}/">Dry run {dry_id}</a>.*?</tr>',
        html(editor.get("/imports/")),
        re.S,
    ).group(0)
    assert "products.csv" in listed and "cora" in listed and "status-done" in listed

    # Run for real: the same file, the same options, writing this time.
    response = editor.post(f"/imports/{dry_id}/run/")
    assert response.status_code == 302
    real_id = run_id(response)
    assert real_id != dry_id
    run_jobs()
    real = ImportRun.objects.get(pk=real_id)
    assert not real.dry_run and real.written and real.source == "products.csv"
    assert list(Product.objects.values_list("sku", flat=True)) == ["A"]
    done = html(editor.get(f"/imports/{real_id}/"))
    assert "1 created" in done and "Run for real" not in done

    # The dry run's file was used once: a second click imports nothing again.
    again = editor.post(f"/imports/{dry_id}/run/", follow=True)
    assert "no longer kept" in html(again)
    assert ImportRun.objects.count() == 2


def test_a_real_import_from_the_form_creates_the_products(catalog, var_dir, client_for):
    editor = client_for("catalog_editor")
    response = editor.post(
        "/imports/", {"file": csv_file(GOOD), "mode": "run", "all_or_nothing": "1"}
    )
    run = ImportRun.objects.get(pk=run_id(response))
    assert not run.dry_run and run.all_or_nothing
    run_jobs()
    assert sorted(Product.objects.values_list("sku", flat=True)) == ["A", "B"]
    page = html(editor.get(f"/imports/{run.pk}/"))
    assert re.search(r"<dt>Created</dt><dd>2</dd>", page)
    assert "No problem: every row was fine." in page and "Run for real" not in page


def test_problems_are_paginated(catalog, var_dir, client_for):
    rows = "".join(f"P{i};bottles;Name {i};mauve\n" for i in range(60))
    editor = client_for("catalog_editor")
    dry_id = run_id(
        editor.post(
            "/imports/",
            {"file": csv_file("sku;family;name-en_US;color\n" + rows), "mode": "dry_run"},
        )
    )
    run_jobs()
    first = html(editor.get(f"/imports/{dry_id}/"))
    assert first.count('<tr class="problem">') == 50 and "Page 1 of 2" in first
    second = html(editor.get(f"/imports/{dry_id}/?page=2"))
    assert second.count('<tr class="problem">') == 10 and "P59" in second


def test_upload_errors_are_shown_on_the_form(catalog, var_dir, client_for, settings):
    editor = client_for("catalog_editor")
    missing = editor.post("/imports/", {"mode": "dry_run"})
    assert missing.status_code == 422 and "Choose a file to import." in html(missing)
    settings.IMPORT_MAX_UPLOAD_BYTES = 10  # the API's limit, through the same service
    too_big = editor.post("/imports/", {"file": csv_file(GOOD), "mode": "dry_run"})
    assert too_big.status_code == 413 and "uploads are at most 10" in html(too_big)
    settings.IMPORT_MAX_UPLOAD_BYTES = 10_000
    unknown = editor.post(
        "/imports/", {"file": csv_file(GOOD), "mode": "dry_run", "mapping": "nope"}
    )
    assert unknown.status_code == 404 and "no column mapping" in html(unknown)
    assert not ImportRun.objects.exists()


def test_a_saved_mapping_is_offered_applied_and_listed(catalog, var_dir, client_for, users):
    services.create_mapping(
        "supplier-x",
        description="Supplier X price list",
        options={"delimiter": ";", "kind": "products"},
        columns=[
            {"column": "Article no.", "field": "sku"},
            {"column": "Family", "field": "family"},
            {
                "column": "Title",
                "attribute": "name",
                "locale": "en_US",
                "transforms": [{"op": "trim"}],
            },
            {"column": "Note", "ignore": True},
        ],
        user=users["catalog_editor"],
    )
    editor = client_for("catalog_editor")
    form = html(editor.get("/imports/"))
    assert '<option value="supplier-x">supplier-x — Supplier X price list</option>' in form

    text = "Article no.;Family;Title;Note\nX-1;bottles; Xeno ;ignore me\n"
    response = editor.post(
        "/imports/",
        {"file": csv_file(text, "supplier.csv"), "mode": "run", "mapping": "supplier-x"},
    )
    run = ImportRun.objects.get(pk=run_id(response))
    assert run.mapping.name == "supplier-x"
    run_jobs()
    run.refresh_from_db()
    assert run.status == "done" and run.problem_count == 0, [p.reason for p in run.problems.all()]
    assert Product.objects.filter(sku="X-1").exists()
    assert "mapping supplier-x" in html(editor.get(f"/imports/{run.pk}/"))

    listed = html(editor.get("/imports/mappings/"))
    section = re.search(r'id="mapping-supplier-x".*?</section>', listed, re.S).group(0)
    assert '<th scope="row">Article no.</th><td>field sku</td>' in section
    assert '<th scope="row">Title</th><td>attribute name (en_US) · then trim</td>' in section
    assert '<th scope="row">Note</th><td>ignored</td>' in section


def test_viewer_sees_runs_but_no_form_and_cannot_import(catalog, var_dir, client_for):
    editor = client_for("catalog_editor")
    dry_id = run_id(editor.post("/imports/", {"file": csv_file(GOOD), "mode": "dry_run"}))
    run_jobs()

    viewer = client_for("viewer")
    page = html(viewer.get("/imports/"))
    assert 'href="/imports/"' not in page.split("</nav>")[0]  # no nav entry for viewers
    assert 'name="file"' not in page and "Import a file" not in page
    assert f'href="/imports/{dry_id}/"' in page  # imports.view_importrun: every run
    report = html(viewer.get(f"/imports/{dry_id}/"))
    assert "Run for real" not in report

    refused = viewer.post("/imports/", {"file": csv_file(GOOD), "mode": "run"})
    assert refused.status_code == 403
    assert viewer.post(f"/imports/{dry_id}/run/").status_code == 403
    assert ImportRun.objects.count() == 1 and not Product.objects.exists()


def test_others_runs_are_hidden_without_view_permission(catalog, var_dir, client_for):
    editor = client_for("catalog_editor")
    dry_id = run_id(editor.post("/imports/", {"file": csv_file(GOOD), "mode": "dry_run"}))
    agency = client_for("agency")  # no imports.view_importrun: only its own runs
    assert f"/imports/{dry_id}/" not in html(agency.get("/imports/"))
    assert agency.get(f"/imports/{dry_id}/").status_code == 404
    assert agency.get("/imports/mappings/").status_code == 403


def test_anonymous_users_are_sent_to_sign_in(catalog, var_dir, client):
    for url in ("/imports/", "/imports/1/", "/imports/mappings/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/")
    response = client.post("/imports/", {"file": csv_file(GOOD), "mode": "run"})
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert not ImportRun.objects.exists()


SUPPLIER_SHEET = "Article no.;Family;Title;Volume;Note\nX-1;bottles; Xeno ;500 ml;call back\n"


def mapping_form(columns: list[str], **choices) -> dict:
    """The save form of the mapping page as a browser sends it."""
    data = {"action": "save", "count": len(columns), "kind": "products", "delimiter": ""}
    for i, name in enumerate(columns):
        data[f"col-{i}"] = name
    data.update(choices)
    return data


def test_a_mapping_is_made_from_a_sample_file(catalog, var_dir, client_for):
    editor = client_for("catalog_editor")
    read = editor.post(
        "/imports/mappings/new/",
        {"action": "read", "sample": csv_file(SUPPLIER_SHEET, "supplier.csv"), "kind": "products"},
    )
    page = html(read)
    assert read.status_code == 200
    rows = re.findall(r'<tr id="column-\d+">.*?</tr>', page, re.S)
    assert len(rows) == 5
    # Each detected column with its first value and how it is read without a mapping.
    assert "Article no." in rows[0] and "X-1" in rows[0]
    # Not understood without a mapping, with the importer's own problem for the column.
    assert (
        "not understood" in rows[0] and "no attribute or field &#x27;Article no.&#x27;" in rows[0]
    )
    assert "no attribute or field &#x27;Family&#x27;" in rows[1]
    assert "500 ml" in rows[3]
    assert '<label for="target-3" class="visually-hidden">Read column Volume as</label>' in page
    assert not list((var_dir / "imports").iterdir())  # the sample is not kept

    columns = ["Article no.", "Family", "Title", "Volume", "Note"]
    # A localizable attribute without its locale: refused with the column named, not saved.
    refused = editor.post(
        "/imports/mappings/new/",
        mapping_form(columns, name="supplier-x", **{"target-2": "attribute:name"}),
    )
    assert refused.status_code == 422
    assert "columns[0] (Title): name is localizable: give the locale" in html(refused)
    assert 'value="attribute:name" selected' in html(refused)  # the choices are kept

    saved = editor.post(
        "/imports/mappings/new/",
        mapping_form(
            columns,
            name="supplier-x",
            description="Supplier X",
            **{
                "target-0": "field:sku",
                "target-1": "field:family",
                "target-2": "attribute:name",
                "locale-2": "en_US",
                "trim-2": "1",
                "target-3": "attribute:capacity",
                "unit-3": "1",
                "target-4": "ignore",
            },
        ),
    )
    assert saved.status_code == 302, html(saved)
    mapping = services.get_mapping("supplier-x")
    assert mapping.options == {"kind": "products"}
    assert mapping.columns == [
        {"column": "Article no.", "field": "sku"},
        {"column": "Family", "field": "family"},
        {"column": "Title", "attribute": "name", "locale": "en_US", "transforms": [{"op": "trim"}]},
        {"column": "Volume", "attribute": "capacity", "transforms": [{"op": "unit"}]},
        {"column": "Note", "ignore": True},
    ]

    # Reused: the import through it reads the supplier's own headings.
    response = editor.post(
        "/imports/",
        {"file": csv_file(SUPPLIER_SHEET, "supplier.csv"), "mode": "run", "mapping": "supplier-x"},
    )
    run_jobs()
    run = ImportRun.objects.get(pk=run_id(response))
    assert run.status == "done" and run.problem_count == 0, [p.reason for p in run.problems.all()]
    product = Product.objects.get(sku="X-1")
    assert product.family.code == "bottles"


def test_viewers_cannot_make_mappings(catalog, var_dir, client_for):
    viewer = client_for("viewer")
    assert viewer.get("/imports/mappings/new/").status_code == 403
    refused = viewer.post(
        "/imports/mappings/new/",
        mapping_form(["A"], name="m", **{"target-0": "field:sku"}),
    )
    assert refused.status_code == 403
    assert "New mapping" not in html(viewer.get("/imports/mappings/"))


def labelled_and_unstyled(page: str) -> None:
    """Every visible field has a label, and nothing carries an inline style (the content
    security policy refuses those)."""
    assert '<main id="main"' in page and "style=" not in page
    labelled = set(re.findall(r'<label[^>]*for="([^"]+)"', page))
    for tag in re.findall(r"<(?:input|select|textarea)\b[^>]*>", page):
        if re.search(r'type="(hidden|submit)"', tag) or "aria-label=" in tag:
            continue
        match = re.search(r'\bid="([^"]+)"', tag)
        assert match and match.group(1) in labelled, tag


def test_the_pages_label_every_field(catalog, var_dir, client_for):
    editor = client_for("catalog_editor")
    dry_id = run_id(editor.post("/imports/", {"file": csv_file(WITH_A_BAD_ROW), "mode": "dry_run"}))
    labelled_and_unstyled(html(editor.get(f"/imports/{dry_id}/")))  # while it waits
    run_jobs()
    labelled_and_unstyled(html(editor.get(f"/imports/{dry_id}/")))
    labelled_and_unstyled(html(editor.get("/imports/")))
    labelled_and_unstyled(html(editor.get("/imports/mappings/")))
    read = editor.post(
        "/imports/mappings/new/",
        {"action": "read", "sample": csv_file(SUPPLIER_SHEET, "supplier.csv")},
    )
    labelled_and_unstyled(html(read))
