"""The browser's defences on every page (Content-Security-Policy, no framing, no sniffing,
referrer), HTTPS-only cookies and HSTS behind FOLIO_HTTPS, and no secret in any log line."""

import datetime
import io
import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

from django.test import Client
from django.utils import timezone

from folio.accounts import services
from tests.conftest import REPO

PASSWORD = "correct-horse-battery-9"
TEMPLATES = sorted((REPO / "folio").glob("*/templates/**/*.html"))


def directives(response) -> dict[str, str]:
    policy = response["Content-Security-Policy"]
    return {
        part.split()[0]: " ".join(part.split()[1:]) for part in policy.split(";") if part.strip()
    }


def test_pages_carry_the_security_headers(make_user):
    make_user("viewer", "vic")
    client = Client()
    login = client.get("/login/")
    client.login(username="vic", password=PASSWORD)
    for response in (login, client.get("/"), client.get("/api/v1/me")):
        assert response.status_code == 200
        csp = directives(response)
        assert csp["default-src"] == "'self'"
        assert csp["script-src"] == "'self'"  # no 'unsafe-inline', no 'unsafe-eval'
        assert csp["style-src"] == "'self'"  # no <style> element, no style="…" attribute
        assert "unsafe-inline" not in response["Content-Security-Policy"]
        assert "unsafe-eval" not in response["Content-Security-Policy"]
        assert csp["frame-ancestors"] == "'none'"
        assert csp["object-src"] == "'none'"
        assert csp["form-action"] == "'self'"
        assert response["X-Frame-Options"] == "DENY"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Referrer-Policy"] == "same-origin"


def test_templates_have_no_inline_script_the_policy_would_block():
    """script-src 'self' blocks inline <script> blocks, on…= handlers and javascript: URLs;
    a template with one would silently stop working."""
    assert len(TEMPLATES) > 20
    problems = []
    for path in TEMPLATES:
        text = path.read_text()
        for tag in re.findall(r"<script\b[^>]*>", text):
            if "src=" not in tag and 'type="application/json"' not in tag:
                problems.append(f"{path.relative_to(REPO)}: inline {tag}")
        for handler in re.findall(r"<[^>]*\s(on[a-z]+)\s*=", text):
            problems.append(f"{path.relative_to(REPO)}: inline handler {handler}=")
        if "javascript:" in text:
            problems.append(f"{path.relative_to(REPO)}: javascript: URL")
    assert problems == []


INLINE_STYLE = re.compile(r"<style\b|<[^>]*\sstyle\s*=", re.I)


def test_templates_have_no_inline_style_the_policy_would_refuse():
    """style-src 'self' refuses <style> elements and style="…" attributes: a template with
    one would lose that styling in the browser (and a console error would say so)."""
    problems = [
        f"{path.relative_to(REPO)}: {match.group(0)[:80]}"
        for path in TEMPLATES
        for match in INLINE_STYLE.finditer(path.read_text())
    ]
    assert problems == []


def test_main_pages_render_without_inline_style(shop, client_for, users):
    """The pages as served, with real data in them (completeness bars, a brand palette, a
    shared file): not a style attribute nor a <style> element, and the bars and colour chips
    still carry their widths and colours, as SVG attributes."""
    from folio.assets import sharing
    from folio.assets.models import Collection

    kit = Collection.objects.create(code="brand", name="Aqualine brand", is_brand_kit=True)
    shop["approved"].collections.add(kit)
    admin = client_for("admin")
    added = admin.post("/brand-kits/brand/", {"name": "Core", "colours": "Aqualine Blue #0B5CAD"})
    assert added.status_code in (200, 302)
    _link, token = sharing.create_share_link(
        name="Press",
        collection="brand",
        expires_at=timezone.now() + datetime.timedelta(days=1),
        user=users["admin"],
    )
    asset = shop["approved"].pk
    pages = {
        "dashboard": "/",
        "product grid": "/products/?channel=ecommerce&locale=en_US",
        "product page": "/products/BT-750-BLUE/?channel=ecommerce&locale=en_US",
        "asset library": "/assets/",
        "asset page": f"/assets/{asset}/",
        "SKU 360": "/sku/BT-750-BLUE/",
        "brand kit": "/brand-kits/brand/",
        "share page": f"/share/{token}/",
    }
    html = {}
    for name, url in pages.items():
        response = (Client() if name == "share page" else admin).get(url)
        assert response.status_code == 200, (name, response.status_code)
        html[name] = response.content.decode()
        assert INLINE_STYLE.findall(html[name]) == [], name
        assert "unsafe-inline" not in response["Content-Security-Policy"], name
    bar = re.compile(r'<rect class="fill[^"]*" width="\d{1,3}%" height="100%"/>')
    for name in ("dashboard", "product grid", "product page", "SKU 360"):
        assert bar.search(html[name]), f"{name}: no completeness bar"
    assert (
        'fill="#0B5CAD"' in html["brand kit"] and 'aria-label="Aqualine Blue"' in html["brand kit"]
    )
    assert (
        "Blue bottle front" in html["share page"] and "/static/web/share.css" in html["share page"]
    )


