"""One publication of a feed: select, compare, resolve, write, switch in, record.

Full mode resolves every selected product in every locale of the feed. Incremental mode
compares each product's signature (resolve.signatures: a hash of every input of its listing)
with the Listing the destination holds, resolves only the new and changed ones and reuses
the stored fragment of the others; a listing whose product is gone, no longer selected, or
now skipped (disabled, incomplete, an image whose rights ended…) is removed. Full-feed formats
(Google) get the whole file again, rebuilt from new and reused fragments; delta formats
(Amazon) get only the changes and removals, except on their first run.

Nothing a reader or the next run relies on changes before the end: the files are built
aside and switched in by the destination at once, and only then are the listings, the
published items and the publication recorded — in one transaction, with the switch undone
if that fails. A failed run leaves the previous release and listings exactly as they were.
A dry run computes everything, the report and the diff included, and writes no file and no
listing.

Skipped products have no listing to compare with; the last run's verdicts are kept beside
the feed's files (skipped-<locale>.json: signature and reasons) so that an incremental run
reports an unchanged skipped product again without resolving it. Formats that write one
file for every locale (per_locale False) get the entries of all locales in SKU order.
"""

import dataclasses
import hashlib
import heapq
import json
import logging
import os
import time
from collections import Counter
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from folio import faults
from folio.accounts import audit
from folio.assets.models import Blob
from folio.catalog.models import Product
from folio.errors import Conflict, InvalidInput
from folio.jobs.services import JobContext, job, start_job
from folio.monitoring.metrics import PUBLICATIONS
from folio.publishing import changes, destinations, resolve, selection, signals
from folio.publishing.formats import get_format
from folio.publishing.formats.base import Change, Context, Entry
from folio.publishing.models import Feed, Listing, Publication, PublishedItem

log = logging.getLogger("folio.publishing")

WRITE_BATCH = 1000


# --- entry points ------------------------------------------------------------------------------


def start_publication(
    feed: Feed,
    *,
    mode: str = "incremental",
    dry_run: bool = False,
    selection: dict | None = None,
    user=None,
) -> Publication:
    """A pending publication and the background job that runs it (enqueued on commit)."""
    with transaction.atomic():
        publication = _create(feed, mode=mode, dry_run=dry_run, selection=selection, user=user)
        row = start_job(
            publish_feed,
            label=f"Publish {feed.channel.code}/{feed.code}",
            user=user,
            publication_id=publication.pk,
        )
        publication.job = row
        publication.save(update_fields=["job"])
    return publication


def publish(
    feed: Feed,
    *,
    mode: str = "incremental",
    dry_run: bool = False,
    selection: dict | None = None,
    user=None,
) -> Publication:
    """Create and run a publication in this process (tests, scripts, the benchmark)."""
    publication = _create(feed, mode=mode, dry_run=dry_run, selection=selection, user=user)
    return run_publication(publication)


@job("Publish a feed", max_attempts=1, schedulable=True)
def publish_feed(
    ctx: JobContext,
    publication_id: int | None = None,
    channel: str | None = None,
    feed: str | None = None,
    mode: str = "incremental",
    dry_run: bool = False,
) -> dict:
    """Run a publication started by start_publication, or (from a schedule, with channel
    and feed codes) start and run one. Not retried: a run is cheap to start again, and a
    half-finished one must not be taken up by another worker."""
    if publication_id is None:
        found = (
            Feed.objects.select_related("channel").filter(channel__code=channel, code=feed).first()
        )
        if found is None:
            raise InvalidInput(f"no feed {feed!r} on channel {channel!r}")
        publication = _create(
            found,
            mode=mode,
            dry_run=dry_run,
            selection=None,
            user=ctx.job.created_by,
            job_row=ctx.job,
        )
    else:
        publication = Publication.objects.get(pk=publication_id)
    run_publication(publication, ctx)
    if publication.status == Publication.Status.FAILED:
        raise RuntimeError(publication.message)
    return {
        "publication": publication.pk,
        "status": publication.status,
        "counts": publication.counts,
        "reasons": publication.reasons,
    }


