"""The style policy in a real browser: with style-src 'self' Chromium refuses every <style>
element and style="…" attribute, says so on the console ("Applying inline style violates the
following Content Security Policy directive…") and fires a securitypolicyviolation event.
The main pages, and the htmx they load, must cause neither, and the progress bars and colour
chips (SVG attributes, not styles) must still show."""

import datetime
import io

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from folio import demo
from folio.assets import sharing
from folio.assets.models import Collection, ColorPalette
from tests.web.browser.conftest import sign_in

pytestmark = [
    pytest.mark.sqlite_only,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

# Runs in every document before the page's own scripts (Playwright injects it through the
# DevTools protocol, so the policy does not apply to it): keeps each refusal the page causes.
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(`${e.violatedDirective} refused ${e.blockedURI || "inline"}`);
});
"""


def watch_policy(page) -> list[str]:
    """This tab's console messages about the policy, from now on. Chromium reports a refused
    style as an error, worded "Applying inline style violates the following Content Security
    Policy directive 'style-src 'self''…" (older versions: "Refused to apply inline style…")."""
    refused: list[str] = []
    page.add_init_script(RECORD_VIOLATIONS)
    page.on(
        "console",
        lambda message: (
            refused.append(message.text)
            if "Content Security Policy" in message.text or "Refused to apply" in message.text
            else None
        ),
    )
    return refused


def visit(page, url: str, refused: list[str]) -> None:
    page.goto(url)
    page.wait_for_load_state("load")
    # htmx has run its start-up (where it would add its indicator <style>) once window.htmx
    # exists and the document has loaded; the public share page loads no htmx.
    page.wait_for_function(
        "() => document.readyState === 'complete'"
        " && (window.htmx || !document.querySelector('script[src*=htmx]'))"
    )
    violations = page.evaluate("window.__violations")
    assert (refused, violations) == ([], []), f"{url}: {refused} {violations}"


@pytest.fixture
def brand_kit_and_share(shop, users):
    kit = Collection.objects.create(code="brand", name="Aqualine brand", is_brand_kit=True)
    shop["approved"].collections.add(kit)
    ColorPalette.objects.create(
        collection=kit,
        name="Core",
        colours=[
            {
                "name": "Aqualine Blue",
                "hex": "#0B5CAD",
                "rgb": [11, 92, 173],
                "cmyk": [94, 47, 0, 32],
            }
        ],
    )
    _link, token = sharing.create_share_link(
        name="Press",
        collection="brand",
        expires_at=timezone.now() + datetime.timedelta(days=1),
        user=users["admin"],
    )
    return token


def test_main_pages_apply_no_inline_style(page, shop, brand_kit_and_share):
    refused = watch_policy(page)
    visit(page, f"/share/{brand_kit_and_share}/", refused)  # public: before signing in
    expect(page.get_by_role("link", name="Download", exact=True)).to_be_visible()
    # share.css applied: the button is the accent blue, not a plain link.
    assert (
        page.get_by_role("link", name="Download", exact=True).evaluate(
            "a => getComputedStyle(a).backgroundColor"
        )
        == "rgb(11, 92, 173)"
    )

    sign_in(page, "ann")
    asset = shop["approved"].pk
    for url in (
        "/",
        "/products/?channel=ecommerce&locale=en_US",
        "/products/BT-750-BLUE/?channel=ecommerce&locale=en_US",
        "/assets/",
        f"/assets/{asset}/",
        "/sku/BT-750-BLUE/",
        "/brand-kits/brand/",
    ):
        visit(page, url, refused)

    # The colour chip shows its colour, from the SVG fill attribute.
    chip = page.get_by_role("img", name="Aqualine Blue")
    expect(chip).to_be_visible()
    assert chip.locator("rect").evaluate("r => getComputedStyle(r).fill") == "rgb(11, 92, 173)"

    # A completeness bar's fill is as wide, within a pixel, as its percentage of the track.
    visit(page, "/products/BT-750-BLUE/?channel=ecommerce&locale=en_US", refused)
    bars = page.locator("#completeness svg.track")
    expect(bars.first).to_be_visible()
    for i in range(bars.count()):
        track = bars.nth(i)
        percent = int(track.locator("rect").get_attribute("width").rstrip("%"))
        track_width = track.bounding_box()["width"]
        fill_width = track.locator("rect").evaluate("r => r.getBoundingClientRect().width")
        assert abs(fill_width - track_width * percent / 100) <= 1, (percent, fill_width)

    # htmx's indicator rules come from folio.css instead of its own <style>.
    hidden = page.evaluate(
        """() => {
          const s = document.createElement('span');
          s.className = 'htmx-indicator';
          document.body.append(s);
          const v = getComputedStyle(s).visibility;
          s.remove();
          return v;
        }"""
    )
    assert hidden == "hidden"
    assert page.locator("head style").count() == 0

    # The watch works: markup with a style attribute, as an injection would add, is refused
    # and reported.
    page.evaluate(
        """document.body.insertAdjacentHTML("beforeend", '<p id="x" style="color: red">x</p>')"""
    )
    expect(page.locator("#x")).to_have_css("color", "rgb(29, 35, 48)")  # the body's ink
    page.wait_for_function("() => window.__violations.length > 0")
    assert any("style-src" in v for v in page.evaluate("window.__violations"))
    assert any("style-src" in message for message in refused)


def test_publishing_feed_page_applies_no_inline_style(page, users, media, settings, tmp_path):
    settings.PUBLICATIONS_DIR = tmp_path / "publications"
    settings.PUBLIC_URL = "https://demo.folio.example"
    demo.seed(io.StringIO())  # the test users exist already: the demo keeps them
    refused = watch_policy(page)
    sign_in(page, "pia")
    for url in ("/publishing/", "/publishing/marketplace/google/"):
        visit(page, url, refused)
    expect(page.get_by_role("heading", name="Google Merchant Center (XML)")).to_be_visible()
