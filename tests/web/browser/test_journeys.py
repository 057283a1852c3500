"""The main journeys in a real browser: sign in; create a product model with variants; upload,
describe and approve a file; link it by dragging and reorder; fix completeness; a viewer
cannot edit. Every wait is on an event (a response, an element, a text), never on time."""

import re

import pytest
from playwright.sync_api import expect

from folio.assets import storage
from folio.assets.models import Asset
from folio.catalog import services as catalog
from folio.catalog.models import Product
from folio.linking.services import links_for
from tests.web.browser.conftest import sign_in
from tests.web.conftest import jpeg_bytes, new_asset

pytestmark = [pytest.mark.sqlite_only, pytest.mark.django_db(transaction=True)]


def test_sign_in_and_out(page, users):
    page.goto("/products/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/products/"))
    page.get_by_label("Username").fill("cora")
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("didn't match")
    sign_in(page, "cora")
    expect(page.get_by_role("heading", name="Welcome, cora")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Products"))
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login/"))


def test_create_a_product_model_with_variants(page, shop):
    sign_in(page, "cora")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Products").click()
    page.get_by_role("link", name="New product model").click()
    page.get_by_label("Code").fill("TB")
    page.get_by_label("Family variant (for a root model)").select_option("bottles_by_size_color")
    page.get_by_role("button", name="Create product model").click()
    expect(page.get_by_role("heading", name="TB", exact=True)).to_be_visible()

    page.get_by_role("link", name="Add sub-model").click()
    page.get_by_label("Code").fill("TB-500")
    page.get_by_label("Size").select_option("ml500")
    page.get_by_role("button", name="Create product model").click()
    expect(page.get_by_role("heading", name="TB-500", exact=True)).to_be_visible()

    page.get_by_role("link", name="Add variant").click()
    page.get_by_label("SKU", exact=True).fill("TB-500-GREEN")
    page.get_by_label("Color").select_option("green")
    page.get_by_role("button", name="Create product").click()
    expect(page.get_by_role("heading", name="TB-500-GREEN")).to_be_visible()
    expect(page.get_by_role("status").first).to_contain_text("created")

    # A second variant from the product list: choosing the model loads its axes (htmx).
    page.goto("/products/new/")
    page.get_by_label("SKU", exact=True).fill("TB-500-BLUE")
    page.get_by_label("A variant of a product model").check()
    with page.expect_response(lambda r: "/products/new/axes/" in r.url):
        page.get_by_label("Product model (for a variant)").select_option("TB-500")
    page.locator("#axes").get_by_label("Color").select_option("blue")
    page.get_by_role("button", name="Create product").click()
    expect(page.get_by_role("heading", name="TB-500-BLUE")).to_be_visible()
    tree = page.get_by_role("navigation", name="Variants")
    expect(tree).to_contain_text("TB-500-GREEN")
    expect(tree.get_by_role("link", name="TB-500-BLUE")).to_have_attribute("aria-current", "page")
    assert Product.objects.get(sku="TB-500-BLUE").parent.code == "TB-500"


def test_upload_describe_and_approve_a_file(page, shop, tmp_path):
    new_file = tmp_path / "green_bottle_desk.jpg"
    new_file.write_bytes(jpeg_bytes(120, 90))
    existing = shop["approved"].current_version
    duplicate = tmp_path / "copy_of_front.jpg"
    with storage.open_blob(existing.blob) as fh:
        duplicate.write_bytes(fh.read())

    sign_in(page, "ada")
    page.goto("/assets/")
    page.locator("#up-files").set_input_files([str(new_file), str(duplicate)])
    rows = page.locator(".upload-list li")
    expect(rows).to_have_count(2)
    new_row = rows.filter(has_text="green_bottle_desk.jpg")
    dup_row = rows.filter(has_text="copy_of_front.jpg")
    expect(new_row.locator(".state")).to_contain_text("Uploaded as")
    expect(new_row.locator("progress")).to_have_attribute("value", "100")
    expect(dup_row.locator(".state")).to_contain_text("Identical to")
    dup_row.get_by_role("button", name="Skip").click()
    expect(dup_row.locator(".state")).to_have_text("Skipped.")
    assert Asset.objects.filter(title="green bottle desk").count() == 1
    assert Asset.objects.count() == 3  # the duplicate was not added

    new_row.locator(".state a").click()
    expect(page.get_by_role("heading", name="green bottle desk")).to_be_visible()
    page.get_by_label("en_US").fill("A green steel bottle on a desk")
    page.get_by_label("Title").fill("Green bottle on a desk")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("#flash")).to_contain_text("Saved: alt_text, title")
    page.get_by_role("button", name="Submit for review").click()
    expect(page.locator("#flash")).to_contain_text("Submitted for review")

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, "bram")
    page.goto("/")
    page.get_by_role("link", name="Green bottle on a desk").click()
    page.get_by_label("Comment").fill("On brand")
    page.get_by_role("button", name="Approve", exact=True).click()
    expect(page.locator("#flash")).to_contain_text("Approved")
    expect(page.locator("#approval")).to_contain_text("On brand")
    asset = Asset.objects.get(title="Green bottle on a desk")
    assert asset.status == "approved"
    assert asset.alt_text == {"en_US": "A green steel bottle on a desk"}


