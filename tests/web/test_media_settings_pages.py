"""The Media and integrations pages: rendition presets, each channel's image slots, outgoing
webhooks with their deliveries, and the other DAMs registered with Folio.

Real database, real services: what a page saves is read back through the models and the
services the API uses; viewers see no forms and are refused (403) on every kind of POST;
stale writes answer 409 with the current state; secrets are shown once and never again; list
pages whose query count does not grow with their rows."""

import json
import re

import pytest

from folio.assets import external
from folio.assets.models import ExternalSystem
from folio.catalog.models import Channel, Locale
from folio.publishing import webhooks
from folio.publishing.models import Webhook, WebhookDelivery
from folio.renditions import presets
from folio.renditions.models import ImageSlot, Preset

SPEC = {"format": "jpeg", "quality": 85, "ops": [{"op": "resize", "mode": "fit", "width": 1000}]}


def html(response) -> str:
    return response.content.decode()


def field_error(page: str, field_id: str) -> str:
    found = re.search(rf'id="{field_id}-err">([^<]+)<', page)
    assert found, f"no inline error for {field_id}"
    return found.group(1)


@pytest.fixture
def media_setup(catalog, users):
    """A preset used by the ecommerce channel's main slot, and a webhook."""
    preset = presets.create_preset(
        code="shop-main",
        name="Shop main",
        spec={
            "format": "jpeg",
            "ops": [
                {
                    "op": "resize",
                    "mode": "pad",
                    "width": 1200,
                    "height": 1200,
                    "background": "#FFFFFF",
                }
            ],
        },
        rules={"min_width": 1000, "formats": ["jpeg"]},
        market_overrides={"de_DE": {"format": "png"}},
    )
    slot = presets.create_slot("ecommerce", role="main", preset="shop-main", required=True)
    hook, secret = webhooks.create_webhook(
        {"url": "https://example.com/hooks/folio", "events": ["asset.approved"]}
    )
    return {"preset": preset, "slot": slot, "hook": hook, "secret": secret}


PAGES = [
    "/media-settings/presets/",
    "/media-settings/presets/shop-main/",
    "/media-settings/image-slots/",
    "/media-settings/image-slots/ecommerce/",
    "/media-settings/webhooks/",
]


# --- reading and permissions ------------------------------------------------------------------


def test_a_viewer_reads_every_page_without_forms(media_setup, client_for):
    viewer = client_for("viewer")
    assert 'href="/media-settings/"' in html(viewer.get("/"))  # in the main navigation
    assert viewer.get("/media-settings/").status_code == 302
    layout_forms = html(viewer.get("/media-settings/presets/")).count('method="post"')
    for url in [*PAGES, f"/media-settings/webhooks/{media_setup['hook'].pk}/"]:
        response = viewer.get(url)
        assert response.status_code == 200, url
        assert html(response).count('method="post"') == layout_forms, url
    listing = html(viewer.get("/media-settings/presets/"))
    # format, size, background, rules, markets and the slot using it
    for text in ("1200×1200", "#FFFFFF", "min_width 1000", "de_DE", "ecommerce: main"):
        assert text in listing, text
    assert "shop-main" in html(viewer.get("/media-settings/image-slots/ecommerce/"))
    # creating, and the other DAMs (admin only, as in the API), are refused outright
    assert viewer.get("/media-settings/new/preset/").status_code == 403
    assert viewer.get("/media-settings/external-dams/").status_code == 403
    assert "/media-settings/external-dams/" not in listing


def test_viewer_posts_of_every_kind_are_refused_and_change_nothing(media_setup, client_for):
    viewer = client_for("viewer")
    hook = media_setup["hook"]
    hook_url = f"/media-settings/webhooks/{hook.pk}/"
    posts = [
        ("/media-settings/new/preset/", {"code": "x", "name": "X", "spec": "{}"}),
        ("/media-settings/presets/shop-main/", {"action": "save", "name": "Changed"}),
        ("/media-settings/presets/shop-main/", {"action": "delete", "version": 1}),
        ("/media-settings/image-slots/ecommerce/", {"action": "add", "role": "gallery"}),
        ("/media-settings/image-slots/ecommerce/", {"action": "save", "slot": "main"}),
        ("/media-settings/image-slots/ecommerce/", {"action": "delete", "slot": "main"}),
        ("/media-settings/webhooks/", {"url": "https://x.example/", "events": ["*"]}),
        (hook_url, {"action": "save", "url": "https://evil.example/", "events": ["*"]}),
        (hook_url, {"action": "rotate"}),
        (hook_url, {"action": "ping"}),
        (hook_url, {"action": "redeliver", "delivery": 1}),
        (hook_url, {"action": "delete"}),
        ("/media-settings/external-dams/", {"code": "bynder"}),
    ]
    for url, data in posts:
        assert viewer.post(url, data).status_code == 403, (url, data)
    assert Preset.objects.get(code="shop-main").name == "Shop main"
    assert list(ImageSlot.objects.values_list("role", flat=True)) == ["main"]
    hook.refresh_from_db()
    assert (hook.url, hook.version, Webhook.objects.count()) == (
        "https://example.com/hooks/folio",
        1,
        1,
    )
    assert not WebhookDelivery.objects.exists() and not ExternalSystem.objects.exists()


