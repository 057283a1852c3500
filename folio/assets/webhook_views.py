"""Inbound webhook from another DAM: POST /webhooks/dam/<system_code>.

No session and no CSRF: the caller proves itself with the shared secret of its
ExternalSystem. Headers:

    X-Folio-Timestamp: <unix seconds>
    X-Folio-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>" with the secret>

The timestamp is part of what is signed, so an old delivery cannot be replayed with a fresh
timestamp; deliveries older (or further in the future) than five minutes are refused.
Within that window a replay is harmless: events are idempotent (see external.py).

Body: {"events": [{"type": "asset.upserted" | "asset.deleted", "external_id": "…", …facts}]}.
The events of one delivery are applied together or not at all: a bad one answers 422 naming
its index and field, and nothing is written. The answer lists each event's result.
"""

import hashlib
import hmac
import json
import logging
import time

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from folio.accounts import audit
from folio.assets import external
from folio.assets.models import ExternalSystem
from folio.errors import FolioError

log = logging.getLogger("folio.assets.webhooks")
MAX_AGE_SECONDS = 300
FACTS = (
    "url",
    "title",
    "kind",
    "status",
    "alt_text",
    "licence",
    "territories",
    "channels",
    "valid_from",
    "expires_at",
    "filename",
    "mime",
    "width",
    "height",
    "updated_at",
)
TYPES = ("asset.upserted", "asset.deleted")


def _error(status: int, code: str, message: str, details=None) -> JsonResponse:
    return JsonResponse(
        {"error": {"code": code, "message": message, "details": details}}, status=status
    )


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The X-Folio-Signature value for a delivery (what the other DAM computes)."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def _unauthorised(reason: str) -> JsonResponse:
    # One answer for every failure, so a caller cannot probe which systems exist.
    return _error(401, "unauthenticated", f"webhook signature refused: {reason}")


def _verify(request: HttpRequest, system_code: str) -> ExternalSystem | JsonResponse:
    system = ExternalSystem.objects.filter(code=system_code).first()
    stamp = request.headers.get("X-Folio-Timestamp", "")
    given = request.headers.get("X-Folio-Signature", "")
    if system is None:
        return _unauthorised("unknown system or bad signature")
    try:
        age = time.time() - int(stamp)
    except ValueError:
        return _unauthorised("X-Folio-Timestamp must be unix seconds")
    if abs(age) > MAX_AGE_SECONDS:
        return _unauthorised("the timestamp is more than 5 minutes away from now")
    expected = sign(system.secret, stamp, request.body)
    if not hmac.compare_digest(expected.encode(), given.encode()):
        return _unauthorised("unknown system or bad signature")
    return system


class _BadEvent(Exception):
    def __init__(self, index: int, field: str, message: str):
        super().__init__(message)
        self.index, self.field, self.message = index, field, message


def _events(body: bytes) -> list[dict]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise _BadEvent(-1, "body", "the body is not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("events"), list):
        raise _BadEvent(-1, "events", 'the body must be {"events": [...]}')
    for i, event in enumerate(data["events"]):
        if not isinstance(event, dict):
            raise _BadEvent(i, "event", "each event must be an object")
        if event.get("type") not in TYPES:
            raise _BadEvent(i, "type", f"type must be one of {', '.join(TYPES)}")
        if not isinstance(event.get("external_id"), str) or not event["external_id"].strip():
            raise _BadEvent(i, "external_id", "external_id is required")
        unknown = sorted(set(event) - {"type", "external_id", *FACTS})
        if unknown:
            raise _BadEvent(i, unknown[0], f"unknown field {unknown[0]}")
    return data["events"]


def _apply(system: ExternalSystem, events: list[dict]) -> list[dict]:
    from django.db import transaction

    results = []
    with transaction.atomic():
        for i, event in enumerate(events):
            try:
                if event["type"] == "asset.deleted":
                    done = external.delete_external(system, event["external_id"])
                else:
                    facts = {k: event[k] for k in FACTS if k in event}
                    done = external.upsert_external(system, event["external_id"], **facts)
            except FolioError as exc:
                details = exc.details if isinstance(exc.details, dict) else {}
                raise _BadEvent(i, details.get("field", "event"), exc.message) from exc
            results.append(
                {
                    "index": i,
                    "external_id": event["external_id"],
                    "result": done.result,
                    "asset_id": done.asset.pk,
                }
            )
    return results


@csrf_exempt
@require_POST
def dam_webhook(request: HttpRequest, system_code: str):
    system = _verify(request, system_code)
    if isinstance(system, JsonResponse):
        return system
    try:
        events = _events(request.body)
        with audit.acting_as(None, via="webhook", ip=request.META.get("REMOTE_ADDR")):
            results = _apply(system, events)
    except _BadEvent as bad:
        status = 400 if bad.field == "body" else 422
        where = f"events[{bad.index}].{bad.field}" if bad.index >= 0 else bad.field
        return _error(
            status,
            "invalid",
            f"{where}: {bad.message}",
            {"event": bad.index if bad.index >= 0 else None, "field": bad.field},
        )
    log.info("webhook from %s: %d events", system.code, len(results))
    return JsonResponse({"results": results})
