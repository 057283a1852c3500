"""The SQL that differs between SQLite (FTS5) and PostgreSQL (tsvector); chosen by vendor.

Both receive documents and queries already tokenized by folio.search.text, and both quote
every query token themselves, so no user input ever reaches MATCH or to_tsquery as syntax.
"""

# SQL here is put together from constants and runs of %s placeholders only; every value,
# including each MATCH / to_tsquery expression, is passed as a parameter.
# ruff: noqa: S608

from dataclasses import dataclass

from django.db import connection


@dataclass(frozen=True)
class ParsedQuery:
    words: list[list[str]]  # a word is the tokens of one space-separated piece of input
    key: str  # all tokens joined: compared with identifier keys
    prefix: bool  # the last word is matched as a prefix


@dataclass(frozen=True)
class Prepared:
    """One document, normalized and ready to write."""

    kind: str
    key: str
    digest: str
    extra: str  # JSON
    identifiers: str  # tokens
    title: str  # tokens
    body: str  # tokens
    identifier_keys: tuple[str, ...]


# A prefix of one character would expand to a large share of the vocabulary on a big catalog;
# such a last word is matched as a whole token instead.
MIN_PREFIX = 2
# Identifier prefixes shorter than this do not lift hits above text matches: "w" is the start
# of too many SKUs to mean one of them.
MIN_IDENTIFIER_PREFIX = 3
IDENTIFIER_TIER = {"exact": 2, "prefix": 1}


def placeholders(n: int) -> str:
    return ", ".join(["%s"] * n)


class Backend:
    vendor = ""
    upsert_sql = ""

    def entries_sql(self, kind: str, keys: list[str]) -> tuple[str, list]:
        """Rows (ref_id, id, digest) of the entries of `kind` with these ref_ids."""
        return (
            "SELECT ref_id, id, digest FROM search_entry "
            f"WHERE kind = %s AND ref_id IN ({placeholders(len(keys))})",
            [kind, *keys],
        )

    def upsert_params(self, p: Prepared) -> tuple:
        raise NotImplementedError

    def write_text(self, cursor, rows: list[tuple[int, Prepared]]) -> None:
        """Store the text of freshly upserted entries (rows of entry id and document)."""

    def delete_text(self, cursor, ids: list[int]) -> None:
        """Forget the text of entries about to be deleted."""

    def delete_kind_text(self, cursor, kind: str) -> None:
        """Forget the text of every entry of one kind."""

    def match_expression(self, q: ParsedQuery) -> str:
        raise NotImplementedError

    def search_sql(self, q: ParsedQuery, kinds: list[str], limit: int, after) -> tuple[str, list]:
        raise NotImplementedError

    def matching_sql(self, q: ParsedQuery, kind: str, cast: str) -> tuple[str, list]:
        raise NotImplementedError

    def _prefix_condition(self) -> str:
        raise NotImplementedError

    def _prefix_params(self, key: str) -> list:
        raise NotImplementedError

    def tier_sql(self, q: ParsedQuery) -> tuple[str, list]:
        """Entries whose identifier equals (tier 2) or starts with (tier 1) the whole query."""
        if len(q.key) < MIN_IDENTIFIER_PREFIX:
            return (
                f"SELECT entry_id, {IDENTIFIER_TIER['exact']} AS tier FROM search_identifier "
                "WHERE value = %s GROUP BY entry_id",
                [q.key],
            )
        return (
            f"SELECT entry_id, MAX(CASE WHEN value = %s THEN {IDENTIFIER_TIER['exact']} "
            f"ELSE {IDENTIFIER_TIER['prefix']} END) AS tier "
            f"FROM search_identifier WHERE {self._prefix_condition()} GROUP BY entry_id",
            [q.key, *self._prefix_params(q.key)],
        )

    @staticmethod
    def after_sql(after) -> tuple[str, list]:
        if after is None:
            return "", []
        score, entry_id = after
        return "WHERE score < %s OR (score = %s AND id > %s)", [score, score, entry_id]