def test_controls_follow_the_permissions_the_api_requires(media_setup, client_for):
    # An asset manager adds and changes presets and slots but deletes neither.
    ada = client_for("asset_manager")
    preset_page = html(ada.get("/media-settings/presets/shop-main/"))
    assert "Save preset" in preset_page and "Delete preset" not in preset_page
    slots_page = html(ada.get("/media-settings/image-slots/ecommerce/"))
    assert (
        "Save slot" in slots_page and "Add slot" in slots_page and "Delete slot" not in slots_page
    )
    assert ada.post("/media-settings/presets/shop-main/", {"action": "delete"}).status_code == 403
    response = ada.post(
        "/media-settings/image-slots/ecommerce/", {"action": "delete", "slot": "main"}
    )
    assert response.status_code == 403 and ImageSlot.objects.filter(role="main").exists()
    # A publisher edits webhooks but does not delete them, and does not touch presets.
    pia = client_for("publisher")
    hook_page = html(pia.get(f"/media-settings/webhooks/{media_setup['hook'].pk}/"))
    assert "Save webhook" in hook_page and "Delete webhook" not in hook_page
    assert "Save preset" not in html(pia.get("/media-settings/presets/shop-main/"))
    response = pia.post(f"/media-settings/webhooks/{media_setup['hook'].pk}/", {"action": "delete"})
    assert response.status_code == 403 and Webhook.objects.exists()


# --- presets ----------------------------------------------------------------------------------


def test_create_edit_and_delete_a_preset(media_setup, client_for):
    ada = client_for("asset_manager")

    response = ada.post(
        "/media-settings/new/preset/",
        {
            "code": "gallery",
            "name": "Gallery",
            "kind": "image",
            "spec": json.dumps(SPEC),
            "rules": '{"max_bytes": 500000}',
            "market_overrides": '{"fr_FR": {"quality": 70}}',
            "filename_template": "{sku}-g{position}.{ext}",
            "public": "on",
        },
    )
    assert (
        response.status_code == 302 and response["Location"] == "/media-settings/presets/gallery/"
    )
    created = presets.get_preset("gallery")
    assert created.spec == SPEC and created.rules == {"max_bytes": 500000}
    assert created.market_overrides == {"fr_FR": {"quality": 70}} and created.public

    # an edit through the same form, with the version shown
    page = html(ada.get("/media-settings/presets/gallery/"))
    assert 'name="version" value="1"' in page
    edited = {**SPEC, "format": "webp"}
    response = ada.post(
        "/media-settings/presets/gallery/",
        {
            "action": "save",
            "version": 1,
            "name": "Gallery (webp)",
            "kind": "image",
            "spec": json.dumps(edited),
            "rules": "{}",
            "market_overrides": "{}",
            "filename_template": "{sku}-{position}.{ext}",
        },
    )
    assert response.status_code == 302
    created.refresh_from_db()
    assert (created.version, created.name, created.spec["format"]) == (2, "Gallery (webp)", "webp")
    assert created.market_overrides == {} and not created.public

    # an administrator deletes it (no slot uses it)
    ann = client_for("admin")
    response = ann.post("/media-settings/presets/gallery/", {"action": "delete", "version": 2})
    assert response.status_code == 302 and not Preset.objects.filter(code="gallery").exists()


