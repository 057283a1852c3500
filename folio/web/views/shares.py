"""Share links for people without an account: create one for chosen files or a collection
(its address is shown once), see each link's state and downloads, withdraw it."""

import datetime

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from folio.assets import browse, sharing
from folio.assets.models import Asset
from folio.errors import InvalidInput
from folio.web.views.base import field_errors, page

DEFAULT_DAYS = 30


def _expiry(text: str) -> datetime.datetime | None:
    try:
        day = datetime.date.fromisoformat(text.strip())
    except ValueError:
        return None
    # A link given "until" a day works through that day.
    return datetime.datetime.combine(day, datetime.time(23, 59, 59), tzinfo=datetime.UTC)


@page("assets.change_asset", methods=("GET", "POST"))
def share_links(request):
    data = request.POST if request.method == "POST" else request.GET
    chosen = [
        int(x) for raw in data.getlist("asset") for x in raw.split(",") if x.strip().isdigit()
    ]
    default_day = (timezone.now() + datetime.timedelta(days=DEFAULT_DAYS)).date().isoformat()
    form = {
        "name": data.get("name", ""),
        "expires": data.get("expires") or default_day,
        "collection": data.get("collection", ""),
        "assets": ", ".join(str(a) for a in chosen),
    }
    context = {"section": "shares", "form": form, "errors": {}, "created": None}
    status = 200
    if request.method == "POST":
        try:
            link, token = sharing.create_share_link(
                name=form["name"],
                expires_at=_expiry(form["expires"]),
                asset_ids=chosen,
                collection=form["collection"] or None,
                user=request.user,
            )
        except InvalidInput as exc:
            status = 422
            context["error"] = exc.message
            context["errors"] = field_errors(exc.details, exc.message)
        else:
            # The token is not stored: this answer is the only time the address is shown.
            context["created"] = {
                "link": link,
                "url": request.build_absolute_uri(reverse("share:page", args=[token])),
            }
            context["form"] = {**form, "name": "", "assets": ""}
    context["links"] = list(sharing.share_links(request.user).order_by("-id")[:100])
    for link in context["links"]:
        link.state = sharing.link_state(link)
    context["chosen_assets"] = list(
        browse.visible_assets(request.user, Asset.objects.filter(pk__in=chosen))
    )
    context["collections"] = browse.visible_collections(request.user).order_by("name")
    return render(request, "web/shares/links.html", context, status=status)


@page("assets.change_asset", methods=("POST",))
def revoke(request, link_id: int):
    link = sharing.revoke_share_link(link_id, request.user)
    messages.success(request, _("Share link “%(name)s” withdrawn.") % {"name": link.name})
    return redirect("web:shares")
