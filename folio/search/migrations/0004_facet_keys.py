from django.db import migrations

# Frozen copy of folio.search.facets' key format as of this migration: "f12 c3 c40" is family
# 12, categories 3 and 40; "f" alone, no family.
STATEMENTS = {
    "sqlite": """
        UPDATE search_entry SET extra = json_set(extra, '$.facets', (
            SELECT rtrim('f' || coalesce(p.family_id, '') || ' ' || coalesce((
                SELECT group_concat('c' || c.category_id, ' ') FROM (
                    SELECT category_id FROM catalog_product_categories
                    WHERE product_id = p.id ORDER BY category_id
                ) AS c
            ), ''))
            FROM catalog_product AS p WHERE p.id = CAST(search_entry.ref_id AS INTEGER)
        ))
        WHERE kind = 'product' AND EXISTS (
            SELECT 1 FROM catalog_product AS p WHERE p.id = CAST(search_entry.ref_id AS INTEGER)
        )
    """,
    "postgresql": """
        UPDATE search_entry AS e SET extra = e.extra || jsonb_build_object('facets', rtrim(
            'f' || coalesce(p.family_id::text, '') || ' ' || coalesce((
                SELECT string_agg('c' || c.category_id::text, ' ' ORDER BY c.category_id)
                FROM catalog_product_categories AS c WHERE c.product_id = p.id
            ), '')
        ))
        FROM catalog_product AS p
        WHERE e.kind = 'product' AND p.id::text = e.ref_id
    """,
}


def backfill(apps, schema_editor):
    """The facet keys (family and category ids) of every product indexed before this
    migration, from the catalog tables. Digests are left as they were: the next write of a
    product rewrites its entry once."""
    vendor = schema_editor.connection.vendor
    if vendor not in STATEMENTS:
        raise RuntimeError(f"folio.search supports SQLite and PostgreSQL, not {vendor}")
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(STATEMENTS[vendor])


class Migration(migrations.Migration):
    dependencies = [
        ("search", "0003_terms"),
        ("catalog", "0001_initial"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True)]
