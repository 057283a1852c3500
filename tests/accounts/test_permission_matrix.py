"""Every role (and nobody signed in) against every operation of the REST API.

For each operation of the OpenAPI schema, tests/accounts/endpoint_calls.py holds a concrete
call and folio.accounts.permission_map the permission it needs. A role lacking it must get
403 (401 when not signed in; 404 where it may only see its own objects) and change nothing;
a role having it must not be refused. Each call runs in a savepoint that is rolled back, so
every call meets the same catalog (and a delete does not take a later call's object away).
"""

import pytest
from django.apps import apps
from django.db import connection, models, transaction

from folio.accounts.permission_map import (
    OPERATIONS,
    PUBLIC,
    role_may,
    role_sees,
    schema_operations,
)
from folio.api import api
from tests.accounts.endpoint_calls import CALLS, ROLE_NAMES, build_catalog, call, client_for

WRITES = ("POST", "PUT", "PATCH", "DELETE")


def schema_keys() -> list[str]:
    return [key for key, _, _ in schema_operations(api.get_openapi_schema())]


def test_every_operation_has_a_permission_and_a_call():
    keys = schema_keys()
    assert len(keys) > 200  # the whole API, not an empty schema
    assert [k for k in keys if k not in OPERATIONS] == [], "add these to permission_map"
    assert [k for k in keys if k not in CALLS] == [], "add these to endpoint_calls.CALLS"
    assert sorted(set(OPERATIONS) - set(keys)) == [], "operations that no longer exist"
    assert sorted(set(CALLS) - set(keys)) == [], "calls of operations that no longer exist"


def _fingerprint_sql() -> str:
    """One query: row count of every table of Folio's and auth's models, plus the sum of the
    versions and the latest updated_at where a model has them, plus revoked and active flags.
    A refused call must leave every figure as it was."""
    parts = []
    for model in apps.get_models():
        if model._meta.app_label not in (
            "accounts", "auth", "catalog", "assets", "renditions", "linking", "search",
            "publishing", "imports", "jobs",
        ) or model._meta.proxy:  # fmt: skip
            continue
        table = connection.ops.quote_name(model._meta.db_table)
        names = {f.name: f for f in model._meta.concrete_fields}
        exprs = ["COUNT(*)"]
        if isinstance(names.get("version"), models.IntegerField):
            exprs.append(f"COALESCE(SUM({connection.ops.quote_name('version')}), 0)")
        for name in ("updated_at", "revoked_at", "last_login", "finished_at"):
            if name in names:
                col = connection.ops.quote_name(names[name].column)
                exprs.append(f"COUNT({col})")
                exprs.append(f"MAX({col})")
        for name in ("is_active", "status", "cancel_requested", "enabled", "password"):
            if isinstance(names.get(name), models.BooleanField):
                col = connection.ops.quote_name(names[name].column)
                exprs.append(f"COUNT(CASE WHEN {col} THEN 1 END)")  # PostgreSQL has no MAX(bool)
            elif name in names:
                col = connection.ops.quote_name(names[name].column)
                exprs.append(f"COUNT(DISTINCT {col})")
                exprs.append(f"MAX({col})")
        for expr in exprs:
            # names from the models' own metadata, quoted; no input reaches this query
            parts.append(f"(SELECT {expr} FROM {table})")  # noqa: S608
    return "SELECT " + ", ".join(parts)


def fingerprint(sql: str) -> tuple:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return tuple(str(v) for v in cursor.fetchone())


@pytest.fixture
def fingerprint_sql(db):
    """The fingerprint's statement. PostgreSQL plans its ~200 sub-selects each time they are
    sent (10 ms or so, asked ~1,200 times); prepared once, the plan is kept."""
    sql = _fingerprint_sql()
    if connection.vendor != "postgresql":
        yield sql
        return
    with connection.cursor() as cursor:
        cursor.execute(f"PREPARE folio_fingerprint AS {sql}")
    yield "EXECUTE folio_fingerprint"
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE folio_fingerprint")


def in_savepoint(fn):
    """Run fn() and undo every database change it made."""
    with transaction.atomic():
        result = fn()
        transaction.set_rollback(True)
    return result


@pytest.fixture
def matrix_catalog(db, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.UPLOAD_DIR = tmp_path / "uploads"
    admin = client_for("admin", "catalog-builder")
    ids = build_catalog(admin)
    return ids


def expected(role: str | None, key: str) -> str:
    rule = OPERATIONS[key]
    if role is None:
        return "allowed" if rule.perms == (PUBLIC,) else "401"
    if not role_sees(role, rule):
        return "404"
    return "allowed" if role_may(role, rule) else "403"


def test_every_role_on_every_operation(matrix_catalog, fingerprint_sql):
    ids = matrix_catalog
    sql = fingerprint_sql
    keys = [k for k in schema_keys() if k in OPERATIONS and k in CALLS]  # others: test above
    problems = []
    for role in [*ROLE_NAMES, None]:
        client = client_for(role)
        # A token's first use is recorded (token.use); do it here, not in the calls below.
        assert client.get("/api/v1/me").status_code == (401 if role is None else 200)
        for key in keys:
            want = expected(role, key)
            if want == "allowed":
                response = in_savepoint(lambda: call(client, key, ids))  # noqa: B023
                status = response.status_code
                # The administrator's calls must work: they show the calls are realistic (a
                # 404 or 422 would hide whether the permission check comes first).
                if status in (401, 403) or status >= 500 or (role == "admin" and status >= 400):
                    problems.append(f"{role}: {key} → {status} (allowed) {_msg(response)}")
                continue
            # Reads change nothing by design; a refused write must leave no trace either.
            write = key.startswith(WRITES)
            before = fingerprint(sql) if write else None

            def refused():
                response = call(client, key, ids)  # noqa: B023
                return response, (fingerprint(sql) if write else None)  # noqa: B023

            response, after = in_savepoint(refused)
            if str(response.status_code) != want:
                problems.append(
                    f"{role}: {key} → {response.status_code}, want {want} {_msg(response)}"
                )
            elif after != before:
                changed = [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
                problems.append(f"{role}: {key} refused but changed the database ({changed})")
    assert problems == [], "\n".join(problems)


def _msg(response) -> str:
    try:
        return response.json().get("error", {}).get("message", "")[:160]
    except (ValueError, AttributeError):
        return ""


def test_the_security_doc_shows_the_current_matrix():
    from pathlib import Path

    from django.conf import settings

    from folio.accounts.permission_map import render_matrix

    text = (Path(settings.BASE_DIR) / "docs" / "security.md").read_text()
    assert render_matrix() in text, "docs/security.md is out of date: run `folio permission-matrix`"
