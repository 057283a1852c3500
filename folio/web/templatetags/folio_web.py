"""Template helpers of the web UI: navigation, formatting, query strings."""

import html
from urllib.parse import urlencode

from django import template
from django.utils.html import strip_tags
from django.utils.translation import gettext_lazy as _

from folio.web import nav

register = template.Library()


@register.simple_tag(takes_context=True)
def nav_entries(context) -> list[dict]:
    request = context.get("request")
    if request is None or not request.user.is_authenticated:
        return []
    return nav.visible(request.user)


@register.filter
def get(mapping, key):
    """{{ mapping|get:key }} for dicts with keys templates cannot spell."""
    if mapping is None:
        return None
    try:
        return mapping.get(key)
    except AttributeError:
        return None


@register.filter
def plaintext(value) -> str:
    """Stored (sanitized) HTML as the words people read."""
    return html.unescape(strip_tags(str(value or "")))


@register.filter
def filesize(value) -> str:
    try:
        size = float(value)
    except (TypeError, ValueError):
        return ""
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return ""


@register.filter
def percent(value) -> int:
    """A ratio as a whole percentage clamped to 0–100 (widths of bars)."""
    try:
        return max(0, min(100, round(float(value))))
    except (TypeError, ValueError):
        return 0


STATUS_LABELS = {
    "draft": _("draft"),
    "in_review": _("in review"),
    "approved": _("approved"),
    "rejected": _("rejected"),
    "archived": _("archived"),
    # jobs, imports, publications, deliveries, proposals, renditions
    "queued": _("queued"),
    "pending": _("pending"),
    "running": _("running"),
    "succeeded": _("succeeded"),
    "done": _("done"),
    "failed": _("failed"),
    "cancelled": _("cancelled"),
    "delivered": _("delivered"),
    "withdrawn": _("withdrawn"),
    "ready": _("ready"),
    # share links, API tokens
    "active": _("active"),
    "expired": _("expired"),
    "revoked": _("revoked"),
}


@register.inclusion_tag("web/components/status.html")
def status(value):
    return {"value": value, "label": STATUS_LABELS.get(value, str(value).replace("_", " "))}


@register.simple_tag
def query(**params) -> str:
    """?a=1&b=2 without empty values: {% query channel=c locale=l %}."""
    kept = [(k, v) for k, v in params.items() if v not in (None, "")]
    return "?" + urlencode(kept) if kept else ""


@register.simple_tag(takes_context=True)
def with_query(context, **params) -> str:
    """The current page's query string (without "?") with some parameters replaced (None
    removes)."""
    request = context["request"]
    data = request.GET.copy()
    for key, value in params.items():
        data.pop(key, None)
        if value not in (None, ""):
            data[key] = value
    if "page" not in params:
        data.pop("page", None)
    return data.urlencode()
