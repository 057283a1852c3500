"""One concrete call for every operation of the REST API, against a realistic catalog.

The permission matrix test and the audit test walk this table with the permission each
operation needs (folio.accounts.permission_map.OPERATIONS); both fail when the OpenAPI schema
has an operation missing here or there, so a new endpoint must be added to both.

`build_catalog()` makes what the calls run against: the demo catalog (built through the
services: products, models, assets with real image/video/PDF files, links, channels, presets,
image slots, feeds, a review workflow) plus, made through the API as an administrator, the
spare objects that writes change or delete (a locale nobody uses, a webhook with a delivery, a
share link, resumable uploads, a pending proposal, an import and an export run…). URLs and
bodies name those objects by key (`{sku}`, `{asset}`…), filled from its answer; `{me_token}`
is the calling token's own id.
"""

import datetime
import io
import json
from dataclasses import dataclass, field
from typing import Any

from django.test import Client

from folio.accounts import services as accounts
from folio.accounts.roles import ROLES

V = "/api/v1"


@dataclass(frozen=True)
class Call:
    url: str  # with {keys} of the catalog
    body: Any = None  # dict/list → JSON; callable(ids) → that
    kind: str = "json"  # json | multipart | raw
    content_type: str = "application/json"
    headers: dict = field(default_factory=dict)


# the collection the matrix's agency user is given (agencies upload into their collections)
AGENCY_COLLECTION = "campaign-summer"


def _img(ids):
    from tests.assets.conftest import unique_jpeg, upload

    return {
        "file": upload(unique_jpeg(), "h-new.jpg"),
        "title": "A new packshot",
        "collections": AGENCY_COLLECTION,
    }


def _csv(ids):
    f = io.BytesIO(b"sku,family,name-en_US\nH-IMPORTED,coffee_machines,Imported machine\n")
    f.name = "products.csv"
    return {"file": f}


