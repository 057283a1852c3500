"""One query over products and assets: ranked hits, typo tolerance, facet counts, paging.

How one request is answered, with bounded work however many objects match:

1. The text match runs once, reading the ids of at most candidate_limit() + 1 matching
   entries in index order (folio.search.backends.bounded_sql), without scores.
2. The first RANK_LIMIT of them get their text score (bm25 on SQLite, ts_rank on
   PostgreSQL; backends.rank_range_sql, read between their first and last id): they are the
   **ranked set**, together with the entries whose identifier equals or starts with the
   query (read from the identifier index, bounded the same way) and, when there are none,
   identifiers one edit away (folio.search.fuzzy).
3. When the text match finds fewer than FEW_HITS entries, the query runs once more with
   its words' indexed neighbours one edit away as alternatives ("stainles steel" finds
   stainless steel); those matches rank below the uncorrected ones.
4. Facets count the ids read and the ranked set: every match when there are at most
   candidate_limit() (exact counts), else the first candidate_limit() in index order plus
   the identifier matches, and the response says so (`facets_capped`, `facet_sample`).
   The family and category facets count the facet keys read with each product's id in step
   1 (folio.search.facets), not the product rows.
5. Hits are the ranked set ordered by (score descending, kind, id), a page at a time; past
   it, the other matches follow unranked, in index order, with score 0. `next` is an opaque
   cursor for the following page.

Scores: 2+ an identifier equals the query, 1+ an identifier starts with it, about 1.01
(FUZZY_SCORE) an identifier one edit away, 0.5–1 a text match, below 0.5 a text match
through a corrected word, 0 unranked.

Permissions: products need catalog.view_product, assets assets.view_asset; agency users see
only the assets of their collections (folio.assets.browse.visible_assets), in hits and in
facet counts alike.
"""

import base64
import bisect
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import connection
from django.db.models.expressions import RawSQL

from folio.accounts.services import require
from folio.errors import InvalidInput, PermissionDenied
from folio.search import backends, fuzzy, index
from folio.search import facets as facet_counts

KINDS = ("product", "asset")
# Scores: 2+ exact identifier, 1+ identifier prefix, about FUZZY_SCORE an identifier one edit
# away (see _fuzzy for the order among those), 0.5–1 text, below 0.5 corrected text.
FUZZY_SCORE = 1.01
# Fewer text matches than this and a word of the query that no indexed word is: the word's
# neighbours one edit away are tried too.
FEW_HITS = 10
# Text matches ranked (scored) per query: the first this many in index order. Computing a
# score costs a few microseconds per match plus, once, reading how many documents hold each
# word; beyond these the matches follow unranked.
RANK_LIMIT = 1_000
# Rows read per round past the ranked set (unranked matches, in index order).
TAIL_CHUNK = 200
CURSOR_VERSION = 1


def candidate_limit() -> int:
    """Matches read, ranked and counted per query (folio.search.facets.FACET_LIMIT)."""
    return facet_counts.FACET_LIMIT


def _kinds(user, kinds: Sequence[str] | None) -> list[str]:
    if kinds is None or len(kinds) == 0:
        # Not named: every kind the user may see.
        allowed = [k for k in KINDS if user.has_perm(index.get_kind(k).permission)]
        if not allowed:
            raise PermissionDenied("you may search neither products nor assets")
        return allowed
    names = list(dict.fromkeys([kinds] if isinstance(kinds, str) else kinds))
    for name in names:
        if name not in KINDS:
            raise InvalidInput(
                f"unknown kind {name!r}; kinds are {', '.join(KINDS)}",
                details={"field": "kind", "value": str(name)[:100]},
            )
        require(user, index.get_kind(name).permission)
    return names


def _visible_asset_ids(user, ids) -> set[int]:
    from folio.assets.browse import is_restricted, visible_assets
    from folio.assets.models import Asset

    if not ids or not is_restricted(user):
        return set(ids)
    return set(visible_assets(user, Asset.objects.filter(pk__in=ids)).values_list("pk", flat=True))


def _fuzzy(key: str, kinds: list[str]) -> list[index.Hit]:
    found = []
    short = key[: fuzzy.MAX_KEY]
    for kind, ref, matched in fuzzy.candidates(key, kinds):
        # Same length (a substitution or transposition) before a missing or extra character;
        # then the later the edit, the better: "WB-7500-SS-BLUE" is WB-750-SS-BLUE with a
        # slip of the finger sooner than WB-500-SS-BLUE with a 7 in front.
        common = next(
            (i for i, (a, b) in enumerate(zip(short, matched, strict=False)) if a != b), len(short)
        )
        score = FUZZY_SCORE - (0.01 if len(matched) != len(short) else 0.0)
        score += 0.005 * common / len(short)
        found.append(index.Hit(kind, index.KINDS[kind].to_python(ref), score))
    return found


