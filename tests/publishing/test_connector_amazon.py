"""The Amazon push connector against a local server answering as Login with Amazon and the
Selling Partner API Listings Items 2021-08-01 do (tests/publishing/fake_channels.py): PUT of
the feed message's attributes for new listings (variation parent first), PATCH of what
changed, DELETE of removals, INVALID issues per item, 429 throttling, the access token fetched
once and reused, dry run without credentials, no secret in logs."""

import json
import logging
from decimal import Decimal

import pytest

from folio.publishing import connectors
from folio.publishing.connectors.http import TokenBucket
from folio.publishing.formats import amazon as amazon_format
from folio.publishing.formats.amazon import AmazonJson
from folio.publishing.formats.base import Change, Context, Image, Item
from folio.publishing.models import Feed
from tests.publishing.fake_channels import FakeAmazon

FMT = AmazonJson()
CDN = "https://cdn.example.com/media"
GTINS = {"blue": "4006381000765", "green": "4006381000772"}


def image(name: str, role: str, position: int) -> Image:
    return Image(
        role=role,
        position=position,
        asset_id=position,
        asset_version=1,
        filename=f"{name}.jpg",
        url=f"{CDN}/{name}.jpg",
        sha256="0" * 64,
        storage_name=f"blobs/{name}",
        format="jpeg",
    )


def bottle(color: str, price: str = "24.90") -> Item:
    sku = f"WB-750-SS-{color.upper()}"
    return Item(
        sku=sku,
        product_id=len(color),
        locale="en_US",
        currency="USD",
        fields={
            "item_name": f"Aqualine Water Bottle 750 ml {color.title()}",
            "brand": "Aqualine",
            "gtin": GTINS[color],
            "condition_type": "new_new",
            "price": {"amount": Decimal(price), "currency": "USD"},
        },
        values={},
        images=[image(f"{sku}.MAIN", "main", 1), image(f"{sku}.PT01", "gallery", 2)],
        group="WB-SS",
        group_title="Aqualine Stainless Steel Water Bottle",
        axes=[{"attribute": "color", "label": "Colour", "value": color.title(), "code": color}],
    )


def espresso(name: str = "EspressoPro 3000 Automatic Coffee Machine") -> Item:
    return Item(
        sku="EP-3000",
        product_id=99,
        locale="en_US",
        currency="USD",
        fields={
            "item_name": name,
            "brand": "Brewmaster",
            "gtin": "4006381333931",
            "condition_type": "new_new",
            "price": {"amount": Decimal("899.00"), "currency": "USD"},
        },
        values={},
        images=[image("EP-3000.MAIN", "main", 1)],
    )


CTX = Context(
    channel="marketplace",
    channel_label="Marketplace",
    feed="amazon",
    locale="en_US",
    currency="USD",
    options={},
    public_url="https://cdn.example.com",
)
FEED = Feed(code="amazon", format="amazon-json", connector="amazon", options={})


def new(*items: Item) -> list[Change]:
    return [Change(sku=i.sku, data=FMT.data(i), previous=None, item=i) for i in items]


@pytest.fixture
def amazon(settings):
    with FakeAmazon() as fake:
        settings.AMAZON_SP_ENDPOINT = fake.url
        settings.AMAZON_LWA_ENDPOINT = f"{fake.url}/auth/o2/token"
        settings.AMAZON_LWA_CLIENT_ID = fake.client_id
        settings.AMAZON_LWA_CLIENT_SECRET = fake.client_secret
        settings.AMAZON_REFRESH_TOKEN = fake.refresh_token
        settings.AMAZON_SELLER_ID = fake.seller_id
        settings.AMAZON_REQUESTS_PER_SECOND = 1000
        yield fake


