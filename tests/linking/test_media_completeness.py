"""Media in completeness: a MediaRequirement counts only approved, in-rights (and, with a
preset, compliant) linked assets, inherited from models, and completeness follows link and
asset status changes."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from folio.assets import rights, workflow
from folio.catalog import services as catalog
from folio.catalog.models import Completeness, Product
from folio.linking import completeness as media
from folio.linking import services
from folio.linking.models import MediaRequirement
from folio.renditions import cache
from folio.renditions.models import Rendition
from tests.fixtures.catalog import espresso_pro
from tests.linking import test_sku360 as shared
from tests.linking.test_sku360 import add_asset, bottle_family

people = shared.people  # the fixtures, shared with the SKU 360 tests
uploads = shared.media


def row(sku, channel="ecommerce", locale="en_US"):
    return Completeness.objects.get(product__sku=sku, channel__code=channel, locale__code=locale)


@pytest.fixture
def machine(catalog, people):
    """EP-3000; its family needs a main image in the web shop."""
    product = services_create()
    media.set_requirement("coffee_machines", "ecommerce", "main")
    media.recompute([product.pk])
    return product


def services_create():
    return catalog.create_product(espresso_pro())


def test_draft_asset_is_missing_and_approval_fills_it(machine, people):
    up, ok = people["uploader"], people["approver"]
    asset = add_asset(up, "EP-3000 front")  # a draft
    services.link("EP-3000", asset.pk, "main", user=up)
    before = row("EP-3000")
    assert "media:main" in before.missing
    assert before.required >= 1
    workflow.submit_for_review(asset.pk, user=up)
    workflow.decide(asset.pk, approve=True, user=ok)
    after = row("EP-3000")
    assert "media:main" not in after.missing
    assert after.filled == before.filled + 1
    assert after.required == before.required
    # a channel without a requirement is not affected
    assert "media:main" not in row("EP-3000", "marketplace").missing


def test_expiry_and_unlink_take_it_away(machine, people):
    up, ok = people["uploader"], people["approver"]
    asset = add_asset(up, "EP-3000 front", approve_by=ok)
    created = services.link("EP-3000", asset.pk, "main", user=up)
    assert "media:main" not in row("EP-3000").missing
    # rights end: announced by the rights check, and completeness follows
    type(asset).objects.filter(pk=asset.pk).update(
        expires_at=timezone.now() - datetime.timedelta(minutes=1)
    )
    rights.announce_rights()
    assert "media:main" in row("EP-3000").missing
    type(asset).objects.filter(pk=asset.pk).update(expires_at=None, expiry_notified_at=None)
    media.recompute([machine.pk])
    assert "media:main" not in row("EP-3000").missing
    services.unlink(created.pk, user=up)
    assert "media:main" in row("EP-3000").missing


def test_min_count_and_channel_licence(machine, people):
    up, ok = people["uploader"], people["approver"]
    media.set_requirement("coffee_machines", "ecommerce", "gallery", min_count=2)
    a = add_asset(up, "side", approve_by=ok)
    b = add_asset(up, "top", approve_by=ok)
    services.link("EP-3000", a.pk, "gallery", user=up)
    assert "media:gallery" in row("EP-3000").missing
    services.link("EP-3000", b.pk, "gallery", user=up)
    assert "media:gallery" not in row("EP-3000").missing
    # licensed for the marketplace only: it no longer counts in the web shop
    b.channels.set([catalog_channel("marketplace")])
    media.recompute([machine.pk])
    assert "media:gallery" in row("EP-3000").missing


def catalog_channel(code):
    from folio.catalog.models import Channel

    return Channel.objects.get(code=code)


def test_variant_inherits_model_media(catalog, people):
    root, _sub, products = bottle_family()
    media.set_requirement("bottles", "ecommerce", "main")
    media.recompute([p.pk for p in products.values()])
    for p in products.values():
        assert "media:main" in row(p.sku).missing
    up, ok = people["uploader"], people["approver"]
    shared = add_asset(up, "bottle", approve_by=ok)
    services.link(root, shared.pk, "main", user=up)
    for p in products.values():
        assert "media:main" not in row(p.sku).missing
    # the blue bottle's own (draft) main image hides the model's: it is missing there only
    own = add_asset(up, "blue front")
    services.link(products["blue"], own.pk, "main", user=up)
    assert "media:main" in row("WB-750-SS-BLUE").missing
    assert "media:main" not in row("WB-750-SS-GREEN").missing


def test_compliant_preset_needs_a_passed_ready_rendition(machine, people):
    up, ok = people["uploader"], people["approver"]
    media.set_requirement("coffee_machines", "marketplace", "main", compliant_preset="amazon-main")
    asset = add_asset(up, "front", approve_by=ok)
    services.link("EP-3000", asset.pk, "main", user=up)
    assert "media:main" in row("EP-3000", "marketplace").missing  # not rendered yet
    assert "media:main" not in row("EP-3000", "ecommerce").missing
    rendition = cache.rendition_for(asset, "amazon-main")
    Rendition.objects.filter(pk=rendition.pk).update(
        status=Rendition.Status.READY, compliance={"passed": False, "checks": []}
    )
    media.recompute([machine.pk])
    assert "media:main" in row("EP-3000", "marketplace").missing
    Rendition.objects.filter(pk=rendition.pk).update(compliance={"passed": True, "checks": []})
    media.recompute([machine.pk])
    assert "media:main" not in row("EP-3000", "marketplace").missing


def test_provider_queries_do_not_grow_with_products(catalog, people):
    root, _sub, products = bottle_family()
    media.set_requirement("bottles", "ecommerce", "main")
    media.set_requirement("bottles", "marketplace", "main", compliant_preset="amazon-main")
    up, ok = people["uploader"], people["approver"]
    services.link(root, add_asset(up, "bottle", approve_by=ok).pk, "main", user=up)
    from folio.catalog import values as v

    structure = v.Structure.load()
    few = list(Product.objects.filter(sku="WB-750-SS-BLUE"))
    with CaptureQueriesContext(connection) as one:
        media.media_requirements(few, structure)
    many = list(Product.objects.all())
    with CaptureQueriesContext(connection) as all_:
        out = media.media_requirements(many, structure)
    assert len(all_) == len(one)
    assert out[(products["green"].pk, "ecommerce", "en_US")] == (1, 1, [])


def test_requirements_are_unique_and_validated(catalog):
    from folio.errors import InvalidInput, NotFound

    media.set_requirement("coffee_machines", "ecommerce", "main")
    media.set_requirement("coffee_machines", "ecommerce", "main", min_count=2)
    assert MediaRequirement.objects.get().min_count == 2
    with pytest.raises(InvalidInput):
        media.set_requirement("coffee_machines", "ecommerce", "Main Image")
    with pytest.raises(NotFound):
        media.set_requirement("nope", "ecommerce", "main")
    media.remove_requirement("coffee_machines", "ecommerce", "main")
    assert not MediaRequirement.objects.exists()


def test_media_requirements_through_the_api(api_client, catalog):
    editor = api_client("catalog_editor")
    viewer = api_client("viewer")
    url = "/api/v1/catalog/families/bottles/media-requirements"
    put = editor.put(f"{url}/ecommerce/main", {"min_count": 1}, content_type="application/json")
    assert put.status_code == 200, put.content
    assert put.json() == {
        "family": "bottles",
        "channel": "ecommerce",
        "role": "main",
        "min_count": 1,
        "compliant_preset": None,
        "version": 1,
    }
    assert [r["role"] for r in viewer.get(url).json()] == ["main"]
    assert (
        viewer.put(
            f"{url}/ecommerce/gallery", {"min_count": 2}, content_type="application/json"
        ).status_code
        == 403
    )
    bad = editor.put(f"{url}/nowhere/main", {}, content_type="application/json")
    assert bad.status_code == 422 and bad.json()["error"]["details"]["channel"] == "nowhere"
    assert editor.delete(f"{url}/ecommerce/main").status_code == 204
    assert viewer.get(url).json() == []


def test_a_rendition_made_checked_or_rejected_recomputes_completeness(machine, people, api_client):
    """No recompute is called here: the render job's step (render_one), the compliance
    re-check after a preset change and a rejected review each bring completeness along."""
    from folio.renditions import presets as preset_service
    from folio.renditions.jobs import recheck_compliance, render_one

    up, ok = people["uploader"], people["approver"]
    preset_service.create_preset(
        code="market-small",
        name="Marketplace thumbnail",
        spec={"format": "jpeg", "ops": [{"op": "resize", "mode": "fit", "width": 40}]},
        rules={"max_width": 100},
    )
    media.set_requirement("coffee_machines", "marketplace", "main", compliant_preset="market-small")
    asset = add_asset(up, "front", approve_by=ok)
    services.link("EP-3000", asset.pk, "main", user=up)
    assert "media:main" in row("EP-3000", "marketplace").missing  # not rendered yet

    rendition = cache.rendition_for(asset, "market-small")  # pending; the worker renders it
    render_one(rendition)
    assert rendition.status == Rendition.Status.READY
    assert rendition.compliance["passed"] is True
    assert "media:main" not in row("EP-3000", "marketplace").missing

    # The rules tighten: the re-check fails the same bytes, and the product follows.
    preset = preset_service.update_preset(
        "market-small", expected_version=1, rules={"min_width": 5000}
    )
    assert recheck_compliance(preset, preset_service.spec_hashes(preset)) == 1
    assert "media:main" in row("EP-3000", "marketplace").missing

    # Back to passing rules; then a person rejects the rendition in review.
    preset = preset_service.update_preset(
        "market-small", expected_version=preset.version, rules={"max_width": 100}
    )
    recheck_compliance(preset, preset_service.spec_hashes(preset))
    assert "media:main" not in row("EP-3000", "marketplace").missing
    response = api_client("admin").post(
        f"/api/v1/renditions/{rendition.pk}/review",
        {"accept": False, "comment": "wrong crop"},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert "media:main" in row("EP-3000", "marketplace").missing
