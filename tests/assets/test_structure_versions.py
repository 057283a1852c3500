"""Versions of the structure around assets where the shared table (tests/test_concurrent_edits.py)
cannot reach: a tag is addressed by its name, so its stale rename is the one that comes back
after the name went away and returned; and the services keep working for callers that name
no version (web pages, CLI)."""

import datetime

import pytest

from folio.assets import editing, sharing
from folio.assets.models import CustomField, ReviewWorkflow, ShareLink, Tag
from folio.errors import StaleWrite
from tests.assets._workflow_fixtures import *  # noqa: F403 - fixtures

JSON = {"content_type": "application/json"}


def test_a_tag_renamed_away_and_back_refuses_the_rename_based_on_its_old_version(
    add_asset, api_client
):
    add_asset("A", tags=["sumer"])
    alice = api_client("asset_manager", "alice")
    bob = api_client("asset_manager", "bob")
    seen_by_bob = bob.get("/api/v1/asset-tags/sumer")
    assert seen_by_bob["ETag"] == 'W/"1"'
    assert seen_by_bob.json() == {"name": "sumer", "asset_count": 1, "version": 1}

    r = alice.patch("/api/v1/asset-tags/sumer", {"name": "summer", "version": 1}, **JSON)
    assert r.status_code == 200, r.json()
    assert (r.json()["version"], r["ETag"]) == (2, 'W/"2"')
    r = alice.patch("/api/v1/asset-tags/summer", {"name": "sumer"}, HTTP_IF_MATCH='W/"2"', **JSON)
    assert r.status_code == 200, r.json()
    now = alice.get("/api/v1/asset-tags/sumer").json()
    assert now["version"] == 3

    stale = bob.patch(
        "/api/v1/asset-tags/sumer", {"name": "sale"}, HTTP_IF_MATCH=seen_by_bob["ETag"], **JSON
    )
    assert stale.status_code == 409, stale.json()
    error = stale.json()["error"]
    assert error["code"] == "stale_write"
    assert error["details"]["current_version"] == 3
    assert error["details"]["current"] == now
    assert list(Tag.objects.values_list("name", "version")) == [("sumer", 3)]


def test_services_without_a_version_still_write_and_count_the_edit(add_asset, make_user):
    add_asset("A", tags=["sumer"])
    tag = editing.rename_tag("sumer", "summer")
    assert tag.version == 2
    with pytest.raises(StaleWrite):
        editing.delete_tag("summer", expected_version=1)
    editing.delete_tag("summer")
    assert not Tag.objects.exists()

    editing.create_custom_field("shoot", type="text")
    assert editing.update_custom_field("shoot", label="Shoot").version == 2
    with pytest.raises(StaleWrite) as stale:
        editing.update_custom_field("shoot", expected_version=1, label="Lost")
    assert stale.value.details["current"]["label"] == "Shoot"
    assert CustomField.objects.get(code="shoot").label == "Shoot"

    editing.create_workflow("print", steps=[{"name": "brand"}])
    assert editing.update_workflow("print", name="Print").version == 2
    with pytest.raises(StaleWrite):
        editing.delete_workflow("print", expected_version=1)
    assert ReviewWorkflow.objects.filter(code="print").exists()


def test_revoking_a_share_link_counts_as_an_edit(add_asset, make_user):
    admin = make_user("admin", "root")
    asset = add_asset("A")
    expires = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=3)
    link, _ = sharing.create_share_link(
        name="Press", asset_ids=[asset.pk], expires_at=expires, user=admin
    )
    assert link.version == 1
    with pytest.raises(StaleWrite):
        sharing.revoke_share_link(link.pk, admin, expected_version=2)
    assert ShareLink.objects.get(pk=link.pk).revoked_at is None
    assert sharing.revoke_share_link(link.pk, admin).version == 2
    # Revoking again without a version changes nothing (and counts nothing).
    assert sharing.revoke_share_link(link.pk, admin).version == 2
