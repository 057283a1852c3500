"""The import pages: the recent runs and the upload form, a run's page following its job and
then showing the counts and every problem (file, row, column, value, reason), "Run for real"
after a dry run, the saved column mappings. Real CSV files are uploaded through the page and
the test plays the worker (it runs the queued jobs as the worker would). Viewers see runs but
no form, and their POSTs are refused."""

import html as html_lib
import re
from html.parser import HTMLParser

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
                "steps-2": "1",
                "step-2-0-op": "trim",
                "target-3": "attribute:capacity",
                "steps-3": "1",
                "step-3-0-op": "unit",
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


# --- every kind of rule, editing and deleting ------------------------------------------------

GERMAN_SHEET = (
    "Art;Farbe;Preis;Inhalt;Aktiv;Material;Bild;Zubehör;Stück;Datum\n"
    "X-1; Blau ;24,90;0,5 Liter;ja;Stahl / Glas;x1.jpg;B-1;2;31.12.2025\n"
)
GERMAN_COLUMNS = GERMAN_SHEET.splitlines()[0].split(";")


def german_choices(**extra) -> dict:
    """What each column holds, and the steps of its cells, as the editor posts them."""
    choices = {
        "target-0": "field:sku",
        # Farbe: trim, then a value map (ignoring case); a second, empty slot is left alone.
        "target-1": "attribute:color",
        "steps-1": "3",
        "step-1-0-op": "trim",
        "step-1-1-op": "map",
        "step-1-1-shown": "1",
        "step-1-1-ignore_case": "1",
        "step-1-1-values": "blau = blue\ngrün = green\n",
        # Preis: euros with a decimal comma.
        "target-2": "attribute:price",
        "currency-2": "EUR",
        "steps-2": "1",
        "step-2-0-op": "decimal_comma",
        # Inhalt: the unit in the cell, named in German.
        "target-3": "attribute:capacity",
        "steps-3": "2",
        "step-3-0-op": "decimal_comma",
        "step-3-1-op": "unit",
        "step-3-1-default_unit": "MILLILITER",
        "step-3-1-units": "Liter = LITER",
        # Aktiv: German words for yes and no.
        "target-4": "field:enabled",
        "steps-4": "1",
        "step-4-0-op": "boolean",
        "step-4-0-true": "ja, x",
        "step-4-0-false": "nein",
        # Material: a list split at "/", each item mapped (case kept).
        "target-5": "attribute:materials",
        "steps-5": "3",
        "step-5-0-op": "split",
        "step-5-0-separator": "/",
        "step-5-1-op": "map",
        "step-5-1-shown": "1",
        "step-5-1-values": "Stahl = stainless_steel\nGlas = glass",
        # Bild: media in a role; Zubehör and Stück: a quantified association.
        "target-6": "media",
        "role-6": "main",
        "target-7": "association:PACK",
        "assoc-target-7": "products",
        "target-8": "association:PACK",
        "assoc-target-8": "products",
        "quantity-8": "1",
        # Datum: a date in a German format.
        "target-9": "attribute:release_date",
        "steps-9": "1",
        "step-9-0-op": "date",
        "step-9-0-format": "%d.%m.%Y",
    }
    choices.update(extra)
    return choices


