"""Asset managers scoped to collections and agency accounts, through the API with real tokens
and real files: what a scoped manager may upload and change, and that an agency sees,
searches, downloads and uploads only within its collections — everything else is a 403, or a
404 that does not tell it the asset exists."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from folio.accounts.models import AuditEntry
from folio.assets.models import Asset
from tests.assets.conftest import unique_jpeg


def post_file(client, data: bytes, name: str, **fields):
    return client.post("/api/v1/assets", {"file": SimpleUploadedFile(name, data), **fields})


def _json(client, method, url, body=None):
    return getattr(client, method)(
        url, json.dumps(body) if body is not None else None, content_type="application/json"
    )


@pytest.fixture
def library(api_client, media, collection):
    """Two collections, an asset in each (uploaded by an administrator), and the clients."""
    admin = api_client("admin")
    collection("winter")
    collection("summer")
    ids = {}
    for code, title in (("winter", "Snow boots"), ("summer", "Beach towel")):
        data = unique_jpeg()
        r = post_file(admin, data, f"{code}.jpg", collections=code, title=title)
        assert r.status_code == 201, r.content
        ids[code] = r.json()["id"]
        ids[f"{code}_bytes"] = data
    return admin, ids


@pytest.fixture
def scoped_manager(api_client, library):
    admin, _ = library
    client = api_client("asset_manager", "mia")
    r = _json(admin, "put", "/api/v1/users/mia/scope", {"collections": ["winter"]})
    assert r.status_code == 200, r.content
    assert r.json()["collections"] == ["winter"]
    assert r.json()["collections_as"] == "manager"
    return client


def test_scope_is_set_by_administrators_and_audited(scoped_manager, library, api_client):
    admin, _ = library
    entry = AuditEntry.objects.get(action="user.scope")
    assert entry.changes == {"collections": [[], ["winter"]]}
    assert (
        _json(scoped_manager, "put", "/api/v1/users/mia/scope", {"collections": []}).status_code
        == 403
    )
    r = _json(admin, "put", "/api/v1/users/mia/scope", {"collections": ["autumn"]})
    assert r.status_code == 422 and "no collection autumn" in r.json()["error"]["message"]
    # For an agency the collections are the ones it sees.
    api_client("agency", "agnes")
    r = _json(admin, "put", "/api/v1/users/agnes/scope", {"collections": ["summer"]})
    assert r.json() == {
        "username": "agnes",
        "categories": [],
        "collections": ["summer"],
        "collections_as": "agency",
        "version": 2,  # the account's version: setting its scope was an edit
    }
    assert admin.get("/api/v1/asset-collections/summer").json()["agencies"] == ["agnes"]


def test_scoped_manager_uploads_only_into_their_collections(scoped_manager, library):
    r = post_file(scoped_manager, unique_jpeg(), "a.jpg")
    assert r.status_code == 403
    assert r.json()["error"]["message"] == "uploads must go into the collection winter you manage"
    r = post_file(scoped_manager, unique_jpeg(), "b.jpg", collections="summer")
    assert r.status_code == 403
    assert r.json()["error"]["message"] == "you may not add files to summer: you manage winter"
    r = post_file(scoped_manager, unique_jpeg(), "c.jpg", collections="winter")
    assert r.status_code == 201, r.content
    assert Asset.objects.count() == 3


def test_scoped_manager_changes_only_assets_in_their_collections(scoped_manager, library):
    _, ids = library
    winter, summer = ids["winter"], ids["summer"]
    # Reading stays as the role allows.
    assert scoped_manager.get(f"/api/v1/assets/{summer}").status_code == 200

    r = _json(scoped_manager, "patch", f"/api/v1/assets/{summer}", {"title": "Mine now"})
    assert r.status_code == 403
    assert (
        r.json()["error"]["message"]
        == f"asset #{summer} is not in the collection winter you manage"
    )
    assert Asset.objects.get(pk=summer).title == "Beach towel"
    r = _json(scoped_manager, "patch", f"/api/v1/assets/{winter}", {"title": "Snow boots, red"})
    assert r.status_code == 200, r.content

    # Moving an asset into or out of someone else's collection is refused.
    r = _json(scoped_manager, "patch", f"/api/v1/assets/{winter}", {"collections": ["summer"]})
    assert r.status_code == 403 and "summer" in r.json()["error"]["message"]
    r = _json(
        scoped_manager, "patch", f"/api/v1/assets/{winter}", {"collections": ["winter", "summer"]}
    )
    assert r.status_code == 403
    assert list(Asset.objects.get(pk=winter).collections.values_list("code", flat=True)) == [
        "winter"
    ]

    for action in ("archive", "submit"):
        r = scoped_manager.post(f"/api/v1/assets/{summer}/{action}")
        assert r.status_code == 403, (action, r.content)
    assert scoped_manager.post(f"/api/v1/assets/{winter}/archive").status_code == 200
    assert scoped_manager.post(f"/api/v1/assets/{winter}/unarchive").status_code == 200

    r = scoped_manager.post(
        f"/api/v1/assets/{summer}/versions", {"file": SimpleUploadedFile("v2.jpg", unique_jpeg())}
    )
    assert r.status_code == 403
    assert Asset.objects.get(pk=summer).versions.count() == 1
    r = scoped_manager.post(
        f"/api/v1/assets/{winter}/versions", {"file": SimpleUploadedFile("v2.jpg", unique_jpeg())}
    )
    assert r.status_code == 201, r.content


def test_scoped_manager_changes_only_their_collections(scoped_manager, library):
    r = _json(scoped_manager, "patch", "/api/v1/asset-collections/summer", {"name": "Hot"})
    assert r.status_code == 403
    r = _json(scoped_manager, "patch", "/api/v1/asset-collections/winter", {"name": "Cold"})
    assert r.status_code == 200, r.content
    r = _json(scoped_manager, "post", "/api/v1/asset-collections", {"code": "spring", "name": "S"})
    assert r.status_code == 403 and "ask an administrator" in r.json()["error"]["message"]
    assert scoped_manager.delete("/api/v1/asset-collections/summer").status_code == 403


def test_unscoped_managers_are_unchanged(api_client, library):
    _, ids = library
    free = api_client("asset_manager", "max")
    r = _json(free, "patch", f"/api/v1/assets/{ids['summer']}", {"title": "Towel"})
    assert r.status_code == 200
    assert post_file(free, unique_jpeg(), "x.jpg").status_code == 201


@pytest.fixture
def agency(api_client, library):
    admin, _ = library
    client = api_client("agency", "agnes")
    assert (
        _json(admin, "put", "/api/v1/users/agnes/scope", {"collections": ["winter"]}).status_code
        == 200
    )
    return client


def test_agency_sees_only_its_collections(agency, library):
    _, ids = library
    winter, summer = ids["winter"], ids["summer"]
    listed = agency.get("/api/v1/assets").json()["results"]
    assert [a["id"] for a in listed] == [winter]
    assert agency.get(f"/api/v1/assets/{winter}").status_code == 200
    collections = agency.get("/api/v1/asset-collections").json()["results"]
    assert [c["code"] for c in collections] == ["winter"]
    assert agency.get("/api/v1/asset-collections/summer").status_code == 404

    # Everything about the other asset is a 404, exactly like an asset that does not exist.
    missing = 999_999
    for path in (
        "/api/v1/assets/{}",
        "/api/v1/assets/{}/versions",
        "/api/v1/assets/{}/versions/1/download",
        "/api/v1/assets/{}/history",
        "/api/v1/assets/{}/previews",
        "/api/v1/assets/{}/similar",
    ):
        hidden = agency.get(path.format(summer))
        absent = agency.get(path.format(missing))
        assert hidden.status_code == absent.status_code == 404, (path, hidden.content)
        assert hidden.json()["error"]["message"].replace(str(summer), "N") == absent.json()[
            "error"
        ]["message"].replace(str(missing), "N"), path

    # Its own asset's original downloads, byte for byte.
    got = agency.get(f"/api/v1/assets/{winter}/versions/1/download")
    assert got.status_code == 200
    assert b"".join(got.streaming_content) == ids["winter_bytes"]

    # Search, tags, the DAM feed and the list of external assets hold only what it may see.
    found = agency.get("/api/v1/search", {"q": "", "kind": "asset"}).json()["hits"]
    assert {h["id"] for h in found} <= {winter}
    found = agency.get("/api/v1/search", {"q": "Beach", "kind": "asset"}).json()["hits"]
    assert found == []
    found = agency.get("/api/v1/search/all", {"q": "towel"})
    assert all(h["id"] != summer for h in found.json().get("hits", []))
    feed = agency.get("/api/v1/dam/assets")
    assert feed.status_code == 200
    assert all(a["id"] == winter and a["links"] == [] for a in feed.json()["results"])


def test_agency_cannot_change_or_reach_the_catalog(agency, library, catalog):
    _, ids = library
    winter, summer = ids["winter"], ids["summer"]
    forbidden = (
        ("get", "/api/v1/catalog/products"),
        ("get", f"/api/v1/assets/{winter}/where-used"),
        ("get", f"/api/v1/assets/{winter}/renditions"),
        ("get", "/api/v1/brand-kits"),
        ("get", "/api/v1/share-links"),
        ("get", "/api/v1/catalog/categories"),
        ("get", "/api/v1/search/all?q=x&kind=product"),
    )
    for method, path in forbidden:
        r = getattr(agency, method)(path)
        assert r.status_code == 403, (path, r.status_code)
    r = _json(agency, "patch", f"/api/v1/assets/{winter}", {"title": "x"})
    assert r.status_code == 403
    r = _json(
        agency,
        "post",
        "/api/v1/share-links",
        {"name": "x", "assets": [winter], "expires_at": "2099-01-01T00:00:00Z"},
    )
    assert r.status_code == 403
    r = agency.post(f"/api/v1/assets/{summer}/submit")
    assert r.status_code == 404
    r = post_file(agency, unique_jpeg(), "drop.jpg", collections="summer")
    assert r.status_code == 403
    r = post_file(agency, unique_jpeg(), "drop.jpg", collections="winter")
    assert r.status_code == 201, r.content
    # Its upload it may submit for review.
    assert agency.post(f"/api/v1/assets/{r.json()['id']}/submit").status_code == 200
