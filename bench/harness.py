"""The small shared library every benchmark uses.

A benchmark is a module `bench/bench_<name>.py` with `run(ctx) -> Result`. `python -m bench`
runs each one in a fresh process (`Context` below sets up a throw-away Django environment
there), prints its table and writes `bench/results/<name>.json`.

Nothing here is a test: figures are reported, never asserted. A metric may carry a target;
the output says whether it was met and, when not, by how much.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"

# --- targets, metrics, results -----------------------------------------------------------------


@dataclass
class Target:
    """`op` is "<=" or ">="; `on` is "value" (the metric itself) or "ratio" (metric/baseline).

    `source` says where the number comes from (an issue, or "provisional"), so a reader knows
    how much weight a miss carries.
    """

    op: str
    value: float
    on: str = "value"
    source: str = "provisional"

    def __post_init__(self):
        if self.op not in ("<=", ">="):
            raise ValueError(f"target op must be <= or >=, not {self.op!r}")
        if self.on not in ("value", "ratio"):
            raise ValueError(f"target on must be value or ratio, not {self.on!r}")


@dataclass
class Metric:
    """One reported figure. `baseline` is the same quantity for the baseline, measured in the
    same run; the ratio is value / baseline (so for times "3.0" means three times slower)."""

    name: str
    label: str
    value: float
    unit: str
    p95: float | None = None
    baseline: float | None = None
    baseline_label: str = ""
    target: Target | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0):
            return None
        return self.value / self.baseline

    def judged(self) -> tuple[str | None, float | None, float | None]:
        """(status, gap, gap_pct): status is "met", "missed" or None (no target); the gap is
        how far the measured figure is on the wrong side of the target (0 when met)."""
        if self.target is None:
            return None, None, None
        measured = self.value if self.target.on == "value" else self.ratio
        if measured is None:
            return "missed", None, None
        want = self.target.value
        ok = measured <= want if self.target.op == "<=" else measured >= want
        gap = 0.0 if ok else abs(measured - want)
        gap_pct = None if want == 0 else 100.0 * gap / abs(want)
        return ("met" if ok else "missed"), gap, gap_pct

    def to_json(self) -> dict:
        status, gap, gap_pct = self.judged()
        out = {
            "name": self.name,
            "label": self.label,
            "value": _round(self.value),
            "unit": self.unit,
            "p95": _round(self.p95),
            "baseline": None,
            "ratio": _round(self.ratio),
            "target": None,
            "status": status,
            "gap": _round(gap),
            "gap_pct": _round(gap_pct),
            "note": self.note,
        }
        if self.baseline is not None:
            out["baseline"] = {"label": self.baseline_label, "value": _round(self.baseline)}
        if self.target is not None:
            out["target"] = asdict(self.target) | {
                "unit": self.unit if self.target.on == "value" else "x baseline"
            }
        return out


@dataclass
class Result:
    name: str
    title: str
    description: str
    parameters: dict
    metrics: list[Metric]
    diagnostics: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def missed(self) -> list[Metric]:
        return [m for m in self.metrics if m.judged()[0] == "missed"]


def _round(x, digits: int = 4):
    if x is None:
        return None
    if isinstance(x, float):
        return float(f"{x:.{digits}g}") if abs(x) < 1 else round(x, 3)
    return x


# --- timing -------------------------------------------------------------------------------------


def summarize(samples: list[float]) -> dict:
    """median, p95, mean, min, max of per-call durations (seconds)."""
    ordered = sorted(samples)
    n = len(ordered)
    if not n:
        raise ValueError("no samples")
    p95 = ordered[max(0, math.ceil(0.95 * n) - 1)]  # nearest-rank
    return {
        "n": n,
        "median": statistics.median(ordered),
        "p95": p95,
        "mean": statistics.fmean(ordered),
        "min": ordered[0],
        "max": ordered[-1],
    }


def repeat(fn: Callable[[], object], n: int, *, warmup: int = 0) -> list[float]:
    """Call fn warmup times untimed, then n times, returning each call's duration in seconds."""
    for _ in range(warmup):
        fn()
    clock = time.perf_counter
    samples = []
    for _ in range(n):
        t0 = clock()
        fn()
        samples.append(clock() - t0)
    return samples


