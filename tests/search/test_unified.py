"""Unified search over real products and assets: typo-tolerant SKUs, facets, permissions."""

import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from folio.accounts import services as accounts
from folio.assets.editing import update_asset
from folio.assets.models import Asset, Collection
from folio.assets.services import add_asset
from folio.catalog.services import create_product
from folio.errors import InvalidInput, PermissionDenied
from folio.search import facets, fuzzy
from folio.search.index import index_documents, remove_documents
from folio.search.models import IdentifierVariant
from folio.search.unified import search_all
from tests.assets.files import jpeg
from tests.fixtures import catalog as catalog_fixtures

SKUS = [
    "WB-750-SS-BLUE",
    "WB-750-SS-BLACK",
    "WB-500-SS-BLUE",
    "WB-750-AL-BLUE",
    "WB-1000-SS-BLUE",
]


@pytest.fixture
def world(db, make_user):
    catalog_fixtures.catalog.__wrapped__(db)
    admin = make_user("admin")
    products = {}
    for sku in SKUS:
        products[sku] = create_product(
            {
                "sku": sku,
                "family": "bottles",
                "categories": ["drinkware"],
                "values": {
                    "name": [{"locale": "en_US", "scope": None, "data": f"Bottle {sku.lower()}"}]
                },
            },
            user=admin,
        )
    products["EP-3000"] = create_product(catalog_fixtures.espresso_pro(), user=admin)
    summer = Collection.objects.create(code="summer", name="Summer")
    brand = Collection.objects.create(code="brand", name="Brand")
    front = add_asset(
        io.BytesIO(jpeg()),
        filename="wb750ssblue_front.jpg",
        title="Blue bottle front",
        kind="packshot",
        collections=[summer, brand],
        tags=["bottle", "blue"],
        user=admin,
    )
    update_asset(front.pk, {"alt_text": {"en_US": "Turquoise flask on a rock"}}, user=admin)
    lifestyle = add_asset(
        io.BytesIO(jpeg(color=(10, 200, 10))),
        filename="picnic.jpg",
        title="Picnic with WB-750 bottle",
        kind="lifestyle",
        collections=[brand],
        tags=["bottle"],
        user=admin,
    )
    return {
        "admin": admin,
        "products": products,
        "front": front,
        "lifestyle": lifestyle,
        "summer": summer,
        "brand": brand,
    }


def skus(result) -> list[str]:
    return [h.get("sku") for h in result["hits"] if h["kind"] == "product"]


@pytest.mark.parametrize(
    "query",
    [
        "WB-750-SS-BLUF",  # a wrong character
        "WB-750-SS-BLU3",
        "WB-75-SS-BLUE",  # a missing character
        "WB-750-SS-BLE",
        "WB-750-SS-BLEU",  # two adjacent characters swapped
        "WB-705-SS-BLUE",
        "WB-7500-SS-BLUE",  # an extra character
        "WB-750-SSS-BLUE",
    ],
)
def test_a_typo_in_a_sku_ranks_the_right_product_first(world, query):
    result = search_all(query, user=world["admin"], kinds=["product"])
    assert skus(result)[0] == "WB-750-SS-BLUE", result["hits"]
    # WB-500-SS-BLUE is one edit from WB-7500-SS-BLUE too (the 7), but the edit is sooner.
    assert "WB-750-SS-BLACK" not in skus(result)


def test_a_typo_match_ranks_above_text_matches(world):
    result = search_all("WB-750-SS-BLEU", user=world["admin"])
    assert result["hits"][0]["sku"] == "WB-750-SS-BLUE"
    assert 1 <= result["hits"][0]["score"] < 1.02
    assert all(h["score"] < result["hits"][0]["score"] for h in result["hits"][1:])


def test_exact_and_prefix_matches_need_no_typo_lookup(world):
    result = search_all("WB-750-SS-BLUE", user=world["admin"], kinds=["product"])
    assert skus(result)[0] == "WB-750-SS-BLUE"
    assert result["hits"][0]["score"] >= 2
    prefix = search_all("WB-750-SS-BL", user=world["admin"], kinds=["product"])
    assert set(skus(prefix)[:2]) == {"WB-750-SS-BLUE", "WB-750-SS-BLACK"}


def test_short_keys_are_not_fuzzy(world):
    assert fuzzy.variants("wb7") == set()
    assert search_all("EP-30", user=world["admin"], kinds=["product"])["hits"][0]["sku"] == (
        "EP-3000"
    )


@pytest.mark.parametrize(
    "a, b, expected",
    [
        ("abcd", "abcd", True),
        ("abcd", "abce", True),
        ("abcd", "abdc", True),
        ("abcd", "abc", True),
        ("abcd", "xabcd", True),
        ("abcd", "badc", False),
        ("abcd", "acbe", False),
        ("abcd", "ab", False),
        ("abcd", "abxcdy", False),
    ],
)
def test_within_one(a, b, expected):
    assert fuzzy.within_one(a, b) is expected
    assert fuzzy.within_one(b, a) is expected


def test_variants_follow_the_index(world):
    pk = world["products"]["WB-750-SS-BLUE"].pk
    assert IdentifierVariant.objects.filter(entry__ref_id=str(pk), key="wb750ssblue").exists()
    remove_documents("product", [pk])
    assert not IdentifierVariant.objects.filter(entry__ref_id=str(pk), entry__kind="product")
    assert not fuzzy.candidates("wb750ssbleu", ["product"])


