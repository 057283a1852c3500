"""The search index's portable part: which documents are indexed, and their identifiers.

The text index itself lives beside these tables and depends on the database: an FTS5 table
(`search_fts`, rowid = Entry.id) on SQLite, a weighted tsvector column on `search_entry` on
PostgreSQL. Both are created by migration 0001 and written only by folio.search.index.
"""

from django.db import models


class Entry(models.Model):
    kind = models.CharField(max_length=32)
    ref_id = models.CharField(max_length=64)
    # A hash of what was indexed, so re-indexing an unchanged object writes nothing.
    digest = models.CharField(max_length=32)
    extra = models.JSONField(default=dict, blank=True)

    class Meta:
        default_permissions = ()
        constraints = [
            models.UniqueConstraint(fields=["kind", "ref_id"], name="search_entry_kind_ref"),
        ]

    def __str__(self):
        return f"{self.kind}:{self.ref_id}"


class Identifier(models.Model):
    """One identifier of an entry (SKU, GTIN, code), folded to lower-case letters and digits
    only ("WB-750-SS" → "wb750ss"), for exact and prefix lookups through the primary key."""

    pk = models.CompositePrimaryKey("value", "entry")
    value = models.CharField(max_length=200)
    entry = models.ForeignKey(Entry, on_delete=models.CASCADE, related_name="identifiers")

    class Meta:
        default_permissions = ()

    def __str__(self):
        return self.value
