"""SKU 360: facts with origins, links with rights reasons, completeness, history, lookup,
a bounded number of queries, the API and the `folio show` command."""

import io
import json

import pytest
from django.core.management import call_command

from folio.accounts import services as accounts
from folio.assets import services as asset_services
from folio.assets import workflow
from folio.catalog import services
from folio.catalog.models import Channel, FamilyVariant, ProductModel
from folio.linking import sku360
from folio.linking.models import Link
from tests.assets import files
from tests.fixtures.catalog import espresso_pro

GTIN = "4006381333931"
_shade = iter(range(1, 10_000))


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    (tmp_path / "media").mkdir()
    (tmp_path / "uploads").mkdir()
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.UPLOAD_DIR = tmp_path / "uploads"


@pytest.fixture
def people(db):
    def user(name, role):
        return accounts.create_user(name, roles=[role], password="correct-horse-battery-9")

    return {
        "uploader": user("uploader", "asset_manager"),
        "approver": user("approver", "approver"),
        "viewer": user("viewer", "viewer"),
        "editor": user("editor", "catalog_editor"),
        "reviewer": user("reviewer", "catalog_reviewer"),
        "admin": user("boss", "admin"),
    }


def add_asset(user, title, *, approve_by=None, submit=False, width=64, height=48, kind="packshot"):
    n = next(_shade)
    data = files.jpeg(width, height, color=(n % 251, (n * 3) % 251, (n * 7) % 251))
    asset = asset_services.add_asset(
        io.BytesIO(data), filename=f"{title}.jpg", title=title, kind=kind, user=user
    )
    if submit or approve_by:
        workflow.submit_for_review(asset.pk, user=user)
    if approve_by:
        workflow.decide(asset.pk, approve=True, user=approve_by)
    asset.refresh_from_db()
    return asset


def bottle_family():
    """WB-SS (root) > WB-750-SS (sub-model) > WB-750-SS-BLUE / -GREEN (variants)."""
    fv = FamilyVariant.objects.get(code="bottles_by_size_color")
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
    products = {}
    for color, gtin, price in (("blue", GTIN, "24.90"), ("green", "4006381333924", "26.90")):
        products[color] = services.create_product(
            {
                "sku": f"WB-750-SS-{color.upper()}",
                "parent": "WB-750-SS",
                "values": {
                    "color": [{"locale": None, "scope": None, "data": color}],
                    "gtin": [{"locale": None, "scope": None, "data": gtin}],
                    "price": [
                        {
                            "locale": None,
                            "scope": None,
                            "data": [{"amount": price, "currency": "USD"}],
                        }
                    ],
                },
            }
        )
    return root, sub, products


@pytest.fixture
def linked(catalog, people):
    """The blue bottle with its own main image (licensed for the web shop only), gallery
    images inherited from the sub-model and a manual from the root model."""
    root, sub, products = bottle_family()
    blue = products["blue"]
    up, ok = people["uploader"], people["approver"]
    main = add_asset(up, "blue front", approve_by=ok, width=1200, height=1200)
    main.channels.set([catalog["channels"]["ecommerce"]])
    gallery = [add_asset(up, f"side {i}", approve_by=ok) for i in range(3)]
    manual = add_asset(up, "manual draft")  # still a draft
    Link.objects.create(product=blue, asset=main, role="main", position=1)
    for i, a in enumerate(gallery, 1):
        Link.objects.create(product_model=sub, asset=a, role="gallery", position=i)
    Link.objects.create(product_model=root, asset=manual, role="manual", position=1)
    return {
        "blue": blue,
        "main": main,
        "gallery": gallery,
        "manual": manual,
        "sub": sub,
        "root": root,
        "products": products,
    }


def _attr(data, code):
    for group in data["facts"]:
        for a in group["attributes"]:
            if a["code"] == code:
                return group, a
    raise AssertionError(code)


def test_360_shows_inherited_values_with_origins(linked, people):
    data = sku360.sku360("WB-750-SS-BLUE", user=people["viewer"])
    p = data["product"]
    assert p["family"] == "bottles" and p["parents"] == ["WB-SS", "WB-750-SS"]
    group, name = _attr(data, "name")
    assert group["code"] == "general"
    assert name["origin"] == "WB-SS"
    assert name["values"][0]["display"] == "Stainless Steel Water Bottle"
    _, capacity = _attr(data, "capacity")
    assert capacity["origin"] == "WB-750-SS" and capacity["values"][0]["display"] == "750 ml"
    _, color = _attr(data, "color")
    assert color["origin"] == "self" and color["values"][0]["display"] == "Blue"
    _, bpa = _attr(data, "bpa_free")
    assert bpa["values"][0]["display"] == "yes"
    _, description = _attr(data, "description")  # in the family, never filled
    assert description["origin"] is None and description["values"] == []
    assert data["publications"] == []