def test_a_new_listing_is_put_with_the_feed_messages_attributes(amazon):
    results = connectors.push(FEED, None, new(espresso()), CTX)

    (login,) = amazon.token_requests()
    assert login["method"] == "POST"
    assert login["headers"]["content-type"].startswith("application/x-www-form-urlencoded")
    form = dict(pair.split("=", 1) for pair in login["body"].decode().split("&"))
    assert form["grant_type"] == "refresh_token"
    assert set(form) == {"grant_type", "refresh_token", "client_id", "client_secret"}

    (put,) = amazon.listings_requests()
    assert (put["method"], put["path"]) == (
        "PUT",
        "/listings/2021-08-01/items/A1SELLERTEST/EP-3000",
    )
    assert put["query"] == {"marketplaceIds": ["ATVPDKIKX0DER"], "issueLocale": ["en_US"]}
    assert put["headers"]["x-amz-access-token"] in amazon.tokens
    assert put["headers"]["content-type"] == "application/json"
    # Exactly what the JSON_LISTINGS_FEED file of the same publication says of the product.
    message = amazon_format.update_message("EP-3000", FMT.data(espresso()), CTX)
    assert put["json"] == {
        "productType": "PRODUCT",
        "requirements": "LISTING",
        "attributes": message["attributes"],
    }
    assert put["json"]["attributes"]["item_name"] == [
        {
            "value": "EspressoPro 3000 Automatic Coffee Machine",
            "language_tag": "en_US",
            "marketplace_id": "ATVPDKIKX0DER",
        }
    ]
    assert put["json"]["attributes"]["main_product_image_locator"] == [
        {"media_location": f"{CDN}/EP-3000.MAIN.jpg", "marketplace_id": "ATVPDKIKX0DER"}
    ]

    result = results["EP-3000"]
    assert (result["status"], result["operation"], result["remote_status"]) == (
        "ok",
        "PUT",
        "ACCEPTED",
    )
    assert result["submission_id"]
    assert amazon.listings["EP-3000"]["productType"] == "PRODUCT"


def test_a_variation_parent_is_put_once_before_its_first_child(amazon):
    results = connectors.push(FEED, None, new(bottle("blue"), bottle("green")), CTX)

    calls = [
        (r["method"], r["path"].rsplit("/", 1)[1], (r["json"] or {}).get("requirements"))
        for r in amazon.listings_requests()
    ]
    assert calls == [
        ("PUT", "WB-SS", "LISTING_PRODUCT_ONLY"),
        ("PUT", "WB-750-SS-BLUE", "LISTING"),
        ("PUT", "WB-750-SS-GREEN", "LISTING"),
    ]
    parent = amazon.listings["WB-SS"]["attributes"]
    assert parent["parentage_level"] == [{"value": "parent", "marketplace_id": "ATVPDKIKX0DER"}]
    child = amazon.listings["WB-750-SS-BLUE"]["attributes"]
    assert child["child_parent_sku_relationship"][0]["parent_sku"] == "WB-SS"
    assert results["WB-750-SS-BLUE"]["parent"]["sku"] == "WB-SS"
    assert results["WB-750-SS-BLUE"]["parent"]["status"] == "ok"
    assert "parent" not in results["WB-750-SS-GREEN"]
    assert all(r["status"] == "ok" for r in results.values())


def test_a_changed_listing_is_patched_and_a_removed_one_deleted(amazon):
    connectors.push(FEED, None, new(bottle("blue"), espresso()), CTX)
    before = FMT.data(bottle("blue"))
    after = FMT.data(bottle("blue", price="21.90"))
    unchanged = FMT.data(espresso())
    amazon.requests.clear()

    results = connectors.push(
        FEED,
        None,
        [
            Change(sku="WB-750-SS-BLUE", data=after, previous=before),
            Change(sku="EP-3000", data=unchanged, previous=unchanged),
        ],
        CTX,
    )

    (patch,) = amazon.listings_requests()
    assert (patch["method"], patch["path"]) == (
        "PATCH",
        "/listings/2021-08-01/items/A1SELLERTEST/WB-750-SS-BLUE",
    )
    assert patch["json"] == {
        "productType": "PRODUCT",
        "patches": amazon_format.patches(before, after, CTX),
    }
    assert {p["path"] for p in patch["json"]["patches"]} == {
        "/attributes/purchasable_offer",
        "/attributes/list_price",
    }
    assert all(p["op"] == "replace" for p in patch["json"]["patches"])
    assert amazon.listings["WB-750-SS-BLUE"]["attributes"]["list_price"][0]["value"] == 21.9
    assert results["WB-750-SS-BLUE"]["status"] == "ok"
    assert results["WB-750-SS-BLUE"]["operation"] == "PATCH"
    assert results["EP-3000"] == {
        "status": "ok",
        "operation": "NONE",
        "message": "nothing to send: no attribute changed",
    }

    amazon.requests.clear()
    results = connectors.push(
        FEED, None, [Change(sku="EP-3000", data=None, previous=unchanged)], CTX
    )
    (delete,) = amazon.listings_requests()
    assert (delete["method"], delete["body"]) == ("DELETE", b"")
    assert delete["query"]["marketplaceIds"] == ["ATVPDKIKX0DER"]
    assert results["EP-3000"]["status"] == "ok"
    assert results["EP-3000"]["operation"] == "DELETE"
    assert "EP-3000" not in amazon.listings


