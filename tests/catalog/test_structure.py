"""Catalog structure: every rule of folio.catalog.structure, through the services and the API."""

from decimal import Decimal

import pytest

from folio.accounts.models import AuditEntry
from folio.catalog import structure
from folio.catalog.models import (
    Attribute,
    Category,
    Channel,
    FamilyRequirement,
    FamilyVariantAttribute,
    MeasurementFamily,
    Product,
    ValueIndex,
)
from folio.catalog.signals import structure_changed
from folio.errors import Conflict, InvalidInput, StaleWrite

JSON = "application/json"


def post(client, path, body):
    return client.post(f"/api/v1{path}", body, content_type=JSON)


def patch(client, path, body, **headers):
    return client.patch(f"/api/v1{path}", body, content_type=JSON, **headers)


def error(response, status):
    assert response.status_code == status, response.content
    return response.json()["error"]


def invalid(call, field, *words):
    """Run `call`, expect InvalidInput naming `field`, and each word in the message."""
    with pytest.raises(InvalidInput) as exc:
        call()
    assert exc.value.details["field"] == field, exc.value.details
    for word in words:
        assert word in exc.value.message, exc.value.message
    return exc.value


@pytest.fixture
def announced():
    """The structure_changed signals sent during the test."""
    seen = []

    def receiver(sender, **kwargs):
        seen.append({"family_ids": kwargs["family_ids"], "channel_ids": kwargs["channel_ids"]})

    structure_changed.connect(receiver, dispatch_uid="test-structure-announced")
    yield seen
    structure_changed.disconnect(dispatch_uid="test-structure-announced")


# --- seeded data -------------------------------------------------------------------------------


def _to_standard(family: str, unit: str, amount: str) -> Decimal:
    spec = MeasurementFamily.objects.get(code=family).units[unit]
    return Decimal(amount) * Decimal(spec["factor"]) + Decimal(spec["offset"])


def test_migration_seeds_measurement_families_locales_and_currencies(db):
    families = {m.code: m for m in MeasurementFamily.objects.all()}
    for code in (
        "length",
        "weight",
        "volume",
        "power",
        "pressure",
        "temperature",
        "time",
        "electric_current",
        "voltage",
        "energy",
    ):
        assert code in families
        m = families[code]
        assert m.standard_unit in m.units
        assert m.units[m.standard_unit]["factor"] == "1"
        for unit in m.units.values():
            assert set(unit) == {"symbol", "factor", "offset", "labels"}
            assert unit["labels"]["en_US"]
    assert _to_standard("length", "INCH", "10") == Decimal("0.254")
    assert _to_standard("weight", "POUND", "1") == Decimal("0.45359237")
    assert _to_standard("volume", "MILLILITER", "750") == Decimal("0.75")
    assert _to_standard("temperature", "CELSIUS", "100") == Decimal("373.15")
    assert abs(_to_standard("temperature", "FAHRENHEIT", "212") - Decimal("373.15")) < Decimal(
        "1e-15"
    )
    assert _to_standard("energy", "KILOWATT_HOUR", "1") == Decimal("3600000")
    assert set(families["electric_current"].units) == {"MILLIAMPERE", "AMPERE"}
    assert families["volume"].units["LITER"]["symbol"] == "L"
    from folio.catalog.models import Currency, Locale

    assert {"en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL"} <= set(
        Locale.objects.values_list("code", flat=True)
    )
    assert Currency.objects.get(code="GBP").label == "Pound sterling"


# --- locales and currencies --------------------------------------------------------------------


def test_locales_and_currencies(api_client):
    admin = api_client("admin")
    r = post(admin, "/catalog/locales", {"code": "pt_BR", "label": "Portuguese (Brazil)"})
    assert r.status_code == 201, r.content
    assert r.json() | {"updated_at": None} == {
        "code": "pt_BR",
        "label": "Portuguese (Brazil)",
        "version": 1,
        "updated_at": None,
    }
    assert r["ETag"] == 'W/"1"'
    assert error(post(admin, "/catalog/locales", {"code": "pt_BR"}), 409)["code"] == "conflict"
    e = error(post(admin, "/catalog/locales", {"code": "english"}), 422)
    assert e["details"]["field"] == "code"
    assert "en_US" in e["message"]
    assert patch(admin, "/catalog/locales/pt_BR", {"label": "Português"}).json()["label"] == (
        "Português"
    )
    assert error(post(admin, "/catalog/currencies", {"code": "usd"}), 422)["details"]["field"] == (
        "code"
    )
    assert (
        post(admin, "/catalog/currencies", {"code": "CHF", "label": "Swiss franc"}).status_code
        == 201
    )
    structure.create_channel("ch", locales=["pt_BR"], currencies=["CHF"])
    e = error(admin.delete("/api/v1/catalog/locales/pt_BR"), 409)
    assert e["details"]["channels"] == ["ch"]
    e = error(admin.delete("/api/v1/catalog/currencies/CHF"), 409)
    assert "ch" in e["message"]
    structure.delete_channel("ch")
    assert admin.delete("/api/v1/catalog/locales/pt_BR").status_code == 204
    assert admin.delete("/api/v1/catalog/currencies/CHF").status_code == 204
    assert error(admin.get("/api/v1/catalog/locales/pt_BR"), 404)["code"] == "not_found"


