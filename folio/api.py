"""The REST API: one NinjaAPI with authentication, the one error body, pagination and routers.

Every operation requires a signed-in session (with CSRF on writes) or an API token sent as
`Authorization: Bearer folio_…`, except /api/health. Each domain app contributes a router.
"""

import logging
import threading
from functools import wraps

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, RequestDataTooBig
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import DataError, connection
from django.http import Http404, HttpRequest, JsonResponse
from ninja import NinjaAPI, Schema
from ninja.errors import (
    AuthenticationError,
    AuthorizationError,
    HttpError,
    Throttled,
    ValidationError,
)
from ninja.pagination import CursorPagination
from ninja.security import APIKeyCookie, HttpBearer
from ninja.throttling import AuthRateThrottle

from folio import __version__
from folio.accounts import limits
from folio.accounts.audit import Actor, set_actor
from folio.accounts.middleware import client_ip
from folio.accounts.services import authenticate_token
from folio.errors import FolioError

log = logging.getLogger("folio.api")


class TooManyBadTokens(Throttled):
    """Too many requests with a bad token from this address (folio.accounts.limits)."""


def _token_or_none(request: HttpRequest, text: str):
    """authenticate_token, counting bad tokens per client address: past the limit they get
    429 instead of 401 until the window ends. A good token is never held up (and costs no
    look-up in the counts): its 256-bit secret is not something a limit protects by being
    guessed, the limit is there to stop a flood of bad ones."""
    found = authenticate_token(text, ip=client_ip(request))
    if found is None:
        wait = limits.bad_token(request)
        if wait:
            raise TooManyBadTokens(wait=wait)
    return found


class BearerToken(HttpBearer):
    openapi_description = (
        "An API token: `Authorization: Bearer folio_…` (see `folio token create`)."
    )

    def authenticate(self, request: HttpRequest, token: str):
        # The user comes back limited to what the token allows (owner's permissions ∩ the
        # token's), so every request.user.has_perm below answers for the token.
        found = _token_or_none(request, token)
        if found is None:
            return None
        user, api_token = found
        request.user = user
        request.api_token = api_token
        set_actor(Actor(user=user, token=api_token, via="api", ip=client_ip(request)))
        return user


class Session(APIKeyCookie):
    """The browser's Django session; writes need the CSRF token like any form."""

    param_name = settings.SESSION_COOKIE_NAME

    def _get_key(self, request: HttpRequest):
        # Only a signed-in browser is held to CSRF. Anyone else is simply unauthenticated
        # (401), not "CSRF failed" (403): a script with a bad token must learn the truth.
        if not request.user.is_authenticated:
            return None
        return super()._get_key(request)

    def authenticate(self, request: HttpRequest, key):
        if request.user.is_authenticated:
            set_actor(Actor(user=request.user, via="web", ip=client_ip(request)))
            return request.user
        return None


class RateThrottle(AuthRateThrottle):
    """Per-caller limit from settings.API_RATE_LIMIT, read on each request (so it follows
    settings overrides). Ninja keeps one throttle object per API and stores each request's
    state on it, which threads (gunicorn --threads) would share; so every request counts on
    a throttle of its own and `wait()` reads this thread's one."""

    def __init__(self):
        super().__init__(settings.API_RATE_LIMIT)
        self._local = threading.local()

    def allow_request(self, request: HttpRequest) -> bool:
        this = AuthRateThrottle(settings.API_RATE_LIMIT)
        self._local.current = this
        return this.allow_request(request)

    def wait(self):
        current = getattr(self._local, "current", None)
        return current.wait() if current else None


def error_response(request, status: int, code: str, message: str, details=None, headers=None):
    response = JsonResponse(
        {"error": {"code": code, "message": message, "details": details}}, status=status
    )
    for name, value in (headers or {}).items():
        response[name] = value
    return response