def interleave(
    variants: dict[str, Callable[[], object]], n: int, *, warmup: int = 0, block: int = 50
) -> dict[str, list[float]]:
    """Time several variants in alternating blocks, so that drift (CPU frequency, a noisy
    neighbour) affects all of them alike. Returns n per-call durations for each variant."""
    for fn in variants.values():
        for _ in range(warmup):
            fn()
    samples: dict[str, list[float]] = {name: [] for name in variants}
    clock = time.perf_counter
    done = 0
    while done < n:
        size = min(block, n - done)
        for name, fn in variants.items():
            out = samples[name]
            for _ in range(size):
                t0 = clock()
                fn()
                out.append(clock() - t0)
        done += size
    return samples


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    """(seconds, return value) of one call."""
    t0 = time.perf_counter()
    value = fn()
    return time.perf_counter() - t0, value


def peak_rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    """Peak resident memory in MiB (of this process, or the largest waited-for child)."""
    kb = resource.getrusage(who).ru_maxrss
    return kb / 1024 if sys.platform != "darwin" else kb / (1024 * 1024)


def hotspots(
    fn: Callable[[], object], n: int, *, ops_per_call: int = 1, top: int = 12, focus: tuple = ()
) -> dict:
    """Profile n calls of fn (each doing ops_per_call operations), for the bottleneck: the
    functions with the most own time per operation, and (for each path prefix in `focus`,
    e.g. "folio/") the ones with the most cumulative time."""
    import cProfile
    import pstats

    profile = cProfile.Profile()
    profile.enable()
    for _ in range(n):
        fn()
    profile.disable()
    ops = n * ops_per_call
    rows = []
    for (filename, line, func), (_cc, calls, tottime, cumtime, _callers) in pstats.Stats(
        profile
    ).stats.items():
        rows.append(
            {
                "function": f"{_short_path(filename)}:{line}({func})",
                "calls_per_op": round(calls / ops, 2),
                "own_us_per_op": round(1e6 * tottime / ops, 1),
                "cumulative_us_per_op": round(1e6 * cumtime / ops, 1),
            }
        )
    out = {
        "profiled_ops": ops,
        "note": "cProfile slows calls down; compare entries with each other, not with timings",
        "by_own_time": sorted(rows, key=lambda r: r["own_us_per_op"], reverse=True)[:top],
    }
    for prefix in focus:
        mine = [r for r in rows if r["function"].startswith(prefix)]
        out[f"{prefix.rstrip('/')}_by_cumulative_time"] = sorted(
            mine, key=lambda r: r["cumulative_us_per_op"], reverse=True
        )[:top]
    return out


def _short_path(filename: str) -> str:
    for marker in ("site-packages/", "lib/python3"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    try:
        return str(Path(filename).resolve().relative_to(REPO_DIR))
    except ValueError:
        return filename


# --- machine facts ------------------------------------------------------------------------------


def machine_facts() -> dict:
    facts = {
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gb": _memory_gb(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        # Other work on the machine while measuring (1-minute load average at the end of the
        # benchmark); above the cpu count, absolute figures are inflated: trust the ratios.
        "load_average_1m": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
    }
    try:
        import django

        facts["django"] = django.get_version()
    except ImportError:  # pragma: no cover
        pass
    return facts


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _memory_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def git_facts() -> dict:
    def git(*args):
        return subprocess.run(
            ["git", *args], cwd=REPO_DIR, capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        return {
            "commit": git("rev-parse", "HEAD"),
            "dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
        }
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}


# --- the Django environment ---------------------------------------------------------------------


def bench_environment(var_dir: Path, database_url: str) -> dict:
    """The FOLIO_* variables a benchmark process (and any process it starts) runs with.

    Production settings (folio.settings) unchanged, except: a throw-away var directory and
    database, a fixed secret key, and the test client's host name ("testserver") allowed.
    The API rate limit stays at its default; benchmarks spread requests over many users
    rather than raise it (the throttle's cost grows with the requests it remembers).
    """
    return {
        "DJANGO_SETTINGS_MODULE": "folio.settings",
        "FOLIO_VAR": str(var_dir),
        "FOLIO_DATABASE_URL": database_url,
        "FOLIO_SECRET_KEY": "bench-secret-key-not-for-production-0123456789abcdef",
        "FOLIO_ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "FOLIO_LOG_LEVEL": "WARNING",
        "FOLIO_DEBUG": "false",
        "FOLIO_JOB_BACKEND": "database",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_DIR), os.environ.get("PYTHONPATH")])),
    }


