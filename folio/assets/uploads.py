"""Resumable uploads for files too large for one request (multi-GB video, print PDFs).

The client announces the file (name and size), then sends it in chunks, each with
`Content-Range: bytes START-END/TOTAL`. Chunks are written straight into one file under
UPLOAD_DIR at their offset (memory stays flat whatever the size); only the next expected
offset is accepted, so after a lost connection the client asks where the upload stands and
goes on from there. Completing hands the assembled file to the same services as any upload
(`add_asset` / `add_version`), which examine it in place without copying it. An upload not
touched for UPLOAD_TTL expires and its file is deleted.

Crash safety: a chunk's offset is recorded only after its bytes are written, so a process
killed in between leaves an offset that is still true (the client sends that chunk again,
over the stray bytes). Completing deletes the upload's row in the transaction that creates
the asset or version: killed before that commit, the upload is still there to complete again
(the stored file's pending marker gets it swept); killed after, the asset is whole and the
assembled file, which no upload names any more, goes with the next prune.
"""

import contextvars
import re
import time
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.dispatch import receiver
from django.utils import timezone

from folio import faults
from folio.accounts import audit
from folio.assets import services, signals, storage
from folio.assets.models import Upload
from folio.errors import Conflict, FolioError, InvalidInput, NotFound, PermissionDenied, TooLarge

UPLOAD_TTL = timedelta(hours=24)
STALE_SPOOL = timedelta(hours=24)  # temporary files of processes that died mid-upload
RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$")


def upload_path(upload: Upload) -> Path:
    return storage.upload_dir() / f"resumable-{upload.id}"


def start_upload(*, filename: str, size: int, user, asset_id: int | None = None) -> Upload:
    filename = services.safe_filename(filename)
    if size is None or int(size) <= 0:
        raise InvalidInput(
            "size must be the file's length in bytes (more than 0)", details={"size": size}
        )
    size = int(size)
    if size > settings.MAX_UPLOAD_BYTES:
        raise TooLarge(
            f"{filename} ({size} bytes) is larger than the {settings.MAX_UPLOAD_BYTES} bytes "
            "allowed",
            details={"filename": filename, "size": size, "max_bytes": settings.MAX_UPLOAD_BYTES},
        )
    asset = None
    if asset_id is not None:
        asset = services.get_asset(asset_id)
    upload = Upload.objects.create(
        user=user,
        filename=filename,
        size=size,
        asset=asset,
        expires_at=timezone.now() + UPLOAD_TTL,
    )
    upload_path(upload).touch()
    audit.record(
        "upload.start",
        upload,
        summary=f"resumable upload of {filename} ({size} bytes)",
        changes={"asset_id": asset_id},
    )
    return upload


def get_upload(upload_id, user) -> Upload:
    upload = Upload.objects.filter(pk=upload_id).first() if _is_uuid(upload_id) else None
    if upload is None or upload.expires_at < timezone.now():
        raise NotFound(
            f"no upload {upload_id} (it may have expired or been completed)",
            details={"upload_id": str(upload_id)},
        )
    if upload.user_id != getattr(user, "pk", None) and not user.has_perm("assets.change_asset"):
        raise PermissionDenied("this upload belongs to someone else")
    return upload


def _is_uuid(value) -> bool:
    import uuid

    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def parse_content_range(header: str | None) -> tuple[int, int, int | None]:
    found = RANGE.match(header or "")
    if not found:
        raise InvalidInput(
            "each chunk needs a Content-Range header like 'bytes 0-1048575/5242880'",
            details={"header": "Content-Range", "value": header},
        )
    start, end = int(found.group(1)), int(found.group(2))
    total = None if found.group(3) == "*" else int(found.group(3))
    if end < start:
        raise InvalidInput("Content-Range ends before it starts", details={"value": header})
    return start, end, total


def receive_chunk(upload_id, stream, *, content_range: str | None, user) -> Upload:
    """Append one chunk read from `stream` (the request body) at its offset."""
    upload = get_upload(upload_id, user)
    start, end, total = parse_content_range(content_range)
    if total is not None and total != upload.size:
        raise InvalidInput(
            f"the upload was announced as {upload.size} bytes, this chunk says {total}",
            details={"size": upload.size, "total": total},
        )
    if end >= upload.size or end + 1 > settings.MAX_UPLOAD_BYTES:
        raise TooLarge(
            f"the chunk ends at byte {end}, past the announced size of {upload.size} bytes",
            details={"size": upload.size, "end": end, "received": upload.received},
        )
    if start != upload.received:
        raise Conflict(
            f"expected the chunk starting at byte {upload.received}, got {start}; "
            "resume from the offset in the details",
            details={"received": upload.received, "offset": upload.received},
            code="wrong_offset",
        )
    expected = end - start + 1
    path = upload_path(upload)
    written = 0
    with open(path, "r+b" if path.exists() else "w+b") as out:
        out.seek(start)
        while written <= expected:
            chunk = stream.read(min(storage.CHUNK, expected - written + 1))
            if not chunk:
                break
            written += len(chunk)
            if written > expected:
                out.truncate(start)
                raise InvalidInput(
                    f"the chunk body is longer than its Content-Range ({expected} bytes)",
                    details={"received": upload.received},
                )
            out.write(chunk)
        if written != expected:
            # A cut-off chunk: drop its bytes so the offset stays truthful.
            out.truncate(start)
            raise InvalidInput(
                f"the chunk carried {written} of the {expected} bytes its Content-Range "
                "announced; send it again",
                details={"received": upload.received, "offset": upload.received},
                code="incomplete_chunk",
            )
        out.truncate(end + 1)
    faults.point("uploads.chunk_written")  # crash tests: bytes written, offset not recorded
    moved = Upload.objects.filter(pk=upload.pk, received=start).update(
        received=end + 1, expires_at=timezone.now() + UPLOAD_TTL
    )
    if not moved:  # another request for the same upload got there first
        upload.refresh_from_db()
        raise Conflict(
            "another chunk was stored meanwhile; resume from the offset in the details",
            details={"received": upload.received, "offset": upload.received},
            code="wrong_offset",
        )
    upload.received = end + 1
    if upload.received == upload.size:
        # One entry when the last byte is in, not one per chunk (a large video is hundreds).
        audit.record("upload.received", upload, summary=f"{upload.filename} fully received")
    return upload


