"""Who is limited to which category trees and collections (administrators only)."""

from typing import Literal

from ninja import Router, Schema

from folio.accounts import scopes, services

router = Router(tags=["accounts"])


class ScopeOut(Schema):
    username: str
    categories: list[str]
    collections: list[str]
    collections_as: Literal["manager", "agency"]


class ScopeIn(Schema):
    categories: list[str] | None = None
    collections: list[str] | None = None


@router.get(
    "/users/{username}/scope",
    response=ScopeOut,
    summary="The category trees and collections a user is limited to (administrators)",
)
def get_scope(request, username: str):
    services.require(request.user, "accounts.view_user")
    return scopes.user_scope(services.get_user(username))


@router.put(
    "/users/{username}/scope",
    response=ScopeOut,
    summary="Limit a catalog editor to category trees, an asset manager or agency to "
    "collections; a field left out stays as it is, an empty list removes the limit "
    "(administrators)",
)
def set_scope(request, username: str, payload: ScopeIn):
    services.require(request.user, "accounts.change_user")
    return scopes.set_scope(
        services.get_user(username),
        categories=payload.categories,
        collections=payload.collections,
    )
