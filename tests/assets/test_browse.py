"""Browsing: each filter, full-text search over every language's alt text and embedded
metadata, pagination, and agency users seeing only their collections."""

import datetime
import io

import pytest
from django.utils import timezone

from folio.assets import browse, editing, services, workflow
from folio.assets.models import Asset
from folio.errors import InvalidInput
from tests.assets import files
from tests.assets._workflow_fixtures import *  # noqa: F403 - fixtures
from tests.assets._workflow_fixtures import client_for

JSON = {"content_type": "application/json"}
DAY = datetime.timedelta(days=1)


def ids(qs):
    return sorted(qs.values_list("pk", flat=True))


@pytest.fixture
def library(add_asset, uploader, catalog):
    """Landscape, portrait and square images, a PDF, in collections, tagged, with rights."""
    editing.create_collection("winter", name="Winter")
    editing.create_collection("brand-kit", name="Brand kit", is_brand_kit=True)
    now = timezone.now()
    wide = add_asset("Machine wide", width=160, height=90, collections=["winter"], tags=["hero"])
    tall = add_asset("Bottle tall", kind="lifestyle", width=60, height=120, tags=["Bottle"])
    square = add_asset("Logo square", kind="logo", width=80, height=80, collections=["brand-kit"])
    manual = services.add_asset(
        io.BytesIO(files.pdf(pages=3, title="EspressoPro manual")),
        filename="espressopro-manual.pdf",
        kind="manual",
        user=uploader,
    )
    editing.update_asset(wide.pk, {"expires_at": (now + 5 * DAY).isoformat()}, user=uploader)
    editing.update_asset(tall.pk, {"expires_at": (now - DAY).isoformat()}, user=uploader)
    editing.update_asset(square.pk, {"expires_at": (now + 50 * DAY).isoformat()}, user=uploader)
    return {"wide": wide, "tall": tall, "square": square, "manual": manual}


def test_each_filter(library, uploader):
    a = {k: v.pk for k, v in library.items()}
    f = browse.filter_assets
    assert ids(f(type="pdf")) == [a["manual"]]
    assert ids(f(type=["image"])) == sorted([a["wide"], a["tall"], a["square"]])
    assert ids(f(kind=["logo", "manual"])) == sorted([a["square"], a["manual"]])
    assert ids(f(tags=["hero"])) == [a["wide"]]
    assert ids(f(tags="bottle")) == [a["tall"]]  # case as typed does not matter
    assert ids(f(collections=["brand-kit", "winter"])) == sorted([a["square"], a["wide"]])
    assert ids(f(orientation="landscape")) == [a["wide"]]
    assert ids(f(orientation="portrait", type="image")) == [a["tall"]]
    assert ids(f(orientation="square")) == [a["square"]]
    assert ids(f(expires_within_days=10)) == [a["wide"]]
    assert ids(f(expires_within_days=60)) == sorted([a["wide"], a["square"]])
    assert ids(f(expired=True)) == [a["tall"]]
    assert a["tall"] not in ids(f(expired=False))
    sizes = {k: v.current_version.size for k, v in library.items()}
    biggest = max(sizes, key=sizes.get)
    assert ids(f(size_min=sizes[biggest])) == [a[biggest]]
    assert a[biggest] not in ids(f(size_max=sizes[biggest] - 1))

    workflow.submit_for_review(a["wide"], uploader)
    assert ids(f(status="in_review")) == [a["wide"]]
    assert ids(f(status=["draft"])) == sorted([a["tall"], a["square"], a["manual"]])

    later = timezone.now()
    editing.update_asset(a["manual"], {"description": "updated"}, user=uploader)
    assert ids(f(updated_since=later)) == [a["manual"]]
    Asset.objects.filter(pk=a["square"]).update(created_at=later - 30 * DAY)
    assert a["square"] not in ids(f(created_since=later - DAY))

    with pytest.raises(InvalidInput):
        f(orientation="diagonal")
    with pytest.raises(InvalidInput):
        f(status="published")


