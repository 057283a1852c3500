"""Media and integrations: what makes channel-ready media and who else hears of it —
rendition presets (with their market overrides), each channel's image slots, outgoing
webhooks with their deliveries, and the other DAMs registered to send assets.

Every write goes through the service function the API calls for it (folio.renditions.presets,
folio.publishing.webhooks, folio.assets.external), with the version the page showed: a stale
one is answered with 409 and the current state, a refused setting with 422 and the reason next
to its field. A button needs the permission the API requires for the same write, and every
POST is checked again. Secrets are shown once, on the answer to the write that made them, and
never rendered again.
"""

import json
import uuid

from django.contrib import messages
from django.db.models import Count
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from folio.accounts.services import require
from folio.assets import external
from folio.assets.models import ExternalSystem
from folio.catalog.models import Channel
from folio.errors import Conflict, FolioError, InvalidInput, NotFound, StaleWrite
from folio.jobs.services import visible_jobs
from folio.publishing import webhooks
from folio.publishing.events import EVENTS
from folio.publishing.models import Webhook, WebhookDelivery
from folio.renditions import presets
from folio.renditions.jobs import rerender_preset, start_rerender
from folio.renditions.models import ImageSlot, Preset
from folio.web import nav
from folio.web.views.base import (
    done,
    field_errors,
    page,
    posted_version,
    refused,
    whole_number,
)

nav.register(
    nav.NavEntry(
        "media_settings",
        gettext_lazy("Media and integrations"),
        "web:media_settings",
        "renditions.view_preset",
        52,
    )
)

SECTION = "media_settings"
MANAGE_EXTERNAL = "assets.manage_external_systems"  # as the API: only the admin role has it
DELIVERIES_SHOWN = 20


# --- shared -----------------------------------------------------------------------------------


def _context(request, area: str, **extra) -> dict:
    user = request.user
    return {
        "section": SECTION,
        "area": area,
        "errors": {},
        "posted": "",
        "can_see_webhooks": user.has_perm("publishing.view_webhook"),
        "can_see_external": user.has_perm(MANAGE_EXTERNAL),
        **extra,
    }


def _pretty(value) -> str:
    return json.dumps(value or {}, indent=2, ensure_ascii=False, sort_keys=True)


def _json_field(name: str, text: str):
    text = (text or "").strip()
    if not text:
        return {}
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        reason = _("not JSON: %(problem)s (line %(line)s, column %(column)s)") % {
            "problem": exc.msg,
            "line": exc.lineno,
            "column": exc.colno,
        }
        raise InvalidInput(f"{name}: {reason}", details={"field": name, "reason": reason}) from None


@page("renditions.view_preset")
def index(request):
    return redirect("web:media_presets")


# --- presets ----------------------------------------------------------------------------------


def _preset_errors(exc: FolioError) -> dict[str, list[str]]:
    """A preset's reasons by the form field they belong to: anything about an op or a spec
    field goes to the spec, a rule to the rules, a market's partial spec to the overrides."""
    details = exc.details if isinstance(exc.details, dict) else {}
    where = str(details.get("where") or "")
    field = str(details.get("field") or "")
    if where.startswith("market_overrides") or field in ("locale", "market_overrides"):
        key = "market_overrides"
    elif "rule" in details or field == "rules":
        key = "rules"
    elif "op" in details or where == "spec" or field in ("ops", "format", "spec"):
        key = "spec"
    elif field in ("code", "name", "kind", "filename_template", "description", "public"):
        key = field
    else:
        key = "spec" if field else ""
    reason = str(details.get("reason") or exc.message)
    return {key: [reason]} if key else {}


def _first_op(spec: dict, *names: str) -> dict:
    for op in spec.get("ops") or []:
        if isinstance(op, dict) and op.get("op") in names:
            return op
    return {}


