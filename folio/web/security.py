"""Content-Security-Policy for every response (Django 5.2 has none of its own).

Scripts only from Folio itself: the pages load htmx and folio.js from /static and carry no
inline script or event handler, so an injected <script> or onerror= does not run. Styles
only from Folio's stylesheets too: no <style> element and no style="…" attribute applies, so
injected markup cannot restyle the page or lay a fake form over it. Templates carry none
(progress bars and brand colour chips are SVG whose width/fill attributes the policy does not
govern; htmx's injected indicator <style> is switched off in base.html); folio.js sets styles
only through the CSSOM (element.style.x), which the policy allows. Images may also be
data: and blob: URLs (previews of files being uploaded) and, when renditions redirect to
object storage, come from that storage. No page may be framed (frame-ancestors, with
X-Frame-Options for old browsers), forms post only to Folio, and no plugin content loads.
"""

from functools import cache
from urllib.parse import urlsplit

from django.conf import settings


@cache
def policy(s3_redirect: bool, s3_endpoint: str | None) -> str:
    images = ["'self'", "data:", "blob:"]
    if s3_redirect:
        parts = urlsplit(s3_endpoint or "")
        images.append(
            f"{parts.scheme}://{parts.netloc}" if parts.netloc else "https://*.amazonaws.com"
        )
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": images,
        "media-src": ["'self'", "blob:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = policy(
                bool(getattr(settings, "RENDITION_S3_REDIRECT", False)),
                getattr(settings, "S3_ENDPOINT_URL", None),
            )
        return response
