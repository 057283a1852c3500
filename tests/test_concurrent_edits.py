"""Concurrent edits on every write path: a write names the version it was based on (body
`version` or If-Match); a stale one answers 409 `stale_write` whose details hold the current
state exactly as GET shows it, and changes nothing.

One table row per resource and write. Each row: read the version, write with it (200, the
version goes up), write again with the old version (409, details.current == GET, GET
unchanged afterwards).
"""

import datetime
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from folio.jobs.models import Schedule
from tests.assets.conftest import media, unique_jpeg  # noqa: F401 - the fixture
from tests.fixtures.catalog import espresso_pro

pytestmark = pytest.mark.usefixtures("media")


def call(client, method, url, body=None, **headers):
    if method in ("get", "delete") and body is None:
        return getattr(client, method)(url, **headers)
    return getattr(client, method)(
        url, json.dumps(body), content_type="application/json", **headers
    )


# --- setting up each resource through the API ---------------------------------------------------


def _ok(response, *codes):
    assert response.status_code in (codes or (200, 201)), response.content
    return response.json() if response.content else None


def make_product(c):
    _ok(call(c, "post", "/api/v1/catalog/products", espresso_pro()))


def make_model(c):
    _ok(
        call(
            c,
            "post",
            "/api/v1/catalog/product-models",
            {
                "code": "WB-SS",
                "family_variant": "bottles_by_size_color",
                "values": {"name": [{"locale": "en_US", "scope": None, "data": "Steel"}]},
            },
        )
    )


def make_asset(c):
    r = c.post("/api/v1/assets", {"file": SimpleUploadedFile("bottle.jpg", unique_jpeg())})
    return _ok(r)["id"]


def make_linked_product(c):
    make_product(c)
    ids = [make_asset(c) for _ in range(3)]
    for asset_id in ids:
        _ok(
            call(
                c,
                "post",
                "/api/v1/catalog/products/EP-3000/links",
                {"asset_id": asset_id, "role": "gallery"},
            )
        )
    return ids


def make_preset(c):
    spec = {"ops": [{"op": "resize", "mode": "fit", "width": 640}], "format": "webp"}
    _ok(call(c, "post", "/api/v1/presets", {"code": "web-640", "name": "Web", "spec": spec}))


def make_feed(c):
    _ok(
        call(
            c,
            "post",
            "/api/v1/publishing/channels/marketplace/feeds",
            {"code": "google", "format": "google-xml", "locales": ["en_US"]},
        )
    )


def make_webhook(c):
    body = {"url": "http://127.0.0.1:9/hook", "events": ["publication.done"]}
    return _ok(call(c, "post", "/api/v1/publishing/webhooks", body))["id"]


def make_feed_schedule(c):
    make_feed(c)
    _ok(
        call(
            c,
            "put",
            "/api/v1/publishing/channels/marketplace/feeds/google/schedule",
            {"every_seconds": 3600},
        )
    )


def make_collection(c):
    _ok(call(c, "post", "/api/v1/asset-collections", {"code": "winter", "name": "Winter"}))


def make_palette(c):
    _ok(call(c, "post", "/api/v1/brand-kits", {"code": "aqualine", "name": "Aqualine"}))
    body = {"name": "Primary", "colours": [{"name": "Blue", "hex": "#0B5CAD"}]}
    return _ok(call(c, "post", "/api/v1/brand-kits/aqualine/palettes", body))["id"]


def make_mapping(c):
    body = {"name": "acme", "options": {}, "columns": [{"column": "Ref", "field": "sku"}]}
    _ok(call(c, "post", "/api/v1/imports/mappings", body))


def make_schedule(c):
    Schedule.objects.create(name="nightly", job="folio.jobs.maintenance.prune", cron="0 3 * * *")


def nothing(c):
    return None


def make_submitted_asset(c):
    asset_id = make_asset(c)
    _ok(call(c, "post", f"/api/v1/assets/{asset_id}/submit", {}))
    return asset_id


def make_edited_product(c):
    make_product(c)
    _ok(call(c, "patch", "/api/v1/catalog/products/EP-3000", {"enabled": False}))