def test_locales_currencies_and_options_are_versioned(api_client):
    """A label change names the version it was based on; without one (the CLI, structure
    imports) the last writer wins, and the version still goes up so later edits notice."""
    admin = api_client("admin")
    structure.create_attribute("color", type="select")
    structure.add_options("color", [{"code": "black"}])
    for path in ("/catalog/locales/de_DE", "/catalog/currencies/EUR"):
        r = admin.get(f"/api/v1{path}")
        assert r["ETag"] == f'W/"{r.json()["version"]}"'
        seen = r.json()["version"]
        r = patch(admin, path, {"label": "Mine", "version": seen})
        assert r.status_code == 200 and r.json()["version"] == seen + 1
        assert r["ETag"] == f'W/"{seen + 1}"'
        e = error(patch(admin, path, {"label": "Theirs"}, HTTP_IF_MATCH=f'W/"{seen}"'), 409)
        assert e["code"] == "stale_write" and e["details"]["current"]["label"] == "Mine"
        assert error(admin.delete(f"/api/v1{path}?version={seen}"), 409)["code"] == "stale_write"
        assert admin.get(f"/api/v1{path}").json()["label"] == "Mine"
    assert structure.update_locale("de_DE", label="CLI").version == 3  # no version: no check
    assert structure.update_currency("EUR", label="CLI").version == 3
    with pytest.raises(StaleWrite):
        structure.update_locale("de_DE", label="old", expected_version=2)

    option = "/catalog/attributes/color/options/black"
    r = admin.get(f"/api/v1{option}")
    assert r.status_code == 200 and r["ETag"] == 'W/"1"'
    assert r.json() | {"updated_at": None} == {
        "code": "black",
        "labels": {},
        "sort_order": 0,
        "version": 1,
        "updated_at": None,
    }
    r = patch(admin, option, {"labels": {"en_US": "Black"}}, HTTP_IF_MATCH='W/"1"')
    assert r.status_code == 200 and r["ETag"] == 'W/"2"'
    e = error(patch(admin, option, {"sort_order": 5, "version": 1}), 409)
    assert e["details"]["current"] == admin.get(f"/api/v1{option}").json()
    assert admin.get(f"/api/v1{option}").json()["sort_order"] == 0
    assert structure.update_option("color", "black", sort_order=3).version == 3
    e = error(admin.delete(f"/api/v1{option}", HTTP_IF_MATCH='W/"2"'), 409)
    assert e["details"]["current"]["version"] == 3
    assert admin.delete(f"/api/v1{option}", HTTP_IF_MATCH='W/"3"').status_code == 204
    e = error(admin.get("/api/v1/catalog/attributes/color/options/black"), 404)
    assert e["details"] == {"attribute": "color", "code": "black"}


@pytest.mark.parametrize(
    "path",
    [
        "/catalog/channels/ecommerce",
        "/catalog/attribute-groups/general",
        "/catalog/attributes/name",
        "/catalog/families/bottles",
        "/catalog/families/bottles/requirements",
        "/catalog/family-variants/bottles_by_size_color",
        "/catalog/categories/coffee",
        "/catalog/groups/winter_collection",
        "/catalog/association-types/X_SELL",
        "/catalog/locales/en_US",
        "/catalog/currencies/EUR",
        "/catalog/attributes/color/options/black",
    ],
)
def test_every_versioned_structure_object_answers_with_its_etag(catalog, api_client, path):
    admin = api_client("admin")
    r = admin.get(f"/api/v1{path}")
    assert r.status_code == 200, r.content
    assert r["ETag"] == f'W/"{r.json()["version"]}"'


def test_locale_limited_attribute_blocks_locale_deletion(db):
    structure.create_locale("sv_SE")
    structure.create_attribute("notice", type="text", localizable=True, available_locales=["sv_SE"])
    with pytest.raises(Conflict, match="notice"):
        structure.delete_locale("sv_SE")


# --- channels ----------------------------------------------------------------------------------


@pytest.fixture
def tree(db):
    master = structure.create_category("master", labels={"en_US": "All"})
    structure.create_category("kitchen", parent="master")
    structure.create_category("coffee", parent="kitchen")
    structure.create_category("drinkware", parent="master")
    structure.create_category("amazon", labels={"en_US": "Amazon tree"})
    return master


def test_create_channel_and_read_it_back(api_client, tree):
    editor = api_client("catalog_manager")
    body = {
        "code": "webshop",
        "labels": {"en_US": "Web shop"},
        "kind": "webshop",
        "locales": ["en_US", "de_DE"],
        "currencies": ["USD", "EUR"],
        "territories": ["US", "DE"],
        "category_tree": "master",
    }
    r = post(editor, "/catalog/channels", body)
    assert r.status_code == 201, r.content
    out = r.json()
    assert out["locales"] == ["de_DE", "en_US"]
    assert out["currencies"] == ["EUR", "USD"]
    assert out["territories"] == ["US", "DE"]
    assert out["category_tree"] == "master"
    assert out["version"] == 1
    assert editor.get("/api/v1/catalog/channels/webshop").json() == out
    entry = AuditEntry.objects.get(action="channel.create")
    assert entry.user == editor.user and entry.changes["locales"] == ["de_DE", "en_US"]


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"locales": []}, "locales", ["at least one locale"]),
        ({"locales": ["en_US", "xx_XX", "yy_YY"]}, "locales", ["xx_XX, yy_YY"]),
        ({"currencies": ["USD", "XYZ"]}, "currencies", ["XYZ"]),
        ({"territories": ["us"]}, "territories", ["upper-case", "US"]),
        ({"territories": ["DE", "XX"]}, "territories", ["XX", "ISO 3166"]),
        ({"territories": "DE"}, "territories", ["list"]),
        ({"category_tree": "kitchen"}, "category_tree", ["kitchen", "master"]),
        ({"category_tree": "nowhere"}, "category_tree", ["nowhere"]),
        ({"kind": "shop"}, "kind", ["webshop"]),
        ({"labels": {"xx_XX": "Web"}}, "labels", ["xx_XX"]),
        ({"requires_review": "yes"}, "requires_review", ["true or false"]),
    ],
)
def test_channel_rules(tree, change, field, words):
    data = {"locales": ["en_US"], **change}
    invalid(lambda: structure.create_channel("web", **data), field, *words)
    assert not Channel.objects.filter(code="web").exists()


def test_channel_code_rules(api_client, tree):
    admin = api_client("admin")
    e = error(post(admin, "/catalog/channels", {"code": "web shop", "locales": ["en_US"]}), 422)
    assert e["details"]["field"] == "code"
    e = error(post(admin, "/catalog/channels", {"code": "web"}), 422)  # locales missing
    assert e["details"][0]["where"].endswith("locales")
    e = error(
        post(admin, "/catalog/channels", {"code": "web", "locales": ["en_US"], "locale": ["x"]}),
        422,
    )
    assert "locale" in e["message"]  # a misspelt setting is refused, not ignored


