"""Content-addressed file storage: every distinct file is stored once, named by its SHA-256.

An upload is first *spooled*: streamed in chunks into a temporary file while its SHA-256 is
computed and its first bytes are sniffed, so memory stays flat for multi-gigabyte files and an
over-size file is refused as soon as it passes the limit. Metadata is read from that local
file; only then are the bytes put into the media storage at `blobs/aa/bb/<sha256>`, and only
if no blob with that hash exists.

When the media storage is a local folder (Django's plain FileSystemStorage) the temporary
file is written inside it (`staging/`), and storing is a rename: the bytes are read and
written once, hashed on the way, instead of hashed in one pass and copied in another. A file
already on local disk (`spool_path`) is copied there in that same single pass. Any other
storage (S3) gets the bytes through Django's storage API from a temporary file in
settings.UPLOAD_DIR.

A failed upload leaves nothing behind: the temporary file is removed in every case (a
refused file's staged copy included), and a
stored file whose database transaction does not commit is removed too. Before a new file is
put into storage a small marker (`pending/<sha256>`) is saved next to it and removed once the
transaction commits; `delete_unreferenced_blobs()` deletes any file whose marker outlived its
transaction (a rollback in an outer transaction, or a process killed mid-way) without a Blob
row, and any staged copy a killed process left, so no listing of the whole storage is ever
needed.
"""

import contextlib
import contextvars
import errno
import hashlib
import logging
import os
import secrets
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import filetype
from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils._os import safe_makedirs

from folio import faults
from folio.assets.models import AssetVersion, Blob
from folio.errors import InvalidInput, TooLarge

log = logging.getLogger("folio.assets")

CHUNK = 1024 * 1024
SNIFF_BYTES = 8192
PENDING_DIR = "pending"
# Uploads being received straight into a local media folder (see _local_storage).
STAGING_DIR = "staging"
STAGED_PREFIX = "stage-"
# Hashes of files stored by the service call in progress (see cleanup_on_failure).
_rollback_watch: contextvars.ContextVar[list | None] = contextvars.ContextVar(
    "folio_blob_watch", default=None
)


@dataclass
class Spooled:
    """A file received into UPLOAD_DIR: its local path, hash, size and sniffed type."""

    path: Path
    sha256: str
    size: int
    mime: str
    head: bytes = field(repr=False, default=b"")
    # A copy of the same bytes inside the local media folder, which put() renames into place
    # instead of copying the bytes again (None: put() stores `path` through the storage API).
    staged: Path | None = None


def blob_name(sha256: str) -> str:
    return f"blobs/{sha256[:2]}/{sha256[2:4]}/{sha256}"


def upload_dir() -> Path:
    path = Path(settings.UPLOAD_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _human(n: int) -> str:
    size = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} bytes"  # pragma: no cover


def sniff(head: bytes) -> str:
    """The MIME type the content says (never the name). SVG and text have no magic number,
    so they are recognised by their start; anything unknown is application/octet-stream."""
    kind = filetype.guess(head) if head else None
    if kind is not None:
        return kind.mime
    text = _as_text(head)
    if text is None:
        return "application/octet-stream"
    start = text.lstrip("\ufeff \t\r\n").lower()
    if "<svg" in start[:4096] and (
        start.startswith("<?xml")
        or start.startswith("<svg")
        or start.startswith("<!--")
        or start.startswith("<!doctype")
    ):
        return "image/svg+xml"
    if start.startswith("<?xml"):
        return "application/xml"
    return "text/plain"


def _as_text(head: bytes) -> str | None:
    if b"\x00" in head:
        return None
    # The sniffed block may end inside a multi-byte character.
    for cut in range(4):
        try:
            return head[: len(head) - cut].decode("utf-8")
        except UnicodeDecodeError:
            continue
    return None


def _local_storage() -> FileSystemStorage | None:
    """The media storage if it is Django's plain FileSystemStorage: its files may then be
    written and renamed directly. Not for subclasses (they may change what _save writes) nor
    for remote storages such as S3, which always go through the storage API."""
    return default_storage if default_storage.__class__ is FileSystemStorage else None


