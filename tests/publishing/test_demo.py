"""The demo's feeds: seeded once (seeding again changes nothing), every format publishes from
the demo catalog with one command each, and the reports name the demo's incomplete and
unapproved products with the right reasons."""

import io
from pathlib import Path

import pytest

from folio import demo
from folio.assets.models import Asset
from folio.catalog.models import Channel
from folio.linking.models import Link
from folio.publishing import feeds, runs
from folio.publishing.models import Feed, Publication, PublishedItem
from folio.renditions.models import ImageSlot
from tests.assets.conftest import media  # noqa: F401 - the fixture

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]

DEMO_FEEDS = {
    ("marketplace", "google"): "google-xml",
    ("marketplace", "google-tsv"): "google-tsv",
    ("marketplace", "amazon"): "amazon-json",
    ("webshop", "shopify"): "shopify-csv",
    ("webshop", "jsonld"): "jsonld",
    ("webshop", "json"): "json",
    ("webshop", "csv"): "csv",
    ("print", "catalogue"): "pdf",
}


@pytest.fixture
def publications_dir(settings, tmp_path):
    settings.PUBLICATIONS_DIR = tmp_path / "publications"
    settings.PUBLIC_URL = "https://demo.folio.example"
    return settings.PUBLICATIONS_DIR


@pytest.fixture
def seeded(request, demo_snapshot, settings, publications_dir):
    """The demo (seeded once for the module: tests.fixtures.demo); what the seed printed."""
    request.getfixturevalue("media")  # this test's media folder, before the files go in
    demo_snapshot.copy_files(settings)
    return demo_snapshot.output


def skipped(publication) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for item in PublishedItem.objects.filter(publication=publication, action="skipped"):
        found.setdefault(item.sku, []).extend(item.reasons)
    return found


def test_seed_is_idempotent(seeded):
    assert "Demo publishing: 8 feeds" in seeded
    found = {(f.channel.code, f.code): f.format for f in feeds.list_feeds()}
    assert found == DEMO_FEEDS
    amazon = feeds.get_feed("marketplace", "amazon")
    assert amazon.options == {"seller_id": "A1DEMOSELLER", "image_names": "amazon"}
    printed = Channel.objects.get(code="print")
    assert printed.kind == "print" and printed.territories == ["US", "DE"]
    assert sorted(printed.locales.values_list("code", flat=True)) == ["de_DE", "en_US"]
    assert list(printed.currencies.values_list("code", flat=True)) == ["EUR"]
    assert printed.category_tree.code == "master"
    slot = ImageSlot.objects.get(channel=printed, role="main")
    assert slot.preset.code == "print-300dpi-cmyk"
    versions = {f.pk: f.version for f in Feed.objects.all()}

    again = io.StringIO()
    demo.seed(again)
    assert "Demo publishing" not in again.getvalue()
    assert {f.pk: f.version for f in Feed.objects.all()} == versions
    assert Channel.objects.filter(code="print").count() == 1
    assert ImageSlot.objects.filter(channel=printed).count() == 1


@pytest.mark.parametrize("channel, code", sorted(DEMO_FEEDS))
def test_each_demo_feed_publishes(seeded, publications_dir, channel, code):
    feed = feeds.get_feed(channel, code)
    publication = runs.publish(feed, mode="full")
    assert publication.status == Publication.Status.DONE, publication.message
    counts = publication.counts
    assert counts["published"] >= 1, counts
    assert publication.files, "no files written"
    location = Path(publication.location)
    assert location.is_dir(), publication.location
    for f in publication.files:
        written = location / f["name"]
        assert written.is_file() and written.stat().st_size == f["size"], f
    assert str(publications_dir) in str(location.resolve())


def test_reports_name_the_demo_gaps(seeded):
    google = runs.publish(feeds.get_feed("marketplace", "google"), mode="full")
    assert google.status == Publication.Status.DONE, google.message
    report = skipped(google)
    # the green 500 ml bottle has no GTIN yet: incomplete for the marketplace
    gtin = [r for r in report["WB-500-SS-GREEN"] if r["code"] == "missing_attribute"]
    assert gtin and gtin[0]["attribute"] == "gtin" and gtin[0]["locale"] == "en_US"
    # the green 750 ml bottle's own packshots are still in review
    green_main = Link.objects.get(product__sku="WB-750-SS-GREEN", role="main").asset_id
    assert Asset.objects.get(pk=green_main).status == Asset.Status.IN_REVIEW
    unapproved = [r for r in report["WB-750-SS-GREEN"] if r["code"] == "unapproved_image"]
    assert unapproved and unapproved[0]["asset_id"] == green_main
    assert google.reasons["missing_attribute"] >= 1 and google.reasons["unapproved_image"] >= 1
    published = set(
        PublishedItem.objects.filter(publication=google, action="added").values_list(
            "sku", flat=True
        )
    )
    assert {"WB-750-SS-BLUE", "WB-750-SS-BLACK", "EP-3000"} <= published

    # The German web shop: the EspressoPro has no German copy.
    shop = runs.publish(feeds.get_feed("webshop", "json"), mode="full")
    german = [
        r
        for i in PublishedItem.objects.filter(
            publication=shop, action="skipped", sku="EP-3000", locale="de_DE"
        )
        for r in i.reasons
    ]
    assert {r.get("attribute") for r in german if r["code"] == "missing_attribute"} >= {"name"}


def test_sku360_shows_where_a_product_was_last_published(
    seeded, django_assert_num_queries, django_user_model
):
    from folio.catalog.models import Product
    from folio.linking import sku360
    from folio.publishing.history import last_publications

    google = runs.publish(feeds.get_feed("marketplace", "google"), mode="full")
    shop = runs.publish(feeds.get_feed("webshop", "json"), mode="full")
    runs.publish(feeds.get_feed("webshop", "json"), dry_run=True, mode="full")  # not counted
    again = runs.publish(feeds.get_feed("marketplace", "google"))  # nothing changed: no rows

    blue = Product.objects.get(sku="WB-750-SS-BLUE")
    with django_assert_num_queries(2):  # the latest per feed, then their rows
        rows = last_publications(blue)
    found = {(r["channel"], r["feed"]): r for r in rows}
    assert set(found) == {("marketplace", "google"), ("webshop", "json")}
    assert found[("marketplace", "google")]["publication_id"] == google.pk != again.pk
    assert found[("marketplace", "google")]["action"] == "added"
    assert found[("marketplace", "google")]["listed"] is True
    assert found[("webshop", "json")]["publication_id"] == shop.pk
    assert found[("webshop", "json")]["format"] == "json"

    admin = django_user_model.objects.filter(is_superuser=True).first()
    green = sku360.sku360("WB-500-SS-GREEN", user=admin)["publications"]
    by_feed = {(r["channel"], r["feed"]): r for r in green}
    skipped_row = by_feed[("marketplace", "google")]
    assert skipped_row["action"] == "skipped" and skipped_row["listed"] is False
    assert "missing_attribute" in skipped_row["reasons"]
