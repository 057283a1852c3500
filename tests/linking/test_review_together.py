"""Review together: proposals with their diff and pending linked files, approved all or
nothing, with each refusal named."""

import pytest

from folio.assets.editing import update_asset
from folio.assets.models import Asset, ReviewWorkflow
from folio.catalog import services
from folio.catalog.models import Proposal
from folio.errors import InvalidInput, PermissionDenied, StaleWrite
from folio.linking import review
from folio.linking.models import Link
from tests.linking import test_sku360 as base
from tests.linking.test_sku360 import add_asset, bottle_family

media, people = base.media, base.people


@pytest.fixture
def pending(catalog, people):
    _, sub, products = bottle_family()
    blue = products["blue"]
    proposal = services.propose(
        blue,
        {"values": {"gtin": [{"locale": None, "scope": None, "data": "4006381333948"}]}},
        people["editor"],
    )
    photo = add_asset(people["uploader"], "new front", submit=True)
    draft = add_asset(people["uploader"], "rough cut")
    Link.objects.create(product=blue, asset=photo, role="main")
    Link.objects.create(product_model=sub, asset=draft, role="gallery")
    return {"blue": blue, "proposal": proposal, "photo": photo, "draft": draft}


def test_bundle_shows_diff_and_pending_assets(pending, people):
    data = review.review_bundle("WB-750-SS-BLUE", user=people["admin"])
    [p] = data["proposals"]
    [change] = p["diff"]
    assert (change["attribute"], change["old"], change["new"]) == (
        "gtin",
        "4006381333931",
        "4006381333948",
    )
    assets = {a["id"]: a for a in data["assets"]}
    assert assets[pending["photo"].pk]["next_step"]["name"] == "approval"
    assert assets[pending["photo"].pk]["may_decide"] is True
    assert assets[pending["draft"].pk]["status"] == "draft"
    assert "submit it for review" in assets[pending["draft"].pk]["refusal"]


def test_approve_together_all(pending, people):
    result = review.approve_together(
        "WB-750-SS-BLUE",
        proposal_ids=[pending["proposal"].pk],
        asset_ids=[pending["photo"].pk],
        comment="ok",
        user=people["admin"],
    )
    assert result["assets"] == [{"id": pending["photo"].pk, "status": "approved"}]
    blue = services.get_product("WB-750-SS-BLUE")
    assert services.resolved_values(blue)["gtin"][0]["data"] == "4006381333948"


def test_approve_together_is_all_or_nothing(pending, people):
    ReviewWorkflow.objects.create(
        code="legal",
        name="Legal",
        steps=[{"name": "legal", "group": "legal"}],
        kinds=["packshot"],
    )
    # The reviewer may approve the proposal but is no asset approver in group legal.
    with pytest.raises(PermissionDenied) as err:
        review.approve_together(
            "WB-750-SS-BLUE",
            proposal_ids=[pending["proposal"].pk],
            asset_ids=[pending["photo"].pk, pending["draft"].pk],
            user=people["reviewer"],
        )
    refusals = err.value.details["refusals"]
    assert not [r for r in refusals if "proposal_id" in r]
    reasons = {r["asset_id"]: r["reason"] for r in refusals}
    assert "group legal" in reasons[pending["photo"].pk]
    assert "submit it for review" in reasons[pending["draft"].pk]
    pending["proposal"].refresh_from_db()
    assert pending["proposal"].status == Proposal.Status.PENDING
    assert Asset.objects.get(pk=pending["photo"].pk).status == "in_review"
    # An approver outside the step's group is refused by name of the group.
    with pytest.raises(PermissionDenied, match="group legal"):
        review.approve_together(
            "WB-750-SS-BLUE", asset_ids=[pending["photo"].pk], user=people["approver"]
        )


def test_api_viewer_reads_but_cannot_approve(pending, api_client):
    viewer = api_client("viewer")
    r = viewer.get("/api/v1/catalog/products/WB-750-SS-BLUE/review")
    assert r.status_code == 200 and len(r.json()["proposals"]) == 1
    r = viewer.post(
        "/api/v1/catalog/products/WB-750-SS-BLUE/review/approve",
        {"proposal_ids": [pending["proposal"].pk], "asset_ids": [pending["photo"].pk]},
        content_type="application/json",
    )
    assert r.status_code == 403, r.content
    assert len(r.json()["error"]["details"]["refusals"]) == 2
    admin = api_client("admin")
    r = admin.post(
        "/api/v1/catalog/products/WB-750-SS-BLUE/review/approve",
        {"proposal_ids": [pending["proposal"].pk], "asset_ids": [pending["photo"].pk]},
        content_type="application/json",
    )
    assert r.status_code == 200, r.content


def test_a_failure_half_way_rolls_everything_back(pending, people):
    """The photo is approvable, but the proposal no longer applies (the green bottle took
    that colour meanwhile): nothing is approved."""
    stale = services.propose(
        pending["blue"],
        {"values": {"color": [{"locale": None, "scope": None, "data": "green"}]}},
        people["editor"],
    )
    with pytest.raises(InvalidInput, match="nothing was approved") as err:
        review.approve_together(
            "WB-750-SS-BLUE",
            proposal_ids=[stale.pk],
            asset_ids=[pending["photo"].pk],
            user=people["admin"],
        )
    assert err.value.details["refusals"][0]["proposal_id"] == stale.pk
    stale.refresh_from_db()
    assert stale.status == Proposal.Status.PENDING
    assert Asset.objects.get(pk=pending["photo"].pk).status == "in_review"


APPROVE = "/api/v1/catalog/products/WB-750-SS-BLUE/review/approve"


