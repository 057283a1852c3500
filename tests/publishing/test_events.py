"""Events sent to webhooks, each once with its payload: publication.done, asset.approved,
asset.expired, product.complete (only when a row crosses to 100); and feeds published on a
schedule."""

import datetime

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from folio.accounts.models import AuditEntry
from folio.assets import rights, workflow
from folio.catalog import services as catalog_service
from folio.jobs import services as jobs
from folio.jobs.models import Job, Schedule
from folio.publishing import events, feeds, runs, webhooks
from folio.publishing.models import Feed, Publication, WebhookDelivery
from tests.assets._workflow_fixtures import *  # noqa: F403 - fixtures
from tests.assets.conftest import media  # noqa: F401
from tests.fixtures.catalog import espresso_pro
from tests.publishing.webhook_receiver import (  # noqa: F401 - fixtures
    fresh_subscriptions_fixture,
    receiver_fixture,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]


@pytest.fixture
def hook(receiver):
    created, _ = webhooks.create_webhook({"url": receiver.url, "events": ["*"]})
    return created


def sent(event):
    return list(WebhookDelivery.objects.filter(event=event).order_by("id"))


def without(entry, *keys):
    return {k: v for k, v in entry.items() if k not in keys}


# --- publication.done -------------------------------------------------------------------------


@pytest.fixture
def machine(catalog):
    return catalog_service.create_product(espresso_pro())


@pytest.fixture
def feed(catalog, settings, tmp_path):
    settings.PUBLICATIONS_DIR = tmp_path / "publications"
    return feeds.create_feed("marketplace", {"code": "json", "format": "json", "currency": "USD"})


def test_publication_done_is_sent_once_with_its_summary(hook, machine, feed, receiver):
    publication = runs.publish(feed, mode="full")
    assert publication.status == "done", publication.message
    [delivery] = sent("publication.done")
    body = delivery.payload
    assert body["event"] == "publication.done"
    data = body["data"]
    assert data["publication_id"] == publication.pk
    assert (data["channel"], data["feed"], data["format"], data["mode"], data["status"]) == (
        "marketplace",
        "json",
        "json",
        "full",
        "done",
    )
    assert data["counts"] == publication.counts and data["counts"]["added"] == 1
    assert data["reasons"] == publication.reasons  # fr_FR lacks its short title
    assert data["reasons"].get("missing_attribute") == 1
    assert data["location"] == publication.location
    assert data["files"] == ["products-en_US.json", "products-fr_FR.json"]
    # a dry run announces nothing
    runs.publish(feed, mode="full", dry_run=True)
    assert len(sent("publication.done")) == 1
    # and the receiver gets it, signed
    webhooks.deliver_due()
    [request] = receiver.of("publication.done")
    assert request.json["data"]["publication_id"] == publication.pk
    assert request.signature_valid(hook.secret)


def test_a_failed_publication_is_sent_too(hook, machine, feed):
    Feed.objects.filter(pk=feed.pk).update(
        destination={"kind": "http", "url": "http://127.0.0.1:9/unreachable"}
    )
    feed.refresh_from_db()
    publication = runs.publish(feed, mode="full")
    assert publication.status == "failed"
    [delivery] = sent("publication.done")
    assert delivery.payload["data"]["status"] == "failed"
    assert delivery.payload["data"]["message"] == publication.message


# --- assets -----------------------------------------------------------------------------------


def test_asset_approved_is_sent_once(hook, add_asset, uploader, groups_and_approvers):
    asset = add_asset("EspressoPro front")
    workflow.submit_for_review(asset.pk, uploader)
    assert sent("asset.approved") == []  # in review is not approved
    workflow.decide(asset.pk, approve=True, user=groups_and_approvers["plain"])
    [delivery] = sent("asset.approved")
    data = delivery.payload["data"]
    assert without(data, "sha256", "valid_from", "expires_at") == {
        "asset_id": asset.pk,
        "title": "EspressoPro front",
        "type": "image",
        "kind": "packshot",
        "status": "approved",
        "old": "in_review",
        "new": "approved",
        "version": 1,
    }
    assert len(data["sha256"]) == 64
    # a new version puts it back in review; approving that is announced again
    add_version(asset, uploader)  # noqa: F405
    assert len(sent("asset.approved")) == 1
    workflow.decide(asset.pk, approve=True, user=groups_and_approvers["plain"])
    assert [d.payload["data"]["version"] for d in sent("asset.approved")] == [1, 2]


def test_asset_expired_is_sent_once(hook, add_asset, uploader, groups_and_approvers):
    asset = add_asset("Licensed lifestyle")
    workflow.submit_for_review(asset.pk, uploader)
    workflow.decide(asset.pk, approve=True, user=groups_and_approvers["plain"])
    ended = timezone.now() - datetime.timedelta(minutes=5)
    type(asset).objects.filter(pk=asset.pk).update(expires_at=ended)

    assert rights.announce_rights()["expired"] == 1
    assert rights.announce_rights()["expired"] == 0  # announced once
    [delivery] = sent("asset.expired")
    data = delivery.payload["data"]
    assert (data["asset_id"], data["old"], data["new"]) == (asset.pk, "approved", "expired")
    announced = datetime.datetime.fromisoformat(data["expires_at"])
    assert abs(announced - ended) < datetime.timedelta(milliseconds=1)


