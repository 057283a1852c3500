"""Metadata edits (validation, optimistic concurrency, history) and the structure around
assets: collections, tags, custom fields, review workflows."""

import pytest

from folio.accounts.models import AuditEntry
from folio.assets import editing, workflow
from folio.assets.models import AssetChange, Collection, CustomField, Tag
from folio.errors import Conflict, InvalidInput
from tests.assets._workflow_fixtures import *  # noqa: F403 - fixtures
from tests.assets._workflow_fixtures import client_for

JSON = {"content_type": "application/json"}


def test_edit_metadata_records_old_and_new(add_asset, uploader, catalog):
    editing.create_collection("brand-kit", name="Brand kit", is_brand_kit=True)
    asset = add_asset("Front", tags=["old"])
    client = client_for(uploader)
    r = client.patch(
        f"/api/v1/assets/{asset.pk}",
        {
            "version": asset.version,
            "title": "EspressoPro front",
            "description": "Studio shot",
            "alt_text": {"en_US": "Espresso machine", "de_DE": "Espressomaschine"},
            "tags": ["  Winter   Sale ", "winter sale", "Coffee"],
            "collections": ["brand-kit"],
            "kind": "lifestyle",
            "creator": "Anna Lindqvist",
            "copyright": "© Aqualine",
            "credit": "Aqualine GmbH",
            "licence": "Royalty-free",
            "channels": ["ecommerce"],
        },
        **JSON,
    )
    assert r.status_code == 200, r.json()
    body = r.json()
    assert body["version"] == asset.version + 1
    assert r["ETag"] == f'W/"{asset.version + 1}"'
    assert body["tags"] == ["coffee", "winter sale"]
    assert body["alt_text"] == {"en_US": "Espresso machine", "de_DE": "Espressomaschine"}
    assert body["rights"]["channels"] == ["ecommerce"]
    change = AssetChange.objects.filter(asset=asset, action="edit").get()
    by_field = {c["field"]: c for c in change.changes}
    assert by_field["title"]["old"] == "Front" and by_field["title"]["new"] == "EspressoPro front"
    assert by_field["tags"] == {"field": "tags", "old": ["old"], "new": ["coffee", "winter sale"]}
    assert change.username == "uploader"
    assert AuditEntry.objects.filter(action="asset.edit", object_id=str(asset.pk)).exists()

    # alt_text merges: a locale set to "" goes, others stay.
    r = client.patch(
        f"/api/v1/assets/{asset.pk}", {"alt_text": {"de_DE": "", "fr_FR": "Cafetière"}}, **JSON
    )
    assert r.json()["alt_text"] == {"en_US": "Espresso machine", "fr_FR": "Cafetière"}


def test_stale_version_answers_409_and_changes_nothing(add_asset, uploader):
    asset = add_asset("Original")
    client = client_for(uploader)
    stale = asset.version
    assert (
        client.patch(
            f"/api/v1/assets/{asset.pk}", {"title": "First", "version": stale}, **JSON
        ).status_code
        == 200
    )
    r = client.patch(
        f"/api/v1/assets/{asset.pk}",
        {"title": "Second", "tags": ["brand-new-tag"]},
        HTTP_IF_MATCH=f'W/"{stale}"',
        **JSON,
    )
    assert r.status_code == 409
    error = r.json()["error"]
    assert error["code"] == "stale_write"
    assert error["details"]["current"]["title"] == "First"
    asset.refresh_from_db()
    assert asset.title == "First"
    assert not Tag.objects.filter(name="brand-new-tag").exists()


def test_invalid_input_names_fields_and_writes_nothing(add_asset, uploader, catalog):
    asset = add_asset("Untouched")
    client = client_for(uploader)
    r = client.patch(
        f"/api/v1/assets/{asset.pk}",
        {"title": "Changed", "alt_text": {"xx_XX": "?"}, "kind": "meme"},
        **JSON,
    )
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["error"]["details"]["errors"]}
    assert fields == {"alt_text.xx_XX", "kind"}
    asset.refresh_from_db()
    assert asset.title == "Untouched"
    assert not AssetChange.objects.filter(asset=asset, action="edit").exists()


