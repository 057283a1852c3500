"""Fixtures for the assets tests: a media folder and upload folder of each test's own, users,
collections, and checks that a refused upload left nothing behind."""

import io
import itertools
from pathlib import Path

import pytest

from folio.accounts import services as accounts
from folio.assets.models import Collection
from tests.assets import files

_shade = itertools.count(1)


@pytest.fixture
def media(settings, tmp_path):
    """MEDIA_ROOT and UPLOAD_DIR in this test's tmp_path; yields (media_root, upload_dir)."""
    root, uploads = tmp_path / "media", tmp_path / "uploads"
    root.mkdir()
    uploads.mkdir()
    settings.MEDIA_ROOT = str(root)
    settings.UPLOAD_DIR = uploads
    return root, uploads


def stored_files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@pytest.fixture
def nothing_left(media):
    """assert nothing_left() after a refused upload: no blob row, no stored file, no temp."""
    from folio.assets.models import Asset, AssetVersion, Blob

    def check(*, blobs: int = 0, assets: int = 0):
        root, uploads = media
        assert Blob.objects.count() == blobs
        assert Asset.objects.count() == assets
        if assets == 0:
            assert AssetVersion.objects.count() == 0
        blob_files = [f for f in stored_files(root) if f.startswith("blobs/")]
        assert len(blob_files) == blobs, blob_files
        assert [f for f in stored_files(root) if f.startswith("pending/")] == []
        assert [f for f in stored_files(root) if f.startswith("staging/")] == []
        assert stored_files(uploads) == []
        return True

    return check


def unique_jpeg(width: int = 64, height: int = 48, exif: dict | None = None) -> bytes:
    """A JPEG whose bytes differ from every other one made here."""
    n = next(_shade)
    return files.jpeg(width, height, color=(n % 251, (n // 251) % 251, (n * 7) % 251), exif=exif)


def upload(data: bytes, name: str = "file.bin") -> io.BytesIO:
    f = io.BytesIO(data)
    f.name = name
    return f


@pytest.fixture
def manager(db):
    return accounts.create_user("mia", roles=["asset_manager"], password="correct-horse-battery-9")


@pytest.fixture
def agency(db):
    return accounts.create_user("ad-agency", roles=["agency"], password="correct-horse-battery-9")


@pytest.fixture
def collection(db):
    def make(code: str = "winter", **kw) -> Collection:
        return Collection.objects.create(code=code, name=kw.pop("name", code.title()), **kw)

    return make
