"""The seeded data of the publishing benchmark: a publishable catalog of its own.

The catalog benchmark's generated catalog fills each required attribute with probability 0.7,
so nearly every product there is incomplete for a channel and a feed run over it mostly
measures skipping. This one is shaped like a real Google Shopping catalog instead:

- channel `google_shopping` (en_US, USD, territory US) with a category tree;
- attributes name and description (localizable; description a textarea), brand (select),
  gtin (identifier, is_gtin, valid check digits), price, capacity (measurement, volume),
  color and size (selects, the variant level);
- families `bottle` and `flask`, both requiring name, description, brand, gtin and price on
  google_shopping; family variant `<family>_by_color` with color as the axis (gtin and size
  on the variant);
- products in blocks of 10: 7 simple products, then 3 variants (one per color) of one
  product model, so 70 % simple, 30 % variants (item_group_id exercised);
- a few percent deliberately not publishable: ~1.5 % disabled, ~1.5 % without a description
  (the report must show skips with reasons);
- 4 images per product (main + 3 gallery), approved assets with one version each, linked to
  the product; image slots main (1, required) and gallery (3) on the channel through preset
  `google-main`; every image a ready, compliant rendition through that preset. Renditions
  share one real rendered JPEG: the feed never reads pixels and rendering is excluded from
  the measure by the issue, so the rows are what the rendition cache holds after rendering;
- a Google Merchant Center XML feed on google_shopping for en_US in USD.

Products go through services.bulk_upsert (the real write path), the structure and product
models through the ORM, assets, links and renditions through raw executemany (like
bench/linking_data.py): all of it data preparation, never measured, cached as a SQLite file.

`change(params)` is the committed, seeded change script the incremental run follows: new
values (name and price) for 1 % of products through services.bulk_upsert, and a new file
version for 1 % of assets with its rendition made ready the same way as above (rendering is
excluded from the measure, so the new renditions are rows, not renders).
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import asdict, dataclass

NOW = "2026-01-15 12:00:00"
DEFAULT_SEED = 20260115
CHANNEL = "google_shopping"
LOCALE = "en_US"
CURRENCY = "USD"
IMAGES_PER_PRODUCT = 4
PRESET = "google-main"
BLOCK = 10  # products per block: SIMPLE simple ones, then the variants of one model
SIMPLE = 7
COLORS = ("red", "blue", "black")  # one variant per color under each model
SIZES = ("s", "m", "l")
BRANDS = tuple(f"brand_{k:02d}" for k in range(24))
FAMILIES = ("bottle", "flask")
REQUIRED = ("name", "description", "brand", "gtin", "price")
DISABLED_SHARE = 0.015
NO_DESCRIPTION_SHARE = 0.015
WORDS = (
    "steel",
    "insulated",
    "bottle",
    "flask",
    "leakproof",
    "travel",
    "sport",
    "vacuum",
    "double",
    "wall",
    "lid",
    "straw",
    "matte",
    "classic",
    "outdoor",
    "light",
    "cold",
    "hot",
    "hours",
    "keeps",
    "drinks",
    "bpa",
    "free",
    "wide",
    "mouth",
    "handle",
    "loop",
    "powder",
)
CATEGORIES = ("drinkware", "bottles", "flasks", "sport_bottles", "kids_bottles")
FEED_MAPPING = {
    "title": {"template": "{brand} {name} {capacity}", "max_length": 150, "truncate": True},
    "description": {"attribute": "description"},
}


@dataclass(frozen=True)
class Params:
    products: int = 100_000
    changed_share: float = 0.01
    seed: int = DEFAULT_SEED

    def as_dict(self) -> dict:
        return asdict(self)

    def key(self, code_version: str = "") -> str:
        text = repr(sorted(self.as_dict().items())) + code_version
        return hashlib.sha256(text.encode()).hexdigest()[:12]


def describe(p: Params) -> str:
    return (
        f"publishing: {p.products:,} products ({SIMPLE * 10}% simple, the rest variants of "
        f"{len(COLORS)} colors under product models) × {IMAGES_PER_PRODUCT} images to a Google "
        f"Merchant Center XML feed ({LOCALE}, {CURRENCY}); change script: {p.changed_share:.0%} "
        f"of products' values and {p.changed_share:.0%} of assets; seed {p.seed}"
    )


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def gtin13(n: int) -> str:
    body = f"{400000000000 + n:012d}"
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return body + str((10 - total % 10) % 10)


def _words(rng: random.Random, lo: int, hi: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(lo, hi)))


def _common(rng: random.Random, n: int, *, describe_it: bool) -> dict:
    """Values a simple product or a product model carries."""
    doc = {
        "name": [{"locale": LOCALE, "scope": None, "data": f"{_words(rng, 2, 4).title()} {n}"}],
        "brand": [{"locale": None, "scope": None, "data": rng.choice(BRANDS)}],
        "price": [
            {
                "locale": None,
                "scope": None,
                "data": [{"amount": f"{rng.uniform(5, 120):.2f}", "currency": CURRENCY}],
            }
        ],
        "capacity": [
            {
                "locale": None,
                "scope": None,
                "data": {"amount": str(rng.choice((350, 500, 750, 1000))), "unit": "MILLILITER"},
            }
        ],
    }
    if describe_it:
        doc["description"] = [
            {"locale": LOCALE, "scope": None, "data": f"<p>{_words(rng, 20, 60).capitalize()}.</p>"}
        ]
    return doc


def model_code(block: int) -> str:
    return f"MODEL-{block:07d}"


def model_values(p: Params, block: int) -> dict:
    rng = random.Random(f"{p.seed}:model:{block}")
    return _common(rng, block, describe_it=True)


def product(p: Params, i: int) -> dict:
    """Product i, as a public value document for services.bulk_upsert."""
    rng = random.Random(f"{p.seed}:product:{i}")
    block, pos = divmod(i, BLOCK)
    family = FAMILIES[block % len(FAMILIES)]
    item: dict = {
        "sku": f"PUB-{i:07d}",
        "family": family,
        "categories": [CATEGORIES[1 + block % (len(CATEGORIES) - 1)]],
        "enabled": rng.random() >= DISABLED_SHARE,
    }
    gtin = [{"locale": None, "scope": None, "data": gtin13(i)}]
    if pos < SIMPLE:
        values = _common(rng, i, describe_it=rng.random() >= NO_DESCRIPTION_SHARE)
        values["gtin"] = gtin
        values["color"] = [{"locale": None, "scope": None, "data": rng.choice(COLORS)}]
    else:
        item["parent"] = model_code(block)
        values = {
            "color": [{"locale": None, "scope": None, "data": COLORS[pos - SIMPLE]}],
            "size": [{"locale": None, "scope": None, "data": rng.choice(SIZES)}],
            "gtin": gtin,
        }
    item["values"] = values
    return item


def create_structure(p: Params) -> None:
    """Locale, currency, channel, category tree, attributes, families, requirements, family
    variants and the product models (ORM; setup)."""
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
        ProductModel,
    )

    locale, _ = Locale.objects.get_or_create(code=LOCALE)
    currency, _ = Currency.objects.get_or_create(code=CURRENCY)
    root = Category.objects.create(code="master", path="master", labels={LOCALE: "Master"})
    top = Category.objects.create(
        code=CATEGORIES[0],
        parent=root,
        path=f"master/{CATEGORIES[0]}",
        labels={LOCALE: "Drinkware"},
    )
    for n, code in enumerate(CATEGORIES[1:]):
        Category.objects.create(
            code=code,
            parent=top,
            path=f"{top.path}/{code}",
            sort_order=n,
            labels={LOCALE: code.replace("_", " ").title()},
        )
    channel = Channel.objects.create(
        code=CHANNEL,
        kind="marketplace",
        territories=["US"],
        labels={LOCALE: "Google Shopping"},
        category_tree=root,
    )
    channel.locales.set([locale])
    channel.currencies.set([currency])

    volume = MeasurementFamily.objects.get(code="volume")
    specs = {
        "name": {"type": "text", "localizable": True},
        "description": {"type": "textarea", "localizable": True, "rich_text": True},
        "brand": {"type": "select"},
        "gtin": {"type": "identifier", "is_gtin": True},
        "price": {"type": "price"},
        "capacity": {
            "type": "measurement",
            "measurement_family": volume,
            "default_unit": "MILLILITER",
            "allowed_units": ["MILLILITER", "LITER"],
            "negative_allowed": False,
        },
        "color": {"type": "select"},
        "size": {"type": "select"},
    }
    attrs = {}
    for n, (code, spec) in enumerate(specs.items()):
        attrs[code] = Attribute.objects.create(
            code=code, sort_order=n, labels={LOCALE: code.title()}, **spec
        )
    options = {"brand": BRANDS, "color": COLORS, "size": SIZES}
    AttributeOption.objects.bulk_create(
        [
            AttributeOption(
                attribute=attrs[code],
                code=o,
                sort_order=k,
                labels={LOCALE: o.replace("_", " ").title()},
            )
            for code, opts in options.items()
            for k, o in enumerate(opts)
        ]
    )
    fv_ids = {}
    for code in FAMILIES:
        fam = Family.objects.create(
            code=code, labels={LOCALE: code.title()}, label_attribute=attrs["name"]
        )
        fam.attributes.set(list(attrs.values()))
        FamilyRequirement.objects.bulk_create(
            [FamilyRequirement(family=fam, attribute=attrs[c], channel=channel) for c in REQUIRED]
        )
        fv = FamilyVariant.objects.create(
            code=f"{code}_by_color", family=fam, labels={LOCALE: f"{code.title()} by color"}
        )
        FamilyVariantAttribute.objects.bulk_create(
            [
                FamilyVariantAttribute(
                    family_variant=fv, attribute=attrs[c], level=1, is_axis=c == "color"
                )
                for c in ("color", "size", "gtin")
            ]
        )
        fv_ids[code] = fv.pk
    blocks = (p.products + BLOCK - 1) // BLOCK
    ProductModel.objects.bulk_create(
        [
            ProductModel(
                code=model_code(b),
                values=model_values(p, b),
                family_variant_id=fv_ids[FAMILIES[b % len(FAMILIES)]],
            )
            for b in range(blocks)
            if b * BLOCK + SIMPLE < p.products
        ],
        batch_size=1000,
    )


def build_catalog(p: Params, *, chunk: int = 10_000) -> dict:
    """The structure, then every product through services.bulk_upsert."""
    import time

    from folio.catalog import services

    t0 = time.perf_counter()
    create_structure(p)
    written = 0
    for start in range(0, p.products, chunk):
        stop = min(start + chunk, p.products)
        for line in services.bulk_upsert(product(p, i) for i in range(start, stop)):
            if line["status"] != "created":
                raise RuntimeError(f"building the publishing catalog: {line}")
            written += 1
        print(
            f"  built {written:,}/{p.products:,} products, {time.perf_counter() - t0:,.0f} s",
            flush=True,
        )
    return {"catalog_seconds": round(time.perf_counter() - t0, 1), "products": written}


def rendition_blob():
    """One real JPEG through the media storage: the bytes every rendition row points at."""
    import io

    import pyvips

    from folio.assets import storage

    image = pyvips.Image.black(1500, 1500, bands=3).new_from_image([250, 250, 250])
    data = image.cast("uchar").jpegsave_buffer(Q=85)
    blob, _ = storage.store(io.BytesIO(data), filename="bench-rendition.jpg")
    return blob


def _insert_assets(cursor, items) -> None:
    """Approved JPEG image assets with one version each, as the upload path leaves them (the
    source file itself is never read by a feed run: its blob row is enough). items: (asset id,
    version id, blob key, filename, title)."""
    cursor.executemany(
        "INSERT INTO assets_blob (sha256, size, mime, storage_name, created_at) "
        "VALUES (%s, 250000, 'image/jpeg', %s, %s)",
        [(sha, f"bench/{sha}", NOW) for _, _, sha, _, _ in items],
    )
    cursor.executemany(
        "INSERT INTO assets_asset (id, version, updated_at, title, description, type, kind, "
        "status, alt_text, creator, copyright, credit, licence, territories, custom, phash, "
        "created_at, created_by_id, current_version_id, external_id, external_system, "
        "external_url) VALUES (%s, 1, %s, %s, '', 'image', 'packshot', 'approved', '{}', '', "
        "'', '', '', '[]', '{}', '', %s, NULL, %s, '', '', '')",
        [(aid, NOW, title, NOW, vid) for aid, vid, _, _, title in items],
    )
    cursor.executemany(
        "INSERT INTO assets_assetversion (id, number, filename, mime, size, width, height, "
        "pages, duration, metadata, uploaded_at, comment, pruned, asset_id, uploaded_by_id, "
        "blob_id) VALUES (%s, 1, %s, 'image/jpeg', 250000, 2000, 2000, NULL, NULL, '{}', "
        "%s, '', 0, %s, NULL, %s)",
        [(vid, name, NOW, aid, sha) for aid, vid, sha, name, _ in items],
    )


def _rendition_rows(cursor, shas: list[str], preset, blob, at: str = NOW) -> None:
    """Ready, compliant renditions of `shas` through `preset` (what render_one leaves),
    written at `at`."""
    import json

    from folio.renditions import cache

    spec_hash, spec, applied = cache.key(shas[0], preset, None)
    cursor.executemany(
        "INSERT INTO renditions_rendition (source_sha256, spec_hash, preset_id, "
        "preset_version, locale, spec, status, blob_id, format, width, height, size, "
        "compliance, confidence, needs_review, error, created_at, rendered_at, duration_ms, "
        "updated_at) "
        "VALUES (%s, %s, %s, %s, %s, %s, 'ready', %s, 'jpeg', 1500, 1500, %s, %s, NULL, "
        "%s, '', %s, %s, 40, %s)",
        [
            (
                sha,
                spec_hash,
                preset.pk,
                preset.version,
                applied,
                json.dumps(spec),
                blob.sha256,
                blob.size,
                json.dumps({"passed": True, "checks": []}),
                False,
                at,
                at,
                at,
            )
            for sha in shas
        ],
    )


def populate(p: Params, connection) -> dict:
    """Assets, links, slots, renditions and the feed, into the open catalog."""
    import time

    from django.db import transaction

    from folio.catalog.models import Channel
    from folio.publishing.models import Feed
    from folio.renditions import presets as preset_service
    from folio.renditions.models import ImageSlot, Preset

    t0 = time.perf_counter()
    facts: dict = {}
    with transaction.atomic():
        preset = Preset.objects.get(code=PRESET)
        channel = Channel.objects.get(code=CHANNEL)
        ImageSlot.objects.create(
            channel=channel, role="main", preset=preset, max_count=1, required=True
        )
        ImageSlot.objects.create(channel=channel, role="gallery", preset=preset, max_count=3)
        preset_service.get_preset(PRESET)
        blob = rendition_blob()
        with connection.cursor() as c:
            c.execute("SELECT id FROM catalog_product ORDER BY id")
            product_ids = [r[0] for r in c.fetchall()]
            c.execute("SELECT coalesce(max(id), 0) FROM assets_asset")
            base = c.fetchone()[0]
            c.execute("SELECT coalesce(max(id), 0) FROM assets_assetversion")
            vbase = c.fetchone()[0]
            items, links, shas = [], [], []
            n = 0
            for pid in product_ids:
                for k in range(IMAGES_PER_PRODUCT):
                    n += 1
                    sha = _sha(f"{p.seed}:publishing:image:{n}")
                    shas.append(sha)
                    items.append((base + n, vbase + n, sha, f"IMG_{n:07d}.jpg", f"Image {n}"))
                    role, position = ("main", 1) if k == 0 else ("gallery", k)
                    links.append((pid, base + n, role, position, NOW))
            _insert_assets(c, items)
            c.executemany(
                "INSERT INTO linking_link (product_id, product_model_id, asset_id, role, "
                "position, locale, channel_id, created_at, created_by_id, source) VALUES "
                "(%s, NULL, %s, %s, %s, '', NULL, %s, NULL, 'import')",
                links,
            )
            _rendition_rows(c, shas, preset, blob)
            # The catalog as it stood at NOW, products and models included (the cache may
            # have been built minutes ago): an incremental run looks for rows written since
            # its base, and rows from just before the base's start count as changed.
            c.execute("UPDATE catalog_product SET updated_at = %s", [NOW])
            c.execute("UPDATE catalog_productmodel SET updated_at = %s", [NOW])
        facts["assets"] = len(items)
        facts["links"] = len(links)
        facts["renditions"] = len(shas)
        Feed.objects.create(
            channel=channel,
            code="google",
            name="Google Shopping (bench)",
            format="google-xml",
            locales=[LOCALE],
            currency=CURRENCY,
            mapping=FEED_MAPPING,
            options={"link_template": "https://shop.example.com/p/{sku}"},
        )
    facts["populate_seconds"] = round(time.perf_counter() - t0, 1)
    return facts


def change(p: Params, connection) -> dict:
    """The seeded change script: 1 % of products get a new name and price (model-level values
    for variants: the variant's own gtin instead) through the real write path, 1 % of assets a
    new file version (and its ready rendition)."""
    import time

    from django.db import transaction
    from django.utils import timezone

    from folio.catalog import services
    from folio.catalog.models import Product
    from folio.renditions.models import Preset

    t0 = time.perf_counter()
    rng = random.Random(f"{p.seed}:publishing:change")
    skus = sorted(Product.objects.values_list("sku", flat=True))
    chosen = sorted(rng.sample(skus, max(1, int(len(skus) * p.changed_share))))

    def patch(sku: str) -> dict:
        i = int(sku.split("-")[1])
        if i % BLOCK < SIMPLE:
            return {
                "sku": sku,
                "values": {
                    "name": [
                        {
                            "locale": LOCALE,
                            "scope": None,
                            "data": f"Renamed {_words(rng, 2, 3).title()} {i}",
                        }
                    ],
                    "price": [
                        {
                            "locale": None,
                            "scope": None,
                            "data": [
                                {"amount": f"{rng.uniform(5, 120):.2f}", "currency": CURRENCY}
                            ],
                        }
                    ],
                },
            }
        # name and price belong to the model; the variant's own value is its size
        return {
            "sku": sku,
            "values": {
                "size": [
                    {
                        "locale": None,
                        "scope": None,
                        "data": rng.choice(
                            [s for s in SIZES if s != product(p, i)["values"]["size"][0]["data"]]
                        ),
                    }
                ]
            },
        }

    # The replaced files arrive now, as an upload's would (the catalog was built at NOW).
    now = timezone.now().strftime("%Y-%m-%d %H:%M:%S.%f")
    written = 0
    for line in services.bulk_upsert(patch(sku) for sku in chosen):
        if line["status"] not in ("updated", "unchanged"):
            raise RuntimeError(f"change script: {line}")
        written += line["status"] == "updated"
    with transaction.atomic(), connection.cursor() as c:
        c.execute("SELECT id FROM assets_asset WHERE title LIKE 'Image %%' ORDER BY id")
        assets = [r[0] for r in c.fetchall()]
        picked = sorted(rng.sample(assets, max(1, int(len(assets) * p.changed_share))))
        c.execute("SELECT coalesce(max(id), 0) FROM assets_assetversion")
        vbase = c.fetchone()[0]
        shas = [_sha(f"{p.seed}:publishing:replaced:{aid}") for aid in picked]
        c.executemany(
            "INSERT INTO assets_blob (sha256, size, mime, storage_name, created_at) "
            "VALUES (%s, 260000, 'image/jpeg', %s, %s)",
            [(sha, f"bench/{sha}", now) for sha in shas],
        )
        c.executemany(
            "INSERT INTO assets_assetversion (id, number, filename, mime, size, width, height, "
            "pages, duration, metadata, uploaded_at, comment, pruned, asset_id, uploaded_by_id, "
            "blob_id) VALUES (%s, 2, %s, 'image/jpeg', 260000, 2000, 2000, NULL, NULL, '{}', "
            "%s, 'replaced', 0, %s, NULL, %s)",
            [
                (vbase + k + 1, f"IMG_{aid}_v2.jpg", now, aid, sha)
                for k, (aid, sha) in enumerate(zip(picked, shas, strict=True))
            ],
        )
        # A new file version bumps the asset's row version, as the upload path does.
        c.executemany(
            "UPDATE assets_asset SET current_version_id = %s, version = version + 1, "
            "updated_at = %s WHERE id = %s",
            [(vbase + k + 1, now, aid) for k, aid in enumerate(picked)],
        )
        from folio.assets.models import Blob

        c.execute("SELECT blob_id FROM renditions_rendition WHERE status = 'ready' LIMIT 1")
        blob = Blob.objects.get(sha256=c.fetchone()[0])
        _rendition_rows(c, shas, Preset.objects.get(code=PRESET), blob, at=now)
    return {
        "products_changed": written,
        "assets_replaced": len(picked),
        "change_seconds": round(time.perf_counter() - t0, 1),
    }
