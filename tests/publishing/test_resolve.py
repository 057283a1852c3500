"""Resolving demo products into feed items: values with inheritance, the mapping rules,
images from the channel's slots (variant inheritance, locale and channel scoping, rights,
approval, compliance, renditions made when missing), every skip reason, the bulk links
matching linking.services.links_for, a fixed number of queries per batch, and signatures
that follow every input without rendering anything."""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from folio.assets import editing, workflow
from folio.assets.models import Asset
from folio.catalog import services as catalog
from folio.catalog.models import Channel, Product
from folio.linking import services as linking
from folio.publishing import resolve
from folio.renditions import presets as preset_service
from folio.renditions.models import Rendition
from tests.assets.conftest import media  # noqa: F401 - the fixture
from tests.publishing.run_helpers import (  # noqa: F401 - fixtures
    Lines,
    demo_catalog,
    make_feed,
    reweigh_bottle_model,
    test_formats,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("demo_catalog")]


def build(feed, skus, locale="en_US", **kw):
    ids = list(Product.objects.filter(sku__in=skus).values_list("pk", flat=True))
    items, skipped = resolve.build_items(feed, Lines(), ids, locale, **kw)
    return {i.sku: i for i in items}, skipped


def asset_id(filename: str) -> int:
    return Asset.objects.get(current_version__filename=filename).pk


def reasons(skipped, sku, code):
    return [r for r in skipped.get(sku, []) if r["code"] == code]


def test_reason_codes_are_the_agreed_ones():
    assert set(resolve.REASONS) == {
        "disabled",
        "missing_attribute",
        "missing_media",
        "unapproved_image",
        "rights",
        "non_compliant_image",
        "rendition_failed",
        "validation_failure",
        "not_in_category_tree",
    }


def test_a_variant_inherits_values_and_images_from_its_models():
    feed = make_feed("marketplace", "mp")
    items, skipped = build(feed, ["WB-500-SS-BLUE", "WB-750-SS-BLACK"])
    small = items["WB-500-SS-BLUE"]
    # name from the root model, price from the 500 ml sub-model, GTIN of its own
    assert small.fields["title"] == "Stainless Steel Water Bottle"
    assert small.fields["price"] == {"amount": Decimal("19.9"), "currency": "USD"}
    assert small.fields["gtin"] == "4006381000512"
    assert small.group == "WB-SS" and small.group_title == "Stainless Steel Water Bottle"
    assert [(a["attribute"], a["value"], a["code"]) for a in small.axes] == [
        ("size", "500 ml", "ml500"),
        ("color", "Blue", "blue"),
    ]
    assert small.categories == ["water_bottles"]
    assert small.category_path == ["Drinkware", "Water bottles"]
    # no shots of its own: the root model's main image, through the slot's preset
    assert [(i.role, i.asset_id) for i in small.images] == [
        ("main", asset_id("WB-750-SS-BLUE_front.jpg"))
    ]
    main = small.images[0]
    assert main.filename == "4006381000512.MAIN.jpg" and main.position == 1
    rendition = Rendition.objects.get(blob_id=main.sha256)
    assert rendition.status == "ready" and rendition.preset.code == "amazon-main"
    assert main.url.startswith("https://folio.example/img/") and main.url.endswith(main.filename)
    # the 750 ml black bottle has its own main and gallery images instead
    black = items["WB-750-SS-BLACK"]
    assert [(i.role, i.position, i.asset_id) for i in black.images] == [
        ("main", 1, asset_id("WB-750-SS-BLACK_front.jpg")),
        ("gallery", 2, asset_id("WB-750-SS-BLACK_side.jpg")),
        ("gallery", 3, asset_id("WB-750-SS-BLACK_top.jpg")),
    ]
    assert black.values["capacity"]["value"] == "750 ml"
    assert black.values["color"] == {"label": "Colour", "value": "Black", "data": "black"}
    assert skipped == {}


