from django.db import migrations

from folio.catalog.migrations._structure_generation import operations

forward, reverse = operations(
    [
        "catalog_attribute",
        "catalog_attributegroup",
        "catalog_measurementfamily",
        "catalog_family_attributes",
        "catalog_channel",
    ],
    create_table=True,
)


class Migration(migrations.Migration):
    dependencies = [("catalog", "0007_productmodel_updated_at_index")]

    operations = [migrations.RunPython(forward, reverse)]
