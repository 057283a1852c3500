"""The same uploads against S3-compatible object storage: a real SeaweedFS on loopback,
configured the way folio/settings.py configures FOLIO_MEDIA=s3://bucket/prefix."""

import hashlib

from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from folio.assets import services, storage
from folio.assets.models import Blob
from tests.assets.conftest import unique_jpeg, upload
from tests.s3server import BUCKET, s3_media, seaweed  # noqa: F401 - fixtures


def _keys(client) -> list[str]:
    listed = client.list_objects_v2(Bucket=BUCKET, Prefix="assets-test/")
    return sorted(o["Key"] for o in listed.get("Contents", []))


def test_upload_version_download_and_dedup_on_s3(
    s3_media,  # noqa: F811 - the fixture imported above
    api_client,
    manager,
):
    client = s3_media
    data = unique_jpeg(70, 50)
    asset = services.add_asset(upload(data), filename="front.jpg", user=manager)
    sha = hashlib.sha256(data).hexdigest()
    assert f"assets-test/{storage.blob_name(sha)}" in _keys(client)
    assert type(default_storage._wrapped).__name__ == "S3Storage"
    assert asset.current_version.width == 70

    # Identical bytes: refused as a duplicate, or stored once when allowed.
    api = api_client("asset_manager")
    again = api.post("/api/v1/assets", {"file": SimpleUploadedFile("copy.jpg", data)})
    assert again.status_code == 409
    assert again.json()["error"]["details"]["duplicate_of"] == asset.pk
    services.add_asset(upload(data), filename="copy.jpg", allow_duplicate=True, user=manager)
    assert Blob.objects.filter(pk=sha).count() == 1
    assert [k for k in _keys(client) if k.endswith(sha) and "/blobs/" in k] == [
        f"assets-test/{storage.blob_name(sha)}"
    ]

    v2 = unique_jpeg(90, 60)
    services.add_version(asset.pk, upload(v2), filename="front-v2.jpg", user=manager)
    response = api.get(f"/api/v1/assets/{asset.pk}/versions/2/download")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == v2
    old = api.get(f"/api/v1/assets/{asset.pk}/versions/1/download")
    assert b"".join(old.streaming_content) == data
    with storage.open_blob(Blob.objects.get(pk=sha)) as f:
        assert f.read() == data
