"""The demo seed's assets: made at seed time, in every approval and rights state, fast and
idempotent, with previews made afterwards by the worker like any upload."""

import datetime
import importlib
import io
import time

import pytest
from django.utils import timezone

from folio import demo
from folio.assets import rights
from folio.assets.models import Asset, Collection, ColorPalette
from folio.jobs.models import Job
from folio.jobs.worker import Worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("media")]


def _reseed_migration_data():
    """The demo needs the locales, currencies and units a data migration seeds; the flush
    after an earlier transactional test removed them (the seed is idempotent)."""
    from django.apps import apps

    importlib.import_module("folio.catalog.migrations.0002_measurement_families").seed(apps, None)


def test_demo_assets_are_seeded_in_every_state_once():
    _reseed_migration_data()
    out = io.StringIO()
    started = time.monotonic()
    demo.seed(out)
    seconds = time.monotonic() - started
    assert "Demo assets:" in out.getvalue()
    assert seconds < 30  # the whole demo (users, catalog, assets); the assets take a few s

    statuses = set(Asset.objects.values_list("status", flat=True))
    assert {"approved", "in_review", "draft", "rejected"} <= statuses
    now = timezone.now()
    expired = Asset.objects.get(title="Water bottle, last summer's campaign")
    assert expired.status == "approved" and expired.expires_at < now
    assert rights.is_publishable(expired)[0] is False
    soon = Asset.objects.get(title="EspressoPro in the kitchen")
    assert now < soon.expires_at <= now + datetime.timedelta(days=10)
    de_only = Asset.objects.get(title__startswith="Water bottle at sunset")
    assert de_only.territories == ["DE"]
    assert rights.is_publishable(de_only, territory="DE")[0] is True
    assert rights.is_publishable(de_only, territory="FR")[0] is False

    names = set(Asset.objects.values_list("current_version__filename", flat=True))
    assert {
        "WB-750-SS-BLUE_front.jpg",
        "WB-750-SS-GREEN_top.jpg",
        "EP-3000_side.jpg",
        "EP-3000_brewing.mp4",
        "EP-3000_setup-guide.pdf",
        "aqualine-logo.svg",
    } <= names
    types = dict(Asset.objects.values_list("current_version__filename", "type"))
    assert types["EP-3000_brewing.mp4"] == "video"
    assert types["EP-3000_setup-guide.pdf"] == "pdf"
    guide = Asset.objects.get(current_version__filename="EP-3000_setup-guide.pdf")
    assert guide.current_version.pages == 3

    kit = Collection.objects.get(code="aqualine-brand", is_brand_kit=True)
    logos = Asset.objects.filter(collections=kit, kind="logo")
    assert logos.filter(status="approved").count() == 3
    palette = ColorPalette.objects.get(collection=kit)
    assert palette.colours[0]["rgb"] == [11, 92, 173]

    count = Asset.objects.count()
    demo.seed(io.StringIO())
    assert Asset.objects.count() == count

    # Previews come afterwards from the worker, for every file with a preview.
    Worker(batch=True).run()
    jobs = Job.objects.filter(kind="folio.assets.previews.make_previews")
    assert jobs.count() == count
    assert set(jobs.values_list("status", flat=True)) == {"succeeded"}
