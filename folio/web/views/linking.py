"""Linking on the product (and product model) page: role slots with the linked assets, their
approval and rights state for the page's channel, inheritance from the models with per-variant
overrides, linking by picking or dragging an asset, reordering by dragging (or with buttons),
and removing. Every change goes through folio.linking.services.

Concurrent edits: the section is rendered with the owner's links version, and every form and
drag in it sends that version back (a hidden input, and hx-vals on the section for the
requests the script sends; the picker's forms include the section's version input). The
service refuses a write based on an older version (StaleWrite, nothing written); the section
then comes back as it is now, with a message, and status 409 — which folio.js swaps in."""

import json

from django.contrib import messages
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from folio.accounts.services import require
from folio.assets import browse
from folio.assets.models import Asset
from folio.assets.previews import preview_states
from folio.catalog.models import Channel, Product, ProductModel
from folio.errors import InvalidInput, NotFound, StaleWrite
from folio.linking import services as linking
from folio.linking.models import ROLES, Link, MediaRequirement
from folio.linking.sku360 import links_detail
from folio.web.views.base import announce, channel_context, is_htmx, page, posted_version

PICKER_SIZE = 24


def _target(kind: str, key: str) -> Product | ProductModel:
    if kind == "model":
        return linking.resolve_target_model(key)
    return linking.resolve_target_product(key)


def _kind_key(target) -> tuple[str, str]:
    return ("product", target.sku) if isinstance(target, Product) else ("model", target.code)


def _family_id(target) -> int | None:
    if isinstance(target, Product):
        return target.family_id
    return target.family_variant.family_id


def media_context(request, target, ctx: dict) -> dict:
    """Everything the media section shows for `target` in the page's channel and locale."""
    kind, key = _kind_key(target)
    channels = list(Channel.objects.prefetch_related("image_slots__preset").order_by("code"))
    chosen = [c for c in channels if c.code == ctx["channel"]]
    entries = links_detail(
        target, channels=chosen, locale=ctx["locale"] or None, channel=ctx["channel"] or None
    )
    required = {}
    if ctx["channel"] and _family_id(target):
        required = dict(
            MediaRequirement.objects.filter(
                family_id=_family_id(target), channel__code=ctx["channel"]
            ).values_list("role", "min_count")
        )
    slots_of_channel = {s.role: s for c in chosen for s in c.image_slots.all()}
    roles = list(ROLES) + sorted({e["role"] for e in entries} - set(ROLES))
    query = urlencode({k: ctx[k] for k in ("channel", "locale") if ctx.get(k)})
    suffix = f"?{query}" if query else ""
    slots = []
    for role in roles:
        items = sorted((e for e in entries if e["role"] == role), key=lambda e: e["position"])
        origin = next((e["origin"] for e in items), None)
        for e in items:
            e["own"] = e["origin"] == "self"
            e["group"] = f"{e['locale']}|{e['channel'] or ''}"
            e["move_url"] = reverse("web:link_move", args=[e["link_id"]]) + suffix
            e["remove_url"] = reverse("web:link_remove", args=[e["link_id"]]) + suffix
            rights = (e.get("rights") or {}).get(ctx["channel"]) if ctx["channel"] else None
            e["publishable"] = rights["publishable"] if rights else None
            e["reasons"] = rights["reasons"] if rights else []
            thumb = (e.get("previews") or {}).get("previews", {}).get("thumb")
            e["thumb"] = thumb["url"] if thumb else None
        # positions within each scope group, for the keyboard's move up/down buttons
        groups: dict[str, list[dict]] = {}
        for e in items:
            if e["own"]:
                groups.setdefault(e["group"], []).append(e)
        for group in groups.values():
            for i, e in enumerate(group, start=1):
                e["rank"], e["last"] = i, i == len(group)
        slot = slots_of_channel.get(role)
        slots.append(
            {
                "role": role,
                "items": items,
                "inherited_from": origin if origin not in (None, "self") else None,
                "has_own": any(e["own"] for e in items),
                "required": required.get(role),
                "preset": slot.preset.code if slot else None,
                "max_count": slot.max_count if slot else None,
            }
        )
    base = {"kind": kind, "key": key}
    version = linking.links_version(target)
    return {
        "target_kind": kind,
        "target_key": key,
        # the links version this state was read at; the forms send it back
        "version": version,
        # the same for the requests the script sends from inside the section (drags)
        "hx_vals": json.dumps({"version": str(version), "target_kind": kind, "target_key": key}),
        "is_variant": target.parent_id is not None,
        "slots": slots,
        "suffix": suffix,
        "channel": ctx["channel"],
        "locale": ctx["locale"],
        "link_url": reverse("web:link_add", kwargs=base) + suffix,
        "clear_url": reverse("web:link_clear", kwargs=base) + suffix,
        "picker_url": reverse("web:link_picker", kwargs=base) + suffix,
        "refresh_url": reverse("web:media", kwargs=base) + suffix,
        "roles": roles,
        "can_add": request.user.has_perm("linking.add_link"),
        "can_change": request.user.has_perm("linking.change_link"),
        "can_delete": request.user.has_perm("linking.delete_link"),
    }


def _section(request, target, message: str = "", *, stale: bool = False):
    ctx = channel_context(request)
    if not is_htmx(request):
        if stale:
            # The product (model) page shows its messages above the current state.
            messages.error(request, _stale_message(target))
        kind, key = _kind_key(target)
        url = reverse("web:product" if kind == "product" else "web:model", args=[key])
        query = urlencode({k: ctx[k] for k in ("channel", "locale") if ctx.get(k)})
        return redirect(f"{url}?{query}#media")
    media = media_context(request, target, ctx)
    if stale:
        media["stale"] = _stale_message(target)
        response = render(request, "web/linking/_media.html", {"media": media}, status=409)
        return announce(response, media["stale"])
    response = render(request, "web/linking/_media.html", {"media": media})
    return announce(response, message) if message else response


