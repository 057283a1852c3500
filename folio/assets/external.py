"""Assets that live in another DAM: Folio keeps their reference and the facts it needs.

An external asset is an ordinary Asset row with `external_system`/`external_id` set, an
`external_url` where its file lives and no local version (current_version is null). Linking,
completeness and rights (`rights.is_publishable`) treat it like any other asset, since they
look at Asset ids, status and dates. Its file facts (filename, mime, size in pixels) are
kept in `custom["external_file"]`, as there is no AssetVersion to carry them.

The other DAM is the authority on approval: its status is copied here through
`upsert_external` (API or webhook) and recorded as its decision (history user
"dam:<code>"); Folio's own review workflow does not apply to external assets.
Deleting an asset there archives it here, so existing links and history stay readable.

Writes are idempotent: facts equal to the stored ones change nothing (no history, no
version bump), and an event older than the last one applied (`updated_at`) is skipped, so
re-delivered or out-of-order webhook events do no harm.

Renditions need local bytes: once an external asset is linked, its file is fetched from
`external_url` into a local version marked as fetched, and fetched again when the other DAM
announces a change (see "fetching the file" below).
"""

import datetime
import mimetypes
import secrets
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from folio.accounts import audit
from folio.assets import signals
from folio.assets.metadata import asset_type
from folio.assets.models import Asset, AssetChange, ExternalSystem
from folio.catalog.models import Channel
from folio.errors import Conflict, InvalidInput, NotFound
from folio.jobs.services import job, start_job
from folio.versioning import check_version, save_versioned
from folio.words import counted

S = Asset.Status
# Facts the other DAM owns, copied onto the Asset as they are.
PLAIN_FACTS = (
    "title",
    "kind",
    "licence",
    "territories",
    "alt_text",
    "valid_from",
    "expires_at",
    "external_url",
)
UNSET = object()


@dataclass
class Upserted:
    asset: Asset
    result: str  # created | updated | unchanged | skipped | deleted
    changes: list = field(default_factory=list)


# --- systems ----------------------------------------------------------------------------------


def register_system(code: str, name: str, secret: str | None = None) -> tuple[ExternalSystem, str]:
    """A new external DAM and its shared secret (generated unless given), returned once."""
    code = (code or "").strip()
    if not code or not code.replace("-", "").replace("_", "").isalnum():
        raise InvalidInput(
            "code must be a slug (letters, digits, - and _)",
            details={"field": "code", "value": code},
        )
    secret = _check_secret(secret) if secret else secrets.token_urlsafe(32)
    try:
        with transaction.atomic():
            system = ExternalSystem.objects.create(
                code=code, name=(name or code)[:200], secret=secret
            )
    except IntegrityError:
        raise Conflict(
            f"an external system {code} exists already", details={"code": code}
        ) from None
    # The secret is never part of the audit entry.
    audit.record("external_system.create", system, summary=f"register external DAM {code}")
    return system, secret


def get_system(code) -> ExternalSystem:
    if isinstance(code, ExternalSystem):
        return code
    system = ExternalSystem.objects.filter(code=str(code)).first()
    if system is None:
        raise NotFound(f"no external system {code}", details={"system": code})
    return system


def system_snapshot(system: ExternalSystem) -> dict:
    """What the audit log and a 409 show: everything but the secret."""
    return {
        "code": system.code,
        "name": system.name,
        "version": system.version,
        "created_at": system.created_at.isoformat(),
    }


def _check_secret(secret: str) -> str:
    if len(secret) < 16 or len(secret) > 200:
        raise InvalidInput(
            "the secret must have between 16 and 200 characters", details={"field": "secret"}
        )
    return secret


@transaction.atomic
def update_system(code, *, name: str, expected_version: int | None = None) -> ExternalSystem:
    """Rename an external DAM; its code stays (assets and the webhook URL carry it)."""
    system = get_system(code)
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise InvalidInput(
            "name is required (at most 200 characters)", details={"field": "name", "value": name}
        )
    old = system.name
    system.name = name
    save_versioned(system, expected_version, ["name"], snapshot=system_snapshot)
    audit.record(
        "external_system.update",
        system,
        summary=f"rename external DAM {system.code}",
        changes={"name": [old, name]},
    )
    return system


