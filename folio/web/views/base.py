"""What every page shares: sign-in, the permission check, turning service errors into pages
(or, for htmx requests, into a message in the page's flash area), and small helpers.

Pages call the same service functions as the API and the CLI; a permission is checked with
the same `require(user, perm)` the services use, so a button hidden from a viewer is also
refused (403) when its request is sent anyway.
"""

import json
from functools import wraps
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from folio.accounts.services import require
from folio.errors import FolioError, StaleWrite


def is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


def page(perm: str | None = None, *, methods=("GET",)):
    """A signed-in page or action; `perm` is required before the view runs, and a
    FolioError raised by the services becomes an error page with the error's status."""

    def wrap(view):
        @login_required
        @require_http_methods(list(methods))
        @wraps(view)
        def inner(request, *args, **kwargs):
            try:
                if perm:
                    require(request.user, perm)
                return view(request, *args, **kwargs)
            except FolioError as exc:
                return error_response(request, exc)

        return inner

    return wrap


def error_response(request, exc: FolioError) -> HttpResponse:
    context = {"error": exc, "status": exc.status}
    if is_htmx(request):
        # The message goes to the page's flash area (aria-live), whatever the request targeted.
        response = render(request, "web/partials/flash_error.html", context, status=exc.status)
        response["HX-Retarget"] = "#flash"
        response["HX-Reswap"] = "innerHTML"
        return response
    return render(request, "web/error.html", context, status=exc.status)


def announce(response: HttpResponse, text: str) -> HttpResponse:
    """Have screen readers announce `text` after an htmx swap (folio.js reads the event)."""
    response["HX-Trigger"] = json.dumps({"folio:announce": str(text)})
    return response


def field_errors(details, message: str | None = None) -> dict[str, list[str]]:
    """InvalidInput details → {where: [reason, …]} for inline messages.

    Catalog details are a list of {attribute, locale, channel, reason}; asset edits use
    {field, errors: [{field, reason}]}; others a list of {field, problem}.
    """
    out: dict[str, list[str]] = {}
    if isinstance(details, dict):
        items = details.get("errors") or [details]
    elif isinstance(details, list):
        items = details
    else:
        items = []
    for item in items:
        if not isinstance(item, dict):
            continue
        where = item.get("attribute") or item.get("field") or ""
        reason = item.get("reason") or item.get("problem") or (message if where else None)
        if not reason:
            continue
        extra = [x for x in (item.get("locale"), item.get("channel")) if x]
        if extra and item.get("attribute"):
            reason = f"{reason} ({', '.join(extra)})"
        out.setdefault(str(where), []).append(str(reason))
    return out


def query_without(params: QueryDict, *names: str) -> str:
    """The query string of `params` without `names` (for links that change one of them)."""
    kept = [(k, v) for k in params for v in params.getlist(k) if k not in names and v != ""]
    return urlencode(kept)


def toggled(params: QueryDict, name: str, value: str) -> str:
    """The query string with `value` added to, or removed from, the list parameter `name`."""
    current = [v for v in params.getlist(name) if v]
    values = [v for v in current if v != value] if value in current else [*current, value]
    kept = [(k, v) for k in params for v in params.getlist(k) if k not in (name, "page") and v]
    return urlencode(kept + [(name, v) for v in values])


def int_param(value, default: int, *, low: int = 1, high: int = 10**6) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return max(low, min(high, number))


def posted_version(value) -> int | None:
    """The version a form was rendered with; None when it sends none (an older page or a
    script), which writes without the check, as the API does without a version."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def refused(context: dict, exc: FolioError, action: str = "", request=None, errors=None) -> int:
    """Put a refused write into a settings page's context — its message, the reasons by
    field (`errors`, else read from the error's details), whether it was stale and which form
    was posted — and return the status to answer with (409 stale, 422 invalid…)."""
    stale = isinstance(exc, StaleWrite)
    if errors is None:
        errors = field_errors(exc.details, exc.message)
    context.update(error=exc.message, errors=errors, stale=stale, posted=action)
    if request is not None and not stale:
        # A refused edit keeps the version it was made on: saving it again after fixing the
        # field must still notice a change someone else made meanwhile.
        context["kept_version"] = posted_version(request.POST.get("version"))
    return exc.status


def form_version(context: dict, obj) -> int | None:
    """The version a page's form sends back: the one a refused edit was made on, else the
    object's own."""
    kept = context.get("kept_version")
    return kept if kept is not None else getattr(obj, "version", None)


def done(request, text: str, url: str):
    messages.success(request, text)
    return redirect(url)


def whole_number(value: str, default=None):
    """A whole number from a form field; what is not one goes to the service as typed, which
    refuses it with the field's name."""
    value = (value or "").strip()
    if value == "":
        return default
    try:
        return int(value)
    except ValueError:
        return value


def can(user, perm: str) -> bool:
    return user.has_perm(perm)


def channel_context(request, *, required: bool = True) -> dict:
    """The channel and locale a page shows values for (?channel=&locale=), checked against
    the channels' locales; with `required`, the first channel and its first locale when none
    is asked for. One query."""
    from folio.catalog.models import Channel

    channels = [
        {"code": c.code, "label": c.label(), "locales": sorted(loc.code for loc in c.locales.all())}
        for c in Channel.objects.prefetch_related("locales").order_by("code")
    ]
    by_code = {c["code"]: c for c in channels}
    channel = request.GET.get("channel") or ""
    locale = request.GET.get("locale") or ""
    if channel not in by_code:
        channel = channels[0]["code"] if (required and channels) else ""
    locales = sorted({loc for c in channels for loc in c["locales"]})
    allowed = by_code[channel]["locales"] if channel else locales
    if locale not in allowed:
        locale = allowed[0] if (required and allowed) else ""
    return {"channels": channels, "channel": channel, "locale": locale, "locales": locales}
