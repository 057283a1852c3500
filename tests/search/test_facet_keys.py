"""Family and category facets counted from the keys indexed with each product entry, and from
the catalog tables for entries without keys: the same counts either way."""

import importlib
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import connection

from folio.catalog.models import Product
from folio.catalog.services import create_product, update_product
from folio.search import facets
from folio.search.index import SearchDoc, index_documents
from folio.search.models import Entry
from folio.search.unified import search_all
from tests.fixtures import catalog as catalog_fixtures


def _values(name: str) -> dict:
    return {"name": [{"locale": "en_US", "scope": None, "data": name}]}


@pytest.fixture
def shop(db, make_user):
    catalog_fixtures.catalog.__wrapped__(db)
    admin = make_user("admin")
    rows = [
        ("KT-1", "bottles", ["drinkware"]),
        ("KT-2", "bottles", ["drinkware", "kitchen"]),
        ("KT-3", "coffee_machines", ["kitchen", "coffee"]),
        ("KT-4", "coffee_machines", []),
        ("KT-5", None, ["coffee"]),
    ]
    for sku, family, categories in rows:
        data = {"sku": sku, "categories": categories, "values": _values(f"Kettle {sku}")}
        if family:
            data["family"] = family
        create_product(data, user=admin)
    return admin


def _facets(admin, q="kettle"):
    result = search_all(q, user=admin, kinds=["product"], facets=["family", "category"])
    return result["facets"]


def _keys() -> dict[str, str]:
    return {e.ref_id: e.extra.get(facets.EXTRA_KEY) for e in Entry.objects.filter(kind="product")}


EXPECTED = {
    "family": [
        {"value": "bottles", "count": 2},
        {"value": "coffee_machines", "count": 2},
        {"value": None, "count": 1},
    ],
    "category": [
        {"value": "coffee", "count": 2},
        {"value": "drinkware", "count": 2},
        {"value": "kitchen", "count": 2},
    ],
}


def test_entries_carry_the_products_family_and_categories(shop):
    ids = dict(Product.objects.values_list("sku", "pk"))
    family = dict(Product.objects.values_list("sku", "family_id"))
    keys = _keys()
    assert keys[str(ids["KT-4"])] == f"f{family['KT-4']}"
    assert keys[str(ids["KT-5"])].startswith("f c")
    three = keys[str(ids["KT-3"])].split()
    assert three[0] == f"f{family['KT-3']}" and len(three) == 3


def test_counts_from_keys_equal_counts_from_the_catalog(shop):
    from_keys = _facets(shop)
    assert from_keys == EXPECTED
    # Entries without keys (indexed before they existed) are counted from the catalog tables.
    for entry in Entry.objects.filter(kind="product"):
        entry.extra = {}
        entry.save(update_fields=["extra"])
    assert _facets(shop) == from_keys
    # Some with keys, some without: counted once each, the counts added up.
    first = Entry.objects.filter(kind="product").order_by("id").first()
    index_documents([SearchDoc("product", first.ref_id, title="Kettle again")])
    assert facets.EXTRA_KEY in Entry.objects.get(pk=first.pk).extra
    assert _facets(shop) == from_keys


def test_keys_follow_a_change_of_categories_and_family(shop):
    update_product("KT-1", {"categories": ["coffee"], "family": "coffee_machines"}, user=shop)
    got = _facets(shop)
    assert {v["value"]: v["count"] for v in got["family"]} == {
        "bottles": 1,
        "coffee_machines": 3,
        None: 1,
    }
    assert {v["value"]: v["count"] for v in got["category"]} == {
        "coffee": 3,
        "drinkware": 1,
        "kitchen": 2,
    }


def test_documents_of_no_product_get_no_keys(db):
    index_documents([SearchDoc("product", 987654, title="Orphan kettle")])
    assert Entry.objects.get(ref_id="987654").extra == {}


def test_migration_backfills_the_keys(shop):
    before = _keys()
    for entry in Entry.objects.filter(kind="product"):
        entry.extra = {"other": 1}
        entry.save(update_fields=["extra"])
    migration = importlib.import_module("folio.search.migrations.0004_facet_keys")
    migration.backfill(apps, SimpleNamespace(connection=connection))
    assert _keys() == before
    assert all(e.extra["other"] == 1 for e in Entry.objects.filter(kind="product"))