def test_channel_update_versions_and_signals(api_client, tree, announced):
    admin = api_client("admin")
    channel = structure.create_channel("web", locales=["en_US"], currencies=["USD"])
    r = patch(admin, "/catalog/channels/web", {"labels": {"en_US": "Web"}, "version": 1})
    assert r.status_code == 200 and r.json()["version"] == 2
    assert announced == []  # a label does not change completeness
    e = error(patch(admin, "/catalog/channels/web", {"locales": ["de_DE"], "version": 1}), 409)
    assert e["code"] == "stale_write"
    assert e["details"]["current_version"] == 2
    assert e["details"]["current"]["labels"] == {"en_US": "Web"}
    assert list(Channel.objects.get(code="web").locales.values_list("code", flat=True)) == ["en_US"]
    r = patch(
        admin, "/catalog/channels/web", {"locales": ["en_US", "fr_FR"]}, HTTP_IF_MATCH='W/"2"'
    )
    assert r.status_code == 200, r.content
    assert r.json()["locales"] == ["en_US", "fr_FR"] and r.json()["version"] == 3
    assert announced == [{"family_ids": None, "channel_ids": [channel.pk]}]
    error(patch(admin, "/catalog/channels/web", {"currencies": []}, HTTP_IF_MATCH='W/"2"'), 409)
    assert patch(admin, "/catalog/channels/web", {"currencies": []}).status_code == 200
    assert len(announced) == 2
    error(patch(admin, "/catalog/channels/web", {"category_tree": "coffee"}), 422)
    assert (
        patch(admin, "/catalog/channels/web", {"category_tree": "amazon"}).json()["category_tree"]
        == "amazon"
    )
    assert error(admin.delete("/api/v1/catalog/channels/web?version=1"), 409)
    assert admin.delete("/api/v1/catalog/channels/web").status_code == 204


def test_channel_with_scoped_values_cannot_be_deleted(catalog):
    product = Product.objects.create(sku="P1")
    ValueIndex.objects.create(
        product=product,
        attribute=catalog["attributes"]["short_title"],
        locale="en_US",
        scope="marketplace",
        text="x",
    )
    with pytest.raises(Conflict, match="1 product"):
        structure.delete_channel("marketplace")


# --- attribute groups and attributes -----------------------------------------------------------


def test_attribute_group_crud(api_client):
    admin = api_client("admin")
    r = post(admin, "/catalog/attribute-groups", {"code": "technical", "sort_order": 2})
    assert r.status_code == 201 and r.json()["version"] == 1
    structure.create_attribute("power_w", type="number", group="technical")
    e = error(admin.delete("/api/v1/catalog/attribute-groups/technical"), 409)
    assert "power_w" in e["message"]
    r = patch(admin, "/catalog/attribute-groups/technical", {"labels": {"en_US": "Tech"}})
    assert r.json()["labels"] == {"en_US": "Tech"}
    invalid(lambda: structure.create_attribute("x", type="text", group="nope"), "group", "nope")


def test_create_measurement_attribute_through_the_api(api_client):
    editor = api_client("catalog_manager")
    body = {
        "code": "capacity",
        "type": "measurement",
        "measurement_family": "volume",
        "default_unit": "MILLILITER",
        "allowed_units": ["MILLILITER", "LITER"],
        "number_min": "0",
        "number_max": "10000.5",
        "negative_allowed": False,
        "labels": {"en_US": "Capacity"},
    }
    r = post(editor, "/catalog/attributes", body)
    assert r.status_code == 201, r.content
    out = r.json()
    assert out["measurement_family"] == "volume"
    assert out["allowed_units"] == ["MILLILITER", "LITER"]
    assert out["number_min"] == "0" and out["number_max"] == "10000.5"
    assert out["localizable"] is False and out["version"] == 1
    assert editor.get("/api/v1/catalog/attributes/capacity").json() == out


@pytest.mark.parametrize(
    ("code", "settings", "field", "words"),
    [
        ("sku", {"type": "text"}, "code", ["reserved"]),
        ("SKU", {"type": "identifier"}, "code", ["reserved"]),
        ("my-attr", {"type": "text"}, "code", ["letters, digits and underscores"]),
        ("x" * 101, {"type": "text"}, "code", ["100"]),
        ("a", {"type": "colour"}, "type", ["colour", "measurement"]),
        ("a", {"type": "measurement"}, "measurement_family", ["needs a measurement family"]),
        (
            "a",
            {"type": "measurement", "measurement_family": "mass"},
            "measurement_family",
            ["mass"],
        ),
        (
            "a",
            {"type": "measurement", "measurement_family": "volume"},
            "default_unit",
            ["MILLILITER"],
        ),
        (
            "a",
            {"type": "measurement", "measurement_family": "volume", "default_unit": "GRAM"},
            "default_unit",
            ["GRAM is not a unit of volume"],
        ),
        (
            "a",
            {
                "type": "measurement",
                "measurement_family": "volume",
                "default_unit": "LITER",
                "allowed_units": ["LITER", "METER"],
            },
            "allowed_units",
            ["METER"],
        ),
        (
            "a",
            {
                "type": "measurement",
                "measurement_family": "volume",
                "default_unit": "LITER",
                "allowed_units": ["MILLILITER"],
            },
            "default_unit",
            ["allowed units"],
        ),
        (
            "a",
            {"type": "text", "measurement_family": "volume"},
            "measurement_family",
            ["measurement"],
        ),
        ("a", {"type": "number", "default_unit": "LITER"}, "default_unit", ["measurement"]),
        ("a", {"type": "number", "is_gtin": True}, "is_gtin", ["identifier and text"]),
        ("a", {"type": "textarea", "unique": True}, "unique", ["identifier, text, number"]),
        ("a", {"type": "text", "unique": True, "localizable": True}, "localizable", ["unique"]),
        ("a", {"type": "identifier", "scopable": True}, "scopable", ["identifier"]),
        (
            "a",
            {"type": "text", "text_rule": "regex", "regex": "[a-"},
            "regex",
            ["not a valid regular expression"],
        ),
        ("a", {"type": "text", "text_rule": "regex"}, "regex", ["needs a pattern"]),
        ("a", {"type": "text", "regex": "^x$"}, "regex", ["text_rule regex"]),
        ("a", {"type": "text", "text_rule": "phone"}, "text_rule", ["phone"]),
        ("a", {"type": "number", "text_rule": "url"}, "text_rule", ["not number"]),
        ("a", {"type": "boolean", "max_length": 10}, "max_length", ["not boolean"]),
        ("a", {"type": "text", "max_length": 300}, "max_length", ["255"]),
        ("a", {"type": "text", "max_length": 0}, "max_length", ["between 1"]),
        ("a", {"type": "text", "rich_text": True}, "rich_text", ["textarea"]),
        (
            "a",
            {"type": "number", "number_min": "5", "number_max": "1"},
            "number_min",
            ["above the maximum"],
        ),
        ("a", {"type": "number", "number_min": "abc"}, "number_min", ["expected a number"]),
        ("a", {"type": "number", "number_min": "0.00000000001"}, "number_min", ["10 digits"]),
        ("a", {"type": "text", "number_max": 3}, "number_max", ["number, measurement and price"]),
        ("a", {"type": "date", "decimals_allowed": False}, "decimals_allowed", ["not date"]),
        (
            "a",
            {"type": "date", "date_min": "2025-02-01", "date_max": "2025-01-01"},
            "date_min",
            ["after"],
        ),
        ("a", {"type": "date", "date_min": "01/02/2025"}, "date_min", ["YYYY-MM-DD"]),
        ("a", {"type": "number", "date_min": "2025-01-01"}, "date_min", ["date"]),
        (
            "a",
            {"type": "text", "available_locales": ["de_DE"]},
            "available_locales",
            ["localizable"],
        ),
        (
            "a",
            {"type": "text", "localizable": True, "available_locales": ["zz_ZZ"]},
            "available_locales",
            ["zz_ZZ"],
        ),
        ("a", {"type": "text", "colour": "red"}, "colour", ["not a changeable setting"]),
    ],
)
def test_attribute_rules(db, code, settings, field, words):
    settings = dict(settings)
    invalid(lambda: structure.create_attribute(code, **settings), field, *words)
    assert not Attribute.objects.filter(code=code).exists()