# Every operation can answer with the one error body; the schema says so once for all of
# them (instead of on each of ~200 operations): any 4xx, and 500 for an unexpected error.
ERROR_BODY = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "details": {"description": "what and where, when known (object, list or null)"},
            },
        }
    },
}
ERROR_RESPONSES = {
    "4XX": "refused: not signed in (401), not allowed (403), not found (404), a conflict "
    "(409), too large (413), invalid (422), rate limited (429)…; the message says what and where",
    "500": "an unexpected error on the server's side (it has been logged)",
}


class FolioAPI(NinjaAPI):
    def get_openapi_schema(self, *, path_prefix=None, path_params=None):
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_BODY
        ref = {"$ref": "#/components/schemas/Error"}
        for operations in schema["paths"].values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                for status, description in ERROR_RESPONSES.items():
                    responses.setdefault(
                        status,
                        {
                            "description": description,
                            "content": {"application/json": {"schema": ref}},
                        },
                    )
        return schema


api = FolioAPI(
    title="Folio API",
    version="1",
    description=(
        "Product information and digital assets, linked by SKU. Authenticate with an API token "
        "(`Authorization: Bearer folio_…`) or a browser session. Errors always have the body "
        '`{"error": {"code", "message", "details"}}`. Lists use cursor pagination: follow the '
        "`next` URL (it carries an opaque `cursor`) until it is null."
    ),
    auth=[BearerToken(), Session()],
    throttle=[RateThrottle()],
    urls_namespace="api",
    docs_decorator=None,  # set below: docs need a signed-in user too
)


@api.exception_handler(FolioError)
def _folio_error(request, exc: FolioError):
    return error_response(request, exc.status, exc.code, exc.message, exc.details)


@api.exception_handler(ValidationError)
def _validation_error(request, exc: ValidationError):
    details = [
        {
            "where": ".".join(str(p) for p in e.get("loc", ())),
            "problem": e.get("msg", ""),
            "type": e.get("type", ""),
        }
        for e in exc.errors
    ]
    where = "; ".join(f"{d['where']}: {d['problem']}" for d in details[:5])
    return error_response(request, 422, "invalid", f"invalid request ({where})", details)


@api.exception_handler(AuthenticationError)
def _unauthenticated(request, exc):
    return error_response(
        request,
        401,
        "unauthenticated",
        "sign in, or send a valid API token as 'Authorization: Bearer folio_…' "
        "(the token may be missing, revoked or expired)",
        headers={"WWW-Authenticate": 'Bearer realm="folio"'},
    )


@api.exception_handler(AuthorizationError)
@api.exception_handler(DjangoPermissionDenied)
def _forbidden(request, exc):
    return error_response(request, 403, "forbidden", str(exc) or "your role does not allow this")


@api.exception_handler(Throttled)
def _throttled(request, exc: Throttled):
    wait = getattr(exc, "wait", None)
    message = "too many requests; slow down and retry later"
    if isinstance(exc, TooManyBadTokens):
        message = (
            "too many requests with a missing, revoked or wrong API token from your address; "
            f"try again in {limits.minutes(wait)}"
        )
    return error_response(
        request,
        429,
        "rate_limited",
        message,
        {"retry_after_seconds": wait},
        headers={"Retry-After": str(int(wait or 1))},
    )


@api.exception_handler(RequestDataTooBig)
def _too_big(request, exc):
    return error_response(request, 413, "too_large", "the request body is larger than allowed")


@api.exception_handler(OverflowError)
@api.exception_handler(DataError)
def _out_of_range(request, exc):
    # A number past the database's integers (an id of 2**70) or a text longer than its
    # column: the request's fault, not the server's. Logged in case it is ever ours.
    log.warning("value out of range on %s %s: %s", request.method, request.path, exc)
    return error_response(
        request,
        422,
        "invalid",
        "a value in the request is out of range (a number too large, or a text too long)",
    )


@api.exception_handler(Http404)
@api.exception_handler(ObjectDoesNotExist)
def _not_found(request, exc):
    return error_response(request, 404, "not_found", str(exc) or "not found")