def _makedirs(fs: FileSystemStorage, directory: Path) -> None:
    # As FileSystemStorage._save creates folders, so staged and renamed files get the same
    # permissions as files it saves itself.
    if fs.directory_permissions_mode is not None:
        safe_makedirs(directory, fs.directory_permissions_mode, exist_ok=True)
    else:
        os.makedirs(directory, exist_ok=True)


def _new_temporary(fs: FileSystemStorage | None, prefix: str) -> tuple[int, Path]:
    """An open, new, empty file: in the local media folder's staging area when there is one
    (same filesystem as the blobs, so storing it is a rename), else in UPLOAD_DIR."""
    if fs is None:
        fd, name = tempfile.mkstemp(prefix=prefix, dir=upload_dir())
        return fd, Path(name)
    folder = Path(fs.path(STAGING_DIR))
    _makedirs(fs, folder)
    while True:
        path = folder / f"{STAGED_PREFIX}{secrets.token_hex(16)}"
        try:
            # Mode 0o666 less the umask, as FileSystemStorage creates files.
            return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), path
        except FileExistsError:  # pragma: no cover - 128 random bits
            continue


def _receive(source, out, *, filename: str, limit: int) -> tuple[str, int, bytes]:
    """Copy `source` to `out` in CHUNK pieces, hashing and sniffing on the way; refuse it as
    soon as it passes `limit` or if it is empty. (sha256, size, head)."""
    digest = hashlib.sha256()
    size = 0
    head = b""
    while True:
        chunk = source.read(CHUNK)
        if not chunk:
            break
        size += len(chunk)
        if size > limit:
            raise TooLarge(
                f"{filename or 'the file'} is larger than the {_human(limit)} allowed",
                details={"filename": filename, "max_bytes": limit},
            )
        if len(head) < SNIFF_BYTES:
            head += chunk[: SNIFF_BYTES - len(head)]
        digest.update(chunk)
        out.write(chunk)
    if size == 0:
        raise InvalidInput(f"{filename or 'the file'} is empty", details={"filename": filename})
    return digest.hexdigest(), size, head


@contextlib.contextmanager
def spool(fileobj, *, filename: str = "", max_bytes: int | None = None) -> Iterator[Spooled]:
    """Receive `fileobj` into a temporary file; the file is deleted when the block ends."""
    limit = settings.MAX_UPLOAD_BYTES if max_bytes is None else max_bytes
    fs = _local_storage()
    fd, path = _new_temporary(fs, "spool-")
    try:
        with os.fdopen(fd, "wb") as out:
            sha256, size, head = _receive(fileobj, out, filename=filename, limit=limit)
        yield Spooled(
            path=path,
            sha256=sha256,
            size=size,
            mime=sniff(head),
            head=head,
            staged=path if fs is not None else None,
        )
    finally:
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def spool_path(path: Path, *, filename: str = "", max_bytes: int | None = None):
    """Like spool() for a file already on local disk (an assembled resumable upload, a
    sanitised copy, Django's temporary file of a multipart upload): examined where it is and
    left as it is. With a local media folder it is copied into the staging area in the same
    pass that hashes it (the copy is deleted when the block ends unless put() took it);
    otherwise it is only hashed, and put() copies it through the storage API."""
    limit = settings.MAX_UPLOAD_BYTES if max_bytes is None else max_bytes
    path = Path(path)
    size = path.stat().st_size
    if size > limit:
        raise TooLarge(
            f"{filename or path.name} is larger than the {_human(limit)} allowed",
            details={"filename": filename, "max_bytes": limit},
        )
    if size == 0:
        raise InvalidInput(f"{filename or path.name} is empty", details={"filename": filename})
    fs = _local_storage()
    if fs is None:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            head = f.read(SNIFF_BYTES)
            digest.update(head)
            while chunk := f.read(CHUNK):
                digest.update(chunk)
        yield Spooled(path=path, sha256=digest.hexdigest(), size=size, mime=sniff(head), head=head)
        return
    fd, staged = _new_temporary(fs, "spool-")
    try:
        with os.fdopen(fd, "wb") as out, open(path, "rb") as f:
            # The size read is the one stored: the file may have changed since stat().
            sha256, size, head = _receive(f, out, filename=filename or path.name, limit=limit)
        yield Spooled(
            path=path, sha256=sha256, size=size, mime=sniff(head), head=head, staged=staged
        )
    finally:
        staged.unlink(missing_ok=True)


