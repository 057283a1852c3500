"""The dashboard: completeness per channel and locale, assets awaiting approval and nearing the
end of their rights, the last publications, recent activity and background jobs."""

from django.conf import settings
from django.db.models import Avg, Count, Q, prefetch_related_objects
from django.shortcuts import render

from folio.accounts.models import AuditEntry
from folio.accounts.services import user_roles
from folio.assets import browse, rights, workflow
from folio.assets.models import Asset
from folio.assets.previews import preview_states
from folio.catalog.models import Completeness
from folio.jobs.services import visible_jobs
from folio.web.views.base import page

PANEL_SIZE = 8
# Activity on people's accounts and tokens is for administrators, not the team's dashboard.
# (Sign-ins and token use are entries on auth.user and accounts.apitoken, exports of the log
# on accounts.auditentry.)
PRIVATE_AUDIT = ("auth.user", "accounts.apitoken", "accounts.auditentry")


def completeness_overview() -> list[dict]:
    """Per channel and locale: average completeness and how many products are complete.
    One grouped query over the completeness rows."""
    rows = (
        Completeness.objects.values("channel__code", "locale__code")
        .annotate(
            average=Avg("ratio"),
            total=Count("id"),
            complete=Count("id", filter=Q(ratio__gte=100)),
            stale=Count("id", filter=Q(stale=True)),
        )
        .order_by("channel__code", "locale__code")
    )
    out: list[dict] = []
    for r in rows:
        if not out or out[-1]["channel"] != r["channel__code"]:
            out.append({"channel": r["channel__code"], "locales": []})
        out[-1]["locales"].append(
            {
                "locale": r["locale__code"],
                "average": round(r["average"] or 0),
                "total": r["total"],
                "complete": r["complete"],
                "incomplete": r["total"] - r["complete"],
                "stale": r["stale"],
            }
        )
    return out


def _awaiting(user) -> tuple[str, list]:
    """("yours", [(asset, step)]) when the user decides review steps, else ("all", [asset])."""
    if user.has_perm("assets.approve_asset"):
        # may_decide reads the user's groups once per asset; read them once here instead.
        prefetch_related_objects([user], "groups")
        return "yours", workflow.pending_for(user, limit=PANEL_SIZE)
    assets = list(
        browse.visible_assets(user)
        .filter(status=Asset.Status.IN_REVIEW)
        .select_related("current_version")
        .order_by("updated_at", "id")[:PANEL_SIZE]
    )
    return "all", [(a, None) for a in assets]


def _publications(user) -> list[dict]:
    if not user.has_perm("publishing.view_publication"):
        return []
    from folio.publishing import history

    # summary() labels the skip reasons; one query for the rows, none per row.
    return [history.summary(p) for p in history.publications()[:PANEL_SIZE]]


@page()
def home(request):
    user = request.user
    context = {"section": "dashboard", "roles": user_roles(user)}
    if user.has_perm("catalog.view_product"):
        context["completeness"] = completeness_overview()
    if user.has_perm("assets.view_asset"):
        mode, awaiting = _awaiting(user)
        expiring = list(
            browse.visible_assets(user, rights.expiring(30)).select_related("current_version")[
                :PANEL_SIZE
            ]
        )
        assets = [a for a, _ in awaiting] + expiring
        context.update(
            awaiting_mode=mode,
            awaiting=awaiting,
            expiring=expiring,
            warning_days=settings.RIGHTS_WARNING_DAYS,
            previews=preview_states(assets) if assets else {},
        )
    context["publications"] = _publications(user)
    context["show_publications"] = user.has_perm("publishing.view_publication")
    # The team's activity is for roles that read the catalog and the library; an agency
    # sees only its own collections' files, not what everyone else does.
    if user.has_perm("catalog.view_product"):
        context["activity"] = list(
            AuditEntry.objects.exclude(object_type__in=PRIVATE_AUDIT)
            .exclude(action__startswith="user.")
            .exclude(action__startswith="token.")
            .order_by("-id")[:12]
        )
    # The same visibility as the API: roles without jobs.view_job see only their own jobs.
    context["jobs"] = visible_jobs(user).select_related("created_by")[:10]
    return render(request, "web/dashboard.html", context)
