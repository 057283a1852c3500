"""A feed's schedule and its channel's configuration on the feed page: a publisher sets,
changes, pauses and removes the schedule through the same service as `folio schedule-feed`
and the schedule API (a bad cron expression or interval named at its field, a schedule
changed since the page was read refused with the current one shown); viewers read it all
but see no controls and their POSTs are refused."""

import re

import pytest

from folio.accounts.models import AuditEntry
from folio.catalog.models import Channel
from folio.jobs.models import Schedule
from folio.publishing import events, feeds
from tests.web.test_publishing_pages import demo_feeds, google, html  # noqa: F401

# demo_feeds: the demo catalog and its feeds (from the publishing pages tests)
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("demo_feeds")]

PAGE = "/publishing/marketplace/google/"
SCHEDULE = PAGE + "schedule/"


def schedule_form(page: str) -> dict:
    """What the page's schedule form sends as shown (its version included)."""
    form = re.search(
        r'<form method="post" action="/publishing/[^"]+/schedule/".*?</form>', page, re.S
    )
    assert form, "no schedule form on the page"
    text = form.group(0)
    data = {
        "version": re.search(r'name="version" value="(\d+)"', text).group(1),
        "timing": re.search(r'name="timing" value="(\w+)" checked', text).group(1),
        "every": re.search(r'name="every" value="([^"]*)"', text).group(1),
        "unit": re.search(r'<select id="s-unit".*?value="(\d+)" selected', text, re.S).group(1),
        "cron": re.search(r'name="cron" value="([^"]*)"', text).group(1),
        "mode": re.search(r'<select id="s-mode".*?value="(\w+)" selected', text, re.S).group(1),
        "action": "save",
    }
    if re.search(r'name="enabled" checked', text):
        data["enabled"] = "on"
    return data


def test_publisher_schedules_an_unscheduled_feed(client_for):
    publisher = client_for("publisher")
    page = html(publisher.get(PAGE))
    assert "Not scheduled: published on request only." in page
    assert "Remove schedule" not in page
    form = schedule_form(page)
    assert form["version"] == "0"  # "not scheduled when read"

    saved = publisher.post(SCHEDULE, {**form, "every": "6", "unit": "3600", "mode": "full"})
    assert saved.status_code == 302 and saved["Location"] == PAGE + "#schedule"
    schedule = events.feed_schedule(google())
    data = events.schedule_data(schedule)
    assert (data["every_seconds"], data["cron"], data["mode"], data["enabled"]) == (
        21600,
        "",
        "full",
        True,
    )
    assert schedule.params == {"channel": "marketplace", "feed": "google", "mode": "full"}
    assert AuditEntry.objects.filter(action="feed.schedule").exists()

    after = html(publisher.get(PAGE))
    assert "Schedule saved: every 6 h, full." in after
    assert "every 6 h, full" in after and "Next run" in after
    shown = schedule_form(after)
    assert (shown["timing"], shown["every"], shown["unit"], shown["mode"]) == (
        "every",
        "6",
        "3600",
        "full",
    )
    assert shown["version"] == str(schedule.version)
    assert "Remove schedule" in after


def test_publisher_changes_to_cron_pauses_and_removes(client_for):
    events.schedule_feed(google(), every_seconds=3600)
    publisher = client_for("publisher")
    form = schedule_form(html(publisher.get(PAGE)))
    assert (form["every"], form["unit"]) == ("1", "3600")

    cron = {**form, "timing": "cron", "cron": "30 6 * * 1-5"}
    assert publisher.post(SCHEDULE, cron).status_code == 302
    data = events.schedule_data(events.feed_schedule(google()))
    assert (data["every_seconds"], data["cron"]) == (None, "30 6 * * 1-5")
    assert Schedule.objects.filter(job=events._publish_job_name()).count() == 1

    page = html(publisher.get(PAGE))
    assert "cron 30 6 * * 1-5 (UTC), incremental" in page
    paused = schedule_form(page)
    paused.pop("enabled")
    assert publisher.post(SCHEDULE, paused).status_code == 302
    assert events.feed_schedule(google()).enabled is False
    page = html(publisher.get(PAGE))
    assert "(paused)" in page and 'name="enabled" checked' not in page

    remove = {**schedule_form(page), "action": "remove"}
    assert publisher.post(SCHEDULE, remove).status_code == 302
    assert events.feed_schedule(google()) is None
    after = html(publisher.get(PAGE))
    assert "Schedule removed" in after and "Not scheduled" in after


