"""Image slots get a version (optimistic concurrency: a stale edit of a slot answers 409)."""

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("renditions", "0002_seed_presets"),
    ]

    operations = [
        migrations.AddField(
            model_name="imageslot",
            name="version",
            field=models.PositiveIntegerField(default=1, editable=False),
        ),
        migrations.AddField(
            model_name="imageslot",
            name="updated_at",
            field=models.DateTimeField(auto_now=True, default=django.utils.timezone.now),
            preserve_default=False,
        ),
    ]
