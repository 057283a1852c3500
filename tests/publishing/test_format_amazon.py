"""Amazon JSON_LISTINGS_FEED v2.0: every file written is validated with jsonschema against
Amazon's published feed schema (and each message against the message schema), independently
of the format's own checks."""

import json
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest

from folio.errors import InvalidInput
from folio.publishing.formats import get_format
from folio.publishing.formats.amazon import MARKETPLACE_US, SCHEMA_DIR, AmazonJson
from folio.publishing.formats.base import Change, Context, Entry, Item
from tests.assets.conftest import media  # noqa: F401 - the fixture
from tests.publishing.test_format_google import (  # noqa: F401 - demo_catalog: a fixture
    bottle,
    demo_catalog,
    espresso,
    image,
)

# The team's reference copy beside the repository (../shared), when this checkout has one.
REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "amazon"


def load(name: str) -> dict:
    return json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))


FEED_SCHEMA = load("listings-feed-schema-v2.json")
MESSAGE_SCHEMA = load("listings-feed-message-schema-v2.json")


def validate_feed(path: Path) -> dict:
    """The file against the feed schema, and each message against the message schema."""
    document = json.loads(path.read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(FEED_SCHEMA)
    jsonschema.validate(document, FEED_SCHEMA, cls=jsonschema.Draft7Validator)
    message_validator = jsonschema.Draft7Validator(MESSAGE_SCHEMA)
    for message in document["messages"]:
        message_validator.validate(message)
    ids = [m["messageId"] for m in document["messages"]]
    assert ids == list(range(1, len(ids) + 1))  # unique in the feed
    return document


def context(locale: str = "en_US", **options) -> Context:
    return Context(
        channel="marketplace",
        channel_label="Marketplace",
        feed="amazon",
        locale=locale,
        currency="USD",
        options={"seller_id": "A2SELLER0FOLIO", **options},
        public_url="https://shop.example.com",
        publication_id=3,
    )


def for_amazon(item: Item) -> Item:
    """The item with the fields of Amazon's default mapping."""
    item.fields = {
        "item_name": item.fields["title"],
        "product_description": item.fields["description"],
        "condition_type": "new_new",
        **{k: v for k, v in item.fields.items() if k in ("brand", "gtin", "price")},
    }
    return item


def machine(**fields) -> Item:
    return for_amazon(espresso(**fields))


def amazon_items() -> list[Item]:
    items = [
        for_amazon(item)
        for item in (bottle("750", "Blue"), bottle("750", "Black"), bottle("500", "Black"))
    ] + [machine()]
    items[-1].fields["bullet_point"] = "<ul><li>Integrated grinder</li><li>15 bar</li></ul>"
    items[-1].images.append(image("EP-3000", 9, "swatch"))
    return items


def entries(fmt, items, ctx):
    return [
        Entry(i.sku, fmt.fragment(i, ctx), fmt.data(i), i)
        for i in sorted(items, key=lambda i: i.sku)
    ]


def by_sku(document: dict) -> dict[str, dict]:
    return {m["sku"]: m for m in document["messages"]}


def test_reference_schema_is_copied_unchanged_and_the_example_validates():
    for name in (
        "listings-feed-schema-v2.json",
        "listings-feed-message-schema-v2.json",
        "listings-feed-schema-v2.example.json",
    ):
        if REFERENCE.exists():
            assert load(name) == json.loads((REFERENCE / name).read_text(encoding="utf-8"))
    validate_feed(SCHEMA_DIR / "listings-feed-schema-v2.example.json")
    assert "amazon" in (SCHEMA_DIR / "README.md").read_text()
    assert isinstance(get_format("amazon-json"), AmazonJson)


def test_full_feed_validates_against_amazons_schema(tmp_path):
    fmt = AmazonJson()
    ctx = context()
    items = amazon_items()
    assert all(fmt.check(i, ctx) == [] for i in items), [fmt.check(i, ctx) for i in items]
    names = fmt.write(tmp_path, ctx, iter(entries(fmt, items, ctx)))
    assert names == ["amazon-en_US-0001.json"]
    document = validate_feed(tmp_path / names[0])
    assert document["header"] == {
        "sellerId": "A2SELLER0FOLIO",
        "version": "2.0",
        "issueLocale": "en_US",
    }
    skus = [m["sku"] for m in document["messages"]]
    # the variation family's parent comes before its first child
    assert skus == ["EP-3000", "WB-SS", "WB-500-SS-BLACK", "WB-750-SS-BLACK", "WB-750-SS-BLUE"]
    messages = by_sku(document)
    assert {m["operationType"] for m in messages.values()} == {"UPDATE"}
    assert {m["productType"] for m in messages.values()} == {"PRODUCT"}

    blue = messages["WB-750-SS-BLUE"]
    assert blue["requirements"] == "LISTING"
    a = blue["attributes"]
    us = {"marketplace_id": MARKETPLACE_US}
    text = {"language_tag": "en_US", **us}
    assert a["item_name"] == [{"value": "Stainless Steel Water Bottle", **text}]
    assert a["brand"] == [{"value": "Aqualine", **text}]
    assert a["product_description"] == [
        {
            "value": "Double-walled, BPA-free stainless steel bottle that keeps drinks cold "
            "for 24 hours.",
            **text,
        }
    ]
    assert a["externally_assigned_product_identifier"] == [
        {"type": "ean", "value": "4006381000765", **us}
    ]
    assert a["purchasable_offer"] == [
        {"currency": "USD", "our_price": [{"schedule": [{"value_with_tax": 24.9}]}], **us}
    ]
    assert a["list_price"] == [{"value": 24.9, "currency": "USD", **us}]
    assert a["condition_type"] == [{"value": "new_new", **us}]
    assert a["main_product_image_locator"] == [
        {"media_location": "https://cdn.example.com/media/WB-750-SS-BLUE-1.jpg", **us}
    ]
    assert [a[f"other_product_image_locator_{n}"][0]["media_location"] for n in (1, 2, 3)] == [
        f"https://cdn.example.com/media/WB-750-SS-BLUE-{n}.jpg" for n in (2, 3, 4)
    ]
    assert "other_product_image_locator_4" not in a
    assert a["parentage_level"] == [{"value": "child", **us}]
    assert a["child_parent_sku_relationship"] == [
        {"child_relationship_type": "variation", "parent_sku": "WB-SS", **us}
    ]
    assert a["variation_theme"] == [{"name": "SIZE/COLOR"}]
    assert a["color"] == [{"value": "Blue", **text}]
    assert a["size"] == [{"value": "750 ml", **text}]

    parent = messages["WB-SS"]
    assert parent["requirements"] == "LISTING_PRODUCT_ONLY"
    assert parent["attributes"] == {
        "item_name": [{"value": "Stainless Steel Water Bottle", **text}],
        "parentage_level": [{"value": "parent", **us}],
        "brand": [{"value": "Aqualine", **text}],
        "variation_theme": [{"name": "SIZE/COLOR"}],
    }

    ep = messages["EP-3000"]["attributes"]
    assert "parentage_level" not in ep
    assert ep["bullet_point"] == [
        {"value": "Integrated grinder", **text},
        {"value": "15 bar", **text},
    ]
    assert ep["product_description"][0]["value"].startswith(
        "The EspressoPro 3000 grinds whole beans fresh for every cup & extracts at 15 bar."
    )
    assert ep["list_price"] == [{"value": 799, "currency": "USD", **us}]
    assert ep["swatch_product_image_locator"] == [
        {"media_location": "https://cdn.example.com/media/EP-3000-9.jpg", **us}
    ]
    assert [n for n in ep if n.startswith("other_product_image_locator_")] == [
        f"other_product_image_locator_{n}" for n in range(1, 6)
    ]


def test_identifiers_images_and_marketplace_of_a_locale(tmp_path):
    fmt = AmazonJson()
    no_gtin = machine(gtin=None)
    no_gtin.sku = "EP-2000"
    upc = machine(gtin="890400021008")
    upc.sku = "EP-3000-US"
    many = machine()
    # no slot called main: the first image is the main one; at most 8 others
    many.images = [image("EP-3000", n) for n in range(1, 13)]
    ctx = context("fr_FR", marketplace_ids={"fr_FR": "A13V1IB3VIYZZH"}, product_type="COFFEE_MAKER")
    names = fmt.write(tmp_path, ctx, entries(fmt, [no_gtin, upc, many], ctx))
    assert names == ["amazon-fr_FR-0001.json"]
    document = validate_feed(tmp_path / names[0])
    assert document["header"]["issueLocale"] == "fr_FR"
    messages = by_sku(document)
    assert {m["productType"] for m in messages.values()} == {"COFFEE_MAKER"}
    fr = {"marketplace_id": "A13V1IB3VIYZZH"}
    a = messages["EP-2000"]["attributes"]
    assert "externally_assigned_product_identifier" not in a
    assert a["supplier_declared_has_product_identifier_exemption"] == [{"value": True, **fr}]
    assert messages["EP-3000-US"]["attributes"]["externally_assigned_product_identifier"] == [
        {"type": "upc", "value": "890400021008", **fr}
    ]
    a = messages["EP-3000"]["attributes"]
    assert a["main_product_image_locator"][0]["media_location"].endswith("/EP-3000-1.jpg")
    others = sorted(n for n in a if n.startswith("other_product_image_locator_"))
    assert others == [f"other_product_image_locator_{n}" for n in range(1, 9)]
    assert a["other_product_image_locator_8"][0]["media_location"].endswith("/EP-3000-9.jpg")


def test_more_than_25000_messages_are_split_into_files(tmp_path):
    fmt = AmazonJson()
    ctx = context()
    template = fmt.fragment(machine(), ctx)
    count = 25_003

    def many():
        for n in range(count):
            sku = f"EP-{n:06d}"
            yield Entry(sku, template.replace('"sku":"EP-3000"', f'"sku":"{sku}"'), {})

    names = fmt.write(tmp_path, ctx, many())
    assert names == ["amazon-en_US-0001.json", "amazon-en_US-0002.json"]
    first, second = (validate_feed(tmp_path / n) for n in names)
    assert len(first["messages"]) == 25_000
    assert len(second["messages"]) == 3
    assert second["messages"][0]["sku"] == "EP-025000"
    assert second["messages"][0]["messageId"] == 1
    assert second["header"] == first["header"]


def test_delta_sends_update_patch_and_delete(tmp_path):
    fmt = AmazonJson()
    ctx = context()
    before = {i.sku: i for i in amazon_items()}
    after = {i.sku: i for i in amazon_items()}
    # EP-3000: new name and price, bullet points gone
    ep = after["EP-3000"]
    ep.fields["item_name"] = "EspressoPro 3000 Automatic Espresso Machine, 15 bar"
    ep.fields["price"] = {"amount": Decimal("749.00"), "currency": "USD"}
    del ep.fields["bullet_point"]
    # a new colour never sent; the 500 ml black bottle removed; blue and black unchanged
    green = bottle("750", "Green")
    green.fields = {**after["WB-750-SS-BLUE"].fields, "gtin": "4006381000772"}
    changes = [
        Change("EP-3000", fmt.data(ep), fmt.data(before["EP-3000"]), ep),
        Change("WB-500-SS-BLACK", None, fmt.data(before["WB-500-SS-BLACK"])),
        Change(
            "WB-750-SS-BLUE",
            fmt.data(after["WB-750-SS-BLUE"]),
            fmt.data(before["WB-750-SS-BLUE"]),
        ),
        Change("WB-750-SS-GREEN", fmt.data(green), None, green),
        Change("NEVER-SENT", None, None),  # nothing to remove
    ]
    names = fmt.write_delta(tmp_path, ctx, changes)
    assert names == ["amazon-en_US-0001.json"]
    document = validate_feed(tmp_path / names[0])
    assert [(m["sku"], m["operationType"]) for m in document["messages"]] == [
        ("EP-3000", "PATCH"),
        ("WB-500-SS-BLACK", "DELETE"),
        ("WB-SS", "UPDATE"),  # the family's parent, with its new child
        ("WB-750-SS-GREEN", "UPDATE"),
    ]
    messages = by_sku(document)
    assert messages["WB-500-SS-BLACK"] == {
        "messageId": 2,
        "sku": "WB-500-SS-BLACK",
        "operationType": "DELETE",
    }
    patch = messages["EP-3000"]
    assert patch["productType"] == "PRODUCT"
    us = {"marketplace_id": MARKETPLACE_US}
    assert patch["patches"] == [
        {
            "op": "replace",
            "path": "/attributes/item_name",
            "value": [
                {
                    "value": "EspressoPro 3000 Automatic Espresso Machine, 15 bar",
                    "language_tag": "en_US",
                    **us,
                }
            ],
        },
        {
            "op": "replace",
            "path": "/attributes/purchasable_offer",
            "value": [
                {"currency": "USD", "our_price": [{"schedule": [{"value_with_tax": 749}]}], **us}
            ],
        },
        {
            "op": "replace",
            "path": "/attributes/list_price",
            "value": [{"value": 749, "currency": "USD", **us}],
        },
        {
            "op": "delete",
            "path": "/attributes/bullet_point",
            "value": [{"language_tag": "en_US", **us}],
        },
    ]
    green_attributes = messages["WB-750-SS-GREEN"]["attributes"]
    assert green_attributes["color"] == [{"value": "Green", "language_tag": "en_US", **us}]
    assert green_attributes["externally_assigned_product_identifier"][0]["value"] == (
        "4006381000772"
    )


def test_delta_with_nothing_to_send_writes_no_file(tmp_path):
    fmt = AmazonJson()
    item = machine()
    data = fmt.data(item)
    assert fmt.write_delta(tmp_path, context(), [Change("EP-3000", data, data, item)]) == []
    assert list(tmp_path.iterdir()) == []


def test_full_feed_removes_what_the_previous_one_held(tmp_path):
    fmt = AmazonJson()
    ctx = context()
    ctx.previous = {"EP-3000": {}, "EP-1000": {}, "WB-250-SS-RED": {}}
    names = fmt.write(tmp_path, ctx, entries(fmt, [machine()], ctx))
    document = validate_feed(tmp_path / names[0])
    assert [(m["sku"], m["operationType"]) for m in document["messages"]] == [
        ("EP-3000", "UPDATE"),
        ("EP-1000", "DELETE"),
        ("WB-250-SS-RED", "DELETE"),
    ]


def test_seller_id_comes_from_the_feed_or_the_settings(tmp_path, settings):
    fmt = AmazonJson()
    item = machine()
    settings.AMAZON_SELLER_ID = None
    ctx = context()
    del ctx.options["seller_id"]
    [problem] = fmt.check(item, ctx)
    assert problem.field == "seller_id"
    assert "seller_id" in problem.message
    with pytest.raises(InvalidInput) as e:
        fmt.write(tmp_path, ctx, entries(fmt, [item], ctx))
    assert e.value.details["field"] == "options.seller_id"
    assert "seller_id" in str(e.value)

    settings.AMAZON_SELLER_ID = "A9FROMSETTINGS"
    assert fmt.check(item, ctx) == []
    [name] = fmt.write(tmp_path, ctx, entries(fmt, [item], ctx))
    assert validate_feed(tmp_path / name)["header"]["sellerId"] == "A9FROMSETTINGS"


def test_check_refuses_what_amazon_would():
    fmt = AmazonJson()
    assert fmt.check(machine()) == []
    problems = {p.field: p.message for p in fmt.check(machine(gtin="4006381003002"))}
    assert problems == {"gtin": "gtin 4006381003002 ends in 2, but its GS1 check digit is 1"}

    long_name = machine()
    long_name.fields["item_name"] = "EspressoPro " * 20
    [problem] = fmt.check(long_name)
    assert (problem.field, problem.message) == (
        "item_name",
        "item_name is 239 characters, Amazon allows 200",
    )

    no_images = machine()
    no_images.images = []
    [problem] = fmt.check(no_images)
    assert problem.field == "main_product_image_locator"

    long_sku = machine()
    long_sku.sku = "EP-3000-" + "X" * 40
    assert [p.field for p in fmt.check(long_sku)] == ["sku"]

    bad_price = machine(price={"amount": "n/a", "currency": "USD"})
    [problem] = fmt.check(bad_price)
    assert problem.field == "price"


def test_a_message_failing_the_schema_is_a_check_problem():
    """An empty SKU breaks the message schema's minLength: check says so, naming the
    schema's complaint, and the product is never written."""
    fmt = AmazonJson()
    item = machine()
    item.sku = ""
    [problem] = fmt.check(item)
    assert problem.field == "message"
    assert "does not match Amazon's schema" in problem.message
    assert "sku" in problem.message


# --- through the real run ----------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.usefixtures("demo_catalog")
def test_demo_marketplace_publishes_amazon_listings_then_changes():
    from folio.catalog import services
    from folio.catalog.models import Channel
    from folio.publishing import runs
    from folio.publishing.models import Feed, Publication

    feed = Feed.objects.create(
        channel=Channel.objects.get(code="marketplace"),
        code="amazon-listings",
        format="amazon-json",
        locales=["en_US"],
        currency="USD",
        options={"seller_id": "A1DEMOSELLER", "product_type": "HOME"},
    )
    first = runs.publish(feed, mode="full")
    assert first.status == Publication.Status.DONE, first.message
    assert [f["name"] for f in first.files] == ["amazon-en_US-0001.json"]
    document = validate_feed(Path(first.location) / "amazon-en_US-0001.json")
    assert document["header"]["sellerId"] == "A1DEMOSELLER"
    messages = by_sku(document)
    assert {"WB-SS", "WB-750-SS-BLUE", "WB-750-SS-BLACK", "EP-3000"} <= set(messages)
    assert "WB-500-SS-GREEN" not in messages  # no GTIN yet
    assert {m["operationType"] for m in messages.values()} == {"UPDATE"}
    blue = messages["WB-750-SS-BLUE"]["attributes"]
    assert blue["item_name"][0]["value"] == "Stainless Steel Water Bottle"
    assert blue["externally_assigned_product_identifier"][0] == {
        "type": "ean",
        "value": "4006381000765",
        "marketplace_id": MARKETPLACE_US,
    }
    assert blue["child_parent_sku_relationship"][0]["parent_sku"] == "WB-SS"
    assert blue["main_product_image_locator"][0]["media_location"].startswith(
        "https://demo.folio.example/"
    )
    assert messages["EP-3000"]["attributes"]["purchasable_offer"][0]["our_price"] == [
        {"schedule": [{"value_with_tax": 799}]}
    ]

    # a new price for the EspressoPro, the black bottle taken off sale
    services.update_product(
        "EP-3000",
        {
            "values": {
                "price": [
                    {
                        "locale": None,
                        "scope": None,
                        "data": [
                            {"amount": "749.00", "currency": "USD"},
                            {"amount": "699.00", "currency": "EUR"},
                        ],
                    }
                ]
            }
        },
    )
    services.update_product("WB-750-SS-BLACK", {"enabled": False})
    second = runs.publish(feed, mode="incremental")
    assert second.status == Publication.Status.DONE, second.message
    [name] = [f["name"] for f in second.files]
    document = validate_feed(Path(second.location) / name)
    operations = {m["sku"]: m for m in document["messages"]}
    assert set(operations) == {"EP-3000", "WB-750-SS-BLACK"}
    assert operations["WB-750-SS-BLACK"]["operationType"] == "DELETE"
    patch = operations["EP-3000"]
    assert patch["operationType"] == "PATCH"
    assert patch["productType"] == "HOME"
    assert {p["path"]: p["op"] for p in patch["patches"]} == {
        "/attributes/purchasable_offer": "replace",
        "/attributes/list_price": "replace",
    }
