"""Share links: a time-limited, revocable address through which people without an account
(partners, agencies, press) download chosen assets or a collection.

A link is made like an API token: a key id that finds the row and a 256-bit secret of which
only the SHA-256 is stored, so the full link is shown once, at creation, and a database
leak reveals no working link. What a link serves is decided at the moment of download:
only assets that are approved and within their usage rights (`rights.is_publishable`), in
their current version; others are listed as unavailable with the reason. Every download is
recorded with the downloader's address.
"""

import datetime
import hmac
import re
import secrets
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from folio.accounts import audit
from folio.accounts.models import hash_secret
from folio.assets import rights
from folio.assets.models import Asset, Collection, ShareDownload, ShareLink
from folio.errors import InvalidInput, NotFound, PermissionDenied
from folio.versioning import check_version, save_versioned

PRESETS = ("original",)  # renditions (web, print…) come with the renditions app
MAX_LIFETIME = datetime.timedelta(days=365)
MAX_ASSETS = 1000
CHUNK = 256 * 1024
# Already-compressed formats gain nothing from deflate and cost CPU; text-like ones do.
DEFLATE_MIMES = ("image/svg+xml", "image/tiff", "image/bmp", "application/xml", "text/")
_KEY_ID = re.compile(r"^[0-9a-f]{12}$")


def new_secret() -> tuple[str, str, str]:
    """(key_id, secret, token). The token goes into the link: /share/<token>/."""
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return key_id, secret, f"{key_id}_{secret}"


def link_state(link: ShareLink, at: datetime.datetime | None = None) -> str:
    at = at or timezone.now()
    if link.revoked_at:
        return "revoked"
    if link.expires_at <= at:
        return "expired"
    return "active"


def refusal(link: ShareLink) -> str | None:
    """Why the link no longer works, in a sentence for the person holding it; None if it does."""
    state = link_state(link)
    if state == "revoked":
        return f"This link was withdrawn on {link.revoked_at:%d %B %Y}."
    if state == "expired":
        return f"This link expired on {link.expires_at:%d %B %Y}."
    return None


# --- creating, listing, revoking --------------------------------------------------------------


def _require(user, perm: str) -> None:
    if user is not None and not user.has_perm(perm):
        raise PermissionDenied(
            f"your role does not allow this ({perm})", details={"permission": perm}
        )


@transaction.atomic
def create_share_link(
    *,
    name: str,
    expires_at: datetime.datetime | None,
    asset_ids: list[int] | None = None,
    collection: str | None = None,
    preset: str = "original",
    user=None,
) -> tuple[ShareLink, str]:
    """A new link; returns the row and its token, which is never shown again."""
    from folio.assets.browse import visible_assets, visible_collections

    _require(user, "assets.change_asset")
    problems = []
    name = (name or "").strip()
    if not name:
        problems.append({"field": "name", "problem": "a share link needs a name (who it is for)"})
    elif len(name) > 200:
        problems.append({"field": "name", "problem": "longer than 200 characters"})
    now = timezone.now()
    if expires_at is None:
        problems.append({"field": "expires_at", "problem": "a share link must expire"})
    else:
        if timezone.is_naive(expires_at):
            expires_at = timezone.make_aware(expires_at, datetime.UTC)
        if expires_at <= now:
            problems.append({"field": "expires_at", "problem": "is in the past"})
        elif expires_at > now + MAX_LIFETIME:
            problems.append({"field": "expires_at", "problem": "is more than one year from now"})
    preset = (preset or "original").strip()
    if preset not in PRESETS:
        problems.append(
            {"field": "preset", "problem": f"unknown preset {preset!r} (known: original)"}
        )
    asset_ids = list(dict.fromkeys(asset_ids or []))
    if not asset_ids and not collection:
        problems.append({"field": "assets", "problem": "name assets or a collection to share"})
    if len(asset_ids) > MAX_ASSETS:
        problems.append({"field": "assets", "problem": f"more than {MAX_ASSETS} assets"})
    assets = []
    if asset_ids and len(asset_ids) <= MAX_ASSETS:
        qs = Asset.objects.filter(pk__in=asset_ids)
        found = set(
            (visible_assets(user, qs) if user is not None else qs).values_list("pk", flat=True)
        )
        missing = [pk for pk in asset_ids if pk not in found]
        if missing:
            problems.append({"field": "assets", "problem": "no such assets", "ids": missing})
        assets = asset_ids
    shared_collection = None
    if collection:
        qs = visible_collections(user) if user is not None else Collection.objects.all()
        shared_collection = qs.filter(code=collection).first()
        if shared_collection is None:
            problems.append({"field": "collection", "problem": f"no collection {collection!r}"})
    if problems:
        raise InvalidInput(
            "the share link cannot be created: "
            + "; ".join(f"{p['field']}: {p['problem']}" for p in problems),
            details=problems,
        )
    key_id, secret, token = new_secret()
    link = ShareLink.objects.create(
        key_id=key_id,
        secret_hash=hash_secret(secret),
        name=name,
        collection=shared_collection,
        preset=preset,
        created_by=user if getattr(user, "pk", None) else None,
        expires_at=expires_at,
    )
    if assets:
        link.assets.set(assets)
    audit.record(
        "share_link.create",
        link,
        summary=f"share link {name!r}",
        changes={
            "assets": assets,
            "collection": shared_collection.code if shared_collection else None,
            "expires_at": expires_at.isoformat(),
            "preset": preset,
        },
    )
    return link, token