def test_valid_attribute_settings_per_type(db):
    structure.create_attribute("gtin", type="identifier", unique=True, is_gtin=True)
    structure.create_attribute(
        "model_no",
        type="text",
        text_rule="regex",
        regex=r"^[A-Z]{2}\d+$",
        max_length=20,
        unique=True,
    )
    structure.create_attribute("manual", type="text", text_rule="url")
    structure.create_attribute(
        "description",
        type="textarea",
        rich_text=True,
        localizable=True,
        scopable=True,
        max_length=5000,
    )
    structure.create_attribute(
        "warranty", type="number", decimals_allowed=False, negative_allowed=False, number_max=10
    )
    structure.create_attribute("launch", type="date", date_min="2020-01-01", unique=True)
    structure.create_attribute("price", type="price", number_min=Decimal("0.01"))
    structure.create_attribute(
        "legal_de", type="text", localizable=True, available_locales=["de_DE"]
    )
    a = Attribute.objects.get(code="warranty")
    assert a.number_max == 10 and not a.decimals_allowed
    assert list(
        Attribute.objects.get(code="legal_de").available_locales.values_list("code", flat=True)
    ) == ["de_DE"]


def test_duplicate_attribute_is_a_conflict(api_client):
    admin = api_client("admin")
    structure.create_attribute("name", type="text")
    e = error(post(admin, "/catalog/attributes", {"code": "name", "type": "text"}), 409)
    assert e["details"]["field"] == "code"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"type": "textarea"}, "type"),
        ({"localizable": True}, "localizable"),
        ({"scopable": True}, "scopable"),
        ({"measurement_family": "length"}, "measurement_family"),
    ],
)
def test_fixed_attribute_settings_cannot_change(api_client, change, field):
    admin = api_client("admin")
    structure.create_attribute(
        "size", type="measurement", measurement_family="volume", default_unit="LITER"
    )
    e = error(patch(admin, "/catalog/attributes/size", change), 422)
    assert e["details"]["field"] == field
    assert "fixed" in e["message"]
    # Repeating the current value is not a change.
    same = {
        "type": "measurement",
        "localizable": False,
        "scopable": False,
        "measurement_family": "volume",
    }[field]
    assert patch(admin, "/catalog/attributes/size", {field: same}).status_code == 200


def test_attribute_update_checks_the_whole_attribute_and_versions(api_client):
    admin = api_client("admin")
    structure.create_attribute(
        "size", type="measurement", measurement_family="volume", default_unit="LITER"
    )
    e = error(patch(admin, "/catalog/attributes/size", {"default_unit": "METER"}), 422)
    assert e["details"]["field"] == "default_unit"
    r = patch(
        admin,
        "/catalog/attributes/size",
        {"default_unit": "MILLILITER", "allowed_units": ["MILLILITER"], "version": 1},
    )
    assert r.status_code == 200 and r.json()["version"] == 2
    # The allowed units now exclude LITER, so it cannot become the default.
    e = error(patch(admin, "/catalog/attributes/size", {"default_unit": "LITER"}), 422)
    assert e["details"]["field"] == "default_unit"
    e = error(patch(admin, "/catalog/attributes/size", {"group": None, "version": 1}), 409)
    assert e["details"]["current"]["default_unit"] == "MILLILITER"
    assert AuditEntry.objects.filter(action="attribute.update").count() == 1
    entry = AuditEntry.objects.get(action="attribute.update")
    assert entry.changes["default_unit"] == ["LITER", "MILLILITER"]


def test_making_an_attribute_unique_is_refused_while_products_share_a_value(catalog):
    brand = catalog["attributes"]["brand"]
    for sku in ("A", "B"):
        ValueIndex.objects.create(
            product=Product.objects.create(sku=sku), attribute=brand, text="acme"
        )
    invalid(lambda: structure.update_attribute("brand", unique=True), "unique", "acme")
    ValueIndex.objects.filter(product__sku="B").update(text="other")
    assert structure.update_attribute("brand", unique=True).unique


def test_available_locales_change_announces_the_families(catalog, announced):
    structure.update_attribute("legal_notice_de", available_locales=["de_DE", "fr_FR"])
    families = sorted(f.pk for f in catalog["families"].values())
    assert announced == [{"family_ids": families, "channel_ids": None}]
    structure.update_attribute("legal_notice_de", labels={"en_US": "Legal notice"})
    assert len(announced) == 1


def test_attribute_in_use_cannot_be_deleted(catalog, api_client):
    admin = api_client("admin")
    e = error(admin.delete("/api/v1/catalog/attributes/brand"), 409)
    assert "bottles" in e["message"] and e["details"]["families"] == ["bottles", "coffee_machines"]
    loose = structure.create_attribute("loose", type="text")
    ValueIndex.objects.create(product=Product.objects.create(sku="L"), attribute=loose, text="x")
    e = error(admin.delete("/api/v1/catalog/attributes/loose"), 409)
    assert e["details"]["products"] == 1
    structure.create_attribute("unused", type="text")
    assert error(admin.delete("/api/v1/catalog/attributes/unused", HTTP_IF_MATCH='W/"7"'), 409)
    assert (
        admin.delete("/api/v1/catalog/attributes/unused", HTTP_IF_MATCH='W/"1"').status_code == 204
    )


# --- options -----------------------------------------------------------------------------------


