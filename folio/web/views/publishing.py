"""Publishing pages: the channels with their feeds, a feed (its settings, an edit form, the
Dry run and Publish buttons, its recent publications) and a publication (progress while it
runs; then counts, files, the diff and the report of skipped products with a link to fix
each).

Everything goes through the publishing services the API and the CLI call (feeds.update_feed
with the version the editor saw, runs.start_publication, history.*), so the report and its
fix hints read the same everywhere.
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
    context: dict = {"section": "publishing", "errors": {}, "error": None}
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
    can_edit = request.user.has_perm("publishing.change_feed")
    recent = list(
        found.publications.select_related("created_by", "job").order_by("-id")[:FEED_HISTORY]
    )
    context.update(
        feed=found,
        settings=feeds.snapshot(found),
        effective_locales=feeds.effective_locales(found),
        effective_currency=feeds.effective_currency(found),
        channel_locales=feeds.channel_locales(found.channel),
        channel_currencies=feeds.channel_currencies(found.channel),
        destination=destination_text(found),
        schedule=schedule_text(
            events.schedule_data(s) if (s := events.feed_schedule(found)) else None
        ),
        form=form,
        can_edit=can_edit,
        can_run=request.user.has_perm("publishing.run_publication"),
        publications=recent,
        pretty={k: _pretty(getattr(found, k)) for k in (*JSON_FIELDS, "selection")},
        open_form=bool(context["error"]),
    )
    return render(request, "web/publishing/feed.html", context, status=status)


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
