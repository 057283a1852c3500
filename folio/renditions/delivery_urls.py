"""Public delivery of renditions (no login), mounted at /img/ in folio/urls.py.

    /img/p/<preset>/<asset_id>/<filename>                          public presets, unsigned
    /img/<signature>/<asset_id>/<preset>[/<locale>]/<filename>     any preset, signed

See delivery.py for what is answered when. Responses carry the rendition's SHA-256 as ETag
and a Cache-Control lifetime that never outlives the asset's usage rights; refusals are never
cached.
"""

from urllib.parse import quote

from django.http import (
    FileResponse,
    HttpResponse,
    HttpResponseNotModified,
    HttpResponseRedirect,
)
from django.urls import path, re_path
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_safe

from folio.assets import storage
from folio.renditions import delivery


def _plain(status: int, message: str, *, retry_after: int | None = None) -> HttpResponse:
    response = HttpResponse(message + "\n", status=status, content_type="text/plain")
    response["X-Content-Type-Options"] = "nosniff"
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    patch_cache_control(response, no_store=True)
    return response


def _answer(request, decision: delivery.Decision, filename: str):
    if decision.status != 200:
        return _plain(
            decision.status, decision.reason or "not available", retry_after=decision.retry_after
        )
    rendition = decision.rendition
    blob = rendition.blob
    etag = f'"{blob.sha256}"'
    redirect = delivery.presigned_url(rendition, decision.max_age)
    if redirect:
        response = HttpResponseRedirect(redirect)
        patch_cache_control(response, no_store=True)
        return response
    if etag in [t.strip() for t in request.headers.get("If-None-Match", "").split(",")]:
        response = HttpResponseNotModified()
    else:
        response = FileResponse(storage.open_blob(blob), content_type=blob.mime)
        response["Content-Length"] = str(blob.size)
        response["Content-Disposition"] = f'inline; filename="{filename}"'
    response["ETag"] = etag
    response["X-Content-Type-Options"] = "nosniff"
    if decision.max_age > 0:
        patch_cache_control(response, public=True, max_age=decision.max_age)
    else:
        patch_cache_control(response, no_store=True)
    return response


@require_safe
def public(request, preset: str, asset_id: int, filename: str):
    decision = delivery.decide(asset_id, preset, public_only=True)
    return _answer(request, decision, filename)


@require_safe
def signed(request, signature: str, rest: str):
    # Django hands over the decoded path; the signature covers its parts percent-encoded
    # exactly as signed_path() wrote them.
    parts = rest.split("/")
    canonical = "/".join(quote(p, safe="") for p in parts)
    if not delivery.verify(signature, canonical):
        return _plain(403, "the signature does not match this address")
    if len(parts) not in (3, 4) or not parts[0].isdigit():
        return _plain(404, "no such rendition address")
    asset_id, preset = int(parts[0]), parts[1]
    locale = parts[2] if len(parts) == 4 else None
    decision = delivery.decide(asset_id, preset, locale=locale)
    return _answer(request, decision, parts[-1])


app_name = "renditions_delivery"
urlpatterns = [
    path("p/<slug:preset>/<int:asset_id>/<str:filename>", public, name="public"),
    re_path(r"^(?P<signature>[A-Za-z0-9_-]{16,64})/(?P<rest>.+)$", signed, name="signed"),
]
