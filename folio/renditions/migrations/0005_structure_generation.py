from django.db import migrations

from folio.catalog.migrations._structure_generation import operations

forward, reverse = operations(["renditions_imageslot", "renditions_preset"], create_table=False)


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0008_structure_generation"),
        ("renditions", "0004_rendition_updated_at"),
    ]

    operations = [migrations.RunPython(forward, reverse)]
