"""REST API for outgoing webhooks (with ETag/If-Match), their delivery log, redelivery and
ping, and each feed's publication schedule. Thin: webhooks.py and events.py do the work."""

from datetime import datetime
from typing import Literal

from django.http import HttpResponse
from ninja import Header, Query, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import ConfigDict

from folio.accounts.services import require
from folio.api import Pagination
from folio.errors import NotFound
from folio.publishing import events
from folio.publishing import webhooks as service
from folio.publishing.feeds import get_feed
from folio.publishing.models import Webhook
from folio.versioning import expected_version, patch_and_version, shows_current

router = Router(tags=["publishing"])
IF_MATCH = Header(None, alias="If-Match", description='The ETag of the version you edited: W/"3"')


class In(Schema):
    model_config = ConfigDict(extra="forbid")


class WebhookOut(Schema):
    id: int
    url: str
    description: str
    events: list[str]
    active: bool
    version: int
    created_by: str | None
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_created_by(obj):
        return obj.created_by.username if obj.created_by_id else None


class WebhookCreatedOut(WebhookOut):
    # Answered at creation only: no later answer includes it.
    secret: str


class SecretOut(Schema):
    id: int
    version: int
    secret: str


class WebhookIn(In):
    url: str
    events: list[str]
    description: str = ""
    active: bool = True
    secret: str | None = None  # generated when left out


class WebhookPatch(In):
    url: str | None = None
    events: list[str] | None = None
    description: str | None = None
    active: bool | None = None
    version: int | None = None


class RotateIn(In):
    secret: str | None = None
    version: int | None = None


class DeliveryOut(Schema):
    id: int
    webhook: int
    event: str
    event_id: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str
    log: list[dict]  # every attempt: at, attempt, status_code, error, ms
    payload: dict  # the body sent
    created_at: datetime
    delivered_at: datetime | None

    @staticmethod
    def resolve_webhook(obj):
        return obj.webhook_id

    @staticmethod
    def resolve_next_attempt_at(obj):
        return obj.next_attempt_at if obj.status == "pending" else None


def _with_etag(hook: Webhook, response: HttpResponse) -> Webhook:
    response["ETag"] = hook.etag
    return hook


@router.get("/publishing/webhooks", response=list[WebhookOut], summary="Outgoing webhooks")
def list_webhooks(request):
    return list(service.list_webhooks(user=request.user))


@router.post(
    "/publishing/webhooks",
    response={201: WebhookCreatedOut},
    summary="Add a webhook: events are POSTed to its URL, signed with its secret (answered "
    "here once; generated unless given)",
)
def create_webhook(request, response: HttpResponse, payload: WebhookIn):
    data = payload.dict()
    if data.get("secret") is None:
        data.pop("secret")
    hook, secret = service.create_webhook(data, user=request.user)
    hook.secret = secret
    return Status(201, _with_etag(hook, response))


@router.get(
    "/publishing/webhooks/{int:webhook_id}", response=WebhookOut, summary="One webhook (ETag)"
)
def get_webhook(request, response: HttpResponse, webhook_id: int):
    return _with_etag(service.get_webhook(webhook_id, user=request.user), response)


@router.patch(
    "/publishing/webhooks/{int:webhook_id}",
    response=WebhookOut,
    summary="Change a webhook's URL, events, description or active flag (send the version you "
    "read, or If-Match; 409 when it changed meanwhile)",
)
@shows_current(get_webhook)
def update_webhook(
    request,
    response: HttpResponse,
    webhook_id: int,
    payload: WebhookPatch,
    if_match: str | None = IF_MATCH,
):
    changes, version = patch_and_version(payload, if_match)
    changes = {k: v for k, v in changes.items() if v is not None}
    hook = service.update_webhook(webhook_id, changes, expected_version=version, user=request.user)
    return _with_etag(hook, response)


@router.post(
    "/publishing/webhooks/{int:webhook_id}/rotate-secret",
    response=SecretOut,
    summary="Replace the webhook's secret (generated unless given); the new one is answered "
    "here once",
)
@shows_current(get_webhook)
def rotate_secret(
    request,
    response: HttpResponse,
    webhook_id: int,
    payload: RotateIn,
    if_match: str | None = IF_MATCH,
):
    hook, secret = service.rotate_secret(
        webhook_id,
        secret=payload.secret,
        expected_version=expected_version(payload.version, if_match),
        user=request.user,
    )
    _with_etag(hook, response)
    return {"id": hook.pk, "version": hook.version, "secret": secret}


