"""What part of the catalog and the library a user is limited to (administrators set it).

- A catalog editor given categories changes only products and models classified in those
  category trees (folio.catalog.scoping).
- An asset manager given collections changes and uploads only within them
  (folio.assets.scoping).
- An agency user given collections sees and uploads only into them (folio.assets.browse);
  for an agency, `collections` are the collections' agency users.

Nothing given means unscoped (agencies: sees nothing). Administrators are never scoped.
The scope lives on the catalog and assets models; this module only reads and sets it, in one
transaction with one audit entry per change.
"""

from django.db import transaction

from folio.accounts import audit
from folio.accounts.models import UserVersion
from folio.accounts.services import user_roles, user_version
from folio.errors import InvalidInput
from folio.versioning import APPLY_AGAIN, check_version, save_versioned


def _kind_of_collections(user) -> str:
    """'agency' when the user's collections are what it may see, else 'manager'."""
    roles = set(user_roles(user))
    return "agency" if "agency" in roles and not user.has_perm("assets.change_asset") else "manager"


def user_scope(user) -> dict:
    from folio.assets.models import Collection
    from folio.catalog.models import Category

    kind = _kind_of_collections(user)
    collections = Collection.objects.filter(
        **{"agencies" if kind == "agency" else "managers": user}
    )
    return {
        "username": user.username,
        "categories": sorted(Category.objects.filter(editors=user).values_list("code", flat=True)),
        "collections": sorted(collections.values_list("code", flat=True)),
        "collections_as": kind,
        "version": user_version(user),
    }


def _codes(field: str, value) -> list[str]:
    if not isinstance(value, list | tuple) or not all(isinstance(c, str) for c in value):
        raise InvalidInput(f"{field}: expected a list of codes", details={"field": field})
    return sorted({c.strip() for c in value if c.strip()})


def _rows(model, field: str, what: str, codes: list[str]):
    rows = list(model.objects.filter(code__in=codes))
    missing = sorted(set(codes) - {r.code for r in rows})
    if missing:
        raise InvalidInput(
            f"{field}: no {what} {', '.join(missing)}",
            details={"field": field, "unknown": missing},
        )
    return rows


@transaction.atomic
def set_scope(user, *, categories=None, collections=None, expected_version=None) -> dict:
    """Replace the user's categories and/or collections (None: leave as is; []: unscope).

    A scope is part of the user's account: it shares the account's version (what GET
    /users/{username} and its scope answer), so with `expected_version` an account changed
    since — its roles or its scope — is refused as a stale write and nothing is changed."""
    from folio.assets.models import Collection
    from folio.catalog.models import Category

    UserVersion.objects.get_or_create(user=user)
    edit = UserVersion.objects.select_for_update().get(user=user)
    check_version(
        edit,
        expected_version,
        f"the scope of {user.username}",
        then=APPLY_AGAIN,
    )

    if ("admin" in user_roles(user) or user.is_superuser) and (categories or collections):
        raise InvalidInput(
            f"{user.username} is an administrator; administrators are never scoped",
            details={"username": user.username},
        )
    before = user_scope(user)
    if categories is not None:
        codes = _codes("categories", categories)
        if codes and not user.has_perm("catalog.change_product"):
            raise InvalidInput(
                f"categories: {user.username} does not edit the catalog (roles: "
                f"{', '.join(user_roles(user)) or 'none'}); category scopes are for catalog "
                "editors",
                details={"field": "categories"},
            )
        user.editor_categories.set(_rows(Category, "categories", "category", codes))
    if collections is not None:
        codes = _codes("collections", collections)
        kind = _kind_of_collections(user)
        if codes and kind == "manager" and not user.has_perm("assets.change_asset"):
            raise InvalidInput(
                f"collections: {user.username} neither manages assets nor is an agency (roles: "
                f"{', '.join(user_roles(user)) or 'none'})",
                details={"field": "collections"},
            )
        rows = _rows(Collection, "collections", "collection", codes)
        (user.agency_collections if kind == "agency" else user.managed_collections).set(rows)
    changed = {
        k: [before[k], now[k]]
        for now in [user_scope(user)]
        for k in ("categories", "collections")
        if before[k] != now[k]
    }
    if changed:
        save_versioned(edit, expected_version, [])
        audit.record(
            "user.scope",
            user,
            summary=f"scope of {user.username}: "
            + "; ".join(f"{k} {', '.join(v[1]) or '(none)'}" for k, v in changed.items()),
            changes=changed,
        )
    user.edit_version = edit
    return user_scope(user)
