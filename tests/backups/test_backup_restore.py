"""`folio backup` and `folio restore` round trips on the test database's own vendor (SQLite or
PostgreSQL): a real catalog with uploaded images and renditions is backed up, wiped and
restored, then compared table by table, file by file and by downloading an asset."""

import hashlib
import io
import json
import shutil

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from folio.assets.models import Asset, Blob
from folio.assets.services import add_asset
from folio.backups import database as db
from folio.backups import services
from folio.catalog.models import Product
from tests.assets.conftest import unique_jpeg, upload
from tests.backups.conftest import counts, download, media_checksums
from tests.s3server import ACCESS, BUCKET, SECRET, s3_media, seaweed  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db(transaction=True)


def folio(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def only_backup(dest) -> "object":
    backups = [p for p in dest.iterdir()]
    assert len(backups) == 1, backups
    return backups[0]


def wipe(media_root) -> None:
    call_command("flush", interactive=False, verbosity=0)
    shutil.rmtree(media_root)
    media_root.mkdir()
    assert Product.objects.count() == 0
    assert media_checksums(media_root) == {}


def test_backup_wipe_restore_gives_back_every_row_and_file(installed, media_root, tmp_path):
    client = installed
    asset = Asset.objects.order_by("pk").first()
    original = download(client, asset.pk)
    # A release in the media storage, as feeds publish there with S3 media.
    release = media_root / "publications" / "webshop" / "google" / "releases" / "r1"
    release.mkdir(parents=True)
    (release / "feed.xml").write_bytes(b"<rss><channel/></rss>\n")
    (release.parent.parent / "current.json").write_text('{"release": "r1"}')
    before_counts = counts()
    before_files = media_checksums(media_root)

    out = folio("backup", str(tmp_path / "backups"))
    backup = only_backup(tmp_path / "backups")
    assert f"backup complete: {backup}" in out

    manifest = json.loads((backup / "manifest.json").read_text())
    assert manifest["database"]["vendor"] == connection.vendor
    assert manifest["counts"] == before_counts
    assert "0001_initial" in manifest["migrations"]["catalog"]
    lines = [json.loads(x) for x in (backup / "files.jsonl").read_text().splitlines()]
    assert {line["path"]: line["sha256"] for line in lines} == before_files
    assert all((backup / "media" / line["path"]).stat().st_size == line["size"] for line in lines)
    assert manifest["files"]["count"] == Blob.objects.count() + 2 == len(before_files)
    assert manifest["files"]["publications"] == 2

    wipe(media_root)
    out = folio("restore", str(backup))
    assert "verified:" in out

    assert counts() == before_counts
    assert media_checksums(media_root) == before_files
    assert download(client, asset.pk) == original  # the restored token, the restored bytes


def test_a_backup_is_a_snapshot_of_committed_data_while_another_transaction_writes(
    installed, tmp_path
):
    # A second connection, as the running server would be, holds an uncommitted write.
    writer = connection.get_new_connection(connection.get_connection_params())
    try:
        cursor = writer.cursor()
        if connection.vendor == "sqlite":
            cursor.execute("BEGIN IMMEDIATE")
        cursor.execute(
            "INSERT INTO assets_tag (name, version, updated_at) "
            "VALUES ('not-yet-committed', 1, CURRENT_TIMESTAMP)"
        )
        manifest = services.backup(str(tmp_path / "backups"))
        writer.rollback()
    finally:
        writer.close()
    assert manifest["counts"]["assets_tag"] == counts()["assets_tag"]


def test_a_second_backup_takes_unchanged_files_from_the_first(installed, tmp_path):
    first = services.backup(str(tmp_path / "b"))
    assert first["files"]["copied"] == first["files"]["count"] > 0
    second = services.backup(str(tmp_path / "b"))
    assert second["files"]["copied"] == 0
    assert second["files"]["reused"] == second["files"]["count"]
    assert second["location"] != first["location"]
    # Hard links: each backup folder is whole on its own, the bytes are stored once.
    line = json.loads(
        (tmp_path / "b" / second["location"].rsplit("/", 1)[1] / "files.jsonl")
        .read_text()
        .splitlines()[0]
    )
    from pathlib import Path

    first_copy = Path(first["location"]) / "media" / line["path"]
    second_copy = Path(second["location"]) / "media" / line["path"]
    assert first_copy.stat().st_ino == second_copy.stat().st_ino
    # …and deleting the first backup leaves the second complete.
    shutil.rmtree(first["location"])
    assert second_copy.read_bytes()


def test_a_failed_backup_leaves_nothing_that_looks_like_a_backup(installed, media_root, tmp_path):
    blob = Blob.objects.order_by("sha256").last()
    (media_root / blob.storage_name).unlink()
    with pytest.raises(CommandError, match=f"{blob.storage_name} is in the database but missing"):
        folio("backup", str(tmp_path / "backups"))
    assert list((tmp_path / "backups").iterdir()) == []  # no backup, no .partial-… left


def test_restore_refuses_a_non_empty_installation_unless_forced(installed, tmp_path, media_root):
    manifest = services.backup(str(tmp_path / "b"))
    with pytest.raises(CommandError, match=r"this installation is not empty .* rows in"):
        folio("restore", manifest["location"])
    # --force replaces what changed since.
    Product.objects.all().delete()
    before = manifest["counts"]
    folio("restore", manifest["location"], "--force")
    assert counts() == before


def test_restore_refuses_a_backup_from_a_newer_schema(installed, tmp_path, media_root):
    manifest = services.backup(str(tmp_path / "b"))
    path = tmp_path / "b" / manifest["location"].rsplit("/", 1)[1] / "manifest.json"
    data = json.loads(path.read_text())
    data["migrations"]["catalog"].append("0099_from_the_future")
    data["folio_version"] = "9.0.0"
    path.write_text(json.dumps(data))
    wipe(media_root)
    with pytest.raises(
        CommandError, match=r"newer Folio \(version 9.0.0.*catalog.0099_from_the_future"
    ):
        folio("restore", manifest["location"])
    assert Product.objects.count() == 0  # nothing restored


def test_restore_refuses_a_damaged_backup_before_touching_the_database(
    installed, tmp_path, media_root
):
    manifest = services.backup(str(tmp_path / "b"))
    backup = tmp_path / "b" / manifest["location"].rsplit("/", 1)[1]
    line = json.loads((backup / "files.jsonl").read_text().splitlines()[0])
    damaged = backup / "media" / line["path"]
    damaged.write_bytes(damaged.read_bytes()[:-10] + b"0123456789")
    wipe(media_root)
    with pytest.raises(CommandError, match=f"{line['path']} in the backup does not match"):
        folio("restore", str(backup))
    assert Product.objects.count() == 0


def test_restore_names_the_backups_in_a_folder_that_holds_several(installed, tmp_path):
    services.backup(str(tmp_path / "b"))
    newest = services.backup(str(tmp_path / "b"))
    with pytest.raises(CommandError, match=f"holds 2 backup.*{newest['location']}"):
        folio("restore", str(tmp_path / "b"))
    with pytest.raises(CommandError, match=r"is not a backup: it has no manifest\.json"):
        folio("restore", str(tmp_path))


def test_a_missing_postgresql_tool_is_named_with_what_to_do(settings, tmp_path):
    settings.PG_BIN_DIR = str(tmp_path)
    with pytest.raises(db.ToolMissing, match=r"pg_nothing is missing.*postgresql-client"):
        db.pg_tool("pg_nothing")


def test_backup_to_and_restore_from_s3(installed, media_root, seaweed, settings):  # noqa: F811
    endpoint, s3 = seaweed
    settings.S3_ENDPOINT_URL = endpoint
    settings.S3_REGION = "us-east-1"
    settings.S3_ACCESS_KEY = ACCESS
    settings.S3_SECRET_KEY = SECRET
    client = installed
    asset = Asset.objects.order_by("pk").first()
    original = download(client, asset.pk)
    before_counts, before_files = counts(), media_checksums(media_root)

    first = services.backup(f"s3://{BUCKET}/backups")
    second = services.backup(f"s3://{BUCKET}/backups")  # server-side copies of the first's
    assert second["files"]["reused"] == second["files"]["count"]
    key = second["location"][len(f"s3://{BUCKET}/") :]
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=key + "/")["Contents"]
    assert {o["Key"][len(key) + 1 :] for o in listed} >= {"manifest.json", "files.jsonl"}
    assert first["location"] != second["location"]

    wipe(media_root)
    services.restore(second["location"])
    assert counts() == before_counts
    assert media_checksums(media_root) == before_files
    assert download(client, asset.pk) == original


def test_an_install_with_s3_media_is_backed_up_and_restored_from_its_bucket(
    s3_media,  # noqa: F811 - the fixture imported above
    make_user,
    tmp_path,
):
    s3 = s3_media
    user = make_user("asset_manager")
    for n in range(2):
        add_asset(upload(unique_jpeg(60 + n, 40)), filename=f"p{n}.jpg", user=user)

    def stored() -> dict[str, str]:
        listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="assets-test/blobs/")
        return {
            o["Key"]: hashlib.sha256(
                s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read()
            ).hexdigest()
            for o in listed.get("Contents", [])
        }

    before_counts, before_files = counts(), stored()
    assert len(before_files) == Blob.objects.count() >= 2
    manifest = services.backup(str(tmp_path / "b"))

    call_command("flush", interactive=False, verbosity=0)
    for key in before_files:
        s3.delete_object(Bucket=BUCKET, Key=key)
    assert stored() == {}
    services.restore(manifest["location"])
    assert counts() == before_counts
    assert stored() == before_files
    assert all(key.endswith(sha) for key, sha in before_files.items())
