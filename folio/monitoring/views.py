import hmac

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from folio import __version__
from folio.accounts.services import authenticate_token
from folio.monitoring import health, metrics


@never_cache
@require_GET
def live(request):
    return JsonResponse({"status": "ok", "version": __version__})


@never_cache
@require_GET
def ready(request):
    ok, checks = health.readiness()
    return JsonResponse(
        {"status": "ready" if ok else "not_ready", "checks": checks}, status=200 if ok else 503
    )


def _scraper(request):
    """The user scraping (None for the FOLIO_METRICS_TOKEN bearer), or False if unknown."""
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        sent = header[7:].strip()
        if settings.METRICS_TOKEN and hmac.compare_digest(sent, settings.METRICS_TOKEN):
            return None
        found = authenticate_token(sent)
        return found[0] if found else False
    return request.user if request.user.is_authenticated else False


@never_cache
@require_GET
def prometheus(request):
    # Metrics name routes, job kinds and volumes: operators' business, not the public's.
    scraper = _scraper(request)
    if scraper is False:
        response = HttpResponse(
            "metrics need FOLIO_METRICS_TOKEN or an administrator's API token\n",
            status=401,
            content_type="text/plain",
        )
        response["WWW-Authenticate"] = 'Bearer realm="folio-metrics"'
        return response
    if scraper is not None and not scraper.has_perm("accounts.view_metrics"):
        return HttpResponse(
            "metrics are for administrators\n", status=403, content_type="text/plain"
        )
    body, content_type = metrics.render()
    return HttpResponse(body, content_type=content_type)