def test_invalid_submissions_report_their_issues_on_the_item(amazon):
    amazon.reject("EP-3000", "The value provided for 'item_name' exceeds the allowed length.")

    results = connectors.push(FEED, None, new(espresso(), bottle("blue")), CTX)

    result = results["EP-3000"]
    assert result["status"] == "error"
    assert result["remote_status"] == "INVALID"
    assert result["message"] == (
        "The value provided for 'item_name' exceeds the allowed length. (item_name)"
    )
    assert result["issues"] == [
        {
            "code": "90220",
            "message": "The value provided for 'item_name' exceeds the allowed length.",
            "severity": "ERROR",
            "attributeNames": ["item_name"],
        }
    ]
    assert results["WB-750-SS-BLUE"]["status"] == "ok"


def test_a_malformed_request_is_an_error_with_amazons_message(amazon, settings):
    settings.AMAZON_SELLER_ID = "A9SOMEONEELSE"

    results = connectors.push(FEED, None, new(espresso()), CTX)

    assert results["EP-3000"]["status"] == "error"
    assert results["EP-3000"]["message"] == (
        "Amazon answered 400: InvalidInput: sellerId 'A9SOMEONEELSE' is not the authorised "
        "selling partner"
    )


def test_throttled_calls_are_retried_after_backing_off(amazon):
    amazon.throttle(2)

    results = connectors.push(FEED, None, new(espresso()), CTX)

    assert results["EP-3000"]["status"] == "ok"
    assert results["EP-3000"]["attempts"] == 3
    assert [r["method"] for r in amazon.listings_requests()] == ["PUT", "PUT", "PUT"]


def test_throttling_without_end_is_an_error_after_bounded_attempts(amazon):
    amazon.throttle(5, rate="40.0")

    results = connectors.push(FEED, None, new(espresso()), CTX)

    assert results["EP-3000"]["status"] == "error"
    assert results["EP-3000"]["message"] == "throttled by Amazon (429) after 5 attempts"
    assert len(amazon.listings_requests()) == 5


def test_the_access_token_is_fetched_once_and_reused(amazon):
    connectors.push(FEED, None, new(espresso()), CTX)
    connectors.push(FEED, None, new(bottle("blue"), bottle("green")), CTX)

    assert len(amazon.token_requests()) == 1
    tokens = {r["headers"]["x-amz-access-token"] for r in amazon.listings_requests()}
    assert len(tokens) == 1 and tokens <= amazon.tokens


def test_an_expiring_token_is_renewed(settings):
    with FakeAmazon(expires_in=30) as fake:  # inside the safety margin: never reused
        settings.AMAZON_SP_ENDPOINT = fake.url
        settings.AMAZON_LWA_ENDPOINT = f"{fake.url}/auth/o2/token"
        settings.AMAZON_LWA_CLIENT_ID = fake.client_id
        settings.AMAZON_LWA_CLIENT_SECRET = fake.client_secret
        settings.AMAZON_REFRESH_TOKEN = fake.refresh_token
        settings.AMAZON_SELLER_ID = fake.seller_id
        connectors.push(FEED, None, new(espresso()), CTX)
        connectors.push(FEED, None, new(espresso()), CTX)

        assert len(fake.token_requests()) == 2


