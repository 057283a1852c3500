"""The renditions API and CLI: an asset's renditions per preset, asking for new ones (202 with
jobs, never rendering on the request), re-rendering a preset, reviewing a doubtful cut-out."""

import io

import pytest
from django.core.management import call_command
from django.test import Client

from folio.jobs.models import Job
from folio.renditions import jobs
from folio.renditions.models import Rendition
from tests.assets.conftest import media  # noqa: F401 - the fixture
from tests.renditions._support import add, product_jpeg, run_jobs, seeded  # noqa: F401

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("media", "seeded"),
]


def test_asset_renditions_requested_then_listed_with_delivery_urls(api_client):
    manager = api_client("asset_manager")
    asset = add(product_jpeg(seed=1), "front.jpg")
    url = f"/api/v1/assets/{asset.pk}/renditions"
    listed = manager.get(url)
    assert listed.status_code == 200
    states = {r["preset"]: r["status"] for r in listed.json()}
    assert states["amazon-gallery"] == "none" and "video-mp4-720" not in states

    asked = manager.post(
        url,
        {"presets": ["thumb-256", "amazon-gallery"], "locale": "de_DE"},
        content_type="application/json",
    )
    assert asked.status_code == 202, asked.content
    data = asked.json()
    assert {r["status"] for r in data["renditions"]} == {"pending"}
    assert data["jobs"] and all(j["status"] == "queued" for j in data["jobs"])
    assert Rendition.objects.filter(status="pending").count() == 2

    run_jobs()
    listed = {r["preset"]: r for r in manager.get(url, {"locale": "de_DE"}).json()}
    thumb = listed["thumb-256"]
    assert thumb["status"] == "ready"
    assert thumb["compliance"]["passed"] is True
    assert thumb["url"].startswith(f"/img/p/thumb-256/{asset.pk}/")
    gallery = listed["amazon-gallery"]
    assert gallery["status"] == "ready" and gallery["url"].startswith("/img/")
    assert Client().get(gallery["url"]).status_code == 200

    wrong = manager.post(url, {"presets": ["video-mp4-720"]}, content_type="application/json")
    assert wrong.status_code == 422
    unknown = manager.post(url, {"presets": ["nope"]}, content_type="application/json")
    assert unknown.status_code == 404
    viewer = api_client("viewer")
    assert viewer.get(url).status_code == 200
    assert (
        viewer.post(url, {"presets": ["thumb-256"]}, content_type="application/json").status_code
        == 403
    )


def test_rerender_endpoint_and_review(api_client, settings):
    settings.RENDITION_REVIEW_CONFIDENCE = 1.01
    admin = api_client("admin")
    asset = add(product_jpeg(seed=2), "front.jpg")
    admin.post(
        f"/api/v1/assets/{asset.pk}/renditions",
        {"presets": ["amazon-main"]},
        content_type="application/json",
    )
    run_jobs()
    row = Rendition.objects.get()
    assert row.needs_review
    listed = {r["preset"]: r for r in admin.get(f"/api/v1/assets/{asset.pk}/renditions").json()}
    assert listed["amazon-main"]["needs_review"] is True
    assert listed["amazon-main"]["url"] is None  # nothing to hand out before review
    reviewed = admin.post(
        f"/api/v1/renditions/{row.pk}/review", {"accept": True}, content_type="application/json"
    )
    assert reviewed.status_code == 200 and reviewed.json()["needs_review"] is False

    response = admin.post("/api/v1/presets/amazon-main/rerender")
    assert response.status_code == 202
    assert response.json()["kind"] == jobs.rerender_preset.job_name
    run_jobs()
    job = Job.objects.get(kind=jobs.rerender_preset.job_name)
    assert job.status == "succeeded" and job.result["sources"] == 0  # nothing predates the spec


def test_cli_presets_render_status_rerender():
    asset = add(product_jpeg(seed=3), "front.jpg")
    out = io.StringIO()
    call_command("renditions", "presets", stdout=out)
    assert "amazon-main" in out.getvalue() and "markets:de_DE" in out.getvalue()
    out = io.StringIO()
    call_command("renditions", "render", str(asset.pk), "thumb-256", "--now", stdout=out)
    assert "thumb-256" in out.getvalue() and "ready" in out.getvalue()
    out = io.StringIO()
    call_command("renditions", "status", str(asset.pk), stdout=out)
    lines = {line.split()[0]: line for line in out.getvalue().splitlines()}
    assert "compliant" in lines["thumb-256"] and lines["amazon-main"].endswith("none")
    out = io.StringIO()
    call_command("renditions", "rerender", "thumb-256", stdout=out)
    assert "queued" in out.getvalue()
