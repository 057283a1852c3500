"""Approval: draft → in_review → approved | rejected, and archived beside them.

An asset's review is the workflow of its collection (the first by collection code that names
one), else the one listing its kind, else one step anyone with assets.approve_asset decides.
Steps are decided in order, for the current version: Review rows carry the version number, so
a new version starts with no approvals. A rejection ends the round; after resubmission only
decisions made since count. Administrators may decide any step. With separation of duties
(FOLIO_SEPARATION_OF_DUTIES, on by default) the uploader of the current version never approves
it, at any step, and administrators are no exception: an administrator's own upload still
needs a second person's eye, which is the point of the rule.
"""

from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from folio.accounts import audit
from folio.assets import scoping
from folio.assets.models import Asset, AssetChange, Review, ReviewWorkflow
from folio.assets.signals import asset_changed, asset_status_changed
from folio.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from folio.versioning import check_version, save_versioned

S = Asset.Status
DEFAULT_STEPS = ({"name": "approval", "group": None},)
DEFAULT_WORKFLOW = "default"


@dataclass(frozen=True)
class Workflow:
    code: str
    steps: tuple[dict, ...]


@dataclass
class ReviewState:
    workflow: Workflow
    version_number: int | None
    decided: list[Review]  # this round's decisions on the current version, in order
    approved_steps: list[str]
    next_step: dict | None  # None when every step approved

    @property
    def complete(self) -> bool:
        return self.next_step is None


@contextmanager
def acting(user):
    """Audit entries name `user` when a caller passes one and nobody is acting yet (a service
    called directly, not through the API or CLI which set the actor themselves)."""
    if user is not None and audit.current_actor().user is None:
        with audit.acting_as(user, via=audit.current_actor().via):
            yield
    else:
        yield


def is_admin(user) -> bool:
    return bool(user is not None and user.is_active and user.is_superuser)


def _user_groups(user) -> set[str]:
    return {g.name for g in user.groups.all()}


def workflow_for(asset: Asset, *, workflows: list[ReviewWorkflow] | None = None) -> Workflow:
    chosen = None
    for collection in sorted(asset.collections.all(), key=lambda c: c.code):
        if collection.workflow_id:
            chosen = collection.workflow
            break
    if chosen is None:
        candidates = workflows if workflows is not None else list(ReviewWorkflow.objects.all())
        chosen = next((w for w in candidates if asset.kind in (w.kinds or [])), None)
    if chosen is None or not chosen.steps:
        return Workflow(DEFAULT_WORKFLOW, DEFAULT_STEPS)
    return Workflow(chosen.code, tuple(chosen.steps))


def _current_number(asset: Asset) -> int | None:
    return asset.current_version.number if asset.current_version_id else None


def review_state(
    asset: Asset, *, reviews: list[Review] | None = None, workflow: Workflow | None = None
) -> ReviewState:
    workflow = workflow or workflow_for(asset)
    number = _current_number(asset)
    if reviews is None:
        reviews = list(
            Review.objects.filter(asset=asset, version_number=number)
            .select_related("decided_by")
            .order_by("id")
        )
    this_round: list[Review] = []
    for review in sorted((r for r in reviews if r.version_number == number), key=lambda r: r.pk):
        if review.decision == Review.Decision.REJECTED:
            this_round = [review]  # the rejection closes the round; kept to show why
        else:
            if this_round and this_round[-1].decision == Review.Decision.REJECTED:
                this_round = []
            this_round.append(review)
    approved = [r.step for r in this_round if r.decision == Review.Decision.APPROVED]
    next_step = next((s for s in workflow.steps if s["name"] not in approved), None)
    return ReviewState(workflow, number, this_round, approved, next_step)


def uploaded_by(user, version) -> bool:
    """Whether separation of duties keeps `user` from approving `version`."""
    return bool(
        settings.SEPARATION_OF_DUTIES
        and version.uploaded_by_id is not None
        and version.uploaded_by_id == getattr(user, "pk", None)
    )