def _store_file(spooled: Spooled, name: str) -> None:
    """Put the spooled bytes into the media storage at `name` (content-addressed: whatever
    is there already, or lands there concurrently, holds the same bytes)."""
    fs = _local_storage()
    if fs is not None and spooled.staged is not None:
        target = Path(fs.path(name))
        _makedirs(fs, target.parent)
        try:
            # Atomic: readers see no file or the whole file, never a partial one.
            os.replace(spooled.staged, target)
        except OSError as exc:
            if exc.errno != errno.EXDEV:  # blobs/ on another filesystem: copy instead
                raise
        else:
            if fs.file_permissions_mode is not None:
                os.chmod(target, fs.file_permissions_mode)
            return
    with open(spooled.staged or spooled.path, "rb") as f:
        content = File(f, name=spooled.sha256)
        content.DEFAULT_CHUNK_SIZE = CHUNK  # Django's 64 KiB default costs ~9 % at 5 MB
        saved = default_storage.save(name, content)
    if saved != name:  # a concurrent upload of the same bytes won the name
        default_storage.delete(saved)


def _save_marker(sha256: str) -> None:
    marker = f"{PENDING_DIR}/{sha256}"
    fs = _local_storage()
    if fs is None:
        default_storage.save(marker, ContentFile(b""))
        return
    # Created or touched: a marker left by an earlier failed attempt must not be swept
    # while this transaction runs, and must not make the storage pick another name.
    path = Path(fs.path(marker))
    _makedirs(fs, path.parent)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666))
    os.utime(path)
    if fs.file_permissions_mode is not None:
        os.chmod(path, fs.file_permissions_mode)


_LOOK_UP = object()


def put(spooled: Spooled, *, existing=_LOOK_UP) -> tuple[Blob, bool]:
    """The Blob for these bytes, storing them if they are new. Call inside the transaction
    that creates the rows referring to it: a new file is deleted again if that transaction
    fails (and swept later if an outer one rolls back).

    `existing`: the Blob row of these bytes (or None), when the caller has just read it in
    this same transaction; saves the lookup."""
    name = blob_name(spooled.sha256)
    if existing is _LOOK_UP:
        existing = Blob.objects.filter(sha256=spooled.sha256).first()
    if existing is not None:
        # A blob row kept only for pruned versions has lost its file; these bytes bring it back.
        if not default_storage.exists(existing.storage_name):
            _store_file(spooled, existing.storage_name)
        return existing, False
    stored_here = False
    if not default_storage.exists(name):
        _save_marker(spooled.sha256)
        _store_file(spooled, name)
        stored_here = True
        # Crash tests kill the process here: a stored file whose row never commits.
        faults.point("assets.file_stored")
    try:
        try:
            # No row a moment ago: insert straight away (a savepoint, so a concurrent insert
            # of the same bytes leaves the caller's transaction usable), and take that row
            # if one won.
            with transaction.atomic():
                blob = Blob.objects.create(
                    sha256=spooled.sha256,
                    size=spooled.size,
                    mime=spooled.mime,
                    storage_name=name,
                )
            created = True
        except IntegrityError:
            blob = Blob.objects.filter(sha256=spooled.sha256).first()
            if blob is None:
                raise
            created = False
    except BaseException:
        if stored_here:
            _discard(spooled.sha256)
        raise
    if stored_here:
        _watch(spooled.sha256)
    return blob, created


def _watch(sha256: str) -> None:
    """Remove the new file if the surrounding transaction fails, the marker if it commits."""
    marker = f"{PENDING_DIR}/{sha256}"
    transaction.on_commit(lambda: _quiet_delete(marker))
    pending = _rollback_watch.get()
    if pending is not None:
        pending.append(sha256)


def _quiet_delete(name: str) -> None:
    try:
        default_storage.delete(name)
    except Exception:  # a leftover marker is swept later
        log.warning("could not delete %s from media storage", name, exc_info=True)


def _discard(sha256: str) -> None:
    """Delete a stored file (and its marker) unless a committed Blob row refers to it."""
    if Blob.objects.filter(sha256=sha256).exists():
        return
    _quiet_delete(blob_name(sha256))
    _quiet_delete(f"{PENDING_DIR}/{sha256}")