def test_text_search_over_locales_tags_filenames_and_embedded_metadata(
    add_asset, uploader, catalog
):
    machine = add_asset("Front packshot", filename="EP-200_front.jpg")
    bottle = add_asset(
        "Bottle",
        exif={0x010E: "Aurora borealis over Tromsø", 0x013B: "Ingrid Halvorsen"},
    )
    editing.update_asset(
        machine.pk,
        {
            "alt_text": {"de_DE": "Kaffeemaschine aus Edelstahl", "fr_FR": "Cafetière en inox"},
            "tags": ["Studio"],
        },
        user=uploader,
    )
    f = browse.filter_assets
    assert ids(f(q="kaffeemaschine")) == [machine.pk]
    assert ids(f(q="cafetiere")) == [machine.pk]  # accents ignored
    assert ids(f(q="edelst")) == [machine.pk]  # last word as a prefix
    assert ids(f(q="studio")) == [machine.pk]
    assert ids(f(q="EP-200")) == [machine.pk]
    assert ids(f(q="borealis")) == [bottle.pk]  # only in the file's EXIF description
    assert ids(f(q="halvorsen")) == [bottle.pk]
    assert ids(f(q="nothing-like-this")) == []

    r = client_for(uploader).get("/api/v1/assets", {"q": "cafetière", "type": "image"})
    assert [x["id"] for x in r.json()["results"]] == [machine.pk]

    # Edits reach the index in the same transaction.
    editing.update_asset(machine.pk, {"alt_text": {"fr_FR": None}}, user=uploader)
    assert ids(f(q="cafetiere")) == []


def test_list_is_paginated_newest_first(add_asset, uploader):
    made = [add_asset(f"Asset {i}").pk for i in range(5)]
    client = client_for(uploader)
    page = client.get("/api/v1/assets", {"page_size": 2}).json()
    seen = [x["id"] for x in page["results"]]
    while page["next"]:
        page = client.get(page["next"]).json()
        seen += [x["id"] for x in page["results"]]
    assert seen == sorted(made, reverse=True)


def test_agency_sees_only_its_collections(add_asset, make_user, uploader):
    agency = make_user("agency", "studio-north")
    editing.create_collection("agency-drop", name="Agency drop", agencies=["studio-north"])
    editing.create_collection("internal", name="Internal")
    theirs = add_asset("Shared with agency", collections=["agency-drop"])
    ours = add_asset("Internal only", collections=["internal"])
    loose = add_asset("In no collection")
    client = client_for(agency)

    listed = [x["id"] for x in client.get("/api/v1/assets").json()["results"]]
    assert listed == [theirs.pk]
    assert client.get(f"/api/v1/assets/{theirs.pk}").status_code == 200
    for other in (ours, loose):
        assert client.get(f"/api/v1/assets/{other.pk}").status_code == 404
        assert client.get(f"/api/v1/assets/{other.pk}/history").status_code == 404
    assert [c["code"] for c in client.get("/api/v1/asset-collections").json()["results"]] == [
        "agency-drop"
    ]
    assert client.get("/api/v1/asset-collections/internal").status_code == 404
    assert client.patch(f"/api/v1/assets/{theirs.pk}", {"title": "x"}, **JSON).status_code == 403
    assert ids(browse.filter_assets(user=agency, q="internal")) == []
    # Everyone else sees everything.
    assert len(client_for(uploader).get("/api/v1/assets").json()["results"]) == 3


def test_history_endpoint(add_asset, uploader):
    asset = add_asset("History")
    editing.update_asset(asset.pk, {"title": "History 2"}, user=uploader)
    rows = client_for(uploader).get(f"/api/v1/assets/{asset.pk}/history").json()["results"]
    assert [r["action"] for r in rows] == ["edit", "create"]
    assert rows[0]["changes"] == [{"field": "title", "old": "History", "new": "History 2"}]
    assert rows[0]["user"] == "uploader"
