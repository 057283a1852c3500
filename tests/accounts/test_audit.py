"""Every write leaves an audit entry naming who did it and, over the API, with which token."""

import io

import pytest
from django.core.management import call_command

from folio.accounts import services
from folio.accounts.models import AuditEntry
from folio.jobs.models import Schedule


def entries(action, after: int = 0):
    return list(AuditEntry.objects.filter(action=action, id__gt=after))


def last_id() -> int:
    return AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0


def test_api_writes_are_audited_with_user_and_token(api_client):
    admin = api_client("admin")
    before = last_id()

    created = admin.post(
        "/api/v1/users", {"username": "cora", "roles": ["viewer"]}, content_type="application/json"
    )
    assert created.status_code == 201
    token = admin.post("/api/v1/tokens", {"name": "ci"}, content_type="application/json").json()
    assert admin.delete(f"/api/v1/tokens/{token['id']}").status_code == 200
    Schedule.objects.create(name="nightly", job="folio.jobs.maintenance.prune", cron="0 3 * * *")
    assert (
        admin.patch(
            "/api/v1/schedules/nightly", {"enabled": False}, content_type="application/json"
        ).status_code
        == 200
    )

    # The four writes, and the admin token's first use (recorded once a minute at most).
    assert AuditEntry.objects.filter(id__gt=before).exclude(action="token.use").count() == 4
    [used] = entries("token.use", before)
    assert (used.token_id, used.object_id) == (admin.token.pk, str(admin.token.pk))
    cora = services.get_user("cora")
    for action, object_id in [
        ("user.create", str(cora.pk)),
        ("token.create", str(token["id"])),
        ("token.revoke", str(token["id"])),
        ("schedule.update", str(Schedule.objects.get(name="nightly").pk)),
    ]:
        [entry] = entries(action, before)
        assert entry.user == admin.user
        assert entry.username == admin.user.username
        assert entry.token_id == admin.token.pk
        assert entry.via == "api"
        assert entry.ip == "127.0.0.1"
        assert entry.object_id == object_id
    [update] = entries("schedule.update", before)
    assert update.changes["enabled"] == [True, False]


def test_refused_writes_leave_no_entry(api_client):
    viewer = api_client("viewer")
    viewer.get("/api/v1/me")  # the token's first use is recorded; the refused write is not
    before = AuditEntry.objects.count()
    viewer.post(
        "/api/v1/users", {"username": "x", "roles": ["viewer"]}, content_type="application/json"
    )
    assert AuditEntry.objects.count() == before


@pytest.mark.parametrize(
    "args",
    [
        # --as-user is accepted after the action as well as before it.
        ("token", "create", "--user", "root", "--name", "deploy", "--as-user", "root"),
        ("token", "--as-user", "root", "create", "--user", "root", "--name", "deploy"),
    ],
)
def test_cli_writes_are_audited_as_the_named_user(make_user, args):
    admin = make_user("admin", "root")
    before = last_id()
    call_command(*args, stdout=io.StringIO(), stderr=io.StringIO())
    [entry] = entries("token.create", before)
    assert entry.user == admin
    assert entry.via == "cli"
    assert entry.token is None


def test_system_writes_have_no_user(db):
    services.create_user("sys-made", roles=["viewer"])
    [entry] = entries("user.create")
    assert entry.user is None
    assert entry.username == ""
    assert entry.via == "system"
