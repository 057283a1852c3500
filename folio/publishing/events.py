"""What publishing does when something happens elsewhere, and when nothing does: outgoing
events for webhooks, publications run on a schedule, and listings withdrawn when rights end.

Events (`EVENTS`), each sent once to every active webhook subscribed to it:
- publication.done: a publication finished, done or failed (not dry runs);
- asset.approved: an asset became approved;
- asset.expired: the rights check found an asset whose usage rights ended;
- product.complete: a product's completeness for a channel and locale reached 100.

Rights end to end: delivery refuses an expired asset from the moment of expiry (410) whatever
runs; the scheduled rights check then announces it (asset_status_changed, new="expired"), and
after that transaction commits every feed whose listings show the asset gets an incremental
publication, which drops the image (or the product, where the image was required).

Scheduled publications: `schedule_feed` keeps one jobs Schedule per feed, named
`publish-<channel>-<feed>`, running the publishing job (runs.publish_feed) with the feed's
channel and code and the mode; deleting the feed deletes its schedule.
"""

import logging
import threading

from django.db import transaction

log = logging.getLogger("folio.publishing.events")

EVENTS = {
    "publication.done": "a publication finished (done or failed)",
    "asset.approved": "an asset was approved",
    "asset.expired": "an asset's usage rights ended",
    "product.complete": "a product became complete for a channel and locale",
}
PING = "ping"  # sent on request to one webhook, whatever it subscribes to
MODES = ("incremental", "full")
MIN_INTERVAL = 60  # seconds between scheduled publications of one feed, at least
LISTING_LOOKUP_CHUNK = 200  # asset ids per listing query

_local = threading.local()


def after_commit(name: str, items, flush) -> None:
    """Collect `items` over the current transaction and call `flush(all items)` once after it
    commits (at once outside a transaction). A rollback drops them with the callback.

    Per-item callbacks would mean one query or job per asset in a rights check of thousands."""
    connection = transaction.get_connection()
    batch = getattr(_local, name, None)
    pending = (
        batch is not None
        and connection.in_atomic_block
        and any(entry[1] is batch.run for entry in connection.run_on_commit)
    )
    if pending:
        batch.items.extend(items)
        return
    batch = _Batch(name, flush, list(items))
    setattr(_local, name, batch)
    transaction.on_commit(batch.run, robust=True)


class _Batch:
    def __init__(self, name, flush, items):
        self.name, self.flush, self.items = name, flush, items

    def run(self):
        if getattr(_local, self.name, None) is self:
            delattr(_local, self.name)
        self.flush(self.items)


# --- payloads ---------------------------------------------------------------------------------


def publication_data(publication) -> dict:
    return {
        "publication_id": publication.pk,
        "channel": publication.channel.code,
        "feed": publication.feed.code,
        "format": publication.format,
        "mode": publication.mode,
        "status": publication.status,
        "counts": publication.counts or {},
        "reasons": publication.reasons or {},  # skip reason → number of products
        "location": publication.location,
        "files": [f.get("name") for f in publication.files or []],
        "message": publication.message,
        "started_at": publication.started_at,
        "finished_at": publication.finished_at,
        "duration_ms": publication.duration_ms,
    }


def asset_data(asset, old: str | None, new: str) -> dict:
    version = asset.current_version if asset.current_version_id else None
    return {
        "asset_id": asset.pk,
        "title": asset.title,
        "type": asset.type,
        "kind": asset.kind,
        "status": asset.status,
        "old": old,
        "new": new,
        "version": getattr(version, "number", None),
        "sha256": getattr(version, "blob_id", None),
        "valid_from": asset.valid_from,
        "expires_at": asset.expires_at,
    }


# --- receivers ----------------------------------------------------------------------------------


def on_publication_finished(sender, publication=None, **kwargs):
    from folio.publishing import webhooks

    if publication is None or publication.dry_run:
        return
    webhooks.emit("publication.done", lambda: publication_data(publication))


def on_asset_status_changed(sender, asset=None, old=None, new=None, **kwargs):
    from folio.publishing import webhooks

    if asset is None:
        return
    if new == "approved" and old != "approved":
        webhooks.emit("asset.approved", lambda: asset_data(asset, old, new))
    elif new == "expired":
        webhooks.emit("asset.expired", lambda: asset_data(asset, old, new))
        after_commit("expired-assets", [asset.pk], republish_for_assets)