def make_preset_override(c):
    make_preset(c)
    body = {"spec": {"format": "jpeg"}}
    _ok(call(c, "put", "/api/v1/presets/web-640/markets/de_DE", body))
    _ok(call(c, "put", "/api/v1/presets/web-640/markets/fr_FR", body))


def make_slot(c):
    make_preset(c)
    body = {"role": "main", "preset": "web-640"}
    _ok(call(c, "post", "/api/v1/channels/ecommerce/image-slots", body))


def make_linked_model(c):
    make_model(c)
    return [make_asset(c) for _ in range(2)]


def make_tag(c):
    _ok(call(c, "patch", f"/api/v1/assets/{make_asset(c)}", {"tags": ["summer"]}))


def make_custom_field(c):
    _ok(call(c, "post", "/api/v1/asset-custom-fields", {"code": "shoot", "type": "text"}))


def make_workflow(c):
    body = {"code": "print", "steps": [{"name": "brand"}, {"name": "legal"}]}
    _ok(call(c, "post", "/api/v1/asset-workflows", body))


def make_share_link(c):
    expires = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=30)).isoformat()
    body = {"name": "Press", "assets": [make_asset(c)], "expires_at": expires}
    return _ok(call(c, "post", "/api/v1/share-links", body))["id"]


def make_user(c):
    _ok(call(c, "post", "/api/v1/users", {"username": "vera", "roles": ["viewer"]}))


MEDIA_REQUIREMENT = "/api/v1/catalog/families/bottles/media-requirements/ecommerce/main"


def make_media_requirement(c):
    _ok(call(c, "put", MEDIA_REQUIREMENT, {"min_count": 1}))


@dataclass
class Case:
    id: str
    make: Callable
    get: str  # where GET shows the object (may name {made}: what make returned)
    change: Any  # the first write's body (dict) — or a callable(made, got) → body
    stale: Any  # the second write's body, based on the old version
    write: str | None = None  # where the writes go (default: the GET address)
    method: str = "patch"
    pick: Callable | None = None  # the object within the GET body (list endpoints)
    role: str = "admin"
    version_in: str = "body"  # where a version "in the body" goes: body, or query (no body)
    only: str | None = None  # a write that takes its version one way only (if-match)


def _body(spec, made, got):
    return spec(made, got) if callable(spec) else dict(spec)


LABELS = {"labels": {"en_US": "Changed"}}
STALE_LABELS = {"labels": {"en_US": "Lost"}}

