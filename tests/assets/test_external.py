"""Assets of another DAM: upsert, the signed webhook, rights, linking, and the /dam/assets feed."""

import datetime
import io
import json
import time

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from folio.assets import external, rights
from folio.assets.models import Asset, AssetChange, ExternalSystem
from folio.assets.services import add_asset
from folio.assets.webhook_views import sign
from folio.catalog import services as catalog_services
from folio.catalog.models import FamilyVariant, ProductModel
from folio.linking import services as linking
from tests.assets import files

SECRET = "s3cret-shared-with-the-other-dam"


@pytest.fixture
def dam(db):
    system, _ = external.register_system("acme-dam", "Acme DAM", SECRET)
    return system


def deliver(events, *, system="acme-dam", secret=SECRET, stamp=None, body=None):
    body = body if body is not None else json.dumps({"events": events}).encode()
    stamp = str(int(time.time()) if stamp is None else stamp)
    return Client().post(
        f"/webhooks/dam/{system}",
        body,
        content_type="application/json",
        HTTP_X_FOLIO_TIMESTAMP=stamp,
        HTTP_X_FOLIO_SIGNATURE=sign(secret, stamp, body),
    )


EVENT = {
    "type": "asset.upserted",
    "external_id": "IMG-1",
    "url": "https://dam.example/IMG-1.jpg",
    "title": "Front packshot",
    "kind": "packshot",
    "status": "in_review",
    "mime": "image/jpeg",
    "filename": "IMG-1.jpg",
    "width": 2000,
    "height": 1500,
    "alt_text": {"en_US": "A bottle"},
}


def test_upsert_creates_without_local_file_and_status_from_the_other_dam(dam):
    done = external.upsert_external(
        dam,
        "IMG-1",
        url="https://dam.example/1.jpg",
        title="Front",
        mime="image/jpeg",
        status="draft",
    )
    asset = done.asset
    assert done.result == "created" and asset.current_version_id is None
    assert asset.type == "image" and asset.external_system == "acme-dam"
    assert rights.is_publishable(asset)[0] is False
    done = external.upsert_external(dam, "IMG-1", status="approved")
    assert done.result == "updated"
    asset.refresh_from_db()
    assert rights.is_publishable(asset) == (True, [])
    change = AssetChange.objects.filter(asset=asset, action="external_status").first()
    assert change.username == "dam:acme-dam"
    assert change.changes[0] == {
        "field": "status",
        "old": "draft",
        "new": "approved",
        "decided_by": "dam:acme-dam",
    }
    # the same facts again change nothing
    before = asset.version
    assert (
        external.upsert_external(dam, "IMG-1", status="approved", title="Front").result
        == "unchanged"
    )
    asset.refresh_from_db()
    assert asset.version == before


def test_expiry_is_respected(dam):
    past = timezone.now() - datetime.timedelta(days=1)
    asset = external.upsert_external(
        dam, "IMG-2", status="approved", expires_at=past, mime="application/pdf"
    ).asset
    assert asset.type == "pdf"
    ok, reasons = rights.is_publishable(asset)
    assert not ok and "expired" in reasons[0]


def test_bad_fact_names_the_field(dam):
    from folio.errors import InvalidInput

    with pytest.raises(InvalidInput) as err:
        external.upsert_external(dam, "X", status="published")
    assert err.value.details["field"] == "status"
    with pytest.raises(InvalidInput) as err:
        external.upsert_external(dam, "X", channels=["nope"])
    assert err.value.details["field"] == "channels"
    assert not Asset.objects.exists()


