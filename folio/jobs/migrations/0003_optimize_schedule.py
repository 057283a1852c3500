from django.db import migrations
from django.utils import timezone


def add(apps, schema_editor):
    apps.get_model("jobs", "Schedule").objects.using(schema_editor.connection.alias).get_or_create(
        name="optimize-database",
        defaults={
            "description": "Refresh the query planner's statistics (after imports and bulk edits)",
            "job": "folio.jobs.maintenance.optimize_database",
            "every_seconds": 3600,
            "next_run_at": timezone.now(),
        },
    )


def remove(apps, schema_editor):
    apps.get_model("jobs", "Schedule").objects.using(schema_editor.connection.alias).filter(
        name="optimize-database"
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("jobs", "0002_builtin_schedules")]
    operations = [migrations.RunPython(add, remove)]
