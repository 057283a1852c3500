"""Media in completeness: a family can require linked media per channel ("webshop needs a main
image and at least two gallery images; the marketplace's main image must pass amazon-main").

The catalog does not know linking: it calls the providers registered with
`folio.catalog.completeness.register_requirements`, and `media_requirements` is linking's
(registered in LinkingConfig.ready). Each MediaRequirement is one more required item in its
channel's rows; it is filled when at least `min_count` of the links that apply to the product
in that role (inheritance resolved as in `services.links_for`: the nearest level with links for
the role wins) show an asset that is approved and within its rights for the channel, and, with
a `compliant_preset`, whose rendition through that preset is ready and passed compliance.
Missing ones are named "media:<role>".

Completeness is stored, so it is recomputed for the products concerned when a link changes
(every link write records a LinkChange), when a linked asset's status or rights change
(asset_status_changed: approved, rejected, expired; asset_changed: rights edited) and when a
rendition of a linked asset's file through a required preset becomes ready or fails or is
checked again (folio.renditions.jobs.rendition_changed).
"""

from collections import defaultdict

from django.db import transaction
from django.db.models import Q
from django.db.models.signals import post_save
from django.utils import timezone

from folio.accounts import audit
from folio.assets.models import Asset
from folio.assets.rights import is_publishable, publishable_q
from folio.catalog import values as v
from folio.catalog.models import Channel, Family, Product
from folio.errors import InvalidInput, NotFound, StaleWrite
from folio.linking.models import Link, LinkChange, MediaRequirement
from folio.linking.services import _check_role
from folio.versioning import APPLY_AGAIN, save_versioned, stale_write

BATCH = 1000


def missing_code(role: str) -> str:
    return f"media:{role}"


# --- the provider -------------------------------------------------------------------------------


def media_requirements(products: list, structure: v.Structure) -> dict:
    """{(product_id, channel_code, locale): (required, filled, missing)} for a batch of
    products, with a fixed number of queries whatever the batch size (requirements, the
    products' models, links, assets with their licensed channels, renditions)."""
    family_ids = {p.family_id for p in products if p.family_id}
    if not family_ids:
        return {}
    reqs = defaultdict(list)  # family_id → [MediaRequirement]
    for r in MediaRequirement.objects.filter(family_id__in=family_ids).select_related(
        "channel", "compliant_preset"
    ):
        if r.channel.code in structure.channels:
            reqs[r.family_id].append(r)
    measured = [p for p in products if reqs.get(p.family_id)]
    if not measured:
        return {}
    # nearest level first: the product itself, its parent model, the parent's parent
    chains = {
        pid: [m for m in (parent, grandparent) if m]
        for pid, parent, grandparent in Product.objects.filter(
            pk__in=[p.pk for p in measured]
        ).values_list("pk", "parent_id", "parent__parent_id")
    }
    model_ids = {m for chain in chains.values() for m in chain}
    roles = {r.role for p in measured for r in reqs[p.family_id]}
    links = defaultdict(list)  # ("p", id) / ("m", id) → [(role, locale, channel_id, asset_id)]
    for pid, mid, role, locale, channel_id, asset_id in Link.objects.filter(
        Q(product_id__in=list(chains)) | Q(product_model_id__in=model_ids), role__in=roles
    ).values_list("product_id", "product_model_id", "role", "locale", "channel_id", "asset_id"):
        links[("p", pid) if pid else ("m", mid)].append((role, locale, channel_id, asset_id))
    asset_ids = {a for rows in links.values() for *_, a in rows}
    now = timezone.now()
    assets = {
        a.pk: a
        for a in Asset.objects.filter(publishable_q(now), pk__in=asset_ids)
        .select_related("current_version")
        .prefetch_related("channels")
    }
    passed = _compliant(assets, [r for rs in reqs.values() for r in rs], structure)

    out = {}
    for p in measured:
        levels = [("p", p.pk)] + [("m", m) for m in chains.get(p.pk, [])]
        for r in reqs[p.family_id]:
            code = r.channel.code
            for locale in structure.channels[code]["locales"]:
                shown = _applying(levels, links, r.role, locale, r.channel_id)
                count = sum(
                    1
                    for a in shown
                    if a in assets
                    and is_publishable(assets[a], channel=code, at=now)[0]
                    and (
                        r.compliant_preset_id is None
                        or (r.compliant_preset_id, locale, a) in passed
                    )
                )
                ok = count >= r.min_count
                req, fill, miss = out.get((p.pk, code, locale), (0, 0, []))
                out[(p.pk, code, locale)] = (
                    req + 1,
                    fill + ok,
                    miss if ok else [*miss, missing_code(r.role)],
                )
    return out


