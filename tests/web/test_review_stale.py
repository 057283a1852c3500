"""Concurrent decisions on the combined review page: it sends back the version of each file
it showed; a decision from a page on which someone else decided (or changed a file) since is
refused with the current state, nothing decided, and a fresh page works."""

import re

from folio.assets import workflow
from folio.assets.models import Asset, Review, ReviewWorkflow
from folio.catalog import services as catalog
from folio.catalog.models import Channel, Proposal
from folio.linking import services as linking
from tests.web.conftest import new_asset, value

STALE = "This product&#x27;s review changed since you opened the page"


def html(response) -> str:
    return response.content.decode()


def _pending(users):
    """A proposal for BT-750-BLUE and a linked file in a two-step review."""
    Channel.objects.filter(code="ecommerce").update(requires_review=True)
    proposal = catalog.update_product(
        "BT-750-BLUE", {"values": {"gtin": value("4006381333955")}}, user=users["catalog_editor"]
    )
    assert isinstance(proposal, Proposal)
    ada = users["asset_manager"]
    file = new_asset("Blue side", user=ada, kind="campaign")
    ReviewWorkflow.objects.create(
        code="two-step",
        name="Look, then legal",
        steps=[{"name": "look"}, {"name": "legal"}],
        kinds=["campaign"],
    )
    workflow.submit_for_review(file.pk, ada)
    linking.link("BT-750-BLUE", file.pk, "gallery")
    return proposal, file


def form_of(page: str) -> dict:
    """What the page's form sends when its approve button is pressed (boxes as checked)."""
    data = {"action": "approve", "comment": "looks right"}
    for name, val in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page):
        if name != "csrfmiddlewaretoken":
            data[name] = val
    for name, val in re.findall(
        r'<input type="checkbox" id="[^"]+" name="(\w+)" value="(\d+)"', page
    ):
        data.setdefault(name, []).append(val)
    return data


def test_the_page_sends_back_the_version_of_each_file(shop, client_for, users):
    _proposal, file = _pending(users)
    page = html(client_for("admin").get("/review/BT-750-BLUE/"))
    file.refresh_from_db()
    assert f'name="asset_version_{file.pk}" value="{file.version}"' in page


def test_approving_from_a_stale_page_decides_nothing(shop, client_for, users):
    proposal, file = _pending(users)
    admin = client_for("admin")
    seen = form_of(html(admin.get("/review/BT-750-BLUE/")))
    assert seen["asset"] == [str(file.pk)] and seen["proposal"] == [str(proposal.pk)]

    # meanwhile another approver decides the file's first step ("look"): the stale page would
    # now approve "legal", a step its reviewer never saw
    workflow.decide(file.pk, approve=True, comment="ok", user=users["approver"])
    stale = admin.post("/review/BT-750-BLUE/", seen)
    assert stale.status_code == 409
    page = html(stale)
    assert STALE in page and "nothing was changed" in page
    assert "step legal" in page  # the current state
    assert "looks right" in page  # the reviewer's comment is kept
    proposal.refresh_from_db()
    assert proposal.status == "pending"  # all or nothing: the proposal is not approved either
    assert list(Review.objects.filter(asset=file).values_list("step", flat=True)) == ["look"]

    # the page it answered is fresh: approving from it works
    done = admin.post("/review/BT-750-BLUE/", form_of(page))
    assert done.status_code == 302
    proposal.refresh_from_db()
    file.refresh_from_db()
    assert proposal.status == "approved" and file.status == Asset.Status.APPROVED


def test_rejecting_a_file_that_changed_since_is_refused(shop, client_for, users):
    _proposal, file = _pending(users)
    admin = client_for("admin")
    seen = form_of(html(admin.get("/review/BT-750-BLUE/")))
    workflow.decide(file.pk, approve=True, comment="ok", user=users["approver"])
    seen.update(action=f"reject-asset-{file.pk}", comment="too dark")
    stale = admin.post("/review/BT-750-BLUE/", seen)
    assert stale.status_code == 409 and STALE in html(stale)
    file.refresh_from_db()
    assert file.status == Asset.Status.IN_REVIEW

    fresh = form_of(html(admin.get("/review/BT-750-BLUE/")))
    fresh.update(action=f"reject-asset-{file.pk}", comment="too dark")
    assert admin.post("/review/BT-750-BLUE/", fresh).status_code == 302
    file.refresh_from_db()
    assert file.status == Asset.Status.REJECTED