def test_values_are_formatted_only_for_formats_that_write_them():
    from folio.publishing.formats import get_format

    sku = "WB-750-SS-BLACK"
    ids = [Product.objects.get(sku=sku).pk]

    def build_as(fmt: str, channel: str):
        feed = make_feed(channel, f"test-{fmt}", fmt=fmt)
        items, skipped = resolve.build_items(feed, get_format(fmt), ids, "en_US")
        assert skipped == {}
        return {i.sku: i for i in items}

    google, csv = build_as("google-xml", "webshop"), build_as("csv", "webshop")
    assert google[sku].values == {}  # Google writes its mapped fields only
    assert google[sku].fields["title"] == "Stainless Steel Water Bottle"
    assert csv[sku].values["capacity"]["value"] == "750 ml"


def test_a_new_format_version_changes_every_listing_key(monkeypatch):
    # What a format writes for the same inputs changed: no listing keeps its old fragment.
    feed = make_feed()
    before = resolve.load(feed, Lines()).version_key
    monkeypatch.setattr(Lines, "version", Lines.version + 1)
    assert resolve.load(feed, Lines()).version_key != before


def test_mapping_rules_constants_templates_specials_and_typed_values():
    feed = make_feed(
        mapping={
            "short": {"template": "{brand} {name} {capacity}", "max_length": 40, "truncate": True},
            "brand": {"attribute": "brand"},
            "material": {"attribute": "material"},
            "bpa": {"attribute": "bpa_free"},
            "capacity": {"attribute": "capacity"},
            "condition": {"constant": "new"},
            "id": {"attribute": "@sku"},
            "category": {"attribute": "@category"},
            "family": {"attribute": "@family"},
            "marketplace_title": {"attribute": "short_title", "scope": "marketplace"},
            "name_de": {"attribute": "name", "locale": "de_DE"},
            "description": {"attribute": "description"},
            "nothing": {"attribute": "warranty_years"},
        }
    )
    items, skipped = build(feed, ["WB-750-SS-BLACK"])
    f = items["WB-750-SS-BLACK"].fields
    assert f["short"] == "Aqualine Stainless Steel Water Bottle"  # cut at a word, no "…"
    assert f["brand"] == "Aqualine"
    assert f["material"] == ["Stainless steel"]
    assert f["bpa"] is True
    assert f["capacity"] == {"amount": Decimal("750"), "unit": "ml"}
    assert f["condition"] == "new"
    assert f["id"] == "WB-750-SS-BLACK"
    assert f["category"] == "Drinkware > Water bottles"
    assert f["family"] == "Water bottles"
    assert f["marketplace_title"] == "Aqualine Steel Water Bottle, BPA-free"
    assert f["name_de"] == "Edelstahl-Trinkflasche"
    assert f["description"].startswith("<p>Double-walled")  # sanitized HTML, as stored
    assert "nothing" not in f  # empty and not required: left out
    assert skipped == {}


def test_required_empty_and_too_long_fields_are_reasons():
    feed = make_feed(
        mapping={
            "price": {"attribute": "warranty_years"},  # required by the format, empty here
            "title": {"template": "{name} {brand}", "max_length": 10},
            "condition": {"constant": "refurbished"},
        }
    )
    _items, skipped = build(feed, ["WB-750-SS-BLACK"])
    found = {(r["code"], r.get("field"), r.get("attribute")) for r in skipped["WB-750-SS-BLACK"]}
    assert ("missing_attribute", "price", "warranty_years") in found
    assert ("validation_failure", "title", None) in found  # the rule's own limit
    assert ("validation_failure", "condition", None) in found  # the format's check

    feed.mapping = {"title": {"constant": "x" * 151}}
    feed.save()
    _items, skipped = build(feed, ["WB-750-SS-BLACK"])
    assert [r["field"] for r in reasons(skipped, "WB-750-SS-BLACK", "validation_failure")] == [
        "title"
    ]