def _labels(hits: list[index.Hit]) -> dict[tuple[str, object], dict]:
    from folio.assets.models import Asset
    from folio.catalog.models import Product

    labels: dict[tuple[str, object], dict] = {}
    product_ids = [h.ref_id for h in hits if h.kind == "product"]
    asset_ids = [h.ref_id for h in hits if h.kind == "asset"]
    if product_ids:
        for pk, sku in Product.objects.filter(pk__in=product_ids).values_list("pk", "sku"):
            labels[("product", pk)] = {"sku": sku}
    if asset_ids:
        for pk, title in Asset.objects.filter(pk__in=asset_ids).values_list("pk", "title"):
            labels[("asset", pk)] = {"title": title}
    return labels


def _text_score(s: float) -> float:
    return s / (1.0 + s)


def _sort_key(hit: index.Hit) -> tuple:
    return (-hit.score, hit.kind, hit.ref_id)


@dataclass
class _Matches:
    """What one query matched: the ranked set, the objects to count, how to read on."""

    expression: str
    ranked: list[index.Hit] = field(default_factory=list)  # best first
    counted: dict[str, list] = field(default_factory=dict)  # kind → ids the facets count
    capped: bool = False  # more text matches than candidate_limit()
    # The last entry id of the ranked text matches when more follow (unranked), else None.
    boundary: int | None = None
    # product id → facet keys, for the counted products whose entry has them
    keys: dict[int, str] = field(default_factory=dict)


def _read(backend, expression: str, kinds: list[str], limit: int, after_id=None, keys=False):
    sql, params = backend.bounded_sql(expression, kinds, limit, after_id, rank=False, keys=keys)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _ranking_expression(backend, parsed, expression: str, alternatives: dict) -> str:
    """The expression text scores are computed with: the match expression, except that a
    last word typed as a prefix stands for its indexed title/text completions ("lamp" for
    `lamp*`). A prefix of four or more characters has no prefix index: SQLite would gather
    every matching term's document list a second time to weigh the word, which costs more
    than the rest of the query for a common word; a match only through an identifier
    token starting with the prefix then scores as if the word were absent."""
    last = len(parsed.words) - 1
    word = parsed.words[last]
    if not parsed.prefix or len(word) != 1 or len(word[0]) <= backends.MIN_PREFIX + 1:
        return expression
    found = fuzzy.completions(word[0])
    if not found:
        return expression
    whole = backends.ParsedQuery(words=parsed.words, key=parsed.key, prefix=False)
    others = [t for t in found if t != word[0]] + list(alternatives.get(last, ()))
    return backend.match_expression(whole, {**alternatives, last: others})


def _collect(parsed: backends.ParsedQuery, kinds: list[str], user) -> _Matches:
    backend = backends.current()
    cap = candidate_limit()
    expression = backend.match_expression(parsed)
    # The one text match: entry ids in index order, no score yet.
    rows = _read(backend, expression, kinds, cap + 1, keys=True)
    exact_ids = None  # None: every text match is exact (no corrected word)
    alternatives: dict[int, list[str]] = {}
    if len(rows) < FEW_HITS:
        alternatives = fuzzy.word_alternatives(parsed)
        if alternatives:
            exact_ids = {row[0] for row in rows}
            expression = backend.match_expression(parsed, alternatives)
            rows = _read(backend, expression, kinds, cap + 1, keys=True)
    found = _Matches(expression=expression, capped=len(rows) > cap)
    rows = rows[:cap]
    ranked_rows = rows[:RANK_LIMIT]
    if found.capped or len(rows) > len(ranked_rows):
        found.boundary = ranked_rows[-1][0]

    text: dict[int, float] = {}
    ranking = _ranking_expression(backend, parsed, expression, alternatives)
    with connection.cursor() as cursor:
        if ranked_rows:
            # Text scores for the first RANK_LIMIT matches only, read between their ids.
            cursor.execute(*backend.rank_range_sql(ranking, ranked_rows[0][0], ranked_rows[-1][0]))
            text = {entry_id: _text_score(float(s)) for entry_id, s in cursor.fetchall()}
        cursor.execute(*backend.bounded_tier_sql(parsed, kinds, cap))
        tiers = cursor.fetchall()
        # Identifier matches past the ranked text matches: their text score too.
        unscored = [entry_id for entry_id, *_ in tiers if entry_id not in text]
        if unscored:
            cursor.execute(*backend.rank_sql(expression, unscored))
            text |= {entry_id: _text_score(float(s)) for entry_id, s in cursor.fetchall()}

    scores: dict[int, float] = {}
    entries: dict[int, tuple[str, str]] = {}
    for entry_id, kind, ref, _, _ in ranked_rows:
        t = text.get(entry_id, 0.0)
        exact = exact_ids is None or entry_id in exact_ids
        scores[entry_id] = 0.5 + t / 2 if exact else t / 2
        entries[entry_id] = (kind, ref)
    for entry_id, kind, ref, tier in tiers:
        entries[entry_id] = (kind, ref)
        scores[entry_id] = tier + text.get(entry_id, 0.0)

    best: dict[tuple[str, object], index.Hit] = {}
    for entry_id, (kind, ref) in entries.items():
        hit = index.Hit(kind, index.KINDS[kind].to_python(ref), scores[entry_id])
        best[(hit.kind, hit.ref_id)] = hit
    if not tiers:
        for hit in _fuzzy(parsed.key, kinds):
            key = (hit.kind, hit.ref_id)
            if key not in best or hit.score > best[key].score:
                best[key] = hit
    visible = _visible_asset_ids(user, [ref for kind, ref in best if kind == "asset"])
    found.ranked = sorted(
        (h for h in best.values() if h.kind != "asset" or h.ref_id in visible), key=_sort_key
    )
    # What the facets count: the text matches read and the ranked hits (identifier matches
    # past them, typo'd identifiers), each once; for products, with the facet keys read.
    for kind in kinds:
        spec = index.KINDS[kind]
        to_python = int if spec.id_type == "int" else spec.to_python
        if kind == "product":
            read = {to_python(ref): keys for _, k, ref, _, keys in rows if k == kind}
            found.keys = {ref: keys for ref, keys in read.items() if keys is not None}
            ids = set(read)
        else:
            ids = {to_python(ref) for _, k, ref, _, _ in rows if k == kind}
        ids.update(h.ref_id for h in found.ranked if h.kind == kind)
        found.counted[kind] = sorted(ids)
    return found


