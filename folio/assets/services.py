"""Adding assets and their versions: the one path every upload takes (API, resumable
uploads, CLI, imports).

Each write receives the file into UPLOAD_DIR (streamed, hashed, sniffed), reads its
metadata from the headers, refuses what must not be stored (naming the file and the reason),
and only then, in one transaction, stores the bytes once per content, writes the rows, the
history row and the audit entry, and sends the signals other parts react to. A failure at
any point leaves no temporary file, no stored file and no row behind.
"""

import contextlib
import logging
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath, PureWindowsPath

from django.conf import settings
from django.db import transaction
from django.db.models import Max, OuterRef, Subquery

from folio import faults
from folio.accounts import audit
from folio.assets import metadata, scoping, signals, storage
from folio.assets.browse import normalise_tag, tags_named
from folio.assets.models import Asset, AssetChange, AssetVersion, Blob, Collection, Tag
from folio.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from folio.jobs.services import job
from folio.versioning import check_version, save_versioned

log = logging.getLogger("folio.assets")

# A new file puts an asset that was (being) reviewed back into review.
REVIEWED = {Asset.Status.APPROVED, Asset.Status.IN_REVIEW, Asset.Status.REJECTED}
MAX_FILENAME = 255


def safe_filename(name: str) -> str:
    """The name to keep and to offer on download: the last path component of whatever the
    client sent (both / and \\ separators), without NULs, control characters or leading
    dots; refused when nothing is left."""
    raw = str(name or "")
    raw = "".join(ch for ch in raw if ch == "\t" or unicodedata.category(ch)[0] != "C")
    raw = raw.replace("\t", " ")
    base = PureWindowsPath(PurePosixPath(raw).name).name
    base = unicodedata.normalize("NFC", base).strip().lstrip(".").strip()
    base = re.sub(r"\s+", " ", base)
    if not base or base in (".", ".."):
        raise InvalidInput(
            f"the file name {name!r} has no usable name left once its path is removed",
            details={"filename": name, "reason": "empty file name"},
            code="bad_filename",
        )
    if len(base) > MAX_FILENAME:
        stem, dot, ext = base.rpartition(".")
        if dot and len(ext) <= 16:
            base = stem[: MAX_FILENAME - len(ext) - 1] + "." + ext
        else:
            base = base[:MAX_FILENAME]
    return base


def title_from_filename(filename: str) -> str:
    stem = Path(filename).stem or filename
    title = re.sub(r"[_]+", " ", stem).strip()
    return title[:300] or filename[:300]


def _actor_user(user):
    user = user if user is not None else audit.current_actor().user
    return user if getattr(user, "pk", None) else None


def is_agency(user) -> bool:
    """Agency users upload only into collections they are given."""
    if user is None or user.has_perm("assets.change_asset"):
        return False
    from folio.accounts.services import user_roles

    return "agency" in user_roles(user)


def _collections(refs: Iterable, user) -> list[Collection]:
    wanted = [r for r in refs if r not in (None, "")]
    found: list[Collection] = []
    missing = []
    for ref in wanted:
        if isinstance(ref, Collection):
            found.append(ref)
            continue
        text = str(ref).strip()
        c = Collection.objects.filter(code=text).first()
        if c is None and text.isdigit():
            c = Collection.objects.filter(pk=int(text)).first()
        if c is None:
            missing.append(text)
        else:
            found.append(c)
    if missing:
        raise InvalidInput(
            f"no collection {', '.join(missing)}",
            details={"collections": missing, "reason": "unknown collection"},
        )
    if is_agency(user):
        if not found:
            raise PermissionDenied(
                "agency uploads must go into one of your collections",
                details={"collections": [c.code for c in user.agency_collections.all()]},
            )
        allowed = set(user.agency_collections.values_list("pk", flat=True))
        refused = [c.code for c in found if c.pk not in allowed]
        if refused:
            raise PermissionDenied(
                f"you may not add files to {', '.join(refused)}",
                details={"collections": refused},
            )
    chosen = list({c.pk: c for c in found}.values())
    scoping.check_upload(chosen, user)
    return chosen


