"""Typo tolerance for identifiers: find SKUs, GTINs and codes one edit away from a query.

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
"""

from collections.abc import Iterable

from django.db import connection

from folio.search.backends import placeholders

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
