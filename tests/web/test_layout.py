"""What every page shares: sign-in required, the navigation each role sees, the header's SKU
search, landmarks and labels, CSRF on every form, errors as pages or flash messages."""

import re

import pytest
from django.test import Client

from folio.web import nav

PAGES = [
    "/",
    "/products/",
    "/products/new/",
    "/products/BT-750-BLUE/",
    "/models/BT/",
    "/models/new/",
    "/products/bulk-edit/?sku=BT-750-BLUE",
    "/assets/",
    "/sku/?q=BT",
    "/sku/BT-750-BLUE/",
    "/compare/?sku=BT-750-BLUE",
    "/review/",
    "/review/BT-750-BLUE/",
    "/brand-kits/",
    "/shares/",
]


@pytest.mark.django_db
@pytest.mark.parametrize("url", PAGES)
def test_every_page_needs_sign_in(url):
    response = Client().get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


def test_every_page_renders_with_landmarks_and_labelled_fields(shop, client_for):
    client = client_for("admin")
    for url in PAGES:
        response = client.get(url, follow=True)
        assert response.status_code == 200, (url, response.status_code)
        html = response.content.decode()
        assert '<main id="main"' in html and 'aria-label="Main"' in html, url
        assert 'href="#main"' in html  # the skip link
        assert 'aria-live="polite"' in html
        # Every visible input, select and textarea has a label (or an aria-label).
        labelled = set(re.findall(r'<label[^>]*for="([^"]+)"', html))
        for tag in re.findall(r"<(?:input|select|textarea)\b[^>]*>", html):
            if re.search(r'type="(hidden|submit)"', tag) or "aria-label=" in tag:
                continue
            match = re.search(r'\bid="([^"]+)"', tag)
            assert match and match.group(1) in labelled, (url, tag)


def test_navigation_follows_the_role(shop, client_for):
    def links(role):
        html = client_for(role).get("/").content.decode()
        block = html.split('aria-label="Main"', 1)[1].split("</nav>", 1)[0]
        return re.findall(r">([^<]+)</a>", block)

    assert {"Products", "Assets", "Share links"} <= set(links("admin"))
    assert "Share links" not in links("viewer")  # sharing needs assets.change_asset
    assert "Products" not in links("agency")  # agencies upload; they do not read the catalog
    assert "Assets" in links("agency")


def test_navigation_takes_new_entries():
    entry = nav.register(nav.NavEntry("later", "Later", "web:home", None, 99))
    try:

        class Anyone:
            def has_perm(self, perm):
                return True

        assert entry.key in [e["key"] for e in nav.visible(Anyone())]
        hidden = nav.NavEntry("gone", "Gone", "web:no_such_page")
        nav.register(hidden)
        assert "gone" not in [e["key"] for e in nav.visible(Anyone())]
    finally:
        nav.NAV.pop("later", None)
        nav.NAV.pop("gone", None)


def test_header_sku_search_lands_on_the_sku_360_page(shop, client_for):
    client = client_for("viewer")
    response = client.get("/sku/?q=bt-750-blue")
    assert response.status_code == 302
    assert response["Location"] == "/sku/BT-750-BLUE/"
    page = client.get("/sku/BT-750-BLUE/").content.decode()
    assert "SKU 360" in page and "Blue bottle front" in page
    # a prefix names several products: the page lists them
    listed = client.get("/sku/?q=BT-750").content.decode()
    assert "BT-750-BLUE" in listed and "BT-750-GREEN" in listed
    # a typo finds the SKU one edit away
    typo = client.get("/sku/?q=BT-750-BLEU").content.decode()
    assert "Did you mean" in typo and "BT-750-BLUE" in typo


def test_csrf_is_enforced_on_forms(shop, client_for):
    client = client_for("catalog_editor", csrf=True)
    refused = client.post("/products/EP-3000/", {"version": "1", "present_enabled": "1"})
    assert refused.status_code == 403
    page = client.get("/products/EP-3000/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())[1]
    assert page.content.decode().count(f'"X-CSRFToken": "{token}"') == 1  # htmx sends it too
    saved = client.post(
        "/products/EP-3000/",
        {"csrfmiddlewaretoken": token, "version": "1", "present_enabled": "1"},
    )
    assert saved.status_code == 302  # enabled off: a change, saved


def test_errors_are_pages_and_htmx_errors_go_to_the_flash_area(shop, client_for):
    client = client_for("viewer")
    missing = client.get("/products/NO-SUCH-SKU/")
    assert missing.status_code == 404
    assert b"no product with SKU" in missing.content
    refused = client.post("/links/1/remove/", headers={"HX-Request": "true"})
    assert refused.status_code == 403
    assert refused["HX-Retarget"] == "#flash"
    assert b'role="alert"' in refused.content