@transaction.atomic
def rotate_system_secret(
    code, *, expected_version: int | None = None, secret: str | None = None
) -> tuple[ExternalSystem, str]:
    """Replace the shared secret (generated unless given), returned this once. The webhook
    reads the secret on every call, so the old one stops verifying as soon as this commits."""
    system = get_system(code)
    system.secret = _check_secret(secret) if secret else secrets.token_urlsafe(32)
    save_versioned(system, expected_version, ["secret"], snapshot=system_snapshot)
    # The secret is never part of the audit entry.
    audit.record(
        "external_system.rotate_secret", system, summary=f"external DAM {system.code}: new secret"
    )
    return system, system.secret


@transaction.atomic
def delete_system(code, *, expected_version: int | None = None) -> None:
    """Remove an external DAM whose assets are all archived. A live asset would keep
    referring to a system that can no longer update it, expire it or take it back;
    archived ones keep the code as history (who sent them)."""
    system = ExternalSystem.objects.select_for_update().filter(pk=get_system(code).pk).first()
    if system is None:
        raise NotFound(f"no external system {code}", details={"system": str(code)})
    check_version(system, expected_version, f"external system {system.code}", system_snapshot)
    assets = Asset.objects.filter(external_system=system.code).exclude(status=S.ARCHIVED).count()
    if assets:
        raise Conflict(
            f"{counted(assets, 'asset from', 'assets from')} external system {system.code} "
            f"{'is' if assets == 1 else 'are'} not archived: archive them first (in Folio, or "
            "by the other DAM sending their deletion)",
            details={"system": system.code, "assets": assets},
        )
    audit.record(
        "external_system.delete",
        system,
        summary=f"remove external DAM {system.code}",
        changes=system_snapshot(system),
    )
    system.delete()


# --- validation -------------------------------------------------------------------------------


def _when(name: str, value):
    if value in (None, ""):
        return None
    if isinstance(value, datetime.datetime):
        parsed = value
    else:
        parsed = parse_datetime(str(value))
        if parsed is None:
            try:
                day = datetime.date.fromisoformat(str(value))
            except ValueError:
                raise InvalidInput(
                    f"{name}: {value!r} is not an ISO 8601 date or time",
                    details={"field": name, "value": str(value)},
                ) from None
            parsed = datetime.datetime.combine(day, datetime.time())
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, datetime.UTC)
    return parsed


def _choice(name: str, value, allowed) -> str:
    if value not in allowed:
        raise InvalidInput(
            f"{name}: {value!r} is not one of {', '.join(allowed)}",
            details={"field": name, "value": value, "allowed": list(allowed)},
        )
    return value


def _str_list(name: str, value) -> list[str]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise InvalidInput(f"{name} must be a list of strings", details={"field": name})
    return list(value)


def _channels(codes: list[str]) -> list[Channel]:
    found = {c.code: c for c in Channel.objects.filter(code__in=codes)}
    missing = [c for c in codes if c not in found]
    if missing:
        raise InvalidInput(
            f"channels: no channel {', '.join(missing)}",
            details={"field": "channels", "value": missing},
        )
    return [found[c] for c in codes]


def _type(mime: str, filename: str, current: str | None) -> str:
    mime = mime or (mimetypes.guess_type(filename)[0] if filename else None) or ""
    if mime:
        return asset_type(mime)
    return current or Asset.Type.IMAGE  # another DAM's asset with no hint: most are images


# --- upsert -----------------------------------------------------------------------------------


def _label(system: ExternalSystem) -> str:
    return f"dam:{system.code}"


def _history(asset: Asset, action: str, changes: list, user, system) -> None:
    AssetChange.objects.create(
        asset=asset,
        version=asset.version,
        user=user if getattr(user, "pk", None) else None,
        username=getattr(user, "username", "") or _label(system),
        action=action,
        changes=changes,
    )


