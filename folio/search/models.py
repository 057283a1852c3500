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


class IdentifierVariant(models.Model):
    """The deletion neighbourhood of an identifier key, for typo-tolerant lookups: the key
    itself and every string made by deleting one of its characters ("wb750" → "wb750",
    "b750", "w750", "wb50", …). Two keys within Damerau-Levenshtein distance 1 always share a
    variant, so a typo'd query finds its candidates with one indexed IN lookup; `key` is kept
    so the candidates are verified in Python without another read. Written only by
    folio.search.index, beside search_identifier."""

    pk = models.CompositePrimaryKey("variant", "entry", "key")
    variant = models.CharField(max_length=64)
    entry = models.ForeignKey(Entry, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=64)

    class Meta:
        default_permissions = ()

    def __str__(self):
        return f"{self.variant} → {self.key}"


class Term(models.Model):
    """A word of the indexed titles and texts (tokens of 4–32 characters with a letter), for
    typo-tolerant word lookups (folio.search.fuzzy). Written only by folio.search.index, in
    the transaction that indexes the text: a word is here as soon as it is searchable. Words
    of documents since changed or removed may stay: a correction to such a word finds
    nothing, because the corrected query runs against the text index itself."""

    term = models.CharField(max_length=64, primary_key=True)

    class Meta:
        default_permissions = ()

    def __str__(self):
        return self.term


class TermVariant(models.Model):
    """The deletion neighbourhood of a Term (as IdentifierVariant is of an identifier key):
    two words one edit apart share a variant, so a misspelt word's candidates are one
    indexed `variant IN (…)` lookup, on SQLite and PostgreSQL alike."""

    pk = models.CompositePrimaryKey("variant", "term")
    variant = models.CharField(max_length=64)
    term = models.CharField(max_length=64)

    class Meta:
        default_permissions = ()

    def __str__(self):
        return f"{self.variant} → {self.term}"