@pytest.mark.parametrize(
    ("changes", "field", "says"),
    [
        ({"timing": "cron", "cron": "every day at 3"}, "s-cron", "not a 5-field cron expression"),
        ({"timing": "cron", "cron": "61 3 * * *"}, "s-cron", "not a 5-field cron expression"),
        ({"timing": "cron", "cron": "  "}, "s-cron", "write a 5-field cron expression"),
        ({"every": "30", "unit": "1"}, "s-every", "at least 60 seconds"),
        ({"every": "soon"}, "s-every", "is not a whole number"),
        ({"mode": "sometimes"}, "s-mode", "is not one of incremental, full"),
    ],
)
def test_a_bad_schedule_is_named_at_its_field(client_for, changes, field, says):
    publisher = client_for("publisher")
    form = {**schedule_form(html(publisher.get(PAGE))), **changes}
    refused = publisher.post(SCHEDULE, form)
    assert refused.status_code == 422
    page = html(refused)
    assert "schedule of feed marketplace/google" in page and says in page
    # the message sits at the field, which is marked invalid; what was typed stays
    assert re.search(
        rf'id="{field}"[^>]*aria-invalid="true"|field-error" id="{field}-err"', page
    ) or (field == "s-mode" and re.search(r'field invalid"><label for="s-mode"', page))
    if "cron" in changes and changes["cron"].strip():
        assert f'value="{changes["cron"]}"' in page
    assert events.feed_schedule(google()) is None  # nothing was scheduled


def test_a_schedule_changed_since_the_page_was_read_is_not_overwritten(client_for):
    events.schedule_feed(google(), every_seconds=3600)
    publisher = client_for("publisher")
    seen = schedule_form(html(publisher.get(PAGE)))

    # meanwhile someone (the CLI, the API) changes it
    events.schedule_feed(google(), cron="0 3 * * *", mode="full")
    stale = publisher.post(SCHEDULE, {**seen, "every": "2"})
    assert stale.status_code == 409
    page = html(stale)
    assert "changed this feed's schedule while you edited it" in page
    assert "cron 0 3 * * * (UTC), full" in page  # the current schedule, shown
    current = events.feed_schedule(google())
    assert (current.cron, current.every_seconds) == ("0 3 * * *", None)  # not overwritten
    again = schedule_form(page)
    assert again["every"] == "2"  # what was typed stays in the form…
    assert again["version"] == str(current.version)  # …with the version now current
    assert publisher.post(SCHEDULE, again).status_code == 302
    assert events.feed_schedule(google()).every_seconds == 7200

    # removing from a page read before a change is refused too
    old = schedule_form(html(publisher.get(PAGE)))
    events.schedule_feed(google(), every_seconds=600)
    refused = publisher.post(SCHEDULE, {**old, "action": "remove"})
    assert refused.status_code == 409
    assert events.feed_schedule(google()).every_seconds == 600


def test_a_schedule_created_since_an_unscheduled_page_is_not_replaced(client_for):
    publisher = client_for("publisher")
    seen = schedule_form(html(publisher.get(PAGE)))
    events.schedule_feed(google(), cron="0 3 * * *")
    refused = publisher.post(SCHEDULE, {**seen, "every": "1", "unit": "86400"})
    assert refused.status_code == 409
    assert events.feed_schedule(google()).cron == "0 3 * * *"


def test_viewer_reads_the_schedule_and_channel_but_changes_nothing(client_for):
    events.schedule_feed(google(), every_seconds=3600)
    viewer = client_for("viewer")
    page = html(viewer.get(PAGE))
    assert "every 1 h, incremental" in page and "Next run" in page
    assert "/schedule/" not in page and "Save schedule" not in page
    assert "Remove schedule" not in page
    refused = viewer.post(SCHEDULE, {"action": "remove"})
    assert refused.status_code == 403
    refused = viewer.post(SCHEDULE, {"timing": "every", "every": "1", "unit": "60"})
    assert refused.status_code == 403
    assert events.feed_schedule(google()).every_seconds == 3600


def test_feed_page_shows_the_channel_and_what_each_field_is_sent_from(client_for):
    feed = google()
    channel = Channel.objects.get(code="marketplace")
    page = html(client_for("viewer").get(PAGE))
    section = re.search(r'<section class="card" id="channel".*?</section>', page, re.S).group(0)
    for code in feeds.channel_locales(channel) + feeds.channel_currencies(channel):
        assert code in section
    assert channel.get_kind_display() in section
    summary = re.search(r'<table id="mapping-summary".*?</table>', page, re.S).group(0)
    rows = {
        m.group(1): m.group(0)
        for m in re.finditer(r'<tr><th scope="row" class="mono">(\w+).*?</tr>', summary, re.S)
    }
    # the format's required fields come first, each with its source and the format's limit
    assert list(rows)[:3] == ["description", "price", "title"]
    assert "required" in rows["title"] and "150 characters" in rows["title"]
    own = feed.mapping or {}
    for name, row in rows.items():
        assert ("this feed" in row) == (name in own), name
    assert "always “new”" in rows["condition"]  # a constant of the format's default mapping
    assert "the product&#x27;s gtin" in rows["gtin"]
