"""Signing in through the login page, and the session as API authentication with CSRF."""

from django.test import Client

from folio.accounts.models import ApiToken, AuditEntry
from folio.jobs.models import Job

PASSWORD = "correct-horse-battery-9"


def sign_in(client, username, password=PASSWORD):
    page = client.get("/login/")
    assert page.status_code == 200
    return client.post(
        "/login/",
        {
            "username": username,
            "password": password,
            "csrfmiddlewaretoken": page.cookies["csrftoken"].value,
        },
    )


def test_login_page_renders_and_signs_in(make_user):
    make_user("viewer", "vic")
    client = Client(enforce_csrf_checks=True)
    page = client.get("/login/")
    assert page.status_code == 200
    assert b'name="csrfmiddlewaretoken"' in page.content
    assert b'name="password"' in page.content

    response = sign_in(client, "vic")
    assert response.status_code == 302
    assert response["Location"] == "/"
    home = client.get("/")
    assert home.status_code == 200
    assert b"Welcome, vic" in home.content
    assert b"Your roles: viewer" in home.content


def test_wrong_password_stays_on_the_login_page(make_user):
    make_user("viewer", "vic")
    client = Client(enforce_csrf_checks=True)
    response = sign_in(client, "vic", "not-the-password")
    assert response.status_code == 200
    assert b"didn't match" in response.content
    assert client.get("/").status_code == 302  # still signed out


def test_home_needs_login(db):
    response = Client().get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_session_api_write_needs_the_csrf_token(make_user):
    user = make_user("viewer", "vic")
    client = Client(enforce_csrf_checks=True)
    sign_in(client, "vic")
    # Reads need no CSRF token.
    assert client.get("/api/v1/me").json()["username"] == "vic"

    refused = client.post("/api/v1/tokens", {"name": "x"}, content_type="application/json")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"
    assert not ApiToken.objects.filter(user=user).exists()

    csrf = client.cookies["csrftoken"].value
    created = client.post(
        "/api/v1/tokens",
        {"name": "x"},
        content_type="application/json",
        headers={"X-CSRFToken": csrf},
    )
    assert created.status_code == 201, created.content
    [entry] = AuditEntry.objects.filter(action="token.create", user=user)
    assert (entry.via, entry.token) == ("web", None)


def test_home_lists_only_jobs_the_user_may_see(make_user):
    editor = make_user("catalog_editor", "cora")
    agency = make_user("agency", "agnes")
    Job.objects.create(kind="x", label="editor's import", created_by=editor)
    Job.objects.create(kind="x", label="agency upload", created_by=agency)

    client = Client()
    client.force_login(agency)
    page = client.get("/").content
    assert b"agency upload" in page
    assert b"editor&#x27;s import" not in page

    client.force_login(editor)
    page = client.get("/").content
    assert b"agency upload" in page and b"editor&#x27;s import" in page