def test_webhook_good_signature_is_idempotent(dam):
    r = deliver([EVENT])
    assert r.status_code == 200, r.content
    [result] = r.json()["results"]
    assert result["result"] == "created"
    asset = Asset.objects.get(pk=result["asset_id"])
    assert asset.status == "in_review" and asset.alt_text == {"en_US": "A bottle"}
    assert asset.custom["external_file"]["width"] == 2000
    history = AssetChange.objects.filter(asset=asset).count()
    r = deliver([EVENT])  # re-delivery
    assert r.json()["results"][0]["result"] == "unchanged"
    assert AssetChange.objects.filter(asset=asset).count() == history
    assert Asset.objects.count() == 1
    r = deliver([{"type": "asset.deleted", "external_id": "IMG-1"}])
    assert r.json()["results"][0]["result"] == "deleted"
    asset.refresh_from_db()
    assert asset.status == "archived"
    assert (
        deliver([{"type": "asset.deleted", "external_id": "IMG-1"}]).json()["results"][0]["result"]
        == "unchanged"
    )


def test_webhook_out_of_order_event_is_skipped(dam):
    newer = {**EVENT, "status": "approved", "updated_at": "2030-01-02T00:00:00Z"}
    older = {**EVENT, "status": "rejected", "updated_at": "2030-01-01T00:00:00Z"}
    assert deliver([newer]).status_code == 200
    assert deliver([older]).json()["results"][0]["result"] == "skipped"
    assert Asset.objects.get().status == "approved"


def test_webhook_refuses_bad_and_stale_signatures(dam):
    assert deliver([EVENT], secret="wrong-secret-wrong-secret").status_code == 401
    assert deliver([EVENT], stamp=int(time.time()) - 301).status_code == 401
    assert deliver([EVENT], system="unknown").status_code == 401
    body = json.dumps({"events": [EVENT]}).encode()
    stamp = str(int(time.time()))
    r = Client().post(
        "/webhooks/dam/acme-dam",
        body,
        content_type="application/json",
        HTTP_X_FOLIO_TIMESTAMP=stamp,
        HTTP_X_FOLIO_SIGNATURE="sha256=00",
    )
    assert r.status_code == 401
    assert Client().get("/webhooks/dam/acme-dam").status_code == 405
    assert not Asset.objects.exists()


def test_webhook_bad_payload_names_event_and_field_and_writes_nothing(dam):
    r = deliver(None, body=b"not json")
    assert r.status_code == 400
    r = deliver([EVENT, {"type": "asset.upserted", "external_id": "IMG-9", "status": "bogus"}])
    assert r.status_code == 422
    assert r.json()["error"]["details"] == {"event": 1, "field": "status"}
    r = deliver([{"type": "asset.moved", "external_id": "IMG-9"}])
    assert r.json()["error"]["details"] == {"event": 0, "field": "type"}
    assert not Asset.objects.exists()  # the good first event was rolled back too


@pytest.fixture
def media(settings, tmp_path):
    (tmp_path / "media").mkdir()
    (tmp_path / "uploads").mkdir()
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.UPLOAD_DIR = tmp_path / "uploads"


@pytest.fixture
def bottle(catalog, media):
    fv = FamilyVariant.objects.get(code="bottles_by_size_color")
    root = ProductModel.objects.create(code="WB-SS", family_variant=fv)
    ProductModel.objects.create(code="WB-750-SS", family_variant=fv, parent=root)
    return catalog_services.create_product(
        {
            "sku": "WB-750-SS-BLUE",
            "parent": "WB-750-SS",
            "values": {"color": [{"locale": None, "scope": None, "data": "blue"}]},
        }
    )


def test_linking_an_external_asset(dam, bottle):
    asset = external.upsert_external(
        dam, "IMG-1", status="approved", url="https://dam.example/1.jpg"
    ).asset
    linking.link("WB-750-SS-BLUE", asset.pk, "main")
    resolved = linking.links_for("WB-750-SS-BLUE")
    assert [e["asset_id"] for e in resolved["main"]] == [asset.pk]


