"""The search index against the real full-text engine of the database under test."""

from dataclasses import replace

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from folio.errors import InvalidInput
from folio.search import backends, index
from folio.search.index import (
    SearchDoc,
    index_documents,
    matching_ids,
    rebuild,
    remove_documents,
    search,
)
from tests.search.conftest import SIZES, catalog_docs


def skus(result, catalog) -> list[str]:
    names = {pk: sku for sku, pk in catalog.items()}
    return [names[hit.ref_id] for hit in result]


def test_full_sku_is_the_first_hit(catalog):
    result = search("WB-750-SS")
    assert skus(result, catalog)[0] == "WB-750-SS"
    assert result.hits[0].kind == "product"
    assert result.hits[0].score >= 2


@pytest.mark.parametrize("query", ["WB-75", "wb-75", "WB-750", "wb750", "WB750", "wb 750"])
def test_sku_prefix(catalog, query):
    found = skus(search(query), catalog)
    assert set(found[:5]) == {f"WB-750-{f}" for f in ("SS", "BK", "WH", "BL", "RD")}
    assert not any(s.startswith("WB-500") for s in found)


def test_case_and_separators_are_ignored(catalog):
    for query in ("wb-750-ss", "Wb-750-sS", "wb750ss", "WB_750_SS", "wb 750ss"):
        assert skus(search(query), catalog)[0] == "WB-750-SS", query


def test_gtin_exact_and_prefix(catalog):
    pk = catalog["CM-200"]
    doc = next(d for d in catalog_docs() if d.ref_id == pk)
    assert search(doc.identifiers[1]).ids[0] == pk
    assert pk in search(doc.identifiers[1][:10], limit=500).ids


@pytest.mark.parametrize(
    "query, expected",
    [
        ("Edelstahl", {f"WB-{s}-SS" for s in SIZES}),
        ("edelstahl", {f"WB-{s}-SS" for s in SIZES}),
        ("Trinkflasche Weiß", {f"WB-{s}-WH" for s in SIZES}),
        ("trinkflasche weiss", {f"WB-{s}-WH" for s in SIZES}),
        ("Kaffeevollautomat", {"CM-100", "CM-1000"}),
        ("Kaffeemühle", {"CG-10"}),
        ("kaffeemuhle", {"CG-10"}),
        ("acier inoxydable", {f"WB-{s}-SS" for s in SIZES}),
        ("Gourde 500 ml noir", {"WB-500-BK"}),
        ("machine à café", {"CM-100", "CM-1000"}),
        ("Machine a cafe barista pro", {"CM-1000"}),
        ("Détartrant", {"DS-100"}),
        ("detartrant", {"DS-100"}),
    ],
)
def test_words_in_every_locale(catalog, query, expected):
    assert set(skus(search(query, limit=500), catalog)) == expected


def test_cafe_with_and_without_accent(catalog):
    with_accent = set(search("café", limit=500).ids)
    assert with_accent == set(search("cafe", limit=500).ids)
    assert {catalog["CM-100"], catalog["CG-10"]} <= with_accent


def test_last_word_is_a_prefix(catalog):
    assert set(skus(search("Kaffeevoll"), catalog)) == {"CM-100", "CM-1000"}
    assert set(skus(search("Trinkflasche edelst"), catalog)) == {f"WB-{s}-SS" for s in SIZES}
    # Earlier words are whole words: "Trinkfl" alone is no word of any product.
    assert search("Trinkfl edelstahl").hits == []


def _with_prefix_form(parsed):
    """The same query with its typed prefixes left as prefixes (no completions)."""
    return replace(parsed, completions={})


def _ids(parsed) -> set:
    sql, params = backends.current().search_sql(parsed, ["product"], 500, None)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {ref for _, ref, _, _ in cursor.fetchall()}


@pytest.mark.parametrize(
    "query", ["Trinkflasche 75", "wb-75", "wb 75", "gourde 500 ml no", "Kaffeevoll", "40063"]
)
def test_typed_prefixes_find_what_the_prefix_finds(catalog, query):
    """On PostgreSQL a typed prefix that one indexed word completes is matched as that word,
    which the GIN index answers exactly; the hits are the prefix's (ts_rank weighs a word a
    little differently from a prefix, so scores may differ)."""
    parsed = index.parse_query(query)
    assert _ids(parsed) == _ids(_with_prefix_form(parsed))
    assert _ids(parsed)
    if connection.vendor == "postgresql":
        expression = backends.current().match_expression(parsed)
        for prefix, word in parsed.completions.items():
            assert word.startswith(prefix)
            assert f"'{prefix}':*" not in expression


