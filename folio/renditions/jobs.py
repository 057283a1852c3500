"""The background side of renditions: render, store, check, record.

A render job takes a handful of pending renditions (see cache.chunks) and for each: renders
the source through the engine (operations.render for images, video.render for video specs),
stores the output as a content-addressed Blob, checks it against the preset's channel rules
and records the outcome. Nothing is ever "ready and passed" by default: the compliance
result is stored as checked, and a cut-out the background remover was unsure of is marked
needs_review so that no channel gets it before a person looked.

A failure (unreadable source, an engine error, the time limit) is recorded on the rendition
(status failed, error) and the job goes on with the next one.
"""

import contextlib
import logging
import signal
import threading
import time
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Subquery
from django.dispatch import Signal, receiver
from django.utils import timezone

from folio.assets.models import Asset, AssetVersion, Blob
from folio.jobs.services import JobContext, job, start_job
from folio.renditions import presets as preset_service
from folio.renditions.models import Preset, Rendition

log = logging.getLogger("folio.renditions")

BATCH = 500

# Sent when renditions became ready or failed (render_one, a rejected review) or their
# compliance was checked again: sources = their source sha256s, preset_ids = their presets.
# Media completeness (folio.linking.completeness) listens: a requirement may need them.
rendition_changed = Signal()


def timeout_seconds() -> float:
    return float(getattr(settings, "RENDITION_TIMEOUT", 120))


def review_threshold() -> float:
    """Background removal below this confidence goes to a person before any channel."""
    return float(getattr(settings, "RENDITION_REVIEW_CONFIDENCE", 0.8))


class RenderTimeout(Exception):
    pass