def share_links(user=None) -> QuerySet:
    """Links with their download counts (`downloads_count`); newest first by id."""
    qs = ShareLink.objects.select_related("collection", "created_by").annotate(
        downloads_count=Count("downloads", distinct=True),
        assets_count=Count("assets", distinct=True),
    )
    return qs


def get_share_link(link_id: int, user=None) -> ShareLink:
    _require(user, "assets.change_asset")
    link = share_links(user).filter(pk=link_id).first()
    if link is None:
        raise NotFound(f"no share link {link_id}", details={"share_link_id": link_id})
    return link


@transaction.atomic
def revoke_share_link(link_id: int, user=None, *, expected_version: int | None = None) -> ShareLink:
    """Withdraw a link. With `expected_version`, a link changed since (revoked by someone
    else) is refused as a stale write; without, revoking twice is harmless."""
    link = get_share_link(link_id, user)
    ShareLink.objects.select_for_update().filter(pk=link.pk).first()
    link.refresh_from_db(fields=["version", "revoked_at"])
    check_version(link, expected_version, f"share link {link.name!r}")
    if link.revoked_at is None:
        link.revoked_at = timezone.now()
        save_versioned(link, expected_version, ["revoked_at"])
        audit.record("share_link.revoke", link, summary=f"share link {link.name!r}")
    return link


def find_link(token: str) -> ShareLink | None:
    """The link a token opens, whatever its state; None for anything that is not one
    (the caller answers a plain 404 then, giving nothing away). Constant-time on the secret."""
    key_id, sep, secret = (token or "").partition("_")
    if not sep or not _KEY_ID.match(key_id) or not secret or len(secret) > 100:
        return None
    link = ShareLink.objects.select_related("collection").filter(key_id=key_id).first()
    if link is None:
        hmac.compare_digest(hash_secret(secret), "0" * 64)
        return None
    if not hmac.compare_digest(hash_secret(secret), link.secret_hash):
        return None
    return link


# --- what a link serves -----------------------------------------------------------------------


@dataclass
class SharedFile:
    asset: Asset
    downloadable: bool
    reasons: list[str] = field(default_factory=list)

    @property
    def version(self):
        return self.asset.current_version

    @property
    def filename(self) -> str:
        version = self.asset.current_version
        return version.filename if version else ""


def shared_assets_q(link: ShareLink) -> Q:
    q = Q(pk__in=link.assets.values("pk"))
    if link.collection_id:
        q |= Q(pk__in=Asset.objects.filter(collections=link.collection_id).values("pk"))
    return q


