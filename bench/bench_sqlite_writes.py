"""Concurrent writers on SQLite: does the web server + worker pair ever see "database is locked"?

Two processes (a "web" one and a "worker" one) run read-then-write transactions
(transaction.atomic, i.e. BEGIN IMMEDIATE with Folio's settings) for the same duration, each
closing its connection after every transaction as Django does after each request and the
worker after each task with CONN_MAX_AGE=0. Reported: writes/s, write latency, and errors.

Baseline, same run: one writer alone for the same duration (the ratio shows what sharing the
write lock costs). Control, same run: the same two writers with DEFERRED transactions (SQLite's
default, what Folio's IMMEDIATE setting replaces), to show the load does provoke lock errors
when the setting is missing, so "zero" is a finding and not a blind spot.

SQLite only; on PostgreSQL the benchmark says so and writes nothing.
"""

import argparse
import json
import os
import subprocess
import sys
import time

from bench.harness import Metric, Result, Target, summarize

PARAMS = {
    "seconds": 10.0,
    "baseline_seconds": 10.0,
    "control_seconds": 5.0,
    "writers": 2,
    "transaction": "read a row, then insert an audit entry and update the row (atomic)",
    "connection": "closed after every transaction (CONN_MAX_AGE=0, as in production)",
}


def run(ctx) -> Result | None:
    from django.db import connection

    if connection.vendor != "sqlite":
        print("sqlite_writes: SQLite only; nothing measured on", connection.vendor)
        return None
    from folio.accounts import services
    from folio.jobs.models import Job

    user = services.create_user("bench-writer", roles=["catalog_editor"])
    token, _ = services.create_token(user, "writer")
    job = Job.objects.create(kind="bench", label="bench writer target")
    target_args = ["--token", str(token.pk), "--job", str(job.pk)]
    p = PARAMS

    alone = _run_writers(ctx, ["web"], p["baseline_seconds"], target_args)
    together = _run_writers(ctx, ["web", "worker"], p["seconds"], target_args)
    control = _run_writers(ctx, ["web", "worker"], p["control_seconds"], target_args, deferred=True)

    def rate(results, seconds):
        return sum(r["writes"] for r in results) / seconds

    def errors(results, kind):
        return sum(r[kind] for r in results)

    all_lat = [x for r in together for x in r["latencies"]]
    alone_lat = alone[0]["latencies"]
    lat, lat_alone = summarize(all_lat), summarize(alone_lat)
    ms = 1000.0
    metrics = [
        Metric(
            "locked_errors",
            '"database is locked" errors, 2 writers',
            errors(together, "locked"),
            "errors",
            target=Target("<=", 0, source="brief"),
        ),
        Metric("other_errors", "other errors, 2 writers", errors(together, "other"), "errors"),
        Metric(
            "writes_per_second",
            "committed write transactions/s, 2 writers together",
            rate(together, p["seconds"]),
            "tx/s",
            baseline=rate(alone, p["baseline_seconds"]),
            baseline_label="1 writer alone",
        ),
        Metric(
            "write_latency",
            "write transaction latency, 2 writers: median",
            lat["median"] * ms,
            "ms",
            p95=lat["p95"] * ms,
            baseline=lat_alone["median"] * ms,
            baseline_label="1 writer alone: median",
        ),
        Metric(
            "write_latency_max",
            "write transaction latency, 2 writers: max",
            lat["max"] * ms,
            "ms",
            baseline=lat_alone["max"] * ms,
            baseline_label="1 writer alone: max",
        ),
        Metric(
            "control_locked_errors",
            'control (DEFERRED transactions): "database is locked" errors',
            errors(control, "locked"),
            "errors",
        ),
    ]
    per_writer = {
        r["role"]: {
            "writes": r["writes"],
            "locked": r["locked"],
            "other": r["other"],
            "latency_ms": {
                k: (v * ms if k != "n" else v) for k, v in summarize(r["latencies"]).items()
            }
            if r["latencies"]
            else None,
        }
        for r in together
    }
    return Result(
        name="sqlite_writes",
        title="two concurrent SQLite writers (web + worker)",
        description=(
            f"Two processes run write transactions for {p['seconds']:g} s each against one "
            "SQLite file with Folio's settings (WAL, IMMEDIATE, busy timeout 30 s); baseline: "
            "one writer alone; control: the same with DEFERRED transactions."
        ),
        parameters=p,
        metrics=metrics,
        diagnostics={
            "together": per_writer,
            "alone": {k: v for k, v in alone[0].items() if k != "latencies"},
            "control": [{k: v for k, v in r.items() if k != "latencies"} for r in control],
            "error_samples": [m for r in together + control for m in r["error_samples"]][:5],
        },
        notes=[
            "each writer is its own process (separate Python, separate SQLite connection), "
            "started together and released at the same instant",
        ],
    )


