"""The presets every installation starts with. They are ordinary data afterwards: edit them
through the API or CLI like any preset (this migration never overwrites an edited one).

Channel facts from the channels' published image rules (docs/renditions.md cites them):
Amazon MAIN: pure white background (255, 255, 255), product ≥ 85 % of the frame, longest side
1000–10,000 px (≥ 1000 enables zoom), JPEG preferred, RGB. Google Merchant Center: JPEG/WebP/
PNG/GIF/BMP/TIFF, ≤ 64 MP, ≤ 16 MB, at least 500 × 500 from 2027 (1500 × 1500 recommended).
"""

from django.db import migrations

WHITE = "#FFFFFF"
STRIP = {"op": "strip", "keep": ["copyright", "artist"]}
SRGB = {"op": "colour", "to": "srgb"}

PRESETS = [
    {
        "code": "thumb-256",
        "name": "Thumbnail 256 px",
        "description": "Small WebP for lists and pickers.",
        "spec": {
            "ops": [
                {"op": "autorotate"},
                {"op": "resize", "mode": "fit", "width": 256, "height": 256},
                SRGB,
                {"op": "strip"},
            ],
            "format": "webp",
            "quality": 80,
        },
        "rules": {"max_longest_side": 256, "formats": ["webp"]},
        "filename_template": "{title_slug}-256.{ext}",
        "public": True,
    },
    {
        "code": "web-2048-webp",
        "name": "Web 2048 px WebP",
        "description": "The web shop's zoom image: fit 2048 px, sRGB, lightly sharpened.",
        "spec": {
            "ops": [
                {"op": "autorotate"},
                {"op": "resize", "mode": "fit", "width": 2048, "height": 2048},
                SRGB,
                {"op": "sharpen", "sigma": 0.5},
                STRIP,
            ],
            "format": "webp",
            "quality": 82,
        },
        "rules": {"max_longest_side": 2048, "formats": ["webp"], "colour_space": "srgb"},
        "filename_template": "{title_slug}.{ext}",
        "public": True,
    },
    {
        "code": "amazon-main",
        "name": "Amazon main image",
        "description": "Product cut out on pure white, filling 92 % of a 2000 px square "
        "(≥ 85 % required), JPEG sRGB.",
        "spec": {
            "ops": [
                {"op": "autorotate"},
                {"op": "remove_background", "background": WHITE, "keep_shadow": False},
                {"op": "trim", "threshold": 10},
                # 1840 of 2000 px: the product fills 92 % and a pure white border stays.
                {"op": "resize", "mode": "fit", "width": 1840, "height": 1840, "upscale": True},
                {"op": "resize", "mode": "pad", "width": 2000, "height": 2000, "background": WHITE},
                SRGB,
                {"op": "flatten", "background": WHITE},
                STRIP,
            ],
            "format": "jpeg",
            "quality": 90,
            "progressive": True,
            "max_bytes": 10_000_000,
        },
        "rules": {
            "min_longest_side": 1000,
            "max_longest_side": 10_000,
            "formats": ["jpeg"],
            "colour_space": "srgb",
            "white_border": True,
            "min_fill_ratio": 0.85,
            "no_transparency": True,
        },
        # A market can ask for something else; Germany here keeps files under 5 MB.
        "market_overrides": {"de_DE": {"quality": 85, "max_bytes": 5_000_000}},
        "filename_template": "{gtin}.MAIN.{ext}",
        "public": False,
    },
    {
        "code": "amazon-gallery",
        "name": "Amazon gallery image",
        "description": "Further images (PT01–PT08): fit 2000 px, JPEG sRGB, background kept.",
        "spec": {
            "ops": [
                {"op": "autorotate"},
                {"op": "resize", "mode": "fit", "width": 2000, "height": 2000},
                SRGB,
                {"op": "flatten", "background": WHITE},
                STRIP,
            ],
            "format": "jpeg",
            "quality": 88,
            "progressive": True,
            "max_bytes": 10_000_000,
        },
        "rules": {
            "min_longest_side": 1000,
            "max_longest_side": 10_000,
            "formats": ["jpeg", "tiff", "png", "gif"],
            "colour_space": "srgb",
        },
        "filename_template": "{gtin}.PT{position:02}.{ext}",
        "public": False,
    },
    {
        "code": "google-main",
        "name": "Google Merchant Center image",
        "description": "1500 × 1500 px (Google's recommendation) on white, JPEG sRGB, "
        "under 16 MB and 64 MP.",
        "spec": {
            "ops": [
                {"op": "autorotate"},
                {
                    "op": "resize",
                    "mode": "pad",
                    "width": 1500,
                    "height": 1500,
                    "background": WHITE,
                    "upscale": True,
                },
                SRGB,
                {"op": "flatten", "background": WHITE},
                STRIP,
            ],
            "format": "jpeg",
            "quality": 88,
            "max_bytes": 16_000_000,
        },
        "rules": {
            "min_width": 500,
            "min_height": 500,
            "max_megapixels": 64,
            "max_bytes": 16_000_000,
            "formats": ["jpeg", "webp", "png", "gif", "bmp", "tiff"],
        },
        "filename_template": "{sku}-{position}.{ext}",
        "public": False,
    },
    {
        "code": "shopify-2048-square",
        "name": "Shopify 2048 px square",
        "description": "Square 2048 × 2048 on white (Shopify's recommended product image).",
        "spec": {
            "ops": [
                {"op": "autorotate"},
                {"op": "resize", "mode": "pad", "width": 2048, "height": 2048, "background": WHITE},
                SRGB,
                {"op": "flatten", "background": WHITE},
                STRIP,
            ],
            "format": "jpeg",
            "quality": 85,
            "progressive": True,
            "max_bytes": 20_000_000,
        },
        "rules": {
            "square": True,
            "max_megapixels": 25,
            "max_bytes": 20_000_000,
            "formats": ["jpeg", "png", "webp", "gif"],
        },
        "filename_template": "{sku}-{position}.{ext}",
        "public": True,
    },
    {
        "code": "social-1080x1350",
        "name": "Social 1080 × 1350 (4:5)",
        "description": "Portrait feed image, cropped around what is interesting.",
        "spec": {
            "ops": [
                {"op": "autorotate"},
                {
                    "op": "resize",
                    "mode": "fill",
                    "width": 1080,
                    "height": 1350,
                    "focal": "smart",
                    "upscale": True,
                },
                SRGB,
                STRIP,
            ],
            "format": "jpeg",
            "quality": 85,
            "progressive": True,
        },
        "rules": {
            "min_width": 1080,
            "max_width": 1080,
            "min_height": 1350,
            "max_height": 1350,
            "formats": ["jpeg"],
        },
        "filename_template": "{title_slug}-1080x1350.{ext}",
        "public": True,
    },
    {
        "code": "ads-1200x628",
        "name": "Ads 1200 × 628 (1.91:1)",
        "description": "Landscape ad and link-preview image.",
        "spec": {
            "ops": [
                {"op": "autorotate"},
                {
                    "op": "resize",
                    "mode": "fill",
                    "width": 1200,
                    "height": 628,
                    "focal": "smart",
                    "upscale": True,
                },
                SRGB,
                STRIP,
            ],
            "format": "jpeg",
            "quality": 85,
            "progressive": True,
            "max_bytes": 5_000_000,
        },
        "rules": {
            "min_width": 1200,
            "max_width": 1200,
            "min_height": 628,
            "max_height": 628,
            "max_bytes": 5_000_000,
            "formats": ["jpeg"],
        },
        "filename_template": "{title_slug}-1200x628.{ext}",
        "public": True,
    },
    {
        "code": "print-300dpi-cmyk",
        "name": "Print, CMYK 300 dpi TIFF",
        "description": "Full size, converted to CMYK with an embedded ICC profile, 300 dpi.",
        "spec": {
            "ops": [
                {"op": "autorotate"},
                {"op": "flatten", "background": WHITE},
                {"op": "colour", "to": "cmyk", "icc": "cmyk"},
            ],
            "format": "tiff",
            "dpi": 300,
        },
        "rules": {"colour_space": "cmyk", "formats": ["tiff"]},
        "filename_template": "{title_slug}-print.{ext}",
        "public": False,
    },
    {
        "code": "video-mp4-720",
        "name": "Web video MP4 720p",
        "description": "H.264/AAC MP4 (fast start), fit 1280 × 720, at most 60 s.",
        "kind": "video",
        "spec": {
            "format": "mp4",
            "max_width": 1280,
            "max_height": 720,
            "max_duration": 60,
            "crf": 23,
            "audio": True,
            "audio_bitrate": 128_000,
        },
        "rules": {
            "formats": ["mp4"],
            "max_duration": 60,
            "max_bytes": 100_000_000,
            "max_width": 1280,
            "max_height": 720,
            "video_codecs": ["h264"],
            "audio_codecs": ["aac"],
        },
        "filename_template": "{title_slug}-720p.{ext}",
        "public": True,
    },
    {
        "code": "video-webm-720",
        "name": "Web video WebM 720p",
        "description": "VP9/Opus WebM, fit 1280 × 720, at most 60 s.",
        "kind": "video",
        "spec": {
            "format": "webm",
            "max_width": 1280,
            "max_height": 720,
            "max_duration": 60,
            "crf": 33,
            "audio": True,
            "audio_bitrate": 96_000,
        },
        "rules": {
            "formats": ["webm"],
            "max_duration": 60,
            "max_bytes": 100_000_000,
            "max_width": 1280,
            "max_height": 720,
            "video_codecs": ["vp9", "vp8"],
            "audio_codecs": ["opus", "vorbis"],
        },
        "filename_template": "{title_slug}-720p.{ext}",
        "public": True,
    },
    {
        "code": "video-poster",
        "name": "Video poster frame",
        "description": "A JPEG still at 10 % of the video, fit 1280 × 720.",
        "kind": "video",
        "spec": {"format": "jpeg", "max_width": 1280, "max_height": 720, "at": 0.1, "quality": 85},
        "rules": {"formats": ["jpeg"], "max_longest_side": 1280},
        "filename_template": "{title_slug}-poster.{ext}",
        "public": True,
    },
]


def _alias(schema_editor) -> str:
    # Tests call seed(apps, None) to seed again after a flush: then the default database.
    return schema_editor.connection.alias if schema_editor is not None else "default"


def seed(apps, schema_editor):
    Preset = apps.get_model("renditions", "Preset")
    for data in PRESETS:
        fields = {"kind": "image", "market_overrides": {}, **data}
        code = fields.pop("code")
        Preset.objects.using(_alias(schema_editor)).get_or_create(code=code, defaults=fields)


def unseed(apps, schema_editor):
    Preset = apps.get_model("renditions", "Preset")
    # Only presets nobody edited and nothing uses.
    Preset.objects.using(_alias(schema_editor)).filter(
        code__in=[p["code"] for p in PRESETS], version=1, slots__isnull=True
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("renditions", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
