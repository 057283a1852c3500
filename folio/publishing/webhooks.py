"""Outgoing webhooks: other systems told about publications, approvals, expiries and products
becoming complete, by a signed JSON POST.

`emit(event, data)` is called inside the writer's transaction: it writes one WebhookDelivery
per active webhook subscribed to the event, so a rolled-back write never announces anything,
and once the transaction commits a background job starts delivering. Each attempt is a POST
of the delivery's `payload` (the same bytes every time) with

    X-Folio-Event, X-Folio-Event-Id, X-Folio-Delivery, X-Folio-Timestamp,
    X-Folio-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" keyed with the secret>

A 2xx answer is delivered; any other answer, a network error or no answer within
FOLIO_WEBHOOK_TIMEOUT is retried after 30 s, doubling (with jitter, at most an hour apart) up to
FOLIO_WEBHOOK_MAX_ATTEMPTS, then the delivery is failed. Due retries live in the database and
the `deliver-webhooks` schedule picks them up, so they survive restarts. Every attempt is
appended to the delivery's log. Secrets never appear in logs, errors or API answers (the
secret is shown once, when the webhook is made or its secret rotated).
"""

import datetime
import hashlib
import hmac
import json
import logging
import random
import secrets
import time
import uuid
from urllib.parse import urlsplit

import urllib3
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from folio import __version__
from folio.accounts import audit
from folio.errors import InvalidInput, NotFound
from folio.jobs.models import Job
from folio.jobs.services import JobContext, job, start_job
from folio.publishing.events import EVENTS, PING, after_commit
from folio.publishing.models import Webhook, WebhookDelivery
from folio.versioning import check_version, save_versioned

log = logging.getLogger("folio.publishing.webhooks")

EDITABLE = ("url", "description", "events", "active")
MIN_SECRET = 16
FIRST_RETRY = 30  # seconds; doubles with each further attempt
MAX_DELAY = 3600
BATCH = 50  # deliveries claimed at a time by the sweep
MAX_PER_RUN = 1000  # the rest waits for the next run of the schedule
EXCERPT = 200  # characters of a refusing answer kept in the log
# Which events anyone subscribes to, remembered this long per process: product writes ask
# for every batch whether to notice completeness reaching 100, and must not pay a query for
# it. Webhook writes forget it at once; another process's new webhook is seen within this
# time. (Other events are rare and always look the webhooks up.)
SUBSCRIBERS_TTL = 10.0

_http = urllib3.PoolManager(num_pools=20, maxsize=4, retries=False)
_subscribed: dict = {"until": 0.0, "events": frozenset()}


# --- who listens ------------------------------------------------------------------------------


def forget_subscriptions(**kwargs) -> None:
    _subscribed["until"] = 0.0


def subscribed_events() -> frozenset[str]:
    if time.monotonic() < _subscribed["until"]:
        return _subscribed["events"]
    found: set[str] = set()
    for events in Webhook.objects.filter(active=True).values_list("events", flat=True):
        found.update(EVENTS if "*" in (events or ()) else events or ())
    _subscribed.update(events=frozenset(found), until=time.monotonic() + SUBSCRIBERS_TTL)
    return _subscribed["events"]


def wants(event: str) -> bool:
    """Whether some active webhook is subscribed to `event` (no query most of the time)."""
    return event in subscribed_events()


# --- checks -----------------------------------------------------------------------------------


def _require(user, perm: str) -> None:
    # No user: the system (CLI on the server, jobs); who may run those is who reaches the server.
    if user is not None and getattr(user, "pk", None):
        from folio.accounts.services import require

        require(user, perm)


def _bad(field: str, reason: str, **where) -> InvalidInput:
    return InvalidInput(f"webhook: {field}: {reason}", details={"field": field, **where})


def _check_url(value) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _bad("url", "the address to POST events to, e.g. https://example.com/hooks/folio")
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _bad("url", "must be an http:// or https:// address with a host")
    if len(value) > Webhook._meta.get_field("url").max_length:
        raise _bad("url", "is longer than 1000 characters")
    return value


