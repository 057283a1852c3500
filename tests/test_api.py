"""The API's contract: who may call what, the one error body, and cursor pagination."""

import datetime
import uuid

from django.core.cache import cache
from django.test import Client, override_settings
from django.utils import timezone

from folio.accounts import services
from folio.api import api
from folio.jobs.models import Job


def assert_error(response, status: int, code: str):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


def _example(param) -> str:
    """A syntactically valid value for a path parameter, so the route itself matches."""
    schema = param.get("schema", {})
    if schema.get("format") == "uuid":
        return str(uuid.uuid4())
    if schema.get("type") == "integer":
        return "1"
    return "x"


def registered_operations():
    """(method, concrete path, auth required?) for every operation the API serves."""
    schema = api.get_openapi_schema()
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            concrete = path
            for param in operation.get("parameters", []):
                if param["in"] == "path":
                    concrete = concrete.replace("{" + param["name"] + "}", _example(param))
            yield method.upper(), concrete, bool(operation.get("security"))


def test_every_v1_operation_requires_authentication(db):
    operations = [op for op in registered_operations() if op[1].startswith("/api/v1/")]
    assert len(operations) >= 10  # the iteration itself found the routers
    # CSRF checks on, as for a real browser: a write without credentials must still be
    # "unauthenticated", not a CSRF failure.
    anonymous = Client(enforce_csrf_checks=True)
    wrong_token = Client(
        enforce_csrf_checks=True, HTTP_AUTHORIZATION="Bearer folio_0123456789ab_wrong"
    )
    for method, path, needs_auth in operations:
        assert needs_auth, f"{method} {path} is documented without security"
        for client in (anonymous, wrong_token):
            response = client.generic(method, path, "{}", content_type="application/json")
            error = assert_error(response, 401, "unauthenticated")
            assert "Bearer" in error["message"], (method, path)


def test_only_health_is_open(db):
    open_ops = [op for op in registered_operations() if not op[2]]
    assert [(m, p) for m, p, _ in open_ops] == [("GET", "/api/health")]
    response = Client().get("/api/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_docs_and_schema_need_login_or_token(api_client):
    anonymous = Client()
    docs = anonymous.get("/api/docs")
    assert docs.status_code == 302
    assert docs["Location"].startswith("/login/?next=/api/docs")
    assert_error(anonymous.get("/api/openapi.json"), 401, "unauthenticated")
    bad = Client(HTTP_AUTHORIZATION="Bearer folio_nope_nope")
    assert_error(bad.get("/api/openapi.json"), 401, "unauthenticated")

    viewer = api_client("viewer")
    assert viewer.get("/api/docs").status_code == 200
    schema = viewer.get("/api/openapi.json")
    assert schema.status_code == 200
    assert "/api/v1/me" in schema.json()["paths"]

    browser = Client()
    browser.force_login(viewer.user)
    assert browser.get("/api/docs").status_code == 200
    assert browser.get("/api/openapi.json").status_code == 200


def test_error_body_403_404_409_422(api_client):
    admin = api_client("admin")
    viewer = api_client("viewer")
    error = assert_error(viewer.get("/api/v1/users"), 403, "forbidden")
    assert error["details"] == {"permission": "accounts.view_user"}

    assert_error(admin.get(f"/api/v1/jobs/{uuid.uuid4()}"), 404, "not_found")
    assert_error(
        admin.patch("/api/v1/users/ghost", {}, content_type="application/json"), 404, "not_found"
    )

    body = {"username": viewer.user.username.upper(), "roles": ["viewer"]}
    error = assert_error(
        admin.post("/api/v1/users", body, content_type="application/json"), 409, "conflict"
    )
    assert error["details"] == {"field": "username"}

    error = assert_error(
        admin.post("/api/v1/users", {"username": "x"}, content_type="application/json"),
        422,
        "invalid",
    )
    assert error["details"][0]["where"] == "body.payload.roles"
    assert "roles" in error["message"]
    error = assert_error(
        admin.post(
            "/api/v1/users",
            {"username": "x", "roles": ["overlord"]},
            content_type="application/json",
        ),
        422,
        "invalid",
    )
    assert error["details"] == {"field": "roles", "unknown": ["overlord"]}
    # A body that is not JSON at all is a plain bad request, in the same body.
    assert_error(
        admin.post("/api/v1/users", "{not json", content_type="application/json"),
        400,
        "bad_request",
    )


def test_error_body_413_for_a_body_above_the_limit(api_client):
    admin = api_client("admin")
    payload = '{"name": "' + "x" * 4096 + '"}'
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1024):
        error = assert_error(
            admin.post("/api/v1/tokens", payload, content_type="application/json"), 413, "too_large"
        )
        assert "larger than allowed" in error["message"]
        # A body under the limit is fine.
        ok = admin.post("/api/v1/tokens", {"name": "small"}, content_type="application/json")
        assert ok.status_code == 201


def test_error_body_429_when_over_the_rate_limit(api_client):
    viewer = api_client("viewer")
    other = api_client("catalog_editor")
    cache.clear()
    with override_settings(API_RATE_LIMIT="3/m"):
        for _ in range(3):
            assert viewer.get("/api/v1/me").status_code == 200
        response = viewer.get("/api/v1/me")
        error = assert_error(response, 429, "rate_limited")
        assert int(response["Retry-After"]) >= 1
        assert error["details"]["retry_after_seconds"] > 0
        # The limit is per caller, and health checks are never limited.
        assert other.get("/api/v1/me").status_code == 200
        for _ in range(5):
            assert Client().get("/api/health").status_code == 200
    cache.clear()


def walk(client, url):
    """Follow `next` from the first page to the last; every row in the order served."""
    rows, pages = [], 0
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        rows.extend(body["results"])
        url = body["next"]
        pages += 1
        assert pages < 100
    return rows, pages


def test_users_paginate_every_row_once_in_order(api_client):
    admin = api_client("admin")
    for i in range(8):
        services.create_user(f"user{i}", roles=["viewer"])
    expected = list(services.User.objects.order_by("id").values_list("id", flat=True))
    rows, pages = walk(admin, "/api/v1/users?page_size=3")
    assert [r["id"] for r in rows] == expected
    assert pages == -(-len(expected) // 3)


def test_tokens_paginate_newest_first(api_client):
    admin = api_client("admin")
    for i in range(6):
        services.create_token(admin.user, f"t{i}")
    rows, _ = walk(admin, "/api/v1/tokens?page_size=2")
    ids = [r["id"] for r in rows]
    assert len(ids) == 7
    assert ids == sorted(set(ids), reverse=True)


def test_jobs_with_equal_timestamps_paginate_every_row_once(api_client):
    admin = api_client("admin")
    at = timezone.now() - datetime.timedelta(minutes=5)
    jobs = [Job(kind="x", label=f"job {i}", created_at=at) for i in range(7)]
    Job.objects.bulk_create([*jobs, Job(kind="x", label="newer")])
    rows, _ = walk(admin, "/api/v1/jobs?page_size=2")
    labels = [r["label"] for r in rows]
    assert labels[0] == "newer"
    assert sorted(labels[1:]) == sorted(j.label for j in jobs)
    assert len(labels) == 8
