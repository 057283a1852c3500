"""The Shopify push connector against a local server answering as the Admin GraphQL API does
(tests/publishing/fake_channels.py): productSet by handle with options, variants and media,
the unchanged variants of a product sent along, removals, userErrors on the right SKU,
cost-based throttling and HTTP retries, dry run without credentials, no secret in logs."""

import io
import json
import logging
from decimal import Decimal

import pytest

from folio.catalog.models import Channel
from folio.publishing import connectors
from folio.publishing.formats.base import Change, Context, Image, Item
from folio.publishing.formats.shopify import ShopifyCsv
from folio.publishing.models import Feed, Listing
from tests.assets.conftest import media  # noqa: F401 - the fixture
from tests.publishing.fake_channels import FakeShopify

pytestmark = pytest.mark.django_db

FMT = ShopifyCsv()
CDN = "https://cdn.example.com/media"
GTINS = {"blue": "4006381000765", "green": "4006381000772"}


def image(name: str, role: str, position: int, alt: str = "") -> Image:
    return Image(
        role=role,
        position=position,
        asset_id=position,
        asset_version=1,
        filename=f"{name}.jpg",
        url=f"{CDN}/{name}.jpg",
        sha256="0" * 64,
        storage_name=f"blobs/{name}",
        width=1200,
        height=1600,
        format="jpeg",
        alt=alt,
    )


def bottle(color: str, price: str = "24.90") -> Item:
    sku = f"WB-750-SS-{color.upper()}"
    return Item(
        sku=sku,
        product_id=len(color),
        locale="en_US",
        currency="USD",
        fields={
            "title": f"Water bottle 750 ml {color}",
            "description": "<p>Keeps drinks cold for 24 hours.</p>",
            "vendor": "Aqualine",
            "price": {"amount": Decimal(price), "currency": "USD"},
            "barcode": GTINS[color],
            "weight": {"amount": Decimal("410"), "unit": "g"},
        },
        values={},
        images=[
            image(f"{sku}-1", "main", 1, alt=f"{color.title()} bottle, front"),
            image("WB-SS-lifestyle", "lifestyle", 2),
        ],
        group="WB-SS",
        group_title="Stainless Steel Water Bottle",
        axes=[
            {"attribute": "size", "label": "Size", "value": "750 ml", "code": "ml750"},
            {"attribute": "color", "label": "Colour", "value": color.title(), "code": color},
        ],
        category_path=["Drinkware", "Water bottles"],
    )


def espresso() -> Item:
    return Item(
        sku="EP-3000",
        product_id=99,
        locale="en_US",
        currency="USD",
        fields={
            "title": "EspressoPro 3000",
            "description": "<p>Bean to cup.</p>",
            "vendor": "Brewmaster",
            "price": {"amount": Decimal("899.00"), "currency": "USD"},
            "barcode": "4006381333931",
        },
        values={},
        images=[image("EP-3000-1", "main", 1)],
        category_path=["Kitchen", "Coffee machines"],
    )


def ctx(locale: str = "en_US") -> Context:
    return Context(
        channel="ecommerce",
        channel_label="E-commerce",
        feed="shop",
        locale=locale,
        currency="USD",
        options={},
        public_url="https://cdn.example.com",
    )


@pytest.fixture
def feed(catalog):
    return Feed.objects.create(
        channel=Channel.objects.get(code="ecommerce"),
        code="shop",
        format="shopify-csv",
        connector="shopify",
        locales=["en_US", "de_DE"],
    )


@pytest.fixture
def shop(settings):
    with FakeShopify() as fake:
        settings.SHOPIFY_STORE_URL = fake.url
        settings.SHOPIFY_ACCESS_TOKEN = fake.token
        settings.SHOPIFY_API_VERSION = fake.version
        yield fake


def publish(feed, items, removed=(), previous=None):
    """What a run hands the connector: changes, with the feed's listings already stored."""
    previous = previous or {}
    changes = []
    for item in items:
        data = FMT.data(item)
        Listing.objects.update_or_create(
            feed=feed,
            locale=item.locale,
            sku=item.sku,
            defaults={"signature": "s", "fragment": "{}", "data": data},
        )
        changes.append(Change(sku=item.sku, data=data, previous=previous.get(item.sku), item=item))
    for sku in removed:
        listing = Listing.objects.get(feed=feed, locale="en_US", sku=sku)
        changes.append(Change(sku=sku, data=None, previous=listing.data))
        listing.delete()
    return connectors.push(feed, None, changes, ctx())