def test_options_bulk_add_list_update_delete(api_client):
    admin = api_client("admin")
    structure.create_attribute("color", type="select")
    body = {
        "options": [
            {"code": "black", "labels": {"en_US": "Black", "de_DE": "Schwarz"}},
            {"code": "blue"},
            {"code": "green", "sort_order": 10},
        ]
    }
    r = post(admin, "/catalog/attributes/color/options", body)
    assert r.status_code == 201, r.content
    assert [(o["code"], o["sort_order"]) for o in r.json()] == [
        ("black", 0),
        ("blue", 1),
        ("green", 10),
    ]
    listed = admin.get("/api/v1/catalog/attributes/color/options").json()["results"]
    assert [o["code"] for o in listed] == ["black", "blue", "green"]
    assert listed[0]["labels"] == {"de_DE": "Schwarz", "en_US": "Black"}
    e = error(
        post(
            admin,
            "/catalog/attributes/color/options",
            {"options": [{"code": "red"}, {"code": "blue"}]},
        ),
        409,
    )
    assert e["details"]["existing"] == ["blue"]
    assert not structure.AttributeOption.objects.filter(code="red").exists()  # all or none
    e = error(
        post(
            admin,
            "/catalog/attributes/color/options",
            {"options": [{"code": "red"}, {"code": "red"}]},
        ),
        422,
    )
    assert e["details"]["field"] == "options[1].code"
    e = error(
        post(admin, "/catalog/attributes/color/options", {"options": [{"code": "dark red"}]}), 422
    )
    assert e["details"]["field"] == "options[0].code"
    e = error(
        post(
            admin,
            "/catalog/attributes/color/options",
            {"options": [{"code": "red", "labels": {"xx_XX": "Rot"}}]},
        ),
        422,
    )
    assert e["details"]["locale"] == "xx_XX"
    r = patch(admin, "/catalog/attributes/color/options/blue", {"labels": {"en_US": "Blue"}})
    assert r.json()["labels"] == {"en_US": "Blue"}
    assert admin.delete("/api/v1/catalog/attributes/color/options/green").status_code == 204
    error(admin.delete("/api/v1/catalog/attributes/color/options/green"), 404)
    structure.create_attribute("name", type="text")
    e = error(post(admin, "/catalog/attributes/name/options", {"options": [{"code": "x"}]}), 422)
    assert e["details"]["field"] == "type"


def test_option_in_use_cannot_be_deleted(catalog):
    product = Product.objects.create(sku="P1")
    ValueIndex.objects.create(
        product=product, attribute=catalog["attributes"]["materials"], text="glass"
    )
    with pytest.raises(Conflict, match="1 product") as exc:
        structure.delete_option("materials", "glass")
    assert exc.value.details["attribute"] == "materials"
    structure.delete_option("materials", "stainless_steel")  # unused
    assert set(catalog["attributes"]["materials"].options.values_list("code", flat=True)) == {
        "bpa_free_plastic",
        "glass",
    }


# --- families ----------------------------------------------------------------------------------


@pytest.fixture
def parts(db):
    """A small structure built through the services."""
    structure.create_channel("web", locales=["en_US", "de_DE"], currencies=["USD"])
    structure.create_channel("market", locales=["en_US"])
    structure.create_attribute("name", type="text", localizable=True)
    structure.create_attribute("sku_alt", type="identifier")
    structure.create_attribute("gtin", type="identifier", unique=True, is_gtin=True)
    structure.create_attribute("images", type="asset_collection")
    structure.create_attribute("color", type="select")
    structure.create_attribute("size", type="select")
    structure.create_attribute("material", type="select")
    structure.create_attribute("finish", type="select")
    structure.create_attribute("shape", type="select")
    structure.create_attribute("style", type="select")
    structure.create_attribute("waterproof", type="boolean")
    structure.create_attribute(
        "capacity", type="measurement", measurement_family="volume", default_unit="MILLILITER"
    )
    structure.create_attribute("tagline", type="text", localizable=True)
    structure.create_attribute("region_color", type="select", scopable=True)
    structure.create_attribute("notes", type="textarea")
    structure.create_family(
        "bottles",
        attributes=[
            "name",
            "gtin",
            "images",
            "color",
            "size",
            "material",
            "finish",
            "shape",
            "style",
            "waterproof",
            "capacity",
            "tagline",
            "notes",
            "region_color",
        ],
        label_attribute="name",
        image_attribute="images",
        requirements={"web": ["name", "capacity"]},
    )


def test_family_create_and_requirements(api_client, parts, announced):
    admin = api_client("admin")
    body = {
        "code": "mugs",
        "attributes": ["name", "color", "images"],
        "label_attribute": "name",
        "requirements": {"web": ["name"], "market": ["name"]},
    }
    r = post(admin, "/catalog/families", body)
    assert r.status_code == 201, r.content
    out = r.json()
    assert out["requirements"] == {"market": ["name"], "web": ["name"]}
    assert out["label_attribute"] == "name" and out["image_attribute"] is None
    r = admin.get("/api/v1/catalog/families/bottles/requirements").json()
    assert r["requirements"] == {"market": [], "web": ["capacity", "name"]}
    assert r["version"] == 1
    bottles = structure.Family.objects.get(code="bottles")
    market = Channel.objects.get(code="market")
    announced.clear()
    r = admin.put(
        "/api/v1/catalog/families/bottles/requirements",
        {"requirements": {"market": ["gtin", "name"]}, "version": 1},
        content_type=JSON,
    )
    assert r.status_code == 200, r.content
    assert r.json()["requirements"] == {"market": ["gtin", "name"], "web": ["capacity", "name"]}
    assert r.json()["version"] == 2
    assert announced == [{"family_ids": [bottles.pk], "channel_ids": [market.pk]}]
    e = error(
        admin.put(
            "/api/v1/catalog/families/bottles/requirements",
            {"requirements": {"market": []}, "version": 1},
            content_type=JSON,
        ),
        409,
    )
    assert e["code"] == "stale_write"
    # Same requirements again: nothing to recompute.
    structure.set_requirements("bottles", {"market": ["name", "gtin"]})
    assert len(announced) == 1