def preset_summary(p: Preset) -> dict:
    """What the list shows of a preset: output format, size, background, its rules."""
    spec = p.spec or {}
    if p.kind == "video":
        sides = [spec.get("max_width"), spec.get("max_height")]
    else:
        resize = _first_op(spec, "resize")
        sides = [resize.get("width"), resize.get("height")]
    size = "×".join(str(s) if s else "…" for s in sides) if any(sides) else ""
    background = ""
    for name in ("flatten", "resize", "remove_background", "fill_ratio"):
        op = _first_op(spec, name)
        if "background" in op:
            background = op["background"] or _("transparent")
            break
    rules = [
        f"{k} {', '.join(map(str, v)) if isinstance(v, list) else v}"
        for k, v in sorted((p.rules or {}).items())
    ]
    return {
        "format": spec.get("format", ""),
        "quality": spec.get("quality"),
        "size": size,
        "background": background,
        "rules": rules,
        "markets": sorted((p.market_overrides or {}).keys()),
    }


def _slots_by_preset() -> dict[int, list[dict]]:
    """{preset id: [{channel, role}]} of every image slot: one query."""
    out: dict[int, list[dict]] = {}
    for preset_id, channel, role in ImageSlot.objects.order_by("channel__code", "role").values_list(
        "preset_id", "channel__code", "role"
    ):
        out.setdefault(preset_id, []).append({"channel": channel, "role": role})
    return out


@page("renditions.view_preset")
def preset_list(request):
    used = _slots_by_preset()
    rows = [
        {"preset": p, "summary": preset_summary(p), "slots": used.get(p.pk, [])}
        for p in Preset.objects.order_by("code")
    ]
    return render(
        request,
        "web/media_settings/presets.html",
        _context(
            request, "presets", rows=rows, can_add=request.user.has_perm("renditions.add_preset")
        ),
    )


def _preset_form(p: Preset | None = None) -> dict:
    if p is None:
        return {
            "code": "",
            "name": "",
            "description": "",
            "kind": "image",
            "spec": _pretty({"format": "jpeg", "quality": 85, "ops": [{"op": "autorotate"}]}),
            "rules": _pretty({}),
            "market_overrides": _pretty({}),
            "filename_template": "{sku}-{position}.{ext}",
            "public": False,
        }
    return {
        "code": p.code,
        "name": p.name,
        "description": p.description,
        "kind": p.kind,
        "spec": _pretty(p.spec),
        "rules": _pretty(p.rules),
        "market_overrides": _pretty(p.market_overrides),
        "filename_template": p.filename_template,
        "public": p.public,
    }


def _preset_form_from(post) -> dict:
    form = {
        name: post.get(name, "")
        for name in ("code", "name", "description", "kind", "spec", "rules", "market_overrides")
    }
    form["code"] = form["code"].strip()
    form["name"] = form["name"].strip()
    form["filename_template"] = (post.get("filename_template") or "").strip()
    form["public"] = "public" in post
    return form


def _preset_settings(form: dict) -> dict:
    return {
        "name": form["name"],
        "description": form["description"],
        "kind": form["kind"],
        "spec": _json_field("spec", form["spec"]),
        "rules": _json_field("rules", form["rules"]),
        "market_overrides": _json_field("market_overrides", form["market_overrides"]),
        "filename_template": form["filename_template"],
        "public": form["public"],
    }


def _preset_choices() -> dict:
    return {
        "kinds": presets.KINDS,
        "ops": list(presets.OPS),
        "image_fields": list(presets.IMAGE_SPEC),
        "video_fields": list(presets.VIDEO_SPEC),
        "rule_names": list(presets.RULES),
        "market_example": json.dumps({"de_DE": {"format": "png"}}),
    }


@page("renditions.view_preset", methods=("GET", "POST"))
def preset_create(request):
    require(request.user, "renditions.add_preset")
    context = _context(request, "presets")
    form = _preset_form()
    status = 200
    if request.method == "POST":
        form = _preset_form_from(request.POST)
        try:
            created = presets.create_preset(code=form["code"], **_preset_settings(form))
        except (InvalidInput, Conflict) as exc:
            errors = _preset_errors(exc)
            if isinstance(exc, Conflict):
                errors = {"code": [exc.message]}
            status = refused(context, exc, errors=errors)
        else:
            return done(
                request,
                _("Preset %(code)s created.") % {"code": created.code},
                reverse("web:media_preset", args=[created.code]),
            )
    context.update(form=form, **_preset_choices())
    return render(request, "web/media_settings/preset_create.html", context, status=status)