def _applying(levels, links, role, locale, channel_id) -> set[int]:
    """The assets shown in `role` for one channel and locale: the nearest level that has
    applicable links for the role wins, as in services.links_for."""
    for level in levels:
        found = {
            a
            for lr, ll, lc, a in links.get(level, ())
            if lr == role and ll in ("", locale) and lc in (None, channel_id)
        }
        if found:
            return found
    return set()


def _compliant(assets: dict, reqs: list, structure: v.Structure) -> set[tuple[int, str, int]]:
    """{(preset_id, locale, asset_id)} whose rendition through the preset (with the locale's
    market override, if any) is ready and passed compliance: one query."""
    from folio.renditions import presets as preset_service
    from folio.renditions.models import Rendition

    presets = {r.compliant_preset_id: r.compliant_preset for r in reqs if r.compliant_preset_id}
    if not presets or not assets:
        return set()
    hashes = {pid: preset_service.spec_hashes(p) for pid, p in presets.items()}
    shas = defaultdict(list)  # identical bytes under two assets share their renditions
    for a in assets.values():
        if a.current_version_id:
            shas[a.current_version.blob_id].append(a.pk)
    ok = {
        (sha, spec_hash)
        for sha, spec_hash, compliance in Rendition.objects.filter(
            source_sha256__in=list(shas),
            spec_hash__in={h for hs in hashes.values() for h in hs.values()},
            status=Rendition.Status.READY,
        ).values_list("source_sha256", "spec_hash", "compliance")
        if (compliance or {}).get("passed")
    }
    out = set()
    locales = {loc for r in reqs for loc in structure.channels[r.channel.code]["locales"]}
    for pid, hs in hashes.items():
        for locale in locales:
            h = hs.get(locale, hs[""])  # a locale without override uses the base rendition
            for sha, asset_ids in shas.items():
                if (sha, h) in ok:
                    out.update((pid, locale, a) for a in asset_ids)
    return out


# --- recomputing ----------------------------------------------------------------------------