CASES = [
    Case(
        "product",
        make_product,
        "/api/v1/catalog/products/EP-3000",
        {"enabled": False},
        {"enabled": True},
    ),
    Case(
        "product-model",
        make_model,
        "/api/v1/catalog/product-models/WB-SS",
        {"categories": ["drinkware"]},
        {"categories": ["kitchen"]},
    ),
    Case("asset", make_asset, "/api/v1/assets/{made}", {"title": "Front"}, {"title": "Lost"}),
    Case("channel", nothing, "/api/v1/catalog/channels/ecommerce", LABELS, STALE_LABELS),
    Case("family", nothing, "/api/v1/catalog/families/bottles", LABELS, STALE_LABELS),
    Case(
        "family-requirements",
        nothing,
        "/api/v1/catalog/families/bottles/requirements",
        {"requirements": {"ecommerce": ["name"]}},
        {"requirements": {"ecommerce": ["price"]}},
        method="put",
    ),
    Case("attribute", nothing, "/api/v1/catalog/attributes/name", LABELS, STALE_LABELS),
    Case("category", nothing, "/api/v1/catalog/categories/coffee", LABELS, STALE_LABELS),
    Case(
        "family-variant",
        nothing,
        "/api/v1/catalog/family-variants/bottles_by_size_color",
        LABELS,
        STALE_LABELS,
    ),
    Case("group", nothing, "/api/v1/catalog/groups/winter_collection", LABELS, STALE_LABELS),
    Case(
        "association-type",
        nothing,
        "/api/v1/catalog/association-types/X_SELL",
        LABELS,
        STALE_LABELS,
    ),
    Case(
        "attribute-group",
        nothing,
        "/api/v1/catalog/attribute-groups/general",
        {"sort_order": 5},
        {"sort_order": 9},
    ),
    Case(
        "locale", nothing, "/api/v1/catalog/locales/de_DE", {"label": "Deutsch"}, {"label": "Lost"}
    ),
    Case(
        "currency", nothing, "/api/v1/catalog/currencies/EUR", {"label": "Euro"}, {"label": "Lost"}
    ),
    Case(
        "attribute-option",
        nothing,
        "/api/v1/catalog/attributes/color/options/black",
        LABELS,
        {"sort_order": 7},
    ),
    Case("preset", make_preset, "/api/v1/presets/web-640", {"name": "Web 2"}, {"name": "Lost"}),
    Case(
        "preset-market",
        make_preset,
        "/api/v1/presets/web-640",
        {"spec": {"format": "jpeg"}},
        {"spec": {"format": "png"}},
        write="/api/v1/presets/web-640/markets/de_DE",
        method="put",
    ),
    Case(
        "feed",
        make_feed,
        "/api/v1/publishing/channels/marketplace/feeds/google",
        {"locales": ["en_US", "fr_FR"]},
        {"locales": ["fr_FR"]},
    ),
    Case(
        "feed-schedule",
        make_feed_schedule,
        "/api/v1/publishing/channels/marketplace/feeds/google/schedule",
        {"every_seconds": 600},
        {"every_seconds": 60},
        method="put",
    ),
    Case(
        "webhook",
        make_webhook,
        "/api/v1/publishing/webhooks/{made}",
        {"description": "ERP"},
        {"description": "Lost"},
    ),
    Case(
        "collection",
        make_collection,
        "/api/v1/asset-collections/winter",
        {"name": "Winter 2"},
        {"name": "Lost"},
    ),
    Case(
        "palette",
        make_palette,
        "/api/v1/brand-kits/aqualine/palettes/{made}",
        {"name": "Main"},
        {"name": "Lost"},
    ),
    Case(
        "mapping",
        make_mapping,
        "/api/v1/imports/mappings/acme",
        {"options": {"family": "bottles"}},
        {"options": {}},
    ),
    Case(
        "schedule",
        make_schedule,
        "/api/v1/schedules/nightly",
        {"enabled": False},
        {"enabled": True},
    ),
    Case(
        "links-reorder",
        make_linked_product,
        "/api/v1/catalog/products/EP-3000/links",
        lambda made, got: {"role": "gallery", "asset_ids": made[::-1]},
        lambda made, got: {"role": "gallery", "asset_ids": made},
        write="/api/v1/catalog/products/EP-3000/links/reorder",
        method="post",
    ),
    Case(
        "links-add",
        make_linked_product,
        "/api/v1/catalog/products/EP-3000/links",
        lambda made, got: {"asset_id": made[0], "role": "main"},
        lambda made, got: {"asset_id": made[1], "role": "main"},
        write="/api/v1/catalog/products/EP-3000/links",
        method="post",
    ),
    Case(
        "link-move",
        make_linked_product,
        "/api/v1/catalog/products/EP-3000/links",
        {"position": 3},
        {"position": 2},
        write="/api/v1/links/{link0}",
    ),
    Case(
        "link-replace",
        make_linked_product,
        "/api/v1/catalog/products/EP-3000/links",
        lambda made, got: {"new_asset_id": _extra_asset(made)},
        lambda made, got: {"new_asset_id": _extra_asset(made)},
        write="/api/v1/links/{link0}/replace",
        method="post",
    ),
    Case(
        "model-links-add",
        make_linked_model,
        "/api/v1/catalog/product-models/WB-SS/links",
        lambda made, got: {"asset_id": made[0], "role": "manual"},
        lambda made, got: {"asset_id": made[1], "role": "manual"},
        method="post",
    ),
    Case(
        "asset-submit",
        make_asset,
        "/api/v1/assets/{made}",
        {},
        {},
        write="/api/v1/assets/{made}/submit",
        method="post",
        version_in="query",
    ),
    Case(
        "asset-reject",
        make_submitted_asset,
        "/api/v1/assets/{made}",
        {"comment": "blurry"},
        {"comment": "too dark"},
        write="/api/v1/assets/{made}/reject",
        method="post",
    ),
    Case(
        "asset-archive",
        make_asset,
        "/api/v1/assets/{made}",
        {},
        {},
        write="/api/v1/assets/{made}/archive",
        method="post",
        version_in="query",
    ),
    Case(
        "product-restore",
        make_edited_product,
        "/api/v1/catalog/products/EP-3000",
        {"version": 1},
        {"version": 2},
        write="/api/v1/catalog/products/EP-3000/restore",
        method="post",
        only="if-match",
    ),
    Case(
        "preset-market-delete",
        make_preset_override,
        "/api/v1/presets/web-640",
        None,
        None,
        write="/api/v1/presets/web-640/markets/de_DE",
        method="delete",
        only="if-match",
    ),
    Case(
        "image-slot",
        make_slot,
        "/api/v1/channels/ecommerce/image-slots/main",
        {"max_count": 2},
        {"max_count": 3},
    ),
    Case(
        "webhook-rotate-secret",
        make_webhook,
        "/api/v1/publishing/webhooks/{made}",
        {},
        {},
        write="/api/v1/publishing/webhooks/{made}/rotate-secret",
        method="post",
    ),
    Case(
        "custom-field",
        make_custom_field,
        "/api/v1/asset-custom-fields/shoot",
        {"label": "Photo shoot"},
        {"label": "Lost"},
    ),
    Case(
        "workflow",
        make_workflow,
        "/api/v1/asset-workflows/print",
        {"name": "Print 2"},
        {"steps": [{"name": "lost"}]},
    ),
    Case(
        "share-link-revoke",
        make_share_link,
        "/api/v1/share-links/{made}",
        {},
        {},
        write="/api/v1/share-links/{made}/revoke",
        method="post",
        version_in="query",
    ),
    Case(
        "user",
        make_user,
        "/api/v1/users/vera",
        {"roles": ["viewer", "publisher"]},
        {"is_active": False},
    ),
    Case(
        "media-requirement",
        make_media_requirement,
        MEDIA_REQUIREMENT,
        {"min_count": 2},
        {"min_count": 3},
        method="put",
    ),
]


