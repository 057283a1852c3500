"""Imports and exports at scale (issue 8, item 7): the catalog generator's CSV of products
× 20 values imported with `folio import`'s code path, against a raw executemany of exactly
the rows it wrote, and exported again.

Scale: FOLIO_BENCH_IMPORT_PRODUCTS (default 1,000,000, the issue's figure); FOLIO_BENCH_SEED.
The data is the committed generator's (bench/catalog_data.py): its structure and product
models are created by catalog_data.create_structure and its products written by
catalog_data.write_csv, with Params(locales=("en_US", "de_DE")) — the issue's two locales —
and nothing else changed (the generator's columns and values come from its module-level
locales; the results say which locales the file really holds). Fresh database every run.

a) import, in a child process (python -m bench.imports_data import): a run record and its
   job, then folio.imports — CSV streamed (encoding and delimiter detected), each row turned
   into a product item, duplicates checked, every batch through services.bulk_upsert with
   validation, history, the filter index, completeness, the search index and audit on.
   Products/s and seconds; peak RSS of that process (resource.getrusage in the child).
b) baseline, same run: every row the import inserted (each table whose max id grew), read
   back table by table and inserted again with cursor.executemany into fresh tables of the
   same definition (indexes included), in one transaction; only the inserts are timed.
c) export of every product to CSV, in a child process: products/s and peak RSS.
d) where the time goes: reading the CSV into items alone (no writes), and a profile of
   importing a 2,000-product slice (rolled back).
"""

import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from django.db import connection, transaction

from bench import bench_catalog as bc
from bench import catalog_data as cd
from bench.harness import REPO_DIR, Metric, Result, Target, hotspots

PRODUCTS = int(os.environ.get("FOLIO_BENCH_IMPORT_PRODUCTS", "1000000"))
SEED = int(os.environ.get("FOLIO_BENCH_SEED", str(cd.DEFAULT_SEED)))
LOCALES = ("en_US", "de_DE")
PARSE_SAMPLE = 20_000
PROFILE_SAMPLE = 2_000
READ_CHUNK = 20_000
FULL = 1_000_000
LOCALE_RE = re.compile(r"^[a-z]{2}_[A-Z]{2}$")


class _Rollback(Exception):
    pass


@contextlib.contextmanager
def rolled_back():
    try:
        with transaction.atomic():
            yield
            raise _Rollback
    except _Rollback:
        pass


