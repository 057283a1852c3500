"""Brand kits: logos, colour palettes (HEX, RGB, CMYK), fonts and guidelines. People outside
the asset team see only what is approved and in rights; asset managers see everything with
its state and add palettes."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from folio.assets import brandkit
from folio.assets.previews import preview_states
from folio.errors import Conflict, InvalidInput
from folio.web.views.base import field_errors, page


@page("assets.view_collection")
def kits(request):
    return render(
        request,
        "web/brandkit/kits.html",
        {"section": "brandkit", "kits": brandkit.brand_kits(request.user).order_by("name")},
    )


def _colours(text: str) -> list[dict]:
    """One colour per line: "Aqualine Blue #0B5CAD" (the last word is the HEX value)."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        name, _sep, hex_value = line.rpartition(" ")
        out.append({"name": name.strip() or hex_value, "hex": hex_value})
    return out


@page("assets.view_collection", methods=("GET", "POST"))
def kit(request, code: str):
    found = brandkit.get_brand_kit(code, request.user)
    context = {"section": "brandkit", "errors": {}, "form": {"name": "", "colours": ""}}
    status = 200
    if request.method == "POST":
        name = request.POST.get("name") or ""
        text = request.POST.get("colours") or ""
        try:
            brandkit.add_palette(code, name, _colours(text), user=request.user)
        except (InvalidInput, Conflict) as exc:
            status = exc.status
            context["error"] = exc.message
            context["errors"] = field_errors(exc.details, exc.message)
            context["form"] = {"name": name, "colours": text}
        else:
            messages.success(request, _("Palette “%(name)s” added.") % {"name": name.strip()})
            return redirect(reverse("web:brand_kit", args=[code]) + "#palettes")
    contents = brandkit.brand_kit_contents(found, request.user)
    assets = [a for section in ("logos", "fonts", "guidelines") for a, _ok, _r in contents[section]]
    context.update(
        contents=contents,
        sections=[
            (_("Logos"), contents["logos"]),
            (_("Fonts"), contents["fonts"]),
            (_("Guidelines"), contents["guidelines"]),
        ],
        previews=preview_states(assets) if assets else {},
        can_edit=request.user.has_perm("assets.change_collection"),
        editor=brandkit.is_editor(request.user),
    )
    return render(request, "web/brandkit/kit.html", context, status=status)
