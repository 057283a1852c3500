"""GET /api/v1/search: authenticated, permission-checked, never a 500 for odd input."""

import pytest
from django.test import Client

from folio.accounts import services
from folio.search.index import SearchDoc, index_documents
from tests.search.test_index import HOSTILE


def test_search_returns_ordered_hits(api_client, catalog):
    response = api_client("viewer").get("/api/v1/search", {"q": "WB-750-SS"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["hits"][0] == {
        "kind": "product",
        "id": catalog["WB-750-SS"],
        "score": body["hits"][0]["score"],
    }
    scores = [hit["score"] for hit in body["hits"]]
    assert scores == sorted(scores, reverse=True)


def test_limit_and_next_page(api_client, catalog):
    client = api_client("viewer")
    first = client.get("/api/v1/search", {"q": "mug", "limit": 60}).json()
    assert len(first["hits"]) == 60 and first["next"]
    second = client.get("/api/v1/search", {"q": "mug", "limit": 60, "after": first["next"]})
    rest = second.json()
    assert len(rest["hits"]) == 40 and rest["next"] is None
    ids = [h["id"] for h in first["hits"] + rest["hits"]]
    assert len(set(ids)) == 100


def test_several_kinds(api_client, catalog):
    index_documents([SearchDoc("product_model", 3, identifiers=["WB-750"], title="Trinkflasche")])
    client = api_client("viewer")
    body = client.get("/api/v1/search?q=WB-750&kind=product&kind=product_model").json()
    assert body["hits"][0] == {"kind": "product_model", "id": 3, "score": body["hits"][0]["score"]}
    assert {h["kind"] for h in body["hits"]} == {"product", "product_model"}


def test_needs_authentication(db):
    response = Client().get("/api/v1/search", {"q": "x"})
    assert response.status_code == 401


def test_needs_view_permission(db):
    user = services.create_user("nobody", roles=[], password="correct-horse-battery-9")
    _, text = services.create_token(user, "no roles")
    response = Client(HTTP_AUTHORIZATION=f"Bearer {text}").get("/api/v1/search", {"q": "x"})
    assert response.status_code == 403
    assert response.json()["error"]["details"] == {"permission": "catalog.view_product"}


@pytest.mark.parametrize(
    "params, field",
    [
        ({"q": "x", "kind": "nonsense"}, "kind"),
        ({"q": "x", "limit": 0}, "limit"),
        ({"q": "x", "limit": 100_000}, "limit"),
        ({"q": "x", "after": "garbage"}, "after"),
    ],
)
def test_bad_parameters_are_422(api_client, params, field):
    response = api_client("viewer").get("/api/v1/search", params)
    assert response.status_code == 422
    assert response.json()["error"]["details"]["field"] == field


def test_hostile_queries_are_never_a_500(api_client, catalog):
    client = api_client("viewer")
    for query in HOSTILE:
        if "\ud800" in query:
            continue  # a lone surrogate cannot be encoded into a URL
        response = client.get("/api/v1/search", {"q": query})
        assert response.status_code == 200, (query, response.content)
