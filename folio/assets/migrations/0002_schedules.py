from django.db import migrations
from django.utils import timezone

SCHEDULES = [
    (
        "check-asset-rights",
        "Withdraw assets whose usage rights ended; warn about those ending soon",
        "folio.assets.rights.check_rights",
        900,
        "",
    ),
    (
        "prune-asset-versions",
        "Remove the bytes of old asset versions beyond the retention setting",
        "folio.assets.services.prune_versions",
        None,
        "41 3 * * *",
    ),
]


def add(apps, schema_editor):
    Schedule = apps.get_model("jobs", "Schedule")
    for name, description, job, every, cron in SCHEDULES:
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
        name__in=[s[0] for s in SCHEDULES]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("assets", "0001_initial"), ("jobs", "0003_optimize_schedule")]
    operations = [migrations.RunPython(add, remove)]