def test_dam_feed_lists_only_approved_in_rights_assets(dam, bottle, api_client):
    ok = external.upsert_external(
        dam, "OK", status="approved", url="https://dam.example/ok.jpg"
    ).asset
    external.upsert_external(dam, "DRAFT", status="draft")
    external.upsert_external(
        dam, "EXPIRED", status="approved", expires_at=timezone.now() - datetime.timedelta(hours=1)
    )
    external.upsert_external(
        dam, "LATER", status="approved", valid_from=timezone.now() + datetime.timedelta(days=1)
    )
    local = add_asset(io.BytesIO(files.jpeg()), filename="local.jpg")
    Asset.objects.filter(pk=local.pk).update(status="approved")
    linking.link("WB-750-SS-BLUE", ok.pk, "main")
    viewer = api_client("viewer")
    with CaptureQueriesContext(connection) as queries:
        r = viewer.get("/api/v1/dam/assets")
    assert r.status_code == 200, r.content
    items = r.json()["results"]
    assert [i["id"] for i in items] == [local.pk, ok.pk]
    by_id = {i["id"]: i for i in items}
    assert by_id[ok.pk]["download_url"] == "https://dam.example/ok.jpg"
    assert by_id[ok.pk]["links"] == [
        {"sku": "WB-750-SS-BLUE", "role": "main", "position": 1, "locale": "", "channel": None}
    ]
    assert by_id[local.pk]["download_url"].endswith(f"/assets/{local.pk}/versions/1/download")
    assert by_id[local.pk]["file"]["mime"] == "image/jpeg"
    # assets, channels, links: a fixed number of queries whatever the page holds
    assert len(queries) <= 12
    future = (timezone.now() + datetime.timedelta(minutes=5)).isoformat()
    r = viewer.get("/api/v1/dam/assets", {"updated_since": future})
    assert r.json()["results"] == []


def test_api_systems_admin_only_and_upsert(db, api_client):
    admin, manager = api_client("admin"), api_client("asset_manager", "mgr")
    r = manager.post(
        "/api/v1/external-systems", {"code": "x-dam", "name": "X"}, content_type="application/json"
    )
    assert r.status_code == 403
    r = admin.post(
        "/api/v1/external-systems", {"code": "x-dam", "name": "X"}, content_type="application/json"
    )
    assert r.status_code == 201 and len(r.json()["secret"]) >= 16
    for secret in ("too-short", "x" * 201):  # the same rule as when a secret is rotated
        r = admin.post(
            "/api/v1/external-systems",
            {"code": "y-dam", "name": "Y", "secret": secret},
            content_type="application/json",
        )
        assert r.status_code == 422
        assert "between 16 and 200 characters" in r.content.decode()
    assert not ExternalSystem.objects.filter(code="y-dam").exists()
    assert "secret" not in admin.get("/api/v1/external-systems").json()[0]
    r = manager.put(
        "/api/v1/external-assets/x-dam/IMG-7",
        {"title": "Seven", "status": "approved", "mime": "video/mp4"},
        content_type="application/json",
    )
    assert r.status_code == 200, r.content
    assert r.json()["result"] == "created" and r.json()["asset"]["type"] == "video"
    r = manager.put(
        "/api/v1/external-assets/x-dam/IMG-7", {"status": "nope"}, content_type="application/json"
    )
    assert r.status_code == 422
    r = api_client("viewer").get("/api/v1/external-assets", {"system": "x-dam"})
    assert [a["external_id"] for a in r.json()["results"]] == ["IMG-7"]
    r = api_client("viewer", "v2").put(
        "/api/v1/external-assets/x-dam/IMG-8", {}, content_type="application/json"
    )
    assert r.status_code == 403


# --- changing a registered system -------------------------------------------------------------


def _json(client, method, url, body=None, **headers):
    return getattr(client, method)(
        url, json.dumps(body or {}), content_type="application/json", headers=headers
    )


