"""The seeded generator of the reference PIM's "large" catalog profile (issue 3, item 10).

    params = catalog_data.Params(products=100_000)     # seed, attributes, families, … default
    print(catalog_data.describe(params))
    layout = catalog_data.create_structure(params)      # ORM: locales, channels, attributes,
                                                        # options, families, requirements,
                                                        # family variants, categories, models
    for line in services.bulk_upsert(catalog_data.products(params, layout)): …
    catalog_data.write_csv(params, layout, path)        # the same products as CSV

Deterministic: the structure comes from Random(seed) and product i from Random(seed, i), so
any slice of the catalog (e.g. products N … N+9,999 beyond a built catalog) is generated
alone and identically on every machine.

Shape of the data (defaults = the reference profile):
- 1,000 attributes of every value type (text, textarea, number, measurement, price, boolean,
  date, select, multiselect), some localizable, some scopable, one GTIN;
- 400 families of ~50 attributes each (name, description, price, weight, ean and 45 drawn),
  each with requirements for both channels (10 for `ecommerce`, 5 for `mobile`) and one
  family variant of 1 or 2 levels (alternating) whose axes are select attributes;
- 4 locales (en_US, de_DE, fr_FR, es_ES), 2 channels (`ecommerce`: all four locales, EUR and
  USD; `mobile`: en_US and de_DE, EUR), currencies EUR and USD;
- a category tree `master` of ~1,000 nodes (1 + 10 + 100 + 900); products sit in 1–3 leaves;
- products come in blocks of 100: 70 simple products and 30 variants (30 %), the variants
  under 5 root models (1-level family variant, 6 variants each) or 3 root models × 2
  sub-models (2-level, 5 variants each);
- 20 values per product, counting each locale/channel entry as a value (as the reference
  PIM does). A variant's 20 are resolved values: the root model holds the shared ones, the
  sub-model and the variant their level's (axis included); the required attributes of the
  product's family are filled with probability 0.7 each, so completeness varies.

Product models are structure here (created with the ORM, in bulk, by create_structure): the
benchmark measures writing products, and variants need their models first.
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import random
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

DEFAULT_SEED = 20250101
LOCALES = ("en_US", "de_DE", "fr_FR", "es_ES")
CHANNELS = {  # code → (locales, currencies)
    "ecommerce": (LOCALES, ("EUR", "USD")),
    "mobile": (("en_US", "de_DE"), ("EUR",)),
}
CURRENCIES = ("EUR", "USD")
BLOCK = 100  # products per layout block
SIMPLE_PER_BLOCK = 70  # the other 30 are variants
VALUES_PER_PRODUCT = 20
REQUIRED_FILL = 0.7

# Share of attribute types among the 1,000 (the fixed ones below come on top of the mix).
TYPE_MIX = (
    ("text", 0.28),
    ("textarea", 0.08),
    ("number", 0.12),
    ("measurement", 0.10),
    ("price", 0.04),
    ("boolean", 0.10),
    ("date", 0.06),
    ("select", 0.16),
    ("multiselect", 0.06),
)
MEASUREMENT_FAMILIES = {  # family code → units used (all seeded by catalog migration 0002)
    "weight": ("GRAM", "KILOGRAM", "POUND"),
    "length": ("MILLIMETER", "CENTIMETER", "METER", "INCH"),
    "volume": ("MILLILITER", "LITER"),
    "power": ("WATT", "KILOWATT"),
    "voltage": ("VOLT",),
    "time": ("SECOND", "MINUTE", "HOUR"),
}
WORDS = tuple(
    [
        "steel",
        "bottle",
        "lamp",
        "cable",
        "pump",
        "filter",
        "valve",
        "chair",
        "table",
        "desk",
        "shelf",
        "hook",
        "frame",
        "panel",
        "sensor",
        "switch",
        "motor",
        "brush",
        "glass",
        "cotton",
        "wool",
        "oak",
        "walnut",
        "copper",
        "brass",
        "matte",
        "glossy",
        "compact",
        "large",
        "small",
        "outdoor",
        "indoor",
        "kitchen",
        "garden",
        "office",
        "travel",
        "classic",
        "modern",
        "eco",
    ]
)
FIXED = ("name", "description", "price", "weight", "ean")


@dataclass(frozen=True)
class Params:
    products: int = 1_000_000
    attributes: int = 1_000
    families: int = 400
    attributes_per_family: int = 50
    locales: tuple = LOCALES
    channels: tuple = tuple(CHANNELS)
    variant_share: float = round((BLOCK - SIMPLE_PER_BLOCK) / BLOCK, 2)
    values_per_product: int = VALUES_PER_PRODUCT
    category_nodes: int = 1 + 10 + 100 + 900
    seed: int = DEFAULT_SEED

    def as_dict(self) -> dict:
        d = asdict(self)
        d["locales"] = list(self.locales)
        d["channels"] = list(self.channels)
        return d

    def key(self, code_version: str = "") -> str:
        """A short hash of the parameters, the seed and `code_version`: names a cached build."""
        text = repr(sorted(self.as_dict().items())) + code_version
        return hashlib.sha256(text.encode()).hexdigest()[:12]


def describe(p: Params) -> str:
    return (
        f"catalog: {p.products:,} products ({p.variant_share:.0%} variants under product models), "
        f"{p.attributes:,} attributes, {p.families} families × ~{p.attributes_per_family} "
        f"attributes, {len(p.locales)} locales, {len(p.channels)} channels, "
        f"{p.values_per_product} values/product, ~{p.category_nodes:,} categories, "
        f"seed {p.seed}"
    )


# --- the layout: everything product generation needs, without the database -------------------


@dataclass
class AttrSpec:
    code: str
    type: str
    localizable: bool = False
    scopable: bool = False
    options: tuple = ()
    measurement_family: str = ""
    units: tuple = ()
    rich_text: bool = False
    is_gtin: bool = False
    decimals: bool = True

    def entries(self) -> list[tuple]:
        """The (locale, scope) pairs a full value of this attribute has."""
        if self.localizable and self.scopable:
            return [(loc, ch) for ch, (locs, _) in CHANNELS.items() for loc in locs]
        if self.localizable:
            return [(loc, None) for loc in LOCALES]
        if self.scopable:
            return [(None, ch) for ch in CHANNELS]
        return [(None, None)]


@dataclass
class FamilySpec:
    code: str
    attributes: list[str]
    required: dict[str, list[str]]  # channel → attribute codes
    variant_code: str
    levels: int
    # attribute → level (1 or 2) for the family variant; axes listed separately
    level_of: dict[str, int] = field(default_factory=dict)
    axes: dict[int, str] = field(default_factory=dict)  # level → axis attribute


@dataclass
class Layout:
    params: Params
    attributes: dict[str, AttrSpec]
    families: list[FamilySpec]
    leaves: list[str]  # leaf category codes
    categories: list[tuple[str, str | None, str]]  # (code, parent code, path), parents first

    def block_family(self, block: int) -> FamilySpec:
        """The family of the variants of a block (chosen per block, seeded)."""
        rng = random.Random(f"{self.params.seed}:block:{block}")
        return self.families[rng.randrange(len(self.families))]

    def block_models(self, block: int) -> list[tuple[str, str | None, int]]:
        """(code, parent code, level) of the product models of a block, roots first."""
        fam = self.block_family(block)
        if fam.levels == 1:
            return [(f"PM{block:07d}_{r}", None, 0) for r in range(5)]
        roots = [(f"PM{block:07d}_{r}", None, 0) for r in range(3)]
        subs = [
            (f"PM{block:07d}_{r}_{s}", f"PM{block:07d}_{r}", 1) for r in range(3) for s in (0, 1)
        ]
        return roots + subs

    def variant_slot(self, block: int, j: int) -> tuple[str, int]:
        """The parent model code of the j-th variant (0…29) of a block, and its axis option."""
        fam = self.block_family(block)
        if fam.levels == 1:
            return f"PM{block:07d}_{j // 6}", j % 6
        r, rest = divmod(j, 10)
        s, k = divmod(rest, 5)
        return f"PM{block:07d}_{r}_{s}", k


def build_layout(p: Params) -> Layout:
    rng = random.Random(f"{p.seed}:structure")
    attrs: dict[str, AttrSpec] = {}

    def options_for(code: str, n: int) -> tuple:
        return tuple(f"{code}_o{i:02d}" for i in range(n))

    attrs["name"] = AttrSpec("name", "text", localizable=True)
    attrs["description"] = AttrSpec(
        "description", "textarea", localizable=True, scopable=True, rich_text=True
    )
    attrs["price"] = AttrSpec("price", "price")
    attrs["weight"] = AttrSpec(
        "weight", "measurement", measurement_family="weight", units=MEASUREMENT_FAMILIES["weight"]
    )
    attrs["ean"] = AttrSpec("ean", "text", is_gtin=True)
    types = [t for t, _ in TYPE_MIX]
    weights = [w for _, w in TYPE_MIX]
    i = 0
    while len(attrs) < p.attributes:
        t = rng.choices(types, weights)[0]
        code = f"{t[:4]}_{i:04d}"
        i += 1
        spec = AttrSpec(code, t)
        if t in ("text", "textarea"):
            spec.localizable = rng.random() < 0.3
            spec.scopable = rng.random() < 0.1
            spec.rich_text = t == "textarea" and rng.random() < 0.25
        elif t == "number":
            spec.decimals = rng.random() < 0.5
            spec.scopable = rng.random() < 0.05
        elif t == "measurement":
            mf = rng.choice(sorted(MEASUREMENT_FAMILIES))
            spec.measurement_family, spec.units = mf, MEASUREMENT_FAMILIES[mf]
        elif t == "select":
            spec.options = options_for(code, rng.randint(8, 40))
            spec.localizable = rng.random() < 0.05
        elif t == "multiselect":
            spec.options = options_for(code, rng.randint(5, 30))
        attrs[code] = spec

    drawn = [c for c in attrs if c not in FIXED]
    axis_pool = [c for c in drawn if attrs[c].type == "select" and not attrs[c].localizable]
    families = []
    for f in range(p.families):
        fam_code = f"family_{f:03d}"
        levels = 1 + f % 2
        axes = rng.sample(axis_pool, levels)
        others = [c for c in drawn if c not in axes]
        chosen = (
            list(FIXED) + axes + rng.sample(others, p.attributes_per_family - len(FIXED) - levels)
        )
        # Family variant: level attributes are non-localizable, non-scopable, not fixed.
        plain = [c for c in chosen[len(FIXED) + levels :] if len(attrs[c].entries()) == 1]
        level_of = {}
        if levels == 1:
            level_of.update({c: 1 for c in plain[:4]})
        else:
            level_of.update({c: 1 for c in plain[:2]})
            level_of.update({c: 2 for c in plain[2:5]})
        for lvl, ax in enumerate(axes, start=1):
            level_of[ax] = lvl
        candidates = [c for c in chosen if c not in level_of]
        ecommerce = ["name", *rng.sample([c for c in candidates if c != "name"], 9)]
        mobile = ["name", *rng.sample([c for c in ecommerce if c != "name"], 4)]
        families.append(
            FamilySpec(
                code=fam_code,
                attributes=chosen,
                required={"ecommerce": ecommerce, "mobile": mobile},
                variant_code=f"{fam_code}_by_{levels}",
                levels=levels,
                level_of=level_of,
                axes=dict(enumerate(axes, start=1)),
            )
        )

    categories = [("master", None, "master")]
    leaves = []
    budget = max(p.category_nodes - 1, 3)
    n1 = 10
    n2 = min(100, max(budget // 10, 1))
    n3 = max(budget - n1 - n2, 0)
    level1 = [f"cat_{a}" for a in range(n1)]
    categories += [(c, "master", f"master/{c}") for c in level1]
    level2 = []
    for b in range(n2):
        parent = level1[b % n1]
        code = f"{parent}_{b}"
        level2.append((code, f"master/{parent}/{code}"))
        categories.append((code, parent, f"master/{parent}/{code}"))
    for c in range(n3):
        parent, ppath = level2[c % len(level2)]
        code = f"leaf_{c:04d}"
        categories.append((code, parent, f"{ppath}/{code}"))
        leaves.append(code)
    return Layout(p, attrs, families, leaves or [c for c, _, _ in categories[1:]], categories)


# --- values ---------------------------------------------------------------------------------


def _gtin13(n: int) -> str:
    body = f"{400000000000 + n % 100000000000:012d}"
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return body + str((10 - total % 10) % 10)


def _data(a: AttrSpec, rng: random.Random, n: int, locale: str | None, opt: int | None = None):
    t = a.type
    if t == "text":
        if a.is_gtin:
            return _gtin13(n)
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 4)))
        if a.code == "name":
            return f"{words.title()} {n} {locale or ''}".strip()
        return f"{words} {rng.randrange(1000)}"
    if t == "textarea":
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 40)))
        return f"<p>{text}</p>" if a.rich_text else text
    if t == "number":
        return str(rng.randrange(1, 10000)) if not a.decimals else f"{rng.uniform(0, 1000):.2f}"
    if t == "measurement":
        return {"amount": f"{rng.uniform(0.1, 500):.1f}", "unit": rng.choice(a.units)}
    if t == "price":
        return [{"amount": f"{rng.uniform(1, 900):.2f}", "currency": c} for c in CURRENCIES]
    if t == "boolean":
        return rng.random() < 0.5
    if t == "date":
        return (
            datetime.date(2015, 1, 1) + datetime.timedelta(days=rng.randrange(3650))
        ).isoformat()
    if t == "select":
        return a.options[opt % len(a.options)] if opt is not None else rng.choice(a.options)
    if t == "multiselect":
        return sorted(rng.sample(a.options, rng.randint(1, min(3, len(a.options)))))
    raise ValueError(t)


def _fill(
    doc: dict, codes: list[str], layout: Layout, rng: random.Random, n: int, budget: int
) -> int:
    """Add full values of `codes` (in order) while they fit in `budget` entries; returns the
    entries added."""
    added = 0
    for code in codes:
        a = layout.attributes[code]
        where = a.entries()
        if code in doc or added + len(where) > budget:
            continue
        doc[code] = [
            {"locale": loc, "scope": sc, "data": _data(a, rng, n, loc)} for loc, sc in where
        ]
        added += len(where)
        if added == budget:
            break
    return added


def _values_for(
    fam: FamilySpec, codes: list[str], layout: Layout, rng: random.Random, n: int, budget: int
) -> dict:
    """`budget` entries from `codes`: required ones first (each with probability 0.7), then
    the others in a seeded order."""
    required = {c for r in fam.required.values() for c in r}
    first = [c for c in codes if c in required and rng.random() < REQUIRED_FILL]
    rest = [c for c in codes if c not in first]
    rng.shuffle(rest)
    doc: dict = {}
    _fill(doc, first + rest, layout, rng, n, budget)
    return doc


def model_values(layout: Layout, code: str, parent: str | None, level: int, block: int) -> dict:
    """The values of one product model (deterministic from its code)."""
    fam = layout.block_family(block)
    rng = random.Random(f"{layout.params.seed}:model:{code}")
    if level == 0:
        own = [c for c in fam.attributes if c not in fam.level_of]
        budget = VALUES_PER_PRODUCT - (5 if fam.levels == 1 else 7)
        return _values_for(fam, own, layout, rng, block, budget)
    # sub-model: its level-1 attributes, the axis set by its position
    sub = int(code.rsplit("_", 1)[1])
    doc = {fam.axes[1]: [{"locale": None, "scope": None, "data": _axis(layout, fam, 1, sub)}]}
    for c in [c for c, lvl in fam.level_of.items() if lvl == 1 and c != fam.axes[1]]:
        doc[c] = [
            {"locale": None, "scope": None, "data": _data(layout.attributes[c], rng, 0, None)}
        ]
    return dict(sorted(doc.items()))


def _axis(layout: Layout, fam: FamilySpec, level: int, k: int) -> str:
    a = layout.attributes[fam.axes[level]]
    return a.options[k % len(a.options)]


def product(layout: Layout, i: int) -> dict:
    """Product i of the catalog, as a public value document for services.bulk_upsert."""
    p = layout.params
    rng = random.Random(f"{p.seed}:product:{i}")
    block, pos = divmod(i, BLOCK)
    item: dict = {"sku": f"SKU-{i:08d}"}
    cats = rng.sample(layout.leaves, rng.randint(1, 3))
    if pos < SIMPLE_PER_BLOCK:
        fam = layout.families[rng.randrange(len(layout.families))]
        item["family"] = fam.code
        item["categories"] = sorted(cats)
        item["enabled"] = rng.random() < 0.95
        item["values"] = _values_for(fam, fam.attributes, layout, rng, i, p.values_per_product)
        return item
    fam = layout.block_family(block)
    parent, k = layout.variant_slot(block, pos - SIMPLE_PER_BLOCK)
    depth = fam.levels
    own = [c for c, lvl in fam.level_of.items() if lvl == depth and c != fam.axes[depth]]
    values = {
        fam.axes[depth]: [{"locale": None, "scope": None, "data": _axis(layout, fam, depth, k)}]
    }
    for c in own:
        values[c] = [
            {"locale": None, "scope": None, "data": _data(layout.attributes[c], rng, i, None)}
        ]
    item["parent"] = parent
    item["family"] = fam.code
    item["categories"] = sorted(cats)
    item["enabled"] = rng.random() < 0.95
    item["values"] = values
    return item


def products(p_or_layout, start: int = 0, stop: int | None = None) -> Iterator[dict]:
    """Products start … stop-1 (default: the whole catalog)."""
    layout = p_or_layout if isinstance(p_or_layout, Layout) else build_layout(p_or_layout)
    stop = layout.params.products if stop is None else stop
    for i in range(start, stop):
        yield product(layout, i)


# --- the structure, in the database -----------------------------------------------------------


def create_structure(p: Params, *, models_up_to: int | None = None) -> Layout:
    """Create locales, channels, attributes, options, families, requirements, family variants,
    categories and the product models of products 0 … models_up_to-1 (default: all) with the
    ORM. Returns the layout products are generated from."""
    from folio.catalog import values as v
    from folio.catalog.models import (
        Attribute,
        AttributeOption,
        Category,
        Channel,
        Currency,
        Family,
        FamilyRequirement,
        FamilyVariant,
        FamilyVariantAttribute,
        Locale,
        MeasurementFamily,
    )

    layout = build_layout(p)
    for code in LOCALES:
        Locale.objects.get_or_create(code=code)
    for code in CURRENCIES:
        Currency.objects.get_or_create(code=code)
    locales = dict(Locale.objects.values_list("code", "id"))
    currencies = dict(Currency.objects.values_list("code", "id"))

    cat_ids: dict[str, int] = {}
    for level in range(4):
        rows = [c for c in layout.categories if c[2].count("/") == level]
        objs = [
            Category(
                code=code,
                parent_id=cat_ids.get(parent) if parent else None,
                path=path,
                labels={"en_US": code.replace("_", " ").title()},
                sort_order=n,
            )
            for n, (code, parent, path) in enumerate(rows)
        ]
        Category.objects.bulk_create(objs, batch_size=500)
        cat_ids.update(
            Category.objects.filter(code__in=[o.code for o in objs]).values_list("code", "id")
        )

    channels = {}
    for code, (locs, curs) in CHANNELS.items():
        ch = Channel.objects.create(
            code=code, labels={"en_US": code.title()}, category_tree_id=cat_ids["master"]
        )
        ch.locales.set([locales[x] for x in locs])
        ch.currencies.set([currencies[x] for x in curs])
        channels[code] = ch.pk

    mfs = dict(MeasurementFamily.objects.values_list("code", "id"))
    objs = []
    for n, a in enumerate(layout.attributes.values()):
        objs.append(
            Attribute(
                code=a.code,
                type=a.type,
                labels={"en_US": a.code.replace("_", " ").title()},
                sort_order=n,
                localizable=a.localizable,
                scopable=a.scopable,
                is_gtin=a.is_gtin,
                rich_text=a.rich_text,
                decimals_allowed=a.decimals,
                negative_allowed=a.type not in ("number", "measurement", "price"),
                measurement_family_id=mfs[a.measurement_family] if a.measurement_family else None,
                default_unit=a.units[0] if a.units else "",
                allowed_units=list(a.units),
            )
        )
    Attribute.objects.bulk_create(objs, batch_size=500)
    attr_ids = dict(Attribute.objects.values_list("code", "id"))
    AttributeOption.objects.bulk_create(
        [
            AttributeOption(
                attribute_id=attr_ids[a.code], code=o, labels={"en_US": o}, sort_order=k
            )
            for a in layout.attributes.values()
            for k, o in enumerate(a.options)
        ],
        batch_size=2000,
    )

    Family.objects.bulk_create(
        [
            Family(
                code=f.code,
                labels={"en_US": f.code.replace("_", " ").title()},
                label_attribute_id=attr_ids["name"],
            )
            for f in layout.families
        ],
        batch_size=500,
    )
    fam_ids = dict(Family.objects.values_list("code", "id"))
    Family.attributes.through.objects.bulk_create(
        [
            Family.attributes.through(family_id=fam_ids[f.code], attribute_id=attr_ids[c])
            for f in layout.families
            for c in f.attributes
        ],
        batch_size=2000,
    )
    FamilyRequirement.objects.bulk_create(
        [
            FamilyRequirement(
                family_id=fam_ids[f.code], attribute_id=attr_ids[c], channel_id=channels[ch]
            )
            for f in layout.families
            for ch, codes in f.required.items()
            for c in codes
        ],
        batch_size=2000,
    )
    FamilyVariant.objects.bulk_create(
        [
            FamilyVariant(
                code=f.variant_code, family_id=fam_ids[f.code], labels={"en_US": f.variant_code}
            )
            for f in layout.families
        ],
        batch_size=500,
    )
    fv_ids = dict(FamilyVariant.objects.values_list("code", "id"))
    FamilyVariantAttribute.objects.bulk_create(
        [
            FamilyVariantAttribute(
                family_variant_id=fv_ids[f.variant_code],
                attribute_id=attr_ids[c],
                level=lvl,
                is_axis=c in f.axes.values(),
            )
            for f in layout.families
            for c, lvl in f.level_of.items()
        ],
        batch_size=2000,
    )
    create_models(layout, 0, p.products if models_up_to is None else models_up_to, fv_ids)
    # The values of product models are generated to be valid; check a sample against the
    # structure so that a generator bug shows here, not as odd benchmark figures.
    structure = v.Structure.load()
    errors = v.ValueErrors()
    for block in range(min(20, max(1, p.products // BLOCK))):
        for code, parent, level in layout.block_models(block):
            v.check_document(model_values(layout, code, parent, level, block), structure, errors)
    if errors:
        raise RuntimeError(f"generated model values are invalid: {errors.items[:3]}")
    return layout


def create_models(layout: Layout, start: int, stop: int, fv_ids: dict | None = None) -> int:
    """Create the product models of the variants among products start … stop-1 (ORM, bulk)."""
    from folio.catalog.models import FamilyVariant, ProductModel

    if fv_ids is None:
        fv_ids = dict(FamilyVariant.objects.values_list("code", "id"))
    first, last = start // BLOCK, (stop + BLOCK - 1) // BLOCK
    made = 0
    for chunk in range(first, last, 200):
        blocks = range(chunk, min(chunk + 200, last))
        roots, subs = [], []
        for b in blocks:
            # only blocks that contain variants in [start, stop)
            if b * BLOCK + SIMPLE_PER_BLOCK >= stop:
                continue
            fam = layout.block_family(b)
            for code, parent, level in layout.block_models(b):
                row = ProductModel(
                    code=code,
                    family_variant_id=fv_ids[fam.variant_code],
                    values=model_values(layout, code, parent, level, b),
                )
                (roots if parent is None else subs).append((row, parent))
        ProductModel.objects.bulk_create([r for r, _ in roots], batch_size=1000)
        if subs:
            ids = dict(
                ProductModel.objects.filter(code__in={p for _, p in subs}).values_list("code", "id")
            )
            for row, parent in subs:
                row.parent_id = ids[parent]
            ProductModel.objects.bulk_create([r for r, _ in subs], batch_size=1000)
        made += len(roots) + len(subs)
    return made


# --- CSV (the reference PIM's import conventions) --------------------------------------------


def csv_columns(layout: Layout) -> list[str]:
    """sku;family;categories;enabled;parent;<attribute>[-<locale>][-<channel>]; prices as
    <attribute>-<currency>; measurements as <attribute> and <attribute>-unit."""
    cols = ["sku", "family", "categories", "enabled", "parent"]
    for a in layout.attributes.values():
        if a.type == "price":
            cols += [f"{a.code}-{c}" for c in CURRENCIES]
        elif a.type == "measurement":
            cols += [a.code, f"{a.code}-unit"]
        else:
            for loc, sc in a.entries():
                cols.append("-".join(x for x in (a.code, loc, sc) if x))
    return cols


def csv_row(item: dict) -> dict:
    row = {
        "sku": item["sku"],
        "family": item.get("family") or "",
        "categories": ",".join(item.get("categories", [])),
        "enabled": "1" if item.get("enabled", True) else "0",
        "parent": item.get("parent") or "",
    }
    for code, entries in item["values"].items():
        for e in entries:
            col = "-".join(x for x in (code, e["locale"], e["scope"]) if x)
            data = e["data"]
            if isinstance(data, dict):  # measurement
                row[col], row[f"{col}-unit"] = data["amount"], data["unit"]
            elif isinstance(data, list) and data and isinstance(data[0], dict):  # price
                for price in data:
                    row[f"{col}-{price['currency']}"] = price["amount"]
            elif isinstance(data, list):
                row[col] = ",".join(data)
            elif isinstance(data, bool):
                row[col] = "1" if data else "0"
            else:
                row[col] = data
    return row


def write_csv(p_or_layout, path: Path, start: int = 0, stop: int | None = None) -> int:
    """Write products start … stop-1 as a `;`-separated CSV; returns the number of rows."""
    layout = p_or_layout if isinstance(p_or_layout, Layout) else build_layout(p_or_layout)
    n = 0
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, csv_columns(layout), delimiter=";", restval="")
        writer.writeheader()
        for item in products(layout, start, stop):
            writer.writerow(csv_row(item))
            n += 1
    return n


if __name__ == "__main__":  # python -m bench.catalog_data [products] [csv path]
    import sys

    params = Params(products=int(sys.argv[1]) if len(sys.argv) > 1 else Params.products)
    print(describe(params))
    if len(sys.argv) > 2:
        print(f"wrote {write_csv(params, Path(sys.argv[2])):,} rows to {sys.argv[2]}")
