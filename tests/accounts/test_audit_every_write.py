"""Every write of the REST API (POST, PUT, PATCH, DELETE), made by an administrator with an
API token, leaves at least one audit entry naming that user, that token and via "api".

The calls are those of the permission matrix (tests/accounts/endpoint_calls.py), against the
same realistic catalog; each runs in a savepoint rolled back afterwards.
"""

from folio.accounts.models import AuditEntry
from tests.accounts.endpoint_calls import CALLS
from tests.accounts.endpoint_calls import call as make_call
from tests.accounts.test_permission_matrix import (  # noqa: F401 - the fixture
    WRITES,
    in_savepoint,
    matrix_catalog,
    schema_keys,
)


def test_every_write_leaves_an_audit_entry_with_its_actor(matrix_catalog):  # noqa: F811
    from tests.accounts.endpoint_calls import client_for

    ids = matrix_catalog
    admin = client_for("admin")
    assert admin.get("/api/v1/me").status_code == 200  # the token's first use is audited here
    writes = [k for k in schema_keys() if k.startswith(WRITES) and k in CALLS]
    assert len(writes) > 100
    problems = []
    for key in writes:

        def run():
            last = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0
            response = make_call(admin, key, ids)  # noqa: B023
            entries = list(AuditEntry.objects.filter(id__gt=last).order_by("id"))
            return response, entries

        response, entries = in_savepoint(run)
        if response.status_code >= 400:
            problems.append(f"{key} → {response.status_code}: {response.content[:200]!r}")
            continue
        mine = [
            e
            for e in entries
            if e.user_id == admin.user.pk and e.token_id == admin.token.pk and e.via == "api"
        ]
        if not mine:
            got = [(e.action, e.username, e.token_id, e.via) for e in entries]
            problems.append(
                f"{key} → {response.status_code} left no audit entry of its caller (entries: {got})"
            )
    assert problems == [], "\n".join(problems)
