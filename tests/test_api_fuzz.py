"""The whole REST API fuzzed against its own OpenAPI schema (schemathesis).

Every operation in /api/openapi.json gets a handful of generated requests — valid by the
schema but otherwise arbitrary: odd strings, big numbers, empty lists, unknown SKUs — sent
with a real administrator's API token to the real WSGI application over the demo catalog.
No answer may be a server error, each status must be one the schema declares, and each body
must match the schema declared for its status.

Generation is derandomized and bounded (a few examples per operation), so a run repeats
exactly and stays well under a few minutes; a failure names the operation and a curl
command that reproduces it.
"""

import io
import json
import re
from functools import partial

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis.checks import (
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from werkzeug.test import Client

from folio import demo
from folio.accounts import services
from folio.assets import editing
from folio.wsgi import application

EXAMPLES_PER_OPERATION = 5
PATH_PARAM = re.compile(r"\{(\w+)\}")
MESSAGE_LINES = 40
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]

# Operations that would pull the ground from under the fuzzer itself; each one is tested
# on its own elsewhere (tests/accounts).
EXCLUDED = {
    # Revoking tokens or deactivating users could revoke the token this test signs in with,
    # and every later request would be a (correct) 401 that exercises nothing.
    ("DELETE", "/api/v1/tokens/{token_id}"),
    ("DELETE", "/api/v1/users/{username}"),
    ("PATCH", "/api/v1/users/{username}"),
}


@schemathesis.serializer("application/x-ndjson")
def _ndjson(ctx, value):
    # The bulk endpoint declares its NDJSON body as one string of lines.
    return value.encode() if isinstance(value, str) else json.dumps(value).encode()


@pytest.fixture
def demo_catalog(db, settings, tmp_path):
    """The demo seed (users, products, assets, feeds) in this test's own media folder."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.UPLOAD_DIR = tmp_path / "uploads"
    settings.PUBLICATIONS_DIR = tmp_path / "publications"
    settings.UPLOAD_DIR.mkdir()
    demo.seed(io.StringIO())
    # The demo has no custom asset fields; one of each kind gives their endpoints real objects.
    editing.create_custom_field("photographer", type="text")
    editing.create_custom_field("usage", type="select", options=["web", "print"])


@pytest.fixture
def admin_token(demo_catalog):
    user = services.create_user("fuzzer", roles=["admin"], password="fuzzing-is-fun-42")
    return services.create_token(user, "fuzzing")[1]


@pytest.fixture
def wsgi_in_test_transaction():
    """The WSGI handler closes the database connection when a request ends; inside a test's
    transaction that would end the test's database. Django's test client keeps it open the
    same way: by not listening for the end of requests."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield application
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.mark.sqlite_only
def test_every_operation_answers_as_its_schema_says(admin_token, wsgi_in_test_transaction):
    auth = {"Authorization": f"Bearer {admin_token}"}
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", application, headers=auth)
    # Werkzeug's client, not Django's: Django's reconnects the signal that would close the
    # test's database at the end of each request (see wsgi_in_test_transaction).
    get = partial(Client(application).get, headers=auth)
    failures, answered_2xx, tried = [], set(), 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in EXCLUDED:
            continue
        tried += 1
        failures += _fuzz(operation, auth, _existing(get, operation.path), answered_2xx)
    assert tried > 150, "the schema lost its operations"
    assert not failures, "\n\n".join(failures)
    # Not only 404s and 422s: most operations reached real objects and did their work.
    assert len(answered_2xx) > tried * 0.6, sorted(answered_2xx)


def _existing(get, path: str, values: dict[str, str] | None = None) -> dict[str, str]:
    """Values for the path's parameters that name real objects: an item of the list one level
    up (`/catalog/families/{code}` → GET /catalog/families → its first code), so that
    generated requests reach real products, assets and feeds, not only 404s. Where the first
    item has nothing below it (a text attribute has no options), the next ones are tried."""
    values = dict(values or {})
    names = PATH_PARAM.findall(path)
    if len(values) == len(names):
        return values
    name = names[len(values)]
    parent = path[: path.index("/{" + name + "}")].format(**values)
    response = get(parent)
    if response.status_code != 200 or not response.is_json:
        return values
    body = response.get_json()
    items = body.get("items", body.get("results")) if isinstance(body, dict) else body
    candidates = [
        item
        for item in items or []
        if isinstance(item, dict) and item.get(_field(name, item)) not in (None, "", "fuzzer")
    ]
    best = values
    for item in candidates[:10]:
        chosen = {**values, name: str(item[_field(name, item)])}
        # Parameters after this one that the listed item names itself (a family's media
        # requirement is listed with its channel and role; there is no list per channel).
        for later in names[len(chosen) :]:
            if item.get(later) in (None, ""):
                break
            chosen[later] = str(item[later])
        found = _existing(get, path, chosen)
        if len(found) == len(names):
            return found
        if len(found) > len(best):
            best = found
    return best


