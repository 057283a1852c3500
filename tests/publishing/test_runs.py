"""Publish runs of the demo catalog: what is published and what is reported skipped, the
files and images switched in, the listings and published items recorded, the selection
rules, dry runs, a failure that leaves the previous release, and a run started as a job."""

import hashlib
import json

import pytest
from django.db import transaction

from folio.assets import storage
from folio.assets.models import Blob
from folio.catalog import services as catalog
from folio.catalog import structure
from folio.errors import Conflict
from folio.jobs.models import Job
from folio.jobs.services import execute
from folio.publishing import runs, signals
from folio.publishing.models import Listing, Publication, PublishedItem
from tests.assets.conftest import media  # noqa: F401 - the fixture
from tests.publishing.run_helpers import (  # noqa: F401 - fixtures
    codes,
    current_lines,
    demo_catalog,
    feed_folder,
    items_of,
    make_feed,
    test_formats,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("demo_catalog")]

COMPLETE_ON_SHOP = ["EP-3000", "EP-DESCALER", "WB-750-SS-BLACK", "WB-750-SS-BLUE"]


def test_a_full_run_publishes_the_complete_products_and_reports_the_rest():
    feed = make_feed()
    p = runs.publish(feed, mode="full")
    assert p.status == "done", p.message
    assert p.counts == {
        "selected": 8,
        "published": 4,
        "added": 4,
        "updated": 0,
        "unchanged": 0,
        "removed": 0,
        "skipped": 4,
    }
    assert p.reasons == {"missing_media": 3, "unapproved_image": 1}
    items = items_of(p)
    assert sorted(s for (s, _), i in items.items() if i.action == "added") == COMPLETE_ON_SHOP
    # the 500 ml bottles have no gallery images; the green one's shots are not approved
    assert codes(items[("WB-500-SS-BLUE", "en_US")]) == {"missing_media"}
    assert items[("WB-500-SS-BLUE", "en_US")].reasons[0]["role"] == "gallery"
    assert codes(items[("WB-750-SS-GREEN", "en_US")]) == {"unapproved_image"}

    folder = feed_folder()
    assert (folder / "current").resolve() == folder / "releases" / str(p.pk)
    assert p.location == str(folder / "releases" / str(p.pk))
    published = current_lines(folder)
    assert sorted(published) == COMPLETE_ON_SHOP
    content = (folder / "current" / "feed-en_US.jsonl").read_bytes()
    assert p.files == [
        {
            "name": "feed-en_US.jsonl",
            "size": len(content),
            "sha256": hashlib.sha256(content).hexdigest(),
        }
    ]

    # every image the feed names is in the release, with the rendition's bytes
    black = published["WB-750-SS-BLACK"]
    assert [i["role"] for i in black["images"]] == ["main", "gallery", "gallery"]
    for image in black["images"]:
        assert image["url"] == (
            f"https://folio.example/img/p/web-2048-webp/{image['asset']}/{image['file']}"
        )
        with storage.open_blob(Blob.objects.get(sha256=image["sha256"])) as f:
            assert (folder / "current" / "images" / image["file"]).read_bytes() == f.read()

    # what each listing holds, and what the published item says was sent
    listing = Listing.objects.get(feed=feed, locale="en_US", sku="WB-750-SS-BLACK")
    assert json.loads(listing.fragment) == black
    assert listing.publication_id == p.pk
    assert listing.renditions == {i["file"]: i["sha256"] for i in black["images"]}
    assert set(listing.asset_versions) == {str(i["asset"]) for i in black["images"]}
    sent = items[("WB-750-SS-BLACK", "en_US")]
    assert sent.renditions == listing.renditions and sent.asset_versions == listing.asset_versions
    assert sent.product_version == listing.product_version
    assert Listing.objects.filter(feed=feed).count() == 4


def test_each_locale_gets_its_file():
    feed = make_feed(locales=["en_US", "de_DE"], currency="EUR")
    p = runs.publish(feed)
    assert [f["name"] for f in p.files] == ["feed-en_US.jsonl", "feed-de_DE.jsonl"]
    items = items_of(p)
    # the machine has no German copy yet
    assert items[("EP-3000", "de_DE")].action == "skipped"
    assert {r["attribute"] for r in items[("EP-3000", "de_DE")].reasons} == {"name", "description"}
    assert items[("EP-3000", "en_US")].action == "added"
    assert p.counts["selected"] == 8


def test_a_format_with_one_file_for_all_locales_gets_every_locale():
    feed = make_feed(fmt="test-onefile", locales=["en_US", "de_DE"], currency="EUR")
    p = runs.publish(feed)
    assert [f["name"] for f in p.files] == ["all.jsonl"]
    lines = (feed_folder() / "current" / "all.jsonl").read_text().splitlines()
    skus = [json.loads(line)["sku"] for line in lines]
    assert skus == sorted(skus) and len(skus) == p.counts["published"]
    assert skus.count("WB-750-SS-BLACK") == 2  # in English and in German


def dry(feed, **kw):
    p = runs.publish(feed, dry_run=True, **kw)
    assert p.status == "done", p.message
    return p, items_of(p)


