"""Delivery URLs for renditions, in the spirit of imgproxy and thumbor.

    /img/<signature>/<asset_id>/<preset>[/<locale>]/<filename>   signed, any preset
    /img/p/<preset>/<asset_id>/<filename>                          unsigned, public presets only

The signature is an HMAC-SHA256 of everything after it, keyed with a key derived from
SECRET_KEY for this purpose only, so an address cannot be altered (another asset, preset,
locale or name) without a 403. The rendition itself is looked up by (source bytes, spec), so
the same address serves the asset's current file through the preset's current spec; the ETag
(the rendition's SHA-256) changes when either does.

Whether anything is served is decided at the moment of the request by
`folio.assets.rights.is_publishable`: an unapproved asset is 404, an asset whose rights have
ended is 410 from the very moment of expiry, and no response may be cached past it
(Cache-Control max-age = min(configured, seconds left)). A rendition not made yet answers
202 with Retry-After and only enqueues its job: no request ever renders.
"""

import base64
import functools
import hashlib
import hmac
import math
import re
from dataclasses import dataclass
from urllib.parse import quote

from django.conf import settings
from django.utils import timezone
from django.utils.text import slugify

from folio.assets.models import Asset
from folio.renditions import presets as preset_service
from folio.renditions.models import Preset, Rendition

SIGNATURE_BYTES = 24  # 192 bits, 32 characters of URL-safe base64
RETRY_AFTER = 5  # seconds a client waits before asking again for a pending rendition


def max_age() -> int:
    return int(getattr(settings, "RENDITION_MAX_AGE", 86_400))


def _key() -> bytes:
    return _derived_key(settings.SECRET_KEY)


@functools.lru_cache(maxsize=4)  # by the secret itself: a changed SECRET_KEY gets its own key
def _derived_key(secret: str) -> bytes:
    return hashlib.sha256(b"folio.renditions.delivery:" + secret.encode()).digest()


def sign(path: str) -> str:
    mac = hmac.digest(_key(), path.encode(), "sha256")[:SIGNATURE_BYTES]
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def verify(signature: str, path: str) -> bool:
    return hmac.compare_digest(sign(path).encode(), (signature or "").encode())


def _prefix(absolute: bool) -> str:
    return (settings.PUBLIC_URL or "") if absolute else ""


def filename_for(asset: Asset, preset: Preset, *, locale: str | None = None, **context) -> str:
    """The file name in the address: the preset's template filled from what is known about
    the asset (identifiers a template names but the asset lacks fall back to its title)."""
    ext = preset_service.extension(preset, locale)
    slug = slugify(asset.title)[:80] or f"asset-{asset.pk}"
    values = {
        "title_slug": slug,
        "ext": ext,
        "locale": locale or "",
        "position": 1,
        "role": "",
        "channel": "",
        "sku": "",
        "gtin": "",
        **{k: v for k, v in context.items() if v not in (None, "")},
    }
    name = ""
    try:
        from folio.renditions import operations

        name = operations.filename(preset.filename_template, **values)
    except Exception:  # a template naming what is unknown falls back below
        name = ""
    if not name or name.startswith(".") or name.startswith("-") or "/" in name:
        name = f"{slug}.{ext}"
    return name


# What quote(…, safe="") leaves as it is: a feed signs one address per image, and most parts
# (ids, preset codes, locales, sanitised file names) need no quoting.
_UNQUOTED = re.compile(r"[A-Za-z0-9_.~-]*")


def _quoted(part: str) -> str:
    return part if _UNQUOTED.fullmatch(part) else quote(part, safe="")


def signed_path(asset_id: int, preset_code: str, locale: str | None, filename: str) -> str:
    parts = [str(asset_id), preset_code] + ([locale] if locale else []) + [filename]
    return "/".join(map(_quoted, parts))


def signed_url(
    asset, preset, *, locale: str | None = None, filename: str | None = None, absolute: bool = False
) -> str:
    preset = preset_service.get_preset(preset)
    asset_id = asset if isinstance(asset, int) else asset.pk
    if filename is None:
        row = asset if isinstance(asset, Asset) else Asset.objects.get(pk=asset_id)
        filename = filename_for(row, preset, locale=locale)
    path = signed_path(asset_id, preset.code, locale, filename)
    return f"{_prefix(absolute)}/img/{sign(path)}/{path}"


