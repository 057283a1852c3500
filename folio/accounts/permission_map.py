"""What each REST API operation requires: the permission, per operation of the schema.

With the role map (folio.accounts.roles) this answers "may role R call operation O", which
docs/security.md shows as its permission matrix (`folio permission-matrix` writes it) and
tests/accounts/test_permission_matrix.py checks against the real API for every role. The
routers and services check the permissions themselves (`require`); this table describes what
they check, and the test fails when the two disagree or an operation is missing here.
"""

from dataclasses import dataclass

from folio.accounts.roles import ROLES, grants_permission, role_grants

PUBLIC = "public"  # no sign-in at all
SIGNED_IN = "signed-in"  # any signed-in user or token; answers cover the caller's own things


@dataclass(frozen=True)
class Rule:
    """`perms`: every one is needed (or one of them, with `any_of`). `hidden_without`: a
    caller lacking that permission sees only their own objects, so another's answers 404
    (not found) rather than 403; `hidden_for` roles likewise (an agency sees only the assets
    of its collections). `note` says what else decides (object-level rules)."""

    perms: tuple[str, ...]
    any_of: bool = False
    hidden_without: str | None = None
    hidden_for: tuple[str, ...] = ()  # roles that see only some objects of the kind
    note: str = ""

    @property
    def label(self) -> str:
        if self.perms in ((PUBLIC,), (SIGNED_IN,)):
            return self.perms[0]
        return (" or " if self.any_of else " + ").join(self.perms)


def _r(*perms, **kw) -> Rule:
    return Rule(tuple(perms), **kw)


OWN = "own objects without the permission"
V = "/api/v1"

