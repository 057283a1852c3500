"""Assets: the library (thumbnails, filters with counts, saved filters, drag-and-drop upload
through the assets API with per-file progress and duplicate prompts) and the asset page
(preview, metadata with alt text per locale, rights, approval with comments, versions with
restore, renditions per channel preset with their compliance, where-used, history)."""

import datetime
from pathlib import Path

from django.contrib import messages
from django.db.models import Count
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from folio.accounts.services import require
from folio.assets import browse, editing, previews, services, workflow
from folio.assets.api_manage import asset_detail as detail_of
from folio.assets.models import Asset, AssetChange, CustomField
from folio.catalog.models import Channel, Locale
from folio.errors import InvalidInput, StaleWrite
from folio.linking import services as linking
from folio.renditions import cache
from folio.renditions import presets as preset_service
from folio.renditions.models import Rendition
from folio.search import facets as facet_counts
from folio.web.models import SavedFilter
from folio.web.templatetags.folio_web import STATUS_LABELS
from folio.web.views.base import (
    announce,
    field_errors,
    int_param,
    is_htmx,
    page,
    query_without,
    toggled,
)

PAGE_SIZE = 48
EXPIRY_CHOICES = (7, 30, 90)


# --- the library ---------------------------------------------------------------------------


def _filters(params) -> dict:
    expires = params.get("expires")
    return {
        "q": (params.get("q") or "").strip() or None,
        "type": [x for x in params.getlist("type") if x],
        "kind": [x for x in params.getlist("kind") if x],
        "tags": [x for x in params.getlist("tag") if x],
        "collections": [x for x in params.getlist("collection") if x],
        "status": [x for x in params.getlist("status") if x],
        "expires_within_days": int(expires) if expires and expires.isdigit() else None,
        "expired": True if params.get("expired") == "1" else None,
        "orientation": params.get("orientation") or None,
    }


def _facets(qs, params, user) -> tuple[dict, int]:
    total = qs.count()
    matching = (
        Asset.objects.filter(pk__in=qs.order_by("pk").values("pk")[: facet_counts.FACET_LIMIT])
        if total > facet_counts.FACET_LIMIT
        else qs
    )
    collections = browse.visible_collections(user) if browse.is_restricted(user) else None
    out = {}
    for name, param in (
        ("status", "status"),
        ("kind", "kind"),
        ("collections", "collection"),
        ("tags", "tag"),
    ):
        chosen = params.getlist(param)
        out[name] = [
            {
                "value": row["value"],
                "label": (STATUS_LABELS.get(row["value"]) if name == "status" else None)
                or str(row["value"]).replace("_", " "),
                "count": row["count"],
                "selected": row["value"] in chosen,
                "query": toggled(params, param, row["value"]),
            }
            for row in facet_counts.count(name, matching, collections=collections)
        ]
    chosen = params.getlist("type")
    out["type"] = [
        {
            "value": row["type"],
            "count": row["n"],
            "selected": row["type"] in chosen,
            "query": toggled(params, "type", row["type"]),
        }
        for row in matching.order_by().values("type").annotate(n=Count("pk")).order_by("-n")
    ]
    return out, total


@page("assets.view_asset")
def library(request):
    params = request.GET
    page_number = int_param(params.get("page"), 1)
    context = {"section": "assets", "page": page_number}
    try:
        qs = browse.filter_assets(user=request.user, **_filters(params))
        facets, total = _facets(qs, params, request.user)
        offset = (page_number - 1) * PAGE_SIZE
        assets = list(
            qs.select_related("current_version").order_by("-id")[offset : offset + PAGE_SIZE + 1]
        )
    except InvalidInput as exc:
        context["filter_error"] = exc.message
        assets, facets, total = [], {}, 0
    has_next = len(assets) > PAGE_SIZE
    assets = assets[:PAGE_SIZE]
    context.update(
        assets=assets,
        previews=previews.preview_states(assets) if assets else {},
        facets=facets,
        total=total,
        has_next=has_next,
        has_previous=page_number > 1,
        next_query=query_without(params, "page") + f"&page={page_number + 1}",
        previous_query=query_without(params, "page") + f"&page={page_number - 1}",
        q=params.get("q") or "",
        expires=params.get("expires") or "",
        expired=params.get("expired") == "1",
        expiry_links=_expiry_links(params),
        kinds=Asset.Kind.values,
        collections=browse.visible_collections(request.user).order_by("name"),
        saved_filters=SavedFilter.objects.filter(user=request.user, area="assets"),
        current_query=query_without(params, "page"),
        chips=[
            {"label": f"{label}: {value}", "query": toggled(params, key, value)}
            for key, label in (
                ("q", _("search")),
                ("type", _("type")),
                ("kind", _("kind")),
                ("tag", _("tag")),
                ("collection", _("collection")),
                ("status", _("status")),
                ("expires", _("expires")),
                ("expired", _("expired")),
            )
            for value in params.getlist(key)
            if value
        ],
        max_upload=None,
    )
    response = render(request, "web/assets/library.html", context)
    if is_htmx(request):
        announce(response, ngettext("%(n)s file found", "%(n)s files found", total) % {"n": total})
    return response