def upsert_external(
    system,
    external_id: str,
    *,
    url=UNSET,
    title=UNSET,
    kind=UNSET,
    status=UNSET,
    alt_text=UNSET,
    licence=UNSET,
    territories=UNSET,
    channels=UNSET,
    valid_from=UNSET,
    expires_at=UNSET,
    filename=UNSET,
    mime=UNSET,
    width=UNSET,
    height=UNSET,
    updated_at=None,
    user=None,
) -> Upserted:
    """Create or update the Folio asset of `external_id` in `system` from the facts the other
    DAM sends; facts not passed stay as they are. `status` is the other DAM's decision and is
    recorded as such (action "external_status"). Returns the asset and what happened."""
    system = get_system(system)
    external_id = str(external_id or "").strip()
    if not external_id or len(external_id) > 300:
        raise InvalidInput(
            "external_id is required (at most 300 characters)", details={"field": "external_id"}
        )
    facts: dict = {}
    if url is not UNSET:
        url = str(url or "")
        if url and not url.startswith(("https://", "http://")):
            raise InvalidInput("url must be an http(s) URL", details={"field": "url"})
        facts["external_url"] = url[:1000]
    if title is not UNSET:
        facts["title"] = str(title or "").strip()[:300]
    if kind is not UNSET:
        facts["kind"] = _choice("kind", kind or Asset.Kind.OTHER, Asset.Kind.values)
    if alt_text is not UNSET:
        if not isinstance(alt_text, dict) or not all(isinstance(v, str) for v in alt_text.values()):
            raise InvalidInput(
                "alt_text must map locale codes to text", details={"field": "alt_text"}
            )
        facts["alt_text"] = dict(alt_text)
    if licence is not UNSET:
        facts["licence"] = str(licence or "")[:300]
    if territories is not UNSET:
        facts["territories"] = sorted(
            {t.upper() for t in _str_list("territories", territories or [])}
        )
    if valid_from is not UNSET:
        facts["valid_from"] = _when("valid_from", valid_from)
    if expires_at is not UNSET:
        facts["expires_at"] = _when("expires_at", expires_at)
    new_status = None if status is UNSET else _choice("status", status, S.values)
    chans = None if channels is UNSET else _channels(_str_list("channels", channels or []))
    file_facts = {}
    for name, value in (
        ("filename", filename),
        ("mime", mime),
        ("width", width),
        ("height", height),
    ):
        if value is UNSET:
            continue
        if (
            name in ("width", "height")
            and value is not None
            and (not isinstance(value, int) or isinstance(value, bool) or value < 0)
        ):
            raise InvalidInput(f"{name} must be a whole number", details={"field": name})
        file_facts[name] = value if name in ("width", "height") else str(value or "")[:255]
    updated_at = _when("updated_at", updated_at)

    with transaction.atomic():
        asset = (
            Asset.objects.select_for_update()
            .filter(external_system=system.code, external_id=external_id)
            .first()
        )
        if (
            asset is not None
            and updated_at
            and asset.external_updated_at
            and (updated_at < asset.external_updated_at)
        ):
            # An older event delivered late must not undo a newer one.
            return Upserted(asset, "skipped")
        created = asset is None
        if created:
            asset = Asset(
                external_system=system.code,
                external_id=external_id,
                title=facts.get("title") or external_id[:300],
                type=Asset.Type.IMAGE,
                status=new_status or S.DRAFT,
                created_by=user,
            )
        changes = []
        for name in PLAIN_FACTS:
            if name in facts and getattr(asset, name) != facts[name]:
                changes.append(
                    {
                        "field": name,
                        "old": None if created else _plain(getattr(asset, name)),
                        "new": _plain(facts[name]),
                    }
                )
                setattr(asset, name, facts[name])
        if not asset.title:
            asset.title = external_id[:300]
        old_file = dict((asset.custom or {}).get("external_file") or {})
        new_file = {**old_file, **file_facts}
        if new_file != old_file:
            changes.append({"field": "external_file", "old": old_file or None, "new": new_file})
            asset.custom = {**(asset.custom or {}), "external_file": new_file}
        new_type = _type(
            new_file.get("mime", ""), new_file.get("filename", ""), None if created else asset.type
        )
        if new_type != asset.type:
            changes.append(
                {"field": "type", "old": None if created else asset.type, "new": new_type}
            )
            asset.type = new_type
        old_status = None if created else asset.status
        if updated_at and updated_at != asset.external_updated_at:
            asset.external_updated_at = updated_at
        if created:
            asset.save()
        if chans is not None:
            before = set() if created else set(asset.channels.values_list("code", flat=True))
            after = {c.code for c in chans}
            if before != after:
                asset.channels.set(chans)
                changes.append({"field": "channels", "old": sorted(before), "new": sorted(after)})
        if not created and (changes or updated_at):
            fields = [*PLAIN_FACTS, "custom", "type", "external_updated_at"]
            if changes:
                save_versioned(asset, None, fields)
            else:  # only the delivery time moved: no new row version, nothing to announce
                Asset.objects.filter(pk=asset.pk).update(
                    external_updated_at=asset.external_updated_at
                )
        if changes or created:
            _history(
                asset, "external_create" if created else "external_update", changes, user, system
            )
            audit.record(
                "asset.external_" + ("create" if created else "update"),
                asset,
                summary=f"{'add' if created else 'update'} {asset.title} from {system.code} "
                f"({external_id})",
                changes={"system": system.code, "external_id": external_id, "changes": changes},
            )
        status_changed = False
        if new_status is not None and (created or new_status != old_status):
            _set_status(asset, old_status, new_status, system, user)
            status_changed = True
        if changes or created or status_changed:
            signals.asset_changed.send(sender=Asset, asset_ids=[asset.pk])
        if (changes or updated_at) and needs_fetch(asset):
            # A linked asset's file moved in the other DAM: fetch it again (see fetch_file).
            fetch_later([asset.pk])
    if created:
        return Upserted(asset, "created", changes)
    return Upserted(asset, "updated" if changes or status_changed else "unchanged", changes)