def _tags(names: Iterable[str]) -> list[Tag]:
    # Normalised as the edit path does, so an upload's "Coffee " joins the tag "coffee".
    clean = dict.fromkeys(n[:100] for n in (normalise_tag(x) for x in names) if n)
    return tags_named(list(clean))


def _kind(kind: str | None, asset_type: str) -> str:
    if kind in (None, ""):
        return Asset.Kind.VIDEO if asset_type == "video" else Asset.Kind.OTHER
    if kind not in Asset.Kind.values:
        raise InvalidInput(
            f"unknown kind {kind!r} (one of {', '.join(Asset.Kind.values)})",
            details={"kind": kind},
        )
    return kind


@contextlib.contextmanager
def received(fileobj, filename: str, *, max_bytes: int | None = None) -> Iterator[tuple]:
    """(Spooled, info) for an upload: received (see storage.spool), examined, SVGs made safe.

    `fileobj` is a readable binary file, or a local Path that is examined in place (an
    assembled resumable upload). Temporary files are gone when the block ends."""
    with contextlib.ExitStack() as stack:
        if isinstance(fileobj, (str, Path)):
            sp = stack.enter_context(
                storage.spool_path(Path(fileobj), filename=filename, max_bytes=max_bytes)
            )
        else:
            sp = stack.enter_context(storage.spool(fileobj, filename=filename, max_bytes=max_bytes))
        info = metadata.extract(sp.path, filename, mime=sp.mime)
        if info["mime"] == "image/svg+xml" and info["metadata"].get("svg_unsafe"):
            fd, name = tempfile.mkstemp(prefix="svg-", dir=storage.upload_dir())
            os.close(fd)
            safe = Path(name)
            stack.callback(safe.unlink, missing_ok=True)
            removed = metadata.sanitise_svg(sp.path, safe, filename)
            sp = stack.enter_context(storage.spool_path(safe, filename=filename))
            info = metadata.extract(sp.path, filename, mime="image/svg+xml")
            info["metadata"]["svg_sanitised"] = removed
        yield sp, info


def _blob_and_duplicate(sha256: str) -> tuple[Blob | None, int | None]:
    """The Blob row of these bytes and the id of the first asset whose current file they are,
    in one query (new bytes: no blob row, so no duplicate either)."""
    first = (
        Asset.objects.filter(current_version__blob_id=OuterRef("pk")).order_by("id").values("id")
    )
    blob = Blob.objects.filter(sha256=sha256).annotate(duplicate_of=Subquery(first[:1])).first()
    return blob, (blob.duplicate_of if blob is not None else None)


def _version_row(asset, number, blob, sp, info, filename, user, comment) -> AssetVersion:
    return AssetVersion.objects.create(
        asset=asset,
        number=number,
        blob=blob,
        filename=filename,
        mime=info["mime"],
        size=sp.size,
        width=info["width"],
        height=info["height"],
        pages=info["pages"],
        duration=info["duration"],
        metadata=info["metadata"],
        uploaded_by=user,
        comment=(comment or "")[:500],
    )


def _history(asset: Asset, action: str, changes: list, user) -> None:
    AssetChange.objects.create(
        asset=asset,
        version=asset.version,
        user=user,
        username=getattr(user, "username", "") or "",
        action=action,
        changes=changes,
    )


def _rights_from_file(asset: Asset, meta: dict) -> None:
    """Prefill what the file itself says about rights; people edit it afterwards."""
    asset.creator = str(meta.get("creator") or "")[:200]
    asset.copyright = str(meta.get("copyright") or "")[:300]
    asset.credit = str(meta.get("credit") or "")[:300]
    asset.licence = str(meta.get("usage_terms") or "")[:300]
    expires = meta.get("expires")
    if expires:
        from datetime import datetime, time

        from django.utils import timezone

        try:
            day = datetime.fromisoformat(str(expires)[:10]).date()
            asset.expires_at = timezone.make_aware(datetime.combine(day, time(23, 59, 59)))
        except ValueError:
            pass


