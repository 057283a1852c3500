"""The product REST API end to end, with real tokens: CRUD, filters, bulk NDJSON, history."""

import json

import pytest

from folio.catalog import services
from folio.catalog.models import Channel, Product
from tests.fixtures.catalog import espresso_pro


def _json(client, method, url, body=None, **headers):
    return getattr(client, method)(
        url,
        json.dumps(body) if body is not None else None,
        content_type="application/json",
        **headers,
    )


@pytest.fixture
def editor(api_client, catalog):
    return api_client("catalog_editor")


def test_create_get_patch_delete(editor):
    created = _json(editor, "post", "/api/v1/catalog/products", espresso_pro())
    assert created.status_code == 201, created.content
    assert created["ETag"] == 'W/"1"'
    body = created.json()
    assert body["values"]["power"][0]["data"] == {"amount": "1450", "unit": "WATT"}
    assert {(c["channel"], c["locale"]): c["ratio"] for c in body["completeness"]}[
        ("ecommerce", "de_DE")
    ] == 50
    patched = _json(
        editor,
        "patch",
        "/api/v1/catalog/products/EP-3000",
        {"enabled": False},
        HTTP_IF_MATCH='W/"1"',
    )
    assert patched.status_code == 200 and patched.json()["version"] == 2
    stale = _json(
        editor,
        "patch",
        "/api/v1/catalog/products/EP-3000",
        {"enabled": True},
        HTTP_IF_MATCH='W/"1"',
    )
    assert stale.status_code == 409
    assert stale.json()["error"]["code"] == "stale_write"
    assert stale.json()["error"]["details"]["current"]["enabled"] is False
    history = editor.get("/api/v1/catalog/products/EP-3000/history").json()["results"]
    assert [h["version"] for h in history] == [2, 1]
    assert history[0]["changes"] == [{"field": "enabled", "old": True, "new": False}]
    assert editor.delete("/api/v1/catalog/products/EP-3000").status_code == 204
    assert editor.get("/api/v1/catalog/products/EP-3000").status_code == 404


def test_bad_values_answer_422_naming_attribute_locale_channel(editor):
    item = espresso_pro()
    item["values"]["short_title"] = [{"locale": "de_DE", "scope": "marketplace", "data": "x"}]
    response = _json(editor, "post", "/api/v1/catalog/products", item)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["details"] == [
        {
            "attribute": "short_title",
            "locale": "de_DE",
            "channel": "marketplace",
            "reason": "channel marketplace is not published in de_DE",
        }
    ]
    assert "short_title [de_DE] <marketplace>" in error["message"]
    assert not Product.objects.exists()


def test_viewer_cannot_write(api_client, catalog):
    viewer = api_client("viewer")
    assert _json(viewer, "post", "/api/v1/catalog/products", espresso_pro()).status_code == 403
    assert viewer.get("/api/v1/catalog/products").status_code == 200


def test_list_filters(editor):
    services.create_product(espresso_pro())
    services.create_product(
        espresso_pro(
            sku="EP-2000",
            values={
                "name": [{"locale": "en_US", "scope": None, "data": "EspressoPro 2000"}],
                "power": [{"locale": None, "scope": None, "data": {"amount": "1.2", "unit": "kW"}}],
            },
        )
    )
    services.create_product({"sku": "BOTTLE-1", "family": "bottles", "categories": ["drinkware"]})

    def skus(**params):
        response = editor.get("/api/v1/catalog/products", params)
        assert response.status_code == 200, response.content
        return [p["sku"] for p in response.json()["results"]]

    assert skus() == ["BOTTLE-1", "EP-2000", "EP-3000"]
    assert skus(family="coffee_machines") == ["EP-2000", "EP-3000"]
    assert skus(category="kitchen") == ["EP-2000", "EP-3000"]  # coffee is below kitchen
    assert skus(category="drinkware") == ["BOTTLE-1"]
    assert skus(filter="power>=1300 W") == ["EP-3000"]
    assert skus(filter="power<1.3 kW") == ["EP-2000"]
    assert skus(filter="coffee_types in whole_beans") == ["EP-3000"]
    assert skus(filter="name[en_US] contains 2000") == ["EP-2000"]
    assert skus(filter="warranty_years empty") == ["BOTTLE-1", "EP-2000"]
    assert skus(filter="price[EUR]<=749") == ["EP-3000"]
    assert skus(channel="ecommerce", locale="en_US", completeness=100) == ["EP-3000"]
    assert skus(channel="ecommerce", locale="en_US", completeness=100, completeness_op="<") == [
        "BOTTLE-1",
        "EP-2000",
    ]
    bad = editor.get("/api/v1/catalog/products", {"filter": "colour=red"})
    assert bad.status_code == 422 and bad.json()["error"]["details"]["attribute"] == "colour"