def _expiry_links(params) -> list[dict]:
    base = query_without(params, "expires", "expired", "page")
    links = []
    for days in EXPIRY_CHOICES:
        selected = params.get("expires") == str(days)
        links.append(
            {
                "label": _("ending within %(n)s days") % {"n": days},
                "selected": selected,
                "query": base if selected else f"{base}&expires={days}",
            }
        )
    ended = params.get("expired") == "1"
    links.append(
        {"label": _("ended"), "selected": ended, "query": base if ended else f"{base}&expired=1"}
    )
    return links


# --- the asset page ------------------------------------------------------------------------


def _date(value) -> str:
    return value.date().isoformat() if isinstance(value, datetime.datetime) else ""


def _renditions(asset: Asset) -> list[dict]:
    """Per channel image slot whose preset fits the file: the rendition of the current file
    through that preset (status, size, compliance). Two queries."""
    version = asset.current_version
    if version is None or asset.type not in ("image", "video"):
        return []
    slots = [
        s
        for c in Channel.objects.prefetch_related("image_slots__preset").order_by("code")
        for s in c.image_slots.all()
        if s.preset.kind == asset.type
    ]
    hashes = {
        s.preset_id: preset_service.spec_hash(preset_service.effective_spec(s.preset, None))
        for s in slots
    }
    found = {
        r.spec_hash: r
        for r in Rendition.objects.filter(
            source_sha256=version.blob_id, spec_hash__in=set(hashes.values())
        )
    }
    out = []
    for s in slots:
        r = found.get(hashes[s.preset_id])
        compliance = (r.compliance or {}) if r else {}
        out.append(
            {
                "channel": s.channel.code,
                "role": s.role,
                "preset": s.preset.code,
                "status": r.status if r else "none",
                "width": r.width if r else None,
                "height": r.height if r else None,
                "format": r.format if r else "",
                "passed": compliance.get("passed"),
                "failed_checks": [c for c in compliance.get("checks", []) if not c.get("passed")],
                "needs_review": r.needs_review if r else False,
                "error": r.error if r else "",
            }
        )
    return out


def _locales() -> list[str]:
    """Locales some channel uses: the ones alt texts are written for."""
    return sorted(
        Locale.objects.filter(channels__isnull=False).distinct().values_list("code", flat=True)
    )


def asset_context(request, asset: Asset, *, post=None, errors=None) -> dict:
    detail = detail_of(asset, request.user)
    state = previews.preview_state(asset)
    version = asset.current_version
    locales = _locales()
    custom_fields = list(CustomField.objects.all())
    alt = detail["alt_text"]
    form = {
        "title": detail["title"],
        "description": detail["description"],
        "kind": detail["kind"],
        "tags": ", ".join(detail["tags"]),
        "collections": detail["collections"],
        "creator": detail["creator"],
        "copyright": detail["copyright"],
        "credit": detail["credit"],
        "licence": detail["rights"]["licence"],
        "territories": ", ".join(detail["rights"]["territories"]),
        "channels": detail["rights"]["channels"],
        "valid_from": _date(detail["rights"]["valid_from"]),
        "expires_at": _date(detail["rights"]["expires_at"]),
    }
    if post is not None:
        form.update({k: post.get(k, "") for k in form if k not in ("collections", "channels")})
        form["collections"] = post.getlist("collections")
        form["channels"] = post.getlist("channels")
    errors = errors or {}
    return {
        "section": "assets",
        "asset": asset,
        "detail": detail,
        "version": version,
        "preview": state,
        "form": form,
        "alt_texts": [
            {
                "locale": loc,
                "value": post.get(f"alt_text.{loc}", "") if post is not None else alt.get(loc, ""),
                "errors": errors.get(f"alt_text.{loc}", []),
            }
            for loc in locales
        ],
        "custom_fields": [
            {
                "field": f,
                "value": post.get(f"custom.{f.code}", "")
                if post is not None
                else (detail["custom"].get(f.code, "") or ""),
                "errors": errors.get(f"custom.{f.code}", []),
            }
            for f in custom_fields
        ],
        "errors": errors,
        "kinds": Asset.Kind.values,
        "all_collections": browse.visible_collections(request.user).order_by("name"),
        "all_channels": Channel.objects.order_by("code"),
        "versions": list(services.versions(asset.pk)),
        "renditions": _renditions(asset),
        "where_used": linking.where_used(asset.pk)
        if request.user.has_perm("linking.view_link")
        else None,
        "history": list(AssetChange.objects.filter(asset=asset).order_by("-id")[:20]),
        "can_edit": request.user.has_perm("assets.change_asset"),
        "can_submit": detail["status"] in ("draft", "rejected")
        and (
            request.user.has_perm("assets.change_asset")
            or (
                request.user.has_perm("assets.add_asset") and asset.created_by_id == request.user.pk
            )
        ),
        "can_render": request.user.has_perm("renditions.add_rendition"),
        "channel_rights": _channel_rights(asset),
    }