def complete_upload(
    upload_id,
    *,
    user,
    title: str | None = None,
    kind: str | None = None,
    collections=(),
    tags=(),
    allow_duplicate: bool = False,
    comment: str = "",
    expected_version: int | None = None,
):
    """The asset (or new version) made from the assembled file. An incomplete upload is
    refused (409, with the offset to resume from) and nothing is created. A file refused for
    what it is (corrupt, too many pixels…) ends the upload; a conflict (a duplicate, a stale
    version) keeps it, so the client can complete it again with allow_duplicate or after
    reloading."""
    upload = get_upload(upload_id, user)
    path = upload_path(upload)
    actual = path.stat().st_size if path.exists() else 0
    if upload.received != upload.size or actual != upload.size:
        raise Conflict(
            f"{upload.filename} is incomplete: {upload.received} of {upload.size} bytes received",
            details={"received": upload.received, "size": upload.size, "offset": upload.received},
            code="incomplete",
        )
    token = _completing.set(upload.pk)
    try:
        if upload.asset_id:
            result = services.add_version(
                upload.asset_id,
                path,
                filename=upload.filename,
                expected_version=expected_version,
                comment=comment,
                user=user,
            )
        else:
            result = services.add_asset(
                path,
                filename=upload.filename,
                title=title,
                kind=kind,
                collections=collections,
                tags=tags,
                user=user,
                allow_duplicate=allow_duplicate,
            )
    except (Conflict, PermissionDenied):
        raise
    except FolioError:
        _remove(upload)
        raise
    finally:
        _completing.reset(token)
    faults.point("uploads.completed")  # crash tests: asset committed, file not yet deleted
    _remove(upload)
    return result


# The upload complete_upload is turning into an asset or version, so that its row is deleted
# in the same transaction (see _completed below).
_completing: contextvars.ContextVar = contextvars.ContextVar("folio_upload", default=None)


@receiver(signals.version_added, dispatch_uid="folio.assets.uploads.completed")
def _completed(sender, asset, version, **kwargs) -> None:
    """Sent inside the transaction that creates the version: the upload it came from goes in
    that transaction, so a completed upload cannot be completed again after a crash."""
    upload_id = _completing.get()
    if upload_id is not None:
        Upload.objects.filter(pk=upload_id).delete()


def cancel_upload(upload_id, user) -> None:
    upload = get_upload(upload_id, user)
    _remove(upload)
    audit.record("upload.cancel", upload, summary=f"upload of {upload.filename} cancelled")


def _remove(upload: Upload) -> None:
    upload_path(upload).unlink(missing_ok=True)
    Upload.objects.filter(pk=upload.pk).delete()


def expire_uploads() -> int:
    """Delete uploads nobody touched for UPLOAD_TTL, and temporary files of processes that
    died mid-upload. Returns how many uploads expired."""
    expired = list(Upload.objects.filter(expires_at__lt=timezone.now()))
    for upload in expired:
        _remove(upload)
    folder = Path(settings.UPLOAD_DIR)
    if folder.is_dir():
        live = {f"resumable-{pk}" for pk in Upload.objects.values_list("pk", flat=True)}
        now = time.time()
        # An assembled file no upload names (its process was killed after the asset
        # committed) is no one's once FOLIO_STALE_FILE_GRACE has passed; a spooled copy may
        # belong to a long upload still being examined, so it gets STALE_SPOOL.
        unnamed = now - settings.STALE_FILE_GRACE
        spooled = now - STALE_SPOOL.total_seconds()
        for path in folder.iterdir():
            if path.name in live or not path.is_file():
                continue
            if path.name.startswith(("resumable-", "spool-", "svg-")):
                cutoff = unnamed if path.name.startswith("resumable-") else spooled
                try:
                    if path.stat().st_mtime < cutoff:
                        path.unlink(missing_ok=True)
                except FileNotFoundError:
                    pass
    return len(expired)
