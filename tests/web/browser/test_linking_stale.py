"""In a real browser: a drag, a picker "Link" and a move button on a media section someone
else changed since it was loaded send the version it was loaded with, are refused (409), and
the section is swapped for the current state with the message; from there the same gestures
work. Every wait is on an event, never on time."""

import pytest
from playwright.sync_api import expect

from folio.linking import services as linking
from folio.linking.services import links_for
from tests.web.browser.conftest import sign_in
from tests.web.conftest import new_asset

pytestmark = [pytest.mark.sqlite_only, pytest.mark.django_db(transaction=True)]

STALE = "This product's media changed since you opened the page"


def _someone_else_links(users, title: str):
    linking.link("BT-750-GREEN", new_asset(title).pk, "gallery", user=users["admin"])


def test_stale_drags_and_forms_are_refused_and_show_the_current_state(page, shop, users):
    side, top = new_asset("Green side"), new_asset("Green top")
    sign_in(page, "cora")
    page.goto("/products/BT-750-GREEN/?channel=ecommerce&locale=en_US")
    picker = page.locator("#picker-results")
    tile = picker.locator(f'[data-pick-asset="{shop["approved"].pk}"]')
    expect(tile).to_be_visible()

    # A drop into a slot (the script's request) on a stale section.
    _someone_else_links(users, "Added meanwhile")
    page.locator("#media-main").scroll_into_view_if_needed()
    with page.expect_response(lambda r: "/link/" in r.url and r.status == 409):
        tile.drag_to(page.locator("#media-main"))
    expect(page.locator("#media")).to_contain_text(STALE)
    expect(page.locator("#media-gallery")).to_contain_text("Added meanwhile")
    assert "main" not in links_for("BT-750-GREEN")

    # The swapped-in section is current: the same drop works now.
    with page.expect_response(lambda r: "/link/" in r.url and r.status == 200):
        tile.drag_to(page.locator("#media-main"))
    expect(page.locator("#media-main")).to_contain_text("Blue bottle front")
    expect(page.locator("#media")).not_to_contain_text(STALE)

    # The picker's "Link" button (outside the section) sends the section's version too.
    page.get_by_label("Role", exact=True).select_option("gallery")
    _someone_else_links(users, "Also meanwhile")
    with page.expect_response(lambda r: "/link/" in r.url and r.status == 409):
        picker.locator(f'[data-pick-asset="{side.pk}"]').get_by_role("button", name="Link").click()
    expect(page.locator("#media")).to_contain_text(STALE)
    with page.expect_response(lambda r: "/link/" in r.url and r.status == 200):
        picker.locator(f'[data-pick-asset="{side.pk}"]').get_by_role("button", name="Link").click()
    gallery = [e["asset_id"] for e in links_for("BT-750-GREEN")["gallery"]]
    assert gallery[-1] == side.pk

    # A move button on a stale section.
    linking.link("BT-750-GREEN", top.pk, "main", user=users["admin"])
    with page.expect_response(lambda r: "/move/" in r.url and r.status == 409):
        page.get_by_role("button", name="Move Green side up").click()
    expect(page.locator("#media")).to_contain_text(STALE)
    assert [e["asset_id"] for e in links_for("BT-750-GREEN")["gallery"]] == gallery