def test_a_refused_preset_names_the_field_inline(media_setup, client_for):
    ada = client_for("asset_manager")
    base = {
        "code": "bad",
        "name": "Bad",
        "kind": "image",
        "rules": "{}",
        "market_overrides": "{}",
        "filename_template": "{sku}.{ext}",
    }
    unknown_op = ada.post(
        "/media-settings/new/preset/",
        {**base, "spec": '{"format": "jpeg", "ops": [{"op": "blurr"}]}'},
    )
    assert unknown_op.status_code == 422
    assert "unknown op" in field_error(html(unknown_op), "p-spec")
    assert "blurr" in html(unknown_op)  # what was typed stays in the form
    not_json = ada.post("/media-settings/new/preset/", {**base, "spec": "{", "rules": "{}"})
    assert not_json.status_code == 422 and "not JSON" in field_error(html(not_json), "p-spec")
    bad_rule = ada.post(
        "/media-settings/new/preset/",
        {**base, "spec": '{"format": "jpeg", "ops": []}', "rules": '{"min_wdth": 3}'},
    )
    assert bad_rule.status_code == 422 and "min_wdth" in field_error(html(bad_rule), "p-rules")
    bad_market = ada.post(
        "/media-settings/new/preset/",
        {**base, "spec": '{"format": "jpeg", "ops": []}', "market_overrides": '{"de": {"x": 1}}'},
    )
    assert bad_market.status_code == 422
    assert field_error(html(bad_market), "p-markets")
    taken = ada.post(
        "/media-settings/new/preset/",
        {**base, "code": "shop-main", "spec": '{"format": "jpeg", "ops": []}'},
    )
    assert taken.status_code == 409 and "exists already" in field_error(html(taken), "p-code")
    assert not Preset.objects.filter(code="bad").exists()


def test_a_stale_preset_edit_answers_409_with_the_current_state(media_setup, client_for):
    presets.update_preset("shop-main", expected_version=1, name="Changed meanwhile")
    ada = client_for("asset_manager")
    response = ada.post(
        "/media-settings/presets/shop-main/",
        {
            "action": "save",
            "version": 1,
            "name": "Mine",
            "kind": "image",
            "spec": '{"format": "png", "ops": []}',
            "rules": "{}",
            "market_overrides": "{}",
            "filename_template": "{sku}.{ext}",
        },
    )
    assert response.status_code == 409
    page = html(response)
    assert "Someone else saved this" in page and 'value="Changed meanwhile"' in page
    assert 'name="version" value="2"' in page
    preset = Preset.objects.get(code="shop-main")
    assert (preset.name, preset.spec["format"]) == ("Changed meanwhile", "jpeg")


def test_a_preset_in_use_is_not_deleted_and_a_stale_delete_is_refused(media_setup, client_for):
    ann = client_for("admin")
    in_use = ann.post("/media-settings/presets/shop-main/", {"action": "delete", "version": 1})
    assert in_use.status_code == 409 and "used by image slots" in html(in_use)
    presets.delete_slot("ecommerce", "main")
    stale = ann.post("/media-settings/presets/shop-main/", {"action": "delete", "version": 0})
    assert stale.status_code == 409 and Preset.objects.filter(code="shop-main").exists()


def test_re_render_now_remakes_what_an_older_spec_made(media_setup, client_for, settings, tmp_path):
    from folio.jobs.models import Job
    from folio.jobs.services import execute, start_job
    from folio.renditions import cache, jobs
    from folio.renditions.models import Rendition
    from tests.renditions._support import add, product_jpeg

    def run_jobs():  # what the worker does, in this test's transaction
        for queued in Job.objects.filter(status=Job.Status.QUEUED).order_by("created_at"):
            execute(str(queued.pk), "test-worker")

    settings.MEDIA_ROOT = str(tmp_path)
    asset = add(product_jpeg(seed=5), "shot.jpg")
    old = cache.rendition_for(asset, "shop-main")
    run_jobs()
    # A new spec whose automatic re-render never ran (as when its job was lost with a worker)
    Preset.objects.filter(code="shop-main").update(spec={**SPEC, "quality": 60}, version=2)
    preset = presets.get_preset("shop-main")

    viewer = client_for("viewer")
    assert "Re-render now" not in html(viewer.get("/media-settings/presets/shop-main/"))
    refused = viewer.post("/media-settings/presets/shop-main/", {"action": "rerender"})
    assert refused.status_code == 403 and not Job.objects.filter(kind__contains="rerender")

    ada = client_for("asset_manager")
    started = ada.post("/media-settings/presets/shop-main/", {"action": "rerender"})
    job = Job.objects.get(kind=jobs.rerender_preset.job_name)
    # to the page with the job: reloading it shows the same job and starts no other
    assert started.status_code == 302
    assert started["Location"] == f"/media-settings/presets/shop-main/?job={job.pk}"
    for reload, said in ((False, True), (True, False)):  # the message is said once
        page = html(ada.get(started["Location"]))
        assert f'id="job-{job.pk}"' in page and "Re-render preset shop-main" in page, reload
        assert ("Re-rendering preset shop-main in the background." in page) is said
    assert Job.objects.filter(kind=jobs.rerender_preset.job_name).count() == 1
    # an address naming another preset's job, or no job, shows the page without progress
    other = start_job(jobs.rerender_preset, preset_id=preset.pk + 1000)
    for query in (f"?job={other.pk}", "?job=not-a-job", ""):
        shown = html(ada.get(f"/media-settings/presets/shop-main/{query}"))
        assert 'id="job-' not in shown, query
    other.delete()
    run_jobs()  # the re-render, then the render job it started
    run_jobs()
    job.refresh_from_db()
    assert job.status == "succeeded" and job.result["sources"] == 1, job.message
    remade = Rendition.objects.exclude(pk=old.pk).get(preset=preset)
    assert remade.status == "ready" and remade.spec_hash == presets.spec_hashes(preset)[""]
    assert remade.source_sha256 == old.source_sha256 == asset.current_version.blob_id


