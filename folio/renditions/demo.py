"""Demo image slots and renditions: what the demo channels ask for, and the renditions of
the approved demo packshots queued for the worker.

The web shop takes fitted 2048 px WebPs (main and up to 8 gallery images); the marketplace
takes Amazon-style images: a required main image cut out on pure white and up to 8 gallery
images. Slots are made through the same service functions as the API. Renditions are only
enqueued (`cache.ensure_renditions`): the worker makes them, as it would after an upload, so
`make run` shows them arriving. Idempotent: an existing slot is left as it is and a rendition
that exists is not asked for again.
"""

import importlib

from folio.errors import NotFound
from folio.renditions import cache
from folio.renditions import presets as preset_service

# (channel, role, preset, max_count, required)
SLOTS = [
    ("webshop", "main", "web-2048-webp", 1, False),
    ("webshop", "gallery", "web-2048-webp", 8, False),
    ("marketplace", "main", "amazon-main", 1, True),
    ("marketplace", "gallery", "amazon-gallery", 8, False),
]
MAIN_VIEW = "_front."  # demo file names follow SKU_view; the front view is the main image


def seed(out) -> None:
    from folio.catalog.models import Channel

    channels = set(
        Channel.objects.filter(code__in={c for c, *_ in SLOTS}).values_list("code", flat=True)
    )
    if not channels:
        return  # the demo catalog was not seeded (a database with products of its own)
    _ensure_presets({p for c, _, p, _, _ in SLOTS if c in channels})
    made = 0
    for channel, role, preset, max_count, required in SLOTS:
        if channel not in channels:
            continue
        try:
            preset_service.get_slot(channel, role)
        except NotFound:
            preset_service.create_slot(
                channel, role=role, preset=preset, max_count=max_count, required=required
            )
            made += 1

    queued = 0
    for channel in sorted(channels):
        for slot in preset_service.list_slots(channel):
            assets = _packshots(channel, main_only=slot.role == "main")
            if assets:
                renditions, _jobs = cache.ensure_renditions(assets, [slot.preset])
                queued += sum(r.status == r.Status.PENDING for r in renditions)
    if made or queued:
        out.write(
            f"Demo renditions: {made} image slots on {', '.join(sorted(channels))}; "
            f"{queued} renditions of approved packshots queued for the worker\n"
        )


def _ensure_presets(codes: set[str]) -> None:
    """Migrations seed the presets; a database flushed without them gets them here."""
    seeded = importlib.import_module("folio.renditions.migrations.0002_seed_presets")
    for data in seeded.PRESETS:
        if data["code"] not in codes:
            continue
        try:
            preset_service.get_preset(data["code"])
        except NotFound:
            preset_service.create_preset(**data)


def _packshots(channel_code: str, *, main_only: bool) -> list:
    from folio.assets import rights
    from folio.assets.models import Asset

    assets = (
        Asset.objects.select_related("current_version")
        .filter(kind="packshot", status=Asset.Status.APPROVED, current_version__isnull=False)
        .order_by("pk")
    )
    if main_only:
        assets = assets.filter(current_version__filename__contains=MAIN_VIEW)
    return [a for a in assets if rights.is_publishable(a, channel=channel_code)[0]]