def public_url(asset, preset, *, filename: str | None = None, absolute: bool = False) -> str:
    """The stable, unsigned address of a public preset's rendition (ValueError otherwise)."""
    preset = preset_service.get_preset(preset)
    if not preset.public:
        raise ValueError(f"preset {preset.code} is not public")
    asset_id = asset if isinstance(asset, int) else asset.pk
    if filename is None:
        row = asset if isinstance(asset, Asset) else Asset.objects.get(pk=asset_id)
        filename = filename_for(row, preset)
    return f"{_prefix(absolute)}/img/p/{quote(preset.code, safe='')}/{asset_id}/" + quote(
        filename, safe=""
    )


def url_for(asset, preset, *, locale: str | None = None, absolute: bool = False) -> str:
    """The address to hand out: the stable public one where the preset allows it (and no
    market override is asked for), else a signed one."""
    preset = preset_service.get_preset(preset)
    if preset.public and not preset_service.applied_locale(preset, locale):
        return public_url(asset, preset, absolute=absolute)
    return signed_url(asset, preset, locale=locale, absolute=absolute)


# --- answering a request -------------------------------------------------------------------------


@dataclass
class Decision:
    """What to answer: status, a reason for refusals, and for 200 the rendition and how long
    it may be cached."""

    status: int
    reason: str = ""
    rendition: Rendition | None = None
    max_age: int = 0
    retry_after: int | None = None


def territory_of(locale: str | None) -> str | None:
    if locale and "_" in locale:
        return locale.split("_", 1)[1].upper()
    return None


def decide(
    asset_id: int, preset_code: str, *, locale: str | None = None, public_only: bool = False
) -> Decision:
    """The outcome of a delivery request once its address is known to be genuine."""
    preset = Preset.objects.filter(code=preset_code).first()
    if preset is None or (public_only and not preset.public):
        return Decision(404, "no such rendition preset")
    if locale is not None and not preset_service._LOCALE.match(locale):
        return Decision(404, "no such locale")
    asset = Asset.objects.select_related("current_version").filter(pk=asset_id).first()
    if asset is None:
        return Decision(404, "no such asset")
    now = timezone.now()
    ok, reasons = _publishable(asset, locale, now)
    if not ok:
        expired = asset.expires_at is not None and now >= asset.expires_at
        return Decision(410 if expired else 404, "; ".join(reasons))
    from folio.renditions import cache

    rendition = cache.rendition_for(asset, preset, locale=locale)
    if rendition.status == Rendition.Status.PENDING:
        return Decision(202, "the rendition is being made", rendition, retry_after=RETRY_AFTER)
    if rendition.status == Rendition.Status.FAILED:
        return Decision(404, f"no rendition could be made: {rendition.error}", rendition)
    if rendition.needs_review:
        return Decision(404, "the rendition awaits review", rendition)
    lifetime = max_age()
    if asset.expires_at is not None:
        left = math.floor((asset.expires_at - now).total_seconds())
        lifetime = max(0, min(lifetime, left))
    return Decision(200, "", rendition, max_age=lifetime)


def _publishable(asset: Asset, locale: str | None, at):
    from folio.assets.rights import is_publishable

    return is_publishable(asset, territory=territory_of(locale), at=at)


def presigned_url(rendition: Rendition, lifetime: int) -> str | None:
    """A short-lived object-storage URL of the rendition (S3 media only, when
    RENDITION_S3_REDIRECT is on), never valid longer than `lifetime` seconds."""
    if not getattr(settings, "RENDITION_S3_REDIRECT", False) or lifetime < 1:
        return None
    from django.core.files.storage import default_storage

    if not hasattr(default_storage, "bucket_name"):
        return None
    expire = max(1, min(int(getattr(settings, "RENDITION_S3_REDIRECT_SECONDS", 300)), lifetime))
    return default_storage.url(
        rendition.blob.storage_name,
        parameters={"ResponseContentType": rendition.blob.mime},
        expire=expire,
    )