GERMAN_RULES = [
    {"column": "Art", "field": "sku"},
    {
        "column": "Farbe",
        "attribute": "color",
        "transforms": [
            {"op": "trim"},
            {"op": "map", "values": {"blau": "blue", "grün": "green"}},
        ],
    },
    {
        "column": "Preis",
        "attribute": "price",
        "currency": "EUR",
        "transforms": [{"op": "decimal_comma"}],
    },
    {
        "column": "Inhalt",
        "attribute": "capacity",
        "transforms": [
            {"op": "decimal_comma"},
            {"op": "unit", "default_unit": "MILLILITER", "units": {"Liter": "LITER"}},
        ],
    },
    {
        "column": "Aktiv",
        "field": "enabled",
        "transforms": [{"op": "boolean", "true": ["ja", "x"], "false": ["nein"]}],
    },
    {
        "column": "Material",
        "attribute": "materials",
        "transforms": [
            {"op": "split", "separator": "/"},
            {
                "op": "map",
                "values": {"Stahl": "stainless_steel", "Glas": "glass"},
                "ignore_case": False,
            },
        ],
    },
    {"column": "Bild", "media": "main"},
    {"column": "Zubehör", "association": "PACK", "target": "products"},
    {"column": "Stück", "association": "PACK", "target": "products", "part": "quantity"},
    {
        "column": "Datum",
        "attribute": "release_date",
        "transforms": [{"op": "date", "format": "%d.%m.%Y"}],
    },
]


def test_the_editor_expresses_every_kind_of_rule(catalog, var_dir, client_for):
    editor = client_for("catalog_editor")
    read = html(
        editor.post(
            "/imports/mappings/new/",
            {"action": "read", "sample": csv_file(GERMAN_SHEET, "lieferant.csv")},
        )
    )
    # Media and associations are offered with fields and attributes; each column has a slot
    # to add a step, with every transform.
    assert '<option value="media">' in read and '<option value="association:PACK">' in read
    for op in ("trim", "replace", "default", "date", "split", "map", "options_by_label", "boolean"):
        assert f'<option value="{op}">' in read
    assert 'name="step-1-0-op"' in read and 'name="step-1-0-values"' not in read

    # "Show the settings": the inputs of what was chosen, nothing saved.
    shown = editor.post(
        "/imports/mappings/new/",
        mapping_form(
            GERMAN_COLUMNS,
            name="lieferant",
            **{
                "target-1": "attribute:color",
                "steps-1": "1",
                "step-1-0-op": "map",
                "target-2": "attribute:price",
                "target-3": "attribute:capacity",
                "target-6": "media",
                "target-7": "association:PACK",
            },
            action="refresh",
        ),
    )
    page = html(shown)
    assert shown.status_code == 200 and not services.list_mappings().exists()
    assert 'name="step-1-0-values"' in page and 'name="step-1-1-op"' in page  # and a new slot
    assert 'name="currency-2"' in page and 'name="part-unit-3"' in page
    assert 'name="role-6"' in page and 'name="assoc-target-7"' in page
    labelled_and_unstyled(page)

    # A value table line without "=" is named, with the column and the step.
    bad = editor.post(
        "/imports/mappings/new/",
        mapping_form(
            GERMAN_COLUMNS, name="lieferant", **german_choices(**{"step-1-1-values": "blau"})
        ),
    )
    assert bad.status_code == 422 and "Column Farbe, step 2, line 1" in html(bad)
    assert not services.list_mappings().exists()

    saved = editor.post(
        "/imports/mappings/new/",
        mapping_form(
            GERMAN_COLUMNS,
            name="lieferant",
            decimal_comma="1",
            encoding="cp1252",
            family="bottles",
            **german_choices(),
        ),
    )
    assert saved.status_code == 302, html(saved)
    mapping = services.get_mapping("lieferant")
    assert mapping.options == {
        "kind": "products",
        "encoding": "cp1252",
        "family": "bottles",
        "decimal_comma": True,
    }
    assert mapping.columns == GERMAN_RULES

    # Its page shows every setting as saved; sent back unchanged, it saves the same rules.
    page = html(editor.get(f"/imports/mappings/{mapping.pk}/"))
    assert 'value="ja, x"' in page and "Liter = LITER</textarea>" in page
    assert (
        'name="role-6" value="main"' in page
        and 'id="quantity-8" name="quantity-8" value="1" checked' in page
    )
    assert '<option value="EUR" selected>' in page and 'value="%d.%m.%Y"' in page
    again = editor.post(
        f"/imports/mappings/{mapping.pk}/", {**form_values(page, "mapping-form"), "action": "save"}
    )
    assert again.status_code == 302, html(again)
    mapping.refresh_from_db()
    assert mapping.version == 2 and mapping.columns == GERMAN_RULES
    assert mapping.options["family"] == "bottles"

    # Imported through it (the columns the catalog can take without files or other products).
    sheet = "Art;Farbe;Preis;Inhalt;Aktiv;Material\nX-1; Blau ;24,90;0,5 Liter;ja;Stahl / Glas\n"
    response = editor.post(
        "/imports/",
        {"file": csv_file(sheet, "lieferant.csv"), "mode": "run", "mapping": "lieferant"},
    )
    run_jobs()
    run = ImportRun.objects.get(pk=run_id(response))
    assert run.status == "done"
    assert [p.reason for p in run.problems.all()] == ["read as cp1252 (as asked)"]
    product = Product.objects.get(sku="X-1")
    assert product.family.code == "bottles" and product.enabled
    values = {code: entries[0]["data"] for code, entries in product.values.items()}
    assert values["color"] == "blue"
    assert sorted(values["materials"]) == ["glass", "stainless_steel"]
    assert values["capacity"]["unit"] == "LITER" and float(values["capacity"]["amount"]) == 0.5
    assert float(values["price"][0]["amount"]) == 24.9 and values["price"][0]["currency"] == "EUR"