@router.delete(
    "/publishing/webhooks/{int:webhook_id}",
    response={204: None},
    summary="Delete a webhook with its delivery log (If-Match: refuse if changed)",
)
@shows_current(get_webhook)
def delete_webhook(request, webhook_id: int, if_match: str | None = IF_MATCH):
    service.delete_webhook(
        webhook_id, expected_version=expected_version(None, if_match), user=request.user
    )
    return Status(204, None)


@router.get(
    "/publishing/webhooks/{int:webhook_id}/deliveries",
    response=list[DeliveryOut],
    summary="The webhook's delivery log, newest first (filter by status, event): each "
    "attempt's answer or error",
)
@paginate(Pagination, ordering=("-id",))
def list_deliveries(
    request,
    webhook_id: int,
    status: str | None = Query(None),
    event: str | None = Query(None),
    **kwargs,
):
    return service.deliveries(webhook_id, status=status, event=event, user=request.user)


@router.get(
    "/publishing/webhooks/deliveries/{int:delivery_id}",
    response=DeliveryOut,
    summary="One delivery with every attempt",
)
def get_delivery(request, delivery_id: int):
    return service.get_delivery(delivery_id, user=request.user)


@router.post(
    "/publishing/webhooks/deliveries/{int:delivery_id}/redeliver",
    response={202: DeliveryOut},
    summary="Send a delivery's event again (a new delivery, same event id and body)",
)
def redeliver(request, delivery_id: int):
    return Status(202, service.redeliver(delivery_id, user=request.user))


@router.post(
    "/publishing/webhooks/{int:webhook_id}/ping",
    response={202: DeliveryOut},
    summary="Send a ping event to the webhook, to try the receiver",
)
def ping(request, webhook_id: int):
    return Status(202, service.ping(webhook_id, user=request.user))


# --- feed schedules ---------------------------------------------------------------------------


class FeedScheduleOut(Schema):
    channel: str
    feed: str
    name: str
    every_seconds: int | None
    cron: str
    mode: str
    enabled: bool
    next_run_at: datetime | None
    last_run_at: datetime | None
    version: int


class ScheduleIn(In):
    every_seconds: int | None = None
    cron: str | None = None  # 5 fields, UTC
    mode: Literal["incremental", "full"] = "incremental"
    enabled: bool = True
    version: int | None = None


def _schedule_out(feed, schedule, response: HttpResponse) -> dict:
    response["ETag"] = schedule.etag
    return {"channel": feed.channel.code, "feed": feed.code, **events.schedule_data(schedule)}


@router.get(
    "/publishing/channels/{channel}/feeds/{feed}/schedule",
    response=FeedScheduleOut,
    summary="When the feed is published on its own (404: not scheduled)",
)
def get_schedule(request, response: HttpResponse, channel: str, feed: str):
    require(request.user, "publishing.view_feed")
    found = get_feed(channel, feed)
    schedule = events.feed_schedule(found)
    if schedule is None:
        raise NotFound(
            f"feed {channel}/{feed} is not scheduled", details={"channel": channel, "feed": feed}
        )
    return _schedule_out(found, schedule, response)


@router.put(
    "/publishing/channels/{channel}/feeds/{feed}/schedule",
    response=FeedScheduleOut,
    summary="Publish the feed every N seconds or on a cron expression (UTC), incremental or "
    "full; replaces its schedule (version/If-Match: refuse if changed)",
)
@shows_current(get_schedule)
def put_schedule(
    request,
    response: HttpResponse,
    channel: str,
    feed: str,
    payload: ScheduleIn,
    if_match: str | None = IF_MATCH,
):
    require(request.user, "publishing.change_feed")
    found = get_feed(channel, feed)
    schedule = events.schedule_feed(
        found,
        every_seconds=payload.every_seconds,
        cron=payload.cron,
        mode=payload.mode,
        enabled=payload.enabled,
        expected_version=expected_version(payload.version, if_match),
        user=request.user,
    )
    return _schedule_out(found, schedule, response)


@router.delete(
    "/publishing/channels/{channel}/feeds/{feed}/schedule",
    response={204: None},
    summary="Stop publishing the feed on a schedule (version or If-Match: refuse if changed)",
)
@shows_current(get_schedule)
def delete_schedule(
    request,
    channel: str,
    feed: str,
    version: int | None = None,
    if_match: str | None = IF_MATCH,
):
    require(request.user, "publishing.change_feed")
    found = get_feed(channel, feed)
    expected = expected_version(version, if_match)
    if not events.unschedule_feed(found, user=request.user, expected_version=expected):
        raise NotFound(
            f"feed {channel}/{feed} is not scheduled", details={"channel": channel, "feed": feed}
        )
    return Status(204, None)
