"""Unified search with bounded work: capped facets, cursors over ranked and unranked hits,
typo-tolerant words, and the vocabulary kept with every write. Real products (bulk upsert
through the catalog service) and real assets; no part of the search is replaced."""

import io

import pytest
from django.db import connection

from folio.assets.editing import update_asset
from folio.assets.models import Collection
from folio.assets.services import add_asset
from folio.catalog.services import bulk_upsert, create_product, update_product
from folio.errors import InvalidInput
from folio.search import facets, fuzzy, unified
from folio.search.index import SearchDoc, index_documents, remove_documents
from folio.search.models import Term, TermVariant
from folio.search.unified import search_all
from tests.assets.files import jpeg
from tests.fixtures import catalog as catalog_fixtures

COLOURS = ("turquoise", "crimson", "saffron")


def _product(n: int, family: str, name: str) -> dict:
    return {
        "sku": f"MUG-{n:03d}",
        "family": family,
        "categories": ["drinkware"] if family == "bottles" else [],
        "values": {"name": [{"locale": "en_US", "scope": None, "data": name}]},
    }


@pytest.fixture
def mugs(db, make_user):
    """40 mugs (30 bottles-family, 10 coffee-family), names in three colours."""
    catalog_fixtures.catalog.__wrapped__(db)
    admin = make_user("admin")
    items = [
        _product(
            n, "bottles" if n <= 30 else "coffee_machines", f"Mug {COLOURS[n % 3]} {n} ceramic"
        )
        for n in range(1, 41)
    ]
    lines = list(bulk_upsert(items))
    assert all(line["status"] in ("created", "updated") for line in lines), lines
    return admin


def _all_pages(q, user, limit, **kw):
    pages, after = [], None
    while True:
        result = search_all(q, user=user, limit=limit, after=after, **kw)
        pages.append(result)
        after = result["next"]
        if after is None:
            return pages
        assert len(pages) < 100


def _keys(pages):
    return [(h["kind"], h["id"]) for p in pages for h in p["hits"]]


def test_facet_counts_are_exact_below_the_cap(mugs):
    result = search_all("mug", user=mugs, kinds=["product"], facets=["family", "category"])
    assert result["facets_capped"] is False and result["facet_sample"] is None
    family = {v["value"]: v["count"] for v in result["facets"]["family"]}
    assert family == {"bottles": 30, "coffee_machines": 10}
    assert result["facets"]["category"] == [{"value": "drinkware", "count": 30}]


def test_above_the_cap_facets_count_the_first_matches_and_say_so(mugs, monkeypatch):
    monkeypatch.setattr(facets, "FACET_LIMIT", 12)
    result = search_all("mug", user=mugs, kinds=["product"], facets=["family"])
    assert result["facets_capped"] is True
    assert result["facet_sample"] == 12
    assert sum(v["count"] for v in result["facets"]["family"]) == 12
    # The first 12 matches in index order are MUG-001 … MUG-012: all bottles.
    assert result["facets"]["family"] == [{"value": "bottles", "count": 12}]


@pytest.mark.parametrize("cap, rank", [(10_000, 1_000), (7, 1_000), (10_000, 5), (7, 3)])
def test_pages_cover_every_match_once_in_a_stable_order(mugs, monkeypatch, cap, rank):
    monkeypatch.setattr(facets, "FACET_LIMIT", cap)
    monkeypatch.setattr(unified, "RANK_LIMIT", rank)
    # "ceramic" is in every name and in no SKU: text matches only.
    pages = _all_pages("ceramic", mugs, limit=6, kinds=["product"], facets=["family"])
    # Facets count every match up to the cap, however few are ranked.
    assert pages[0]["facets_capped"] is (cap < 40)
    assert sum(v["count"] for v in pages[0]["facets"]["family"]) == min(cap, 40)
    keys = _keys(pages)
    assert len(keys) == 40 and len(set(keys)) == 40
    assert all(len(p["hits"]) == 6 for p in pages[:-1])
    # The same query in one page gives the same order.
    whole = search_all("ceramic", user=mugs, kinds=["product"], limit=100)
    assert [(h["kind"], h["id"]) for h in whole["hits"]] == keys
    assert whole["next"] is None
    hits = [h for p in pages for h in p["hits"]]
    ranked = [h for h in hits if h["score"] > 0]
    assert len(ranked) == min(cap, rank, 40)
    # Ranked hits by (score descending, kind, id); then the unranked rest, score 0.
    assert ranked == sorted(ranked, key=lambda h: (-h["score"], h["kind"], h["id"]))
    assert hits[: len(ranked)] == ranked