@pytest.mark.parametrize(
    ("change", "field", "extra", "words"),
    [
        (
            {"requirements": {"web": ["name", "sku_alt"]}},
            "requirements",
            {"attribute": "sku_alt", "channel": "web"},
            ["sku_alt", "web", "not in the family"],
        ),
        ({"requirements": {"shop": ["name"]}}, "requirements", {"unknown": ["shop"]}, ["shop"]),
        ({"requirements": {"web": ["ghost"]}}, "requirements", {"unknown": ["ghost"]}, ["ghost"]),
        (
            {"label_attribute": "color"},
            "label_attribute",
            {"attribute": "color"},
            ["text or identifier"],
        ),
        (
            {"label_attribute": "sku_alt"},
            "label_attribute",
            {"attribute": "sku_alt"},
            ["not one of the family's attributes"],
        ),
        (
            {"image_attribute": "name"},
            "image_attribute",
            {"attribute": "name"},
            ["asset_collection"],
        ),
        ({"attributes": ["name", "ghost"]}, "attributes", {"unknown": ["ghost"]}, ["ghost"]),
        ({"attributes": ["gtin"]}, "label_attribute", {}, ["name"]),
        ({"labels": {"en_US": 5}}, "labels", {}, ["text"]),
    ],
)
def test_family_rules(parts, change, field, extra, words):
    exc = invalid(lambda: structure.update_family("bottles", **change), field, *words)
    for key, value in extra.items():
        assert exc.details[key] == value
    assert structure.Family.objects.get(code="bottles").version == 1


def test_removing_an_attribute_drops_its_requirements(parts, announced):
    family = structure.update_family(
        "bottles", attributes=["name", "gtin", "images", "color", "size"]
    )
    assert structure.family_requirements(family) == {"web": ["name"]}
    assert announced[-1]["family_ids"] == [family.pk]
    assert not FamilyRequirement.objects.filter(attribute__code="capacity").exists()


def test_removing_an_attribute_used_by_a_variant_is_refused(parts):
    structure.create_family_variant(
        "bottles_by_size", family="bottles", levels=[{"axes": ["size"], "attributes": ["gtin"]}]
    )
    invalid(
        lambda: structure.update_family("bottles", attributes=["name", "images", "gtin"]),
        "attributes",
        "size",
        "bottles_by_size",
    )


def test_adding_a_unique_attribute_places_it_on_the_last_level(parts):
    structure.create_family_variant(
        "bottles_by_size_color",
        family="bottles",
        levels=[{"axes": ["size"]}, {"axes": ["color"], "attributes": ["gtin"]}],
    )
    structure.create_attribute("mpn", type="text", unique=True)
    family = structure.Family.objects.get(code="bottles")
    structure.update_family(
        "bottles", attributes=[a.code for a in family.attributes.all()] + ["mpn"]
    )
    row = FamilyVariantAttribute.objects.get(attribute__code="mpn")
    assert row.level == 2 and not row.is_axis


def test_family_with_products_or_variants_cannot_be_deleted(parts, api_client):
    admin = api_client("admin")
    structure.create_family_variant(
        "by_size", family="bottles", levels=[{"axes": ["size"], "attributes": ["gtin"]}]
    )
    e = error(admin.delete("/api/v1/catalog/families/bottles"), 409)
    assert e["details"]["family_variants"] == ["by_size"]
    structure.create_family("empty")
    Product.objects.create(sku="E1", family=structure.Family.objects.get(code="empty"))
    assert "1 product" in error(admin.delete("/api/v1/catalog/families/empty"), 409)["message"]


# --- family variants ---------------------------------------------------------------------------


def test_family_variant_two_levels(api_client, parts):
    admin = api_client("admin")
    body = {
        "code": "by_size_color",
        "family": "bottles",
        "labels": {"en_US": "By size, colour"},
        "levels": [
            {"axes": ["size"], "attributes": ["capacity"]},
            {"axes": ["color", "waterproof"], "attributes": ["gtin"]},
        ],
    }
    r = post(admin, "/catalog/family-variants", body)
    assert r.status_code == 201, r.content
    assert r.json()["levels"] == [
        {"level": 1, "axes": ["size"], "attributes": ["capacity"]},
        {"level": 2, "axes": ["color", "waterproof"], "attributes": ["gtin"]},
    ]
    assert structure.FamilyVariant.objects.get(code="by_size_color").levels == 2
    listed = admin.get("/api/v1/catalog/family-variants?family=bottles").json()["results"]
    assert [v["code"] for v in listed] == ["by_size_color"]
    # Levels can be rearranged while no product model uses the variant.
    r = patch(
        admin,
        "/catalog/family-variants/by_size_color",
        {"levels": [{"axes": ["size", "capacity"], "attributes": ["gtin"]}], "version": 1},
    )
    assert r.status_code == 200, r.content
    assert r.json()["levels"] == [
        {"level": 1, "axes": ["capacity", "size"], "attributes": ["gtin"]}
    ]
    e = error(patch(admin, "/catalog/family-variants/by_size_color", {"family": "mugs"}), 422)
    assert e["details"]["field"] == "family"


@pytest.mark.parametrize(
    ("levels", "field", "words"),
    [
        ([], "levels", ["1 or 2 levels"]),
        (
            [
                {"axes": ["size"]},
                {"axes": ["color"]},
                {"axes": ["material"], "attributes": ["gtin"]},
            ],
            "levels",
            ["1 or 2 levels"],
        ),
        ([{"axes": [], "attributes": ["gtin"]}], "levels[0].axes", ["1 to 5 axes"]),
        (
            [
                {
                    "axes": ["size", "color", "material", "finish", "shape", "style"],
                    "attributes": ["gtin"],
                }
            ],
            "levels[0].axes",
            ["1 to 5 axes"],
        ),
        (
            [{"axes": ["notes"], "attributes": ["gtin"]}],
            "levels[0].axes",
            ["notes is textarea", "select, boolean or measurement"],
        ),
        ([{"axes": ["tagline"], "attributes": ["gtin"]}], "levels[0].axes", ["tagline is text"]),
        (
            [{"axes": ["region_color"], "attributes": ["gtin"]}],
            "levels[0].axes",
            ["localizable or scopable"],
        ),
        (
            [{"axes": ["size"], "attributes": ["gtin", "sku_alt"]}],
            "levels[0].attributes",
            ["sku_alt is not an attribute of family bottles"],
        ),
        ([{"axes": ["size"], "attributes": ["gtin", "ghost"]}], "levels[0].attributes", ["ghost"]),
        (
            [
                {"axes": ["size"], "attributes": ["capacity"]},
                {"axes": ["color"], "attributes": ["capacity", "gtin"]},
            ],
            "levels[1].attributes",
            ["capacity is on level 1 already"],
        ),
        (
            [{"axes": ["size"], "attributes": ["size", "gtin"]}],
            "levels[0].attributes",
            ["size is on level 1 already"],
        ),
        (
            [{"axes": ["size"], "attributes": ["gtin"]}, {"axes": ["color"]}],
            "levels[0].attributes",
            ["gtin is unique", "last level (2)"],
        ),
        ([{"axes": ["size"]}], "levels", ["gtin is unique"]),
        (
            [{"axes": ["size"], "attributes": ["gtin"], "extra": 1}],
            "levels[0].extra",
            ["not a setting"],
        ),
    ],
)
def test_family_variant_rules(parts, levels, field, words):
    exc = invalid(
        lambda: structure.create_family_variant("v", family="bottles", levels=levels),
        field,
        *words,
    )
    assert not structure.FamilyVariant.objects.filter(code="v").exists()
    if "attribute" in exc.details:
        assert exc.details["attribute"] in exc.message


