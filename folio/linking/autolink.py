"""Auto-linking: file names that name their product become links.

AutoLinkPattern rows (priority order) describe the names: `{sku}_{view}.jpg`, `{gtin}.MAIN.jpg`,
`{sku}-{position}.jpg`. Placeholders: {sku} (a product SKU or product model code), {gtin}
(looked up in the catalog's ValueIndex of GTIN attributes), {view} (mapped by the pattern's
`views` to a role and position), {position} (a number: the position in the default role) and
{locale}. A pattern's image extension (.jpg, .png…) stands for any image extension; `.{ext}`
for any extension at all.

Work is done in batches with a fixed number of queries per batch (assets, SKUs, model codes,
GTINs, locales, existing links), then one bulk insert, one LinkChange and one audit entry.
"""

import re
from dataclasses import dataclass
from pathlib import PurePath

from django.db import transaction
from django.db.models import Q

from folio.assets.browse import visible_assets
from folio.assets.models import Asset
from folio.catalog.models import Locale, Product, ProductModel, ValueIndex
from folio.linking import services
from folio.linking.models import AutoLinkPattern, Link

BATCH = 1000
IMAGE_EXTENSIONS = (
    "jpg",
    "jpeg",
    "png",
    "tif",
    "tiff",
    "webp",
    "gif",
    "heic",
    "heif",
    "avif",
    "bmp",
    "psd",
)
PLACEHOLDERS = {
    "gtin": r"\d{8,14}",
    "position": r"\d{1,4}",
    "locale": r"[a-z]{2}_[a-z]{2}",
}


@dataclass
class Compiled:
    pattern: AutoLinkPattern
    regexes: tuple[re.Pattern, ...]  # greedy and lazy {sku}: both splits are candidates


def _compile(p: AutoLinkPattern) -> Compiled:
    text = p.pattern
    ext = ""
    stem, dot, last = text.rpartition(".")
    if dot and (last.lower() in IMAGE_EXTENSIONS or last in ("{ext}", "<ext>")):
        text = stem
        ext = (
            (r"\.(?:" + "|".join(IMAGE_EXTENSIONS) + ")")
            if last.lower() in IMAGE_EXTENSIONS
            else r"\.[A-Za-z0-9]+"
        )
    regexes = []
    for sku in (r"[A-Za-z0-9][A-Za-z0-9._-]*", r"[A-Za-z0-9][A-Za-z0-9._-]*?"):
        out, pos = [], 0
        for m in re.finditer(r"\{(\w+)\}", text):
            out.append(re.escape(text[pos : m.start()]))
            name = m.group(1)
            if name == "sku":
                out.append(f"(?P<sku>{sku})")
            elif name == "view":
                views = sorted(p.views or {}, key=len, reverse=True)
                alt = "|".join(re.escape(v) for v in views) or r"[A-Za-z0-9]+"
                out.append(f"(?P<view>{alt})")
            elif name in PLACEHOLDERS:
                out.append(f"(?P<{name}>{PLACEHOLDERS[name]})")
            else:
                out.append(re.escape(m.group(0)))
            pos = m.end()
        out.append(re.escape(text[pos:]))
        regexes.append(re.compile("^" + "".join(out) + ext + "$", re.IGNORECASE))
    return Compiled(p, tuple(dict.fromkeys(regexes)))


def compiled_patterns() -> list[Compiled]:
    return [_compile(p) for p in AutoLinkPattern.objects.filter(enabled=True)]


@dataclass
class Candidate:
    pattern: AutoLinkPattern
    groups: dict


def _candidates(filename: str, patterns: list[Compiled]) -> list[Candidate]:
    name = PurePath(filename).name
    found = []
    for c in patterns:
        for rx in c.regexes:
            m = rx.match(name)
            if m:
                found.append(Candidate(c.pattern, m.groupdict()))
    return found


def _role_position(cand: Candidate) -> tuple[str, int | None]:
    view = cand.groups.get("view")
    if view is not None:
        views = {k.lower(): v for k, v in (cand.pattern.views or {}).items()}
        spec = views.get(view.lower(), {})
        return spec.get("role", cand.pattern.default_role), spec.get("position")
    if cand.groups.get("position") is not None:
        return cand.pattern.default_role, int(cand.groups["position"])
    return cand.pattern.default_role, 1 if cand.pattern.default_role == "main" else None


