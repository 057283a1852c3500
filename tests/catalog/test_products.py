"""Products through the service layer: values, validation, completeness, history, variants."""

import pytest

from folio.accounts.audit import acting_as
from folio.accounts.models import AuditEntry
from folio.catalog import services
from folio.catalog.models import Completeness, Product, ProductChange, ValueIndex
from folio.catalog.values import gtin_is_valid
from folio.errors import Conflict, InvalidInput, StaleWrite
from tests.fixtures.catalog import espresso_pro


def _reasons(exc):
    return {(d["attribute"], d.get("locale"), d.get("channel")): d["reason"] for d in exc.details}


def test_create_normalises_values_and_records_everything(catalog, make_user):
    editor = make_user("catalog_editor")
    with acting_as(editor, via="api"):
        product = services.create_product(espresso_pro())
    product.refresh_from_db()
    assert product.version == 1
    assert product.values["power"] == [
        {"locale": None, "scope": None, "data": {"amount": "1450", "unit": "WATT"}}
    ]
    assert product.values["price"][0]["data"] == [
        {"amount": "749", "currency": "EUR"},
        {"amount": "799", "currency": "USD"},
    ]
    assert list(product.categories.values_list("code", flat=True)) == ["coffee"]
    change = ProductChange.objects.get(product=product)
    assert change.action == "create" and change.username == editor.username
    assert AuditEntry.objects.filter(action="product.create", object_id=str(product.pk)).exists()
    # filter index: the measurement is kept in the family's standard unit
    power = ValueIndex.objects.get(product=product, attribute=catalog["attributes"]["power"])
    assert power.number == 1450.0 and power.unit == "WATT"


def test_every_bad_value_is_named(catalog):
    item = espresso_pro(
        values={
            "name": [{"locale": None, "scope": None, "data": "no locale"}],
            "short_title": [{"locale": "en_US", "scope": None, "data": "no channel"}],
            "power": [{"locale": None, "scope": None, "data": {"amount": 1, "unit": "bar"}}],
            "warranty_years": [{"locale": None, "scope": None, "data": 2.5}],
            "coffee_types": [{"locale": None, "scope": None, "data": ["tea"]}],
            "colour": [{"locale": None, "scope": None, "data": "red"}],
            "gtin": [{"locale": None, "scope": None, "data": "4006381333932"}],
            "legal_notice_de": [{"locale": "en_US", "scope": None, "data": "x"}],
            "description": [{"locale": "es_ES", "scope": "ecommerce", "data": "x"}],
        }
    )
    with pytest.raises(InvalidInput) as err:
        services.create_product(item)
    reasons = _reasons(err.value)
    assert "localizable" in reasons[("name", None, None)]
    assert "scopable" in reasons[("short_title", "en_US", None)]
    assert "unit 'bar' is not allowed" in reasons[("power", None, None)]
    assert "whole number" in reasons[("warranty_years", None, None)]
    assert "not an option" in reasons[("coffee_types", None, None)]
    assert reasons[("colour", None, None)] == "unknown attribute"
    assert "GTIN" in reasons[("gtin", None, None)]
    assert "only available in de_DE" in reasons[("legal_notice_de", "en_US", None)]
    assert "not active" in reasons[("description", "es_ES", "ecommerce")]
    assert not Product.objects.exists()  # nothing half-written


def test_gtin_check_digit():
    assert gtin_is_valid("4006381333931")
    assert gtin_is_valid("96385074")
    assert not gtin_is_valid("4006381333932")
    assert not gtin_is_valid("400638133393")


def test_duplicate_sku_and_unknown_family(catalog):
    services.create_product(espresso_pro())
    with pytest.raises(Conflict):
        services.create_product(espresso_pro())
    with pytest.raises(InvalidInput, match="unknown family"):
        services.create_product(espresso_pro(sku="EP-1", family="toasters"))


def test_completeness_per_channel_and_locale(catalog):
    product = services.create_product(espresso_pro())
    rows = {
        (c.channel.code, c.locale.code): c
        for c in Completeness.objects.filter(product=product).select_related("channel", "locale")
    }
    # web shop: name, description, price (USD and EUR), power — all there in en_US
    assert rows[("ecommerce", "en_US")].ratio == 100
    # de_DE lacks name and description
    assert rows[("ecommerce", "de_DE")].ratio == 50
    assert sorted(rows[("ecommerce", "de_DE")].missing) == ["description", "name"]
    # marketplace fr_FR: name yes, short_title no, price (USD only) yes
    assert rows[("marketplace", "fr_FR")].ratio == 66
    assert rows[("marketplace", "fr_FR")].missing == ["short_title"]


def test_price_needs_every_channel_currency(catalog):
    item = espresso_pro()
    item["values"]["price"] = [
        {"locale": None, "scope": None, "data": [{"amount": "799", "currency": "USD"}]}
    ]
    product = services.create_product(item)
    web = Completeness.objects.get(product=product, channel__code="ecommerce", locale__code="en_US")
    assert "price" in web.missing