def test_a_variant_group_is_one_product_set_by_handle_with_options_variants_and_media(feed, shop):
    results = publish(feed, [bottle("blue"), bottle("green"), espresso()])

    calls = {c["variables"]["identifier"]["handle"]: c for c in shop.graphql_calls("productSet")}
    assert set(calls) == {"wb-ss", "ep-3000"}
    request = next(r for r in shop.requests if r["json"] == calls["wb-ss"])
    assert request["path"] == "/admin/api/2025-10/graphql.json"
    assert request["headers"]["x-shopify-access-token"] == shop.token
    assert "synchronous: true" in calls["wb-ss"]["query"]
    data = calls["wb-ss"]["variables"]["input"]
    assert data["handle"] == "wb-ss"
    assert data["title"] == "Stainless Steel Water Bottle"
    assert data["descriptionHtml"] == "<p>Keeps drinks cold for 24 hours.</p>"
    assert (data["vendor"], data["productType"], data["status"]) == (
        "Aqualine",
        "Water bottles",
        "ACTIVE",
    )
    assert data["productOptions"] == [
        {"name": "Size", "position": 1, "values": [{"name": "750 ml"}]},
        {"name": "Colour", "position": 2, "values": [{"name": "Blue"}, {"name": "Green"}]},
    ]
    # The shared lifestyle picture is one file of the product; each variant names its own.
    assert [(f["originalSource"], f["alt"], f["contentType"]) for f in data["files"]] == [
        (f"{CDN}/WB-750-SS-BLUE-1.jpg", "Blue bottle, front", "IMAGE"),
        (f"{CDN}/WB-SS-lifestyle.jpg", "Stainless Steel Water Bottle", "IMAGE"),
        (f"{CDN}/WB-750-SS-GREEN-1.jpg", "Green bottle, front", "IMAGE"),
    ]
    blue, green = data["variants"]
    assert blue == {
        "optionValues": [
            {"optionName": "Size", "name": "750 ml"},
            {"optionName": "Colour", "name": "Blue"},
        ],
        "sku": "WB-750-SS-BLUE",
        "position": 1,
        "price": "24.90",
        "barcode": GTINS["blue"],
        "inventoryItem": {"measurement": {"weight": {"value": 410.0, "unit": "GRAMS"}}},
        "file": {
            "originalSource": f"{CDN}/WB-750-SS-BLUE-1.jpg",
            "alt": "Blue bottle, front",
            "contentType": "IMAGE",
        },
    }
    assert green["sku"] == "WB-750-SS-GREEN" and green["position"] == 2

    single = calls["ep-3000"]["variables"]["input"]
    assert single["productOptions"] == [
        {"name": "Title", "position": 1, "values": [{"name": "Default Title"}]}
    ]
    assert single["variants"] == [
        {
            "optionValues": [{"optionName": "Title", "name": "Default Title"}],
            "sku": "EP-3000",
            "position": 1,
            "price": "899.00",
            "barcode": "4006381333931",
        }
    ]

    product = shop.products["wb-ss"]
    assert [v["sku"] for v in product["variants"]] == ["WB-750-SS-BLUE", "WB-750-SS-GREEN"]
    for sku in ("WB-750-SS-BLUE", "WB-750-SS-GREEN", "EP-3000"):
        assert results[sku]["status"] == "ok", results[sku]
        assert results[sku]["operation"] == "productSet"
    assert results["WB-750-SS-BLUE"]["product_id"] == product["id"]
    assert results["WB-750-SS-BLUE"]["variant_id"] == product["variants"][0]["id"]
    assert results["WB-750-SS-GREEN"]["variant_id"] == product["variants"][1]["id"]