def test_a_proposal_decided_by_someone_else_meanwhile(shop, client_for, users):
    proposal, file = _pending(users)
    admin = client_for("admin")
    seen = form_of(html(admin.get("/review/BT-750-BLUE/")))
    catalog.review_proposal(
        proposal.pk, approve=False, comment="no", user=users["catalog_reviewer"]
    )
    stale = admin.post("/review/BT-750-BLUE/", seen)
    assert stale.status_code == 409
    page = html(stale)
    assert STALE in page and "No pending proposals." in page
    file.refresh_from_db()
    assert not Review.objects.filter(asset=file).exists()  # the file was not approved either


def test_the_page_sends_back_the_product_version(shop, client_for, users):
    _pending(users)
    page = html(client_for("admin").get("/review/BT-750-BLUE/"))
    version = catalog.get_product("BT-750-BLUE").version
    assert f'<input type="hidden" name="product_version" value="{version}">' in page


def test_approving_after_the_product_changed_approves_nothing(shop, client_for, users):
    """The proposal's diff was shown against the live values; a reviewer's direct edit since
    changes what approving would do, so the approval from the old page is refused."""
    proposal, file = _pending(users)
    admin = client_for("admin")
    seen = form_of(html(admin.get("/review/BT-750-BLUE/")))
    before = catalog.get_product("BT-750-BLUE").version
    assert seen["product_version"] == str(before)

    catalog.update_product(
        "BT-750-BLUE",
        {"values": {"price": value([{"amount": "19.90", "currency": "USD"}])}},
        user=users["catalog_reviewer"],
    )
    stale = admin.post("/review/BT-750-BLUE/", seen)
    assert stale.status_code == 409
    page = html(stale)
    assert STALE in page and "nothing was changed" in page
    assert f"you saw version {before}" in page  # why, naming the versions
    now = catalog.get_product("BT-750-BLUE").version
    assert f'name="product_version" value="{now}"' in page  # the current state
    proposal.refresh_from_db()
    file.refresh_from_db()
    assert proposal.status == "pending" and file.status == Asset.Status.IN_REVIEW
    assert not Review.objects.filter(asset=file).exists()

    done = admin.post("/review/BT-750-BLUE/", form_of(page))
    assert done.status_code == 302
    proposal.refresh_from_db()
    assert proposal.status == "approved"
    assert catalog.resolved_values(catalog.get_product("BT-750-BLUE"))["gtin"][0]["data"] == (
        "4006381333955"
    )


def test_a_page_without_versions_still_approves(shop, client_for, users):
    """An older page (or a script) sending no versions approves without the check, as the
    API does without them."""
    proposal, _file = _pending(users)
    admin = client_for("admin")
    seen = form_of(html(admin.get("/review/BT-750-BLUE/")))
    data = {k: v for k, v in seen.items() if "version" not in k}
    catalog.update_product(
        "BT-750-BLUE",
        {"values": {"price": value([{"amount": "19.90", "currency": "USD"}])}},
        user=users["catalog_reviewer"],
    )
    assert admin.post("/review/BT-750-BLUE/", data).status_code == 302
    proposal.refresh_from_db()
    assert proposal.status == "approved"


def test_a_viewer_posting_the_form_is_refused(shop, client_for, users):
    proposal, _file = _pending(users)
    seen = form_of(html(client_for("admin").get("/review/BT-750-BLUE/")))
    viewer = client_for("viewer")
    page = html(viewer.get("/review/BT-750-BLUE/"))
    assert 'value="approve"' not in page and 'name="proposal"' not in page
    assert viewer.post("/review/BT-750-BLUE/", seen).status_code == 403
    proposal.refresh_from_db()
    assert proposal.status == "pending"