def add_asset(
    fileobj,
    *,
    filename: str,
    title: str | None = None,
    kind: str | None = None,
    collections: Iterable = (),
    tags: Iterable[str] = (),
    user=None,
    allow_duplicate: bool = False,
    max_bytes: int | None = None,
) -> Asset:
    """A new asset from an uploaded file. Its type comes from the content; an exact duplicate
    of another asset's current file is refused (409, details name it) unless
    `allow_duplicate`, in which case the new asset shares the stored bytes."""
    user = _actor_user(user)
    filename = safe_filename(filename)
    chosen = _collections(collections, user)
    if kind not in (None, "") and kind not in Asset.Kind.values:
        _kind(kind, "")
    with (
        storage.cleanup_on_failure(),
        received(fileobj, filename, max_bytes=max_bytes) as (
            sp,
            info,
        ),
        transaction.atomic(),
    ):
        # Checked in the transaction that stores, and with the same query that finds the
        # blob row put() would otherwise look up again. Refusing here writes nothing.
        existing, dup_id = _blob_and_duplicate(sp.sha256)
        if dup_id is not None and not allow_duplicate:
            dup = Asset.objects.get(pk=dup_id)
            raise Conflict(
                f"{filename} is identical to the current file of asset #{dup.pk} ({dup.title})",
                details={"duplicate_of": dup.pk, "title": dup.title, "filename": filename},
                code="duplicate",
            )
        blob, _ = storage.put(sp, existing=existing)
        asset = Asset(
            title=(title or "").strip()[:300] or title_from_filename(filename),
            type=info["type"],
            kind=_kind(kind, info["type"]),
            created_by=user,
        )
        _rights_from_file(asset, info["metadata"])
        asset.save()
        version = _version_row(asset, 1, blob, sp, info, filename, user, "")
        asset.current_version = version
        Asset.objects.filter(pk=asset.pk).update(current_version=version)
        if chosen:
            asset.collections.set(chosen)
        tag_rows = _tags(tags)
        if tag_rows:
            asset.tags.set(tag_rows)
        _history(
            asset,
            "create",
            [
                {
                    "field": "version",
                    "old": None,
                    "new": 1,
                    "filename": filename,
                    "sha256": sp.sha256,
                },
                {"field": "title", "old": None, "new": asset.title},
            ],
            user,
        )
        audit.record(
            "asset.create",
            asset,
            summary=f"add {asset.title} ({filename}, {info['mime']})",
            changes={
                "filename": filename,
                "sha256": sp.sha256,
                "size": sp.size,
                "collections": [c.code for c in chosen],
            },
        )
        signals.version_added.send(sender=Asset, asset=asset, version=version)
        signals.asset_changed.send(
            sender=Asset,
            asset_ids=[asset.pk],
            created={asset.pk: (asset, [t.name for t in tag_rows])},
        )
    faults.point("assets.upload_committed")  # crash tests: committed, never answered
    return asset


def _locked_asset(asset_id: int) -> Asset:
    asset = Asset.objects.select_for_update().filter(pk=asset_id).first()
    if asset is None:
        raise NotFound(f"no asset #{asset_id}", details={"asset_id": asset_id})
    return asset


def get_asset(asset_id: int) -> Asset:
    asset = Asset.objects.select_related("current_version").filter(pk=asset_id).first()
    if asset is None:
        raise NotFound(f"no asset #{asset_id}", details={"asset_id": asset_id})
    return asset


def _check_version(asset: Asset, expected_version: int | None) -> None:
    check_version(asset, expected_version, f"asset #{asset.pk}")


def _check_can_change(asset: Asset, user) -> None:
    """Agencies may add versions only to assets in their collections; scoped asset managers
    only to assets in the collections they manage."""
    scoping.check_asset(asset, user)
    if not is_agency(user):
        return
    allowed = set(user.agency_collections.values_list("pk", flat=True))
    if not allowed & set(asset.collections.values_list("pk", flat=True)):
        # An agency does not learn that assets outside its collections exist.
        raise NotFound(f"no asset #{asset.pk}", details={"asset_id": asset.pk})