def test_patch_merges_and_stale_version_conflicts(catalog):
    product = services.create_product(espresso_pro())
    services.update_product(
        "EP-3000",
        {
            "values": {
                "name": [
                    {"locale": "de_DE", "scope": None, "data": "EspressoPro 3000 Kaffeevollautomat"}
                ]
            }
        },
        expected_version=1,
    )
    product.refresh_from_db()
    names = {e["locale"]: e["data"] for e in product.values["name"]}
    assert names == {
        "de_DE": "EspressoPro 3000 Kaffeevollautomat",
        "en_US": "EspressoPro 3000",
        "fr_FR": "EspressoPro 3000",
    }
    assert product.version == 2
    with pytest.raises(StaleWrite) as err:
        services.update_product("EP-3000", {"enabled": False}, expected_version=1)
    assert err.value.details["current_version"] == 2
    product.refresh_from_db()
    assert product.enabled is True
    # data null removes one value
    services.update_product(
        "EP-3000", {"values": {"name": [{"locale": "fr_FR", "scope": None, "data": None}]}}
    )
    product.refresh_from_db()
    assert {e["locale"] for e in product.values["name"]} == {"de_DE", "en_US"}


def test_sku_is_immutable(catalog):
    services.create_product(espresso_pro())
    with pytest.raises(InvalidInput, match="cannot change"):
        services.update_product("EP-3000", {"sku": "EP-3001"})


def test_history_and_restore(catalog):
    services.create_product(espresso_pro())
    services.update_product(
        "EP-3000",
        {
            "enabled": False,
            "values": {"warranty_years": [{"locale": None, "scope": None, "data": 3}]},
        },
    )
    services.update_product(
        "EP-3000",
        {"values": {"name": [{"locale": "en_US", "scope": None, "data": "EspressoPro 3000 Plus"}]}},
    )
    entries = list(services.history("EP-3000"))
    assert [e.version for e in entries] == [3, 2, 1]
    warranty = next(c for c in entries[1].changes if c.get("attribute") == "warranty_years")
    assert (warranty["old"], warranty["new"]) == ("2", "3")
    product = services.restore_version("EP-3000", 1)
    assert product.version == 4
    product.refresh_from_db()
    assert product.enabled is True
    assert services.resolved_values(product)["warranty_years"][0]["data"] == "2"
    names = {e["locale"]: e["data"] for e in product.values["name"]}
    assert names["en_US"] == "EspressoPro 3000"


def _bottle_models():
    from folio.catalog.models import ProductModel

    fv = __import__("folio.catalog.models", fromlist=["FamilyVariant"]).FamilyVariant.objects.get(
        code="bottles_by_size_color"
    )
    root = ProductModel.objects.create(
        code="WB-SS",
        family_variant=fv,
        values={
            "name": [{"locale": "en_US", "scope": None, "data": "Stainless Steel Water Bottle"}],
            "bpa_free": [{"locale": None, "scope": None, "data": True}],
        },
    )
    sub = ProductModel.objects.create(
        code="WB-750-SS",
        family_variant=fv,
        parent=root,
        values={
            "size": [{"locale": None, "scope": None, "data": "ml750"}],
            "capacity": [
                {"locale": None, "scope": None, "data": {"amount": "750", "unit": "MILLILITER"}}
            ],
        },
    )
    return root, sub


def test_variants_inherit_and_axes_are_unique(catalog):
    _bottle_models()
    blue = services.create_product(
        {
            "sku": "WB-750-SS-BLUE",
            "parent": "WB-750-SS",
            "values": {"color": [{"locale": None, "scope": None, "data": "blue"}]},
        }
    )
    assert blue.family.code == "bottles"
    resolved = services.resolved_values(blue)
    assert resolved["name"][0]["data"] == "Stainless Steel Water Bottle"
    assert resolved["capacity"][0]["data"]["amount"] == "750"
    assert services.value_origins(blue) == {
        "name": "WB-SS",
        "bpa_free": "WB-SS",
        "size": "WB-750-SS",
        "capacity": "WB-750-SS",
        "color": "self",
    }
    # the filter index holds inherited values too
    assert ValueIndex.objects.filter(product=blue, attribute__code="capacity").exists()
    with pytest.raises(InvalidInput, match="already has color"):
        services.create_product(
            {
                "sku": "WB-750-SS-BLUE2",
                "parent": "WB-750-SS",
                "values": {"color": [{"locale": None, "scope": None, "data": "blue"}]},
            }
        )
    with pytest.raises(InvalidInput) as err:
        services.create_product(
            {
                "sku": "WB-750-SS-RED",
                "parent": "WB-750-SS",
                "values": {
                    "capacity": [
                        {"locale": None, "scope": None, "data": {"amount": "1", "unit": "L"}}
                    ]
                },
            }
        )
    reasons = _reasons(err.value)
    assert "sub product model" in reasons[("capacity", None, None)]
    assert "variant axis" in reasons[("color", None, None)]
    with pytest.raises(InvalidInput, match="root model"):
        services.create_product(
            {
                "sku": "WB-X",
                "parent": "WB-SS",
                "values": {"color": [{"locale": None, "scope": None, "data": "green"}]},
            }
        )


