"""From catalog, links and renditions to `Item`s a feed format can write — or the reasons a
product cannot go out.

One product in one locale of one feed becomes one Item: its values with inheritance resolved
for the locale and the feed's channel, mapped to the format's fields (the feed's mapping over
the format's default), its images (the channel's image slots filled from the product's links,
variant inheritance resolved, each a publishable, compliant rendition through the slot's
preset), its variant group and categories. A product that is disabled, incomplete for the
channel and locale, short of required media because of rights, approval or compliance, or
refused by the format's own checks is skipped instead, with every reason (REASONS).

Everything is read in bulk, with plain SQL: a fixed number of queries per batch of BATCH
products, whatever the batch holds. Missing renditions are the one exception: publishing
renders them (as the worker would) so a first publication does not wait for the queue.

`signatures` is the cheap half used by incremental runs: a hash of every input of a product's
listing, from a handful of queries and no value resolution or rendering, so that comparing
100,000 products with their listings costs a fraction of publishing them. A build hashes the
same rows it read, so a run's signatures cost no second read.
"""

import datetime
import functools
import hashlib
import json
import re
import string
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import nh3
from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify

from folio.assets.models import Asset
from folio.assets.rights import is_publishable
from folio.catalog import values as v
from folio.catalog.models import (
    Attribute,
    Category,
    Channel,
    Family,
    FamilyVariantAttribute,
    Locale,
)
from folio.errors import InvalidInput
from folio.linking.completeness import missing_code
from folio.linking.models import ROLES, MediaRequirement
from folio.linking.sku360 import attach_option_labels, format_value
from folio.publishing.feeds import effective_currency
from folio.publishing.formats.base import Format, Image, Item
from folio.renditions import delivery, operations
from folio.renditions import presets as preset_service
from folio.renditions.models import ImageSlot, Preset, Rendition
from folio.words import counted

BATCH = 500
SIGNATURE_BATCH = 2000  # a few plain queries per batch: larger batches, fewer round trips
T = Attribute.Type

REASONS = {
    "disabled": "Product disabled",
    "missing_attribute": "Missing attribute",
    "missing_media": "Missing media",
    "unapproved_image": "Unapproved image",
    "rights": "Usage rights (expired, not yet valid, or not licensed here)",
    "non_compliant_image": "Non-compliant image",
    "rendition_failed": "Rendition failed",
    "validation_failure": "Validation failure",
    "not_in_category_tree": "Not in the channel's category tree",
}
SPECIALS = ("sku", "gtin", "family", "category")
PLAIN = {T.IDENTIFIER, T.TEXT, T.TEXTAREA, T.DATE, T.NUMBER, T.PRODUCT_REFERENCE}
_FORMATTER = operations._Formatter()  # the file-name formatter ({position:PT}, {role:upper})
AMAZON_CODES = {"main": "MAIN", "swatch": "SWCH"}


def reason(code: str, message: str, **where) -> dict:
    return {"code": code, "message": message, **{k: w for k, w in where.items() if w is not None}}


# --- what a whole run shares ---------------------------------------------------------------------


@dataclass
class Structure:
    """Everything one run reads once: the channel, its slots and requirements, attributes,
    categories, the merged mapping; and the file names given out so far (a name holds one
    file per release)."""

    feed: Any
    fmt: Format
    channel: Channel
    currency: str
    at: Any
    attributes: dict[str, Attribute]
    gtin: str | None
    mapping: dict[str, dict]
    slots: dict[str, ImageSlot]  # role → slot, in publishing order (main first)
    requirements: dict[int, dict[str, MediaRequirement]]  # family id → role → requirement
    roles: list[str]  # slot roles, then roles only a requirement names
    role_presets: dict[str, list[Preset]]  # every preset a role's images are checked with
    categories: dict[int, tuple[str, str, dict]]  # id → (code, path, labels), in the tree
    families: dict[int, Family]
    axes: dict[int, list[str]]  # family variant id → axis attributes, level order
    public_base_url: str
    version_key: str
    channel_refs: dict[int, Any] = field(default_factory=dict)  # id → object with .code
    filenames: dict[str, str] = field(default_factory=dict)  # published name → sha256
    signatures: dict[int, str] = field(default_factory=dict)  # left by build_items
    _keys: dict = field(default_factory=dict)
    _hashes: dict = field(default_factory=dict)
    _locale_ids: dict = field(default_factory=dict)
    _slugs: dict = field(default_factory=dict)
    _texts: dict = field(default_factory=dict)
    _paths: dict = field(default_factory=dict)
    _labels: dict = field(default_factory=dict)  # category code → labels
    _templates: dict = field(default_factory=dict)

    def key(self, preset: Preset, locale: str) -> tuple[str, dict, str]:
        """(spec hash, effective spec, applied locale) of a preset for a locale, once."""
        k = (preset.pk, locale)
        if k not in self._keys:
            spec = preset_service.effective_spec(preset, locale)
            self._keys[k] = (
                preset_service.spec_hash(spec),
                spec,
                preset_service.applied_locale(preset, locale),
            )
        return self._keys[k]

    def locale_id(self, locale: str) -> int | None:
        if locale not in self._locale_ids:
            self._locale_ids[locale] = (
                Locale.objects.filter(code=locale).values_list("pk", flat=True).first()
            )
        return self._locale_ids[locale]

    def hashes(self, locale: str) -> list[str]:
        """The spec hashes of every preset a role's images go through, for the locale."""
        if locale not in self._hashes:
            self._hashes[locale] = sorted(
                {self.key(p, locale)[0] for ps in self.role_presets.values() for p in ps}
            )
        return self._hashes[locale]

    def slug(self, asset) -> str:
        if asset.pk not in self._slugs:
            self._slugs[asset.pk] = slugify(asset.title)[:80] or f"asset-{asset.pk}"
        return self._slugs[asset.pk]

    def text(self, a: Attribute, data, locale: str) -> str:
        """A value as people read it (linking.sku360.format_value), remembered for the
        values that repeat across products (options, units, prices, yes/no)."""
        if a.type in PLAIN:
            return str(data) if not isinstance(data, list) else format_value(a, data, locale)
        k = (a.code, locale, _frozen(data))
        if k not in self._texts:
            self._texts[k] = format_value(a, data, locale)
        return self._texts[k]

    def category_path(self, path: str, locale: str) -> list[str]:
        """Labels of the categories from below the tree's root down to `path`'s last."""
        k = (path, locale)
        if k not in self._paths:
            if not self._labels:
                self._labels.update({c[0]: c[2] for c in self.categories.values()})
            labels = [self._labels.get(code) or {} for code in path.split("/")[1:]]
            self._paths[k] = [
                lb.get(locale) or lb.get("en_US") or code
                for lb, code in zip(labels, path.split("/")[1:], strict=True)
            ]
        return self._paths[k]

    def _parts(self, template: str) -> list[tuple]:
        parts = self._templates.get(template)
        if parts is None:
            parts = list(string.Formatter().parse(template))
            operations.filename(template, **{n: 1 for _, n, _, _ in parts if n})  # checks it
            self._templates[template] = parts
        return parts

    def uses(self, template: str, name: str) -> bool:
        """Whether a file name template has the placeholder `name`."""
        return any(n == name for _, n, _, _ in self._parts(template))

    def filename(self, template: str, **values) -> str:
        """operations.filename with the template read once per run (the same fields, the
        same formatting, the same safe result, the same refusal of a missing value)."""
        parts = self._parts(template)
        missing = [n for _, n, _, _ in parts if n and values.get(n) in (None, "")]
        if missing:
            raise InvalidInput(
                f"the file name template {template!r} needs {', '.join(missing)}, "
                "which this product or image does not have",
                details={"missing": missing, "template": template},
            )
        formatter = _FORMATTER
        text = "".join(
            literal
            + (
                (formatter.format_field(values[name], spec) if spec else str(values[name]))
                if name
                else ""
            )
            for literal, name, spec, _ in parts
        )
        return operations.sanitise_filename(text)

    def claim(self, filename: str, sha256: str) -> tuple[str, bool]:
        """(`filename`, or a variant of it when another file already holds that name in this
        release — two assets titled alike, a market override's other bytes; whether this
        call took the name first)."""
        held = self.filenames.get(filename)
        if held is not None and held != sha256:
            stem, dot, ext = filename.rpartition(".")
            filename = f"{stem}-{sha256[:8]}.{ext}" if dot else f"{filename}-{sha256[:8]}"
            held = self.filenames.get(filename)
        if held is None:
            self.filenames[filename] = sha256
        return filename, held is None