@api.exception_handler(HttpError)
def _http_error(request, exc: HttpError):
    codes = {
        400: "bad_request",
        401: "unauthenticated",
        403: "forbidden",
        404: "not_found",
        405: "method_not_allowed",
        409: "conflict",
        413: "too_large",
        422: "invalid",
        429: "rate_limited",
    }
    return error_response(request, exc.status_code, codes.get(exc.status_code, "error"), str(exc))


@api.exception_handler(Exception)
def _unexpected(request, exc):
    log.exception("unhandled error on %s %s", request.method, request.path)
    return error_response(
        request,
        500,
        "internal_error",
        "something went wrong on our side; the error has been logged",
    )


# Keyset pagination: stable order, opaque cursor, no offset scans. Ninja's cursor paginator
# seeks by the first ordering field, so every list passes a unique field first
# (`@paginate(Pagination, ordering=("-id",))`) and a page never skips or repeats a row.
Pagination = CursorPagination


class Health(Schema):
    status: str
    version: str
    database: str


@api.get(
    "/health",
    auth=None,
    throttle=[],
    response=Health,
    tags=["meta"],
    summary="Liveness and database reachability (no authentication)",
)
def health(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {"status": "ok", "version": __version__, "database": connection.vendor}


def _require_login_or_token(view):
    """Docs and schema are for signed-in users and token holders, like everything else."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            header = request.headers.get("Authorization", "")
            try:
                found = (
                    _token_or_none(request, header[7:].strip())
                    if header.lower().startswith("bearer ")
                    else None
                )
            except TooManyBadTokens as exc:
                return _throttled(request, exc)
            if found is None:
                if request.path.endswith(".json"):
                    return _unauthenticated(request, None)
                from django.contrib.auth.views import redirect_to_login

                return redirect_to_login(request.get_full_path())
            request.user = found[0]
        return view(request, *args, **kwargs)

    return wrapper


api.docs_decorator = _require_login_or_token


def _add_routers():
    from folio.accounts.api import router as accounts_router
    from folio.accounts.api_scope import router as accounts_scope_router
    from folio.assets.api import router as assets_router
    from folio.assets.api_external import router as assets_external_router
    from folio.assets.api_manage import router as assets_manage_router
    from folio.assets.api_media import router as assets_media_router
    from folio.catalog.api import router as catalog_router
    from folio.catalog.api_bulk import router as catalog_bulk_router
    from folio.catalog.api_structure import router as catalog_structure_router
    from folio.imports.api import router as imports_router
    from folio.jobs.api import router as jobs_router
    from folio.linking.api import router as linking_router
    from folio.linking.api_360 import router as sku360_router
    from folio.publishing.api import router as publishing_router
    from folio.publishing.api_webhooks import router as publishing_webhooks_router
    from folio.renditions.api import router as renditions_router
    from folio.search.api import router as search_router

    api.add_router("/v1/", accounts_router)
    api.add_router("/v1/", accounts_scope_router)
    api.add_router("/v1/", jobs_router)
    api.add_router("/v1/", catalog_bulk_router)  # before catalog: /products/{sku} would match
    api.add_router("/v1/", linking_router)  # before catalog: /catalog/products/{sku}/links
    api.add_router("/v1/", sku360_router)  # before catalog: /products/{sku} would match
    api.add_router("/v1/", catalog_router)
    api.add_router("/v1/", catalog_structure_router)
    api.add_router("/v1/", search_router)
    api.add_router("/v1/", assets_router)  # before other assets routers: /assets/uploads
    api.add_router("/v1/", assets_manage_router)
    api.add_router("/v1/", assets_media_router)
    api.add_router("/v1/", assets_external_router)
    api.add_router("/v1/", renditions_router)
    api.add_router("/v1/", imports_router)
    api.add_router("/v1/", publishing_router)
    api.add_router("/v1/", publishing_webhooks_router)


_add_routers()