@contextlib.contextmanager
def time_limit(seconds: float):
    """Interrupt the render once `seconds` have passed (SIGALRM, in a worker's main thread;
    elsewhere the duration is checked afterwards). A libvips call already running in C
    finishes its current operation first."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(
        signal, "setitimer"
    ):
        yield
        return

    def on_alarm(signum, frame):
        # Raised inside a libvips callback the exception is swallowed by cffi: ask again
        # shortly, until it lands in Python code (the duration is also checked afterwards).
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        raise RenderTimeout(f"rendering took longer than {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def is_video_spec(spec: dict) -> bool:
    return "ops" not in spec


def _engine_render(path: str, spec: dict, deadline: float):
    if is_video_spec(spec):
        from folio.renditions import video

        return video.render(path, spec, deadline=deadline)
    from folio.renditions import operations

    return operations.render(path, spec)


def _check(path, rules: dict, fmt: str, spec: dict) -> dict:
    if is_video_spec(spec):
        from folio.renditions import video

        return video.check(path, rules, format=fmt)
    from folio.renditions import compliance

    return compliance.check(path, rules, format=fmt)


def render_one(rendition: Rendition) -> Rendition:
    """Render one pending rendition and record the outcome on its row."""
    from folio.assets import storage
    from folio.assets.previews import local_copy

    started = time.monotonic()
    preset = rendition.preset
    rules = (preset.rules if preset else {}) or {}
    result_path = None
    try:
        blob = Blob.objects.filter(sha256=rendition.source_sha256).first()
        if blob is None:
            raise FileNotFoundError("the source file is no longer stored")
        seconds = timeout_seconds()
        with local_copy(blob.storage_name) as path, time_limit(seconds):
            result = _engine_render(path, rendition.spec, time.monotonic() + seconds)
            result_path = Path(result.path)
            if time.monotonic() - started > seconds:
                raise RenderTimeout(f"rendering took longer than {seconds:g} s")
            checked = _check(result_path, rules, result.format, rendition.spec)
        ext = preset_service.EXTENSIONS.get(result.format, result.format)
        with result_path.open("rb") as f:
            out_blob, _ = storage.store(f, filename=f"rendition.{ext}")
        confidence = getattr(result, "confidence", None)
        needs_review = confidence is not None and confidence < review_threshold()
        fields = {
            "status": Rendition.Status.READY,
            "blob": out_blob,
            "format": result.format,
            "width": result.width,
            "height": result.height,
            "size": out_blob.size,
            "compliance": checked,
            "confidence": confidence,
            "needs_review": needs_review,
            "error": "",
        }
    except Exception as exc:  # recorded on the rendition; the batch goes on
        log.info("rendition %s failed", rendition.pk, exc_info=True)
        fields = {
            "status": Rendition.Status.FAILED,
            "error": (f"{type(exc).__name__}: {exc}" if not str(exc) else str(exc))[:2000],
            "compliance": {},
            "needs_review": False,
        }
    finally:
        if result_path is not None:
            result_path.unlink(missing_ok=True)
    fields["rendered_at"] = timezone.now()
    fields["duration_ms"] = int((time.monotonic() - started) * 1000)
    Rendition.objects.filter(pk=rendition.pk).update(**fields)
    for name, value in fields.items():
        setattr(rendition, name, value)
    rendition_changed.send(
        sender=Rendition, sources=[rendition.source_sha256], preset_ids=[rendition.preset_id]
    )
    return rendition


@job("Render renditions", max_attempts=3)
def render_renditions(ctx: JobContext, rendition_ids: list[int]) -> dict:
    """Render the pending renditions among `rendition_ids`; safe to run again (ready and
    failed ones are left as they are)."""
    rows = list(
        Rendition.objects.select_related("preset")
        .filter(pk__in=rendition_ids, status=Rendition.Status.PENDING)
        .order_by("pk")
    )
    ctx.set_total(len(rows))
    counts = {"ready": 0, "failed": 0, "needs_review": 0, "compliance_failed": 0}
    for row in rows:
        render_one(row)
        if row.status == Rendition.Status.FAILED:
            counts["failed"] += 1
            ctx.item_failed(str(row.pk), row.error, source=row.source_sha256[:12])
            continue
        counts["ready"] += 1
        counts["needs_review"] += int(row.needs_review)
        counts["compliance_failed"] += int(not row.compliance.get("passed", False))
        ctx.advance()
    return {"renditions": [r.pk for r in rows], **counts}


# --- a changed preset ---------------------------------------------------------------------------


@receiver(preset_service.preset_changed, dispatch_uid="folio.renditions.jobs.preset_changed")
def _rerender_later(sender, preset, old_version, **kwargs):
    start_job(
        rerender_preset,
        label=f"Re-render preset {preset.code}",
        preset_id=preset.pk,
        version=preset.version,
    )


def start_rerender(preset: Preset, *, user=None):
    return start_job(
        rerender_preset,
        label=f"Re-render preset {preset.code}",
        user=user,
        preset_id=preset.pk,
        version=preset.version,
    )


@job("Re-render a preset", max_attempts=3)
def rerender_preset(ctx: JobContext, preset_id: int, version: int | None = None) -> dict:
    """After a preset changed: every source in use (an asset's current file) that had a
    rendition through an older spec gets one through the current spec (rendered by render
    jobs started here, in batches); renditions whose spec did not change but whose rules
    did are checked again."""
    from folio.renditions import cache

    preset = Preset.objects.filter(pk=preset_id).first()
    if preset is None:
        return {"skipped": "the preset was deleted"}
    if version is not None and preset.version > version:
        return {"skipped": f"preset changed again (now version {preset.version})"}
    hashes = preset_service.spec_hashes(preset)
    in_use = AssetVersion.objects.filter(
        pk__in=Subquery(Asset.objects.exclude(current_version=None).values("current_version_id"))
    ).values("blob_id")
    stale = (
        Rendition.objects.filter(preset=preset, source_sha256__in=Subquery(in_use))
        .exclude(spec_hash__in=list(hashes.values()))
        .values_list("source_sha256", "locale")
        .distinct()
        .order_by("source_sha256", "locale")
    )
    pairs = list(stale)
    ctx.set_total(len(pairs))
    specs = {
        locale: (h, preset_service.effective_spec(preset, locale or None))
        for locale, h in hashes.items()
    }
    made = jobs = 0
    for start in range(0, len(pairs), BATCH):
        wanted = {}
        for sha, locale in pairs[start : start + BATCH]:
            applied = locale if locale in specs else ""
            spec_hash, spec = specs[applied]
            wanted[(sha, spec_hash)] = Rendition(
                source_sha256=sha,
                spec_hash=spec_hash,
                preset=preset,
                preset_version=preset.version,
                locale=applied,
                spec=spec,
            )
        _, started = cache._create_and_start(wanted)
        made += len(wanted)
        jobs += len(started)
        ctx.advance(len(wanted))
    rechecked = recheck_compliance(preset, hashes)
    return {"preset": preset.code, "sources": made, "render_jobs": jobs, "rechecked": rechecked}


def recheck_compliance(preset: Preset, hashes: dict[str, str]) -> int:
    """Ready renditions of the current spec made under an older preset version: their bytes
    are still right, the rules may not be."""
    from folio.assets.previews import local_copy

    rows = Rendition.objects.select_related("blob").filter(
        preset=preset,
        spec_hash__in=list(hashes.values()),
        status=Rendition.Status.READY,
        preset_version__lt=preset.version,
    )
    n = 0
    sources = set()
    for row in rows.iterator():
        try:
            with local_copy(row.blob.storage_name) as path:
                checked = _check(path, preset.rules or {}, row.format, row.spec)
        except Exception as exc:  # the stored output is unreadable: say so on the row
            checked = {"passed": False, "checks": [], "error": str(exc)[:500]}
        with transaction.atomic():
            Rendition.objects.filter(pk=row.pk).update(
                compliance=checked, preset_version=preset.version
            )
        n += 1
        sources.add(row.source_sha256)
    if sources:
        rendition_changed.send(sender=Rendition, sources=sorted(sources), preset_ids=[preset.pk])
    return n
