"""The SQL that differs between SQLite (FTS5) and PostgreSQL (tsvector); chosen by vendor.

Both receive documents and queries already tokenized by folio.search.text, and both quote
every query token themselves, so no user input ever reaches MATCH or to_tsquery as syntax.
"""

# SQL here is put together from constants and runs of %s placeholders only; every value,
# including each MATCH / to_tsquery expression, is passed as a parameter.
# ruff: noqa: S608

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from django.db import connection

# The key of the facet keys in an entry's extra data (folio.search.facets.EXTRA_KEY).
EXTRA_KEY = "facets"


@dataclass(frozen=True)
class ParsedQuery:
    words: list[list[str]]  # a word is the tokens of one space-separated piece of input
    key: str  # all tokens joined: compared with identifier keys
    prefix: bool  # the last word is matched as a prefix
    # typed prefix → the whole word the backend matches instead: the only indexed word that
    # starts with it, or the prefix itself when none does (Backend.with_completions)
    completions: Mapping[str, str] = field(default_factory=dict)


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

    def upsert(self, cursor, prepared: list[Prepared]) -> None:
        """Insert or replace the entries of these documents (one per kind and key)."""
        cursor.executemany(self.upsert_sql, [self.upsert_params(p) for p in prepared])

    def insert(self, cursor, table: str, columns: dict[str, str], rows: list[tuple]) -> None:
        """INSERT rows (values in the order of `columns`, which maps each column to its SQL
        type) into `table`, skipping those already there."""
        if rows:
            cursor.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) "
                f"VALUES ({placeholders(len(columns))}) ON CONFLICT DO NOTHING",
                rows,
            )

    def write_text(self, cursor, rows: list[tuple[int, Prepared]]) -> None:
        """Store the text of freshly upserted entries (rows of entry id and document)."""

    def delete_text(self, cursor, ids: list[int]) -> None:
        """Forget the text of entries about to be deleted."""

    def delete_kind_text(self, cursor, kind: str) -> None:
        """Forget the text of every entry of one kind."""

    def with_completions(self, q: ParsedQuery) -> ParsedQuery:
        """The query with the completions of its typed prefixes, where this backend matches
        them as whole words; the query as it is elsewhere."""
        return q

    def match_expression(self, q: ParsedQuery, alternatives=None) -> str:
        """The query as MATCH / to_tsquery text. alternatives: {word index: [whole words]}
        that may stand for that word (its typo corrections, folio.search.fuzzy)."""
        raise NotImplementedError

    def bounded_sql(
        self, expression: str, kinds: list[str], limit: int, after_id=None, rank=True, keys=False
    ) -> tuple[str, list]:
        """Rows (entry id, kind, ref_id, text score ≥ 0) of the first `limit` entries of
        `kinds` matching `expression`, by entry id (after `after_id`): the match is read in
        index order and stops at `limit`, however many entries match. rank=False: score 0.
        keys=True: a fifth column, the entry's facet keys (folio.search.facets) or None."""
        raise NotImplementedError

    def rank_sql(self, expression: str, entry_ids: list[int]) -> tuple[str, list]:
        """Rows (entry id, text score) of these entries, where they match `expression`."""
        raise NotImplementedError

    def rank_range_sql(self, expression: str, first_id: int, last_id: int) -> tuple[str, list]:
        """Rows (entry id, text score) of the entries with ids first_id…last_id matching
        `expression`: the text match read between the two, no further."""
        raise NotImplementedError

    def ids_sql(self, ids: list[int]) -> tuple[str, list]:
        """A subquery of one integer column holding `ids`, passed as one parameter."""
        raise NotImplementedError

    def pairs_sql(self, pairs: list[list]) -> tuple[str, list]:
        """A subquery of two integer columns k, n holding `pairs` ([k, n]; k may be None),
        passed as one parameter."""
        raise NotImplementedError

    def bounded_tier_sql(self, q: ParsedQuery, kinds: list[str], limit: int) -> tuple[str, list]:
        """Rows (entry id, kind, ref_id, tier) of entries of `kinds` whose identifier equals
        (tier 2) or starts with (tier 1) the whole query, from at most `limit` identifiers
        (in key order)."""
        if len(q.key) < MIN_IDENTIFIER_PREFIX:
            inner = "SELECT value, entry_id FROM search_identifier WHERE value = %s LIMIT %s"
            inner_params = [q.key, limit]
        else:
            inner = (
                f"SELECT value, entry_id FROM search_identifier WHERE {self._prefix_condition()}"
                f"{self.identifier_order} LIMIT %s"
            )
            inner_params = [*self._prefix_params(q.key), limit]
        sql = f"""
            SELECT e.id, e.kind, e.ref_id, t.tier FROM (
                SELECT entry_id, MAX(CASE WHEN value = %s THEN {IDENTIFIER_TIER["exact"]}
                                     ELSE {IDENTIFIER_TIER["prefix"]} END) AS tier
                FROM ({inner}) AS v GROUP BY entry_id
            ) AS t
            JOIN search_entry AS e ON e.id = t.entry_id
            WHERE e.kind IN ({placeholders(len(kinds))})
        """
        return sql, [q.key, *inner_params, *kinds]

    # In key order, so the query's own key (which sorts before every longer key starting with
    # it) is always read, and the same keys on every page. SQLite reads them in that order
    # from the primary key; PostgreSQL sorts the keys LIKE the prefix.
    identifier_order = " ORDER BY value"

    def search_sql(self, q: ParsedQuery, kinds: list[str], limit: int, after) -> tuple[str, list]:
        raise NotImplementedError

    def matching_sql(self, q: ParsedQuery, kind: str, cast: str) -> tuple[str, list]:
        raise NotImplementedError

    def _prefix_condition(self, column: str = "value") -> str:
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

    def match_expression(self, q, alternatives=None):
        parts = []
        for i, word in enumerate(q.words):
            last = q.prefix and i == len(q.words) - 1
            if len(word) == 1:
                part = self._string(word, last and len(word[0]) >= MIN_PREFIX)
            else:
                # "WB-750" is the phrase wb 750 or, as typed without separators, wb750.
                phrase = self._string(word, last and len(word[-1]) >= MIN_PREFIX)
                part = f"({phrase} OR {self._string([''.join(word)], last)})"
            if alternatives and alternatives.get(i):
                others = " OR ".join(self._string([a], False) for a in alternatives[i])
                part = f"({part} OR {others})"
            parts.append(part)
        expression = " AND ".join(parts)
        if len(q.words) > 1:
            # "wb 750ss" is no sequence of words, but is an identifier typed with a space.
            key = self._string([q.key], q.prefix)
            expression = f"({expression}) OR (identifiers : {key})"
        return expression

    def _prefix_condition(self, column="value"):
        return f"{column} >= %s AND {column} < %s"

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

    def bounded_sql(self, expression, kinds, limit, after_id=None, rank=True, keys=False):
        # The full-text table drives (rowid order, which it yields without sorting); each
        # row costs one entry lookup, and bm25 only what the rows read need.
        score = f"MAX(-bm25(search_fts, {self.WEIGHTS}), 0.0)" if rank else "0.0"
        after = "AND search_fts.rowid > %s" if after_id is not None else ""
        keys_column = f", json_extract(e.extra, '$.{EXTRA_KEY}')" if keys else ""
        sql = f"""
            SELECT e.id, e.kind, e.ref_id, {score}{keys_column}
            FROM search_fts JOIN search_entry AS e ON e.id = search_fts.rowid
            WHERE search_fts MATCH %s AND e.kind IN ({placeholders(len(kinds))}) {after}
            ORDER BY search_fts.rowid
            LIMIT %s
        """
        after_params = [after_id] if after_id is not None else []
        return sql, [expression, *kinds, *after_params, limit]

    def rank_sql(self, expression, entry_ids):
        return (
            f"SELECT rowid, MAX(-bm25(search_fts, {self.WEIGHTS}), 0.0) FROM search_fts "
            "WHERE search_fts MATCH %s AND rowid IN (SELECT value FROM json_each(%s))",
            [expression, json.dumps(list(entry_ids))],
        )

    def rank_range_sql(self, expression, first_id, last_id):
        # The rowid range is one of FTS5's own constraints: it seeks to first_id and stops
        # after last_id. bm25 also reads, once per query, how many documents hold each term.
        return (
            f"SELECT rowid, MAX(-bm25(search_fts, {self.WEIGHTS}), 0.0) FROM search_fts "
            "WHERE search_fts MATCH %s AND rowid >= %s AND rowid <= %s",
            [expression, first_id, last_id],
        )

    def ids_sql(self, ids):
        return "SELECT value FROM json_each(%s)", [json.dumps(list(ids))]

    def pairs_sql(self, pairs):
        return (
            "SELECT json_extract(value, '$[0]') AS k, json_extract(value, '$[1]') AS n "
            "FROM json_each(%s)",
            [json.dumps(pairs)],
        )

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

    # Many rows in one statement, an array per column, instead of executemany: psycopg sends
    # each row of an executemany as a statement of its own, and at ~30 search rows a product
    # (entry, identifiers, their deletion neighbourhoods) that was ~15 % of an import's time
    # here. Inserted rows are sorted, so concurrent writers adding the same words take their
    # locks in one order.
    def upsert(self, cursor, prepared):
        if not prepared:
            return
        document = self.DOCUMENT.replace("%s", "{}").format("u.i", "u.t", "u.b")
        cursor.execute(
            "INSERT INTO search_entry (kind, ref_id, digest, extra, document) "
            f"SELECT u.k, u.r, u.d, u.e::jsonb, {document} FROM unnest("
            "%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[]"
            ") AS u(k, r, d, e, i, t, b) "
            "ON CONFLICT (kind, ref_id) DO UPDATE SET digest = EXCLUDED.digest, "
            "extra = EXCLUDED.extra, document = EXCLUDED.document",
            _columns([self.upsert_params(p) for p in prepared]),
        )

    def insert(self, cursor, table, columns, rows):
        if rows:
            arrays = ", ".join(f"%s::{kind}[]" for kind in columns.values())
            order = ", ".join(str(n) for n in range(1, len(columns) + 1))
            cursor.execute(
                f"INSERT INTO {table} ({', '.join(columns)}) "
                f"SELECT * FROM unnest({arrays}) ORDER BY {order} ON CONFLICT DO NOTHING",
                _columns(rows),
            )

    def write_text(self, cursor, rows):
        # The documents were written by the upsert; their words join the vocabulary that
        # typed prefixes are completed from (with_completions).
        add_lexemes(cursor, [entry_id for entry_id, _ in rows])

    def _typed_prefixes(self, q: ParsedQuery) -> list[str]:
        """The tokens match_expression would match as prefixes."""
        if not q.prefix:
            return []
        word = q.words[-1]
        found = [word[-1]] if len(word[-1]) >= MIN_PREFIX else []
        if len(word) > 1:
            found.append("".join(word))
        if len(q.words) > 1:
            found.append(q.key)
        return list(dict.fromkeys(found))

    def with_completions(self, q):
        # A prefix inside an AND makes the GIN index inexact on a large index: it gathers the
        # prefix's matches into a bitmap that turns lossy past work_mem, and every candidate
        # of a lossy page is read from the heap and rechecked (issue 11: a two-word search at
        # 1M entries read 24,436 pages to keep 12,618 of 34,205 candidates, 143–215 ms; the
        # same query with whole words, 41 ms). A finished word ("o03", "lamp" once typed)
        # is usually the only word its prefix completes to, and as a word it is exact.
        prefixes = self._typed_prefixes(q)
        if not prefixes:
            return q
        # Only a prefix that one indexed word (or none) starts with. Not several: the planner
        # estimates each word it has no statistics for (SKUs, rare words) at a fixed share of
        # the table, so an OR of ten rare words looks like 5 % of it and it reads the whole
        # table in id order instead of asking the index (a 10-SKU prefix at 1M entries: 1.7 s
        # instead of a few ms). One word is estimated as the prefix was. The vocabulary's
        # collation is "C": code point order, so every word starting with a prefix sorts
        # between it and it followed by the highest code point; reading two tells one from
        # several.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT p.prefix, l.lexeme FROM unnest(%s::text[]) AS p(prefix) "
                "CROSS JOIN LATERAL (SELECT lexeme FROM search_lexeme "
                "WHERE lexeme >= p.prefix AND lexeme < p.prefix || %s "
                "ORDER BY lexeme LIMIT 2) AS l",
                [prefixes, "\U0010ffff"],
            )
            found: dict[str, list[str]] = {}
            for prefix, lexeme in cursor.fetchall():
                found.setdefault(prefix, []).append(lexeme)
        # No completion: no indexed word starts with the prefix, so neither is it one; as a
        # whole word it matches nothing, from one index probe.
        completions = {
            prefix: (found.get(prefix) or [prefix])[0]
            for prefix in prefixes
            if len(found.get(prefix, ())) <= 1
        }
        if not completions:
            return q
        return ParsedQuery(words=q.words, key=q.key, prefix=q.prefix, completions=completions)

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
    def _whole(token: str, prefix: bool, weights: str = "") -> str:
        # Tokens are letters, digits and marks only; escaping quote and backslash keeps it so.
        text = token.replace("\\", "\\\\").replace("'", "''")
        label = ("*" if prefix else "") + weights
        return f"'{text}'" + (f":{label}" if label else "")

    def _lexeme(self, token: str, prefix: bool, weights: str = "", completions=None) -> str:
        """The token as tsquery text; a prefix with a known completion as that word."""
        word = (completions or {}).get(token) if prefix else None
        return self._whole(word or token, prefix and word is None, weights)

    def match_expression(self, q, alternatives=None):
        parts = []
        done = q.completions
        for i, word in enumerate(q.words):
            last = q.prefix and i == len(q.words) - 1
            if len(word) == 1:
                part = self._lexeme(word[0], last and len(word[0]) >= MIN_PREFIX, "", done)
            else:
                phrase = " <-> ".join(
                    self._lexeme(t, last and j == len(word) - 1 and len(t) >= MIN_PREFIX, "", done)
                    for j, t in enumerate(word)
                )
                part = f"(({phrase}) | {self._lexeme(''.join(word), last, '', done)})"
            if alternatives and alternatives.get(i):
                others = " | ".join(self._whole(a, False) for a in alternatives[i])
                part = f"({part} | {others})"
            parts.append(part)
        expression = " & ".join(parts)
        if len(q.words) > 1:
            # Weight A: the identifiers only.
            expression = f"({expression}) | {self._lexeme(q.key, q.prefix, 'A', done)}"
        return expression

    def _prefix_condition(self, column="value"):
        return f"{column} LIKE %s"

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

    def bounded_sql(self, expression, kinds, limit, after_id=None, rank=True, keys=False):
        score = "ts_rank(e.document, query)::float8" if rank else "0.0::float8"
        after = "AND e.id > %s" if after_id is not None else ""
        keys_column = f", e.extra->>'{EXTRA_KEY}'" if keys else ""
        sql = f"""
            SELECT e.id, e.kind, e.ref_id, {score}{keys_column}
            FROM search_entry AS e, to_tsquery('simple', %s) AS query
            WHERE e.document @@ query AND e.kind IN ({placeholders(len(kinds))}) {after}
            ORDER BY e.id
            LIMIT %s
        """
        after_params = [after_id] if after_id is not None else []
        return sql, [expression, *kinds, *after_params, limit]

    def rank_sql(self, expression, entry_ids):
        return (
            "SELECT e.id, ts_rank(e.document, query)::float8 "
            "FROM search_entry AS e, to_tsquery('simple', %s) AS query "
            "WHERE e.id = ANY(%s::bigint[]) AND e.document @@ query",
            [expression, [int(i) for i in entry_ids]],
        )

    def rank_range_sql(self, expression, first_id, last_id):
        return (
            "SELECT e.id, ts_rank(e.document, query)::float8 "
            "FROM search_entry AS e, to_tsquery('simple', %s) AS query "
            "WHERE e.id BETWEEN %s AND %s AND e.document @@ query",
            [expression, first_id, last_id],
        )

    def ids_sql(self, ids):
        return "SELECT unnest(%s::bigint[])", [[int(i) for i in ids]]

    def pairs_sql(self, pairs):
        return (
            "SELECT (x->>0)::bigint AS k, (x->>1)::bigint AS n "
            "FROM jsonb_array_elements(%s::jsonb) AS x",
            [json.dumps(pairs)],
        )

    def matching_sql(self, q, kind, cast):
        column = {"int": "CAST(e.ref_id AS bigint)", "uuid": "CAST(e.ref_id AS uuid)"}.get(
            cast, "e.ref_id"
        )
        return (
            f"SELECT {column} FROM search_entry AS e "
            "WHERE e.kind = %s AND e.document @@ to_tsquery('simple', %s)",
            [kind, self.match_expression(q)],
        )