def autolink(asset_ids, *, user=None, batch_size: int = BATCH) -> dict:
    """Link assets whose file names match a pattern. Running it again links nothing twice:
    an asset already linked to the owner in that role, or a file of the same name already
    linked there (the same folder added again), is reported as skipped_existing."""
    patterns = compiled_patterns()
    report = {"linked": [], "unmatched": [], "skipped_existing": []}
    ids = list(dict.fromkeys(int(a) for a in asset_ids))
    for start in range(0, len(ids), batch_size):
        _batch(ids[start : start + batch_size], patterns, user, report)
    return report


def _batch(ids: list[int], patterns: list[Compiled], user, report: dict) -> None:
    qs = visible_assets(user) if user is not None else Asset.objects.all()
    # The file names only: an asset row with its metadata would cost more than the match.
    assets = list(
        qs.filter(pk__in=ids).order_by("pk").values_list("pk", "current_version__filename")
    )
    found = {pk for pk, _ in assets}
    for missing in (i for i in ids if i not in found):
        report["unmatched"].append({"asset": missing, "filename": "", "reason": "no such asset"})
    cands = {}
    for pk, filename in assets:
        cands[pk] = (filename or "", _candidates(filename or "", patterns))
    # one query per kind of key for the whole batch
    skus = {c.groups["sku"] for _, cs in cands.values() for c in cs if c.groups.get("sku")}
    gtins = {c.groups["gtin"] for _, cs in cands.values() for c in cs if c.groups.get("gtin")}
    products, models = _owners(skus)
    by_gtin = {}
    if gtins:
        for text, pid, sku in ValueIndex.objects.filter(
            attribute__is_gtin=True, text__in=gtins
        ).values_list("text", "product_id", "product__sku"):
            by_gtin.setdefault(text, Product(pk=pid, sku=sku))
    locales = {code.lower(): code for code in Locale.objects.values_list("code", flat=True)}

    plans = []  # (asset id, filename, owner, role, position, locale, pattern name)
    for asset_id, _ in assets:
        filename, cs = cands[asset_id]
        if not filename:
            report["unmatched"].append({"asset": asset_id, "filename": "", "reason": "no file"})
            continue
        if not cs:
            report["unmatched"].append(
                {"asset": asset_id, "filename": filename, "reason": "matches no auto-link pattern"}
            )
            continue
        chosen, reason = None, ""
        for c in cs:
            g = c.groups
            owner = None
            if g.get("sku"):
                owner = products.get(g["sku"].lower()) or models.get(g["sku"].lower())
                if owner is None:
                    reason = reason or f"no product or model {g['sku']!r}"
                    continue
            if g.get("gtin"):
                owner = by_gtin.get(g["gtin"])
                if owner is None:
                    reason = reason or f"no product with GTIN {g['gtin']}"
                    continue
            if owner is None:
                reason = reason or f"pattern {c.pattern.name} names no product"
                continue
            locale = ""
            if g.get("locale"):
                locale = locales.get(g["locale"].lower())
                if locale is None:
                    reason = reason or f"no locale {g['locale']!r}"
                    continue
            role, position = _role_position(c)
            chosen = (asset_id, filename, owner, role, position, locale, c.pattern.name)
            break
        if chosen is None:
            report["unmatched"].append({"asset": asset_id, "filename": filename, "reason": reason})
        else:
            plans.append(chosen)
    if plans:
        _write(plans, user, report)


