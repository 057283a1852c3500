"""Usage rights: publishable only when approved and within rights, checked at the moment of
use; the scheduled check announces expiries and warnings once."""

import datetime

import pytest
from django.utils import timezone

from folio.accounts.models import AuditEntry
from folio.assets import editing, rights, workflow
from folio.assets.models import Asset
from folio.assets.signals import asset_status_changed
from folio.jobs.models import Job
from folio.jobs.services import execute, start_job
from tests.assets._workflow_fixtures import *  # noqa: F403 - fixtures
from tests.assets._workflow_fixtures import client_for

DAY = datetime.timedelta(days=1)


@pytest.fixture
def approved(add_asset, uploader, groups_and_approvers):
    def make(title="Licensed photo", **rights_fields):
        asset = add_asset(title)
        if rights_fields:
            editing.update_asset(asset.pk, rights_fields, user=uploader)
        workflow.submit_for_review(asset.pk, uploader)
        workflow.decide(asset.pk, approve=True, user=groups_and_approvers["plain"])
        asset.refresh_from_db()
        return asset

    return make


@pytest.fixture
def events():
    seen = []

    def receive(sender, asset, old, new, **kwargs):
        if new in ("expired", "expiring"):
            seen.append((asset.pk, new))

    asset_status_changed.connect(receive, dispatch_uid="test-rights-events")
    yield seen
    asset_status_changed.disconnect(dispatch_uid="test-rights-events")


def test_each_reason_makes_an_asset_unpublishable(approved, catalog):
    now = timezone.now()
    asset = approved(
        licence="Getty editorial",
        territories=["DE", "FR"],
        channels=["ecommerce"],
        valid_from=(now - DAY).isoformat(),
        expires_at=(now + 10 * DAY).isoformat(),
    )
    assert rights.is_publishable(asset, channel="ecommerce", territory="DE") == (True, [])

    ok, reasons = rights.is_publishable(asset, at=now - 2 * DAY)
    assert not ok and reasons[0].startswith("usage rights start on")
    ok, reasons = rights.is_publishable(asset, at=now + 10 * DAY)
    assert not ok and reasons[0].startswith("usage rights expired on")
    ok, reasons = rights.is_publishable(asset, territory="US")
    assert not ok and reasons == ["not licensed in territory US (only DE, FR)"]
    ok, reasons = rights.is_publishable(asset, channel="marketplace")
    assert not ok and reasons == ["not licensed for channel marketplace (only ecommerce)"]
    ok, reasons = rights.is_publishable(
        asset, channel="marketplace", territory="us", at=now + 20 * DAY
    )
    assert len(reasons) == 3

    # Nothing but the moment of use decides: no job has run, and it is already refused.
    Asset.objects.filter(pk=asset.pk).update(expires_at=now - datetime.timedelta(seconds=1))
    asset.refresh_from_db()
    assert rights.is_publishable(asset)[0] is False
    assert not Asset.objects.filter(rights.publishable_q(), pk=asset.pk).exists()


def test_empty_territories_and_channels_mean_everywhere(approved, catalog):
    asset = approved()
    assert rights.is_publishable(asset, channel="marketplace", territory="JP") == (True, [])
    assert Asset.objects.filter(rights.publishable_q(channel="marketplace"), pk=asset.pk).exists()


def test_detail_shows_rights_state(approved, uploader):
    asset = approved(expires_at=(timezone.now() - DAY).isoformat())
    body = client_for(uploader).get(f"/api/v1/assets/{asset.pk}").json()
    assert body["rights"]["publishable"] is False
    assert body["rights"]["expired"] is True
    assert body["rights"]["reasons"][0].startswith("usage rights expired")