def may_decide(user, step: dict) -> bool:
    if user is None or not user.is_active:
        return False
    if is_admin(user):
        return True
    if not user.has_perm("assets.approve_asset"):
        return False
    group = step.get("group")
    return not group or group in _user_groups(user)


def _lock(asset_id: int) -> Asset:
    asset = (
        Asset.objects.select_for_update(of=("self",))
        .select_related("current_version")
        .filter(pk=asset_id)
        .first()
    )
    if asset is None:
        raise NotFound(f"no asset {asset_id}", details={"asset_id": asset_id})
    return asset


def _check_visible(asset: Asset, user) -> None:
    from folio.assets.browse import visible_assets

    if user is not None and not visible_assets(user).filter(pk=asset.pk).exists():
        raise NotFound(f"no asset {asset.pk}", details={"asset_id": asset.pk})


def _check_version(asset: Asset, expected_version: int | None) -> None:
    """Refuse a decision based on an earlier state of the asset (the row is locked here)."""
    from folio.assets.editing import asset_snapshot

    check_version(
        asset,
        expected_version,
        f"asset {asset.pk}",
        asset_snapshot,
        then="reload it and decide again",
    )


def _set_status(asset: Asset, new: str, *, user, action: str, summary: str, extra=None) -> None:
    old = asset.status
    asset.status = new
    save_versioned(asset, None, ["status"])
    changes = [{"field": "status", "old": old, "new": new}, *(extra or [])]
    _history(asset, user, action, changes)
    audit.record(f"asset.{action}", asset, summary=summary, changes={"status": [old, new]})
    asset_status_changed.send(sender=Asset, asset=asset, old=old, new=new)
    asset_changed.send(sender=Asset, asset_ids=[asset.pk])


def _history(asset: Asset, user, action: str, changes: list[dict]) -> None:
    actor = user if getattr(user, "pk", None) else None
    AssetChange.objects.create(
        asset=asset,
        version=asset.version,
        user=actor,
        username=actor.username if actor else "system",
        action=action,
        changes=changes,
    )


def _missing_required(asset: Asset) -> list[str]:
    from folio.assets.models import CustomField

    required = CustomField.objects.filter(required=True).values_list("code", flat=True)
    return [code for code in required if (asset.custom or {}).get(code) in (None, "", [])]


def submit_for_review(asset_id: int, user=None, *, expected_version: int | None = None) -> Asset:
    user = user or audit.current_actor().user
    with acting(user):
        return _submit_for_review(asset_id, user, expected_version)


@transaction.atomic
def _submit_for_review(asset_id: int, user, expected_version: int | None = None) -> Asset:
    """Ask for approval of the current version (from draft or after a rejection)."""
    user = user or audit.current_actor().user
    asset = _lock(asset_id)
    _check_visible(asset, user)
    scoping.check_asset(asset, user)
    _check_version(asset, expected_version)
    if user is not None and not (
        user.has_perm("assets.change_asset")
        or (user.has_perm("assets.add_asset") and asset.created_by_id == user.pk)
    ):
        raise PermissionDenied(
            "only asset managers, or the asset's uploader, submit it for review",
            details={"permission": "assets.change_asset"},
        )
    if asset.status not in (S.DRAFT, S.REJECTED):
        raise Conflict(
            f"asset {asset.pk} is {asset.status}; only draft or rejected assets are submitted",
            details={"status": asset.status},
        )
    if asset.current_version_id is None:
        raise Conflict(f"asset {asset.pk} has no file to review", details={"status": asset.status})
    missing = _missing_required(asset)
    if missing:
        fields = (
            f"field {missing[0]} is" if len(missing) == 1 else f"fields {', '.join(missing)} are"
        )
        raise InvalidInput(
            f"asset {asset.pk}: required {fields} empty",
            details={"field": f"custom.{missing[0]}", "missing": missing},
        )
    _set_status(
        asset,
        S.IN_REVIEW,
        user=user,
        action="submit",
        summary=f"asset {asset.pk} ({asset.title}) submitted for review",
    )
    return asset