def test_variants_are_replaced_with_the_identifier(db):
    from folio.search.index import SearchDoc

    index_documents([SearchDoc(kind="product", ref_id=1, identifiers=["ABC-1234"])])
    assert fuzzy.candidates("abc1235", ["product"])
    index_documents([SearchDoc(kind="product", ref_id=1, identifiers=["XYZ-9876"])])
    assert not fuzzy.candidates("abc1235", ["product"])
    assert fuzzy.candidates("xyz9867", ["product"])


def test_assets_and_products_in_one_query(world):
    result = search_all("wb750ssblue", user=world["admin"])
    kinds = {(h["kind"], h.get("sku") or h.get("title")) for h in result["hits"]}
    assert ("product", "WB-750-SS-BLUE") in kinds
    assert ("asset", "Blue bottle front") in kinds  # by file name
    by_alt = search_all("turquoise", user=world["admin"])
    assert [(h["kind"], h["id"]) for h in by_alt["hits"]] == [("asset", world["front"].pk)]
    # Typo tolerance reaches file names too.
    typo = search_all("wb750ssbleu_front.jpg", user=world["admin"], kinds=["asset"])
    assert typo["hits"][0]["id"] == world["front"].pk


def test_facet_counts(world):
    with CaptureQueriesContext(connection) as queries:
        result = search_all(
            "bottle",
            user=world["admin"],
            facets=["family", "category", "status", "kind", "tags", "collections"],
        )
    facet = {
        name: {v["value"]: v["count"] for v in values} for name, values in result["facets"].items()
    }
    assert facet["family"] == {"bottles": 5}
    assert facet["category"] == {"drinkware": 5}
    assert facet["kind"] == {"packshot": 1, "lifestyle": 1}
    assert facet["status"] == {"draft": 2}
    assert facet["tags"] == {"bottle": 2, "blue": 1}
    assert facet["collections"] == {"brand": 2, "summer": 1}
    assert result["facets_capped"] is False
    # Hits (a page, labels) and, per kind, a COUNT and one query per facet: no N+1. On
    # PostgreSQL one more: the typed prefix's completions.
    assert len(queries) <= 6 + 2 + 6 + (connection.vendor == "postgresql")


def test_completeness_facet(world):
    result = search_all(
        "bottle",
        user=world["admin"],
        kinds=["product"],
        facets=["completeness"],
        channel="ecommerce",
        locale="en_US",
    )
    counts = {v["value"]: v["count"] for v in result["facets"]["completeness"]}
    assert sum(counts.values()) == 5
    assert counts.get("incomplete") == 5  # no description, price or capacity
    with pytest.raises(InvalidInput):
        search_all("bottle", user=world["admin"], facets=["completeness"])
    with pytest.raises(InvalidInput):
        search_all("bottle", user=world["admin"], facets=["colour"])


def test_facets_over_many_matches_are_capped(world, monkeypatch):
    monkeypatch.setattr(facets, "FACET_LIMIT", 3)
    result = search_all("bottle", user=world["admin"], kinds=["product"], facets=["family"])
    assert result["facets_capped"] is True
    assert result["facet_sample"] == 3
    assert result["facets"]["family"] == [{"value": "bottles", "count": 3}]


def test_facets_include_typo_matches(world):
    result = search_all("WB-750-SS-BLEU", user=world["admin"], kinds=["product"], facets=["family"])
    assert result["facets"]["family"] == [{"value": "bottles", "count": 1}]


def test_permissions(world, make_user):
    viewer = make_user("viewer")
    assert search_all("bottle", user=viewer)["hits"]
    nobody = accounts.create_user("nobody", roles=[], password="correct-horse-battery-9")
    with pytest.raises(PermissionDenied):
        search_all("bottle", user=nobody)
    with pytest.raises(PermissionDenied):
        search_all("bottle", user=nobody, kinds=["asset"])


def test_agency_users_see_only_their_collections(world, make_user):
    agency = make_user("agency")
    world["summer"].agencies.add(agency)
    result = search_all("bottle", user=agency, kinds=["asset"], facets=["collections", "tags"])
    assert [h["id"] for h in result["hits"]] == [world["front"].pk]
    assert result["facets"]["collections"] == [{"value": "summer", "count": 1}]
    assert {v["value"] for v in result["facets"]["tags"]} == {"bottle", "blue"}
    assert Asset.objects.count() == 2


def test_api(world, api_client):
    client = api_client("admin")
    response = client.get(
        "/api/v1/search/all",
        {"q": "WB-750-SS-BLEU", "kind": ["product", "asset"], "facet": ["family", "kind"]},
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["hits"][0]["sku"] == "WB-750-SS-BLUE"
    assert body["facets"]["family"] == [{"value": "bottles", "count": 1}]
    assert body["facets_capped"] is False
    bad = client.get("/api/v1/search/all", {"q": "x", "facet": "colour"})
    assert bad.status_code == 422
    assert api_client("agency", "api-agency2").get(
        "/api/v1/search/all", {"q": "x", "kind": "product"}
    ).status_code in (401, 403)
