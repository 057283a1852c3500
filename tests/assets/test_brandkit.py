"""The brand kit: palettes whose HEX, RGB and CMYK agree, edited with optimistic concurrency;
logos, fonts and guidelines of which non-editors see only the approved, in-rights ones."""

import datetime
import io

import pytest
from django.utils import timezone

from folio.assets import brandkit, services
from folio.assets.models import Asset, Collection
from folio.errors import InvalidInput
from tests.assets import files

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]


def test_colours_are_completed_and_checked():
    colours = brandkit.normalise_colours(
        [
            {"name": "Aqualine Blue", "hex": "#0b5cad"},
            {"name": "Ink", "rgb": [29, 35, 48], "cmyk": [40, 27, 0, 81]},
            {"name": "White", "hex": "#FFF", "rgb": [255, 255, 255]},
        ]
    )
    assert colours == [
        {"name": "Aqualine Blue", "hex": "#0B5CAD", "rgb": [11, 92, 173], "cmyk": [94, 47, 0, 32]},
        {"name": "Ink", "hex": "#1D2330", "rgb": [29, 35, 48], "cmyk": [40, 27, 0, 81]},
        {"name": "White", "hex": "#FFFFFF", "rgb": [255, 255, 255], "cmyk": [0, 0, 0, 0]},
    ]
    assert brandkit.naive_cmyk([0, 0, 0]) == [0, 0, 0, 100]

    with pytest.raises(InvalidInput) as bad:
        brandkit.normalise_colours(
            [
                {"name": "Off", "hex": "#0B5CAD", "rgb": [11, 92, 174]},
                {"name": "Neon", "hex": "#12345G"},
                {"name": "Print", "hex": "#000000", "cmyk": [0, 0, 0, 120]},
                {"name": "", "rgb": [1, 2, 3]},
                {"name": "Nothing"},
                {"name": "Wide", "rgb": [300, 0, 0]},
            ]
        )
    fields = [d["field"] for d in bad.value.details]
    assert fields == [
        "colours[0].rgb",
        "colours[1].hex",
        "colours[2].cmyk",
        "colours[3].name",
        "colours[4]",
        "colours[5].rgb",
    ]
    assert "is not HEX #0B5CAD (which is RGB [11, 92, 173])" in bad.value.details[0]["problem"]
    with pytest.raises(InvalidInput):
        brandkit.normalise_colours([{"name": "A", "hex": "#000"}, {"name": "a", "hex": "#111"}])


def test_brand_kit_palettes_through_the_api(api_client):
    manager = api_client("asset_manager")
    viewer = api_client("viewer")
    response = manager.post(
        "/api/v1/brand-kits",
        {"code": "aqualine", "name": "Aqualine brand kit"},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    assert (
        manager.post(
            "/api/v1/brand-kits", {"code": "aqualine", "name": "x"}, content_type="application/json"
        ).status_code
        == 409
    )
    assert (
        viewer.post(
            "/api/v1/brand-kits", {"code": "other", "name": "x"}, content_type="application/json"
        ).status_code
        == 403
    )

    response = manager.post(
        "/api/v1/brand-kits/aqualine/palettes",
        {"name": "Primary", "colours": [{"name": "Aqualine Blue", "hex": "#0B5CAD"}]},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    palette = response.json()
    assert palette["colours"][0]["rgb"] == [11, 92, 173]
    assert palette["version"] == 1
    response = manager.post(
        "/api/v1/brand-kits/aqualine/palettes",
        {"name": "Broken", "colours": [{"name": "X", "hex": "#000000", "rgb": [1, 1, 1]}]},
        content_type="application/json",
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "colours[0].rgb"

    url = f"/api/v1/brand-kits/aqualine/palettes/{palette['id']}"
    colours = [{"name": "Aqualine Blue", "hex": "#0B5CAD"}, {"name": "Sand", "hex": "#E8DCC4"}]
    response = manager.patch(
        url, {"colours": colours, "version": 1}, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["version"] == 2
    assert response["ETag"] == 'W/"2"'
    # Someone who read version 1 and saves now is told, with the current palette.
    response = manager.patch(
        url, {"name": "Main"}, content_type="application/json", HTTP_IF_MATCH='W/"1"'
    )
    assert response.status_code == 409
    assert response.json()["error"]["details"]["current"]["version"] == 2
    assert (
        viewer.patch(
            url, {"name": "Main", "version": 2}, content_type="application/json"
        ).status_code
        == 403
    )
    kit = viewer.get("/api/v1/brand-kits/aqualine").json()
    assert [p["name"] for p in kit["palettes"]] == ["Primary"]
    assert [c["name"] for c in kit["palettes"][0]["colours"]] == ["Aqualine Blue", "Sand"]
    assert [k["code"] for k in viewer.get("/api/v1/brand-kits").json()] == ["aqualine"]
    assert viewer.get("/api/v1/brand-kits/nope").status_code == 404


def test_non_editors_see_only_approved_in_rights_brand_assets(api_client):
    manager = api_client("asset_manager")
    viewer = api_client("viewer")
    kit = Collection.objects.create(code="brand", name="Brand", is_brand_kit=True)

    def add(data, name, kind, status, **rights):
        asset = services.add_asset(
            io.BytesIO(data), filename=name, kind=kind, collections=[kit.code], user=manager.user
        )
        Asset.objects.filter(pk=asset.pk).update(status=status, **rights)
        return asset

    logo = add(files.svg(), "logo.svg", "logo", "approved")
    add(files.png(64, 64), "logo-draft.png", "logo", "draft")
    add(
        files.png(32, 32, color=(1, 1, 1)),
        "logo-old.png",
        "logo",
        "approved",
        expires_at=timezone.now() - datetime.timedelta(days=2),
    )
    guide = add(files.pdf(pages=3), "guidelines.pdf", "guideline", "approved")
    add(files.jpeg(40, 40), "not-brand.jpg", "packshot", "approved")

    seen = viewer.get("/api/v1/brand-kits/brand").json()
    assert [a["id"] for a in seen["logos"]] == [logo.pk]
    assert [a["id"] for a in seen["guidelines"]] == [guide.pk]
    assert seen["fonts"] == []
    assert seen["logos"][0]["mime"] == "image/svg+xml"
    download = viewer.get(seen["logos"][0]["download"])
    assert download.status_code == 200, download.content

    everything = manager.get("/api/v1/brand-kits/brand").json()
    assert len(everything["logos"]) == 3
    refused = {a["filename"]: a["reasons"] for a in everything["logos"] if not a["publishable"]}
    assert refused["logo-draft.png"] == ["status is draft, not approved"]
    assert refused["logo-old.png"][0].startswith("usage rights expired on")