class _FormValues(HTMLParser):
    """What a browser sends for one form of a page (its inputs, checked boxes, selected
    options, textareas), without pressing a button."""

    def __init__(self, form_id: str):
        super().__init__()
        self.form_id, self.inside, self.values = form_id, False, {}
        self.select = self.textarea = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("id") == self.form_id
        elif not self.inside:
            return
        elif tag == "input" and a.get("name") and a.get("type") not in ("submit", "file"):
            if a.get("type") != "checkbox" or "checked" in a:
                self.values[a["name"]] = a.get("value", "")
        elif tag == "select":
            self.select = a["name"]
            self.values.setdefault(self.select, "")
        elif tag == "option" and self.select and "selected" in a:
            self.values[self.select] = a.get("value", "")
        elif tag == "textarea":
            self.textarea = a["name"]
            self.values[self.textarea] = ""

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None

    def handle_data(self, data):
        if self.textarea:
            self.values[self.textarea] += data


def form_values(page: str, form_id: str) -> dict:
    parser = _FormValues(form_id)
    parser.feed(page)
    return parser.values


def edit_form(mapping, **choices) -> dict:
    """The edit form as the page shows it for `mapping`, changed by `choices`."""
    data = {"action": "save", "version": str(mapping.version), "kind": "products"}
    data["description"] = mapping.description
    data["count"] = str(len(mapping.columns) + 2)
    for i, rule in enumerate(mapping.columns):
        data[f"col-{i}"] = rule["column"]
    data.update(choices)
    return data


def saved_mapping(user):
    return services.create_mapping(
        "supplier-x",
        description="Supplier X",
        options={"kind": "products", "delimiter": ";"},
        columns=[
            {"column": "Article no.", "field": "sku"},
            {"column": "Title", "attribute": "name", "locale": "en_US"},
        ],
        user=user,
    )