OPERATIONS: dict[str, Rule] = {
    # --- meta and accounts
    "GET /api/health": _r(PUBLIC),
    f"GET {V}/me": _r(SIGNED_IN),
    f"GET {V}/roles": _r(SIGNED_IN),
    f"GET {V}/users": _r("accounts.view_user"),
    f"POST {V}/users": _r("accounts.add_user"),
    f"GET {V}/users/{{username}}": _r("accounts.view_user"),
    f"PATCH {V}/users/{{username}}": _r("accounts.change_user"),
    f"GET {V}/users/{{username}}/scope": _r("accounts.view_user"),
    f"PUT {V}/users/{{username}}/scope": _r("accounts.change_user"),
    f"GET {V}/audit": _r("accounts.view_auditentry"),
    f"GET {V}/audit/export": _r("accounts.view_auditentry"),
    f"GET {V}/tokens": _r(SIGNED_IN, note="own tokens; everyone's with accounts.manage_tokens"),
    f"POST {V}/tokens": _r("accounts.manage_own_tokens"),
    f"DELETE {V}/tokens/{{token_id}}": _r(
        SIGNED_IN, note="own tokens; others' with accounts.manage_tokens (else 404)"
    ),
    # --- jobs
    f"GET {V}/jobs": _r(SIGNED_IN, note="own jobs; all with jobs.view_job"),
    f"GET {V}/jobs/{{job_id}}": _r("jobs.view_job", hidden_without="jobs.view_job", note=OWN),
    f"POST {V}/jobs/{{job_id}}/cancel": _r(
        "jobs.change_job", hidden_without="jobs.view_job", note="the job's starter may too"
    ),
    f"GET {V}/schedules": _r("jobs.view_job"),
    f"GET {V}/schedules/{{name}}": _r("jobs.view_job"),
    f"PATCH {V}/schedules/{{name}}": _r("jobs.change_schedule"),
    # --- products
    f"POST {V}/catalog/products/bulk-edit": _r("catalog.change_product"),
    f"GET {V}/catalog/products": _r("catalog.view_product"),
    f"POST {V}/catalog/products": _r("catalog.add_product"),
    f"POST {V}/catalog/products/bulk": _r("catalog.add_product", "catalog.change_product"),
    f"GET {V}/catalog/products/{{sku}}": _r("catalog.view_product"),
    f"PATCH {V}/catalog/products/{{sku}}": _r(
        "catalog.change_product", note="becomes a proposal where review is on"
    ),
    f"DELETE {V}/catalog/products/{{sku}}": _r("catalog.delete_product"),
    f"GET {V}/catalog/products/{{sku}}/history": _r("catalog.view_product"),
    f"POST {V}/catalog/products/{{sku}}/restore": _r("catalog.change_product"),
    f"GET {V}/catalog/products/{{sku}}/completeness": _r("catalog.view_product"),
    f"GET {V}/catalog/proposals": _r("catalog.view_product"),
    f"POST {V}/catalog/proposals/{{proposal_id}}/approve": _r(
        "catalog.review_product", note="not by the proposal's author"
    ),
    f"POST {V}/catalog/proposals/{{proposal_id}}/reject": _r("catalog.review_product"),
    f"GET {V}/catalog/product-models": _r("catalog.view_productmodel"),
    f"POST {V}/catalog/product-models": _r("catalog.add_productmodel"),
    f"GET {V}/catalog/product-models/{{code}}": _r("catalog.view_productmodel"),
    f"PATCH {V}/catalog/product-models/{{code}}": _r("catalog.change_productmodel"),
    f"GET {V}/catalog/product-models/{{code}}/history": _r("catalog.view_productmodel"),
    f"POST {V}/catalog/product-models/{{code}}/restore": _r("catalog.change_productmodel"),
    # --- linking, SKU 360, review together
    f"POST {V}/catalog/products/{{sku}}/links": _r("linking.add_link"),
    f"GET {V}/catalog/products/{{sku}}/links": _r("linking.view_link"),
    f"POST {V}/catalog/product-models/{{code}}/links": _r("linking.add_link"),
    f"GET {V}/catalog/product-models/{{code}}/links": _r("linking.view_link"),
    f"POST {V}/catalog/products/{{sku}}/links/reorder": _r("linking.change_link"),
    f"DELETE {V}/links/{{link_id}}": _r("linking.delete_link"),
    f"PATCH {V}/links/{{link_id}}": _r("linking.change_link"),
    f"POST {V}/links/{{link_id}}/replace": _r("linking.change_link"),
    f"GET {V}/assets/{{asset_id}}/where-used": _r("linking.view_link"),
    f"POST {V}/assets/{{asset_id}}/replace-everywhere": _r("linking.change_link"),
    f"POST {V}/link-changes/{{change_id}}/undo": _r("linking.change_link"),
    f"POST {V}/links/auto": _r("linking.add_link"),
    f"GET {V}/catalog/families/{{code}}/media-requirements": _r("linking.view_mediarequirement"),
    f"GET {V}/catalog/families/{{code}}/media-requirements/{{channel}}/{{role}}": _r(
        "linking.view_mediarequirement"
    ),
    f"PUT {V}/catalog/families/{{code}}/media-requirements/{{channel}}/{{role}}": _r(
        "linking.change_mediarequirement"
    ),
    f"DELETE {V}/catalog/families/{{code}}/media-requirements/{{channel}}/{{role}}": _r(
        "linking.delete_mediarequirement"
    ),
    f"GET {V}/catalog/products/{{sku}}/360": _r("catalog.view_product", "linking.view_link"),
    f"GET {V}/catalog/compare": _r("catalog.view_product"),
    f"GET {V}/catalog/products/{{sku}}/review": _r("catalog.view_product"),
    f"POST {V}/catalog/products/{{sku}}/review/approve": _r(
        "catalog.review_product",
        note="files also need assets.approve_asset and the step's group",
    ),
    f"GET {V}/find": _r("catalog.view_product"),
    # --- catalog structure
    **{
        f"{method} {V}/catalog/{path}": _r(f"catalog.{action}_{model}")
        for plural, model in [
            ("locales", "locale"),
            ("currencies", "currency"),
            ("channels", "channel"),
            ("attribute-groups", "attributegroup"),
            ("attributes", "attribute"),
            ("families", "family"),
            ("family-variants", "familyvariant"),
            ("categories", "category"),
            ("groups", "productgroup"),
            ("association-types", "associationtype"),
        ]
        for method, path, action in [
            ("GET", plural, "view"),
            ("POST", plural, "add"),
            ("GET", f"{plural}/{{code}}", "view"),
            ("PATCH", f"{plural}/{{code}}", "change"),
            ("DELETE", f"{plural}/{{code}}", "delete"),
        ]
    },
    f"GET {V}/catalog/attributes/{{code}}/options": _r("catalog.view_attribute"),
    f"POST {V}/catalog/attributes/{{code}}/options": _r("catalog.add_attributeoption"),
    f"GET {V}/catalog/attributes/{{code}}/options/{{option}}": _r("catalog.view_attribute"),
    f"PATCH {V}/catalog/attributes/{{code}}/options/{{option}}": _r(
        "catalog.change_attributeoption"
    ),
    f"DELETE {V}/catalog/attributes/{{code}}/options/{{option}}": _r(
        "catalog.delete_attributeoption"
    ),
    f"GET {V}/catalog/families/{{code}}/requirements": _r("catalog.view_family"),
    f"PUT {V}/catalog/families/{{code}}/requirements": _r("catalog.change_family"),
    f"GET {V}/catalog/measurement-families": _r("catalog.view_measurementfamily"),
    f"GET {V}/catalog/measurement-families/{{code}}": _r("catalog.view_measurementfamily"),
    # --- search
    f"GET {V}/search": _r(
        "catalog.view_product", note="each kind searched needs its view permission"
    ),
    f"GET {V}/search/all": _r(
        "catalog.view_product", "assets.view_asset", any_of=True, note="the kinds one may view"
    ),
    # --- assets: files in, versions
    f"POST {V}/assets/uploads": _r("assets.add_asset", note="a new version: assets.change_asset"),
    f"GET {V}/assets/uploads/{{upload_id}}": _r("assets.change_asset", note="or its starter"),
    f"PUT {V}/assets/uploads/{{upload_id}}": _r("assets.change_asset", note="or its starter"),
    f"DELETE {V}/assets/uploads/{{upload_id}}": _r("assets.change_asset", note="or its starter"),
    f"POST {V}/assets/uploads/{{upload_id}}/complete": _r(
        "assets.change_asset", "assets.add_asset", note="its starter needs only assets.add_asset"
    ),
    f"POST {V}/assets/{{asset_id}}/versions": _r("assets.change_asset"),
    f"GET {V}/assets/{{asset_id}}/versions": _r("assets.view_asset"),
    f"GET {V}/assets/{{asset_id}}/versions/{{number}}/download": _r("assets.view_asset"),
    f"POST {V}/assets/{{asset_id}}/versions/{{number}}/restore": _r("assets.change_asset"),
    f"POST {V}/assets": _r("assets.add_asset"),
    # --- assets: browsing, editing, review
    f"GET {V}/assets": _r("assets.view_asset"),
    f"GET {V}/assets/review-queue": _r("assets.view_asset"),
    f"GET {V}/assets/expiring": _r("assets.view_asset"),
    f"GET {V}/assets/{{asset_id}}": _r("assets.view_asset"),
    f"PATCH {V}/assets/{{asset_id}}": _r("assets.change_asset"),
    f"POST {V}/assets/{{asset_id}}/submit": _r(
        "assets.change_asset",
        hidden_for=("agency",),
        note="an uploader (assets.add_asset) may submit their own",
    ),
    f"POST {V}/assets/{{asset_id}}/approve": _r(
        "assets.approve_asset", note="and membership of the review step's group"
    ),
    f"POST {V}/assets/{{asset_id}}/reject": _r(
        "assets.approve_asset", note="and membership of the review step's group"
    ),
    f"POST {V}/assets/{{asset_id}}/archive": _r("assets.change_asset"),
    f"POST {V}/assets/{{asset_id}}/unarchive": _r("assets.change_asset"),
    f"GET {V}/assets/{{asset_id}}/history": _r("assets.view_asset"),
    f"GET {V}/asset-collections": _r("assets.view_asset"),
    f"POST {V}/asset-collections": _r("assets.add_collection"),
    f"GET {V}/asset-collections/{{code}}": _r("assets.view_asset"),
    f"PATCH {V}/asset-collections/{{code}}": _r("assets.change_collection"),
    f"DELETE {V}/asset-collections/{{code}}": _r("assets.delete_collection"),
    f"GET {V}/asset-tags": _r("assets.view_asset"),
    f"POST {V}/asset-tags/merge": _r("assets.change_tag", "assets.delete_tag"),
    f"GET {V}/asset-tags/{{name}}": _r(
        "assets.view_asset", note="an agency only the tags of assets it sees (else 404)"
    ),
    f"PATCH {V}/asset-tags/{{name}}": _r("assets.change_tag"),
    f"DELETE {V}/asset-tags/{{name}}": _r("assets.delete_tag"),
    f"GET {V}/asset-custom-fields": _r("assets.view_asset"),
    f"POST {V}/asset-custom-fields": _r("assets.add_customfield"),
    f"GET {V}/asset-custom-fields/{{code}}": _r("assets.view_asset"),
    f"PATCH {V}/asset-custom-fields/{{code}}": _r("assets.change_customfield"),
    f"DELETE {V}/asset-custom-fields/{{code}}": _r("assets.delete_customfield"),
    f"GET {V}/asset-workflows": _r("assets.view_asset"),
    f"POST {V}/asset-workflows": _r("assets.add_reviewworkflow"),
    f"GET {V}/asset-workflows/{{code}}": _r("assets.view_asset"),
    f"PATCH {V}/asset-workflows/{{code}}": _r("assets.change_reviewworkflow"),
    f"DELETE {V}/asset-workflows/{{code}}": _r("assets.delete_reviewworkflow"),
    # --- assets: previews, similarity, brand kits, sharing, other DAMs
    f"GET {V}/assets/{{asset_id}}/previews": _r("assets.view_asset"),
    f"GET {V}/assets/{{asset_id}}/preview/{{name}}": _r("assets.view_asset"),
    f"GET {V}/assets/{{asset_id}}/similar": _r("assets.view_asset"),
    f"GET {V}/assets/near-duplicates": _r("assets.view_asset"),
    f"GET {V}/brand-kits": _r("assets.view_collection"),
    f"POST {V}/brand-kits": _r("assets.add_collection"),
    f"GET {V}/brand-kits/{{code}}": _r("assets.view_collection"),
    f"GET {V}/brand-kits/{{code}}/palettes": _r("assets.view_collection"),
    f"GET {V}/brand-kits/{{code}}/palettes/{{palette_id}}": _r("assets.view_collection"),
    f"POST {V}/brand-kits/{{code}}/palettes": _r("assets.change_collection"),
    f"PATCH {V}/brand-kits/{{code}}/palettes/{{palette_id}}": _r("assets.change_collection"),
    f"DELETE {V}/brand-kits/{{code}}/palettes/{{palette_id}}": _r("assets.change_collection"),
    f"POST {V}/share-links": _r("assets.change_asset"),
    f"GET {V}/share-links": _r("assets.change_asset"),
    f"GET {V}/share-links/{{link_id}}": _r("assets.change_asset"),
    f"POST {V}/share-links/{{link_id}}/revoke": _r("assets.change_asset"),
    f"POST {V}/external-systems": _r("assets.manage_external_systems"),
    f"GET {V}/external-systems": _r("assets.manage_external_systems"),
    f"PATCH {V}/external-systems/{{code}}": _r("assets.manage_external_systems"),
    f"POST {V}/external-systems/{{code}}/rotate-secret": _r("assets.manage_external_systems"),
    f"DELETE {V}/external-systems/{{code}}": _r("assets.manage_external_systems"),
    f"PUT {V}/external-assets/{{system}}/{{external_id}}": _r("assets.change_asset"),
    f"GET {V}/external-assets": _r("assets.view_asset"),
    f"GET {V}/dam/assets": _r("assets.view_asset"),
    # --- renditions
    f"GET {V}/presets": _r("renditions.view_preset"),
    f"POST {V}/presets": _r("renditions.add_preset"),
    f"GET {V}/presets/{{code}}": _r("renditions.view_preset"),
    f"PATCH {V}/presets/{{code}}": _r("renditions.change_preset"),
    f"DELETE {V}/presets/{{code}}": _r("renditions.delete_preset"),
    f"PUT {V}/presets/{{code}}/markets/{{locale}}": _r("renditions.change_preset"),
    f"DELETE {V}/presets/{{code}}/markets/{{locale}}": _r("renditions.change_preset"),
    f"POST {V}/presets/{{code}}/rerender": _r("renditions.change_preset"),
    f"GET {V}/channels/{{code}}/image-slots": _r("renditions.view_imageslot"),
    f"POST {V}/channels/{{code}}/image-slots": _r("renditions.add_imageslot"),
    f"GET {V}/channels/{{code}}/image-slots/{{role}}": _r("renditions.view_imageslot"),
    f"PATCH {V}/channels/{{code}}/image-slots/{{role}}": _r("renditions.change_imageslot"),
    f"DELETE {V}/channels/{{code}}/image-slots/{{role}}": _r("renditions.delete_imageslot"),
    f"GET {V}/assets/{{asset_id}}/renditions": _r("renditions.view_rendition"),
    f"POST {V}/assets/{{asset_id}}/renditions": _r("renditions.add_rendition"),
    f"POST {V}/renditions/{{rendition_id}}/review": _r("renditions.change_rendition"),
    # --- imports and exports
    f"GET {V}/imports/mappings": _r("imports.view_columnmapping"),
    f"POST {V}/imports/mappings": _r("imports.add_columnmapping"),
    f"GET {V}/imports/mappings/{{name}}": _r("imports.view_columnmapping"),
    f"PATCH {V}/imports/mappings/{{name}}": _r("imports.change_columnmapping"),
    f"DELETE {V}/imports/mappings/{{name}}": _r("imports.delete_columnmapping"),
    f"POST {V}/imports": _r(
        "imports.add_importrun", note="each row also needs the permission for what it writes"
    ),
    f"GET {V}/imports": _r(SIGNED_IN, note="own imports; all with imports.view_importrun"),
    f"POST {V}/imports/{{run_id}}/run": _r(
        "imports.add_importrun",
        hidden_without="imports.view_importrun",
        note="own dry runs without imports.view_importrun; each row also needs the permission "
        "for what it writes",
    ),
    f"GET {V}/imports/{{run_id}}": _r(
        "imports.view_importrun", hidden_without="imports.view_importrun", note=OWN
    ),
    f"GET {V}/imports/{{run_id}}/problems": _r(
        "imports.view_importrun", hidden_without="imports.view_importrun", note=OWN
    ),
    f"GET {V}/imports/{{run_id}}/problems.csv": _r(
        "imports.view_importrun", hidden_without="imports.view_importrun", note=OWN
    ),
    f"POST {V}/exports": _r(
        "catalog.view_product", note="what is exported needs its view permission"
    ),
    f"GET {V}/exports": _r(SIGNED_IN, note="own exports; all with imports.view_exportrun"),
    f"GET {V}/exports/{{run_id}}": _r(
        "imports.view_exportrun", hidden_without="imports.view_exportrun", note=OWN
    ),
    f"GET {V}/exports/{{run_id}}/file": _r(
        "imports.view_exportrun",
        hidden_without="imports.view_exportrun",
        note="own exports too; and the view permission of what was exported",
    ),
    # --- publishing
    f"GET {V}/publishing/feeds": _r("publishing.view_feed"),
    f"GET {V}/publishing/channels/{{channel}}/feeds": _r("publishing.view_feed"),
    f"POST {V}/publishing/channels/{{channel}}/feeds": _r("publishing.add_feed"),
    f"GET {V}/publishing/channels/{{channel}}/feeds/{{feed}}": _r("publishing.view_feed"),
    f"PATCH {V}/publishing/channels/{{channel}}/feeds/{{feed}}": _r("publishing.change_feed"),
    f"DELETE {V}/publishing/channels/{{channel}}/feeds/{{feed}}": _r("publishing.delete_feed"),
    f"POST {V}/publishing/channels/{{channel}}/feeds/{{feed}}/publications": _r(
        "publishing.run_publication"
    ),
    f"GET {V}/publishing/publications": _r("publishing.view_publication"),
    f"GET {V}/publishing/publications/{{publication_id}}": _r("publishing.view_publication"),
    f"GET {V}/publishing/publications/{{publication_id}}/items": _r("publishing.view_publication"),
    f"GET {V}/publishing/publications/{{publication_id}}/diff": _r("publishing.view_publication"),
    f"GET {V}/publishing/webhooks": _r("publishing.view_webhook"),
    f"POST {V}/publishing/webhooks": _r("publishing.add_webhook"),
    f"GET {V}/publishing/webhooks/{{webhook_id}}": _r("publishing.view_webhook"),
    f"PATCH {V}/publishing/webhooks/{{webhook_id}}": _r("publishing.change_webhook"),
    f"DELETE {V}/publishing/webhooks/{{webhook_id}}": _r("publishing.delete_webhook"),
    f"POST {V}/publishing/webhooks/{{webhook_id}}/rotate-secret": _r("publishing.change_webhook"),
    f"GET {V}/publishing/webhooks/{{webhook_id}}/deliveries": _r("publishing.view_webhook"),
    f"GET {V}/publishing/webhooks/deliveries/{{delivery_id}}": _r("publishing.view_webhook"),
    f"POST {V}/publishing/webhooks/deliveries/{{delivery_id}}/redeliver": _r(
        "publishing.change_webhook"
    ),
    f"POST {V}/publishing/webhooks/{{webhook_id}}/ping": _r("publishing.change_webhook"),
    f"GET {V}/publishing/channels/{{channel}}/feeds/{{feed}}/schedule": _r("publishing.view_feed"),
    f"PUT {V}/publishing/channels/{{channel}}/feeds/{{feed}}/schedule": _r(
        "publishing.change_feed"
    ),
    f"DELETE {V}/publishing/channels/{{channel}}/feeds/{{feed}}/schedule": _r(
        "publishing.change_feed"
    ),
}