C = Call
CALLS: dict[str, Call] = {
    "GET /api/health": C("/api/health"),
    # --- accounts
    f"GET {V}/me": C(f"{V}/me"),
    f"GET {V}/roles": C(f"{V}/roles"),
    f"GET {V}/users": C(f"{V}/users"),
    f"POST {V}/users": C(f"{V}/users", {"username": "h-new-user", "roles": ["viewer"]}),
    f"GET {V}/users/{{username}}": C(f"{V}/users/vic"),
    f"PATCH {V}/users/{{username}}": C(f"{V}/users/vic", {"roles": ["viewer", "publisher"]}),
    f"GET {V}/users/{{username}}/scope": C(f"{V}/users/cora/scope"),
    f"PUT {V}/users/{{username}}/scope": C(
        f"{V}/users/cora/scope", {"categories": ["coffee_machines"]}
    ),
    f"GET {V}/audit": C(f"{V}/audit?action=token"),
    f"GET {V}/audit/export": C(f"{V}/audit/export?format=ndjson&action=token"),
    f"GET {V}/tokens": C(f"{V}/tokens"),
    f"POST {V}/tokens": C(f"{V}/tokens", {"name": "deploy script"}),
    f"DELETE {V}/tokens/{{token_id}}": C(f"{V}/tokens/{{me_token}}"),
    # --- jobs
    f"GET {V}/jobs": C(f"{V}/jobs"),
    f"GET {V}/jobs/{{job_id}}": C(f"{V}/jobs/{{job}}"),
    f"POST {V}/jobs/{{job_id}}/cancel": C(f"{V}/jobs/{{job}}/cancel"),
    f"GET {V}/schedules": C(f"{V}/schedules"),
    f"GET {V}/schedules/{{name}}": C(f"{V}/schedules/{{schedule}}"),
    f"PATCH {V}/schedules/{{name}}": C(f"{V}/schedules/{{schedule}}", {"enabled": False}),
    # --- products
    f"POST {V}/catalog/products/bulk-edit": C(
        f"{V}/catalog/products/bulk-edit",
        {"filter": {"skus": ["EP-3000"]}, "operations": [{"op": "disable"}]},
    ),
    f"GET {V}/catalog/products": C(f"{V}/catalog/products?family=coffee_machines"),
    f"POST {V}/catalog/products": C(
        f"{V}/catalog/products",
        {"sku": "H-NEW-1", "family": "coffee_machines", "categories": ["coffee_machines"]},
    ),
    f"POST {V}/catalog/products/bulk": C(
        f"{V}/catalog/products/bulk",
        json.dumps({"sku": "H-BULK-1", "family": "coffee_machines"}) + "\n",
        kind="raw",
        content_type="application/x-ndjson",
    ),
    f"GET {V}/catalog/products/{{sku}}": C(f"{V}/catalog/products/EP-3000"),
    f"PATCH {V}/catalog/products/{{sku}}": C(f"{V}/catalog/products/EP-3000", {"enabled": False}),
    f"DELETE {V}/catalog/products/{{sku}}": C(f"{V}/catalog/products/{{spare_sku}}"),
    f"GET {V}/catalog/products/{{sku}}/history": C(f"{V}/catalog/products/EP-3000/history"),
    f"POST {V}/catalog/products/{{sku}}/restore": C(
        f"{V}/catalog/products/EP-3000/restore", {"version": 1}
    ),
    f"GET {V}/catalog/products/{{sku}}/completeness": C(
        f"{V}/catalog/products/EP-3000/completeness"
    ),
    f"GET {V}/catalog/proposals": C(f"{V}/catalog/proposals"),
    f"POST {V}/catalog/proposals/{{proposal_id}}/approve": C(
        f"{V}/catalog/proposals/{{proposal}}/approve", {"comment": "fine"}
    ),
    f"POST {V}/catalog/proposals/{{proposal_id}}/reject": C(
        f"{V}/catalog/proposals/{{proposal}}/reject", {"comment": "wrong dose"}
    ),
    f"GET {V}/catalog/product-models": C(f"{V}/catalog/product-models"),
    f"POST {V}/catalog/product-models": C(
        f"{V}/catalog/product-models",
        {"code": "WB-1000-SS", "parent": "WB-SS", "values": {"size": [{"data": "ml1000"}]}},
    ),
    f"GET {V}/catalog/product-models/{{code}}": C(f"{V}/catalog/product-models/WB-750-SS"),
    f"PATCH {V}/catalog/product-models/{{code}}": C(
        f"{V}/catalog/product-models/WB-SS", {"categories": ["drinkware"]}
    ),
    f"GET {V}/catalog/product-models/{{code}}/history": C(
        f"{V}/catalog/product-models/WB-SS/history"
    ),
    f"POST {V}/catalog/product-models/{{code}}/restore": C(
        f"{V}/catalog/product-models/WB-SS/restore", {"version": 1}
    ),
    # --- linking, SKU 360, review together
    f"POST {V}/catalog/products/{{sku}}/links": C(
        f"{V}/catalog/products/EP-3000/links", lambda i: {"asset_id": i["asset"], "role": "gallery"}
    ),
    f"GET {V}/catalog/products/{{sku}}/links": C(f"{V}/catalog/products/EP-3000/links"),
    f"POST {V}/catalog/product-models/{{code}}/links": C(
        f"{V}/catalog/product-models/WB-SS/links",
        lambda i: {"asset_id": i["asset"], "role": "gallery"},
    ),
    f"GET {V}/catalog/product-models/{{code}}/links": C(f"{V}/catalog/product-models/WB-SS/links"),
    f"POST {V}/catalog/products/{{sku}}/links/reorder": C(
        f"{V}/catalog/products/EP-3000/links/reorder",
        lambda i: {"role": i["reorder_role"], "asset_ids": i["reorder_assets"]},
    ),
    f"DELETE {V}/links/{{link_id}}": C(f"{V}/links/{{link}}"),
    f"PATCH {V}/links/{{link_id}}": C(f"{V}/links/{{link}}", {"position": 1}),
    f"POST {V}/links/{{link_id}}/replace": C(
        f"{V}/links/{{link}}/replace", lambda i: {"new_asset_id": i["asset"]}
    ),
    f"GET {V}/assets/{{asset_id}}/where-used": C(f"{V}/assets/{{linked_asset}}/where-used"),
    f"POST {V}/assets/{{asset_id}}/replace-everywhere": C(
        f"{V}/assets/{{linked_asset}}/replace-everywhere",
        lambda i: {"new_asset_id": i["asset"], "preview": False},
    ),
    f"POST {V}/link-changes/{{change_id}}/undo": C(f"{V}/link-changes/{{link_change}}/undo"),
    f"POST {V}/links/auto": C(f"{V}/links/auto", lambda i: {"asset_ids": [i["autolink_asset"]]}),
    f"GET {V}/catalog/families/{{code}}/media-requirements": C(
        f"{V}/catalog/families/water_bottles/media-requirements"
    ),
    f"GET {V}/catalog/families/{{code}}/media-requirements/{{channel}}/{{role}}": C(
        f"{V}/catalog/families/water_bottles/media-requirements/webshop/gallery"
    ),
    f"PUT {V}/catalog/families/{{code}}/media-requirements/{{channel}}/{{role}}": C(
        f"{V}/catalog/families/water_bottles/media-requirements/marketplace/main",
        {"min_count": 1},
    ),
    f"DELETE {V}/catalog/families/{{code}}/media-requirements/{{channel}}/{{role}}": C(
        f"{V}/catalog/families/water_bottles/media-requirements/webshop/gallery"
    ),
    f"GET {V}/catalog/products/{{sku}}/360": C(f"{V}/catalog/products/EP-3000/360"),
    f"GET {V}/catalog/compare": C(
        f"{V}/catalog/compare?channel=webshop&locale=en_US&sku=EP-3000&sku=EP-DESCALER"
    ),
    f"GET {V}/catalog/products/{{sku}}/review": C(f"{V}/catalog/products/EP-DESCALER/review"),
    f"POST {V}/catalog/products/{{sku}}/review/approve": C(
        f"{V}/catalog/products/EP-DESCALER/review/approve",
        lambda i: {"proposal_ids": [i["proposal"]], "comment": "together"},
    ),
    f"GET {V}/find": C(f"{V}/find?q=EP-3"),
    # --- catalog structure: list, create, get, change, delete
    **{
        key: C(url, body)
        for plural, new, spare, patch in [
            ("locales", {"code": "pl_PL"}, "{spare_locale}", {"label": "Polish"}),
            ("currencies", {"code": "CHF"}, "{spare_currency}", {"label": "Swiss franc"}),
            (
                "channels",
                {"code": "h_outlet", "locales": ["en_US"], "currencies": ["USD"]},
                "{spare_channel}",
                {"labels": {"en_US": "Outlet"}},
            ),
            ("attribute-groups", {"code": "h_new"}, "{spare_group}", {"sort_order": 9}),
            (
                "attributes",
                {"code": "h_new_text", "type": "text"},
                "{spare_attribute}",
                {"labels": {"en_US": "Spare"}},
            ),
            ("families", {"code": "h_new"}, "{spare_family}", {"labels": {"en_US": "Spare"}}),
            (
                "family-variants",
                {"code": "h_new_fv", "family": "h_variant", "levels": [{"axes": ["color"]}]},
                "{spare_variant}",
                {"labels": {"en_US": "Spare"}},
            ),
            (
                "categories",
                {"code": "h_new", "parent": "master"},
                "{spare_category}",
                {"sort_order": 3},
            ),
            ("groups", {"code": "h_new"}, "{spare_product_group}", {"labels": {"en_US": "X"}}),
            (
                "association-types",
                {"code": "H_NEW"},
                "{spare_association}",
                {"labels": {"en_US": "X"}},
            ),
        ]
        for key, url, body in [
            (f"GET {V}/catalog/{plural}", f"{V}/catalog/{plural}", None),
            (f"POST {V}/catalog/{plural}", f"{V}/catalog/{plural}", new),
            (f"GET {V}/catalog/{plural}/{{code}}", f"{V}/catalog/{plural}/{spare}", None),
            (f"PATCH {V}/catalog/{plural}/{{code}}", f"{V}/catalog/{plural}/{spare}", patch),
            (f"DELETE {V}/catalog/{plural}/{{code}}", f"{V}/catalog/{plural}/{spare}", None),
        ]
    },
    f"GET {V}/catalog/attributes/{{code}}/options": C(f"{V}/catalog/attributes/color/options"),
    f"POST {V}/catalog/attributes/{{code}}/options": C(
        f"{V}/catalog/attributes/color/options", {"options": [{"code": "h_red"}]}
    ),
    f"GET {V}/catalog/attributes/{{code}}/options/{{option}}": C(
        f"{V}/catalog/attributes/color/options/black"
    ),
    f"PATCH {V}/catalog/attributes/{{code}}/options/{{option}}": C(
        f"{V}/catalog/attributes/color/options/black", {"labels": {"en_US": "Jet black"}}
    ),
    f"DELETE {V}/catalog/attributes/{{code}}/options/{{option}}": C(
        f"{V}/catalog/attributes/{{spare_option_attribute}}/options/{{spare_option}}"
    ),
    f"GET {V}/catalog/families/{{code}}/requirements": C(
        f"{V}/catalog/families/coffee_machines/requirements"
    ),
    f"PUT {V}/catalog/families/{{code}}/requirements": C(
        f"{V}/catalog/families/coffee_machines/requirements",
        {"requirements": {"print": ["name"]}},
    ),
    f"GET {V}/catalog/measurement-families": C(f"{V}/catalog/measurement-families"),
    f"GET {V}/catalog/measurement-families/{{code}}": C(f"{V}/catalog/measurement-families/volume"),
    # --- search
    f"GET {V}/search": C(f"{V}/search?q=bottle"),
    f"GET {V}/search/all": C(f"{V}/search/all?q=bottle"),
    # --- assets: files in, versions
    f"POST {V}/assets/uploads": C(f"{V}/assets/uploads", {"filename": "big.jpg", "size": 1000}),
    f"GET {V}/assets/uploads/{{upload_id}}": C(f"{V}/assets/uploads/{{upload_partial}}"),
    f"PUT {V}/assets/uploads/{{upload_id}}": C(
        f"{V}/assets/uploads/{{upload_partial}}",
        lambda i: i["upload_partial_bytes"],
        kind="raw",
        content_type="application/octet-stream",
        headers={"Content-Range": "bytes 0-{upload_partial_last}/{upload_partial_size}"},
    ),
    f"DELETE {V}/assets/uploads/{{upload_id}}": C(f"{V}/assets/uploads/{{upload_partial}}"),
    f"POST {V}/assets/uploads/{{upload_id}}/complete": C(
        f"{V}/assets/uploads/{{upload_full}}/complete", {"title": "Resumed upload"}
    ),
    f"POST {V}/assets/{{asset_id}}/versions": C(
        f"{V}/assets/{{asset}}/versions", _img, kind="multipart"
    ),
    f"GET {V}/assets/{{asset_id}}/versions": C(f"{V}/assets/{{asset}}/versions"),
    f"GET {V}/assets/{{asset_id}}/versions/{{number}}/download": C(
        f"{V}/assets/{{asset}}/versions/1/download"
    ),
    f"POST {V}/assets/{{asset_id}}/versions/{{number}}/restore": C(
        f"{V}/assets/{{versioned_asset}}/versions/1/restore"
    ),
    f"POST {V}/assets": C(f"{V}/assets", _img, kind="multipart"),
    # --- assets: browsing, editing, review
    f"GET {V}/assets": C(f"{V}/assets"),
    f"GET {V}/assets/review-queue": C(f"{V}/assets/review-queue"),
    f"GET {V}/assets/expiring": C(f"{V}/assets/expiring"),
    f"GET {V}/assets/{{asset_id}}": C(f"{V}/assets/{{asset}}"),
    f"PATCH {V}/assets/{{asset_id}}": C(f"{V}/assets/{{asset}}", {"credit": "Studio H"}),
    f"POST {V}/assets/{{asset_id}}/submit": C(f"{V}/assets/{{draft_asset}}/submit"),
    f"POST {V}/assets/{{asset_id}}/approve": C(
        f"{V}/assets/{{review_asset}}/approve", {"comment": "on brand"}
    ),
    f"POST {V}/assets/{{asset_id}}/reject": C(
        f"{V}/assets/{{review_asset}}/reject", {"comment": "logo too small"}
    ),
    f"POST {V}/assets/{{asset_id}}/archive": C(f"{V}/assets/{{asset}}/archive"),
    f"POST {V}/assets/{{asset_id}}/unarchive": C(f"{V}/assets/{{archived_asset}}/unarchive"),
    f"GET {V}/assets/{{asset_id}}/history": C(f"{V}/assets/{{asset}}/history"),
    f"GET {V}/asset-collections": C(f"{V}/asset-collections"),
    f"POST {V}/asset-collections": C(f"{V}/asset-collections", {"code": "h-new"}),
    f"GET {V}/asset-collections/{{code}}": C(f"{V}/asset-collections/packshots"),
    f"PATCH {V}/asset-collections/{{code}}": C(
        f"{V}/asset-collections/h-spare", {"description": "spare"}
    ),
    f"DELETE {V}/asset-collections/{{code}}": C(f"{V}/asset-collections/h-spare"),
    f"GET {V}/asset-tags": C(f"{V}/asset-tags"),
    f"POST {V}/asset-tags/merge": C(f"{V}/asset-tags/merge", {"tags": ["black"], "into": "blue"}),
    f"GET {V}/asset-tags/{{name}}": C(f"{V}/asset-tags/manual"),  # on no asset an agency sees
    f"PATCH {V}/asset-tags/{{name}}": C(f"{V}/asset-tags/summer", {"name": "summer-2025"}),
    f"DELETE {V}/asset-tags/{{name}}": C(f"{V}/asset-tags/warranty"),
    f"GET {V}/asset-custom-fields": C(f"{V}/asset-custom-fields"),
    f"POST {V}/asset-custom-fields": C(
        f"{V}/asset-custom-fields", {"code": "h_new", "type": "text"}
    ),
    f"GET {V}/asset-custom-fields/{{code}}": C(f"{V}/asset-custom-fields/h_spare"),
    f"PATCH {V}/asset-custom-fields/{{code}}": C(
        f"{V}/asset-custom-fields/h_spare", {"label": "Photographer"}
    ),
    f"DELETE {V}/asset-custom-fields/{{code}}": C(f"{V}/asset-custom-fields/h_spare"),
    f"GET {V}/asset-workflows": C(f"{V}/asset-workflows"),
    f"POST {V}/asset-workflows": C(
        f"{V}/asset-workflows", lambda i: {"code": "h-new", "steps": i["workflow_steps"]}
    ),
    f"GET {V}/asset-workflows/{{code}}": C(f"{V}/asset-workflows/h-spare"),
    f"PATCH {V}/asset-workflows/{{code}}": C(f"{V}/asset-workflows/h-spare", {"name": "Spare"}),
    f"DELETE {V}/asset-workflows/{{code}}": C(f"{V}/asset-workflows/h-spare"),
    # --- assets: previews, similarity, brand kits, sharing, other DAMs
    f"GET {V}/assets/{{asset_id}}/previews": C(f"{V}/assets/{{asset}}/previews"),
    f"GET {V}/assets/{{asset_id}}/preview/{{name}}": C(f"{V}/assets/{{asset}}/preview/thumb"),
    f"GET {V}/assets/{{asset_id}}/similar": C(f"{V}/assets/{{asset}}/similar"),
    f"GET {V}/assets/near-duplicates": C(f"{V}/assets/near-duplicates"),
    f"GET {V}/brand-kits": C(f"{V}/brand-kits"),
    f"POST {V}/brand-kits": C(f"{V}/brand-kits", {"code": "h-kit", "name": "Spare kit"}),
    f"GET {V}/brand-kits/{{code}}": C(f"{V}/brand-kits/{{kit}}"),
    f"GET {V}/brand-kits/{{code}}/palettes": C(f"{V}/brand-kits/{{kit}}/palettes"),
    f"GET {V}/brand-kits/{{code}}/palettes/{{palette_id}}": C(
        f"{V}/brand-kits/{{kit}}/palettes/{{palette}}"
    ),
    f"POST {V}/brand-kits/{{code}}/palettes": C(
        f"{V}/brand-kits/{{kit}}/palettes",
        {"name": "Autumn", "colours": [{"name": "Rust", "hex": "#B7410E"}]},
    ),
    f"PATCH {V}/brand-kits/{{code}}/palettes/{{palette_id}}": C(
        f"{V}/brand-kits/{{kit}}/palettes/{{palette}}", {"name": "Core colours"}
    ),
    f"DELETE {V}/brand-kits/{{code}}/palettes/{{palette_id}}": C(
        f"{V}/brand-kits/{{kit}}/palettes/{{palette}}"
    ),
    f"POST {V}/share-links": C(
        f"{V}/share-links",
        lambda i: {"name": "Retailer", "assets": [i["asset"]], "expires_at": i["in_a_week"]},
    ),
    f"GET {V}/share-links": C(f"{V}/share-links"),
    f"GET {V}/share-links/{{link_id}}": C(f"{V}/share-links/{{share_link}}"),
    f"POST {V}/share-links/{{link_id}}/revoke": C(f"{V}/share-links/{{share_link}}/revoke"),
    f"POST {V}/external-systems": C(f"{V}/external-systems", {"code": "h-new-dam"}),
    f"GET {V}/external-systems": C(f"{V}/external-systems"),
    f"PATCH {V}/external-systems/{{code}}": C(f"{V}/external-systems/h-dam", {"name": "H DAM"}),
    f"POST {V}/external-systems/{{code}}/rotate-secret": C(
        f"{V}/external-systems/h-dam/rotate-secret", {}
    ),
    f"DELETE {V}/external-systems/{{code}}": C(f"{V}/external-systems/h-dam"),
    f"PUT {V}/external-assets/{{system}}/{{external_id}}": C(
        f"{V}/external-assets/h-dam/X-1",
        {"url": "https://dam.example.com/x-1.jpg", "title": "Bottle from the other DAM"},
    ),
    f"GET {V}/external-assets": C(f"{V}/external-assets"),
    f"GET {V}/dam/assets": C(f"{V}/dam/assets"),
    # --- renditions
    f"GET {V}/presets": C(f"{V}/presets"),
    f"POST {V}/presets": C(
        f"{V}/presets", lambda i: {"code": "h-new", "name": "New", "spec": i["preset_spec"]}
    ),
    f"GET {V}/presets/{{code}}": C(f"{V}/presets/thumb-256"),
    f"PATCH {V}/presets/{{code}}": C(f"{V}/presets/h-spare", {"description": "spare"}),
    f"DELETE {V}/presets/{{code}}": C(f"{V}/presets/h-spare"),
    f"PUT {V}/presets/{{code}}/markets/{{locale}}": C(
        f"{V}/presets/h-spare/markets/fr_FR", lambda i: {"spec": i["preset_spec"]}
    ),
    f"DELETE {V}/presets/{{code}}/markets/{{locale}}": C(f"{V}/presets/h-spare/markets/de_DE"),
    f"POST {V}/presets/{{code}}/rerender": C(f"{V}/presets/thumb-256/rerender"),
    f"GET {V}/channels/{{code}}/image-slots": C(f"{V}/channels/webshop/image-slots"),
    f"POST {V}/channels/{{code}}/image-slots": C(
        f"{V}/channels/webshop/image-slots", {"role": "h_new", "preset": "thumb-256"}
    ),
    f"GET {V}/channels/{{code}}/image-slots/{{role}}": C(f"{V}/channels/webshop/image-slots/main"),
    f"PATCH {V}/channels/{{code}}/image-slots/{{role}}": C(
        f"{V}/channels/webshop/image-slots/h_spare", {"max_count": 3}
    ),
    f"DELETE {V}/channels/{{code}}/image-slots/{{role}}": C(
        f"{V}/channels/webshop/image-slots/h_spare"
    ),
    f"GET {V}/assets/{{asset_id}}/renditions": C(f"{V}/assets/{{asset}}/renditions"),
    f"POST {V}/assets/{{asset_id}}/renditions": C(
        f"{V}/assets/{{asset}}/renditions", {"presets": ["thumb-256"]}
    ),
    f"POST {V}/renditions/{{rendition_id}}/review": C(
        f"{V}/renditions/{{rendition}}/review", {"accept": True}
    ),
    # --- imports and exports
    f"GET {V}/imports/mappings": C(f"{V}/imports/mappings"),
    f"POST {V}/imports/mappings": C(f"{V}/imports/mappings", {"name": "h-new"}),
    f"GET {V}/imports/mappings/{{name}}": C(f"{V}/imports/mappings/h-spare"),
    f"PATCH {V}/imports/mappings/{{name}}": C(
        f"{V}/imports/mappings/h-spare", {"description": "supplier sheet"}
    ),
    f"DELETE {V}/imports/mappings/{{name}}": C(f"{V}/imports/mappings/h-spare"),
    f"POST {V}/imports": C(f"{V}/imports", _csv, kind="multipart"),
    f"GET {V}/imports": C(f"{V}/imports"),
    f"GET {V}/imports/{{run_id}}": C(f"{V}/imports/{{import_run}}"),
    f"GET {V}/imports/{{run_id}}/problems": C(f"{V}/imports/{{import_run}}/problems"),
    f"GET {V}/imports/{{run_id}}/problems.csv": C(f"{V}/imports/{{import_run}}/problems.csv"),
    # the first allowed caller (admin) claims the dry run's kept file; later ones get 409
    f"POST {V}/imports/{{run_id}}/run": C(f"{V}/imports/{{dry_run}}/run"),
    f"POST {V}/exports": C(f"{V}/exports", {"what": "products"}),
    f"GET {V}/exports": C(f"{V}/exports"),
    f"GET {V}/exports/{{run_id}}": C(f"{V}/exports/{{export_run}}"),
    f"GET {V}/exports/{{run_id}}/file": C(f"{V}/exports/{{export_run}}/file"),
    # --- publishing
    f"GET {V}/publishing/feeds": C(f"{V}/publishing/feeds"),
    f"GET {V}/publishing/channels/{{channel}}/feeds": C(f"{V}/publishing/channels/webshop/feeds"),
    f"POST {V}/publishing/channels/{{channel}}/feeds": C(
        f"{V}/publishing/channels/webshop/feeds", {"code": "h-new", "format": "csv"}
    ),
    f"GET {V}/publishing/channels/{{channel}}/feeds/{{feed}}": C(
        f"{V}/publishing/channels/webshop/feeds/csv"
    ),
    f"PATCH {V}/publishing/channels/{{channel}}/feeds/{{feed}}": C(
        f"{V}/publishing/channels/webshop/feeds/h-spare", {"name": "Spare"}
    ),
    f"DELETE {V}/publishing/channels/{{channel}}/feeds/{{feed}}": C(
        f"{V}/publishing/channels/webshop/feeds/h-spare"
    ),
    f"POST {V}/publishing/channels/{{channel}}/feeds/{{feed}}/publications": C(
        f"{V}/publishing/channels/webshop/feeds/csv/publications", {"dry_run": True}
    ),
    f"GET {V}/publishing/publications": C(f"{V}/publishing/publications"),
    f"GET {V}/publishing/publications/{{publication_id}}": C(
        f"{V}/publishing/publications/{{publication}}"
    ),
    f"GET {V}/publishing/publications/{{publication_id}}/items": C(
        f"{V}/publishing/publications/{{publication}}/items"
    ),
    f"GET {V}/publishing/publications/{{publication_id}}/diff": C(
        f"{V}/publishing/publications/{{publication}}/diff"
    ),
    f"GET {V}/publishing/webhooks": C(f"{V}/publishing/webhooks"),
    f"POST {V}/publishing/webhooks": C(
        f"{V}/publishing/webhooks",
        {"url": "https://hooks.example.com/new", "events": ["publication.done"]},
    ),
    f"GET {V}/publishing/webhooks/{{webhook_id}}": C(f"{V}/publishing/webhooks/{{webhook}}"),
    f"PATCH {V}/publishing/webhooks/{{webhook_id}}": C(
        f"{V}/publishing/webhooks/{{webhook}}", {"description": "ERP"}
    ),
    f"DELETE {V}/publishing/webhooks/{{webhook_id}}": C(f"{V}/publishing/webhooks/{{webhook}}"),
    f"POST {V}/publishing/webhooks/{{webhook_id}}/rotate-secret": C(
        f"{V}/publishing/webhooks/{{webhook}}/rotate-secret", {}
    ),
    f"GET {V}/publishing/webhooks/{{webhook_id}}/deliveries": C(
        f"{V}/publishing/webhooks/{{webhook}}/deliveries"
    ),
    f"GET {V}/publishing/webhooks/deliveries/{{delivery_id}}": C(
        f"{V}/publishing/webhooks/deliveries/{{delivery}}"
    ),
    f"POST {V}/publishing/webhooks/deliveries/{{delivery_id}}/redeliver": C(
        f"{V}/publishing/webhooks/deliveries/{{delivery}}/redeliver"
    ),
    f"POST {V}/publishing/webhooks/{{webhook_id}}/ping": C(
        f"{V}/publishing/webhooks/{{webhook}}/ping"
    ),
    f"GET {V}/publishing/channels/{{channel}}/feeds/{{feed}}/schedule": C(
        f"{V}/publishing/channels/webshop/feeds/json/schedule"
    ),
    f"PUT {V}/publishing/channels/{{channel}}/feeds/{{feed}}/schedule": C(
        f"{V}/publishing/channels/webshop/feeds/json/schedule", {"every_seconds": 7200}
    ),
    f"DELETE {V}/publishing/channels/{{channel}}/feeds/{{feed}}/schedule": C(
        f"{V}/publishing/channels/webshop/feeds/json/schedule"
    ),
}