def on_completeness_reached(sender, reached=(), products=None, **kwargs):
    from folio.publishing import webhooks

    products = products or {}
    webhooks.emit_many(
        "product.complete",
        [
            {
                "product_id": product_id,
                "sku": getattr(products.get(product_id), "sku", None),
                "channel": channel,
                "locale": locale,
                "completeness": 100,
            }
            for product_id, channel, locale in reached
        ],
    )


def republish_for_assets(asset_ids) -> list:
    """Start an incremental publication of every enabled feed whose listings show one of
    these assets. Returns the publications started."""
    from folio.errors import Conflict
    from folio.publishing import runs
    from folio.publishing.models import Feed, Listing

    keys = sorted({str(a) for a in asset_ids})
    feed_ids: set[int] = set()
    for start in range(0, len(keys), LISTING_LOOKUP_CHUNK):
        chunk = keys[start : start + LISTING_LOOKUP_CHUNK]
        feed_ids.update(
            Listing.objects.filter(asset_versions__has_any_keys=chunk)
            .values_list("feed_id", flat=True)
            .distinct()
        )
    started = []
    for feed in Feed.objects.select_related("channel").filter(pk__in=feed_ids, enabled=True):
        try:
            with transaction.atomic():
                started.append(runs.start_publication(feed, mode="incremental"))
        except Conflict as exc:
            # A run is waiting or going: one that starts after the expiry leaves the asset
            # out itself; one that began before keeps it until the feed's next publication.
            log.info("feed %s: no publication started for expired assets: %s", feed, exc.message)
            continue
        log.info(
            "feed %s: incremental publication %s started: rights of an asset it shows ended",
            feed,
            started[-1].pk,
        )
    return started


def on_feed_deleted(sender, instance=None, **kwargs):
    # Before the delete (pre_delete): a channel deleted with its feeds still exists then.
    schedule = feed_schedule(instance)
    if schedule is not None:
        schedule.delete()


def connect() -> None:
    from django.db.models.signals import post_delete, post_save, pre_delete

    from folio.assets.signals import asset_status_changed
    from folio.catalog import signals as catalog_signals
    from folio.publishing import webhooks
    from folio.publishing.models import Feed, Webhook
    from folio.publishing.signals import publication_finished

    publication_finished.connect(on_publication_finished, dispatch_uid="publishing.events.pub")
    asset_status_changed.connect(on_asset_status_changed, dispatch_uid="publishing.events.asset")
    catalog_signals.completeness_reached.connect(
        on_completeness_reached, dispatch_uid="publishing.events.complete"
    )
    if _watch_completeness not in catalog_signals.COMPLETENESS_WATCHERS:
        catalog_signals.COMPLETENESS_WATCHERS.append(_watch_completeness)
    pre_delete.connect(on_feed_deleted, sender=Feed, dispatch_uid="publishing.events.feed_del")
    for signal in (post_save, post_delete):
        signal.connect(
            webhooks.forget_subscriptions,
            sender=Webhook,
            dispatch_uid=f"publishing.events.webhook_{signal is post_save}",
        )


def _watch_completeness() -> bool:
    from folio.publishing import webhooks

    return webhooks.wants("product.complete")


# --- scheduled publications -----------------------------------------------------------------


def _publish_job_name() -> str:
    from folio.publishing.runs import publish_feed

    return publish_feed.job_name


def schedule_name(feed) -> str:
    name = f"publish-{feed.channel.code}-{feed.code}"
    return name if len(name) <= 100 else f"{name[:90]}-{feed.pk}"


def feed_schedule(feed):
    """The feed's schedule, or None."""
    from folio.jobs.models import Schedule

    return (
        Schedule.objects.filter(
            job=_publish_job_name(), params__channel=feed.channel.code, params__feed=feed.code
        )
        .order_by("pk")
        .first()
    )


def schedule_data(schedule) -> dict:
    return {
        "name": schedule.name,
        "every_seconds": schedule.every_seconds,
        "cron": schedule.cron,
        "mode": (schedule.params or {}).get("mode", "incremental"),
        "enabled": schedule.enabled,
        "next_run_at": schedule.next_run_at,
        "last_run_at": schedule.last_run_at,
        "version": schedule.version,
    }


