"""Amazon Selling Partner API, Listings Items 2021-08-01: one call per SKU.

- new listing (never sent before): PUT /listings/2021-08-01/items/{sellerId}/{sku}
  ?marketplaceIds=… with {productType, requirements: "LISTING", attributes};
- changed listing: PATCH with {productType, patches: [{op, path: "/attributes/…", value}]}
  of what differs from what was sent before;
- removal: DELETE;
- a variant's variation parent (the product model) is PUT with requirements
  LISTING_PRODUCT_ONLY before its first child when it is new or changed.
The bodies are built by the Amazon feed format (formats/amazon.py: update_message,
parent_message, patches) from Change.data, what its `data(item)` produced, so the API
receives exactly what the JSON_LISTINGS_FEED file of the same publication holds.

Auth: a Login with Amazon access token (refresh-token grant), cached until shortly before it
expires and sent as x-amz-access-token. Rate: a token bucket at the usage plan
(FOLIO_AMAZON_REQUESTS_PER_SECOND, lowered when a 429's x-amzn-RateLimit-Limit says less);
429 and 5xx are retried with backoff, a bounded number of times.
"""

import dataclasses
import hashlib
import json
import threading
import time
from urllib.parse import quote, urlencode

from django.conf import settings

from folio.publishing.connectors import http, no_credentials
from folio.publishing.formats import amazon as amazon_format

API = "/listings/2021-08-01/items"
TOKEN_MARGIN = 60.0  # seconds before expiry a cached token is no longer used

_tokens: dict[tuple, tuple[str, float]] = {}
_token_lock = threading.Lock()
# One bucket per (endpoint, seller) and configured rate, shared by every run in the process:
# the usage plan is the selling partner's, not one run's.
_buckets: dict[tuple, http.TokenBucket] = {}
_bucket_lock = threading.Lock()


class LoginRefused(Exception):
    """Login with Amazon did not give an access token: no call can be made."""


# ---------------------------------------------------------------------------------------------
# configuration


def missing_settings(feed) -> list[str]:
    missing = [
        f"FOLIO_{name}"
        for name in ("AMAZON_LWA_CLIENT_ID", "AMAZON_LWA_CLIENT_SECRET", "AMAZON_REFRESH_TOKEN")
        if not getattr(settings, name, None)
    ]
    if not ((feed.options or {}).get("seller_id") or settings.AMAZON_SELLER_ID):
        missing.append("FOLIO_AMAZON_SELLER_ID")
    return missing


# ---------------------------------------------------------------------------------------------
# what to send for one change


@dataclasses.dataclass
class Call:
    method: str  # PUT, PATCH, DELETE; NONE when nothing differs
    sku: str
    body: dict | None = None
    parent: "Call | None" = None  # a variation family's parent listing to PUT first

    def describe(self, ctx) -> str:
        path = f"{_path(amazon_format.seller_id(ctx) or '{sellerId}', self.sku)}"
        detail = f" ({len(self.body['patches'])} patches)" if self.method == "PATCH" else ""
        query = urlencode({"marketplaceIds": amazon_format.marketplace_id(ctx)})
        return f"{self.method} {path}?{query}{detail}"


def plan(change, ctx, parents_done: set[str]) -> Call:
    """The call one change needs, built by the Amazon format from what it stored: a PUT of
    the full attributes for a listing never sent (or a full republish), a PATCH of what
    differs from what was sent before, a DELETE for a removal."""
    if change.data is None:
        return Call("DELETE", change.sku)
    parent = None
    family = change.data.get("_parent")
    previous = change.previous
    if (
        family
        and family["sku"] not in parents_done
        and (previous is None or family != previous.get("_parent"))
    ):
        parents_done.add(family["sku"])
        message = amazon_format.parent_message(family, ctx)
        parent = Call("PUT", family["sku"], _put_body(message))
    if previous is None:
        message = amazon_format.update_message(change.sku, change.data, ctx)
        return Call("PUT", change.sku, _put_body(message), parent)
    ops = amazon_format.patches(previous, change.data, ctx)
    if not ops:
        return Call("NONE", change.sku, None, parent)
    return Call(
        "PATCH",
        change.sku,
        {"productType": amazon_format.product_type(ctx), "patches": ops},
        parent,
    )