def test_each_skip_reason():
    catalog.update_product("EP-DESCALER", {"enabled": False})
    shop = make_feed()
    _items, skipped = build(shop, ["EP-DESCALER", "WB-750-SS-GREEN", "EP-3000"])
    assert [r["code"] for r in skipped["EP-DESCALER"]] == ["disabled"]
    # the green bottle's shots are in review (main) and rejected (top)
    unapproved = reasons(skipped, "WB-750-SS-GREEN", "unapproved_image")
    assert {(r["role"], r["asset_id"]) for r in unapproved} >= {
        ("main", asset_id("WB-750-SS-GREEN_front.jpg"))
    }
    assert "in_review" in unapproved[0]["message"]
    # EP-3000 is complete: its draft top view is just left out of the gallery
    assert "EP-3000" not in skipped

    mp = make_feed("marketplace", "mp")
    _items, skipped = build(mp, ["WB-500-SS-GREEN"])
    assert {r["attribute"] for r in reasons(skipped, "WB-500-SS-GREEN", "missing_attribute")} == {
        "gtin"
    }


def test_expired_rights_and_territories_empty_a_required_role():
    kitchen = asset_id("EP-3000_lifestyle.jpg")  # EP-3000's second gallery image
    shop = make_feed()
    editing.update_asset(kitchen, {"expires_at": timezone.now() - datetime.timedelta(days=1)})
    _items, skipped = build(shop, ["EP-3000"])
    rights = reasons(skipped, "EP-3000", "rights")
    assert [(r["role"], r["asset_id"]) for r in rights] == [("gallery", kitchen)]
    assert "expired" in rights[0]["message"]

    editing.update_asset(kitchen, {"expires_at": None, "territories": ["DE"]})
    _items, skipped = build(shop, ["EP-3000"])
    assert "territory US" in reasons(skipped, "EP-3000", "rights")[0]["message"]


def test_a_bad_image_in_a_role_nothing_requires_is_left_out():
    side = asset_id("EP-3000_side.jpg")
    workflow.archive(side)
    mp = make_feed("marketplace", "mp")
    items, skipped = build(mp, ["EP-3000"])
    assert "EP-3000" not in skipped
    assert side not in [i.asset_id for i in items["EP-3000"].images]
    assert [i.role for i in items["EP-3000"].images] == ["main", "gallery"]


def test_renditions_are_rendered_when_missing_and_checked():
    mp = make_feed("marketplace", "mp")
    front = Asset.objects.get(current_version__filename="EP-3000_front.jpg")
    amazon_main = preset_service.get_preset("amazon-main")
    spec_hash = resolve.load(mp, Lines()).key(amazon_main, "en_US")[0]
    before = Rendition.objects.filter(
        source_sha256=front.current_version.blob_id, spec_hash=spec_hash
    ).first()
    assert before is None or before.status == "pending"  # queued by the demo, not made
    items, skipped = build(mp, ["EP-3000"])
    made = Rendition.objects.get(source_sha256=front.current_version.blob_id, spec_hash=spec_hash)
    assert made.status == "ready" and made.compliance["passed"]
    assert items["EP-3000"].images[0].sha256 == made.blob_id
    assert items["EP-3000"].images[0].width == 2000

    Rendition.objects.filter(pk=made.pk).update(needs_review=True)
    _items, skipped = build(mp, ["EP-3000"])
    assert [(r["code"], r["role"]) for r in skipped["EP-3000"]] == [("non_compliant_image", "main")]
    assert "review" in skipped["EP-3000"][0]["message"]

    checks = [{"rule": "fill_ratio", "passed": False, "detail": "product fills 60 %"}]
    Rendition.objects.filter(pk=made.pk).update(
        needs_review=False, compliance={"passed": False, "checks": checks}
    )
    _items, skipped = build(mp, ["EP-3000"])
    assert "product fills 60 %" in skipped["EP-3000"][0]["message"]

    Rendition.objects.filter(pk=made.pk).update(status="failed", error="libvips: bad JPEG")
    _items, skipped = build(mp, ["EP-3000"])
    assert [(r["code"], r["asset_id"]) for r in skipped["EP-3000"]] == [
        ("rendition_failed", front.pk)
    ]


def test_amazon_image_names_and_public_base_url():
    mp = make_feed(
        "marketplace",
        "mp",
        options={"image_names": "amazon"},
        destination={"kind": "folder", "public_base_url": "https://cdn.example/mp/"},
    )
    items, _ = build(mp, ["WB-750-SS-BLUE", "EP-DESCALER"])
    blue = items["WB-750-SS-BLUE"]
    assert [i.filename for i in blue.images] == [
        "4006381000765.MAIN.jpg",
        "4006381000765.PT01.jpg",
        "4006381000765.PT02.jpg",
    ]
    assert blue.images[1].url == "https://cdn.example/mp/images/4006381000765.PT01.jpg"