def _extra_asset(made):
    """An asset made for a replace (remembered on the list `made`)."""
    return made[3]


def _version(response, got):
    if isinstance(got, dict) and "version" in got:
        return got["version"]
    etag = response["ETag"]
    return int(etag.removeprefix("W/").strip('"'))


def _show(client, case, made):
    url = case.get.format(made=made)
    response = client.get(url)
    assert response.status_code == 200, response.content
    body = response.json()
    return response, (case.pick(body) if case.pick else body)


def _write_url(case, made, got):
    url = case.write or case.get
    fmt = {"made": made}
    if "{link0}" in url:
        fmt["link0"] = got["gallery"][0]["id"]
    return url.format(**fmt)


WRITES = [
    pytest.param(case, via, id=f"{via}-{case.id}")
    for case in CASES
    for via in ("body", "if-match")
    if case.only in (None, via)
]


@pytest.mark.parametrize(("case", "via"), WRITES)
def test_a_stale_write_is_refused_with_the_current_state(catalog, api_client, case, via):
    client = api_client(case.role)
    made = case.make(client)
    if case.id == "link-replace":
        made = [*made, make_asset(client), make_asset(client)]
    response, got = _show(client, case, made)
    version = _version(response, got)
    if "ETag" in response:
        assert response["ETag"] == f'W/"{version}"'
    url = _write_url(case, made, got)

    def send(body_spec, based_on):
        body = _body(body_spec, made, got) if body_spec is not None else None
        headers, where = {}, url
        if via == "if-match":
            headers["HTTP_IF_MATCH"] = f'W/"{based_on}"'
        elif case.version_in == "query":
            where = f"{url}?version={based_on}"
        else:
            body["version"] = based_on
        return call(client, case.method, where, body, **headers)

    first = send(case.change, version)
    assert first.status_code in (200, 201), first.content
    after_first, now = _show(client, case, made)
    assert _version(after_first, now) == version + 1
    if "ETag" in first:
        assert first["ETag"] == f'W/"{version + 1}"'

    if case.id == "link-replace":
        made.pop(3)  # the second replace names another asset
    if case.id == "preset-market-delete":
        url = url.replace("de_DE", "fr_FR")  # the other override, still there
    stale = send(case.stale, version)
    assert stale.status_code == 409, stale.content
    error = stale.json()["error"]
    assert error["code"] == "stale_write"
    assert error["details"]["current_version"] == version + 1
    assert error["details"]["current"] == now
    _, after = _show(client, case, made)
    assert after == now  # the stale write changed nothing


