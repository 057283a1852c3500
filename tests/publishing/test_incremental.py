"""Incremental publishing of the demo catalog: unchanged products reuse their fragments, a
changed value is an update with its diff, an expired asset, a disabled, deleted or no longer
selected product is removed, a dry run shows the diff and writes nothing, a full republish
resends everything, and a delta format gets only changes and removals."""

import datetime
import io
import json
import os

import pytest
from django.utils import timezone

from folio.assets import editing, workflow
from folio.assets import services as asset_services
from folio.assets.models import Asset
from folio.catalog import services as catalog
from folio.catalog.models import Product
from folio.publishing import resolve, runs
from folio.publishing.models import Listing
from tests.assets import files
from tests.assets.conftest import media  # noqa: F401 - the fixture
from tests.publishing.run_helpers import (  # noqa: F401 - fixtures
    Lines,
    codes,
    current_lines,
    demo_catalog,
    feed_folder,
    items_of,
    make_feed,
    reweigh_bottle_model,
    test_formats,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("demo_catalog")]

SHOP = ["EP-3000", "EP-DESCALER", "WB-750-SS-BLACK", "WB-750-SS-BLUE"]


def rename(sku: str, name: str) -> None:
    catalog.update_product(
        sku, {"values": {"name": [{"locale": "en_US", "scope": None, "data": name}]}}
    )


def listings(feed) -> dict[str, Listing]:
    return {row.sku: row for row in Listing.objects.filter(feed=feed)}


def asset(filename: str) -> int:
    return Asset.objects.get(current_version__filename=filename).pk


@pytest.fixture
def published():
    feed = make_feed()
    first = runs.publish(feed)
    assert first.status == "done" and first.counts["added"] == 4
    return feed, first, feed_folder()


def test_unchanged_products_are_reused_and_nothing_is_rewritten(published):
    feed, first, folder = published
    before = {sku: (row.fragment, row.updated_at) for sku, row in listings(feed).items()}
    p = runs.publish(feed)
    assert p.status == "done"
    assert p.counts == {
        "selected": 8,
        "published": 4,
        "added": 0,
        "updated": 0,
        "unchanged": 4,
        "removed": 0,
        "skipped": 4,
    }
    assert p.base_id == first.pk
    # the skipped ones are reported again; unchanged ones are not repeated as items
    assert {i.action for i in items_of(p).values()} == {"skipped"}
    assert p.location == first.location and p.files == []
    assert "nothing changed" in p.message
    assert {sku: (row.fragment, row.updated_at) for sku, row in listings(feed).items()} == before
    assert sorted(d.name for d in (folder / "releases").iterdir()) == [str(first.pk)]


def test_a_new_destination_gets_the_whole_feed_even_when_nothing_changed(published, tmp_path):
    feed, _, _ = published
    feed.destination = {"kind": "folder", "path": str(tmp_path / "elsewhere")}
    feed.save()
    p = runs.publish(feed)
    assert p.counts["unchanged"] == 4 and p.files
    assert sorted(current_lines(tmp_path / "elsewhere")) == SHOP


def test_a_changed_value_is_an_update_with_its_diff(published):
    feed, first, folder = published
    old_lines = current_lines(folder)
    rename("EP-3000", "EspressoPro 3000 Plus")
    p = runs.publish(feed)
    assert (p.counts["updated"], p.counts["unchanged"], p.counts["added"]) == (1, 3, 0)
    item = items_of(p)[("EP-3000", "en_US")]
    assert item.action == "updated"
    assert item.changes == [
        {"field": "title", "old": "EspressoPro 3000", "new": "EspressoPro 3000 Plus"}
    ]
    # the full feed is written again from the new fragment and the reused ones
    new_lines = current_lines(folder)
    assert sorted(new_lines) == SHOP
    assert new_lines["EP-3000"]["fields"]["title"] == "EspressoPro 3000 Plus"
    assert {s: r for s, r in new_lines.items() if s != "EP-3000"} == {
        s: r for s, r in old_lines.items() if s != "EP-3000"
    }
    rows = listings(feed)
    assert rows["EP-3000"].publication_id == p.pk
    assert rows["WB-750-SS-BLACK"].publication_id == first.pk
    # unchanged images are linked from the cache, not copied again
    for name in ("water-bottle-750-ml-black-front.webp", "espressopro-3000-front.webp"):
        old = os.stat(folder / "releases" / str(first.pk) / "images" / name)
        new = os.stat(folder / "current" / "images" / name)
        assert old.st_ino == new.st_ino


