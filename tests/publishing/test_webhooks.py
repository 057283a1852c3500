"""Outgoing webhooks against a real local receiver: signatures checked independently, retries
with backoff, failure after the last attempt, the delivery log, redelivery, ping, the API
(ETag, permissions, validation) and the CLI."""

import datetime
import hashlib
import hmac
import json
import logging
import socket
import threading

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from folio.accounts.models import AuditEntry
from folio.jobs.models import Job, Schedule
from folio.publishing import webhooks
from folio.publishing.models import Webhook, WebhookDelivery
from tests.publishing.webhook_receiver import (  # noqa: F401 - fixtures
    fresh_subscriptions_fixture,
    receiver_fixture,
)

pytestmark = pytest.mark.django_db

SECRET = "a-shared-secret-of-some-length"


@pytest.fixture
def hook(receiver):
    created, _ = webhooks.create_webhook(
        {"url": receiver.url, "events": ["publication.done", "asset.expired"], "secret": SECRET}
    )
    return created


def emit(event="publication.done", data=None, **kw):
    return webhooks.emit(event, data if data is not None else {"publication_id": 7}, **kw)


def later(delivery, seconds=1):
    """A moment just after the delivery's next attempt is due (no waiting in tests)."""
    delivery.refresh_from_db()
    return delivery.next_attempt_at + datetime.timedelta(seconds=seconds)


# --- signing and delivering -----------------------------------------------------------------


def test_delivery_is_signed_so_a_receiver_can_verify_it(hook, receiver):
    [delivery] = emit(data={"publication_id": 7, "status": "done"})
    assert webhooks.deliver_due() == {"delivered": 1, "retrying": 0, "failed": 0}

    [request] = receiver.requests
    assert request.path == "/hooks/folio"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-Folio-Event"] == "publication.done"
    assert request.headers["X-Folio-Delivery"] == str(delivery.pk)
    assert request.headers["X-Folio-Event-Id"] == delivery.event_id
    # the receiver's own HMAC over "<timestamp>.<body>" with the shared secret
    timestamp = request.headers["X-Folio-Timestamp"]
    expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + request.body, hashlib.sha256)
    assert request.headers["X-Folio-Signature"] == "sha256=" + expected.hexdigest()
    assert abs(int(timestamp) - timezone.now().timestamp()) < 300
    assert not request.signature_valid("another secret entirely")
    body = request.json
    assert body["event"] == "publication.done"
    assert body["event_id"] == delivery.event_id
    assert body["data"] == {"publication_id": 7, "status": "done"}

    delivery.refresh_from_db()
    assert delivery.status == "delivered"
    assert delivery.attempts == 1
    assert delivery.delivered_at is not None
    [entry] = delivery.log
    assert entry["status_code"] == 200 and entry["error"] == "" and entry["attempt"] == 1


def test_a_tampered_body_fails_verification(hook, receiver):
    emit()
    webhooks.deliver_due()
    [request] = receiver.requests
    request.body = request.body.replace(b"7", b"8")
    assert not request.signature_valid(SECRET)


def test_generated_secret_is_returned_once_and_signs(receiver):
    created, secret = webhooks.create_webhook({"url": receiver.url, "events": ["*"]})
    assert len(secret) >= 32 and created.secret == secret
    emit("asset.approved", {"asset_id": 1})
    webhooks.deliver_due()
    assert receiver.requests[0].signature_valid(secret)


def test_retried_with_backoff_after_a_500(hook, receiver):
    receiver.answers = [500]
    [delivery] = emit()
    before = timezone.now()
    assert webhooks.deliver_due() == {"delivered": 0, "retrying": 1, "failed": 0}
    delivery.refresh_from_db()
    assert delivery.status == "pending"
    assert (delivery.attempts, delivery.last_status_code) == (1, 500)
    assert "answered 500" in delivery.last_error and "receiver says no" in delivery.last_error
    # the first retry comes 30 s later, less up to a quarter of jitter
    wait = (delivery.next_attempt_at - before).total_seconds()
    assert 22.0 <= wait <= 31.0
    # not due yet: nothing is sent
    assert webhooks.deliver_due() == {"delivered": 0, "retrying": 0, "failed": 0}
    assert len(receiver.requests) == 1

    assert webhooks.deliver_due(now=later(delivery))["delivered"] == 1
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and delivery.attempts == 2
    assert [e["status_code"] for e in delivery.log] == [500, 200]
    # the same event, the same bytes, each attempt freshly timestamped and signed
    first, second = receiver.requests
    assert first.body == second.body
    assert first.headers["X-Folio-Event-Id"] == second.headers["X-Folio-Event-Id"]
    assert first.signature_valid(SECRET) and second.signature_valid(SECRET)


