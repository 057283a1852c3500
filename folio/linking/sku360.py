"""SKU 360: everything about one product on one page — its facts with where each value comes
from, its completeness per channel and locale, every linked file with status, rights, previews
and renditions per channel, recent history, pending proposals and publications.

Read-only. Built with a fixed number of queries whatever the number of links, attributes or
channels: rows are fetched in bulk and everything else is worked out in Python.
"""

from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Prefetch, prefetch_related_objects

from folio.accounts.services import require
from folio.assets.models import Asset
from folio.assets.previews import preview_states
from folio.assets.rights import is_publishable
from folio.catalog import cache as structure_cache
from folio.catalog import services as catalog
from folio.catalog.models import (
    Attribute,
    AttributeOption,
    Channel,
    Family,
    Product,
    ProductChange,
    Proposal,
)
from folio.errors import NotFound
from folio.search import index as search_index
from folio.words import amount, money

HISTORY_LIMIT = 10
CODE_MAX = AttributeOption._meta.get_field("code").max_length
FIND_LIMIT = 20


# --- finding a product by what someone types ---------------------------------------------------


def resolve_sku(text: str, *, limit: int = FIND_LIMIT) -> list[str]:
    """SKUs for what was typed: the exact SKU alone when there is one, else SKU-prefix and GTIN
    matches from the search index (which holds SKU and GTINs as identifiers), best first."""
    text = (text or "").strip()
    if not text:
        return []
    exact = Product.objects.filter(sku=text).values_list("sku", flat=True).first()
    if exact is None:
        # SKUs are unique as typed; a case-insensitive match is what people mean by "exact".
        exact = Product.objects.filter(sku__iexact=text).values_list("sku", flat=True).first()
    if exact is not None:
        return [exact]
    hits = search_index.search(text, kinds=["product"], limit=limit)
    ids = [h.ref_id for h in hits]
    skus = dict(Product.objects.filter(pk__in=ids).values_list("pk", "sku"))
    return [skus[i] for i in ids if i in skus]


# --- formatting values for people ------------------------------------------------------------


def load_attributes(
    codes, *, family_id=None, option_codes=None, structure: "Structure | None" = None
) -> dict[str, Attribute]:
    """The attributes named, and every attribute of family `family_id` when given, with
    group, measurement family and option labels (attach_option_labels). The attributes come
    from the process's copy of the structure (`structure`, else current_structure()), the
    options from one query. option_codes: only the options with these codes (the ones values
    hold), for pages that show values and offer no choice; None: every option."""
    structure = structure or current_structure()
    wanted = set(codes)
    if family_id is not None:
        wanted.update(structure.families.get(family_id, ()))
    attributes = {
        code: _own_copy(structure.attributes[code])
        for code in wanted
        if code in structure.attributes
    }
    attach_option_labels(attributes.values(), option_codes=option_codes)
    return attributes


@dataclass(frozen=True)
class Structure:
    """What pages of product facts read whatever the product. Shared by the threads of a
    process (folio.catalog.cache): read it, never change it."""

    attributes: dict[str, Attribute]  # every attribute by code, group and units loaded
    families: dict[int, list[str]]  # family id → its attributes' codes
    channels: list[Channel]  # by code, image slots and their presets loaded


def current_structure() -> Structure:
    """The process's copy of the Structure: one statement while the structure is unchanged."""
    return structure_cache.structure("product pages", _load_structure)


def _load_structure() -> Structure:
    from folio.renditions.models import ImageSlot

    attributes = {
        a.code: a for a in Attribute.objects.select_related("group", "measurement_family")
    }
    codes = {a.pk: a.code for a in attributes.values()}
    families: dict[int, list[str]] = defaultdict(list)
    members = Family.attributes.through.objects.values_list("family_id", "attribute_id")
    for family_id, attribute_id in members.iterator(chunk_size=10_000):
        if attribute_id in codes:  # not one created between the two statements
            families[family_id].append(codes[attribute_id])
    slots = Prefetch("image_slots", queryset=ImageSlot.objects.select_related("preset"))
    channels = list(Channel.objects.prefetch_related(slots).order_by("code"))
    return Structure(attributes=attributes, families=dict(families), channels=channels)


def _own_copy(attribute: Attribute) -> Attribute:
    """A copy of a shared attribute that this request may give option labels to. Shallow:
    its group and measurement family stay shared, and are only read."""
    own = Attribute.__new__(Attribute)
    own.__dict__ = dict(attribute.__dict__)
    return own


