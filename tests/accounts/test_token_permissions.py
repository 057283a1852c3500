"""API tokens limited to a subset of their owner's permissions: refused beyond the owner's,
intersected with the owner's roles at request time, shown in lists (API and CLI)."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from folio.accounts import services
from folio.accounts.models import ApiToken

JSON = {"content_type": "application/json"}


def bearer(text):
    return Client(HTTP_AUTHORIZATION=f"Bearer {text}")


def new_token(client, **body):
    return client.post("/api/v1/tokens", {"name": "limited", **body}, **JSON)


def product_body(sku):
    return {"sku": sku, "values": {}}


def test_a_limited_token_reads_but_cannot_write(api_client):
    editor = api_client("catalog_editor")
    created = new_token(editor, permissions=["catalog.view_*", "search.view_*"])
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["permissions"] == ["catalog.view_*", "search.view_*"]
    limited = bearer(body["token"])

    assert limited.get("/api/v1/catalog/products").status_code == 200
    refused = limited.post("/api/v1/catalog/products", product_body("LIM-1"), **JSON)
    assert refused.status_code == 403, refused.content
    assert refused.json()["error"]["details"] == {"permission": "catalog.add_product"}
    me = limited.get("/api/v1/me").json()
    assert me["permissions_sample"]["catalog.change_product"] is False
    assert me["token_permissions"] == ["catalog.view_*", "search.view_*"]
    assert editor.get("/api/v1/me").json()["token_permissions"] is None
    # The owner's own, unlimited token still writes.
    assert editor.post("/api/v1/catalog/products", product_body("LIM-2"), **JSON).status_code in (
        200,
        201,
    )
    assert editor.get("/api/v1/me").json()["permissions_sample"]["catalog.change_product"]


def test_permissions_beyond_the_owners_are_refused_by_name(api_client):
    viewer = api_client("viewer")
    refused = new_token(viewer, permissions=["catalog.view_*", "catalog.change_*", "jobs.*"])
    assert refused.status_code == 422, refused.content
    error = refused.json()["error"]
    assert error["details"]["field"] == "permissions"
    assert error["details"]["beyond_owner"] == ["catalog.change_*", "jobs.*"]
    assert "catalog.change_*" in error["message"] and "jobs.*" in error["message"]
    assert "catalog.view_*" not in error["details"]["beyond_owner"]
    assert not ApiToken.objects.filter(name="limited").exists()


@pytest.mark.parametrize(
    ("permissions", "key", "message"),
    [
        (["catalgo.view_*"], "unknown", "catalgo.view_* matches no permission"),
        (["catalog view"], "invalid", "not a permission pattern"),
        (["catalog.view_[ab]"], "invalid", "not a permission pattern"),
    ],
)
def test_meaningless_patterns_are_refused(api_client, permissions, key, message):
    response = new_token(api_client("admin"), permissions=permissions)
    assert response.status_code == 422, response.content
    assert message in response.json()["error"]["message"]
    assert response.json()["error"]["details"][key] == permissions


def test_empty_list_means_all_of_the_owners(api_client):
    editor = api_client("catalog_editor")
    body = new_token(editor, permissions=[]).json()
    assert body["permissions"] is None
    assert bearer(body["token"]).post(
        "/api/v1/catalog/products", product_body("ALL-1"), **JSON
    ).status_code in (200, 201)


def test_the_owner_losing_a_role_takes_it_from_the_token(api_client):
    admin = api_client("admin")
    editor = api_client("catalog_editor", "ed")
    # Not catalog.* nor catalog.add_*: they take in the structure (a catalog manager's) and
    # catalog.review_product, which an editor lacks.
    examples = new_token(editor, permissions=["catalog.*"]).json()["error"]["details"]["examples"]
    assert examples["catalog.*"][:2] == ["catalog.add_associationtype", "catalog.add_attribute"]
    assert (
        "catalog.add_*"
        in new_token(editor, permissions=["catalog.add_*"]).json()["error"]["details"]["examples"]
    )
    token = new_token(editor, permissions=["catalog.view_*", "catalog.add_product"]).json()
    limited = bearer(token["token"])
    assert limited.post("/api/v1/catalog/products", product_body("R-1"), **JSON).status_code in (
        200,
        201,
    )
    demoted = admin.patch("/api/v1/users/ed", {"roles": ["viewer"]}, **JSON)
    assert demoted.status_code == 200, demoted.content
    refused = limited.post("/api/v1/catalog/products", product_body("R-2"), **JSON)
    assert refused.status_code == 403
    # Reading, which the viewer role still grants, goes on.
    assert limited.get("/api/v1/catalog/products").status_code == 200
    # Given back the role, the token may write again: nothing was copied at creation.
    admin.patch("/api/v1/users/ed", {"roles": ["catalog_editor"]}, **JSON)
    assert limited.post("/api/v1/catalog/products", product_body("R-3"), **JSON).status_code in (
        200,
        201,
    )


def test_an_administrators_limited_token_is_not_an_administrators(api_client):
    admin = api_client("admin")
    body = new_token(admin, permissions=["catalog.view_*"]).json()
    limited = bearer(body["token"])
    assert limited.get("/api/v1/catalog/products").status_code == 200
    assert limited.get("/api/v1/users").status_code == 403
    assert limited.get("/api/v1/audit").status_code == 403
    made = limited.post("/api/v1/users", {"username": "x", "roles": ["admin"]}, **JSON)
    assert made.status_code == 403
    # Its own tokens list shows only the owner's tokens, not everyone's (manage_tokens is gone).
    # (Listing tokens needs no permission; the limit decides whose are shown.)
    listed = limited.get("/api/v1/tokens").json()["results"]
    assert {t["user"] for t in listed} == {admin.user.username}
    # The limit lives on the request's user object only: the account is still an admin.
    admin.user.refresh_from_db()
    assert admin.user.is_superuser
    assert admin.get("/api/v1/users").status_code == 200


def test_a_limited_token_cannot_make_a_broader_one(api_client):
    editor = api_client("catalog_editor")
    body = new_token(editor, permissions=["catalog.view_*", "accounts.manage_own_tokens"]).json()
    limited = bearer(body["token"])
    wider = limited.post(
        "/api/v1/tokens", {"name": "wider", "permissions": ["catalog.change_*"]}, **JSON
    )
    assert wider.status_code == 422
    assert wider.json()["error"]["details"]["beyond_owner"] == ["catalog.change_*"]
    # Without a list, the new token inherits the limit of the token that made it.
    child = limited.post("/api/v1/tokens", {"name": "child"}, **JSON)
    assert child.status_code == 201, child.content
    assert child.json()["permissions"] == ["accounts.manage_own_tokens", "catalog.view_*"]
    refused = bearer(child.json()["token"]).post(
        "/api/v1/catalog/products", product_body("C-1"), **JSON
    )
    assert refused.status_code == 403
    # And a token not allowed to manage tokens cannot make any.
    reader = bearer(new_token(editor, permissions=["catalog.view_*"]).json()["token"])
    assert reader.post("/api/v1/tokens", {"name": "no"}, **JSON).status_code == 403


def test_token_list_shows_permissions(api_client):
    viewer = api_client("viewer")
    new_token(viewer, permissions=["assets.view_*"])
    listed = {t["name"]: t["permissions"] for t in viewer.get("/api/v1/tokens").json()["results"]}
    assert listed == {"limited": ["assets.view_*"], "viewer test token": None}


def call(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_token_command_with_permissions(make_user):
    make_user("catalog_editor", "ci-bot")
    text, _ = call(
        "token", "create", "--user", "ci-bot", "--name", "reader",
        "--permissions", "catalog.view_*, search.view_*",
    )  # fmt: skip
    token = ApiToken.objects.get(name="reader")
    assert token.permissions == ["catalog.view_*", "search.view_*"]
    client = bearer(text.strip())
    assert client.get("/api/v1/catalog/products").status_code == 200
    assert client.post("/api/v1/catalog/products", product_body("CLI-1"), **JSON).status_code == 403

    listing, _ = call("token", "list", "--user", "ci-bot")
    assert "permissions: catalog.view_*,search.view_*" in listing

    with pytest.raises(CommandError, match=r"lacks: publishing\.run_publication"):
        call(
            "token", "create", "--user", "ci-bot", "--name", "x",
            "--permissions", "publishing.run_publication",
        )  # fmt: skip
    assert not ApiToken.objects.filter(name="x").exists()


def test_a_limited_user_object_is_never_saved(api_client):
    admin = api_client("admin")
    body = new_token(admin, permissions=["catalog.view_*"]).json()
    user, _ = services.authenticate_token(body["token"])
    assert user.is_superuser is False  # in memory, for this request
    with pytest.raises(RuntimeError, match="limited to an API token"):
        user.save()
    user.save(update_fields=["last_login"])  # a save that cannot write is_superuser is fine
    admin.user.refresh_from_db()
    assert admin.user.is_superuser