def test_a_new_file_version_is_an_update_of_the_images(published, make_user):
    feed, _, folder = published
    front = asset("WB-750-SS-BLACK_front.jpg")
    old = listings(feed)["WB-750-SS-BLACK"].renditions
    asset_services.add_version(
        front,
        io.BytesIO(files.jpeg(800, 800, color=(40, 40, 40))),
        filename="WB-750-SS-BLACK_front.jpg",
    )
    workflow.approve(front, user=make_user("admin"))
    p = runs.publish(feed)
    item = items_of(p)[("WB-750-SS-BLACK", "en_US")]
    assert item.action == "updated"
    assert [c["field"] for c in item.changes] == ["images"]
    assert item.asset_versions[str(front)] == 2
    image = current_lines(folder)["WB-750-SS-BLACK"]["images"][0]
    assert image["sha256"] == item.renditions[image["file"]] != old[image["file"]]


def test_an_expired_asset_removes_the_listing(published):
    feed, _, folder = published
    kitchen = asset("EP-3000_lifestyle.jpg")
    editing.update_asset(kitchen, {"expires_at": timezone.now() - datetime.timedelta(hours=1)})
    p = runs.publish(feed)
    assert p.counts["removed"] == 1 and p.counts["published"] == 3
    item = items_of(p)[("EP-3000", "en_US")]
    assert item.action == "removed"
    assert [(r["role"], r["asset_id"]) for r in item.reasons if r["code"] == "rights"] == [
        ("gallery", kitchen)
    ]
    assert p.reasons["rights"] == 1
    assert "EP-3000" not in current_lines(folder) and "EP-3000" not in listings(feed)


def test_rights_ending_by_the_clock_alone_remove_the_listing(published):
    """No write happens when rights end; the signature taken at the moment of the run
    sees it."""
    feed, _, _ = published
    kitchen = asset("EP-3000_lifestyle.jpg")
    Asset.objects.filter(pk=kitchen).update(
        expires_at=timezone.now() - datetime.timedelta(seconds=1)
    )  # time passed, nothing else
    p = runs.publish(feed)
    assert items_of(p)[("EP-3000", "en_US")].action == "removed"


def test_a_disabled_product_is_removed(published):
    feed, _, folder = published
    catalog.update_product("EP-DESCALER", {"enabled": False})
    p = runs.publish(feed)
    item = items_of(p)[("EP-DESCALER", "en_US")]
    assert item.action == "removed" and codes(item) == {"disabled"}
    assert (
        item.renditions == {}
        and item.product_version == Product.objects.get(sku="EP-DESCALER").version
    )
    assert p.reasons["disabled"] == 1
    assert "EP-DESCALER" not in current_lines(folder)


def test_a_deleted_product_is_removed(published):
    feed, _, folder = published
    catalog.delete_product("WB-750-SS-BLUE")
    p = runs.publish(feed)
    item = items_of(p)[("WB-750-SS-BLUE", "en_US")]
    assert item.action == "removed" and item.product_id is None
    assert item.renditions  # what was sent before, for the record
    assert sorted(current_lines(folder)) == ["EP-3000", "EP-DESCALER", "WB-750-SS-BLACK"]


def test_a_sku_taken_over_by_another_product_removes_the_old_listing(published):
    feed, _, folder = published
    catalog.delete_product("EP-DESCALER")
    catalog.create_product(
        {"sku": "EP-DESCALER", "family": "accessories", "categories": ["coffee_accessories"]}
    )  # no name, no price yet
    p = runs.publish(feed)
    actions = sorted(p.items.filter(sku="EP-DESCALER").values_list("action", flat=True))
    assert actions == ["removed", "skipped"]
    assert "EP-DESCALER" not in current_lines(folder) and "EP-DESCALER" not in listings(feed)


def test_a_product_no_longer_selected_is_removed(published):
    feed, _, folder = published
    feed.selection = {"category": "kitchen"}
    feed.save()
    p = runs.publish(feed)
    assert {s for (s, _), i in items_of(p).items() if i.action == "removed"} == {
        "WB-750-SS-BLACK",
        "WB-750-SS-BLUE",
    }
    assert sorted(current_lines(folder)) == ["EP-3000", "EP-DESCALER"]


