"""Bulk edit through the API and the real worker loop: up-front validation, per-item errors,
partial success, history, review and a selection that edits cannot shift."""

import pytest

from folio.accounts.models import AuditEntry
from folio.catalog import bulk_edit, services
from folio.catalog.models import Channel, Product, ProductChange, Proposal
from folio.errors import InvalidInput
from folio.jobs.models import Job
from folio.jobs.worker import Worker
from tests.fixtures.catalog import espresso_pro

pytestmark = pytest.mark.django_db(transaction=True)
URL = "/api/v1/catalog/products/bulk-edit"


def run_worker():
    Worker(batch=True, heartbeat_seconds=60).run()


def bottle(sku, **extra):
    return {
        "sku": sku,
        "family": "bottles",
        "categories": ["drinkware"],
        "values": {"name": [{"locale": "en_US", "scope": None, "data": f"Bottle {sku}"}]},
        **extra,
    }


def start(client, filter, operations):
    return client.post(
        URL, {"filter": filter, "operations": operations}, content_type="application/json"
    )


def finished_job(job_id):
    run_worker()
    job = Job.objects.get(pk=job_id)
    assert job.status == Job.Status.SUCCEEDED, job.message
    return job


def test_partial_success_with_per_item_errors_and_history(catalog, api_client):
    client = api_client("catalog_editor")
    list(services.bulk_upsert([bottle("WB-1"), bottle("WB-2"), espresso_pro(sku="EP-1")]))
    response = start(
        client,
        {"skus": ["WB-1", "WB-2", "EP-1"]},
        [
            {"op": "set", "attribute": "color", "data": "blue"},
            {"op": "add", "attribute": "materials", "data": ["glass", "stainless_steel"]},
            {"op": "add", "field": "groups", "value": ["winter_collection"]},
        ],
    )
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "queued" and body["progress_total"] == 3
    assert body["kind"] == bulk_edit.bulk_edit.job_name
    assert body["created_by"] == client.user.username

    job = finished_job(body["id"])
    assert (job.progress_done, job.items_ok, job.items_failed) == (3, 2, 1)
    assert job.result == {
        "selected": 3,
        "updated": 2,
        "proposed": 0,
        "unchanged": 0,
        "failed": 1,
    }
    (error,) = job.errors
    assert error["item"] == error["sku"] == "EP-1"
    assert error["attribute"] == "color"
    assert error["reason"] == "not an attribute of this product's family"
    # The failed product is untouched, whole: not even the group was added.
    ep = Product.objects.get(sku="EP-1")
    assert ep.version == 1 and not ep.groups.exists()
    for sku in ("WB-1", "WB-2"):
        p = Product.objects.get(sku=sku)
        assert p.version == 2
        assert p.values["color"][0]["data"] == "blue"
        assert p.values["materials"][0]["data"] == ["glass", "stainless_steel"]
        assert list(p.groups.values_list("code", flat=True)) == ["winter_collection"]
        change = p.history.get(version=2)
        assert change.action == "bulk_edit" and change.username == client.user.username
        assert change.via == "job"
        fields = {(c["field"], c.get("attribute")) for c in change.changes}
        assert fields == {("values", "color"), ("values", "materials"), ("groups", None)}
    assert AuditEntry.objects.filter(action="product.bulk_edit_start").exists()
    assert AuditEntry.objects.filter(action="product.bulk_edit").exists()
    # The job is followed like any other.
    state = client.get(f"/api/v1/jobs/{body['id']}").json()
    assert state["items_failed"] == 1 and state["errors"][0]["sku"] == "EP-1"

    # Running the same edit again changes nothing and records nothing.
    again = start(
        client, {"family": "bottles"}, [{"op": "set", "attribute": "color", "data": "blue"}]
    )
    job = finished_job(again.json()["id"])
    assert job.result["unchanged"] == 2 and job.result["updated"] == 0
    assert ProductChange.objects.filter(action="bulk_edit").count() == 2


def test_bad_operations_are_refused_before_any_job(catalog, api_client):
    client = api_client("catalog_editor")
    services.create_product(bottle("WB-1"))
    response = start(
        client,
        {"family": "bottles"},
        [
            {"op": "set", "attribute": "color", "data": "purple"},
            {"op": "add", "attribute": "color", "data": "blue"},
            {"op": "set", "attribute": "name", "data": "no locale"},
            {"op": "add", "field": "categories", "value": ["nowhere"]},
            {"op": "rename", "field": "family", "value": "x"},
            {"op": "set", "attribute": "colour", "data": "red"},
        ],
    )
    assert response.status_code == 422, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid"
    reasons = {(d["operation"], d["attribute"]): d["reason"] for d in error["details"]}
    assert "not an option" in reasons[(0, "color")]
    assert "multi-selects and asset collections" in reasons[(1, "color")]
    assert "localizable" in reasons[(2, "name")]
    assert "unknown category 'nowhere'" in reasons[(3, "categories")]
    assert "unknown operation" in reasons[(4, "op")]
    assert reasons[(5, "colour")] == "unknown attribute"
    assert error["message"].startswith("operation 1: color:")

    bad_filter = start(client, {"filter": ["capacity>=lots"]}, [{"op": "disable"}])
    assert bad_filter.status_code == 422
    unknown = start(client, {"colour": "red"}, [{"op": "disable"}])
    assert unknown.status_code == 422 and "unknown filter" in unknown.json()["error"]["message"]
    no_ops = start(client, {}, [])
    assert no_ops.status_code == 422
    assert not Job.objects.exists()
    assert Product.objects.get(sku="WB-1").version == 1