def test_last_publications_of_a_product_never_published_is_one_query(
    linked, django_assert_num_queries
):
    from folio.publishing.history import last_publications

    with django_assert_num_queries(1):
        assert last_publications(linked["blue"]) == []


def test_360_reads_only_the_options_its_values_hold(linked, people):
    from folio.catalog.models import AttributeOption

    assert AttributeOption.objects.filter(attribute__code="color").count() > 1
    product = sku360.Product.objects.get(sku="WB-750-SS-BLUE")
    resolved = sku360.catalog.resolved_values(product)
    codes = sku360.option_codes_in(resolved)
    attributes = sku360.load_attributes(set(resolved), option_codes=codes)
    color = attributes["color"]
    assert list(color.option_labels) == [resolved["color"][0]["data"]]
    assert sku360.format_value(color, resolved["color"][0]["data"], "en_US") == "Blue"


def test_prices_and_measurements_read_as_the_locale_writes_them(catalog):
    attributes = sku360.load_attributes({"price", "capacity"})
    price = [{"amount": "799.00", "currency": "USD"}, {"amount": "749", "currency": "EUR"}]
    show = sku360.format_value
    assert show(attributes["price"], price, "en_US") == "$799.00 · €749.00"
    assert show(attributes["price"], price, "de_DE") == "799,00\xa0$ · 749,00\xa0€"
    assert show(attributes["price"], price, None) == "799.00 USD, 749 EUR"  # no locale chosen
    litres = {"amount": "1500.50", "unit": "ml"}
    assert show(attributes["capacity"], litres, "en_US") == "1,500.5 ml"
    assert show(attributes["capacity"], litres, "de_DE") == "1.500,5 ml"


def test_360_completeness_names_what_is_missing(linked, people):
    data = sku360.sku360(
        "WB-750-SS-BLUE", user=people["viewer"], channel="ecommerce", locale="de_DE"
    )
    [row] = data["completeness"]
    assert (row["channel"], row["locale"]) == ("ecommerce", "de_DE")
    # price lacks EUR (the web shop sells in USD and EUR)
    assert set(row["missing"]) == {"name", "description", "legal_notice_de", "price"}
    assert row["ratio"] < 100
    # narrowed to de_DE: the en_US name does not apply
    _, name = _attr(data, "name")
    assert name["values"] == []


def test_360_links_with_origin_status_rights_and_file(linked, people):
    data = sku360.sku360("WB-750-SS-BLUE", user=people["viewer"])
    by_role = {}
    for link in data["links"]:
        by_role.setdefault(link["role"], []).append(link)
    [main] = by_role["main"]
    assert main["origin"] == "self" and main["asset"]["status"] == "approved"
    assert main["rights"]["ecommerce"] == {"publishable": True, "reasons": []}
    assert main["rights"]["marketplace"]["publishable"] is False
    assert (
        "not licensed for channel marketplace (only ecommerce)"
        in (main["rights"]["marketplace"]["reasons"])
    )
    assert main["file"]["filename"].endswith(".jpg")
    assert (main["file"]["width"], main["file"]["height"]) == (1200, 1200)
    assert main["file"]["pixels"] == 1_440_000 and main["file"]["size"] > 0
    assert main["previews"]["state"] in {"ready", "pending", "failed"}
    gallery = by_role["gallery"]
    assert [g["position"] for g in gallery] == [1, 2, 3]
    assert {g["origin"] for g in gallery} == {"WB-750-SS"}
    [manual] = by_role["manual"]
    assert manual["origin"] == "WB-SS"
    assert "status is draft, not approved" in manual["rights"]["ecommerce"]["reasons"]


def test_360_renditions_follow_the_channels_image_slots(linked, people):
    from folio.renditions import presets
    from folio.renditions.models import ImageSlot, Preset, Rendition

    preset = Preset.objects.create(
        code="shop-main",
        name="Shop main",
        spec={"ops": [{"op": "resize", "width": 800}], "format": "jpeg"},
        rules={"min_longest_side": 1000},
    )
    ImageSlot.objects.create(
        channel=Channel.objects.get(code="ecommerce"),
        role="main",
        preset=preset,
        required=True,
    )
    spec = presets.effective_spec(preset)
    Rendition.objects.create(
        source_sha256=linked["main"].current_version.blob_id,
        spec_hash=presets.spec_hash(spec),
        preset=preset,
        spec=spec,
        status="ready",
        compliance={"passed": False, "checks": [{"rule": "min_longest_side", "passed": False}]},
    )
    data = sku360.sku360("WB-750-SS-BLUE", user=people["viewer"])
    [main] = [link for link in data["links"] if link["role"] == "main"]
    [r] = main["renditions"]
    assert r["channel"] == "ecommerce" and r["preset"] == "shop-main"
    assert r["status"] == "ready" and r["passed"] is False and r["within_slot"] is True
    gallery = [link for link in data["links"] if link["role"] == "gallery"]
    assert all(g["renditions"] == [] for g in gallery)  # no gallery slot


