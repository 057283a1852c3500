from django.db import migrations

# PostgreSQL only: the vocabulary of the tsvector documents, from which the search completes
# a typed prefix into whole words (folio.search.backends.PostgreSQLBackend.with_completions).
# Part of PostgreSQL's text index, as search_fts is of SQLite's; no model describes it.
# Collation "C": code point order, so the words starting with a prefix are one index range.
CREATE = 'CREATE TABLE search_lexeme (lexeme text COLLATE "C" PRIMARY KEY)'
# Frozen copy of folio.search.backends.add_lexemes for every entry, as of this migration.
BACKFILL = (
    "INSERT INTO search_lexeme (lexeme) "
    "SELECT word FROM ts_stat('SELECT document FROM search_entry') ORDER BY word "
    "ON CONFLICT DO NOTHING"
)


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        return  # FTS5 answers prefixes exactly from its own index
    if vendor != "postgresql":
        raise RuntimeError(f"folio.search supports SQLite and PostgreSQL, not {vendor}")
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(CREATE)
        cursor.execute(BACKFILL)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("DROP TABLE search_lexeme")


class Migration(migrations.Migration):
    dependencies = [
        ("search", "0004_facet_keys"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
