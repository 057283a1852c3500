"""Import a spreadsheet in a real browser: a catalog editor opens Imports from the main
navigation, uploads a CSV with a bad row as a dry run, reads the report (the row, column,
value and reason of the problem; nothing written), runs it for real and sees it done. The
test plays the worker (it runs the import's job when the page shows it waiting); every wait
is on an event, never on time."""

import re

import pytest
from playwright.sync_api import expect

from folio.catalog.models import Product
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
