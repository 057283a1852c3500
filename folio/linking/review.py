"""Review together: a product's pending proposals and the pending files it uses, decided in
one go.

`approve_together` checks every item first and refuses the whole request, naming each
refusal, when any item cannot be approved by this user; otherwise it approves them all in one
transaction, so a failure half-way (a proposal that no longer applies) leaves nothing
approved either.

An approval is based on what the reviewer saw: the bundle carries the product's version and
each file's, and a request sending them back is refused (StaleWrite, nothing approved) when
the product or a file changed since, or a proposal was decided meanwhile — the diff shown is
no longer what would be applied.
"""

from django.db import transaction
from django.db.models import Q

from folio.accounts.services import require
from folio.assets import workflow
from folio.assets.models import Asset, Review, ReviewWorkflow
from folio.catalog import services as catalog
from folio.catalog import values as v
from folio.catalog.models import Product, Proposal
from folio.errors import (
    Conflict,
    FolioError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    StaleWrite,
)
from folio.linking.models import Link
from folio.linking.sku360 import format_value, load_attributes

PENDING_ASSET = (Asset.Status.DRAFT, Asset.Status.IN_REVIEW)
FIELDS = ("enabled", "family", "parent", "categories", "groups")
# Why an item is refused: the user may not approve it, it cannot be approved as it is, or
# it changed since the reviewer saw it.
PERMISSION, STATE, STALE = "permission", "state", "stale"


def _product(sku: str) -> Product:
    product = (
        Product.objects.select_related("family", "parent__parent")
        .prefetch_related("categories", "groups")
        .filter(sku=sku)
        .first()
    )
    if product is None:
        raise NotFound(f"no product with SKU {sku!r}", details={"sku": sku})
    return product


def _field_value(product: Product, name: str):
    if name == "enabled":
        return product.enabled
    if name == "family":
        return product.family.code if product.family_id else None
    if name == "parent":
        return product.parent.code if product.parent_id else None
    return sorted(x.code for x in getattr(product, name).all())


def proposal_diff(product: Product, proposal: Proposal, resolved: dict, attributes) -> list[dict]:
    """Old (live, inherited values resolved) → new for every value and field the proposal
    changes; unchanged entries are left out."""
    out = []
    changes = proposal.changes or {}
    for name in FIELDS:
        if name in changes:
            old = _field_value(product, name)
            new = changes[name]
            if isinstance(new, list):
                new = sorted(new)
            if old != new:
                out.append({"field": name, "old": old, "new": new})
    for code, entries in sorted((changes.get("values") or {}).items()):
        a = attributes.get(code)
        for e in entries or []:
            locale, scope = e.get("locale"), e.get("scope")
            old = v.value_of(resolved, code, locale, scope)
            new = e.get("data")
            if old == new:
                continue
            out.append(
                {
                    "field": "values",
                    "attribute": code,
                    "label": a.label(locale) if a else code,
                    "locale": locale,
                    "scope": scope,
                    "old": old,
                    "new": new,
                    "old_display": format_value(a, old, locale),
                    "new_display": format_value(a, new, locale),
                }
            )
    return out


def _pending_assets(product: Product, user) -> list[tuple[Asset, list[dict], object]]:
    """The product's linked assets in draft or in review, each with its links and review
    state (current version's decisions, in bulk)."""
    # Every scope counts here (a locale- or channel-only image is used all the same), so
    # this reads the product's and its models' links directly rather than one context's.
    chain = catalog.model_chain(product)
    by_asset: dict[int, list[dict]] = {}
    for asset_id, role in Link.objects.filter(
        Q(product=product) | Q(product_model__in=chain)
    ).values_list("asset_id", "role"):
        by_asset.setdefault(asset_id, []).append({"role": role})
    from folio.assets.browse import visible_assets

    qs = Asset.objects.all() if user is None else visible_assets(user)
    assets = list(
        qs.filter(pk__in=list(by_asset), status__in=PENDING_ASSET)
        .select_related("current_version")
        .prefetch_related("collections__workflow")
        .order_by("id")
    )
    reviews: dict[int, list[Review]] = {}
    for r in Review.objects.filter(asset__in=assets).select_related("decided_by").order_by("id"):
        reviews.setdefault(r.asset_id, []).append(r)
    workflows = list(ReviewWorkflow.objects.all())
    out = []
    for asset in assets:
        state = workflow.review_state(
            asset,
            reviews=reviews.get(asset.pk, []),
            workflow=workflow.workflow_for(asset, workflows=workflows),
        )
        out.append((asset, by_asset[asset.pk], state))
    return out