def _pick_step(state: ReviewState, step: str | None) -> dict:
    names = [s["name"] for s in state.workflow.steps]
    nxt = state.next_step
    if step is None or step == nxt["name"]:
        return nxt
    if step not in names:
        raise InvalidInput(
            f"workflow {state.workflow.code} has no step {step!r} (steps: {', '.join(names)})",
            details={"field": "step", "value": step, "steps": names},
        )
    if step in state.approved_steps:
        raise Conflict(
            f"step {step} is approved already for this version; next is {nxt['name']}",
            details={"step": step, "next_step": nxt["name"]},
        )
    raise Conflict(
        f"step {step} comes after {nxt['name']}, which is not decided yet",
        details={"step": step, "next_step": nxt["name"]},
    )


def decide(
    asset_id: int,
    *,
    approve: bool,
    comment: str = "",
    step: str | None = None,
    user=None,
    expected_version: int | None = None,
) -> Asset:
    """Approve or reject the next step of the current version's review."""
    user = user or audit.current_actor().user
    with acting(user):
        return _decide(asset_id, approve, comment, step, user, expected_version)


@transaction.atomic
def _decide(
    asset_id: int, approve: bool, comment: str, step: str | None, user, expected_version=None
) -> Asset:
    comment = (comment or "").strip()
    asset = _lock(asset_id)
    _check_visible(asset, user)
    _check_version(asset, expected_version)
    if user is None or not (is_admin(user) or user.has_perm("assets.approve_asset")):
        raise PermissionDenied(
            "your role does not allow approving assets (assets.approve_asset)",
            details={"permission": "assets.approve_asset"},
        )
    if not approve and not comment:
        raise InvalidInput("say why the asset is rejected", details={"field": "comment"})
    if asset.status != S.IN_REVIEW:
        raise Conflict(
            f"asset {asset.pk} is {asset.status}, not in review", details={"status": asset.status}
        )
    state = review_state(asset)
    chosen = _pick_step(state, step)
    if not may_decide(user, chosen):
        raise PermissionDenied(
            f"step {chosen['name']} is decided by members of group {chosen['group']}",
            details={"step": chosen["name"], "group": chosen["group"]},
        )
    version = asset.current_version
    if approve and uploaded_by(user, version):
        raise PermissionDenied(
            f"separation of duties: you uploaded version {version.number} of asset {asset.pk}, "
            f"so someone else approves it (step {chosen['name']})",
            details={
                "step": chosen["name"],
                "version": version.number,
                "reason": "separation_of_duties",
            },
        )
    decision = Review.Decision.APPROVED if approve else Review.Decision.REJECTED
    Review.objects.create(
        asset=asset,
        version_number=version.number,
        step=chosen["name"],
        decision=decision,
        decided_by=user,
        decided_at=timezone.now(),
        comment=comment,
    )
    names = [s["name"] for s in state.workflow.steps]
    last = names.index(chosen["name"]) == len(names) - 1
    review = [
        {
            "field": "review",
            "step": chosen["name"],
            "version": version.number,
            "new": decision,
            "comment": comment,
        }
    ]
    title = f"asset {asset.pk} ({asset.title}) v{version.number}"
    if not approve:
        _set_status(
            asset,
            S.REJECTED,
            user=user,
            action="reject",
            extra=review,
            summary=f"{title} rejected at {chosen['name']}: {comment[:150]}",
        )
    elif last:
        _set_status(
            asset,
            S.APPROVED,
            user=user,
            action="approve",
            extra=review,
            summary=f"{title} approved ({chosen['name']})",
        )
    else:
        # A step decided changes what the asset shows (its review), so its version moves too:
        # a reviewer working from the earlier state is told it changed.
        save_versioned(asset, None, [])
        _history(asset, user, "review", review)
        audit.record(
            "asset.review",
            asset,
            summary=f"{title}: step {chosen['name']} approved",
            changes={"step": chosen["name"], "decision": decision},
        )
    return asset


