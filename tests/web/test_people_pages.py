"""People and access pages: administrators manage users (create, roles, deactivate, scope)
through the same services as the API; everyone sees their role and manages their own API
tokens (the token text shown once; it works against the API with the permissions chosen, and
stops working when revoked); administrators read the audit log of these actions."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from folio.accounts import audit, scopes
from folio.accounts import services as accounts
from folio.accounts.models import ApiToken, AuditEntry
from folio.assets.models import Collection
from tests.web.conftest import PASSWORD

pytestmark = pytest.mark.django_db
User = get_user_model()
TOKEN_TEXT = re.compile(r"folio_[0-9a-f]{12}_[A-Za-z0-9_-]{20,}")


def roles_of(username: str) -> list[str]:
    return accounts.user_roles(User.objects.get(username=username))


def api(token_text: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {token_text}")


# --- users -------------------------------------------------------------------------------------


def test_admin_creates_a_user_then_changes_the_role(client_for):
    admin = client_for("admin")
    response = admin.post(
        "/people/new/",
        {"username": "nora", "email": "nora@example.com", "role": ["viewer"], "password": PASSWORD},
    )
    assert response.status_code == 302
    assert response["Location"] == "/people/users/nora/"
    nora = User.objects.get(username="nora")
    assert roles_of("nora") == ["viewer"] and nora.check_password(PASSWORD)

    page = admin.get("/people/users/nora/")
    assert page.status_code == 200 and b"nora@example.com" in page.content

    response = admin.post("/people/users/nora/roles/", {"role": ["catalog_editor", "publisher"]})
    assert response.status_code == 302
    assert roles_of("nora") == ["catalog_editor", "publisher"]

    listing = admin.get("/people/").content.decode()
    assert "nora" in listing and "Catalog editor, Publisher" in listing

    entries = AuditEntry.objects.filter(object_type="auth.user", object_id=str(nora.pk))
    assert {(e.action, e.username, e.via) for e in entries} == {
        ("user.create", "ann", "web"),
        ("user.set_roles", "ann", "web"),
    }


def test_creating_a_user_reports_what_is_wrong(client_for):
    admin = client_for("admin")
    taken = admin.post("/people/new/", {"username": "cora", "role": ["viewer"]})
    assert taken.status_code == 409
    assert "a user named &#x27;cora&#x27; exists already" in taken.content.decode()
    weak = admin.post("/people/new/", {"username": "neo", "role": ["viewer"], "password": "1"})
    assert weak.status_code == 422 and b"password rejected" in weak.content
    assert not User.objects.filter(username="neo").exists()
    # No password: a user for API tokens only, who cannot sign in.
    admin.post("/people/new/", {"username": "robot", "role": ["viewer"]})
    assert not User.objects.get(username="robot").has_usable_password()


@pytest.mark.parametrize("role", ["viewer", "catalog_editor", "agency"])
def test_only_administrators_manage_users(client_for, users, role):
    client = client_for(role)
    assert client.get("/people/").status_code == 403
    assert client.get("/people/users/vic/").status_code == 403
    assert client.get("/people/new/").status_code == 403
    refused = [
        client.post("/people/new/", {"username": "mallory", "role": ["admin"]}),
        client.post("/people/users/vic/roles/", {"role": ["admin"]}),
        client.post("/people/users/vic/access/", {"active": "0"}),
        client.post("/people/users/vic/password/", {"password": PASSWORD + "x"}),
        client.post("/people/users/cora/scope/", {"categories": "kitchen"}),
    ]
    assert [r.status_code for r in refused] == [403] * 5
    assert not User.objects.filter(username="mallory").exists()
    assert roles_of("vic") == ["viewer"] and User.objects.get(username="vic").is_active
    # No People entry in their navigation; their own account page is there for everyone.
    home = client.get("/").content.decode()
    assert 'href="/people/"' not in home and 'href="/account/"' in home


def test_forms_need_the_csrf_token(client_for, users):
    admin = client_for("admin", csrf=True)
    response = admin.post("/people/users/vic/roles/", {"role": ["admin"]})
    assert response.status_code == 403
    assert roles_of("vic") == ["viewer"]


def test_the_last_administrator_is_kept(client_for, users):
    admin = client_for("admin")
    demote = admin.post("/people/users/ann/roles/", {"role": ["viewer"]})
    assert demote.status_code == 409 and b"last active administrator" in demote.content
    off = admin.post("/people/users/ann/access/", {"active": "0"})
    assert off.status_code == 409
    ann = User.objects.get(username="ann")
    assert roles_of("ann") == ["admin"] and ann.is_active
    # With a second administrator the first may step down.
    accounts.create_user("zed", roles=["admin"], password=PASSWORD)
    assert admin.post("/people/users/ann/roles/", {"role": ["viewer"]}).status_code == 302
    assert roles_of("ann") == ["viewer"]


def test_deactivating_a_user_revokes_their_tokens(client_for, users):
    _token, text = accounts.create_token(users["viewer"], "script")
    assert api(text).get("/api/v1/me").status_code == 200
    response = client_for("admin").post("/people/users/vic/access/", {"active": "0"})
    assert response.status_code == 302
    assert not User.objects.get(username="vic").is_active
    assert api(text).get("/api/v1/me").status_code == 401
    client_for("admin").post("/people/users/vic/access/", {"active": "1"})
    assert User.objects.get(username="vic").is_active


def test_admin_sets_a_temporary_password(client_for, users):
    response = client_for("admin").post(
        "/people/users/vic/password/", {"password": "new-" + PASSWORD}
    )
    assert response.status_code == 302
    assert User.objects.get(username="vic").check_password("new-" + PASSWORD)
    empty = client_for("admin").post("/people/users/vic/password/", {"password": ""})
    assert empty.status_code == 422


def test_scope_of_an_editor_and_an_agency(client_for, users, catalog):
    Collection.objects.create(code="winter", name="Winter")
    admin = client_for("admin")
    assert (
        admin.post("/people/users/cora/scope/", {"categories": "kitchen, drinkware"}).status_code
        == 302
    )
    assert admin.post("/people/users/agnes/scope/", {"collections": "winter"}).status_code == 302
    listing = admin.get("/people/").content.decode()
    assert "drinkware, kitchen" in listing and "winter" in listing
    assert list(users["agency"].agency_collections.values_list("code", flat=True)) == ["winter"]

    unknown = admin.post("/people/users/cora/scope/", {"categories": "nowhere"})
    assert unknown.status_code == 422 and b"no category nowhere" in unknown.content
    not_an_editor = admin.post("/people/users/vic/scope/", {"categories": "kitchen"})
    assert not_an_editor.status_code == 422 and b"category scopes are for catalog editors" in (
        not_an_editor.content
    )


def test_users_list_costs_the_same_queries_for_more_users(
    client_for, users, django_assert_max_num_queries
):
    admin = client_for("admin")
    Collection.objects.create(code="c1", name="C1").managers.add(users["asset_manager"])
    with CaptureQueriesContext(connection) as few:
        assert admin.get("/people/").status_code == 200
    for n in range(20):
        accounts.create_user(f"extra{n}", roles=["asset_manager", "viewer"])
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = admin.get("/people/")
    assert response.content.decode().count('href="/people/users/') == len(users) + 20


def test_users_list_filters(client_for, users):
    admin = client_for("admin")
    accounts.set_active(users["viewer"], False)
    by_role = admin.get("/people/", {"role": "agency"}).content.decode()
    assert "agnes" in by_role and "cora" not in by_role
    inactive = admin.get("/people/", {"state": "inactive"}).content.decode()
    assert "/people/users/vic/" in inactive and "/people/users/ann/" not in inactive
    named = admin.get("/people/", {"q": "cor"}).content.decode()
    assert "/people/users/cora/" in named and "/people/users/ada/" not in named


# --- my account and tokens ---------------------------------------------------------------------


def test_my_account_shows_the_role_and_what_it_permits(client_for, users):
    page = client_for("approver").get("/account/").content.decode()
    assert "Approver" in page and "Signs off assets" in page
    assert "approve asset" in page
    assert "change: products" not in page
    # The header says which role is signed in, on every page.
    assert "Role: Approver" in client_for("approver").get("/").content.decode()
    assert "Role: Catalog editor" in client_for("catalog_editor").get("/").content.decode()


def test_a_token_is_shown_once_and_works_with_its_permissions(client_for, users, catalog):
    viewer = client_for("viewer")
    response = viewer.post(
        "/account/tokens/",
        {"name": "catalog reader", "limit": "some", "permission": ["catalog.view_*"]},
    )
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    shown = TOKEN_TEXT.findall(response.content.decode())
    assert len(shown) == 1
    text = shown[0]
    token = ApiToken.objects.get(user=users["viewer"])
    assert token.permissions == ["catalog.view_*"] and token.name == "catalog reader"

    # It reads the catalog, and nothing else the viewer may read.
    assert api(text).get("/api/v1/catalog/products").status_code == 200
    assert api(text).get("/api/v1/assets").status_code == 403
    assert api(text).get("/api/v1/me").json()["token_permissions"] == ["catalog.view_*"]

    # Never shown again, nor kept anywhere a page or the log would show it.
    again = viewer.get("/account/").content.decode()
    assert text not in again and "catalog reader" in again and f"folio_{token.key_id}_" in again
    secret = text.removeprefix(f"folio_{token.key_id}_")  # the secret itself may hold "_"
    assert not AuditEntry.objects.filter(summary__contains=secret).exists()
    assert all(secret not in str(e.changes) for e in AuditEntry.objects.all())

    # Revoked, it stops working.
    revoke = viewer.post(f"/account/tokens/{token.pk}/revoke/")
    assert revoke.status_code == 302
    assert api(text).get("/api/v1/catalog/products").status_code == 401


def test_a_token_cannot_do_more_than_its_owner(client_for, users):
    viewer = client_for("viewer")
    response = viewer.post(
        "/account/tokens/",
        {"name": "too much", "limit": "some", "other": "catalog.change_product"},
    )
    assert response.status_code == 422
    assert b"cannot have permissions its owner vic lacks" in response.content
    assert TOKEN_TEXT.search(response.content.decode()) is None
    nothing = viewer.post("/account/tokens/", {"name": "none", "limit": "some"})
    assert nothing.status_code == 422
    days = viewer.post("/account/tokens/", {"name": "x", "expires_in_days": "soon"})
    assert days.status_code == 422 and b"whole number of days" in days.content
    assert not ApiToken.objects.filter(user=users["viewer"]).exists()


def test_the_offered_permissions_are_all_accepted(client_for, users):
    """Every box on the token form is within the owner's permissions, so ticking all of
    them makes a token."""
    from folio.web.views.people import token_permission_choices

    for role in ("catalog_editor", "agency", "publisher"):
        choices = [c["pattern"] for c in token_permission_choices(users[role])]
        assert choices, role
        response = client_for(role).post(
            "/account/tokens/", {"name": "all boxes", "limit": "some", "permission": choices}
        )
        assert response.status_code == 200, (role, response.content[:500])


def test_tokens_of_others_cannot_be_revoked(client_for, users):
    token, text = accounts.create_token(users["catalog_editor"], "cora's script")
    assert client_for("viewer").post(f"/account/tokens/{token.pk}/revoke/").status_code == 404
    assert api(text).get("/api/v1/me").status_code == 200
    # An administrator may, from the user's page.
    admin = client_for("admin")
    assert "cora&#x27;s script" in admin.get("/people/users/cora/").content.decode()
    response = admin.post(f"/account/tokens/{token.pk}/revoke/")
    assert response["Location"] == "/people/users/cora/#tokens"
    assert api(text).get("/api/v1/me").status_code == 401


def test_changing_my_password(client_for, users):
    viewer = client_for("viewer")
    wrong = viewer.post(
        "/account/password/",
        {"current_password": "nope", "new_password": "x", "new_password_again": "x"},
    )
    assert wrong.status_code == 422
    new = "another-" + PASSWORD
    response = viewer.post(
        "/account/password/",
        {"current_password": PASSWORD, "new_password": new, "new_password_again": new},
    )
    assert response.status_code == 302
    assert User.objects.get(username="vic").check_password(new)
    assert viewer.get("/account/").status_code == 200  # still signed in


# --- audit log ---------------------------------------------------------------------------------


def test_audit_page_lists_these_actions_and_filters(client_for, users):
    admin = client_for("admin")
    admin.post("/people/new/", {"username": "nora", "role": ["viewer"]})
    admin.post("/people/users/nora/roles/", {"role": ["publisher"]})
    client_for("viewer").post("/account/tokens/", {"name": "vic's script"})

    page = admin.get("/audit/").content.decode()
    assert "user.create" in page and "user.set_roles" in page and "token.create" in page

    by_action = admin.get("/audit/", {"action": "token."}).content.decode()
    assert "token.create" in by_action and "user.create" not in by_action
    by_user = admin.get("/audit/", {"user": "vic"}).content.decode()
    assert "token.create" in by_user and "user.set_roles" not in by_user
    nora = User.objects.get(username="nora")
    by_object = admin.get(
        "/audit/", {"object_type": "auth.user", "object_id": str(nora.pk)}
    ).content.decode()
    assert "user.set_roles" in by_object and "token.create" not in by_object
    today = AuditEntry.objects.latest("id").at.date().isoformat()
    assert "user.create" in admin.get("/audit/", {"since": today, "until": today}).content.decode()
    assert "user.create" not in admin.get("/audit/", {"until": "2000-01-01"}).content.decode()
    bad = admin.get("/audit/", {"since": "yesterday"})
    assert bad.status_code == 422 and b"is not a date" in bad.content
    # The export link carries the same filters to the API's export.
    assert "/api/v1/audit/export?format=csv&amp;action=token." in by_action
    export = admin.get("/api/v1/audit/export", {"format": "csv", "action": "token."})
    assert (
        export.status_code == 200 and "token.create" in b"".join(export.streaming_content).decode()
    )


@pytest.mark.parametrize("role", ["viewer", "catalog_editor", "publisher"])
def test_only_administrators_read_the_audit_log(client_for, users, role):
    assert client_for(role).get("/audit/").status_code == 403


def test_audit_pages_go_by_id(client_for, users):
    with audit.acting_as(users["admin"], via="cli"):
        for n in range(120):
            audit.record("test.entry", summary=f"entry number {n:03d}")
    admin = client_for("admin")
    first = admin.get("/audit/", {"action": "test."})
    body = first.content.decode()
    assert (
        "entry number 119" in body and "entry number 070" in body and "entry number 069" not in body
    )
    older = re.search(r'href="\?([^"]+)" rel="next"', body).group(1).replace("&amp;", "&")
    second = admin.get("/audit/?" + older).content.decode()
    assert "entry number 069" in second and "entry number 070" not in second
    assert "entry number 020" in second and "entry number 019" not in second
    newer = re.search(r'href="\?([^"]+)" rel="prev"', second).group(1).replace("&amp;", "&")
    back = admin.get("/audit/?" + newer).content.decode()
    assert "entry number 119" in back and "entry number 069" not in back
    assert 'rel="prev"' not in back
    third_q = re.search(r'href="\?([^"]+)" rel="next"', second).group(1).replace("&amp;", "&")
    third = admin.get("/audit/?" + third_q).content.decode()
    assert "entry number 000" in third and 'rel="next"' not in third


def test_a_stale_user_form_is_refused_and_shows_the_current_account(client_for, users):
    admin = client_for("admin")
    page = admin.get("/people/users/vic/").content.decode()
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    # Someone else changes vic meanwhile (the API, another administrator).
    accounts.update_user(users["viewer"], roles=["publisher"])
    stale = admin.post("/people/users/vic/roles/", {"role": ["approver"], "version": version})
    assert stale.status_code == 409
    body = stale.content.decode()
    assert "was changed by someone else" in body
    assert re.search(r'id="r-publisher" name="role" value="publisher" checked', body)
    assert roles_of("vic") == ["publisher"]
    off = admin.post("/people/users/vic/access/", {"active": "0", "version": version})
    assert off.status_code == 409 and User.objects.get(username="vic").is_active
    # With the version the refused page showed, the change goes through.
    current = re.search(r'name="version" value="(\d+)"', body).group(1)
    ok = admin.post("/people/users/vic/roles/", {"role": ["approver"], "version": current})
    assert ok.status_code == 302 and roles_of("vic") == ["approver"]


def test_a_stale_scope_form_is_refused_and_changes_nothing(client_for, users, catalog):
    admin = client_for("admin")
    page = admin.get("/people/users/cora/").content.decode()
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    # The account changes meanwhile: its scope, through the API's service.
    scopes.set_scope(users["catalog_editor"], categories=["drinkware"])
    stale = admin.post("/people/users/cora/scope/", {"categories": "kitchen", "version": version})
    assert stale.status_code == 409
    assert scopes.user_scope(users["catalog_editor"])["categories"] == ["drinkware"]
    current = re.search(r'name="version" value="(\d+)"', stale.content.decode()).group(1)
    ok = admin.post("/people/users/cora/scope/", {"categories": "kitchen", "version": current})
    assert ok.status_code == 302
    assert scopes.user_scope(users["catalog_editor"])["categories"] == ["kitchen"]