def _asset_refusal(asset: Asset, state, user) -> tuple[str, str] | None:
    """(kind, why) `user` cannot approve the next step of `asset` now, kind "permission" or
    "state"; None when they can."""
    if asset.status != Asset.Status.IN_REVIEW:
        return (
            STATE,
            f"asset {asset.pk} ({asset.title}) is {asset.status}; submit it for review first",
        )
    step = state.next_step
    if step is None:
        return STATE, f"asset {asset.pk} ({asset.title}) has every step approved already"
    if user is None or not workflow.may_decide(user, step):
        if step.get("group"):
            return PERMISSION, (
                f"asset {asset.pk} ({asset.title}): step {step['name']} is decided by members "
                f"of group {step['group']}"
            )
        return PERMISSION, (
            f"asset {asset.pk} ({asset.title}): your role does not allow approving assets "
            "(assets.approve_asset)"
        )
    version = asset.current_version
    if version and version.uploaded_by_id is not None and version.uploaded_by_id == user.pk:
        return PERMISSION, (
            f"asset {asset.pk} ({asset.title}): you uploaded version {version.number}, "
            "so someone else approves it"
        )
    return None


def _proposal_refusal(proposal: Proposal, user) -> tuple[str, str] | None:
    if user is None or not user.has_perm("catalog.review_product"):
        return PERMISSION, f"proposal {proposal.pk}: only catalog reviewers approve proposals"
    if proposal.status != Proposal.Status.PENDING:
        # someone decided it after the reviewer's page (or client) read it
        return STALE, f"proposal {proposal.pk} is {proposal.status} already"
    if proposal.proposed_by_id == user.pk:
        return (
            PERMISSION,
            f"proposal {proposal.pk}: a proposal is approved by someone other than its author",
        )
    return None


def review_bundle(sku: str, *, user) -> dict:
    """The product's pending proposals with their diff against the live values, and its
    pending linked assets with the step due and whether `user` may decide it."""
    if user is not None:
        require(user, "catalog.view_product")
    product = _product(sku)
    resolved = catalog.resolved_values(product)
    proposals = list(
        Proposal.objects.filter(product=product, status=Proposal.Status.PENDING)
        .select_related("proposed_by")
        .order_by("proposed_at", "id")
    )
    codes = {c for p in proposals for c in (p.changes or {}).get("values", {})}
    attributes = load_attributes(codes) if codes else {}
    out_proposals = []
    for p in proposals:
        refusal = _proposal_refusal(p, user)
        out_proposals.append(
            {
                "id": p.pk,
                "proposed_by": p.proposed_by.username if p.proposed_by else None,
                "proposed_at": p.proposed_at,
                "stale": p.base_version != product.version,
                "diff": proposal_diff(product, p, resolved, attributes),
                "may_approve": refusal is None,
                "refusal": refusal[1] if refusal else None,
            }
        )
    out_assets = []
    for asset, links, state in _pending_assets(product, user):
        refusal = _asset_refusal(asset, state, user)
        out_assets.append(
            {
                "id": asset.pk,
                "title": asset.title,
                "status": asset.status,
                "version": asset.version,
                "roles": sorted({link["role"] for link in links}),
                "workflow": state.workflow.code,
                "next_step": state.next_step,
                "approved_steps": state.approved_steps,
                "may_decide": refusal is None,
                "refusal": refusal[1] if refusal else None,
            }
        )
    return {
        "sku": product.sku,
        # sent back when approving: an approval from an earlier state is refused
        "version": product.version,
        "proposals": out_proposals,
        "assets": out_assets,
    }


def _stale_product(product: Product, expected: int | None) -> dict | None:
    if expected is None or product.version == expected:
        return None
    return {
        "sku": product.sku,
        "kind": STALE,
        "reason": (
            f"product {product.sku} was changed by someone else (you saw version {expected}, "
            f"it is now at {product.version}); the changes shown are no longer what would "
            "be applied"
        ),
    }


