"""The asset library and the asset page: filters with counts, the upload form and the API
contract its script relies on, metadata and rights edits with messages per field, approval
with comments, versions, renditions per channel slot, where-used; refusals per role."""

import datetime
import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from folio.assets.models import Asset, Collection
from folio.catalog.models import Channel
from folio.renditions.models import ImageSlot, Preset, Rendition
from tests.web.conftest import jpeg_bytes, new_asset


def html(response) -> str:
    return response.content.decode()


def titles(response) -> list[str]:
    return re.findall(r'<a href="/assets/\d+/">([^<]+)</a>', html(response))


def test_library_filters_with_counts(shop, client_for):
    client = client_for("viewer")
    page = client.get("/assets/")
    assert set(titles(page)) == {"Blue bottle front", "Bottle lifestyle"}
    assert re.search(r"<span>approved</span><span class=\"count\">1</span>", html(page))
    assert titles(client.get("/assets/?status=draft")) == ["Bottle lifestyle"]
    assert titles(client.get("/assets/?kind=packshot")) == ["Blue bottle front"]
    assert titles(client.get("/assets/?q=lifestyle")) == ["Bottle lifestyle"]
    Asset.objects.filter(pk=shop["approved"].pk).update(
        expires_at=timezone.now() + datetime.timedelta(days=5)
    )
    assert titles(client.get("/assets/?expires=7")) == ["Blue bottle front"]
    wrong = client.get("/assets/?status=lost")
    assert wrong.status_code == 200 and "is not one of" in html(wrong)


def test_library_query_count_does_not_grow(shop, client_for):
    client = client_for("asset_manager")
    client.get("/assets/")
    with CaptureQueriesContext(connection) as few:
        client.get("/assets/")
    collection = Collection.objects.create(code="winter", name="Winter")
    for n in range(10):
        asset = new_asset(f"Extra {n}", tags=[f"tag{n}"])
        asset.collections.add(collection)
    with CaptureQueriesContext(connection) as more:
        response = client.get("/assets/")
    assert len(titles(response)) == 12
    assert len(more.captured_queries) <= len(few.captured_queries)


def test_upload_form_for_uploaders_and_the_api_it_calls(shop, client_for):
    assert 'data-upload="/api/v1/assets"' not in html(client_for("viewer").get("/assets/"))
    manager = client_for("asset_manager", csrf=True)
    page = html(manager.get("/assets/"))
    assert 'data-upload="/api/v1/assets"' in page and "multiple" in page
    token = manager.cookies["csrftoken"].value
    data = jpeg_bytes()

    def upload(**extra):
        return manager.post(
            "/api/v1/assets",
            {"file": SimpleUploadedFile("shot.jpg", data, "image/jpeg"), "tags": "a, b", **extra},
            headers={"X-CSRFToken": token, "Accept": "application/json"},
        )

    first = upload()
    assert first.status_code == 201, first.content
    duplicate = upload()
    assert duplicate.status_code == 409
    error = duplicate.json()["error"]
    assert error["code"] == "duplicate"
    assert error["details"]["duplicate_of"] == first.json()["id"]
    assert upload(allow_duplicate="true").status_code == 201


def test_asset_page_edits_metadata_alt_texts_and_rights(shop, client_for):
    asset = shop["approved"]
    asset.refresh_from_db()
    manager = client_for("asset_manager")
    page = html(manager.get(f"/assets/{asset.pk}/"))
    assert 'name="alt_text.en_US"' in page and 'name="alt_text.de_DE"' in page
    response = manager.post(
        f"/assets/{asset.pk}/",
        {
            "version": asset.version,
            "title": "Blue bottle, front",
            "alt_text.en_US": "A blue steel bottle",
            "alt_text.de_DE": "Eine blaue Stahlflasche",
            "territories": "us, de",
            "expires_at": "2031-12-31",
            "present_channels": "1",
            "channels": ["ecommerce"],
        },
    )
    assert response.status_code == 302
    asset.refresh_from_db()
    assert asset.title == "Blue bottle, front"
    assert asset.alt_text == {"en_US": "A blue steel bottle", "de_DE": "Eine blaue Stahlflasche"}
    assert asset.territories == ["DE", "US"]
    assert asset.expires_at.date() == datetime.date(2031, 12, 31)
    assert [c.code for c in asset.channels.all()] == ["ecommerce"]
    after = html(manager.get(f"/assets/{asset.pk}/"))
    assert "marketplace" in after and "not licensed for channel marketplace" in after


def test_asset_errors_come_back_per_field(shop, client_for):
    asset = shop["approved"]
    asset.refresh_from_db()
    manager = client_for("asset_manager")
    response = manager.post(
        f"/assets/{asset.pk}/",
        {"version": asset.version, "territories": "XX", "title": ""},
    )
    assert response.status_code == 422
    page = html(response)
    assert 'id="e-territories"' in page and "XX is not an ISO 3166-1" in page
    assert 'id="e-title"' in page
    asset.refresh_from_db()
    assert asset.title == "Blue bottle front"