def test_backoff_doubles_with_jitter_up_to_an_hour():
    for attempts, base in [(1, 30), (2, 60), (3, 120), (4, 240), (8, 3600), (12, 3600)]:
        waits = [webhooks.backoff(attempts) for _ in range(50)]
        assert all(0.75 * base <= w <= base for w in waits), (attempts, waits)
        assert len(set(waits)) > 1  # jittered


def test_failed_after_the_last_attempt(hook, receiver, settings, caplog):
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    receiver.answers = [500, 502, 503, 200]
    [delivery] = emit()
    caplog.set_level(logging.DEBUG)
    webhooks.deliver_due()
    gaps = []
    for _ in range(2):
        delivery.refresh_from_db()
        gaps.append(delivery.next_attempt_at)
        webhooks.deliver_due(now=later(delivery))
    delivery.refresh_from_db()
    assert delivery.status == "failed"
    assert delivery.attempts == 3
    assert [e["status_code"] for e in delivery.log] == [500, 502, 503]
    # once failed, nothing more is tried, however late
    far = timezone.now() + datetime.timedelta(days=1)
    assert webhooks.deliver_due(now=far) == {"delivered": 0, "retrying": 0, "failed": 0}
    assert len(receiver.requests) == 3
    assert "failed after 3 attempts" in caplog.text
    # secrets never reach logs, the log kept with the delivery, or its error
    assert SECRET not in caplog.text
    assert SECRET not in json.dumps(delivery.log) + delivery.last_error


def test_network_errors_are_retried(hook, settings):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    webhooks.update_webhook(hook.pk, {"url": f"http://127.0.0.1:{port}/x?token=abc"})
    [delivery] = emit()
    webhooks.deliver_due()
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.attempts == 1
    assert delivery.last_status_code is None
    assert delivery.last_error.startswith("could not connect")
    assert "token=abc" not in delivery.last_error  # addresses may carry credentials


def test_no_answer_within_the_timeout_is_retried(hook, receiver, settings):
    settings.WEBHOOK_TIMEOUT = 1
    receiver.hang = threading.Event()
    [delivery] = emit()
    webhooks.deliver_due()
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.attempts == 1
    assert delivery.last_error == "no answer within 1 s"
    assert delivery.log[0]["status_code"] is None


def test_a_dead_receiver_does_not_hold_up_the_others(hook, receiver, settings):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dead, _ = webhooks.create_webhook(
        {"url": f"http://127.0.0.1:{port}/", "events": ["publication.done"]}
    )
    for n in range(3):
        emit(data={"publication_id": n})
    counts = webhooks.deliver_due()
    # one attempt at the dead one in this run, all three to the live one
    assert counts == {"delivered": 3, "retrying": 1, "failed": 0}
    assert WebhookDelivery.objects.filter(webhook=dead, attempts=0).count() == 2


def test_a_claimed_delivery_is_attempted_once(hook, receiver):
    [delivery] = emit()
    now = timezone.now()
    assert webhooks._claim(delivery, now)
    assert not webhooks._claim(delivery, now)  # a second worker finds it taken
    assert webhooks.deliver_due() == {"delivered": 0, "retrying": 0, "failed": 0}
    # a worker that died mid-attempt: after the lease the sweep takes it again
    assert webhooks.deliver_due(now=later(delivery))["delivered"] == 1


# --- who gets what ----------------------------------------------------------------------------