def _check_events(value) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(e, str) for e in value):
        raise _bad("events", f'a list of events ({", ".join(EVENTS)}) or ["*"] for every event')
    events = list(dict.fromkeys(value))
    if "*" in events:
        if len(events) > 1:
            raise _bad("events", '"*" already means every event; give it alone')
        return events
    unknown = [e for e in events if e not in EVENTS]
    if unknown:
        raise _bad(
            "events", f"no event {unknown[0]!r} (events: {', '.join(EVENTS)})", event=unknown[0]
        )
    return events


def _check_secret(value) -> str:
    if not isinstance(value, str) or not (MIN_SECRET <= len(value) <= 200):
        raise _bad("secret", f"between {MIN_SECRET} and 200 characters (or leave it out)")
    return value


def _check(data: dict) -> dict:
    clean = {}
    if "url" in data:
        clean["url"] = _check_url(data["url"])
    if "events" in data:
        clean["events"] = _check_events(data["events"])
    if "description" in data:
        text = data["description"] if data["description"] is not None else ""
        if not isinstance(text, str) or len(text) > 300:
            raise _bad("description", "text of at most 300 characters")
        clean["description"] = text
    if "active" in data:
        if not isinstance(data["active"], bool):
            raise _bad("active", "true or false")
        clean["active"] = data["active"]
    return clean


def snapshot(hook: Webhook) -> dict:
    """What the audit log and a 409 show: everything but the secret."""
    return {
        "id": hook.pk,
        "url": hook.url,
        "description": hook.description,
        "events": list(hook.events or []),
        "active": hook.active,
        "version": hook.version,
    }


# --- webhooks ---------------------------------------------------------------------------------


@transaction.atomic
def create_webhook(data: dict, *, user=None) -> tuple[Webhook, str]:
    """The new webhook and its secret (generated unless given), the only time it is shown."""
    _require(user, "publishing.add_webhook")
    if not isinstance(data, dict):
        raise InvalidInput("a webhook is an object: url, events, description, active, secret")
    unknown = sorted(set(data) - {*EDITABLE, "secret"})
    if unknown:
        raise _bad(unknown[0], f"not a webhook setting (settings: {', '.join(EDITABLE)}, secret)")
    for field in ("url", "events"):
        if field not in data:
            raise _bad(field, "required")
    clean = _check(data)
    given = data.get("secret")
    secret = _check_secret(given) if given not in (None, "") else secrets.token_urlsafe(32)
    creator = user if getattr(user, "pk", None) else None
    hook = Webhook.objects.create(secret=secret, created_by=creator, **clean)
    audit.record(
        "webhook.create", hook, summary=f"webhook {hook.pk} → {hook.url}", changes=snapshot(hook)
    )
    transaction.on_commit(forget_subscriptions)
    forget_subscriptions()
    return hook, secret


def list_webhooks(*, user=None):
    _require(user, "publishing.view_webhook")
    return Webhook.objects.order_by("id")


def get_webhook(webhook_id: int, *, user=None) -> Webhook:
    _require(user, "publishing.view_webhook")
    hook = Webhook.objects.filter(pk=webhook_id).first()
    if hook is None:
        raise NotFound(f"no webhook {webhook_id}", details={"webhook": webhook_id})
    return hook


@transaction.atomic
def update_webhook(
    webhook_id: int, patch: dict, *, expected_version: int | None = None, user=None
) -> Webhook:
    _require(user, "publishing.change_webhook")
    hook = get_webhook(webhook_id)
    unknown = sorted(set(patch) - set(EDITABLE))
    if unknown:
        raise _bad(
            unknown[0],
            "not a changeable setting (changeable: "
            f"{', '.join(EDITABLE)}; rotate the secret instead of setting it)",
        )
    before = snapshot(hook)
    clean = _check(patch)
    for field, value in clean.items():
        setattr(hook, field, value)
    save_versioned(hook, expected_version, sorted(clean), snapshot=snapshot)
    after = snapshot(hook)
    audit.record(
        "webhook.update",
        hook,
        summary=f"webhook {hook.pk}",
        changes={k: [before[k], after[k]] for k in EDITABLE if before[k] != after[k]},
    )
    transaction.on_commit(forget_subscriptions)
    forget_subscriptions()
    return hook