def test_image_names_from_the_slot_template_with_and_without_the_title():
    from folio.renditions.models import ImageSlot

    slots = ImageSlot.objects.filter(channel__code="marketplace")
    slots.update(filename_template="{title_slug}-{position}.{ext}")
    items, _ = build(make_feed("marketplace", "mp"), ["WB-750-SS-BLUE"])
    names = [i.filename for i in items["WB-750-SS-BLUE"].images]
    assert names[0] == "water-bottle-750-ml-blue-front-1.jpg", names
    slots.update(filename_template="{sku}_{role}_{position}.{ext}")
    items, _ = build(make_feed("marketplace", "mp2"), ["WB-750-SS-BLUE"])
    assert items["WB-750-SS-BLUE"].images[0].filename == "WB-750-SS-BLUE_main_1.jpg"


def test_bulk_links_follow_links_for():
    """The run's one-query link resolution gives what linking.services.links_for gives,
    scoped links included."""
    machine = Product.objects.get(sku="EP-3000")
    logo = Asset.objects.get(current_version__filename="aqualine-logo.png").pk
    negative = Asset.objects.get(current_version__filename="aqualine-logo-negative.png").pk
    linking.link(machine, logo, "gallery", channel="webshop")
    linking.link(machine, negative, "gallery", locale="de_DE")
    linking.link("WB-750-SS", asset_id("WB-750-SS-BLUE_side.jpg"), "gallery", locale="en_US")
    roles = ["main", "gallery", "lifestyle", "warranty"]
    products = list(Product.objects.select_related("parent__parent"))
    chains = {
        p.pk: [m for m in (p.parent_id, p.parent.parent_id if p.parent else None) if m]
        for p in products
    }
    for channel in Channel.objects.all():
        for locale in ("en_US", "de_DE", "fr_FR"):
            bulk = resolve.applicable_links(chains, roles, locale, channel.pk)
            for p in products:
                one = linking.links_for(p, locale=locale, channel=channel)
                expected = {r: [e["asset_id"] for e in one[r]] for r in roles if r in one}
                assert bulk[p.pk] == expected, (p.sku, channel.code, locale)
    shop = resolve.applicable_links(
        chains, ["gallery"], "en_US", Channel.objects.get(code="webshop").pk
    )
    assert logo in shop[machine.pk]["gallery"] and negative not in shop[machine.pk]["gallery"]


def test_queries_per_batch_do_not_grow_with_the_batch():
    shop = make_feed("marketplace", "mp")
    variants = [
        "WB-500-SS-BLACK",
        "WB-500-SS-BLUE",
        "WB-750-SS-BLACK",
        "WB-750-SS-BLUE",
        "WB-750-SS-GREEN",
        "WB-500-SS-GREEN",
    ]
    build(shop, variants)  # renders what is missing first
    structure = resolve.load(shop, Lines())

    def queries(skus):
        ids = list(Product.objects.filter(sku__in=skus).values_list("pk", flat=True))
        with CaptureQueriesContext(connection) as ctx:
            resolve.build_items(shop, Lines(), ids, "en_US", structure=structure)
            resolve.signatures(shop, ids, "en_US", structure=structure)
        return len(ctx.captured_queries)

    queries(variants)  # the run-wide lookups the structure keeps are made once
    assert queries(variants[:1]) == queries(variants)


