"""Schedules: optimistic concurrency over the API, validation, and the scheduler's claim."""

import datetime
import threading

import pytest
from django.db import connection
from django.utils import timezone

from folio.accounts.models import AuditEntry
from folio.jobs import services
from folio.jobs.models import Job, Schedule
from tests.conftest import run_folio
from tests.jobs import sample_jobs

NOOP = sample_jobs.scheduled_noop.job_name


@pytest.fixture
def nightly(db):
    return Schedule.objects.create(
        name="nightly", job="folio.jobs.maintenance.prune", cron="0 3 * * *", params={"days": 30}
    )


def patch(client, body, **headers):
    return client.patch(
        "/api/v1/schedules/nightly", body, content_type="application/json", headers=headers
    )


def test_right_version_saves_and_bumps_it(api_client, nightly):
    admin = api_client("admin")
    response = patch(admin, {"enabled": False, "version": 1})
    assert response.status_code == 200, response.content
    assert response.json()["version"] == 2
    assert response.json()["enabled"] is False
    nightly.refresh_from_db()
    assert (nightly.version, nightly.enabled) == (2, False)

    response = patch(admin, {"cron": "30 4 * * *"}, **{"If-Match": 'W/"2"'})
    assert response.status_code == 200, response.content
    assert response.json()["version"] == 3
    assert response.json()["cron"] == "30 4 * * *"

    # Without a version the write still happens (last writer wins) and still bumps it.
    assert patch(admin, {"description": "keep a month"}).json()["version"] == 4


@pytest.mark.parametrize(
    ("body", "headers"),
    [({"enabled": False, "version": 1}, {}), ({"enabled": False}, {"If-Match": 'W/"1"'})],
)
def test_stale_version_is_refused_with_current_state(api_client, nightly, body, headers):
    admin = api_client("admin")
    assert patch(admin, {"params": {"days": 7}, "version": 1}).status_code == 200
    audited = AuditEntry.objects.filter(action="schedule.update").count()

    response = patch(admin, body, **headers)
    assert response.status_code == 409, response.content
    error = response.json()["error"]
    assert error["code"] == "stale_write"
    assert "version 1" in error["message"]
    assert error["details"]["current_version"] == 2
    assert error["details"]["current"]["params"] == {"days": 7}
    assert error["details"]["current"]["enabled"] is True

    nightly.refresh_from_db()
    assert (nightly.version, nightly.enabled, nightly.params) == (2, True, {"days": 7})
    assert AuditEntry.objects.filter(action="schedule.update").count() == audited


def test_schedule_update_is_audited(api_client, nightly):
    admin = api_client("admin")
    patch(admin, {"every_seconds": 600, "version": 1})
    [entry] = AuditEntry.objects.filter(action="schedule.update")
    assert (entry.user, entry.token_id, entry.via) == (admin.user, admin.token.pk, "api")
    assert entry.changes["every_seconds"] == [None, 600]
    assert entry.changes["cron"] == ["0 3 * * *", ""]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"cron": "every tuesday"}, "cron"),
        ({"cron": "61 * * * *"}, "cron"),
        ({"every_seconds": 5}, "every_seconds"),
        ({"cron": ""}, "every_seconds/cron"),
    ],
)
def test_invalid_schedule_is_refused(api_client, nightly, body, field):
    response = patch(api_client("admin"), body)
    assert response.status_code == 422, response.content
    assert response.json()["error"]["code"] == "invalid"
    assert response.json()["error"]["details"]["field"] == field
    nightly.refresh_from_db()
    assert (nightly.version, nightly.cron) == (1, "0 3 * * *")


def test_bad_if_match_and_unknown_schedule(api_client, nightly):
    admin = api_client("admin")
    response = patch(admin, {"enabled": False}, **{"If-Match": "yesterday"})
    assert response.status_code == 422
    assert response.json()["error"]["details"]["header"] == "If-Match"
    response = admin.patch("/api/v1/schedules/nope", {}, content_type="application/json")
    assert response.status_code == 404


