"""Publishing pages: the channels with their feeds, a feed (its settings and its channel's,
what each field is mapped from, an edit form, its schedule with a form to set, change or
remove it, the Dry run and Publish buttons, its recent publications) and a publication
(progress while it runs; then counts, files, the diff and the report of skipped products with
a link to fix each).

Everything goes through the publishing services the API and the CLI call (feeds.update_feed
with the version the editor saw, events.schedule_feed / unschedule_feed as `folio
schedule-feed` and the schedule API do, runs.start_publication, history.*), so the report, its
fix hints and a bad schedule's message read the same everywhere.
"""

import json
from collections import defaultdict

from django.conf import settings
from django.contrib import messages
from django.db.models import Max
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from folio.accounts.services import require
from folio.catalog.models import Channel
from folio.errors import Conflict, InvalidInput, NotFound
from folio.jobs.models import Schedule
from folio.publishing import destinations, events, feeds, history
from folio.publishing.models import Feed, Publication
from folio.web import nav
from folio.web.views.base import field_errors, page, posted_version

nav.register(
    nav.NavEntry(
        "publishing", gettext_lazy("Publishing"), "web:publishing", "publishing.view_feed", 50
    )
)

FEED_HISTORY = 10
SKIPPED_PER_REASON = 200  # a report longer than that is read through the API or the CLI
DIFF_SHOWN = 500
JSON_FIELDS = ("mapping", "options", "destination")
COUNT_LABELS = (
    ("selected", gettext_lazy("Selected")),
    ("published", gettext_lazy("Published")),
    ("added", gettext_lazy("Added")),
    ("updated", gettext_lazy("Updated")),
    ("unchanged", gettext_lazy("Unchanged")),
    ("removed", gettext_lazy("Removed")),
    ("skipped", gettext_lazy("Skipped")),
)


# --- channels -----------------------------------------------------------------------------------


def _last_publications(feed_ids) -> dict[int, Publication]:
    latest = (
        Publication.objects.filter(feed_id__in=feed_ids)
        .values("feed_id")
        .annotate(last=Max("id"))
        .values_list("last", flat=True)
    )
    return {p.feed_id: p for p in Publication.objects.filter(id__in=list(latest))}


def _schedules(feed_list) -> dict[int, dict]:
    from folio.publishing.runs import publish_feed

    wanted = {(f.channel.code, f.code): f.pk for f in feed_list}
    out: dict[int, dict] = {}
    # One query for every feed's schedule (events.feed_schedule asks per feed).
    for schedule in Schedule.objects.filter(job=publish_feed.job_name).order_by("pk"):
        params = schedule.params or {}
        feed_id = wanted.get((params.get("channel"), params.get("feed")))
        if feed_id is not None and feed_id not in out:
            out[feed_id] = events.schedule_data(schedule)
    return out


def destination_text(feed: Feed) -> str:
    """Where the files go, as one line people can read."""
    d = destinations.effective_config(feed)
    kind = d.get("kind", "folder")
    if kind == "s3":
        text = f"s3://{d.get('bucket', '')}/{d.get('prefix', '')}".rstrip("/")
    elif kind == "http":
        text = f"POST {d.get('url', '')}"
    else:
        default = settings.PUBLICATIONS_DIR / feed.channel.code / feed.code
        text = str(d.get("path") or default)
    if d.get("public_base_url"):
        text += f" ({d['public_base_url']})"
    if feed.connector:
        text += " · " + _("pushed with the %(connector)s connector") % {
            "connector": feed.get_connector_display()
        }
    return text