# --- image slots ------------------------------------------------------------------------------


def test_add_edit_and_remove_image_slots_with_their_version(media_setup, client_for):
    ann = client_for("admin")
    url = "/media-settings/image-slots/ecommerce/"
    added = ann.post(
        url,
        {
            "action": "add",
            "role": "gallery",
            "preset": "shop-main",
            "max_count": "6",
            "filename_template": "{sku}-{position}.{ext}",
        },
    )
    assert added.status_code == 302
    gallery = presets.get_slot("ecommerce", "gallery")
    assert (gallery.max_count, gallery.required, gallery.version) == (6, False, 1)

    refused = ann.post(url, {"action": "add", "role": "Bad Role", "preset": "shop-main"})
    assert refused.status_code == 422
    assert "role must be" in field_error(html(refused), "s-new-role")
    over = ann.post(
        url,
        {"action": "save", "slot": "gallery", "version": 1, "role": "gallery",
         "preset": "shop-main", "max_count": "500"},
    )  # fmt: skip
    assert over.status_code == 422 and field_error(html(over), "s-gallery-count")

    saved = ann.post(
        url,
        {"action": "save", "slot": "gallery", "version": 1, "role": "gallery",
         "preset": "shop-main", "max_count": "8", "required": "on"},
    )  # fmt: skip
    assert saved.status_code == 302
    gallery.refresh_from_db()
    assert (gallery.max_count, gallery.required, gallery.version) == (8, True, 2)

    stale = ann.post(
        url,
        {"action": "save", "slot": "gallery", "version": 1, "role": "gallery",
         "preset": "shop-main", "max_count": "2"},
    )  # fmt: skip
    assert stale.status_code == 409 and "Someone else saved this" in html(stale)
    gallery.refresh_from_db()
    assert gallery.max_count == 8
    stale_delete = ann.post(url, {"action": "delete", "slot": "gallery", "version": 1})
    assert stale_delete.status_code == 409 and ImageSlot.objects.filter(role="gallery").exists()
    removed = ann.post(url, {"action": "delete", "slot": "gallery", "version": 2})
    assert removed.status_code == 302 and not ImageSlot.objects.filter(role="gallery").exists()
    # the preset page lists the slots that use it
    assert "ecommerce: main" in html(ann.get("/media-settings/presets/shop-main/"))


# --- webhooks ---------------------------------------------------------------------------------


def test_create_a_webhook_shows_its_secret_once(media_setup, client_for):
    pia = client_for("publisher")
    response = pia.post(
        "/media-settings/webhooks/",
        {
            "url": "https://erp.example.com/folio",
            "events": ["publication.done", "product.complete"],
            "description": "ERP",
            "active": "on",
        },
    )
    assert response.status_code == 201
    hook = Webhook.objects.get(url="https://erp.example.com/folio")
    assert hook.events == ["publication.done", "product.complete"] and hook.active
    assert hook.secret in html(response) and "shown this once" in html(response)
    for url in (f"/media-settings/webhooks/{hook.pk}/", "/media-settings/webhooks/"):
        assert hook.secret not in html(pia.get(url))

    # a secret given is used, and not echoed back on a refusal
    given = "s3cret-given-by-me-123"
    refused = pia.post(
        "/media-settings/webhooks/",
        {"url": "ftp://nope", "events": ["*"], "secret": given},
    )
    assert refused.status_code == 422 and given not in html(refused)
    assert "http" in field_error(html(refused), "w-url")
    no_events = pia.post("/media-settings/webhooks/", {"url": "https://a.example/"})
    assert no_events.status_code == 422 and "events" in html(no_events)


