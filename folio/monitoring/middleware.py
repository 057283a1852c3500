"""One structured log line and one latency observation per request, tagged with a request id
that is echoed back (X-Request-ID) so a user's report can be matched to the server's log."""

import contextvars
import logging
import re
import time
import uuid

from folio.monitoring.metrics import REQUEST_LATENCY

log = logging.getLogger("folio.request")
request_id: contextvars.ContextVar[str] = contextvars.ContextVar("folio_request_id", default="")
# A proxy's id is kept only if it looks like an id: anything else could forge log lines.
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every log record (empty outside a request)."""

    def filter(self, record):
        if not hasattr(record, "request_id"):
            record.request_id = request_id.get()
        return True


class RequestMetricsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        rid = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        token = request_id.set(rid)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            self._record(request, response, rid, time.perf_counter() - started)
        finally:
            request_id.reset(token)
        return response

    def _record(self, request, response, rid: str, elapsed: float) -> None:
        match = getattr(request, "resolver_match", None)
        route = ("/" + match.route) if match and match.route else "unmatched"
        REQUEST_LATENCY.labels(request.method, route, str(response.status_code)).observe(elapsed)
        response["X-Request-ID"] = rid
        user = getattr(request, "user", None)
        signed_in = getattr(user, "is_authenticated", False)
        # The path without its query string, and without the secret a share link or a
        # signed rendition URL carries in the path itself.
        path = request.path
        for secret_part in ("token", "signature"):
            value = match.kwargs.get(secret_part) if match else None
            if value:
                path = path.replace(value, "…")
        log.info(
            "%s %s %s %.1fms",
            request.method,
            path,
            response.status_code,
            elapsed * 1000,
            extra={
                "request_id": rid,
                "method": request.method,
                "path": path,
                "route": route,
                "status": response.status_code,
                "duration_ms": round(elapsed * 1000, 1),
                "user": user.username if signed_in else "",
                "ip": request.META.get("REMOTE_ADDR"),
            },
        )
