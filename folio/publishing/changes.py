"""Which products may have changed since a feed's last successful publication.

An incremental run compares each selected product's signature (resolve.signatures) with its
listing, and computing a signature reads the product, its models, links, assets and
renditions. Doing that for every product makes a run over an unchanged catalog cost as much
as reading the whole catalog. Instead the run asks the database which rows were written since
the base publication and computes signatures for the products those rows reach; every other
product keeps its listing (or its skip verdict) as it is.

The rows that stand for a listing's inputs each carry the time of their last write:
products and product models (`updated_at`, also raised when their categories change), the
links of an owner (LinkSet.updated_at, raised by every link write), assets (`updated_at`;
new versions, status and rights are written through save_versioned) and renditions
(`updated_at`, set by every write through their queryset). Rights windows are time itself:
an asset whose `valid_from` or `expires_at` fell between the base and now changes too.

What is not tracked row by row makes the run compare every product, as before: no usable
base, a different structure key (feed, channel, slots, presets, requirements, attributes,
categories, families: resolve._version_key), or completeness recomputed or being recomputed
after a structure change since the base.

"Since the base" starts a little before the base's own start: a write committed after the
base read the catalog may carry an earlier time, either from a short transaction (a request)
or from a long one (an import, a bulk edit, which run as jobs). The base records the earliest
of its start minus MARGIN and the start of every job running then (`changes_since`).
"""

import datetime

from django.db.models import Q

from folio.assets.models import Asset, AssetVersion
from folio.catalog.models import Completeness, Product, ProductModel
from folio.jobs.models import Job
from folio.linking.models import Link, LinkSet
from folio.renditions.models import Rendition

# Longer than any request's transaction may last (the web server's timeout) plus the clock
# difference between machines that write.
MARGIN = datetime.timedelta(minutes=10)
BATCH = 5000


def changes_since(at: datetime.datetime, own_job_id=None) -> datetime.datetime:
    """Where the next incremental run must start looking for changes, for a run that read
    the catalog from `at`."""
    running = Job.objects.filter(status=Job.Status.RUNNING, started_at__isnull=False)
    if own_job_id is not None:
        running = running.exclude(pk=own_job_id)
    earliest = running.order_by("started_at").values_list("started_at", flat=True).first()
    since = at - MARGIN
    return min(since, earliest) if earliest is not None else since


def changed_products(base, structure, locales: list[str], at) -> set[int] | None:
    """Ids of the products whose listing inputs may differ from what `base` saw; None when
    every product must be compared."""
    since = base.changes_since if base is not None else None
    if since is None or base.version_key != structure.version_key:
        return None
    if _completeness_recomputed(base.started_at or since):
        return None
    hashes = sorted({h for locale in locales for h in structure.hashes(locale)})
    changed_sources = Rendition.objects.filter(updated_at__gte=since, spec_hash__in=hashes).values(
        "source_sha256"
    )
    assets = Asset.objects.filter(
        Q(updated_at__gte=since)
        | Q(valid_from__gte=since, valid_from__lte=at)
        | Q(expires_at__gte=since, expires_at__lte=at)
        | Q(
            current_version__in=AssetVersion.objects.filter(blob_id__in=changed_sources).values(
                "pk"
            )
        )
    ).values("pk")
    products: set[int] = set(
        Product.objects.filter(updated_at__gte=since).values_list("pk", flat=True)
    )
    models: set[int] = set(
        ProductModel.objects.filter(updated_at__gte=since).values_list("pk", flat=True)
    )
    owners = LinkSet.objects.filter(updated_at__gte=since).values_list(
        "product_id", "product_model_id"
    )
    linked = Link.objects.filter(asset__in=assets).values_list("product_id", "product_model_id")
    for product_id, model_id in [*owners, *linked.distinct()]:
        if product_id:
            products.add(product_id)
        else:
            models.add(model_id)
    # a root model's change reaches its sub-models' variants too
    models |= _ids(ProductModel.objects, "parent_id", models)
    products |= _ids(Product.objects, "parent_id", models)
    return products


def _ids(manager, column: str, values: set[int]) -> set[int]:
    """Primary keys of the rows whose `column` is one of `values`, in batches small enough
    for every database's parameter limit."""
    ordered, out = sorted(values), set()
    for start in range(0, len(ordered), BATCH):
        chunk = ordered[start : start + BATCH]
        out.update(manager.filter(**{f"{column}__in": chunk}).values_list("pk", flat=True))
    return out


def _completeness_recomputed(base_started) -> bool:
    """Whether completeness rows were rewritten after a structure change that the base may
    not have seen: a recomputation that finished before the base started was committed
    before it read anything."""
    from folio.catalog.jobs import recompute_completeness

    recomputing = Job.objects.filter(kind=recompute_completeness.job_name).filter(
        Q(status__in=[Job.Status.QUEUED, Job.Status.RUNNING]) | Q(finished_at__gte=base_started)
    )
    return recomputing.exists() or Completeness.objects.filter(stale=True).exists()