def test_changing_one_variant_sends_the_whole_product_with_its_siblings_as_last_sent(feed, shop):
    publish(feed, [bottle("blue"), bottle("green")])
    before = {v["sku"]: v["id"] for v in shop.products["wb-ss"]["variants"]}
    previous = {"WB-750-SS-BLUE": Listing.objects.get(sku="WB-750-SS-BLUE").data}

    results = publish(feed, [bottle("blue", price="21.90")], previous=previous)

    assert list(results) == ["WB-750-SS-BLUE"]
    assert results["WB-750-SS-BLUE"]["status"] == "ok"
    last = shop.graphql_calls("productSet")[-1]["variables"]["input"]
    # productSet replaces the variant list: leaving the green one out would delete it.
    assert [(v["sku"], v["price"]) for v in last["variants"]] == [
        ("WB-750-SS-BLUE", "21.90"),
        ("WB-750-SS-GREEN", "24.90"),
    ]
    assert {v["sku"]: v["id"] for v in shop.products["wb-ss"]["variants"]} == before


def test_removing_variants_then_the_last_one_deletes_the_product(feed, shop):
    publish(feed, [bottle("blue"), bottle("green")])
    product_id = shop.products["wb-ss"]["id"]

    results = publish(feed, [], removed=["WB-750-SS-GREEN"])
    assert results["WB-750-SS-GREEN"]["status"] == "ok"
    last = shop.graphql_calls("productSet")[-1]["variables"]["input"]
    assert [v["sku"] for v in last["variants"]] == ["WB-750-SS-BLUE"]
    assert "title" not in last  # nothing of the product was resolved: its fields stay
    assert shop.products["wb-ss"]["title"] == "Stainless Steel Water Bottle"

    results = publish(feed, [], removed=["WB-750-SS-BLUE"])
    assert results["WB-750-SS-BLUE"] == {
        "status": "ok",
        "message": "deleted",
        "operation": "productDelete",
        "handle": "wb-ss",
        "product_id": product_id,
    }
    lookup = shop.graphql_calls("productByIdentifier")[-1]
    assert lookup["variables"] == {"identifier": {"handle": "wb-ss"}}
    assert shop.graphql_calls("productDelete")[-1]["variables"] == {"input": {"id": product_id}}
    assert "wb-ss" not in shop.products

    # Gone already (deleted in the store by hand): nothing to do, and no error.
    Listing.objects.create(
        feed=feed,
        locale="en_US",
        sku="WB-750-SS-BLUE",
        signature="s",
        fragment="{}",
        data=FMT.data(bottle("blue")),
    )
    results = publish(feed, [], removed=["WB-750-SS-BLUE"])
    assert results["WB-750-SS-BLUE"]["status"] == "ok"
    assert results["WB-750-SS-BLUE"]["message"] == "not in the store (nothing to delete)"


def test_user_errors_are_reported_on_the_items_they_concern(feed, shop):
    shop.reject(
        "wb-ss",
        "Price must be greater than or equal to 0",
        field=("input", "variants", "1", "price"),
    )

    results = publish(feed, [bottle("blue"), bottle("green"), espresso()])

    green, blue = results["WB-750-SS-GREEN"], results["WB-750-SS-BLUE"]
    assert green["status"] == "error"
    assert green["message"] == (
        "Price must be greater than or equal to 0 [INVALID] (input.variants.1.price)"
    )
    # productSet is all or nothing: the blue variant was not saved either, and says why.
    assert blue["status"] == "error"
    assert blue["message"].startswith("not saved: the product was refused (Price must be")
    assert results["EP-3000"]["status"] == "ok"
    assert "wb-ss" not in shop.products


def test_a_throttled_call_waits_for_the_bucket_and_is_retried(feed, shop):
    shop.throttle(2)

    results = publish(feed, [espresso()])

    assert results["EP-3000"]["status"] == "ok"
    assert len(shop.graphql_calls("productSet")) == 3
    assert "ep-3000" in shop.products


def test_http_429_and_5xx_are_retried_honouring_retry_after(feed, shop):
    shop.fail(1, status=429, retry_after="0")
    shop.fail(1, status=503, retry_after="0")

    results = publish(feed, [espresso()])

    assert results["EP-3000"]["status"] == "ok"
    assert len(shop.graphql_calls("productSet")) == 3


def test_retries_are_bounded(feed, shop):
    shop.fail(20, status=503, retry_after="0")

    results = publish(feed, [espresso()])

    assert results["EP-3000"]["status"] == "error"
    assert results["EP-3000"]["message"] == (
        "Shopify answered 503: Service Unavailable after 5 attempts"
    )
    assert len(shop.requests) == 5


