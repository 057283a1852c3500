"""Delivery URLs: signed and public addresses, refusal by usage rights at the moment of the
request, cache lifetimes that never outlive the rights, and pending renditions that only
enqueue."""

import datetime

import pytest
import pyvips
from django.test import Client
from django.utils import timezone

from folio.assets.models import Asset
from folio.jobs.models import Job
from folio.renditions import delivery, jobs
from folio.renditions.models import Rendition
from tests.assets.conftest import media  # noqa: F401 - the fixture
from tests.renditions._support import add, body, product_jpeg, run_jobs, seeded  # noqa: F401

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("media", "seeded"),
]


def max_age(response) -> int:
    for part in response["Cache-Control"].split(","):
        name, _, value = part.strip().partition("=")
        if name == "max-age":
            return int(value)
    raise AssertionError(f"no max-age in {response['Cache-Control']}")


def ready_asset(preset: str = "web-2048-webp", **kwargs) -> tuple[Asset, str]:
    asset = add(product_jpeg(seed=kwargs.pop("seed", 1)), "front.jpg", **kwargs)
    url = delivery.signed_url(asset, preset)
    first = Client().get(url)
    assert first.status_code == 202
    run_jobs()
    return asset, url


def test_pending_answers_202_with_retry_after_and_only_enqueues():
    asset = add(product_jpeg(seed=2), "front.jpg")
    url = delivery.signed_url(asset, "web-2048-webp")
    response = Client().get(url)
    assert response.status_code == 202
    assert int(response["Retry-After"]) > 0
    assert "no-store" in response["Cache-Control"]
    row = Rendition.objects.get()
    assert row.status == "pending" and row.blob_id is None  # nothing rendered on the request
    queued = Job.objects.filter(kind=jobs.render_renditions.job_name, status="queued")
    assert queued.count() == 1
    assert Client().get(url).status_code == 202
    assert queued.count() == 1  # asking again does not queue twice


def test_signed_url_serves_the_rendition_with_etag_and_cache_lifetime():
    _, url = ready_asset()
    assert url.startswith("/img/") and url.endswith(".webp")
    response = Client().get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/webp"
    row = Rendition.objects.get()
    assert response["ETag"] == f'"{row.blob_id}"'
    assert "public" in response["Cache-Control"]
    assert max_age(response) == delivery.max_age()
    image = pyvips.Image.new_from_buffer(body(response), "")
    assert (image.width, image.height) == (1200, 900)
    again = Client().get(url, HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304
    assert Client().head(url).status_code == 200


def test_a_tampered_address_is_403():
    asset, url = ready_asset()
    other = add(product_jpeg(seed=9), "other.jpg")
    prefix, signature, rest = url.split("/", 3)[1], url.split("/")[2], url.split("/", 3)[3]
    assert prefix == "img"
    for tampered in (
        url.replace(f"/{asset.pk}/", f"/{other.pk}/"),
        url.replace("web-2048-webp", "print-300dpi-cmyk"),
        url.replace(".webp", ".jpg"),
        f"/img/{'A' * len(signature)}/{rest}",
        url.replace("/web-2048-webp/", "/web-2048-webp/de_DE/"),
    ):
        response = Client().get(tampered)
        assert response.status_code == 403, tampered
        assert "no-store" in response["Cache-Control"]
    assert Client().get(url).status_code == 200


def test_rights_are_checked_at_the_moment_of_the_request():
    asset, url = ready_asset()
    now = timezone.now()
    # Rights end in 100 s: a cache may keep the file 100 s at most.
    Asset.objects.filter(pk=asset.pk).update(expires_at=now + datetime.timedelta(seconds=100))
    response = Client().get(url)
    assert response.status_code == 200
    assert 0 < max_age(response) <= 100
    # From the very moment of expiry: gone.
    Asset.objects.filter(pk=asset.pk).update(expires_at=timezone.now())
    gone = Client().get(url)
    assert gone.status_code == 410
    assert "expired" in gone.content.decode()
    assert "no-store" in gone["Cache-Control"]


def test_an_unapproved_asset_is_refused():
    asset, url = ready_asset()
    for status in (Asset.Status.DRAFT, Asset.Status.REJECTED, Asset.Status.ARCHIVED):
        Asset.objects.filter(pk=asset.pk).update(status=status)
        assert Client().get(url).status_code == 404
    draft = add(product_jpeg(seed=3), "draft.jpg", approve=False)
    response = Client().get(delivery.signed_url(draft, "web-2048-webp"))
    assert response.status_code == 404
    # Refused before anything is queued.
    assert not Rendition.objects.filter(source_sha256=draft.current_version.blob_id).exists()


def test_territory_of_the_locale_is_licensed():
    asset, _ = ready_asset()
    Asset.objects.filter(pk=asset.pk).update(territories=["US"])
    german = delivery.signed_url(asset, "amazon-main", locale="de_DE")
    assert Client().get(german).status_code == 404


def test_public_preset_has_a_stable_unsigned_url():
    asset, _ = ready_asset("thumb-256")
    url = delivery.public_url(asset, "thumb-256")
    assert url == delivery.public_url(asset, "thumb-256")
    assert url.startswith(f"/img/p/thumb-256/{asset.pk}/")
    response = Client().get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/webp"
    # A preset that is not public has no unsigned address.
    assert Client().get(f"/img/p/amazon-main/{asset.pk}/x.jpg").status_code == 404
    with pytest.raises(ValueError):
        delivery.public_url(asset, "amazon-main")
    assert delivery.url_for(asset, "thumb-256") == url
    assert delivery.url_for(asset, "amazon-main").startswith("/img/")


def test_a_rendition_awaiting_review_is_not_delivered(settings):
    settings.RENDITION_REVIEW_CONFIDENCE = 1.01
    asset = add(product_jpeg(seed=5), "packshot.jpg")
    url = delivery.signed_url(asset, "amazon-main")
    assert Client().get(url).status_code == 202
    run_jobs()
    row = Rendition.objects.get()
    assert row.needs_review
    assert Client().get(url).status_code == 404
    Rendition.objects.filter(pk=row.pk).update(needs_review=False)
    response = Client().get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"


def test_a_signed_path_quotes_each_part_as_quote_does():
    from urllib.parse import quote

    parts = (7, "web-2048-webp", "de_DE", "Crème brûlée/../x?.webp")
    assert delivery.signed_path(*parts) == "/".join(quote(str(p), safe="") for p in parts)
    assert delivery.signed_path(7, "amazon-main", None, "ESP-100_1.jpg") == (
        "7/amazon-main/ESP-100_1.jpg"
    )


def test_signatures_follow_the_secret_key(settings):
    path = delivery.signed_path(7, "web-2048-webp", None, "a.webp")
    first = delivery.sign(path)
    assert delivery.verify(first, path)
    assert len(first) == 32 and delivery.sign(path) == first
    settings.SECRET_KEY = "another secret " * 4
    assert delivery.sign(path) != first
    assert not delivery.verify(first, path)