@transaction.atomic
def rotate_secret(
    webhook_id: int, *, secret: str | None = None, expected_version: int | None = None, user=None
) -> tuple[Webhook, str]:
    """Replace the secret (generated unless given); the new one is shown this once."""
    _require(user, "publishing.change_webhook")
    hook = get_webhook(webhook_id)
    hook.secret = _check_secret(secret) if secret else secrets.token_urlsafe(32)
    save_versioned(hook, expected_version, ["secret"], snapshot=snapshot)
    audit.record("webhook.rotate_secret", hook, summary=f"webhook {hook.pk}: new secret")
    return hook, hook.secret


@transaction.atomic
def delete_webhook(webhook_id: int, *, expected_version: int | None = None, user=None) -> None:
    _require(user, "publishing.delete_webhook")
    hook = get_webhook(webhook_id)
    check_version(hook, expected_version, f"webhook {hook.pk}", snapshot)
    audit.record(
        "webhook.delete", hook, summary=f"webhook {hook.pk} → {hook.url}", changes=snapshot(hook)
    )
    hook.delete()
    transaction.on_commit(forget_subscriptions)
    forget_subscriptions()


# --- emitting ---------------------------------------------------------------------------------


def _envelope(event: str, data: dict, event_id: str) -> dict:
    # Stored whole as the delivery's payload: every attempt (and a redelivery) sends the same
    # body, and the log shows exactly what was sent.
    return json.loads(
        json.dumps(
            {
                "event": event,
                "event_id": event_id,
                "occurred_at": timezone.now().isoformat(),
                "data": data,
            },
            cls=DjangoJSONEncoder,
        )
    )


def emit(event: str, data, *, event_id: str | None = None) -> list[WebhookDelivery]:
    """Queue `event` for every active webhook subscribed to it, in the caller's transaction;
    delivery starts once it commits. `data` may be a function making the dict, called only
    when someone subscribes."""
    return emit_many(
        event,
        lambda: [data() if callable(data) else data],
        event_ids=[event_id] if event_id else None,
    )


def emit_many(event: str, items, *, event_ids: list[str] | None = None) -> list[WebhookDelivery]:
    """Several events of one kind at once (products becoming complete in a bulk edit): one
    query for the webhooks, one INSERT, one delivery job. `items` may be a function making
    the list, called only when someone subscribes."""
    if event not in EVENTS:
        raise ValueError(f"unknown webhook event {event!r}")
    hooks = [
        h
        for h in Webhook.objects.filter(active=True).only("id", "events")
        if "*" in (h.events or ()) or event in (h.events or ())
    ]
    if not hooks:
        return []
    items = items() if callable(items) else items
    now = timezone.now()
    rows = []
    for i, data in enumerate(items):
        event_id = event_ids[i] if event_ids else uuid.uuid4().hex
        payload = _envelope(event, data, event_id)
        rows.extend(
            WebhookDelivery(
                webhook_id=h.pk,
                event=event,
                event_id=event_id,
                payload=payload,
                next_attempt_at=now,
                created_at=now,
            )
            for h in hooks
        )
    if not rows:
        return []
    created = WebhookDelivery.objects.bulk_create(rows, batch_size=500)
    _deliver_after_commit()
    return created


def _deliver_after_commit() -> None:
    after_commit("webhook-deliveries", [True], _start_delivery_job)


def _start_delivery_job(_items) -> None:
    # One queued delivery job is enough: it reads the due deliveries once it runs, so it
    # sees these too. A running one may have read already, hence "queued" only.
    if Job.objects.filter(kind=deliver_webhooks.job_name, status=Job.Status.QUEUED).exists():
        return
    with audit.acting_as(None, via="system"):
        start_job(deliver_webhooks)


@transaction.atomic
def ping(webhook_id: int, *, user=None) -> WebhookDelivery:
    """Send a "ping" event to one webhook (whatever it subscribes to), to try the receiver."""
    _require(user, "publishing.change_webhook")
    hook = get_webhook(webhook_id)
    event_id = uuid.uuid4().hex
    data = {
        "webhook_id": hook.pk,
        "url": hook.url,
        "events": hook.events,
        "zen": "Complete listings, approved images, in rights.",
    }
    delivery = WebhookDelivery.objects.create(
        webhook=hook, event=PING, event_id=event_id, payload=_envelope(PING, data, event_id)
    )
    audit.record("webhook.ping", hook, summary=f"webhook {hook.pk}: ping {delivery.pk}")
    _deliver_after_commit()
    return delivery