def _plain(value):
    return value.isoformat() if isinstance(value, datetime.datetime) else value


def _set_status(asset: Asset, old, new: str, system: ExternalSystem, user) -> None:
    """The other DAM's decision on an asset, the only way an external asset's status changes:
    recorded with who decided (the system, and the user who relayed it through the API)."""
    if old is not None:
        asset.status = new
        save_versioned(asset, None, ["status"])
    change = [{"field": "status", "old": old, "new": new, "decided_by": _label(system)}]
    _history(asset, "external_status", change, user, system)
    audit.record(
        "asset.external_status",
        asset,
        summary=f"{system.code} set {asset.title} to {new}",
        changes={"system": system.code, "external_id": asset.external_id, "old": old, "new": new},
    )
    if old is not None:
        signals.asset_status_changed.send(sender=Asset, asset=asset, old=old, new=new)


def delete_external(system, external_id: str, *, user=None) -> Upserted:
    """The asset was deleted in the other DAM: archive it here (links and history stay
    readable; linking refuses archived assets). Unknown or already archived: nothing to do."""
    system = get_system(system)
    with transaction.atomic():
        asset = (
            Asset.objects.select_for_update()
            .filter(external_system=system.code, external_id=str(external_id))
            .first()
        )
        if asset is None:
            raise NotFound(
                f"no asset {external_id} from {system.code}",
                details={"system": system.code, "external_id": external_id},
            )
        if asset.status == S.ARCHIVED:
            return Upserted(asset, "unchanged")
        _set_status(asset, asset.status, S.ARCHIVED, system, user)
        signals.asset_changed.send(sender=Asset, asset_ids=[asset.pk])
    return Upserted(asset, "deleted")


