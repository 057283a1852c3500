"""Completeness after structure changes: rows turn stale in the structure write's transaction,
one background job (run here by the real worker loop) recomputes them."""

import pytest
from django.db import transaction

from folio.catalog import services
from folio.catalog.jobs import recompute_completeness
from folio.catalog.models import Completeness, FamilyRequirement, Product
from folio.catalog.signals import structure_changed
from folio.jobs.models import Job
from folio.jobs.services import _enqueue
from folio.jobs.worker import Worker
from tests.catalog.test_products import _bottle_models
from tests.fixtures.catalog import espresso_pro

pytestmark = pytest.mark.django_db(transaction=True)


def run_worker():
    Worker(batch=True, heartbeat_seconds=60).run()


def row(sku, channel, locale):
    return Completeness.objects.get(product__sku=sku, channel__code=channel, locale__code=locale)


def bottle(sku, **values):
    return {
        "sku": sku,
        "family": "bottles",
        "values": {
            "name": [{"locale": "en_US", "scope": None, "data": sku}],
            **{k: [{"locale": None, "scope": None, "data": d}] for k, d in values.items()},
        },
    }


def recompute_jobs():
    return Job.objects.filter(kind=recompute_completeness.job_name)


def test_requirement_added_marks_stale_then_the_job_recomputes(catalog, api_client):
    client = api_client("catalog_editor")
    services.create_product(espresso_pro())
    services.create_product(bottle("WB-1"))
    machines = catalog["families"]["coffee_machines"]
    webshop = catalog["channels"]["ecommerce"]
    assert row("EP-3000", "ecommerce", "en_US").ratio == 100

    with transaction.atomic():
        FamilyRequirement.objects.create(
            family=machines, channel=webshop, attribute=catalog["attributes"]["manual_url"]
        )
        structure_changed.send(sender=None, family_ids=[machines.pk], channel_ids=[webshop.pk])
        # A second change in the same transaction rides on the same job.
        FamilyRequirement.objects.create(
            family=machines, channel=webshop, attribute=catalog["attributes"]["release_date"]
        )
        structure_changed.send(sender=None, family_ids=[machines.pk], channel_ids=[webshop.pk])

    # Stale, not yet recomputed: the old figures are flagged, other channels are untouched.
    assert row("EP-3000", "ecommerce", "en_US").stale
    assert row("EP-3000", "ecommerce", "en_US").ratio == 100
    assert not row("EP-3000", "marketplace", "en_US").stale
    assert not row("WB-1", "ecommerce", "en_US").stale
    detail = client.get("/api/v1/catalog/products/EP-3000").json()
    stale = {(c["channel"], c["locale"]): c["stale"] for c in detail["completeness"]}
    assert stale[("ecommerce", "en_US")] and not stale[("marketplace", "en_US")]
    listed = client.get("/api/v1/catalog/products?stale=true").json()["results"]
    assert [p["sku"] for p in listed] == ["EP-3000"]
    current = client.get("/api/v1/catalog/products?stale=false").json()["results"]
    assert [p["sku"] for p in current] == ["WB-1"]
    assert recompute_jobs().count() == 1

    run_worker()

    job = recompute_jobs().get()
    assert job.status == Job.Status.SUCCEEDED, job.message
    assert (job.progress_done, job.progress_total) == (1, 1)
    assert job.result == {"recomputed": 1}
    after = row("EP-3000", "ecommerce", "en_US")
    assert not after.stale
    assert (after.required, after.filled, after.ratio) == (6, 4, 66)
    assert sorted(after.missing) == ["manual_url", "release_date"]
    assert not Completeness.objects.filter(stale=True).exists()
    assert client.get("/api/v1/catalog/products?stale=true").json()["results"] == []


def test_last_requirement_removed_is_found_through_the_channel(catalog):
    """A channel-only change reaches products whose family no longer requires anything in
    the channel: their rows still say required > 0."""
    services.create_product(espresso_pro())
    market = catalog["channels"]["marketplace"]
    assert row("EP-3000", "marketplace", "fr_FR").required == 3
    with transaction.atomic():
        FamilyRequirement.objects.filter(
            family=catalog["families"]["coffee_machines"], channel=market
        ).delete()
        structure_changed.send(sender=None, family_ids=None, channel_ids=[market.pk])
    assert row("EP-3000", "marketplace", "fr_FR").stale
    run_worker()
    after = row("EP-3000", "marketplace", "fr_FR")
    assert (after.required, after.ratio, after.stale) == (0, 100, False)