def load(feed, fmt: Format, *, at=None) -> Structure:
    at = at or timezone.now()
    channel = feed.channel
    attributes = {a.code: a for a in Attribute.objects.select_related("measurement_family")}
    attach_option_labels(attributes.values())
    gtin = next(
        (
            a.code
            for a in sorted(attributes.values(), key=lambda a: (a.sort_order, a.code))
            if a.is_gtin
        ),
        None,
    )
    slots = _slots(channel)
    requirements = _requirements(channel)
    roles = list(slots) + sorted(
        {r for by_role in requirements.values() for r in by_role} - set(slots), key=_role_order
    )
    role_presets: dict[str, list[Preset]] = {}
    for role in roles:
        presets = {slots[role].preset.pk: slots[role].preset} if role in slots else {}
        for by_role in requirements.values():
            req = by_role.get(role)
            if req is not None and req.compliant_preset_id:
                presets.setdefault(req.compliant_preset_id, req.compliant_preset)
        role_presets[role] = list(presets.values())
    categories = _categories(channel)
    families = {f.pk: f for f in Family.objects.select_related("label_attribute")}
    axes: dict[int, list[str]] = defaultdict(list)
    for fv_id, code in (
        FamilyVariantAttribute.objects.filter(is_axis=True)
        .order_by("family_variant_id", "level", "attribute__code")
        .values_list("family_variant_id", "attribute__code")
    ):
        axes[fv_id].append(code)
    mapping = {**(fmt.default_mapping or {}), **(feed.mapping or {})}
    mapping = {name: rule for name, rule in mapping.items() if rule}
    public_base_url = ((feed.destination or {}).get("public_base_url") or "").rstrip("/")
    structure = Structure(
        feed=feed,
        fmt=fmt,
        channel=channel,
        currency=effective_currency(feed),
        at=at,
        attributes=attributes,
        gtin=gtin,
        mapping=mapping,
        slots=slots,
        requirements=requirements,
        roles=roles,
        role_presets=role_presets,
        categories=categories,
        families=families,
        axes=dict(axes),
        public_base_url=public_base_url,
        version_key="",
        channel_refs={
            pk: SimpleNamespace(code=code) for pk, code in Channel.objects.values_list("pk", "code")
        },
    )
    structure.version_key = _version_key(structure)
    return structure


def _role_order(role: str):
    return (ROLES.index(role), role) if role in ROLES else (len(ROLES), role)


def _slots(channel: Channel) -> dict[str, ImageSlot]:
    slots = [
        s
        for s in ImageSlot.objects.filter(channel=channel).select_related("preset")
        if s.preset.kind == "image"
    ]
    return {s.role: s for s in sorted(slots, key=lambda s: _role_order(s.role))}


def _requirements(channel: Channel) -> dict[int, dict[str, MediaRequirement]]:
    out: dict[int, dict[str, MediaRequirement]] = defaultdict(dict)
    for r in MediaRequirement.objects.filter(channel=channel).select_related("compliant_preset"):
        out[r.family_id][r.role] = r
    return dict(out)


def _categories(channel: Channel) -> dict[int, tuple[str, str, dict]]:
    qs = Category.objects.all()
    if channel.category_tree_id:
        root = Category.objects.get(pk=channel.category_tree_id)
        qs = qs.filter(Q(path=root.path) | Q(path__startswith=f"{root.path}/"))
    return {
        pk: (code, path, labels)
        for pk, code, path, labels in qs.values_list("pk", "code", "path", "labels")
    }


