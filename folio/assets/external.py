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
from folio.versioning import save_versioned

S = Asset.Status
# Facts the other DAM owns, copied onto the Asset as they are.
PLAIN_FACTS = ("title", "kind", "licence", "territories", "alt_text", "valid_from",
               "expires_at", "external_url")
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
        raise InvalidInput("code must be a slug (letters, digits, - and _)",
                           details={"field": "code", "value": code})
    secret = secret or secrets.token_urlsafe(32)
    if len(secret) < 16:
        raise InvalidInput("the secret must have at least 16 characters",
                           details={"field": "secret"})
    try:
        with transaction.atomic():
            system = ExternalSystem.objects.create(code=code, name=(name or code)[:200],
                                                   secret=secret)
    except IntegrityError:
        raise Conflict(f"an external system {code} exists already",
                       details={"code": code}) from None
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
                raise InvalidInput(f"{name}: {value!r} is not an ISO 8601 date or time",
                                   details={"field": name, "value": str(value)}) from None
            parsed = datetime.datetime.combine(day, datetime.time())
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, datetime.UTC)
    return parsed


def _choice(name: str, value, allowed) -> str:
    if value not in allowed:
        raise InvalidInput(f"{name}: {value!r} is not one of {', '.join(allowed)}",
                           details={"field": name, "value": value, "allowed": list(allowed)})
    return value


def _str_list(name: str, value) -> list[str]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise InvalidInput(f"{name} must be a list of strings", details={"field": name})
    return list(value)


def _channels(codes: list[str]) -> list[Channel]:
    found = {c.code: c for c in Channel.objects.filter(code__in=codes)}
    missing = [c for c in codes if c not in found]
    if missing:
        raise InvalidInput(f"channels: no channel {', '.join(missing)}",
                           details={"field": "channels", "value": missing})
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
        asset=asset, version=asset.version, user=user if getattr(user, "pk", None) else None,
        username=getattr(user, "username", "") or _label(system), action=action,
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
        raise InvalidInput("external_id is required (at most 300 characters)",
                           details={"field": "external_id"})
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
        if not isinstance(alt_text, dict) or not all(
            isinstance(v, str) for v in alt_text.values()
        ):
            raise InvalidInput("alt_text must map locale codes to text",
                               details={"field": "alt_text"})
        facts["alt_text"] = dict(alt_text)
    if licence is not UNSET:
        facts["licence"] = str(licence or "")[:300]
    if territories is not UNSET:
        facts["territories"] = sorted({t.upper() for t in _str_list("territories",
                                                                     territories or [])})
    if valid_from is not UNSET:
        facts["valid_from"] = _when("valid_from", valid_from)
    if expires_at is not UNSET:
        facts["expires_at"] = _when("expires_at", expires_at)
    new_status = None if status is UNSET else _choice("status", status, S.values)
    chans = None if channels is UNSET else _channels(_str_list("channels", channels or []))
    file_facts = {}
    for name, value in (("filename", filename), ("mime", mime), ("width", width),
                        ("height", height)):
        if value is UNSET:
            continue
        if name in ("width", "height") and value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or value < 0
        ):
            raise InvalidInput(f"{name} must be a whole number", details={"field": name})
        file_facts[name] = value if name in ("width", "height") else str(value or "")[:255]
    updated_at = _when("updated_at", updated_at)

    with transaction.atomic():
        asset = (Asset.objects.select_for_update()
                 .filter(external_system=system.code, external_id=external_id).first())
        if asset is not None and updated_at and asset.external_updated_at and (
            updated_at < asset.external_updated_at
        ):
            # An older event delivered late must not undo a newer one.
            return Upserted(asset, "skipped")
        created = asset is None
        if created:
            asset = Asset(external_system=system.code, external_id=external_id,
                          title=facts.get("title") or external_id[:300], type=Asset.Type.IMAGE,
                          status=new_status or S.DRAFT, created_by=user)
        changes = []
        for name in PLAIN_FACTS:
            if name in facts and getattr(asset, name) != facts[name]:
                changes.append({"field": name, "old": None if created else
                                _plain(getattr(asset, name)), "new": _plain(facts[name])})
                setattr(asset, name, facts[name])
        if not asset.title:
            asset.title = external_id[:300]
        old_file = dict((asset.custom or {}).get("external_file") or {})
        new_file = {**old_file, **file_facts}
        if new_file != old_file:
            changes.append({"field": "external_file", "old": old_file or None, "new": new_file})
            asset.custom = {**(asset.custom or {}), "external_file": new_file}
        new_type = _type(new_file.get("mime", ""), new_file.get("filename", ""),
                         None if created else asset.type)
        if new_type != asset.type:
            changes.append({"field": "type", "old": None if created else asset.type,
                            "new": new_type})
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
                    external_updated_at=asset.external_updated_at)
        if changes or created:
            _history(asset, "external_create" if created else "external_update", changes,
                     user, system)
            audit.record(
                "asset.external_" + ("create" if created else "update"), asset,
                summary=f"{'add' if created else 'update'} {asset.title} from {system.code} "
                        f"({external_id})",
                changes={"system": system.code, "external_id": external_id,
                         "changes": changes},
            )
        status_changed = False
        if new_status is not None and (created or new_status != old_status):
            _set_status(asset, old_status, new_status, system, user)
            status_changed = True
        if changes or created or status_changed:
            signals.asset_changed.send(sender=Asset, asset_ids=[asset.pk])
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
    audit.record("asset.external_status", asset,
                 summary=f"{system.code} set {asset.title} to {new}",
                 changes={"system": system.code, "external_id": asset.external_id,
                          "old": old, "new": new})
    if old is not None:
        signals.asset_status_changed.send(sender=Asset, asset=asset, old=old, new=new)


def delete_external(system, external_id: str, *, user=None) -> Upserted:
    """The asset was deleted in the other DAM: archive it here (links and history stay
    readable; linking refuses archived assets). Unknown or already archived: nothing to do."""
    system = get_system(system)
    with transaction.atomic():
        asset = (Asset.objects.select_for_update()
                 .filter(external_system=system.code, external_id=str(external_id)).first())
        if asset is None:
            raise NotFound(f"no asset {external_id} from {system.code}",
                           details={"system": system.code, "external_id": external_id})
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
    reference, or None for a local asset."""
    return asset.external_url or None if asset.external_id else None
