"""Concurrent edits on the product page's media section: its forms (and the drags the script
sends from it) carry the links version the page was rendered with, a submission from a page
someone else changed since is refused with the current state and changes nothing (409 for
htmx), and a fresh page works."""

import html as htmlib
import json
import re

from folio.linking import services as linking
from folio.linking.models import Link
from folio.linking.services import links_for
from tests.web.conftest import new_asset

HX = {"HX-Request": "true"}
CTX = "?channel=ecommerce&locale=en_US"
STALE = "This product&#x27;s media changed since you opened the page"


def html(response) -> str:
    return response.content.decode()


def shown_version(page: str) -> str:
    """The links version the media section was rendered with (what its forms send back)."""
    return re.search(r'id="media-version" name="version" value="(\d+)"', page).group(1)


def gallery_ids(sku: str = "BT-750-BLUE") -> list[int]:
    return [e["asset_id"] for e in links_for(sku)["gallery"]]


def _two_in_gallery(users):
    first, second = new_asset("Gallery one"), new_asset("Gallery two")
    for asset in (first, second):
        linking.link("BT-750-BLUE", asset.pk, "gallery", user=users["catalog_editor"])
    return first, second


def _someone_else_links(users, title: str):
    """Another user changes the product's links through the service, as the API would."""
    other = new_asset(title)
    linking.link("BT-750-BLUE", other.pk, "main", user=users["admin"])
    return other


def test_the_forms_and_drags_carry_the_version_they_were_rendered_with(shop, client_for):
    page = html(client_for("catalog_editor").get(f"/products/BT-750-BLUE/{CTX}"))
    version = shown_version(page)
    assert version == str(linking.links_version("BT-750-BLUE"))
    # every form in the section sends it, and names its page
    forms = re.findall(r"<form method=\"post\" action=\"/links/.*?</form>", page, re.S)
    assert forms and all(f'name="version" value="{version}"' in f for f in forms)
    assert all('name="target_key" value="BT-750-BLUE"' in f for f in forms)
    # the script's drags are htmx requests from inside the section: hx-vals carries it
    vals = re.search(r'<section class="card" id="media"[^>]*hx-vals="([^"]*)"', page).group(1)
    assert json.loads(htmlib.unescape(vals)) == {
        "version": version,
        "target_kind": "product",
        "target_key": "BT-750-BLUE",
    }
    # the picker's link forms sit outside the section and include its version input
    picker = html(
        client_for("catalog_editor").get(f"/media/product/BT-750-BLUE/picker/{CTX}", headers=HX)
    )
    assert 'hx-include="#link-role, #link-scope, #media-version"' in picker


def test_a_stale_move_changes_nothing_and_shows_the_current_state(shop, client_for, users):
    first, second = _two_in_gallery(users)
    editor = client_for("catalog_editor")
    page = html(editor.get(f"/products/BT-750-BLUE/{CTX}"))
    seen = shown_version(page)
    link_id = Link.objects.get(asset=second).pk

    newcomer = _someone_else_links(users, "Added meanwhile")
    stale = editor.post(
        f"/links/{link_id}/move/{CTX}", {"position": 1, "version": seen}, headers=HX
    )
    assert stale.status_code == 409
    body = html(stale)
    # the section itself comes back (swapped in place, not retargeted to the flash area)
    assert "HX-Retarget" not in stale
    assert 'id="media"' in body and STALE in body and "nothing was changed" in body
    assert "Added meanwhile" in body  # the other user's change is shown
    assert shown_version(body) == str(linking.links_version("BT-750-BLUE"))
    assert "folio:announce" in stale["HX-Trigger"]
    assert gallery_ids() == [first.pk, second.pk]  # not moved
    assert [e["asset_id"] for e in links_for("BT-750-BLUE")["main"]][-1] == newcomer.pk

    # the section it answered is fresh: its form works
    fresh = editor.post(
        f"/links/{link_id}/move/{CTX}", {"position": 1, "version": shown_version(body)}, headers=HX
    )
    assert fresh.status_code == 200 and STALE not in html(fresh)
    assert gallery_ids() == [second.pk, first.pk]