def _run_writers(ctx, roles, seconds, target_args, *, deferred=False) -> list[dict]:
    env = ctx.subprocess_env()
    if deferred:
        env["FOLIO_BENCH_SQLITE_DEFERRED"] = "1"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.bench_sqlite_writes",
                "--role",
                role,
                "--seconds",
                str(seconds),
                *target_args,
            ],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for role in roles
    ]
    for proc in procs:  # wait until each has Django set up and is connected
        line = proc.stdout.readline().strip()
        if line != "ready":
            raise RuntimeError(f"writer did not start: {line!r}")
    for proc in procs:  # release them together
        proc.stdin.write("go\n")
        proc.stdin.flush()
    results = []
    for proc in procs:
        out, _ = proc.communicate(timeout=seconds + 120)
        if proc.returncode != 0:
            raise RuntimeError(f"writer exited with {proc.returncode}")
        results.append(json.loads(out))
    return results


# --- the writer process -------------------------------------------------------------------------


def writer(role: str, seconds: float, token_id: int, job_id: str) -> dict:
    import django

    django.setup()
    from django.db import OperationalError, close_old_connections, connection, transaction
    from django.db.models import F
    from django.utils import timezone

    from folio.accounts import audit
    from folio.accounts.models import ApiToken
    from folio.jobs.models import Job

    if os.environ.get("FOLIO_BENCH_SQLITE_DEFERRED") == "1":
        connection.settings_dict["OPTIONS"]["transaction_mode"] = "DEFERRED"
    connection.ensure_connection()
    print("ready", flush=True)
    sys.stdin.readline()

    def web_write():
        with transaction.atomic():
            token = ApiToken.objects.get(pk=token_id)
            audit.record("bench.web", token, summary="bench web write")
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())

    def worker_write():
        with transaction.atomic():
            row = Job.objects.get(pk=job_id)
            Job.objects.filter(pk=row.pk).update(
                progress_done=F("progress_done") + 1, items_ok=F("items_ok") + 1
            )
            audit.record("bench.worker", row, summary="bench worker write")

    write = web_write if role == "web" else worker_write
    writes = locked = other = 0
    latencies, samples = [], []
    clock = time.perf_counter
    deadline = clock() + seconds
    while clock() < deadline:
        t0 = clock()
        try:
            write()
        except OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                locked += 1
            else:
                other += 1
            if len(samples) < 3:
                samples.append(f"{role}: {type(exc).__name__}: {exc}")
        else:
            writes += 1
            latencies.append(clock() - t0)
        close_old_connections()  # CONN_MAX_AGE=0: closes, as after each request or task
    return {
        "role": role,
        "writes": writes,
        "locked": locked,
        "other": other,
        "latencies": latencies,
        "error_samples": samples,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--role", choices=["web", "worker"], required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--token", type=int, required=True)
    parser.add_argument("--job", required=True)
    args = parser.parse_args()
    print(json.dumps(writer(args.role, args.seconds, args.token, args.job)))