def _channel_rights(asset: Asset) -> list[dict]:
    from folio.assets.rights import is_publishable

    out = []
    for channel in Channel.objects.order_by("code"):
        ok, reasons = is_publishable(asset, channel=channel.code)
        out.append({"channel": channel.code, "publishable": ok, "reasons": reasons})
    return out


def _changes(asset_snapshot: dict, post, locales: list[str], custom_codes: list[str]) -> dict:
    """The metadata and rights fields the form changed (others are not sent at all)."""
    changes: dict = {}
    for name in ("title", "description", "kind", "creator", "copyright", "credit", "licence"):
        if name in post and post[name].strip() != (asset_snapshot.get(name) or "").strip():
            changes[name] = post[name]
    if "tags" in post:
        tags = [t.strip() for t in post["tags"].split(",") if t.strip()]
        if sorted(t.lower() for t in tags) != sorted(t.lower() for t in asset_snapshot["tags"]):
            changes["tags"] = tags
    if "territories" in post:
        codes = sorted({t.strip().upper() for t in post["territories"].split(",") if t.strip()})
        if codes != sorted(asset_snapshot["territories"]):
            changes["territories"] = codes
    for name in ("collections", "channels"):
        if f"present_{name}" in post:
            chosen = sorted(x for x in post.getlist(name) if x)
            if chosen != sorted(asset_snapshot[name]):
                changes[name] = chosen
    for name, end_of_day in (("valid_from", False), ("expires_at", True)):
        if name in post:
            day = post[name].strip()
            if day != (asset_snapshot.get(name) or "")[:10]:
                # Rights given by day run to the end of it, as dates read from files do.
                changes[name] = (f"{day}T23:59:59" if end_of_day else day) if day else None
    alt = {
        loc: post.get(f"alt_text.{loc}", "").strip()
        for loc in locales
        if f"alt_text.{loc}" in post
        and post.get(f"alt_text.{loc}", "").strip() != (asset_snapshot["alt_text"].get(loc) or "")
    }
    if alt:
        changes["alt_text"] = {loc: text or None for loc, text in alt.items()}
    custom = {
        code: post.get(f"custom.{code}", "").strip()
        for code in custom_codes
        if f"custom.{code}" in post
        and post.get(f"custom.{code}", "").strip()
        != str(asset_snapshot["custom"].get(code, "") or "")
    }
    if custom:
        changes["custom"] = custom
    return changes


@page("assets.view_asset", methods=("GET", "POST"))
def asset_detail(request, asset_id: int):
    asset = browse.get_asset(asset_id, request.user)
    if request.method == "GET":
        return render(request, "web/assets/detail.html", asset_context(request, asset))
    require(request.user, "assets.change_asset")
    snapshot = editing.asset_snapshot(asset)
    changes = _changes(
        snapshot,
        request.POST,
        _locales(),
        list(CustomField.objects.values_list("code", flat=True)),
    )
    back = reverse("web:asset", args=[asset_id])
    if not changes:
        messages.info(request, _("Nothing changed."))
        return redirect(back)
    try:
        editing.update_asset(
            asset_id,
            changes,
            expected_version=int_param(request.POST.get("version"), asset.version),
            user=request.user,
        )
    except StaleWrite as exc:
        messages.error(request, exc.message)
        context = asset_context(request, asset, post=request.POST)
        context["stale"] = True
        return render(request, "web/assets/detail.html", context, status=409)
    except InvalidInput as exc:
        messages.error(request, exc.message)
        context = asset_context(request, asset, post=request.POST, errors=field_errors(exc.details))
        return render(request, "web/assets/detail.html", context, status=422)
    messages.success(request, _("Saved: %(fields)s.") % {"fields": ", ".join(sorted(changes))})
    return redirect(back)


