"""The publishing pages on the demo catalog: channels with their feeds, a feed's settings and
edit form (with the version it was read at), Dry run and Publish starting a publication whose
page follows its job, and the publication's counts, files, diff and report of skipped
products with a link to fix each. Viewers see no controls and their POSTs are refused."""

import io
import re

import pytest

from folio import demo
from folio.jobs.services import execute
from folio.publishing import events, feeds, runs
from folio.publishing.models import Feed, Publication
from folio.web.views.publishing import fix_link

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_feeds(users, media, settings, tmp_path):
    """The demo catalog and its feeds; the test users (pia the publisher, vic the viewer…)
    exist first, so the demo leaves them as they are."""
    settings.PUBLICATIONS_DIR = tmp_path / "publications"
    settings.PUBLIC_URL = "https://demo.folio.example"
    demo.seed(io.StringIO())
    return settings.PUBLICATIONS_DIR


def html(response) -> str:
    return response.content.decode()


def google() -> Feed:
    return feeds.get_feed("marketplace", "google")


def test_channels_list_their_feeds_with_last_publication_and_schedule(demo_feeds, client_for):
    events.schedule_feed(google(), every_seconds=3600)
    done = runs.publish(google(), mode="full")
    viewer = client_for("viewer")
    page = html(viewer.get("/publishing/"))
    assert 'href="/publishing/"' in page  # the "Publishing" nav entry
    marketplace = re.search(r'id="channel-marketplace".*?</section>', page, re.S).group(0)
    row = re.search(
        r"<tr>\s*<td><a href=\"/publishing/marketplace/google/\">.*?</tr>", marketplace, re.S
    ).group(0)
    assert "Google Merchant Center XML (RSS 2.0)" in row
    assert str(demo_feeds / "marketplace" / "google") in row  # the default folder
    assert f'href="/publications/{done.pk}/"' in row and "status-done" in row
    assert "every 1 h, incremental" in row
    amazon = re.search(r'href="/publishing/marketplace/amazon/".*?</tr>', marketplace, re.S)
    assert "never" in amazon.group(0) and "—" in amazon.group(0)
    print_channel = re.search(r'id="channel-print".*?</section>', page, re.S).group(0)
    assert "/publishing/print/catalogue/" in print_channel


def test_viewer_reads_a_feed_and_its_publications_but_changes_nothing(demo_feeds, client_for):
    done = runs.publish(google(), mode="full")
    viewer = client_for("viewer")
    page = html(viewer.get("/publishing/marketplace/google/"))
    assert "Google Merchant Center (XML)" in page
    assert "{brand} {name} {capacity}" in page  # the mapping, read-only
    assert f'href="/publications/{done.pk}/"' in page
    assert "Dry run</button>" not in page and "Publish</button>" not in page
    assert "Edit settings" not in page and 'name="version"' not in page
    assert viewer.get(f"/publications/{done.pk}/").status_code == 200

    refused = viewer.post("/publishing/marketplace/google/run/", {"action": "publish"})
    assert refused.status_code == 403
    assert Publication.objects.count() == 1
    before = google().version
    edit = viewer.post(
        "/publishing/marketplace/google/",
        {
            "name": "Hacked",
            "version": before,
            "mapping": "{}",
            "options": "{}",
            "destination": "{}",
        },
    )
    assert edit.status_code == 403
    assert google().name == "Google Merchant Center (XML)" and google().version == before


def test_dry_run_shows_its_job_progress_then_the_report(demo_feeds, client_for):
    publisher = client_for("publisher")
    page = html(publisher.get("/publishing/marketplace/google/"))
    assert "Dry run</button>" in page and "Publish</button>" in page

    started = publisher.post("/publishing/marketplace/google/run/", {"action": "dry_run"})
    publication = Publication.objects.get()
    assert started.status_code == 302 and started["Location"] == f"/publications/{publication.pk}/"
    assert publication.dry_run and publication.status == "pending" and publication.job_id
    running = html(publisher.get(started["Location"]))
    assert f'id="job-{publication.job_id}"' in running  # the shared progress partial
    assert f'hx-get="/publications/{publication.pk}/watch/"' in running
    assert publisher.get(f"/publications/{publication.pk}/watch/").status_code == 204

    execute(str(publication.job_id), "test-worker")  # what the worker does
    watched = publisher.get(f"/publications/{publication.pk}/watch/")
    assert watched.status_code == 200 and watched["HX-Refresh"] == "true"
    report = html(publisher.get(f"/publications/{publication.pk}/"))
    assert "A dry run: nothing was written or sent" in report
    assert 'id="job-' not in report
    assert re.search(r"<dt>Added</dt><dd>5</dd>", report)
    assert re.search(r"<dt>Skipped</dt><dd>3</dd>", report)
    added = re.search(r'id="diff-added-list".*?</div>', report, re.S).group(0)
    assert "WB-750-SS-BLUE" in added
    assert 'id="files"' not in report  # a dry run writes none


def test_report_groups_skipped_products_by_reason_with_fix_links(demo_feeds, client_for):
    publication = runs.publish(google(), mode="full")
    page = html(client_for("publisher").get(f"/publications/{publication.pk}/"))
    files = re.search(r'id="files".*?</section>', page, re.S).group(0)
    assert "google" in files and ".xml" in files and publication.location in files

    def group(code):
        return re.search(rf'id="reason-{code}".*?</section>', page, re.S).group(0)

    missing = group("missing_attribute")
    assert "Missing attribute (2)" in missing
    assert (
        'href="/products/WB-500-SS-GREEN/?channel=marketplace&amp;locale=en_US#attr-gtin"'
        in missing
    )
    assert "Fill gtin of WB-500-SS-GREEN in en_US for channel marketplace" in missing
    assert "/products/EP-DESCALER/?channel=marketplace&amp;locale=en_US#attr-description" in (
        missing
    )
    media = group("missing_media")
    assert "/products/EP-DESCALER/?channel=marketplace&amp;locale=en_US#media-main" in media
    unapproved = group("unapproved_image")
    asset_id = re.search(r"asset (\d+)", unapproved).group(1)
    assert f'href="/assets/{asset_id}/"' in unapproved and "WB-750-SS-GREEN" in unapproved
    # the summary's chips lead to each group
    assert 'href="#reason-missing_attribute"' in page