class SQLiteBackend(Backend):
    vendor = "sqlite"
    upsert_sql = (
        "INSERT INTO search_entry (kind, ref_id, digest, extra) VALUES (%s, %s, %s, %s) "
        "ON CONFLICT (kind, ref_id) DO UPDATE SET digest = excluded.digest, extra = excluded.extra"
    )
    # bm25 weights of the FTS columns identifiers, title, body.
    WEIGHTS = "10.0, 4.0, 1.0"

    def upsert_params(self, p: Prepared) -> tuple:
        return (p.kind, p.key, p.digest, p.extra)

    def write_text(self, cursor, rows):
        # REPLACE rather than delete-then-insert: a DELETE makes FTS5 flush its pending
        # inserts, once per batch. It also overwrites rows left behind when entries were
        # removed by other means (a test database flush) whose rowids come round again.
        cursor.executemany(
            "INSERT OR REPLACE INTO search_fts (rowid, identifiers, title, body) "
            "VALUES (%s, %s, %s, %s)",
            [(entry_id, p.identifiers, p.title, p.body) for entry_id, p in rows],
        )

    def delete_text(self, cursor, ids):
        cursor.executemany("DELETE FROM search_fts WHERE rowid = %s", [(i,) for i in ids])

    def delete_kind_text(self, cursor, kind):
        cursor.execute(
            "DELETE FROM search_fts WHERE rowid IN (SELECT id FROM search_entry WHERE kind = %s)",
            [kind],
        )

    @staticmethod
    def _string(tokens: list[str], prefix: bool) -> str:
        # Tokens are letters, digits and marks only; doubling quotes is belt and braces.
        text = " ".join(tokens).replace('"', '""')
        return f'"{text}"' + ("*" if prefix else "")

    def match_expression(self, q):
        parts = []
        for i, word in enumerate(q.words):
            last = q.prefix and i == len(q.words) - 1
            if len(word) == 1:
                parts.append(self._string(word, last and len(word[0]) >= MIN_PREFIX))
            else:
                # "WB-750" is the phrase wb 750 or, as typed without separators, wb750.
                phrase = self._string(word, last and len(word[-1]) >= MIN_PREFIX)
                parts.append(f"({phrase} OR {self._string([''.join(word)], last)})")
        expression = " AND ".join(parts)
        if len(q.words) > 1:
            # "wb 750ss" is no sequence of words, but is an identifier typed with a space.
            key = self._string([q.key], q.prefix)
            expression = f"({expression}) OR (identifiers : {key})"
        return expression

    def _prefix_condition(self):
        return "value >= %s AND value < %s"

    def _prefix_params(self, key):
        # Identifier keys compare bytewise (BINARY collation): every key starting with `key`
        # sorts between it and it followed by the highest code point.
        return [key, key + "\U0010ffff"]

    def search_sql(self, q, kinds, limit, after):
        tier, tier_params = self.tier_sql(q)
        after_clause, after_params = self.after_sql(after)
        sql = f"""
            SELECT kind, ref_id, score, id FROM (
                SELECT e.kind AS kind, e.ref_id AS ref_id, e.id AS id,
                       COALESCE(i.tier, 0) + t.s / (1.0 + t.s) AS score
                FROM (
                    SELECT rowid AS id, MAX(-bm25(search_fts, {self.WEIGHTS}), 0.0) AS s
                    FROM search_fts WHERE search_fts MATCH %s
                ) AS t
                JOIN search_entry AS e ON e.id = t.id
                LEFT JOIN ({tier}) AS i ON i.entry_id = e.id
                WHERE e.kind IN ({placeholders(len(kinds))})
            ) AS hits
            {after_clause}
            ORDER BY score DESC, id
            LIMIT %s
        """
        params = [self.match_expression(q), *tier_params, *kinds, *after_params, limit]
        return sql, params

    def matching_sql(self, q, kind, cast):
        column = {"int": "CAST(e.ref_id AS INTEGER)"}.get(cast, "e.ref_id")
        return (
            f"SELECT {column} FROM search_entry AS e WHERE e.kind = %s AND e.id IN "
            "(SELECT rowid FROM search_fts WHERE search_fts MATCH %s)",
            [kind, self.match_expression(q)],
        )


