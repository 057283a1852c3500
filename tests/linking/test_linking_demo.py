"""The demo seed's links: packshots auto-linked by SKU_view, shared media at the bottle root
model with each colour's own main image, EspressoPro's full set, media requirements; and
seeding again changes nothing."""

import io

import pytest

from folio import demo
from folio.catalog.models import Completeness
from folio.linking import services, sku360
from folio.linking.models import Link, MediaRequirement
from tests.assets.conftest import media  # noqa: F401 - the fixture

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]


def _roles(target, **kw):
    return {
        role: [e["filename"] for e in entries]
        for role, entries in services.links_for(target, **kw).items()
    }


def test_demo_links_with_variant_override_and_idempotent():
    from django.contrib.auth import get_user_model

    user_model = get_user_model()
    out = io.StringIO()
    demo.seed(out)
    assert "Demo links:" in out.getvalue()
    links = Link.objects.count()
    assert links > 0

    blue = _roles("WB-750-SS-BLUE")
    assert blue["main"] == ["WB-750-SS-BLUE_front.jpg"]
    assert blue["gallery"] == ["WB-750-SS-BLUE_side.jpg", "WB-750-SS-BLUE_top.jpg"]
    assert sorted(blue["lifestyle"]) == [
        "WB-750-SS-BLACK_lifestyle.jpg",
        "WB-750-SS-BLUE_lifestyle.jpg",
    ]
    assert _roles("WB-750-SS-BLACK")["main"] == ["WB-750-SS-BLACK_front.jpg"]
    # a size without shots of its own shows the root model's main image
    small = services.links_for("WB-500-SS-BLUE")
    assert small["main"][0]["origin"] == "WB-SS"
    assert services.links_for("WB-750-SS-BLACK")["warranty"][0]["origin"] == "WB-SS"

    machine = _roles("EP-3000")
    assert {"main", "gallery", "lifestyle", "video", "manual", "warranty"} <= set(machine)

    viewer = user_model.objects.filter(is_superuser=True).first()
    page = sku360.sku360("WB-750-SS-BLACK", user=viewer)
    by_role = {}
    for lk in page["links"]:
        by_role.setdefault(lk["role"], []).append(lk)
    # the 360 page shows the colour's own main image and the root model's shared media
    assert [(lk["asset"]["id"], lk["origin"]) for lk in by_role["main"]] == [
        (Link.objects.get(product__sku="WB-750-SS-BLACK", role="main").asset_id, "self")
    ]
    assert {lk["origin"] for lk in by_role["warranty"]} == {"WB-SS"}

    assert (
        MediaRequirement.objects.filter(
            channel__code="webshop", role="gallery", min_count=2
        ).count()
        == 2
    )
    assert MediaRequirement.objects.filter(channel__code="marketplace").count() == 1
    green = Completeness.objects.get(
        product__sku="WB-750-SS-GREEN", channel__code="webshop", locale__code="en_US"
    )
    assert "media:main" in green.missing  # its shots are still in review

    again = io.StringIO()
    demo.seed(again)
    assert Link.objects.count() == links
    assert "Demo links:" not in again.getvalue()
