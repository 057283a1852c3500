"""Usage rights: whether an asset may be published or served publicly, now, where and how.

`is_publishable` is the one answer to that question, asked at the moment of use (publishing,
delivery, share links): approved, within [valid_from, expires_at), and licensed for the
channel and territory asked about. The scheduled `check_rights` job only tells people and
other systems (asset_status_changed with new="expiring" or "expired", plus an audit entry);
nothing relies on it having run.

One field, `expiry_notified_at`, remembers what was announced for the current expiry date:
a time before `expires_at` means the warning went out, a time at or after it means the
expiry did. Moving `expires_at` therefore re-arms both announcements without extra state.
"""

import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from folio.accounts import audit
from folio.assets.models import Asset, AssetChange
from folio.assets.signals import asset_status_changed
from folio.jobs.services import JobContext, job

BATCH = 500


def _channel_code(channel) -> str | None:
    if channel is None:
        return None
    return channel if isinstance(channel, str) else channel.code


def is_publishable(
    asset: Asset, *, channel=None, territory: str | None = None, at: datetime.datetime | None = None
) -> tuple[bool, list[str]]:
    """(True, []) when `asset` may be published now (or `at`) in `channel` (a Channel or its
    code) and `territory` (ISO 3166 alpha-2); else False and every reason why not."""
    at = at or timezone.now()
    reasons = []
    if asset.status != Asset.Status.APPROVED:
        reasons.append(f"status is {asset.status}, not approved")
    # An asset of another DAM has its file there (external_url), never a local version.
    if asset.current_version_id is None and not asset.external_id:
        reasons.append("it has no file")
    if asset.valid_from and at < asset.valid_from:
        reasons.append(f"usage rights start on {asset.valid_from.isoformat()}")
    if asset.expires_at and at >= asset.expires_at:
        reasons.append(f"usage rights expired on {asset.expires_at.isoformat()}")
    code = _channel_code(channel)
    if code is not None:
        allowed = sorted(c.code for c in asset.channels.all())
        if allowed and code not in allowed:
            reasons.append(f"not licensed for channel {code} (only {', '.join(allowed)})")
    if territory:
        allowed = asset.territories or []
        if allowed and territory.upper() not in allowed:
            reasons.append(
                f"not licensed in territory {territory.upper()} (only {', '.join(allowed)})"
            )
    return not reasons, reasons


def publishable_q(at: datetime.datetime | None = None, *, channel=None) -> Q:
    """The part of `is_publishable` a database can check, for narrowing long lists before
    asking `is_publishable` about each (territories live in JSON and are checked there)."""
    at = at or timezone.now()
    q = (
        Q(status=Asset.Status.APPROVED)
        & (Q(current_version__isnull=False) | ~Q(external_id=""))
        & (Q(valid_from__isnull=True) | Q(valid_from__lte=at))
        & (Q(expires_at__isnull=True) | Q(expires_at__gt=at))
    )
    code = _channel_code(channel)
    if code is not None:
        q &= Q(channels__isnull=True) | Q(channels__code=code)
    return q


def rights_state(asset: Asset, *, at: datetime.datetime | None = None) -> dict:
    """What the detail view shows: the rights, whether the asset is publishable now and why
    not, and whether its rights end within the warning period."""
    at = at or timezone.now()
    ok, reasons = is_publishable(asset, at=at)
    warn_from = at + datetime.timedelta(days=settings.RIGHTS_WARNING_DAYS)
    return {
        "licence": asset.licence,
        "territories": asset.territories or [],
        "channels": sorted(c.code for c in asset.channels.all()),
        "valid_from": asset.valid_from,
        "expires_at": asset.expires_at,
        "expired": bool(asset.expires_at and asset.expires_at <= at),
        "expiring": bool(asset.expires_at and at < asset.expires_at <= warn_from),
        "publishable": ok,
        "reasons": reasons,
    }


def expiring(days: int | None = None, *, at: datetime.datetime | None = None):
    """Assets (not archived) whose rights end within `days` (default RIGHTS_WARNING_DAYS),
    soonest first; ones that ended already are not included."""
    at = at or timezone.now()
    days = settings.RIGHTS_WARNING_DAYS if days is None else days
    return (
        Asset.objects.exclude(status=Asset.Status.ARCHIVED)
        .filter(expires_at__gt=at, expires_at__lte=at + datetime.timedelta(days=days))
        .order_by("expires_at", "id")
    )


def _announce(ids: list[int], new: str, at: datetime.datetime, selection: Q) -> int:
    """Announce `new` for each asset still matching `selection`, once: the row lock and the
    re-check keep two overlapping runs from announcing an asset twice."""
    with transaction.atomic():
        assets = list(
            Asset.objects.select_for_update().filter(selection, pk__in=ids).order_by("pk")
        )
        if not assets:
            return 0
        Asset.objects.filter(pk__in=[a.pk for a in assets]).update(expiry_notified_at=at)
        changes = []
        for asset in assets:
            when = asset.expires_at.isoformat()
            changes.append(
                AssetChange(
                    asset=asset,
                    version=asset.version,
                    at=at,
                    username="system",
                    action=new,
                    changes=[{"field": "rights", "old": asset.status, "new": new, "at": when}],
                )
            )
            summary = (
                f"usage rights of asset {asset.pk} ({asset.title}) "
                + ("ended" if new == "expired" else "end")
                + f" on {when}"
            )
            audit.record(f"asset.{new}", asset, summary=summary, changes={"expires_at": when})
            asset_status_changed.send(sender=Asset, asset=asset, old=asset.status, new=new)
        AssetChange.objects.bulk_create(changes)
        return len(assets)


def _expired_q(at):
    return Q(expires_at__lte=at) & (
        Q(expiry_notified_at__isnull=True) | Q(expiry_notified_at__lt=F("expires_at"))
    )


def _warning_q(at, days):
    window_start = F("expires_at") - datetime.timedelta(days=days)
    return Q(expires_at__gt=at, expires_at__lte=at + datetime.timedelta(days=days)) & (
        Q(expiry_notified_at__isnull=True) | Q(expiry_notified_at__lt=window_start)
    )


def announce_rights(*, at: datetime.datetime | None = None, days: int | None = None, ctx=None):
    """Announce every expiry and every expiry within the warning period not announced yet."""
    at = at or timezone.now()
    days = settings.RIGHTS_WARNING_DAYS if days is None else days
    live = Asset.objects.exclude(status=Asset.Status.ARCHIVED)
    counts = {}
    for new, selection in (("expired", _expired_q(at)), ("expiring", _warning_q(at, days))):
        ids = list(live.filter(selection).order_by("pk").values_list("pk", flat=True))
        if ctx is not None:
            ctx.set_total((ctx.job.progress_total or 0) + len(ids))
        done = 0
        for start in range(0, len(ids), BATCH):
            chunk = ids[start : start + BATCH]
            done += _announce(chunk, new, at, selection)
            if ctx is not None:
                ctx.advance(len(chunk))
        counts[new] = done
    return counts


@job("Check asset usage rights", schedulable=True)
def check_rights(ctx: JobContext, days: int | None = None) -> dict:
    """Scheduled every 15 minutes: announce assets whose rights ended or are about to."""
    return announce_rights(days=days, ctx=ctx)