def test_edit_rotate_ping_redeliver_and_delete_a_webhook(media_setup, client_for):
    hook, old_secret = media_setup["hook"], media_setup["secret"]
    url = f"/media-settings/webhooks/{hook.pk}/"
    pia = client_for("publisher")
    assert old_secret not in html(pia.get(url))
    saved = pia.post(
        url,
        {"action": "save", "version": 1, "url": "https://example.com/v2", "events": ["*"]},
    )
    assert saved.status_code == 302
    hook.refresh_from_db()
    assert (hook.url, hook.events, hook.active, hook.version) == (
        "https://example.com/v2",
        ["*"],
        False,
        2,
    )
    stale = pia.post(
        url, {"action": "save", "version": 1, "url": "https://late.example/", "events": ["*"]}
    )
    assert stale.status_code == 409 and 'value="https://example.com/v2"' in html(stale)
    assert 'name="version" value="2"' in html(stale)

    rotated = pia.post(url, {"action": "rotate", "version": 2})
    assert rotated.status_code == 200
    hook.refresh_from_db()
    assert hook.secret != old_secret and hook.secret in html(rotated)
    assert hook.secret not in html(pia.get(url))

    assert pia.post(url, {"action": "ping"}).status_code == 302
    ping = WebhookDelivery.objects.get(webhook=hook)
    page = html(pia.get(url))
    assert "ping" in page and "Pending" in page and "Recent deliveries" in page
    assert pia.post(url, {"action": "redeliver", "delivery": ping.pk}).status_code == 302
    assert WebhookDelivery.objects.filter(webhook=hook).count() == 2
    assert pia.post(url, {"action": "redeliver", "delivery": 999999}).status_code == 404

    ann = client_for("admin")
    stale_delete = ann.post(url, {"action": "delete", "version": 1})
    assert stale_delete.status_code == 409 and Webhook.objects.filter(pk=hook.pk).exists()
    deleted = ann.post(url, {"action": "delete", "version": hook.version})
    assert deleted.status_code == 302 and not Webhook.objects.filter(pk=hook.pk).exists()


# --- external DAMs ----------------------------------------------------------------------------


def test_register_an_external_dam_shows_its_secret_once(media_setup, client_for):
    ann = client_for("admin")
    response = ann.post("/media-settings/external-dams/", {"code": "bynder", "name": "Bynder"})
    assert response.status_code == 201
    system = ExternalSystem.objects.get(code="bynder")
    assert system.secret in html(response)
    listing = html(ann.get("/media-settings/external-dams/"))
    assert "Bynder" in listing and system.secret not in listing
    taken = ann.post("/media-settings/external-dams/", {"code": "bynder"})
    assert taken.status_code == 409 and "exists already" in field_error(html(taken), "x-code")
    short = ann.post("/media-settings/external-dams/", {"code": "other", "secret": "short"})
    assert short.status_code == 422 and "short" not in field_error(html(short), "x-secret")
    assert not ExternalSystem.objects.filter(code="other").exists()
    # the same system the API and the webhook use
    assert external.get_system("bynder").name == "Bynder"


def test_rename_rotate_and_delete_an_external_dam(media_setup, client_for):

    system, old_secret = external.register_system(
        "bynder", "Bynder", "bynder-old-secret-0123456789"
    )
    url = "/media-settings/external-dams/"
    ann = client_for("admin")
    page = html(ann.get(url))
    assert 'name="action" value="rename"' in page and "Remove DAM" in page
    renamed = ann.post(url, {"action": "rename", "system": "bynder", "version": 1, "name": "B2"})
    assert renamed.status_code == 302
    system.refresh_from_db()
    assert (system.name, system.version) == ("B2", 2)
    stale = ann.post(url, {"action": "rename", "system": "bynder", "version": 1, "name": "Late"})
    assert stale.status_code == 409 and "Someone else saved this" in html(stale)
    assert 'value="B2"' in html(stale) and 'name="version" value="2"' in html(stale)

    rotated = ann.post(url, {"action": "rotate", "system": "bynder", "version": 2})
    assert rotated.status_code == 200
    system.refresh_from_db()
    assert system.secret != old_secret and system.secret in html(rotated)
    assert "the old one is refused" in html(rotated)
    assert system.secret not in html(ann.get(url))

    external.upsert_external(system, "IMG-1", title="One")
    unconfirmed = ann.post(url, {"action": "delete", "system": "bynder", "version": 3})
    assert unconfirmed.status_code == 422 and "Tick the box" in html(unconfirmed)
    in_use = ann.post(url, {"action": "delete", "system": "bynder", "version": 3, "confirm": "yes"})
    assert in_use.status_code == 409 and "1 asset from external system bynder" in html(in_use)
    assert ExternalSystem.objects.filter(code="bynder").exists()
    external.delete_external(system, "IMG-1")  # the other DAM deleted it: archived here
    stale_delete = ann.post(
        url, {"action": "delete", "system": "bynder", "version": 1, "confirm": "1"}
    )
    assert stale_delete.status_code == 409 and ExternalSystem.objects.filter(code="bynder").exists()
    deleted = ann.post(url, {"action": "delete", "system": "bynder", "version": 3, "confirm": "1"})
    assert deleted.status_code == 302 and not ExternalSystem.objects.filter(code="bynder").exists()
    assert "External DAM bynder removed." in html(ann.get(url))
    assert ann.post(url, {"action": "rename", "system": "bynder", "name": "X"}).status_code == 404