@contextlib.contextmanager
def cleanup_on_failure() -> Iterator[None]:
    """Wrap a service's whole transaction: if it raises, files it newly stored are deleted.

    Used around the service's `transaction.atomic()` (outside it), so by the time the cleanup
    runs that block — a transaction or a savepoint in an outer one — is rolled back and
    `_discard` sees a Blob row only if someone else's committed work refers to the file."""
    outer = _rollback_watch.get()
    new: list[str] = []
    token = _rollback_watch.set(new)
    try:
        yield
    except BaseException:
        for sha in new:
            _discard(sha)
        raise
    finally:
        _rollback_watch.reset(token)
        if outer is not None:  # an enclosing service call that fails later cleans up too
            outer.extend(new)


def store(fileobj, *, filename: str = "", max_bytes: int | None = None) -> tuple[Blob, bool]:
    """Stream `fileobj` into the media storage; (Blob, created). Identical bytes are stored
    once: a second store of the same content returns the existing Blob with created False."""
    with (
        cleanup_on_failure(),
        spool(fileobj, filename=filename, max_bytes=max_bytes) as sp,
        transaction.atomic(),
    ):
        return put(sp)


def open_blob(blob: Blob):
    """A readable binary file of the blob's bytes (local file or a streamed S3 object)."""
    return default_storage.open(blob.storage_name, "rb")


def delete_unreferenced_blobs(*, candidates=None) -> int:
    """Delete blobs (rows and files) that no unpruned version and no preview refers to, and
    stored files left by transactions that never committed. Returns how many were deleted.

    `candidates` limits the check to these hashes (after a prune); None checks them all."""
    deleted = 0
    qs = Blob.objects.all() if candidates is None else Blob.objects.filter(sha256__in=candidates)
    # Every other table that points at blobs (previews, renditions, and whatever later apps
    # add) keeps them alive; asked through the model graph so assets need not know them.
    others = [
        ~Exists(rel.related_model._default_manager.filter(**{rel.field.name: OuterRef("pk")}))
        for rel in Blob._meta.get_fields(include_hidden=True)
        if rel.is_relation
        and rel.auto_created
        and not rel.concrete
        and rel.related_model is not AssetVersion
    ]
    unused = qs.filter(
        ~Exists(AssetVersion.objects.filter(blob=OuterRef("pk"), pruned=False)), *others
    ).annotate(pinned=Exists(AssetVersion.objects.filter(blob=OuterRef("pk"))))
    for blob in unused.iterator():
        # Pruned versions keep their row (history) and, through PROTECT, their blob row;
        # only the file goes.
        _quiet_delete(blob.storage_name)
        if not blob.pinned:
            blob.delete()
        deleted += 1
    deleted += _sweep_pending()
    _sweep_staging()
    return deleted


def _sweep_pending() -> int:
    try:
        _, names = default_storage.listdir(PENDING_DIR)
    except (FileNotFoundError, NotADirectoryError, OSError):
        return 0
    cutoff = timezone.now() - timedelta(seconds=settings.STALE_FILE_GRACE)
    swept = 0
    for sha in names:
        marker = f"{PENDING_DIR}/{sha}"
        try:
            modified = default_storage.get_modified_time(marker)
        except (FileNotFoundError, OSError, NotImplementedError):
            continue
        if modified > cutoff:
            continue  # its transaction may still be running
        if not Blob.objects.filter(sha256=sha).exists():
            _quiet_delete(blob_name(sha))
            swept += 1
        _quiet_delete(marker)
    return swept


def _sweep_staging() -> None:
    """Delete staged copies a killed process left in the local media folder (live ones are
    deleted by their own spool block; anything older than the grace period is no upload's)."""
    fs = _local_storage()
    if fs is None:
        return
    cutoff = time.time() - settings.STALE_FILE_GRACE
    try:
        entries = list(os.scandir(fs.path(STAGING_DIR)))
    except (FileNotFoundError, NotADirectoryError):
        return
    for entry in entries:
        if not entry.name.startswith(STAGED_PREFIX):
            continue
        try:
            if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < cutoff:
                os.unlink(entry.path)
        except FileNotFoundError:
            pass


def blob_exists_in_storage(blob: Blob) -> bool:
    return default_storage.exists(blob.storage_name)