def _seen(client) -> dict:
    """What an API client read before approving: the bundle's versions."""
    bundle = client.get("/api/v1/catalog/products/WB-750-SS-BLUE/review").json()
    return {
        "proposal_ids": [p["id"] for p in bundle["proposals"]],
        "product_version": bundle["version"],
        "asset_versions": {str(a["id"]): a["version"] for a in bundle["assets"]},
    }


def test_bundle_carries_the_versions_to_send_back(pending, people):
    data = review.review_bundle("WB-750-SS-BLUE", user=people["admin"])
    assert data["version"] == services.get_product("WB-750-SS-BLUE").version
    versions = {a["id"]: a["version"] for a in data["assets"]}
    assert versions[pending["photo"].pk] == Asset.objects.get(pk=pending["photo"].pk).version


def test_approving_after_the_product_changed_is_refused(pending, people):
    seen = services.get_product("WB-750-SS-BLUE").version
    services.update_product(
        "WB-750-SS-BLUE",
        {"values": {"gtin": [{"locale": None, "scope": None, "data": "4006381333955"}]}},
        user=people["reviewer"],
    )
    with pytest.raises(StaleWrite, match=f"you saw version {seen}") as err:
        review.approve_together(
            "WB-750-SS-BLUE",
            proposal_ids=[pending["proposal"].pk],
            asset_ids=[pending["photo"].pk],
            user=people["admin"],
            product_version=seen,
        )
    assert err.value.status == 409
    assert [r["kind"] for r in err.value.details["refusals"]] == ["stale"]
    assert err.value.details["current_version"] == seen + 1
    pending["proposal"].refresh_from_db()
    assert pending["proposal"].status == Proposal.Status.PENDING
    assert Asset.objects.get(pk=pending["photo"].pk).status == "in_review"
    # with the version it has now, the same approval goes through
    review.approve_together(
        "WB-750-SS-BLUE",
        proposal_ids=[pending["proposal"].pk],
        asset_ids=[pending["photo"].pk],
        user=people["admin"],
        product_version=seen + 1,
    )
    pending["proposal"].refresh_from_db()
    assert pending["proposal"].status == Proposal.Status.APPROVED


def test_api_refuses_a_stale_product_version_with_the_current_bundle(pending, api_client, people):
    admin = api_client("admin")
    seen = _seen(admin)
    services.update_product(
        "WB-750-SS-BLUE",
        {"values": {"gtin": [{"locale": None, "scope": None, "data": "4006381333955"}]}},
        user=people["reviewer"],
    )
    r = admin.post(APPROVE, {**seen, "comment": "ok"}, content_type="application/json")
    assert r.status_code == 409, r.content
    error = r.json()["error"]
    assert error["code"] == "stale_write" and "nothing was approved" in error["message"]
    current = error["details"]["current"]
    assert current["version"] == seen["product_version"] + 1
    assert current["proposals"][0]["stale"] is True  # proposed on an earlier version
    [change] = current["proposals"][0]["diff"]  # the diff against the live values now
    assert change["old"] == "4006381333955"
    pending["proposal"].refresh_from_db()
    assert pending["proposal"].status == Proposal.Status.PENDING
    assert Asset.objects.get(pk=pending["photo"].pk).status == "in_review"

    again = admin.post(
        APPROVE,
        {**_seen(admin), "asset_ids": [pending["photo"].pk]},
        content_type="application/json",
    )
    assert again.status_code == 200, again.content
    assert again.json()["assets"] == [{"id": pending["photo"].pk, "status": "approved"}]


def test_api_refuses_a_file_changed_since_it_was_read(pending, api_client):
    admin = api_client("admin")
    seen = {**_seen(admin), "asset_ids": [pending["photo"].pk]}
    photo = pending["photo"]
    update_asset(photo.pk, {"title": "new front, cropped"}, user=pending["photo"].created_by)
    r = admin.post(APPROVE, seen, content_type="application/json")
    assert r.status_code == 409, r.content
    error = r.json()["error"]
    [refusal] = error["details"]["refusals"]
    assert refusal["asset_id"] == photo.pk and refusal["kind"] == "stale"
    assert "you saw version" in refusal["reason"]
    [now] = [a for a in error["details"]["current"]["assets"] if a["id"] == photo.pk]
    assert now["title"] == "new front, cropped"
    assert now["version"] == seen["asset_versions"][str(photo.pk)] + 1
    pending["proposal"].refresh_from_db()
    assert pending["proposal"].status == Proposal.Status.PENDING  # all or nothing
    assert Asset.objects.get(pk=photo.pk).status == "in_review"


def test_api_refuses_a_proposal_decided_meanwhile(pending, api_client, people):
    admin = api_client("admin")
    seen = {**_seen(admin), "asset_ids": [pending["photo"].pk]}
    services.review_proposal(pending["proposal"].pk, approve=False, user=people["reviewer"])
    r = admin.post(APPROVE, seen, content_type="application/json")
    assert r.status_code == 409, r.content
    details = r.json()["error"]["details"]
    assert details["refusals"][0]["proposal_id"] == pending["proposal"].pk
    assert "rejected already" in details["refusals"][0]["reason"]
    assert details["current"]["proposals"] == []
    assert Asset.objects.get(pk=pending["photo"].pk).status == "in_review"


def test_api_rejects_a_malformed_version(pending, api_client):
    r = api_client("admin").post(
        APPROVE,
        {"proposal_ids": [pending["proposal"].pk], "asset_versions": {"x": "y"}},
        content_type="application/json",
    )
    assert r.status_code in (400, 422), r.content
    pending["proposal"].refresh_from_db()
    assert pending["proposal"].status == Proposal.Status.PENDING