def attach_option_labels(attributes, *, option_codes=None) -> None:
    """Give each attribute `option_labels`: {option code: labels} in the options' order, what
    format_value names options by. One query (none when option_codes is empty).

    Read as rows, not prefetched: Django's prefetch builds a queryset per attribute, which was
    most of an SKU 360 page's time for a family of 50 attributes."""
    by_id = {a.pk: a for a in attributes}
    for a in by_id.values():
        a.option_labels = {}
    if not by_id or (option_codes is not None and not option_codes):
        return
    rows = AttributeOption.objects.filter(attribute_id__in=list(by_id))
    if option_codes is not None:
        rows = rows.filter(code__in=set(option_codes))
    for attribute_id, code, labels in rows.order_by(
        "attribute_id", "sort_order", "code"
    ).values_list("attribute_id", "code", "labels"):
        by_id[attribute_id].option_labels[code] = labels


def option_codes_in(resolved: dict) -> set[str]:
    """Every string a value entry holds that could be an option code (select and
    multi-select data are codes or lists of them)."""
    found = set()
    for entries in resolved.values():
        for e in entries:
            data = e.get("data")
            for item in data if isinstance(data, list) else [data]:
                if isinstance(item, str) and len(item) <= CODE_MAX:
                    found.add(item)
    return found


def _option_label(attribute: Attribute, code, locale: str | None) -> str:
    labels = attribute.option_labels.get(code) if isinstance(code, str) else None
    if labels is None:
        return str(code)
    return labels.get(locale or "", "") or labels.get("en_US", "") or code


def format_value(attribute: Attribute | None, data, locale: str | None = None) -> str:
    """One value as people of `locale` read it: "1,5 l", "$799.00 · €749.00", "Blue", "yes".
    `attribute` comes from load_attributes (options are named by attach_option_labels)."""
    if data is None or data == "" or data == []:
        return ""
    kind = attribute.type if attribute is not None else None
    T = Attribute.Type
    if kind == T.MEASUREMENT and isinstance(data, dict):
        unit = data.get("unit", "")
        units = (attribute.measurement_family.units or {}) if attribute.measurement_family else {}
        symbol = (units.get(unit) or {}).get("symbol", unit)
        return f"{amount(data.get('amount'), locale)} {symbol}".strip()
    if kind == T.PRICE and isinstance(data, list):
        # Without a locale: "24.90 USD, 22 EUR", as bulk edits and the CLI take prices. In a
        # locale's form not ", ": a comma is the decimal mark of many ("22,90 €, 24,90 $").
        separator = " · " if locale else ", "
        return separator.join(money(p.get("amount"), p.get("currency"), locale) for p in data)
    if kind == T.BOOLEAN:
        return "yes" if data is True else "no" if data is False else str(data)
    if kind == T.SELECT:
        return _option_label(attribute, data, locale)
    if kind == T.MULTISELECT and isinstance(data, list):
        return ", ".join(_option_label(attribute, c, locale) for c in data)
    if isinstance(data, list):
        return ", ".join(str(x) for x in data)
    if isinstance(data, dict):
        return ", ".join(f"{k}: {v}" for k, v in data.items())
    return str(data)


def applies(entry: dict, *, channel: str | None, locale: str | None) -> bool:
    """Whether a value entry is the one shown for `channel`/`locale` (None: show them all)."""
    if locale and entry.get("locale") not in (None, locale):
        return False
    return not (channel and entry.get("scope") not in (None, channel))


# --- links ----------------------------------------------------------------------------------


def resolved_links(product: Product, *, locale=None, channel=None) -> tuple[list[dict], dict]:
    """services.applicable_links's choice as one flat list ordered by role, position, and
    the linked assets by id (current version loaded, licensed channels prefetched)."""
    from folio.linking.services import applicable_links

    rows, assets = [], {}
    for role, entries in applicable_links(product, locale=locale, channel=channel).items():
        for lk, origin in entries:
            assets[lk.asset_id] = lk.asset
            rows.append(
                {
                    "link_id": lk.pk,
                    "asset_id": lk.asset_id,
                    "role": role,
                    "position": lk.position,
                    "locale": lk.locale or "",
                    "channel": channel.code if lk.channel_id and channel else None,
                    "origin": origin,
                    "source": lk.source,
                }
            )
    prefetch_related_objects(list(assets.values()), "channels")
    return rows, assets


