"""Authenticated API GET through the whole stack, against a bare Django view.

Subject: GET /api/v1/me with `Authorization: Bearer folio_…`, via django.test.Client (all
middleware, URL resolution, ninja, token lookup, throttle, role checks, response schema).
Baseline, same run, interleaved: a plain Django view returning the same JSON without
authentication, ninja or database. The ratio is the cost of token auth + ninja.

Also measured, to locate the cost: GET /api/health (ninja, no auth, one SELECT 1), and on
SQLite the authenticated GET with a new database connection per request, which is what
production does (CONN_MAX_AGE=0 on SQLite: the connection closes after each request and the
next one reconnects and re-runs the PRAGMAs); the test client keeps its connection.
"""

import itertools
import json

from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings

from bench import data, urls
from bench.harness import Metric, Result, Target, hotspots, interleave, summarize

PARAMS = {
    "requests_per_variant": 2000,
    "warmup_per_variant": 200,
    "block": 100,
    "users": 200,
    "tokens_per_user": 2,
    "roles": "seeded uniform mix of all roles",
    "seed": data.DEFAULT_SEED,
    "client": "django.test.Client (in process, no HTTP server)",
}

MS = 1000.0


def run(ctx) -> Result:
    p = PARAMS
    population = data.accounts_dataset(
        users=p["users"], tokens_per_user=p["tokens_per_user"], seed=p["seed"]
    )
    # Requests go round-robin over one token of each user, as from many integrations: the
    # per-user rate limit (production default) is never reached and each throttle history
    # stays as short as it would be in real use.
    headers = [f"Bearer {tokens[0]}" for tokens in population["tokens"].values()]
    rotation = itertools.cycle(headers)

    with override_settings(ROOT_URLCONF="bench.urls"):
        client = Client()

        first = client.get("/api/v1/me", HTTP_AUTHORIZATION=headers[0])
        if first.status_code != 200:
            raise RuntimeError(f"/api/v1/me answered {first.status_code}: {first.content[:300]}")
        urls.BARE_BODY.clear()
        urls.BARE_BODY.update(json.loads(first.content))
        bare_first = client.get("/bench/bare-json")
        if json.loads(bare_first.content) != urls.BARE_BODY:
            raise RuntimeError("the bare view does not return the same JSON as /api/v1/me")

        def bare():
            return client.get("/bench/bare-json")

        def health():
            return client.get("/api/health")

        def me():
            return client.get("/api/v1/me", HTTP_AUTHORIZATION=next(rotation))

        def me_reconnect():
            response = client.get("/api/v1/me", HTTP_AUTHORIZATION=next(rotation))
            connection.close()  # as request_finished does with CONN_MAX_AGE=0
            return response

        variants = {"bare": bare, "health": health, "me": me}
        sqlite = connection.vendor == "sqlite"
        if sqlite:
            variants["me_reconnect"] = me_reconnect

        samples = interleave(
            variants, p["requests_per_variant"], warmup=p["warmup_per_variant"], block=p["block"]
        )
        # After the run (every token used once already, so no last_used_at write): the
        # queries per request of each variant, averaged over one round of all the users (the
        # count depends on the role: an admin's permissions need no query), and nothing
        # degraded to errors.
        queries = {}
        for name, fn in variants.items():
            with CaptureQueriesContext(connection) as captured:
                for _ in headers:
                    if fn().status_code != 200:
                        raise RuntimeError(f"{name} stopped answering 200")
            queries[name] = round(len(captured) / len(headers), 2)
        editor = next(u for u in population["users"] if not u.is_superuser)
        with CaptureQueriesContext(connection) as captured:
            client.get("/api/v1/me", HTTP_AUTHORIZATION=population_header(population, editor))
        me_sql = [q["sql"][:200] for q in captured.captured_queries]
        profile = hotspots(me, 300, focus=("folio/", "ninja/"))

    s = {name: summarize(v) for name, v in samples.items()}
    bare_s, me_s, health_s = s["bare"], s["me"], s["health"]
    metrics = [
        Metric(
            "me_median",
            "/api/v1/me with token: median",
            me_s["median"] * MS,
            "ms",
            p95=me_s["p95"] * MS,
            baseline=bare_s["median"] * MS,
            baseline_label="bare Django view, same JSON: median",
            target=Target("<=", 5.0, source="provisional"),
        ),
        Metric(
            "me_p95",
            "/api/v1/me with token: p95",
            me_s["p95"] * MS,
            "ms",
            baseline=bare_s["p95"] * MS,
            baseline_label="bare Django view: p95",
        ),
        Metric(
            "auth_ninja_overhead",
            "token auth + ninja overhead (median difference)",
            (me_s["median"] - bare_s["median"]) * MS,
            "ms",
        ),
        Metric(
            "health_median",
            "/api/health (ninja, no auth, SELECT 1): median",
            health_s["median"] * MS,
            "ms",
            p95=health_s["p95"] * MS,
            baseline=bare_s["median"] * MS,
            baseline_label="bare Django view: median",
        ),
        Metric(
            "me_throughput",
            "/api/v1/me throughput, one client, sequential",
            1.0 / me_s["mean"],
            "req/s",
            baseline=1.0 / bare_s["mean"],
            baseline_label="bare Django view, sequential",
        ),
    ]
    if "me_reconnect" in s:
        rc = s["me_reconnect"]
        metrics.append(
            Metric(
                "me_reconnect_median",
                "/api/v1/me, new SQLite connection per request (as in production): median",
                rc["median"] * MS,
                "ms",
                p95=rc["p95"] * MS,
                baseline=me_s["median"] * MS,
                baseline_label="GET /api/v1/me, kept connection: median",
                target=Target("<=", 5.0, source="provisional"),
            )
        )
    notes = [
        f"queries per request (mean over all users): "
        f"{', '.join(f'{k} {v:g}' for k, v in queries.items())}; "
        f"a non-admin's /api/v1/me runs {len(me_sql)} (SQL in diagnostics.me_queries)",
        "a token's last_used_at is written at most once a minute, so the timed requests "
        f"are read-only; API rate limit {settings.API_RATE_LIMIT} per user (default), "
        "spread over the users so it never throttles",
    ]
    return Result(
        name="api_auth",
        title="authenticated API GET vs a bare Django view",
        description=(
            "GET /api/v1/me with a Bearer token through the full Django + ninja stack, against "
            "a plain Django view returning the same JSON (baseline, same run, interleaved)."
        ),
        parameters=p
        | {"roles_drawn": population["roles"], "api_rate_limit": settings.API_RATE_LIMIT},
        metrics=metrics,
        diagnostics={
            "queries_per_request": queries,
            "me_queries": me_sql,
            "me_queries_user": editor.username,
            "summary_ms": {
                name: {k: (v * MS if k != "n" else v) for k, v in st.items()}
                for name, st in s.items()
            },
            "me_profile": profile,
        },
        notes=notes,
    )


def population_header(population: dict, user) -> str:
    return f"Bearer {population['tokens'][user.username][0]}"