class Context:
    """What a benchmark's run(ctx) gets: an isolated, migrated Django environment.

    SQLite (default): a fresh file database in a temporary FOLIO_VAR, migrated.
    PostgreSQL (`--db postgresql://…` or FOLIO_BENCH_DATABASE_URL): a fresh database named
    `<that database>_bench_<benchmark>` is created beside the one in the URL, migrated, and
    dropped afterwards; the database named in the URL is never written to.
    """

    def __init__(self, name: str, database_url: str | None = None, results_dir: Path | None = None):
        self.name = name
        self.requested_url = database_url
        self.results_dir = results_dir or RESULTS_DIR
        self.var_dir: Path | None = None
        self.database_url: str | None = None  # the URL of the database actually used
        self.env: dict = {}
        self._pg_created = False
        self.started = time.perf_counter()

    # setup / teardown

    def __enter__(self) -> Context:
        self.var_dir = Path(tempfile.mkdtemp(prefix=f"folio-bench-{self.name}-"))
        (self.var_dir / "static").mkdir()  # STATIC_ROOT; whitenoise warns when it is missing
        if self.requested_url and not self.requested_url.startswith("sqlite"):
            self.database_url = self._pg_url()
        else:
            self.database_url = f"sqlite:///{self.var_dir / 'folio.sqlite3'}"
        self.env = bench_environment(self.var_dir, self.database_url)
        os.environ.update(self.env)
        if str(REPO_DIR) not in sys.path:
            sys.path.insert(0, str(REPO_DIR))
        if self.vendor_from_url == "postgresql":
            self._create_pg_database()
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)
        return self

    def __exit__(self, *exc):
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # noqa: S110 - teardown must go on
            pass
        if self._pg_created:
            self._drop_pg_database()
        if self.var_dir:
            shutil.rmtree(self.var_dir, ignore_errors=True)
        return False

    @property
    def vendor_from_url(self) -> str:
        return "sqlite" if self.database_url.startswith("sqlite") else "postgresql"

    def _pg_url(self) -> str:
        from urllib.parse import urlsplit, urlunsplit

        parts = urlsplit(self.requested_url)
        base = parts.path.lstrip("/") or "postgres"
        self.pg_admin_db = base
        self.pg_db = f"{base}_bench_{self.name}"[:63]
        return urlunsplit(parts._replace(path=f"/{self.pg_db}"))

    def _pg_connect(self):
        import dj_database_url
        import psycopg

        c = dj_database_url.parse(self.requested_url)
        return psycopg.connect(
            host=c["HOST"] or None,
            port=c["PORT"] or None,
            user=c["USER"] or None,
            password=c["PASSWORD"] or None,
            dbname=self.pg_admin_db,
            autocommit=True,
            connect_timeout=5,
        )

    def _create_pg_database(self) -> None:
        from psycopg import sql

        with self._pg_connect() as conn:
            # A leftover of a killed run is dropped; one still in use is another run of the
            # same benchmark on the same server, which dropping would kill.
            busy = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [self.pg_db]
            ).fetchone()[0]
            if busy:
                raise SystemExit(
                    f"bench: database {self.pg_db} is in use (open connections: {busy}): "
                    f"another {self.name} run is going on; name another database in --db to "
                    "run beside it"
                )
            name = sql.Identifier(self.pg_db)
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(name))
        self._pg_created = True

    def _drop_pg_database(self) -> None:
        from psycopg import sql

        try:
            with self._pg_connect() as conn:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                        sql.Identifier(self.pg_db)
                    )
                )
        except Exception as exc:
            print(f"bench: could not drop database {self.pg_db}: {exc}", file=sys.stderr)

    # PostgreSQL template databases: the counterpart of the SQLite benchmarks' cached files.
    # A built catalog is kept as a database of its own (never connected to while cached) and
    # each run starts from a file copy of it (CREATE DATABASE … TEMPLATE, a few minutes for
    # 1M products instead of an hour's build). Its build facts are the database's comment.

    def pg_cached(self, prefix: str) -> list[tuple[str, dict]]:
        """Cached databases whose names start with `prefix`, newest first: (name, facts)."""
        with self._pg_connect() as conn:
            rows = conn.execute(
                "SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database "
                "WHERE starts_with(datname, %s) ORDER BY oid DESC",
                [prefix],
            ).fetchall()
        return [(name, json.loads(comment or "{}")) for name, comment in rows]

    def pg_start_from(self, template: str) -> None:
        """Replace this run's database with a copy of the cached database `template`."""
        from django.db import connections
        from psycopg import sql

        connections.close_all()
        with self._pg_connect() as conn:
            name = sql.Identifier(self.pg_db)
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY").format(
                    name, sql.Identifier(template)
                )
            )

    def pg_keep_as(self, cache: str, facts: dict) -> None:
        """Keep a copy of this run's database as the cached database `cache`."""
        from django.db import connections
        from psycopg import sql

        connections.close_all()
        partial = sql.Identifier(f"{cache}_partial"[:63])
        with self._pg_connect() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(partial))
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY").format(
                    partial, sql.Identifier(self.pg_db)
                )
            )
            conn.execute(
                sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                    partial, sql.Literal(json.dumps(facts))
                )
            )
            # Renamed only once complete, so an interrupted copy is never taken for a cache.
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(cache))
            )
            conn.execute(
                sql.SQL("ALTER DATABASE {} RENAME TO {}").format(partial, sql.Identifier(cache))
            )

    # facts

    def database_facts(self) -> dict:
        from django.db import connection

        connection.ensure_connection()
        facts = {"vendor": connection.vendor, "version": None}
        with connection.cursor() as cursor:
            if connection.vendor == "sqlite":
                cursor.execute("select sqlite_version()")
                facts["version"] = cursor.fetchone()[0]
                for pragma in ("journal_mode", "synchronous", "busy_timeout"):
                    cursor.execute(f"PRAGMA {pragma}")
                    facts[pragma] = cursor.fetchone()[0]
                facts["transaction_mode"] = connection.settings_dict["OPTIONS"].get(
                    "transaction_mode"
                )
            else:
                cursor.execute("show server_version")
                facts["version"] = cursor.fetchone()[0]
        facts["conn_max_age"] = connection.settings_dict.get("CONN_MAX_AGE")
        return facts

    def subprocess_env(self) -> dict:
        """The environment for a helper process that must use the same database and var dir."""
        return {**os.environ, **self.env}

    # output

    def report(self, result: Result) -> dict:
        doc = {
            "benchmark": result.name,
            "title": result.title,
            "description": result.description,
            "timestamp": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "git": git_facts(),
            "machine": machine_facts(),
            "database": self.database_facts(),
            "parameters": result.parameters,
            "metrics": [m.to_json() for m in result.metrics],
            "targets_missed": [m.name for m in result.missed],
            "diagnostics": result.diagnostics,
            "notes": result.notes,
            "peak_rss_mb": round(max(peak_rss_mb(), peak_rss_mb(resource.RUSAGE_CHILDREN)), 1),
            "peak_rss_mb_self": round(peak_rss_mb(), 1),
            "duration_s": round(time.perf_counter() - self.started, 1),
        }
        return doc

    def results_path(self, vendor: str) -> Path:
        suffix = "" if vendor == "sqlite" else f".{vendor}"
        return self.results_dir / f"{self.name}{suffix}.json"

    def write(self, doc: dict) -> Path:
        path = self.results_path(doc["database"]["vendor"])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
        return path