def _owners(keys: set[str]) -> tuple[dict, dict]:
    """({lower-cased key: Product}, {lower-cased key: ProductModel}) for the SKUs and model
    codes named in file names. The keys as written first (most file names carry the SKU as it
    is); other cases only for the keys not found, models only for keys no product has: each
    lookup is an IN list of up to three cases per key, and a batch names a thousand."""
    products: dict = {}
    models: dict = {}
    if not keys:
        return products, models
    for p in Product.objects.filter(sku__in=keys).only("pk", "sku"):
        products[p.sku.lower()] = p
    missing = {k for k in keys if k.lower() not in products}
    if missing:
        for p in Product.objects.filter(sku__in=_case_variants(missing) - missing).only(
            "pk", "sku"
        ):
            products.setdefault(p.sku.lower(), p)
        missing = {k for k in missing if k.lower() not in products}
    if missing:
        for m in ProductModel.objects.filter(code__in=_case_variants(missing)).only("pk", "code"):
            models.setdefault(m.code.lower(), m)
    return products, models


def _case_variants(keys: set[str]) -> set[str]:
    # File names are often lower-cased by cameras and tools; SKUs usually are upper-case.
    return keys | {k.upper() for k in keys} | {k.lower() for k in keys}


def _key(owner) -> tuple:
    return (owner.pk, None) if isinstance(owner, Product) else (None, owner.pk)


def _write(plans: list, user, report: dict) -> None:
    pids = {o.pk for _, _, o, *_ in plans if isinstance(o, Product)}
    mids = {o.pk for _, _, o, *_ in plans if isinstance(o, ProductModel)}
    with transaction.atomic():
        # One read by owner, filtered on the channel here: asking the database for
        # `channel IS NULL` let SQLite pick the channel index and read every link (3M rows at
        # catalog scale) when its sampled statistics took that index for selective.
        existing = Link.objects.filter(Q(product_id__in=pids) | Q(product_model_id__in=mids))
        linked_assets, linked_names = set(), set()
        max_pos: dict[tuple, int] = {}
        for pid, mid, role, locale, aid, fname, position, channel_id in existing.values_list(
            "product_id",
            "product_model_id",
            "role",
            "locale",
            "asset_id",
            "asset__current_version__filename",
            "position",
            "channel_id",
        ):
            if channel_id is not None:
                continue
            linked_assets.add((pid, mid, role, locale, aid))
            linked_names.add((pid, mid, role, locale, (fname or "").lower()))
            group = (pid, mid, role, locale)
            max_pos[group] = max(max_pos.get(group, 0), position)
        new = []
        for asset_id, filename, owner, role, position, locale, pname in plans:
            pid, mid = _key(owner)
            target = owner.sku if isinstance(owner, Product) else owner.code
            entry = {
                "asset": asset_id,
                "filename": filename,
                "target": target,
                "role": role,
                "locale": locale,
                "pattern": pname,
            }
            if (pid, mid, role, locale, asset_id) in linked_assets or (
                pid,
                mid,
                role,
                locale,
                filename.lower(),
            ) in linked_names:
                report["skipped_existing"].append(entry)
                continue
            group = (pid, mid, role, locale)
            if position is None:
                position = (max_pos.get(group) or 0) + 1
            max_pos[group] = max(max_pos.get(group) or 0, position)
            linked_assets.add((pid, mid, role, locale, asset_id))
            linked_names.add((pid, mid, role, locale, filename.lower()))
            new.append(
                Link(
                    product_id=pid,
                    product_model_id=mid,
                    asset_id=asset_id,
                    role=role,
                    position=position,
                    locale=locale,
                    source="auto",
                    created_by=services._user(user),
                )
            )
            report["linked"].append({**entry, "position": position})
        if not new:
            return
        Link.objects.bulk_create(new)
        services._bump_many([lk.product_id for lk in new], [lk.product_model_id for lk in new])
        # bulk_create sets primary keys on PostgreSQL and SQLite ≥ 3.35; fetch them otherwise
        if any(lk.pk is None for lk in new):
            ids = dict(
                Link.objects.filter(
                    asset_id__in=[lk.asset_id for lk in new], source="auto"
                ).values_list("asset_id", "pk")
            )
            for lk in new:
                lk.pk = lk.pk or ids.get(lk.asset_id)
        for lk, entry in zip(new, report["linked"][-len(new) :], strict=True):
            entry["link_id"] = lk.pk
        services._history(
            "auto",
            [{"op": "create", "link": services.snapshot(lk)} for lk in new],
            user,
            summary=f"auto-linked {len(new)} assets",
        )