@transaction.atomic
def redeliver(delivery_id: int, *, user=None) -> WebhookDelivery:
    """Send a delivery's event again, as a new delivery with the same event id and body (a
    receiver that keeps event ids sees it is the same event)."""
    _require(user, "publishing.change_webhook")
    old = get_delivery(delivery_id)
    new = WebhookDelivery.objects.create(
        webhook_id=old.webhook_id,
        event=old.event,
        event_id=old.event_id,
        payload=old.payload,
        log=[{"at": timezone.now().isoformat(), "redelivery_of": old.pk}],
    )
    audit.record(
        "webhook.redeliver",
        old.webhook,
        summary=f"webhook {old.webhook_id}: delivery {old.pk} sent again as {new.pk}",
    )
    _deliver_after_commit()
    return new


def deliveries(webhook_id: int, *, status: str | None = None, event: str | None = None, user=None):
    """A webhook's delivery log, newest first."""
    hook = get_webhook(webhook_id, user=user)
    qs = WebhookDelivery.objects.filter(webhook=hook)
    if status:
        if status not in WebhookDelivery.Status.values:
            raise InvalidInput(
                f"status must be one of {', '.join(WebhookDelivery.Status.values)}",
                details={"field": "status", "value": status},
            )
        qs = qs.filter(status=status)
    if event:
        qs = qs.filter(event=event)
    return qs.order_by("-id")


def get_delivery(delivery_id: int, *, user=None) -> WebhookDelivery:
    _require(user, "publishing.view_webhook")
    found = WebhookDelivery.objects.select_related("webhook").filter(pk=delivery_id).first()
    if found is None:
        raise NotFound(f"no webhook delivery {delivery_id}", details={"delivery": delivery_id})
    return found


# --- delivering -------------------------------------------------------------------------------


def body_of(delivery: WebhookDelivery) -> bytes:
    return json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False).encode()


def signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def backoff(attempts: int) -> float:
    """Seconds before the next attempt after `attempts` failed ones: 30 s doubling, at most an
    hour, less a random quarter so receivers that were down are not hit all at once."""
    base = min(MAX_DELAY, FIRST_RETRY * 2 ** max(0, attempts - 1))
    return base * random.uniform(0.75, 1.0)  # noqa: S311 - jitter, not a secret


def _lease() -> float:
    # Long enough for one attempt; a worker that dies mid-attempt leaves the delivery due
    # again after it, so the sweep retries it.
    return settings.WEBHOOK_TIMEOUT + 60


def _claim(delivery: WebhookDelivery, now) -> bool:
    """Take a due delivery for this attempt, once, however many workers look at it."""
    until = now + datetime.timedelta(seconds=_lease())
    return bool(
        WebhookDelivery.objects.filter(
            pk=delivery.pk,
            status=WebhookDelivery.Status.PENDING,
            next_attempt_at=delivery.next_attempt_at,
        ).update(next_attempt_at=until)
    )


def _describe(exc: Exception) -> str:
    """What went wrong, in words, without the address (it may carry a token)."""
    # Most specific first: urllib3 makes a refused connection a kind of timeout.
    if isinstance(exc, urllib3.exceptions.NameResolutionError):
        return "the host name could not be resolved"
    if isinstance(exc, urllib3.exceptions.NewConnectionError):
        reason = str(exc).rsplit(": ", 1)[-1]
        return f"could not connect ({reason})"
    if isinstance(exc, urllib3.exceptions.TimeoutError):
        return f"no answer within {settings.WEBHOOK_TIMEOUT} s"
    if isinstance(exc, urllib3.exceptions.SSLError):
        return "TLS handshake failed"
    if isinstance(exc, urllib3.exceptions.ProtocolError):
        return "the connection broke off"
    return type(exc).__name__


