"""One query over products and assets: ranked hits, typo-tolerant identifiers, facet counts.

Hits come from the search index (folio.search.index: every word, the last as a prefix,
identifiers first). When no identifier equals or starts with the query, identifiers one edit
away are looked up too (folio.search.fuzzy), so "WB-750-SS-BLEU" finds WB-750-SS-BLUE; those
score FUZZY_SCORE, above every plain text match (text scores are below 1) and below exact
and prefix identifier matches (which, when there are any, make the lookup unnecessary).

Permissions: products need catalog.view_product, assets assets.view_asset; agency users see
only the assets of their collections (folio.assets.browse.visible_assets), in hits and in
facet counts alike.
"""

from collections.abc import Sequence

from django.db.models import Q

from folio.accounts.services import require
from folio.errors import InvalidInput, PermissionDenied
from folio.search import facets as facet_counts
from folio.search import fuzzy, index

KINDS = ("product", "asset")
# Scores: 2+ exact identifier, 1+ identifier prefix, about FUZZY_SCORE an identifier one edit
# away (see _fuzzy for the order among those), below 1 text only.
FUZZY_SCORE = 1.01
# Agency users may see few of the hits the index ranks first: at most this many more pages
# are read to fill theirs.
MAX_EXTRA_PAGES = 4


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


def _ranked(q: str, kinds: list[str], user, limit: int) -> list[index.Hit]:
    """The best `limit` visible hits of the index."""
    hits: list[index.Hit] = []
    after = None
    for _ in range(1 + MAX_EXTRA_PAGES):
        page = index.search(q, kinds=kinds, limit=limit, after=after)
        visible = _visible_asset_ids(user, [h.ref_id for h in page if h.kind == "asset"])
        hits += [h for h in page if h.kind != "asset" or h.ref_id in visible]
        if len(hits) >= limit or page.next is None:
            break
        after = page.next
    return hits[:limit]


def _fuzzy(key: str, kinds: list[str], user) -> list[index.Hit]:
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
    visible = _visible_asset_ids(user, [h.ref_id for h in found if h.kind == "asset"])
    return [h for h in found if h.kind != "asset" or h.ref_id in visible]


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


def _matching(kind: str, q: str, fuzzy_ids: list, user):
    """The queryset of every `kind` object the query matches (text or one edit away)."""
    from folio.assets.browse import visible_assets
    from folio.assets.models import Asset
    from folio.catalog.models import Product

    condition = Q(pk__in=index.matching_ids(q, kind))
    if fuzzy_ids:
        condition |= Q(pk__in=fuzzy_ids)
    if kind == "product":
        return Product.objects.filter(condition)
    return visible_assets(user, Asset.objects.filter(condition))


def search_all(
    q: str,
    *,
    user,
    kinds: Sequence[str] | None = None,
    facets: Sequence[str] = (),
    limit: int = 50,
    channel: str | None = None,
    locale: str | None = None,
) -> dict:
    """Hits for `q` over products and assets, best first, and facet counts over every match.

    kinds: the kinds to search (None: those the user may view; naming one the user may not
    view is PermissionDenied). facets: names from folio.search.facets.FACETS; completeness
    counts complete/incomplete for `channel` and `locale`. A blank query matches nothing.
    """
    names = _kinds(user, kinds)
    wanted = facet_counts.check(list(facets), channel=channel, locale=locale)
    if not 1 <= limit <= index.MAX_LIMIT:
        raise InvalidInput(
            f"limit must be between 1 and {index.MAX_LIMIT}", details={"field": "limit"}
        )
    result = {"hits": [], "facets": {}, "facets_capped": False, "facet_sample": None}
    parsed = index.parse_query(q)
    if parsed is None:
        result["facets"] = {f: [] for f in wanted if facet_counts.FACETS[f][0] in names}
        return result

    hits = _ranked(q, names, user, limit)
    fuzzy_hits: list[index.Hit] = []
    if not any(h.score >= 1 for h in hits):
        fuzzy_hits = _fuzzy(parsed.key, names, user)
    best: dict[tuple[str, object], index.Hit] = {}
    for hit in [*hits, *fuzzy_hits]:
        key = (hit.kind, hit.ref_id)
        if key not in best or hit.score > best[key].score:
            best[key] = hit
    ordered = sorted(best.values(), key=lambda h: (-h.score, h.kind, str(h.ref_id)))[:limit]
    labels = _labels(ordered)
    result["hits"] = [
        {"kind": h.kind, "id": h.ref_id, "score": h.score, **labels.get((h.kind, h.ref_id), {})}
        for h in ordered
        if (h.kind, h.ref_id) in labels  # indexed but since deleted: not shown
    ]

    if wanted:
        from folio.assets.browse import is_restricted, visible_collections

        collections = visible_collections(user) if is_restricted(user) else None
        for kind in names:
            names_for_kind = [f for f in wanted if facet_counts.FACETS[f][0] == kind]
            if not names_for_kind:
                continue
            fuzzy_ids = [h.ref_id for h in fuzzy_hits if h.kind == kind]
            matching, sampled = facet_counts.sample(_matching(kind, q, fuzzy_ids, user))
            if sampled:
                result["facets_capped"] = True
                result["facet_sample"] = sampled
            for name in names_for_kind:
                result["facets"][name] = facet_counts.count(
                    name,
                    matching,
                    channel=channel,
                    locale=locale,
                    collections=collections,
                )
    return result
