from ninja import Query, Router, Schema

from folio.accounts.services import require
from folio.search import index

router = Router(tags=["search"])


class HitOut(Schema):
    kind: str
    id: int | str
    score: float


class SearchOut(Schema):
    hits: list[HitOut]
    next: str | None = None


@router.get(
    "/search",
    response=SearchOut,
    summary="Search products (and other kinds) by identifier prefix and words in any locale",
    description=(
        "Every word must match; the last one as a prefix, so `q=WB-75` finds WB-750-SS. "
        "An identifier (SKU, GTIN, code) equal to the query comes first, then identifiers "
        "starting with it, then the best text matches. Repeat `kind` to search several kinds. "
        "Pass `next` back as `after` for the following page."
    ),
)
def search(
    request,
    q: str = "",
    kind: list[str] = Query(None),
    limit: int = 50,
    after: str | None = None,
):
    kinds = kind or ["product"]
    for name in kinds:
        require(request.user, index.get_kind(name).permission)
    result = index.search(q, kinds=kinds, limit=limit, after=after)
    hits = result.hits
    if "asset" in kinds:
        # An agency finds only the assets of its collections (a page may come out shorter).
        from folio.search.unified import _visible_asset_ids

        visible = _visible_asset_ids(
            request.user, [int(h.ref_id) for h in hits if h.kind == "asset"]
        )
        hits = [h for h in hits if h.kind != "asset" or int(h.ref_id) in visible]
    return {
        "hits": [{"kind": h.kind, "id": h.ref_id, "score": h.score} for h in hits],
        "next": result.next,
    }


class UnifiedHitOut(Schema):
    kind: str
    id: int | str
    score: float
    sku: str | None = None
    title: str | None = None


class FacetValueOut(Schema):
    value: str | None
    count: int


class UnifiedOut(Schema):
    hits: list[UnifiedHitOut]
    facets: dict[str, list[FacetValueOut]]
    facets_capped: bool
    facet_sample: int | None = None
    next: str | None = None


@router.get(
    "/search/all",
    response=UnifiedOut,
    summary="Search products and assets at once, with typo tolerance, facet counts and pages",
    description=(
        "One query over products (SKU, GTIN, names and text in every locale) and assets "
        "(file name, title, alt text, tags). Every word must match, the last as a prefix. "
        "When no identifier equals or starts with the query, identifiers one typo away (a "
        "wrong, missing, extra or swapped character) are found too and rank above text "
        "matches; when the words find fewer than 10 matches, a word that is no indexed word "
        "is also tried as the indexed words one typo away (ranked below uncorrected text). "
        "`kind` (repeatable: product, asset) limits the kinds, by default every kind "
        "you may view. `facet` (repeatable: family, category, completeness, status, kind, "
        "tags, collections) asks for counts over the matches; completeness needs `channel` "
        "and `locale`. Up to 10,000 matches the counts are exact; above, they are over the "
        "first 10,000 in index order plus the identifier matches (`facets_capped`, "
        "`facet_sample`: how many objects were counted). The first 1,000 text matches and "
        "the identifier matches are ranked; other matches follow them, unranked (score 0). "
        "Hits are ordered by score, kind and id; pass `next` back as `after` (with the same "
        "`q` and `kind`) for the next page."
    ),
)
def search_all(
    request,
    q: str = "",
    kind: list[str] = Query(None),
    facet: list[str] = Query(None),
    limit: int = 50,
    channel: str | None = None,
    locale: str | None = None,
    after: str | None = None,
):
    from folio.search import unified

    return unified.search_all(
        q,
        user=request.user,
        kinds=kind or None,
        facets=facet or (),
        limit=limit,
        channel=channel,
        locale=locale,
        after=after,
    )
