"""Change tracking for incremental runs (publishing.changes): after a publication of the demo
catalog, each kind of write reaches exactly the products whose listings it can change, what
is not tracked row by row makes the run compare everything, and an incremental run keeps the
listings of untouched products without recomputing their signatures."""

import datetime
import shutil

import pytest
from django.test import override_settings
from django.utils import timezone

from folio.assets import editing
from folio.assets.models import Asset
from folio.assets.previews import make_previews
from folio.catalog import services as catalog
from folio.catalog import structure as catalog_structure
from folio.catalog.jobs import recompute_completeness
from folio.catalog.models import Completeness, Product, ProductModel
from folio.jobs import services as jobs
from folio.jobs.models import Job
from folio.jobs.services import start_job
from folio.linking import services as linking
from folio.linking.models import Link, LinkSet
from folio.publishing import changes, resolve, runs
from folio.publishing.formats import get_format
from folio.publishing.models import Feed, Listing, Publication
from folio.renditions.models import Rendition
from tests.assets.conftest import media  # noqa: F401 - the fixture
from tests.publishing.run_helpers import (  # noqa: F401 - fixtures
    PUBLIC_URL,
    demo_catalog,
    make_feed,
    register_test_formats,
    reweigh_bottle_model,
    test_formats,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("demo_catalog")]


def run_queued_jobs() -> None:
    """What the worker does after the demo's structure was created: completeness
    recomputed and the renditions made. Not the previews: no listing reads them, and making
    them was a third of each test's setup."""
    queued = Job.objects.filter(status=Job.Status.QUEUED).exclude(kind=make_previews.job_name)
    for job_id in queued.values_list("pk", flat=True):
        jobs.execute(job_id, "test-worker")


def age_catalog(days: int = 1) -> None:
    """The demo as a catalog that has stood for a while: its rows were written `days` ago,
    well before any publication's window."""
    then = timezone.now() - datetime.timedelta(days=days)
    for model in (Product, ProductModel, LinkSet, Asset, Rendition):
        model.objects.update(updated_at=then)


@pytest.fixture(scope="module")
def published_base(demo_snapshot, django_db_blocker, tmp_path_factory):
    """A feed published before (its renditions made), then again a day later: made once for
    the module, inside its demo transaction (tests.fixtures.demo), as it took each test ~6 s.
    Returns (feed id, publication id, media folder, publications folder, a copy of it)."""
    folder = tmp_path_factory.mktemp("base")
    files, publications, kept = folder / "media", folder / "publications", folder / "kept"
    shutil.copytree(demo_snapshot.media, files)
    with (
        django_db_blocker.unblock(),
        override_settings(
            MEDIA_ROOT=str(files),
            UPLOAD_DIR=demo_snapshot.uploads,
            PUBLICATIONS_DIR=publications,
            PUBLIC_URL=PUBLIC_URL,
        ),
        pytest.MonkeyPatch.context() as patch,
    ):
        register_test_formats(patch)
        run_queued_jobs()
        feed = make_feed()
        assert runs.publish(feed).status == "done"
        age_catalog()
        first = runs.publish(feed)
        assert first.status == "done" and first.counts["unchanged"] == 4
    # Publications name their folder by its full path: each test gets the same path back.
    shutil.copytree(publications, kept, symlinks=True)
    return feed.pk, first.pk, files, publications, kept


@pytest.fixture
def base(request, published_base, settings):
    """The base as published_base left it: its files back in place, fresh rows."""
    feed_id, publication_id, files, publications, kept = published_base
    request.getfixturevalue("demo_catalog")  # this test's media folder
    shutil.copytree(files, settings.MEDIA_ROOT, dirs_exist_ok=True)
    shutil.rmtree(publications, ignore_errors=True)
    shutil.copytree(kept, publications, symlinks=True)
    settings.PUBLICATIONS_DIR = publications
    return Feed.objects.get(pk=feed_id), Publication.objects.get(pk=publication_id)


def changed(feed, publication, at=None):
    publication.refresh_from_db()
    feed.refresh_from_db()
    structure = resolve.load(feed, get_format(feed.format))
    return changes.changed_products(
        publication, structure, list(feed.locales), at or timezone.now()
    )


def ids(*skus: str) -> set[int]:
    return set(Product.objects.filter(sku__in=skus).values_list("pk", flat=True))


def linked_to(filename: str) -> tuple[int, set[int]]:
    """An asset of the demo and every product it shows, directly or through a model."""
    asset = Asset.objects.get(current_version__filename=filename)
    products = set()
    for product_id, model_id in Link.objects.filter(asset=asset).values_list(
        "product_id", "product_model_id"
    ):
        if product_id:
            products.add(product_id)
        else:
            products |= set(Product.objects.filter(parent_id=model_id).values_list("pk", flat=True))
    return asset.pk, products


def test_a_publication_records_where_the_next_run_starts_looking(base):
    _, first = base
    first.refresh_from_db()
    assert first.changes_since is not None and first.version_key
    assert first.changes_since <= first.started_at - changes.MARGIN


def test_nothing_written_since_the_base_is_nothing_to_compare(base):
    assert changed(*base) == set()


def test_a_product_edit_reaches_that_product(base):
    catalog.update_product(
        "EP-DESCALER", {"values": {"name": [{"locale": "en_US", "scope": None, "data": "New"}]}}
    )
    assert changed(*base) == ids("EP-DESCALER")


