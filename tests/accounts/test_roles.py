"""Roles: groups after migrate, what each role may do, and how the API enforces it."""

import pytest
from django.contrib.auth.models import Group

from folio.accounts import services
from folio.accounts.backends import RoleBackend
from folio.accounts.roles import ROLES


def test_every_role_exists_as_a_group_after_migrate(db):
    assert set(ROLES) <= set(Group.objects.values_list("name", flat=True))


# (role, permission, granted?) — reading, writing and the agency's narrow rights.
CASES = [
    ("viewer", "catalog.view_product", True),
    ("viewer", "assets.view_asset", True),
    ("viewer", "jobs.view_job", True),
    ("viewer", "accounts.manage_own_tokens", True),
    ("viewer", "catalog.change_product", False),
    ("viewer", "assets.add_asset", False),
    ("viewer", "jobs.change_schedule", False),
    ("viewer", "accounts.add_user", False),
    ("admin", "accounts.add_user", True),
    ("admin", "accounts.manage_tokens", True),
    ("admin", "jobs.change_schedule", True),
    ("admin", "anything.at_all", True),
    ("agency", "assets.view_asset", True),
    ("agency", "assets.add_asset", True),
    ("agency", "assets.change_asset", False),
    ("agency", "catalog.view_product", False),
    ("agency", "jobs.view_job", False),
    ("catalog_editor", "catalog.change_product", True),
    ("catalog_editor", "assets.add_asset", False),
    ("approver", "assets.approve_asset", True),
    ("approver", "assets.change_asset", False),
    ("publisher", "publishing.run_publication", True),
    ("publisher", "catalog.change_product", False),
]


@pytest.mark.parametrize(("role", "perm", "granted"), CASES)
def test_role_backend_grants(make_user, role, perm, granted):
    user = make_user(role)
    # Ask the backend itself (an admin is also a superuser, which User.has_perm short-cuts)
    # and the way the rest of the code asks.
    assert RoleBackend().has_perm(user, perm) is granted
    assert user.has_perm(perm) is granted


def test_each_role_can_manage_own_tokens(make_user, each_role):
    assert make_user(each_role).has_perm("accounts.manage_own_tokens")


def test_inactive_user_has_no_permission(make_user):
    make_user("admin", "another-admin")  # the last administrator cannot be deactivated
    user = make_user("admin")
    services.set_active(user, False)
    assert not RoleBackend().has_perm(user, "catalog.view_product")
    assert not user.has_perm("catalog.view_product")


def test_extra_groups_grant_nothing(db):
    user = services.create_user("bram", roles=["viewer"], groups=["brand-approvers"])
    assert not user.has_perm("assets.approve_asset")


def test_role_change_applies_to_the_same_user_object(make_user):
    user = make_user("viewer")
    assert not user.has_perm("catalog.change_product")
    services.set_roles(user, ["catalog_editor"])
    assert user.has_perm("catalog.change_product")
    services.set_roles(user, ["viewer"])
    assert not user.has_perm("catalog.change_product")


def test_unknown_role_is_refused(db):
    with pytest.raises(services.InvalidInput, match="unknown role"):
        services.create_user("x", roles=["overlord"])


def test_viewer_write_via_api_is_forbidden_with_error_body(api_client):
    viewer = api_client("viewer")
    response = viewer.post(
        "/api/v1/users", {"username": "x", "roles": ["viewer"]}, content_type="application/json"
    )
    assert response.status_code == 403
    assert response.json() == {
        "error": {
            "code": "forbidden",
            "message": "your role does not allow this (accounts.add_user)",
            "details": {"permission": "accounts.add_user"},
        }
    }
    assert not services.User.objects.filter(username="x").exists()


def test_viewer_reads_but_cannot_list_users(api_client):
    viewer = api_client("viewer")
    me = viewer.get("/api/v1/me")
    assert me.status_code == 200
    assert me.json()["roles"] == ["viewer"]
    assert viewer.get("/api/v1/roles").status_code == 200
    assert viewer.get("/api/v1/users").status_code == 403


def test_admin_creates_user_with_roles(api_client):
    admin = api_client("admin")
    response = admin.post(
        "/api/v1/users",
        {"username": "cora", "roles": ["catalog_editor"], "groups": ["legal-approvers"]},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["roles"] == ["catalog_editor"]
    assert response.json()["groups"] == ["legal-approvers"]
    assert services.get_user("cora").has_perm("catalog.change_product")