def test_dry_run_until_credentials_are_configured(feed, shop, settings):
    settings.SHOPIFY_ACCESS_TOKEN = None
    assert not connectors.configured(feed)
    assert connectors.missing_settings(feed) == ["FOLIO_SHOPIFY_ACCESS_TOKEN"]

    results = publish(feed, [bottle("blue"), bottle("green")])

    assert results["WB-750-SS-BLUE"] == {
        "status": "dry_run",
        "operation": "productSet",
        "handle": "wb-ss",
        "message": "would productSet handle wb-ss (2 variants, 3 images) "
        "(no credentials: set FOLIO_SHOPIFY_ACCESS_TOKEN)",
    }
    assert shop.requests == []

    settings.SHOPIFY_ACCESS_TOKEN = shop.token
    assert connectors.configured(feed)


def test_only_the_store_language_is_pushed(feed, shop):
    item = bottle("blue")
    item.locale = "de_DE"
    change = Change(sku=item.sku, data=FMT.data(item), previous=None, item=item)

    results = connectors.push(feed, None, [change], ctx("de_DE"))

    assert results[item.sku]["status"] == "skipped"
    assert "en_US" in results[item.sku]["message"]
    assert shop.requests == []


def test_credentials_never_reach_logs_or_results(feed, shop, settings, caplog):
    caplog.set_level(logging.DEBUG)
    results = publish(feed, [espresso()])
    assert results["EP-3000"]["status"] == "ok"

    settings.SHOPIFY_ACCESS_TOKEN = "shpat_wrong_secret_value"
    refused = publish(feed, [bottle("blue")])

    assert refused["WB-750-SS-BLUE"]["status"] == "error"
    assert "FOLIO_SHOPIFY_ACCESS_TOKEN" in refused["WB-750-SS-BLUE"]["message"]
    assert "productSet" in caplog.text or "graphql.json" in caplog.text  # it did log
    for secret in (shop.token, "shpat_wrong_secret_value"):
        assert secret not in caplog.text
        assert secret not in json.dumps([results, refused])


@pytest.mark.usefixtures("media")
def test_demo_publications_push_and_keep_each_answer(settings, tmp_path, shop):
    """End to end: the demo's Shopify feed pushed by a real run, each product's answer on its
    published item; the Amazon feed, without credentials, records what it would send."""
    from folio import demo
    from folio.publishing import feeds, runs
    from folio.publishing.models import Publication, PublishedItem

    settings.PUBLICATIONS_DIR = tmp_path / "publications"
    settings.PUBLIC_URL = "https://demo.folio.example"
    settings.AMAZON_REFRESH_TOKEN = None
    demo.seed(io.StringIO())
    shopify = feeds.update_feed(
        "webshop", "shopify", {"connector": "shopify"}, expected_version=None
    )
    amazon = feeds.update_feed(
        "marketplace", "amazon", {"connector": "amazon"}, expected_version=None
    )

    publication = runs.publish(shopify, mode="full")

    assert publication.status == Publication.Status.DONE, publication.message
    added = PublishedItem.objects.filter(publication=publication, action="added")
    english = {i.sku: i.remote for i in added if i.locale == "en_US"}
    assert english and all(r["status"] == "ok" for r in english.values()), english
    in_store = {v["sku"]: (p["id"], v["id"]) for p in shop.products.values() for v in p["variants"]}
    assert set(in_store) == set(english)
    for sku, remote in english.items():
        assert (remote["product_id"], remote["variant_id"]) == in_store[sku]
    # The store holds one language; the German copy stays in the files.
    german = [i.remote for i in added if i.locale == "de_DE"]
    assert german and all(r["status"] == "skipped" for r in german)

    publication = runs.publish(amazon, mode="full")

    assert publication.status == Publication.Status.DONE, publication.message
    remotes = [
        i.remote for i in PublishedItem.objects.filter(publication=publication, action="added")
    ]
    assert remotes and all(r["status"] == "dry_run" for r in remotes)
    for remote in remotes:
        assert remote["message"].startswith("would PUT /listings/2021-08-01/items/A1DEMOSELLER/")
        assert "no credentials: set FOLIO_AMAZON_" in remote["message"]
        assert "FOLIO_AMAZON_REFRESH_TOKEN" in remote["message"]