@page("renditions.view_preset", methods=("GET", "POST"))
def preset_detail(request, code: str):
    preset = presets.get_preset(code)
    context = _context(request, "presets")
    form = None
    status = 200
    version = preset.version
    job = _rerender_shown(request, preset)
    if request.method == "POST":
        action = request.POST.get("action") or "save"
        posted = posted_version(request.POST.get("version"))
        if action == "rerender":
            # Saving a changed spec starts this by itself; the button is for a run that
            # failed or was skipped (the worker was down, a source was unreadable then).
            require(request.user, "renditions.change_preset")
            job = start_rerender(preset, user=request.user)
            # to the page showing the job: reloading it must not start another run
            return done(
                request,
                _("Re-rendering preset %(code)s in the background.") % {"code": code},
                f"{reverse('web:media_preset', args=[code])}?job={job.pk}",
            )
        elif action == "delete":
            require(request.user, "renditions.delete_preset")
            try:
                presets.delete_preset(code, expected_version=posted)
            except Conflict as exc:
                status = refused(context, exc, "delete")
                preset = presets.get_preset(code)
                version = preset.version
            else:
                return done(
                    request,
                    _("Preset %(code)s deleted.") % {"code": code},
                    reverse("web:media_presets"),
                )
        else:
            require(request.user, "renditions.change_preset")
            form = _preset_form_from(request.POST)
            form["code"] = code
            try:
                presets.update_preset(code, expected_version=posted, **_preset_settings(form))
            except (InvalidInput, Conflict) as exc:
                status = refused(context, exc, "save", errors=_preset_errors(exc))
                preset = presets.get_preset(code)
                if context["stale"]:
                    form, version = None, preset.version  # the current state to start again
                else:
                    # A refused edit keeps the version it was made on: fixing the field and
                    # saving again must still notice a change made meanwhile.
                    version = posted if posted is not None else preset.version
            else:
                return done(
                    request,
                    _("Preset %(code)s saved.") % {"code": code},
                    reverse("web:media_preset", args=[code]),
                )
    context.update(
        preset=preset,
        version=version,
        summary=preset_summary(preset),
        slots=_slots_by_preset().get(preset.pk, []),
        form=form or _preset_form(preset),
        pretty={
            "spec": _pretty(preset.spec),
            "rules": _pretty(preset.rules),
            "market_overrides": _pretty(preset.market_overrides),
        },
        can_edit=request.user.has_perm("renditions.change_preset"),
        can_delete=request.user.has_perm("renditions.delete_preset"),
        job=job,
        **_preset_choices(),
    )
    return render(request, "web/media_settings/preset.html", context, status=status)


def _rerender_shown(request, preset: Preset):
    """The re-render job ?job= names, when it is this preset's and the user may see it (an
    address with another job shows the page without one)."""
    try:
        job_id = uuid.UUID(request.GET.get("job", ""))
    except ValueError:
        return None
    return (
        visible_jobs(request.user)
        .filter(pk=job_id, kind=rerender_preset.job_name, params__preset_id=preset.pk)
        .first()
    )


# --- image slots ------------------------------------------------------------------------------


@page("renditions.view_imageslot")
def slot_channels(request):
    channels = Channel.objects.annotate(slot_count=Count("image_slots")).order_by("code")
    required = dict(
        ImageSlot.objects.filter(required=True)
        .values("channel_id")
        .annotate(n=Count("id"))
        .values_list("channel_id", "n")
    )
    rows = [
        {"channel": c, "slots": c.slot_count, "required": required.get(c.pk, 0)} for c in channels
    ]
    return render(
        request, "web/media_settings/slot_channels.html", _context(request, "slots", rows=rows)
    )