def test_completions_come_from_every_indexed_word(catalog):
    if connection.vendor != "postgresql":
        assert index.parse_query("trinkflasche 75").completions == {}
        return
    parsed = index.parse_query("trinkflasche kaffeevoll")
    # One word starts with it (the coffee machines' German name): matched as that word.
    assert parsed.completions["kaffeevoll"] == "kaffeevollautomat"
    # No word starts with it: matched as itself, a word no document has.
    assert parsed.completions["trinkflaschekaffeevoll"] == "trinkflaschekaffeevoll"
    expression = backends.current().match_expression(parsed)
    assert "'kaffeevollautomat'" in expression and ":*" not in expression
    # Several words (the five finishes' SKUs, every product's GTIN): the prefix stays.
    assert "wb75" not in index.parse_query("wb-75").completions
    assert "40063" not in index.parse_query("40063").completions
    assert "'wb75':*" in backends.current().match_expression(index.parse_query("wb-75"))
    # A word indexed now is completed at once, in the same transaction.
    index_documents([SearchDoc("product", 9001, identifiers=["ZQ-1"], title="Zyxwvut lamp")])
    parsed = index.parse_query("zyxw")
    assert parsed.completions == {"zyxw": "zyxwvut"}
    assert search("zyxw").ids == [9001]


def test_exact_identifier_ranks_above_prefix_and_text(catalog):
    found = skus(search("CM-100"), catalog)
    # Exact SKU, then the SKU it starts, then the descaler that mentions it in its text.
    assert found[:3] == ["CM-100", "CM-1000", "DS-100"]


def test_identifier_weighs_more_than_text(catalog):
    found = skus(search("CM-200"), catalog)
    assert found[0] == "CM-200"
    assert "DS-100" in found
    scores = [hit.score for hit in search("CM-200")]
    assert scores == sorted(scores, reverse=True)


def test_kinds_are_kept_apart(catalog):
    index_documents(
        [SearchDoc("product_model", 1, identifiers=["WB-750"], title="Trinkflasche 750 ml")]
    )
    assert all(hit.kind == "product" for hit in search("WB-750", limit=500))
    models_only = search("WB-750", kinds=["product_model"])
    assert [(h.kind, h.ref_id) for h in models_only] == [("product_model", 1)]
    both = search("WB-750", kinds=["product", "product_model"])
    assert both.hits[0][:2] == ("product_model", 1)  # its code is the exact identifier
    assert {h.kind for h in both} == {"product", "product_model"}


def test_upsert_replaces_the_document(catalog):
    pk = catalog["WB-750-SS"]
    index_documents(
        [SearchDoc("product", pk, identifiers=["WB-750-TI"], title="Titan bottle Titanflasche")]
    )
    assert search("Titanflasche").ids == [pk]
    assert pk not in search("WB-750-SS").ids
    assert search("WB-750-TI").ids[0] == pk
    assert pk not in search("Edelstahl", limit=500).ids
    assert len(search("WB-750", limit=500)) == 5  # still one entry, not two


def test_unchanged_documents_are_not_rewritten(catalog):
    docs = catalog_docs()
    with CaptureQueriesContext(connection) as queries:
        index_documents(docs)
    # One read per batch of 500 (plus the savepoint); no writes.
    writes = [q for q in queries if q["sql"].lstrip().upper().startswith(("INSERT", "DELETE"))]
    assert writes == []


def test_a_document_given_twice_keeps_the_last(db):
    index_documents(
        [
            SearchDoc("product", 1, identifiers=["A-1"], title="first"),
            SearchDoc("product", 1, identifiers=["A-1"], title="second"),
        ]
    )
    assert search("second").ids == [1]
    assert search("first").ids == []


def test_texts_an_array_literal_must_quote_are_stored_as_given(db):
    """On PostgreSQL the rows go in as one array per column: the word null, quotes,
    backslashes, braces and commas must arrive as written, not as NULLs or split values."""
    from folio.search.models import Entry, Identifier, IdentifierVariant

    extra = {"note": 'say "hi", {x} back\\slash', "none": None}
    title = 'null "quoted" back\\slash {braced}, comma'
    index_documents(
        [SearchDoc("product_model", 7, identifiers=["NULL-1", "null"], title=title, extra=extra)]
    )
    entry = Entry.objects.get(kind="product_model", ref_id="7")
    assert entry.extra == extra
    assert set(Identifier.objects.filter(entry=entry).values_list("value", flat=True)) == {
        "null1",
        "null",
    }
    keys = set(IdentifierVariant.objects.filter(entry=entry).values_list("key", flat=True))
    assert keys == {"null1", "null"}
    assert search("braced", kinds=["product_model"]).ids == [7]
    assert search("NULL-1", kinds=["product_model"]).ids == [7]


def test_remove_documents(catalog):
    gone = [catalog["WB-750-SS"], catalog["WB-750-BK"]]
    remove_documents("product", [*gone, 999_999])
    found = search("WB-750", limit=500).ids
    assert len(found) == 3
    assert not set(gone) & set(found)
    assert not set(gone) & set(search("WB-750-SS", limit=500).ids)


