"""The public side of share links: pages and downloads for people without an account.

No login, no session, no CSRF (nothing here writes but the download record). A token that
opens nothing is a plain 404 with no hint whether it ever existed; an expired or withdrawn
link answers 410 with the reason; an asset that is not approved or outside its usage rights
answers 403 with the reason. Responses are never cached by shared caches, never indexed,
never framed, and send no Referer onwards (the token is in the address).
"""

from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from django.template.loader import render_to_string
from django.utils.cache import patch_cache_control
from django.utils.text import slugify
from django.views.decorators.http import require_safe

from folio.accounts.middleware import client_ip
from folio.assets import sharing, storage
from folio.assets.models import Preview

CSP_PAGE = (
    "default-src 'none'; img-src 'self'; style-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
CSP_FILE = "default-src 'none'; sandbox; frame-ancestors 'none'"


def _secure(response, *, page: bool = False):
    response["Content-Security-Policy"] = CSP_PAGE if page else CSP_FILE
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["X-Content-Type-Options"] = "nosniff"
    response["X-Frame-Options"] = "DENY"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    patch_cache_control(response, private=True, no_store=True)
    return response


def _not_found():
    return _secure(HttpResponse("Not found", status=404, content_type="text/plain"))


def _refused(request, link, message: str, status: int):
    if request.path.endswith("/"):
        body = render_to_string("assets/share.html", {"link": link, "refusal": message})
        return _secure(HttpResponse(body, status=status), page=True)
    return _secure(HttpResponse(message + "\n", status=status, content_type="text/plain"))


def _open(request, token):
    """(link, None) for a usable link, or (None, the response to send instead)."""
    link = sharing.find_link(token)
    if link is None:
        return None, _not_found()
    reason = sharing.refusal(link)
    if reason:
        return None, _refused(request, link, reason, 410)
    return link, None


@require_safe
def share_page(request, token: str):
    link, refused = _open(request, token)
    if refused:
        return refused
    files = sharing.shared_files(link)
    ids = [f.asset.current_version_id for f in files if f.downloadable]
    thumbs = set(
        Preview.objects.filter(version_id__in=ids, name="thumb").values_list(
            "version_id", flat=True
        )
    )
    rows = [
        {
            "item": f,
            "thumb": f.downloadable and f.asset.current_version_id in thumbs,
            "alt": (f.asset.alt_text or {}).get("en_US", "") or f.asset.title,
            "size": f.asset.current_version.size if f.asset.current_version else None,
        }
        for f in files
    ]
    body = render_to_string(
        "assets/share.html",
        {"link": link, "files": rows, "downloadable": sum(1 for f in files if f.downloadable)},
    )
    return _secure(HttpResponse(body), page=True)


def _one(request, token: str, asset_id: int):
    link, refused = _open(request, token)
    if refused:
        return None, None, refused
    item = sharing.shared_file(link, asset_id)
    if item is None:
        return None, None, _not_found()
    if not item.downloadable:
        message = "This file is not available: " + "; ".join(item.reasons) + "."
        return None, None, _refused(request, link, message, 403)
    return link, item, None


@require_safe
def download(request, token: str, asset_id: int):
    link, item, refused = _one(request, token, asset_id)
    if refused:
        return refused
    version = item.asset.current_version
    if request.method == "GET":
        sharing.record_downloads(link, [item.asset], zip=False, ip=client_ip(request))
    response = FileResponse(
        storage.open_blob(version.blob),
        as_attachment=True,
        filename=version.filename or f"asset-{item.asset.pk}",
        content_type=version.mime or "application/octet-stream",
    )
    response["Content-Length"] = str(version.size)
    response["ETag"] = f'"{version.blob_id}"'
    return _secure(response)


@require_safe
def thumbnail(request, token: str, asset_id: int):
    _link, item, refused = _one(request, token, asset_id)
    if refused:
        return refused
    preview = (
        Preview.objects.select_related("blob")
        .filter(version_id=item.asset.current_version_id, name="thumb")
        .first()
    )
    if preview is None:
        return _not_found()
    response = FileResponse(storage.open_blob(preview.blob), content_type="image/webp")
    response["Content-Length"] = str(preview.blob.size)
    return _secure(response)


@require_safe
def download_zip(request, token: str):
    link, refused = _open(request, token)
    if refused:
        return refused
    files = [f for f in sharing.shared_files(link) if f.downloadable]
    if not files:
        return _refused(request, link, "None of the files of this link can be downloaded now.", 403)
    if request.method == "GET":
        sharing.record_downloads(link, [f.asset for f in files], zip=True, ip=client_ip(request))
    response = StreamingHttpResponse(
        sharing.stream_zip(files, storage.open_blob), content_type="application/zip"
    )
    name = slugify(link.name) or "shared-files"
    response["Content-Disposition"] = f'attachment; filename="{name}.zip"'
    return _secure(response)
