"""Who is limited to which category trees and collections (administrators only)."""

from typing import Literal

from django.http import HttpResponse
from ninja import Header, Router, Schema

from folio.accounts import scopes, services
from folio.versioning import expected_version, shows_current

router = Router(tags=["accounts"])


class ScopeOut(Schema):
    username: str
    categories: list[str]
    collections: list[str]
    collections_as: Literal["manager", "agency"]
    version: int  # the user account's version (GET /users/{username} answers the same)


class ScopeIn(Schema):
    categories: list[str] | None = None
    collections: list[str] | None = None
    version: int | None = None


def _answer(scope: dict, response: HttpResponse) -> dict:
    response["ETag"] = f'W/"{scope["version"]}"'
    return scope


@router.get(
    "/users/{username}/scope",
    response=ScopeOut,
    summary="The category trees and collections a user is limited to (administrators)",
)
def get_scope(request, username: str, response: HttpResponse):
    services.require(request.user, "accounts.view_user")
    return _answer(scopes.user_scope(services.get_user(username)), response)


@router.put(
    "/users/{username}/scope",
    response=ScopeOut,
    summary="Limit a catalog editor to category trees, an asset manager or agency to "
    "collections; a field left out stays as it is, an empty list removes the limit "
    "(administrators); send the account's version (body or If-Match): a stale one answers "
    "409 with the current scope",
)
@shows_current(get_scope)
def set_scope(
    request,
    username: str,
    payload: ScopeIn,
    response: HttpResponse,
    if_match: str | None = Header(None, alias="If-Match"),
):
    services.require(request.user, "accounts.change_user")
    scope = scopes.set_scope(
        services.get_user(username),
        categories=payload.categories,
        collections=payload.collections,
        expected_version=expected_version(payload.version, if_match),
    )
    return _answer(scope, response)
