"""Typo tolerance: identifiers (SKUs, GTINs, codes) and words one edit away from a query.

An edit is a wrong, missing or extra character, or two adjacent characters swapped
(Damerau-Levenshtein distance 1, in its restricted "optimal string alignment" form). The
index keeps, for every identifier key, its deletion neighbourhood (the key and each string
made by deleting one character; SymSpell's idea, table search_identifiervariant). Two keys
within distance 1 share a variant:

- a substitution at i: both keys minus their character i are equal;
- an insertion or deletion: the shorter key is a variant of the longer;
- a transposition of i and i+1: deleting character i from one and i+1 from the other.

So a query's candidates are one indexed `variant IN (…)` lookup on plain B-tree indexes, the
same SQL on SQLite and PostgreSQL, and each candidate is verified exactly in Python (sharing a
variant also admits some distance-2 pairs, such as two substitutions side by side).

Words work the same way over the vocabulary of indexed titles and texts (search_term, with
its deletion neighbourhoods in search_termvariant): a query word gets the indexed words one
edit away as alternatives (`word_alternatives`) when the query as typed finds few matches,
and folio.search.unified runs it again with them. Trigram
similarity (pg_trgm) was the other candidate on PostgreSQL; it misses one-edit typos of short
words ("bule" and "blue" share one trigram of nine), which the neighbourhoods never do.
"""

from collections.abc import Iterable

from django.db import connection

from folio.search import backends
from folio.search.backends import ParsedQuery, placeholders

# Keys shorter than this have too many neighbours at distance 1 ("ab1" is one edit from
# hundreds of codes) to say which one was meant; longer ones (file names, long GTIN runs)
# would add many rows for little: typos are looked for in the first MAX_KEY characters.
MIN_KEY = 4
MAX_KEY = 48
# Candidates read for one query, at most: a bound on the work one request can ask for.
MAX_CANDIDATES = 1000


def variants(key: str) -> set[str]:
    """The key and every string made by deleting one of its characters."""
    key = key[:MAX_KEY]
    if len(key) < MIN_KEY:
        return set()
    return {key} | {key[:i] + key[i + 1 :] for i in range(len(key))}


def rows_for(entry_id: int, keys: Iterable[str]) -> list[tuple[str, int, str]]:
    """(variant, entry_id, key) rows of the deletion neighbourhoods of an entry's keys."""
    rows = []
    for key in dict.fromkeys(keys):
        short = key[:MAX_KEY]
        rows.extend((v, entry_id, short) for v in sorted(variants(short)))
    return rows