def approve_together(
    sku: str,
    *,
    proposal_ids=(),
    asset_ids=(),
    comment: str = "",
    user,
    asset_versions=None,
    product_version: int | None = None,
) -> dict:
    """Approve the product's proposals and the next review step of its pending assets, all or
    nothing. Refused before anything is written, with every refusal named in
    details["refusals"]: 403 when a permission is missing; StaleWrite (409) when the request
    is based on an earlier state — `product_version` (the bundle's "version") or
    `asset_versions` ({asset id: the version seen}) older than the current one, or a proposal
    decided meanwhile; else 409. Versions left out are not checked (an older client)."""
    asset_versions = {int(k): int(v) for k, v in (asset_versions or {}).items()}
    if user is None:
        raise PermissionDenied("approving needs a user (the reviewer)")
    require(user, "catalog.view_product")
    proposal_ids = list(dict.fromkeys(int(i) for i in proposal_ids))
    asset_ids = list(dict.fromkeys(int(i) for i in asset_ids))
    if not proposal_ids and not asset_ids:
        raise InvalidInput(
            "name the proposals and assets to approve", details={"field": "proposal_ids"}
        )
    product = _product(sku)
    refusals: list[dict] = []
    if stale := _stale_product(product, product_version):
        refusals.append(stale)
    proposals = {p.pk: p for p in Proposal.objects.filter(product=product, pk__in=proposal_ids)}
    for pid in proposal_ids:
        p = proposals.get(pid)
        refusal = (
            (STATE, f"proposal {pid} is not a proposal for {sku}")
            if p is None
            else _proposal_refusal(p, user)
        )
        if refusal:
            refusals.append({"proposal_id": pid, "kind": refusal[0], "reason": refusal[1]})
    pending = {asset.pk: (asset, state) for asset, _, state in _pending_assets(product, user)}
    for aid in asset_ids:
        seen = asset_versions.get(aid)
        if aid not in pending:
            refusal = (STATE, f"asset {aid} is not a pending file linked to {sku}")
            if seen is not None and Asset.objects.filter(pk=aid).exclude(version=seen).exists():
                # it was pending when seen: decided (or changed) by someone else since
                refusal = (STALE, f"asset {aid} was changed by someone else since version {seen}")
        elif seen is not None and pending[aid][0].version != seen:
            asset = pending[aid][0]
            refusal = (
                STALE,
                f"asset {aid} ({asset.title}) was changed by someone else (you saw version "
                f"{seen}, it is now at {asset.version})",
            )
        else:
            refusal = _asset_refusal(*pending[aid], user)
        if refusal:
            refusals.append({"asset_id": aid, "kind": refusal[0], "reason": refusal[1]})
    if refusals:
        _refuse(product, refusals)
    approved_proposals, approved_assets = [], []
    current = None
    try:
        with transaction.atomic():
            # Locked, and checked again: a change between the checks above and here is
            # refused too (each file's version is checked by workflow.decide under its lock).
            locked = Product.objects.select_for_update().get(pk=product.pk)
            if stale := _stale_product(locked, product_version):
                current = {"sku": sku}
                raise StaleWrite(stale["reason"])
            for pid in proposal_ids:
                current = {"proposal_id": pid}
                catalog.review_proposal(pid, approve=True, comment=comment, user=user)
                approved_proposals.append(pid)
            for aid in asset_ids:
                current = {"asset_id": aid}
                asset = workflow.decide(
                    aid,
                    approve=True,
                    comment=comment,
                    user=user,
                    expected_version=asset_versions.get(aid),
                )
                approved_assets.append({"id": aid, "status": asset.status})
    except FolioError as exc:
        # Rolled back: name the item that failed so the reviewer knows what to fix.
        details = {"sku": sku, "refusals": [{**current, "reason": exc.message}]}
        if isinstance(exc, Conflict):
            details["current_version"] = Product.objects.get(pk=product.pk).version
        raise type(exc)(f"nothing was approved: {exc.message}", details=details) from exc
    return {"sku": sku, "proposals": approved_proposals, "assets": approved_assets}


def _refuse(product: Product, refusals: list[dict]):
    kinds = {r["kind"] for r in refusals}
    message = f"nothing was approved: {'; '.join(r['reason'] for r in refusals)}"
    details = {"sku": product.sku, "refusals": refusals}
    if PERMISSION in kinds:
        raise PermissionDenied(message, details=details)
    details["current_version"] = product.version
    # The API adds the bundle as it is now (details["current"]); the page shows it.
    raise (StaleWrite if STALE in kinds else Conflict)(message, details=details)
