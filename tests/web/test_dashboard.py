"""The dashboard: completeness per channel and locale, files awaiting a decision and nearing the
end of their rights, the last publications with skipped counts and reasons, recent activity."""

import datetime
import re

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from folio.assets import workflow
from folio.assets.models import Asset
from folio.catalog.models import Channel
from folio.publishing.models import Feed, Publication
from tests.web.conftest import new_asset


def html(response) -> str:
    return response.content.decode()


def test_completeness_per_channel_and_locale(shop, client_for):
    page = html(client_for("viewer").get("/"))
    table = page.split("Completeness in channel marketplace", 1)[1].split("</table>", 1)[0]
    # marketplace en_US: the bottles lack short_title → 2 of 3 incomplete
    row = table.split('<th scope="row">en_US</th>', 1)[1].split("</tr>", 1)[0]
    assert re.search(r"1 / 3", row)
    assert 'href="/products/?channel=marketplace&amp;locale=en_US&amp;complete=incomplete"' in row
    assert "% on average" in row


def test_awaiting_and_expiring_panels(shop, client_for, users):
    pending = new_asset("Needs a look", user=users["asset_manager"])
    workflow.submit_for_review(pending.pk, users["asset_manager"])
    Asset.objects.filter(pk=shop["approved"].pk).update(
        expires_at=timezone.now() + datetime.timedelta(days=10)
    )
    approver = html(client_for("approver").get("/"))
    assert "Awaiting your approval" in approver and "Needs a look" in approver
    viewer = html(client_for("viewer").get("/"))
    assert "Assets in review" in viewer and "Needs a look" in viewer
    expiring = viewer.split('id="expiring-h"', 1)[1].split("</section>", 1)[0]
    assert "Blue bottle front" in expiring


def test_last_publications_with_skipped_counts_and_reasons(shop, client_for):
    feed = Feed.objects.create(
        channel=Channel.objects.get(code="marketplace"), code="google", format="google-xml"
    )
    Publication.objects.create(
        feed=feed,
        channel=feed.channel,
        format=feed.format,
        status="done",
        counts={"published": 5, "skipped": 2},
        reasons={"missing_attribute": 2},
    )
    page = html(client_for("publisher").get("/"))
    panel = page.split('id="last-publications"', 1)[1].split("</section>", 1)[0]
    assert "marketplace / google" in panel
    assert re.search(r'<td class="num">5</td>\s*<td class="num">2</td>', panel)
    assert "(2)" in panel
    # the panel is for roles that read publications; agencies do not
    assert 'id="last-publications"' not in html(client_for("agency").get("/"))


def test_recent_activity_leaves_out_accounts(shop, client_for):
    page = html(client_for("viewer").get("/"))
    activity = page.split('id="activity-h"', 1)[1].split("</section>", 1)[0]
    assert "BT-750-BLUE" in activity or "asset" in activity
    assert "user ann" not in activity and "token" not in activity
    assert 'id="activity-h"' not in html(client_for("agency").get("/"))


def test_dashboard_query_count_is_flat(shop, client_for, users):
    client = client_for("approver")
    first = new_asset("Pending first", user=users["asset_manager"])
    workflow.submit_for_review(first.pk, users["asset_manager"])
    client.get("/")
    with CaptureQueriesContext(connection) as few:
        client.get("/")
    for n in range(6):
        asset = new_asset(f"Pending {n}", user=users["asset_manager"])
        workflow.submit_for_review(asset.pk, users["asset_manager"])
    with CaptureQueriesContext(connection) as more:
        page = html(client.get("/"))
    assert page.count("Pending ") >= 6
    assert len(more.captured_queries) <= len(few.captured_queries)