def test_approval_with_comments(shop, client_for, users):
    draft = shop["draft"]
    manager = client_for("asset_manager")
    assert "Submit for review" in html(manager.get(f"/assets/{draft.pk}/"))
    assert manager.post(f"/assets/{draft.pk}/decide/", {"action": "submit"}).status_code == 302
    approver = client_for("approver")
    page = html(approver.get(f"/assets/{draft.pk}/"))
    assert ">Approve</button>" in page and "Reject" in page
    no_reason = approver.post(f"/assets/{draft.pk}/decide/", {"action": "reject"})
    assert no_reason.status_code == 422 and "say why" in html(no_reason)
    approver.post(f"/assets/{draft.pk}/decide/", {"action": "approve", "comment": "On brand"})
    draft.refresh_from_db()
    assert draft.status == "approved"
    assert "On brand" in html(approver.get(f"/assets/{draft.pk}/"))
    # the manager cannot approve: the server refuses whatever the page shows
    other = new_asset("Another", user=users["asset_manager"])
    manager.post(f"/assets/{other.pk}/decide/", {"action": "submit"})
    assert manager.post(f"/assets/{other.pk}/decide/", {"action": "approve"}).status_code == 403


def test_versions_upload_and_restore(shop, client_for):
    asset = shop["approved"]
    manager = client_for("asset_manager")
    response = manager.post(
        f"/assets/{asset.pk}/versions/",
        {"file": SimpleUploadedFile("new.jpg", jpeg_bytes(), "image/jpeg"), "comment": "retouched"},
    )
    assert response.status_code == 302
    asset.refresh_from_db()
    assert asset.current_version.number == 2 and asset.status == "in_review"
    page = html(manager.get(f"/assets/{asset.pk}/"))
    assert "retouched" in page and "Restore version 1" in page
    manager.post(f"/assets/{asset.pk}/versions/1/restore/")
    asset.refresh_from_db()
    assert asset.current_version.number == 3
    assert asset.current_version.blob_id == asset.versions.get(number=1).blob_id


def test_renditions_per_channel_slot(shop, client_for):
    asset = shop["approved"]
    preset = Preset.objects.create(
        code="web-square",
        name="Web square",
        spec={"ops": [{"op": "fit", "width": 32, "height": 32}], "output": {"format": "jpeg"}},
    )
    ImageSlot.objects.create(
        channel=Channel.objects.get(code="ecommerce"), role="main", preset=preset
    )
    manager = client_for("asset_manager")
    page = html(manager.get(f"/assets/{asset.pk}/"))
    table = page.split('id="renditions"', 1)[1].split("</section>", 1)[0]
    assert "ecommerce · main" in table and "web-square" in table and "none" in table
    response = manager.post(f"/assets/{asset.pk}/renditions/")
    assert response.status_code == 302
    assert Rendition.objects.filter(preset=preset, source_sha256=asset.current_version.blob_id)
    assert client_for("viewer").post(f"/assets/{asset.pk}/renditions/").status_code == 403


def test_where_used_lists_products_and_inheriting_variants(shop, client_for):
    page = html(client_for("viewer").get(f"/assets/{shop['draft'].pk}/"))
    used = page.split('id="where-used"', 1)[1].split("</section>", 1)[0]
    assert 'href="/models/BT/#media-lifestyle"' in used
    assert "BT-750-BLUE" in used and "BT-750-GREEN" in used


def test_viewer_reads_without_controls_and_is_refused(shop, client_for):
    asset = shop["approved"]
    viewer = client_for("viewer")
    page = html(viewer.get(f"/assets/{asset.pk}/"))
    assert 'id="asset-form"' not in page and "Save changes" not in page
    assert "Upload version" not in page and "Archive" not in page
    assert viewer.post(f"/assets/{asset.pk}/", {"title": "Mine"}).status_code == 403
    assert viewer.post(f"/assets/{asset.pk}/decide/", {"action": "archive"}).status_code == 403
    upload = SimpleUploadedFile("x.jpg", jpeg_bytes(), "image/jpeg")
    assert viewer.post(f"/assets/{asset.pk}/versions/", {"file": upload}).status_code == 403
    assert viewer.post(f"/assets/{asset.pk}/versions/1/restore/").status_code == 403
    asset.refresh_from_db()
    assert asset.title == "Blue bottle front" and asset.status == "approved"


def test_agency_sees_only_its_collections(shop, client_for, users):
    agency = client_for("agency")
    assert agency.get(f"/assets/{shop['approved'].pk}/").status_code == 404
    assert titles(agency.get("/assets/")) == []
    mine = Collection.objects.create(code="agency-drop", name="Agency drop")
    mine.agencies.add(users["agency"])
    shop["draft"].collections.add(mine)
    assert titles(agency.get("/assets/")) == ["Bottle lifestyle"]


@pytest.mark.parametrize("kind", ["pdf", "video"])
def test_preview_panel_by_type(shop, client_for, kind):
    from tests.assets import files

    data = files.pdf(pages=2) if kind == "pdf" else files.mp4()
    from folio.assets.services import add_asset

    asset = add_asset(io.BytesIO(data), filename=f"file.{'pdf' if kind == 'pdf' else 'mp4'}")
    page = html(client_for("viewer").get(f"/assets/{asset.pk}/"))
    if kind == "video":
        assert "<video controls" in page
        assert f"/api/v1/assets/{asset.pk}/versions/1/download" in page
    else:
        # the preview is made by the worker; the panel asks again until it is there
        assert 'hx-trigger="every 2s"' in page and "being made" in page
