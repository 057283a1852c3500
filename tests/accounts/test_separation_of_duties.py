"""Separation of duties: the uploader of an asset version never approves it (any step,
administrators too) unless FOLIO_SEPARATION_OF_DUTIES is off; and only publishers (and
administrators) start a publication, however they ask: API, `folio publish --as-user`, a
feed schedule or a job they created."""

import io

import pytest
from django.core.management import CommandError, call_command

from folio.accounts import services as accounts
from folio.assets import editing, workflow
from folio.assets.models import Asset
from folio.jobs import services as jobs
from folio.jobs.models import Job
from folio.publishing import feeds, runs
from folio.publishing.models import Publication
from tests.assets._workflow_fixtures import *  # noqa: F403 - fixtures
from tests.assets._workflow_fixtures import add_version, client_for

JSON = {"content_type": "application/json"}
PUBLISHERS = {"admin", "publisher"}


@pytest.fixture
def uploader_approver(db):
    """Someone who both uploads files and approves them: the case the rule is for."""
    return accounts.create_user("ua", roles=["asset_manager", "approver"])


def approve(user, asset):
    return client_for(user).post(f"/api/v1/assets/{asset.pk}/approve", **JSON)


def test_the_uploader_cannot_approve_their_version(add_asset, uploader_approver, make_user):
    asset = add_asset(user=uploader_approver)
    workflow.submit_for_review(asset.pk, uploader_approver)

    refused = approve(uploader_approver, asset)
    assert refused.status_code == 403, refused.content
    error = refused.json()["error"]
    assert error["code"] == "forbidden"
    assert error["message"].startswith("separation of duties: you uploaded version 1")
    assert error["details"]["reason"] == "separation_of_duties"
    asset.refresh_from_db()
    assert asset.status == Asset.Status.IN_REVIEW
    # Nor is it in their queue; a second approver's it is, and they approve it.
    assert workflow.pending_for(uploader_approver) == []
    other = make_user("approver", "second-pair-of-eyes")
    assert [a.pk for a, _ in workflow.pending_for(other)] == [asset.pk]
    assert approve(other, asset).status_code == 200
    asset.refresh_from_db()
    assert asset.status == Asset.Status.APPROVED


def test_every_step_and_administrators_too(add_asset, make_user, groups_and_approvers):
    boss = make_user("admin", "boss")
    flow = editing.create_workflow(
        "two-step",
        name="Two steps",
        steps=[{"name": "brand", "group": None}, {"name": "legal", "group": None}],
    )
    editing.create_collection("spring", name="Spring", workflow=flow.code)
    asset = add_asset(user=boss, collections=["spring"])
    workflow.submit_for_review(asset.pk, boss)
    for step in ("brand", "legal"):
        refused = client_for(boss).post(
            f"/api/v1/assets/{asset.pk}/approve", {"step": step}, **JSON
        )
        assert refused.status_code == 403, refused.content
        assert refused.json()["error"]["details"]["step"] == step
        # Someone else approves this step; the administrator is refused the next one too.
        workflow.approve(asset.pk, step=step, user=groups_and_approvers["plain"])
    asset.refresh_from_db()
    assert asset.status == Asset.Status.APPROVED
    # A new version by someone else goes back to review: the administrator may approve it.
    add_version(asset, make_user("asset_manager", "retoucher"))
    asset.refresh_from_db()
    assert asset.status == Asset.Status.IN_REVIEW
    for step in ("brand", "legal"):
        workflow.approve(asset.pk, step=step, user=boss)
    asset.refresh_from_db()
    assert asset.status == Asset.Status.APPROVED


def test_the_rule_can_be_turned_off(add_asset, uploader_approver, settings):
    settings.SEPARATION_OF_DUTIES = False
    asset = add_asset(user=uploader_approver)
    workflow.submit_for_review(asset.pk, uploader_approver)
    assert [a.pk for a, _ in workflow.pending_for(uploader_approver)] == [asset.pk]
    response = approve(uploader_approver, asset)
    assert response.status_code == 200, response.content
    asset.refresh_from_db()
    assert asset.status == Asset.Status.APPROVED


# --- starting a publication -------------------------------------------------------------------


@pytest.fixture
def feed(catalog, settings, tmp_path):
    settings.PUBLICATIONS_DIR = tmp_path / "publications"
    return feeds.create_feed("marketplace", {"code": "google", "format": "google-xml"})


def test_only_publishers_start_a_publication_through_the_api(feed, api_client, each_role):
    client = api_client(each_role)
    response = client.post(
        "/api/v1/publishing/channels/marketplace/feeds/google/publications",
        {"dry_run": True},
        **JSON,
    )
    if each_role in PUBLISHERS:
        assert response.status_code == 202, response.content
    else:
        assert response.status_code == 403, (each_role, response.content)
        assert response.json()["error"]["details"] == {"permission": "publishing.run_publication"}
        assert not Publication.objects.exists()


def call(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_only_publishers_publish_from_the_cli_as_a_user(feed, make_user, each_role):
    user = make_user(each_role)
    args = ("publish", "marketplace", "--feed", "google", "--background", "--dry-run")
    if each_role in PUBLISHERS:
        out, _ = call(*args, "--as-user", user.username)
        assert "queued" in out
        assert Publication.objects.get().created_by == user
    else:
        with pytest.raises(CommandError, match=r"publishing\.run_publication"):
            call(*args, "--as-user", user.username)
        assert not Publication.objects.exists()


def test_the_operator_at_the_console_publishes_without_a_user(feed):
    out, _ = call("publish", "marketplace", "--feed", "google", "--background", "--dry-run")
    assert "queued" in out
    assert Publication.objects.get().created_by is None


def test_only_publishers_schedule_a_feed(feed, api_client, each_role):
    client = api_client(each_role)
    response = client.put(
        "/api/v1/publishing/channels/marketplace/feeds/google/schedule",
        {"every_seconds": 3600},
        **JSON,
    )
    if each_role in PUBLISHERS:
        assert response.status_code == 200, response.content
    else:
        assert response.status_code == 403, (each_role, response.content)
    with pytest.raises(CommandError, match=r"publishing\.change_feed"):
        call("schedule_feed", "marketplace", "google", "--every", "60",
             "--as-user", accounts.create_user("v2", roles=["viewer"]).username)  # fmt: skip


@pytest.mark.parametrize("role", ["catalog_editor", "publisher"])
def test_a_publish_job_runs_with_its_creators_permission(feed, make_user, role):
    # The scheduled job (or one queued by a user) publishes as whoever created it: a job left
    # by someone who is not (or no longer) a publisher starts nothing.
    user = make_user(role)
    row = jobs.start_job(
        runs.publish_feed, user=user, channel="marketplace", feed="google", dry_run=True
    )
    jobs.execute(str(row.pk), "test-worker")
    row.refresh_from_db()
    if role == "publisher":
        assert Publication.objects.get().created_by == user
    else:
        assert row.status == Job.Status.FAILED
        assert "publishing.run_publication" in row.message
        assert not Publication.objects.exists()