def test_family_variant_axis_localizable_named_in_details(parts):
    exc = invalid(
        lambda: structure.create_family_variant(
            "v", family="bottles", levels=[{"axes": ["region_color"], "attributes": ["gtin"]}]
        ),
        "levels[0].axes",
    )
    assert exc.details["attribute"] == "region_color" and exc.details["level"] == 1


def test_family_variant_axes_are_fixed_once_models_use_it(parts):
    from folio.catalog.models import ProductModel

    v = structure.create_family_variant(
        "v", family="bottles", levels=[{"axes": ["size"], "attributes": ["gtin"]}]
    )
    ProductModel.objects.create(code="M1", family_variant=v)
    invalid(
        lambda: structure.update_family_variant(
            "v", levels=[{"axes": ["color"], "attributes": ["gtin"]}]
        ),
        "levels",
        "fixed",
    )
    # Moving a non-axis attribute is still possible.
    structure.update_family_variant(
        "v", levels=[{"axes": ["size"], "attributes": ["gtin", "capacity"]}]
    )
    with pytest.raises(Conflict, match="product model"):
        structure.delete_family_variant("v")


# --- categories --------------------------------------------------------------------------------


def test_category_paths_and_tree_listing(api_client, tree):
    viewer = api_client("viewer")
    r = viewer.get("/api/v1/catalog/categories?tree=master").json()
    paths = {c["code"]: c["path"] for c in r["results"]}
    assert paths == {
        "master": "master",
        "kitchen": "master/kitchen",
        "coffee": "master/kitchen/coffee",
        "drinkware": "master/drinkware",
    }
    assert {c["tree"] for c in r["results"]} == {"master"}
    r = viewer.get("/api/v1/catalog/categories?parent=kitchen").json()
    assert [c["code"] for c in r["results"]] == ["coffee"]
    error(viewer.get("/api/v1/catalog/categories?tree=kitchen"), 404)
    invalid(lambda: structure.create_category("x", parent="nope"), "parent", "nope")


def test_moving_a_category_moves_its_subtree_in_one_update(api_client, tree):
    admin = api_client("admin")
    structure.create_category("espresso", parent="coffee")
    structure.create_category("grinders", parent="espresso")
    r = patch(admin, "/catalog/categories/coffee", {"parent": "drinkware", "version": 1})
    assert r.status_code == 200, r.content
    assert r.json()["path"] == "master/drinkware/coffee" and r.json()["version"] == 2
    paths = dict(Category.objects.values_list("code", "path"))
    assert paths["espresso"] == "master/drinkware/coffee/espresso"
    assert paths["grinders"] == "master/drinkware/coffee/espresso/grinders"
    assert paths["kitchen"] == "master/kitchen"
    # The number of queries does not grow with the subtree.
    for i in range(20):
        structure.create_category(f"leaf{i}", parent="grinders")
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        structure.update_category("coffee", parent="kitchen")
    updates = [
        q
        for q in ctx.captured_queries
        if q["sql"].startswith("UPDATE") and "catalog_category" in q["sql"]
    ]
    assert len(updates) == 2  # the node itself (versioned) and every descendant
    assert Category.objects.get(code="leaf7").path == (
        "master/kitchen/coffee/espresso/grinders/leaf7"
    )
    entry = AuditEntry.objects.filter(action="category.move").order_by("pk").last()
    assert entry.changes["path"] == ["master/drinkware/coffee", "master/kitchen/coffee"]


def test_category_cycles_and_tree_changes_are_refused(api_client, tree):
    admin = api_client("admin")
    e = error(patch(admin, "/catalog/categories/kitchen", {"parent": "coffee"}), 422)
    assert e["details"]["field"] == "parent"
    assert "cannot move kitchen under coffee" in e["message"]
    assert "master/kitchen/coffee" in e["message"] and "cycle" in e["message"]
    assert e["details"]["category"] == "kitchen" and e["details"]["parent"] == "coffee"
    e = error(patch(admin, "/catalog/categories/master", {"parent": "coffee"}), 422)
    assert "cycle" in e["message"]
    e = error(patch(admin, "/catalog/categories/kitchen", {"parent": "kitchen"}), 422)
    assert "itself" in e["message"]
    e = error(patch(admin, "/catalog/categories/kitchen", {"parent": "amazon"}), 422)
    assert "tree" in e["message"]
    e = error(patch(admin, "/catalog/categories/kitchen", {"parent": None}), 422)
    assert "stays in its tree" in e["message"]
    assert Category.objects.get(code="coffee").path == "master/kitchen/coffee"
    e = error(
        patch(admin, "/catalog/categories/kitchen", {"labels": {"en_US": "K"}, "version": 9}), 409
    )
    assert e["details"]["current_version"] == 1


def test_category_deletion_rules(api_client, tree):
    admin = api_client("admin")
    e = error(admin.delete("/api/v1/catalog/categories/kitchen"), 409)
    assert e["details"]["children"] == ["coffee"]
    product = Product.objects.create(sku="C1")
    product.categories.add(Category.objects.get(code="coffee"))
    e = error(admin.delete("/api/v1/catalog/categories/coffee"), 409)
    assert "1 product" in e["message"]
    structure.create_channel("web", locales=["en_US"], category_tree="amazon")
    e = error(admin.delete("/api/v1/catalog/categories/amazon"), 409)
    assert e["details"]["channels"] == ["web"]
    assert admin.delete("/api/v1/catalog/categories/drinkware").status_code == 204
    e = error(post(admin, "/catalog/categories", {"code": "coffee", "parent": "master"}), 409)
    assert e["code"] == "conflict"


# --- groups, association types, measurement families -------------------------------------------


