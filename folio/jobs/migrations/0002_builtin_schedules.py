from django.db import migrations
from django.utils import timezone

BUILTIN = [
    (
        "reap-dead-jobs",
        "Retry or fail jobs whose worker died",
        "folio.jobs.maintenance.reap",
        30,
        "",
    ),
    (
        "prune-finished-jobs",
        "Delete finished jobs older than the retention period",
        "folio.jobs.maintenance.prune",
        None,
        "17 3 * * *",
    ),
]


def add(apps, schema_editor):
    Schedule = apps.get_model("jobs", "Schedule")
    for name, description, job, every, cron in BUILTIN:
        Schedule.objects.using(schema_editor.connection.alias).get_or_create(
            name=name,
            defaults={
                "description": description,
                "job": job,
                "every_seconds": every,
                "cron": cron,
                "next_run_at": timezone.now(),
            },
        )


def remove(apps, schema_editor):
    apps.get_model("jobs", "Schedule").objects.using(schema_editor.connection.alias).filter(
        name__in=[b[0] for b in BUILTIN]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("jobs", "0001_initial")]
    operations = [migrations.RunPython(add, remove)]