def _child(ctx, action: str, path: Path) -> dict:
    connection.close()  # the child writes; this process holds nothing open meanwhile
    proc = subprocess.run(
        [sys.executable, "-m", "bench.imports_data", action, str(path)],
        cwd=REPO_DIR,
        env=ctx.subprocess_env(),
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    for line in proc.stdout.splitlines():
        if line.startswith("BENCH-RESULT "):
            return json.loads(line[len("BENCH-RESULT ") :])
    raise RuntimeError(f"the {action} child failed (exit {proc.returncode}): {proc.stdout[-2000:]}")


def _csv_facts(path: Path) -> dict:
    with open(path, encoding="utf-8") as fh:
        header = fh.readline().rstrip("\r\n").split(";")
    locales = sorted(
        {part for col in header for part in col.split("-")[1:] if LOCALE_RE.match(part)}
    )
    return {
        "columns": len(header),
        "locales_in_file": locales,
        "size_mb": round(path.stat().st_size / 2**20, 1),
    }


# --- the raw baseline ---------------------------------------------------------------------------


def baseline_insert(before: dict[str, int]) -> tuple[float, dict[str, int]]:
    """Seconds to insert again, with one executemany per chunk into fresh tables of the same
    definition, every row written since `before` (read back in id order, reads not timed)."""
    q = connection.ops.quote_name
    grown = {}
    with connection.cursor() as c:
        for t, last in before.items():
            col = bc._id_column(t)
            c.execute(f"SELECT max({col}) FROM {q(t)}")  # noqa: S608 - names from the schema
            top = c.fetchone()[0] or 0
            # Tables keyed by UUID (the import's one job row) cannot be read in id order.
            if isinstance(top, int) and isinstance(last, int) and top > last:
                grown[t] = last
    names = bc._fresh_tables(list(grown))
    seconds, rows = 0.0, {}
    with transaction.atomic(), connection.cursor() as c:
        for t, last in grown.items():
            col = bc._id_column(t)
            if t == "search_fts":
                cols = ["rowid", "identifiers", "title", "body"]
            else:
                cols = [
                    d.name
                    for d in connection.introspection.get_table_description(c, t)
                    if d.name != "id"
                ]
            select = ", ".join(x if x == "rowid" else q(x) for x in cols)
            marks = ", ".join(["%s"] * len(cols))
            insert = f"INSERT INTO {q(names[t])} ({select}) VALUES ({marks})"  # noqa: S608
            n, cursor_id = 0, last
            while True:
                c.execute(
                    f"SELECT {col}, {select} FROM {q(t)} WHERE {col} > %s "  # noqa: S608
                    f"ORDER BY {col} LIMIT {READ_CHUNK}",
                    [cursor_id],
                )
                chunk = c.fetchall()
                if not chunk:
                    break
                cursor_id = chunk[-1][0]
                data = [r[1:] for r in chunk]
                t0 = time.perf_counter()
                c.executemany(insert, data)
                seconds += time.perf_counter() - t0
                n += len(data)
            rows[t] = n
    with connection.cursor() as c:  # the copies are as big as what was imported
        for raw in names.values():
            c.execute(f"DROP TABLE {q(raw)}")
    return seconds, rows


# --- where the time goes ------------------------------------------------------------------------


def parse_rate(path: Path, n: int) -> dict:
    """Reading the CSV and turning rows into product items, nothing written."""
    from folio.catalog import values as v
    from folio.imports import columns, readers

    [table] = list(readers.open_tables(path, path.name))
    structure = v.Structure.load()
    t0 = time.perf_counter()
    plan = columns.plan_columns(table.header, "products", structure)
    reader = columns.RowReader(plan)
    plan_s = time.perf_counter() - t0
    done = 0
    t0 = time.perf_counter()
    for _number, cells, _problem in table.rows:
        reader.read(cells)
        done += 1
        if done >= n:
            break
    seconds = time.perf_counter() - t0
    table.close()
    return {"rows": done, "seconds": seconds, "per_second": done / seconds, "plan_seconds": plan_s}


def profile_slice(layout: cd.Layout, start: int, n: int, folder: Path) -> dict:
    from folio.imports.importer import Importer, run_to_end
    from folio.imports.sources import open_source

    path = folder / "slice.csv"
    cd.write_csv(layout, path, start, start + n)
    out = {}
    with rolled_back():
        cd.create_models(layout, start, start + n)

        def once():
            source = open_source(path)
            imp = Importer(source)
            out["summary"] = run_to_end(imp)["totals"]
            source.cleanup()

        out["profile"] = hotspots(once, 1, ops_per_call=n, top=25, focus=("folio/",))
    return out


# --- run --------------------------------------------------------------------------------------


def run(ctx) -> Result:
    n = PRODUCTS
    p = cd.Params(products=n, seed=SEED, locales=LOCALES)
    print(cd.describe(p), flush=True)
    work = Path(tempfile.mkdtemp(prefix="folio-bench-imports-", dir=ctx.var_dir))
    t0 = time.perf_counter()
    layout = cd.create_structure(p)
    structure_s = time.perf_counter() - t0
    csv_path = work / "products.csv"
    t0 = time.perf_counter()
    written = cd.write_csv(layout, csv_path)
    csv_s = time.perf_counter() - t0
    facts = _csv_facts(csv_path)
    print(
        f"structure {structure_s:.0f} s; CSV {written:,} rows, {facts['columns']:,} columns, "
        f"{facts['size_mb']:,} MB in {csv_s:.0f} s; locales {facts['locales_in_file']}",
        flush=True,
    )

    parse = parse_rate(csv_path, min(n, PARSE_SAMPLE))
    before = bc._max_ids()
    print("importing (child process) …", flush=True)
    imported = _child(ctx, "import", csv_path)
    csv_path.unlink()  # disk: the catalog, its copy for the baseline and the export are big
    totals = imported["summary"]["totals"]
    if totals["created"] != n or totals["errors"]:
        raise RuntimeError(f"import: {imported['message']} ({totals})")
    print(f"imported {n:,} in {imported['seconds']:.0f} s", flush=True)
    print("raw baseline …", flush=True)
    raw_s, raw_rows = baseline_insert(before)
    print("exporting (child process) …", flush=True)
    exported = _child(ctx, "export", work / "export.csv")
    export_path = work / "export.csv"
    export_facts = {"size_mb": round(export_path.stat().st_size / 2**20, 1)}
    export_path.unlink()
    print("profiling …", flush=True)
    prof = profile_slice(layout, n, PROFILE_SAMPLE, work)

    rate = n / imported["seconds"]
    scale = "" if n == FULL else f" (scaled from 240 s for 1,000,000 to {n:,})"
    metrics = [
        Metric(
            "import_throughput",
            f"import: products/s ({n:,} × {cd.VALUES_PER_PRODUCT} values, CSV)",
            rate,
            "products/s",
            target=Target(">=", 4000.0, source="issue"),
            note="validation, history, filter index, completeness, search index, audit on",
        ),
        Metric(
            "import_seconds",
            f"import: seconds for {n:,} products",
            imported["seconds"],
            "s",
            target=Target("<=", 240.0 * n / FULL, source="issue" + scale),
        ),
        Metric(
            "import_peak_rss",
            "import: peak RSS of the importing process",
            imported["peak_rss_mb"],
            "MB",
            target=Target("<=", 500.0, source="issue"),
            note=f"{imported['rss_after_django_setup_mb']} MB after Django setup; "
            "resource.getrusage in the child (it counts the database file pages SQLite maps, "
            "PRAGMA mmap_size in folio/settings.py)",
        ),
        Metric(
            "import_peak_anon",
            "import: peak anonymous memory of the importing process (RssAnon)",
            imported.get("peak_anon_mb") or 0.0,
            "MB",
            note=f"plus at most {imported.get('peak_file_mb')} MB of the database file mapped "
            "by SQLite (RssFile); getrusage's peak RSS counts both",
        ),
        Metric(
            "import_vs_raw",
            "import: ms per product vs raw executemany of the rows written",
            imported["seconds"] / n * 1000,
            "ms",
            baseline=raw_s / n * 1000,
            baseline_label="raw executemany of the same rows into fresh tables",
            note=f"baseline {n / raw_s:,.0f} products/s; rows {raw_rows}",
        ),
        Metric(
            "export_throughput",
            f"export: products/s ({n:,} products to CSV)",
            n / exported["seconds"],
            "products/s",
            target=Target(">=", 20000.0, source="issue"),
            note=f"{exported['seconds']:.1f} s, {export_facts['size_mb']} MB, peak RSS "
            f"{exported['peak_rss_mb']} MB",
        ),
        Metric(
            "parse_throughput",
            "CSV rows → product items alone (no writes)",
            parse["per_second"],
            "products/s",
            note=f"{parse['rows']:,} rows; the import's own cost before bulk_upsert",
        ),
    ]
    params = {
        **p.as_dict(),
        "csv": facts,
        "csv_seconds": round(csv_s, 1),
        "structure_seconds": round(structure_s, 1),
    }
    notes = [
        f"{cd.describe(p)}",
        f"Params(locales={list(LOCALES)}) passed to the generator; the file holds the locales "
        f"{facts['locales_in_file']} (catalog_data builds columns and values from its "
        "module-level LOCALES/CHANNELS, not from Params.locales; nothing else was changed)",
        "the import runs the CLI's path (run record, inline job, folio.imports) in a child "
        "process; its seconds exclude Python/Django start-up",
        "the baseline re-inserts exactly the rows the import inserted (table by table, "
        "fresh tables with the same indexes); reading them back is not timed",
    ]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    if load is not None:
        notes.append(
            f"1-minute load average at the end: {load:.2f} on {os.cpu_count()} CPUs "
            "(the machine is shared)"
        )
    return Result(
        name="imports",
        title=f"Import and export of {n:,} products",
        description=__doc__.split("\n\n")[0],
        parameters=params,
        metrics=metrics,
        diagnostics={
            "import": imported,
            "raw_baseline": {"seconds": round(raw_s, 2), "rows": raw_rows},
            "export": {**exported, **export_facts},
            "parse": parse,
            "profile_slice": prof,
        },
        notes=notes,
    )
