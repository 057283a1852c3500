"""A user account's version (kept beside Django's User): one PATCH is one edit whatever it
changes, a stale one changes nothing, and the web/CLI setters still count their edits."""

import pytest
from django.contrib.auth import get_user_model

from folio.accounts import services

JSON = {"content_type": "application/json"}


def test_one_patch_is_one_edit_and_a_stale_one_changes_nothing(api_client, make_user):
    admin = api_client("admin")
    make_user("viewer", "vera")
    seen = admin.get("/api/v1/users/vera")
    assert (seen.json()["version"], seen["ETag"]) == (1, 'W/"1"')

    r = admin.patch(
        "/api/v1/users/vera",
        {"roles": ["viewer", "publisher"], "password": "another-horse-battery-7", "version": 1},
        **JSON,
    )
    assert r.status_code == 200, r.json()
    assert (r.json()["version"], r["ETag"]) == (2, 'W/"2"')

    stale = admin.patch(
        "/api/v1/users/vera",
        {"is_active": False, "password": "lost-horse-battery-3"},
        HTTP_IF_MATCH=seen["ETag"],
        **JSON,
    )
    assert stale.status_code == 409, stale.json()
    assert stale.json()["error"]["details"]["current"] == r.json()
    vera = get_user_model().objects.get(username="vera")
    assert vera.is_active
    assert vera.check_password("another-horse-battery-7")


def test_the_setters_used_by_web_pages_and_the_cli_count_their_edits(make_user):
    user = make_user("viewer", "vera")
    assert services.user_version(user) == 1
    services.set_roles(user, ["viewer", "approver"])
    services.set_active(user, False)
    user = get_user_model().objects.get(pk=user.pk)
    assert services.user_version(user) == 3
    assert services.user_roles(user) == ["approver", "viewer"]
    assert not user.is_active


def test_the_last_administrator_cannot_be_demoted_or_deactivated_by_api_or_cli(
    api_client, make_user
):
    from django.core.management import CommandError, call_command

    admin = api_client("admin")
    (only,) = [
        u.username
        for u in get_user_model().objects.filter(is_active=True)
        if u.is_superuser or "admin" in services.user_roles(u)
    ]
    for change in ({"roles": ["viewer"]}, {"is_active": False}):
        refused = admin.patch(f"/api/v1/users/{only}", change, **JSON)
        assert refused.status_code == 409, refused.json()
        assert "last active administrator" in refused.json()["error"]["message"]
    user = get_user_model().objects.get(username=only)
    assert user.is_active and "admin" in services.user_roles(user)
    with pytest.raises(CommandError, match="last active administrator"):
        call_command("user", "deactivate", only)
    assert get_user_model().objects.get(username=only).is_active

    # With a second administrator, the first may step down.
    make_user("admin", "second_admin")
    assert admin.patch(f"/api/v1/users/{only}", {"roles": ["viewer"]}, **JSON).status_code == 200
