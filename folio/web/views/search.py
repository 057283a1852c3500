"""Finding a SKU from the header of every page, the SKU 360 page it lands on, and comparing
products side by side."""

from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from folio.errors import InvalidInput, NotFound
from folio.linking import compare, sku360
from folio.search import unified
from folio.web.views.base import channel_context, page


@page("catalog.view_product")
def sku_search(request):
    """A typed SKU, SKU prefix or GTIN: straight to its SKU 360 page when it names one
    product, else the candidates (including SKUs one typo away)."""
    q = (request.GET.get("q") or "").strip()
    skus = sku360.resolve_sku(q) if q else []
    if len(skus) == 1:
        return redirect("web:sku360", sku=skus[0])
    suggestions = []
    if q and not skus:
        hits = unified.search_all(q, user=request.user, kinds=["product"], limit=10)["hits"]
        suggestions = [h["sku"] for h in hits if h.get("sku")]
    return render(
        request,
        "web/search/sku_results.html",
        {"sku_query": q, "skus": skus, "suggestions": suggestions},
    )


@page("catalog.view_product")
def sku360_page(request, sku: str):
    ctx = channel_context(request, required=False)
    data = sku360.sku360(
        sku, user=request.user, channel=ctx["channel"] or None, locale=ctx["locale"] or None
    )
    roles: dict[str, list] = {}
    for link in data["links"]:
        roles.setdefault(link["role"], []).append(link)
    return render(
        request,
        "web/search/sku360.html",
        {"section": "products", **ctx, "data": data, "roles": roles, "sku_query": sku},
    )


@page("catalog.view_product")
def compare_page(request):
    ctx = channel_context(request)
    skus = [s.strip() for raw in request.GET.getlist("sku") for s in raw.split(",") if s.strip()]
    context = {"section": "compare", **ctx, "skus": skus, "result": None}
    if skus:
        try:
            context["result"] = compare.compare(
                skus, channel=ctx["channel"], locale=ctx["locale"], user=request.user
            )
        except (InvalidInput, NotFound) as exc:
            context["error"] = exc.message
    context["only_differences"] = request.GET.get("differences") == "1"
    context["hint"] = _("Add SKUs one per field or comma-separated.")
    return render(request, "web/search/compare.html", context)