def _stale_message(target) -> str:
    if isinstance(target, Product):
        return _(
            "This product's media changed since you opened the page — here is the current "
            "state; nothing was changed."
        )
    return _(
        "This product model's media changed since you opened the page — here is the current "
        "state; nothing was changed."
    )


def _posted_target(request) -> Product | ProductModel | None:
    """The page's product or model as its forms name it (to show it again when the link a
    form acted on is gone); None when the form does not name one."""
    kind, key = request.POST.get("target_kind"), request.POST.get("target_key")
    if kind not in ("product", "model") or not key:
        return None
    try:
        return _target(kind, key)
    except NotFound:
        return None


@page("linking.view_link")
def media(request, kind: str, key: str):
    return _section(request, _target(kind, key))


@page("linking.add_link", methods=("POST",))
def link_add(request, kind: str, key: str):
    target = _target(kind, key)
    ctx = channel_context(request)
    role = request.POST.get("role") or ""
    scope = request.POST.get("scope") or ""
    try:
        asset_id = int(request.POST.get("asset_id") or "")
    except ValueError:
        raise InvalidInput(_("choose an asset to link"), details={"field": "asset_id"}) from None
    try:
        link = linking.link(
            target,
            asset_id,
            role,
            locale=ctx["locale"] if scope in ("locale", "both") else "",
            channel=ctx["channel"] if scope in ("channel", "both") else None,
            user=request.user,
            expected_version=posted_version(request.POST.get("version")),
        )
    except StaleWrite:
        return _section(request, target, stale=True)
    return _section(
        request, target, _("Linked as %(role)s #%(n)s") % {"role": role, "n": link.position}
    )


class _Gone(Exception):
    """The link a form acted on was removed since its page was rendered."""

    def __init__(self, target):
        self.target = target


def _link(request, link_id: int) -> Link:
    found = Link.objects.select_related("product", "product_model__family_variant").filter(
        pk=link_id
    )
    link = found.first()
    if link is None:
        # Removed meanwhile (by someone else, or in another tab): when the form names its
        # page, that page is stale — show it as it is now rather than a bare "not found".
        target = _posted_target(request)
        if target is not None:
            raise _Gone(target)
        raise NotFound(_("no link %(id)s") % {"id": link_id}, details={"link_id": link_id})
    return link


def _owner(link: Link):
    return link.product if link.product_id else link.product_model


@page("linking.change_link", methods=("POST",))
def link_move(request, link_id: int):
    try:
        link = _link(request, link_id)
    except _Gone as gone:
        return _section(request, gone.target, stale=True)
    try:
        position = int(request.POST.get("position") or "")
    except ValueError:
        raise InvalidInput(_("give the new position"), details={"field": "position"}) from None
    try:
        linking.move(
            link_id,
            position,
            user=request.user,
            expected_version=posted_version(request.POST.get("version")),
        )
    except StaleWrite:
        return _section(request, _owner(link), stale=True)
    return _section(request, _owner(link), _("Moved to position %(n)s") % {"n": position})


@page("linking.delete_link", methods=("POST",))
def link_remove(request, link_id: int):
    try:
        link = _link(request, link_id)
    except _Gone as gone:
        return _section(request, gone.target, stale=True)
    owner = _owner(link)
    try:
        linking.unlink(
            link_id, user=request.user, expected_version=posted_version(request.POST.get("version"))
        )
    except StaleWrite:
        return _section(request, owner, stale=True)
    return _section(request, owner, _("Link removed"))


@page("linking.delete_link", methods=("POST",))
def link_clear(request, kind: str, key: str):
    """Remove this variant's own links of a role, so the model's links show again."""
    target = _target(kind, key)
    role = request.POST.get("role") or ""
    owner = {"product": target} if isinstance(target, Product) else {"product_model": target}
    version = posted_version(request.POST.get("version"))
    try:
        # One removal per link, each based on the version the one before answered: the first
        # checks the page's version, and a refusal anywhere undoes the removals before it.
        with transaction.atomic():
            for link_id in Link.objects.filter(**owner, role=role).values_list("pk", flat=True):
                version = linking.unlink(link_id, user=request.user, expected_version=version)
    except StaleWrite:
        return _section(request, target, stale=True)
    return _section(request, target, _("%(role)s: the model's files apply again") % {"role": role})


@page("assets.view_asset")
def link_picker(request, kind: str, key: str):
    """Assets to pick or drag into a role slot (newest first, archived ones left out)."""
    require(request.user, "linking.view_link")
    q = (request.GET.get("q") or "").strip()
    qs = (
        browse.filter_assets(user=request.user, q=q or None)
        .exclude(status=Asset.Status.ARCHIVED)
        .select_related("current_version")
        .order_by("-id")
    )
    assets = list(qs[:PICKER_SIZE])
    kept = urlencode({k: request.GET[k] for k in ("channel", "locale") if request.GET.get(k)})
    context_query = f"?{kept}" if kept else ""
    return render(
        request,
        "web/linking/_picker.html",
        {
            "assets": assets,
            "previews": preview_states(assets) if assets else {},
            "q": q,
            "link_url": reverse("web:link_add", kwargs={"kind": kind, "key": key}) + context_query,
        },
    )