def test_only_active_subscribed_webhooks_get_an_event(hook, receiver):
    everything, _ = webhooks.create_webhook({"url": receiver.url + "/all", "events": ["*"]})
    other, _ = webhooks.create_webhook({"url": receiver.url + "/x", "events": ["asset.approved"]})
    off, _ = webhooks.create_webhook(
        {"url": receiver.url + "/off", "events": ["*"], "active": False}
    )
    created = emit()
    assert sorted(d.webhook_id for d in created) == sorted([hook.pk, everything.pk])
    assert len({d.event_id for d in created}) == 1  # one event, one id for every webhook
    webhooks.deliver_due()
    assert sorted(r.path for r in receiver.requests) == ["/hooks/folio", "/hooks/folio/all"]
    assert not WebhookDelivery.objects.filter(webhook__in=[other, off]).exists()


def test_nothing_is_sent_for_a_rolled_back_write(hook):
    with pytest.raises(RuntimeError), transaction.atomic():
        emit()
        raise RuntimeError("the write failed")
    assert not WebhookDelivery.objects.exists()


def test_delivery_starts_when_the_transaction_commits(hook, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        emit()
        emit(data={"publication_id": 8})
        assert not Job.objects.filter(kind=webhooks.deliver_webhooks.job_name).exists()
    # one job for the transaction, not one per event
    assert Job.objects.filter(kind=webhooks.deliver_webhooks.job_name).count() == 1
    assert callbacks
    with django_capture_on_commit_callbacks(execute=True):
        emit()
    # the queued one has not read the due deliveries yet: it will send this one too
    assert Job.objects.filter(kind=webhooks.deliver_webhooks.job_name).count() == 1


def test_retries_are_picked_up_by_a_schedule():
    schedule = Schedule.objects.get(name="deliver-webhooks")
    assert schedule.job == webhooks.deliver_webhooks.job_name
    assert schedule.every_seconds == 30 and schedule.enabled


def test_subscriptions_are_noticed_without_a_query_each_time(
    receiver,
    django_assert_num_queries,
):
    webhooks.forget_subscriptions()
    assert not webhooks.wants("product.complete")
    with django_assert_num_queries(0):
        assert not webhooks.wants("product.complete")
    webhooks.create_webhook({"url": receiver.url, "events": ["product.complete"]})
    assert webhooks.wants("product.complete")
    # a webhook made straight in the database (another path) is noticed too
    Webhook.objects.all().delete()
    assert not webhooks.wants("product.complete")


# --- redelivery and ping ----------------------------------------------------------------------


def test_redeliver_sends_the_same_event_again(hook, receiver, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    receiver.answers = [500]
    [delivery] = emit()
    webhooks.deliver_due()
    delivery.refresh_from_db()
    assert delivery.status == "failed"

    again = webhooks.redeliver(delivery.pk)
    assert again.pk != delivery.pk
    assert (again.event, again.event_id, again.payload) == (
        delivery.event,
        delivery.event_id,
        delivery.payload,
    )
    assert webhooks.deliver_due()["delivered"] == 1
    first, second = receiver.requests
    assert first.body == second.body
    assert second.headers["X-Folio-Delivery"] == str(again.pk)
    again.refresh_from_db()
    assert again.status == "delivered"
    assert again.log[0]["redelivery_of"] == delivery.pk
    delivery.refresh_from_db()
    assert delivery.status == "failed"  # the original's log is kept as it was
    assert AuditEntry.objects.filter(action="webhook.redeliver").count() == 1


def test_ping_goes_to_one_webhook_whatever_it_subscribes_to(hook, receiver):
    webhooks.create_webhook({"url": receiver.url + "/other", "events": ["*"]})
    delivery = webhooks.ping(hook.pk)
    webhooks.deliver_due()
    [request] = receiver.requests
    assert request.headers["X-Folio-Event"] == "ping"
    assert request.json["data"]["webhook_id"] == hook.pk
    assert request.signature_valid(SECRET)
    delivery.refresh_from_db()
    assert delivery.status == "delivered"


# --- API --------------------------------------------------------------------------------------


def post(client, url, body=None, **headers):
    return client.post(url, body or {}, content_type="application/json", headers=headers)


def patch(client, url, body, **headers):
    return client.patch(url, body, content_type="application/json", headers=headers)


API = "/api/v1/publishing/webhooks"


def test_api_crud_with_etag(api_client, receiver):
    admin = api_client("admin")
    response = post(
        admin, API, {"url": receiver.url, "events": ["publication.done"], "description": "ERP"}
    )
    assert response.status_code == 201, response.content
    created = response.json()
    secret = created["secret"]
    assert len(secret) >= 32
    assert response["ETag"] == 'W/"1"'
    hook_url = f"{API}/{created['id']}"

    shown = admin.get(hook_url)
    assert shown.status_code == 200 and "secret" not in shown.json()
    assert shown["ETag"] == 'W/"1"'
    assert all("secret" not in h for h in admin.get(API).json())

    changed = patch(admin, hook_url, {"events": ["*"]}, **{"If-Match": 'W/"1"'})
    assert changed.status_code == 200, changed.content
    assert changed.json()["events"] == ["*"] and changed["ETag"] == 'W/"2"'
    stale = patch(admin, hook_url, {"active": False, "version": 1})
    assert stale.status_code == 409
    assert stale.json()["error"]["details"]["current_version"] == 2
    assert "secret" not in json.dumps(stale.json())

    rotated = post(admin, f"{hook_url}/rotate-secret", {"version": 2})
    assert rotated.status_code == 200, rotated.content
    assert rotated.json()["secret"] != secret and rotated["ETag"] == 'W/"3"'

    assert admin.delete(hook_url, headers={"If-Match": 'W/"2"'}).status_code == 409
    assert admin.delete(hook_url, headers={"If-Match": 'W/"3"'}).status_code == 204
    assert admin.get(hook_url).status_code == 404
    actions = list(
        AuditEntry.objects.filter(action__startswith="webhook.").values_list("action", flat=True)
    )
    assert sorted(actions) == [
        "webhook.create",
        "webhook.delete",
        "webhook.rotate_secret",
        "webhook.update",
    ]
    assert secret not in json.dumps(list(AuditEntry.objects.values_list("changes", flat=True)))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://example.com/x", "events": ["*"]}, "url"),
        ({"url": "https://", "events": ["*"]}, "url"),
        ({"url": "https://example.com/x", "events": ["product.sold"]}, "events"),
        ({"url": "https://example.com/x", "events": []}, "events"),
        ({"url": "https://example.com/x", "events": ["*", "asset.expired"]}, "events"),
        ({"url": "https://example.com/x", "events": ["*"], "secret": "short"}, "secret"),
    ],
)
def test_api_refuses_bad_webhooks_naming_the_field(api_client, body, field):
    response = post(api_client("admin"), API, body)
    assert response.status_code == 422, response.content
    assert response.json()["error"]["details"]["field"] == field
    assert not Webhook.objects.exists()