def test_groups_and_association_types(api_client, catalog):
    admin = api_client("admin")
    r = post(admin, "/catalog/groups", {"code": "summer", "labels": {"en_US": "Summer"}})
    assert r.status_code == 201 and r.json()["version"] == 1
    assert patch(admin, "/catalog/groups/summer", {"labels": {}}).json()["labels"] == {}
    product = Product.objects.create(sku="G1")
    product.groups.add(structure.ProductGroup.objects.get(code="summer"))
    assert "1 product" in error(admin.delete("/api/v1/catalog/groups/summer"), 409)["message"]
    product.groups.clear()
    assert admin.delete("/api/v1/catalog/groups/summer").status_code == 204

    r = post(admin, "/catalog/association-types", {"code": "ACCESSORY", "quantified": True})
    assert r.status_code == 201 and r.json()["quantified"] is True
    structure.Association.objects.create(
        product=product,
        type=structure.AssociationType.objects.get(code="ACCESSORY"),
        target_product=Product.objects.create(sku="G2"),
        quantity=2,
    )
    e = error(patch(admin, "/catalog/association-types/ACCESSORY", {"quantified": False}), 422)
    assert e["details"]["field"] == "quantified"
    assert (
        patch(
            admin, "/catalog/association-types/ACCESSORY", {"labels": {"en_US": "Accessory"}}
        ).status_code
        == 200
    )
    e = error(admin.delete("/api/v1/catalog/association-types/ACCESSORY"), 409)
    assert e["details"]["associations"] == 1
    assert admin.delete("/api/v1/catalog/association-types/X_SELL").status_code == 204


def test_measurement_families_are_read_only(api_client):
    viewer = api_client("viewer")
    r = viewer.get("/api/v1/catalog/measurement-families/temperature")
    assert r.status_code == 200
    assert r.json()["units"]["CELSIUS"]["offset"] == "273.15"
    assert (
        viewer.post("/api/v1/catalog/measurement-families", {}, content_type=JSON).status_code
        == 405
    )


# --- permissions and pagination ----------------------------------------------------------------


READS = [
    "/catalog/locales",
    "/catalog/currencies",
    "/catalog/channels",
    "/catalog/attributes",
    "/catalog/attribute-groups",
    "/catalog/families",
    "/catalog/family-variants",
    "/catalog/categories",
    "/catalog/measurement-families",
    "/catalog/groups",
    "/catalog/association-types",
    "/catalog/attributes/color/options",
    "/catalog/families/bottles/requirements",
    "/catalog/channels/ecommerce",
]
WRITES = [
    ("post", "/catalog/locales", {"code": "pt_BR"}, "catalog.add_locale"),
    ("post", "/catalog/currencies", {"code": "CHF"}, "catalog.add_currency"),
    ("post", "/catalog/channels", {"code": "x", "locales": ["en_US"]}, "catalog.add_channel"),
    ("patch", "/catalog/channels/ecommerce", {"labels": {}}, "catalog.change_channel"),
    ("delete", "/catalog/channels/ecommerce", None, "catalog.delete_channel"),
    ("post", "/catalog/attributes", {"code": "x", "type": "text"}, "catalog.add_attribute"),
    ("patch", "/catalog/attributes/brand", {"labels": {}}, "catalog.change_attribute"),
    ("delete", "/catalog/attributes/brand", None, "catalog.delete_attribute"),
    (
        "post",
        "/catalog/attributes/color/options",
        {"options": [{"code": "red"}]},
        "catalog.add_attributeoption",
    ),
    ("delete", "/catalog/attributes/color/options/blue", None, "catalog.delete_attributeoption"),
    ("post", "/catalog/attribute-groups", {"code": "x"}, "catalog.add_attributegroup"),
    ("post", "/catalog/families", {"code": "x"}, "catalog.add_family"),
    (
        "put",
        "/catalog/families/bottles/requirements",
        {"requirements": {}},
        "catalog.change_family",
    ),
    (
        "post",
        "/catalog/family-variants",
        {"code": "x", "family": "bottles", "levels": []},
        "catalog.add_familyvariant",
    ),
    ("post", "/catalog/categories", {"code": "x"}, "catalog.add_category"),
    ("patch", "/catalog/categories/coffee", {"parent": "master"}, "catalog.change_category"),
    ("delete", "/catalog/categories/coffee", None, "catalog.delete_category"),
    ("post", "/catalog/groups", {"code": "x"}, "catalog.add_productgroup"),
    ("post", "/catalog/association-types", {"code": "x"}, "catalog.add_associationtype"),
]


def test_viewers_read_and_may_not_write(api_client, catalog):
    viewer = api_client("viewer")
    for path in READS:
        assert viewer.get(f"/api/v1{path}").status_code == 200, path
    for method, path, body, perm in WRITES:
        response = getattr(viewer, method)(
            f"/api/v1{path}", body if body is not None else "", content_type=JSON
        )
        e = error(response, 403)
        assert e["details"] == {"permission": perm}, path
    assert not Channel.objects.filter(code="x").exists()


def test_only_catalog_managers_change_the_structure(api_client, catalog):
    for role in ("asset_manager", "publisher", "catalog_reviewer"):
        client = api_client(role)
        error(post(client, "/catalog/attributes", {"code": "x", "type": "text"}), 403)
    editor = api_client("catalog_editor")
    product_facts = ("category", "productgroup")
    for method, path, body, perm in WRITES:
        response = getattr(editor, method)(
            f"/api/v1{path}", body if body is not None else "", content_type=JSON
        )
        if perm.endswith(product_facts):
            assert response.status_code != 403, (path, response.content)
        else:  # an editor edits products, not what shapes them
            assert error(response, 403)["details"] == {"permission": perm}, path
    manager = api_client("catalog_manager")
    for method, path, body, _ in WRITES:
        response = getattr(manager, method)(
            f"/api/v1{path}", body if body is not None else "", content_type=JSON
        )
        assert response.status_code != 403, (path, response.content)


def test_lists_paginate_by_code(api_client):
    admin = api_client("admin")
    for i in range(7):
        structure.create_attribute(f"attr_{i}", type="text")
    seen, url = [], "/api/v1/catalog/attributes?page_size=3"
    while url:
        body = admin.get(url).json()
        seen += [a["code"] for a in body["results"]]
        url = body["next"]
    assert seen == sorted(seen) and len(seen) == 7
    assert [
        a["code"] for a in admin.get("/api/v1/catalog/attributes?type=boolean").json()["results"]
    ] == []