# --- cursors ----------------------------------------------------------------------------------


def _fingerprint(parsed: backends.ParsedQuery, kinds: list[str]) -> str:
    text = json.dumps([parsed.words, parsed.prefix, sorted(kinds)])
    return hashlib.blake2b(text.encode(), digest_size=6).hexdigest()


def _encode(fingerprint: str, position: list) -> str:
    raw = json.dumps([CURSOR_VERSION, fingerprint, *position], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(after: str, fingerprint: str) -> list:
    def invalid(reason: str):
        return InvalidInput(
            f"after must be the `next` value of the same search ({reason})",
            details={"field": "after", "value": str(after)[:100]},
        )

    try:
        raw = base64.urlsafe_b64decode(str(after) + "=" * (-len(str(after)) % 4))
        data = json.loads(raw)
    except (ValueError, TypeError):
        raise invalid("not a cursor") from None
    if not isinstance(data, list) or len(data) < 3 or data[0] != CURSOR_VERSION:
        raise invalid("not a cursor")
    if data[1] != fingerprint:
        raise invalid("it belongs to another query")
    position = data[2:]
    if position[0] == "r" and len(position) == 4:
        _, score, kind, ref = position
        if isinstance(score, int | float) and kind in index.KINDS and isinstance(ref, int | str):
            return position
    if position[0] == "t" and len(position) == 2 and isinstance(position[1], int):
        return position
    raise invalid("not a cursor")


# --- paging -----------------------------------------------------------------------------------


def _tail(found: _Matches, kinds: list[str], user, after_id: int, want: int):
    """Up to `want` unranked matches after entry `after_id`, and the id to resume after (None
    when there are no more)."""
    backend = backends.current()
    ranked = {(h.kind, h.ref_id) for h in found.ranked}
    hits: list[index.Hit] = []
    while True:
        rows = _read(backend, found.expression, kinds, TAIL_CHUNK, after_id)
        page = []
        for entry_id, kind, ref, *_ in rows:
            hit = index.Hit(kind, index.KINDS[kind].to_python(ref), 0.0)
            if (hit.kind, hit.ref_id) not in ranked:
                page.append((entry_id, hit))
        visible = _visible_asset_ids(user, [h.ref_id for _, h in page if h.kind == "asset"])
        for entry_id, hit in page:
            if hit.kind == "asset" and hit.ref_id not in visible:
                continue
            hits.append(hit)
            if len(hits) == want:
                return hits, entry_id
        if len(rows) < TAIL_CHUNK:
            return hits, None
        after_id = rows[-1][0]


def _page(found: _Matches, kinds: list[str], user, position: list | None, limit: int):
    """(hits of the page, the position after it or None)."""
    hits: list[index.Hit] = []
    if position is None or position[0] == "r":
        start = 0
        if position is not None:
            _, score, kind, ref = position
            keys = [_sort_key(h) for h in found.ranked]
            start = bisect.bisect_right(keys, (-score, kind, ref))
        hits = found.ranked[start : start + limit]
        if start + limit < len(found.ranked):
            last = hits[-1]
            return hits, ["r", last.score, last.kind, last.ref_id]
        if found.boundary is None:
            return hits, None
        tail_after = found.boundary
        if len(hits) == limit:
            return hits, ["t", tail_after]
    else:
        tail_after = position[1]
    more, resume = _tail(found, kinds, user, tail_after, limit - len(hits))
    hits += more
    if resume is None:
        return hits, None
    return hits, ["t", resume]


# --- facets -----------------------------------------------------------------------------------


def _ids_in(ids: list) -> RawSQL:
    sql, params = backends.current().ids_sql(ids)
    return RawSQL(sql, params)  # noqa: S611 (constant SQL, the ids are one parameter)


def _matching(kind: str, ids_in: RawSQL, user):
    """The queryset of the counted `kind` objects (ids_in: their ids, as a subquery)."""
    from folio.assets.browse import visible_assets
    from folio.assets.models import Asset
    from folio.catalog.models import Product

    if kind == "product":
        return Product.objects.filter(pk__in=ids_in)
    return visible_assets(user, Asset.objects.filter(pk__in=ids_in))


def search_all(
    q: str,
    *,
    user,
    kinds: Sequence[str] | None = None,
    facets: Sequence[str] = (),
    limit: int = 50,
    channel: str | None = None,
    locale: str | None = None,
    after: str | None = None,
) -> dict:
    """Hits for `q` over products and assets, best first, facet counts and the cursor of the
    next page (`next`, None on the last page; pass it back as `after`).

    kinds: the kinds to search (None: those the user may view; naming one the user may not
    view is PermissionDenied). facets: names from folio.search.facets.FACETS; completeness
    counts complete/incomplete for `channel` and `locale`. A blank query matches nothing.
    Facet counts are exact up to candidate_limit() matches, over the first that many in
    index order above it (`facets_capped`, `facet_sample`: how many objects were counted).
    """
    names = _kinds(user, kinds)
    wanted = facet_counts.check(list(facets), channel=channel, locale=locale)
    if not 1 <= limit <= index.MAX_LIMIT:
        raise InvalidInput(
            f"limit must be between 1 and {index.MAX_LIMIT}", details={"field": "limit"}
        )
    result = {"hits": [], "facets": {}, "facets_capped": False, "facet_sample": None, "next": None}
    parsed = index.parse_query(q)
    if parsed is None:
        if after not in (None, ""):
            raise InvalidInput("after belongs to another query", details={"field": "after"})
        result["facets"] = {f: [] for f in wanted if facet_counts.FACETS[f][0] in names}
        return result
    fingerprint = _fingerprint(parsed, names)
    position = _decode(after, fingerprint) if after not in (None, "") else None

    found = _collect(parsed, names, user)
    hits, next_position = _page(found, names, user, position, limit)
    labels = _labels(hits)
    result["hits"] = [
        {"kind": h.kind, "id": h.ref_id, "score": h.score, **labels.get((h.kind, h.ref_id), {})}
        for h in hits
        if (h.kind, h.ref_id) in labels  # indexed but since deleted: not shown
    ]
    if next_position is not None:
        result["next"] = _encode(fingerprint, next_position)

    if wanted:
        from folio.assets.browse import is_restricted, visible_collections

        collections = visible_collections(user) if is_restricted(user) else None
        if found.capped:
            result["facets_capped"] = True
            result["facet_sample"] = sum(len(ids) for ids in found.counted.values())
        for kind in names:
            names_for_kind = [f for f in wanted if facet_counts.FACETS[f][0] == kind]
            if not names_for_kind:
                continue
            ids = found.counted.get(kind) or []
            if not ids:
                for name in names_for_kind:
                    result["facets"][name] = []
                continue
            counted = {}
            by_key = [n for n in names_for_kind if n in facet_counts.KEY_PREFIX]
            if kind == "product" and by_key:
                # Family and category from the facet keys read with the matches.
                keys = found.keys
                counted = facet_counts.count_keys(
                    by_key, [keys[i] for i in ids if i in keys], [i for i in ids if i not in keys]
                )
            rest = [n for n in names_for_kind if n not in counted]
            if rest:
                ids_in = _ids_in(ids)
                matching = _matching(kind, ids_in, user)
            for name in names_for_kind:
                if name in counted:
                    result["facets"][name] = counted[name]
                    continue
                result["facets"][name] = facet_counts.count(
                    name,
                    matching,
                    channel=channel,
                    locale=locale,
                    collections=collections,
                    ids=ids_in if kind == "product" else None,
                )
    return result