def _create(feed: Feed, *, mode, dry_run, selection, user, job_row=None) -> Publication:
    # Every way of starting one (API, web, `folio publish --as-user`, a job created by a user)
    # comes through here. No user is the system: automatic publishing on change or a schedule.
    if getattr(user, "pk", None):
        from folio.accounts.services import require

        require(user, "publishing.run_publication")
    if mode not in Publication.Mode.values:
        raise InvalidInput(
            f"mode {mode!r} is not one of {', '.join(Publication.Mode.values)}",
            details={"field": "mode", "value": mode},
        )
    if not feed.enabled:
        raise Conflict(
            f"feed {feed.channel.code}/{feed.code} is disabled", details={"feed": feed.code}
        )
    if not dry_run:
        _refuse_concurrent(feed)
    publication = Publication.objects.create(
        feed=feed,
        channel=feed.channel,
        format=feed.format,
        mode=mode,
        dry_run=dry_run,
        selection=feed.selection if selection is None else selection,
        created_by=user if getattr(user, "pk", None) else None,
        job=job_row,
    )
    audit.record(
        "publication.start",
        publication,
        summary=f"{'dry run of ' if dry_run else ''}{mode} publication of "
        f"{feed.channel.code}/{feed.code}",
        changes={"mode": mode, "dry_run": dry_run, "selection": publication.selection},
    )
    return publication


def _refuse_concurrent(feed: Feed) -> None:
    """Two runs of one feed would each compare against the same listings; the second waits
    its turn. A run whose job ended without finishing it (a dead worker) does not count."""
    busy = Publication.objects.filter(
        feed=feed,
        dry_run=False,
        status__in=[Publication.Status.PENDING, Publication.Status.RUNNING],
    ).select_related("job")
    for other in busy:
        if other.job is not None and other.job.is_finished:
            from folio.publishing import recovery

            recovery.abandon(other, "the job running it ended before it finished")
            continue
        if other.job is not None:
            raise Conflict(
                f"publication {other.pk} of {feed.channel.code}/{feed.code} is "
                f"{other.status}; wait for it to finish",
                details={"publication": other.pk},
            )


def run_publication(publication: Publication, ctx: JobContext | None = None) -> Publication:
    """Do the work of a pending publication, here and now; the publication comes back done
    or failed (with the reason in `message`), never half-recorded."""
    if publication.status != Publication.Status.PENDING:
        return publication  # run already (a job delivered twice)
    started = time.monotonic()
    publication.status = Publication.Status.RUNNING
    publication.started_at = timezone.now()
    Publication.objects.filter(pk=publication.pk).update(
        status=publication.status, started_at=publication.started_at
    )
    run = None
    try:
        run = _Run(publication, ctx)
        run.execute(started)
    except Exception as exc:  # recorded on the publication; nothing was switched in
        log.warning("publication %s failed", publication.pk, exc_info=True)
        if run is not None:
            run.cleanup()
        _fail(publication, exc, started)
    PUBLICATIONS.labels(publication.feed.format, publication.status).inc()
    if not publication.dry_run:
        signals.publication_finished.send(sender=None, publication=publication)
    return publication


def _fail(publication: Publication, exc: Exception, started: float) -> None:
    message = (
        str(exc)
        if isinstance(exc, destinations.DestinationError)
        else (getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}")
    )
    publication.status = Publication.Status.FAILED
    publication.message = message[:5000]
    publication.finished_at = timezone.now()
    publication.duration_ms = int((time.monotonic() - started) * 1000)
    Publication.objects.filter(pk=publication.pk).update(
        status=publication.status,
        message=publication.message,
        finished_at=publication.finished_at,
        duration_ms=publication.duration_ms,
    )


# --- one run ---------------------------------------------------------------------------------


@dataclasses.dataclass
class _Locale:
    """What a run decided for one locale."""

    locale: str
    ctx: Context
    had_listings: bool = False
    entries: dict[str, Entry] = dataclasses.field(default_factory=dict)  # resolved, kept
    reused: set[str] = dataclasses.field(default_factory=set)  # unchanged, not resolved
    changes: list[Change] = dataclasses.field(default_factory=list)
    items: list[tuple] = dataclasses.field(default_factory=list)  # _ITEM_COLUMNS rows
    upserts: list[tuple] = dataclasses.field(default_factory=list)  # _LISTING_COLUMNS rows
    refresh: list[tuple] = dataclasses.field(default_factory=list)  # (signature, listing id)
    deletes: list[int] = dataclasses.field(default_factory=list)
    counts: Counter = dataclasses.field(default_factory=Counter)
    reasons: Counter = dataclasses.field(default_factory=Counter)
    # skipped products: sku → [product id, signature, reasons, version] (see _Run.skip_memo)
    skip_memo: dict = dataclasses.field(default_factory=dict)