def attempt(delivery: WebhookDelivery) -> WebhookDelivery:
    """POST one claimed delivery and record the outcome (delivered, retry later, failed)."""
    hook = delivery.webhook
    body = body_of(delivery)
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"Folio-Webhooks/{__version__}",
        "X-Folio-Event": delivery.event,
        "X-Folio-Event-Id": delivery.event_id,
        "X-Folio-Delivery": str(delivery.pk),
        "X-Folio-Timestamp": timestamp,
        "X-Folio-Signature": signature(hook.secret, timestamp, body),
    }
    started = time.monotonic()
    code, error = None, ""
    try:
        response = _http.request(
            "POST",
            hook.url,
            body=body,
            headers=headers,
            redirect=False,
            timeout=urllib3.Timeout(total=settings.WEBHOOK_TIMEOUT),
            preload_content=False,
        )
        try:
            code = response.status
            if not 200 <= code < 300:
                excerpt = response.read(EXCERPT * 4).decode("utf-8", "replace")[:EXCERPT]
                error = f"answered {code}" + (f": {excerpt.strip()}" if excerpt.strip() else "")
        finally:
            response.close()
    except Exception as exc:  # whatever went wrong, it is one failed attempt, logged as such
        error = _describe(exc)
    ms = round((time.monotonic() - started) * 1000)
    now = timezone.now()
    delivery.attempts += 1
    delivery.last_status_code = code
    delivery.last_error = error[:500]
    delivery.log = [
        *(delivery.log or []),
        {
            "at": now.isoformat(),
            "attempt": delivery.attempts,
            "status_code": code,
            "error": error,
            "ms": ms,
        },
    ]
    if not error:
        delivery.status = WebhookDelivery.Status.DELIVERED
        delivery.delivered_at = now
    elif delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
        delivery.status = WebhookDelivery.Status.FAILED
        log.warning(
            "webhook %s: delivery %s of %s failed after %s attempts: %s",
            hook.pk,
            delivery.pk,
            delivery.event,
            delivery.attempts,
            error,
        )
    else:
        delivery.next_attempt_at = now + datetime.timedelta(seconds=backoff(delivery.attempts))
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=delivery.status,
        attempts=delivery.attempts,
        next_attempt_at=delivery.next_attempt_at,
        last_status_code=code,
        last_error=delivery.last_error,
        log=delivery.log,
        delivered_at=delivery.delivered_at,
    )
    return delivery


def deliver_due(*, now=None, limit: int = MAX_PER_RUN, ctx: JobContext | None = None) -> dict:
    """Attempt every due delivery (pending, next attempt now or earlier), BATCH at a time, at
    most `limit`. A webhook that failed once in this run is not tried again in it: one dead
    receiver must not hold up the others for a timeout per delivery."""
    counts = {"delivered": 0, "retrying": 0, "failed": 0}
    failing: set[int] = set()
    done = 0
    while done < limit:
        moment = now or timezone.now()
        due = list(
            WebhookDelivery.objects.select_related("webhook")
            .filter(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=moment)
            .exclude(webhook_id__in=failing)
            .order_by("next_attempt_at", "id")[: min(BATCH, limit - done)]
        )
        if not due:
            break
        for delivery in due:
            if delivery.webhook_id in failing or not _claim(delivery, moment):
                continue
            outcome = attempt(delivery)
            done += 1
            if outcome.status == WebhookDelivery.Status.DELIVERED:
                counts["delivered"] += 1
            else:
                failing.add(delivery.webhook_id)
                counts[
                    "failed" if outcome.status == WebhookDelivery.Status.FAILED else "retrying"
                ] += 1
            if ctx is not None:
                ctx.advance(1, ok=int(outcome.status == WebhookDelivery.Status.DELIVERED))
    return counts


@job("Deliver webhooks", schedulable=True)
def deliver_webhooks(ctx: JobContext) -> dict:
    """Started when events are emitted, and every 30 s by the deliver-webhooks schedule for
    retries that have come due."""
    return deliver_due(ctx=ctx)


def status_counts(hook: Webhook) -> dict[str, int]:
    """How many of the webhook's deliveries are in each status (one grouped query)."""
    from django.db.models import Count

    out = dict.fromkeys(WebhookDelivery.Status.values, 0)
    for row in hook.deliveries.values("status").annotate(n=Count("id")).order_by():
        out[row["status"]] = row["n"]
    return out