def test_cursor_pagination_walks_every_product_once(editor):
    list(services.bulk_upsert([espresso_pro(sku=f"EP-{i:03d}") for i in range(23)]))
    seen, url = [], "/api/v1/catalog/products?page_size=5"
    for _ in range(10):
        page = editor.get(url).json()
        seen += [p["sku"] for p in page["results"]]
        url = page["next"]
        if not url:
            break
    assert seen == [f"EP-{i:03d}" for i in range(23)]


def test_list_query_count_is_flat(editor, django_assert_max_num_queries):
    list(services.bulk_upsert([espresso_pro(sku=f"EP-{i:03d}") for i in range(40)]))
    with django_assert_max_num_queries(12):
        response = editor.get("/api/v1/catalog/products", {"page_size": 40})
    assert len(response.json()["results"]) == 40


def test_bulk_ndjson(editor):
    lines = [
        json.dumps(espresso_pro(sku="EP-1")),
        "{not json",
        json.dumps(espresso_pro(sku="EP-2")),
    ]
    response = editor.post(
        "/api/v1/catalog/products/bulk", "\n".join(lines), content_type="application/x-ndjson"
    )
    assert response.status_code == 200
    statuses = [json.loads(x) for x in b"".join(response.streaming_content).splitlines()]
    assert [s["status"] for s in statuses] == ["created", "error", "created"]
    assert "line 2 is not JSON" in statuses[1]["message"]


def test_review_turns_edits_into_proposals(api_client, catalog):
    editor = api_client("catalog_editor")
    reviewer = api_client("catalog_reviewer")
    services.create_product(espresso_pro())
    Channel.objects.filter(code="marketplace").update(requires_review=True)
    proposed = _json(
        editor,
        "patch",
        "/api/v1/catalog/products/EP-3000",
        {
            "values": {
                "name": [{"locale": "en_US", "scope": None, "data": "EspressoPro 3000 Deluxe"}]
            }
        },
    )
    assert proposed.status_code == 202
    live = editor.get("/api/v1/catalog/products/EP-3000").json()
    assert live["values"]["name"][0]["data"] == "EspressoPro 3000"  # live = approved version
    proposal_id = proposed.json()["id"]
    assert (
        _json(editor, "post", f"/api/v1/catalog/proposals/{proposal_id}/approve", {}).status_code
        == 403
    )
    approved = _json(
        reviewer, "post", f"/api/v1/catalog/proposals/{proposal_id}/approve", {"comment": "ok"}
    )
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    live = editor.get("/api/v1/catalog/products/EP-3000").json()
    assert {e["locale"]: e["data"] for e in live["values"]["name"]}[
        "en_US"
    ] == "EspressoPro 3000 Deluxe"
    history = editor.get("/api/v1/catalog/products/EP-3000/history").json()["results"]
    assert history[0]["action"] == "approve"
    assert history[0]["proposed_by"] == editor.user.username
    assert history[0]["approved_by"] == reviewer.user.username


@pytest.mark.parametrize("driver_limit", [0, 1_000_000])
def test_filters_give_the_same_products_whichever_condition_drives(
    editor, monkeypatch, driver_limit
):
    """Narrow conditions drive the query through the index, broad ones are checked per
    product; both plans must find exactly the same products."""
    from folio.catalog import queries

    monkeypatch.setattr(queries, "DRIVER_LIMIT", driver_limit)
    monkeypatch.setattr(queries, "FAMILY_SCAN_LIMIT", driver_limit)
    services.create_product(espresso_pro())
    services.create_product(
        espresso_pro(
            sku="EP-2000",
            values={
                "name": [{"locale": "en_US", "scope": None, "data": "EspressoPro 2000"}],
                "power": [{"locale": None, "scope": None, "data": {"amount": "1.2", "unit": "kW"}}],
            },
        )
    )
    response = editor.get(
        "/api/v1/catalog/products",
        {
            "family": ["coffee_machines", "bottles"],
            "filter": ["power>=1000 W", "coffee_types in whole_beans"],
            "channel": "ecommerce",
            "locale": "en_US",
            "completeness": 50,
        },
    )
    assert [p["sku"] for p in response.json()["results"]] == ["EP-3000"]
    response = editor.get("/api/v1/catalog/products", {"filter": "power>=1000 W"})
    assert [p["sku"] for p in response.json()["results"]] == ["EP-2000", "EP-3000"]
