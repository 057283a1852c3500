"""Uploading: single requests, duplicates, refusals that leave nothing behind, agencies,
file-name tricks and resumable uploads over the real API."""

import hashlib
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from folio.accounts.models import AuditEntry
from folio.assets import services
from folio.assets.models import Asset, AssetChange, Blob, Upload
from folio.errors import Conflict, InvalidInput, PermissionDenied
from tests.assets import files
from tests.assets.conftest import stored_files, unique_jpeg, upload


def post_file(client, data: bytes, name: str, **fields):
    return client.post("/api/v1/assets", {"file": SimpleUploadedFile(name, data), **fields})


def test_upload_creates_an_asset_with_its_first_version(api_client, media):
    client = api_client("asset_manager")
    data = files.jpeg(exif={0x013B: "Jane Doe"})
    response = post_file(
        client, data, "EspressoPro_front.jpg", tags="front,packshot", kind="packshot"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["title"] == "EspressoPro front"
    assert (body["type"], body["kind"], body["status"]) == ("image", "packshot", "draft")
    assert body["tags"] == ["front", "packshot"]
    assert body["creator"] == "Jane Doe"
    version = body["current_version"]
    assert version["number"] == 1 and version["mime"] == "image/jpeg"
    assert version["sha256"] == hashlib.sha256(data).hexdigest()
    assert (version["width"], version["height"]) == (64, 48)
    asset = Asset.objects.get(pk=body["id"])
    assert AssetChange.objects.filter(asset=asset, action="create").count() == 1
    assert AuditEntry.objects.filter(action="asset.create", object_id=str(asset.pk)).exists()
    download = client.get(f"/api/v1/assets/{asset.pk}/versions/1/download")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == data
    assert 'filename="EspressoPro_front.jpg"' in download["Content-Disposition"]


def test_same_bytes_twice_is_a_409_naming_the_first(api_client, media):
    client = api_client("asset_manager")
    data = files.png()
    first = post_file(client, data, "logo.png").json()
    again = post_file(client, data, "logo-copy.png")
    assert again.status_code == 409
    error = again.json()["error"]
    assert error["details"]["duplicate_of"] == first["id"]
    assert error["details"]["title"] == "logo"
    allowed = post_file(client, data, "logo-copy.png", allow_duplicate="true")
    assert allowed.status_code == 201
    assert Blob.objects.count() == 1  # one stored file for both assets
    assert allowed.json()["current_version"]["sha256"] == first["current_version"]["sha256"]


@pytest.mark.parametrize(
    ("data", "name", "status"),
    [
        (files.bomb_png(), "bomb.png", 422),
        (files.corrupt_png(), "broken.png", 422),
        (files.truncated_jpeg(), "cut.jpg", 422),
        (files.executable(), "invoice.pdf", 422),
        (b"", "empty.jpg", 422),
    ],
)
def test_refused_files_leave_nothing_behind(api_client, nothing_left, data, name, status):
    response = post_file(api_client("asset_manager"), data, name)
    assert response.status_code == status, response.content
    assert name in response.json()["error"]["message"]
    assert nothing_left()


def test_over_the_size_limit(api_client, nothing_left, settings):
    settings.MAX_UPLOAD_BYTES = 1000
    response = post_file(api_client("asset_manager"), files.wav(), "voice.wav")
    assert response.status_code == 413
    assert "voice.wav" in response.json()["error"]["message"]
    assert nothing_left()


def test_svg_is_stored_without_its_script(api_client, media):
    client = api_client("asset_manager")
    response = post_file(client, files.svg(script=True, external=True), "logo.svg")
    assert response.status_code == 201
    version = response.json()["current_version"]
    assert version["metadata"]["svg_sanitised"]
    content = client.get(f"/api/v1/assets/{response.json()['id']}/versions/1/download")
    served = b"".join(content.streaming_content)
    assert b"<script" not in served and b"onload" not in served
    assert "sandbox" in content["Content-Security-Policy"]


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("../../etc/passwd", "passwd"),
        ("/abs/path/photo.jpg", "photo.jpg"),
        ("C:\\Users\\x\\photo.jpg", "photo.jpg"),
        ("ph\x00o\x1bto.jpg", "photo.jpg"),
        ("..\\..\\boot.ini", "boot.ini"),
    ],
)
def test_file_names_lose_their_paths(given, kept):
    assert services.safe_filename(given) == kept


