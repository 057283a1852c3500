"""Catalog editors scoped to category trees, end to end with real tokens: who sets the scope
(administrators, API and CLI, audited), what a scoped editor may change (products and models
classified in their trees, variants through their model), what stays global (reading), and
that single writes, NDJSON bulk, bulk edit jobs and imports all refuse out-of-scope items one
by one — with a fixed number of extra queries per batch."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from folio.accounts import audit, scopes
from folio.accounts.models import AuditEntry
from folio.catalog import bulk_edit, services
from folio.catalog import values as v
from folio.catalog.models import Product, ProductModel
from folio.jobs.models import Job
from folio.jobs.services import execute
from folio.linking.models import Link
from tests.conftest import run_folio
from tests.fixtures.catalog import espresso_pro


def _json(client, method, url, body=None, **headers):
    return getattr(client, method)(
        url,
        json.dumps(body) if body is not None else None,
        content_type="application/json",
        **headers,
    )


def bottle(sku, categories=("drinkware",), **extra):
    return {
        "sku": sku,
        "family": "bottles",
        "categories": list(categories),
        "values": {"name": [{"locale": "en_US", "scope": None, "data": f"Bottle {sku}"}]},
        **extra,
    }


@pytest.fixture
def admin(api_client):
    return api_client("admin")


@pytest.fixture
def kitchen_editor(api_client, catalog, admin):
    """A catalog editor limited to the kitchen tree (kitchen and coffee below it)."""
    client = api_client("catalog_editor", "kit")
    r = _json(admin, "put", "/api/v1/users/kit/scope", {"categories": ["kitchen"]})
    assert r.status_code == 200, r.content
    return client


def test_a_scope_edit_based_on_an_older_account_is_refused_with_the_current_scope(
    admin, api_client, catalog
):
    api_client("catalog_editor", "kit")
    seen = admin.get("/api/v1/users/kit/scope")
    assert (seen.json()["version"], seen["ETag"]) == (1, 'W/"1"')
    # Another administrator changes the account meanwhile (its roles; the version is shared).
    other = admin.patch(
        "/api/v1/users/kit",
        json.dumps({"roles": ["catalog_editor", "approver"], "version": 1}),
        content_type="application/json",
    )
    assert other.status_code == 200 and other.json()["version"] == 2
    stale = _json(
        admin, "put", "/api/v1/users/kit/scope", {"categories": ["kitchen"]}, HTTP_IF_MATCH='W/"1"'
    )
    assert stale.status_code == 409, stale.content
    assert (
        stale.json()["error"]["details"]["current"] == admin.get("/api/v1/users/kit/scope").json()
    )
    assert scopes.user_scope(services_user("kit"))["categories"] == []  # nothing changed
    fresh = _json(
        admin, "put", "/api/v1/users/kit/scope", {"categories": ["kitchen"], "version": 2}
    )
    assert fresh.status_code == 200, fresh.content
    assert (fresh.json()["categories"], fresh.json()["version"], fresh["ETag"]) == (
        ["kitchen"],
        3,
        'W/"3"',
    )
    assert admin.get("/api/v1/users/kit").json()["version"] == 3


def services_user(username):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(username=username)


def test_admin_sets_and_reads_a_scope_and_it_is_audited(admin, api_client, catalog):
    api_client("catalog_editor", "kit")
    r = _json(admin, "put", "/api/v1/users/kit/scope", {"categories": ["kitchen", "drinkware"]})
    assert r.status_code == 200, r.content
    assert r.json() == {
        "username": "kit",
        "categories": ["drinkware", "kitchen"],
        "collections": [],
        "collections_as": "manager",
        "version": 2,  # the account's version: setting the scope is an edit of it
    }
    assert admin.get("/api/v1/users/kit/scope").json()["categories"] == ["drinkware", "kitchen"]
    entry = AuditEntry.objects.get(action="user.scope")
    assert entry.username == admin.user.username
    assert entry.changes == {"categories": [[], ["drinkware", "kitchen"]]}
    # Leaving a field out keeps it; an empty list lifts the limit.
    r = _json(admin, "put", "/api/v1/users/kit/scope", {})
    assert r.json()["categories"] == ["drinkware", "kitchen"]
    assert AuditEntry.objects.filter(action="user.scope").count() == 1
    r = _json(admin, "put", "/api/v1/users/kit/scope", {"categories": []})
    assert r.json()["categories"] == []
    assert AuditEntry.objects.filter(action="user.scope").count() == 2


def test_scope_changes_are_for_administrators_and_checked(admin, api_client, catalog):
    editor = api_client("catalog_editor", "kit")
    r = _json(editor, "put", "/api/v1/users/kit/scope", {"categories": []})
    assert r.status_code == 403
    assert editor.get("/api/v1/users/kit/scope").status_code == 403
    r = _json(admin, "put", "/api/v1/users/kit/scope", {"categories": ["kitchen", "garden"]})
    assert r.status_code == 422 and "no category garden" in r.json()["error"]["message"]
    r = _json(admin, "put", "/api/v1/users/nobody/scope", {"categories": ["kitchen"]})
    assert r.status_code == 404
    r = _json(
        admin, "put", f"/api/v1/users/{admin.user.username}/scope", {"categories": ["kitchen"]}
    )
    assert r.status_code == 422 and "never scoped" in r.json()["error"]["message"]
    api_client("viewer", "vic")
    r = _json(admin, "put", "/api/v1/users/vic/scope", {"categories": ["kitchen"]})
    assert r.status_code == 422 and "does not edit the catalog" in r.json()["error"]["message"]
    assert not AuditEntry.objects.filter(action="user.scope").exists()


def test_scoped_editor_writes_only_inside_their_trees(kitchen_editor, admin):
    # Created by an unscoped administrator: one product in the tree, one outside.
    assert _json(admin, "post", "/api/v1/catalog/products", bottle("WB-1")).status_code == 201
    assert _json(admin, "post", "/api/v1/catalog/products", espresso_pro()).status_code == 201

    # Reads stay global.
    assert kitchen_editor.get("/api/v1/catalog/products/WB-1").status_code == 200

    r = _json(kitchen_editor, "patch", "/api/v1/catalog/products/WB-1", {"enabled": False})
    assert r.status_code == 403
    error = r.json()["error"]
    assert error["code"] == "out_of_scope"
    assert error["message"] == "product WB-1 is not classified in the category kitchen you may edit"
    assert error["details"] == {"sku": "WB-1", "scope": ["kitchen"]}
    assert Product.objects.get(sku="WB-1").enabled is True

    # coffee is below kitchen: in scope.
    r = _json(kitchen_editor, "patch", "/api/v1/catalog/products/EP-3000", {"enabled": False})
    assert r.status_code == 200, r.content
    # …but not moving it out of the tree.
    r = _json(
        kitchen_editor, "patch", "/api/v1/catalog/products/EP-3000", {"categories": ["drinkware"]}
    )
    assert r.status_code == 403
    assert "EP-3000 would no longer be classified" in r.json()["error"]["message"]
    # Adding a category outside next to one inside is fine.
    r = _json(
        kitchen_editor,
        "patch",
        "/api/v1/catalog/products/EP-3000",
        {"categories": ["coffee", "drinkware"]},
    )
    assert r.status_code == 200, r.content

    r = _json(kitchen_editor, "post", "/api/v1/catalog/products", bottle("WB-2"))
    assert r.status_code == 403 and "WB-2" in r.json()["error"]["message"]
    assert not Product.objects.filter(sku="WB-2").exists()
    r = _json(kitchen_editor, "post", "/api/v1/catalog/products", bottle("WB-3", ["kitchen"]))
    assert r.status_code == 201, r.content
    r = _json(kitchen_editor, "post", "/api/v1/catalog/products", bottle("WB-4", []))
    assert r.status_code == 403

    assert kitchen_editor.delete("/api/v1/catalog/products/WB-1").status_code == 403
    assert Product.objects.filter(sku="WB-1").exists()
    assert kitchen_editor.delete("/api/v1/catalog/products/WB-3").status_code == 204

    # Restoring an old version is a write like any other.
    r = _json(kitchen_editor, "post", "/api/v1/catalog/products/WB-1/restore", {"version": 1})
    assert r.status_code == 403
    assert Product.objects.get(sku="WB-1").version == 1


def test_unscoped_editors_are_unchanged(api_client, catalog, admin):
    editor = api_client("catalog_editor", "free")
    assert _json(editor, "post", "/api/v1/catalog/products", bottle("WB-1")).status_code == 201
    r = _json(editor, "patch", "/api/v1/catalog/products/WB-1", {"categories": ["coffee"]})
    assert r.status_code == 200
    assert editor.delete("/api/v1/catalog/products/WB-1").status_code == 204


def test_product_models_and_their_variants(kitchen_editor, admin, catalog):
    kitchen_model = {
        "code": "bottle_k",
        "family_variant": "bottles_by_size_color",
        "categories": ["coffee"],
    }
    r = _json(kitchen_editor, "post", "/api/v1/catalog/product-models", kitchen_model)
    assert r.status_code == 201, r.content
    other = {
        "code": "bottle_d",
        "family_variant": "bottles_by_size_color",
        "categories": ["drinkware"],
    }
    r = _json(kitchen_editor, "post", "/api/v1/catalog/product-models", other)
    assert r.status_code == 403
    assert "product model bottle_d" in r.json()["error"]["message"]
    assert not ProductModel.objects.filter(code="bottle_d").exists()
    assert _json(admin, "post", "/api/v1/catalog/product-models", other).status_code == 201
    r = _json(
        kitchen_editor,
        "patch",
        "/api/v1/catalog/product-models/bottle_d",
        {"values": {"size": [{"locale": None, "scope": None, "data": "ml500"}]}},
    )
    assert r.status_code == 403
    r = _json(
        kitchen_editor,
        "patch",
        "/api/v1/catalog/product-models/bottle_k",
        {"categories": ["drinkware"]},
    )
    assert r.status_code == 403

    # Sub model and variant without categories of their own: classified through bottle_k.
    for parent, code in (("bottle_k", "bottle_k_500"), ("bottle_d", "bottle_d_500")):
        r = _json(
            admin,
            "post",
            "/api/v1/catalog/product-models",
            {
                "code": code,
                "parent": parent,
                "values": {"size": [{"locale": None, "scope": None, "data": "ml500"}]},
            },
        )
        assert r.status_code == 201, r.content
    for parent, sku in (("bottle_k_500", "V-K"), ("bottle_d_500", "V-D")):
        variant = {
            "sku": sku,
            "parent": parent,
            "values": {"color": [{"locale": None, "scope": None, "data": "blue"}]},
        }
        assert _json(admin, "post", "/api/v1/catalog/products", variant).status_code == 201
    r = _json(kitchen_editor, "patch", "/api/v1/catalog/products/V-K", {"enabled": False})
    assert r.status_code == 200, r.content
    r = _json(kitchen_editor, "patch", "/api/v1/catalog/products/V-D", {"enabled": False})
    assert r.status_code == 403
    r = _json(
        kitchen_editor,
        "post",
        "/api/v1/catalog/products",
        {
            "sku": "V-K2",
            "parent": "bottle_k_500",
            "values": {"color": [{"locale": None, "scope": None, "data": "green"}]},
        },
    )
    assert r.status_code == 201, r.content


def test_ndjson_bulk_refuses_per_line(kitchen_editor, admin):
    assert _json(admin, "post", "/api/v1/catalog/products", bottle("WB-1")).status_code == 201
    assert _json(admin, "post", "/api/v1/catalog/products", bottle("WB-2")).status_code == 201
    body = "\n".join(
        json.dumps(item)
        for item in (
            bottle("K-1", ["coffee"]),
            bottle("WB-1", ["kitchen"]),  # exists outside the scope: not to be pulled in
            bottle("D-1"),
            bottle("K-2", ["kitchen"]),
            bottle("WB-2"),  # re-sent as it is: no write, so nothing to refuse
        )
    )
    r = kitchen_editor.post(
        "/api/v1/catalog/products/bulk", body, content_type="application/x-ndjson"
    )
    assert r.status_code == 200, r.content
    lines = [json.loads(x) for x in b"".join(r.streaming_content).splitlines()]
    assert [(x["sku"], x["status"]) for x in lines] == [
        ("K-1", "created"),
        ("WB-1", "forbidden"),
        ("D-1", "forbidden"),
        ("K-2", "created"),
        ("WB-2", "unchanged"),
    ]
    assert (
        lines[2]["message"] == "product D-1 is not classified in the category kitchen you may edit"
    )
    assert sorted(Product.objects.values_list("sku", flat=True)) == ["K-1", "K-2", "WB-1", "WB-2"]
    assert Product.objects.get(sku="K-1").history.get().username == "kit"
    assert list(Product.objects.get(sku="WB-1").categories.values_list("code", flat=True)) == [
        "drinkware"
    ]


@pytest.mark.django_db(transaction=True)
def test_bulk_edit_fails_out_of_scope_products_one_by_one(kitchen_editor, admin):
    from folio.jobs.worker import Worker

    list(
        services.bulk_upsert(
            [bottle("D-1"), bottle("K-1", ["coffee"]), bottle("D-2"), bottle("K-2", ["kitchen"])]
        )
    )
    r = _json(
        kitchen_editor,
        "post",
        "/api/v1/catalog/products/bulk-edit",
        {
            "filter": {"skus": ["D-1", "K-1", "D-2", "K-2"]},
            "operations": [{"op": "set", "field": "enabled", "value": False}],
        },
    )
    assert r.status_code == 202, r.content
    Worker(batch=True, heartbeat_seconds=60).run()
    job = Job.objects.get(pk=r.json()["id"])
    assert job.status == Job.Status.SUCCEEDED, job.message
    assert (job.items_ok, job.items_failed) == (2, 2)
    assert sorted(e["sku"] for e in job.errors) == ["D-1", "D-2"]
    assert job.errors[0]["message"].endswith(
        "is not classified in the category kitchen you may edit"
    )
    assert dict(Product.objects.values_list("sku", "enabled")) == {
        "D-1": True,
        "D-2": True,
        "K-1": False,
        "K-2": False,
    }


def _bulk_edit_queries(user, skus):
    structure = v.Structure.load()
    ids = list(Product.objects.filter(sku__in=skus).values_list("pk", flat=True))
    ops = bulk_edit.validate_operations(
        [{"op": "set", "field": "enabled", "value": False}], structure
    )
    with audit.acting_as(user, via="test"), CaptureQueriesContext(connection) as queries:
        results = bulk_edit._edit(ids, ops, structure, user, lambda family_id: False)
    return len(queries), results


def test_a_scoped_bulk_edit_costs_a_fixed_number_of_extra_queries(catalog, make_user):
    list(
        services.bulk_upsert(
            [bottle(f"K-{i}", ["coffee"]) for i in range(30)]
            + [bottle(f"D-{i}") for i in range(30)]
        )
    )
    free = make_user("catalog_editor", "free")
    scoped = make_user("catalog_editor", "kit")
    scopes.set_scope(scoped, categories=["kitchen"])
    small = [f"K-{i}" for i in range(3)] + [f"D-{i}" for i in range(3)]
    large = [f"K-{i}" for i in range(3, 30)] + [f"D-{i}" for i in range(3, 30)]
    scoped_small, results = _bulk_edit_queries(scoped, small)
    assert sorted(r[1] for r in results) == ["failed"] * 3 + ["updated"] * 3
    scoped_large, _ = _bulk_edit_queries(scoped, large)
    # An unscoped editor updating as many products as the scoped one did (each update is
    # its own UPDATE, so compare like with like).
    free_small, _ = _bulk_edit_queries(free, [f"D-{i}" for i in range(3)])
    free_large, results = _bulk_edit_queries(free, [f"D-{i}" for i in range(3, 30)])
    assert {r[1] for r in results} == {"updated"}
    # The scope check costs the same few queries (the scope, the products' categories) for 6
    # products and for 54 — a per-product check would add 27 or more. (Not compared for
    # equality: other apps' receivers make an occasional cached read of their own.)
    assert scoped_small - free_small <= 5
    assert scoped_large - free_large <= 5


def _run_jobs():
    for job in Job.objects.filter(status=Job.Status.QUEUED).order_by("created_at"):
        execute(str(job.pk), "test-worker")


@pytest.mark.django_db(transaction=True)
def test_an_import_skips_out_of_scope_rows_naming_them(kitchen_editor, admin):
    text = (
        "sku;family;categories;name-en_US\n"
        "K-1;bottles;coffee;Kettle bottle\n"
        "D-1;bottles;drinkware;Drink bottle\n"
    )
    r = kitchen_editor.post(
        "/api/v1/imports", {"file": SimpleUploadedFile("products.csv", text.encode())}
    )
    assert r.status_code == 202, r.content
    _run_jobs()
    run = kitchen_editor.get(f"/api/v1/imports/{r.json()['id']}").json()
    assert run["counts"]["totals"]["created"] == 1
    assert run["counts"]["totals"]["skipped"] == 1
    problems = kitchen_editor.get(f"/api/v1/imports/{r.json()['id']}/problems").json()["results"]
    assert [(p["row"], p["reason"]) for p in problems] == [
        (3, "product D-1 is not classified in the category kitchen you may edit")
    ]
    assert list(Product.objects.values_list("sku", flat=True)) == ["K-1"]


@pytest.mark.django_db(transaction=True)
def test_the_cli_shows_and_sets_a_scope(catalog, make_user, folio_env):
    make_user("catalog_editor", "kit")
    done = run_folio(["user", "scope", "kit", "--categories", "kitchen,drinkware"], folio_env)
    assert done.returncode == 0, done.stderr
    assert "kit: categories drinkware, kitchen" in done.stdout
    shown = run_folio(["user", "scope", "kit"], folio_env)
    assert "kit: categories drinkware, kitchen" in shown.stdout
    entry = AuditEntry.objects.get(action="user.scope")
    assert entry.via == "cli"
    bad = run_folio(["user", "scope", "kit", "--categories", "nowhere"], folio_env)
    assert bad.returncode != 0 and "no category nowhere" in bad.stderr
    cleared = run_folio(["user", "scope", "kit", "--categories", ""], folio_env)
    assert "kit: categories (not limited)" in cleared.stdout


def test_links_of_out_of_scope_products_are_refused(kitchen_editor, admin, settings, tmp_path):
    import io

    from folio.assets.services import add_asset
    from tests.assets import files

    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.UPLOAD_DIR = tmp_path / "uploads"
    (tmp_path / "uploads").mkdir()
    asset = add_asset(io.BytesIO(files.jpeg()), filename="front.jpg")
    assert _json(admin, "post", "/api/v1/catalog/products", bottle("WB-1")).status_code == 201
    assert _json(admin, "post", "/api/v1/catalog/products", espresso_pro()).status_code == 201
    link = {"asset_id": asset.pk, "role": "main"}
    r = _json(kitchen_editor, "post", "/api/v1/catalog/products/WB-1/links", link)
    assert r.status_code == 403 and "WB-1" in r.json()["error"]["message"]
    r = _json(kitchen_editor, "post", "/api/v1/catalog/products/EP-3000/links", link)
    assert r.status_code == 201, r.content
    r = _json(admin, "post", "/api/v1/catalog/products/WB-1/links", link)
    assert r.status_code == 201, r.content
    assert kitchen_editor.delete(f"/api/v1/links/{r.json()['id']}").status_code == 403

    # Replace everywhere spans every product showing the asset: WB-1 is outside the scope,
    # so the whole replacement is refused and no link changes (the admin may do it).
    logo = add_asset(io.BytesIO(files.jpeg(color=(10, 120, 40))), filename="new-front.jpg")
    swap = {"new_asset_id": logo.pk, "preview": False}
    url = f"/api/v1/assets/{asset.pk}/replace-everywhere"
    r = _json(kitchen_editor, "post", url, swap)
    assert r.status_code == 403, r.content
    assert r.json()["error"]["code"] == "out_of_scope" and "WB-1" in r.json()["error"]["message"]
    assert set(Link.objects.filter(asset=logo).values_list("pk", flat=True)) == set()
    r = _json(admin, "post", url, swap)
    assert r.status_code == 200, r.content
    assert Link.objects.filter(asset=logo).count() == 2


def test_the_web_ui_obeys_the_scope(kitchen_editor, admin):
    from django.test import Client

    assert _json(admin, "post", "/api/v1/catalog/products", bottle("WB-1")).status_code == 201
    assert _json(admin, "post", "/api/v1/catalog/products", espresso_pro()).status_code == 201
    web = Client()
    web.force_login(kitchen_editor.user)
    form = {"present_enabled": "1", "version": "1"}  # the box unticked: disable
    r = web.post("/products/WB-1/", form)
    assert r.status_code == 403
    assert b"WB-1 is not classified in the category kitchen" in r.content
    assert Product.objects.get(sku="WB-1").enabled is True
    r = web.post("/products/EP-3000/", form)
    assert r.status_code == 302
    assert Product.objects.get(sku="EP-3000").enabled is False
