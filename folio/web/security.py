"""Content-Security-Policy for every response (Django 5.2 has none of its own).

Scripts only from Folio itself: the pages load htmx and folio.js from /static and carry no
inline script or event handler, so an injected <script> or onerror= does not run. Styles
allow 'unsafe-inline' because templates set widths and colours in style attributes (progress
bars, brand colour chips); CSS cannot run code. Images may also be data: and blob: URLs
(previews of files being uploaded) and, when renditions redirect to object storage, come
from that storage. No page may be framed (frame-ancestors, with X-Frame-Options for old
browsers), forms post only to Folio, and no plugin content loads.
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
        "style-src": ["'self'", "'unsafe-inline'"],
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