class _Run:
    def __init__(self, publication: Publication, ctx: JobContext | None):
        self.p, self.ctx = publication, ctx
        self.feed = Feed.objects.select_related("channel").get(pk=publication.feed_id)
        self.fmt = get_format(self.feed.format)
        self.at = timezone.now()
        self.full = publication.mode == Publication.Mode.FULL
        self.partial = _partial(publication, self.feed)
        channel_locales = sorted(self.feed.channel.locales.values_list("code", flat=True))
        self.locales = list(self.feed.locales or channel_locales)
        self.destination = destinations.for_feed(self.feed)
        self.staged: Path | None = None
        self.nothing_changed = False
        self.base_files_here = False
        self.base = (
            Publication.objects.filter(
                feed=self.feed, status=Publication.Status.DONE, dry_run=False
            )
            .exclude(pk=publication.pk)
            .order_by("-id")
            .first()
        )

    def execute(self, started: float) -> None:
        self.changes_since = changes.changes_since(self.p.started_at or self.at, self.p.job_id)
        self.structure = resolve.load(self.feed, self.fmt, at=self.at)
        self.skip_memo = self._read_skip_memo()
        # None: every selected product's signature is compared
        self.changed: set[int] | None = None
        if not self.full and self.base is not None and not _partial(self.base, self.feed):
            self.changed = changes.changed_products(
                self.base, self.structure, self.locales, self.at
            )
        self.selection = selection.select(self.feed.channel, self.p.selection)
        if self.ctx is not None:
            self.ctx.set_total(self.selection.count() * len(self.locales))
        self.selected: set[int] = set()
        results = [self._locale(locale) for locale in self.locales]
        if self.p.dry_run:
            self._record(results, files=[], location="", started=started)
            return
        files, location, switched = self._write(results)
        faults.point("publish.switched")  # crash tests: switched in, not yet recorded
        try:
            self._record(results, files=files, location=location, started=started)
        except Exception:
            if switched is not None:
                self.destination.undo(switched)
            raise
        faults.point("publish.recorded")  # crash tests: recorded, old releases not pruned
        if switched is not None:
            try:
                self.destination.finish(switched)
            except Exception:  # old releases stay a little longer; the run is done
                log.warning("pruning old releases of %s failed", self.feed, exc_info=True)
        self._write_skip_memo(results)
        self._push(results)

    def cleanup(self) -> None:
        if self.staged is not None:
            self.destination.discard(self.staged)

    # the skipped products' memo

    def _memo_path(self, locale: str) -> Path:
        return self.destination.image_cache().parent / f"skipped-{locale}.json"

    def _read_skip_memo(self) -> dict[str, dict]:
        """What the last successful run skipped, with the signature it was skipped at: a
        skipped product has no listing to compare with, and re-resolving every one on each
        run would make a catalog with many incomplete products as slow incrementally as in
        full. Only a memo written by the base publication counts."""
        if self.base is None:
            return {}
        memo = {}
        for locale in self.locales:
            try:
                data = json.loads(self._memo_path(locale).read_text())
            except (OSError, ValueError):
                continue
            if data.get("publication") == self.base.pk and data.get("destination") == (
                self.feed.destination or {}
            ):
                memo[locale] = data.get("items") or {}
        # The base's files are where this run would put them: an unchanged run may leave
        # them as they are.
        self.base_files_here = len(memo) == len(self.locales)
        return {} if self.full else memo

    def _write_skip_memo(self, results: list["_Locale"]) -> None:
        for res in results:
            path = self._memo_path(res.locale)
            try:
                if self.partial:  # covers part of the selection: the next run starts afresh
                    path.unlink(missing_ok=True)
                    continue
                path.parent.mkdir(parents=True, exist_ok=True)
                partial = path.with_name(f".{path.name}.{self.p.pk}")
                partial.write_text(
                    json.dumps(
                        {
                            "publication": self.p.pk,
                            "destination": self.feed.destination or {},
                            "items": res.skip_memo,
                        }
                    )
                )
                os.replace(partial, path)
            except OSError:  # a cache: the next run then resolves the skipped ones again
                log.warning("could not keep the skipped products of %s", self.feed, exc_info=True)

    # comparing and resolving

    def _context(self, locale: str, previous=None) -> Context:
        return Context(
            channel=self.feed.channel.code,
            channel_label=self.feed.channel.label(locale),
            feed=self.feed.code,
            locale=locale,
            currency=self.structure.currency,
            options=dict(self.feed.options or {}),
            public_url=self.structure.public_base_url or (settings.PUBLIC_URL or ""),
            publication_id=self.p.pk,
            previous=previous,
            previous_dir=self._previous_dir(),
        )

    def _previous_dir(self) -> Path | None:
        """The folder of the files last switched in, where they are on this machine."""
        if self.base is None or not self.base.location:
            return None
        folder = Path(self.base.location)
        return folder if folder.is_absolute() and folder.is_dir() else None

    def _locale(self, locale: str) -> _Locale:
        res = _Locale(locale=locale, ctx=self._context(locale))
        # sku → (listing id, product id, signature): small rows, fragments stay in the table
        index = {
            sku: (lid, pid, sig)
            for sku, lid, pid, sig in Listing.objects.filter(feed=self.feed, locale=locale)
            .values_list("sku", "id", "product_id", "signature")
            .iterator(chunk_size=5000)
        }
        res.had_listings = bool(index)
        handled: set[str] = set()
        # An incremental run finds a few changed products in each selection batch: they are
        # gathered and resolved in full batches, as the reads of a batch cost the same for 5
        # products as for 500.
        pending: dict[int, tuple[str, int]] = {}
        for ids in self.selection.batches():
            self.selected.update(ids)
            self._batch(res, ids, index, handled, pending)
            if len(pending) >= resolve.BATCH:
                self._resolve(res, pending, index, handled)
                pending = {}
            if self.ctx is not None:
                self.ctx.advance(len(ids))
        if pending:
            self._resolve(res, pending, index, handled)
        for pid, sku in self.selection.outside_tree:
            self.selected.add(pid)
            r = resolve.reason(
                "not_in_category_tree",
                f"{sku} is not in channel {self.feed.channel.code}'s category tree",
                locale=locale,
            )
            listing = index.get(sku)
            prev = _previous(self.feed, locale, [listing[0]]) if listing else {}
            self._skip(res, pid, sku, None, [r], listing, prev.get(sku))
            handled.add(sku)
        gone = []
        for sku, listing in index.items():
            if sku in handled:
                continue
            if self.partial:
                res.reused.add(sku)  # not part of this one-off selection: stays as it is
            else:
                gone.append((sku, listing))
        for start in range(0, len(gone), WRITE_BATCH):
            chunk = gone[start : start + WRITE_BATCH]
            previous = _previous(self.feed, locale, [listing[0] for _, listing in chunk])
            for sku, listing in chunk:
                self._remove(res, sku, listing, [], previous.get(sku, {}))
        return res

    def _batch(
        self, res: _Locale, ids: list[int], index: dict, handled: set[str], pending: dict
    ) -> None:
        """Adds to `pending` the products of `ids` to resolve (all of them in a full run)."""
        rows = {pid: (sku, version) for pid, sku, version in _products(ids)}
        resolve_ids = [pid for pid in ids if pid in rows]
        if not self.full:
            resolve_ids = self._compare(res, resolve_ids, rows, index, handled)
        pending.update((pid, rows[pid]) for pid in resolve_ids)

    def _resolve(self, res: _Locale, rows: dict, index: dict, handled: set[str]) -> None:
        """Resolve the products of `rows` (id → (sku, version)) and record each outcome."""
        s, locale = self.structure, res.locale
        resolve_ids = list(rows)
        items, skipped = resolve.build_items(
            self.feed, self.fmt, resolve_ids, locale, structure=s, at=self.at
        )
        after = {pid: s.signatures.pop(pid) for pid in resolve_ids}  # as things now stand
        previous = _previous(
            self.feed,
            locale,
            [
                index[rows[pid][0]][0]
                for pid in resolve_ids
                if rows[pid][0] in index and index[rows[pid][0]][1] == pid
            ],
        )
        for item in items:
            handled.add(item.sku)
            self._resolved(
                res, item, after[item.product_id], previous.get(item.sku), rows[item.product_id][1]
            )
        by_sku = {rows[pid][0]: pid for pid in resolve_ids}
        for sku, reasons in skipped.items():
            pid = by_sku[sku]
            listing = index.get(sku) if sku in previous else None
            if listing is not None:
                handled.add(sku)  # else a listing of that SKU, if any, was another product's
            self._skip(res, pid, sku, rows[pid][1], reasons, listing, previous.get(sku))
            res.skip_memo[sku] = [pid, after[pid], reasons, rows[pid][1]]

    def _compare(
        self, res: _Locale, ids: list[int], rows: dict, index: dict, handled: set[str]
    ) -> list[int]:
        """Incremental runs: the ids whose inputs changed since they were last published or
        skipped (the others keep their listing, or are reported skipped again as they
        were)."""
        memo = self.skip_memo.get(res.locale, {})
        # Products nothing was written to since the base (publishing.changes) keep the
        # signature stored with their listing or skip verdict; the others get one now.
        touched = ids if self.changed is None else [pid for pid in ids if pid in self.changed]
        sigs = resolve.signatures(
            self.feed, touched, res.locale, at=self.at, structure=self.structure
        )
        changed = []
        for pid in ids:
            sku, version = rows[pid]
            listing = index.get(sku)
            if listing is not None and listing[1] != pid:
                listing = None  # that SKU was another product's: it goes, this one comes
            kept = memo.get(sku, [None, None])
            signature = sigs.get(pid) or (
                listing[2] if listing is not None else kept[1] if kept[0] == pid else None
            )
            if listing is not None and listing[2] == signature:
                res.reused.add(sku)
                handled.add(sku)
            elif listing is None and kept[:2] == [pid, signature]:
                reasons = kept[2]
                self._skip(res, pid, sku, version, reasons, None, None)
                res.skip_memo[sku] = [pid, signature, reasons, version]
            else:  # changed, new here, or its verdict was not kept
                changed.append(pid)
        return changed

    def _resolved(self, res: _Locale, item, signature: str, prev: dict | None, version: int):
        fragment = self.fmt.fragment(item, res.ctx)
        data = self.fmt.data(item)
        renditions = {img.filename: img.sha256 for img in item.images}
        asset_versions = {str(img.asset_id): img.asset_version for img in item.images}
        res.entries[item.sku] = Entry(sku=item.sku, fragment=fragment, data=data, item=item)
        same = prev is not None and (prev["fragment"], prev["data"], prev["renditions"]) == (
            fragment,
            data,
            renditions,
        )
        if same:
            res.counts["unchanged"] += 1
            res.refresh.append((signature, prev["id"]))
            if self.full and not self.fmt.full_feed:
                res.changes.append(Change(sku=item.sku, data=data, previous=None, item=item))
            return
        action = PublishedItem.Action.ADDED if prev is None else PublishedItem.Action.UPDATED
        res.counts[action] += 1
        res.upserts.append(
            (
                self.feed.pk,
                res.locale,
                item.product_id,
                item.sku,
                signature,
                fragment,
                data,
                version,
                asset_versions,
                renditions,
                self.p.pk,
                self.at,
            )
        )
        res.items.append(
            _item(
                self.p,
                item.product_id,
                item.sku,
                res.locale,
                action,
                version=version,
                asset_versions=asset_versions,
                renditions=renditions,
                changes=[] if prev is None else diff(prev, data, renditions),
            )
        )
        res.changes.append(
            Change(
                sku=item.sku,
                data=data,
                previous=None if prev is None or self.full else prev["data"],
                item=item,
            )
        )

    def _skip(self, res: _Locale, pid, sku, version, reasons, listing, prev) -> None:
        for code in {r["code"] for r in reasons}:
            res.reasons[code] += 1
        if listing is not None:
            self._remove(res, sku, listing, reasons, prev or {}, version=version)
            return
        res.counts["skipped"] += 1
        res.items.append(
            _item(
                self.p,
                pid,
                sku,
                res.locale,
                PublishedItem.Action.SKIPPED,
                reasons=reasons,
                version=version,
            )
        )

    def _remove(
        self, res: _Locale, sku: str, listing: tuple, reasons, prev: dict, *, version=None
    ) -> None:
        lid, pid, _sig = listing
        res.counts["removed"] += 1
        res.deletes.append(lid)
        res.items.append(
            _item(
                self.p,
                pid,
                sku,
                res.locale,
                PublishedItem.Action.REMOVED,
                reasons=reasons,
                version=version if version is not None else prev.get("product_version"),
                asset_versions=prev.get("asset_versions") or {},
                renditions=prev.get("renditions") or {},
            )
        )
        res.changes.append(Change(sku=sku, data=None, previous=prev.get("data")))

    # writing

    def _changed(self, results: list[_Locale]) -> bool:
        return any(r.counts["added"] or r.counts["updated"] or r.counts["removed"] for r in results)

    def _write(self, results: list[_Locale]):
        """Build the release aside and switch it in; (files, location, switched)."""
        if not self.full and self.base_files_here and not self._changed(results):
            self.nothing_changed = True  # nothing to send: the current files stand
            return [], self.base.location, None
        self.staged = self.destination.stage(self.p.pk)
        names = []
        groups = [[r] for r in results] if self.fmt.per_locale else [results]
        for group in groups:
            names.extend(self._write_group(group))
        images = {}
        if self.destination.takes_images and self._carries_image_files():
            images = self._images(results)
            destinations.place_images(
                self.destination.image_cache(),
                self.staged / "images",
                {n: (sha, store) for n, (sha, store) in images.items()},
            )
        files = [_describe(self.staged, name) for name in dict.fromkeys(names)]
        faults.point("publish.release_written")  # crash tests: built aside, not switched in
        switched = self.destination.switch(
            self.staged, self.p, {n: sha for n, (sha, _) in images.items()}
        )
        self.staged = None
        return files, switched.location, switched

    def _write_group(self, group: list[_Locale]) -> list[str]:
        first = group[0]
        delta = not self.fmt.full_feed and all(r.had_listings for r in group)
        if delta:
            changes = sorted((c for r in group for c in r.changes), key=lambda c: c.sku)
            previous = {c.sku: {"data": c.previous} for c in changes if c.previous is not None}
            ctx = dataclasses.replace(first.ctx, previous=previous)
            return list(self.fmt.write_delta(self.staged, ctx, changes))
        entries = heapq.merge(*(self._entries(r) for r in group), key=lambda e: e.sku)
        return list(self.fmt.write(self.staged, first.ctx, entries))

    def _entries(self, res: _Locale):
        """Every listing the destination holds after this run, in SKU order: resolved ones
        from memory, reused fragments streamed from the table."""
        new = (res.entries[sku] for sku in sorted(res.entries))
        reused = (
            Entry(sku=sku, fragment=fragment, data=data)
            for sku, fragment, data in Listing.objects.filter(feed=self.feed, locale=res.locale)
            .order_by("sku")
            .values_list("sku", "fragment", "data")
            .iterator(chunk_size=2000)
            if sku in res.reused
        )
        return heapq.merge(new, reused, key=lambda e: e.sku)

    def _carries_image_files(self) -> bool:
        """Whether the release holds the image files: when the feed's image URLs point into
        it (public_base_url), or the format ships files (a format that only names URLs of
        Folio's delivery endpoint says so with image_files = False). Linking 400,000 files
        into every release that nobody reads was most of an incremental run."""
        return bool(self.structure.public_base_url) or getattr(self.fmt, "image_files", True)

    def _images(self, results: list[_Locale]) -> dict[str, tuple[str, str]]:
        """{file name: (sha256, storage name)} of every image the release holds."""
        images: dict[str, tuple[str, str]] = {}
        for res in results:
            for entry in res.entries.values():
                for img in entry.item.images:
                    images[img.filename] = (img.sha256, img.storage_name)
        wanted: dict[str, str] = {}
        for res in results:
            if not res.reused:
                continue
            for sku, renditions in (
                Listing.objects.filter(feed=self.feed, locale=res.locale)
                .values_list("sku", "renditions")
                .iterator(chunk_size=5000)
            ):
                if sku in res.reused:
                    for name, sha in (renditions or {}).items():
                        if name not in images:
                            wanted[name] = sha
        shas = sorted(set(wanted.values()))
        stored = {}
        for start in range(0, len(shas), WRITE_BATCH):
            stored.update(
                Blob.objects.filter(sha256__in=shas[start : start + WRITE_BATCH]).values_list(
                    "sha256", "storage_name"
                )
            )
        for name, sha in wanted.items():
            if sha in stored:
                images[name] = (sha, stored[sha])
        return images

    # recording

    def _record(self, results: list[_Locale], *, files, location, started) -> None:
        counts = Counter()
        reasons = Counter()
        for res in results:
            counts.update(res.counts)
            reasons.update(res.reasons)
            counts["unchanged"] += len(res.reused)
            counts["published"] += len(res.entries) + len(res.reused)
        summary = {
            "selected": len(self.selected),
            **{
                k: counts.get(k, 0)
                for k in ("published", "added", "updated", "unchanged", "removed", "skipped")
            },
        }
        p = self.p
        with transaction.atomic():
            Feed.objects.select_for_update().filter(pk=self.feed.pk).first()
            if not p.dry_run:
                for res in results:
                    _save_listings(res)
            _insert_items([i for res in results for i in res.items])
            p.status = Publication.Status.DONE
            p.counts = summary
            p.reasons = dict(sorted(reasons.items()))
            p.files = files
            p.location = location
            p.base = self.base if not self.full else None
            p.changes_since = self.changes_since
            p.version_key = self.structure.version_key
            p.finished_at = timezone.now()
            p.duration_ms = int((time.monotonic() - started) * 1000)
            if self.nothing_changed:
                p.message = f"nothing changed since publication {self.base.pk}"
            p.save(
                update_fields=[
                    "status",
                    "counts",
                    "reasons",
                    "files",
                    "location",
                    "base",
                    "changes_since",
                    "version_key",
                    "finished_at",
                    "duration_ms",
                    "message",
                ]
            )

    def _push(self, results: list[_Locale]) -> None:
        """Send the changes to the channel's API when the feed has a connector; each SKU's
        answer goes on its published item."""
        if not self.feed.connector:
            return
        try:
            from folio.publishing import connectors
        except ImportError:  # the connectors are optional in a stripped-down install
            return
        for res in results:
            changes = [c for c in res.changes if c.data is not None or c.previous is not None]
            if not changes:
                continue
            try:
                answers = connectors.push(self.feed, self.p, changes, res.ctx) or {}
            except Exception as exc:  # the files are out; say on each item what the API did
                log.warning("push of publication %s failed", self.p.pk, exc_info=True)
                answers = {c.sku: {"status": "error", "message": str(exc)[:500]} for c in changes}
            items = list(
                PublishedItem.objects.filter(
                    publication=self.p, locale=res.locale, sku__in=list(answers)
                )
            )
            for item in items:
                item.remote = answers[item.sku]
            PublishedItem.objects.bulk_update(items, ["remote"], batch_size=WRITE_BATCH)