def test_a_model_edit_reaches_its_variants(base):
    reweigh_bottle_model()
    variants = set(Product.objects.filter(parent__code="WB-750-SS").values_list("pk", flat=True))
    assert variants and changed(*base) == variants


def test_linking_and_unlinking_reach_the_owner(base):
    asset_id, _ = linked_to("EP-3000_lifestyle.jpg")
    link = linking.link("EP-DESCALER", asset_id, "gallery")
    assert changed(*base) == ids("EP-DESCALER")
    feed, _first = base
    second = runs.publish(feed)
    linking.unlink(link.pk)
    assert changed(feed, second) == ids("EP-DESCALER")


def test_an_asset_edit_reaches_every_product_it_shows(base):
    asset_id, products = linked_to("WB-750-SS-BLACK_front.jpg")
    editing.update_asset(asset_id, {"title": "Black bottle, front"})
    assert products and changed(*base) == products


def feed_renditions(feed, filename: str):
    """The renditions the feed sends of the file `filename`, and the products showing it."""
    asset_id, products = linked_to(filename)
    asset = Asset.objects.select_related("current_version").get(pk=asset_id)
    structure = resolve.load(feed, get_format(feed.format))
    rows = Rendition.objects.filter(
        source_sha256=asset.current_version.blob_id, spec_hash__in=structure.hashes("en_US")
    )
    assert rows.exists()
    return rows, products


def test_a_rendition_written_again_reaches_the_products_of_its_source(base):
    rows, products = feed_renditions(base[0], "EP-3000_front.jpg")
    rows.update(needs_review=True)  # e.g. a cut-out sent back for review
    assert changed(*base) == products


def test_a_rendition_saved_through_its_instance_reaches_the_products_too(base):
    rows, products = feed_renditions(base[0], "EP-3000_front.jpg")
    rendition = rows.first()
    rendition.needs_review = True
    rendition.save(update_fields=["needs_review"])
    assert changed(*base) == products


def test_a_rendition_of_a_preset_the_feed_does_not_use_reaches_nothing(base):
    feed, _ = base
    structure = resolve.load(feed, get_format(feed.format))
    Rendition.objects.exclude(spec_hash__in=structure.hashes("en_US")).update(needs_review=True)
    assert changed(*base) == set()


def test_rights_ending_by_the_clock_reach_the_products_without_any_write(base):
    _feed, first = base
    asset_id, products = linked_to("EP-3000_lifestyle.jpg")
    first.refresh_from_db()
    ends = first.started_at + datetime.timedelta(hours=1)
    # set before the base, in a transaction the base could not see
    Asset.objects.filter(pk=asset_id).update(
        expires_at=ends, updated_at=first.changes_since - datetime.timedelta(days=1)
    )
    assert changed(*base, at=ends - datetime.timedelta(minutes=1)) == set()
    assert changed(*base, at=ends + datetime.timedelta(minutes=1)) == products


def test_a_structure_change_compares_every_product(base):
    label = {"en_US": "Product name", "de_DE": "Produktname"}
    catalog_structure.update_attribute("name", labels=label)
    assert changed(*base) is None


def test_completeness_being_recomputed_compares_every_product(base):
    Completeness.objects.filter(product__sku="EP-3000").update(stale=True)
    assert changed(*base) is None
    Completeness.objects.update(stale=False)
    assert changed(*base) == set()
    job = start_job(recompute_completeness, scopes=[{"family_ids": None, "channel_ids": None}])
    assert changed(*base) is None  # queued
    jobs.execute(job.pk, "test-worker")
    assert changed(*base) is None  # done after the base started: its rows are newer
    feed, _ = base
    assert changed(feed, runs.publish(feed)) == set()


def test_a_job_running_when_the_base_started_widens_the_window(base):
    feed, _ = base
    hour_ago = timezone.now() - datetime.timedelta(hours=1)
    import_job = Job.objects.create(
        kind="folio.imports.run_import",
        label="Import products.csv",
        status=Job.Status.RUNNING,
        started_at=hour_ago,
    )
    second = runs.publish(feed)
    second.refresh_from_db()
    assert second.changes_since == hour_ago
    # the import's write, stamped when it was made and committed only now
    catalog.update_product("EP-DESCALER", {"enabled": True, "values": {}})
    Product.objects.filter(sku="EP-DESCALER").update(
        updated_at=hour_ago + datetime.timedelta(minutes=5)
    )
    Job.objects.filter(pk=import_job.pk).update(status=Job.Status.SUCCEEDED)
    assert ids("EP-DESCALER") <= changed(feed, second)


def test_untouched_products_keep_their_listing_without_a_new_signature(base):
    """The run trusts the base for untouched products: a listing's stored signature is not
    even recomputed. Without change tracking (an older base) it is."""
    feed, _first = base
    Listing.objects.filter(feed=feed, sku="EP-3000").update(signature="as the base left it")
    tracked = runs.publish(feed)
    assert tracked.counts["unchanged"] == 4
    assert Listing.objects.get(feed=feed, sku="EP-3000").signature == "as the base left it"

    Publication.objects.filter(pk=tracked.pk).update(changes_since=None)
    untracked = runs.publish(feed)
    assert untracked.counts["unchanged"] == 4 and untracked.base_id == tracked.pk
    ep3000 = Product.objects.get(sku="EP-3000")
    assert (
        Listing.objects.get(feed=feed, sku="EP-3000").signature
        == resolve.signatures(feed, [ep3000.pk], "en_US")[ep3000.pk]
    )
