"""The audit log: append-only in the ORM and in the database (triggers on SQLite and
PostgreSQL), sign-in/out and token use recorded, and read back through the API (list,
export) and `folio audit` by administrators only."""

import csv
import datetime
import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.utils import timezone

from folio.accounts import audit, services
from folio.accounts.models import ApiToken, AuditEntry, AuditIsAppendOnly

PASSWORD = "correct-horse-battery-9"


def last_id() -> int:
    return AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0


def since(before: int, action: str | None = None):
    qs = AuditEntry.objects.filter(id__gt=before).order_by("id")
    return list(qs.filter(action=action) if action else qs)


# --- append-only ---------------------------------------------------------------------------


def test_entries_cannot_be_changed_or_deleted_through_the_orm(db):
    entry = audit.record("test.thing", summary="original")
    entry.summary = "rewritten"
    with pytest.raises(AuditIsAppendOnly, match="cannot be changed"):
        entry.save()
    with pytest.raises(AuditIsAppendOnly, match="cannot be deleted"):
        entry.delete()
    with pytest.raises(AuditIsAppendOnly):
        AuditEntry.objects.filter(pk=entry.pk).update(summary="rewritten")
    with pytest.raises(AuditIsAppendOnly):
        AuditEntry.objects.filter(pk=entry.pk).delete()
    assert AuditEntry.objects.get(pk=entry.pk).summary == "original"


def raw(sql, params=()):
    # A savepoint of its own: on PostgreSQL a refused statement spoils the transaction.
    sql = sql.replace("{table}", AuditEntry._meta.db_table)  # a constant, not input
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_the_database_refuses_raw_update_and_delete(db):
    entry = audit.record("test.thing", summary="original")
    with pytest.raises(DatabaseError, match="append-only: entries cannot be changed"):
        raw("UPDATE {table} SET summary = 'rewritten' WHERE id = %s", [entry.pk])
    with pytest.raises(DatabaseError, match="append-only: entries cannot be changed"):
        raw("UPDATE {table} SET user_id = NULL")
    with pytest.raises(DatabaseError, match="append-only: entries cannot be deleted"):
        raw("DELETE FROM {table} WHERE id = %s", [entry.pk])
    with pytest.raises(DatabaseError, match="append-only: entries cannot be deleted"):
        raw("DELETE FROM {table}")
    if connection.vendor == "postgresql":
        with pytest.raises(DatabaseError, match="append-only"):
            raw("TRUNCATE {table}")
    assert AuditEntry.objects.get(pk=entry.pk).summary == "original"
    # Adding is what the log is for.
    raw(
        "INSERT INTO {table} (at, username, via, action, object_type, object_id, summary, "
        "changes) VALUES (%s, '', 'system', 'test.raw', '', '', '', '{}')",
        [timezone.now()],
    )
    assert AuditEntry.objects.filter(action="test.raw").count() == 1


def test_maintenance_lets_deletes_through_only_inside_its_transaction(db):
    entry = audit.record("test.thing")
    with pytest.raises(DatabaseError, match="cannot be changed"), audit.maintenance():
        raw("UPDATE {table} SET summary = 'x' WHERE id = %s", [entry.pk])
    with audit.maintenance():
        raw("DELETE FROM {table} WHERE id = %s", [entry.pk])
    assert not AuditEntry.objects.filter(pk=entry.pk).exists()
    other = audit.record("test.other")
    with pytest.raises(DatabaseError, match="cannot be deleted"):
        raw("DELETE FROM {table} WHERE id = %s", [other.pk])


def test_deleting_a_user_or_token_keeps_their_entries_untouched(make_user):
    user = make_user("viewer", "leaver")
    token, _ = services.create_token(user, "laptop")
    [created] = AuditEntry.objects.filter(action="token.create", object_id=str(token.pk))
    with audit.acting_as(user, token=token, via="api"):
        entry = audit.record("test.by_leaver")
    user_id, token_id = user.pk, token.pk
    user.delete()  # cascades to the token
    assert not ApiToken.objects.filter(pk=token_id).exists()
    kept = AuditEntry.objects.get(pk=entry.pk)
    assert (kept.user_id, kept.username, kept.token_id) == (user_id, "leaver", token_id)
    assert AuditEntry.objects.get(pk=created.pk).object_id == str(token.pk)


@pytest.mark.parametrize("options", [{}, {"reset_sequences": False}], ids=["cli", "tests"])
def test_flush_empties_the_log_too(db, options):
    audit.record("test.thing")
    call_command("flush", interactive=False, verbosity=0, **options)
    assert AuditEntry.objects.count() == 0
    # ...and the log is locked again afterwards.
    entry = audit.record("test.after")
    with pytest.raises(DatabaseError, match="cannot be deleted"):
        raw("DELETE FROM {table} WHERE id = %s", [entry.pk])