# --- running a call ---------------------------------------------------------------------------


def client_for(role: str | None, username: str | None = None) -> Client:
    """A client sending a fresh token of a new user with this role (None: nobody)."""
    if role is None:
        client = Client()
        client.user = client.token = None
        return client
    groups = ["brand-approvers", "legal-approvers"] if role == "approver" else []
    user = accounts.create_user(username or f"matrix-{role}", roles=[role], groups=groups)
    token, text = accounts.create_token(user, f"{role} matrix token")
    if role == "agency":
        from folio.assets.models import Collection

        Collection.objects.get(code=AGENCY_COLLECTION).agencies.add(user)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {text}")
    client.user, client.token = user, token
    return client


def call(client: Client, key: str, ids: dict):
    method = key.split(" ", 1)[0]
    spec = CALLS[key]
    own = {**ids, "me_token": getattr(client.token, "pk", 0)}
    url = spec.url.format(**own)
    body = spec.body(own) if callable(spec.body) else spec.body
    headers = {k: v.format(**own) for k, v in spec.headers.items()}
    send = getattr(client, method.lower())
    if spec.kind == "multipart":
        response = send(url, body, headers=headers)
    elif spec.kind == "raw":
        response = send(url, body, content_type=spec.content_type, headers=headers)
    elif body is None:
        response = send(url, headers=headers)
    else:
        response = send(url, json.dumps(body), content_type="application/json", headers=headers)
    if getattr(response, "streaming", False):
        # A streamed answer does its work while it is read: read it here, in the caller's
        # savepoint, as a client would.
        response.body = b"".join(response.streaming_content)
    return response