def test_api_rename_with_version_and_stale_version_is_409(dam, api_client):
    from folio.accounts.models import AuditEntry

    admin = api_client("admin")
    [listed] = admin.get("/api/v1/external-systems").json()
    assert listed["version"] == 1
    r = _json(admin, "patch", "/api/v1/external-systems/acme-dam", {"name": "Acme", "version": 1})
    assert r.status_code == 200, r.content
    assert (r.json()["name"], r.json()["version"], r["ETag"]) == ("Acme", 2, 'W/"2"')
    stale = _json(
        admin,
        "patch",
        "/api/v1/external-systems/acme-dam",
        {"name": "Late"},
        **{"If-Match": 'W/"1"'},
    )
    assert stale.status_code == 409
    error = stale.json()["error"]
    assert error["code"] == "stale_write" and error["details"]["current"]["name"] == "Acme"
    assert SECRET not in stale.content.decode()
    dam.refresh_from_db()
    assert (dam.name, dam.code) == ("Acme", "acme-dam")
    blank = _json(admin, "patch", "/api/v1/external-systems/acme-dam", {"name": " "})
    assert blank.status_code == 422
    entry = AuditEntry.objects.filter(action="external_system.update").get()
    assert entry.changes == {"name": ["Acme DAM", "Acme"]}


def test_api_rotate_secret_refuses_the_old_one_at_once(dam, api_client):
    from folio.accounts.models import AuditEntry

    admin = api_client("admin")
    assert deliver([EVENT]).status_code == 200
    r = _json(admin, "post", "/api/v1/external-systems/acme-dam/rotate-secret", {"version": 1})
    assert r.status_code == 200, r.content
    new = r.json()["secret"]
    assert len(new) >= 16 and new != SECRET and r.json()["version"] == 2
    assert deliver([EVENT]).status_code == 401
    assert deliver([EVENT], secret=new).status_code == 200
    stale = _json(admin, "post", "/api/v1/external-systems/acme-dam/rotate-secret", {"version": 1})
    assert stale.status_code == 409 and new not in stale.content.decode()
    given = "a-secret-chosen-by-the-admin-0123"
    r = _json(admin, "post", "/api/v1/external-systems/acme-dam/rotate-secret", {"secret": given})
    assert r.json()["secret"] == given and deliver([EVENT], secret=given).status_code == 200
    short = _json(admin, "post", "/api/v1/external-systems/acme-dam/rotate-secret", {"secret": "x"})
    assert short.status_code == 422
    assert "secret" not in admin.get("/api/v1/external-systems").json()[0]
    for entry in AuditEntry.objects.filter(action__startswith="external_system"):
        text = json.dumps(entry.changes) + entry.summary
        assert SECRET not in text and new not in text and given not in text


def test_api_delete_is_refused_while_assets_come_from_the_system(dam, api_client):
    admin = api_client("admin")
    asset = external.upsert_external(dam, "IMG-1", title="One").asset
    r = admin.delete("/api/v1/external-systems/acme-dam")
    assert r.status_code == 409
    message = r.json()["error"]["message"]
    assert "1 asset from external system acme-dam is not archived" in message
    assert r.json()["error"]["details"]["assets"] == 1
    # Archived (here by the other DAM's deletion), it no longer holds the system back; it
    # keeps the system's code as the record of where it came from.
    assert deliver([{"type": "asset.deleted", "external_id": "IMG-1"}]).status_code == 200
    asset.refresh_from_db()
    assert asset.status == "archived" and asset.external_system == "acme-dam"
    stale = admin.delete("/api/v1/external-systems/acme-dam", headers={"If-Match": 'W/"7"'})
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "stale_write"
    r = admin.delete("/api/v1/external-systems/acme-dam?version=1")
    assert r.status_code == 204
    assert admin.get("/api/v1/external-systems").json() == []
    assert admin.delete("/api/v1/external-systems/acme-dam").status_code == 404
    assert deliver([EVENT]).status_code == 401


def test_api_changes_are_admin_only(dam, api_client):
    manager = api_client("asset_manager", "mgr")
    base = "/api/v1/external-systems/acme-dam"
    assert _json(manager, "patch", base, {"name": "Mine"}).status_code == 403
    assert _json(manager, "post", f"{base}/rotate-secret").status_code == 403
    assert manager.delete(base).status_code == 403
    dam.refresh_from_db()
    assert (dam.name, dam.secret, dam.version) == ("Acme DAM", SECRET, 1)
