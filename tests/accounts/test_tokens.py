"""API tokens: shown once, stored hashed, refused when revoked, expired or malformed."""

import datetime
import hashlib
import io

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from folio.accounts import services
from folio.accounts.models import ApiToken


def bearer(text):
    return Client(HTTP_AUTHORIZATION=f"Bearer {text}")


def assert_unauthenticated(response):
    assert response.status_code == 401, response.content
    assert response.json()["error"]["code"] == "unauthenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_create_list_revoke_through_api(api_client):
    client = api_client("viewer")
    created = client.post(
        "/api/v1/tokens", {"name": "laptop", "expires_in_days": 30}, content_type="application/json"
    )
    assert created.status_code == 201, created.content
    body = created.json()
    text = body["token"]
    assert text.startswith("folio_")
    assert body["state"] == "active"
    assert body["expires_at"] is not None

    # Only the SHA-256 of the secret is kept; the token text is nowhere in the row.
    row = ApiToken.objects.get(pk=body["id"])
    key_id, _, secret = text.removeprefix("folio_").partition("_")
    assert row.key_id == key_id
    assert row.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert all(secret not in str(getattr(row, f.attname)) for f in ApiToken._meta.fields)

    # The new token works, and the list never shows a token's text again.
    assert bearer(text).get("/api/v1/me").json()["username"] == client.user.username
    listed = client.get("/api/v1/tokens").json()["results"]
    assert {t["name"] for t in listed} == {"laptop", "viewer test token"}
    assert all("token" not in t and secret not in str(t) for t in listed)

    revoked = client.delete(f"/api/v1/tokens/{body['id']}")
    assert revoked.status_code == 200
    assert revoked.json()["state"] == "revoked"
    assert_unauthenticated(bearer(text).get("/api/v1/me"))
    # The caller's own token is untouched.
    assert client.get("/api/v1/me").status_code == 200


def test_expired_token_is_refused(api_client):
    client = api_client("viewer")
    assert client.get("/api/v1/me").status_code == 200
    ApiToken.objects.filter(pk=client.token.pk).update(
        expires_at=timezone.now() - datetime.timedelta(seconds=1)
    )
    assert_unauthenticated(client.get("/api/v1/me"))


def test_token_expiry_must_be_sensible(api_client):
    response = api_client("viewer").post(
        "/api/v1/tokens", {"name": "x", "expires_in_days": 0}, content_type="application/json"
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"] == {"field": "expires_in_days"}


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer ",
        "Bearer nonsense",
        "Bearer folio_",
        "Bearer folio_abc",
        "Bearer folio__secret",
        "Basic dXNlcjpwYXNz",
        "Bearer folio_{key_id}_not-the-secret",
        "Bearer folio_{key_id}x_{secret}",
    ],
)
def test_malformed_or_wrong_bearer_is_refused(api_client, header):
    client = api_client("viewer")
    key_id, _, secret = client.token_text.removeprefix("folio_").partition("_")
    response = Client(HTTP_AUTHORIZATION=header.format(key_id=key_id, secret=secret)).get(
        "/api/v1/me"
    )
    assert_unauthenticated(response)


def test_deactivating_a_user_revokes_their_tokens(api_client):
    admin = api_client("admin")
    victim = api_client("viewer")
    response = admin.patch(
        f"/api/v1/users/{victim.user.username}",
        {"is_active": False},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["is_active"] is False
    assert ApiToken.objects.get(pk=victim.token.pk).revoked_at is not None
    assert_unauthenticated(victim.get("/api/v1/me"))
    # Reactivating the user does not bring old tokens back.
    admin.patch(
        f"/api/v1/users/{victim.user.username}",
        {"is_active": True},
        content_type="application/json",
    )
    assert_unauthenticated(victim.get("/api/v1/me"))


def test_user_cannot_see_or_revoke_anothers_token(api_client):
    alice = api_client("viewer", "alice")
    bob = api_client("viewer", "bob")
    response = alice.delete(f"/api/v1/tokens/{bob.token.pk}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    # Same answer as for a token that does not exist: nothing is revealed.
    assert alice.delete("/api/v1/tokens/999999").json()["error"]["code"] == "not_found"
    assert ApiToken.objects.get(pk=bob.token.pk).revoked_at is None
    assert [t["id"] for t in alice.get("/api/v1/tokens").json()["results"]] == [alice.token.pk]


def test_admin_sees_and_revokes_every_token(api_client):
    admin = api_client("admin")
    bob = api_client("viewer", "bob")
    ids = {t["id"] for t in admin.get("/api/v1/tokens").json()["results"]}
    assert ids == {admin.token.pk, bob.token.pk}
    assert admin.delete(f"/api/v1/tokens/{bob.token.pk}").json()["state"] == "revoked"
    assert_unauthenticated(bob.get("/api/v1/me"))


def test_last_used_is_touched_at_most_once_a_minute(api_client):
    client = api_client("viewer")
    assert ApiToken.objects.get(pk=client.token.pk).last_used_at is None
    client.get("/api/v1/me")
    first = ApiToken.objects.get(pk=client.token.pk).last_used_at
    assert first is not None
    client.get("/api/v1/me")
    assert ApiToken.objects.get(pk=client.token.pk).last_used_at == first
    # Once the minute has passed, the next request records itself again.
    earlier = timezone.now() - datetime.timedelta(seconds=61)
    ApiToken.objects.filter(pk=client.token.pk).update(last_used_at=earlier)
    client.get("/api/v1/me")
    assert ApiToken.objects.get(pk=client.token.pk).last_used_at > earlier + datetime.timedelta(
        seconds=60
    )


def call(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_token_commands_create_list_revoke(make_user):
    user = make_user("viewer", "ci-bot")
    text, note = call(
        "token", "create", "--user", "ci-bot", "--name", "ci", "--expires-in-days", "7"
    )
    text = text.strip()
    assert text.startswith("folio_")
    assert "not shown again" in note
    assert bearer(text).get("/api/v1/me").json()["username"] == "ci-bot"

    token = ApiToken.objects.get(user=user)
    listing, _ = call("token", "list", "--user", "ci-bot")
    assert "ci" in listing and "active" in listing
    assert text.split("_", 2)[2] not in listing

    out, _ = call("token", "revoke", str(token.pk))
    assert f"revoked token {token.pk}" in out
    assert_unauthenticated(bearer(text).get("/api/v1/me"))
    listing, _ = call("token", "list")
    assert "revoked" in listing


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("token", "revoke", "424242"), "no API token with id 424242"),
        (("token", "revoke", "0"), "token ids are positive numbers"),
        (("token", "create", "--user", "nobody", "--name", "x"), "no user named 'nobody'"),
    ],
)
def test_token_command_mistakes_are_one_line_errors(db, args, message):
    with pytest.raises(CommandError, match=message):
        call(*args)


def test_token_create_requires_a_name(make_user):
    user = make_user("viewer")
    with pytest.raises(services.InvalidInput, match="needs a name"):
        services.create_token(user, "  ")
