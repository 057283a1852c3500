"""Helpers shared by the presets, cache, delivery, video and API tests of renditions: real
encoded files become assets, and jobs run through the real worker in this process."""

import importlib
import io

import pytest
from PIL import Image, ImageDraw

from folio.assets import services
from folio.assets.models import Asset
from folio.jobs.worker import Worker


def add(data: bytes, filename: str, *, approve: bool = True, **kwargs) -> Asset:
    asset = services.add_asset(io.BytesIO(data), filename=filename, **kwargs)
    if approve:
        Asset.objects.filter(pk=asset.pk).update(status=Asset.Status.APPROVED)
        asset.refresh_from_db()
    return asset


def run_jobs() -> None:
    Worker(batch=True, interval=0).run()


def product_jpeg(
    width: int = 1200, height: int = 900, colour=(200, 30, 30), seed: int = 0
) -> bytes:
    """A product shot: a coloured box on a light grey studio background."""
    img = Image.new("RGB", (width, height), (235, 235, 235))
    draw = ImageDraw.Draw(img)
    draw.rectangle(
        [width * 0.3, height * 0.2, width * 0.7, height * 0.85], fill=colour, outline=(20, 20, 20)
    )
    draw.point([(seed % width, 0)], fill=(seed % 256, 0, 0))  # distinct bytes per seed
    out = io.BytesIO()
    img.save(out, "JPEG", quality=90)
    return out.getvalue()


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.fixture
def seeded(db):
    """The seeded presets: a transactional test's flush removes what migrations inserted."""
    from django.apps import apps

    importlib.import_module("folio.renditions.migrations.0002_seed_presets").seed(apps, None)