def _put_body(message: dict) -> dict:
    # The feed message without its feed-only keys (sku and operation are the URL and verb).
    return {k: message[k] for k in ("productType", "requirements", "attributes")}


def _path(seller_id: str, sku: str) -> str:
    return f"{API}/{quote(seller_id, safe='')}/{quote(sku, safe='')}"


NOTHING = "nothing to send: no attribute changed"


# ---------------------------------------------------------------------------------------------
# dry run


def dry_run(feed, changes, ctx, missing: list[str]) -> dict[str, dict]:
    results = {}
    parents: set[str] = set()
    for change in changes:
        call = plan(change, ctx, parents)
        if call.method == "NONE" and call.parent is None:
            results[change.sku] = {"status": "dry_run", "operation": "NONE", "message": NOTHING}
            continue
        what = [c.describe(ctx) for c in (call.parent, call) if c and c.method != "NONE"]
        results[change.sku] = {
            "status": "dry_run",
            "operation": call.method,
            "message": f"would {', then '.join(what)} ({no_credentials(missing)})",
        }
    return results


# ---------------------------------------------------------------------------------------------
# pushing


def push(feed, publication, changes, ctx) -> dict[str, dict]:
    session = _Session(ctx)
    results: dict[str, dict] = {}
    parents: set[str] = set()
    for change in changes:
        call = plan(change, ctx, parents)
        try:
            parent = session.send(call.parent) if call.parent else None
            if call.method == "NONE":
                result = {"status": "ok", "operation": "NONE", "message": NOTHING}
            else:
                result = session.send(call)
        except LoginRefused as exc:
            # Without a token nothing else can go either: say so on every remaining item.
            for rest in changes:
                results.setdefault(rest.sku, {"status": "error", "message": str(exc)})
            break
        except http.Unreachable as exc:
            result = {
                "status": "error",
                "operation": call.method,
                "message": f"Amazon could not be reached: {exc}",
            }
            parent = None
        if parent is not None:
            # The family's parent listing is not a product of its own in Folio: its answer
            # travels with the child that brought it.
            result["parent"] = {"sku": call.parent.sku, **parent}
            if parent["status"] != "ok" and result["status"] == "ok":
                result["message"] = (
                    f"{result['message']}; the variation parent "
                    f"{call.parent.sku} was refused: {parent['message']}"
                )
        results[change.sku] = result
    return results


class _Session:
    def __init__(self, ctx):
        self.endpoint = settings.AMAZON_SP_ENDPOINT.rstrip("/")
        self.seller_id = amazon_format.seller_id(ctx)
        self.marketplace_id = amazon_format.marketplace_id(ctx)
        self.issue_locale = ctx.locale or None
        rate = float(getattr(settings, "AMAZON_REQUESTS_PER_SECOND", 5) or 5)
        key = (self.endpoint, self.seller_id, rate)
        with _bucket_lock:
            self.bucket = _buckets.setdefault(key, http.TokenBucket(rate, rate))

    def _wait(self, response: http.Response, attempt: int) -> float | None:
        if response.status == 429:
            limit = _float(response.header("x-amzn-ratelimit-limit"))
            if limit:
                self.bucket.slow_down(limit)
            after = http.retry_after(response)
            if after is not None:
                return after
            # No Retry-After on SP-API throttling: wait a request's share of the plan, longer
            # each time.
            return (1.0 / limit if limit else 1.0) * 2 ** (attempt - 1)
        return http.default_wait(response, attempt)

    def send(self, call: Call) -> dict:
        method, sku, body = call.method, call.sku, call.body
        query = {"marketplaceIds": self.marketplace_id}
        if self.issue_locale:
            query["issueLocale"] = self.issue_locale
        url = f"{self.endpoint}{_path(self.seller_id, sku)}?{urlencode(query)}"
        payload = json.dumps(body).encode() if body is not None else None
        response = None
        for fresh_token in (False, True):
            headers = {
                "x-amz-access-token": access_token(force=fresh_token),
                "Accept": "application/json",
                "User-Agent": "Folio/0.1 (Language=Python)",
            }
            if payload is not None:
                headers["Content-Type"] = "application/json"
            response = http.request(
                method, url, headers=headers, body=payload, wait=self._wait, before=self.bucket.take
            )
            # A 403 can be an access token revoked or expired early: one new token, once.
            if response.status != 403:
                break
        return _result(method, sku, response)


