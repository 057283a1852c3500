"""Rights end to end, on the demo catalog: when an asset's usage rights end, its public
rendition stops being served at once (410), and the next rights check withdraws it from every
channel's listing (an incremental publication of each feed that showed it) and tells webhook
receivers, with signatures they can verify."""

import datetime
import io
import json
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone

from folio import demo
from folio.assets import rights
from folio.assets.models import Asset
from folio.catalog.models import Channel
from folio.jobs import services as jobs
from folio.jobs.models import Job
from folio.publishing import feeds, runs, webhooks
from folio.publishing.models import Feed, Listing, Publication, PublishedItem
from tests.assets.conftest import media  # noqa: F401
from tests.publishing.webhook_receiver import (  # noqa: F401 - fixtures
    fresh_subscriptions_fixture,
    receiver_fixture,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]

SKU = "EP-3000"
SIDE_VIEW = "EP-3000_side.jpg"  # a gallery image of the machine


def listing(feed: Feed, locale: str = "en_US") -> Listing | None:
    return Listing.objects.filter(feed=feed, locale=locale, sku=SKU).first()


def published_products(publication: Publication, locale: str = "en_US") -> dict:
    data = json.loads((Path(publication.location) / f"products-{locale}.json").read_text())
    return {p["sku"]: p for p in data}


def image_urls(product: dict) -> list[str]:
    return [i["url"] for i in product.get("images", [])]


@pytest.fixture
def shop_and_marketplace(settings, tmp_path):
    settings.PUBLICATIONS_DIR = tmp_path / "publications"
    settings.PUBLIC_URL = "https://pim.example.com"
    demo.seed(io.StringIO())
    # the demo's own expired and expiring assets were announced by an earlier check
    rights.announce_rights()
    shop = Feed.objects.get(channel__code="webshop", code="json")
    market = feeds.create_feed(
        Channel.objects.get(code="marketplace"),
        {"code": "json", "format": "json", "locales": ["en_US"], "currency": "USD"},
    )
    return shop, market


def test_an_expired_asset_leaves_every_listing_and_is_no_longer_served(
    shop_and_marketplace, receiver, django_capture_on_commit_callbacks
):
    shop, market = shop_and_marketplace
    secret = "receiver-and-folio-share-this"
    webhooks.create_webhook(
        {"url": receiver.url, "events": ["asset.expired", "publication.done"], "secret": secret}
    )
    first = {feed.pk: runs.publish(feed, mode="full") for feed in (shop, market)}
    assert all(p.status == "done" for p in first.values()), [p.message for p in first.values()]

    side = Asset.objects.get(current_version__filename=SIDE_VIEW)
    key = str(side.pk)
    # Both channels show the side view: the shop in its gallery (it needs two), the
    # marketplace among its images.
    for feed in (shop, market):
        assert key in listing(feed).asset_versions, feed
    [side_url] = [
        u for u in image_urls(published_products(first[shop.pk])[SKU]) if f"/{side.pk}/" in u
    ]
    assert side_url.startswith("https://pim.example.com/img/p/")
    public_path = side_url.removeprefix("https://pim.example.com")
    served = Client().get(public_path)
    assert served.status_code == 200, served.content

    # The rights end. Delivery refuses it from that moment, before any job has run.
    Asset.objects.filter(pk=side.pk).update(
        expires_at=timezone.now() - datetime.timedelta(minutes=1)
    )
    gone = Client().get(public_path)
    assert gone.status_code == 410

    # The scheduled rights check announces it; once that commits, each feed that showed the
    # asset gets an incremental publication.
    with django_capture_on_commit_callbacks(execute=True):
        assert rights.announce_rights() == {"expired": 1, "expiring": 0}
    started = Publication.objects.filter(mode="incremental", status="pending").order_by("id")
    assert sorted(p.feed_id for p in started) == sorted([shop.pk, market.pk])
    for publication in started:
        assert publication.job.kind == runs.publish_feed.job_name
        jobs.execute(str(publication.job_id), "test-worker")  # what the worker does
        publication.job.refresh_from_db()
        assert publication.job.status == Job.Status.SUCCEEDED, publication.job.message
    after = {p.feed_id: Publication.objects.get(pk=p.pk) for p in started}
    assert all(p.status == "done" for p in after.values())

    # The marketplace keeps the machine, without the side view.
    assert key not in listing(market).asset_versions
    assert listing(market).asset_versions  # its other images stay
    market_item = PublishedItem.objects.get(publication=after[market.pk], sku=SKU)
    assert market_item.action == "updated"
    assert not any(
        f"/{side.pk}/" in u for u in image_urls(published_products(after[market.pk])[SKU])
    )
    # The shop needs two gallery images: with one left the machine is removed, saying why.
    assert listing(shop) is None
    shop_item = PublishedItem.objects.get(publication=after[shop.pk], sku=SKU, locale="en_US")
    assert shop_item.action == "removed"
    assert SKU not in published_products(after[shop.pk])
    for publication in after.values():
        assert publication.counts["removed"] + publication.counts["updated"] >= 1
    # Other products are untouched.
    assert "WB-750-SS-BLUE" in published_products(after[shop.pk])

    # Receivers were told: the expiry, then each publication, all verifiably signed.
    webhooks.deliver_due()
    assert all(r.signature_valid(secret) for r in receiver.requests)
    [expired] = receiver.of("asset.expired")
    assert expired.json["data"]["asset_id"] == side.pk
    assert expired.json["data"]["new"] == "expired"
    done = receiver.of("publication.done")
    assert sorted(r.json["data"]["publication_id"] for r in done) == sorted(
        [*[p.pk for p in first.values()], *[p.pk for p in after.values()]]
    )
    for request in done:
        if request.json["data"]["publication_id"] in after:
            assert request.json["data"]["mode"] == "incremental"

    # A second check finds nothing new to announce or publish.
    with django_capture_on_commit_callbacks(execute=True):
        assert rights.announce_rights() == {"expired": 0, "expiring": 0}
    assert not Publication.objects.filter(status="pending").exists()
    assert Client().get(public_path).status_code == 410


def test_an_expiry_no_listing_shows_starts_nothing(
    shop_and_marketplace, django_capture_on_commit_callbacks
):
    shop, _ = shop_and_marketplace
    runs.publish(shop, mode="full")
    shown = {k for row in Listing.objects.values_list("asset_versions", flat=True) for k in row}
    spare = Asset.objects.exclude(pk__in=[int(k) for k in shown]).filter(status="approved")
    spare = spare.order_by("pk").first()
    assert spare is not None
    Asset.objects.filter(pk=spare.pk).update(
        expires_at=timezone.now() - datetime.timedelta(minutes=1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert rights.announce_rights()["expired"] == 1
    assert not Publication.objects.filter(status="pending").exists()