def _partial(publication: Publication, feed: Feed) -> bool:
    """Whether the publication covered only part of the feed's selection (a one-off)."""
    return bool(publication.selection) and publication.selection != (feed.selection or {})


def _products(ids: list[int]):
    return Product.objects.filter(pk__in=ids).values_list("pk", "sku", "version")


def _previous(feed: Feed, locale: str, listing_ids: list[int]) -> dict[str, dict]:
    if not listing_ids:
        return {}
    return {
        row["sku"]: row
        for row in Listing.objects.filter(pk__in=listing_ids).values(
            "id", "sku", "fragment", "data", "renditions", "asset_versions", "product_version"
        )
    }


# Listings and published items are written as plain rows: at 100,000 products a run, building
# a model instance per row and letting bulk_create prepare every field of it cost more than
# resolving the products. JSON goes through the backend's own adapter, as JSONField does.
_LISTING_COLUMNS = (
    "feed_id",
    "locale",
    "product_id",
    "sku",
    "signature",
    "fragment",
    "data",
    "product_version",
    "asset_versions",
    "renditions",
    "publication_id",
    "updated_at",
)
_LISTING_JSON = (6, 8, 9)
_ITEM_COLUMNS = (
    "publication_id",
    "product_id",
    "sku",
    "locale",
    "action",
    "reasons",
    "product_version",
    "asset_versions",
    "renditions",
    "changes",
    "remote",
)
_ITEM_JSON = (5, 7, 8, 9, 10)


