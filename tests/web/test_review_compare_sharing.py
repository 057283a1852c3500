"""Compare, the combined review page, the brand kit and share links."""

import datetime
import re

from folio.assets import workflow
from folio.assets.models import Collection, ColorPalette, ShareLink
from folio.catalog import services as catalog
from folio.catalog.models import Channel, Proposal
from folio.linking import services as linking
from tests.web.conftest import new_asset, value


def html(response) -> str:
    return response.content.decode()


def test_compare_marks_the_rows_that_differ(shop, client_for):
    page = html(
        client_for("viewer").get(
            "/compare/?sku=BT-750-BLUE,BT-750-GREEN&channel=ecommerce&locale=en_US"
        )
    )
    color = re.search(r'<tr class="differs"><th scope="row">Color.*?</tr>', page, re.S)
    assert color and "Blue" in color.group(0) and "Green" in color.group(0)
    assert not re.search(r'<tr class="differs"><th scope="row">Brand', page)
    only = html(
        client_for("viewer").get(
            "/compare/?sku=BT-750-BLUE&sku=BT-750-GREEN&channel=ecommerce&locale=en_US"
            "&differences=1"
        )
    )
    assert ">Brand<" not in only and ">Color" in only
    unknown = html(client_for("viewer").get("/compare/?sku=NOPE"))
    assert "no product with SKU NOPE" in unknown


def _proposal_and_pending_file(users):
    Channel.objects.filter(code="ecommerce").update(requires_review=True)
    proposal = catalog.update_product(
        "BT-750-BLUE", {"values": {"gtin": value("4006381333955")}}, user=users["catalog_editor"]
    )
    assert isinstance(proposal, Proposal)
    ada = users["asset_manager"]
    pending = new_asset("Blue side", user=ada)
    workflow.submit_for_review(pending.pk, ada)
    linking.link("BT-750-BLUE", pending.pk, "gallery")
    return proposal, pending


def test_review_page_shows_the_change_with_its_files(shop, client_for, users):
    _proposal_and_pending_file(users)
    page = html(client_for("viewer").get("/review/BT-750-BLUE/"))
    assert "4006381333931" in page and "4006381333955" in page  # old → new
    assert "Blue side" in page
    assert "Approve the selected together" not in page  # a viewer decides nothing
    index = html(client_for("viewer").get("/review/"))
    assert 'href="/review/BT-750-BLUE/"' in index


def test_approve_together_or_refuse_all(shop, client_for, users):
    proposal, pending = _proposal_and_pending_file(users)
    # the reviewer may approve the proposal but not the file: nothing is approved
    reviewer = client_for("catalog_reviewer")
    refused = reviewer.post(
        "/review/BT-750-BLUE/",
        {"action": "approve", "proposal": proposal.pk, "asset": pending.pk},
    )
    assert refused.status_code == 403 and "nothing was approved" in html(refused)
    proposal.refresh_from_db()
    assert proposal.status == "pending"
    # an administrator may do both, in one go
    admin = client_for("admin")
    done = admin.post(
        "/review/BT-750-BLUE/",
        {"action": "approve", "proposal": proposal.pk, "asset": pending.pk, "comment": "ok"},
    )
    assert done.status_code == 302
    proposal.refresh_from_db()
    pending.refresh_from_db()
    assert proposal.status == "approved" and pending.status == "approved"


def test_rejecting_needs_a_reason(shop, client_for, users):
    proposal, _pending = _proposal_and_pending_file(users)
    reviewer = client_for("catalog_reviewer")
    action = f"reject-proposal-{proposal.pk}"
    assert reviewer.post("/review/BT-750-BLUE/", {"action": action}).status_code == 422
    reviewer.post("/review/BT-750-BLUE/", {"action": action, "comment": "wrong GTIN"})
    proposal.refresh_from_db()
    assert (proposal.status, proposal.comment) == ("rejected", "wrong GTIN")
    viewer = client_for("viewer")
    assert viewer.post("/review/BT-750-BLUE/", {"action": action, "comment": "x"}).status_code in (
        403,
        409,
    )


def test_brand_kit_palettes_and_files(shop, client_for):
    kit = Collection.objects.create(code="brand", name="Aqualine brand", is_brand_kit=True)
    logo = new_asset("Aqualine logo", kind="logo")
    logo.collections.add(kit)
    manager = client_for("asset_manager")
    page = html(manager.get("/brand-kits/brand/"))
    assert "Aqualine logo" in page and "not for use" in page  # editors see its state
    viewer_page = html(client_for("viewer").get("/brand-kits/brand/"))
    assert "Aqualine logo" not in viewer_page  # others get approved, in-rights files only
    assert "Add a palette" not in viewer_page
    wrong = manager.post("/brand-kits/brand/", {"name": "Core", "colours": "Blue #12"})
    assert wrong.status_code == 422 and "#RRGGBB" in html(wrong)
    manager.post("/brand-kits/brand/", {"name": "Core", "colours": "Aqualine Blue #0B5CAD"})
    palette = ColorPalette.objects.get(collection=kit)
    assert palette.colours[0]["rgb"] == [11, 92, 173]
    assert "CMYK" in html(manager.get("/brand-kits/brand/"))
    refused = client_for("viewer").post("/brand-kits/brand/", {"name": "X", "colours": ""})
    assert refused.status_code == 403


def test_share_links_created_once_listed_and_withdrawn(shop, client_for):
    manager = client_for("asset_manager")
    prefilled = html(manager.get(f"/shares/?asset={shop['approved'].pk}"))
    assert "Blue bottle front" in prefilled
    created = manager.post(
        "/shares/",
        {"name": "Retailer X", "expires": "2099-01-01", "asset": str(shop["approved"].pk)},
    )
    assert created.status_code == 422 and "more than one year" in html(created)
    created = manager.post(
        "/shares/", {"name": "Retailer X", "expires": "soon", "asset": str(shop["approved"].pk)}
    )
    assert created.status_code == 422 and "must expire" in html(created)
    day = (datetime.date.today() + datetime.timedelta(days=20)).isoformat()
    created = manager.post(
        "/shares/", {"name": "Retailer X", "expires": day, "asset": str(shop["approved"].pk)}
    )
    assert created.status_code == 200
    url = re.search(r'id="created-url" value="([^"]+)"', html(created))[1]
    assert "/share/" in url
    link = ShareLink.objects.get(name="Retailer X")
    assert link.expires_at.date().isoformat() == day
    assert url not in html(manager.get("/shares/"))  # shown once
    manager.post(f"/shares/{link.pk}/revoke/")
    link.refresh_from_db()
    assert link.revoked_at is not None
    viewer = client_for("viewer")
    assert viewer.get("/shares/").status_code == 403
    assert viewer.post(f"/shares/{link.pk}/revoke/").status_code == 403
