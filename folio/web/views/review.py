"""Review: what waits for a decision, and a product's proposed changes together with the
pending files it uses, approved in one go (or rejected one by one, saying why).

Concurrent edits: the page sends back the product's version and each file's as it showed
them, and the services refuse an approval when the product changed since (the changes shown
are no longer what would be applied), a decision on a file that changed since, or on a
proposal someone else decided meanwhile (StaleWrite / Conflict). Nothing is decided then;
the page comes back as it is now, with a message, and status 409."""

from django.contrib import messages
from django.db.models import Count, Min, prefetch_related_objects
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from folio.accounts.services import require
from folio.assets import workflow
from folio.assets.models import Asset
from folio.assets.previews import preview_states
from folio.catalog import services as catalog
from folio.catalog.models import Proposal
from folio.errors import Conflict, InvalidInput
from folio.linking import review
from folio.web.views.base import page, posted_version

QUEUE_SIZE = 50


@page("catalog.view_product")
def review_index(request):
    products = list(
        Proposal.objects.filter(status=Proposal.Status.PENDING)
        .values("product__sku")
        .annotate(count=Count("id"), since=Min("proposed_at"))
        .order_by("since")[:QUEUE_SIZE]
    )
    # may_decide reads the user's groups once per asset; read them once here instead.
    prefetch_related_objects([request.user], "groups")
    assets = [a for a, _step in workflow.pending_for(request.user, limit=QUEUE_SIZE)]
    return render(
        request,
        "web/review/index.html",
        {
            "section": "review",
            "products": products,
            "assets": assets,
            "previews": preview_states(assets) if assets else {},
        },
    )


@page("catalog.view_product", methods=("GET", "POST"))
def review_page(request, sku: str):
    if request.method == "POST":
        try:
            return _decide(request, sku)
        except Conflict as exc:
            # Someone decided or changed something on this page since it was opened: show it
            # as it is now (the reviewer's comment kept) instead of an error page.
            stale = _(
                "This product's review changed since you opened the page — here is the "
                "current state; nothing was changed."
            )
            comment = request.POST.get("comment") or ""
            return _render(request, sku, stale=stale, why=exc.message, comment=comment, status=409)
    return _render(request, sku)


def _render(
    request, sku: str, *, stale: str = "", why: str = "", comment: str = "", status: int = 200
):
    bundle = review.review_bundle(sku, user=request.user)
    assets = list(Asset.objects.filter(pk__in=[a["id"] for a in bundle["assets"]]))
    return render(
        request,
        "web/review/product.html",
        {
            "section": "review",
            "bundle": bundle,
            "previews": preview_states(assets) if assets else {},
            # the version of each file as shown: a decision on a file changed since is refused
            "versions": {a["id"]: a["version"] for a in bundle["assets"]},
            "may_approve_any": any(p["may_approve"] for p in bundle["proposals"])
            or any(a["may_decide"] for a in bundle["assets"]),
            "stale": stale,
            "why": why,
            "comment": comment,
        },
        status=status,
    )


def _ids(values) -> list[int]:
    return [int(x) for x in values if str(x).isdigit()]


def _seen_versions(post) -> dict[int, int]:
    """{asset id: the version the page showed}, from its asset_version_<id> inputs; a file
    without one (an older page) is decided without the check, as the API does."""
    out = {}
    for name, raw in post.items():
        number = name.removeprefix("asset_version_")
        if number != name and number.isdigit() and raw.isdigit():
            out[int(number)] = int(raw)
    return out


def _decide(request, sku: str):
    action = request.POST.get("action") or ""
    comment = (request.POST.get("comment") or "").strip()
    back = reverse("web:review", args=[sku])
    if action == "approve":
        result = review.approve_together(
            sku,
            proposal_ids=_ids(request.POST.getlist("proposal")),
            asset_ids=_ids(request.POST.getlist("asset")),
            comment=comment,
            user=request.user,
            asset_versions=_seen_versions(request.POST),
            product_version=posted_version(request.POST.get("product_version")),
        )
        proposals, files = len(result["proposals"]), len(result["assets"])
        messages.success(
            request,
            _("Approved %(proposals)s and %(files)s.")
            % {
                "proposals": ngettext("%(n)s proposal", "%(n)s proposals", proposals)
                % {"n": proposals},
                "files": ngettext("%(n)s file", "%(n)s files", files) % {"n": files},
            },
        )
        return redirect(back)
    if not comment:
        raise InvalidInput(_("say why it is rejected"), details={"field": "comment"})
    kind, _sep, number = action.rpartition("-")
    if kind == "reject-proposal" and number.isdigit():
        require(request.user, "catalog.review_product")
        catalog.review_proposal(int(number), approve=False, comment=comment, user=request.user)
        messages.success(request, _("Proposal rejected."))
    elif kind == "reject-asset" and number.isdigit():
        require(request.user, "assets.approve_asset")
        workflow.decide(
            int(number),
            approve=False,
            comment=comment,
            user=request.user,
            expected_version=_seen_versions(request.POST).get(int(number)),
        )
        messages.success(request, _("File rejected."))
    else:
        raise InvalidInput(_("unknown action %(a)r") % {"a": action}, details={"field": "action"})
    return redirect(back)