@pytest.mark.parametrize("given", ["", "../", "/", "\x00\x01", "..", "  "])
def test_empty_file_names_are_refused(given):
    with pytest.raises(InvalidInput):
        services.safe_filename(given)


def test_path_trick_upload_is_stored_under_its_basename(db, media, manager):
    asset = services.add_asset(upload(unique_jpeg()), filename="../../etc/passwd.jpg", user=manager)
    assert asset.current_version.filename == "passwd.jpg"
    # (pending/ markers wait for a commit that the test transaction never makes)
    assert all(f.startswith(("blobs/", "pending/")) for f in stored_files(media[0]))


def test_agency_adds_only_into_its_collections(db, media, agency, collection):
    mine, other = collection("agency-drop"), collection("internal")
    mine.agencies.add(agency)
    with pytest.raises(PermissionDenied):
        services.add_asset(upload(unique_jpeg()), filename="a.jpg", user=agency)
    with pytest.raises(PermissionDenied):
        services.add_asset(
            upload(unique_jpeg()), filename="a.jpg", collections=["internal"], user=agency
        )
    asset = services.add_asset(
        upload(unique_jpeg()), filename="a.jpg", collections=["agency-drop"], user=agency
    )
    assert list(asset.collections.all()) == [mine]
    assert other.assets.count() == 0


def test_agency_api_upload_needs_its_collection(api_client, media, collection):
    client = api_client("agency")
    drop = collection("drop")
    drop.agencies.add(client.user)
    assert post_file(client, unique_jpeg(), "a.jpg").status_code == 403
    assert post_file(client, unique_jpeg(), "a.jpg", collections="drop").status_code == 201
    assert post_file(api_client("viewer"), unique_jpeg(), "a.jpg").status_code == 403


def put_chunk(client, upload_id, data: bytes, start: int, total: int):
    end = start + len(data) - 1
    return client.generic(
        "PUT",
        f"/api/v1/assets/uploads/{upload_id}",
        data,
        content_type="application/octet-stream",
        HTTP_CONTENT_RANGE=f"bytes {start}-{end}/{total}",
    )