def test_bulk_upsert_reports_each_line_and_writes_only_good_items(catalog):
    items = [
        espresso_pro(sku="EP-1"),
        espresso_pro(sku="EP-2", family="nope"),
        "not an object",
        espresso_pro(sku="EP-1"),
        espresso_pro(sku="EP-3"),
    ]
    lines = list(services.bulk_upsert(items))
    assert [line["status"] for line in lines] == ["created", "error", "error", "error", "created"]
    assert "unknown family" in lines[1]["message"]
    assert set(Product.objects.values_list("sku", flat=True)) == {"EP-1", "EP-3"}
    again = list(services.bulk_upsert([espresso_pro(sku="EP-1")]))
    assert again[0]["status"] == "unchanged"
    assert ProductChange.objects.filter(product__sku="EP-1").count() == 1


def test_bulk_upsert_duplicate_unique_values_fail_alone(catalog):
    a = espresso_pro(sku="EP-A")
    a["values"]["gtin"] = [{"locale": None, "scope": None, "data": "4006381333931"}]
    b = espresso_pro(sku="EP-B")
    b["values"]["gtin"] = [{"locale": None, "scope": None, "data": "4006381333931"}]
    lines = list(services.bulk_upsert([a, b, espresso_pro(sku="EP-C")]))
    assert [line["status"] for line in lines] == ["created", "error", "created"]
    assert "unique" in lines[1]["message"]


def test_bulk_upsert_query_count_does_not_grow_with_items(catalog):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    list(services.bulk_upsert([espresso_pro(sku="WARM-UP")]))
    counts = []
    for start, n in ((0, 50), (1000, 400)):
        with CaptureQueriesContext(connection) as queries:
            lines = list(
                services.bulk_upsert(
                    [espresso_pro(sku=f"EP-{i:04d}") for i in range(start, start + n)]
                )
            )
        assert all(line["status"] == "created" for line in lines)
        counts.append(len(queries))
    # Rows are inserted in multi-row batches (bounded by the backend's parameter limit), so
    # 350 more products add a few batches, never a query per product.
    assert counts[1] - counts[0] < 350 / 5, counts


def test_bulk_upsert_inserts_json_documents_as_plain_rows(catalog):
    """On PostgreSQL, product values go in as one multi-row VALUES rather than UNNEST arrays,
    whose JSON texts psycopg would escape in Python (DocumentField); history rows go in as
    plain rows (COPY there, which the captured queries do not show; executemany on SQLite)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        lines = list(services.bulk_upsert([espresso_pro(sku=f"DOC-{i}") for i in range(3)]))
    assert [line["status"] for line in lines] == ["created"] * 3
    products = [q["sql"] for q in queries if q["sql"].startswith('INSERT INTO "catalog_product" ')]
    assert len(products) == 1 and "UNNEST" not in products[0], products
    history = [q["sql"] for q in queries if "catalog_productchange" in q["sql"]]
    assert not any("UNNEST" in sql for sql in history), history
    first, *others = Product.objects.filter(sku__startswith="DOC-").order_by("sku")
    assert first.values["name"] and all(p.values == first.values for p in others)
    assert ProductChange.objects.filter(product__sku__startswith="DOC-").count() == 3


def test_rich_text_is_sanitised(catalog):
    item = espresso_pro()
    item["values"]["description"] = [
        {
            "locale": "en_US",
            "scope": "ecommerce",
            "data": '<p onclick="x()">Hi<script>alert(1)</script></p>',
        }
    ]
    product = services.create_product(item)
    assert product.values["description"][0]["data"] == "<p>Hi</p>"


def test_model_changes_flow_down_and_can_be_restored(catalog):
    _bottle_models()
    services.create_product(
        {
            "sku": "WB-750-SS-BLUE",
            "parent": "WB-750-SS",
            "values": {"color": [{"locale": None, "scope": None, "data": "blue"}]},
        }
    )
    services.save_model(
        {
            "code": "WB-SS",
            "values": {"name": [{"locale": "en_US", "scope": None, "data": "Steel Bottle"}]},
        },
        create=False,
    )
    blue = Product.objects.get(sku="WB-750-SS-BLUE")
    assert services.resolved_values(blue)["name"][0]["data"] == "Steel Bottle"
    assert ValueIndex.objects.get(product=blue, attribute__code="name").text == "Steel Bottle"
    with pytest.raises(InvalidInput, match="variant level 2"):
        services.save_model(
            {
                "code": "WB-SS",
                "values": {"color": [{"locale": None, "scope": None, "data": "blue"}]},
            },
            create=False,
        )
    # version 1 of the root model was created by _bottle_models through the ORM, without
    # history; a second change makes version 3 and restoring 2 brings "Steel Bottle" back.
    services.save_model(
        {
            "code": "WB-SS",
            "values": {"name": [{"locale": "en_US", "scope": None, "data": "Bottle"}]},
        },
        create=False,
    )
    model = services.restore_model_version("WB-SS", 2)
    assert model.values["name"][0]["data"] == "Steel Bottle"
    assert [h.action for h in services.model_history("WB-SS")][:1] == ["update"]
