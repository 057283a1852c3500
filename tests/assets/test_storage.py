"""Content-addressed storage: streaming, dedup, size limits, cleanup on failure, pruning."""

import hashlib
import io

import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction

from folio.assets import storage
from folio.assets.models import Blob
from folio.errors import TooLarge
from tests.assets import files
from tests.assets.conftest import stored_files


class Trickle(io.RawIOBase):
    """A stream handing out `total` bytes in small reads, remembering the largest read."""

    def __init__(self, total: int):
        self.left = total
        self.digest = hashlib.sha256()
        self.largest = 0

    def readable(self):
        return True

    def read(self, n=-1):
        n = self.left if n is None or n < 0 else min(n, self.left)
        self.largest = max(self.largest, n)
        chunk = bytes((i * 31) % 256 for i in range(n % 4096)) * (n // 4096 or 1)
        chunk = (chunk + b"\x07" * n)[:n]
        self.left -= n
        self.digest.update(chunk)
        return chunk


def test_store_streams_hashes_and_names_by_content(db, media):
    data = files.png()
    blob, created = storage.store(io.BytesIO(data), filename="a.png")
    sha = hashlib.sha256(data).hexdigest()
    assert created and blob.sha256 == sha and blob.size == len(data)
    assert blob.mime == "image/png"
    assert blob.storage_name == f"blobs/{sha[:2]}/{sha[2:4]}/{sha}"
    with storage.open_blob(blob) as f:
        assert f.read() == data
    assert stored_files(media[1]) == []  # the temporary file is gone
    # Received straight into the media folder and renamed into place: no copy is left over.
    assert [f for f in stored_files(media[0]) if not f.startswith("pending/")] == [
        blob.storage_name
    ]


def test_a_local_file_is_copied_once_and_left_as_it_is(db, media, tmp_path):
    data = files.png(color=(4, 5, 6))
    source = tmp_path / "source.png"
    source.write_bytes(data)
    with transaction.atomic(), storage.spool_path(source) as sp:
        assert sp.sha256 == hashlib.sha256(data).hexdigest() and sp.size == len(data)
        assert sp.staged is not None and sp.staged.read_bytes() == data
        blob, created = storage.put(sp)
    assert created and source.read_bytes() == data
    with storage.open_blob(blob) as f:
        assert f.read() == data
    assert [f for f in stored_files(media[0]) if not f.startswith("pending/")] == [
        blob.storage_name
    ]


def test_a_staged_copy_nobody_took_is_deleted(db, media, tmp_path):
    source = tmp_path / "source.png"
    source.write_bytes(files.png(color=(7, 8, 9)))
    with storage.spool_path(source) as sp:
        assert sp.staged.exists()
    assert not sp.staged.exists() and stored_files(media[0]) == []


def test_staged_copies_of_killed_processes_are_swept(db, media):
    import os
    import time

    folder = media[0] / storage.STAGING_DIR
    folder.mkdir()
    old, new = folder / "stage-old", folder / "stage-new"
    old.write_bytes(b"x")
    new.write_bytes(b"y")
    an_hour_ago = time.time() - settings.STALE_FILE_GRACE - 60
    os.utime(old, (an_hour_ago, an_hour_ago))
    storage.delete_unreferenced_blobs()
    assert not old.exists() and new.exists()  # a live upload's copy stays


def test_identical_bytes_are_stored_once(db, media):
    data = files.jpeg()
    first, created1 = storage.store(io.BytesIO(data))
    second, created2 = storage.store(io.BytesIO(data))
    assert (created1, created2) == (True, False)
    assert first.pk == second.pk and Blob.objects.count() == 1
    assert len([f for f in stored_files(media[0]) if f.startswith("blobs/")]) == 1


def test_big_stream_is_read_in_chunks(db, media):
    stream = Trickle(9 * 1024 * 1024 + 17)
    blob, _ = storage.store(stream)
    assert blob.size == 9 * 1024 * 1024 + 17
    assert blob.sha256 == stream.digest.hexdigest()
    assert stream.largest <= storage.CHUNK  # never the whole file at once


def test_over_the_limit_is_refused_mid_stream_leaving_nothing(db, media, nothing_left):
    stream = Trickle(5 * 1024 * 1024)
    with pytest.raises(TooLarge) as err:
        storage.store(stream, filename="huge.mov", max_bytes=2 * 1024 * 1024)
    assert "huge.mov" in err.value.message
    assert stream.left > 0  # stopped reading once past the limit
    assert nothing_left()


def test_rollback_after_storing_removes_the_new_file(db, media, nothing_left):
    data = files.webp()

    class Boom(Exception):
        pass

    with pytest.raises(Boom), storage.cleanup_on_failure(), transaction.atomic():
        with storage.spool(io.BytesIO(data)) as sp:
            storage.put(sp)
            assert default_storage.exists(storage.blob_name(sp.sha256))
        raise Boom()
    assert nothing_left()


def test_rollback_keeps_a_file_other_rows_use(db, media):
    data = files.gif()
    blob, _ = storage.store(io.BytesIO(data))
    with pytest.raises(RuntimeError), storage.cleanup_on_failure(), transaction.atomic():
        storage.store(io.BytesIO(data))
        raise RuntimeError()
    assert default_storage.exists(blob.storage_name)


def test_delete_unreferenced_blobs_removes_rows_and_files(db, media):
    blob, _ = storage.store(io.BytesIO(files.png(color=(1, 2, 3))))
    assert storage.delete_unreferenced_blobs() == 1
    assert not Blob.objects.filter(pk=blob.pk).exists()
    assert not default_storage.exists(blob.storage_name)


def test_sniffing_goes_by_content():
    assert storage.sniff(files.png()[:64]) == "image/png"
    assert storage.sniff(files.svg()[:200]) == "image/svg+xml"
    assert storage.sniff(b"just some notes\n") == "text/plain"
    assert storage.sniff(files.random_bytes(512)) == "application/octet-stream"