def _new_current(asset, version, user, action, changes, summary) -> None:
    """Make `version` current, put a reviewed asset back into review, record it all."""
    old_status = asset.status
    asset.current_version = version
    fields = ["current_version"]
    if asset.status in REVIEWED:
        asset.status = Asset.Status.IN_REVIEW
        fields.append("status")
    new_type = metadata.asset_type(version.mime)
    if new_type != asset.type:
        changes.append({"field": "type", "old": asset.type, "new": new_type})
        asset.type = new_type
        fields.append("type")
    if asset.status != old_status:
        changes.append({"field": "status", "old": old_status, "new": asset.status})
    save_versioned(asset, None, fields)
    _history(asset, action, changes, user)
    audit.record(f"asset.{action}", asset, summary=summary, changes={"changes": changes})
    signals.version_added.send(sender=Asset, asset=asset, version=version)
    signals.asset_changed.send(sender=Asset, asset_ids=[asset.pk])
    if asset.status != old_status:
        signals.asset_status_changed.send(
            sender=Asset, asset=asset, old=old_status, new=asset.status
        )


def add_version(
    asset_id: int,
    fileobj,
    *,
    filename: str,
    expected_version: int | None = None,
    comment: str = "",
    user=None,
    max_bytes: int | None = None,
) -> AssetVersion:
    """A new file for an existing asset. Identical bytes to the current version are refused
    (nothing would change); an approved, in-review or rejected asset goes back to review."""
    user = _actor_user(user)
    filename = safe_filename(filename)
    asset = get_asset(asset_id)
    _check_version(asset, expected_version)
    _check_can_change(asset, user)
    with (
        storage.cleanup_on_failure(),
        received(fileobj, filename, max_bytes=max_bytes) as (
            sp,
            info,
        ),
        transaction.atomic(),
    ):
        asset = _locked_asset(asset_id)
        _check_version(asset, expected_version)
        current = asset.current_version
        if current is not None and current.blob_id == sp.sha256:
            raise Conflict(
                f"{filename} is identical to the current version "
                f"(v{current.number}) of asset #{asset.pk}",
                details={"asset_id": asset.pk, "version": current.number, "filename": filename},
                code="identical",
            )
        blob, _ = storage.put(sp)
        number = (asset.versions.aggregate(n=Max("number"))["n"] or 0) + 1
        version = _version_row(asset, number, blob, sp, info, filename, user, comment)
        _new_current(
            asset,
            version,
            user,
            "new_version",
            [
                {
                    "field": "version",
                    "old": current.number if current else None,
                    "new": number,
                    "filename": filename,
                    "sha256": sp.sha256,
                }
            ],
            f"new version v{number} of {asset.title} ({filename})",
        )
    return version


def restore_version(
    asset_id: int, number: int, expected_version: int | None = None, *, user=None
) -> AssetVersion:
    """Make an earlier file current again, as a new version (history is never rewritten)."""
    user = _actor_user(user)
    with transaction.atomic():
        asset = _locked_asset(asset_id)
        _check_version(asset, expected_version)
        _check_can_change(asset, user)
        old = asset.versions.filter(number=number).select_related("blob").first()
        if old is None:
            raise NotFound(
                f"asset #{asset.pk} has no version {number}",
                details={"asset_id": asset.pk, "version": number},
            )
        if old.pruned:
            raise Conflict(
                f"version {number} of asset #{asset.pk} no longer has its file "
                "(removed by the version retention setting)",
                details={"asset_id": asset.pk, "version": number},
                code="pruned",
            )
        current = asset.current_version
        if current is not None and current.blob_id == old.blob_id:
            raise Conflict(
                f"version {number} has the same file as the current version v{current.number}",
                details={"asset_id": asset.pk, "version": current.number},
                code="identical",
            )
        new_number = (asset.versions.aggregate(n=Max("number"))["n"] or 0) + 1
        version = AssetVersion.objects.create(
            asset=asset,
            number=new_number,
            blob=old.blob,
            filename=old.filename,
            mime=old.mime,
            size=old.size,
            width=old.width,
            height=old.height,
            pages=old.pages,
            duration=old.duration,
            metadata={**old.metadata, "restored_from": number},
            uploaded_by=user,
            comment=f"restored from v{number}",
        )
        _new_current(
            asset,
            version,
            user,
            "restore",
            [
                {
                    "field": "version",
                    "old": current.number if current else None,
                    "new": new_number,
                    "restored_from": number,
                }
            ],
            f"restore v{number} of {asset.title} as v{new_number}",
        )
    return version