DELETES = [
    Case("product", make_product, "/api/v1/catalog/products/EP-3000", None, None),
    Case("channel", nothing, "/api/v1/catalog/channels/ecommerce", None, None),
    Case("locale", nothing, "/api/v1/catalog/locales/es_ES", None, None),
    Case("currency", nothing, "/api/v1/catalog/currencies/GBP", None, None),
    Case("attribute-option", nothing, "/api/v1/catalog/attributes/color/options/green", None, None),
    Case("preset", make_preset, "/api/v1/presets/web-640", None, None),
    Case("feed", make_feed, "/api/v1/publishing/channels/marketplace/feeds/google", None, None),
    Case("webhook", make_webhook, "/api/v1/publishing/webhooks/{made}", None, None),
    Case("collection", make_collection, "/api/v1/asset-collections/winter", None, None),
    Case("palette", make_palette, "/api/v1/brand-kits/aqualine/palettes/{made}", None, None),
    Case("mapping", make_mapping, "/api/v1/imports/mappings/acme", None, None),
    Case(
        "link",
        make_linked_product,
        "/api/v1/catalog/products/EP-3000/links",
        None,
        None,
        write="/api/v1/links/{link0}",
    ),
    Case("image-slot", make_slot, "/api/v1/channels/ecommerce/image-slots/main", None, None),
    Case(
        "feed-schedule",
        make_feed_schedule,
        "/api/v1/publishing/channels/marketplace/feeds/google/schedule",
        None,
        None,
    ),
    Case("tag", make_tag, "/api/v1/asset-tags/summer", None, None),
    Case("custom-field", make_custom_field, "/api/v1/asset-custom-fields/shoot", None, None),
    Case("workflow", make_workflow, "/api/v1/asset-workflows/print", None, None),
    Case("media-requirement", make_media_requirement, MEDIA_REQUIREMENT, None, None),
]


@pytest.mark.parametrize("case", DELETES, ids=[c.id for c in DELETES])
def test_a_stale_delete_is_refused_and_deletes_nothing(catalog, api_client, case):
    client = api_client(case.role)
    made = case.make(client)
    response, got = _show(client, case, made)
    version = _version(response, got)
    url = _write_url(case, made, got)
    stale = client.delete(url, headers={"If-Match": f'W/"{version + 1}"'})
    assert stale.status_code == 409, stale.content
    error = stale.json()["error"]
    assert error["code"] == "stale_write"
    assert error["details"]["current"] == got
    _, after = _show(client, case, made)
    assert after == got
    assert client.delete(url, headers={"If-Match": f'W/"{version}"'}).status_code == 204


STRUCTURE = [c for c in CASES if c.get.startswith("/api/v1/catalog/") and c.make is nothing]


@pytest.mark.parametrize("case", STRUCTURE, ids=[c.id for c in STRUCTURE])
def test_structure_round_trips_its_version_as_etag(catalog, api_client, case):
    """The ETag a structure GET answers is what If-Match takes back; the write answers the next."""
    client = api_client(case.role)
    response, got = _show(client, case, None)
    assert response["ETag"] == f'W/"{got["version"]}"'
    body = _body(case.change, None, got)
    written = call(client, case.method, case.get, body, HTTP_IF_MATCH=response["ETag"])
    assert written.status_code == 200, written.content
    assert written["ETag"] == f'W/"{got["version"] + 1}"'
    assert client.get(case.get)["ETag"] == written["ETag"]
