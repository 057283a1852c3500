"""Presets as data: seeded channel presets, strict validation naming op and field, optimistic
concurrency, market overrides and the effective spec's hash, image slots per channel."""

import hashlib
import json

import pytest

from folio.catalog.models import Channel
from folio.errors import InvalidInput, StaleWrite
from folio.renditions import presets
from folio.renditions.models import ImageSlot, Preset

pytestmark = pytest.mark.django_db

SEEDED = {
    "thumb-256",
    "web-2048-webp",
    "amazon-main",
    "amazon-gallery",
    "google-main",
    "shopify-2048-square",
    "social-1080x1350",
    "ads-1200x628",
    "print-300dpi-cmyk",
    "video-mp4-720",
    "video-webm-720",
    "video-poster",
}


def test_seeded_presets_are_valid_and_carry_the_channel_rules():
    assert set(Preset.objects.values_list("code", flat=True)) >= SEEDED
    for preset in Preset.objects.filter(code__in=SEEDED):
        presets.validate_spec(preset.spec, preset.kind)
        presets.validate_rules(preset.rules)
        presets.validate_overrides(preset.market_overrides, preset.kind)
    amazon = Preset.objects.get(code="amazon-main")
    ops = [op["op"] for op in amazon.spec["ops"]]
    assert "remove_background" in ops
    assert amazon.spec["ops"][ops.index("remove_background")]["background"] == "#FFFFFF"
    assert amazon.spec["format"] == "jpeg"
    assert amazon.rules["min_longest_side"] == 1000
    assert amazon.rules["max_longest_side"] == 10_000
    assert amazon.rules["min_fill_ratio"] == 0.85
    assert amazon.rules["white_border"] is True
    assert "de_DE" in amazon.market_overrides
    google = Preset.objects.get(code="google-main")
    assert google.rules["max_megapixels"] == 64 and google.rules["max_bytes"] == 16_000_000
    cmyk = Preset.objects.get(code="print-300dpi-cmyk")
    assert cmyk.spec["format"] == "tiff" and cmyk.spec["dpi"] == 300
    assert cmyk.rules["colour_space"] == "cmyk"
    assert Preset.objects.get(code="video-mp4-720").kind == "video"


