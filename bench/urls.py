"""Folio's URLs plus the bare baseline views the benchmarks compare against.

The baseline comes first so that resolving it costs no more than it would in a bare project;
every Folio URL resolves as in production (one extra, failed prefix check).
"""

from django.http import JsonResponse
from django.urls import path

from folio.urls import urlpatterns as folio_urlpatterns

# The body the bare view returns; bench_api_auth sets it to the exact /api/v1/me response.
BARE_BODY: dict = {}


def bare_json(request):
    """A plain Django view: no authentication, no ninja, no database; the same JSON."""
    return JsonResponse(BARE_BODY)


urlpatterns = [path("bench/bare-json", bare_json), *folio_urlpatterns]
