"""Compare: rows per attribute with differences marked, completeness per SKU, limits."""

import io

import pytest
from django.core.management import call_command

from folio.errors import InvalidInput, NotFound
from folio.linking import compare
from tests.linking import test_sku360 as base
from tests.linking.test_sku360 import bottle_family

media = base.media


def _row(data, code):
    return next(r for g in data["groups"] for r in g["rows"] if r["code"] == code)


def test_compare_marks_differences(catalog):
    bottle_family()
    data = compare.compare(
        ["WB-750-SS-BLUE", "WB-750-SS-GREEN"], channel="ecommerce", locale="en_US"
    )
    assert [g["code"] for g in data["groups"]] == ["general", "technical"]
    color = _row(data, "color")
    assert color["values"] == {"WB-750-SS-BLUE": "Blue", "WB-750-SS-GREEN": "Green"}
    assert color["differs"] is True
    capacity = _row(data, "capacity")  # inherited from the shared sub-model
    assert capacity["differs"] is False and capacity["values"]["WB-750-SS-BLUE"] == "750 ml"
    assert _row(data, "price")["differs"] is True
    done = data["completeness"]["WB-750-SS-BLUE"]
    assert "description" in done["missing"] and done["ratio"] < 100


def test_compare_refuses_unknown_and_too_many(catalog):
    bottle_family()
    with pytest.raises(NotFound) as err:
        compare.compare(
            ["WB-750-SS-BLUE", "NOPE", "ALSO-NOPE"], channel="ecommerce", locale="en_US"
        )
    assert err.value.details == {"skus": ["NOPE", "ALSO-NOPE"]}
    with pytest.raises(InvalidInput, match="at most 20"):
        compare.compare([f"S{i}" for i in range(21)], channel="ecommerce", locale="en_US")
    with pytest.raises(InvalidInput, match="not sold in locale"):
        compare.compare(["WB-750-SS-BLUE"], channel="ecommerce", locale="fr_FR")


def test_compare_api_and_cli(catalog, api_client):
    bottle_family()
    client = api_client("viewer")
    r = client.get(
        "/api/v1/catalog/compare?sku=WB-750-SS-BLUE&sku=WB-750-SS-GREEN"
        "&channel=marketplace&locale=en_US"
    )
    assert r.status_code == 200, r.content
    assert r.json()["skus"] == ["WB-750-SS-BLUE", "WB-750-SS-GREEN"]
    r = client.get("/api/v1/catalog/compare?sku=NOPE&channel=marketplace&locale=en_US")
    assert r.status_code == 404 and "NOPE" in r.json()["error"]["message"]
    out = io.StringIO()
    call_command(
        "compare",
        "WB-750-SS-BLUE",
        "WB-750-SS-GREEN",
        "--channel",
        "ecommerce",
        "--locale",
        "en_US",
        stdout=out,
    )
    assert "≠ Color" in out.getvalue() and "Green" in out.getvalue()