def schedule_text(schedule: dict | None) -> str:
    if not schedule:
        return ""
    if schedule["cron"]:
        when = _("cron %(cron)s (UTC)") % {"cron": schedule["cron"]}
    else:
        seconds = schedule["every_seconds"] or 0
        if seconds % 86400 == 0:
            when = _("every %(n)s d") % {"n": seconds // 86400}
        elif seconds % 3600 == 0:
            when = _("every %(n)s h") % {"n": seconds // 3600}
        elif seconds % 60 == 0:
            when = _("every %(n)s min") % {"n": seconds // 60}
        else:
            when = _("every %(n)s s") % {"n": seconds}
    text = f"{when}, {schedule['mode']}"
    if not schedule["enabled"]:
        text += " " + _("(paused)")
    return text


@page("publishing.view_feed")
def channels(request):
    feed_list = feeds.list_feeds()
    last = _last_publications([f.pk for f in feed_list])
    schedules = _schedules(feed_list)
    by_channel: dict[int, list[dict]] = defaultdict(list)
    for feed in feed_list:
        by_channel[feed.channel_id].append(
            {
                "feed": feed,
                "destination": destination_text(feed),
                "last": last.get(feed.pk),
                "schedule": schedule_text(schedules.get(feed.pk)),
            }
        )
    rows = [
        {"channel": c, "feeds": by_channel.get(c.pk, [])} for c in Channel.objects.order_by("code")
    ]
    return render(request, "web/publishing/channels.html", {"section": "publishing", "rows": rows})


# --- one feed -------------------------------------------------------------------------------------


def _pretty(value) -> str:
    return json.dumps(value or {}, indent=2, ensure_ascii=False)


def _form_of(feed: Feed) -> dict:
    return {
        "name": feed.name,
        "locales": list(feed.locales or []),
        "currency": feed.currency,
        **{k: _pretty(getattr(feed, k)) for k in JSON_FIELDS},
        "version": feed.version,
    }


def _patch_from(request, feed: Feed) -> tuple[dict, dict]:
    """The form as a patch of feed settings, and the form as typed (to show it again)."""
    post = request.POST
    form = {
        "name": post.get("name", ""),
        "locales": post.getlist("locales"),
        "currency": post.get("currency", ""),
        **{k: post.get(k, "") for k in JSON_FIELDS},
        "version": post.get("version", ""),
    }
    patch: dict = {"name": form["name"].strip(), "locales": form["locales"]}
    patch["currency"] = form["currency"]
    for key in JSON_FIELDS:
        text = form[key].strip()
        try:
            patch[key] = json.loads(text) if text else {}
        except json.JSONDecodeError as exc:
            raise InvalidInput(
                f"feed {feed.channel.code}/{feed.code}: {key}: not JSON ({exc.msg} at line "
                f"{exc.lineno}, column {exc.colno})",
                details={"field": key, "reason": f"not JSON: {exc.msg} (line {exc.lineno})"},
            ) from None
    # Unchanged settings are left out: the audit entry and a concurrent editor see only
    # what this edit changed.
    current = feeds.snapshot(feed)
    return {k: v for k, v in patch.items() if current.get(k) != v}, form


def _by_setting(errors: dict[str, list[str]]) -> dict[str, list[str]]:
    """ "destination.kind" and "mapping.title" are shown at the destination and mapping
    fields; a message about no field in particular goes above the form only."""
    out: dict[str, list[str]] = {}
    for where, reasons in errors.items():
        setting = where.split(".")[0].split("[")[0]
        if setting:
            out.setdefault(setting, []).extend(
                f"{where}: {r}" if where != setting else r for r in reasons
            )
    return out


@page("publishing.view_feed", methods=("GET", "POST"))
def feed_page(request, channel: str, feed: str):
    found = feeds.get_feed(channel, feed)
    context: dict = {"errors": {}, "error": None}
    status = 200
    form = _form_of(found)
    if request.method == "POST":
        # Refused before anything is read from the form, whatever the form holds.
        require(request.user, "publishing.change_feed")
        try:
            patch, form = _patch_from(request, found)
            if patch:
                found = feeds.update_feed(
                    channel,
                    feed,
                    patch,
                    expected_version=posted_version(request.POST.get("version")),
                    user=request.user,
                )
        except (InvalidInput, Conflict) as exc:
            status = exc.status
            context["error"] = exc.message
            context["errors"] = _by_setting(field_errors(exc.details, exc.message))
            context["stale"] = exc.code == "stale_write"
            found = feeds.get_feed(channel, feed)
            if context["stale"]:
                # The form keeps what was typed; the version becomes the current one, so a
                # second save (after reading the current settings above) overwrites knowingly.
                form["version"] = found.version
        else:
            if patch:
                messages.success(
                    request,
                    _("Saved %(what)s.") % {"what": ", ".join(sorted(patch))},
                )
            else:
                messages.info(request, _("Nothing changed."))
            return redirect(reverse("web:feed", args=[channel, feed]))
    context["open_form"] = bool(context["error"])
    context["form"] = form
    return _feed_page(request, found, context, status=status)


def _feed_page(request, found: Feed, context: dict, *, status: int = 200):
    """The feed page; `context` carries a form's state after a refused save."""
    can_edit = request.user.has_perm("publishing.change_feed")
    recent = list(
        found.publications.select_related("created_by", "job").order_by("-id")[:FEED_HISTORY]
    )
    schedule = events.feed_schedule(found)
    schedule_data = events.schedule_data(schedule) if schedule else None
    page_context = {
        "section": "publishing",
        "errors": {},
        "error": None,
        "form": _form_of(found),
        "open_form": False,
        "schedule_errors": {},
        "schedule_error": None,
        "schedule_form": _schedule_form(schedule_data),
        **context,
    }
    page_context.update(
        feed=found,
        settings=feeds.snapshot(found),
        effective_locales=feeds.effective_locales(found),
        effective_currency=feeds.effective_currency(found),
        channel_locales=feeds.channel_locales(found.channel),
        channel_currencies=feeds.channel_currencies(found.channel),
        channel=found.channel,
        category_tree=found.channel.category_tree,
        mapping=[{**row, "text": rule_text(row["rule"])} for row in feeds.effective_mapping(found)],
        destination=destination_text(found),
        schedule=schedule_text(schedule_data),
        schedule_data=schedule_data,
        schedule_units=SCHEDULE_UNITS,
        schedule_modes=SCHEDULE_MODES,
        can_edit=can_edit,
        can_run=request.user.has_perm("publishing.run_publication"),
        publications=recent,
        pretty={k: _pretty(getattr(found, k)) for k in (*JSON_FIELDS, "selection")},
    )
    return render(request, "web/publishing/feed.html", page_context, status=status)


def rule_text(rule: dict | None) -> str:
    """A mapping rule as people read it: where the value comes from, then its limits."""
    if not rule:
        return ""
    if "attribute" in rule:
        source = rule["attribute"]
        source = (
            _("the product's %(what)s") % {"what": source[1:]}
            if source.startswith("@")
            else _("attribute %(code)s") % {"code": source}
        )
    elif "template" in rule:
        source = _("template “%(t)s”") % {"t": rule["template"]}
    elif "constant" in rule:
        source = _("always “%(v)s”") % {"v": rule["constant"]}
    else:
        source = json.dumps(rule, ensure_ascii=False)
    where = [x for x in (rule.get("locale"), rule.get("scope")) if x]
    if where:
        source += f" ({', '.join(where)})"
    if rule.get("max_length"):
        source += " · " + (
            _("cut to %(n)s characters") if rule.get("truncate") else _("at most %(n)s characters")
        ) % {"n": rule["max_length"]}
    return source


# --- a feed's schedule ----------------------------------------------------------------------------

# The units the form offers for "every N …", largest first (the form shows a schedule in the
# largest that divides it).
SCHEDULE_UNITS = (
    (86400, gettext_lazy("days")),
    (3600, gettext_lazy("hours")),
    (60, gettext_lazy("minutes")),
    (1, gettext_lazy("seconds")),
)
SCHEDULE_MODES = (
    ("incremental", gettext_lazy("incremental (what changed)")),
    ("full", gettext_lazy("full (every product again)")),
)
# A form field for each field the scheduling service names in its errors.
SCHEDULE_FIELDS = {"every_seconds": "every", "cron": "cron", "mode": "mode"}


def _schedule_form(data: dict | None) -> dict:
    """The schedule form as the page shows it. `version` 0 stands for "not scheduled when
    read": a schedule someone created meanwhile is then not replaced unseen."""
    if data is None:
        return {
            "timing": "every",
            "every": "1",
            "unit": "86400",
            "cron": "",
            "mode": "incremental",
            "enabled": True,
            "version": 0,
        }
    seconds = data["every_seconds"] or 86400
    unit = next(u for u, _label in SCHEDULE_UNITS if seconds % u == 0)
    return {
        "timing": "cron" if data["cron"] else "every",
        "every": str(seconds // unit) if data["every_seconds"] else "1",
        "unit": str(unit),
        "cron": data["cron"],
        "mode": data["mode"],
        "enabled": data["enabled"],
        "version": data["version"],
    }


def _schedule_timing(feed: Feed, form: dict) -> tuple[int | None, str | None]:
    """(every_seconds, cron) from the form; the service checks the rest (minimum interval,
    the cron expression, the mode) and names what is wrong the same way for the CLI/API."""
    subject = f"schedule of feed {feed.channel.code}/{feed.code}"
    if form["timing"] == "cron":
        if not form["cron"].strip():
            raise InvalidInput(
                _('%(s)s: cron: write a 5-field cron expression (UTC), e.g. "0 3 * * *"')
                % {"s": subject},
                details={"field": "cron"},
            )
        return None, form["cron"]
    raw = form["every"].strip()
    units = {str(u) for u, _label in SCHEDULE_UNITS}
    if not raw.isdigit() or int(raw) < 1 or form["unit"] not in units:
        raise InvalidInput(
            _("%(s)s: every: %(v)r is not a whole number of minutes, hours or days")
            % {"s": subject, "v": raw},
            details={"field": "every_seconds", "value": raw},
        )
    return int(raw) * int(form["unit"]), None


@page("publishing.change_feed", methods=("POST",))
def feed_schedule(request, channel: str, feed: str):
    """Set, change or remove the feed's schedule, through the service `folio schedule-feed`
    and the schedule API call, with the version the page showed."""
    found = feeds.get_feed(channel, feed)
    post = request.POST
    form = {
        "timing": "cron" if post.get("timing") == "cron" else "every",
        "every": post.get("every", ""),
        "unit": post.get("unit", ""),
        "cron": post.get("cron", ""),
        "mode": post.get("mode", ""),
        "enabled": post.get("enabled") == "on",
        "version": post.get("version", ""),
    }
    version = posted_version(form["version"])
    try:
        if post.get("action") == "remove":
            removed = events.unschedule_feed(found, user=request.user, expected_version=version)
            if removed:
                messages.success(request, _("Schedule removed: published on request only."))
            else:
                messages.info(request, _("The feed was not scheduled."))
        else:
            every_seconds, cron = _schedule_timing(found, form)
            schedule = events.schedule_feed(
                found,
                every_seconds=every_seconds,
                cron=cron,
                mode=form["mode"],
                enabled=form["enabled"],
                expected_version=version,
                user=request.user,
            )
            messages.success(
                request,
                _("Schedule saved: %(when)s.")
                % {"when": schedule_text(events.schedule_data(schedule))},
            )
    except (InvalidInput, Conflict) as exc:
        stale = exc.code == "stale_write"
        errors: dict[str, list[str]] = {}
        for where, reasons in field_errors(exc.details, exc.message).items():
            name = SCHEDULE_FIELDS.get(where, "cron" if form["timing"] == "cron" else "every")
            errors.setdefault(name, []).extend(reasons)
        if stale:
            # What was typed stays; the version becomes the current one (shown above the
            # form), so saving again replaces it knowingly.
            current = events.feed_schedule(found)
            form["version"] = current.version if current else 0
        return _feed_page(
            request,
            found,
            {
                "schedule_form": form,
                "schedule_error": exc.message,
                "schedule_errors": {} if stale else errors,
                "schedule_stale": stale,
            },
            status=exc.status,
        )
    return redirect(reverse("web:feed", args=[channel, feed]) + "#schedule")


@page("publishing.run_publication", methods=("POST",))
def feed_run(request, channel: str, feed: str):
    from folio.publishing import runs

    found = feeds.get_feed(channel, feed)
    dry_run = request.POST.get("action") != "publish"
    mode = request.POST.get("mode") or Publication.Mode.INCREMENTAL
    try:
        publication = runs.start_publication(found, mode=mode, dry_run=dry_run, user=request.user)
    except (InvalidInput, Conflict) as exc:
        # A disabled feed or a run still going: said on the feed page, where the button was.
        messages.error(request, exc.message)
        return redirect(reverse("web:feed", args=[channel, feed]))
    messages.success(
        request,
        (_("Dry run %(id)s started.") if dry_run else _("Publication %(id)s started."))
        % {"id": publication.pk},
    )
    return redirect(reverse("web:publication", args=[publication.pk]))


# --- one publication ------------------------------------------------------------------------------


def fix_link(fix: dict, *, channel: str, locale: str, feed_url: str) -> str | None:
    """Where a person fixes what a skip reason names: the product page at the attribute, the
    product's media slot for a role, the asset page for an image, the feed for its mapping."""
    target = fix.get("target")
    sku = fix.get("sku")

    def product(anchor: str = "") -> str:
        query = urlencode({k: v for k, v in (("channel", channel), ("locale", locale)) if v})
        url = reverse("web:product", args=[sku]) + (f"?{query}" if query else "")
        return url + (f"#{anchor}" if anchor else "")

    if target == "attribute" and sku:
        return product(f"attr-{fix['attribute']}")
    if target == "role" and sku:
        return product(f"media-{fix['role']}" if fix.get("role") else "media")
    if target == "asset" and fix.get("asset_id"):
        return reverse("web:asset", args=[fix["asset_id"]])
    if target in ("product", "category") and sku:
        return product()
    if target in ("mapping", "field"):
        return feed_url + "#edit"
    return None


def _report(publication: Publication, feed_url: str) -> list[dict]:
    """The skipped products grouped by reason (a product with two reasons is in both
    groups), most frequent reason first, each line with its fix hint and link."""
    channel = publication.channel.code
    labels = history.reason_labels()
    groups: dict[str, dict] = {}
    skipped = history.items(publication, action="skipped").order_by("sku", "locale", "id")
    for item in skipped.iterator():
        out = history.item_out(item, channel)
        for reason in out["reasons"]:
            code = reason.get("code", "")
            group = groups.setdefault(
                code,
                {
                    "code": code,
                    "label": labels.get(code, code.replace("_", " ")),
                    "count": 0,
                    "items": [],
                },
            )
            group["count"] += 1
            if len(group["items"]) >= SKIPPED_PER_REASON:
                continue
            fix = reason.get("fix") or {}
            group["items"].append(
                {
                    "sku": item.sku,
                    "locale": item.locale,
                    "message": reason.get("message", ""),
                    "hint": fix.get("hint", ""),
                    "link": fix_link(
                        fix,
                        channel=channel,
                        locale=reason.get("locale") or item.locale,
                        feed_url=feed_url,
                    ),
                }
            )
    return sorted(groups.values(), key=lambda g: (-g["count"], g["code"]))


def _visible_job(publication: Publication, user):
    from folio.jobs.services import get_job

    if not publication.job_id:
        return None
    try:
        return get_job(publication.job_id, user)
    except NotFound:  # someone else's job: the publication's own status is shown instead
        return None


def _finished(publication: Publication) -> bool:
    if publication.status in (Publication.Status.DONE, Publication.Status.FAILED):
        return True
    # A job that ended without finishing its publication (a dead worker) will not finish it.
    return publication.job is not None and publication.job.is_finished


@page("publishing.view_publication")
def publication_page(request, publication_id: int):
    publication = history.get_publication(publication_id)
    feed_url = reverse("web:feed", args=[publication.channel.code, publication.feed.code])
    finished = _finished(publication)
    context = {
        "section": "publishing",
        "publication": publication,
        "summary": history.summary(publication),
        "feed_url": feed_url,
        "finished": finished,
        "count_labels": COUNT_LABELS,
        "job": None if finished else _visible_job(publication, request.user),
    }
    if finished:
        context["diff"] = history.diff(publication, limit=DIFF_SHOWN)
        context["report"] = _report(publication, feed_url)
    return render(request, "web/publishing/publication.html", context)


@page("publishing.view_publication")
def publication_watch(request, publication_id: int):
    """Asked every second by a running publication's page: nothing until it finishes, then
    the page reloads itself with the report (the job's progress bar is its own partial)."""
    publication = history.get_publication(publication_id)
    if not _finished(publication):
        return HttpResponse(status=204)
    response = HttpResponse(status=200)
    response["HX-Refresh"] = "true"
    return response
