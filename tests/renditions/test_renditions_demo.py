"""The demo seed's renditions: image slots on the demo channels and renditions of the
approved packshots queued for the worker, which makes them with compliance recorded."""

import importlib
import io

import pytest

from folio import demo
from folio.assets.models import Asset
from folio.renditions import presets as preset_service
from folio.renditions.models import ImageSlot, Rendition
from tests.assets.conftest import media  # noqa: F401 - the fixture
from tests.renditions._support import run_jobs, seeded  # noqa: F401 - the fixture

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("media")]


def _reseed_catalog_migration_data():
    """Locales, currencies and units a data migration seeds, which the flush after an earlier
    transactional test removed. The presets are left out on purpose: the demo seed makes
    the ones it needs when a flushed database lacks them."""
    from django.apps import apps

    importlib.import_module("folio.catalog.migrations.0002_measurement_families").seed(apps, None)


def test_demo_seeds_slots_and_queues_renditions_the_worker_makes():
    _reseed_catalog_migration_data()
    out = io.StringIO()
    demo.seed(out)
    assert "Demo renditions:" in out.getvalue()

    slots = {
        (s.channel.code, s.role): (s.preset.code, s.max_count, s.required)
        for s in ImageSlot.objects.select_related("channel", "preset")
    }
    assert slots == {
        ("webshop", "main"): ("web-2048-webp", 1, False),
        ("webshop", "gallery"): ("web-2048-webp", 8, False),
        ("marketplace", "main"): ("amazon-main", 1, True),
        ("marketplace", "gallery"): ("amazon-gallery", 8, False),
        # the print channel the publishing demo adds for its PDF catalogue feed
        ("print", "main"): ("print-300dpi-cmyk", 1, False),
    }

    approved = Asset.objects.filter(kind="packshot", status=Asset.Status.APPROVED)
    fronts = approved.filter(current_version__filename__contains="_front.")
    shas = set(approved.values_list("current_version__blob_id", flat=True))
    renditions = Rendition.objects.select_related("preset")
    assert renditions.filter(status="pending").count() == renditions.count() > 0
    by_preset = {}
    for r in renditions:
        by_preset.setdefault(r.preset.code, set()).add(r.source_sha256)
    assert by_preset["web-2048-webp"] == shas
    assert by_preset["amazon-gallery"] == shas
    assert by_preset["amazon-main"] == set(
        fronts.values_list("current_version__blob_id", flat=True)
    )
    # Nothing from drafts, reviews or rejections, nor lifestyle shots.
    unapproved = set(
        Asset.objects.exclude(status=Asset.Status.APPROVED).values_list(
            "current_version__blob_id", flat=True
        )
    )
    assert not unapproved & set(renditions.values_list("source_sha256", flat=True))

    # Idempotent: a second seed adds no slot, no rendition and no render job.
    count = renditions.count()
    demo.seed(io.StringIO())
    assert ImageSlot.objects.count() == 5
    assert renditions.count() == count

    # The worker makes them (previews of the demo files are in the same queue).
    run_jobs()
    rows = list(renditions.all())
    assert {r.status for r in rows} == {"ready"}, [r.error for r in rows if r.error]
    for r in rows:
        assert r.blob_id and r.size > 0 and r.rendered_at is not None
        assert r.compliance.get("checks"), r.preset.code
    main = [r for r in rows if r.preset.code == "amazon-main"]
    assert {(r.width, r.height, r.format) for r in main} == {(2000, 2000, "jpeg")}
    assert all(r.confidence is not None for r in main)
    web = [r for r in rows if r.preset.code == "web-2048-webp"]
    assert all(r.format == "webp" and r.compliance["passed"] for r in web)


@pytest.mark.usefixtures("seeded")
def test_a_later_seed_keeps_an_edited_slot_and_follows_its_preset():
    _reseed_catalog_migration_data()
    demo.seed(io.StringIO())
    preset_service.update_slot("webshop", "main", preset="thumb-256")
    demo.seed(io.StringIO())
    assert preset_service.get_slot("webshop", "main").preset.code == "thumb-256"
    fronts = Asset.objects.filter(
        kind="packshot", status=Asset.Status.APPROVED, current_version__filename__contains="_front."
    )
    thumbs = Rendition.objects.filter(preset__code="thumb-256", status="pending")
    assert set(thumbs.values_list("source_sha256", flat=True)) == set(
        fronts.values_list("current_version__blob_id", flat=True)
    )