def test_dry_run_diff_shows_each_changed_field_old_and_new(demo_feeds, client_for):
    runs.publish(google(), mode="full")
    # Titles without the capacity from now on: every listed product's title changes.
    mapping = {**google().mapping, "title": {"template": "{brand} {name}"}}
    feeds.update_feed("marketplace", "google", {"mapping": mapping}, expected_version=None)
    dry = runs.publish(google(), dry_run=True)
    page = html(client_for("viewer").get(f"/publications/{dry.pk}/"))
    updated = re.search(r'id="diff-updated".*?</table>', page, re.S).group(0)
    row = re.search(r"WB-750-SS-BLUE.*?</tr>", updated, re.S).group(0)
    assert ">title<" in row
    old = re.search(r"<del>([^<]*)</del>", row).group(1)
    new = re.search(r"<ins>([^<]*)</ins>", row).group(1)
    assert old.startswith(new) and "750" in old.removeprefix(new)


def edit(client, feed: Feed, **changes):
    form = {
        "name": feed.name,
        "locales": feed.locales,
        "currency": feed.currency,
        "mapping": '{"title": {"template": "{brand} {name}"}}',
        "options": '{"title": "Aqualine"}',
        "destination": "{}",
        "version": feed.version,
    }
    form.update(changes)
    return client.post(f"/publishing/{feed.channel.code}/{feed.code}/", form)


def test_publisher_edits_the_feed_with_the_version_read(demo_feeds, client_for):
    publisher = client_for("publisher")
    feed = google()
    page = html(publisher.get("/publishing/marketplace/google/"))
    assert 'id="f-mapping"' in page and f'name="version" value="{feed.version}"' in page

    saved = edit(publisher, feed, name="Google (main)")
    assert saved.status_code == 302
    after = google()
    assert after.name == "Google (main)" and after.version == feed.version + 1
    assert after.mapping == {"title": {"template": "{brand} {name}"}}
    assert after.options == {"title": "Aqualine"}
    assert "Saved mapping, name, options." in html(publisher.get(saved["Location"]))

    # Saved again with the version read before: someone else's save is not overwritten.
    stale = edit(publisher, feed, name="Google (old tab)")
    assert stale.status_code == 409
    text = html(stale)
    assert "changed by someone else" in text or "was changed" in text
    assert 'value="Google (old tab)"' in text  # what was typed stays in the form
    assert f'name="version" value="{after.version}"' in text
    assert google().name == "Google (main)"


def test_edit_form_names_the_bad_setting(demo_feeds, client_for):
    publisher = client_for("publisher")
    feed = google()
    not_json = edit(publisher, feed, mapping='{"title": ')
    assert not_json.status_code == 422
    assert re.search(r'field invalid">\s*<label for="f-mapping"', html(not_json))
    assert "not JSON" in html(not_json)
    unknown = edit(publisher, feed, mapping='{"title": {"attribute": "no_such_attribute"}}')
    assert unknown.status_code == 422 and "no_such_attribute" in html(unknown)
    bad_place = edit(publisher, feed, destination='{"kind": "ftp"}')
    assert bad_place.status_code == 422
    assert re.search(r'field invalid">\s*<label for="f-destination"', html(bad_place))
    assert google().version == feed.version


def test_fix_links_lead_where_each_reason_is_fixed():
    feed_url = "/publishing/marketplace/google/"

    def link(fix, locale="de_DE"):
        return fix_link(fix, channel="marketplace", locale=locale, feed_url=feed_url)

    base = "/products/P-1/?channel=marketplace&locale=de_DE"
    assert link({"target": "attribute", "sku": "P-1", "attribute": "name"}) == base + "#attr-name"
    assert link({"target": "role", "sku": "P-1", "role": "gallery"}) == base + "#media-gallery"
    assert link({"target": "role", "sku": "P-1", "role": None}) == base + "#media"
    assert link({"target": "asset", "asset_id": 12, "role": "main"}) == "/assets/12/"
    assert link({"target": "product", "sku": "P-1"}) == base
    assert link({"target": "category", "sku": "P-1"}) == base
    assert link({"target": "mapping", "field": "title"}) == feed_url + "#edit"
    assert link({"target": "field", "field": "title"}) == feed_url + "#edit"
    assert link({"target": "product", "sku": "P-1"}, locale="") == (
        "/products/P-1/?channel=marketplace"
    )
    assert link({"target": "something new"}) is None


def test_a_second_run_while_one_is_pending_is_refused_on_the_feed_page(demo_feeds, client_for):
    publisher = client_for("publisher")
    first = publisher.post("/publishing/marketplace/google/run/", {"action": "publish"})
    assert first.status_code == 302
    again = publisher.post(
        "/publishing/marketplace/google/run/", {"action": "publish"}, follow=True
    )
    assert again.redirect_chain[-1][0] == "/publishing/marketplace/google/"
    assert "wait for it to finish" in html(again)
    assert Publication.objects.count() == 1
    Feed.objects.filter(pk=google().pk).update(enabled=False)
    disabled = publisher.post(
        "/publishing/marketplace/google/run/", {"action": "dry_run"}, follow=True
    )
    assert "is disabled" in html(disabled) and Publication.objects.count() == 1