def test_only_subscribers_get_asset_events(receiver, add_asset, uploader, groups_and_approvers):
    webhooks.create_webhook({"url": receiver.url, "events": ["publication.done"]})
    asset = add_asset("Not for them")
    workflow.submit_for_review(asset.pk, uploader)
    workflow.decide(asset.pk, approve=True, user=groups_and_approvers["plain"])
    assert not WebhookDelivery.objects.exists()


# --- product.complete -------------------------------------------------------------------------


NO_PRICE = {"values": {"price": [{"locale": None, "scope": None, "data": None}]}}
PRICE = {
    "values": {
        "price": [
            {
                "locale": None,
                "scope": None,
                "data": [
                    {"amount": "799.00", "currency": "USD"},
                    {"amount": "749", "currency": "EUR"},
                ],
            }
        ]
    }
}


def complete_events():
    return sorted(
        (d.payload["data"]["sku"], d.payload["data"]["channel"], d.payload["data"]["locale"])
        for d in sent("product.complete")
    )


def test_product_complete_only_when_it_crosses_to_100(hook, catalog):
    data = espresso_pro()
    data["values"].pop("price")
    catalog_service.create_product(data)
    assert complete_events() == []  # nothing is complete without a price

    catalog_service.update_product("EP-3000", PRICE)
    # complete now: the web shop (ecommerce) and the marketplace in en_US; German and French
    # copy is missing
    assert complete_events() == [
        ("EP-3000", "ecommerce", "en_US"),
        ("EP-3000", "marketplace", "en_US"),
    ]
    [first, *_] = sent("product.complete")
    assert first.payload["data"]["completeness"] == 100
    assert first.payload["data"]["product_id"] == catalog_product_id("EP-3000")

    # still complete: nothing new
    catalog_service.update_product(
        "EP-3000",
        {"values": {"name": [{"locale": "en_US", "scope": None, "data": "EspressoPro II"}]}},
    )
    assert len(complete_events()) == 2

    # incomplete, then complete again: announced again
    catalog_service.update_product("EP-3000", NO_PRICE)
    assert len(complete_events()) == 2
    catalog_service.update_product("EP-3000", PRICE)
    assert len(complete_events()) == 4


def catalog_product_id(sku):
    return catalog_service.get_product(sku).pk


def test_a_product_created_complete_counts_and_bulk_writes_share_one_job(
    hook, catalog, django_capture_on_commit_callbacks
):
    other = espresso_pro(sku="EP-3001")
    other["values"].pop("short_title")
    with django_capture_on_commit_callbacks(execute=True):
        lines = list(catalog_service.bulk_upsert([espresso_pro(), other]))
    assert [line["status"] for line in lines] == ["created", "created"], lines
    assert complete_events() == [
        ("EP-3000", "ecommerce", "en_US"),
        ("EP-3000", "marketplace", "en_US"),
        ("EP-3001", "ecommerce", "en_US"),  # no short title: the marketplace is not complete
    ]
    assert Job.objects.filter(kind=webhooks.deliver_webhooks.job_name).count() == 1


def test_watching_costs_one_query_per_batch_and_none_without_webhooks(
    catalog, receiver, monkeypatch
):
    monkeypatch.setattr(webhooks, "SUBSCRIBERS_TTL", 3600.0)  # no refresh between the counts
    catalog_service.create_product(espresso_pro())
    name = {"values": {"name": [{"locale": "en_US", "scope": None, "data": "EspressoPro"}]}}

    def queries_of_an_update():
        with CaptureQueriesContext(connection) as captured:
            catalog_service.update_product("EP-3000", name)
        return [q["sql"] for q in captured.captured_queries]

    webhooks.forget_subscriptions()
    webhooks.subscribed_events()  # the per-process answer "nobody" is remembered
    queries_of_an_update()  # warm: what the first write in a process loads once
    without_hooks = queries_of_an_update()
    webhooks.create_webhook({"url": receiver.url, "events": ["product.complete"]})
    webhooks.subscribed_events()
    with_hook = queries_of_an_update()
    # The catalog's one extra read: the rows that were complete before. Nothing crossed, so
    # nothing else (no webhook lookup, no delivery).
    assert len(with_hook) == len(without_hooks) + 1
    extra = [q for q in with_hook if "ratio" in q and q.lstrip().upper().startswith("SELECT")]
    assert len(extra) == 1 and "completeness" in extra[0]
    assert not any("publishing_webhook" in q for q in with_hook)
    assert not WebhookDelivery.objects.exists()


# --- scheduled publications -------------------------------------------------------------------