def test_signatures_follow_every_input_and_render_nothing():
    shop = make_feed("marketplace", "mp")
    ids = dict(Product.objects.values_list("sku", "pk"))
    pending = Rendition.objects.filter(status="pending").count()
    assert pending > 0

    def sigs(**kw):
        return resolve.signatures(shop, list(ids.values()), "en_US", **kw)

    first = sigs()
    assert Rendition.objects.filter(status="pending").count() == pending  # nothing rendered
    assert sigs() == first

    catalog.update_product(
        "EP-3000",
        {"values": {"name": [{"locale": "en_US", "scope": None, "data": "EspressoPro 3000 Plus"}]}},
    )
    second = sigs()
    assert {sku for sku, pk in ids.items() if second[pk] != first[pk]} == {"EP-3000"}

    reweigh_bottle_model()
    third = sigs()
    assert {sku for sku, pk in ids.items() if third[pk] != second[pk]} == {
        "WB-750-SS-BLACK",
        "WB-750-SS-BLUE",
        "WB-750-SS-GREEN",
    }

    # rights end by the clock alone: the signature at a later moment differs
    kitchen = asset_id("EP-3000_lifestyle.jpg")
    ends = Asset.objects.get(pk=kitchen).expires_at
    later = sigs(at=ends + datetime.timedelta(seconds=1))
    assert {sku for sku, pk in ids.items() if later[pk] != third[pk]} == {"EP-3000"}

    # a rendition made (or refused) changes the listings that show it
    front = Asset.objects.get(current_version__filename="EP-3000_front.jpg")
    Rendition.objects.filter(source_sha256=front.current_version.blob_id).update(status="failed")
    assert sigs()[ids["EP-3000"]] != third[ids["EP-3000"]]


@pytest.mark.parametrize(
    "template, values, expected",
    [
        (
            "{brand} {name} – {capacity}",
            {"brand": "BaristaPro", "name": "EspressoPro 3000"},
            "BaristaPro EspressoPro 3000",
        ),
        ("{name}, {capacity}", {"name": "Bottle"}, "Bottle"),
        ("{a}, {b}, {c}", {"a": "A", "c": "C"}, "A, C"),
        (
            "{brand} {name} {capacity}",
            {"brand": "B", "name": "N", "capacity": "750 ml"},
            "B N 750 ml",
        ),
        ("{capacity} bottle by {brand}", {"brand": "B"}, "bottle by B"),
        ("{capacity}", {}, None),
    ],
)
def test_template_separators_only_between_present_values(template, values, expected):
    from folio.publishing.resolve import fill_template

    assert fill_template(template, lambda name: values.get(name, "")) == expected


def test_an_image_has_the_alt_text_of_the_items_locale_or_else_the_title():
    front = asset_id("EP-3000_front.jpg")
    alt = {"de_DE": "Vorderansicht, Edelstahl", "en_US": "Front view, stainless steel"}
    editing.update_asset(front, {"alt_text": alt})
    items, skipped = build(make_feed(), ["EP-3000"])
    assert not skipped, skipped
    alts = {i.asset_id: i.alt for i in items["EP-3000"].images}
    assert alts.pop(front) == "Front view, stainless steel"
    assert alts and set(alts.values()) == {items["EP-3000"].fields["title"]}


def test_the_signatures_a_build_leaves_are_the_ones_signatures_reads():
    """A run keeps the signature each build computed from the rows it read; an incremental
    run compares it with `signatures`, which reads on its own. Both must agree, also when
    the build had to render (its rows are then out of date) and across batch sizes."""
    shop = make_feed("marketplace", "mp")
    ids = list(Product.objects.values_list("pk", flat=True))
    pending = Rendition.objects.filter(status="pending").count()
    structure = resolve.load(shop, Lines())
    resolve.build_items(shop, Lines(), ids, "en_US", structure=structure)
    assert Rendition.objects.filter(status="pending").count() < pending  # it rendered
    rendered = dict(structure.signatures)
    assert set(rendered) == set(ids)
    assert rendered == resolve.signatures(shop, ids, "en_US")

    structure = resolve.load(shop, Lines())
    resolve.build_items(shop, Lines(), ids, "en_US", structure=structure)  # nothing to render
    assert structure.signatures == rendered
    catalog.update_product(
        "EP-3000",
        {"values": {"name": [{"locale": "en_US", "scope": None, "data": "EspressoPro 3000 S"}]}},
    )
    structure = resolve.load(shop, Lines())
    resolve.build_items(shop, Lines(), ids, "en_US", structure=structure)
    changed = {pid for pid in ids if structure.signatures[pid] != rendered[pid]}
    assert changed == {Product.objects.get(sku="EP-3000").pk}
    assert structure.signatures == resolve.signatures(shop, ids, "en_US")