def test_external_dam_changes_are_refused_to_non_admins(media_setup, client_for):
    external.register_system("bynder", "Bynder", "bynder-old-secret-0123456789")
    ada = client_for("asset_manager")
    url = "/media-settings/external-dams/"
    for data in (
        {"action": "rename", "system": "bynder", "name": "Mine"},
        {"action": "rotate", "system": "bynder"},
        {"action": "delete", "system": "bynder", "confirm": "1"},
    ):
        assert ada.post(url, data).status_code == 403, data
    system = ExternalSystem.objects.get(code="bynder")
    assert (system.name, system.secret, system.version) == (
        "Bynder",
        "bynder-old-secret-0123456789",
        1,
    )


def test_the_external_dam_actions_read_in_german(media_setup, client_for):
    external.register_system("bynder", "Bynder")
    ann = client_for("admin")
    page = html(ann.get("/media-settings/external-dams/", HTTP_ACCEPT_LANGUAGE="de"))
    assert "DAM entfernen" in page and "Ja, bynder entfernen" in page and "Ändern" in page


def test_no_page_ever_shows_a_stored_secret(media_setup, client_for):
    external.register_system("celum", "Celum", "celum-shared-secret-0123456789")
    ann = client_for("admin")
    urls = [
        *PAGES,
        f"/media-settings/webhooks/{media_setup['hook'].pk}/",
        "/media-settings/external-dams/",
    ]
    for url in urls:
        page = html(ann.get(url))
        assert media_setup["secret"] not in page, url
        assert "celum-shared-secret-0123456789" not in page, url


# --- query counts -----------------------------------------------------------------------------


LIST_PAGES = [
    "/media-settings/presets/",
    "/media-settings/image-slots/",
    "/media-settings/webhooks/",
    "/media-settings/external-dams/",
]


@pytest.mark.parametrize("url", LIST_PAGES)
def test_list_pages_query_count_does_not_grow(
    media_setup, client_for, url, django_assert_max_num_queries
):
    ann = client_for("admin")
    en = Locale.objects.filter(code="en_US")

    def grow(n: int, start: int) -> None:
        for i in range(start, start + n):
            presets.create_preset(code=f"p{i}", name=f"P {i}", spec={"format": "png", "ops": []})
            channel = Channel.objects.create(code=f"ch_{i:04d}")
            channel.locales.set(en)
            presets.create_slot(channel.code, role="main", preset=f"p{i}")
            hook, _ = webhooks.create_webhook({"url": f"https://h{i}.example/", "events": ["*"]})
            webhooks.ping(hook.pk)
            external.register_system(f"dam{i}", f"DAM {i}")

    grow(3, 0)
    ann.get(url)  # warm caches (sessions, permissions)
    with django_assert_max_num_queries(40) as few:
        assert ann.get(url).status_code == 200
    grow(20, 100)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert ann.get(url).status_code == 200


def test_the_pages_read_in_german(media_setup, client_for):
    viewer = client_for("viewer")
    page = html(viewer.get("/media-settings/presets/", HTTP_ACCEPT_LANGUAGE="de"))
    assert "Medien und Integrationen" in page and "Ausgabeformat-Vorgaben" in page
    assert "Bildplätze" in html(
        viewer.get("/media-settings/image-slots/ecommerce/", HTTP_ACCEPT_LANGUAGE="de")
    )