def test_custom_fields_are_validated(add_asset, uploader):
    editing.create_custom_field(
        "campaign", label="Campaign", type="select", options=["winter", "summer"]
    )
    editing.create_custom_field("shoot_date", label="Shoot date", type="date")
    editing.create_custom_field("budget", label="Budget", type="number")
    editing.create_custom_field("agency_ref", label="Agency reference", type="text", required=True)
    asset = add_asset()
    client = client_for(uploader)

    for value, field in (
        ({"campaign": "autumn"}, "custom.campaign"),
        ({"shoot_date": "31/12/2025"}, "custom.shoot_date"),
        ({"budget": "lots"}, "custom.budget"),
        ({"unknown": "x"}, "custom.unknown"),
    ):
        r = client.patch(f"/api/v1/assets/{asset.pk}", {"custom": value}, **JSON)
        assert r.status_code == 422, value
        assert r.json()["error"]["details"]["field"] == field
        assert field in r.json()["error"]["message"]

    # A required field must be filled before review, and cannot be emptied.
    with pytest.raises(InvalidInput) as err:
        workflow.submit_for_review(asset.pk, uploader)
    assert err.value.details["field"] == "custom.agency_ref"
    r = client.patch(
        f"/api/v1/assets/{asset.pk}",
        {
            "custom": {
                "campaign": "winter",
                "shoot_date": "2025-11-02",
                "budget": "1200.50",
                "agency_ref": "AQ-7",
            }
        },
        **JSON,
    )
    assert r.status_code == 200
    assert r.json()["custom"] == {
        "campaign": "winter",
        "shoot_date": "2025-11-02",
        "budget": 1200.5,
        "agency_ref": "AQ-7",
    }
    r = client.patch(f"/api/v1/assets/{asset.pk}", {"custom": {"agency_ref": None}}, **JSON)
    assert r.status_code == 422
    assert r.json()["error"]["details"]["field"] == "custom.agency_ref"
    workflow.submit_for_review(asset.pk, uploader)

    with pytest.raises(Conflict):  # values exist
        editing.delete_custom_field("campaign")
    with pytest.raises(InvalidInput):
        editing.create_custom_field("empty_select", type="select")


def test_viewer_cannot_write(add_asset, api_client):
    asset = add_asset()
    viewer = api_client("viewer")
    assert viewer.get(f"/api/v1/assets/{asset.pk}").status_code == 200
    assert viewer.patch(f"/api/v1/assets/{asset.pk}", {"title": "x"}, **JSON).status_code == 403
    assert viewer.post("/api/v1/asset-collections", {"code": "x"}, **JSON).status_code == 403
    assert (
        viewer.post(
            "/api/v1/asset-custom-fields", {"code": "x", "type": "text"}, **JSON
        ).status_code
        == 403
    )
    assert (
        viewer.post("/api/v1/asset-workflows", {"code": "x", "steps": []}, **JSON).status_code
        == 403
    )
    assert viewer.patch("/api/v1/asset-tags/x", {"name": "y"}, **JSON).status_code == 403


def test_collections_crud(api_client, make_user, groups_and_approvers):
    admin = api_client("asset_manager", "manager")
    agency = make_user("agency", "studio-north")
    editing.create_workflow("brand-only", steps=[{"name": "brand", "group": "brand-approvers"}])
    r = admin.post(
        "/api/v1/asset-collections",
        {
            "code": "winter-2025",
            "name": "Winter 2025",
            "workflow": "brand-only",
            "agencies": ["studio-north"],
        },
        **JSON,
    )
    assert r.status_code == 201, r.json()
    assert r.json()["workflow"] == "brand-only" and r.json()["agencies"] == ["studio-north"]
    assert (
        admin.post("/api/v1/asset-collections", {"code": "winter-2025"}, **JSON).status_code == 409
    )
    r = admin.patch("/api/v1/asset-collections/winter-2025", {"workflow": "nope"}, **JSON)
    assert r.status_code == 422
    version = r2 = admin.get("/api/v1/asset-collections/winter-2025").json()["version"]
    r2 = admin.patch(
        "/api/v1/asset-collections/winter-2025", {"name": "Winter", "version": version}, **JSON
    )
    assert r2.status_code == 200
    r3 = admin.patch(
        "/api/v1/asset-collections/winter-2025", {"name": "Late", "version": version}, **JSON
    )
    assert r3.status_code == 409
    assert (
        client_for(agency).get("/api/v1/asset-collections").json()["results"][0]["code"]
        == "winter-2025"
    )
    assert admin.delete("/api/v1/asset-collections/winter-2025").status_code == 204
    assert not Collection.objects.filter(code="winter-2025").exists()