# --- the table ----------------------------------------------------------------------------------


def _fmt(x: float | None, unit: str = "") -> str:
    if x is None:
        return "—"
    if float(x).is_integer():
        text = f"{int(x):,}"
    elif abs(x) >= 1000:
        text = f"{x:,.0f}"
    elif abs(x) >= 100:
        text = f"{x:.1f}"
    elif abs(x) >= 1:
        text = f"{x:.2f}"
    else:
        text = f"{x:.3g}"
    return f"{text} {unit}".strip()


def print_report(doc: dict, path: Path | None = None, console=None) -> None:
    from rich.console import Console
    from rich.table import Table

    if console is None:
        console = Console()
        if not console.is_terminal:  # piped or in CI: a readable width, not 80 columns
            console = Console(width=150)
    m, db = doc["machine"], doc["database"]
    console.rule(f"[bold]{doc['benchmark']}[/]: {doc['title']}")
    console.print(doc["description"], highlight=False)
    facts = (
        f"machine: {m['cpu_count']} CPU ({m.get('cpu_model') or '?'}), "
        f"{m.get('memory_gb') or '?'} GB, load {m.get('load_average_1m')}, "
        f"Python {m['python']}, Django {m.get('django')}; "
        f"database: {db['vendor']} {db['version']}"
    )
    console.print(facts, style="dim", highlight=False)
    params = ", ".join(f"{k}={v}" for k, v in doc["parameters"].items())
    console.print(f"parameters: {params}", style="dim", highlight=False)

    table = Table(show_lines=False)
    for col, just in [
        ("metric", "left"),
        ("value", "right"),
        ("p95", "right"),
        ("baseline", "right"),
        ("ratio", "right"),
        ("target", "left"),
        ("result", "left"),
    ]:
        table.add_column(col, justify=just)
    for metric in doc["metrics"]:
        unit = metric["unit"]
        target = metric["target"]
        if target:
            if target["on"] == "ratio":
                target_text = f"{target['op']} {_fmt(target['value'])}x"
            else:
                target_text = f"{target['op']} {_fmt(target['value'], unit)}"
            if target["source"] != "issue":
                target_text += f" ({target['source']})"
        else:
            target_text = ""
        status = metric["status"]
        if status == "met":
            result_text = "[green]met[/]"
        elif status == "missed":
            gap_unit = unit if target["on"] == "value" else "x"
            result_text = f"[red]MISSED[/] by {_fmt(metric['gap'], gap_unit)}"
            if metric["gap_pct"] is not None:
                result_text += f" ({metric['gap_pct']:.0f}%)"
        else:
            result_text = ""
        baseline = metric["baseline"]
        table.add_row(
            metric["label"],
            _fmt(metric["value"], unit),
            _fmt(metric["p95"], unit) if metric["p95"] is not None else "",
            _fmt(baseline["value"], unit) if baseline else "",
            f"{_fmt(metric['ratio'])}x" if metric["ratio"] is not None else "",
            target_text,
            result_text,
        )
    console.print(table)
    for note in doc["notes"]:
        console.print(f"• {note}", highlight=False)
    console.print(
        f"peak RSS {doc['peak_rss_mb']} MiB, took {doc['duration_s']} s"
        + (f", written to {_rel(path)}" if path else ""),
        style="dim",
        highlight=False,
    )


def _rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO_DIR))
    except ValueError:
        return str(path)
