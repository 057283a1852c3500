"""The seeded generator of the linking benchmark's data: assets and links on top of the
catalog benchmark's products (bench/catalog_data.py).

    params = linking_data.Params(products=1_000_000)
    facts = linking_data.populate(params)   # raw inserts into the open (copied) catalog

Data preparation, not a measured path: Blob, AssetVersion and Asset rows (approved images,
no files: nothing here reads file contents) and Link rows are written with one raw
executemany per table, the Link table's indexes dropped during the load and rebuilt after.

Link mix (deterministic: owner n draws from Random(f"{seed}:links:{kind}:{n}")):
- every root product model: main 1, gallery 1–3, manual 1 (variants inherit them);
- every sub-model: lifestyle 1 (its variants inherit it; the root's main/gallery too);
- every variant: its own main 1 (overriding the inherited main);
- every simple product: main 1, gallery 1–3 (about 2.5 on average), lifestyle with
  probability 0.35, manual with probability 0.2.
Assets: link k uses asset k while there are unused assets (so most assets are linked once),
then a seeded random asset (shared files: a manual or a lifestyle shot on many products).
The link budget (default 3,000,000) is filled by simple products' extra gallery images: the
generator scales the gallery count so the total lands near the budget and reports the total.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass

from bench import catalog_data as cd

VIEWS = ("front", "side", "top", "back", "lifestyle", "detail")  # migration 0002's views
NOW = "2026-01-01 00:00:00"


@dataclass(frozen=True)
class Params:
    products: int = 1_000_000
    assets: int = 1_000_000
    links: int = 3_000_000
    seed: int = cd.DEFAULT_SEED

    def as_dict(self) -> dict:
        return asdict(self)


def describe(p: Params) -> str:
    return (
        f"linking: {p.products:,} products, {p.assets:,} assets, ~{p.links:,} links "
        f"(product- and model-level; roles main/gallery/lifestyle/manual), seed {p.seed}"
    )


def _owners(cursor) -> tuple[list[int], list[int], list[int], list[int]]:
    """(simple product ids, variant ids, root model ids, sub-model ids), ascending."""
    cursor.execute("SELECT id, parent_id FROM catalog_product ORDER BY id")
    simple, variants = [], []
    for pk, parent in cursor.fetchall():
        (variants if parent else simple).append(pk)
    cursor.execute("SELECT id, parent_id FROM catalog_productmodel ORDER BY id")
    roots, subs = [], []
    for pk, parent in cursor.fetchall():
        (subs if parent else roots).append(pk)
    return simple, variants, roots, subs


def link_rows(p: Params, owners) -> list[tuple]:
    """(product_id, product_model_id, role, position) for every link, owners in id order."""
    simple, variants, roots, subs = owners
    rows: list[tuple] = []
    for n, mid in enumerate(roots):
        rng = random.Random(f"{p.seed}:links:root:{n}")
        rows.append((None, mid, "main", 1))
        rows += [(None, mid, "gallery", k) for k in range(1, rng.randint(1, 3) + 1)]
        rows.append((None, mid, "manual", 1))
    rows += [(None, mid, "lifestyle", 1) for mid in subs]
    rows += [(pid, None, "main", 1) for pid in variants]
    # Simple products share what is left of the budget: main + lifestyle/manual by chance,
    # gallery images scaled to land near it.
    left = max(p.links - len(rows), 0)
    per_simple = left / max(len(simple), 1)
    gallery_mean = max(per_simple - 1 - 0.35 - 0.2, 0.0)
    for n, pid in enumerate(simple):
        rng = random.Random(f"{p.seed}:links:simple:{n}")
        rows.append((pid, None, "main", 1))
        # gallery count: floor or ceil of the mean, so the average is the mean
        base = int(gallery_mean)
        count = base + (1 if rng.random() < gallery_mean - base else 0)
        rows += [(pid, None, "gallery", k) for k in range(1, count + 1)]
        if rng.random() < 0.35:
            rows.append((pid, None, "lifestyle", 1))
        if rng.random() < 0.2:
            rows.append((pid, None, "manual", 1))
    return rows


def insert_assets(cursor, items) -> None:
    """Approved JPEG image assets with one version each, as the upload path leaves them (the
    file itself is not needed: nothing measured reads it). items: (asset id, version id,
    blob key, filename, title, kind); ids are given so that the rows can refer to each other
    in one pass (the foreign keys are checked at commit)."""
    items = list(items)
    cursor.executemany(
        "INSERT INTO assets_blob (sha256, size, mime, storage_name, created_at) "
        "VALUES (%s, 250000, 'image/jpeg', %s, %s)",
        [(sha, f"bench/{sha}", NOW) for _, _, sha, _, _, _ in items],
    )
    cursor.executemany(
        "INSERT INTO assets_asset (id, version, updated_at, title, description, type, kind, "
        "status, alt_text, creator, copyright, credit, licence, territories, custom, phash, "
        "created_at, created_by_id, current_version_id, external_id, external_system, "
        "external_url) VALUES (%s, 1, %s, %s, '', 'image', %s, 'approved', '{}', '', '', '', "
        "'', '[]', '{}', '', %s, NULL, %s, '', '', '')",
        [(aid, NOW, title, kind, NOW, vid) for aid, vid, _, _, title, kind in items],
    )
    cursor.executemany(
        "INSERT INTO assets_assetversion (id, number, filename, mime, size, width, height, "
        "pages, duration, metadata, uploaded_at, comment, pruned, asset_id, uploaded_by_id, "
        "blob_id) VALUES (%s, 1, %s, 'image/jpeg', 250000, 2000, 2000, NULL, NULL, '{}', "
        "%s, '', FALSE, %s, NULL, %s)",
        [(vid, name, NOW, aid, sha) for aid, vid, sha, name, _, _ in items],
    )


def populate(p: Params, connection) -> dict:
    """Insert the assets and links into the database `connection` (Django's) is open on."""
    import time

    from django.db import transaction

    facts: dict = {}
    t0 = time.perf_counter()
    with transaction.atomic(), connection.cursor() as c:
        c.execute("SELECT coalesce(max(id), 0) FROM assets_asset")
        base = c.fetchone()[0]
        c.execute("SELECT coalesce(max(id), 0) FROM assets_assetversion")
        vbase = c.fetchone()[0]
        insert_assets(
            c,
            (
                (
                    base + i,
                    vbase + i,
                    f"bench{i:059x}",
                    f"IMG_{i:07d}.jpg",
                    f"Image {i}",
                    "packshot" if i % 5 else "lifestyle",
                )
                for i in range(1, p.assets + 1)
            ),
        )
        facts["assets_seconds"] = round(time.perf_counter() - t0, 1)
        facts["asset_id_range"] = [base + 1, base + p.assets]

        t1 = time.perf_counter()
        rows = link_rows(p, _owners(c))
        rng = random.Random(f"{p.seed}:links:assets")
        seen: set[tuple] = set()
        data = []
        for k, (pid, mid, role, pos) in enumerate(rows):
            asset = base + 1 + k if k < p.assets else base + 1 + rng.randrange(p.assets)
            key = (pid, mid, role, asset)
            while key in seen:  # the same file twice in one role of one owner: draw again
                asset = base + 1 + rng.randrange(p.assets)
                key = (pid, mid, role, asset)
            seen.add(key)
            data.append((pid, mid, asset, role, pos, NOW))
        del seen
        facts["links_generate_seconds"] = round(time.perf_counter() - t1, 1)

        t2 = time.perf_counter()
        indexes = _droppable_indexes(c, connection.vendor, "linking_link")
        for name, _ in indexes:
            c.execute(f'DROP INDEX "{name}"')
        c.executemany(
            "INSERT INTO linking_link (product_id, product_model_id, asset_id, role, position, "
            "locale, channel_id, created_at, created_by_id, source) VALUES "
            "(%s, %s, %s, %s, %s, '', NULL, %s, NULL, 'import')",
            data,
        )
        if connection.vendor == "postgresql":
            # The deferred foreign-key checks must run before an index can be built.
            c.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for _, sql in indexes:
            c.execute(sql)
        facts["links_insert_seconds"] = round(time.perf_counter() - t2, 1)
        facts["links"] = len(data)
        facts["links_by_owner"] = {
            "product": sum(1 for r in data if r[0] is not None),
            "product_model": sum(1 for r in data if r[1] is not None),
        }
        if connection.vendor == "postgresql":  # ids were given: move the sequences past them
            for table in ("assets_asset", "assets_assetversion"):
                c.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                    f"(SELECT max(id) FROM {table}))"
                )
    facts["populate_seconds"] = round(time.perf_counter() - t0, 1)
    return facts


def _droppable_indexes(cursor, vendor: str, table: str) -> list[tuple[str, str]]:
    """(name, CREATE statement) of the table's indexes that are not constraints: dropped
    during the load and rebuilt after, which is faster than maintaining them row by row."""
    if vendor == "sqlite":
        cursor.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s "
            "AND sql IS NOT NULL",
            [table],
        )
    else:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes i WHERE tablename = %s AND NOT "
            "EXISTS (SELECT 1 FROM pg_constraint WHERE conname = i.indexname)",
            [table],
        )
    return cursor.fetchall()
