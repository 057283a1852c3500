"""Drop the link indexes that others already serve (see Link's comment): the owners' own
indexes (each owner leads its unique constraint and its (owner, role, position) index), the
second index on asset and the index on role. Written as plain DROP INDEX statements: Django
would rebuild the whole link table on SQLite to change db_index, minutes at millions of
links."""

import django.db.models.deletion
from django.db import migrations, models

DROPPED = {
    "linking_link_product_id_63cf497f": '"product_id"',
    "linking_link_product_model_id_215316fc": '"product_model_id"',
    "linking_link_role_7eb4a422": '"role"',
    "linking_lin_asset_i_fba1c7_idx": '"asset_id"',
}


def drop(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        for name in DROPPED:
            cursor.execute(f'DROP INDEX IF EXISTS "{name}"')
        if schema_editor.connection.vendor == "postgresql":
            cursor.execute('DROP INDEX IF EXISTS "linking_link_role_7eb4a422_like"')


def create(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        for name, column in DROPPED.items():
            cursor.execute(f'CREATE INDEX IF NOT EXISTS "{name}" ON "linking_link" ({column})')
        if schema_editor.connection.vendor == "postgresql":
            cursor.execute(
                'CREATE INDEX IF NOT EXISTS "linking_link_role_7eb4a422_like" '
                'ON "linking_link" ("role" varchar_pattern_ops)'
            )


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0007_productmodel_updated_at_index"),
        ("linking", "0006_linkset_updated_at_index"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveIndex(model_name="link", name="linking_lin_asset_i_fba1c7_idx"),
                migrations.AlterField(
                    model_name="link",
                    name="product",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="links",
                        to="catalog.product",
                    ),
                ),
                migrations.AlterField(
                    model_name="link",
                    name="product_model",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="links",
                        to="catalog.productmodel",
                    ),
                ),
                migrations.AlterField(
                    model_name="link", name="role", field=models.SlugField(db_index=False)
                ),
            ],
            database_operations=[migrations.RunPython(drop, create)],
        ),
    ]