def test_identifier_matches_are_ranked_however_far_the_text_match_reads(mugs, monkeypatch):
    # Indexed last, so past the entries the bounded text match reads.
    create_product(_product(0, "bottles", "Mug"), user=mugs)
    assert search_all("MUG-000", user=mugs)["hits"][0]["sku"] == "MUG-000"
    from folio.catalog.models import Product

    Product.objects.filter(sku="MUG-000").update(sku="MUG-01")
    index_documents([SearchDoc("product", Product.objects.get(sku="MUG-01").pk, ["MUG-01"], "Mug")])
    monkeypatch.setattr(facets, "FACET_LIMIT", 5)
    # "MUG-01" is one SKU and starts ten others; the text match reads 5 entries, the
    # identifier index 5 keys (mug01, mug010 … mug013).
    pages = _all_pages("MUG-01", mugs, limit=4, kinds=["product"], facets=["family"])
    hits = [h for p in pages for h in p["hits"]]
    assert hits[0]["sku"] == "MUG-01" and hits[0]["score"] > 2  # with its text score
    assert [h["sku"] for h in hits[1:5]] == [f"MUG-{n:03d}" for n in range(10, 14)]
    assert all(1 < h["score"] < 2 for h in hits[1:5])
    assert sorted(h["sku"] for h in hits[5:]) == [f"MUG-{n:03d}" for n in range(14, 20)]
    assert len(hits) == 11
    assert pages[0]["facets_capped"] is True


def test_a_cursor_belongs_to_its_query(mugs):
    first = search_all("mug", user=mugs, kinds=["product"], limit=5)
    with pytest.raises(InvalidInput):
        search_all("cup", user=mugs, kinds=["product"], after=first["next"])
    with pytest.raises(InvalidInput):
        search_all("mug", user=mugs, kinds=["product", "asset"], after=first["next"])
    for bad in ("x", "eyJ4Ijox", "W10", "!!", "a" * 300):
        with pytest.raises(InvalidInput):
            search_all("mug", user=mugs, kinds=["product"], after=bad)


def test_a_page_shows_only_what_still_exists(mugs):
    first = search_all("mug", user=mugs, kinds=["product"], limit=5)
    # A product deleted without its search entry (as a concurrent delete may leave it for a
    # moment) is left out of the page, and the cursor still moves on.
    from folio.catalog.models import Product

    gone = first["hits"][0]["id"]
    Product.objects.filter(pk=gone).delete()
    again = search_all("mug", user=mugs, kinds=["product"], limit=5)
    assert gone not in [h["id"] for h in again["hits"]]
    following = search_all("mug", user=mugs, kinds=["product"], limit=5, after=again["next"])
    assert len(following["hits"]) == 5


@pytest.mark.parametrize(
    "query",
    [
        "turquoize",  # a wrong character
        "turqoise",  # a missing character
        "tuquoise",
        "turquiose",  # two characters swapped
        "turquoisee",  # an extra character
        "mug turquoize",  # with another word
        "turquoize mug",
    ],
)
def test_a_word_with_a_typo_finds_the_right_products(mugs, query):
    result = search_all(query, user=mugs, kinds=["product"], facets=["family"])
    found = {h["sku"] for h in result["hits"]}
    expected = {f"MUG-{n:03d}" for n in range(1, 41) if COLOURS[n % 3] == "turquoise"}
    assert found == expected
    assert all(0 < h["score"] < 0.5 for h in result["hits"])  # below uncorrected text
    assert sum(v["count"] for v in result["facets"]["family"]) == len(expected)


def test_exact_words_come_before_corrected_ones(mugs, make_user):
    admin = mugs
    # "crimsom" is a real word of one product; the others say "crimson".
    create_product(_product(99, "bottles", "Cup crimsom"), user=admin)
    result = search_all("crimsom", user=admin, kinds=["product"])
    assert result["hits"][0]["sku"] == "MUG-099"
    assert result["hits"][0]["score"] >= 0.5
    assert len(result["hits"]) == 1 + 14  # few exact hits: the neighbours are tried too
    assert all(h["score"] < 0.5 for h in result["hits"][1:])


def test_which_words_are_corrected(mugs):
    def alternatives(q):
        return fuzzy.word_alternatives(unified.index.parse_query(q))

    assert alternatives("saffrn") == {0: ["saffron"]}
    assert alternatives("mug saffrn") == {1: ["saffron"]}
    # Short words and numbers are never corrected, nor identifiers typed with separators.
    assert alternatives("sa") == alternatives("1234") == alternatives("saf-fron") == {}
    # Only when the query as typed finds few matches: "saffron" finds 13.
    result = search_all("saffron", user=mugs, kinds=["product"])
    assert len(result["hits"]) == 13 and all(h["score"] >= 0.5 for h in result["hits"])