def external_assets(system: str | None = None):
    qs = Asset.objects.exclude(external_id="").prefetch_related("channels")
    if system:
        qs = qs.filter(external_system=get_system(system).code)
    return qs


def rendition_source(asset: Asset) -> str | None:
    """Where to fetch an external asset's file (for renditions and downloads): its stored
    reference, or None for a local asset (fetch_file below brings it here)."""
    return asset.external_url or None if asset.external_id else None


# --- fetching the file ------------------------------------------------------------------------
#
# Renditions are made from local bytes. An external asset that may need them (it is linked to
# a product, or its file was fetched before) gets its file fetched from `external_url` into a
# local AssetVersion, marked `metadata["fetched"] = {url, external_updated_at, at}`; it is
# fetched again when the other DAM announces a change (`external_updated_at` or the URL
# moves). The version then goes the way of an upload: previews, renditions on demand.
#
# The download is guarded, as its URL comes from another system: http(s) only; every
# address the host resolves to must be public (no loopback, private, link-local or reserved
# address) unless FOLIO_EXTERNAL_FETCH_ALLOW_PRIVATE is true, and the connection goes to the
# address checked (no second lookup); at most MAX_REDIRECTS redirects, each checked the same
# way; at most FOLIO_MAX_UPLOAD_BYTES; a time limit for the whole download; the type is
# sniffed from the bytes (an HTML error page served with 200 is refused), whatever the
# server says it sends.

MAX_REDIRECTS = 3
CONNECT_TIMEOUT = 10.0
FETCH_MARK = "fetched"


def _setting(name: str, default, parse):
    """settings.<name>, else the environment variable FOLIO_<name>, else `default`."""
    import os

    from django.conf import settings

    value = getattr(settings, name, None)
    if value is None:
        raw = os.environ.get(f"FOLIO_{name}", "")
        value = parse(raw) if raw != "" else default
    return value


def _as_bool(raw: str) -> bool:
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def allow_private() -> bool:
    return bool(_setting("EXTERNAL_FETCH_ALLOW_PRIVATE", False, _as_bool))


def fetch_timeout() -> float:
    """Seconds the whole download may take (FOLIO_EXTERNAL_FETCH_TIMEOUT, default 120)."""
    return float(_setting("EXTERNAL_FETCH_TIMEOUT", 120.0, float))


class FetchFailed(InvalidInput):
    """The file could not be fetched from the other DAM (refused or failed); the message says
    why, and no version was written."""


def _refuse(url: str, reason: str) -> FetchFailed:
    return FetchFailed(f"cannot fetch {url[:200]}: {reason}", details={"url": url[:1000]})


def _checked_address(url: str):
    """(scheme, host, port, target, address) of an http(s) URL whose host resolves only to
    addresses we may connect to."""
    import ipaddress
    import socket
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise _refuse(url, "not a valid URL") from None
    if parts.scheme not in ("http", "https"):
        raise _refuse(url, "only http and https URLs are fetched")
    host = parts.hostname
    if not host:
        raise _refuse(url, "the URL names no host")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise _refuse(url, f"the host does not resolve ({exc})") from None
    addresses = []
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        addresses.append(address)
    if not addresses:
        raise _refuse(url, "the host does not resolve")
    if not allow_private():
        bad = [a for a in addresses if not a.is_global or a.is_multicast]
        if bad:
            raise _refuse(
                url,
                f"{host} is a private, loopback or reserved address ({bad[0]}); set "
                "FOLIO_EXTERNAL_FETCH_ALLOW_PRIVATE=true to allow it",
            )
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, host, port, target, str(addresses[0])


class _Download:
    """The response body as a file object for storage.spool, within the time limit."""

    def __init__(self, response, url: str, deadline: float):
        self.response, self.url, self.deadline = response, url, deadline

    def read(self, n: int = -1) -> bytes:
        import time

        import urllib3

        if time.monotonic() > self.deadline:
            raise _refuse(self.url, f"the download took longer than {fetch_timeout():g} s")
        try:
            return self.response.read(n if n and n > 0 else None)
        except urllib3.exceptions.HTTPError as exc:
            raise _refuse(self.url, f"the download failed ({type(exc).__name__})") from None