def _result(method: str, sku: str, response: http.Response) -> dict:
    data = response.json()
    data = data if isinstance(data, dict) else {}
    result = {"operation": method, "http_status": response.status}
    if response.attempts > 1:
        result["attempts"] = response.attempts
    if response.status == 200:
        issues = [
            {
                k: issue.get(k)
                for k in ("code", "message", "severity", "attributeNames")
                if issue.get(k) is not None
            }
            for issue in data.get("issues") or []
        ]
        result.update(
            submission_id=data.get("submissionId"), issues=issues, remote_status=data.get("status")
        )
        if data.get("status") == "ACCEPTED":
            warnings = [i["message"] for i in issues if i.get("severity") != "ERROR"]
            return {"status": "ok", "message": "; ".join(warnings) or "accepted", **result}
        errors = [i for i in issues if i.get("severity", "ERROR") == "ERROR"] or issues
        message = "; ".join(_issue_text(i) for i in errors) or f"status {data.get('status')}"
        return {"status": "error", "message": message, **result}
    if response.status == 429:
        message = f"throttled by Amazon (429) after {response.attempts} attempts"
    else:
        errors = data.get("errors") or []
        message = (
            "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors if isinstance(e, dict))
            or f"HTTP {response.status}"
        )
        message = f"Amazon answered {response.status}: {message}"
    return {"status": "error", "message": message, **result}


def _issue_text(issue: dict) -> str:
    names = ", ".join(issue.get("attributeNames") or [])
    return f"{issue.get('message')} ({names})" if names else str(issue.get("message"))


def _float(value) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------------
# Login with Amazon


def access_token(*, force: bool = False) -> str:
    """The cached LWA access token, or a new one (refresh-token grant)."""
    refresh = settings.AMAZON_REFRESH_TOKEN
    key = (
        settings.AMAZON_LWA_ENDPOINT,
        settings.AMAZON_LWA_CLIENT_ID,
        hashlib.sha256(refresh.encode()).hexdigest(),
    )
    with _token_lock:
        cached = _tokens.get(key)
        if cached and not force and cached[1] > time.monotonic():
            return cached[0]
        body = urlencode(
            {
                "grant_type": "refresh_token",
                "refresh_token": refresh,
                "client_id": settings.AMAZON_LWA_CLIENT_ID,
                "client_secret": settings.AMAZON_LWA_CLIENT_SECRET,
            }
        ).encode()
        try:
            response = http.request(
                "POST",
                settings.AMAZON_LWA_ENDPOINT,
                body=body,
                headers={
                    "Content-Type": "application/x-www-form-urlencoded;charset=UTF-8",
                    "Accept": "application/json",
                },
            )
        except http.Unreachable as exc:
            raise LoginRefused(f"Login with Amazon could not be reached: {exc}") from None
        data = response.json()
        data = data if isinstance(data, dict) else {}
        if response.status != 200 or not data.get("access_token"):
            # The error code LWA gives (invalid_grant, invalid_client…) names the problem
            # without repeating any credential.
            raise LoginRefused(
                f"Login with Amazon refused the credentials ({response.status} "
                f"{data.get('error') or 'no access token'}): check FOLIO_AMAZON_LWA_CLIENT_ID, "
                "FOLIO_AMAZON_LWA_CLIENT_SECRET and FOLIO_AMAZON_REFRESH_TOKEN"
            )
        expires_in = float(data.get("expires_in") or 3600)
        _tokens[key] = (
            data["access_token"],
            time.monotonic() + max(0.0, expires_in - TOKEN_MARGIN),
        )
        return data["access_token"]
