"""Roles and what each may do: the one place that maps a role to its permissions.

A role is a Django group with the role's code as its name. Permissions are Django-style
strings (`app.action_thing`); a role grants them by shell-style pattern. Later domains add
their permissions here, nowhere else. Users may belong to further groups (for example one
approver group per approval step); those carry no permissions of their own.
"""

from dataclasses import dataclass
from fnmatch import fnmatchcase

# Apps whose objects are product facts or media: read access is what a viewer has.
DOMAIN_APPS = ("catalog", "assets", "renditions", "linking", "search", "publishing", "imports")
READ_ALL = (*tuple(f"{app}.view_*" for app in DOMAIN_APPS), "jobs.view_job")
# Every signed-in user manages their own API tokens and sees their own jobs.
EVERYONE = ("accounts.manage_own_tokens",)


def _catalog_grants(model_names) -> tuple[str, ...]:
    return tuple(
        f"catalog.{action}_{m}" for m in model_names for action in ("add", "change", "delete")
    )


# The catalog's structure shapes every product and every channel's feed: one change can make
# thousands of products incomplete or drop them from a channel, so it is a catalog manager's,
# not every editor's (least privilege). Measurement families are read-only reference data.
STRUCTURE = (
    "locale",
    "currency",
    "channel",
    "attributegroup",
    "attribute",
    "attributeoption",
    "family",
    "familyrequirement",
    "familyvariant",
    "familyvariantattribute",
    "associationtype",
)
# Product facts: what catalog editors write.
PRODUCT_FACTS = ("product", "productmodel", "category", "productgroup", "association")
CATALOG_EDITING = (
    *READ_ALL,
    *_catalog_grants(PRODUCT_FACTS),
    "linking.add_*",
    "linking.change_*",
    "linking.delete_*",
    "imports.add_*",
    # Whoever imports keeps the saved column mappings in shape.
    "imports.change_columnmapping",
    "imports.delete_columnmapping",
    "jobs.add_job",
)


@dataclass(frozen=True)
class Role:
    code: str
    label: str
    description: str
    grants: tuple[str, ...]


ROLES: dict[str, Role] = {
    r.code: r
    for r in [
        Role("admin", "Administrator", "Everything, including users, roles and settings.", ("*",)),
        Role(
            "catalog_manager",
            "Catalog manager",
            "Shapes the catalog (locales, currencies, channels, attributes and their options, "
            "families, family variants, association types) and edits product facts.",
            (*CATALOG_EDITING, *_catalog_grants(STRUCTURE)),
        ),
        Role(
            "catalog_editor",
            "Catalog editor",
            "Creates and edits product facts: products, models, values, categories.",
            CATALOG_EDITING,
        ),
        Role(
            "catalog_reviewer",
            "Catalog reviewer",
            "Approves or rejects proposed product changes where review is on.",
            (*READ_ALL, "catalog.review_product"),
        ),
        Role(
            "asset_manager",
            "Asset manager",
            "Uploads files and edits their metadata, collections and renditions.",
            (
                *READ_ALL,
                "assets.add_*",
                "assets.change_*",
                "assets.delete_*",
                "renditions.add_*",
                "renditions.change_*",
                "linking.add_*",
                "linking.change_*",
                "jobs.add_job",
            ),
        ),
        Role(
            "approver",
            "Approver",
            "Signs off assets for brand, legal or creative (per approval step).",
            (*READ_ALL, "assets.approve_asset"),
        ),
        Role(
            "publisher",
            "Publisher",
            "Runs channel publications and manages their schedules.",
            (
                *READ_ALL,
                "publishing.add_*",
                "publishing.change_*",
                "publishing.run_publication",
                "jobs.add_job",
            ),
        ),
        Role("viewer", "Viewer", "Reads everything, changes nothing.", READ_ALL),
        Role(
            "agency",
            "Agency",
            "An outside uploader limited to the collections it is given.",
            ("assets.view_asset", "assets.add_asset"),
        ),
    ]
}


def role_grants(role_codes) -> tuple[str, ...]:
    patterns: list[str] = list(EVERYONE)
    for code in role_codes:
        role = ROLES.get(code)
        if role:
            patterns.extend(role.grants)
    return tuple(patterns)


def grants_permission(patterns, perm: str) -> bool:
    return any(fnmatchcase(perm, p) for p in patterns)


def roles_granting(perms) -> list[str]:
    """The labels of the roles that grant every permission in `perms`, so a refusal can say
    whom to ask."""
    return [r.label for r in ROLES.values() if all(grants_permission(r.grants, p) for p in perms)]


def ensure_role_groups(**kwargs):
    """Each role exists as a group (after every migrate), so users can be put in it."""
    from django.contrib.auth.models import Group

    # `migrate --database X` (folio move-up) must seed X, not the default database.
    using = kwargs.get("using", "default")
    for code in ROLES:
        Group.objects.using(using).get_or_create(name=code)


# Permissions checked in code beyond each model's add/change/delete/view (a token may be
# limited to them by name; see known_permissions).
SPECIAL_PERMISSIONS = (
    "accounts.manage_tokens",
    "accounts.view_metrics",
    "assets.approve_asset",
    "catalog.review_product",
    "publishing.run_publication",
)


def known_permissions() -> frozenset[str]:
    """Every permission Folio knows: each model's default ones, those its models declare,
    the special ones above and any a role names outright. Used to check that a token's
    permission pattern means something, and to say which permissions it would add."""
    from django.apps import apps

    found = set(SPECIAL_PERMISSIONS)
    for model in apps.get_models():
        opts = model._meta
        found.update(f"{opts.app_label}.{a}_{opts.model_name}" for a in opts.default_permissions)
        found.update(f"{opts.app_label}.{codename}" for codename, _ in opts.permissions)
    for role in ROLES.values():
        found.update(g for g in role.grants if not any(c in g for c in "*?["))
    return frozenset(found)
