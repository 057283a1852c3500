"""Maintain the structure in a real browser: a catalog manager adds an attribute to a family
and requires it on one channel, using the keyboard for the requirement; the API then reports
the new requirement and the stale write of a second tab is answered with the current state."""

import pytest
from playwright.sync_api import expect

from folio.catalog import structure
from folio.catalog.models import Family
from tests.web.browser.conftest import sign_in

pytestmark = [
    pytest.mark.sqlite_only,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_add_an_attribute_to_a_family_and_require_it_on_a_channel(page, catalog, users):
    sign_in(page, "max")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Structure").click()
    page.get_by_role("link", name="Families", exact=True).first.click()
    page.get_by_role("link", name="bottles", exact=True).click()
    expect(page.get_by_role("heading", name="Required per channel")).to_be_visible()

    page.get_by_label("Add attributes (codes, separated by commas)").fill("warranty_years")
    page.get_by_role("button", name="Save attributes").click()
    expect(page.locator("#flash")).to_contain_text("Attributes of bottles saved.")
    assert Family.objects.get(code="bottles").attributes.filter(code="warranty_years").exists()

    # The new attribute's row in the requirements grid, ticked with the keyboard.
    box = page.get_by_label("warranty_years required for ecommerce")
    expect(box).not_to_be_checked()
    box.focus()
    page.keyboard.press("Space")
    expect(box).to_be_checked()
    page.get_by_role("button", name="Save requirements").click()
    expect(page.locator("#flash")).to_contain_text("Requirements of bottles saved")
    expect(page.get_by_label("warranty_years required for ecommerce")).to_be_checked()
    expect(page.get_by_label("warranty_years required for marketplace")).not_to_be_checked()
    required = structure.family_requirements(Family.objects.get(code="bottles"))
    assert "warranty_years" in required["ecommerce"]
    assert "warranty_years" not in required.get("marketplace", [])

    # Someone else changes the family meanwhile: this page's next save is refused (409) and
    # the page shows the current state.
    structure.update_family("bottles", labels={"en_US": "Drinking bottles"})
    page.get_by_label("warranty_years required for marketplace").check()
    page.get_by_role("button", name="Save requirements").click()
    expect(page.get_by_role("alert")).to_contain_text("Someone else saved this")
    expect(page.get_by_role("heading", level=1)).to_have_text("Drinking bottles")
    expect(page.get_by_label("warranty_years required for marketplace")).not_to_be_checked()