def role_may(role: str | None, rule: Rule) -> bool:
    """May a user with (only) this role call the operation? None: not signed in."""
    if rule.perms == (PUBLIC,):
        return True
    if role is None:
        return False
    if rule.perms == (SIGNED_IN,):
        return True
    grants = role_grants([role])
    check = any if rule.any_of else all
    return check(grants_permission(grants, p) for p in rule.perms)


def role_sees(role: str, rule: Rule) -> bool:
    """False when the role lacks `hidden_without`: others' objects answer 404 to it."""
    if role in rule.hidden_for:
        return False
    return rule.hidden_without is None or grants_permission(
        role_grants([role]), rule.hidden_without
    )


def schema_operations(schema: dict) -> list[tuple[str, str, dict]]:
    """(key, tag, operation) for every operation of an OpenAPI schema, in schema order."""
    found = []
    for path, operations in schema["paths"].items():
        for method, op in operations.items():
            if method in ("get", "post", "put", "patch", "delete"):
                tag = (op.get("tags") or ["meta"])[0]
                found.append((f"{method.upper()} {path}", tag, op))
    return found


MATRIX_START = "<!-- permission matrix: generated by `folio permission-matrix`; do not edit -->"
MATRIX_END = "<!-- end of permission matrix -->"


def render_matrix(schema: dict | None = None) -> str:
    """The "Permission matrix" section of docs/security.md: rows are endpoint groups (an API
    tag and the permission its operations need), columns the roles (and anonymous)."""
    if schema is None:
        from folio.api import api

        schema = api.get_openapi_schema()
    roles = list(ROLES)
    groups: dict[tuple[str, str], list[str]] = {}
    rules: dict[tuple[str, str], Rule] = {}
    for key, tag, _ in schema_operations(schema):
        rule = OPERATIONS.get(key)
        if rule is None:
            continue  # the tests name operations without a rule
        method, path = key.split(" ", 1)
        label = rule.label + (f" ({rule.note})" if rule.note else "")
        groups.setdefault((tag, label), []).append(f"{method} {path.removeprefix(V)}")
        rules[(tag, label)] = rule
    header = ["area", "operations", "needs", *[f"`{r}`" for r in roles], "anonymous"]
    lines = [
        MATRIX_START,
        "",
        "✓ allowed, — refused (403; 401 when not signed in), ◐ only some objects: the "
        "caller's own, or an agency's collections (others answer 404). Paths are under "
        "`/api/v1` except `/api/health`.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for (tag, label), ops in groups.items():
        rule = rules[(tag, label)]
        cells = []
        for role in [*roles, None]:
            if role is not None and not role_sees(role, rule):
                cells.append("◐")
            elif not role_may(role, rule):
                cells.append("—")
            else:
                cells.append("✓")
        what = "<br>".join(f"`{o}`" for o in ops)
        lines.append(f"| {tag} | {what} | {label} | " + " | ".join(cells) + " |")
    lines += ["", MATRIX_END]
    return "\n".join(lines)


def update_security_doc(path) -> bool:
    """Replace the generated matrix in docs/security.md; True when the file changed."""
    from pathlib import Path

    path = Path(path)
    text = path.read_text()
    start, end = text.index(MATRIX_START), text.index(MATRIX_END) + len(MATRIX_END)
    new = text[:start] + render_matrix() + text[end:]
    if new != text:
        path.write_text(new)
    return new != text
