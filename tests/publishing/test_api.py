"""The publishing API: feeds CRUD with ETag/If-Match (409 on a stale write), who may do what
(a viewer reads, a publisher creates and runs, deleting is an administrator's), starting a
publication (202, a job), the publications list, one publication, its report (every skipped
product with its reasons and what to fix) and its diff."""

import io

import pytest

from folio import demo
from folio.catalog import services
from folio.publishing import feeds
from folio.publishing.models import Publication
from tests.assets.conftest import media  # noqa: F401 - the fixture

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]

FEEDS = "/api/v1/publishing/channels/marketplace/feeds"
PUBLICATIONS = "/api/v1/publishing/publications"


def post(client, url, data, **headers):
    return client.post(url, data, content_type="application/json", **headers)


def patch(client, url, data, **headers):
    return client.patch(url, data, content_type="application/json", **headers)


@pytest.fixture
def seeded():
    demo.seed(io.StringIO())


def test_feeds_crud_with_etags(api_client, catalog):
    publisher = api_client("publisher")
    created = post(
        publisher,
        FEEDS,
        {
            "code": "google",
            "format": "google-xml",
            "locales": ["en_US"],
            "mapping": {"title": {"template": "{brand} {name} {capacity}", "max_length": 150}},
        },
    )
    assert created.status_code == 201, created.content
    assert created["ETag"] == 'W/"1"'
    body = created.json()
    assert body["channel"] == "marketplace" and body["version"] == 1
    assert body["effective_currency"] == "USD" and body["effective_locales"] == ["en_US"]
    assert body["last_publication"] is None

    url = f"{FEEDS}/google"
    got = publisher.get(url)
    assert got.status_code == 200 and got["ETag"] == 'W/"1"'
    assert [f["code"] for f in publisher.get(FEEDS).json()] == ["google"]
    assert [f["code"] for f in publisher.get("/api/v1/publishing/feeds").json()] == ["google"]

    changed = patch(publisher, url, {"locales": ["en_US", "fr_FR"]}, HTTP_IF_MATCH='W/"1"')
    assert changed.status_code == 200, changed.content
    assert changed["ETag"] == 'W/"2"'
    stale = patch(publisher, url, {"name": "Google"}, HTTP_IF_MATCH='W/"1"')
    assert stale.status_code == 409
    error = stale.json()["error"]
    assert error["code"] == "stale_write"
    assert error["details"]["current"]["locales"] == ["en_US", "fr_FR"]
    assert patch(publisher, url, {"name": "Google", "version": 2}).status_code == 200

    bad = patch(publisher, url, {"mapping": {"title": {"attribute": "nope"}}})
    assert bad.status_code == 422
    assert bad.json()["error"]["details"]["field"] == "mapping.title"
    assert bad.json()["error"]["details"]["attribute"] == "nope"
    unknown = patch(publisher, url, {"code": "other"})
    assert unknown.status_code == 422  # not a changeable setting
    dup = post(publisher, FEEDS, {"code": "google", "format": "google-tsv"})
    assert dup.status_code == 409
    assert publisher.get(f"{FEEDS}/nope").status_code == 404
    assert publisher.get("/api/v1/publishing/channels/nope/feeds").status_code == 404

    assert publisher.delete(url).status_code == 403  # deleting is an administrator's
    admin = api_client("admin")
    assert admin.delete(url, HTTP_IF_MATCH='W/"1"').status_code == 409
    assert admin.delete(url, HTTP_IF_MATCH='W/"3"').status_code == 204
    assert admin.get(url).status_code == 404


def test_viewer_reads_but_cannot_create_or_run(api_client, catalog):
    admin = api_client("admin")
    assert post(admin, FEEDS, {"code": "google", "format": "google-xml"}).status_code == 201
    viewer = api_client("viewer")
    assert viewer.get(FEEDS).status_code == 200
    assert viewer.get(f"{FEEDS}/google").status_code == 200
    assert post(viewer, FEEDS, {"code": "g2", "format": "google-xml"}).status_code == 403
    assert patch(viewer, f"{FEEDS}/google", {"name": "x"}).status_code == 403
    assert viewer.delete(f"{FEEDS}/google").status_code == 403
    run = post(viewer, f"{FEEDS}/google/publications", {"dry_run": True})
    assert run.status_code == 403
    assert run.json()["error"]["details"]["permission"] == "publishing.run_publication"
    assert viewer.get(PUBLICATIONS).status_code == 200
    assert not Publication.objects.exists()
    # an outsider role sees nothing of it
    agency = api_client("agency")
    assert agency.get(FEEDS).status_code == 403
    assert agency.get(PUBLICATIONS).status_code == 403


