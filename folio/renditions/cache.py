"""The rendition cache: one rendition per (source bytes, effective spec).

`rendition_for` answers at once with what exists — a ready or failed rendition, or a pending
one whose job it has just started — and never renders: a page view or a delivery request
only enqueues. Identical bytes under two assets share their renditions, and a new version
or a changed preset is a different key, so nothing is ever invalidated in place.
"""

import math

from django.db import IntegrityError, transaction

from folio.assets.models import Asset, AssetVersion, Blob
from folio.errors import InvalidInput, NotFound
from folio.monitoring.metrics import RENDITION_CACHE
from folio.renditions import presets as preset_service
from folio.renditions.models import Preset, Rendition

# Renditions per render job: small enough that several workers share a batch, large enough
# that the job machinery (a Job row, a task row, claiming) is a small part of each job.
MAX_PER_JOB = 8
MIN_JOBS = 8  # a batch is split into at least this many jobs when it has enough renditions


def source_of(item) -> tuple[str, str]:
    """(sha256, mime) of the bytes `item` stands for: an Asset (its current version), an
    AssetVersion, a Blob, or an asset id."""
    if isinstance(item, int) and not isinstance(item, bool):
        asset = Asset.objects.select_related("current_version").filter(pk=item).first()
        if asset is None:
            raise NotFound(f"no asset {item}", details={"asset_id": item})
        item = asset
    if isinstance(item, Asset):
        if item.current_version is None:
            raise InvalidInput(f"asset {item.pk} has no file", details={"asset_id": item.pk})
        item = item.current_version
    if isinstance(item, AssetVersion):
        return item.blob_id, item.mime
    if isinstance(item, Blob):
        return item.sha256, item.mime
    raise TypeError(f"cannot render {type(item).__name__}")


def key(sha256: str, preset: Preset, locale: str | None = None) -> tuple[str, dict, str]:
    """(spec hash, effective spec, applied locale) of `preset` for `locale`."""
    spec = preset_service.effective_spec(preset, locale)
    return preset_service.spec_hash(spec), spec, preset_service.applied_locale(preset, locale)


def lookup(item, preset, *, locale: str | None = None) -> Rendition | None:
    """The rendition for this source and preset if there is one (no side effect)."""
    preset = preset_service.get_preset(preset)
    sha, _ = source_of(item)
    spec_hash, _, _ = key(sha, preset, locale)
    return Rendition.objects.filter(source_sha256=sha, spec_hash=spec_hash).first()


def rendition_for(item, preset, *, locale: str | None = None, user=None) -> Rendition:
    """The rendition of `item` (asset, version, blob) through `preset` for `locale`: the
    existing row whatever its status, else a new pending row whose render job is started
    once the surrounding transaction commits."""
    preset = preset_service.get_preset(preset)
    sha, _ = source_of(item)
    spec_hash, spec, applied = key(sha, preset, locale)
    existing = Rendition.objects.filter(source_sha256=sha, spec_hash=spec_hash).first()
    if existing is not None:
        RENDITION_CACHE.labels("hit").inc()
        return existing
    RENDITION_CACHE.labels("miss").inc()
    try:
        with transaction.atomic():
            row = Rendition.objects.create(
                source_sha256=sha,
                spec_hash=spec_hash,
                preset=preset,
                preset_version=preset.version,
                locale=applied,
                spec=spec,
            )
            start_render_jobs([row.pk], user=user)
    except IntegrityError:  # another request created it a moment ago; its job renders it
        return Rendition.objects.get(source_sha256=sha, spec_hash=spec_hash)
    return row


def _versions(items) -> list[AssetVersion]:
    """Current versions of asset ids / assets, and versions as given."""
    versions, asset_ids = [], []
    for item in items:
        if isinstance(item, AssetVersion):
            versions.append(item)
        elif isinstance(item, Asset):
            asset_ids.append(item.pk)
        elif isinstance(item, int) and not isinstance(item, bool):
            asset_ids.append(item)
        else:
            raise TypeError(f"cannot render {type(item).__name__}")
    if asset_ids:
        found = dict(Asset.objects.filter(pk__in=asset_ids).values_list("pk", "current_version_id"))
        missing = [a for a in asset_ids if a not in found]
        if missing:
            raise NotFound(f"no asset {missing[0]}", details={"asset_ids": missing})
        versions.extend(
            AssetVersion.objects.filter(pk__in=[v for v in found.values() if v is not None])
        )
    return versions


def ensure_renditions(
    items, presets, *, locale: str | None = None, user=None
) -> tuple[list[Rendition], list]:
    """Make sure every (source, preset) pair has a rendition: one query finds the existing
    ones, one insert adds the missing ones, and they are rendered by jobs of at most
    MAX_PER_JOB each (so several workers share the batch). Returns (renditions, jobs)."""
    preset_rows = [preset_service.get_preset(p) for p in presets]
    sources = {v.blob_id for v in _versions(items)}
    wanted: dict[tuple[str, str], Rendition] = {}
    for preset in preset_rows:
        spec = preset_service.effective_spec(preset, locale)
        spec_hash = preset_service.spec_hash(spec)
        applied = preset_service.applied_locale(preset, locale)
        for sha in sources:
            wanted[(sha, spec_hash)] = Rendition(
                source_sha256=sha,
                spec_hash=spec_hash,
                preset=preset,
                preset_version=preset.version,
                locale=applied,
                spec=spec,
            )
    return _create_and_start(wanted, user=user)


def _create_and_start(wanted: dict, *, user=None) -> tuple[list[Rendition], list]:
    if not wanted:
        return [], []
    hashes = {h for _, h in wanted}
    shas = {s for s, _ in wanted}

    def existing() -> dict:
        return {
            (r.source_sha256, r.spec_hash): r
            for r in Rendition.objects.filter(source_sha256__in=shas, spec_hash__in=hashes)
            if (r.source_sha256, r.spec_hash) in wanted
        }

    before = existing()
    with transaction.atomic():
        new = [r for k, r in wanted.items() if k not in before]
        Rendition.objects.bulk_create(new, ignore_conflicts=True)
        after = existing()
        # Rows this call inserted (not someone else's in the meantime): still pending and
        # absent before. A concurrent caller's rows have their own jobs.
        created = [r.pk for k, r in after.items() if k not in before]
        jobs = start_render_jobs(sorted(created), user=user)
    return list(after.values()), jobs


def chunks(ids: list[int]) -> list[list[int]]:
    if not ids:
        return []
    size = max(1, min(MAX_PER_JOB, math.ceil(len(ids) / MIN_JOBS)))
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def start_render_jobs(ids: list[int], *, user=None) -> list:
    from folio.renditions.jobs import render_renditions

    return [render_renditions_job(render_renditions, chunk, user=user) for chunk in chunks(ids)]


def render_renditions_job(func, chunk: list[int], *, user=None):
    from folio.jobs.services import start_job

    label = "Render rendition" if len(chunk) == 1 else f"Render {len(chunk)} renditions"
    return start_job(func, label=label, user=user, rendition_ids=chunk)


def rerender(rendition: Rendition, *, user=None):
    """Render a failed rendition again (after the cause was fixed)."""
    with transaction.atomic():
        Rendition.objects.filter(pk=rendition.pk).update(
            status=Rendition.Status.PENDING, error="", compliance={}, needs_review=False
        )
        jobs = start_render_jobs([rendition.pk], user=user)
    rendition.refresh_from_db()
    return jobs[0]