@page("assets.view_asset")
def preview_panel(request, asset_id: int):
    """The preview alone; it polls itself while the preview is being made."""
    asset = browse.get_asset(asset_id, request.user)
    return render(
        request,
        "web/assets/_preview.html",
        {
            "asset": asset,
            "version": asset.current_version,
            "preview": previews.preview_state(asset),
        },
    )


@page("assets.view_asset", methods=("POST",))
def decide(request, asset_id: int):
    """Submit for review, approve or reject (with a comment), archive or unarchive."""
    action = request.POST.get("action") or ""
    comment = (request.POST.get("comment") or "").strip()
    user = request.user
    if action == "submit":
        workflow.submit_for_review(asset_id, user)
        done = _("Submitted for review.")
    elif action == "approve":
        require(user, "assets.approve_asset")
        asset = workflow.decide(asset_id, approve=True, comment=comment, user=user)
        done = _("Approved.") if asset.status == Asset.Status.APPROVED else _("Step approved.")
    elif action == "reject":
        require(user, "assets.approve_asset")
        if not comment:
            raise InvalidInput(_("say why the asset is rejected"), details={"field": "comment"})
        workflow.decide(asset_id, approve=False, comment=comment, user=user)
        done = _("Rejected.")
    elif action == "archive":
        require(user, "assets.change_asset")
        workflow.archive(asset_id, user)
        done = _("Archived.")
    elif action == "unarchive":
        require(user, "assets.change_asset")
        workflow.unarchive(asset_id, user)
        done = _("Brought back from the archive.")
    else:
        raise InvalidInput(_("unknown action %(a)r") % {"a": action}, details={"field": "action"})
    messages.success(request, done)
    return redirect(reverse("web:asset", args=[asset_id]) + "#approval")


def _source(upload):
    # Django spools big uploads to disk: hand the services that file instead of a copy.
    if hasattr(upload, "temporary_file_path"):
        return Path(upload.temporary_file_path())
    return upload


@page("assets.change_asset", methods=("POST",))
def add_version(request, asset_id: int):
    upload = request.FILES.get("file")
    if upload is None:
        raise InvalidInput(_("choose the file of the new version"), details={"field": "file"})
    version = services.add_version(
        asset_id,
        _source(upload),
        filename=upload.name,
        expected_version=int_param(request.POST.get("version"), None)
        if request.POST.get("version")
        else None,
        comment=(request.POST.get("comment") or "").strip()[:500],
        user=request.user,
    )
    messages.success(request, _("Version %(n)s uploaded.") % {"n": version.number})
    return redirect(reverse("web:asset", args=[asset_id]) + "#versions")


@page("assets.change_asset", methods=("POST",))
def restore_version(request, asset_id: int, number: int):
    version = services.restore_version(asset_id, number, None, user=request.user)
    messages.success(
        request,
        _("Version %(old)s restored as version %(new)s.") % {"old": number, "new": version.number},
    )
    return redirect(reverse("web:asset", args=[asset_id]) + "#versions")


@page("renditions.add_rendition", methods=("POST",))
def renditions(request, asset_id: int):
    """Make the renditions every channel slot asks for (existing ones are reused)."""
    asset = browse.get_asset(asset_id, request.user)
    if asset.current_version is None:
        raise InvalidInput(_("asset %(id)s has no file") % {"id": asset_id})
    codes = sorted({r["preset"] for r in _renditions(asset)})
    if not codes:
        raise InvalidInput(_("no channel slot takes files of this type"))
    rows, _jobs = cache.ensure_renditions([asset.current_version], codes, user=request.user)
    messages.success(
        request,
        ngettext(
            "%(n)s rendition requested; it is made in the background.",
            "%(n)s renditions requested; they are made in the background.",
            len(rows),
        )
        % {"n": len(rows)},
    )
    return redirect(reverse("web:asset", args=[asset_id]) + "#renditions")