def test_api_permissions(api_client, receiver):
    viewer, publisher, admin = api_client("viewer"), api_client("publisher"), api_client("admin")
    body = {"url": receiver.url, "events": ["*"]}
    assert post(viewer, API, body).status_code == 403
    created = post(publisher, API, body)
    assert created.status_code == 201
    hook_url = f"{API}/{created.json()['id']}"
    assert viewer.get(API).status_code == 200
    assert viewer.get(f"{hook_url}/deliveries").status_code == 200
    assert patch(viewer, hook_url, {"active": False}).status_code == 403
    assert post(viewer, f"{hook_url}/ping").status_code == 403
    assert patch(publisher, hook_url, {"active": False}).status_code == 200
    assert post(publisher, f"{hook_url}/ping").status_code == 202
    assert publisher.delete(hook_url).status_code == 403  # deleting is an administrator's
    editor = api_client("catalog_editor")
    assert editor.get(API).status_code == 200  # reads like a viewer
    assert post(editor, API, body).status_code == 403
    assert admin.delete(hook_url).status_code == 204


def test_api_delivery_log_ping_and_redeliver(api_client, hook, receiver, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    admin = api_client("admin")
    receiver.answers = [500, 500]
    [delivery] = emit()
    webhooks.deliver_due()
    webhooks.deliver_due(now=later(delivery))
    pinged = post(admin, f"{API}/{hook.pk}/ping")
    assert pinged.status_code == 202 and pinged.json()["event"] == "ping"
    webhooks.deliver_due()

    page = admin.get(f"{API}/{hook.pk}/deliveries")
    assert page.status_code == 200, page.content
    items = page.json()["results"]
    assert [d["event"] for d in items] == ["ping", "publication.done"]
    failed = items[1]
    assert failed["status"] == "failed" and failed["attempts"] == 2
    assert [e["status_code"] for e in failed["log"]] == [500, 500]
    assert failed["next_attempt_at"] is None
    assert failed["payload"]["event"] == "publication.done"
    only_failed = admin.get(f"{API}/{hook.pk}/deliveries?status=failed").json()["results"]
    assert [d["id"] for d in only_failed] == [delivery.pk]
    assert admin.get(f"{API}/{hook.pk}/deliveries?status=lost").status_code == 422
    assert admin.get(f"{API}/deliveries/{delivery.pk}").json()["attempts"] == 2

    again = post(admin, f"{API}/deliveries/{delivery.pk}/redeliver")
    assert again.status_code == 202, again.content
    assert again.json()["status"] == "pending"
    assert again.json()["event_id"] == delivery.event_id
    webhooks.deliver_due()
    assert receiver.events() == ["publication.done", "publication.done", "ping", "publication.done"]
    assert post(admin, f"{API}/deliveries/999999/redeliver").status_code == 404


def test_api_delivery_log_is_paginated(api_client, hook):
    for n in range(5):
        emit(data={"publication_id": n})
    admin = api_client("admin")
    first = admin.get(f"{API}/{hook.pk}/deliveries?page_size=2").json()
    assert len(first["results"]) == 2 and first["next"]
    seen = [d["id"] for d in first["results"]]
    url = first["next"]
    while url:
        page = admin.get(url).json()
        seen += [d["id"] for d in page["results"]]
        url = page["next"]
    assert seen == sorted(WebhookDelivery.objects.values_list("id", flat=True), reverse=True)


# --- CLI --------------------------------------------------------------------------------------


def test_cli_create_list_deliveries_delete(receiver, capsys):
    call_command(
        "webhooks",
        "create",
        receiver.url,
        "--event",
        "publication.done",
        "--event",
        "asset.expired",
        "--description",
        "ERP",
    )
    out = capsys.readouterr().out
    hook = Webhook.objects.get()
    assert f"secret (shown once, keep it to verify signatures): {hook.secret}" in out
    assert hook.events == ["publication.done", "asset.expired"]

    call_command("webhooks", "list")
    out = capsys.readouterr().out
    assert receiver.url in out and "publication.done, asset.expired" in out
    assert hook.secret not in out

    emit()
    webhooks.deliver_due()
    call_command("webhooks", "deliveries", str(hook.pk), "--log")
    out = capsys.readouterr().out
    assert "publication.done" in out and "delivered" in out and '"status_code": 200' in out

    call_command("webhooks", "delete", str(hook.pk))
    assert not Webhook.objects.exists()


def test_the_documented_verification_snippet_accepts_a_delivery(hook, receiver):
    """docs/publishing.md tells receivers how to verify; that very code must work."""
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "publishing.md").read_text()
    section = doc[doc.index("## Schedules and webhooks") :]
    snippet = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace: dict = {}
    exec(snippet, namespace)  # noqa: S102 - our own documentation
    emit()
    webhooks.deliver_due()
    [request] = receiver.requests
    assert namespace["verify"](SECRET, request.headers, request.body)
    assert not namespace["verify"]("not-the-secret-at-all", request.headers, request.body)
    assert not namespace["verify"](SECRET, request.headers, request.body + b" ")


@pytest.mark.django_db(transaction=True)
def test_the_worker_delivers_once_the_write_commits(receiver, worker_process):
    from tests.conftest import wait_until

    webhooks.create_webhook({"url": receiver.url, "events": ["asset.expired"], "secret": SECRET})
    worker_process()
    with transaction.atomic():
        [delivery] = emit("asset.expired", {"asset_id": 5})
    wait_until(lambda: receiver.requests, what="the worker to deliver the event")
    [request] = receiver.requests
    assert request.signature_valid(SECRET)
    assert request.headers["X-Folio-Delivery"] == str(delivery.pk)
    wait_until(
        lambda: WebhookDelivery.objects.get(pk=delivery.pk).status == "delivered",
        what="the delivery to be recorded",
    )
    job = Job.objects.get(kind=webhooks.deliver_webhooks.job_name)
    wait_until(lambda: Job.objects.get(pk=job.pk).is_finished, what="the job to finish")
    assert Job.objects.get(pk=job.pk).result == {"delivered": 1, "retrying": 0, "failed": 0}
