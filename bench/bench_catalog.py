"""The catalog at the reference PIM's "large" profile (bench/catalog_data.py): writes, one
product, filtered lists.

Scale: FOLIO_BENCH_PRODUCTS (default 1,000,000, the issue's figure); FOLIO_BENCH_SEED.
The catalog is built once through services.bulk_upsert and cached (SQLite) under
var/bench/catalog-<key>.sqlite3, the key hashing parameters, seed and the code that shapes
the data (bench/catalog_data.py, folio/catalog, folio/search); re-runs reuse it and only
measure. On PostgreSQL it is cached the same way as a database of its own,
folio_bench_cache_catalog_<key>, which each run copies (CREATE DATABASE … TEMPLATE) into the
harness's database; `DROP DATABASE` it to rebuild.

a) bulk upsert: FOLIO_BENCH_UPSERT_SAMPLE (default 10,000) new products (those after the
   catalog's last one) through the public services.bulk_upsert — validation, product rows,
   categories, filter index, completeness, history, search index, audit — into the built
   catalog, in a transaction that is rolled back afterwards (so the cache stays as built).
   Baseline, same run: the rows the service wrote (read back from every table whose max id
   grew) inserted again with one raw cursor.executemany per table into fresh tables of the
   same definition (indexes included). The catalog's own build throughput is reported too.
b) one product: services.get_product + resolved_values (what GET /products/{sku} does for its
   values) over seeded random SKUs; also the full API GET through django.test.Client.
c) a list page: queries.filter_products (family + completeness + one attribute condition)
   + the first 100 products ordered by SKU serialized with the API's ProductOut schema, over
   a committed, seeded query mix in three classes; p95 per class and overall.
"""

import contextlib
import hashlib
import itertools
import json
import os
import random
import time
from pathlib import Path

from django.core.management import call_command
from django.db import connection, transaction

from bench import catalog_data as cd
from bench.harness import REPO_DIR, Metric, Result, Target, hotspots, summarize, timed

PRODUCTS = int(os.environ.get("FOLIO_BENCH_PRODUCTS", "1000000"))
SEED = int(os.environ.get("FOLIO_BENCH_SEED", str(cd.DEFAULT_SEED)))
UPSERT_SAMPLE = int(os.environ.get("FOLIO_BENCH_UPSERT_SAMPLE", "10000"))
CACHE_DIR = REPO_DIR / "var" / "bench"
BUILD_CHUNK = 10_000
GET_SAMPLES = 2000
API_GET_SAMPLES = 500
QUERIES_PER_CLASS = 20
QUERY_REPEATS = 3
MS = 1000.0

# Code whose change changes the built data (or its schema): part of the cache key.
# Not every folio file: the write path may get faster without invalidating a built catalog.
CODE_FILES = (
    "bench/catalog_data.py",
    "folio/catalog/migrations",
    "folio/catalog/models.py",
    "folio/catalog/values.py",
    "folio/catalog/completeness.py",
    "folio/search/migrations",
    "folio/search/text.py",
)


class _Rollback(Exception):
    pass


@contextlib.contextmanager
def rolled_back():
    """Run the block in a transaction and roll it back, so the cached catalog stays as built."""
    try:
        with transaction.atomic():
            yield
            raise _Rollback
    except _Rollback:
        pass


def code_version() -> str:
    h = hashlib.sha256()
    for name in CODE_FILES:
        path = REPO_DIR / name
        files = [path] if path.is_file() else sorted(path.rglob("*.py"))
        for f in files:
            h.update(str(f.relative_to(REPO_DIR)).encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:12]


def _use_sqlite_file(path: Path) -> None:
    connection.close()
    connection.settings_dict["NAME"] = str(path)


def _db_size_mb() -> float:
    with connection.cursor() as c:
        if connection.vendor == "sqlite":
            c.execute("PRAGMA page_count")
            pages = c.fetchone()[0]
            c.execute("PRAGMA page_size")
            return round(pages * c.fetchone()[0] / 2**20, 1)
        c.execute("SELECT pg_database_size(current_database())")
        return round(c.fetchone()[0] / 2**20, 1)