def test_a_one_off_selection_leaves_the_other_listings_alone(published):
    feed, _, folder = published
    rename("EP-3000", "EspressoPro 3000 Plus")
    rename("EP-DESCALER", "Descaler")
    p = runs.publish(feed, selection={"skus": ["EP-3000"]})
    assert {s: i.action for (s, _), i in items_of(p).items()} == {"EP-3000": "updated"}
    lines = current_lines(folder)
    assert sorted(lines) == SHOP
    assert lines["EP-DESCALER"]["fields"]["title"] == "EspressoPro descaler, 2 × 250 ml"


def test_a_dry_run_shows_the_diff_and_writes_nothing(published):
    feed, first, folder = published
    before = {sku: row.signature for sku, row in listings(feed).items()}
    rename("EP-3000", "EspressoPro 3000 Plus")
    catalog.update_product("EP-DESCALER", {"enabled": False})
    dry = runs.publish(feed, dry_run=True)
    items = items_of(dry)
    assert items[("EP-3000", "en_US")].changes[0]["new"] == "EspressoPro 3000 Plus"
    assert items[("EP-DESCALER", "en_US")].action == "removed"
    assert {sku: row.signature for sku, row in listings(feed).items()} == before
    assert (folder / "current").resolve().name == str(first.pk)
    assert sorted(current_lines(folder)) == SHOP

    real = runs.publish(feed)
    assert (real.counts["updated"], real.counts["removed"]) == (1, 1)


def test_a_full_republish_resolves_and_writes_everything(published):
    feed, first, folder = published
    before = current_lines(folder)
    p = runs.publish(feed, mode="full")
    assert p.counts["unchanged"] == 4 and p.counts["published"] == 4
    assert p.base_id is None and len(p.files) == 1
    assert (folder / "current").resolve().name == str(p.pk)
    assert (folder / "releases" / str(first.pk)).is_dir()  # kept for rollback
    assert current_lines(folder) == before


def test_new_inputs_with_the_same_output_only_refresh_the_signature(published):
    feed, _, _ = published
    reweigh_bottle_model()
    p = runs.publish(feed)
    assert p.counts["unchanged"] == 4 and "nothing changed" in p.message
    black = Product.objects.get(sku="WB-750-SS-BLACK")
    expected = resolve.signatures(feed, [black.pk], "en_US")[black.pk]
    assert listings(feed)["WB-750-SS-BLACK"].signature == expected


def test_a_delta_format_gets_changes_and_removals():
    feed = make_feed(code="delta", fmt="test-delta")
    first = runs.publish(feed)
    folder = feed_folder(code="delta")
    # a first run has nothing to compare with: the whole feed
    assert [f["name"] for f in first.files] == ["feed-en_US.jsonl"]

    rename("EP-3000", "EspressoPro 3000 Plus")
    catalog.update_product("EP-DESCALER", {"enabled": False})
    p = runs.publish(feed)
    assert [f["name"] for f in p.files] == ["changes-en_US.json"]
    changes = json.loads((folder / "current" / "changes-en_US.json").read_text())
    assert [(c["sku"], c["op"]) for c in changes] == [
        ("EP-3000", "update"),
        ("EP-DESCALER", "delete"),
    ]
    assert changes[0]["data"]["title"] == "EspressoPro 3000 Plus"
    assert changes[0]["previous"]["title"] == "EspressoPro 3000"
    assert changes[1]["data"] is None and changes[1]["previous"]["title"].startswith("Espresso")

    full = runs.publish(feed, mode="full")
    resent = json.loads((folder / "current" / "changes-en_US.json").read_text())
    assert sorted(c["sku"] for c in resent) == ["EP-3000", "WB-750-SS-BLACK", "WB-750-SS-BLUE"]
    assert all(c["previous"] is None for c in resent)
    assert full.counts["published"] == 3


def test_formats_are_told_where_the_previous_files_are(published, monkeypatch):
    """Formats that copy what did not change (PDF sheets) read it from there."""
    feed, first, _ = published
    seen = []
    write = Lines.write

    def spy(self, out, ctx, entries):
        seen.append(ctx.previous_dir)
        return write(self, out, ctx, entries)

    monkeypatch.setattr(Lines, "write", spy)
    rename("EP-3000", "EspressoPro 3000 Plus")
    runs.publish(feed)
    assert [str(d) for d in seen] == [first.location]