def test_channel_locale_added_creates_rows_and_removed_drops_them(catalog):
    services.create_product(espresso_pro())
    services.create_product(bottle("WB-1"))
    services.create_product({"sku": "LOOSE-1"})  # no family: nothing required, still measured
    webshop = catalog["channels"]["ecommerce"]
    fr = catalog["locales"]["fr_FR"]
    assert not Completeness.objects.filter(channel=webshop, locale=fr).exists()

    with transaction.atomic():
        webshop.locales.add(fr)
        structure_changed.send(sender=None, family_ids=None, channel_ids=[webshop.pk])
    run_worker()

    assert recompute_jobs().get().status == Job.Status.SUCCEEDED
    assert set(
        Completeness.objects.filter(channel=webshop, locale=fr).values_list(
            "product__sku", flat=True
        )
    ) == {"EP-3000", "WB-1", "LOOSE-1"}
    ep = row("EP-3000", "ecommerce", "fr_FR")
    # name has fr_FR; description (ecommerce) has no fr_FR text; price EUR+USD; power.
    assert (ep.required, ep.filled, ep.missing) == (4, 3, ["description"])
    assert row("LOOSE-1", "ecommerce", "fr_FR").ratio == 100

    with transaction.atomic():
        webshop.locales.remove(catalog["locales"]["de_DE"])
        structure_changed.send(sender=None, family_ids=None, channel_ids=[webshop.pk])
    # Until the job runs the dropped locale's rows are still there, flagged.
    assert row("EP-3000", "ecommerce", "de_DE").stale
    run_worker()
    assert not Completeness.objects.filter(channel=webshop, locale__code="de_DE").exists()
    assert Completeness.objects.filter(product__sku="WB-1").count() == 4  # 2 + 2 locales
    assert not Completeness.objects.filter(stale=True).exists()


def test_job_is_safe_to_run_twice_and_counts_variants(catalog):
    _bottle_models()
    for sku, color in (("WB-750-SS-BLUE", "blue"), ("WB-750-SS-GREEN", "green")):
        services.create_product(
            {
                "sku": sku,
                "parent": "WB-750-SS",
                "values": {
                    "color": [{"locale": None, "scope": None, "data": color}],
                    "gtin": [{"locale": None, "scope": None, "data": "4006381333931"}]
                    if color == "blue"
                    else [],
                    "price": [
                        {
                            "locale": None,
                            "scope": None,
                            "data": [{"amount": "20", "currency": "USD"}],
                        }
                    ],
                },
            }
        )
    root = services.get_model("WB-SS")
    # marketplace needs name, short_title, price, gtin: short_title is missing everywhere.
    assert services.variants_complete(root)["marketplace"]["en_US"] == "0/2"
    bottles = catalog["families"]["bottles"]
    market = catalog["channels"]["marketplace"]
    with transaction.atomic():
        FamilyRequirement.objects.filter(
            family=bottles, channel=market, attribute__code="short_title"
        ).delete()
        structure_changed.send(sender=None, family_ids=[bottles.pk], channel_ids=None)
    run_worker()
    job = recompute_jobs().get()
    assert job.status == Job.Status.SUCCEEDED
    # Inherited values count: the name comes from the root model.
    assert services.variants_complete(root)["marketplace"]["en_US"] == "1/2"
    snapshot = sorted(
        Completeness.objects.values_list("product__sku", "channel_id", "locale_id", "ratio")
    )

    # A retried attempt (the worker died after some batches) starts over: same result.
    Job.objects.filter(pk=job.pk).update(status=Job.Status.QUEUED, task_result_id="")
    _enqueue(job.pk)
    run_worker()
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED and job.attempts == 2
    assert job.max_attempts == 3
    assert (
        sorted(Completeness.objects.values_list("product__sku", "channel_id", "locale_id", "ratio"))
        == snapshot
    )


def test_rolled_back_change_leaves_no_job_and_no_stale_rows(catalog):
    services.create_product(espresso_pro())
    machines = catalog["families"]["coffee_machines"]
    with pytest.raises(RuntimeError), transaction.atomic():
        structure_changed.send(sender=None, family_ids=[machines.pk], channel_ids=None)
        raise RuntimeError("the structure write failed")
    assert not recompute_jobs().exists()
    assert not Completeness.objects.filter(stale=True).exists()


def test_everything_changed_recomputes_every_product_in_batches(catalog, monkeypatch):
    from folio.catalog import jobs

    monkeypatch.setattr(jobs, "BATCH", 2)
    list(services.bulk_upsert([espresso_pro(sku=f"EP-{i}") for i in range(5)]))
    Completeness.objects.update(ratio=1)  # wrong figures the job must replace
    with transaction.atomic():
        structure_changed.send(sender=None)
    assert Completeness.objects.filter(stale=False).count() == 0
    run_worker()
    job = recompute_jobs().get()
    assert (job.status, job.progress_done, job.progress_total) == (Job.Status.SUCCEEDED, 5, 5)
    assert not Completeness.objects.filter(ratio=1).exists()
    assert Product.objects.count() == 5


def test_empty_lists_name_nothing(catalog):
    services.create_product(espresso_pro())
    with transaction.atomic():
        structure_changed.send(sender=None, family_ids=[], channel_ids=None)
        structure_changed.send(sender=None, family_ids=None, channel_ids=[])
    assert not recompute_jobs().exists()
    assert not Completeness.objects.filter(stale=True).exists()
