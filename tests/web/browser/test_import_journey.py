"""Import a spreadsheet in a real browser: a catalog editor opens Imports from the main
navigation, uploads a CSV with a bad row as a dry run, reads the report (the row, column,
value and reason of the problem; nothing written), runs it for real and sees it done. The
test plays the worker (it runs the import's job when the page shows it waiting); every wait
is on an event, never on time."""

import re

import pytest
from playwright.sync_api import expect

from folio.catalog.models import Product
from folio.imports import services
from folio.imports.models import ImportRun
from folio.jobs.services import execute
from tests.web.browser.conftest import sign_in

pytestmark = [
    pytest.mark.sqlite_only,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

WITH_A_BAD_ROW = "sku;family;name-en_US;color\nA;bottles;Alpha;blue\nB;bottles;Beta;mauve\n"


@pytest.fixture
def staged(settings, tmp_path):
    settings.VAR_DIR = tmp_path / "var"
    settings.VAR_DIR.mkdir()
    return tmp_path


def run_the_job(page) -> ImportRun:
    """Wait for the run's page to show its job waiting, run the job as the worker would, and
    wait for the page to reload itself with the report."""
    expect(page.locator("#progress .job-progress")).to_be_visible()
    run = ImportRun.objects.get(pk=int(re.search(r"/imports/(\d+)/", page.url).group(1)))
    with page.expect_navigation():  # the page's watcher reloads it once the run is done
        execute(str(run.job_id), "test-worker")
    expect(page.locator("#problems")).to_be_visible()
    run.refresh_from_db()
    return run


def test_upload_dry_run_then_run_for_real(page, catalog, users, staged):
    sign_in(page, "cora")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Imports").click()
    expect(page.get_by_role("heading", name="Imports", exact=True)).to_be_visible()

    page.get_by_label("File (CSV, XLSX or zip)").set_input_files(
        {"name": "products.csv", "mimeType": "text/csv", "buffer": WITH_A_BAD_ROW.encode()}
    )
    page.get_by_label("Dry run: check every row and report, write nothing").check()
    page.get_by_role("button", name="Start").click()
    expect(page.get_by_role("heading", name=re.compile(r"^Dry run \d+"))).to_be_visible()
    dry = run_the_job(page)
    assert dry.dry_run and dry.status == "done"

    # The report: the bad row with its column, value and reason; nothing written.
    problem = page.locator("#problems tbody tr")
    expect(problem).to_have_count(1)
    expect(problem).to_contain_text("products.csv")
    expect(problem.locator("td").nth(2)).to_have_text("3")
    expect(problem.locator("td").nth(3)).to_have_text("color")
    expect(problem.locator("td").nth(4)).to_have_text("mauve")
    expect(problem).to_contain_text("is not an option of color")
    expect(page.locator("#outcome")).to_contain_text("nothing written")
    assert not Product.objects.exists()

    # Run for real: the same file and options, this time writing the rows that are fine.
    page.get_by_role("button", name="Run for real").click()
    expect(page.get_by_role("heading", name=re.compile(r"^Import \d+"))).to_be_visible()
    real = run_the_job(page)
    assert not real.dry_run and real.status == "done" and real.written
    expect(page.get_by_role("heading", name=re.compile(r"^Import \d+"))).to_contain_text("done")
    expect(page.locator("#outcome")).to_contain_text("1 created")
    expect(page.get_by_role("button", name="Run for real")).to_have_count(0)
    assert list(Product.objects.values_list("sku", flat=True)) == ["A"]

    # Both runs are listed on the imports page.
    page.get_by_role("navigation", name="Breadcrumbs").get_by_role("link", name="Imports").click()
    runs = page.locator("#runs tbody tr")
    expect(runs).to_have_count(2)
    expect(runs.first).to_contain_text(f"Import {real.pk}")


def test_change_a_saved_mapping_in_the_browser(page, catalog, users, staged):
    """The mapping editor without a script: choose a step, show its settings, fill them in,
    save; then delete the mapping."""
    mapping = services.create_mapping(
        "supplier-x",
        options={"kind": "products"},
        columns=[
            {"column": "Article no.", "field": "sku"},
            {"column": "Farbe", "attribute": "color"},
        ],
    )
    sign_in(page, "cora")
    page.goto("/imports/mappings/")
    page.get_by_role("link", name="Change or delete supplier-x").click()
    expect(page.get_by_label("Read column Farbe as")).to_have_value("attribute:color")

    page.locator("#step-1-0-op").select_option("map")
    page.get_by_role("button", name="Show the settings of what I chose").click()
    page.get_by_label("Values, one a line: yours = ours (an option code)").fill("Blau = blue")
    page.get_by_role("button", name="Save the mapping").click()
    expect(page.locator(".message-success")).to_contain_text("Saved the mapping supplier-x")
    mapping.refresh_from_db()
    assert mapping.version == 2
    assert mapping.columns[1]["transforms"] == [{"op": "map", "values": {"Blau": "blue"}}]

    page.get_by_role("button", name="Delete the mapping supplier-x").click()
    expect(page.get_by_role("heading", name="Saved column mappings")).to_be_visible()
    assert not services.list_mappings().exists()