def _slot_form(slot: ImageSlot | None = None) -> dict:
    if slot is None:
        return {
            "role": "",
            "preset": "",
            "max_count": "1",
            "required": False,
            "filename_template": "",
        }
    return {
        "role": slot.role,
        "preset": slot.preset.code,
        "max_count": str(slot.max_count),
        "required": slot.required,
        "filename_template": slot.filename_template,
    }


def _slot_form_from(post) -> dict:
    return {
        "role": (post.get("role") or "").strip(),
        "preset": post.get("preset") or "",
        "max_count": (post.get("max_count") or "").strip(),
        "required": "required" in post,
        "filename_template": (post.get("filename_template") or "").strip(),
    }


def _slot_data(form: dict) -> dict:
    return {
        "role": form["role"],
        "preset": form["preset"],
        "max_count": whole_number(form["max_count"], 1),
        "required": form["required"],
        "filename_template": form["filename_template"],
    }


SLOT_ACTIONS = {"add": "add_imageslot", "save": "change_imageslot", "delete": "delete_imageslot"}


@page("renditions.view_imageslot", methods=("GET", "POST"))
def channel_slots(request, code: str):
    channel = Channel.objects.filter(code=code).first()
    if channel is None:
        raise NotFound(_("No channel with code %(code)s.") % {"code": code})
    context = _context(request, "slots")
    status = 200
    add_form = _slot_form()
    posted_forms: dict[str, dict] = {}
    kept_versions: dict[str, int] = {}
    if request.method == "POST":
        action = request.POST.get("action") or "add"
        require(request.user, f"renditions.{SLOT_ACTIONS.get(action, 'add_imageslot')}")
        role = request.POST.get("slot") or ""
        version = posted_version(request.POST.get("version"))
        form = _slot_form_from(request.POST)
        try:
            if action == "delete":
                presets.delete_slot(code, role, expected_version=version)
                said = _("The %(role)s slot of %(channel)s was deleted.")
            elif action == "save":
                presets.update_slot(code, role, expected_version=version, **_slot_data(form))
                said = _("The %(role)s slot of %(channel)s was saved.")
                role = form["role"] or role
            else:
                role = presets.create_slot(code, **_slot_data(form)).role
                said = _("The %(role)s slot of %(channel)s was added.")
        except (InvalidInput, Conflict) as exc:
            errors = field_errors(exc.details, exc.message)
            if isinstance(exc, Conflict) and not isinstance(exc, StaleWrite):
                errors = {"role": [exc.message]}
            key = "add" if action == "add" else f"{action}:{role}"
            status = refused(context, exc, key, errors=errors)
            if action == "add":
                add_form = form
            elif not context["stale"] and action == "save":
                posted_forms[role] = form
                if version is not None:
                    kept_versions[role] = version
        else:
            return done(
                request,
                said % {"role": role, "channel": code},
                reverse("web:media_channel_slots", args=[code]),
            )
    slots = presets.list_slots(code)
    rows = [
        {
            "slot": s,
            "version": kept_versions.get(s.role, s.version),
            "form": posted_forms.get(s.role) or _slot_form(s),
            "errors": context["errors"]
            if context["posted"] in (f"save:{s.role}", f"delete:{s.role}")
            else {},
        }
        for s in slots
    ]
    context.update(
        channel=channel,
        rows=rows,
        add_form=add_form,
        add_errors=context["errors"] if context["posted"] == "add" else {},
        preset_codes=list(Preset.objects.order_by("code").values_list("code", flat=True)),
        can_add=request.user.has_perm("renditions.add_imageslot"),
        can_edit=request.user.has_perm("renditions.change_imageslot"),
        can_delete=request.user.has_perm("renditions.delete_imageslot"),
    )
    return render(request, "web/media_settings/channel_slots.html", context, status=status)


# --- webhooks ---------------------------------------------------------------------------------


