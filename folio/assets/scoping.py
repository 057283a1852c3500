"""Asset managers scoped to collections.

An administrator may give an asset manager one or more collections (`Collection.managers`);
the manager is then *scoped*: they upload only into those collections, and change, version,
restore, submit, archive and unarchive only assets in at least one of them. Adding an asset to
or removing it from a collection that is not theirs is refused too, so a scoped manager cannot
move assets into or out of someone else's collection. A manager with no collection is
unscoped, as are administrators and the system. Reading stays as the role allows (global for
managers; agencies are limited by folio.assets.browse, a different rule).

The checks run in the service functions (folio.assets.services, editing, workflow), so API,
web UI, CLI and imports obey them alike.
"""

from dataclasses import dataclass

from folio.assets.models import Asset, Collection
from folio.errors import PermissionDenied


@dataclass(frozen=True)
class ManagerScope:
    codes: tuple[str, ...]
    ids: frozenset[int]

    def describe(self) -> str:
        return "the collection" + ("s " if len(self.codes) > 1 else " ") + ", ".join(self.codes)


def _acting(user):
    if user is None:
        from folio.accounts import audit

        user = audit.current_actor().user
    return user if getattr(user, "pk", None) else None


def manager_scope(user=None) -> ManagerScope | None:
    """The collections `user` (default: whoever is acting) is limited to, or None."""
    user = _acting(user)
    if user is None or user.is_superuser:
        return None
    rows = list(Collection.objects.filter(managers=user).values_list("pk", "code"))
    if not rows:
        return None
    from folio.accounts.services import user_roles

    if "admin" in user_roles(user):
        return None
    return ManagerScope(
        codes=tuple(sorted(code for _, code in rows)), ids=frozenset(pk for pk, _ in rows)
    )


def check_upload(collections: list[Collection], user=None) -> None:
    """A new asset must go into at least one collection, and only into the manager's."""
    scope = manager_scope(user)
    if scope is None:
        return
    if not collections:
        raise PermissionDenied(
            f"uploads must go into {scope.describe()} you manage",
            details={"collections": list(scope.codes)},
            code="out_of_scope",
        )
    refused = sorted(c.code for c in collections if c.pk not in scope.ids)
    if refused:
        raise PermissionDenied(
            f"you may not add files to {', '.join(refused)}: you manage {', '.join(scope.codes)}",
            details={"collections": refused, "scope": list(scope.codes)},
            code="out_of_scope",
        )


def check_asset(asset: Asset, user=None, *, scope: ManagerScope | None = None) -> None:
    """The asset must be in one of the manager's collections (as it is now)."""
    scope = scope or manager_scope(user)
    if scope is None:
        return
    current = set(asset.collections.values_list("pk", flat=True))
    if not current & scope.ids:
        raise PermissionDenied(
            f"asset #{asset.pk} is not in {scope.describe()} you manage",
            details={"asset_id": asset.pk, "scope": list(scope.codes)},
            code="out_of_scope",
        )


def check_collection_change(asset: Asset, new: list[Collection], user=None) -> None:
    """Changing an asset's collections: only the manager's may be added or removed, and the
    asset must stay in at least one of them."""
    scope = manager_scope(user)
    if scope is None:
        return
    check_asset(asset, scope=scope)
    current = dict(asset.collections.values_list("pk", "code"))
    wanted = {c.pk: c.code for c in new}
    touched = sorted(
        code
        for pk, code in {**current, **wanted}.items()
        if (pk in current) != (pk in wanted) and pk not in scope.ids
    )
    if touched:
        raise PermissionDenied(
            f"asset #{asset.pk}: you may not add it to or remove it from {', '.join(touched)}: "
            f"you manage {', '.join(scope.codes)}",
            details={"asset_id": asset.pk, "collections": touched, "scope": list(scope.codes)},
            code="out_of_scope",
        )
    if not set(wanted) & scope.ids:
        raise PermissionDenied(
            f"asset #{asset.pk} must stay in {scope.describe()} you manage",
            details={"asset_id": asset.pk, "scope": list(scope.codes)},
            code="out_of_scope",
        )


def check_collection(collection: Collection | None, user=None) -> None:
    """Changing or deleting a collection: only one the manager manages. Creating one (None)
    is for unscoped managers: a scope is what an administrator gives."""
    scope = manager_scope(user)
    if scope is None:
        return
    if collection is None:
        raise PermissionDenied(
            f"you manage only {', '.join(scope.codes)} and cannot create collections; "
            "ask an administrator",
            details={"scope": list(scope.codes)},
            code="out_of_scope",
        )
    if collection.pk not in scope.ids:
        raise PermissionDenied(
            f"collection {collection.code} is not one you manage ({', '.join(scope.codes)})",
            details={"collection": collection.code, "scope": list(scope.codes)},
            code="out_of_scope",
        )
