"""Approval: the lifecycle, multi-step reviews by groups, separation of duties, new versions,
the review queue, the API and the CLI."""

import io

import pytest
from django.core.management import call_command

from folio.accounts.models import AuditEntry
from folio.assets import rights, workflow
from folio.assets.models import Asset, AssetChange, Review
from folio.assets.signals import asset_status_changed
from folio.errors import Conflict, InvalidInput, PermissionDenied
from tests.assets._workflow_fixtures import *  # noqa: F403 - fixtures
from tests.assets._workflow_fixtures import add_version, client_for

S = Asset.Status
JSON = {"content_type": "application/json"}


@pytest.fixture
def status_events():
    seen = []

    def receive(sender, asset, old, new, **kwargs):
        seen.append((asset.pk, old, new))

    asset_status_changed.connect(receive, dispatch_uid="test-workflow-events")
    yield seen
    asset_status_changed.disconnect(dispatch_uid="test-workflow-events")


def test_default_lifecycle(add_asset, uploader, groups_and_approvers, status_events):
    approver = groups_and_approvers["plain"]
    asset = add_asset()
    assert asset.status == S.DRAFT
    assert rights.is_publishable(asset) == (False, ["status is draft, not approved"])

    workflow.submit_for_review(asset.pk, uploader)
    workflow.decide(asset.pk, approve=True, comment="looks right", user=approver)
    asset.refresh_from_db()
    assert asset.status == S.APPROVED
    assert rights.is_publishable(asset) == (True, [])
    review = Review.objects.get(asset=asset)
    assert (review.step, review.decision, review.decided_by, review.version_number) == (
        "approval",
        "approved",
        approver,
        1,
    )

    workflow.archive(asset.pk, uploader)
    asset.refresh_from_db()
    assert asset.status == S.ARCHIVED
    assert rights.is_publishable(asset)[0] is False
    workflow.unarchive(asset.pk, uploader)
    asset.refresh_from_db()
    assert asset.status == S.APPROVED  # its version's review was complete

    actions = list(
        AssetChange.objects.filter(asset=asset).order_by("id").values_list("action", flat=True)
    )
    assert actions == ["create", "submit", "approve", "archive", "unarchive"]
    assert AuditEntry.objects.filter(
        action="asset.approve", object_id=str(asset.pk), username=approver.username
    ).exists()
    assert status_events == [
        (asset.pk, "draft", "in_review"),
        (asset.pk, "in_review", "approved"),
        (asset.pk, "approved", "archived"),
        (asset.pk, "archived", "approved"),
    ]


def test_unarchive_without_complete_review_goes_back_to_draft(add_asset, uploader):
    asset = add_asset()
    workflow.submit_for_review(asset.pk, uploader)
    workflow.archive(asset.pk, uploader)
    workflow.unarchive(asset.pk, uploader)
    asset.refresh_from_db()
    assert asset.status == S.DRAFT
    with pytest.raises(Conflict):
        workflow.unarchive(asset.pk, uploader)


def test_uploader_cannot_approve_own_version(add_asset, make_user):
    admin = make_user("admin", "boss")
    asset = add_asset(user=admin)
    workflow.submit_for_review(asset.pk, admin)
    with pytest.raises(PermissionDenied, match="someone else approves"):
        workflow.decide(asset.pk, approve=True, user=admin)
    client = client_for(admin)
    response = client.post(f"/api/v1/assets/{asset.pk}/approve", **JSON)
    assert response.status_code == 403
    assert response.json()["error"]["details"]["reason"] == "separation_of_duties"
    # Rejecting one's own upload (withdrawing it) is allowed.
    workflow.decide(asset.pk, approve=False, comment="wrong crop", user=admin)
    asset.refresh_from_db()
    assert asset.status == S.REJECTED


