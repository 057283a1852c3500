"""A realistic small install for backup, restore and move-up tests, in a media folder of the
test's own."""

import hashlib
import importlib
from pathlib import Path

import pytest
from django.db import connection

from folio.assets.models import Blob
from folio.backups import database as db
from folio.catalog import services as products
from folio.linking import services as linking
from folio.renditions import cache
from folio.renditions.models import Rendition
from tests.fixtures.catalog import espresso_pro
from tests.renditions._support import add, product_jpeg, run_jobs


def _reseed_migration_data():
    """What data migrations insert, which the flush after an earlier transactional test
    removed: units, and the rendition presets."""
    from django.apps import apps

    importlib.import_module("folio.catalog.migrations.0002_measurement_families").seed(apps, None)
    importlib.import_module("folio.renditions.migrations.0002_seed_presets").seed(apps, None)


@pytest.fixture
def media_root(settings, tmp_path):
    root, uploads = tmp_path / "media", tmp_path / "uploads"
    root.mkdir()
    uploads.mkdir()
    settings.MEDIA_ROOT = str(root)
    settings.UPLOAD_DIR = uploads
    return root


@pytest.fixture
def installed(transactional_db, media_root, catalog, api_client):
    """A small real catalog: products of two families with values in several locales, three
    uploaded packshots linked to them, their previews and renditions made by the worker, and
    an API client whose token is in the database."""
    _reseed_migration_data()
    client = api_client("admin")
    user = client.user
    products.create_product(espresso_pro(), user=user)
    for sku in ("WB-500-RED", "WB-750-BLU"):
        products.create_product(
            {
                "sku": sku,
                "family": "bottles",
                "categories": ["drinkware"],
                "values": {"name": [{"locale": "en_US", "scope": None, "data": f"Bottle {sku}"}]},
            },
            user=user,
        )
    assets = []
    for n, (sku, colour) in enumerate(
        [("EP-3000", (20, 20, 20)), ("WB-500-RED", (200, 30, 30)), ("WB-750-BLU", (30, 30, 200))]
    ):
        asset = add(product_jpeg(480, 360, colour=colour, seed=n), f"{sku}.jpg", user=user)
        linking.link(linking.resolve_target_product(sku), asset.pk, "main", user=user)
        assets.append(asset)
    cache.ensure_renditions([a.pk for a in assets], ["thumb-256"], user=user)
    run_jobs()
    assert Rendition.objects.filter(status=Rendition.Status.READY).count() == 3
    assert Blob.objects.count() > len(assets)  # originals + previews + renditions
    return client


def counts() -> dict[str, int]:
    with connection.cursor() as cursor:
        return db.table_counts(cursor, connection.vendor)


def media_checksums(root: Path) -> dict[str, str]:
    """{path: sha256} of the stored files and publications (not the temporary areas)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file() and p.relative_to(root).parts[0] in {"blobs", "publications"}
    }


def download(client, asset_id: int) -> bytes:
    response = client.get(f"/api/v1/assets/{asset_id}/versions/1/download")
    assert response.status_code == 200, response.content[:300]
    return b"".join(response.streaming_content)