def test_publishing_feed_page_renders_without_inline_style(users, media, settings, tmp_path):
    from folio import demo

    settings.PUBLICATIONS_DIR = tmp_path / "publications"
    settings.PUBLIC_URL = "https://demo.folio.example"
    demo.seed(io.StringIO())
    client = Client()
    client.force_login(users["publisher"])
    for url in ("/publishing/", "/publishing/marketplace/google/"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert INLINE_STYLE.findall(response.content.decode()) == [], url


def test_https_mode_makes_cookies_secure_and_sends_hsts(tmp_path):
    """FOLIO_HTTPS is read when settings load, so a process of its own with the real settings."""
    script = """
import json, django
django.setup()
from django.conf import settings
from django.test import Client
response = Client(HTTP_HOST="localhost").get("/api/health", HTTP_X_FORWARDED_PROTO="https")
print(json.dumps({
    "session_secure": settings.SESSION_COOKIE_SECURE,
    "csrf_secure": settings.CSRF_COOKIE_SECURE,
    "hsts": response.get("Strict-Transport-Security"),
    "status": response.status_code,
}))
"""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(
        DJANGO_SETTINGS_MODULE="folio.settings",
        FOLIO_VAR=str(tmp_path),
        FOLIO_DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        FOLIO_SECRET_KEY="x" * 50,
    )

    def run(https: str) -> dict:
        done = subprocess.run(
            [sys.executable, "-c", script],
            cwd=REPO,
            env={**env, "FOLIO_HTTPS": https},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.strip().splitlines()[-1])

    on = run("true")
    assert on["status"] == 200
    assert on["session_secure"] and on["csrf_secure"]
    assert on["hsts"].startswith("max-age=31536000")
    off = run("false")
    assert not off["session_secure"] and not off["csrf_secure"]
    assert off["hsts"] is None


def test_no_secret_reaches_any_log(make_user, caplog, settings, tmp_path):
    """Passwords, API tokens (sent, refused, or just created), session cookies and share
    links go through the server; every logger at DEBUG, none of them may show up."""
    from folio.assets import sharing
    from folio.assets.models import Collection

    settings.MEDIA_ROOT = str(tmp_path)
    for name in [None, *logging.root.manager.loggerDict]:
        caplog.set_level(logging.DEBUG, logger=name)
    user = make_user("admin", "ada")
    token, token_text = services.create_token(user, "logging test")
    # The secret part alone (it may itself contain "_", so not the text after the last one).
    secrets = {PASSWORD, token_text, token_text.removeprefix(f"folio_{token.key_id}_")}

    api = Client(HTTP_AUTHORIZATION=f"Bearer {token_text}")
    assert api.get("/api/v1/me").status_code == 200
    created = api.post(
        "/api/v1/tokens", {"name": "new one"}, content_type="application/json"
    ).json()
    new_text = next(v for v in created.values() if isinstance(v, str) and v.startswith("folio_"))
    secrets.add(new_text)
    wrong = token_text[:-4] + "AAAA"
    secrets.add(wrong)
    assert Client(HTTP_AUTHORIZATION=f"Bearer {wrong}").get("/api/v1/me").status_code == 401

    browser = Client()
    browser.post("/login/", {"username": "ada", "password": "wrong-" + PASSWORD})
    secrets.add("wrong-" + PASSWORD)
    assert browser.post("/login/", {"username": "ada", "password": PASSWORD}).status_code == 302
    secrets.add(browser.cookies["sessionid"].value)
    assert browser.get("/").status_code == 200

    Collection.objects.create(code="press", name="Press kit")
    _link, share_token = sharing.create_share_link(
        name="Press",
        collection="press",
        expires_at=timezone.now() + datetime.timedelta(days=1),
        user=user,
    )
    secrets.add(share_token)
    assert Client().get(f"/share/{share_token}/").status_code == 200

    logged = "\n".join(
        f"{r.getMessage()} {json.dumps(r.__dict__, default=str)}" for r in caplog.records
    )
    assert len(caplog.records) > 5  # the requests were logged, without what they carried
    leaked = [s for s in secrets if s in logged]
    assert leaked == []


def test_the_policy_lets_object_storage_images_in_when_renditions_redirect(settings, db):
    from folio.web import security

    settings.RENDITION_S3_REDIRECT = True
    settings.S3_ENDPOINT_URL = "https://s3.example.net:9000"
    response = Client().get("/login/")
    assert "https://s3.example.net:9000" in directives(response)["img-src"]
    assert security.policy(False, None).count("s3.example.net") == 0
    assert Path(security.__file__).exists()
