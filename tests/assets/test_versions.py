"""Versions: new files, review reset, identical bytes, restore, retention pruning."""

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from folio.accounts.models import AuditEntry
from folio.assets import services, signals, storage
from folio.assets.models import Asset, AssetChange, AssetVersion, Blob, Preview
from folio.errors import Conflict, StaleWrite
from tests.assets.conftest import unique_jpeg, upload


@pytest.fixture
def asset(db, media, manager):
    return services.add_asset(upload(unique_jpeg()), filename="front.jpg", user=manager)


def test_new_version_sends_an_approved_asset_back_to_review(asset, manager):
    Asset.objects.filter(pk=asset.pk).update(status=Asset.Status.APPROVED)
    seen = []

    def on_status(sender, asset, old, new, **kw):
        seen.append((old, new))

    signals.asset_status_changed.connect(on_status)
    try:
        version = services.add_version(
            asset.pk,
            upload(unique_jpeg(80, 60)),
            filename="front-v2.jpg",
            comment="retouched",
            user=manager,
        )
    finally:
        signals.asset_status_changed.disconnect(on_status)
    asset.refresh_from_db()
    assert version.number == 2 and asset.current_version_id == version.pk
    assert asset.status == Asset.Status.IN_REVIEW
    assert seen == [("approved", "in_review")]
    change = AssetChange.objects.filter(asset=asset, action="new_version").get()
    assert {"field": "status", "old": "approved", "new": "in_review"} in change.changes
    assert AuditEntry.objects.filter(action="asset.new_version").count() == 1


def test_a_draft_stays_a_draft(asset, manager):
    services.add_version(asset.pk, upload(unique_jpeg()), filename="b.jpg", user=manager)
    asset.refresh_from_db()
    assert asset.status == Asset.Status.DRAFT


def test_identical_bytes_to_the_current_version_are_refused(db, media, manager):
    data = unique_jpeg()
    asset = services.add_asset(upload(data), filename="a.jpg", user=manager)
    with pytest.raises(Conflict) as err:
        services.add_version(asset.pk, upload(data), filename="again.jpg", user=manager)
    assert err.value.code == "identical"
    assert asset.versions.count() == 1


def test_stale_version_is_refused(asset, manager):
    with pytest.raises(StaleWrite):
        services.add_version(
            asset.pk,
            upload(unique_jpeg()),
            filename="b.jpg",
            expected_version=asset.version + 5,
            user=manager,
        )


def test_restore_makes_a_new_version_with_the_old_file(asset, manager):
    first_blob = asset.current_version.blob_id
    services.add_version(asset.pk, upload(unique_jpeg()), filename="b.jpg", user=manager)
    restored = services.restore_version(asset.pk, 1, user=manager)
    assert restored.number == 3 and restored.blob_id == first_blob
    assert restored.metadata["restored_from"] == 1
    assert [v.number for v in services.versions(asset.pk)] == [3, 2, 1]
    with pytest.raises(Conflict):
        services.restore_version(asset.pk, 1, user=manager)  # already the current file
    assert AssetChange.objects.filter(asset=asset, action="restore").count() == 1


def test_versions_api(api_client, asset):
    client = api_client("asset_manager")
    response = client.post(
        f"/api/v1/assets/{asset.pk}/versions",
        {"file": SimpleUploadedFile("front-v2.jpg", unique_jpeg(90, 70)), "comment": "new crop"},
        HTTP_IF_MATCH=f'W/"{asset.version}"',
    )
    assert response.status_code == 201, response.content
    assert response.json()["number"] == 2 and response.json()["current"] is True
    listed = client.get(f"/api/v1/assets/{asset.pk}/versions").json()
    assert [(v["number"], v["current"]) for v in listed] == [(2, True), (1, False)]
    stale = client.post(
        f"/api/v1/assets/{asset.pk}/versions",
        {"file": SimpleUploadedFile("x.jpg", unique_jpeg())},
        HTTP_IF_MATCH='W/"1"',
    )
    assert stale.status_code == 409
    restored = client.post(f"/api/v1/assets/{asset.pk}/versions/1/restore")
    assert restored.status_code == 201 and restored.json()["number"] == 3
    assert client.get(f"/api/v1/assets/{asset.pk}/versions/9/download").status_code == 404
    viewer = api_client("viewer")
    assert viewer.get(f"/api/v1/assets/{asset.pk}/versions/1/download").status_code == 200
    assert viewer.post(f"/api/v1/assets/{asset.pk}/versions/1/restore").status_code == 403


def test_prune_keeps_the_newest_and_anything_still_used(db, media, manager, settings):
    asset = services.add_asset(upload(unique_jpeg()), filename="a.jpg", user=manager)
    v1 = asset.current_version
    v2 = services.add_version(asset.pk, upload(unique_jpeg()), filename="b.jpg", user=manager)
    v3 = services.add_version(asset.pk, upload(unique_jpeg()), filename="c.jpg", user=manager)
    # v2's file is also another asset's current file, and v1 has a preview image.
    other = services.add_asset(
        storage.open_blob(v2.blob), filename="copy.jpg", allow_duplicate=True, user=manager
    )
    with storage.spool(upload(unique_jpeg(16, 16))) as sp:
        thumb, _ = storage.put(sp)
    Preview.objects.create(version=v1, name="thumb", blob=thumb, width=16, height=16)
    # Restoring v1 makes its file current again (as v4): v1 itself may go, its bytes stay.
    services.restore_version(asset.pk, 1, user=manager)
    v4 = AssetVersion.objects.get(asset=asset, number=4)
    services.add_version(asset.pk, upload(unique_jpeg()), filename="e.jpg", user=manager)
    v3_name = v3.blob.storage_name

    settings.VERSION_RETENTION = 1
    result = services.prune()
    pruned = set(AssetVersion.objects.filter(pruned=True).values_list("number", flat=True))
    assert pruned == {1, 2, 3, 4}
    assert result["pruned_versions"] == 4
    asset.refresh_from_db()
    assert asset.current_version.number == 5 and not asset.current_version.pruned
    assert default_storage.exists(asset.current_version.blob.storage_name)
    assert default_storage.exists(other.current_version.blob.storage_name)  # v2's bytes
    assert default_storage.exists(thumb.storage_name)  # the preview's bytes
    assert not default_storage.exists(v3_name)  # nobody uses v3's bytes any more
    assert v4.blob_id == v1.blob_id and not default_storage.exists(v1.blob.storage_name)
    with pytest.raises(Conflict):
        services.restore_version(asset.pk, 3, user=manager)
    assert Blob.objects.filter(pk=v3.blob_id).exists()  # the row stays for the history
    assert AssetChange.objects.filter(asset=asset, action="prune").count() == 1


def test_retention_zero_keeps_everything(asset, manager, settings):
    services.add_version(asset.pk, upload(unique_jpeg()), filename="b.jpg", user=manager)
    settings.VERSION_RETENTION = 0
    assert services.prune()["pruned_versions"] == 0


def test_prune_runs_as_a_job(asset, manager, settings):
    from folio.jobs.services import get_spec

    spec = get_spec("folio.assets.services.prune_versions")
    assert spec.schedulable
