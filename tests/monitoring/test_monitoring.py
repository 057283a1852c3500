"""Probes, Prometheus metrics and structured request logs, against the real app."""

import io
import json
import logging
import logging.config
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from folio.jobs.models import Job
from folio.renditions import cache
from folio.renditions import jobs as render_jobs
from tests.assets.conftest import media  # noqa: F401 - the fixture
from tests.renditions._support import add, product_jpeg, run_jobs, seeded  # noqa: F401


def samples(text: str) -> dict:
    """{(name, frozenset(labels)): value} of a Prometheus text exposition (parsed by the
    reference parser, so a malformed exposition fails here)."""
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, frozenset(s.labels.items()))] = s.value
    return found


def value(found: dict, name: str, **labels) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


@pytest.mark.django_db
def test_liveness_needs_nothing_and_says_nothing_secret():
    response = Client().get("/health/live")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response["Cache-Control"].startswith("max-age=0")


@pytest.mark.django_db
def test_readiness_checks_database_storage_and_queue(settings, tmp_path):
    response = Client().get("/health/ready")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "ready"
    assert {k for k, v in body["checks"].items() if v["ok"]} == {"database", "storage", "queue"}

    # Media storage that cannot be listed (a file where the folder should be): not ready,
    # and the answer names the dependency without internals.
    blocker = tmp_path / "media-is-a-file"
    blocker.write_bytes(b"x")
    settings.MEDIA_ROOT = str(blocker)
    response = Client().get("/health/ready")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["storage"]["ok"] is False and "unreachable" in checks["storage"]["problem"]
    assert checks["database"]["ok"] is True


@pytest.mark.django_db
def test_readiness_fails_when_the_configured_queue_is_down(settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = Client().get("/health/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["queue"]["ok"] is False


@pytest.mark.django_db
def test_metrics_need_the_metrics_token_or_an_administrator(settings, api_client, make_user):
    settings.METRICS_TOKEN = "scrape-secret-0123456789"
    anonymous = Client().get("/metrics")
    assert anonymous.status_code == 401 and anonymous["WWW-Authenticate"].startswith("Bearer")
    assert Client(HTTP_AUTHORIZATION="Bearer wrong").get("/metrics").status_code == 401
    assert api_client("viewer").get("/metrics").status_code == 403
    assert api_client("admin").get("/metrics").status_code == 200
    scraped = Client(HTTP_AUTHORIZATION=f"Bearer {settings.METRICS_TOKEN}").get("/metrics")
    assert scraped.status_code == 200
    assert scraped["Content-Type"].startswith("text/plain")


@pytest.mark.django_db
def test_request_latency_is_counted_by_route_template(api_client):
    admin = api_client("admin")

    def count():
        found = samples(admin.get("/metrics").content.decode())
        return value(
            found,
            "folio_http_request_duration_seconds_count",
            method="GET",
            route="/api/v1/catalog/products",
            status="200",
        )

    before = count()
    for _ in range(3):
        assert admin.get("/api/v1/catalog/products").status_code == 200
    assert count() == before + 3


@pytest.mark.django_db
def test_job_queue_depth_and_oldest_job_come_from_the_database(api_client):
    admin = api_client("admin")
    found = samples(admin.get("/metrics").content.decode())
    queued_before = value(found, "folio_jobs", status="queued", kind="folio.jobs.maintenance.prune")
    Job.objects.create(kind="folio.jobs.maintenance.prune", label="prune", status="queued")
    found = samples(admin.get("/metrics").content.decode())
    assert (
        value(found, "folio_jobs", status="queued", kind="folio.jobs.maintenance.prune")
        == queued_before + 1
    )
    assert value(found, "folio_jobs_oldest_queued_seconds") >= 0

    # Jobs finished in the last hour, with their run time, whichever process ran them.
    now = timezone.now()
    Job.objects.create(
        kind="folio.jobs.maintenance.prune",
        label="prune",
        status="succeeded",
        started_at=now - timedelta(seconds=90),
        finished_at=now - timedelta(seconds=30),
    )
    found = samples(admin.get("/metrics").content.decode())
    labels = {"kind": "folio.jobs.maintenance.prune", "status": "succeeded"}
    assert value(found, "folio_jobs_finished_last_hour", **labels) == 1
    assert value(found, "folio_jobs_finished_last_hour_seconds", **labels) == pytest.approx(60)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("media", "seeded")
def test_rendition_cache_hits_misses_and_job_durations(api_client):
    admin = api_client("admin")

    def scrape():
        return samples(admin.get("/metrics").content.decode())

    before = scrape()
    asset = add(product_jpeg(seed=41), "metrics.jpg")
    cache.rendition_for(asset, "thumb-256")  # miss: starts a render job
    cache.rendition_for(asset, "thumb-256")  # hit: the pending row
    run_jobs()
    after = scrape()
    for result in ("hit", "miss"):
        assert (
            value(after, "folio_rendition_cache_lookups_total", result=result)
            >= value(before, "folio_rendition_cache_lookups_total", result=result) + 1
        )
    kind = render_jobs.render_renditions.job_name
    finished = sum(
        v
        for (name, labels), v in after.items()
        if name == "folio_job_duration_seconds_count" and ("kind", kind) in labels
    )
    assert finished >= 1


@pytest.mark.django_db
def test_json_logs_carry_request_id_and_no_query_string(settings, api_client):
    stream = io.StringIO()
    config = json.loads(json.dumps(settings.LOGGING))
    config["formatters"]["json"]["fmt"] = settings.LOGGING["formatters"]["json"]["fmt"]
    config["handlers"]["console"] = {
        "class": "logging.StreamHandler",
        "formatter": "json",
        "filters": ["request_id"],
        "stream": stream,
    }
    logging.config.dictConfig(config)
    try:
        admin = api_client("admin")
        response = admin.get(
            "/api/v1/catalog/products?secret_param=abc123", HTTP_X_REQUEST_ID="req-42-abcdef"
        )
    finally:
        logging.config.dictConfig(settings.LOGGING)
    assert response["X-Request-ID"] == "req-42-abcdef"
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    request_lines = [line for line in lines if line.get("logger") == "folio.request"]
    assert request_lines, lines
    entry = request_lines[-1]
    assert entry["request_id"] == "req-42-abcdef"
    assert entry["status"] == 200 and entry["path"] == "/api/v1/catalog/products"
    assert entry["route"] == "/api/v1/catalog/products" and entry["user"] == admin.user.username
    assert "abc123" not in stream.getvalue()
    assert admin.token_text not in stream.getvalue()


@pytest.mark.django_db
def test_a_forged_request_id_is_replaced():
    response = Client().get("/health/live", HTTP_X_REQUEST_ID="bad id\nINFO forged line")
    assert response["X-Request-ID"] != "bad id\nINFO forged line"
    assert len(response["X-Request-ID"]) == 32