def add_lexemes(cursor, entry_ids: list[int] | None = None) -> None:
    """PostgreSQL: add the words of these entries' documents (None: of every entry) to the
    vocabulary typed prefixes are completed from (search_lexeme). Words of documents since
    changed or removed stay; that never hides a match (every indexed word is here), at worst
    it keeps a prefix from being completed."""
    if entry_ids is None:
        sql, params = "SELECT word FROM ts_stat('SELECT document FROM search_entry')", []
    else:
        sql = (
            "SELECT DISTINCT u.lexeme FROM search_entry AS e "
            "CROSS JOIN LATERAL unnest(e.document) AS u WHERE e.id = ANY(%s::bigint[])"
        )
        params = [list(entry_ids)]
    # In code point order: writers adding the same new words take their locks in one order.
    cursor.execute(
        f"INSERT INTO search_lexeme (lexeme) SELECT w FROM ({sql}) AS t(w) "
        "ORDER BY w ON CONFLICT DO NOTHING",
        params,
    )


def _columns(rows: list[tuple]) -> list[list]:
    """Rows turned into one list per column (the arrays unnest() takes back apart)."""
    return [list(column) for column in zip(*rows, strict=True)]


_BACKENDS = {b.vendor: b for b in (SQLiteBackend(), PostgreSQLBackend())}


def current() -> Backend:
    return _BACKENDS[connection.vendor]