def test_360_history_and_proposals(linked, people):
    blue = linked["blue"]
    services.propose(
        blue,
        {"values": {"color": [{"locale": None, "scope": None, "data": "green"}]}},
        people["editor"],
    )
    data = sku360.sku360("WB-750-SS-BLUE", user=people["viewer"])
    assert data["history"][0]["action"] == "create"
    assert "color" in data["history"][0]["attributes"]
    [proposal] = data["proposals"]
    assert proposal["attributes"] == ["color"] and proposal["proposed_by"] == "editor"


def test_360_query_count_is_bounded(linked, people, django_assert_max_num_queries):
    from folio.renditions.models import ImageSlot, Preset

    preset = Preset.objects.create(code="g", name="g", spec={"format": "jpeg", "ops": []})
    for ch in ("ecommerce", "marketplace"):
        ImageSlot.objects.create(
            channel=Channel.objects.get(code=ch),
            role="gallery",
            preset=preset,
            max_count=2,
        )
    for i in range(5):  # more links must not mean more queries
        Link.objects.create(
            product=linked["blue"],
            asset=add_asset(people["uploader"], f"own {i}", approve_by=people["approver"]),
            role="lifestyle",
            position=i + 1,
        )
    viewer = accounts.get_user("viewer")
    # The viewer's groups, then one query per kind of row (product, the structure's
    # generation, completeness, categories, groups, options, links, licensed channels,
    # previews, failed preview jobs, renditions, history, proposals, publications); the
    # first time in a process also the structure (attributes, families' attributes,
    # channels, slots), then kept while its generation stays.
    with django_assert_max_num_queries(19):
        sku360.sku360("WB-750-SS-BLUE", user=viewer)
    with django_assert_max_num_queries(15):
        data = sku360.sku360("WB-750-SS-BLUE", user=viewer)
    assert len(data["links"]) == 10
    gallery = [link for link in data["links"] if link["role"] == "gallery"]
    assert [r["within_slot"] for r in gallery[2]["renditions"]] == [False, False]


def test_resolve_sku_exact_prefix_and_gtin(linked):
    assert sku360.resolve_sku("WB-750-SS-BLUE") == ["WB-750-SS-BLUE"]
    assert sku360.resolve_sku("wb-750-ss-blue") == ["WB-750-SS-BLUE"]
    assert set(sku360.resolve_sku("WB-750")) == {"WB-750-SS-BLUE", "WB-750-SS-GREEN"}
    assert sku360.resolve_sku(GTIN) == ["WB-750-SS-BLUE"]
    assert sku360.resolve_sku("nothing-like-it") == []


def test_api_360_find_and_permissions(linked, api_client):
    viewer = api_client("viewer")
    r = viewer.get("/api/v1/catalog/products/WB-750-SS-BLUE/360?channel=ecommerce&locale=en_US")
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["product"]["sku"] == "WB-750-SS-BLUE"
    assert {link["role"] for link in body["links"]} == {"main", "gallery", "manual"}
    assert viewer.get("/api/v1/catalog/products/NOPE/360").status_code == 404
    r = viewer.get(f"/api/v1/find?q={GTIN}")
    assert r.json() == {"query": GTIN, "skus": ["WB-750-SS-BLUE"]}
    agency = api_client("agency")
    assert agency.get("/api/v1/catalog/products/WB-750-SS-BLUE/360").status_code == 403
    # the ordinary product route is not shadowed
    assert viewer.get("/api/v1/catalog/products/WB-750-SS-BLUE").status_code == 200


def test_show_command(linked):
    out = io.StringIO()
    call_command("show", "WB-750-SS-BLUE", stdout=out)
    text = out.getvalue()
    assert "WB-750-SS-BLUE" in text and "WB-SS > WB-750-SS" in text
    assert "Stainless Steel Water Bottle" in text and "not licensed for channel marketplace" in text
    assert "not published yet" in text
    out = io.StringIO()
    call_command("show", GTIN, "--json", "--channel", "ecommerce", "--locale", "en_US", stdout=out)
    data = json.loads(out.getvalue())
    assert data["context"] == {"channel": "ecommerce", "locale": "en_US"}


def test_360_of_a_simple_product(catalog, people):
    services.create_product(espresso_pro())
    data = sku360.sku360("EP-3000", user=people["viewer"])
    assert data["product"]["parents"] == [] and data["links"] == []
    _, power = _attr(data, "power")
    assert power["origin"] == "self" and power["values"][0]["display"] == "1450 W"
    _, price = _attr(data, "price")
    assert price["values"][0]["display"] == "749 EUR, 799 USD"