def test_three_steps_in_order_by_their_groups(
    add_asset, uploader, groups_and_approvers, three_steps
):
    brand, legal, creative = (groups_and_approvers[k] for k in ("brand", "legal", "creative"))
    asset = add_asset("Winter hero", collections=["winter"])
    c_up, c_brand, c_legal, c_creative = map(client_for, (uploader, brand, legal, creative))
    assert c_up.post(f"/api/v1/assets/{asset.pk}/submit").status_code == 200

    detail = c_brand.get(f"/api/v1/assets/{asset.pk}").json()
    assert detail["approval"]["workflow"] == "campaign-review"
    assert detail["approval"]["next_step"] == {"name": "brand", "group": "brand-approvers"}
    assert detail["approval"]["you_may_decide"] is True

    # legal cannot decide the brand step (wrong group), nor its own step before brand
    r = c_legal.post(f"/api/v1/assets/{asset.pk}/approve", **JSON)
    assert r.status_code == 403
    assert r.json()["error"]["details"]["group"] == "brand-approvers"
    r = c_legal.post(f"/api/v1/assets/{asset.pk}/approve", {"step": "legal"}, **JSON)
    assert r.status_code == 409
    assert r.json()["error"]["details"]["next_step"] == "brand"
    r = c_legal.post(f"/api/v1/assets/{asset.pk}/approve", {"step": "finance"}, **JSON)
    assert r.status_code == 422

    r = c_brand.post(f"/api/v1/assets/{asset.pk}/approve", {"step": "brand"}, **JSON)
    assert r.status_code == 200
    assert r.json()["status"] == "in_review"
    assert r.json()["approval"]["next_step"]["name"] == "legal"
    # brand again: already decided
    r = c_brand.post(f"/api/v1/assets/{asset.pk}/approve", {"step": "brand"}, **JSON)
    assert r.status_code == 409
    r = c_creative.post(f"/api/v1/assets/{asset.pk}/approve", {"step": "creative"}, **JSON)
    assert r.status_code == 409

    assert c_legal.post(f"/api/v1/assets/{asset.pk}/approve", **JSON).status_code == 200
    r = c_creative.post(f"/api/v1/assets/{asset.pk}/approve", {"comment": "lovely"}, **JSON)
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "approved"
    assert [(x["step"], x["decided_by"]) for x in body["approval"]["reviews"]] == [
        ("brand", "brand-approver"),
        ("legal", "legal-approver"),
        ("creative", "creative-approver"),
    ]
    assert body["rights"]["publishable"] is True

    # A new version needs every step again.
    add_version(asset, uploader)
    asset.refresh_from_db()
    assert asset.status == S.IN_REVIEW
    state = workflow.review_state(asset)
    assert state.version_number == 2
    assert state.approved_steps == [] and state.next_step["name"] == "brand"
    assert rights.is_publishable(asset)[0] is False
    with pytest.raises(PermissionDenied):
        workflow.decide(asset.pk, approve=True, user=legal)
    for user in (brand, legal, creative):
        workflow.decide(asset.pk, approve=True, user=user)
    asset.refresh_from_db()
    assert asset.status == S.APPROVED
    assert Review.objects.filter(asset=asset, version_number=2).count() == 3


def test_admin_may_decide_any_step(add_asset, uploader, three_steps, make_user):
    admin = make_user("admin", "root")
    asset = add_asset(collections=["winter"])
    workflow.submit_for_review(asset.pk, uploader)
    for _ in range(3):
        workflow.decide(asset.pk, approve=True, user=admin)
    asset.refresh_from_db()
    assert asset.status == S.APPROVED


def test_rejection_needs_a_comment_and_restarts_the_round(
    add_asset, uploader, groups_and_approvers, three_steps
):
    brand, legal = groups_and_approvers["brand"], groups_and_approvers["legal"]
    asset = add_asset(collections=["winter"])
    workflow.submit_for_review(asset.pk, uploader)
    workflow.decide(asset.pk, approve=True, user=brand)
    r = client_for(legal).post(f"/api/v1/assets/{asset.pk}/reject", {"comment": "  "}, **JSON)
    assert r.status_code == 422
    assert r.json()["error"]["details"]["field"] == "comment"
    with pytest.raises(InvalidInput):
        workflow.decide(asset.pk, approve=False, user=legal)
    r = client_for(legal).post(
        f"/api/v1/assets/{asset.pk}/reject",
        {"comment": "claim 'best' needs proof"},
        content_type="application/json",
    )
    assert r.status_code == 200
    assert r.json()["status"] == "rejected"
    assert r.json()["approval"]["reviews"][-1]["comment"] == "claim 'best' needs proof"
    with pytest.raises(Conflict):  # not in review any more
        workflow.decide(asset.pk, approve=True, user=brand)

    workflow.submit_for_review(asset.pk, uploader)
    asset.refresh_from_db()
    state = workflow.review_state(asset)
    assert state.approved_steps == [] and state.next_step["name"] == "brand"