def test_effective_spec_deep_merges_the_market_override_and_is_hashed_canonically():
    amazon = Preset.objects.get(code="amazon-main")
    base = presets.effective_spec(amazon)
    german = presets.effective_spec(amazon, "de_DE")
    assert german["quality"] == 85 and german["max_bytes"] == 5_000_000
    assert german["ops"] == base["ops"]
    canonical = json.dumps(german, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert presets.spec_hash(german) == hashlib.sha256(canonical.encode()).hexdigest()
    assert presets.spec_hash(german) != presets.spec_hash(base)
    # A locale without an override renders the base spec (and shares its renditions).
    assert presets.effective_spec(amazon, "fr_FR") == base
    assert presets.applied_locale(amazon, "fr_FR") == ""
    # Key order does not change the hash.
    assert presets.spec_hash({"b": 1, "a": [1, {"y": 2, "x": 1}]}) == presets.spec_hash(
        {"a": [1, {"x": 1, "y": 2}], "b": 1}
    )


def test_nested_override_merges_objects_and_replaces_lists():
    merged = presets.deep_merge({"a": {"x": 1, "y": 2}, "ops": [1, 2]}, {"a": {"y": 3}, "ops": [9]})
    assert merged == {"a": {"x": 1, "y": 3}, "ops": [9]}


@pytest.mark.parametrize(
    ("spec", "op", "field"),
    [
        ({"ops": [{"op": "autorotate"}, {"op": "blur"}], "format": "jpeg"}, 1, "op"),
        ({"ops": [{"op": "resize", "mode": "fit", "widht": 10}], "format": "jpeg"}, 0, "widht"),
        ({"ops": [{"op": "resize", "mode": "stretch", "width": 9}], "format": "jpeg"}, 0, "mode"),
        ({"ops": [{"op": "resize", "mode": "fill", "width": 9}], "format": "jpeg"}, 0, "height"),
        (
            {
                "ops": [{"op": "trim"}, {"op": "remove_background", "background": "white"}],
                "format": "png",
            },
            1,
            "background",
        ),
        ({"ops": [{"op": "fill_ratio", "min": 1.5}], "format": "jpeg"}, 0, "min"),
    ],
)
def test_a_wrong_spec_is_refused_naming_the_op_index_and_field(spec, op, field):
    with pytest.raises(InvalidInput) as caught:
        presets.validate_spec(spec)
    assert caught.value.details["op"] == op
    assert caught.value.details["field"] == field
    assert f"ops[{op}]" in caught.value.message


def test_wrong_output_fields_and_rules_are_refused():
    with pytest.raises(InvalidInput) as caught:
        presets.validate_spec({"ops": [], "format": "bmp"})
    assert caught.value.details["field"] == "format"
    with pytest.raises(InvalidInput) as caught:
        presets.validate_spec({"ops": [], "format": "jpeg", "qualty": 80})
    assert caught.value.details["field"] == "qualty"
    with pytest.raises(InvalidInput) as caught:
        presets.validate_rules({"min_width": 100, "max_widht": 50})
    assert caught.value.details["rule"] == "max_widht"
    with pytest.raises(InvalidInput):
        presets.validate_rules({"min_longest_side": 2000, "max_longest_side": 1000})
    with pytest.raises(InvalidInput) as caught:
        presets.validate_spec({"format": "mp4", "max_duration": -1}, "video")
    assert caught.value.details["field"] == "max_duration"


def test_presets_through_the_api_with_optimistic_concurrency(api_client):
    manager = api_client("asset_manager")
    spec = {"ops": [{"op": "resize", "mode": "fit", "width": 640}], "format": "webp"}
    created = manager.post(
        "/api/v1/presets",
        {"code": "web-640", "name": "Web 640", "spec": spec, "public": True},
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    assert created["ETag"] == 'W/"1"'
    assert created.json()["spec_hash"] == presets.spec_hash(spec)

    bad = manager.post(
        "/api/v1/presets",
        {
            "code": "broken",
            "name": "Broken",
            "spec": {"ops": [{"op": "resize", "mode": "fit", "width": 0}], "format": "jpeg"},
        },
        content_type="application/json",
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["details"] == {"op": 0, "field": "width"}
    assert not Preset.objects.filter(code="broken").exists()

    changed = manager.patch(
        "/api/v1/presets/web-640",
        {"name": "Web 640 px", "version": 1},
        content_type="application/json",
    )
    assert changed.status_code == 200 and changed.json()["version"] == 2
    stale = manager.patch(
        "/api/v1/presets/web-640",
        {"name": "Someone else's", "version": 1},
        content_type="application/json",
    )
    assert stale.status_code == 409
    assert stale.json()["error"]["details"]["current_version"] == 2

    override = manager.put(
        "/api/v1/presets/web-640/markets/de_DE",
        {"spec": {"quality": 70}},
        content_type="application/json",
        HTTP_IF_MATCH='W/"2"',
    )
    assert override.status_code == 200, override.content
    assert override.json()["market_overrides"] == {"de_DE": {"quality": 70}}
    wrong_locale = manager.put(
        "/api/v1/presets/web-640/markets/germany",
        {"spec": {"quality": 70}},
        content_type="application/json",
    )
    assert wrong_locale.status_code == 422

    viewer = api_client("viewer")
    assert viewer.get("/api/v1/presets").status_code == 200
    refused = viewer.patch(
        "/api/v1/presets/web-640", {"name": "x"}, content_type="application/json"
    )
    assert refused.status_code == 403
    # Asset managers change presets; deleting one is an administrator's decision.
    assert manager.delete("/api/v1/presets/web-640").status_code == 403
    assert api_client("admin").delete("/api/v1/presets/web-640").status_code == 204


def test_update_refuses_a_stale_version_in_the_service():
    presets.update_preset("thumb-256", expected_version=1, name="Thumbs")
    with pytest.raises(StaleWrite):
        presets.update_preset("thumb-256", expected_version=1, name="Thumbnails")


def test_image_slots_per_channel(api_client):
    channel = Channel.objects.create(code="amazon_de")
    admin = api_client("admin")
    url = f"/api/v1/channels/{channel.code}/image-slots"
    main = admin.post(
        url,
        {"role": "main", "preset": "amazon-main", "max_count": 1, "required": True},
        content_type="application/json",
    )
    assert main.status_code == 201, main.content
    gallery = admin.post(
        url,
        {"role": "gallery", "preset": "amazon-gallery", "max_count": 8},
        content_type="application/json",
    )
    assert gallery.status_code == 201
    twice = admin.post(
        url, {"role": "main", "preset": "amazon-main"}, content_type="application/json"
    )
    assert twice.status_code == 409
    unknown = admin.post(url, {"role": "swatch", "preset": "nope"}, content_type="application/json")
    assert unknown.status_code == 404
    listed = admin.get(url).json()
    assert [(s["role"], s["preset"], s["max_count"], s["required"]) for s in listed] == [
        ("gallery", "amazon-gallery", 8, False),
        ("main", "amazon-main", 1, True),
    ]
    patched = admin.patch(f"{url}/gallery", {"max_count": 6}, content_type="application/json")
    assert patched.json()["max_count"] == 6
    # A preset in use by a slot cannot be deleted.
    assert admin.delete("/api/v1/presets/amazon-gallery").status_code == 409
    assert admin.delete(f"{url}/gallery").status_code == 204
    assert list(ImageSlot.objects.values_list("role", flat=True)) == ["main"]
    assert admin.get("/api/v1/channels/nowhere/image-slots").status_code == 404
