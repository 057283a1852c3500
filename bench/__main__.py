"""`python -m bench [name …] [--db URL]`: run Folio's benchmarks (`make bench` runs them all).

Each benchmark runs in a process of its own (fresh database, honest peak memory), prints a
table and writes bench/results/<name>.json (<name>.postgresql.json on PostgreSQL). Missed
targets are reported, not failed: the exit status is non-zero only when a benchmark broke.
"""

import argparse
import importlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent


def discover() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in BENCH_DIR.glob("bench_*.py"))


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument(
        "--db",
        default=os.environ.get("FOLIO_BENCH_DATABASE_URL") or None,
        help="postgresql://… to benchmark on PostgreSQL (a fresh database is created beside "
        "the one named and dropped afterwards); default: a fresh SQLite file. "
        "Also read from FOLIO_BENCH_DATABASE_URL.",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=BENCH_DIR / "results",
        help="directory for the JSON results (default: bench/results)",
    )
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # run one benchmark in this process
    return parser.parse_args(argv)


def run_child(name: str, db: str | None, out: Path) -> int:
    """Run one benchmark in this process: set up Django, run, print, write."""
    sys.path.insert(0, str(REPO_DIR))
    from bench import harness

    with harness.Context(name, db, out) as ctx:
        module = importlib.import_module(f"bench.bench_{name}")
        result = module.run(ctx)
        if result is None:  # the benchmark does not apply here (it said why)
            return 0
        doc = ctx.report(result)
        path = ctx.write(doc)
        harness.print_report(doc, path)
    return 0


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.child:
        return run_child(args.child, args.db, args.out)

    available = discover()
    if args.list:
        print("\n".join(available))
        return 0
    unknown = [n for n in args.names if n not in available]
    if unknown:
        print(
            f"bench: no benchmark named {', '.join(unknown)}; there are: {', '.join(available)}",
            file=sys.stderr,
        )
        return 2
    names = args.names or available
    summary = []
    for name in names:
        command = [sys.executable, "-m", "bench", "--child", name, "--out", str(args.out)]
        if args.db:
            command += ["--db", args.db]
        started = time.time()
        rc = subprocess.run(command, cwd=REPO_DIR).returncode
        summary.append((name, rc, time.time() - started, _written(args, name, started)))

    print()
    print(f"{'benchmark':<16} {'status':<16} {'time':>7}  targets")
    for name, rc, seconds, doc in summary:
        if rc != 0:
            status, targets = f"ERROR (exit {rc})", ""
        elif doc is None:
            status, targets = "not applicable", ""
        else:
            judged = [m for m in doc["metrics"] if m["status"]]
            missed = [m["name"] for m in judged if m["status"] == "missed"]
            status = "ok"
            targets = f"{len(judged) - len(missed)}/{len(judged)} met" + (
                f"; MISSED: {', '.join(missed)}" if missed else ""
            )
        print(f"{name:<16} {status:<16} {seconds:6.1f}s  {targets}")
    print(f"results in {args.out}")
    return 0 if all(rc == 0 for _, rc, _, _ in summary) else 1


def _written(args, name: str, since: float) -> dict | None:
    """The JSON the benchmark just wrote, if it wrote one."""
    vendor = "" if not args.db or args.db.startswith("sqlite") else ".postgresql"
    path = args.out / f"{name}{vendor}.json"
    if not path.exists() or path.stat().st_mtime < since:
        return None
    return json.loads(path.read_text())


if __name__ == "__main__":
    sys.exit(main())
