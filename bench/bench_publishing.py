"""Publishing: a full Google Merchant Center feed run over 100,000 products with 4 images each,
then an incremental run after the seeded change script (bench/publishing_data.py).

Scale: FOLIO_BENCH_PUBLISH_PRODUCTS (default 100,000, the issue's figure). The catalog is a
publishable one of its own (bench/publishing_data.py), built once through services.bulk_upsert
and cached under var/bench/publishing-<key>.sqlite3 (the key hashes parameters, seed and the
code that shapes the data); each run copies it and adds images, slots, ready renditions and
the feed (not timed), then:

a) full run: runs.publish(feed, mode="full") — selection, value resolution, mapping,
   completeness and rights checks, images and their URLs, format checks, the XML written
   and switched in, publication, items and listings recorded. Renditions exist beforehand
   (the issue measures feed generation excluding image rendering). Target ≥ 20,000 products/s.
b) the change script: 1 % of products given new values through services.bulk_upsert, 1 % of assets
   given a new file version with its rendition ready (not timed).
c) incremental run: runs.publish(feed, mode="incremental") — only what changed re-resolved,
   other products' fragments reused, the full feed rewritten (Google takes full feeds).
   Target ≤ 10 % of the full run's time.
"""

import hashlib
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

from django.core.management import call_command
from django.db import connection

from bench import bench_catalog as bc
from bench import publishing_data as pd
from bench.harness import Metric, Result, Target

PRODUCTS = int(os.environ.get("FOLIO_BENCH_PUBLISH_PRODUCTS", "100000"))
SEED = int(os.environ.get("FOLIO_BENCH_SEED", str(pd.DEFAULT_SEED)))
CACHE_DIR = bc.CACHE_DIR


CODE_FILES = (
    "bench/publishing_data.py",
    "folio/catalog/migrations",
    "folio/catalog/models.py",
    "folio/catalog/values.py",
    "folio/catalog/completeness.py",
    "folio/linking/migrations",
    "folio/search/migrations",
    "folio/search/text.py",
)


def _code_version() -> str:
    h = hashlib.sha256()
    for name in CODE_FILES:
        path = bc.REPO_DIR / name
        files = [path] if path.is_file() else sorted(path.rglob("*.py"))
        for f in files:
            h.update(str(f.relative_to(bc.REPO_DIR)).encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:12]


def _catalog(pp: pd.Params) -> tuple[Path, dict]:
    """The cached publishable catalog of these parameters (built through bulk_upsert when
    missing). Assets, renditions and the feed are added to each run's copy: their blobs live
    in the run's own media folder."""
    key = pp.key(_code_version())
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    path = CACHE_DIR / f"publishing-{key}.sqlite3"
    meta = CACHE_DIR / f"publishing-{key}.json"
    if path.exists() and meta.exists():
        return path, json.loads(meta.read_text())
    partial = CACHE_DIR / f"publishing-{key}.building.sqlite3"
    for f in CACHE_DIR.glob(f"{partial.name}*"):
        f.unlink()
    bc._use_sqlite_file(partial)
    call_command("migrate", verbosity=0, interactive=False)
    print(f"building {pd.describe(pp)} into {partial} …", flush=True)
    facts = pd.build_catalog(pp)
    with connection.cursor() as c:
        c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    partial.rename(path)
    for suffix in ("-wal", "-shm"):
        Path(f"{partial}{suffix}").unlink(missing_ok=True)
    meta.write_text(json.dumps(facts, indent=2) + "\n")
    return path, facts


def _working_copy(catalog: Path) -> Path:
    work = CACHE_DIR / f"{catalog.stem}.work.sqlite3"
    for f in CACHE_DIR.glob(f"{work.name}*"):
        f.unlink()
    if subprocess.run(["cp", "--reflink=auto", str(catalog), str(work)]).returncode:
        shutil.copyfile(catalog, work)
    return work


def _timed_publish(feed, mode: str):
    from folio.publishing import runs

    t0 = time.perf_counter()
    publication = runs.publish(feed, mode=mode)
    return publication, time.perf_counter() - t0


def run(ctx) -> Result | None:
    if connection.vendor != "sqlite":
        print("publishing: SQLite here (the catalog is a cached SQLite file)")
        return None
    pp = pd.Params(products=PRODUCTS, seed=SEED)
    print(pd.describe(pp), flush=True)
    catalog, built = _catalog(pp)
    source = catalog.name
    work = _working_copy(catalog)
    bc._use_sqlite_file(work)
    call_command("migrate", verbosity=0, interactive=False)
    facts = pd.populate(pp, connection)
    from folio.jobs.maintenance import optimize_database

    optimize_database(None)
    from folio.publishing.models import Feed

    feed = Feed.objects.get(code="google")
    full, full_s = _timed_publish(feed, "full")
    if full.status != "done":
        raise RuntimeError(f"full run failed: {full.message}")
    changed = pd.change(pp, connection)
    feed.refresh_from_db()
    incr, incr_s = _timed_publish(feed, "incremental")
    if incr.status != "done":
        raise RuntimeError(f"incremental run failed: {incr.message}")

    selected = full.counts.get("selected", 0)
    rate = selected / full_s if full_s else 0.0
    metrics = [
        Metric(
            "full_products_per_s",
            "full Google XML run: selected products/s",
            rate,
            "products/s",
            target=Target(">=", 20_000.0, source="issue"),
            note=f"{selected:,} products in {full_s:.1f} s; published "
            f"{full.counts.get('published', 0):,}, skipped {full.counts.get('skipped', 0):,} "
            f"(reasons {full.reasons}); renditions ready beforehand",
        ),
        Metric(
            "incremental_share",
            "incremental run after the 1 % change: time as a share of the full run",
            incr_s / full_s * 100 if full_s else 0.0,
            "%",
            target=Target("<=", 10.0, source="issue"),
            note=f"{incr_s:.2f} s vs {full_s:.2f} s; counts {incr.counts}; change script {changed}",
        ),
    ]
    for f in CACHE_DIR.glob(f"{work.name}*"):
        f.unlink()
    return Result(
        name="publishing",
        title=f"Publishing ({selected:,} products × {pd.IMAGES_PER_PRODUCT} images, Google XML)",
        description=__doc__.split("\n\n")[0],
        parameters={**pp.as_dict(), "catalog": source, "feed_mapping": pd.FEED_MAPPING},
        metrics=metrics,
        diagnostics={
            "catalog": built,
            "populate": facts,
            "full": {
                "counts": full.counts,
                "reasons": full.reasons,
                "files": full.files,
                "seconds": round(full_s, 3),
            },
            "incremental": {
                "counts": incr.counts,
                "reasons": incr.reasons,
                "seconds": round(incr_s, 3),
            },
            "change": changed,
        },
        notes=[
            pd.describe(pp),
            "image rendering excluded from both runs (renditions made ready beforehand, the "
            "replaced assets' too); image URLs point at Folio's delivery endpoint",
        ],
    )
