"""Prometheus metrics.

Two kinds, because a fleet has many processes on many machines:
- measured in the process that did the work (request latency, job durations, rendition cache
  hits and misses, publication outcomes): prometheus_client counters and histograms. Under
  `folio serve` the web processes, the worker and the scheduler share one multi-process
  directory (FOLIO_METRICS_DIR), so one scrape of /metrics sees them all; a worker on another
  machine serves its own with FOLIO_METRICS_PORT.
- read from the database at scrape time (job queue depth, oldest queued job, jobs finished in
  the last hour with their run time, publications by outcome): the same answer whichever web
  process is scraped, however many workers there are. With RQ these are the job figures to
  use: each job runs in a short-lived process of its own, whose in-process counters vanish.
"""

import os
import time

from django.conf import settings
from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY

REQUEST_LATENCY = Histogram(
    "folio_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template (not by URL, to bound cardinality).",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
JOB_DURATION = Histogram(
    "folio_job_duration_seconds",
    "Run time of background jobs that finished in this process, by kind and outcome.",
    ["kind", "status"],
    buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 14400),
)
RENDITION_CACHE = Counter(
    "folio_rendition_cache_lookups",
    "Rendition requests answered from the cache (hit) or that started a render (miss).",
    ["result"],
)
PUBLICATIONS = Counter(
    "folio_publication_runs",
    "Publication runs that finished in this process, by format and outcome.",
    ["format", "status"],
)


class DatabaseCollector:
    """Fleet-wide figures read from the database when Prometheus scrapes."""

    def collect(self):
        from folio.jobs.models import Job
        from folio.publishing.models import Publication

        depth = GaugeMetricFamily(
            "folio_jobs", "Background jobs waiting or running, by kind.", labels=["status", "kind"]
        )
        for row in (
            Job.objects.filter(status__in=[Job.Status.QUEUED, Job.Status.RUNNING])
            .values("status", "kind")
            .annotate(n=Count("pk"))
        ):
            depth.add_metric([row["status"], row["kind"]], row["n"])
        yield depth

        oldest = Job.objects.filter(status=Job.Status.QUEUED).aggregate(at=Min("created_at"))["at"]
        age = GaugeMetricFamily(
            "folio_jobs_oldest_queued_seconds",
            "Age of the oldest job still waiting for a worker (0 when none waits).",
        )
        age.add_metric([], (timezone.now() - oldest).total_seconds() if oldest else 0.0)
        yield age

        # Jobs finished in the last hour, from the rows: with RQ every job runs in a process
        # of its own that exits afterwards, so only the database sees all of them.
        now = timezone.now()
        finished = GaugeMetricFamily(
            "folio_jobs_finished_last_hour",
            "Background jobs that finished in the last hour, by kind and outcome.",
            labels=["kind", "status"],
        )
        seconds = GaugeMetricFamily(
            "folio_jobs_finished_last_hour_seconds",
            "Total run time of the jobs that finished in the last hour, by kind and outcome.",
            labels=["kind", "status"],
        )
        recent = (
            Job.objects.filter(
                status__in=Job.FINISHED,
                created_at__gte=now - timezone.timedelta(days=1),
                finished_at__gte=now - timezone.timedelta(hours=1),
            )
            .exclude(started_at=None)
            .values_list("kind", "status", "started_at", "finished_at")
            .iterator(chunk_size=2000)
        )
        totals: dict[tuple[str, str], list[float]] = {}
        for kind, status, started, ended in recent:
            entry = totals.setdefault((kind, status), [0, 0.0])
            entry[0] += 1
            entry[1] += (ended - started).total_seconds()
        for (kind, status), (count, total) in sorted(totals.items()):
            finished.add_metric([kind, status], count)
            seconds.add_metric([kind, status], total)
        yield finished
        yield seconds

        since = now - timezone.timedelta(hours=24)
        outcomes = GaugeMetricFamily(
            "folio_publications_last_24h",
            "Publication runs started in the last 24 hours, by outcome.",
            labels=["status"],
        )
        for row in (
            Publication.objects.filter(created_at__gte=since)
            .values("status")
            .annotate(n=Count("pk"))
        ):
            outcomes.add_metric([row["status"]], row["n"])
        yield outcomes


def render() -> tuple[bytes, str]:
    """The text exposition of every metric (this machine's processes + the database's)."""
    from prometheus_client import CONTENT_TYPE_LATEST

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        body = generate_latest(registry)
    else:
        body = generate_latest(REGISTRY)
    database = CollectorRegistry()
    database.register(DatabaseCollector())
    return body + generate_latest(database), CONTENT_TYPE_LATEST


def observe_job(kind: str, status: str, started: float | None) -> None:
    if started is not None:
        JOB_DURATION.labels(kind=kind, status=status).observe(max(0.0, time.time() - started))


def serve_worker_metrics() -> None:
    """A worker on a machine without a web process exposes its own metrics on a port."""
    if settings.METRICS_PORT:
        from prometheus_client import start_http_server

        start_http_server(settings.METRICS_PORT, addr=settings.METRICS_ADDR)
