"""`folio move-up`: an embedded install (SQLite + a media folder) copied to a real PostgreSQL
database and a real S3 server (SeaweedFS on loopback), then read back through the ORM.

The source must be SQLite, so these run in the SQLite pass only. The target database is this
module's own (folio_moveup_test), created and dropped here; without a PostgreSQL server the
tests are skipped, loudly."""

import hashlib
import io
import os

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections

from folio.assets.models import Asset, AssetVersion, Blob
from folio.backups import moveup
from folio.catalog.models import Product
from folio.search.backends import PostgreSQLBackend
from tests.backups.conftest import counts
from tests.s3server import ACCESS, BUCKET, SECRET, seaweed  # noqa: F401 - fixture

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.sqlite_only]

SERVER = os.environ.get("FOLIO_MOVEUP_TEST_SERVER", "postgresql://postgres@127.0.0.1:5432")
# One target per pytest-xdist worker (the move-up tests of two workers may run at once).
TARGET_DB = f"folio_moveup_test_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"


def _admin():
    import psycopg

    return psycopg.connect(f"{SERVER}/postgres", autocommit=True, connect_timeout=5)


def _drop(admin) -> None:
    admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
        [TARGET_DB],
    )
    admin.execute(f'DROP DATABASE IF EXISTS "{TARGET_DB}"')


@pytest.fixture
def target_url():
    try:
        admin = _admin()
    except Exception as exc:
        pytest.skip(f"POSTGRESQL UNREACHABLE at {SERVER}: move-up is NOT tested ({exc})")
    with admin:
        _drop(admin)
        admin.execute(f'CREATE DATABASE "{TARGET_DB}"')
    yield f"{SERVER}/{TARGET_DB}"
    moved = getattr(connections._connections, moveup.TARGET, None)
    if moved is not None:
        moved.close()
    with _admin() as admin:
        _drop(admin)


@pytest.fixture
def s3_settings(seaweed, settings):  # noqa: F811
    endpoint, client = seaweed
    settings.S3_ENDPOINT_URL = endpoint
    settings.S3_REGION = "us-east-1"
    settings.S3_ACCESS_KEY = ACCESS
    settings.S3_SECRET_KEY = SECRET
    return client


def move_up(*args) -> str:
    out = io.StringIO()
    call_command("move_up", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_move_up_copies_every_row_and_file_and_the_app_reads_them(
    installed, target_url, s3_settings
):
    s3 = s3_settings
    source_counts = counts()
    files = {b.storage_name: (b.sha256, b.size) for b in Blob.objects.all()}
    product = Product.objects.get(sku="EP-3000")
    asset = Asset.objects.order_by("pk").first()

    out = move_up("--to-database", target_url, "--to-media", f"s3://{BUCKET}/moved")
    assert "counts verified" in out
    assert f"FOLIO_MEDIA=s3://{BUCKET}/moved" in out
    assert counts() == source_counts  # the source is read, never written

    # Every model table has the same rows; what is not moved is said and why.
    target = connections[moveup.TARGET]
    with target.cursor() as cursor:
        for table, n in source_counts.items():
            if table in moveup.NOT_MOVED or table.startswith("search_fts"):
                assert f"not copied: {table}" in out or table.startswith("search_fts_")
                continue
            cursor.execute(f'SELECT COUNT(*) FROM "{table}"')  # noqa: S608
            assert (table, cursor.fetchone()[0]) == (table, n)
        # The search text arrived as PostgreSQL's own index: a query finds the product.
        cursor.execute(
            "SELECT e.ref_id FROM search_entry e WHERE e.kind = 'product' AND e.document @@ "
            "to_tsquery('simple', %s)",
            [PostgreSQLBackend()._lexeme("espressopro", False)],
        )
        assert str(product.pk) in {r for (r,) in cursor.fetchall()}
        # With its vocabulary, from which typed prefixes are completed.
        cursor.execute("SELECT lexeme FROM search_lexeme WHERE lexeme LIKE 'espresso%%'")
        assert "espressopro" in {r for (r,) in cursor.fetchall()}
        # Sequences continue after the copied keys.
        cursor.execute("SELECT nextval(pg_get_serial_sequence('catalog_product', 'id'))")
        assert cursor.fetchone()[0] > Product.objects.order_by("-pk").first().pk

    # The app reads the moved data through the ORM, types and relations intact.
    moved = Product.objects.using(moveup.TARGET).get(sku="EP-3000")
    assert moved.pk == product.pk
    assert moved.values == product.values
    assert moved.family.code == "coffee_machines"
    assert moved.updated_at == product.updated_at  # not reset by auto_now
    version = AssetVersion.objects.using(moveup.TARGET).get(asset_id=asset.pk, number=1)
    assert version.blob_id == asset.current_version.blob_id

    # Every file is in the bucket with its checksum; the asset's bytes are the same.
    for name, (sha, size) in files.items():
        body = s3.get_object(Bucket=BUCKET, Key=f"moved/{name}")["Body"].read()
        assert (hashlib.sha256(body).hexdigest(), len(body)) == (sha, size)
    storage = moveup.media_storage(f"s3://{BUCKET}/moved")
    with storage.open(version.blob.storage_name) as f:
        moved_bytes = f.read()
    from folio.assets import storage as asset_storage

    with asset_storage.open_blob(asset.current_version.blob) as f:
        assert moved_bytes == f.read()


def test_move_up_refuses_a_target_with_data_unless_forced(installed, target_url, s3_settings):
    move_up("--to-database", target_url, "--to-media", f"s3://{BUCKET}/again")
    with pytest.raises(CommandError, match=r"target database is not empty \(.*rows in"):
        move_up("--to-database", target_url)
    with pytest.raises(CommandError, match=r"holds stored files already"):
        move_up("--to-media", f"s3://{BUCKET}/again")

    # --force replaces the target's rows with the source's (the audit log included).
    Product.objects.filter(sku="WB-750-BLU").delete()
    out = move_up("--to-database", target_url, "--to-media", f"s3://{BUCKET}/again", "--force")
    assert "were there already" in out
    assert Product.objects.using(moveup.TARGET).count() == Product.objects.count()
    assert not Product.objects.using(moveup.TARGET).filter(sku="WB-750-BLU").exists()


def test_move_up_needs_a_target_and_a_postgresql_url(installed):
    with pytest.raises(CommandError, match="give --to-database"):
        move_up()
    with pytest.raises(CommandError, match="must be a postgresql://"):
        move_up("--to-database", "mysql://x@y/z")
    assert connection.vendor == "sqlite"
