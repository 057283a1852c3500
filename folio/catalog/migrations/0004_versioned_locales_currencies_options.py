# Locales, currencies and attribute options become versioned like the rest of the structure:
# existing rows start at version 1, last changed now.

import django.utils.timezone
from django.db import migrations, models


def _versioned(model_name):
    return [
        migrations.AddField(
            model_name=model_name,
            name="version",
            field=models.PositiveIntegerField(default=1, editable=False),
        ),
        migrations.AddField(
            model_name=model_name,
            name="updated_at",
            field=models.DateTimeField(auto_now=True, default=django.utils.timezone.now),
            preserve_default=False,
        ),
    ]


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0003_editor_scope"),
    ]

    operations = [
        *_versioned("locale"),
        *_versioned("currency"),
        *_versioned("attributeoption"),
    ]
