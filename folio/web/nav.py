"""The main navigation: one ordered list of entries, each shown to users whose role allows it.

The extension point for later pages (publishing, imports): their module calls `register(...)`
at import time (e.g. from its views module, which folio/web/urls.py imports), and the header of
every page lists it; nothing else needs to change.
"""

from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class NavEntry:
    key: str  # marks the current section: views pass `section=key`
    label: str
    url_name: str
    permission: str | None = None  # shown only to users with this permission
    order: int = 100


NAV: dict[str, NavEntry] = {}


def register(entry: NavEntry) -> NavEntry:
    """Add (or replace, by key) a navigation entry."""
    NAV[entry.key] = entry
    return entry


def visible(user) -> list[dict]:
    out = []
    for entry in sorted(NAV.values(), key=lambda e: (e.order, e.key)):
        if entry.permission and not user.has_perm(entry.permission):
            continue
        try:
            url = reverse(entry.url_name)
        except NoReverseMatch:  # a page registered before its URL exists
            continue
        out.append({"key": entry.key, "label": entry.label, "url": url})
    return out


for _entry in (
    NavEntry("dashboard", _("Dashboard"), "web:home", None, 10),
    NavEntry("products", _("Products"), "web:products", "catalog.view_product", 20),
    NavEntry("assets", _("Assets"), "web:assets", "assets.view_asset", 30),
    NavEntry("review", _("Review"), "web:review_index", "catalog.view_product", 40),
    NavEntry("compare", _("Compare"), "web:compare", "catalog.view_product", 45),
    NavEntry("structure", _("Structure"), "web:structure", "catalog.view_attribute", 55),
    NavEntry("brandkit", _("Brand kits"), "web:brand_kits", "assets.view_collection", 60),
    NavEntry("shares", _("Share links"), "web:shares", "assets.change_asset", 70),
):
    register(_entry)
