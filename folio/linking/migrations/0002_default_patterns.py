"""The default auto-link patterns: camera-style `{sku}_{view}`, GS1-style `{gtin}.MAIN` /
`{gtin}.PT01`, and numbered `{sku}-{position}`. A pattern's image extension stands for any
image extension (see folio.linking.autolink)."""

from django.db import migrations

VIEWS = {
    "front": {"role": "main", "position": 1},
    "side": {"role": "gallery", "position": 2},
    "top": {"role": "gallery", "position": 3},
    "back": {"role": "gallery", "position": 4},
    "lifestyle": {"role": "lifestyle", "position": 1},
    "detail": {"role": "gallery", "position": 5},
}
PATTERNS = [
    # name, pattern, views, default_role, priority
    ("gtin-main", "{gtin}.MAIN.jpg", {}, "main", 10),
    ("gtin-position", "{gtin}.PT{position}.jpg", {}, "gallery", 20),
    ("sku-view", "{sku}_{view}.jpg", VIEWS, "gallery", 30),
    ("sku-position", "{sku}-{position}.jpg", {}, "gallery", 40),
]


def add(apps, schema_editor):
    AutoLinkPattern = apps.get_model("linking", "AutoLinkPattern")
    for name, pattern, views, role, priority in PATTERNS:
        AutoLinkPattern.objects.using(schema_editor.connection.alias).get_or_create(
            name=name,
            defaults={
                "pattern": pattern,
                "views": views,
                "default_role": role,
                "priority": priority,
            },
        )


def remove(apps, schema_editor):
    apps.get_model("linking", "AutoLinkPattern").objects.using(
        schema_editor.connection.alias
    ).filter(name__in=[p[0] for p in PATTERNS]).delete()


class Migration(migrations.Migration):
    dependencies = [("linking", "0001_initial")]

    operations = [migrations.RunPython(add, remove)]