def _renditions(assets: dict, links: list[dict], channels: list[Channel], locale) -> dict:
    """{(link_id, channel code): rendition summary} for links whose role a channel has an
    image slot for. One query for all renditions: the spec hashes are computed here."""
    from folio.renditions import presets as preset_service
    from folio.renditions.models import Rendition

    wanted = {}  # (link_id, channel) → (sha, spec_hash, slot, rank)
    ranks: dict[tuple, int] = defaultdict(int)
    for link in links:
        asset = assets.get(link["asset_id"])
        if asset is None or asset.current_version is None:
            continue
        for ch in channels:
            if link["channel"] and link["channel"] != ch.code:
                continue
            for slot in ch.image_slots.all():  # prefetched with presets
                if slot.role != link["role"] or slot.preset.kind != asset.type:
                    continue
                ranks[(ch.code, slot.role)] += 1
                spec = preset_service.effective_spec(slot.preset, locale)
                wanted[(link["link_id"], ch.code)] = (
                    asset.current_version.blob_id,
                    preset_service.spec_hash(spec),
                    slot,
                    ranks[(ch.code, slot.role)],
                )
    if not wanted:
        return {}
    shas = {w[0] for w in wanted.values()}
    hashes = {w[1] for w in wanted.values()}
    found = {
        (r.source_sha256, r.spec_hash): r
        for r in Rendition.objects.filter(source_sha256__in=shas, spec_hash__in=hashes)
    }
    out = {}
    for key, (sha, spec_hash, slot, rank) in wanted.items():
        r = found.get((sha, spec_hash))
        out[key] = {
            "channel": key[1],
            "preset": slot.preset.code,
            "required": slot.required,
            # A slot takes at most max_count files; later ones are not sent to the channel.
            "within_slot": rank <= slot.max_count,
            "status": r.status if r else "missing",
            "compliance": (r.compliance or None) if r else None,
            "passed": (r.compliance or {}).get("passed") if r else None,
            "needs_review": r.needs_review if r else False,
            "width": r.width if r else None,
            "height": r.height if r else None,
        }
    return out


def _file(asset: Asset) -> dict | None:
    v = asset.current_version
    if v is None:
        return None
    return {
        "version": v.number,
        "filename": v.filename,
        "mime": v.mime,
        "size": v.size,
        "width": v.width,
        "height": v.height,
        "pixels": (v.width * v.height) if v.width and v.height else None,
    }


def links_detail(product: Product, *, channels: list[Channel], locale=None, channel=None):
    """Every resolved link with its asset's status, rights per channel, file, previews and
    renditions per the channels' image slots."""
    # A Channel object spares applicable_links looking the code up again.
    chosen = next((c for c in channels if c.code == channel), None) if channel else None
    links, assets = resolved_links(product, locale=locale, channel=chosen)
    previews = preview_states(assets.values()) if assets else {}
    renditions = _renditions(assets, links, channels, locale)
    out = []
    for link in links:
        asset = assets.get(link["asset_id"])
        if asset is None:
            continue
        rights = {}
        for ch in channels:
            ok, reasons = is_publishable(asset, channel=ch.code)
            rights[ch.code] = {"publishable": ok, "reasons": reasons}
        out.append(
            {
                **link,
                "scope": {"locale": link["locale"] or None, "channel": link["channel"]},
                "asset": {
                    "id": asset.pk,
                    "title": asset.title,
                    "type": asset.type,
                    "kind": asset.kind,
                    "status": asset.status,
                    "expires_at": asset.expires_at,
                },
                "rights": rights,
                "file": _file(asset),
                "previews": previews.get(asset.pk, {"state": "none", "previews": {}}),
                "renditions": [
                    renditions[(link["link_id"], ch.code)]
                    for ch in channels
                    if (link["link_id"], ch.code) in renditions
                ],
            }
        )
    return out


# --- facts --------------------------------------------------------------------------------------