def test_resumable_upload_in_three_chunks_with_a_lost_one(api_client, media):
    client = api_client("asset_manager")
    data = files.mp4(seconds=2)
    third = len(data) // 3
    parts = [data[:third], data[third : 2 * third], data[2 * third :]]
    started = client.post(
        "/api/v1/assets/uploads",
        json.dumps({"filename": "launch.mp4", "size": len(data)}),
        content_type="application/json",
    )
    assert started.status_code == 201
    uid = started.json()["id"]
    assert started.json()["received"] == 0
    assert put_chunk(client, uid, parts[0], 0, len(data)).json()["received"] == third
    # The second chunk is lost; the third arrives out of order and is refused.
    late = put_chunk(client, uid, parts[2], 2 * third, len(data))
    assert late.status_code == 409
    assert late.json()["error"]["details"]["offset"] == third
    # A retransmitted first chunk (overlapping) is refused too.
    assert put_chunk(client, uid, parts[0], 0, len(data)).status_code == 409
    # Ask where it stands, and resume.
    assert client.get(f"/api/v1/assets/uploads/{uid}").json()["received"] == third
    # A half-delivered chunk does not move the offset.
    cut = client.generic(
        "PUT",
        f"/api/v1/assets/uploads/{uid}",
        parts[1][:10],
        content_type="application/octet-stream",
        HTTP_CONTENT_RANGE=f"bytes {third}-{2 * third - 1}/{len(data)}",
    )
    assert cut.status_code == 422
    assert client.get(f"/api/v1/assets/uploads/{uid}").json()["received"] == third
    assert put_chunk(client, uid, parts[1], third, len(data)).status_code == 200
    assert put_chunk(client, uid, parts[2], 2 * third, len(data)).json()["received"] == len(data)
    done = client.post(
        f"/api/v1/assets/uploads/{uid}/complete",
        json.dumps({"title": "Launch film", "tags": ["launch"]}),
        content_type="application/json",
    )
    assert done.status_code == 201, done.content
    body = done.json()
    assert (body["title"], body["type"]) == ("Launch film", "video")
    assert body["current_version"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert body["current_version"]["duration"] == pytest.approx(2, abs=0.2)
    assert Upload.objects.count() == 0 and stored_files(media[1]) == []


def test_upload_past_its_size_is_413(api_client, media, settings):
    client = api_client("asset_manager")
    uid = client.post(
        "/api/v1/assets/uploads",
        json.dumps({"filename": "a.bin", "size": 10}),
        content_type="application/json",
    ).json()["id"]
    assert put_chunk(client, uid, b"x" * 20, 0, 10).status_code in (413, 422)
    settings.MAX_UPLOAD_BYTES = 100
    too_big = client.post(
        "/api/v1/assets/uploads",
        json.dumps({"filename": "b.bin", "size": 1000}),
        content_type="application/json",
    )
    assert too_big.status_code == 413


def test_an_upload_cut_off_midway_creates_nothing(api_client, media, nothing_left):
    client = api_client("asset_manager")
    data = files.pdf(pages=4)
    uid = client.post(
        "/api/v1/assets/uploads",
        json.dumps({"filename": "manual.pdf", "size": len(data)}),
        content_type="application/json",
    ).json()["id"]
    put_chunk(client, uid, data[:300], 0, len(data))
    done = client.post(
        f"/api/v1/assets/uploads/{uid}/complete", "{}", content_type="application/json"
    )
    assert done.status_code == 409
    assert done.json()["error"]["details"]["offset"] == 300
    assert Asset.objects.count() == 0 and Blob.objects.count() == 0
    assert client.delete(f"/api/v1/assets/uploads/{uid}").status_code == 204
    assert nothing_left()


def test_resumable_upload_as_a_new_version(api_client, media, manager):
    asset = services.add_asset(upload(unique_jpeg()), filename="a.jpg", user=manager)
    client = api_client("asset_manager")
    data = unique_jpeg(80, 60)
    uid = client.post(
        "/api/v1/assets/uploads",
        json.dumps({"filename": "a-v2.jpg", "size": len(data), "asset_id": asset.pk}),
        content_type="application/json",
    ).json()["id"]
    put_chunk(client, uid, data, 0, len(data))
    done = client.post(
        f"/api/v1/assets/uploads/{uid}/complete", "{}", content_type="application/json"
    )
    assert done.status_code == 201
    assert done.json()["current_version"]["number"] == 2
    assert done.json()["current_version"]["width"] == 80


def test_someone_elses_upload_is_not_yours(api_client, media):
    owner, other = api_client("agency", "agency-a"), api_client("agency", "agency-b")
    uid = owner.post(
        "/api/v1/assets/uploads",
        json.dumps({"filename": "a.jpg", "size": 5}),
        content_type="application/json",
    ).json()["id"]
    assert other.get(f"/api/v1/assets/uploads/{uid}").status_code == 403


def test_abandoned_uploads_expire(db, media, manager):
    from datetime import timedelta

    from django.utils import timezone

    from folio.assets import uploads

    up = uploads.start_upload(filename="slow.mov", size=100, user=manager)
    Upload.objects.filter(pk=up.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert services.prune()["expired_uploads"] == 1
    assert Upload.objects.count() == 0 and stored_files(media[1]) == []


def test_duplicate_service_error_carries_the_asset(db, media, manager):
    data = unique_jpeg()
    first = services.add_asset(upload(data), filename="a.jpg", user=manager)
    with pytest.raises(Conflict) as err:
        services.add_asset(upload(data), filename="b.jpg", user=manager)
    assert err.value.details == {"duplicate_of": first.pk, "title": "a", "filename": "b.jpg"}