def test_a_stale_removal_or_link_changes_nothing(shop, client_for, users):
    first, second = _two_in_gallery(users)
    editor = client_for("catalog_editor")
    seen = shown_version(html(editor.get(f"/products/BT-750-BLUE/{CTX}")))
    _someone_else_links(users, "Added meanwhile")

    link_id = Link.objects.get(asset=first).pk
    removed = editor.post(f"/links/{link_id}/remove/{CTX}", {"version": seen}, headers=HX)
    assert removed.status_code == 409 and STALE in html(removed)
    assert gallery_ids() == [first.pk, second.pk]

    # the picker's "Link" (and a drop into a slot) is refused the same way
    third = new_asset("Gallery three")
    url = f"/media/product/BT-750-BLUE/link/{CTX}"
    linked = editor.post(
        url, {"asset_id": third.pk, "role": "gallery", "version": seen}, headers=HX
    )
    assert linked.status_code == 409 and STALE in html(linked)
    assert gallery_ids() == [first.pk, second.pk]

    fresh = shown_version(html(editor.get(f"/products/BT-750-BLUE/{CTX}")))
    linked = editor.post(
        url, {"asset_id": third.pk, "role": "gallery", "version": fresh}, headers=HX
    )
    assert linked.status_code == 200
    assert gallery_ids() == [first.pk, second.pk, third.pk]


def test_acting_on_a_link_someone_removed_meanwhile_shows_the_current_state(
    shop, client_for, users
):
    first, second = _two_in_gallery(users)
    editor = client_for("catalog_editor")
    seen = shown_version(html(editor.get(f"/products/BT-750-BLUE/{CTX}")))
    link_id = Link.objects.get(asset=first).pk
    linking.unlink(link_id, user=users["admin"])
    page = {"version": seen, "target_kind": "product", "target_key": "BT-750-BLUE"}
    for action, data in (("remove", {}), ("move", {"position": 2})):
        response = editor.post(f"/links/{link_id}/{action}/{CTX}", {**page, **data}, headers=HX)
        assert response.status_code == 409
        assert STALE in html(response) and "Gallery one" not in html(response)
    assert gallery_ids() == [second.pk]


def test_without_javascript_a_stale_form_comes_back_to_the_page_with_the_message(
    shop, client_for, users
):
    first, second = _two_in_gallery(users)
    editor = client_for("catalog_editor")
    seen = shown_version(html(editor.get(f"/products/BT-750-BLUE/{CTX}")))
    _someone_else_links(users, "Added meanwhile")
    link_id = Link.objects.get(asset=first).pk
    response = editor.post(f"/links/{link_id}/remove/{CTX}", {"version": seen}, follow=True)
    page = html(response)
    assert response.redirect_chain[-1][0].endswith("#media")
    assert STALE in page and "Added meanwhile" in page
    assert gallery_ids() == [first.pk, second.pk]


def test_a_stale_use_the_models_files_again_removes_nothing(shop, client_for, users):
    own = [new_asset(f"Blue lifestyle {n}") for n in range(2)]
    for asset in own:
        linking.link("BT-750-BLUE", asset.pk, "lifestyle", user=users["catalog_editor"])
    editor = client_for("catalog_editor")
    seen = shown_version(html(editor.get(f"/products/BT-750-BLUE/{CTX}")))
    _someone_else_links(users, "Added meanwhile")
    url = f"/media/product/BT-750-BLUE/clear/{CTX}"
    stale = editor.post(url, {"role": "lifestyle", "version": seen}, headers=HX)
    assert stale.status_code == 409 and STALE in html(stale)
    assert [e["asset_id"] for e in links_for("BT-750-BLUE")["lifestyle"]] == [a.pk for a in own]
    # a fresh page removes both (each removal based on the version the one before answered)
    fresh = shown_version(html(editor.get(f"/products/BT-750-BLUE/{CTX}")))
    done = editor.post(url, {"role": "lifestyle", "version": fresh}, headers=HX)
    assert done.status_code == 200
    assert links_for("BT-750-BLUE")["lifestyle"][0]["origin"] == "BT"


def test_a_models_page_is_protected_too(shop, client_for, users):
    editor = client_for("catalog_editor")
    seen = shown_version(html(editor.get(f"/models/BT/{CTX}")))
    linking.link("BT", new_asset("Model manual").pk, "manual", user=users["admin"])
    asset = new_asset("Late manual")
    stale = editor.post(
        f"/media/model/BT/link/{CTX}",
        {"asset_id": asset.pk, "role": "manual", "version": seen},
        headers=HX,
    )
    assert stale.status_code == 409
    assert "This product model&#x27;s media changed" in html(stale)
    assert not Link.objects.filter(asset=asset).exists()