def _visible(asset_id: int, user) -> None:
    """404 for an asset `user` may not see (agencies: outside their collections)."""
    from folio.assets.browse import get_asset as get_visible

    user = _actor_user(user)
    if user is None:
        get_asset(asset_id)
    else:
        get_visible(asset_id, user)


def versions(asset_id: int, user=None):
    _visible(asset_id, user)
    return (
        AssetVersion.objects.filter(asset_id=asset_id)
        .select_related("uploaded_by")
        .order_by("-number")
    )


def get_version(asset_id: int, number: int, user=None) -> AssetVersion:
    _visible(asset_id, user)
    version = (
        AssetVersion.objects.select_related("blob", "asset")
        .filter(asset_id=asset_id, number=number)
        .first()
    )
    if version is None:
        get_asset(asset_id)
        raise NotFound(
            f"asset #{asset_id} has no version {number}",
            details={"asset_id": asset_id, "version": number},
        )
    return version


def prune(retention: int | None = None) -> dict:
    """Drop the bytes of versions older than the newest `retention` of each asset (the
    current version always keeps its file), then delete blobs nothing refers to any more and
    abandoned resumable uploads. Version rows stay, marked pruned, for the history."""
    keep = settings.VERSION_RETENTION if retention is None else retention
    pruned_ids: list[int] = []
    candidates: set[str] = set()
    if keep and keep > 0:
        current_ids = set(
            Asset.objects.exclude(current_version=None).values_list("current_version", flat=True)
        )
        rows = (
            AssetVersion.objects.filter(pruned=False)
            .order_by("asset_id", "-number")
            .values_list("id", "asset_id", "blob_id")
        )
        last_asset, seen = None, 0
        for vid, asset_id, blob_id in rows.iterator(chunk_size=2000):
            if asset_id != last_asset:
                last_asset, seen = asset_id, 0
            seen += 1
            if seen > keep and vid not in current_ids:
                pruned_ids.append(vid)
                candidates.add(blob_id)
    for start in range(0, len(pruned_ids), 500):
        batch = pruned_ids[start : start + 500]
        with transaction.atomic():
            AssetVersion.objects.filter(pk__in=batch).update(pruned=True)
            for asset_id in set(
                AssetVersion.objects.filter(pk__in=batch).values_list("asset_id", flat=True)
            ):
                numbers = sorted(
                    AssetVersion.objects.filter(pk__in=batch, asset_id=asset_id).values_list(
                        "number", flat=True
                    )
                )
                asset = Asset.objects.get(pk=asset_id)
                _history(asset, "prune", [{"field": "pruned_versions", "new": numbers}], None)
    if pruned_ids:
        audit.record(
            "asset.prune",
            None,
            object_type="assets.assetversion",
            summary=f"removed the files of {len(pruned_ids)} old versions (keep {keep})",
            changes={"versions": pruned_ids[:1000], "retention": keep},
        )
    # Only blobs that just lost a version are checked; stored files of transactions that
    # never committed are swept too.
    deleted = storage.delete_unreferenced_blobs(candidates=candidates)
    from folio.assets import uploads

    expired = uploads.expire_uploads()
    return {
        "pruned_versions": len(pruned_ids),
        "deleted_blobs": deleted,
        "expired_uploads": expired,
    }


@job("Prune old asset versions", schedulable=True)
def prune_versions(ctx, retention: int | None = None) -> dict:
    result = prune(retention)
    ctx.set_total(result["pruned_versions"])
    ctx.advance(result["pruned_versions"])
    return result