def affected_products(product_ids=(), model_ids=()) -> list[int]:
    """The products whose media completeness links of these owners feed (variants below a
    model included), limited to families that require media at all: one query."""
    product_ids, model_ids = set(product_ids) - {None}, set(model_ids) - {None}
    if not product_ids and not model_ids:
        return []
    return list(
        Product.objects.filter(
            Q(pk__in=product_ids) | Q(parent_id__in=model_ids) | Q(parent__parent_id__in=model_ids),
            family__media_requirements__isnull=False,
        )
        .distinct()
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def recompute(product_ids) -> int:
    """Rewrite the completeness rows of these products, 1,000 at a time, as the catalog's
    recompute job does (product rows locked so a concurrent product write waits)."""
    from folio.catalog import services as catalog

    ids = sorted(set(product_ids))
    if not ids:
        return 0
    structure = v.Structure.load()
    for start in range(0, len(ids), BATCH):
        with transaction.atomic():
            batch = [
                catalog.Prepared(product=p, created=False, changes=[])
                for p in Product.objects.select_for_update(of=("self",))
                .select_related("parent__parent")
                .filter(pk__in=ids[start : start + BATCH])
                .order_by("pk")
            ]
            docs = catalog.resolve_batch(batch)
            catalog.write_completeness(batch, docs, structure)
    return len(ids)


def recompute_for_assets(asset_ids) -> int:
    owners = list(
        Link.objects.filter(asset_id__in=list(asset_ids)).values_list(
            "product_id", "product_model_id"
        )
    )
    if not owners:
        return 0
    return recompute(affected_products({p for p, _ in owners}, {m for _, m in owners}))


# --- receivers (connected in LinkingConfig.ready) ---------------------------------------------


def after_link_change(sender, instance: LinkChange, created: bool, **kwargs):
    """Every link write (link, unlink, reorder, replace, auto-link, undo) records one
    LinkChange with the rows before and after: the owners in it are what changed."""
    if not created or not MediaRequirement.objects.exists():
        return
    pids, mids = {instance.product_id}, {instance.product_model_id}
    for op in instance.changes or ():
        for snap in (op.get("link"), op.get("before")):
            if snap:
                pids.add(snap.get("product_id"))
                mids.add(snap.get("product_model_id"))
    recompute(affected_products(pids, mids))


def fetch_linked_external_files(sender, instance: LinkChange, created: bool, **kwargs):
    """An asset of another DAM that gets linked may need renditions (image slots, compliant
    presets): its file is fetched from its reference in the background
    (folio.assets.external.fetch_file)."""
    from folio.assets.models import ExternalSystem

    if not created or not ExternalSystem.objects.exists():
        return
    linked = {
        (op.get("link") or {}).get("asset_id")
        for op in instance.changes or ()
        if op.get("op") in ("create", "update")
    } - {None}
    if linked:
        from folio.assets.external import fetch_later

        fetch_later(linked)


def after_asset_status_changed(sender, asset, old=None, new=None, **kwargs):
    # "expiring" is only a warning: the asset still counts until it has expired.
    if new != "expiring" and MediaRequirement.objects.exists():
        recompute_for_assets([asset.pk])


def after_asset_changed(sender, asset_ids=(), created=None, **kwargs):
    # Rights edits (expiry, licensed channels) arrive here; a just-created asset has no links.
    ids = [a for a in asset_ids or () if not created or a not in created]
    if ids and MediaRequirement.objects.exists():
        recompute_for_assets(ids)


def after_rendition_changed(sender, sources=(), preset_ids=(), **kwargs):
    """A rendition became ready or failed, or its compliance was checked again: the products
    linking an asset whose current file it was made from are recomputed, when a requirement
    asks for that preset at all."""
    presets = {p for p in preset_ids or () if p is not None}
    if not sources or not presets:
        return
    if not MediaRequirement.objects.filter(compliant_preset_id__in=presets).exists():
        return
    asset_ids = Asset.objects.filter(current_version__blob_id__in=list(sources)).values_list(
        "pk", flat=True
    )
    recompute_for_assets(list(asset_ids))


def connect() -> None:
    from folio.assets import signals as asset_signals
    from folio.catalog.completeness import register_requirements
    from folio.renditions.jobs import rendition_changed

    register_requirements(media_requirements)
    post_save.connect(
        after_link_change, sender=LinkChange, dispatch_uid="linking.completeness_after_link_change"
    )
    post_save.connect(
        fetch_linked_external_files,
        sender=LinkChange,
        dispatch_uid="linking.fetch_linked_external_files",
    )
    asset_signals.asset_status_changed.connect(
        after_asset_status_changed, dispatch_uid="linking.completeness_after_asset_status"
    )
    asset_signals.asset_changed.connect(
        after_asset_changed, dispatch_uid="linking.completeness_after_asset_changed"
    )
    rendition_changed.connect(
        after_rendition_changed, dispatch_uid="linking.completeness_after_rendition_changed"
    )


# --- requirements -------------------------------------------------------------------------------


def requirement_snapshot(req: MediaRequirement) -> dict:
    return {
        "family": req.family.code,
        "channel": req.channel.code,
        "role": req.role,
        "min_count": req.min_count,
        "compliant_preset": req.compliant_preset.code if req.compliant_preset_id else None,
        "version": req.version,
    }


def _stale_requirement(req: MediaRequirement | None, expected_version: int, what: str):
    if req is None:
        return StaleWrite(f"{what} was deleted meanwhile", details={"current": None})
    return stale_write(
        what,
        expected_version,
        req.version,
        requirement_snapshot(req),
        then=APPLY_AGAIN,
    )


def set_requirement(
    family: str,
    channel: str,
    role: str,
    *,
    min_count: int = 1,
    compliant_preset: str | None = None,
    expected_version: int | None = None,
) -> MediaRequirement:
    """Create or change what `family` needs linked in `role` for `channel`; the family's
    completeness in that channel is recomputed by the catalog's background job. With
    `expected_version` (what the editor read), a requirement changed or dropped since is
    refused as a stale write."""
    from folio.renditions.presets import get_preset

    fam = Family.objects.filter(code=family).first()
    if fam is None:
        raise NotFound(f"no family {family!r}", details={"family": family})
    chan = Channel.objects.filter(code=channel).first()
    if chan is None:
        raise InvalidInput(f"no channel {channel!r}", details={"channel": channel})
    _check_role(role)
    if not isinstance(min_count, int) or min_count < 1:
        raise InvalidInput("min_count must be 1 or more", details={"min_count": min_count})
    preset = get_preset(compliant_preset) if compliant_preset else None
    with transaction.atomic():
        req = (
            MediaRequirement.objects.select_for_update()
            .filter(family=fam, channel=chan, role=role)
            .first()
        )
        what = f"the {role} requirement of {family} in {channel}"
        if expected_version is not None and (req is None or req.version != expected_version):
            raise _stale_requirement(req, expected_version, what)
        created = req is None
        if created:
            req = MediaRequirement.objects.create(
                family=fam, channel=chan, role=role, min_count=min_count, compliant_preset=preset
            )
        else:
            req.min_count, req.compliant_preset = min_count, preset
            save_versioned(
                req, expected_version, ["min_count", "compliant_preset"], requirement_snapshot
            )
        audit.record(
            "media_requirement.create" if created else "media_requirement.update",
            req,
            summary=f"{family} needs {min_count} × {role} in {channel}"
            + (f" passing {compliant_preset}" if compliant_preset else ""),
            changes={"min_count": min_count, "compliant_preset": compliant_preset},
        )
        _structure_changed(fam, chan)
    return req


def get_requirement(family: str, channel: str, role: str, *, lock=False) -> MediaRequirement:
    # Lock only the requirement: its preset is the nullable side of an outer join.
    qs = (
        MediaRequirement.objects.select_for_update(of=("self",))
        if lock
        else MediaRequirement.objects
    )
    req = (
        qs.filter(family__code=family, channel__code=channel, role=role)
        .select_related("family", "channel", "compliant_preset")
        .first()
    )
    if req is None:
        raise NotFound(
            f"{family} has no {role} requirement in {channel}",
            details={"family": family, "channel": channel, "role": role},
        )
    return req


def remove_requirement(
    family: str, channel: str, role: str, *, expected_version: int | None = None
) -> None:
    with transaction.atomic():
        req = get_requirement(family, channel, role, lock=True)
        if expected_version is not None and req.version != expected_version:
            raise _stale_requirement(
                req, expected_version, f"the {role} requirement of {family} in {channel}"
            )
        audit.record(
            "media_requirement.delete", req, summary=f"{family} no longer needs {role} in {channel}"
        )
        req.delete()
        _structure_changed(req.family, req.channel)


def _structure_changed(family, channel) -> None:
    # The catalog marks the family's rows in the channel stale and recomputes them in one
    # background job, exactly as for an attribute requirement.
    from folio.catalog.signals import structure_changed

    structure_changed.send(
        sender=MediaRequirement, family_ids=[family.pk], channel_ids=[channel.pk]
    )
