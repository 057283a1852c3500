"""Feed settings: every setting is checked against the channel and the catalog, and a refusal
names the feed, the setting and where inside it (mapping field, attribute, locale, option);
updates are versioned, deletes refuse while a run is under way, every write is audited."""

import pytest

from folio.accounts.models import AuditEntry
from folio.catalog import services
from folio.catalog.models import Product
from folio.errors import Conflict, InvalidInput, NotFound, PermissionDenied, StaleWrite
from folio.publishing import feeds
from folio.publishing.models import Feed, Publication
from tests.fixtures.catalog import espresso_pro

pytestmark = pytest.mark.django_db


def make(data=None, channel="marketplace", **kw):
    return feeds.create_feed(
        channel, {"code": "google", "format": "google-xml", **(data or {})}, **kw
    )


def refused(data, channel="marketplace") -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        make(data, channel)
    assert not Feed.objects.exists()
    return caught.value


def test_create_with_every_kind_of_rule_and_defaults(catalog):
    feed = make(
        {
            "name": "Google",
            "locales": ["en_US"],
            "mapping": {
                "title": {
                    "template": "{brand} {name} {capacity}",
                    "max_length": 150,
                    "truncate": True,
                },
                "description": {
                    "attribute": "description",
                    "scope": "ecommerce",
                    "locale": "en_US",
                },
                "mpn": {"attribute": "@sku"},
                "condition": {"constant": "new"},
                "product_type": {"attribute": "@category"},
            },
            "options": {"link_template": "https://shop.example.com/p/{sku}", "title": "Shop"},
            "destination": {
                "kind": "folder",
                "path": "google/us",
                "public_base_url": "https://feeds.example.com/g/",
            },
            "selection": {"category": "drinkware"},
        }
    )
    assert feed.version == 1 and feed.enabled
    assert feed.destination["public_base_url"] == "https://feeds.example.com/g"
    assert feeds.effective_currency(feed) == "USD"  # the channel's only (first) currency
    assert feeds.effective_locales(feed) == ["en_US"]
    assert feeds.get_feed("marketplace", "google").pk == feed.pk
    entry = AuditEntry.objects.get(action="feed.create")
    assert entry.summary == "feed marketplace/google"
    assert entry.changes["mapping"]["condition"] == {"constant": "new"}
    snap = feeds.snapshot(feed)
    assert snap["channel"] == "marketplace" and snap["format"] == "google-xml"

    other = feeds.create_feed("ecommerce", {"code": "json", "format": "json"})
    assert feeds.effective_currency(other) == "EUR"  # first by code of EUR, USD
    assert feeds.effective_locales(other) == ["de_DE", "en_US"]
    assert [f.code for f in feeds.list_feeds("marketplace")] == ["google"]
    assert len(feeds.list_feeds()) == 2
    with pytest.raises(NotFound):
        feeds.list_feeds("nope")
    with pytest.raises(Conflict):
        make()