def test_the_vocabulary_follows_every_write(mugs):
    assert not search_all("vermilion", user=mugs, kinds=["product"])["hits"]
    from folio.catalog.models import Product

    mug = Product.objects.get(sku="MUG-001")
    update_product(
        "MUG-001",
        {"values": {"name": [{"locale": "en_US", "scope": None, "data": "Mug vermilion"}]}},
        user=mugs,
        expected_version=mug.version,
    )
    assert Term.objects.filter(term="vermilion").exists()
    assert TermVariant.objects.filter(variant="vermlion", term="vermilion").exists()
    # Found at once, by its word and by a typo of it.
    assert [h["sku"] for h in search_all("vermilion", user=mugs)["hits"]] == ["MUG-001"]
    assert [h["sku"] for h in search_all("vermillion", user=mugs)["hits"]] == ["MUG-001"]
    # Renamed again: the typo no longer finds it (the old word may stay in the vocabulary,
    # but the corrected query runs against the index).
    mug.refresh_from_db()
    update_product(
        "MUG-001",
        {"values": {"name": [{"locale": "en_US", "scope": None, "data": "Mug plain"}]}},
        user=mugs,
        expected_version=mug.version,
    )
    assert not search_all("vermillion", user=mugs)["hits"]
    assert not search_all("vermilion", user=mugs)["hits"]


def test_the_vocabulary_is_written_in_the_index_transaction(db):
    index_documents([SearchDoc("product", 1, identifiers=["ZZ-1"], title="Gourde", body="Isolée")])
    assert set(Term.objects.values_list("term", flat=True)) >= {"gourde", "isolee"}
    # Identifiers, numbers and short tokens are not words.
    assert not Term.objects.filter(term__in=["zz", "1", "zz1"]).exists()
    remove_documents("product", [1])
    assert fuzzy.word_alternatives(unified.index.parse_query("gourda")) == {0: ["gourde"]}


def test_asset_words_with_typos(db, make_user):
    admin = make_user("admin")
    brand = Collection.objects.create(code="brand", name="Brand")
    asset = add_asset(
        io.BytesIO(jpeg()),
        filename="front.jpg",
        title="Lighthouse at dawn",
        kind="lifestyle",
        collections=[brand],
        tags=["seaside"],
        user=admin,
    )
    update_asset(asset.pk, {"alt_text": {"en_US": "Lighthouse on a cliff"}}, user=admin)
    for query in ("lighthose", "seasdie", "lighthouse daqn"):
        result = search_all(query, user=admin, kinds=["asset"], facets=["tags"])
        assert [h["id"] for h in result["hits"]] == [asset.pk], query
        assert result["facets"]["tags"] == [{"value": "seaside", "count": 1}]


def test_one_bounded_text_match_per_request(mugs):
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        search_all("mug", user=mugs, kinds=["product"], facets=["family", "category"])
    texts = [q["sql"] for q in queries]
    matches = [s for s in texts if "MATCH" in s or "@@" in s]
    # The text match (ids in index order), then the scores of the ranked ones only, read
    # between the first and the last of their ids.
    assert len(matches) == 2, matches
    assert "rowid >= " in matches[1] or "BETWEEN" in matches[1]
    # Those, identifiers, typo'd identifiers, labels, two facets.
    assert len(texts) <= 8, texts


def test_api_pages(mugs, api_client):
    client = api_client("admin")
    first = client.get("/api/v1/search/all", {"q": "mug", "kind": "product", "limit": 30})
    assert first.status_code == 200, first.content
    body = first.json()
    assert len(body["hits"]) == 30 and body["next"]
    second = client.get(
        "/api/v1/search/all",
        {"q": "mug", "kind": "product", "limit": 30, "after": body["next"]},
    ).json()
    assert len(second["hits"]) == 10 and second["next"] is None
    ids = {h["id"] for h in body["hits"] + second["hits"]}
    assert len(ids) == 40
    bad = client.get("/api/v1/search/all", {"q": "mug", "after": "nonsense"})
    assert bad.status_code == 422
    assert bad.json()["error"]["details"]["field"] == "after"


def test_hostile_queries_never_fail(mugs):
    from tests.search.test_index import HOSTILE

    for query in [*HOSTILE, "mugg " * 20, "turquoize " * 12, "ab" * 40]:
        result = search_all(query, user=mugs, facets=["family", "tags"], limit=5)
        assert isinstance(result["hits"], list), query
        if result["next"]:
            search_all(query, user=mugs, facets=["family"], limit=5, after=result["next"])


def test_a_typed_prefix_is_scored_through_its_completions(mugs):
    # "ceram" is no word: it is scored as the indexed words it starts (ceramic), so its
    # matches get a text score like the whole word's.
    assert fuzzy.completions("ceram") == ["ceramic"]
    assert fuzzy.completions("cer") is None  # short prefixes have their own index
    prefix = search_all("ceram", user=mugs, kinds=["product"], limit=100)
    whole = search_all("ceramic", user=mugs, kinds=["product"], limit=100)
    assert len(prefix["hits"]) == 40
    assert [h["id"] for h in prefix["hits"]] == [h["id"] for h in whole["hits"]]
    assert all(h["score"] > 0.5 for h in prefix["hits"])