def _version_key(s: Structure) -> str:
    """A hash of what every listing of the run depends on besides its product: the feed,
    format, channel, slots and presets, requirements, attributes and options, categories,
    families and the public addresses."""
    feed = s.feed
    parts = [
        feed.pk,
        feed.version,
        s.fmt.code,
        s.fmt.version,
        s.channel.pk,
        s.channel.version,
        s.currency,
        settings.PUBLIC_URL,
        s.public_base_url,
        [
            (r, sl.preset_id, sl.preset.version, sl.max_count, sl.required, sl.filename_template)
            for r, sl in s.slots.items()
        ],
        sorted(
            (
                f,
                r,
                q.min_count,
                q.compliant_preset_id,
                q.compliant_preset.version if q.compliant_preset_id else None,
            )
            for f, by_role in s.requirements.items()
            for r, q in by_role.items()
        ),
        sorted((a.code, a.version) for a in s.attributes.values()),
        sorted(
            (code, sorted(a.option_labels.items()))
            for code, a in s.attributes.items()
            if a.option_labels
        ),
        sorted((pk, c[1], c[2]) for pk, c in s.categories.items()),
        sorted((f.pk, f.version, f.label_attribute_id) for f in s.families.values()),
        sorted(s.axes.items()),
    ]
    return _hash(parts)


def _hash(value) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


# --- links, in bulk --------------------------------------------------------------------------


def applicable_links(
    chains: dict[int, list[int]], roles: list[str], locale: str, channel_id: int
) -> dict[int, dict[str, list[int]]]:
    """{product id: {role: [asset ids in order]}} as linking.services.links_for resolves
    them, for many products in two queries: per role the nearest level with links that
    apply to the locale and channel wins (the variant, its sub-model, its root model);
    within it a link scoped to the locale or channel beats the unscoped link of the same
    asset.

    `chains` maps each product to its models, nearest first."""
    model_ids = sorted({m for chain in chains.values() for m in chain})
    rows = _link_rows(list(chains), model_ids, roles, locale, channel_id, timezone.now())
    return _by_level(chains, roles, rows)


def _link_rows(product_ids, model_ids, roles, locale: str, channel_id: int, at) -> list[tuple]:
    """The links of the products and of the models that apply to a locale and channel, each
    with its asset's state (_LINKS_SQL's columns). The database is asked by owner only, one
    query per kind of owner, so that each is served by the owner's index (asked for roles,
    locales and channels too, a planner may prefer an index that reads every link); the few
    others are dropped here."""
    if not roles:
        return []
    moment = connection.ops.adapt_datetimefield_value(at)
    wanted_roles, locales, channels = set(roles), {"", locale}, {None, channel_id}
    rows = []
    for column, owners in (("product_id", product_ids), ("product_model_id", model_ids)):
        if owners:
            rows += [
                row
                for row in _sql(_LINKS_SQL.format(owner=column), [moment, moment], owners)
                if row[3] in wanted_roles and row[5] in locales and row[6] in channels
            ]
    return rows