def _open(url: str, max_bytes: int):
    """The 200 response for `url` (redirects followed and checked), its body not read yet."""
    import time

    import urllib3

    deadline = time.monotonic() + fetch_timeout()
    for _ in range(MAX_REDIRECTS + 1):
        scheme, host, port, target, address = _checked_address(url)
        read = max(1.0, deadline - time.monotonic())
        timeout = urllib3.Timeout(connect=min(CONNECT_TIMEOUT, read), read=read)
        if scheme == "https":
            pool = urllib3.HTTPSConnectionPool(
                address,
                port,
                timeout=timeout,
                retries=False,
                server_hostname=host,
                assert_hostname=host,
                cert_reqs="CERT_REQUIRED",
            )
        else:
            pool = urllib3.HTTPConnectionPool(address, port, timeout=timeout, retries=False)
        default_port = 443 if scheme == "https" else 80
        headers = {
            "Host": host if port == default_port else f"{host}:{port}",
            "User-Agent": "Folio (external asset fetch)",
            "Accept": "*/*",
        }
        try:
            response = pool.urlopen(
                "GET", target, headers=headers, redirect=False, preload_content=False
            )
        except urllib3.exceptions.HTTPError as exc:
            raise _refuse(url, f"the other DAM did not answer ({type(exc).__name__})") from None
        if response.status in (301, 302, 303, 307, 308) and response.headers.get("Location"):
            from urllib.parse import urljoin

            response.release_conn()
            url = urljoin(url, response.headers["Location"])
            continue
        if response.status != 200:
            response.release_conn()
            raise _refuse(url, f"the other DAM answered {response.status}")
        length = response.headers.get("Content-Length")
        if length and length.isdigit() and int(length) > max_bytes:
            response.release_conn()
            raise _refuse(url, f"the file is larger than the {max_bytes:,} bytes allowed")
        return url, _Download(response, url, deadline)
    raise _refuse(url, f"more than {MAX_REDIRECTS} redirects")


def _stamp(asset: Asset) -> str | None:
    return asset.external_updated_at.isoformat() if asset.external_updated_at else None


def fetched_mark(version) -> dict | None:
    """What a fetched version was fetched from ({url, external_updated_at, at}); None for an
    uploaded file."""
    return (version.metadata or {}).get(FETCH_MARK) if version is not None else None


def is_fetched_current(asset: Asset) -> bool:
    """The asset's file is the one its reference names now (same URL, same change time)."""
    mark = fetched_mark(asset.current_version)
    return (
        bool(mark)
        and mark.get("url") == asset.external_url
        and (mark.get("external_updated_at") == _stamp(asset))
    )


def needs_fetch(asset: Asset) -> bool:
    """An external asset with a URL whose file is missing or stale and that may need
    renditions: it is linked, or its file was fetched before. An uploaded file is kept."""
    if not asset.external_id or not asset.external_url:
        return False
    if asset.current_version_id is None:
        return asset.links.exists()
    return fetched_mark(asset.current_version) is not None and not is_fetched_current(asset)


def _filename(asset: Asset, url: str) -> str:
    from pathlib import PurePosixPath
    from urllib.parse import unquote, urlsplit

    from folio.assets.services import safe_filename

    name = ((asset.custom or {}).get("external_file") or {}).get("filename") or ""
    if not name:
        name = PurePosixPath(unquote(urlsplit(url).path)).name
    return safe_filename(name or asset.external_id)