def test_publisher_may_not_pick_a_server_folder(api_client, catalog, tmp_path):
    publisher = api_client("publisher")
    data = {
        "code": "google",
        "format": "google-xml",
        "destination": {"kind": "folder", "path": str(tmp_path)},
    }
    refused = post(publisher, FEEDS, data)
    assert refused.status_code == 422
    assert refused.json()["error"]["details"]["field"] == "destination.path"
    assert post(api_client("admin"), FEEDS, data).status_code == 201


def test_start_a_run_then_read_report_and_diff(api_client, seeded):
    from folio.publishing import runs

    publisher = api_client("publisher")
    url = f"{FEEDS}/google/publications"
    bad = post(publisher, url, {"selection": {"category": "nope"}})
    assert bad.status_code == 422
    assert bad.json()["error"]["details"]["field"] == "selection.category"
    assert post(publisher, url, {"mode": "sometimes"}).status_code == 422

    started = post(publisher, url, {"mode": "full", "dry_run": True})
    assert started.status_code == 202, started.content
    body = started.json()
    assert body["status"] == "pending" and body["dry_run"] and body["mode"] == "full"
    assert body["job"]  # a background job does the work
    assert body["created_by"] == publisher.user.username

    # The worker's part, here in the test process: run what the job would run.
    publication = runs.run_publication(Publication.objects.get(pk=body["id"]))
    assert publication.status == Publication.Status.DONE, publication.message

    one = publisher.get(f"{PUBLICATIONS}/{body['id']}")
    assert one.status_code == 200
    detail = one.json()
    assert detail["counts"]["skipped"] >= 1
    assert {r["code"] for r in detail["reasons"]} >= {"missing_attribute"}
    assert all(r["label"] and r["count"] >= 1 for r in detail["reasons"])

    listed = publisher.get(PUBLICATIONS, {"channel": "marketplace", "feed": "google"})
    assert [p["id"] for p in listed.json()["results"]] == [body["id"]]
    assert publisher.get(PUBLICATIONS, {"status": "failed"}).json()["results"] == []
    assert publisher.get(PUBLICATIONS, {"status": "nope"}).status_code == 422

    items = publisher.get(f"{PUBLICATIONS}/{body['id']}/items", {"action": "skipped"}).json()
    skipped = {i["sku"]: i for i in items["results"]}
    green = skipped["WB-500-SS-GREEN"]
    gtin = next(r for r in green["reasons"] if r["code"] == "missing_attribute")
    assert gtin["attribute"] == "gtin"
    assert gtin["fix"]["target"] == "attribute" and gtin["fix"]["attribute"] == "gtin"
    assert "gtin" in green["fix"]
    by_reason = publisher.get(
        f"{PUBLICATIONS}/{body['id']}/items", {"reason": "missing_attribute"}
    ).json()["results"]
    assert "WB-500-SS-GREEN" in {i["sku"] for i in by_reason}
    assert all(any(r["code"] == "missing_attribute" for r in i["reasons"]) for i in by_reason)
    assert (
        publisher.get(f"{PUBLICATIONS}/{body['id']}/items", {"action": "sent"}).status_code == 422
    )

    diff = publisher.get(f"{PUBLICATIONS}/{body['id']}/diff").json()
    assert diff["dry_run"] is True
    assert diff["counts"]["added"] == len(diff["added"]) >= 1  # nothing was listed before
    assert diff["updated"] == [] and diff["removed"] == []
    assert publisher.get(f"{PUBLICATIONS}/999999").status_code == 404

    feed = publisher.get(f"{FEEDS}/google").json()
    assert feed["last_publication"]["id"] == body["id"]


def test_diff_of_a_real_run_shows_field_changes(api_client, seeded):
    from folio.publishing import runs

    feed = feeds.get_feed("marketplace", "google")
    first = runs.publish(feed, mode="full")
    assert first.status == Publication.Status.DONE, first.message
    name = [
        {"locale": "en_US", "scope": None, "data": "EspressoPro 3000 Plus"},
        {"locale": "fr_FR", "scope": None, "data": "EspressoPro 3000"},
    ]
    services.update_product("EP-3000", {"values": {"name": name}})
    dry = runs.publish(feed, dry_run=True)
    diff = api_client("viewer").get(f"{PUBLICATIONS}/{dry.pk}/diff").json()
    updated = {e["sku"]: e for e in diff["updated"]}
    assert "EP-3000" in updated, diff
    titles = [c for c in updated["EP-3000"]["changes"] if c["field"] == "title"]
    assert titles and "Plus" in titles[0]["new"] and "Plus" not in titles[0]["old"]
    assert diff["counts"]["added"] == 0 and diff["unchanged"] >= 1