# --- signing in and out, token use ----------------------------------------------------------


def test_sign_in_failure_and_sign_out_are_recorded(make_user):
    user = make_user("viewer", "vic", password=PASSWORD)
    client = Client(REMOTE_ADDR="203.0.113.9")
    before = last_id()

    failed = client.post("/login/", {"username": "vic", "password": "wrong-password"})
    assert failed.status_code == 200  # the form again, with an error
    assert client.post("/login/", {"username": "vic", "password": PASSWORD}).status_code == 302
    assert client.post("/logout/").status_code == 302

    entries = [e for e in since(before) if e.action.startswith("auth.")]
    assert [e.action for e in entries] == ["auth.login_failed", "auth.login", "auth.logout"]
    fail, login, logout = entries
    assert (fail.user_id, fail.username, fail.ip) == (None, "", "203.0.113.9")
    assert fail.changes == {"username": "vic"}
    assert "wrong-password" not in json.dumps(fail.changes) + fail.summary
    for e in (login, logout):
        assert (e.user_id, e.username, e.via, e.ip) == (user.pk, "vic", "web", "203.0.113.9")
        assert (e.object_type, e.object_id) == ("auth.user", str(user.pk))


def test_failed_sign_in_as_nobody_names_the_username_tried(api_client):
    before = last_id()
    Client().post("/login/", {"username": "mallory", "password": "guess"})
    [entry] = since(before, "auth.login_failed")
    assert entry.changes == {"username": "mallory"}
    assert entry.summary == "failed sign-in as 'mallory'"
    # Filtering the log by user finds the attempts made in that name.
    found = api_client("admin").get("/api/v1/audit", {"user": "mallory"}).json()["results"]
    assert [e["id"] for e in found] == [entry.pk]


def test_token_use_is_recorded_with_last_used_at_once_a_minute(api_client):
    client = api_client("viewer")
    before = last_id()
    for _ in range(3):
        assert client.get("/api/v1/me", REMOTE_ADDR="198.51.100.7").status_code == 200
    [used] = since(before, "token.use")
    token = ApiToken.objects.get(pk=client.token.pk)
    assert (used.user_id, used.token_id, used.via, used.ip) == (
        client.user.pk,
        token.pk,
        "api",
        "198.51.100.7",
    )
    assert token.last_used_at is not None
    # A minute later the next request records itself again, once.
    ApiToken.objects.filter(pk=token.pk).update(
        last_used_at=timezone.now() - datetime.timedelta(seconds=61)
    )
    client.get("/api/v1/me")
    client.get("/api/v1/me")
    assert len(since(before, "token.use")) == 2


def test_two_requests_seeing_the_same_stale_time_record_one_use(api_client):
    # Two servers authenticate the same token at once: both read last_used_at, both find it
    # a minute old. Only the one whose update still sees that old value records the use.
    client = api_client("viewer")
    stale = ApiToken.objects.get(pk=client.token.pk)
    also_stale = ApiToken.objects.get(pk=client.token.pk)
    before = last_id()
    services._touch(stale, None)
    services._touch(also_stale, None)
    assert len(since(before, "token.use")) == 1


# --- reading the log: API ---------------------------------------------------------------------


def test_only_administrators_read_the_log(api_client, each_role):
    client = api_client(each_role)
    for url in ("/api/v1/audit", "/api/v1/audit/export?format=csv"):
        response = client.get(url)
        if each_role == "admin":
            assert response.status_code == 200, response.content
        else:
            assert response.status_code == 403, (each_role, url)
            assert response.json()["error"]["details"] == {"permission": "accounts.view_auditentry"}
    assert Client().get("/api/v1/audit").status_code == 401


def test_list_filters_and_cursor_pagination(api_client):
    admin = api_client("admin")
    services.create_user("cora", roles=["viewer"])
    with audit.acting_as(services.get_user("cora"), via="cli"):
        for n in range(5):
            audit.record("test.step", object_type="catalog.product", object_id=str(n))
    audit.record("test.other", object_type="catalog.product", object_id="1")

    got = admin.get("/api/v1/audit", {"user": "cora", "action": "test."}).json()
    assert [e["object_id"] for e in got["results"]] == ["4", "3", "2", "1", "0"]
    assert got["results"][0]["via"] == "cli" and got["results"][0]["username"] == "cora"

    both = admin.get("/api/v1/audit", {"action": "test.", "object_id": "1"}).json()["results"]
    assert [e["action"] for e in both] == ["test.other", "test.step"]
    assert admin.get("/api/v1/audit", {"via": "job"}).json()["results"] == []

    # Follow the cursor two at a time: every entry once, newest first.
    seen, url = [], "/api/v1/audit?action=test.step&page_size=2"
    while url:
        page = admin.get(url).json()
        seen += [e["object_id"] for e in page["results"]]
        url = page["next"]
    assert seen == ["4", "3", "2", "1", "0"]