def test_rebuild_replaces_one_kind(catalog):
    index_documents([SearchDoc("product_model", 7, identifiers=["MODEL-7"], title="Flasche")])
    count = rebuild(
        "product", [SearchDoc("product", 1, identifiers=["NEW-1"], title="Neu Flasche")]
    )
    assert count == 1
    assert search("WB-750").hits == []
    assert search("NEW-1").ids == [1]
    assert search("Flasche", kinds=["product_model"]).ids == [7]
    with pytest.raises(InvalidInput):
        rebuild("product", [SearchDoc("product_model", 1, title="x")])


def test_pages_follow_each_other(catalog):
    everything = search("Mug", limit=500)
    assert len(everything) == 100
    pages, after = [], None
    while True:
        page = search("Mug", limit=30, after=after)
        pages.extend(page.ids)
        after = page.next
        if after is None:
            break
    assert pages == everything.ids
    with pytest.raises(InvalidInput):
        search("Mug", after="not-a-cursor")


HOSTILE = [
    "",
    "   ",
    '"',
    '""',
    "'",
    "*",
    "**",
    "-",
    "--",
    "AND (",
    "OR",
    "NOT",
    "NEAR(a b)",
    "a AND",
    "(",
    ")",
    "title:",
    "identifiers:wb",
    "{identifiers}: x",
    "^wb",
    "wb*",
    "'wb':*",
    "wb & 750 | !x",
    "wb <-> 750",
    "\\",
    "%",
    "_",
    "%_%",
    "\x00",
    "\x00wb",
    "🙂",
    "🙂 WB-750",
    "👨‍👩‍👧",
    "東京タワー",
    "हिन्दी",
    "Ωmega",
    "a" * 1000,
    "WB-750 " * 200,
    "wb-" * 400,
    "1" * 3000,
    "; DROP TABLE search_entry; --",
    "' OR 1=1 --",
    '" OR 1=1 --',
    "\ud800",
]


@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_queries_never_fail(catalog, query):
    result = search(query, limit=10)
    assert isinstance(result.hits, list)
    ids = matching_ids(query, "product")
    if ids != []:
        with connection.cursor() as cursor:
            cursor.execute(ids.sql, ids.params)
            cursor.fetchall()


def test_hostile_queries_still_find_what_they_name(catalog):
    assert search("🙂 WB-750-SS").ids[0] == catalog["WB-750-SS"]
    assert search('"WB-750-SS"').ids[0] == catalog["WB-750-SS"]
    assert search("WB-750-SS*").ids[0] == catalog["WB-750-SS"]
    # "AND" is an ordinary word here, not an operator: no product contains it.
    assert search("WB-750 AND (").hits == []


def test_matching_ids_filters_a_queryset(db):
    index.register_kind("test_user", permission="auth.view_user")
    try:
        User = get_user_model()
        alice = User.objects.create(username="alice")
        bob = User.objects.create(username="bob")
        User.objects.create(username="carol")
        index_documents(
            [
                SearchDoc("test_user", alice.pk, identifiers=["U-1"], title="Alice Trinkflasche"),
                SearchDoc("test_user", bob.pk, identifiers=["U-2"], title="Bob Trinkflasche"),
            ]
        )
        qs = User.objects.filter(pk__in=matching_ids("trinkfl", "test_user"))
        assert sorted(qs.values_list("username", flat=True)) == ["alice", "bob"]
        qs = User.objects.filter(pk__in=matching_ids("U-1", "test_user"))
        assert list(qs.values_list("username", flat=True)) == ["alice"]
        assert not User.objects.filter(pk__in=matching_ids("*", "test_user")).exists()
        # Other kinds with the same ids do not leak in.
        index_documents([SearchDoc("product", bob.pk, title="Kaffee")])
        assert not User.objects.filter(pk__in=matching_ids("Kaffee", "test_user")).exists()
    finally:
        del index.KINDS["test_user"]


def test_many_documents_take_few_statements(db):
    docs = [
        SearchDoc("product", n, identifiers=[f"BULK-{n:05d}"], title=f"Bulk item {n}", body="x")
        for n in range(1, 3001)
    ]
    with CaptureQueriesContext(connection) as queries:
        index_documents(docs)
    # A handful of statements per batch of 500, whatever the number of documents in it (one
    # of them reads the products' facet keys).
    assert len(queries) <= 6 * 9
    assert search("BULK-02999").ids == [2999]
    assert len(search("bulk", limit=500)) == 500


def test_bad_input_is_refused(db):
    with pytest.raises(InvalidInput):
        index_documents([SearchDoc("no_such_kind", 1)])
    with pytest.raises(InvalidInput):
        index_documents([SearchDoc("product", "abc")])
    with pytest.raises(InvalidInput):
        search("x", kinds=["no_such_kind"])
    with pytest.raises(InvalidInput):
        search("x", limit=0)
    with pytest.raises(InvalidInput):
        search("x", kinds=[])