@pytest.mark.parametrize(
    "data, field, where",
    [
        ({"code": "Google Feed"}, "code", {}),
        ({"format": "rss"}, "format", {"value": "rss"}),
        ({"locales": ["de_DE"]}, "locales", {"locale": "de_DE"}),
        ({"locales": "en_US"}, "locales", {}),
        ({"currency": "EUR"}, "currency", {"value": "EUR"}),
        ({"mapping": {"title": {"attribute": "nope"}}}, "mapping.title", {"attribute": "nope"}),
        ({"mapping": {"title": {"attribute": "sku"}}}, "mapping.title", {"attribute": "sku"}),
        ({"mapping": {"title": {"attribute": "@ean"}}}, "mapping.title", {"attribute": "@ean"}),
        ({"mapping": {"Title": {"attribute": "name"}}}, "mapping", {"mapping_field": "Title"}),
        ({"mapping": {"titel": {"attribute": "name"}}}, "mapping.titel", {}),  # not Google's
        ({"mapping": {"title": "name"}}, "mapping.title", {}),
        ({"mapping": {"title": {"attribute": "name", "constant": "x"}}}, "mapping.title", {}),
        ({"mapping": {"title": {"atribute": "name"}}}, "mapping.title", {"key": "atribute"}),
        (
            {"mapping": {"title": {"template": "{brand} {nme}"}}},
            "mapping.title",
            {"placeholder": "nme"},
        ),
        ({"mapping": {"title": {"template": "{brand"}}}, "mapping.title", {}),
        ({"mapping": {"title": {"template": "{name!r}"}}}, "mapping.title", {}),
        ({"mapping": {"title": {"constant": {"a": 1}}}}, "mapping.title", {}),
        (
            {"mapping": {"title": {"constant": "x", "locale": "en_US"}}},
            "mapping.title",
            {"key": "locale"},
        ),
        (
            {"mapping": {"title": {"attribute": "name", "max_length": 0}}},
            "mapping.title",
            {"key": "max_length"},
        ),
        (
            {"mapping": {"title": {"attribute": "name", "max_length": True}}},
            "mapping.title",
            {"key": "max_length"},
        ),
        (
            {"mapping": {"title": {"attribute": "name", "truncate": "yes"}}},
            "mapping.title",
            {"key": "truncate"},
        ),
        (
            {"mapping": {"gtin": {"attribute": "gtin", "locale": "en_US"}}},
            "mapping.gtin",
            {"attribute": "gtin", "locale": "en_US"},
        ),
        (
            {"mapping": {"title": {"attribute": "name", "locale": "xx_XX"}}},
            "mapping.title",
            {"locale": "xx_XX"},
        ),
        (
            {"mapping": {"title": {"attribute": "short_title", "scope": "print"}}},
            "mapping.title",
            {"scope": "print"},
        ),
        (
            {"mapping": {"title": {"attribute": "name", "scope": "ecommerce"}}},
            "mapping.title",
            {"attribute": "name"},
        ),
        ({"mapping": {"mpn": {"attribute": "@sku", "locale": "en_US"}}}, "mapping.mpn", {}),
        ({"options": {"seller_id": "A1DEMOSELLER"}}, "options.seller_id", {"option": "seller_id"}),
        ({"options": {"link_template": "shop/{sku}"}}, "options.link_template", {}),
        ({"options": {"link_template": "https://s.example/{id}"}}, "options.link_template", {}),
        ({"options": {"condition": "mint"}}, "options.condition", {}),
        ({"destination": {"kind": "ftp"}}, "destination.kind", {"value": "ftp"}),
        ({"destination": {"kind": "s3"}}, "destination.bucket", {}),
        ({"destination": {"kind": "s3", "bucket": "Feeds!"}}, "destination.bucket", {}),
        (
            {"destination": {"kind": "http", "url": "ftp://feeds.example.com"}},
            "destination.url",
            {},
        ),
        ({"destination": {"kind": "folder", "path": "../outside"}}, "destination.path", {}),
        ({"destination": {"kind": "folder", "url": "https://x.example"}}, "destination.url", {}),
        (
            {"destination": {"public_base_url": "feeds.example.com"}},
            "destination.public_base_url",
            {},
        ),
        ({"connector": "shopify"}, "connector", {"value": "shopify"}),
        ({"connector": "ebay"}, "connector", {"value": "ebay"}),
        ({"selection": {"category": "nope"}}, "selection.category", {"category": "nope"}),
        ({"selection": {"filter": "nope=1"}}, "selection.filter", {"attribute": "nope"}),
        ({"selection": {"filter": "???"}}, "selection.filter", {"filter": "???"}),
        ({"selection": {"skus": ["NOPE-1"]}}, "selection.skus", {"skus": ["NOPE-1"]}),
        ({"selection": {"skus": []}}, "selection.skus", {}),
        ({"selection": {"category": "master", "sku": ["A"]}}, "selection", {"key": "sku"}),
        ({"enabled": "yes"}, "enabled", {}),
    ],
)
def test_refusals_name_the_field(catalog, data, field, where):
    error = refused(data)
    assert error.details["field"] == field, error.message
    assert error.details["channel"] == "marketplace"
    for key, value in where.items():
        assert error.details[key] == value, error.details
    assert error.message.startswith("feed marketplace/")
    assert field in error.message


def test_messages_say_what_is_allowed(catalog):
    assert "its locales: en_US, fr_FR" in refused({"locales": ["de_DE"]}).message
    assert "its currencies: USD" in refused({"currency": "EUR"}).message
    assert "write @sku" in refused({"mapping": {"title": {"attribute": "sku"}}}).message
    assert "amazon-json" in refused({"connector": "amazon"}).message
    error = refused({"options": {"paper": "A4"}})
    assert "link_template" in error.message  # the options google-xml has
    assert "one of google-xml, google-tsv, amazon-json" in refused({"format": "rss"}).message