def test_schedule_a_feed_every_hour_then_on_cron_then_off(feed):
    schedule = events.schedule_feed(feed, every_seconds=3600)
    assert schedule.name == "publish-marketplace-json"
    assert schedule.job == runs.publish_feed.job_name
    assert schedule.params == {"channel": "marketplace", "feed": "json", "mode": "incremental"}
    assert (schedule.every_seconds, schedule.cron, schedule.enabled) == (3600, "", True)
    wait = (schedule.next_run_at - timezone.now()).total_seconds()
    assert 3500 < wait <= 3600

    again = events.schedule_feed(feed, cron="0 3 * * *", mode="full")
    assert again.pk == schedule.pk and again.version == 2
    assert (again.every_seconds, again.cron, again.params["mode"]) == (None, "0 3 * * *", "full")
    assert (again.next_run_at.hour, again.next_run_at.minute) == (3, 0)
    assert Schedule.objects.filter(name__startswith="publish-").count() == 1

    assert events.unschedule_feed(feed) is True
    assert events.unschedule_feed(feed) is False
    assert not Schedule.objects.filter(name="publish-marketplace-json").exists()
    actions = list(
        AuditEntry.objects.filter(action__startswith="feed.").values_list("action", flat=True)
    )
    assert actions.count("feed.schedule") == 2 and actions.count("feed.unschedule") == 1


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({}, "every_seconds/cron"),
        ({"every_seconds": 3600, "cron": "0 3 * * *"}, "every_seconds/cron"),
        ({"every_seconds": 30}, "every_seconds"),
        ({"cron": "every day"}, "cron"),
        ({"every_seconds": 3600, "mode": "sometimes"}, "mode"),
    ],
)
def test_a_bad_schedule_is_refused_naming_the_field(feed, kwargs, field):
    from folio.errors import InvalidInput

    with pytest.raises(InvalidInput) as refused:
        events.schedule_feed(feed, **kwargs)
    assert refused.value.details["field"] == field
    assert "marketplace/json" in refused.value.message
    assert not Schedule.objects.filter(name__startswith="publish-").exists()


def test_the_schedule_publishes_the_feed(hook, machine, feed):
    schedule = events.schedule_feed(feed, every_seconds=3600, mode="full")
    [started] = [
        j for j in jobs.run_due_schedules(now=schedule.next_run_at) if j.schedule_id == schedule.pk
    ]
    assert started.kind == runs.publish_feed.job_name
    jobs.execute(str(started.pk), "test-worker")
    started.refresh_from_db()
    assert started.status == "succeeded", started.message
    publication = Publication.objects.get(job=started)
    assert (publication.status, publication.mode, publication.feed_id) == ("done", "full", feed.pk)
    assert [d.payload["data"]["publication_id"] for d in sent("publication.done")] == [
        publication.pk
    ]


def test_deleting_a_feed_deletes_its_schedule(feed):
    events.schedule_feed(feed, every_seconds=3600)
    feeds.delete_feed("marketplace", "json")
    assert not Schedule.objects.filter(name="publish-marketplace-json").exists()


def put(client, url, body, **headers):
    return client.put(url, body, content_type="application/json", headers=headers)


def test_schedule_api(api_client, feed):
    url = "/api/v1/publishing/channels/marketplace/feeds/json/schedule"
    publisher, viewer = api_client("publisher"), api_client("viewer")
    assert publisher.get(url).status_code == 404
    assert put(viewer, url, {"every_seconds": 3600}).status_code == 403

    made = put(publisher, url, {"every_seconds": 3600})
    assert made.status_code == 200, made.content
    assert made.json()["name"] == "publish-marketplace-json"
    assert made.json()["mode"] == "incremental" and made["ETag"] == 'W/"1"'
    assert viewer.get(url).json()["every_seconds"] == 3600

    changed = put(publisher, url, {"cron": "0 3 * * *", "mode": "full"}, **{"If-Match": 'W/"1"'})
    assert changed.status_code == 200, changed.content
    assert (changed.json()["cron"], changed.json()["every_seconds"]) == ("0 3 * * *", None)
    stale = put(publisher, url, {"every_seconds": 600, "version": 1})
    assert stale.status_code == 409
    bad = put(publisher, url, {"cron": "whenever"})
    assert bad.status_code == 422 and bad.json()["error"]["details"]["field"] == "cron"
    missing = url.replace("/json/", "/nope/")
    assert put(publisher, missing, {"every_seconds": 600}).status_code == 404

    assert viewer.delete(url).status_code == 403
    assert publisher.delete(url).status_code == 204
    assert publisher.delete(url).status_code == 404


def test_schedule_cli(feed, capsys):
    call_command("schedule_feed", "marketplace", "json", "--every", "3600")
    assert "incremental publication every 3600 s" in capsys.readouterr().out
    call_command("schedule_feed", "marketplace", "json", "--cron", "0 3 * * *", "--mode", "full")
    out = capsys.readouterr().out
    assert "full publication cron 0 3 * * *" in out and "publish-marketplace-json" in out
    call_command("schedule_feed", "marketplace", "json")
    assert "cron 0 3 * * *" in capsys.readouterr().out
    call_command("schedule_feed", "marketplace", "json", "--off")
    assert "no longer scheduled" in capsys.readouterr().out
    assert not Schedule.objects.filter(name="publish-marketplace-json").exists()