def test_a_mapping_is_changed_from_its_page(catalog, var_dir, client_for, users):
    mapping = saved_mapping(users["catalog_editor"])
    editor = client_for("catalog_editor")
    listed = html(editor.get("/imports/mappings/"))
    assert f'href="/imports/mappings/{mapping.pk}/"' in listed
    page = html(editor.get(f"/imports/mappings/{mapping.pk}/"))
    labelled_and_unstyled(page)
    # The saved rules in the editor, two empty rows to add columns, the version it was read at.
    assert 'value="field:sku" selected' in page and 'value="attribute:name" selected' in page
    assert 'id="col-2" name="col-2" value=""' in page and 'id="col-3"' in page
    assert 'name="version" value="1"' in page
    assert '<option value="semicolon" selected>' in page

    changed = editor.post(
        f"/imports/mappings/{mapping.pk}/",
        edit_form(
            mapping,
            description="Supplier X, 2026",
            delimiter="semicolon",
            **{
                "target-0": "field:sku",
                "target-1": "",  # back to the usual reading: out of the mapping
                "col-2": "Colour",
                "target-2": "attribute:color",
                "steps-2": "1",
                "step-2-0-op": "options_by_label",
                "step-2-0-locale": "en_US",
            },
        ),
    )
    assert changed.status_code == 302, html(changed)
    mapping.refresh_from_db()
    assert mapping.version == 2 and mapping.description == "Supplier X, 2026"
    assert mapping.options == {"kind": "products", "delimiter": ";"}
    assert mapping.columns == [
        {"column": "Article no.", "field": "sku"},
        {
            "column": "Colour",
            "attribute": "color",
            "transforms": [{"op": "options_by_label", "locale": "en_US"}],
        },
    ]
    # The mapping check of the service (as PATCH /api/v1/imports/mappings/{name}) applies.
    refused = editor.post(
        f"/imports/mappings/{mapping.pk}/",
        edit_form(mapping, **{"target-0": "field:sku", "target-1": "attribute:name"}),
    )
    assert refused.status_code == 422
    assert "columns[1] (Colour): name is localizable: give the locale" in html(refused)
    assert 'name="version" value="2"' in html(refused)
    mapping.refresh_from_db()
    assert mapping.version == 2


def test_a_stale_edit_or_delete_changes_nothing_and_shows_the_mapping_as_it_is(
    catalog, var_dir, client_for, users
):
    mapping = saved_mapping(users["catalog_editor"])
    editor = client_for("catalog_editor")
    read_at = edit_form(mapping, **{"target-0": "field:sku", "target-1": "ignore"})
    # Someone else changes it meanwhile (through the service the API uses).
    services.update_mapping("supplier-x", expected_version=1, description="Changed elsewhere")

    stale = editor.post(f"/imports/mappings/{mapping.pk}/", read_at)
    page = html(stale)
    assert stale.status_code == 409
    assert "Someone changed this mapping" in page and "Changed elsewhere" in page
    assert 'name="version" value="2"' in page  # the current state, to change again
    mapping.refresh_from_db()
    assert mapping.version == 2 and mapping.columns[1]["attribute"] == "name"

    gone = editor.post(f"/imports/mappings/{mapping.pk}/delete/", {"version": "1"})
    assert gone.status_code == 409 and "Someone changed this mapping" in html(gone)
    assert services.list_mappings().filter(pk=mapping.pk).exists()

    deleted = editor.post(f"/imports/mappings/{mapping.pk}/delete/", {"version": "2"})
    assert deleted.status_code == 302 and deleted["Location"] == "/imports/mappings/"
    assert not services.list_mappings().exists()
    assert editor.get(f"/imports/mappings/{mapping.pk}/").status_code == 404


def test_viewers_see_a_mapping_without_controls_and_cannot_change_it(
    catalog, var_dir, client_for, users
):
    mapping = saved_mapping(users["catalog_editor"])
    viewer = client_for("viewer")
    listed = html(viewer.get("/imports/mappings/"))
    assert "Change or delete" not in listed
    page = html(viewer.get(f"/imports/mappings/{mapping.pk}/"))
    assert "attribute name (en_US)" in page  # what it says, in words
    assert "<form" not in page.split('<main id="main"')[1].split("</main>")[0].replace(
        '<form method="post" action="/logout/"', ""
    )
    for url, data in (
        (f"/imports/mappings/{mapping.pk}/", edit_form(mapping, **{"target-0": "ignore"})),
        (f"/imports/mappings/{mapping.pk}/delete/", {"version": "1"}),
    ):
        assert viewer.post(url, data).status_code == 403
    mapping.refresh_from_db()
    assert mapping.version == 1 and services.list_mappings().count() == 1
