from django.db import migrations
from django.utils import timezone


def add(apps, schema_editor):
    apps.get_model("jobs", "Schedule").objects.using(schema_editor.connection.alias).get_or_create(
        name="deliver-webhooks",
        defaults={
            "description": "Send webhook deliveries that are due (retries with backoff)",
            "job": "folio.publishing.webhooks.deliver_webhooks",
            "every_seconds": 30,
            "next_run_at": timezone.now(),
        },
    )


def remove(apps, schema_editor):
    apps.get_model("jobs", "Schedule").objects.using(schema_editor.connection.alias).filter(
        name="deliver-webhooks"
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("publishing", "0001_initial"), ("jobs", "0003_optimize_schedule")]
    operations = [migrations.RunPython(add, remove)]