def _by_level(chains: dict[int, list[int]], roles, rows: list[tuple]) -> dict:
    """applicable_links's choice from the link rows of the products and their models."""
    owned: dict[tuple, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        owner = ("p", row[0]) if row[0] else ("m", row[1])
        owned[owner][row[3]].append(row)
    out: dict[int, dict[str, list[int]]] = {}
    for pid, chain in chains.items():
        levels = [("p", pid)] + [("m", m) for m in chain]
        by_role = {}
        for role in roles:
            for level in levels:
                found = owned.get(level, {}).get(role)
                if found:
                    by_role[role] = _ordered_assets(found)
                    break
        out[pid] = by_role
    return out


def _ordered_assets(rows: list[tuple]) -> list[int]:
    """Each asset once (a link scoped to the locale or channel beats the unscoped one), in
    position order."""
    chosen: dict[int, tuple] = {}
    for row in rows:
        prev = chosen.get(row[7])
        if prev is None or ((row[5] or row[6]) and not (prev[5] or prev[6])):
            chosen[row[7]] = row
    return [r[7] for r in sorted(chosen.values(), key=lambda r: (r[4], r[2]))]


# --- the rows of a batch ------------------------------------------------------------------------


@dataclass(slots=True)
class _Model:
    pk: int
    code: str
    version: int
    family_variant_id: int
    values: dict


@dataclass(slots=True)
class _Product:
    pk: int
    sku: str
    version: int
    enabled: bool
    family_id: int | None
    parent_id: int | None
    grand_id: int | None
    values: dict


class _Licensed(list):
    """An asset's licensed channels as `is_publishable` reads them (`.all()`, `.code`)."""

    def all(self):
        return self


@dataclass(slots=True)
class _Asset:
    """What rights, images and signatures read of an asset (no model instance needed)."""

    pk: int
    version: int
    status: str
    current_version_id: int | None
    external_id: str
    valid_from: Any
    expires_at: Any
    type: str
    blob: str | None  # sha256 of the current file
    number: int | None  # its version number
    channels: _Licensed
    territories: list = field(default_factory=list)
    title: str = ""
    alt: str = ""


@dataclass(slots=True)
class _Rendition:
    pk: int
    status: str
    blob_id: str | None
    storage_name: str
    format: str
    width: int | None
    height: int | None
    passed: bool | None
    needs_review: bool
    error: str

    @classmethod
    def of(cls, r: Rendition) -> "_Rendition":
        return cls(
            r.pk,
            r.status,
            r.blob_id,
            r.blob.storage_name if r.blob_id else "",
            r.format,
            r.width,
            r.height,
            (r.compliance or {}).get("passed"),
            r.needs_review,
            r.error,
        )


class _Rows:
    """Everything one batch of products needs to be built, each kind read with one plain SQL
    query (the batch's ids as parameters: no per-value preparation by the ORM): products
    with their completeness, their models, categories, links with their assets' state,
    assets with their licences, renditions. The same rows give each product's signature
    (`signatures`), so a run reads them once."""

    def __init__(self, s: Structure, ids: list[int], locale: str, at):
        self.s, self.ids, self.locale, self.at = s, ids, locale, at
        self.territory = delivery.territory_of(locale)
        self.rendered = False  # whether building made a rendition (the rows are then stale)
        rows = _sql(_PRODUCTS_SQL.format(values=', p."values"'), _product_params(s, locale), ids)
        self.product_rows = [row[:-1] for row in rows]
        self.products = [
            _Product(r[0], r[1], r[2], bool(r[3]), r[4], r[5], r[7], _json(r[11]) or {})
            for r in rows
        ]
        self.completeness = {r[0]: (r[9], _json(r[10]) or []) for r in rows if r[9] is not None}
        chains = {p.pk: [m for m in (p.parent_id, p.grand_id) if m] for p in self.products}
        model_ids = sorted({m for chain in chains.values() for m in chain})
        self.models = {
            r[0]: _Model(r[0], r[1], r[2], r[3], _json(r[4]) or {})
            for r in _sql(_MODELS_SQL, [], model_ids)
        }
        self.categories = _category_ids(chains, model_ids)
        self.link_rows = _link_rows(list(chains), model_ids, s.roles, locale, s.channel.pk, at)
        self.links = _by_level(chains, s.roles, self.link_rows)
        asset_ids = {a for by_role in self.links.values() for x in by_role.values() for a in x}
        self.assets = _assets(s, asset_ids, locale)
        # the renditions of every linked file (signatures look at all levels' links)
        self.rendition_rows = _rendition_rows(s, locale, {r[10] for r in self.link_rows})
        self.renditions = {
            (r[0], r[1]): _Rendition(
                r[6], r[2], r[3], r[7] or "", r[8], r[9], r[10], _passed(r[11]), bool(r[4]), r[12]
            )
            for r in self.rendition_rows
        }

    def signatures(self) -> dict[int, str]:
        """Each product's signature as things stand after the build (read again when the
        build made renditions)."""
        if self.rendered:
            return _signature_batch(self.s, self.ids, self.locale, self.at)
        return _signed(
            self.s,
            self.locale,
            self.product_rows,
            _media(self.s, self.locale, self.link_rows, self.rendition_rows),
        )


def _json(value):
    """A JSON column as read by plain SQL: text on SQLite and, through Django's loaders, on
    PostgreSQL."""
    return json.loads(value) if isinstance(value, str | bytes) else value


def _when(value):
    """A datetime column as read by plain SQL: aware, as the ORM gives it (SQLite's stored
    text, or Django's converter of it, is naive UTC)."""
    if isinstance(value, str):
        value = datetime.datetime.fromisoformat(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=datetime.UTC)
    return value


def _passed(value) -> bool | None:
    """compliance→passed as each database's JSON operator gives it."""
    return None if value is None else value in (True, 1, "true")


def _assets(s: Structure, asset_ids: set[int], locale: str) -> dict[int, _Asset]:
    """The assets, with what rights and images read: licensed channels and territories,
    title, the alt text in the locale."""
    if not asset_ids:
        return {}
    asset_ids = sorted(asset_ids)
    licensed: dict[int, _Licensed] = defaultdict(_Licensed)
    for aid, cid in _sql(_LICENCES_SQL, [], asset_ids):
        licensed[aid].append(s.channel_refs[cid])
    out = {}
    for row in _sql(_ASSETS_SQL, [], asset_ids):
        # JSON decoded only where there is something: most assets have no territories
        territories, alt = row[10], row[12]
        a = _Asset(
            *row[:5],
            _when(row[5]),
            _when(row[6]),
            *row[7:10],
            channels=licensed.get(row[0], _Licensed()),
            title=row[11],
        )
        if territories and territories not in ("[]", "null"):
            a.territories = _json(territories)
        if alt and alt not in ("{}", "null"):
            a.alt = (_json(alt) or {}).get(locale) or ""
        out[a.pk] = a
    return out


def _category_ids(chains: dict[int, list[int]], model_ids: list[int]) -> dict[int, list[int]]:
    """Category ids of each product, its own and its models' (one query each; `model_ids`:
    every model of the chains)."""
    own = defaultdict(set)
    for pid, cid in _sql(_PRODUCT_CATEGORIES_SQL, [], list(chains)):
        own[pid].add(cid)
    by_model = defaultdict(set)
    for mid, cid in _sql(_MODEL_CATEGORIES_SQL, [], model_ids):
        by_model[mid].add(cid)
    out = {}
    for pid, chain in chains.items():
        found = set(own.get(pid, ()))
        for m in chain:
            found |= by_model.get(m, set())
        out[pid] = sorted(found)
    return out


def _ids(products) -> list[int]:
    return [p if isinstance(p, int) else p.pk for p in products]


# --- signatures ------------------------------------------------------------------------------


def signatures(
    feed, products, locale: str, *, at=None, structure: Structure | None = None
) -> dict[int, str]:
    """{product id: hash of every input of its listing in `locale`}: the product's and its
    models' versions, its completeness, the links of the product and its models that apply
    to the locale and channel (all levels: a superset of what inheritance picks), each
    linked asset's version, file, status and whether `at` is inside its rights window, the
    state of its renditions through the roles' presets, and the run-wide key (feed,
    channel, slots, presets, attributes, categories…).

    A few plain queries per batch, computed as far as possible by the database; no
    values resolved, nothing rendered. Categories and licences are edited through services
    that raise the product's, model's or asset's version, so the versions stand for them."""
    if structure is None:
        from folio.publishing.formats import get_format

        structure = load(feed, get_format(feed.format), at=at)
    at = at or structure.at
    ids = _ids(products)
    out: dict[int, str] = {}
    for start in range(0, len(ids), SIGNATURE_BATCH):
        out.update(_signature_batch(structure, ids[start : start + SIGNATURE_BATCH], locale, at))
    return out


def _signature_batch(s: Structure, ids: list[int], locale: str, at) -> dict[int, str]:
    products = _sql(_PRODUCTS_SQL.format(values=""), _product_params(s, locale), ids)
    model_ids = sorted({m for row in products for m in (row[5], row[7]) if m})
    links = _link_rows([row[0] for row in products], model_ids, s.roles, locale, s.channel.pk, at)
    renditions = _rendition_rows(s, locale, {row[10] for row in links})
    return _signed(s, locale, products, _media(s, locale, links, renditions))


def _signed(s: Structure, locale: str, products: list[tuple], owned: dict) -> dict[int, str]:
    out = {}
    key, sha256, empty = (s.version_key, locale), hashlib.sha256, ()
    for row in products:
        media = (
            owned.get(row[0], empty),
            owned.get(-row[5], empty) if row[5] else empty,
            owned.get(-row[7], empty) if row[7] else empty,
        )
        out[row[0]] = sha256(repr((key, row, media)).encode()).hexdigest()
    return out


def _media(s: Structure, locale: str, links: list[tuple], renditions: list[tuple]) -> dict:
    """{product id | -model id: the owner's applicable links, each with its asset's state
    and its renditions' states}."""
    hashes = s.hashes(locale)
    by_file: dict[str, dict] = defaultdict(dict)
    for row in renditions:
        by_file[row[0]][row[1]] = row[2:6]  # status, file, needs review, preset version
    none = (None,) * len(hashes)
    made = {sha: tuple([by_hash.get(h) for h in hashes]) for sha, by_hash in by_file.items()}
    owned: dict[int, list] = defaultdict(list)
    for row in links:
        owned[row[0] or -row[1]].append((row, made.get(row[10], none)))
    return {owner: tuple(states) for owner, states in owned.items()}


def _rendition_rows(s: Structure, locale: str, shas) -> list[tuple]:
    """The renditions of these files through the presets the roles use (_RENDITIONS_SQL's
    columns)."""
    if not s.roles:
        return []
    hashes = s.hashes(locale)
    shas = sorted(sha for sha in shas if sha)
    sql = _RENDITIONS_SQL.format(
        hashes=", ".join(["%s"] * len(hashes)),
        passed="r.compliance ->> 'passed'"
        if connection.vendor == "postgresql"
        else "json_extract(r.compliance, '$.passed')",
    )
    rows = []
    for start in range(0, len(shas), 4 * SIGNATURE_BATCH):
        rows += _sql(sql, list(hashes), shas[start : start + 4 * SIGNATURE_BATCH])
    return rows


def _product_params(s: Structure, locale: str) -> list:
    return [s.channel.pk, s.locale_id(locale)]


# A batch reads many rows: plain SQL, with the batch's ids as the last parameters, skips the
# ORM's per-value and per-row conversions. Signatures hash the rows as read (each database
# returns them the same way every time), so their columns change only with Format.version.
_PRODUCTS_SQL = """
SELECT p.id, p.sku, p.version, p.enabled, p.family_id, p.parent_id, m.version, m.parent_id,
       g.version, c.ratio, c.missing{values}
FROM catalog_product p
LEFT JOIN catalog_productmodel m ON m.id = p.parent_id
LEFT JOIN catalog_productmodel g ON g.id = m.parent_id
LEFT JOIN catalog_completeness c
       ON c.product_id = p.id AND c.channel_id = %s AND c.locale_id = %s
WHERE p.id IN ({{ids}})
ORDER BY p.sku
"""
_MODELS_SQL = """
SELECT id, code, version, family_variant_id, "values" FROM catalog_productmodel
WHERE id IN ({ids})
"""
_PRODUCT_CATEGORIES_SQL = """
SELECT product_id, category_id FROM catalog_product_categories WHERE product_id IN ({ids})
"""
_MODEL_CATEGORIES_SQL = """
SELECT productmodel_id, category_id FROM catalog_productmodel_categories
WHERE productmodel_id IN ({ids})
"""
_LINKS_SQL = """
SELECT l.product_id, l.product_model_id, l.id, l.role, l.position, l.locale, l.channel_id,
       l.asset_id, a.version, a.status, v.blob_id, v.number, a.type,
       CASE WHEN (a.valid_from IS NULL OR a.valid_from <= %s)
             AND (a.expires_at IS NULL OR a.expires_at > %s) THEN 1 ELSE 0 END
FROM linking_link l
JOIN assets_asset a ON a.id = l.asset_id
LEFT JOIN assets_assetversion v ON v.id = a.current_version_id
WHERE l.{owner} IN ({{ids}})
ORDER BY l.id
"""
_ASSETS_SQL = """
SELECT a.id, a.version, a.status, a.current_version_id, a.external_id, a.valid_from,
       a.expires_at, a.type, v.blob_id, v.number, a.territories, a.title, a.alt_text
FROM assets_asset a
LEFT JOIN assets_assetversion v ON v.id = a.current_version_id
WHERE a.id IN ({ids})
"""
_LICENCES_SQL = """
SELECT asset_id, channel_id FROM assets_asset_channels WHERE asset_id IN ({ids})
"""
_RENDITIONS_SQL = """
SELECT r.source_sha256, r.spec_hash, r.status, r.blob_id, r.needs_review, r.preset_version,
       r.id, b.storage_name, r.format, r.width, r.height, {passed}, r.error
FROM renditions_rendition r
LEFT JOIN assets_blob b ON b.sha256 = r.blob_id
WHERE r.spec_hash IN ({hashes}) AND r.source_sha256 IN ({{ids}})
"""


def _sql(sql: str, params: list, ids) -> list[tuple]:
    ids = list(ids)
    if not ids:
        return []
    with connection.cursor() as cursor:
        cursor.execute(sql.format(ids=", ".join(["%s"] * len(ids))), [*params, *ids])
        return cursor.fetchall()


# --- building items ------------------------------------------------------------------------------


def build_items(
    feed, fmt: Format, products, locale: str, *, structure: Structure | None = None, at=None
) -> tuple[list[Item], dict[str, list[dict]]]:
    """Items ready for the format, and for every product that cannot go out its SKU → every
    reason. `products` are ids or Product rows; they are read again here, in batches.

    The signature of each product as it stands after this (renditions made included) is
    left in `structure.signatures`, so a run records it without reading everything again."""
    structure = structure or load(feed, fmt, at=at)
    at = at or structure.at
    items: list[Item] = []
    skipped: dict[str, list[dict]] = {}
    ids = _ids(products)
    for start in range(0, len(ids), BATCH):
        batch = ids[start : start + BATCH]
        rows = _Rows(structure, batch, locale, at)
        for product in rows.products:
            item, reasons = _Builder(structure, rows, product).build()
            if reasons:
                skipped[product.sku] = reasons
            else:
                items.append(item)
        structure.signatures.update(rows.signatures())
    return items, skipped


class _Builder:
    """One product in one locale: values, mapped fields, images, and the reasons it is
    skipped."""

    def __init__(self, s: Structure, batch: _Rows, product: _Product):
        self.s, self.batch, self.product = s, batch, product
        self.locale = batch.locale
        chain = [
            batch.models[m] for m in (product.grand_id, product.parent_id) if m in batch.models
        ]
        self.root = chain[0] if chain else None
        self.doc = v.resolve(*(m.values for m in chain), product.values)
        self.reasons: list[dict] = []
        self.claimed: list[str] = []  # file names this product took first in the release
        self.amazon_codes: list[str] = []
        self._cats: tuple[list[str], list[str]] | None = None

    @functools.cached_property
    def gtin(self):
        """The product's GTIN, which names its images (once, not once per image)."""
        return self.value(self.s.gtin) if self.s.gtin else None

    def build(self) -> tuple[Item | None, list[dict]]:
        p, s = self.product, self.s
        if not p.enabled:
            self._add(reason("disabled", f"{p.sku} is disabled"))
        self._completeness()
        fields = self._fields()
        categories, path = self._categories()
        item = Item(
            sku=p.sku,
            product_id=p.pk,
            locale=self.locale,
            currency=s.currency,
            fields=fields,
            values=self._values() if s.fmt.reads_values else {},
            images=[],
            enabled=p.enabled,
            group=self.root.code if self.root else None,
            group_title=self._group_title(),
            axes=self._axes(),
            categories=categories,
            category_path=path,
            family=s.families[p.family_id].code if p.family_id in s.families else None,
            product_version=p.version,
        )
        item.images = self._images()
        for problem in s.fmt.check(item):
            self._add(reason("validation_failure", problem.message, field=problem.field))
        if self.reasons:
            for name in self.claimed:  # a skipped product holds no file name
                s.filenames.pop(name, None)
        return item, self.reasons

    def _add(self, r: dict) -> None:
        if r not in self.reasons:
            self.reasons.append(r)

    # values

    def value(self, code: str, rule: dict | None = None):
        a = self.s.attributes.get(code)
        if a is None:
            return None
        rule = rule or {}
        locale = (rule.get("locale") or self.locale) if a.localizable else None
        scope = (rule.get("scope") or self.s.channel.code) if a.scopable else None
        return v.value_of(self.doc, code, locale, scope)

    def readable(self, code: str) -> str:
        a = self.s.attributes.get(code)
        data = self.value(code)
        if a is None or data is None:
            return ""
        text = self.s.text(a, data, self.locale)
        if a.type == T.TEXTAREA and "<" in text:
            text = nh3.clean(text, tags=set())
        return text

    @functools.cached_property
    def title(self) -> str:
        """The product's label in the locale (an image without alt text of its own has it)."""
        family = self.s.families.get(self.product.family_id)
        code = family.label_attribute.code if family and family.label_attribute_id else "name"
        return self.readable(code)

    def _values(self) -> dict[str, dict]:
        out = {}
        for code in self.doc:
            a = self.s.attributes.get(code)
            data = self.value(code)
            if a is None or data is None:
                continue
            out[code] = {
                "label": a.label(self.locale),
                "value": self.s.text(a, data, self.locale),
                "data": data,
            }
        return out

    def _completeness(self) -> None:
        """Missing attributes from the stored completeness; media requirements are checked
        again below, at the moment of publication (rights end, renditions get made)."""
        row = self.batch.completeness.get(self.product.pk)
        if row is None or row[0] >= 100:
            return
        for code in row[1]:
            if code.startswith("media:"):
                continue
            a = self.s.attributes.get(code)
            label = a.label(self.locale) if a else code
            self._add(
                reason(
                    "missing_attribute",
                    f"{label} ({code}) is required in {self.s.channel.code} and empty for "
                    f"{self.locale}",
                    attribute=code,
                    locale=self.locale,
                )
            )

    # mapped fields

    def _fields(self) -> dict[str, Any]:
        fields = {}
        required = set(self.s.fmt.required_fields)
        for name, rule in self.s.mapping.items():
            value, source = self._mapped(name, rule)
            value = self._limit(name, rule, value)
            if _empty(value):
                if name in required:
                    self._missing(name, rule, source)
                continue
            fields[name] = value
        for name in required - set(self.s.mapping):
            self._add(reason("missing_attribute", f"{name} has no mapping", field=name))
        return fields

    def _missing(self, name: str, rule: dict, source: str | None) -> None:
        a = self.s.attributes.get(source or "")
        if a is not None:
            self._add(
                reason(
                    "missing_attribute",
                    f"{name} needs {a.label(self.locale)} ({a.code}), which is empty for "
                    f"{self.locale}",
                    attribute=a.code,
                    field=name,
                    locale=self.locale,
                )
            )
        else:
            self._add(
                reason(
                    "missing_attribute",
                    f"{name} is empty for {self.locale}",
                    field=name,
                    locale=self.locale,
                    attribute=source if source and source.startswith("@") else None,
                )
            )

    def _mapped(self, name: str, rule: dict) -> tuple[Any, str | None]:
        if "constant" in rule:
            return rule["constant"], None
        if "template" in rule:
            return self._template(rule["template"]), None
        code = rule.get("attribute")
        if not code:
            return None, None
        if code.startswith("@"):
            return self._special(code[1:]), code
        return self._typed(code, self.value(code, rule)), code

    def _special(self, name: str):
        p, s = self.product, self.s
        if name == "sku":
            return p.sku
        if name == "gtin":
            return self.gtin
        if name == "family":
            family = s.families.get(p.family_id)
            return family.label(self.locale) if family else None
        if name == "category":
            return " > ".join(self._categories()[1]) or None
        return None

    def _template(self, template: str) -> str | None:
        def value(name: str) -> str:
            if name in SPECIALS:
                return str(self._special(name) or "")
            return self.readable(name)

        return fill_template(template, value)

    def _typed(self, code: str, data):
        if data is None or data == "" or data == []:
            return None
        a = self.s.attributes[code]
        labels = a.option_labels
        if a.type == T.NUMBER:
            return _decimal(data)
        if a.type == T.BOOLEAN:
            return bool(data)
        if a.type == T.SELECT:
            return _label(labels.get(data), self.locale, data)
        if a.type == T.MULTISELECT:
            return [_label(labels.get(o), self.locale, o) for o in data]
        if a.type == T.PRICE:
            for p in data:
                if p.get("currency") == self.s.currency:
                    return {"amount": _decimal(p["amount"]), "currency": self.s.currency}
            return None
        if a.type == T.MEASUREMENT:
            units = (a.measurement_family.units or {}) if a.measurement_family_id else {}
            symbol = (units.get(data.get("unit")) or {}).get("symbol") or data.get("unit")
            return {"amount": _decimal(data.get("amount")), "unit": symbol}
        if isinstance(data, list):
            return [str(x) for x in data]
        return str(data)

    def _limit(self, name: str, rule: dict, value):
        limit = rule.get("max_length")
        if not limit or not isinstance(value, str) or len(value) <= limit:
            return value
        if rule.get("truncate"):
            return truncate(value, int(limit))
        self._add(
            reason(
                "validation_failure",
                f"{name} is {len(value)} characters, the mapping allows {limit}",
                field=name,
            )
        )
        return value

    # variants and categories

    def _group_title(self) -> str:
        if self.root is None:
            return ""
        family = self.s.families.get(self.product.family_id)
        code = family.label_attribute.code if family and family.label_attribute_id else "name"
        a = self.s.attributes.get(code)
        if a is None:
            return self.root.code
        locale = self.locale if a.localizable else None
        scope = self.s.channel.code if a.scopable else None
        return str(v.value_of(self.root.values, code, locale, scope) or self.root.code)

    def _axes(self) -> list[dict]:
        if self.root is None:
            return []
        out = []
        for code in self.s.axes.get(self.root.family_variant_id, []):
            a = self.s.attributes.get(code)
            data = self.value(code)
            if a is None or data is None:
                continue
            out.append(
                {
                    "attribute": code,
                    "label": a.label(self.locale),
                    "value": self.s.text(a, data, self.locale),
                    "code": data if isinstance(data, str) else json.dumps(data, default=str),
                }
            )
        return out

    def _categories(self) -> tuple[list[str], list[str]]:
        if self._cats is None:
            cats = [
                self.s.categories[c]
                for c in self.batch.categories.get(self.product.pk, [])
                if c in self.s.categories
            ]
            if not cats:
                self._cats = [], []
            else:
                deepest = max(cats, key=lambda c: (c[1].count("/"), c[0]))
                self._cats = (
                    sorted(c[0] for c in cats),
                    self.s.category_path(deepest[1], self.locale),
                )
        return self._cats

    # images

    def _images(self) -> list[Image]:
        images: list[Image] = []
        links = self.batch.links.get(self.product.pk, {})
        family_reqs = self.s.requirements.get(self.product.family_id, {})
        for role in self.s.roles:
            slot = self.s.slots.get(role)
            req = family_reqs.get(role)
            if slot is None and req is None:
                continue
            needed = max(
                1 if slot is not None and slot.required else 0,
                req.min_count if req is not None else 0,
            )
            good, problems = self._role(role, links.get(role, []), slot, req, needed)
            if slot is not None:
                for asset, rendition in good[: slot.max_count]:
                    images.append(self._image(slot, asset, rendition, len(images) + 1))
            if len(good) < needed:
                for r in problems or [self._short(role, needed, len(good))]:
                    self._add(r)
        return images

    def _short(self, role: str, needed: int, have: int) -> dict:
        return reason(
            "missing_media",
            f"{self.s.channel.code} needs {counted(needed, f'{role} image')} in {self.locale}; "
            f"{have} can be published",
            attribute=missing_code(role),
            role=role,
            locale=self.locale,
        )

    def _role(self, role, asset_ids, slot, req, needed):
        """The role's publishable, compliant assets in link order (with the slot's
        rendition), as many as the slot and the requirement use; and why others were left
        out."""
        presets = [slot.preset] if slot is not None else []
        if (
            req is not None
            and req.compliant_preset_id
            and (slot is None or req.compliant_preset_id != slot.preset_id)
        ):
            presets.append(req.compliant_preset)
        limit = max(slot.max_count if slot is not None else 0, needed)
        good, problems = [], []
        for asset_id in asset_ids:
            if len(good) >= limit:
                break
            asset = self.batch.assets.get(asset_id)
            if asset is None or (presets and asset.type != Asset.Type.IMAGE):
                continue
            problem = self._rights(asset, role)
            renditions = []
            for preset in presets if problem is None else ():
                rendition, problem = self._rendition(asset, preset, role)
                renditions.append(rendition)
                if problem is not None:
                    break
            if problem is not None:
                problems.append(problem)
                continue
            good.append((asset, renditions[0] if slot is not None else None))
        return good, problems

    def _rights(self, asset: Asset, role: str) -> dict | None:
        ok, why = is_publishable(
            asset, channel=self.s.channel.code, territory=self.batch.territory, at=self.batch.at
        )
        if ok:
            return None
        unapproved = asset.status != Asset.Status.APPROVED
        return reason(
            "unapproved_image" if unapproved else "rights",
            f"{role} image {asset.title!r} (asset {asset.pk}): {'; '.join(why)}",
            role=role,
            asset_id=asset.pk,
            locale=self.locale,
        )

    def _rendition(self, asset, preset, role) -> tuple[_Rendition | None, dict | None]:
        """The asset's rendition through `preset` for this locale, rendered now when it is
        missing or still queued, and the reason it cannot be used, if any. (Also for a
        product skipped for other reasons: the report then names every reason, and the
        rendition is made once either way.)"""
        if asset.current_version_id is None:
            return None, reason(
                "rendition_failed",
                f"{role} image {asset.title!r} (asset {asset.pk}) has no file here to render",
                role=role,
                asset_id=asset.pk,
            )
        sha = asset.blob
        spec_hash, spec, applied = self.s.key(preset, self.locale)
        row = self.batch.renditions.get((sha, spec_hash))
        if row is None or row.status == Rendition.Status.PENDING:
            row = _Rendition.of(render_now(sha, spec_hash, spec, applied, preset))
            self.batch.renditions[(sha, spec_hash)] = row
            self.batch.rendered = True
        return row, rendition_problem(row, asset, preset, role)

    def _image(self, slot: ImageSlot, asset: _Asset, rendition: _Rendition, position: int) -> Image:
        preset = slot.preset
        name, first = self.s.claim(
            self._filename(slot, asset, rendition, position), rendition.blob_id
        )
        if first:
            self.claimed.append(name)
        if self.s.public_base_url:
            url = f"{self.s.public_base_url}/images/{quote(name)}"
        else:
            url = delivery_url(asset, preset, self.locale, name, self.s.key(preset, self.locale)[2])
        return Image(
            role=slot.role,
            position=position,
            asset_id=asset.pk,
            asset_version=asset.number,
            filename=name,
            url=url,
            sha256=rendition.blob_id,
            storage_name=rendition.storage_name,
            width=rendition.width,
            height=rendition.height,
            format=rendition.format,
            alt=asset.alt or self.title,
        )

    def _filename(
        self, slot: ImageSlot, asset: _Asset, rendition: _Rendition, position: int
    ) -> str:
        ext = preset_service.EXTENSIONS.get(rendition.format, rendition.format) or "bin"
        gtin = self.gtin
        if self.s.feed.options.get("image_names") == "amazon":
            return self._amazon_name(slot.role, gtin or self.product.sku, ext)
        template = slot.filename_template or slot.preset.filename_template
        # The title's slug only where the template asks for it: slugifying every image's
        # title was ~5 % of a feed run whose templates name files by SKU or GTIN.
        slug = self.s.slug(asset) if self.s.uses(template, "title_slug") else None
        try:
            return self.s.filename(
                template,
                sku=self.product.sku,
                gtin=gtin,
                position=position,
                role=slot.role,
                ext=ext,
                locale=self.locale,
                channel=self.s.channel.code,
                title_slug=slug,
            )
        except InvalidInput as exc:
            self._add(reason("validation_failure", exc.message, field="image", role=slot.role))
            return operations.sanitise_filename(f"{self.product.sku}-{position}.{ext}")

    def _amazon_name(self, role: str, identifier: str, ext: str) -> str:
        """{identifier}.MAIN.jpg, .PT01.jpg… (other images in order), .SWCH.jpg (swatch)."""
        taken = self.amazon_codes
        code = AMAZON_CODES.get(role)
        if code is None or code in taken:
            code = f"PT{sum(1 for c in taken if c.startswith('PT')) + 1:02d}"
        taken.append(code)
        return operations.sanitise_filename(f"{identifier}.{code}.{ext}")


def _frozen(data):
    if isinstance(data, dict):
        return tuple(sorted((k, _frozen(x)) for k, x in data.items()))
    if isinstance(data, list):
        return tuple(_frozen(x) for x in data)
    return data


def _label(labels: dict | None, locale: str, code: str) -> str:
    labels = labels or {}
    return labels.get(locale) or labels.get("en_US") or code


def _decimal(value) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _empty(value) -> bool:
    return value is None or value == "" or value == [] or value == {}


def truncate(text: str, limit: int) -> str:
    """At most `limit` characters, cut at a word boundary where there is one, no ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    if not text[limit].isspace() and " " in cut.strip():
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:-–")


# --- renditions --------------------------------------------------------------------------------


def render_now(sha: str, spec_hash: str, spec: dict, applied: str, preset: Preset) -> Rendition:
    """The rendition of `sha` through the spec, rendered here and now if it is not ready
    (publishing "renders or reuses"; a queued job for it finds it done and leaves it)."""
    from folio.renditions.jobs import render_one

    row, _ = Rendition.objects.select_related("blob", "preset").get_or_create(
        source_sha256=sha,
        spec_hash=spec_hash,
        defaults={
            "preset": preset,
            "preset_version": preset.version,
            "locale": applied,
            "spec": spec,
        },
    )
    if row.status == Rendition.Status.PENDING:
        if row.preset_id is None:
            row.preset = preset
        render_one(row)
    return row


def rendition_problem(row: _Rendition, asset: _Asset, preset: Preset, role: str) -> dict | None:
    where = {"role": role, "asset_id": asset.pk}
    name = f"{role} image {asset.title!r} (asset {asset.pk})"
    if row.status == Rendition.Status.FAILED:
        return reason(
            "rendition_failed", f"{name} through {preset.code}: {row.error or 'failed'}", **where
        )
    if row.needs_review:
        return reason(
            "non_compliant_image",
            f"{name} through {preset.code} awaits review (background removal was unsure)",
            **where,
        )
    if not row.passed:
        # the checks' details only for the report of a refused one (rare: read it now)
        compliance = (
            Rendition.objects.filter(pk=row.pk).values_list("compliance", flat=True).first() or {}
        )
        failed = [
            c.get("detail") or c.get("rule")
            for c in compliance.get("checks", [])
            if not c.get("passed")
        ]
        return reason(
            "non_compliant_image",
            f"{name} fails {preset.code}: {'; '.join(map(str, failed)) or 'not checked'}",
            **where,
        )
    return None


def delivery_url(asset: _Asset, preset: Preset, locale: str, filename: str, applied: str) -> str:
    """Folio's delivery address of the rendition (FOLIO_PUBLIC_URL based), as url_for gives
    it, ending in the published file name. `applied`: the preset's market override for the
    locale, if it has one (Structure.key)."""
    if preset.public and not applied:
        return delivery.public_url(asset.pk, preset, filename=filename, absolute=True)
    return delivery.signed_url(asset.pk, preset, locale=locale, filename=filename, absolute=True)


_SEPARATOR = re.compile(r"^[\s,;:|/·–—-]*$")


def fill_template(template: str, value) -> str | None:
    """A mapping template filled with `value(name)` for each placeholder. A separator
    between placeholders (", ", " – ", " | "…) goes only between two values that are there,
    so "{brand} {name} – {capacity}" without a capacity reads "Brand Name", not "Brand
    Name –". Whitespace collapses; an empty result is None (the field is missing)."""
    out: list[str] = []
    pending = ""  # a separator waiting for the value after it
    for literal, name, _spec, _conv in string.Formatter().parse(template):
        if literal:
            if _SEPARATOR.match(literal):
                pending = literal
            else:
                out.append(pending + literal if out else literal.lstrip())
                pending = ""
        if name is None:
            continue
        text = value(name)
        if text:
            if out and pending:
                out.append(pending)
            out.append(text)
        pending = ""
    text = re.sub(r"\s+", " ", "".join(out)).strip()
    return text or None
