"""Demo links: the demo packshots auto-linked by their SKU_view names, plus links made through
the linking services the way a person would make them.

- The water bottles share what is the same for every colour at the root model WB-SS: a main
  image for the sizes without shots of their own, the lifestyle scenes and the warranty. Each
  750 ml colour has its own main and gallery images from auto-linking (a variant override).
- EspressoPro 3000: main and gallery (auto-linked), lifestyle, the brewing video, the setup
  guide as manual and the warranty.
- Media requirements: the web shop needs a main image and at least two gallery images; the
  marketplace needs, for the coffee machine, a main image that passes amazon-main.

Idempotent: auto-linking skips what is linked, and explicit links and requirements are only
made when missing.
"""

from folio.assets.models import Asset
from folio.catalog.models import Channel, Family, Product, ProductModel
from folio.linking import autolink, services
from folio.linking import completeness as media
from folio.linking.models import Link, MediaRequirement

ROOT = "WB-SS"
MACHINE = "EP-3000"
# (target, file name, role)
EXPLICIT = [
    (ROOT, "WB-750-SS-BLUE_front.jpg", "main"),
    (ROOT, "WB-750-SS-BLUE_lifestyle.jpg", "lifestyle"),
    (ROOT, "WB-750-SS-BLACK_lifestyle.jpg", "lifestyle"),
    (ROOT, "warranty.pdf", "warranty"),
    (MACHINE, "EP-3000_lifestyle.jpg", "lifestyle"),
    # its top view is a draft: the kitchen scene is the second gallery image the shop needs
    (MACHINE, "EP-3000_lifestyle.jpg", "gallery"),
    (MACHINE, "EP-3000_brewing.mp4", "video"),
    (MACHINE, "EP-3000_setup-guide.pdf", "manual"),
    (MACHINE, "warranty.pdf", "warranty"),
]
# (channel, role, min_count, compliant preset, families)
REQUIREMENTS = [
    ("webshop", "main", 1, None, ("water_bottles", "coffee_machines")),
    ("webshop", "gallery", 2, None, ("water_bottles", "coffee_machines")),
    # the machine only: the bottles' marketplace figures stay the catalog demo's story
    ("marketplace", "main", 1, "amazon-main", ("coffee_machines",)),
]
FAMILIES = ("water_bottles", "coffee_machines")


def seed(out) -> None:
    if not (
        Product.objects.filter(sku=MACHINE).exists()
        and ProductModel.objects.filter(code=ROOT).exists()
    ):
        return  # the demo catalog was not seeded
    by_name = {
        name: pk
        for pk, name in Asset.objects.filter(current_version__isnull=False)
        .order_by("pk")
        .values_list("pk", "current_version__filename")
    }
    packshots = list(
        Asset.objects.filter(kind="packshot").order_by("pk").values_list("pk", flat=True)
    )
    report = autolink.autolink(packshots)
    made = 0
    for target, filename, role in EXPLICIT:
        asset_id = by_name.get(filename)
        if asset_id is None:
            continue
        owner = services.resolve_target(target)
        owner_filter = (
            {"product": owner} if isinstance(owner, Product) else {"product_model": owner}
        )
        if Link.objects.filter(**owner_filter, asset_id=asset_id, role=role).exists():
            continue
        services.link(owner, asset_id, role)
        made += 1
    families = set(Family.objects.filter(code__in=FAMILIES).values_list("code", flat=True))
    channels = set(
        Channel.objects.filter(code__in={c for c, *_ in REQUIREMENTS}).values_list(
            "code", flat=True
        )
    )
    required = 0
    for family in sorted(families):
        for channel, role, min_count, preset, wanted in REQUIREMENTS:
            if (
                family not in wanted
                or channel not in channels
                or MediaRequirement.objects.filter(
                    family__code=family, channel__code=channel, role=role
                ).exists()
            ):
                continue
            media.set_requirement(
                family, channel, role, min_count=min_count, compliant_preset=preset
            )
            required += 1
    if required:
        # Shown at once in the demo rather than after the recompute job has run.
        media.recompute(
            Product.objects.filter(family__code__in=families).values_list("pk", flat=True)
        )
    if report["linked"] or made or required:
        out.write(
            f"Demo links: {len(report['linked'])} packshots auto-linked, {made} links made by "
            f"hand (shared at {ROOT}, {MACHINE}'s media); {required} media requirements\n"
        )