def within_one(a: str, b: str) -> bool:
    """True when a and b are at most one edit apart (substitution, insertion, deletion or
    adjacent transposition)."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    if la == lb:
        diffs = [i for i in range(la) if a[i] != b[i]]
        if len(diffs) == 1:
            return True
        return (
            len(diffs) == 2
            and diffs[1] == diffs[0] + 1
            and a[diffs[0]] == b[diffs[1]]
            and a[diffs[1]] == b[diffs[0]]
        )
    if la > lb:
        a, b = b, a
    # b is a with one character inserted: skip the first mismatch in b.
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    return a[i:] == b[i + 1 :]


def candidates(key: str, kinds: list[str]) -> list[tuple[str, str, str]]:
    """(kind, ref_id, matched key) of the entries of `kinds` with an identifier exactly one
    edit from `key`, best first (shortest length difference, then key). Empty when the key is
    too short to be told apart from its neighbours."""
    short = key[:MAX_KEY]
    wanted = sorted(variants(short))
    if not wanted or not kinds:
        return []
    sql = (
        "SELECT e.kind, e.ref_id, v.key FROM search_identifiervariant AS v "  # noqa: S608
        "JOIN search_entry AS e ON e.id = v.entry_id "
        f"WHERE v.variant IN ({placeholders(len(wanted))}) "
        f"AND e.kind IN ({placeholders(len(kinds))}) "
        "ORDER BY e.id LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*wanted, *kinds, MAX_CANDIDATES])
        rows = cursor.fetchall()
    found: dict[tuple[str, str], str] = {}
    for kind, ref_id, matched in rows:
        if matched != short and within_one(short, matched):
            found.setdefault((kind, ref_id), matched)
    return sorted(
        ((kind, ref, matched) for (kind, ref), matched in found.items()),
        key=lambda r: (abs(len(r[2]) - len(short)), r[2]),
    )


# --- words ----------------------------------------------------------------------------------

# Words shorter than MIN_KEY are not corrected (too many neighbours), nor are longer ones
# (no real word; a pasted string) or numbers (a typo'd number is another number).
MAX_WORD = 32
# Alternatives kept per misspelt word, nearest first.
MAX_ALTERNATIVES = 8
# Vocabulary rows read per query word, at most.
MAX_WORD_CANDIDATES = 200
_CHUNK = 500


def is_word(token: str) -> bool:
    return MIN_KEY <= len(token) <= MAX_WORD and not token.isdigit()


def words_in(texts: Iterable[str]) -> set[str]:
    """The vocabulary words of token texts (space-separated tokens, as the index stores)."""
    return {t for text in texts for t in text.split() if is_word(t)}


def add_terms(cursor, terms: set[str]) -> None:
    """Add the words not in the vocabulary yet, with their deletion neighbourhoods (in the
    caller's transaction: the index writer's)."""
    if not terms:
        return
    ordered = sorted(terms)
    known: set[str] = set()
    for start in range(0, len(ordered), _CHUNK):
        chunk = ordered[start : start + _CHUNK]
        cursor.execute(
            f"SELECT term FROM search_term WHERE term IN ({placeholders(len(chunk))})",  # noqa: S608
            chunk,
        )
        known.update(row[0] for row in cursor.fetchall())
    new = [t for t in ordered if t not in known]
    if not new:
        return
    backend = backends.current()
    backend.insert(cursor, "search_term", {"term": "text"}, [(t,) for t in new])
    backend.insert(
        cursor,
        "search_termvariant",
        {"variant": "text", "term": "text"},
        [(v, t) for t in new for v in sorted(variants(t))],
    )


def _rank(word: str, matched: str) -> tuple:
    # As for identifiers: same length (a wrong or swapped character) first, then the later
    # the edit the likelier, then alphabetical (a stable order).
    common = next(
        (i for i, (a, b) in enumerate(zip(word, matched, strict=False)) if a != b), len(word)
    )
    return (len(matched) != len(word), -common, matched)


def word_alternatives(q: ParsedQuery) -> dict[int, list[str]]:
    """{word index: the indexed words one edit away from it}, nearest first, for the words of
    the query long enough to tell apart. Only one-token words are looked at: "WB-750" is an
    identifier, whose typos `candidates` finds. The caller asks only when the query as typed
    finds few matches, so a word that is indexed but rare (a typo in one product's name)
    also brings its neighbours."""
    wanted = {i: word[0] for i, word in enumerate(q.words) if len(word) == 1 and is_word(word[0])}
    found: dict[int, list[str]] = {}
    if not wanted:
        return found
    with connection.cursor() as cursor:
        for i, w in wanted.items():
            wanted_variants = sorted(variants(w))
            cursor.execute(
                "SELECT DISTINCT term FROM search_termvariant "  # noqa: S608
                f"WHERE variant IN ({placeholders(len(wanted_variants))}) "
                "ORDER BY term LIMIT %s",
                [*wanted_variants, MAX_WORD_CANDIDATES],
            )
            near = [t for (t,) in cursor.fetchall() if t != w and within_one(w, t)]
            if near:
                found[i] = sorted(near, key=lambda t, w=w: _rank(w, t))[:MAX_ALTERNATIVES]
    return found


# Completions of a last word looked up for ranking, at most; more and the prefix is kept.
MAX_COMPLETIONS = 16


def completions(word: str) -> list[str] | None:
    """The indexed title/text words starting with `word` (itself included when indexed), or
    None when there are more than MAX_COMPLETIONS or `word` is no vocabulary word."""
    if not is_word(word):
        return None
    backend = backends.current()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT term FROM search_term WHERE "  # noqa: S608 (a constant condition)
            f"{backend._prefix_condition('term')} ORDER BY term LIMIT %s",
            [*backend._prefix_params(word), MAX_COMPLETIONS + 1],
        )
        found = [t for (t,) in cursor.fetchall()]
    return found if len(found) <= MAX_COMPLETIONS else None