def test_check_rights_announces_once(approved, uploader, events):
    now = timezone.now()
    soon = approved("Soon", expires_at=(now + 10 * DAY).isoformat())
    gone = approved("Gone", expires_at=(now - DAY).isoformat())
    later = approved("Later", expires_at=(now + 60 * DAY).isoformat())
    forever = approved("Forever")
    archived = approved("Archived", expires_at=(now - DAY).isoformat())
    workflow.archive(archived.pk, uploader)

    assert rights.announce_rights(at=now) == {"expired": 1, "expiring": 1}
    assert sorted(events) == sorted([(soon.pk, "expiring"), (gone.pk, "expired")])
    assert rights.announce_rights(at=now) == {"expired": 0, "expiring": 0}
    assert len(events) == 2
    assert AuditEntry.objects.filter(action="asset.expired", object_id=str(gone.pk)).count() == 1
    assert AuditEntry.objects.filter(action="asset.expiring", object_id=str(soon.pk)).count() == 1

    # The warned asset's rights end: the expiry is announced, once.
    assert rights.announce_rights(at=now + 11 * DAY) == {"expired": 1, "expiring": 0}
    assert events[-1] == (soon.pk, "expired")
    # Extending the rights re-arms the warning for the new end date.
    editing.update_asset(soon.pk, {"expires_at": (now + 100 * DAY).isoformat()}, user=uploader)
    assert rights.announce_rights(at=now + 12 * DAY) == {"expired": 0, "expiring": 0}
    assert rights.announce_rights(at=now + 35 * DAY) == {"expired": 0, "expiring": 1}
    assert events[-1] == (later.pk, "expiring")
    assert rights.announce_rights(at=now + 75 * DAY) == {"expired": 1, "expiring": 1}
    assert sorted(events[-2:]) == sorted([(soon.pk, "expiring"), (later.pk, "expired")])
    assert forever.pk not in {pk for pk, _ in events}
    assert archived.pk not in {pk for pk, _ in events}


def test_check_rights_runs_as_a_job(approved, events):
    gone = approved("Gone", expires_at=(timezone.now() - DAY).isoformat())
    row = start_job(rights.check_rights)
    assert row.kind == "folio.assets.rights.check_rights"
    execute(str(row.pk), "test-worker")
    row.refresh_from_db()
    assert row.status == Job.Status.SUCCEEDED, row.message
    assert row.result == {"expired": 1, "expiring": 0}
    assert events == [(gone.pk, "expired")]


def test_expiring_boundaries(approved, uploader):
    now = timezone.now().replace(microsecond=0)
    edge = approved("Edge", expires_at=(now + 30 * DAY).isoformat())
    past_edge = approved(
        "Past edge", expires_at=(now + 30 * DAY + datetime.timedelta(seconds=1)).isoformat()
    )
    ended = approved("Ended", expires_at=now.isoformat())
    first = approved("First", expires_at=(now + DAY).isoformat())
    ids = list(rights.expiring(30, at=now).values_list("pk", flat=True))
    assert ids == [first.pk, edge.pk]
    assert past_edge.pk not in ids and ended.pk not in ids
    assert list(rights.expiring(0, at=now)) == []

    response = client_for(uploader).get("/api/v1/assets/expiring?days=2")
    assert response.status_code == 200, response.json()
    assert [a["id"] for a in response.json()] == [first.pk]


def test_rights_fields_are_validated(add_asset, uploader, catalog):
    asset = add_asset()
    client = client_for(uploader)
    r = client.patch(
        f"/api/v1/assets/{asset.pk}", {"territories": ["DE", "XX"]}, content_type="application/json"
    )
    assert r.status_code == 422
    assert r.json()["error"]["details"]["field"] == "territories"
    r = client.patch(
        f"/api/v1/assets/{asset.pk}", {"channels": ["nowhere"]}, content_type="application/json"
    )
    assert r.status_code == 422
    assert r.json()["error"]["details"]["field"] == "channels"
    now = timezone.now()
    r = client.patch(
        f"/api/v1/assets/{asset.pk}",
        {"valid_from": now.isoformat(), "expires_at": (now - DAY).isoformat()},
        content_type="application/json",
    )
    assert r.status_code == 422
    assert r.json()["error"]["details"]["field"] == "expires_at"
    r = client.patch(
        f"/api/v1/assets/{asset.pk}", {"territories": ["de", "fr"]}, content_type="application/json"
    )
    assert r.status_code == 200
    assert r.json()["rights"]["territories"] == ["DE", "FR"]