def test_a_revoked_token_is_replaced_once(amazon):
    connectors.push(FEED, None, new(espresso()), CTX)
    amazon.tokens.clear()  # revoked on Amazon's side

    results = connectors.push(FEED, None, new(bottle("green")), CTX)

    assert len(amazon.token_requests()) == 2
    assert [r["method"] for r in amazon.listings_requests()][-3:] == ["PUT", "PUT", "PUT"]
    assert all(r["status"] == "ok" for r in results.values())


def test_refused_credentials_fail_every_item_without_calling_the_api(amazon, settings):
    settings.AMAZON_REFRESH_TOKEN = "Atzr|not-the-right-one"

    results = connectors.push(FEED, None, new(espresso(), bottle("blue")), CTX)

    assert amazon.listings_requests() == []
    for result in results.values():
        assert result["status"] == "error"
        assert result["message"].startswith(
            "Login with Amazon refused the credentials (400 invalid_grant)"
        )
    assert "Atzr|" not in json.dumps(results)


def test_dry_run_until_credentials_are_configured(amazon, settings):
    settings.AMAZON_REFRESH_TOKEN = None
    assert not connectors.configured(FEED)

    removal = Change(sku="WB-750-SS-GREEN", data=None, previous=FMT.data(bottle("green")))
    results = connectors.push(FEED, None, [*new(espresso(), bottle("blue")), removal], CTX)

    assert results["EP-3000"] == {
        "status": "dry_run",
        "operation": "PUT",
        "message": "would PUT /listings/2021-08-01/items/A1SELLERTEST/EP-3000"
        "?marketplaceIds=ATVPDKIKX0DER (no credentials: set "
        "FOLIO_AMAZON_REFRESH_TOKEN)",
    }
    assert results["WB-750-SS-BLUE"]["message"].startswith(
        "would PUT /listings/2021-08-01/items/A1SELLERTEST/WB-SS?marketplaceIds=ATVPDKIKX0DER, "
        "then PUT /listings/2021-08-01/items/A1SELLERTEST/WB-750-SS-BLUE"
    )
    assert results["WB-750-SS-GREEN"]["operation"] == "DELETE"
    assert amazon.requests == []

    settings.AMAZON_REFRESH_TOKEN = amazon.refresh_token
    assert connectors.configured(FEED)
    settings.AMAZON_SELLER_ID = None
    assert connectors.missing_settings(FEED) == ["FOLIO_AMAZON_SELLER_ID"]
    assert connectors.configured(Feed(connector="amazon", options={"seller_id": "A1S"}))


def test_credentials_never_reach_logs_or_results(amazon, caplog):
    caplog.set_level(logging.DEBUG)

    results = connectors.push(FEED, None, new(espresso()), CTX)

    assert results["EP-3000"]["status"] == "ok"
    assert "/listings/2021-08-01/items" in caplog.text  # it did log its calls
    for secret in (amazon.client_secret, amazon.refresh_token, *amazon.tokens):
        assert secret not in caplog.text
        assert secret not in json.dumps(results)


def test_the_token_bucket_keeps_to_the_rate():
    now = [100.0]
    waits = []

    def sleep(seconds):
        waits.append(seconds)
        now[0] += seconds

    bucket = TokenBucket(5, 5, clock=lambda: now[0], sleep=sleep)
    for _ in range(5):
        assert bucket.take() == 0.0  # the burst
    assert bucket.take() == pytest.approx(0.2)
    assert bucket.take() == pytest.approx(0.2)
    now[0] += 1.0  # a quiet second refills five tokens
    assert [bucket.take() for _ in range(5)] == [0.0] * 5
    bucket.slow_down(0.5)  # a 429's x-amzn-RateLimit-Limit said 0.5 requests/s
    assert bucket.take() == pytest.approx(2.0)
    assert waits == pytest.approx([0.2, 0.2, 2.0])
