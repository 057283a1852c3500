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
            "catalog_editor",
            "Catalog editor",
            "Creates and edits product facts: products, models, values, categories.",
            (
                *READ_ALL,
                "catalog.add_*",
                "catalog.change_*",
                "catalog.delete_*",
                "linking.add_*",
                "linking.change_*",
                "linking.delete_*",
                "imports.add_*",
                "jobs.add_job",
            ),
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


def ensure_role_groups(**kwargs):
    """Each role exists as a group (after every migrate), so users can be put in it."""
    from django.contrib.auth.models import Group

    for code in ROLES:
        Group.objects.get_or_create(name=code)
