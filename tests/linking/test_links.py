"""Links: inheritance, scoping, ordering, replace, history and undo, where-used, the API."""

import io
import itertools

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from folio.assets.services import add_asset
from folio.catalog import services as catalog
from folio.catalog.models import FamilyVariant, ProductModel
from folio.errors import InvalidInput
from folio.linking import services
from folio.linking.models import Link, LinkChange
from tests.assets import files

_shade = itertools.count(1)


@pytest.fixture
def media(settings, tmp_path):
    (tmp_path / "media").mkdir()
    (tmp_path / "uploads").mkdir()
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.UPLOAD_DIR = tmp_path / "uploads"


def asset(name="file.jpg"):
    n = next(_shade)
    data = files.jpeg(color=(n % 251, (n * 3) % 251, (n * 7) % 251))
    return add_asset(io.BytesIO(data), filename=name)


@pytest.fixture
def bottles(catalog, media):
    fv = FamilyVariant.objects.get(code="bottles_by_size_color")
    root = ProductModel.objects.create(code="WB-SS", family_variant=fv)
    sub = ProductModel.objects.create(code="WB-750-SS", family_variant=fv, parent=root)
    blue = catalog_create("WB-750-SS-BLUE", "blue")
    green = catalog_create("WB-750-SS-GREEN", "green")
    return root, sub, blue, green


def catalog_create(sku, color):
    return catalog.create_product(
        {
            "sku": sku,
            "parent": "WB-750-SS",
            "values": {"color": [{"locale": None, "scope": None, "data": color}]},
        }
    )


def test_variant_inherits_per_role_nearest_level_wins(bottles):
    model_main, manual, blue_main, sub_gallery = (asset() for _ in range(4))
    services.link("WB-SS", model_main.pk, "main")
    services.link("WB-SS", manual.pk, "manual")
    services.link("WB-750-SS", sub_gallery.pk, "gallery")
    services.link("WB-750-SS-BLUE", blue_main.pk, "main")
    resolved = services.links_for("WB-750-SS-BLUE")
    assert list(resolved) == ["main", "gallery", "manual"]
    assert [(e["asset_id"], e["origin"]) for e in resolved["main"]] == [(blue_main.pk, "self")]
    assert [(e["asset_id"], e["origin"]) for e in resolved["manual"]] == [(manual.pk, "WB-SS")]
    assert resolved["gallery"][0]["origin"] == "WB-750-SS"
    assert services.links_for("WB-750-SS-GREEN")["main"][0]["asset_id"] == model_main.pk


def test_scoping_by_locale_and_channel(bottles, catalog):
    everywhere, german, market = asset(), asset(), asset()
    services.link("WB-750-SS-BLUE", everywhere.pk, "gallery")
    services.link("WB-750-SS-BLUE", german.pk, "gallery", locale="de_DE")
    services.link("WB-750-SS-BLUE", market.pk, "gallery", channel="marketplace")

    def ids(**kw):
        return [
            e["asset_id"] for e in services.links_for("WB-750-SS-BLUE", **kw).get("gallery", [])
        ]

    assert ids() == [everywhere.pk]
    assert ids(locale="de_DE") == [everywhere.pk, german.pk]
    assert ids(locale="fr_FR", channel="marketplace") == [everywhere.pk, market.pk]
    assert ids(locale="de_DE", channel="ecommerce") == [everywhere.pk, german.pk]
    with pytest.raises(InvalidInput) as err:
        services.link("WB-750-SS-BLUE", german.pk, "main", locale="xx_XX")
    assert err.value.details["locale"] == "xx_XX"
    with pytest.raises(InvalidInput) as err:
        services.link("WB-750-SS-BLUE", german.pk, "main", channel="nowhere")
    assert err.value.details["channel"] == "nowhere"
    with pytest.raises(InvalidInput):
        services.link("WB-750-SS-BLUE", german.pk, "Not A Slug")


def test_reorder_move_replace_unlink_and_duplicates(bottles):
    a, b, c, d = (asset() for _ in range(4))
    for x in (a, b, c):
        services.link("WB-750-SS-BLUE", x.pk, "gallery")
    services.reorder("WB-750-SS-BLUE", "gallery", [c.pk, a.pk, b.pk])
    order = lambda: [e["asset_id"] for e in services.links_for("WB-750-SS-BLUE")["gallery"]]  # noqa: E731
    assert order() == [c.pk, a.pk, b.pk]
    with pytest.raises(InvalidInput) as err:
        services.reorder("WB-750-SS-BLUE", "gallery", [c.pk, a.pk])
    assert err.value.details["role"] == "gallery"
    link_b = Link.objects.get(asset=b)
    services.move(link_b.pk, 1)
    assert order() == [b.pk, c.pk, a.pk]
    services.link("WB-750-SS-BLUE", d.pk, "gallery", position=2)
    assert order() == [b.pk, d.pk, c.pk, a.pk]
    with pytest.raises(InvalidInput) as err:
        services.replace(link_b.pk, a.pk)  # a is already in the gallery
    assert err.value.details["role"] == "gallery"
    e = asset()
    services.replace(link_b.pk, e.pk)
    assert order() == [e.pk, d.pk, c.pk, a.pk]
    with pytest.raises(InvalidInput) as err:
        services.link("WB-750-SS-BLUE", d.pk, "gallery")  # no channel: NULLs are distinct
    assert "gallery" in err.value.message and err.value.details["role"] == "gallery"
    services.unlink(link_b.pk)
    assert order() == [d.pk, c.pk, a.pk]
    actions = list(LinkChange.objects.values_list("action", flat=True))
    assert actions[:3] == ["unlink", "replace", "link"]


