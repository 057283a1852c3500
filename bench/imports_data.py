"""Data and child processes for the imports benchmark (bench/bench_imports.py).

The CSV is the catalog benchmark's committed generator's (bench/catalog_data.write_csv), its
structure and product models created by catalog_data.create_structure: nothing here shapes
the data. The import and the export each run in a child process of their own, so that their
peak memory is their own (resource.getrusage in the child), started with the benchmark's
environment (same database, same var directory):

    python -m bench.imports_data import PATH     → one JSON line: seconds, peak RSS, summary
    python -m bench.imports_data export PATH     → one JSON line: seconds, peak RSS, counts
"""

import json
import os
import resource
import sys
import threading
import time


def _peak_rss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(kb / 1024 if sys.platform != "darwin" else kb / (1024 * 1024), 1)


class MemorySampler:
    """Peak anonymous and file-backed resident memory (Linux /proc/self/status), sampled
    twice a second. getrusage's peak RSS counts both the process's own memory and the pages
    of the database file SQLite maps into it (PRAGMA mmap_size in folio/settings.py), which
    behave differently: mapped pages are the OS page cache, given back under pressure."""

    def __init__(self):
        self.peak = {"RssAnon": 0, "RssFile": 0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        try:
            with open("/proc/self/status") as fh:
                for line in fh:
                    key = line.split(":", 1)[0]
                    if key in self.peak:
                        self.peak[key] = max(self.peak[key], int(line.split()[1]))
        except OSError:
            pass

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self._sample()

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join()
        self._sample()
        return {
            "peak_anon_mb": round(self.peak["RssAnon"] / 1024, 1),
            "peak_file_mb": round(self.peak["RssFile"] / 1024, 1),
        }


def child_import(path: str) -> dict:
    """What `folio import PATH` does (a run record, an inline job, the importer), timed."""
    from folio.imports import services

    rss_before = _peak_rss_mb()
    run = services.create_run(path, via="cli")
    job = services.inline_job(f"Import {path}", services.import_job, {"run_id": run.pk}, None)
    run.job = job
    run.save(update_fields=["job"])
    from folio.jobs.services import JobContext

    ctx = JobContext(job)
    sampler = MemorySampler()
    t0 = time.perf_counter()
    steps = services.steps(run, ctx=ctx)
    _, total = next(steps)
    done = 0
    for n in steps:
        done += n
    seconds = time.perf_counter() - t0
    run.refresh_from_db()
    services.finish_inline_job(job, result=run.counts)
    return {
        "seconds": seconds,
        "rows": done,
        "estimated_rows": total,
        "peak_rss_mb": _peak_rss_mb(),
        **sampler.stop(),
        "rss_after_django_setup_mb": rss_before,
        "summary": run.counts,
        "message": run.message,
    }


def child_export(path: str) -> dict:
    from folio.imports import exporter

    sampler = MemorySampler()
    t0 = time.perf_counter()
    counts = exporter.export(path, what="products")
    seconds = time.perf_counter() - t0
    return {
        "seconds": seconds,
        "peak_rss_mb": _peak_rss_mb(),
        **sampler.stop(),
        "counts": counts,
    }


def main(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "folio.settings")
    import django

    django.setup()
    action, path = argv[0], argv[1]
    out = child_import(path) if action == "import" else child_export(path)
    sys.stdout.write("BENCH-RESULT " + json.dumps(out, default=str) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