def approve(
    asset_id: int, *, step: str | None = None, comment: str = "", user=None, expected_version=None
) -> Asset:
    return decide(
        asset_id,
        approve=True,
        comment=comment,
        step=step,
        user=user,
        expected_version=expected_version,
    )


def reject(
    asset_id: int, *, comment: str, step: str | None = None, user=None, expected_version=None
) -> Asset:
    return decide(
        asset_id,
        approve=False,
        comment=comment,
        step=step,
        user=user,
        expected_version=expected_version,
    )


def archive(asset_id: int, user=None, *, expected_version: int | None = None) -> Asset:
    user = user or audit.current_actor().user
    with acting(user):
        return _archive(asset_id, user, expected_version)


@transaction.atomic
def _archive(asset_id: int, user, expected_version: int | None = None) -> Asset:
    user = user or audit.current_actor().user
    asset = _lock(asset_id)
    _check_visible(asset, user)
    scoping.check_asset(asset, user)
    _check_version(asset, expected_version)
    if asset.status == S.ARCHIVED:
        raise Conflict(f"asset {asset.pk} is archived already", details={"status": asset.status})
    _set_status(
        asset,
        S.ARCHIVED,
        user=user,
        action="archive",
        summary=f"asset {asset.pk} ({asset.title}) archived",
    )
    return asset


def unarchive(asset_id: int, user=None, *, expected_version: int | None = None) -> Asset:
    user = user or audit.current_actor().user
    with acting(user):
        return _unarchive(asset_id, user, expected_version)


@transaction.atomic
def _unarchive(asset_id: int, user, expected_version: int | None = None) -> Asset:
    """Back to approved when the current version's review was complete, else to draft."""
    user = user or audit.current_actor().user
    asset = _lock(asset_id)
    _check_visible(asset, user)
    scoping.check_asset(asset, user)
    _check_version(asset, expected_version)
    if asset.status != S.ARCHIVED:
        raise Conflict(
            f"asset {asset.pk} is {asset.status}, not archived", details={"status": asset.status}
        )
    state = review_state(asset)
    new = S.APPROVED if state.complete and state.approved_steps else S.DRAFT
    _set_status(
        asset,
        new,
        user=user,
        action="unarchive",
        summary=f"asset {asset.pk} ({asset.title}) unarchived as {new}",
    )
    return asset


def pending_for(user, *, limit: int | None = None) -> list[tuple[Asset, dict]]:
    """Assets in review whose next step `user` may decide (their own uploads left out),
    oldest first, each with that step."""
    from folio.assets.browse import visible_assets

    if user is None or not (is_admin(user) or user.has_perm("assets.approve_asset")):
        return []
    workflows = list(ReviewWorkflow.objects.all())
    found = []
    qs = (
        visible_assets(user)
        .filter(status=S.IN_REVIEW)
        .select_related("current_version")
        .prefetch_related("collections__workflow")
        .order_by("updated_at", "id")
    )
    for start in range(0, 10**9, 500):
        batch = list(qs[start : start + 500])
        if not batch:
            break
        reviews: dict[int, list[Review]] = {}
        for r in Review.objects.filter(asset__in=batch).order_by("id"):
            reviews.setdefault(r.asset_id, []).append(r)
        for asset in batch:
            if asset.current_version and uploaded_by(user, asset.current_version):
                continue
            state = review_state(
                asset,
                reviews=reviews.get(asset.pk, []),
                workflow=workflow_for(asset, workflows=workflows),
            )
            if state.next_step and may_decide(user, state.next_step):
                found.append((asset, state.next_step))
                if limit and len(found) >= limit:
                    return found
    return found