def test_tags_rename_and_merge(add_asset, api_client):
    a = add_asset("A", tags=["coffee"])
    b = add_asset("B", tags=["Kaffee"])
    c = add_asset("C", tags=["espresso"])
    manager = api_client("asset_manager", "manager")
    r = manager.patch("/api/v1/asset-tags/espresso", {"name": "Espresso  Drinks"}, **JSON)
    assert r.json() == {"name": "espresso drinks", "asset_count": 1, "version": 2}
    r = manager.patch("/api/v1/asset-tags/espresso%20drinks", {"name": "coffee"}, **JSON)
    assert r.status_code == 409
    r = manager.post(
        "/api/v1/asset-tags/merge",
        {"tags": ["Kaffee", "espresso drinks"], "into": "coffee"},
        **JSON,
    )
    assert r.status_code == 200, r.json()
    assert r.json() == {"name": "coffee", "asset_count": 3, "version": 1}
    assert sorted(Tag.objects.values_list("name", flat=True)) == ["coffee"]
    for asset in (a, b, c):
        assert [t.name for t in asset.tags.all()] == ["coffee"]
    assert [t["name"] for t in manager.get("/api/v1/asset-tags").json()] == ["coffee"]


def test_workflow_steps_are_validated(api_client, groups_and_approvers):
    manager = api_client("asset_manager", "manager")
    r = manager.post(
        "/api/v1/asset-workflows",
        {
            "code": "dup",
            "steps": [
                {"name": "brand", "group": "brand-approvers"},
                {"name": "brand", "group": "legal-approvers"},
            ],
        },
        **JSON,
    )
    assert r.status_code == 422
    assert r.json()["error"]["details"]["field"] == "steps.1.name"
    r = manager.post(
        "/api/v1/asset-workflows",
        {"code": "ghost", "steps": [{"name": "x", "group": "nobody"}]},
        **JSON,
    )
    assert r.status_code == 422
    assert r.json()["error"]["details"]["field"] == "steps.0.group"
    r = manager.post(
        "/api/v1/asset-workflows",
        {
            "code": "logos",
            "name": "Logos",
            "steps": [{"name": "legal", "group": "legal-approvers"}],
            "kinds": ["logo"],
        },
        **JSON,
    )
    assert r.status_code == 201
    r = manager.post(
        "/api/v1/asset-workflows",
        {"code": "logos2", "steps": [{"name": "x"}], "kinds": ["logo"]},
        **JSON,
    )
    assert r.status_code == 422  # a kind has one workflow
    r = manager.patch(
        "/api/v1/asset-workflows/logos",
        {"steps": [{"name": "brand", "group": "brand-approvers"}]},
        **JSON,
    )
    assert r.json()["steps"] == [{"name": "brand", "group": "brand-approvers"}]
    assert CustomField.objects.count() == 0


def test_upload_tags_are_normalised_like_edited_ones(add_asset, api_client):
    """An upload's tags join existing ones whatever their case and spacing, as edits do."""
    first = add_asset("A", tags=["Coffee"])
    second = add_asset("B", tags=["  coffee ", "COFFEE", "Cold  Brew"])
    assert sorted(Tag.objects.values_list("name", flat=True)) == ["coffee", "cold brew"]
    assert [t.name for t in first.tags.all()] == ["coffee"]
    assert sorted(t.name for t in second.tags.all()) == ["coffee", "cold brew"]
    manager = api_client("asset_manager", "manager")
    listed = {t["name"]: t["asset_count"] for t in manager.get("/api/v1/asset-tags").json()}
    assert listed == {"coffee": 2, "cold brew": 1}