def test_selection_rules():
    p, items = dry(make_feed(code="machines", selection={"category": "coffee_machines"}))
    assert p.counts["selected"] == 1 and set(items) == {("EP-3000", "en_US")}

    feed = make_feed()
    p, items = dry(feed, selection={"category": "kitchen"})  # the category and below
    assert {s for s, _ in items} == {"EP-3000", "EP-DESCALER"}
    # variants take their categories from their models
    p, items = dry(feed, selection={"category": "drinkware"})
    assert p.counts["selected"] == 6
    # a filter as the product list takes it; inherited values count
    p, items = dry(feed, selection={"filter": "color in blue"})
    assert {s for s, _ in items} == {"WB-500-SS-BLUE", "WB-750-SS-BLUE"}
    p, items = dry(feed, selection={"filter": ["color in blue", "size = ml750"]})
    assert {s for s, _ in items} == {"WB-750-SS-BLUE"}
    p, items = dry(feed, selection={"skus": ["EP-3000", "WB-500-SS-GREEN"]})
    assert {s for s, _ in items} == {"EP-3000", "WB-500-SS-GREEN"}
    assert p.selection == {"skus": ["EP-3000", "WB-500-SS-GREEN"]}


def test_only_products_of_the_channel_tree_are_published():
    structure.create_category("outlet", labels={"en_US": "Outlet"})
    structure.create_channel(
        "outlet_shop",
        labels={"en_US": "Outlet"},
        locales=["en_US"],
        currencies=["USD"],
        category_tree="outlet",
    )
    catalog.create_product(
        {
            "sku": "OUT-1",
            "family": "accessories",
            "categories": ["outlet"],
            "values": {
                "name": [{"locale": "en_US", "scope": None, "data": "Last year's lid"}],
                "price": [
                    {"locale": None, "scope": None, "data": [{"amount": "5", "currency": "USD"}]}
                ],
            },
        }
    )
    feed = make_feed("outlet_shop", "outlet")
    p, items = dry(feed)
    assert p.counts["selected"] == 1 and items[("OUT-1", "en_US")].action == "added"
    # named by SKU, a product outside the tree is reported rather than silently dropped
    p, items = dry(feed, selection={"skus": ["OUT-1", "EP-3000"]})
    assert codes(items[("EP-3000", "en_US")]) == {"not_in_category_tree"}
    assert p.reasons == {"not_in_category_tree": 1}


def test_a_dry_run_writes_no_file_and_no_listing():
    feed = make_feed()
    p, items = dry(feed)
    assert p.counts["added"] == 4 and len(items) == 8
    assert p.files == [] and p.location == ""
    assert not any(feed_folder().parent.parent.rglob("*.jsonl"))
    assert not Listing.objects.filter(feed=feed).exists()


def test_a_failed_run_leaves_the_previous_release_and_listings():
    feed = make_feed()
    first = runs.publish(feed)
    before = list(Listing.objects.filter(feed=feed).values_list("sku", "signature", "fragment"))
    folder = feed_folder()
    seen = current_lines(folder)

    catalog.update_product(
        "EP-3000",
        {"values": {"name": [{"locale": "en_US", "scope": None, "data": "EspressoPro 3000 Plus"}]}},
    )
    feed.format = "test-broken"
    feed.save()
    failed = runs.publish(feed)
    assert failed.status == "failed"
    assert "disk full" in failed.message and failed.finished_at is not None
    assert (folder / "current").resolve() == folder / "releases" / str(first.pk)
    assert current_lines(folder) == seen
    assert (
        list(Listing.objects.filter(feed=feed).values_list("sku", "signature", "fragment"))
        == before
    )
    assert sorted(p.name for p in (folder / "releases").iterdir()) == [str(first.pk)]
    assert not PublishedItem.objects.filter(publication=failed).exists()

    feed.format = "test-lines"
    feed.save()
    again = runs.publish(feed)
    assert again.base_id == first.pk
    assert items_of(again)[("EP-3000", "en_US")].action == "updated"


def test_started_as_a_job_with_progress_and_the_finished_signal(django_capture_on_commit_callbacks):
    feed = make_feed()
    heard = []

    def listener(sender, publication, **kw):
        heard.append((publication.pk, publication.status))

    signals.publication_finished.connect(listener)
    try:
        with django_capture_on_commit_callbacks(execute=False):
            p = runs.start_publication(feed, mode="full")
        assert p.status == "pending" and p.job is not None
        with pytest.raises(Conflict):
            runs.start_publication(feed)  # one run of a feed at a time
        execute(str(p.job_id), "test-worker")  # what the worker does with the queued job
    finally:
        signals.publication_finished.disconnect(listener)
    p.refresh_from_db()
    job = Job.objects.get(pk=p.job_id)
    assert p.status == "done" and job.status == "succeeded"
    assert job.progress_total == 8 and job.progress_done == 8
    assert job.result["publication"] == p.pk and job.result["counts"]["added"] == 4
    assert heard == [(p.pk, "done")]


def test_a_scheduled_run_names_the_feed():
    feed = make_feed()
    with transaction.atomic():
        from folio.jobs.services import start_job

        row = start_job(runs.publish_feed, channel="webshop", feed="shop")
    execute(str(row.pk), "test-worker")
    p = Publication.objects.get(feed=feed)
    assert p.status == "done" and p.job_id == row.pk and p.mode == "incremental"


def test_a_disabled_feed_is_not_published():
    feed = make_feed(enabled=False)
    with pytest.raises(Conflict):
        runs.publish(feed)


def test_a_feed_with_a_connector_keeps_each_answer_on_its_item():
    """Without credentials the connector answers as a dry run; the run keeps the answers."""
    feed = make_feed(fmt="shopify-csv", connector="shopify")
    p = runs.publish(feed)
    assert p.status == "done", p.message
    items = items_of(p)
    sent = [i for i in items.values() if i.action == "added"]
    assert sent and all(i.remote["status"] == "dry_run" for i in sent)
    assert all(i.remote == {} for i in items.values() if i.action == "skipped")