def test_link_by_dragging_and_reorder(page, shop):
    side, top = new_asset("Green side"), new_asset("Green top")
    sign_in(page, "cora")
    page.goto("/products/BT-750-GREEN/?channel=ecommerce&locale=en_US")
    picker = page.locator("#picker-results")
    tile = picker.locator(f'[data-pick-asset="{shop["approved"].pk}"]')
    expect(tile).to_be_visible()
    # The picker stays in view beside the slots, so the drag needs no scrolling.
    page.locator("#media-main").scroll_into_view_if_needed()
    with page.expect_response(lambda r: "/link/" in r.url and r.status == 200):
        tile.drag_to(page.locator("#media-main"))
    expect(page.locator("#media-main")).to_contain_text("Blue bottle front")
    expect(page.locator("#live")).to_contain_text("Linked as main")

    # Picking with the keyboard: the role chosen above the files, then the file's button.
    page.get_by_label("Role", exact=True).select_option("gallery")
    for asset in (side, top):
        with page.expect_response(lambda r: "/link/" in r.url and r.status == 200):
            picker.locator(f'[data-pick-asset="{asset.pk}"]').get_by_role(
                "button", name="Link"
            ).click()
    gallery = page.locator("#media-gallery li[data-link-id]")
    expect(gallery).to_have_count(2)
    expect(gallery.first).to_contain_text("Green side")

    # Drag the second above the first.
    with page.expect_response(lambda r: "/move/" in r.url and r.status == 200):
        gallery.nth(1).drag_to(gallery.nth(0), target_position={"x": 20, "y": 5})
    expect(page.locator("#media-gallery li[data-link-id]").first).to_contain_text("Green top")
    assert [e["asset_id"] for e in links_for("BT-750-GREEN")["gallery"]] == [top.pk, side.pk]

    # The same with the buttons beside each file.
    with page.expect_response(lambda r: "/move/" in r.url and r.status == 200):
        page.get_by_role("button", name="Move Green side up").click()
    expect(page.locator("#media-gallery li[data-link-id]").first).to_contain_text("Green side")
    assert [e["asset_id"] for e in links_for("BT-750-GREEN")["gallery"]] == [side.pk, top.pk]


def test_fix_completeness(page, shop):
    sign_in(page, "cora")
    page.goto("/products/EP-3000/?channel=ecommerce&locale=de_DE")
    panel = page.locator("#completeness")
    expect(panel).to_contain_text("ecommerce · de_DE")
    panel.get_by_role("link", name="Name").click()
    expect(page).to_have_url(re.compile(r"#attr-name$"))

    # A wrong value first: the services' message comes back beside the field.
    page.locator("#v-warranty_years").fill("12")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("#v-warranty_years")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#v-warranty_years-error")).to_contain_text("10")

    page.locator("#v-warranty_years").fill("2")
    page.locator("#v-name").fill("EspressoPro 3000")
    page.locator("#v-description").fill("<p>Kaffeevollautomat mit Mahlwerk.</p>")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("#flash")).to_contain_text("Saved EP-3000")
    expect(page.locator("#completeness")).to_contain_text("ecommerce · de_DE")
    row = page.locator("#completeness [role=img][aria-label^='ecommerce de_DE']")
    expect(row).to_have_attribute("aria-label", re.compile(r"100% complete"))
    rows = catalog.completeness_of(Product.objects.get(sku="EP-3000"))
    assert [r["ratio"] for r in rows if (r["channel"], r["locale"]) == ("ecommerce", "de_DE")] == [
        100
    ]


def test_a_viewer_cannot_edit(page, shop):
    sign_in(page, "vic")
    page.goto("/products/BT-750-BLUE/")
    expect(page.get_by_role("heading", name="BT-750-BLUE")).to_be_visible()
    expect(page.locator('input[name^="v."], select[name^="v."]')).to_have_count(0)
    expect(page.get_by_role("button", name="Save changes")).to_have_count(0)
    expect(page.locator("[data-link-url]")).to_have_count(0)
    page.goto("/assets/")
    expect(page.locator("form[data-upload]")).to_have_count(0)
    page.goto(f"/assets/{shop['approved'].pk}/")
    expect(page.locator("#asset-form")).to_have_count(0)
    # The server refuses the write even when it is sent anyway, with a valid CSRF token.
    status = page.evaluate(
        """async () => {
            const r = await fetch(location.pathname, {method: "POST",
              headers: {"X-CSRFToken": document.body.dataset.csrf,
                        "Content-Type": "application/x-www-form-urlencoded"},
              body: "title=Mine"});
            return r.status;
        }"""
    )
    assert status == 403
    assert Asset.objects.get(pk=shop["approved"].pk).title == "Blue bottle front"