def _event_choices() -> list[dict]:
    return [{"code": "*", "text": _("every event")}] + [
        {"code": code, "text": text} for code, text in EVENTS.items()
    ]


def _webhook_form_from(post) -> dict:
    return {
        "url": (post.get("url") or "").strip(),
        "description": post.get("description") or "",
        "events": post.getlist("events"),
        "active": "active" in post,
    }


def _webhook_form(hook: Webhook | None = None) -> dict:
    if hook is None:
        return {"url": "", "description": "", "events": [], "active": True}
    return {
        "url": hook.url,
        "description": hook.description,
        "events": list(hook.events or []),
        "active": hook.active,
    }


def _counts_by_webhook() -> dict[int, dict[str, int]]:
    """{webhook id: {status: n}} of every delivery: one grouped query."""
    out: dict[int, dict[str, int]] = {}
    for row in (
        WebhookDelivery.objects.values("webhook_id", "status").annotate(n=Count("id")).order_by()
    ):
        out.setdefault(row["webhook_id"], {})[row["status"]] = row["n"]
    return out


def _webhook_detail(
    request, hook: Webhook, context: dict, *, form=None, version=None, status=200, secret=""
):
    deliveries = list(webhooks.deliveries(hook.pk, user=request.user)[:DELIVERIES_SHOWN])
    context.update(
        hook=hook,
        version=hook.version if version is None else version,
        form=form or _webhook_form(hook),
        event_choices=_event_choices(),
        deliveries=deliveries,
        counts=webhooks.status_counts(hook),
        new_secret=secret,
        can_edit=request.user.has_perm("publishing.change_webhook"),
        can_delete=request.user.has_perm("publishing.delete_webhook"),
    )
    return render(request, "web/media_settings/webhook.html", context, status=status)


@page("publishing.view_webhook", methods=("GET", "POST"))
def webhook_list(request):
    context = _context(request, "webhooks")
    form = _webhook_form()
    status = 200
    if request.method == "POST":
        require(request.user, "publishing.add_webhook")
        form = _webhook_form_from(request.POST)
        data = dict(form)
        if request.POST.get("secret"):
            data["secret"] = request.POST["secret"]
        try:
            hook, secret = webhooks.create_webhook(data, user=request.user)
        except InvalidInput as exc:
            status = refused(context, exc, "create")
        else:
            # The secret is shown on this answer only: a redirect would have to keep it
            # somewhere (session, cookie) to show it on the next page.
            context["area"] = "webhooks"
            messages.success(request, _("Webhook %(id)s added.") % {"id": hook.pk})
            return _webhook_detail(request, hook, context, status=201, secret=secret)
    counts = _counts_by_webhook()
    rows = [
        {"hook": h, "counts": counts.get(h.pk, {})}
        for h in webhooks.list_webhooks(user=request.user)
    ]
    context.update(
        rows=rows,
        form=form,
        event_choices=_event_choices(),
        can_add=request.user.has_perm("publishing.add_webhook"),
    )
    return render(request, "web/media_settings/webhooks.html", context, status=status)


WEBHOOK_ACTIONS = {
    "save": "change_webhook",
    "rotate": "change_webhook",
    "ping": "change_webhook",
    "redeliver": "change_webhook",
    "delete": "delete_webhook",
}