def _field(name: str, item: dict) -> str:
    """Which field of a listed item a path parameter names: itself, or id/code/name."""
    if name in item:
        return name
    for field in ("id", "code", "name", "sku", "number"):
        if field in item:
            return field
    return name


def _fuzz(operation, auth, existing: dict, answered_2xx: set) -> list[str]:
    """The first failure of this operation's generated requests (at most one is kept: one
    bug tends to fail every example)."""
    name = f"{operation.method.upper()} {operation.path}"
    found: list[str] = []
    strategy = operation.as_strategy()
    if existing:

        def onto_existing(case):
            case.path_parameters = {**(case.path_parameters or {}), **existing}
            return case

        strategy = st.one_of(strategy.map(onto_existing), strategy)

    @given(case=strategy)
    @hypothesis_settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: report as generated
        suppress_health_check=list(HealthCheck),
    )
    def run(case):
        if found:
            return
        try:
            response = case.call(headers=auth)
            if 200 <= response.status_code < 300:
                answered_2xx.add(name)
            case.validate_response(response, checks=CHECKS, headers=auth)
        except (Exception, BaseExceptionGroup) as exc:  # a failed check (a group) or a crash
            text = "\n".join(str(exc).splitlines()[:MESSAGE_LINES])
            found.append(f"{name}: {type(exc).__name__}: {text}")

    run()
    return found


# --- what the fuzzing found, kept as plain tests (both databases) ---------------------------


def test_schema_names_are_not_shared_by_different_schemas():
    """Two response schemas with one class name became one OpenAPI component, so the
    schema described /schedules with the fields of a feed's schedule."""
    from ninja import Schema

    import folio.api  # noqa: F401 - loads every router and its schemas

    by_name: dict[str, dict] = {}
    pending = [Schema]
    while pending:
        cls = pending.pop()
        pending += cls.__subclasses__()
        if not cls.__module__.startswith("folio.") or cls.__name__ == "In":
            continue  # "In" is a base class each router keeps for itself; never in a response
        shape = cls.model_json_schema()
        assert by_name.setdefault(cls.__name__, shape) == shape, cls.__name__


def test_every_operation_declares_the_error_body():
    from folio.api import api

    schema = api.get_openapi_schema()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert {"4XX", "500"} <= set(operation["responses"]), (method, path)
    assert schema["components"]["schemas"]["Error"]["required"] == ["error"]


def test_numbers_past_the_database_are_refused_not_crashed(api_client):
    from django.db import connection

    admin = api_client("admin")
    response = admin.post(
        "/api/v1/links/auto", {"asset_ids": [2**70]}, content_type="application/json"
    )
    # SQLite cannot bind it (422, naming the problem); PostgreSQL compares it as a numeric
    # and finds no such asset. Before, SQLite's OverflowError was a 500.
    if connection.vendor == "sqlite":
        assert response.status_code == 422
        assert "out of range" in response.json()["error"]["message"]
    else:
        assert response.status_code == 200


def test_a_slot_is_renamed_by_patching_its_role(api_client):
    from folio.catalog.models import Channel
    from folio.renditions.models import ImageSlot

    Channel.objects.create(code="amazon_de")
    admin = api_client("admin")
    url = "/api/v1/channels/amazon_de/image-slots"
    admin.post(
        url, {"role": "gallery", "preset": "amazon-gallery"}, content_type="application/json"
    )
    renamed = admin.patch(f"{url}/gallery", {"role": "extra"}, content_type="application/json")
    assert renamed.status_code == 200, renamed.content
    assert list(ImageSlot.objects.values_list("role", flat=True)) == ["extra"]