def _table_counts(tables) -> dict:
    out = {}
    with connection.cursor() as c:
        for t in tables:
            c.execute(f"SELECT count(*) FROM {connection.ops.quote_name(t)}")  # noqa: S608
            out[t] = c.fetchone()[0]
    return out


COUNTED = (
    "catalog_product",
    "catalog_productmodel",
    "catalog_product_categories",
    "catalog_valueindex",
    "catalog_completeness",
    "catalog_productchange",
    "search_entry",
    "search_identifier",
    "accounts_auditentry",
)


def build(p: cd.Params) -> dict:
    """Create the structure and upsert every product through services.bulk_upsert."""
    from folio.catalog import services

    t0 = time.perf_counter()
    layout = cd.create_structure(p)
    structure_s = time.perf_counter() - t0
    written = 0
    t1 = time.perf_counter()
    for start in range(0, p.products, BUILD_CHUNK):
        stop = min(start + BUILD_CHUNK, p.products)
        for line in services.bulk_upsert(cd.products(layout, start, stop)):
            if line["status"] != "created":
                raise RuntimeError(f"building the catalog: {line}")
            written += 1
        elapsed = time.perf_counter() - t1
        print(
            f"  built {written:,}/{p.products:,} products, {written / elapsed:,.0f}/s, "
            f"{elapsed:,.0f} s",
            flush=True,
        )
    upsert_s = time.perf_counter() - t1
    return {
        "structure_seconds": round(structure_s, 1),
        "upsert_seconds": round(upsert_s, 1),
        "products_per_second": round(written / upsert_s, 1),
        "built_at": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def prepare_catalog(ctx, p: cd.Params) -> tuple[cd.Layout, dict, str]:
    """(layout, build facts, where the catalog came from)."""
    key = p.key(code_version())
    if connection.vendor != "sqlite":
        return cd.build_layout(p), *_prepare_pg_catalog(ctx, p, key)
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    path = CACHE_DIR / f"catalog-{key}.sqlite3"
    meta = CACHE_DIR / f"catalog-{key}.json"
    if path.exists() and meta.exists():
        _use_sqlite_file(path)
        call_command("migrate", verbosity=0, interactive=False)
        return cd.build_layout(p), json.loads(meta.read_text()), f"cached {path.name}"
    partial = CACHE_DIR / f"catalog-{key}.building.sqlite3"
    for f in CACHE_DIR.glob(f"catalog-{key}.building.sqlite3*"):
        f.unlink()
    _use_sqlite_file(partial)
    call_command("migrate", verbosity=0, interactive=False)
    print(f"building {cd.describe(p)} into {partial} …", flush=True)
    facts = build(p)
    facts["rows"] = _table_counts(COUNTED)
    with connection.cursor() as c:
        c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    partial.rename(path)
    for suffix in ("-wal", "-shm"):
        Path(f"{partial}{suffix}").unlink(missing_ok=True)
    meta.write_text(json.dumps(facts, indent=2) + "\n")
    _use_sqlite_file(path)
    return cd.build_layout(p), facts, f"built in this run, cached as {path.name}"


def pg_cache_name(key: str) -> str:
    return f"folio_bench_cache_catalog_{key}"


def _prepare_pg_catalog(ctx, p: cd.Params, key: str) -> tuple[dict, str]:
    """PostgreSQL: start from the cached database of this key, or build and cache it."""
    cache = pg_cache_name(key)
    found = [facts for name, facts in ctx.pg_cached(cache) if name == cache]
    if found:
        facts = found[0]
        ctx.pg_start_from(cache)
        call_command("migrate", verbosity=0, interactive=False)
        return facts, f"cached database {cache}"
    print(f"building {cd.describe(p)} into {ctx.pg_db} …", flush=True)
    facts = build(p)
    facts["rows"] = _table_counts(COUNTED)
    with connection.cursor() as c:
        c.execute("ANALYZE")
    ctx.pg_keep_as(cache, facts)
    return facts, f"built in this run, cached as database {cache}"


# --- a) bulk upsert and its raw baseline ------------------------------------------------------


def _tables() -> list[str]:
    names = connection.introspection.table_names()
    # FTS5 keeps its data in shadow tables search_fts_*; the virtual table stands for them.
    return [n for n in names if not n.startswith(("search_fts_", "sqlite_", "bench_raw_"))]


def _id_column(table: str) -> str | None:
    if table == "search_fts":
        return "rowid"
    with connection.cursor() as c:
        ids = [
            d for d in connection.introspection.get_table_description(c, table) if d.name == "id"
        ]
    if not ids:
        return None
    # Rows are read back in id order; a UUID key (jobs, uploads) has none (and PostgreSQL has
    # no max(uuid)), and nothing the benchmarks time writes such rows in bulk.
    kind = connection.introspection.get_field_type(ids[0].type_code, ids[0])
    return None if kind in ("UUIDField", "CharField") else "id"


def _max_ids() -> dict[str, int]:
    out = {}
    with connection.cursor() as c:
        for t in _tables():
            col = _id_column(t)
            if col:
                c.execute(f"SELECT max({col}) FROM {connection.ops.quote_name(t)}")  # noqa: S608
                out[t] = c.fetchone()[0] or 0
    return out


def _rows_since(before: dict[str, int]) -> dict[str, tuple[list[str], list[tuple]]]:
    """Per table: (columns, rows) added since `before` (the id column left out, except for the
    FTS table whose rowid is the entry id the service sets)."""
    out = {}
    with connection.cursor() as c:
        for t, last in before.items():
            col = _id_column(t)
            if t == "search_fts":
                cols = ["rowid", "identifiers", "title", "body"]
            else:
                desc = connection.introspection.get_table_description(c, t)
                cols = [d.name for d in desc if d.name != "id"]
            q = connection.ops.quote_name
            c.execute(
                f"SELECT {', '.join(q(x) if x != 'rowid' else x for x in cols)} "  # noqa: S608
                f"FROM {q(t)} WHERE {col} > %s ORDER BY {col}",
                [last],
            )
            rows = c.fetchall()
            if rows:
                out[t] = (cols, rows)
    return out


def _fresh_tables(tables: list[str]) -> dict[str, str]:
    """Create bench_raw_<table> like each table (indexes included); returns the names."""
    names = {}
    with connection.cursor() as c:
        for t in tables:
            raw = f"bench_raw_{t}"
            names[t] = raw
            if connection.vendor == "sqlite":
                c.execute(
                    "SELECT type, name, sql FROM sqlite_master "
                    # Triggers (the audit log's append-only guards) fire on update and
                    # delete only: the raw inserts do not need them.
                    "WHERE tbl_name = %s AND sql IS NOT NULL AND type != 'trigger'",
                    [t],
                )
                for kind, name, sql in sorted(c.fetchall(), key=lambda r: r[0] != "table"):
                    if kind == "table":
                        sql = sql.replace(f'"{t}"', f'"{raw}"', 1).replace(
                            f"TABLE {t}", f"TABLE {raw}", 1
                        )
                    else:
                        sql = sql.replace(f'"{name}"', f'"bench_raw_{name}"', 1).replace(
                            f'ON "{t}"', f'ON "{raw}"', 1
                        )
                    c.execute(sql)
            else:
                c.execute(f'CREATE TABLE "{raw}" (LIKE "{t}" INCLUDING ALL)')
    return names


def baseline_insert(rows: dict[str, tuple[list[str], list[tuple]]]) -> float:
    """Seconds for inserting `rows` into fresh tables with one executemany per table."""
    names = _fresh_tables(list(rows))
    q = connection.ops.quote_name
    t0 = time.perf_counter()
    with transaction.atomic(), connection.cursor() as c:
        for t, (cols, data) in rows.items():
            marks = ", ".join(["%s"] * len(cols))
            collist = ", ".join(x if x == "rowid" else q(x) for x in cols)
            c.executemany(f"INSERT INTO {q(names[t])} ({collist}) VALUES ({marks})", data)  # noqa: S608
    return time.perf_counter() - t0


def measure_upsert(layout: cd.Layout, n: int, m: int) -> dict:
    from folio.catalog import services

    out = {}
    with rolled_back():
        cd.create_models(layout, n, n + m)  # the models of the new variants: structure, untimed
        items = list(cd.products(layout, n, n + m))
        before = _max_ids()
        seconds, lines = timed(lambda: list(services.bulk_upsert(items)))
        bad = [x for x in lines if x["status"] != "created"]
        if bad:
            raise RuntimeError(f"bulk upsert: {len(bad)} not created, e.g. {bad[:2]}")
        rows = _rows_since(before)
        out["service_seconds"] = seconds
        out["rows"] = {t: len(r) for t, (_, r) in rows.items()}
        out["baseline_seconds"] = baseline_insert(rows)
    # Where the time goes: profile a smaller sample (also rolled back).
    k = min(2000, m)
    with rolled_back():
        cd.create_models(layout, n, n + k)
        items = list(cd.products(layout, n, n + k))
        out["profile"] = hotspots(
            lambda: list(services.bulk_upsert(items)),
            1,
            ops_per_call=k,
            top=25,
            focus=("folio/",),
        )
    return out


# --- b) one product ------------------------------------------------------------------------------


def measure_get(layout: cd.Layout, n: int) -> dict:
    from django.test import Client

    from folio.accounts import services as accounts
    from folio.catalog import services

    rng = random.Random(f"{SEED}:get")
    skus = [f"SKU-{rng.randrange(n):08d}" for _ in range(GET_SAMPLES)]

    def one(sku):
        product = services.get_product(sku)
        return services.resolved_values(product)

    for sku in skus[:100]:  # warm-up
        one(sku)
    samples = []
    for sku in skus:
        t0 = time.perf_counter()
        one(sku)
        samples.append(time.perf_counter() - t0)
    out = {"service": summarize(samples)}

    with rolled_back():
        headers = []
        for u in range(10):
            user = accounts.create_user(f"bench-catalog-{u}", roles=["catalog_editor"])
            headers.append(f"Bearer {accounts.create_token(user, 'bench')[1]}")
        client = Client()
        rotation = itertools.cycle(headers)
        api_samples = []
        for i, sku in enumerate(skus[: API_GET_SAMPLES + 50]):
            t0 = time.perf_counter()
            r = client.get(f"/api/v1/catalog/products/{sku}", HTTP_AUTHORIZATION=next(rotation))
            if r.status_code != 200:
                raise RuntimeError(f"GET {sku}: {r.status_code} {r.content[:300]}")
            if i >= 50:
                api_samples.append(time.perf_counter() - t0)
        out["api"] = summarize(api_samples)
    return out


# --- c) list pages -------------------------------------------------------------------------------


def query_mix(layout: cd.Layout) -> list[tuple[str, dict]]:
    """The committed mix: (class, filter spec), seeded. Each spec has family(ies), a
    completeness condition and one attribute condition, in the API's own filter syntax."""
    rng = random.Random(f"{SEED}:queries")
    attrs = layout.attributes
    mix = []
    for _ in range(QUERIES_PER_CLASS):
        fam = rng.choice(layout.families)
        selects = [
            c
            for c in fam.attributes
            if attrs[c].type == "select" and not attrs[c].localizable and c not in fam.level_of
        ]
        a = attrs[rng.choice(selects)]
        mix.append(
            (
                "selective",
                {
                    "families": [fam.code],
                    "channel": "ecommerce",
                    "locale": "en_US",
                    "completeness": 100,
                    "filter": f"{a.code}={rng.choice(a.options)}",
                },
            )
        )
    for _ in range(QUERIES_PER_CLASS):
        fam = rng.choice(layout.families)
        numbers = [
            c
            for c in fam.attributes
            if attrs[c].type == "number" and not attrs[c].scopable and c not in fam.level_of
        ] or ["weight"]
        code = rng.choice(numbers)
        cond = f"{code}>100" if code != "weight" else "weight>=1 kg"
        mix.append(
            (
                "medium",
                {
                    "families": [fam.code],
                    "channel": "ecommerce",
                    "locale": rng.choice(cd.LOCALES),
                    "completeness": 50,
                    "filter": cond,
                },
            )
        )
    for _ in range(QUERIES_PER_CLASS):
        fams = rng.sample(layout.families, 40)
        mix.append(
            (
                "broad",
                {
                    "families": [f.code for f in fams],
                    "channel": "mobile",
                    "locale": "en_US",
                    "completeness": 0,
                    "filter": "name[en_US] not empty",
                },
            )
        )
    return mix


def list_page(spec: dict) -> int:
    """What GET /catalog/products does for the first page (page size 100, ordered by SKU)."""
    import folio.api  # noqa: F401 - mounts the routers before folio.catalog.api is imported
    from folio.catalog import api, queries
    from folio.catalog.api import PRODUCT_PREFETCH

    f = queries.ProductFilter(
        families=spec["families"],
        complete_channel=spec["channel"],
        complete_locale=spec["locale"],
        completeness=spec["completeness"],
        conditions=[queries.parse_condition(spec["filter"])],
    )
    qs = (
        queries.filter_products(f)
        .select_related("family", "parent__parent")
        .prefetch_related(*PRODUCT_PREFETCH)
        .order_by("sku")
    )
    page = [api.ProductOut.from_orm(p).dict() for p in qs[:100]]
    return len(page)


def measure_lists(layout: cd.Layout) -> dict:
    mix = query_mix(layout)
    by_class: dict[str, list[float]] = {}
    sizes: dict[str, list[int]] = {}
    list_page(mix[0][1])  # warm-up (imports, statement cache)
    for _ in range(QUERY_REPEATS):
        for cls, spec in mix:
            t0 = time.perf_counter()
            size = list_page(spec)
            by_class.setdefault(cls, []).append(time.perf_counter() - t0)
            sizes.setdefault(cls, []).append(size)
    out = {cls: summarize(s) for cls, s in by_class.items()}
    out["all"] = summarize([x for s in by_class.values() for x in s])
    out["page_sizes"] = {
        cls: {"min": min(s), "median": sorted(s)[len(s) // 2], "max": max(s)}
        for cls, s in sizes.items()
    }
    slowest = max(
        ((cls, spec) for cls, spec in mix), key=lambda cs: timed(lambda: list_page(cs[1]))[0]
    )
    out["slowest_query"] = {"class": slowest[0], **slowest[1]}
    out["slowest_profile"] = hotspots(lambda: list_page(slowest[1]), 3, top=15, focus=("folio/",))
    with connection.cursor() as c:
        if connection.vendor == "sqlite":
            from folio.catalog import queries

            spec = slowest[1]
            f = queries.ProductFilter(
                families=spec["families"],
                complete_channel=spec["channel"],
                complete_locale=spec["locale"],
                completeness=spec["completeness"],
                conditions=[queries.parse_condition(spec["filter"])],
            )
            sql, params = queries.filter_products(f).order_by("sku")[:100].query.sql_with_params()
            c.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            out["slowest_plan"] = [row[-1] for row in c.fetchall()]
    out["mix"] = [{"class": cls, **spec} for cls, spec in mix]
    return out


# --- run ------------------------------------------------------------------------------------------


def run(ctx) -> Result:
    p = cd.Params(products=PRODUCTS, seed=SEED)
    print(cd.describe(p), flush=True)
    layout, build_facts, source = prepare_catalog(ctx, p)
    # What the scheduler's hourly `optimize-database` job does on a running install.
    from folio.jobs.maintenance import optimize_database

    t_analyze = time.perf_counter()
    optimize_database(None)
    build_facts["optimize_database_seconds"] = round(time.perf_counter() - t_analyze, 2)
    size_mb = _db_size_mb()
    counts = _table_counts(COUNTED)
    if counts["catalog_product"] != p.products:
        raise RuntimeError(
            f"the catalog has {counts['catalog_product']} products, not {p.products}"
        )

    m = UPSERT_SAMPLE
    up = measure_upsert(layout, p.products, m)
    get = measure_get(layout, p.products)
    lists = measure_lists(layout)

    svc_rate = m / up["service_seconds"]
    raw_rate = m / up["baseline_seconds"]
    scale = f"{p.products:,} products, DB {size_mb:,.0f} MB"
    metrics = [
        Metric(
            "bulk_upsert_throughput",
            f"bulk_upsert: products/s ({m:,} new into {p.products:,})",
            svc_rate,
            "products/s",
            target=Target(">=", 5000.0, source="issue"),
            note=f"{cd.VALUES_PER_PRODUCT} values/product, everything on; {scale}",
        ),
        Metric(
            "bulk_upsert_vs_raw",
            "bulk_upsert: ms per product vs raw executemany of the same rows",
            up["service_seconds"] / m * MS,
            "ms",
            baseline=up["baseline_seconds"] / m * MS,
            baseline_label="raw executemany of the rows written, fresh tables",
            target=Target("<=", 3.0, on="ratio", source="issue"),
            note=f"baseline {raw_rate:,.0f} products/s; rows: {up['rows']}",
        ),
        Metric(
            "build_throughput",
            f"catalog build via bulk_upsert: products/s (0 → {p.products:,})",
            build_facts["products_per_second"],
            "products/s",
            note=f"measured when the catalog was built ({build_facts.get('built_at')}); {source}",
        ),
        Metric(
            "get_product",
            "one product by SKU, values resolved (service)",
            get["service"]["median"] * MS,
            "ms",
            p95=get["service"]["p95"] * MS,
            target=Target("<=", 5.0, source="issue"),
            note=f"median over {GET_SAMPLES} seeded random SKUs; {scale}",
        ),
        Metric(
            "api_get_product",
            "GET /api/v1/catalog/products/{sku} (test client, token)",
            get["api"]["median"] * MS,
            "ms",
            p95=get["api"]["p95"] * MS,
            note=f"median over {API_GET_SAMPLES} requests; completeness, origins, associations too",
        ),
    ]
    for cls in ("selective", "medium", "broad"):
        s = lists[cls]
        metrics.append(
            Metric(
                f"list_p95_{cls}",
                f"list page p95, {cls} filters",
                s["p95"] * MS,
                "ms",
                target=Target("<=", 50.0, source="issue"),
                note=f"median {s['median'] * MS:.1f} ms, n={s['n']}, "
                f"page sizes {lists['page_sizes'][cls]}",
            )
        )
    metrics.append(
        Metric(
            "list_p95_all",
            "list page p95, whole mix",
            lists["all"]["p95"] * MS,
            "ms",
            target=Target("<=", 50.0, source="issue"),
            note=f"median {lists['all']['median'] * MS:.1f} ms, n={lists['all']['n']}",
        )
    )
    params = {
        **{k: v for k, v in p.as_dict().items()},
        "db_size_mb": size_mb,
        "catalog": source,
        "upsert_sample": m,
        "get_samples": GET_SAMPLES,
        "queries": f"{QUERIES_PER_CLASS} per class × 3 classes × {QUERY_REPEATS} repeats",
    }
    return Result(
        name="catalog",
        title=f"Catalog at the large profile ({p.products:,} products)",
        description=__doc__.split("\n\n")[0],
        parameters=params,
        metrics=metrics,
        diagnostics={
            "rows": counts,
            "build": build_facts,
            "upsert_rows_written": up["rows"],
            "upsert_seconds": {
                "service": round(up["service_seconds"], 3),
                "raw_baseline": round(up["baseline_seconds"], 3),
            },
            "upsert_profile": up["profile"],
            "get_product": get,
            "lists": lists,
        },
        notes=[
            f"{cd.describe(p)}; database {size_mb:,.0f} MB",
            "the sample upsert runs in a transaction rolled back afterwards; its baseline "
            "inserts the same rows into fresh (empty) tables of the same definition",
        ],
    )