def fetch_file(asset_id: int, *, user=None):
    """Fetch the file of an external asset into a new current AssetVersion (see above) and
    return it; the current version when it is up to date already (nothing fetched). The
    asset's status stays the other DAM's. FetchFailed says why a download was refused."""
    from django.conf import settings

    from folio.assets import previews, storage
    from folio.assets.metadata import asset_type as type_of
    from folio.assets.models import AssetVersion
    from folio.assets.services import received

    asset = Asset.objects.select_related("current_version").filter(pk=asset_id).first()
    if asset is None:
        raise NotFound(f"no asset {asset_id}", details={"asset_id": asset_id})
    if not asset.external_id or not asset.external_url:
        raise InvalidInput(
            f"asset {asset_id} is not an external asset with a URL", details={"asset_id": asset_id}
        )
    if is_fetched_current(asset):
        return asset.current_version
    system = get_system(asset.external_system)
    wanted_url, stamp = asset.external_url, _stamp(asset)
    max_bytes = settings.MAX_UPLOAD_BYTES
    final_url, body = _open(wanted_url, max_bytes)
    filename = _filename(asset, final_url)
    try:
        with (
            storage.cleanup_on_failure(),
            received(body, filename, max_bytes=max_bytes) as (sp, info),
            transaction.atomic(),
        ):
            if previews.source_kind(info["mime"]) is None:
                raise _refuse(
                    wanted_url,
                    f"the file is {info['mime']}, not an image, video or PDF (an error page?)",
                )
            asset = Asset.objects.select_for_update().get(pk=asset_id)
            mark = {
                "url": wanted_url,
                "external_updated_at": stamp,
                "at": timezone.now().isoformat(),
            }
            current = asset.current_version
            if current is not None and current.blob_id == sp.sha256:
                # The same bytes as before: only the mark moves (no new version).
                current.metadata = {**(current.metadata or {}), FETCH_MARK: mark}
                current.save(update_fields=["metadata"])
                return current
            blob, _ = storage.put(sp)
            number = (
                asset.versions.order_by("-number").values_list("number", flat=True).first() or 0
            ) + 1
            version = AssetVersion.objects.create(
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
                metadata={**info["metadata"], FETCH_MARK: mark},
                uploaded_by=user if getattr(user, "pk", None) else None,
                comment=f"fetched from {system.code}",
            )
            changes = [
                {
                    "field": "version",
                    "old": current.number if current else None,
                    "new": number,
                    "filename": filename,
                    "sha256": sp.sha256,
                    "url": wanted_url,
                }
            ]
            asset.current_version = version
            fields = ["current_version"]
            new_type = type_of(version.mime)
            if new_type != asset.type:
                changes.append({"field": "type", "old": asset.type, "new": new_type})
                asset.type = new_type
                fields.append("type")
            save_versioned(asset, None, fields)
            _history(asset, "external_fetch", changes, user, system)
            audit.record(
                "asset.external_fetch",
                asset,
                summary=f"fetch {filename} of {asset.title} from {system.code}",
                changes={
                    "system": system.code,
                    "external_id": asset.external_id,
                    "changes": changes,
                },
            )
            signals.version_added.send(sender=Asset, asset=asset, version=version)
            signals.asset_changed.send(sender=Asset, asset_ids=[asset.pk])
    finally:
        body.response.release_conn()
    return version


def fetch_later(asset_ids) -> None:
    """Start the fetch job for those of these assets that need their file (on commit)."""
    ids = [
        a.pk
        for a in Asset.objects.select_related("current_version")
        .filter(pk__in=list(asset_ids))
        .exclude(external_id="")
        .exclude(external_url="")
        if needs_fetch(a)
    ]
    if ids:
        start_job(
            fetch_external_files,
            label=f"Fetch {counted(len(ids), 'file')} from other DAMs",
            asset_ids=sorted(ids),
        )


@job("Fetch files from other DAMs", max_attempts=3)
def fetch_external_files(ctx, asset_ids: list[int]) -> dict:
    """Fetch the files of these external assets (see fetch_file); safe to run again."""
    from folio.errors import FolioError

    ctx.set_total(len(asset_ids))
    fetched = []
    for asset_id in asset_ids:
        try:
            version = fetch_file(asset_id)
        except FolioError as exc:
            ctx.item_failed(str(asset_id), exc.message)
            continue
        fetched.append({"asset": asset_id, "version": version.number})
        ctx.advance()
    return {"fetched": fetched}