def shared_files(link: ShareLink, *, at: datetime.datetime | None = None) -> list[SharedFile]:
    """Everything the link names (archived assets left out), each with whether it can be
    downloaded now and, if not, why."""
    at = at or timezone.now()
    assets = (
        Asset.objects.filter(shared_assets_q(link))
        .exclude(status=Asset.Status.ARCHIVED)
        .select_related("current_version__blob")
        .prefetch_related("channels")
        .order_by("title", "id")
    )
    files = []
    for asset in assets:
        ok, reasons = rights.is_publishable(asset, at=at)
        if ok and asset.current_version.pruned:
            ok, reasons = False, ["its file is no longer kept"]
        files.append(SharedFile(asset=asset, downloadable=ok, reasons=reasons))
    return files


def shared_file(link: ShareLink, asset_id: int) -> SharedFile | None:
    for item in shared_files_for(link, [asset_id]):
        return item
    return None


def shared_files_for(link: ShareLink, asset_ids: list[int]) -> list[SharedFile]:
    at = timezone.now()
    assets = (
        Asset.objects.filter(shared_assets_q(link), pk__in=asset_ids)
        .exclude(status=Asset.Status.ARCHIVED)
        .select_related("current_version__blob")
        .prefetch_related("channels")
    )
    out = []
    for asset in assets:
        ok, reasons = rights.is_publishable(asset, at=at)
        if ok and asset.current_version.pruned:
            ok, reasons = False, ["its file is no longer kept"]
        out.append(SharedFile(asset=asset, downloadable=ok, reasons=reasons))
    return out


def record_downloads(link: ShareLink, assets: list[Asset], *, zip: bool, ip: str | None) -> None:
    ShareDownload.objects.bulk_create(
        [ShareDownload(link=link, asset=a, zip=zip, ip=ip) for a in assets]
    )


# --- zip, streamed ----------------------------------------------------------------------------


class _Pipe:
    """A write-only, non-seekable file for ZipFile: what is written is taken out in pieces,
    so the archive is sent while it is made and never held whole in memory or on disk."""

    def __init__(self):
        self._parts: list[bytes] = []

    def write(self, data) -> int:
        if data:
            self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


def zip_names(files: list[SharedFile]) -> list[str]:
    """A unique, safe file name in the archive for each file ("photo (2).jpg" on repeats)."""
    seen: set[str] = set()
    names = []
    for item in files:
        base = re.sub(r"[\\/\x00-\x1f]+", "_", item.filename or f"asset-{item.asset.pk}")
        base = base.lstrip(".") or f"asset-{item.asset.pk}"
        stem, dot, ext = base.rpartition(".")
        if not dot:
            stem, ext = base, ""
        name, n = base, 1
        while name.lower() in seen:
            n += 1
            name = f"{stem} ({n}){'.' + ext if ext else ''}"
        seen.add(name.lower())
        names.append(name)
    return names


def stream_zip(files: list[SharedFile], open_file) -> Iterator[bytes]:
    """The zip of `files` as a sequence of byte chunks. `open_file(blob)` opens stored bytes.
    Media is stored as is (ZIP_STORED), text-like formats are deflated."""
    pipe = _Pipe()
    with zipfile.ZipFile(pipe, mode="w", allowZip64=True) as archive:
        for item, name in zip(files, zip_names(files), strict=True):
            version = item.asset.current_version
            deflate = version.mime.startswith(DEFLATE_MIMES)
            info = zipfile.ZipInfo(name, date_time=_zip_time(version.uploaded_at))
            info.compress_type = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            with open_file(version.blob) as src, archive.open(info, "w", force_zip64=True) as dst:
                while chunk := src.read(CHUNK):
                    dst.write(chunk)
                    if data := pipe.take():
                        yield data
            if data := pipe.take():
                yield data
    if data := pipe.take():
        yield data


def _zip_time(at: datetime.datetime) -> tuple:
    local = timezone.localtime(at) if timezone.is_aware(at) else at
    return max(local.timetuple()[:6], (1980, 1, 1, 0, 0, 0))