@page("publishing.view_webhook", methods=("GET", "POST"))
def webhook_detail(request, webhook_id: int):
    hook = webhooks.get_webhook(webhook_id, user=request.user)
    context = _context(request, "webhooks")
    if request.method != "POST":
        return _webhook_detail(request, hook, context)
    action = request.POST.get("action") or "save"
    require(request.user, f"publishing.{WEBHOOK_ACTIONS.get(action, 'change_webhook')}")
    version = posted_version(request.POST.get("version"))
    url = reverse("web:media_webhook", args=[hook.pk])
    form = None
    try:
        if action == "delete":
            webhooks.delete_webhook(hook.pk, expected_version=version, user=request.user)
            return done(
                request,
                _("Webhook %(id)s deleted.") % {"id": hook.pk},
                reverse("web:media_webhooks"),
            )
        if action == "rotate":
            hook, secret = webhooks.rotate_secret(
                hook.pk, expected_version=version, user=request.user
            )
            messages.success(request, _("A new secret was made; the old one no longer signs."))
            return _webhook_detail(request, hook, context, secret=secret)
        if action == "ping":
            webhooks.ping(hook.pk, user=request.user)
            return done(request, _("A ping was sent; its delivery is listed below."), url)
        if action == "redeliver":
            delivery = whole_number(request.POST.get("delivery"), 0)
            if (
                not isinstance(delivery, int)
                or not WebhookDelivery.objects.filter(pk=delivery, webhook=hook).exists()
            ):
                raise NotFound(_("This webhook has no such delivery."))
            webhooks.redeliver(delivery, user=request.user)
            return done(request, _("The delivery is sent again."), url)
        form = _webhook_form_from(request.POST)
        webhooks.update_webhook(hook.pk, form, expected_version=version, user=request.user)
        return done(request, _("Webhook %(id)s saved.") % {"id": hook.pk}, url)
    except (InvalidInput, Conflict) as exc:
        status = refused(context, exc, action)
        hook = webhooks.get_webhook(hook.pk, user=request.user)
        if context["stale"]:
            form, version = None, None
        return _webhook_detail(request, hook, context, form=form, version=version, status=status)


# --- external DAMs ----------------------------------------------------------------------------


def _system_action(request, context: dict, action: str):
    """Rename, rotate the secret of or delete the system the form names; a response when it
    is done, else None with the refusal in `context` (and its status in context["status"])."""
    code = request.POST.get("system") or ""
    version = posted_version(request.POST.get("version"))
    context["posted_code"] = code
    try:
        if action == "rename":
            system = external.update_system(
                code, name=request.POST.get("name") or "", expected_version=version
            )
            return done(
                request,
                _("External DAM %(code)s renamed.") % {"code": system.code},
                reverse("web:media_external"),
            )
        if action == "rotate":
            system, secret = external.rotate_system_secret(code, expected_version=version)
            # Shown on this answer only, as at registration.
            messages.success(
                request,
                _("A new secret was made for %(code)s; the old one is refused from now on.")
                % {"code": system.code},
            )
            context["new_secret"] = secret
            return None
        if "confirm" not in request.POST:
            raise InvalidInput(
                _("Tick the box to confirm that %(code)s is to be removed.") % {"code": code},
                details={"field": "confirm"},
            )
        external.delete_system(code, expected_version=version)
        return done(
            request,
            _("External DAM %(code)s removed.") % {"code": code},
            reverse("web:media_external"),
        )
    except (InvalidInput, Conflict) as exc:
        context["status"] = refused(context, exc, action)
        return None


@page(MANAGE_EXTERNAL, methods=("GET", "POST"))
def external_systems(request):
    context = _context(request, "external")
    form = {"code": "", "name": ""}
    status = 200
    action = request.POST.get("action") or "create"
    if request.method == "POST" and action in ("rename", "rotate", "delete"):
        response = _system_action(request, context, action)
        if response is not None:
            return response
        status = context.pop("status", 200)
    elif request.method == "POST":
        form = {
            "code": (request.POST.get("code") or "").strip(),
            "name": (request.POST.get("name") or "").strip(),
        }
        try:
            system, secret = external.register_system(
                form["code"], form["name"], request.POST.get("secret") or None
            )
        except (InvalidInput, Conflict) as exc:
            errors = field_errors(exc.details, exc.message)
            if isinstance(exc, Conflict):
                errors = {"code": [exc.message]}
            status = refused(context, exc, "create", errors=errors)
        else:
            context.update(created=system, new_secret=secret)
            form = {"code": "", "name": ""}
            status = 201
    context.update(systems=ExternalSystem.objects.order_by("code"), form=form)
    return render(request, "web/media_settings/external.html", context, status=status)