def _item(
    publication,
    product_id,
    sku,
    locale,
    action,
    *,
    reasons=(),
    version=None,
    asset_versions=None,
    renditions=None,
    changes=(),
) -> tuple:
    """A published item's row, in _ITEM_COLUMNS order."""
    return (
        publication.pk,
        product_id,
        sku,
        locale,
        action,
        list(reasons),
        version,
        asset_versions or {},
        renditions or {},
        list(changes),
        {},
    )


def _rows(rows: list[tuple], json_at: tuple[int, ...], datetime_at: tuple[int, ...] = ()):
    adapt_json = connection.ops.adapt_json_value
    adapt_datetime = connection.ops.adapt_datetimefield_value
    # most items carry empty reasons, changes and answers: adapted once, not once a row
    empty = {dict: adapt_json({}, None), list: adapt_json([], None)}
    for row in rows:
        row = list(row)
        for i in json_at:
            value = row[i]
            row[i] = (
                empty[type(value)]
                if not value and type(value) in empty
                else adapt_json(value, None)
            )
        for i in datetime_at:
            row[i] = adapt_datetime(row[i])
        yield row


def _insert_items(rows: list[tuple]) -> None:
    table = PublishedItem._meta.db_table
    sql = (
        f"INSERT INTO {table} ({', '.join(_ITEM_COLUMNS)}) "  # noqa: S608 (constants)
        f"VALUES ({', '.join(['%s'] * len(_ITEM_COLUMNS))})"
    )
    with connection.cursor() as cursor:
        for start in range(0, len(rows), WRITE_BATCH):
            cursor.executemany(sql, _rows(rows[start : start + WRITE_BATCH], _ITEM_JSON))