def test_schedules_need_permission_to_change(api_client, nightly):
    viewer = api_client("viewer")
    assert [s["name"] for s in viewer.get("/api/v1/schedules").json()] == [
        s.name for s in Schedule.objects.all()
    ]
    response = patch(viewer, {"enabled": False})
    assert response.status_code == 403
    assert response.json()["error"]["details"] == {"permission": "jobs.change_schedule"}


def test_builtin_schedules_are_installed_and_valid(db):
    builtin = {s.name: s for s in Schedule.objects.all()}
    assert {"reap-dead-jobs", "prune-finished-jobs"} <= set(builtin)
    for schedule in builtin.values():
        services._validate_schedule(schedule)


# --- the scheduler ---------------------------------------------------------------------------


def due_schedule(**kwargs):
    # Only our schedule is due, whatever else the database holds.
    Schedule.objects.update(enabled=False)
    return Schedule.objects.create(
        name="due",
        job=NOOP,
        every_seconds=60,
        params={"feed": "daily"},
        next_run_at=timezone.now() - datetime.timedelta(seconds=1),
        **kwargs,
    )


@pytest.mark.django_db(transaction=True)
def test_due_schedule_starts_once_even_with_two_schedulers():
    schedule = due_schedule()
    now = timezone.now()
    barrier = threading.Barrier(2)
    results, errors = [], []

    def scheduler():
        try:
            barrier.wait(timeout=10)
            results.append(len(services.run_due_schedules(now)))
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=scheduler) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors
    assert sorted(results) == [0, 1]
    [job] = Job.objects.filter(schedule=schedule)
    assert job.kind == NOOP
    assert job.params == {"feed": "daily"}
    assert job.created_by is None
    schedule.refresh_from_db()
    assert schedule.last_run_at == now
    assert schedule.next_run_at == now + datetime.timedelta(seconds=60)
    # Called again at the same moment, nothing more is due.
    assert services.run_due_schedules(now) == []


def test_schedule_whose_previous_run_is_going_is_skipped(db):
    schedule = due_schedule()
    Job.objects.create(kind=NOOP, label="earlier run", schedule=schedule, status="running")
    now = timezone.now()
    assert services.run_due_schedules(now) == []
    assert Job.objects.filter(schedule=schedule).count() == 1
    schedule.refresh_from_db()
    assert schedule.next_run_at == now + datetime.timedelta(seconds=60)  # waits for next turn

    # Once that run is over, the next due time starts a new one.
    Job.objects.filter(schedule=schedule).update(status="succeeded")
    later = schedule.next_run_at
    assert len(services.run_due_schedules(later)) == 1


def test_disabled_and_future_schedules_do_not_run(db):
    schedule = due_schedule(enabled=False)
    assert services.run_due_schedules() == []
    Schedule.objects.filter(pk=schedule.pk).update(
        enabled=True, next_run_at=timezone.now() + datetime.timedelta(hours=1)
    )
    assert services.run_due_schedules() == []


def test_cron_schedule_next_run_is_the_next_match(db):
    schedule = Schedule(name="c", job=NOOP, cron="17 3 * * *")
    after = datetime.datetime(2025, 6, 1, 12, 0, tzinfo=datetime.UTC)
    assert services.next_run(schedule, after) == datetime.datetime(
        2025, 6, 2, 3, 17, tzinfo=datetime.UTC
    )


def test_scheduler_command_once_starts_what_is_due(folio_env):
    schedule = due_schedule()
    result = run_folio(["scheduler", "--once"], folio_env)
    assert result.returncode == 0, result.stderr
    assert "started Scheduled no-op" in result.stdout
    assert Job.objects.filter(schedule=schedule).count() == 1


def test_optimize_database_schedule_collects_planner_statistics(db):
    from django.db import connection

    from folio.jobs.maintenance import optimize_database
    from folio.jobs.models import Schedule

    assert Schedule.objects.get(name="optimize-database").every_seconds == 3600
    assert optimize_database(None) == {"database": connection.vendor}
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT count(*) FROM sqlite_stat1")
        else:
            cursor.execute("SELECT count(*) FROM pg_stats WHERE schemaname = 'public'")
        assert cursor.fetchone()[0] > 0