def test_format_options(catalog):
    amazon = make(
        {
            "code": "amazon",
            "format": "amazon-json",
            "options": {
                "seller_id": "A1DEMOSELLER",
                "marketplace_id": "ATVPDKIKX0DER",
                "product_type": "BOTTLE",
                "image_names": "amazon",
            },
        }
    )
    assert amazon.options["seller_id"] == "A1DEMOSELLER"
    for bad in ({"seller_id": "a b"}, {"marketplace_id": "x"}, {"product_type": "bottle"}):
        with pytest.raises(InvalidInput) as caught:
            make({"code": "amazon2", "format": "amazon-json", "options": bad})
        assert caught.value.details["field"] == f"options.{next(iter(bad))}"
    pdf = feeds.create_feed(
        "ecommerce", {"code": "sheets", "format": "pdf", "options": {"paper": "Letter"}}
    )
    assert pdf.options == {"paper": "Letter"}
    with pytest.raises(InvalidInput) as caught:
        feeds.create_feed(
            "ecommerce", {"code": "sheets2", "format": "pdf", "options": {"paper": "A3"}}
        )
    assert caught.value.details["field"] == "options.paper"
    assert "'A4' or 'Letter'" in caught.value.message


def test_connectors_go_with_their_format(catalog):
    shop = feeds.create_feed(
        "ecommerce", {"code": "shopify", "format": "shopify-csv", "connector": "shopify"}
    )
    assert shop.connector == "shopify"
    amazon = make({"code": "amazon", "format": "amazon-json", "connector": "amazon"})
    assert amazon.connector == "amazon"
    with pytest.raises(InvalidInput) as caught:
        feeds.update_feed("ecommerce", "shopify", {"format": "csv"}, expected_version=None)
    assert caught.value.details["field"] == "connector"


def test_destinations(catalog, make_user, settings, tmp_path):
    settings.PUBLICATIONS_DIR = tmp_path / "publications"
    s3 = make(
        {
            "code": "s3",
            "destination": {"kind": "s3", "bucket": "folio-feeds", "prefix": "/google/"},
        }
    )
    assert s3.destination == {"kind": "s3", "bucket": "folio-feeds", "prefix": "google"}
    web = make(
        {
            "code": "web",
            "destination": {
                "kind": "http",
                "url": "https://ingest.example.com/feeds",
                "headers": {"Authorization": "Bearer x"},
                "images": True,
            },
        }
    )
    assert web.destination["url"] == "https://ingest.example.com/feeds"
    for bad, field in (
        ({"kind": "http", "url": "https://x.example", "headers": {"a b": "c"}}, "headers"),
        ({"kind": "http", "url": "https://x.example", "timeout": 0}, "timeout"),
        ({"kind": "http", "url": "https://x.example", "images": "yes"}, "images"),
        ({"kind": "s3", "bucket": "feeds", "endpoint_url": "s3.local"}, "endpoint_url"),
        ({"kind": "folder", "path": "~/feeds"}, "path"),
    ):
        with pytest.raises(InvalidInput) as caught:
            make({"code": "bad", "destination": bad})
        assert caught.value.details["field"] == f"destination.{field}"
    # A relative folder is under FOLIO_PUBLICATIONS_DIR, stored resolved.
    rel = make({"code": "rel", "destination": {"path": "shop/google"}})
    inside = str(settings.PUBLICATIONS_DIR.resolve() / "shop" / "google")
    assert rel.destination == {"kind": "folder", "path": inside}
    # A folder elsewhere is the operator's: the CLI (no user) and administrators may set one,
    # a publisher through the API may not.
    outside = str(tmp_path / "feeds")
    system = make({"code": "abs", "destination": {"kind": "folder", "path": outside}})
    assert system.destination["path"] == outside
    publisher = make_user("publisher")
    with pytest.raises(InvalidInput) as caught:
        make({"code": "abs2", "destination": {"kind": "folder", "path": outside}}, user=publisher)
    assert caught.value.details["field"] == "destination.path"
    assert make({"code": "abs2", "destination": {"path": inside}}, user=publisher)
    admin = make_user("admin")
    assert make({"code": "abs3", "destination": {"path": outside}}, user=admin).destination
    # ...and a publisher may still edit such a feed's other settings.
    feeds.update_feed("marketplace", "abs", {"name": "Abs"}, expected_version=1, user=publisher)