def _save_listings(res: _Locale) -> None:
    table = Listing._meta.db_table
    updated = [c for c in _LISTING_COLUMNS if c not in ("feed_id", "locale", "sku")]
    sql = (
        f"INSERT INTO {table} ({', '.join(_LISTING_COLUMNS)}) "  # noqa: S608 (constants)
        f"VALUES ({', '.join(['%s'] * len(_LISTING_COLUMNS))}) "
        f"ON CONFLICT (feed_id, locale, sku) DO UPDATE SET "
        + ", ".join(f"{c} = excluded.{c}" for c in updated)
    )
    with connection.cursor() as cursor:
        for start in range(0, len(res.upserts), WRITE_BATCH):
            cursor.executemany(
                sql, _rows(res.upserts[start : start + WRITE_BATCH], _LISTING_JSON, (11,))
            )
        if res.refresh:
            cursor.executemany(
                f"UPDATE {table} SET signature = %s WHERE id = %s",  # noqa: S608
                res.refresh,
            )
    for start in range(0, len(res.deletes), WRITE_BATCH):
        Listing.objects.filter(pk__in=res.deletes[start : start + WRITE_BATCH]).delete()


def diff(prev: dict, data: dict, renditions: dict) -> list[dict]:
    """[{field, old, new}] between what was sent before and now (images as one field)."""
    old = prev.get("data") or {}
    changes = [
        {"field": name, "old": old.get(name), "new": data.get(name)}
        for name in sorted(set(old) | set(data))
        if old.get(name) != data.get(name)
    ]
    if (prev.get("renditions") or {}) != renditions:
        changes.append({"field": "images", "old": prev.get("renditions") or {}, "new": renditions})
    return changes


def _describe(folder: Path, name: str) -> dict:
    path = folder / name
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1024 * 1024), b""):
            digest.update(chunk)
    return {"name": name, "size": path.stat().st_size, "sha256": digest.hexdigest()}
