"""Share links end to end: created through the API, opened without an account, files and a
streamed zip downloaded, every download recorded; expired, revoked and wrong links refused,
and only approved assets within their usage rights ever served."""

import datetime
import hashlib
import io
import zipfile

import pytest
from django.test import Client
from django.utils import timezone

from folio.assets import services, sharing
from folio.assets.models import Asset, Collection, ShareDownload, ShareLink
from tests.assets import files

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]


def add(data: bytes, name: str, user, *, status="approved", **rights) -> Asset:
    asset = services.add_asset(io.BytesIO(data), filename=name, user=user)
    # Approval and rights have their own tests; here they are the given situation.
    Asset.objects.filter(pk=asset.pk).update(status=status, **rights)
    asset.refresh_from_db()
    return asset


def in_days(n: float) -> str:
    return (timezone.now() + datetime.timedelta(days=n)).isoformat()


@pytest.fixture
def manager(api_client):
    return api_client("asset_manager")


@pytest.fixture
def shared(manager):
    user = manager.user
    photo = files.jpeg(320, 240, color=(20, 160, 60))
    logo = files.svg()
    manual = files.pdf(pages=2)
    assets = {
        "photo": add(photo, "bottle front.jpg", user),
        "logo": add(logo, "logo.svg", user),
        "manual": add(manual, "manual.pdf", user),
        "draft": add(files.png(40, 40), "draft.png", user, status="draft"),
        "expired": add(
            files.jpeg(50, 50, color=(1, 2, 3)),
            "old.jpg",
            user,
            expires_at=timezone.now() - datetime.timedelta(days=1),
        ),
    }
    response = manager.post(
        "/api/v1/share-links",
        {
            "name": "Agency Blue — spring campaign",
            "assets": [a.pk for a in assets.values()],
            "expires_at": in_days(30),
        },
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    return {
        "assets": assets,
        "bytes": {"photo": photo, "logo": logo, "manual": manual},
        "link": body,
        "token": body["token"],
    }


def test_share_link_page_file_zip_and_download_records(manager, shared):
    link, token, assets = shared["link"], shared["token"], shared["assets"]
    assert link["url"].endswith(f"/share/{token}/")
    assert link["state"] == "active" and link["downloads"] == 0
    assert link["preset"] == "original"
    # Only the hash of the secret is stored; the token is shown once.
    row = ShareLink.objects.get(pk=link["id"])
    assert token.split("_", 1)[1] not in (row.secret_hash, row.key_id)
    assert "token" not in manager.get(f"/api/v1/share-links/{row.pk}").json()

    public = Client()
    page = public.get(f"/share/{token}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Agency Blue" in html
    assert "bottle front.jpg" in html and "manual.pdf" in html
    assert "Not available: status is draft, not approved" in html
    assert "Not available: usage rights expired on" in html
    assert f'href="{assets["photo"].pk}"' in html
    assert f'href="{assets["draft"].pk}"' not in html
    assert page["X-Robots-Tag"] == "noindex, nofollow"
    assert page["Referrer-Policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in page["Content-Security-Policy"]
    assert "no-store" in page["Cache-Control"]

    response = public.get(f"/share/{token}/{assets['photo'].pk}", REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == shared["bytes"]["photo"]
    assert response["Content-Type"] == "image/jpeg"
    assert 'attachment; filename="bottle front.jpg"' in response["Content-Disposition"]
    assert response["Content-Security-Policy"].startswith("default-src 'none'; sandbox")

    response = public.get(f"/share/{token}/zip", REMOTE_ADDR="203.0.113.10")
    assert response.status_code == 200
    assert response.streaming  # sent while it is made, never built whole
    assert response["Content-Type"] == "application/zip"
    assert "agency-blue-spring-campaign.zip" in response["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert archive.testzip() is None
    got = {i.filename: archive.read(i.filename) for i in archive.infolist()}
    assert sorted(got) == ["bottle front.jpg", "logo.svg", "manual.pdf"]
    for name, key in (
        ("bottle front.jpg", "photo"),
        ("logo.svg", "logo"),
        ("manual.pdf", "manual"),
    ):
        expected = Asset.objects.get(pk=assets[key].pk).current_version.blob_id
        assert hashlib.sha256(got[name]).hexdigest() == expected
    kinds = {i.filename: i.compress_type for i in archive.infolist()}
    assert kinds["bottle front.jpg"] == zipfile.ZIP_STORED  # already compressed
    assert kinds["logo.svg"] == zipfile.ZIP_DEFLATED

    downloads = list(ShareDownload.objects.filter(link_id=link["id"]).order_by("id"))
    assert [(d.asset_id, d.zip, d.ip) for d in downloads] == [
        (assets["photo"].pk, False, "203.0.113.9"),
        *[
            (a.pk, True, "203.0.113.10")
            for a in sorted(
                [assets["photo"], assets["logo"], assets["manual"]], key=lambda a: (a.title, a.pk)
            )
        ],
    ]
    listed = manager.get("/api/v1/share-links").json()["results"]
    assert [(x["id"], x["downloads"]) for x in listed] == [(link["id"], 4)]


def test_unapproved_and_out_of_rights_assets_are_refused_with_the_reason(shared):
    token, assets = shared["token"], shared["assets"]
    public = Client()
    response = public.get(f"/share/{token}/{assets['draft'].pk}")
    assert response.status_code == 403
    assert b"status is draft, not approved" in response.content
    response = public.get(f"/share/{token}/{assets['expired'].pk}")
    assert response.status_code == 403
    assert b"usage rights expired on" in response.content
    # An asset that is not part of the link is simply not there.
    other = add(files.jpeg(30, 30, color=(9, 9, 9)), "other.jpg", None)
    assert public.get(f"/share/{token}/{other.pk}").status_code == 404
    assert not ShareDownload.objects.exists()

    # Rights are checked at download time: the photo's rights end now, the link refuses it.
    Asset.objects.filter(pk=assets["photo"].pk).update(
        expires_at=timezone.now() - datetime.timedelta(minutes=1)
    )
    assert public.get(f"/share/{token}/{assets['photo'].pk}").status_code == 403
    zipped = zipfile.ZipFile(
        io.BytesIO(b"".join(public.get(f"/share/{token}/zip").streaming_content))
    )
    assert sorted(zipped.namelist()) == ["logo.svg", "manual.pdf"]


def test_expired_revoked_and_wrong_links(manager, shared):
    token = shared["token"]
    public = Client()
    assert public.get("/share/0123456789ab_nope/").status_code == 404
    wrong = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    response = public.get(f"/share/{wrong}/")
    assert response.status_code == 404
    assert response.content == b"Not found"  # no hint that the key id exists

    ShareLink.objects.filter(pk=shared["link"]["id"]).update(
        expires_at=timezone.now() - datetime.timedelta(hours=1)
    )
    response = public.get(f"/share/{token}/")
    assert response.status_code == 410
    assert b"This link expired on" in response.content
    assert public.get(f"/share/{token}/zip").status_code == 410

    ShareLink.objects.filter(pk=shared["link"]["id"]).update(expires_at=in_days(3))
    assert public.get(f"/share/{token}/").status_code == 200
    response = manager.post(f"/api/v1/share-links/{shared['link']['id']}/revoke")
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "revoked"
    response = public.get(f"/share/{token}/{shared['assets']['photo'].pk}")
    assert response.status_code == 410
    assert b"This link was withdrawn on" in response.content
    assert public.post(f"/share/{token}/").status_code == 405
    assert not ShareDownload.objects.exists()


def test_creating_a_link_is_validated_and_needs_edit_rights(manager, api_client):
    photo = add(files.jpeg(20, 20), "a.jpg", manager.user)
    Collection.objects.create(code="press-kit", name="Press kit")

    def create(client=manager, **body):
        payload = {"name": "Partner", "assets": [photo.pk], "expires_at": in_days(10), **body}
        return client.post("/api/v1/share-links", payload, content_type="application/json")

    assert create(expires_at=in_days(400)).status_code == 422
    assert create(expires_at=in_days(-1)).status_code == 422
    response = create(preset="web-small")
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "preset"
    assert create(assets=[], collection=None).status_code == 422
    assert create(assets=[999999]).status_code == 422
    assert create(name="  ").status_code == 422
    assert create(client=api_client("viewer")).status_code == 403
    response = create(assets=[], collection="press-kit")
    assert response.status_code == 201
    assert response.json()["collection"] == "press-kit"


def test_a_collection_link_follows_the_collection(manager):
    kit = Collection.objects.create(code="retail", name="Retail partners")
    first = add(files.jpeg(30, 20, color=(100, 0, 0)), "one.jpg", manager.user)
    first.collections.add(kit)
    _link, token = sharing.create_share_link(
        name="Retail", collection="retail", expires_at=timezone.now() + datetime.timedelta(days=7)
    )
    public = Client()
    assert public.get(f"/share/{token}/{first.pk}").status_code == 200
    later = add(files.jpeg(30, 20, color=(0, 100, 0)), "two.jpg", manager.user)
    later.collections.add(kit)
    names = zipfile.ZipFile(
        io.BytesIO(b"".join(public.get(f"/share/{token}/zip").streaming_content))
    ).namelist()
    assert sorted(names) == ["one.jpg", "two.jpg"]


def test_zip_names_are_unique_and_safe():
    class V:
        def __init__(self, filename):
            self.filename = filename

    class A:
        def __init__(self, pk, filename):
            self.pk = pk
            self.current_version = V(filename)

    items = [
        sharing.SharedFile(asset=A(i, n), downloadable=True)
        for i, n in enumerate(["a.jpg", "A.jpg", "../etc/passwd", "a.jpg", ""], start=1)
    ]
    assert sharing.zip_names(items) == ["a.jpg", "A (2).jpg", "_etc_passwd", "a (3).jpg", "asset-5"]
