"""The catalog's background jobs: completeness recomputation after structure changes (bulk
edit lives in folio.catalog.bulk_edit).

A structure change (a family requirement, a channel's locales or currencies, an attribute's
available locales) can change the completeness of many products. Recomputing them inside the
structure write would make that write as slow as the catalog is large, so the receiver below
only marks the affected rows stale, in the writer's transaction, and leaves the work to one
background job. Until the job has passed, lists and the API show the old figures flagged as
stale rather than figures that are silently wrong.
"""

import logging

from django.db import OperationalError, transaction
from django.db.models import Exists, OuterRef, Q
from django.dispatch import receiver

from folio import faults
from folio.catalog import services
from folio.catalog import values as v
from folio.catalog.models import Channel, Completeness, FamilyRequirement, Product
from folio.catalog.signals import structure_changed
from folio.jobs.models import Job
from folio.jobs.services import JobContext, job, start_job

log = logging.getLogger("folio.catalog")
BATCH = services.BATCH
LOCK_RETRIES = 3


def _scope(family_ids, channel_ids) -> dict:
    return {
        "family_ids": sorted(set(family_ids)) if family_ids is not None else None,
        "channel_ids": sorted(set(channel_ids)) if channel_ids is not None else None,
    }


def _channel_locales(channel_ids) -> dict[int, list[int]]:
    through = Channel.locales.through
    existing = Channel.objects.filter(pk__in=channel_ids).values_list("pk", flat=True)
    out: dict[int, list[int]] = {c: [] for c in existing}
    for channel_id, locale_id in through.objects.filter(channel_id__in=list(out)).values_list(
        "channel_id", "locale_id"
    ):
        out[channel_id].append(locale_id)
    return out


def _stale_rows(scope: dict) -> Q | None:
    """The completeness rows a structure change may have made wrong; None: every row."""
    family_ids, channel_ids = scope["family_ids"], scope["channel_ids"]
    if family_ids is None and channel_ids is None:
        return None
    if family_ids is not None:
        rows = Q(product__family_id__in=family_ids)
        return rows & Q(channel_id__in=channel_ids) if channel_ids is not None else rows
    # A channel change alone touches the products whose family requires something in the
    # channel now, and those that required something before: a removed last requirement
    # leaves no FamilyRequirement to find them by, but their rows still say required > 0.
    # Rows of locales the channel dropped are wrong for every product.
    requiring = FamilyRequirement.objects.filter(channel_id__in=channel_ids).values("family_id")
    rows = Q()
    for channel_id, locale_ids in _channel_locales(channel_ids).items():
        rows |= Q(channel_id=channel_id) & (
            Q(required__gt=0) | Q(product__family_id__in=requiring) | ~Q(locale_id__in=locale_ids)
        )
    return rows


def _products(scope: dict) -> Q:
    """The products whose completeness rows a job with this scope rewrites."""
    family_ids, channel_ids = scope["family_ids"], scope["channel_ids"]
    if family_ids is None and channel_ids is None:
        return Q()
    if family_ids is not None:
        return Q(family_id__in=family_ids)
    wanted = Q(
        Exists(
            Completeness.objects.filter(
                product_id=OuterRef("pk"), channel_id__in=channel_ids, stale=True
            )
        )
    )
    # A locale the channel gained has no rows yet: every product lacking one needs it.
    for channel_id, locale_ids in _channel_locales(channel_ids).items():
        for locale_id in locale_ids:
            wanted |= ~Exists(
                Completeness.objects.filter(
                    product_id=OuterRef("pk"), channel_id=channel_id, locale_id=locale_id
                )
            )
    return wanted


@receiver(structure_changed, dispatch_uid="catalog.completeness_after_structure_change")
def completeness_after_structure_change(sender, family_ids=None, channel_ids=None, **kwargs):
    if family_ids == [] or channel_ids == []:
        return  # an empty list names nothing (None would mean every one)
    scope = _scope(family_ids, channel_ids)
    rows = _stale_rows(scope)
    stale = Completeness.objects.filter(stale=False)
    (stale if rows is None else stale.filter(rows)).update(stale=True)
    # Several changes in one transaction (or while a job still waits for a worker) share one
    # job: it has not read its parameters yet, so widening them is as good as a second job.
    # The row lock makes a worker that is claiming the job wait until this transaction ends.
    with transaction.atomic():
        pending = (
            Job.objects.select_for_update()
            .filter(kind=recompute_completeness.job_name, status=Job.Status.QUEUED)
            .order_by("created_at")
            .first()
        )
        if pending is not None:
            scopes = pending.params.get("scopes", [])
            if scope not in scopes:
                Job.objects.filter(pk=pending.pk).update(params={"scopes": [*scopes, scope]})
            return
        start_job(recompute_completeness, scopes=[scope])


@job("Recompute completeness after a structure change", max_attempts=3)
def recompute_completeness(ctx: JobContext, scopes: list[dict]) -> dict:
    """Rewrite the completeness rows of every product in `scopes`, 1,000 at a time.

    Safe to run again from the start: each batch replaces its products' rows whole, so a
    retried run only repeats work.
    """
    structure = v.Structure.load()
    if any(s["family_ids"] is None and s["channel_ids"] is None for s in scopes):
        selection = Q()
    else:
        selection = Q(pk__in=[])
        for s in scopes:
            selection |= _products(s)
    _drop_dropped_locales(structure, scopes)
    products = Product.objects.filter(selection).order_by("pk")
    ctx.set_total(products.count())
    done, last = 0, 0
    while True:
        # Keyset over the id: the batches already written drop out of a "has stale rows"
        # selection, so an offset would skip products.
        ids = list(products.filter(pk__gt=last).values_list("pk", flat=True)[:BATCH])
        if not ids:
            break
        _recompute_batch(ids, structure)
        faults.point("completeness.batch_committed")  # crash tests: the retry redoes it
        last = ids[-1]
        done += len(ids)
        ctx.advance(len(ids))
    ctx.flush(force=True)
    return {"recomputed": done}


def _drop_dropped_locales(structure: v.Structure, scopes: list[dict]) -> None:
    """Rows of a locale a channel no longer has are wrong for every product, whatever its
    family; one DELETE per channel in scope removes them."""
    everything = any(s["family_ids"] is None and s["channel_ids"] is None for s in scopes)
    channel_ids = {c for s in scopes if s["family_ids"] is None for c in (s["channel_ids"] or ())}
    for channel in structure.channels.values():
        if everything or channel["id"] in channel_ids:
            Completeness.objects.filter(channel_id=channel["id"]).exclude(
                locale_id__in=[structure.locale_ids[code] for code in channel["locales"]]
            ).delete()


def _recompute_batch(ids: list[int], structure: v.Structure) -> None:
    for attempt in range(1, LOCK_RETRIES + 1):
        try:
            with transaction.atomic():
                # Locking the product rows makes a concurrent product write (which rewrites
                # the same completeness rows) wait for this batch instead of colliding on the
                # unique (product, channel, locale).
                batch = [
                    services.Prepared(product=p, created=False, changes=[])
                    for p in Product.objects.select_for_update(of=("self",))
                    .select_related("parent__parent")
                    .filter(pk__in=ids)
                    .order_by("pk")
                ]
                docs = services.resolve_batch(batch)
                services.write_completeness(batch, docs, structure)
            return
        except OperationalError:  # a deadlock with a concurrent writer: PostgreSQL chose us
            if attempt == LOCK_RETRIES:
                raise
            log.warning("completeness batch deadlocked; retrying (%s)", attempt)