def test_selections(catalog):
    services.create_product(espresso_pro())
    assert Product.objects.filter(sku="EP-3000").exists()
    assert make({"code": "a", "selection": {"skus": ["EP-3000", "EP-3000"]}}).selection == {
        "skus": ["EP-3000"]
    }
    assert make({"code": "b", "selection": {"filter": ["capacity>=500 ml", "color in blue"]}})
    assert make({"code": "c", "selection": {"filter": "name[en_US] contains bottle"}})
    both = {"category": "kitchen", "filter": "power>=1000 W"}
    assert make({"code": "d", "selection": both}).selection == both
    assert feeds.check_selection("marketplace", {"category": "kitchen"}) == {"category": "kitchen"}
    with pytest.raises(InvalidInput) as caught:
        feeds.check_selection("marketplace", {"skus": "EP-3000"})
    assert caught.value.details["field"] == "selection.skus"


def test_update_is_versioned_and_audited(catalog):
    feed = make()
    updated = feeds.update_feed(
        "marketplace", "google", {"locales": ["fr_FR"], "enabled": False}, expected_version=1
    )
    assert updated.version == 2 and updated.locales == ["fr_FR"] and not updated.enabled
    entry = AuditEntry.objects.get(action="feed.update")
    assert entry.changes == {"locales": [[], ["fr_FR"]], "enabled": [True, False]}
    with pytest.raises(StaleWrite) as caught:
        feeds.update_feed("marketplace", "google", {"name": "x"}, expected_version=1)
    assert caught.value.details["current_version"] == 2
    assert caught.value.details["current"]["locales"] == ["fr_FR"]
    with pytest.raises(InvalidInput) as caught:
        feeds.update_feed("marketplace", "google", {"code": "other"}, expected_version=2)
    assert caught.value.details["field"] == "code"
    with pytest.raises(InvalidInput) as caught:
        feeds.update_feed("marketplace", "google", {"currency": "EUR"}, expected_version=2)
    assert caught.value.details["field"] == "currency"
    feed.refresh_from_db()
    assert feed.version == 2 and feed.currency == ""  # a refused change writes nothing
    # options belong to a format: switching to one without them is refused by name
    feeds.update_feed("marketplace", "google", {"options": {"title": "T"}}, expected_version=2)
    with pytest.raises(InvalidInput) as caught:
        feeds.update_feed("marketplace", "google", {"format": "json"}, expected_version=3)
    assert caught.value.details["field"] == "options.title"
    changed = feeds.update_feed(
        "marketplace", "google", {"format": "json", "options": {}}, expected_version=3
    )
    assert changed.format == "json"


def test_delete(catalog):
    feed = make()
    with pytest.raises(StaleWrite):
        feeds.delete_feed("marketplace", "google", expected_version=5)
    running = Publication.objects.create(
        feed=feed, channel=feed.channel, format=feed.format, status=Publication.Status.RUNNING
    )
    with pytest.raises(Conflict) as caught:
        feeds.delete_feed("marketplace", "google")
    assert caught.value.details["publication"] == running.pk
    Publication.objects.filter(pk=running.pk).update(status=Publication.Status.DONE)
    feeds.delete_feed("marketplace", "google", expected_version=1)
    assert not Feed.objects.exists() and not Publication.objects.exists()
    assert AuditEntry.objects.filter(action="feed.delete").count() == 1
    with pytest.raises(NotFound):
        feeds.get_feed("marketplace", "google")


def test_permissions(catalog, make_user):
    viewer = make_user("viewer")
    with pytest.raises(PermissionDenied):
        make(user=viewer)
    publisher = make_user("publisher")
    make(user=publisher)
    feeds.update_feed("marketplace", "google", {"name": "G"}, expected_version=None, user=publisher)
    with pytest.raises(PermissionDenied):
        feeds.update_feed(
            "marketplace", "google", {"name": "V"}, expected_version=None, user=viewer
        )
    # deleting is not a publisher's: feeds carry their publications' history
    with pytest.raises(PermissionDenied):
        feeds.delete_feed("marketplace", "google", user=publisher)
    feeds.delete_feed("marketplace", "google", user=make_user("admin"))