def test_kind_workflow_applies_without_a_collection_workflow(add_asset, groups_and_approvers):
    from folio.assets import editing

    editing.create_workflow(
        "logo-review", steps=[{"name": "legal", "group": "legal-approvers"}], kinds=["logo"]
    )
    logo = add_asset("Aqualine logo", kind="logo")
    shot = add_asset("Packshot", kind="packshot")
    assert workflow.workflow_for(logo).code == "logo-review"
    assert workflow.workflow_for(shot).code == "default"


def test_review_queue(add_asset, uploader, groups_and_approvers, three_steps):
    brand, legal = groups_and_approvers["brand"], groups_and_approvers["legal"]
    asset = add_asset(collections=["winter"])
    other = add_asset("Not submitted", collections=["winter"])
    workflow.submit_for_review(asset.pk, uploader)
    assert [a.pk for a, _ in workflow.pending_for(brand)] == [asset.pk]
    assert workflow.pending_for(legal) == []
    assert workflow.pending_for(uploader) == []  # no approve permission
    workflow.decide(asset.pk, approve=True, user=brand)
    assert workflow.pending_for(brand) == []
    queue = client_for(legal).get("/api/v1/assets/review-queue").json()
    assert [(i["asset"]["id"], i["step"]["name"]) for i in queue] == [(asset.pk, "legal")]
    assert other.pk not in [i["asset"]["id"] for i in queue]


def test_viewer_and_asset_manager_cannot_approve(add_asset, uploader, api_client):
    asset = add_asset()
    viewer = api_client("viewer")
    assert viewer.post(f"/api/v1/assets/{asset.pk}/submit").status_code == 403
    workflow.submit_for_review(asset.pk, uploader)
    assert viewer.post(f"/api/v1/assets/{asset.pk}/approve", **JSON).status_code == 403
    manager = api_client("asset_manager")
    assert manager.post(f"/api/v1/assets/{asset.pk}/approve", **JSON).status_code == 403
    assert viewer.post(f"/api/v1/assets/{asset.pk}/archive").status_code == 403


def test_submit_rules(add_asset, uploader):
    asset = add_asset()
    workflow.submit_for_review(asset.pk, uploader)
    with pytest.raises(Conflict):
        workflow.submit_for_review(asset.pk, uploader)


def test_cli(add_asset, uploader, groups_and_approvers):
    approver = groups_and_approvers["plain"]
    asset = add_asset("CLI asset")
    out = io.StringIO()
    call_command("asset_review", "submit", str(asset.pk), "--as-user", "uploader", stdout=out)
    assert f"asset {asset.pk} is in_review" in out.getvalue()
    out = io.StringIO()
    call_command("asset_review", "queue", "--as-user", approver.username, stdout=out)
    assert "CLI asset" in out.getvalue()
    out = io.StringIO()
    call_command(
        "asset_review",
        "reject",
        str(asset.pk),
        "--comment",
        "blurry",
        "--as-user",
        approver.username,
        stdout=out,
    )
    assert "is rejected" in out.getvalue()
    call_command(
        "asset_review", "submit", str(asset.pk), "--as-user", "uploader", stdout=io.StringIO()
    )
    out = io.StringIO()
    call_command(
        "asset_review", "approve", str(asset.pk), "--as-user", approver.username, stdout=out
    )
    assert "is approved" in out.getvalue()
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--as-user"):
        call_command("asset_review", "approve", str(asset.pk), stdout=io.StringIO())