def test_time_filters(api_client):
    admin = api_client("admin")
    audit.record("test.now")
    today = timezone.now().date()
    yesterday = today - datetime.timedelta(days=1)

    def actions(**params):
        body = admin.get("/api/v1/audit", {"action": "test.", **params}).json()
        return [e["action"] for e in body["results"]]

    assert actions(since=today.isoformat()) == ["test.now"]
    assert actions(until=today.isoformat()) == ["test.now"]  # a bare date includes its day
    assert actions(until=yesterday.isoformat()) == []
    assert actions(since=(timezone.now() + datetime.timedelta(minutes=1)).isoformat()) == []
    bad = admin.get("/api/v1/audit", {"since": "last tuesday"})
    assert bad.status_code == 422
    assert bad.json()["error"]["details"] == {"field": "since", "value": "last tuesday"}


def test_csv_export_streams_every_entry_safe_from_formulas(api_client):
    admin = api_client("admin")
    before = last_id()
    audit.record("test.evil", summary='=HYPERLINK("http://x")', object_id="-1+1")
    audit.record("test.plain", summary='plain; with "quotes"\nand a line break')
    response = admin.get("/api/v1/audit/export", {"format": "csv", "action": "test."})
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["action"] for r in rows] == ["test.evil", "test.plain"]  # oldest first
    assert rows[0]["summary"] == '\'=HYPERLINK("http://x")'
    assert rows[0]["object_id"] == "'-1+1"
    assert rows[1]["summary"] == 'plain; with "quotes"\nand a line break'
    # Exporting the log is itself recorded.
    [export] = since(before, "audit.export")
    assert export.changes == {"format": "csv", "filters": {"action": "test."}}


def test_ndjson_export_and_bad_format(api_client):
    admin = api_client("admin")
    audit.record("test.one", changes={"price": ["1.00", "2.00"]})
    response = admin.get("/api/v1/audit/export", {"format": "ndjson", "action": "test."})
    assert response["Content-Type"] == "application/x-ndjson"
    lines = b"".join(response.streaming_content).decode().splitlines()
    [entry] = [json.loads(line) for line in lines]
    assert entry["action"] == "test.one"
    assert entry["changes"] == {"price": ["1.00", "2.00"]}
    refused = admin.get("/api/v1/audit/export", {"format": "xlsx"})
    assert refused.status_code == 422


def test_export_of_many_entries_comes_in_chunks(api_client):
    admin = api_client("admin")
    AuditEntry.objects.bulk_create(
        [AuditEntry(action="test.bulk", via="system", object_id=str(n)) for n in range(1200)]
    )
    response = admin.get("/api/v1/audit/export", {"format": "csv", "action": "test.bulk"})
    chunks = list(response.streaming_content)
    assert len(chunks) >= 3  # 500 rows a chunk: written while read, not built whole
    rows = list(csv.DictReader(io.StringIO(b"".join(chunks).decode())))
    assert [r["object_id"] for r in rows] == [str(n) for n in range(1200)]


# --- reading the log: CLI ---------------------------------------------------------------------


def call(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_audit_command_list_and_export(make_user, tmp_path):
    make_user("admin", "root")
    make_user("viewer", "vera")
    with audit.acting_as(services.get_user("vera"), via="api"):
        audit.record("test.cli", summary="@SUM(A1)", object_type="catalog.product")

    out, _ = call("audit", "list", "--user", "vera", "--action", "test.")
    [line] = out.splitlines()
    assert "vera" in line and "test.cli" in line and "catalog.product" in line

    target = tmp_path / "audit.csv"
    _, err = call(
        "audit", "export", "--action", "test.", "--output", str(target), "--as-user", "root"
    )
    assert "written to" in err
    [row] = list(csv.DictReader(target.open(encoding="utf-8")))
    assert (row["username"], row["summary"]) == ("vera", "'@SUM(A1)")

    out, _ = call("audit", "export", "--format", "ndjson", "--via", "api", "--action", "test.")
    assert json.loads(out)["summary"] == "@SUM(A1)"
    [export] = AuditEntry.objects.filter(action="audit.export", username="root")
    assert export.via == "cli"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("audit", "list", "--as-user", "vera"), "only administrators read the audit log"),
        (("audit", "list", "--since", "yesterday"), "since: 'yesterday' is not a date"),
        (("audit", "list", "--limit", "0"), "--limit must be between"),
        (("audit", "export", "--output", "/nonexistent/dir/a.csv"), "cannot write"),
    ],
)
def test_audit_command_mistakes_are_one_line_errors(make_user, args, message):
    make_user("viewer", "vera")
    with pytest.raises(CommandError, match=message):
        call(*args)
