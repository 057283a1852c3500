"""`folio feeds`, `folio publish` and `folio publications` on the demo catalog: a run here and
now with its summary (counts, files and where, the skipped products and why), every feed of a
channel in one command, a dry run's diff, queueing for the worker, and a non-zero exit when a
publication fails."""

import io

import pytest
from django.core.management import CommandError, call_command

from folio import demo
from folio.publishing import feeds
from folio.publishing.models import Feed, Publication
from tests.assets.conftest import media  # noqa: F401 - the fixture
from tests.conftest import run_folio

pytestmark = [pytest.mark.usefixtures("media")]


def folio(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def seeded(db, settings, tmp_path):
    settings.PUBLICATIONS_DIR = tmp_path / "publications"
    settings.PUBLIC_URL = "https://demo.folio.example"
    demo.seed(io.StringIO())


@pytest.mark.django_db
def test_feeds_commands(catalog):
    out, _ = folio(
        "feeds",
        "create",
        "marketplace",
        "google",
        "--format",
        "google-xml",
        "--locale",
        "en_US",
        "--map",
        "title={brand} {name} {capacity}",
        "--map",
        "mpn=@sku",
        "--map",
        "condition=const:new",
        "--map",
        'description={"attribute": "description", "scope": "ecommerce"}',
        "--option",
        "link_template=https://shop.example.com/p/{sku}",
        "--category",
        "drinkware",
    )
    assert "feed marketplace/google created" in out
    feed = feeds.get_feed("marketplace", "google")
    assert feed.mapping == {
        "title": {"template": "{brand} {name} {capacity}"},
        "mpn": {"attribute": "@sku"},
        "condition": {"constant": "new"},
        "description": {"attribute": "description", "scope": "ecommerce"},
    }
    assert feed.selection == {"category": "drinkware"}

    out, _ = folio("feeds", "list")
    assert "marketplace" in out and "google-xml" in out and "en_US" in out
    out, _ = folio("feeds", "show", "marketplace", "google")
    assert "title ← template '{brand} {name} {capacity}'" in out
    assert "currency:    USD (the channel's first)" in out

    out, _ = folio(
        "feeds", "set", "marketplace", "google", "--unmap", "mpn", "--disable", "--version", "1"
    )
    assert "now at version 2" in out
    feed.refresh_from_db()
    assert "mpn" not in feed.mapping and "title" in feed.mapping and not feed.enabled

    with pytest.raises(CommandError) as caught:
        folio("feeds", "set", "marketplace", "google", "--map", "title=nope")
    assert "mapping.title" in str(caught.value) and "nope" in str(caught.value)
    with pytest.raises(CommandError) as caught:
        folio("feeds", "set", "marketplace", "google", "--name", "x", "--version", "1")
    assert "changed by someone else" in str(caught.value)

    folio("feeds", "delete", "marketplace", "google")
    assert not Feed.objects.exists()


@pytest.mark.django_db
def test_publish_one_feed_with_summary_and_report(seeded, settings):
    out, err = folio("publish", "marketplace", "--feed", "google")
    publication = Publication.objects.get()
    assert publication.status == "done" and not publication.dry_run
    assert f"publication {publication.pk}: marketplace/google (google-xml, incremental)" in out
    assert "selected" in out and "skipped" in out
    assert "files: google-en_US.xml" in out
    assert f"location: {publication.location}" in out
    assert str(settings.PUBLICATIONS_DIR) in publication.location
    # the skipped products, each with its reasons and what to fix
    assert "WB-500-SS-GREEN" in out and "fix: fill gtin of WB-500-SS-GREEN" in out
    assert "WB-750-SS-GREEN" in out and "approve asset" in out
    assert "marketplace/google" in err  # the progress line(s)

    out, _ = folio("publications", "list")
    assert f"{publication.pk:>6}" in out and "marketplace/google" in out
    out, _ = folio("publications", "show", str(publication.pk), "--action", "skipped")
    assert "WB-500-SS-GREEN" in out and "fix:" in out
    assert "WB-750-SS-BLUE" not in out
    out, _ = folio("publications", "show", str(publication.pk), "--items")
    assert "added" in out and "WB-750-SS-BLUE" in out
    out, _ = folio("publications", "show", str(publication.pk), "--json", "--items")
    assert '"fix"' in out

    # nothing changed since: the next incremental run sends nothing new
    out, _ = folio("publish", "marketplace", "--feed", "google")
    second = Publication.objects.order_by("-id").first()
    assert second.counts.get("added", 0) == 0 and second.counts.get("updated", 0) == 0


@pytest.mark.django_db
def test_publish_every_feed_of_a_channel_and_dry_run(seeded):
    out, _ = folio("publish", "webshop", "--dry-run", "--sku", "EP-3000", "--sku", "WB-750-SS-BLUE")
    runs_made = list(Publication.objects.order_by("id"))
    assert {p.feed.code for p in runs_made} == {"shopify", "jsonld", "json", "csv"}
    assert all(p.dry_run and p.status == "done" for p in runs_made)
    assert all(p.selection == {"skus": ["EP-3000", "WB-750-SS-BLUE"]} for p in runs_made)
    assert out.count("(dry run: nothing written)") == 4
    assert "diff:" in out and "+ WB-750-SS-BLUE" in out
    assert all(not p.location or p.dry_run for p in runs_made)


@pytest.mark.django_db
def test_background_queues_a_job(seeded):
    out, _ = folio("publish", "print", "--background", "--full")
    publication = Publication.objects.get()
    assert publication.status == "pending" and publication.mode == "full"
    assert publication.job_id is not None
    assert f"publication {publication.pk} of print/catalogue queued" in out


@pytest.mark.django_db
def test_a_failed_publication_exits_non_zero(seeded):
    # An HTTP destination nobody listens on: the run fails, and says so.
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    feeds.update_feed(
        "webshop",
        "csv",
        {"destination": {"kind": "http", "url": f"http://127.0.0.1:{port}/feeds"}},
        expected_version=None,
    )
    with pytest.raises(CommandError) as caught:
        folio("publish", "webshop", "--feed", "csv")
    publication = Publication.objects.get()
    assert publication.status == "failed" and publication.message
    assert f"publication {publication.pk} of webshop/csv failed" in str(caught.value)


@pytest.mark.django_db
def test_selection_and_channel_errors(seeded):
    with pytest.raises(CommandError) as caught:
        folio("publish", "marketplace", "--category", "nope")
    assert "selection.category" in str(caught.value)
    with pytest.raises(CommandError) as caught:
        folio("publish", "marketplace", "--feed", "nope")
    assert "no feed 'nope'" in str(caught.value)
    assert not Publication.objects.exists()


def test_exit_status_of_the_real_command(folio_env):
    done = run_folio(["publish", "nowhere"], folio_env)
    assert done.returncode != 0
    assert "no channel 'nowhere'" in done.stderr
    assert "Traceback" not in done.stderr