def test_permission_is_needed(catalog, api_client):
    viewer = api_client("viewer")
    assert start(viewer, {}, [{"op": "disable"}]).status_code == 403
    assert not Job.objects.exists()


def test_fields_categories_family_and_the_selection_does_not_shift(
    catalog, api_client, monkeypatch
):
    monkeypatch.setattr(bulk_edit, "BATCH", 2)
    client = api_client("catalog_editor")
    list(services.bulk_upsert([bottle(f"WB-{i}") for i in range(5)]))
    # Disabling the enabled products in batches of 2: a live, paged query would skip some.
    response = start(
        client,
        {"enabled": True, "category": ["master"]},
        [
            {"op": "disable"},
            {"op": "add", "field": "categories", "value": ["kitchen"]},
            {"op": "remove", "field": "categories", "value": ["drinkware"]},
            {"op": "set", "attribute": "name", "locale": "de_DE", "data": "Flasche"},
            {"op": "set", "attribute": "name", "locale": "en_US", "data": None},
        ],
    )
    job = finished_job(response.json()["id"])
    assert job.result["updated"] == 5, job.errors
    for p in Product.objects.all():
        assert p.enabled is False
        assert list(p.categories.values_list("code", flat=True)) == ["kitchen"]
        assert p.values["name"] == [{"locale": "de_DE", "scope": None, "data": "Flasche"}]

    response = start(
        client,
        {"skus": ["WB-0"]},
        [{"op": "set", "field": "family", "value": "coffee_machines"}, {"op": "enable"}],
    )
    finished_job(response.json()["id"])
    p = Product.objects.get(sku="WB-0")
    assert (p.family.code, p.enabled) == ("coffee_machines", True)


def test_remove_options_and_asset_order(catalog):
    item = bottle("WB-1")
    item["values"]["materials"] = [
        {"locale": None, "scope": None, "data": ["glass", "stainless_steel"]}
    ]
    item["values"]["images"] = [{"locale": None, "scope": None, "data": ["b.jpg", "a.jpg"]}]
    services.create_product(item)
    job = bulk_edit.start_bulk_edit(
        {"skus": ["WB-1"]},
        [
            {"op": "remove", "attribute": "materials", "data": "glass"},
            {"op": "add", "attribute": "images", "data": ["c.jpg", "a.jpg"]},
        ],
    )
    finished_job(job.pk)
    p = Product.objects.get(sku="WB-1")
    assert p.values["materials"][0]["data"] == ["stainless_steel"]
    assert p.values["images"][0]["data"] == ["b.jpg", "a.jpg", "c.jpg"]
    job = bulk_edit.start_bulk_edit(
        {"skus": ["WB-1"]},
        [{"op": "remove", "attribute": "materials", "data": ["stainless_steel"]}],
    )
    finished_job(job.pk)
    assert "materials" not in Product.objects.get(sku="WB-1").values


def test_unique_clash_fails_only_the_clashing_items(catalog):
    list(services.bulk_upsert([bottle("WB-1"), bottle("WB-2"), bottle("WB-3")]))
    job = bulk_edit.start_bulk_edit(
        {"family": "bottles"}, [{"op": "set", "attribute": "gtin", "data": "4006381333931"}]
    )
    job = finished_job(job.pk)
    assert (job.items_ok, job.items_failed) == (1, 2)
    assert {e["sku"] for e in job.errors} == {"WB-2", "WB-3"}
    assert all("unique" in e["message"] for e in job.errors)
    assert Product.objects.get(sku="WB-1").values["gtin"][0]["data"] == "4006381333931"


def test_under_review_items_become_proposals(catalog, api_client):
    Channel.objects.filter(code="marketplace").update(requires_review=True)
    editor = api_client("catalog_editor")
    list(services.bulk_upsert([bottle("WB-1"), bottle("WB-2")]))
    response = start(
        editor, {"family": "bottles"}, [{"op": "set", "attribute": "brand", "data": "Aqua"}]
    )
    job = finished_job(response.json()["id"])
    assert job.result["proposed"] == 2 and job.result["updated"] == 0
    assert all(p.version == 1 and "brand" not in p.values for p in Product.objects.all())
    proposals = Proposal.objects.filter(status=Proposal.Status.PENDING)
    assert proposals.count() == 2
    proposal = proposals.get(product__sku="WB-1")
    assert proposal.proposed_by == editor.user
    assert proposal.changes == {
        "values": {"brand": [{"locale": None, "scope": None, "data": "Aqua"}]}
    }
    reviewer = api_client("catalog_reviewer")
    approved = reviewer.post(
        f"/api/v1/catalog/proposals/{proposal.pk}/approve", {}, content_type="application/json"
    )
    assert approved.status_code == 200, approved.content
    assert Product.objects.get(sku="WB-1").values["brand"][0]["data"] == "Aqua"


def test_operation_from_text_reads_values_by_type(catalog):
    read = bulk_edit.operation_from_text
    assert read("set", "capacity=750 ml")["data"] == {"amount": "750", "unit": "ml"}
    assert read("set", "price=24.90 USD, 22 EUR")["data"] == [
        {"amount": "24.90", "currency": "USD"},
        {"amount": "22", "currency": "EUR"},
    ]
    assert read("add", "materials=glass, stainless_steel")["data"] == ["glass", "stainless_steel"]
    op = read("set", "short_title[en_US@marketplace]=Bottle")
    assert (op["locale"], op["scope"], op["data"]) == ("en_US", "marketplace", "Bottle")
    assert read("set", "bpa_free=yes")["data"] is True
    assert read("set", "brand=")["data"] is None
    with pytest.raises(InvalidInput):
        read("set", "no equals sign")
