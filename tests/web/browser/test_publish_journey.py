"""Publish and read the report, in a real browser: a publisher opens the demo's marketplace
channel, dry-runs the Google feed, publishes it, reads the report and follows the fix link of
a skipped product. The test plays the worker (it runs the publication's job when the page
shows it waiting); every wait is on an event, never on time."""

import io
import re

import pytest
from playwright.sync_api import expect

from folio import demo
from folio.jobs.services import execute
from folio.publishing.models import Publication
from tests.web.browser.conftest import sign_in

# serialized_rollback: earlier transactional tests flush the database, migration-seeded rows
# (presets, workflows, measurement families) included; the demo needs them as migrated.
pytestmark = [
    pytest.mark.sqlite_only,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def demo_catalog(users, media, settings, tmp_path):
    settings.PUBLICATIONS_DIR = tmp_path / "publications"
    settings.PUBLIC_URL = "https://demo.folio.example"
    demo.seed(io.StringIO())  # the test users exist already: the demo keeps them
    return settings.PUBLICATIONS_DIR


def run_the_job(page) -> Publication:
    """Wait for the publication page to show its job waiting, run the job as the worker
    would, and wait for the page to reload itself with the report."""
    expect(page.locator("#progress .job-progress")).to_be_visible()
    publication_id = int(re.search(r"/publications/(\d+)/", page.url).group(1))
    publication = Publication.objects.get(pk=publication_id)
    with page.expect_navigation():  # the page's watcher reloads it once the run is done
        execute(str(publication.job_id), "test-worker")
    expect(page.locator("#report")).to_be_visible()
    publication.refresh_from_db()
    return publication


def test_publish_a_feed_and_fix_a_skipped_product(page, demo_catalog):
    sign_in(page, "pia")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Publishing").click()
    marketplace = page.locator("#channel-marketplace")
    expect(marketplace).to_contain_text("Google Merchant Center XML (RSS 2.0)")
    marketplace.get_by_role("link", name="Google Merchant Center (XML)").click()
    expect(page.get_by_role("heading", name="Google Merchant Center (XML)")).to_be_visible()

    # Dry run: the job's progress, then what would change.
    page.get_by_role("button", name="Dry run").click()
    expect(page.get_by_role("heading", name=re.compile(r"^Dry run \d+"))).to_be_visible()
    dry = run_the_job(page)
    assert dry.dry_run and dry.status == "done"
    expect(page.locator("#diff-added-list")).to_contain_text("WB-750-SS-BLUE")
    expect(page.locator("#counts")).to_contain_text("Skipped")
    expect(page.locator("#files")).to_have_count(0)  # a dry run writes nothing
    assert not (demo_catalog / "marketplace" / "google").exists()

    # Publish for real, from the feed page the breadcrumbs lead back to.
    page.get_by_role("navigation", name="Breadcrumbs").get_by_role(
        "link", name="Google Merchant Center (XML)"
    ).click()
    page.get_by_role("button", name="Publish", exact=True).click()
    expect(page.get_by_role("heading", name=re.compile(r"^Publication \d+"))).to_be_visible()
    done = run_the_job(page)
    assert not done.dry_run and done.status == "done" and done.counts["skipped"] == 3
    expect(page.locator("#files")).to_contain_text(".xml")
    assert (demo_catalog / "marketplace" / "google" / "current").exists()

    # The report: skipped products grouped by reason, each with the way to fix it.
    missing = page.locator("#reason-missing_attribute")
    expect(missing.get_by_role("heading")).to_contain_text("Missing attribute (2)")
    fix = missing.get_by_role("link", name="Fill gtin of WB-500-SS-GREEN in en_US")
    fix.click()
    expect(page).to_have_url(re.compile(r"/products/WB-500-SS-GREEN/\?.*#attr-gtin$"))
    expect(page.get_by_role("heading", name="WB-500-SS-GREEN")).to_be_visible()
    expect(page.locator("#attr-gtin")).to_be_visible()