class PostgreSQLBackend(Backend):
    vendor = "postgresql"
    # Weights: identifiers A, title B, body C. The texts are tokens already; 'simple' only
    # lower-cases, so the index holds exactly what folio.search.text produced.
    DOCUMENT = (
        "setweight(to_tsvector('simple', %s), 'A') || "
        "setweight(to_tsvector('simple', %s), 'B') || "
        "setweight(to_tsvector('simple', %s), 'C')"
    )
    upsert_sql = (
        "INSERT INTO search_entry (kind, ref_id, digest, extra, document) "
        f"VALUES (%s, %s, %s, %s::jsonb, {DOCUMENT}) "
        "ON CONFLICT (kind, ref_id) DO UPDATE SET digest = EXCLUDED.digest, "
        "extra = EXCLUDED.extra, document = EXCLUDED.document"
    )

    def upsert_params(self, p: Prepared) -> tuple:
        return (p.kind, p.key, p.digest, p.extra, p.identifiers, p.title, p.body)

    def entries_sql(self, kind, keys):
        # One unique-index probe per key. The plain `ref_id = ANY(…)` is planned from table
        # statistics, which a bulk load inside one transaction leaves stale: the planner then
        # scans every entry of the kind for each batch, and a rebuild turns quadratic.
        return (
            "SELECT e.ref_id, e.id, e.digest FROM unnest(%s::varchar[]) AS k(ref_id) "
            "CROSS JOIN LATERAL (SELECT id, ref_id, digest FROM search_entry "
            "WHERE kind = %s AND ref_id = k.ref_id LIMIT 1) AS e",
            [list(keys), kind],
        )

    @staticmethod
    def _lexeme(token: str, prefix: bool, weights: str = "") -> str:
        # Tokens are letters, digits and marks only; escaping quote and backslash keeps it so.
        text = token.replace("\\", "\\\\").replace("'", "''")
        label = ("*" if prefix else "") + weights
        return f"'{text}'" + (f":{label}" if label else "")

    def match_expression(self, q):
        parts = []
        for i, word in enumerate(q.words):
            last = q.prefix and i == len(q.words) - 1
            if len(word) == 1:
                parts.append(self._lexeme(word[0], last and len(word[0]) >= MIN_PREFIX))
            else:
                phrase = " <-> ".join(
                    self._lexeme(t, last and j == len(word) - 1 and len(t) >= MIN_PREFIX)
                    for j, t in enumerate(word)
                )
                parts.append(f"(({phrase}) | {self._lexeme(''.join(word), last)})")
        expression = " & ".join(parts)
        if len(q.words) > 1:
            # Weight A: the identifiers only.
            expression = f"({expression}) | {self._lexeme(q.key, q.prefix, 'A')}"
        return expression

    def _prefix_condition(self):
        return "value LIKE %s"

    def _prefix_params(self, key):
        escaped = key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return [escaped + "%"]

    def search_sql(self, q, kinds, limit, after):
        tier, tier_params = self.tier_sql(q)
        after_clause, after_params = self.after_sql(after)
        sql = f"""
            SELECT kind, ref_id, score, id FROM (
                SELECT kind, ref_id, id, tier + rank / (1.0 + rank) AS score FROM (
                    SELECT e.kind, e.ref_id, e.id, COALESCE(i.tier, 0) AS tier,
                           ts_rank(e.document, to_tsquery('simple', %s))::float8 AS rank
                    FROM search_entry AS e
                    LEFT JOIN ({tier}) AS i ON i.entry_id = e.id
                    WHERE e.document @@ to_tsquery('simple', %s)
                      AND e.kind IN ({placeholders(len(kinds))})
                ) AS ranked
            ) AS hits
            {after_clause}
            ORDER BY score DESC, id
            LIMIT %s
        """
        expression = self.match_expression(q)
        params = [expression, *tier_params, expression, *kinds, *after_params, limit]
        return sql, params

    def matching_sql(self, q, kind, cast):
        column = {"int": "CAST(e.ref_id AS bigint)", "uuid": "CAST(e.ref_id AS uuid)"}.get(
            cast, "e.ref_id"
        )
        return (
            f"SELECT {column} FROM search_entry AS e "
            "WHERE e.kind = %s AND e.document @@ to_tsquery('simple', %s)",
            [kind, self.match_expression(q)],
        )


_BACKENDS = {b.vendor: b for b in (SQLiteBackend(), PostgreSQLBackend())}


def current() -> Backend:
    return _BACKENDS[connection.vendor]
