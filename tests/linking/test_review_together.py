"""Review together: proposals with their diff and pending linked files, approved all or
nothing, with each refusal named."""

import pytest

from folio.assets.models import Asset, ReviewWorkflow
from folio.catalog import services
from folio.catalog.models import Proposal
from folio.errors import InvalidInput, PermissionDenied
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