def facts(
    product: Product,
    resolved: dict,
    origins: dict,
    *,
    channel=None,
    locale=None,
    structure: Structure | None = None,
):
    """Attribute groups in order, each with its attributes: label, type, origin ("self" or the
    product model's code; None when unset) and the values that apply, formatted."""
    # A family's select attributes carry hundreds of options; the page names only the ones
    # its values hold (the options' rows were most of a page's work at 1M products).
    attributes = load_attributes(
        resolved,
        family_id=product.family_id,
        option_codes=option_codes_in(resolved),
        structure=structure,
    )
    groups: dict[str, dict] = {}
    ordered = sorted(
        attributes.values(),
        key=lambda a: (
            a.group.sort_order if a.group_id else 10**6,
            a.group.code if a.group_id else "",
            a.sort_order,
            a.code,
        ),
    )
    for a in ordered:
        group = groups.setdefault(
            a.group.code if a.group_id else "",
            {
                "code": a.group.code if a.group_id else None,
                "label": a.group.label(locale) if a.group_id else "Other",
                "attributes": [],
            },
        )
        entries = [
            {**e, "display": format_value(a, e["data"], e.get("locale") or locale)}
            for e in resolved.get(a.code, [])
            if applies(e, channel=channel, locale=locale)
        ]
        group["attributes"].append(
            {
                "code": a.code,
                "label": a.label(locale),
                "type": a.type,
                "origin": origins.get(a.code),
                "values": entries,
            }
        )
    return list(groups.values())


# --- the whole picture ----------------------------------------------------------------------------


def _history(product: Product) -> list[dict]:
    out = []
    for c in ProductChange.objects.filter(product=product).order_by("-version")[:HISTORY_LIMIT]:
        attributes = sorted(
            {x.get("attribute") or x.get("field") for x in c.changes if isinstance(x, dict)}
            - {None}
        )
        out.append(
            {
                "version": c.version,
                "at": c.at,
                "user": c.username or "system",
                "via": c.via,
                "action": c.action,
                "attributes": attributes,
            }
        )
    return out


def _proposals(product: Product) -> list[dict]:
    return [
        {
            "id": p.pk,
            "proposed_by": p.proposed_by.username if p.proposed_by else None,
            "proposed_at": p.proposed_at,
            "base_version": p.base_version,
            "stale": p.base_version != product.version,
            "attributes": sorted((p.changes or {}).get("values", {})),
            "fields": sorted(k for k in (p.changes or {}) if k != "values"),
        }
        for p in Proposal.objects.filter(product=product, status=Proposal.Status.PENDING)
        .select_related("proposed_by")
        .order_by("proposed_at", "id")
    ]


def sku360(sku: str, *, user, channel: str | None = None, locale: str | None = None) -> dict:
    """Everything about product `sku` in one dict (see the module docstring). `channel` and
    `locale` narrow values, completeness, links and rights to one context."""
    if user is not None:
        require(user, "catalog.view_product")
        require(user, "linking.view_link")
    product = Product.objects.select_related("family", "parent__parent").filter(sku=sku).first()
    if product is None:
        raise NotFound(f"no product with SKU {sku!r}", details={"sku": sku})
    structure = current_structure()
    channels = structure.channels
    if channel is not None:
        if channel not in {c.code for c in channels}:
            raise NotFound(f"no channel {channel!r}", details={"channel": channel})
        channels = [c for c in channels if c.code == channel]
    resolved = catalog.resolved_values(product)
    origins = catalog.value_origins(product)
    chain = catalog.model_chain(product)
    completeness = [
        r
        for r in catalog.completeness_of(product)
        if (channel is None or r["channel"] == channel)
        and (locale is None or r["locale"] == locale)
    ]
    return {
        "product": {
            "sku": product.sku,
            "family": product.family.code if product.family_id else None,
            "parents": [m.code for m in chain],  # root first
            "enabled": product.enabled,
            "categories": sorted(product.categories.values_list("code", flat=True)),
            "groups": sorted(product.groups.values_list("code", flat=True)),
            "version": product.version,
            "updated_at": product.updated_at,
        },
        "context": {"channel": channel, "locale": locale},
        "facts": facts(
            product, resolved, origins, channel=channel, locale=locale, structure=structure
        ),
        "completeness": completeness,
        "links": links_detail(product, channels=channels, locale=locale, channel=channel),
        "history": _history(product),
        "proposals": _proposals(product),
        "publications": _publications(product),
    }


def _publications(product: Product) -> list[dict]:
    # Publishing reads linking, not the reverse: imported here, where it is used.
    from folio.publishing.history import last_publications

    return last_publications(product)
