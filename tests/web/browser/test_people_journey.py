"""People and access in a real browser: an administrator opens People from the main
navigation, adds a user with a temporary password and changes the role; the new user signs
in, sees the role in the header, and on My account makes an API token (shown once) and
revokes it. Every wait is on an element or a navigation, never on time."""

import re

import pytest
from django.test import Client
from playwright.sync_api import expect

from folio.accounts.models import ApiToken
from folio.accounts.services import user_roles
from tests.web.browser.conftest import sign_in
from tests.web.browser.test_no_inline_styles import visit, watch_policy

pytestmark = [pytest.mark.sqlite_only, pytest.mark.django_db(transaction=True)]

TEMPORARY = "temporary-horse-battery-7"


def test_add_a_user_who_makes_and_revokes_a_token(page, users):
    refused = watch_policy(page)  # the pages apply no inline style or script either
    sign_in(page, "ann")
    expect(page.get_by_role("link", name="Role: Administrator")).to_be_visible()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="People").click()
    expect(page.get_by_role("heading", name="People", exact=True)).to_be_visible()

    page.get_by_role("link", name="Add a user").click()
    page.get_by_label("Username").fill("nora")
    page.get_by_label("Viewer", exact=True).check()
    page.get_by_label("Temporary password").fill(TEMPORARY)
    page.get_by_role("button", name="Create user").click()
    expect(page.get_by_role("heading", name="nora", exact=True)).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("User nora created")

    page.get_by_label("Viewer", exact=True).uncheck()
    page.get_by_label("Publisher", exact=True).check()
    # Keyboard: the focused button submits with Enter.
    page.get_by_role("button", name="Save roles").focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("Roles of nora: Publisher")
    assert user_roles(users["admin"].__class__.objects.get(username="nora")) == ["publisher"]
    for url in ("/people/", "/people/users/nora/", "/audit/?action=user.", "/account/"):
        visit(page, url, refused)
    expect(page.get_by_role("heading", name="My account")).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, "nora", TEMPORARY)
    page.get_by_role("link", name="Role: Publisher").click()
    expect(page.get_by_role("heading", name="My account")).to_be_visible()
    expect(page.locator("#role")).to_contain_text("Runs channel publications")

    page.get_by_label("What it is for").fill("feed script")
    page.get_by_label("Only what I tick below").check()
    page.get_by_text("Permissions", exact=True).click()
    page.get_by_label("publishing.view_*").check()
    page.get_by_role("button", name="Create token").click()
    shown = page.get_by_label("Token", exact=True)
    expect(shown).to_have_value(re.compile(r"^folio_[0-9a-f]{12}_"))
    text = shown.input_value()
    assert Client(HTTP_AUTHORIZATION=f"Bearer {text}").get("/api/v1/me").status_code == 200

    visit(page, "/account/", refused)
    expect(page.get_by_label("Token", exact=True)).to_have_count(0)
    assert text not in page.content()
    page.get_by_role("button", name="Revoke token feed script").click()
    expect(page.get_by_role("status")).to_contain_text("Token “feed script” revoked")
    assert ApiToken.objects.get(name="feed script").revoked_at is not None
    assert Client(HTTP_AUTHORIZATION=f"Bearer {text}").get("/api/v1/me").status_code == 401
