"""Linking on the product page: role slots with approval and rights state, linking by pick or
drop (the same request), moving, removing, per-variant overrides of the model's files."""

import re

from django.db import connection
from django.test.utils import CaptureQueriesContext

from folio.catalog import services as catalog
from folio.linking.models import Link
from folio.linking.services import links_for
from tests.web.conftest import new_asset, value

HX = {"HX-Request": "true"}


def html(response) -> str:
    return response.content.decode()


def slot(page: str, role: str) -> str:
    return page.split(f'id="media-{role}"', 1)[1].split('class="slot', 1)[0]


def test_slots_show_state_rights_and_inheritance(shop, client_for):
    page = html(client_for("viewer").get("/products/BT-750-BLUE/?channel=ecommerce&locale=en_US"))
    main = slot(page, "main")
    assert "Blue bottle front" in main and "approved" in main and "in rights" in main
    lifestyle = slot(page, "lifestyle")
    assert "inherited from BT" in lifestyle
    assert "not publishable" in lifestyle and "status is draft" in lifestyle
    # a viewer gets the state, not the controls
    assert "data-link-url" not in page and "draggable" not in page and 'id="picker"' not in page


def test_link_by_pick_or_drop_then_move_and_remove(shop, client_for):
    editor = client_for("catalog_editor")
    base = "/media/product/BT-750-BLUE"
    ctx = "?channel=ecommerce&locale=en_US"
    page = html(editor.get(f"/products/BT-750-BLUE/{ctx}"))
    assert f'data-link-url="{base}/link/{ctx.replace("&", "&amp;")}"' in page
    picker = html(editor.get(f"{base}/picker/{ctx}&q=lifestyle", headers=HX))
    assert "Bottle lifestyle" in picker and f'data-pick-asset="{shop["draft"].pk}"' in picker

    extra = [new_asset(f"Gallery {n}") for n in range(3)]
    for asset in extra:
        response = editor.post(
            f"{base}/link/{ctx}", {"asset_id": asset.pk, "role": "gallery"}, headers=HX
        )
        assert response.status_code == 200
        assert 'id="media"' in html(response) and 'id="picker"' not in html(response)
        assert "folio:announce" in response["HX-Trigger"]
    gallery = links_for("BT-750-BLUE")["gallery"]
    assert [e["asset_id"] for e in gallery] == [a.pk for a in extra]

    moved = editor.post(f"/links/{gallery[2]['id']}/move/{ctx}", {"position": 1}, headers=HX)
    assert moved.status_code == 200
    order = [e["asset_id"] for e in links_for("BT-750-BLUE")["gallery"]]
    assert order == [extra[2].pk, extra[0].pk, extra[1].pk]
    assert re.search(r"Gallery 2.*Gallery 0.*Gallery 1", slot(html(moved), "gallery"), re.S)

    removed = editor.post(f"/links/{gallery[0]['id']}/remove/{ctx}", headers=HX)
    assert removed.status_code == 200
    assert [e["asset_id"] for e in links_for("BT-750-BLUE")["gallery"]] == [
        extra[2].pk,
        extra[1].pk,
    ]
    # without htmx (no JavaScript) the same forms work and come back to the page
    plain = editor.post(f"/links/{gallery[1]['id']}/remove/{ctx}")
    assert plain.status_code == 302 and plain["Location"].endswith("#media")


def test_scoped_link_and_duplicate_refusal(shop, client_for):
    editor = client_for("catalog_editor")
    asset = new_asset("German main")
    url = "/media/product/BT-750-GREEN/link/?channel=ecommerce&locale=de_DE"
    editor.post(url, {"asset_id": asset.pk, "role": "main", "scope": "locale"}, headers=HX)
    link = Link.objects.get(asset=asset)
    assert (link.locale, link.channel_id) == ("de_DE", None)
    again = editor.post(url, {"asset_id": asset.pk, "role": "main", "scope": "locale"}, headers=HX)
    assert again.status_code == 422
    assert again["HX-Retarget"] == "#flash" and "already linked" in html(again)


def test_a_variant_overrides_the_models_files_and_goes_back(shop, client_for):
    editor = client_for("catalog_editor")
    own = new_asset("Blue lifestyle")
    editor.post(
        "/media/product/BT-750-BLUE/link/", {"asset_id": own.pk, "role": "lifestyle"}, headers=HX
    )
    lifestyle = links_for("BT-750-BLUE")["lifestyle"]
    assert [(e["asset_id"], e["origin"]) for e in lifestyle] == [(own.pk, "self")]
    page = html(editor.get("/products/BT-750-BLUE/"))
    assert "overridden here" in slot(page, "lifestyle")
    editor.post("/media/product/BT-750-BLUE/clear/", {"role": "lifestyle"}, headers=HX)
    assert links_for("BT-750-BLUE")["lifestyle"][0]["origin"] == "BT"


def test_models_link_too(shop, client_for):
    editor = client_for("catalog_editor")
    manual = new_asset("Bottle manual")
    response = editor.post(
        "/media/model/BT/link/", {"asset_id": manual.pk, "role": "manual"}, headers=HX
    )
    assert response.status_code == 200
    assert links_for("BT-750-GREEN")["manual"][0]["origin"] == "BT"


def test_roles_without_link_permissions_are_refused(shop, client_for):
    link = Link.objects.get(role="main")
    asset = new_asset("Refused")
    for role in ("viewer", "approver"):
        client = client_for(role)
        add = client.post(
            "/media/product/BT-750-BLUE/link/", {"asset_id": asset.pk, "role": "main"}
        )
        assert add.status_code == 403
        assert client.post(f"/links/{link.pk}/move/", {"position": 2}).status_code == 403
        assert client.post(f"/links/{link.pk}/remove/").status_code == 403
    # asset managers link and reorder but do not remove links (their role has no delete)
    manager = client_for("asset_manager")
    assert manager.post(f"/links/{link.pk}/remove/").status_code == 403
    assert Link.objects.filter(pk=link.pk).exists()
    assert not Link.objects.filter(asset=asset).exists()


def test_media_section_query_count_is_flat(shop, client_for):
    editor = client_for("catalog_editor")
    url = "/media/product/BT-750-BLUE/?channel=ecommerce&locale=en_US"
    editor.get(url, headers=HX)
    with CaptureQueriesContext(connection) as few:
        editor.get(url, headers=HX)
    catalog.create_product(
        {"sku": "BT-750-BLACK", "parent": "BT-750", "values": {"color": value("black")}}
    )
    for n in range(6):
        editor.post(
            "/media/product/BT-750-BLUE/link/",
            {"asset_id": new_asset(f"More {n}").pk, "role": "gallery"},
            headers=HX,
        )
    with CaptureQueriesContext(connection) as more:
        response = editor.get(url, headers=HX)
    assert len(re.findall(r'class="title"[^>]*>More ', html(response))) == 6
    assert len(more.captured_queries) <= len(few.captured_queries)