def test_replace_everywhere_preview_perform_undo(bottles):
    old, new = asset(), asset()
    services.link("WB-SS", old.pk, "manual")
    services.link("WB-750-SS-BLUE", old.pk, "gallery")
    services.link("WB-750-SS-GREEN", old.pk, "gallery")
    services.link("WB-750-SS-GREEN", new.pk, "gallery")
    preview = services.replace_everywhere(old.pk, new.pk)
    assert preview["preview"] and len(preview["links"]) == 3
    assert {r["action"] for r in preview["links"]} == {"replace", "remove"}
    assert Link.objects.filter(asset=old).count() == 3  # nothing written
    done = services.replace_everywhere(old.pk, new.pk, preview=False)
    assert Link.objects.filter(asset=old).count() == 0
    assert Link.objects.filter(asset=new).count() == 3
    change = LinkChange.objects.get(pk=done["change_id"])
    assert change.action == "replace_all" and len(change.changes) == 3
    services.undo(change.pk)
    assert Link.objects.filter(asset=old).count() == 3
    assert Link.objects.filter(asset=new).count() == 1
    with pytest.raises(Exception, match="already undone"):
        services.undo(change.pk)


def test_where_used_through_inheritance(bottles):
    manual, model_main, blue_main = asset(), asset(), asset()
    services.link("WB-SS", manual.pk, "manual")
    services.link("WB-SS", model_main.pk, "main")
    services.link("WB-750-SS-BLUE", blue_main.pk, "main")
    used = services.where_used(manual.pk)
    assert used["product_models"] == ["WB-SS"]
    assert [v["sku"] for v in used["variants"]] == ["WB-750-SS-BLUE", "WB-750-SS-GREEN"]
    assert used["channels"] == ["ecommerce", "marketplace"]
    # the blue bottle has its own main image: the model's main is not shown there
    used = services.where_used(model_main.pk)
    assert [v["sku"] for v in used["variants"]] == ["WB-750-SS-GREEN"]
    impact = services.impact(model_main.pk)
    assert impact["main_image_of"] == ["WB-750-SS-GREEN", "WB-SS"]


def test_links_for_query_count_is_flat(bottles):
    for role in ("main", "gallery", "manual"):
        services.link("WB-SS", asset().pk, role)
        services.link("WB-750-SS", asset().pk, role)
    for _ in range(5):
        services.link("WB-750-SS-BLUE", asset().pk, "gallery")
    blue = services.resolve_target_product("WB-750-SS-BLUE")
    with CaptureQueriesContext(connection) as few:
        services.links_for(blue, locale="en_US")
    for _ in range(10):
        services.link("WB-SS", asset().pk, "lifestyle")
    with CaptureQueriesContext(connection) as more:
        services.links_for(blue, locale="en_US")
    assert len(few) == len(more) <= 2


def test_api_link_resolve_and_permissions(bottles, api_client):
    editor, viewer = api_client("catalog_editor"), api_client("viewer")
    main, manual = asset(), asset()
    r = editor.post(
        "/api/v1/catalog/product-models/WB-SS/links",
        {"asset_id": manual.pk, "role": "manual"},
        content_type="application/json",
    )
    assert r.status_code == 201, r.content
    r = editor.post(
        "/api/v1/catalog/products/WB-750-SS-BLUE/links",
        {"asset_id": main.pk, "role": "main"},
        content_type="application/json",
    )
    assert r.status_code == 201 and r.json()["product"] == "WB-750-SS-BLUE"
    link_id = r.json()["id"]
    r = editor.post(
        "/api/v1/catalog/products/WB-750-SS-BLUE/links",
        {"asset_id": main.pk, "role": "main"},
        content_type="application/json",
    )
    assert r.status_code == 422 and r.json()["error"]["details"]["role"] == "main"
    r = viewer.post(
        "/api/v1/catalog/products/WB-750-SS-BLUE/links",
        {"asset_id": manual.pk, "role": "gallery"},
        content_type="application/json",
    )
    assert r.status_code == 403
    r = viewer.get("/api/v1/catalog/products/WB-750-SS-BLUE/links?locale=en_US")
    assert r.status_code == 200
    body = r.json()
    assert body["main"][0]["origin"] == "self" and body["manual"][0]["origin"] == "WB-SS"
    r = viewer.get(f"/api/v1/assets/{manual.pk}/where-used")
    assert r.status_code == 200 and r.json()["product_models"] == ["WB-SS"]
    assert viewer.delete(f"/api/v1/links/{link_id}").status_code == 403
    other = asset()
    r = editor.post(
        f"/api/v1/assets/{manual.pk}/replace-everywhere",
        {"new_asset_id": other.pk, "preview": False},
        content_type="application/json",
    )
    assert r.status_code == 200 and r.json()["change_id"]
    r = editor.post(f"/api/v1/link-changes/{r.json()['change_id']}/undo")
    assert r.status_code == 200 and r.json()["undone"]
    r = editor.patch(f"/api/v1/links/{link_id}", {"position": 1}, content_type="application/json")
    assert r.status_code == 200
    assert editor.delete(f"/api/v1/links/{link_id}").status_code == 204
    # the catalog's own product route still answers
    assert editor.get("/api/v1/catalog/products/WB-750-SS-BLUE").status_code == 200
    assert (
        editor.post(
            "/api/v1/catalog/products/EP-NONE/links",
            {"asset_id": main.pk, "role": "main"},
            content_type="application/json",
        ).status_code
        == 404
    )