# --- the catalog ------------------------------------------------------------------------------


def _ok(response, what: str):
    assert response.status_code < 300, f"{what}: {response.status_code} {response.content[:500]}"
    try:
        return response.json()
    except ValueError:
        return None


def build_catalog(admin: Client) -> dict:
    """The demo catalog plus spare objects for writes; returns the keys the calls use."""
    from folio import demo
    from folio.assets.models import Asset, ColorPalette, ReviewWorkflow
    from folio.catalog import services as catalog
    from folio.jobs import services as jobs
    from folio.jobs.models import Job, Schedule
    from folio.linking.models import Link
    from folio.renditions.models import Preset, Rendition
    from tests.assets.conftest import unique_jpeg

    demo.seed(io.StringIO())

    def post(url, body, what=None):
        return _ok(admin.post(url, json.dumps(body), content_type="application/json"), what or url)

    def put(url, body, what=None):
        return _ok(admin.put(url, json.dumps(body), content_type="application/json"), what or url)

    ids: dict[str, Any] = {}
    asset = Asset.objects.get(title="Water bottle 750 ml blue, front")
    ids["asset"] = asset.pk
    ids["draft_asset"] = Asset.objects.get(title="EspressoPro 3000, top").pk
    ids["review_asset"] = Asset.objects.get(title="Water bottle 750 ml green, front").pk
    # catalog structure: spare objects nothing uses, to change and delete
    ids["spare_locale"] = post(f"{V}/catalog/locales", {"code": "sv_SE"})["code"]
    ids["spare_currency"] = post(f"{V}/catalog/currencies", {"code": "SEK"})["code"]
    ids["spare_channel"] = post(
        f"{V}/catalog/channels", {"code": "h_spare", "locales": ["en_US"], "currencies": ["USD"]}
    )["code"]
    ids["spare_group"] = post(f"{V}/catalog/attribute-groups", {"code": "h_spare"})["code"]
    ids["spare_attribute"] = post(f"{V}/catalog/attributes", {"code": "h_spare", "type": "text"})[
        "code"
    ]
    post(f"{V}/catalog/attributes", {"code": "h_spare_select", "type": "select"})
    post(f"{V}/catalog/attributes/h_spare_select/options", {"options": [{"code": "one"}]})
    ids["spare_option_attribute"], ids["spare_option"] = "h_spare_select", "one"
    ids["spare_family"] = post(f"{V}/catalog/families", {"code": "h_spare"})["code"]
    post(f"{V}/catalog/families", {"code": "h_variant", "attributes": ["name", "color", "size"]})
    ids["spare_variant"] = post(
        f"{V}/catalog/family-variants",
        {"code": "h_spare_fv", "family": "h_variant", "levels": [{"axes": ["size"]}]},
    )["code"]
    ids["spare_category"] = post(
        f"{V}/catalog/categories", {"code": "h_spare", "parent": "master"}
    )["code"]
    ids["spare_product_group"] = post(f"{V}/catalog/groups", {"code": "h_spare"})["code"]
    ids["spare_association"] = post(f"{V}/catalog/association-types", {"code": "H_SPARE"})["code"]
    ids["spare_sku"] = post(f"{V}/catalog/products", {"sku": "H-SPARE-1"})["sku"]
    # a second version of a product and of a model, so version 1 can be restored
    for url, patch in [
        (f"{V}/catalog/products/EP-3000", {"groups": ["winter_collection"]}),
        (
            f"{V}/catalog/product-models/WB-SS",
            {"values": {"name": [{"locale": "en_US", "scope": None, "data": "Steel bottle"}]}},
        ),
    ]:
        _ok(admin.patch(url, json.dumps(patch), content_type="application/json"), url)
    post(f"{V}/catalog/attributes/size/options", {"options": [{"code": "ml1000"}]})
    # a pending proposal on EP-DESCALER, by a catalog editor (the demo's cora)
    from django.contrib.auth import get_user_model

    cora = get_user_model().objects.get(username="cora")
    _ok(
        admin.patch(
            f"{V}/catalog/families/accessories",
            json.dumps({"requires_review": True}),
            content_type="application/json",
        ),
        "review on for accessories",
    )
    proposal = catalog.update_product("EP-DESCALER", {"enabled": False}, user=cora)
    ids["proposal"] = proposal.pk
    # linking: a link to move/replace/remove, a role to reorder, an undoable change
    link = Link.objects.filter(product__sku="EP-3000").exclude(asset=asset).first()
    ids["link"] = link.pk
    linked = list(
        Link.objects.filter(product__sku="EP-3000", role=link.role, locale="", channel=None)
        .order_by("position")
        .values_list("asset_id", flat=True)
    )
    ids["reorder_role"], ids["reorder_assets"] = link.role, linked[::-1]
    ids["linked_asset"] = link.asset_id
    other = Asset.objects.get(title="Water bottle 750 ml black, front")
    change = post(
        f"{V}/assets/{other.pk}/replace-everywhere",
        {
            "new_asset_id": Asset.objects.get(title="Water bottle 750 ml black, side").pk,
            "preview": False,
        },
    )
    ids["link_change"] = change["change_id"]
    # assets: a second version to restore, an archived asset, uploads, collections…
    ids["versioned_asset"] = other.pk
    _ok(
        admin.post(
            f"{V}/assets/{other.pk}/versions",
            {"file": _named(unique_jpeg(), "second.jpg")},
        ),
        "second version",
    )
    # a file named the camera's way ({sku}_{view}.jpg), for auto-linking
    ids["autolink_asset"] = _ok(
        admin.post(f"{V}/assets", {"file": _named(unique_jpeg(), "EP-3000_detail.jpg")}),
        "EP-3000_detail.jpg",
    )["id"]
    archived = Asset.objects.get(title="Water bottle 750 ml black, top")
    post(f"{V}/assets/{archived.pk}/archive", {})
    ids["archived_asset"] = archived.pk
    data = unique_jpeg()
    partial = post(f"{V}/assets/uploads", {"filename": "partial.jpg", "size": len(data)})
    ids["upload_partial"], ids["upload_partial_bytes"] = partial["id"], data
    ids["upload_partial_size"], ids["upload_partial_last"] = len(data), len(data) - 1
    data = unique_jpeg()
    full = post(f"{V}/assets/uploads", {"filename": "full.jpg", "size": len(data)})
    _ok(
        admin.put(
            f"{V}/assets/uploads/{full['id']}",
            data,
            content_type="application/octet-stream",
            headers={"Content-Range": f"bytes 0-{len(data) - 1}/{len(data)}"},
        ),
        "upload chunk",
    )
    ids["upload_full"] = full["id"]
    post(f"{V}/asset-collections", {"code": "h-spare"})
    post(f"{V}/asset-custom-fields", {"code": "h_spare", "type": "text"})
    ids["workflow_steps"] = [dict(s) for s in ReviewWorkflow.objects.get(code="brand-legal").steps]
    post(f"{V}/asset-workflows", {"code": "h-spare", "steps": ids["workflow_steps"]})
    palette = ColorPalette.objects.select_related("collection").first()
    ids["palette"], ids["kit"] = palette.pk, palette.collection.code
    ids["in_a_week"] = (
        datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=7)
    ).isoformat()
    ids["share_link"] = post(
        f"{V}/share-links",
        {"name": "Agency", "assets": [asset.pk], "expires_at": ids["in_a_week"]},
    )["id"]
    post(f"{V}/external-systems", {"code": "h-dam"})
    # renditions: a spare preset with a market override, a slot, a rendition to review
    ids["preset_spec"] = Preset.objects.get(code="thumb-256").spec
    post(
        f"{V}/presets",
        {
            "code": "h-spare",
            "name": "Spare",
            "spec": ids["preset_spec"],
            "market_overrides": {"de_DE": ids["preset_spec"]},
        },
    )
    post(f"{V}/channels/webshop/image-slots", {"role": "h_spare", "preset": "thumb-256"})
    ids["rendition"] = Rendition.objects.order_by("pk").first().pk
    # imports and exports: a mapping, an import run, an export run with its file
    post(f"{V}/imports/mappings", {"name": "h-spare"})
    ids["import_run"] = _ok(admin.post(f"{V}/imports", _csv(ids)), "import")["id"]
    dry_run = admin.post(f"{V}/imports", {**_csv(ids), "dry_run": "true"})
    ids["dry_run"] = _ok(dry_run, "dry run")["id"]
    export = post(f"{V}/exports", {"what": "products"})
    ids["export_run"] = export["id"]
    # publishing: a spare feed, a feed schedule, a publication, a webhook with a delivery
    post(f"{V}/publishing/channels/webshop/feeds", {"code": "h-spare", "format": "csv"})
    put(f"{V}/publishing/channels/webshop/feeds/json/schedule", {"every_seconds": 3600})
    ids["publication"] = post(
        f"{V}/publishing/channels/webshop/feeds/csv/publications", {"dry_run": True}
    )["id"]
    ids["webhook"] = post(
        f"{V}/publishing/webhooks",
        {"url": "https://hooks.example.com/erp", "events": ["publication.done"]},
    )["id"]
    ids["delivery"] = post(f"{V}/publishing/webhooks/{ids['webhook']}/ping", {})["id"]
    # jobs: every job started above waits for a worker (their tasks are queued on a commit
    # the test transaction never makes). Run, as the worker would, the export (its file is
    # downloaded) and the previews of the asset whose preview is fetched; keep one queued job
    # to cancel and a schedule to change.
    from folio.assets.previews import make_previews
    from folio.imports.services import export_job

    current = Asset.objects.get(pk=asset.pk).current_version_id
    for row in Job.objects.filter(status=Job.Status.QUEUED):
        if row.kind == export_job.job_name or (
            row.kind == make_previews.job_name and row.params.get("version_id") == current
        ):
            jobs.execute(str(row.pk), "matrix-test")
    # the dry run finishes (its file stays kept), so that it can be run for real
    from folio.imports.models import ImportRun

    jobs.execute(str(ImportRun.objects.get(pk=ids["dry_run"]).job_id), "matrix-test")
    from folio.renditions.jobs import rerender_preset

    ids["job"] = jobs.start_job(
        rerender_preset, user=admin.user, preset_id=Preset.objects.get(code="h-spare").pk
    ).pk
    ids["schedule"] = Schedule.objects.order_by("name").first().name
    return ids


def _named(data: bytes, name: str):
    f = io.BytesIO(data)
    f.name = name
    return f


ROLE_NAMES = sorted(ROLES)
