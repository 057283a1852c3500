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
    return {
        "hits": [{"kind": h.kind, "id": h.ref_id, "score": h.score} for h in result.hits],
        "next": result.next,
    }
