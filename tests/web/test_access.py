"""Every page of the web UI (each URL pattern of folio.web, found from the URL configuration,
so a new page is covered without being listed) needs a signed-in user, for reading (GET) and
for forms (POST): anonymous requests are sent to the sign-in page and change nothing."""

import re
import uuid

import pytest
from django.test import Client
from django.urls import URLResolver, get_resolver

SAMPLES = {"int": "1", "str": "x", "slug": "x", "uuid": str(uuid.UUID(int=1)), "path": "x"}


def web_urls() -> list[str]:
    def walk(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, prefix + str(p.pattern))
            elif getattr(p.callback, "__module__", "").startswith("folio.web."):
                yield prefix + str(p.pattern)

    urls = []
    for route in walk(get_resolver().url_patterns):
        url = re.sub(r"<(?:(\w+):)?\w+>", lambda m: SAMPLES[m.group(1) or "str"], route)
        urls.append("/" + url)
    return urls


def test_the_pages_are_found():
    urls = web_urls()
    assert "/" in urls and "/products/x/" in urls and "/publishing/x/x/run/" in urls
    assert len(urls) > 30


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "post"])
def test_every_page_needs_sign_in(method):
    from folio.accounts.models import AuditEntry

    client = Client()
    for url in web_urls():
        response = getattr(client, method)(url)
        assert response.status_code == 302, (method, url, response.status_code)
        assert response["Location"].startswith("/login/?next="), (method, url)
    assert AuditEntry.objects.count() == 0