def _check_timing(feed, every_seconds, cron, mode) -> tuple[int | None, str]:
    from cronsim import CronSim, CronSimError
    from django.utils import timezone

    from folio.errors import InvalidInput

    subject = f"schedule of feed {feed.channel.code}/{feed.code}"

    def bad(field, reason, **where):
        return InvalidInput(f"{subject}: {field}: {reason}", details={"field": field, **where})

    if mode not in MODES:
        raise bad("mode", f"{mode!r} is not one of {', '.join(MODES)}", value=mode)
    cron = (cron or "").strip()
    if bool(every_seconds) == bool(cron):
        raise bad("every_seconds/cron", "give either every_seconds or cron (not both)")
    if every_seconds is not None and every_seconds != 0:
        if isinstance(every_seconds, bool) or not isinstance(every_seconds, int):
            raise bad("every_seconds", "a whole number of seconds", value=every_seconds)
        if every_seconds < MIN_INTERVAL:
            raise bad("every_seconds", f"at least {MIN_INTERVAL} seconds", value=every_seconds)
    if cron:
        try:
            CronSim(cron, timezone.now())
        except CronSimError as exc:
            raise bad(
                "cron", f"{cron!r} is not a 5-field cron expression (UTC): {exc}", value=cron
            ) from None
    return (every_seconds or None), cron


@transaction.atomic
def schedule_feed(
    feed,
    every_seconds: int | None = None,
    cron: str | None = None,
    mode: str = "incremental",
    *,
    enabled: bool = True,
    expected_version: int | None = None,
    user=None,
):
    """Publish `feed` every `every_seconds` or on `cron` (UTC), creating or changing its
    schedule. Returns the Schedule."""
    from django.utils import timezone

    from folio.accounts import audit
    from folio.jobs.models import Schedule
    from folio.jobs.services import next_run, schedule_snapshot
    from folio.publishing.webhooks import _require
    from folio.versioning import save_versioned

    _require(user, "publishing.change_feed")
    every_seconds, cron = _check_timing(feed, every_seconds, cron, mode)
    subject = f"feed {feed.channel.code}/{feed.code}"
    params = {"channel": feed.channel.code, "feed": feed.code, "mode": mode}
    schedule = feed_schedule(feed)
    if schedule is None:
        name = schedule_name(feed)
        if Schedule.objects.filter(name=name).exists():
            name = f"{name[:90]}-{feed.pk}"
        schedule = Schedule(
            name=name,
            job=_publish_job_name(),
            params=params,
            every_seconds=every_seconds,
            cron=cron,
            enabled=enabled,
            description=f"Publish {subject} ({mode})",
        )
        schedule.next_run_at = next_run(schedule, timezone.now())
        schedule.save()
        audit.record(
            "feed.schedule",
            schedule,
            summary=f"{subject}: scheduled",
            changes=schedule_snapshot(schedule),
        )
        return schedule
    before = schedule_snapshot(schedule)
    schedule.every_seconds, schedule.cron, schedule.params = every_seconds, cron, params
    schedule.enabled = enabled
    schedule.description = f"Publish {subject} ({mode})"
    schedule.next_run_at = next_run(schedule, timezone.now())
    save_versioned(
        schedule,
        expected_version,
        ["every_seconds", "cron", "params", "enabled", "description", "next_run_at"],
        snapshot=schedule_snapshot,
    )
    after = schedule_snapshot(schedule)
    audit.record(
        "feed.schedule",
        schedule,
        summary=f"{subject}: schedule changed",
        changes={k: [before[k], after[k]] for k in after if before[k] != after[k]},
    )
    return schedule


@transaction.atomic
def unschedule_feed(feed, *, user=None, expected_version: int | None = None) -> bool:
    """Stop publishing `feed` on a schedule; False when it had none. With `expected_version`,
    a schedule changed since is kept and StaleWrite raised."""
    from folio.accounts import audit
    from folio.jobs.models import Schedule
    from folio.jobs.services import schedule_snapshot
    from folio.publishing.webhooks import _require
    from folio.versioning import check_version

    _require(user, "publishing.change_feed")
    schedule = feed_schedule(feed)
    if schedule is None:
        return False
    if expected_version is not None:
        schedule = Schedule.objects.select_for_update().get(pk=schedule.pk)
        check_version(
            schedule,
            expected_version,
            f"the schedule of feed {feed.channel.code}/{feed.code}",
            schedule_snapshot,
        )
    audit.record(
        "feed.unschedule",
        schedule,
        summary=f"feed {feed.channel.code}/{feed.code}: schedule removed",
        changes=schedule_snapshot(schedule),
    )
    schedule.delete()
    return True
