"""Compliance checks on real encoded files: each rule passes on a conforming image and fails
on one that breaks it, with the measured value in the detail."""

import io

import pytest
import pyvips
from PIL import Image

from folio.renditions import compliance
from folio.renditions.operations import render
from tests.assets import files

AMAZON_MAIN = {
    "min_longest_side": 1000,
    "max_longest_side": 10000,
    "formats": ["jpeg", "tiff", "png", "gif"],
    "colour_space": "srgb",
    "white_border": True,
    "min_fill_ratio": 0.85,
    "no_transparency": True,
    "square": True,
}


@pytest.fixture
def write(tmp_path):
    def write(name: str, data: bytes):
        path = tmp_path / name
        path.write_bytes(data)
        return path

    return write


def encoded(image: Image.Image, fmt: str, **kwargs) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **kwargs)
    return out.getvalue()


def on_white(size, box, background=(255, 255, 255), colour=(30, 60, 160)) -> Image.Image:
    image = Image.new("RGB", size, background)
    image.paste(colour, box)
    return image


def by_rule(report) -> dict:
    return {c["rule"]: c for c in report["checks"]}


def test_a_conforming_amazon_main_image_passes(write):
    # 1000 × 1000, product 880 × 600 centred: spans 88 % of the frame, border untouched.
    path = write(
        "main.jpg", encoded(on_white((1000, 1000), (60, 200, 940, 800)), "JPEG", quality=90)
    )
    report = compliance.check(path, AMAZON_MAIN)
    assert report["passed"], report
    checks = by_rule(report)
    assert set(checks) == set(AMAZON_MAIN)
    assert checks["min_fill_ratio"]["value"] == pytest.approx(0.88, abs=0.005)
    assert checks["white_border"]["value"] == 255
    assert checks["formats"]["value"] == "jpeg"
    assert "1000" in checks["min_longest_side"]["detail"]


def test_an_engine_rendered_amazon_main_passes(write):
    source = write("photo.png", encoded(on_white((1600, 900), (200, 100, 1400, 800)), "PNG"))
    spec = {
        "ops": [
            {"op": "trim"},
            # As the amazon-main preset does: fit 920 of 1000 px, so a white border stays.
            {"op": "resize", "mode": "fit", "width": 920, "height": 920, "upscale": True},
            {"op": "resize", "mode": "pad", "width": 1000, "height": 1000},
            {"op": "colour", "to": "srgb"},
            {"op": "strip"},
        ],
        "format": "jpeg",
        "quality": 90,
    }
    result = render(source, spec)
    report = compliance.check(result.path, AMAZON_MAIN, format=result.format)
    assert report["passed"], report


def test_an_off_white_border_fails_with_the_value_found(write):
    image = on_white((1000, 1000), (60, 60, 940, 940), background=(250, 250, 250))
    report = compliance.check(write("grey.png", encoded(image, "PNG")), {"white_border": True})
    check = by_rule(report)["white_border"]
    assert not report["passed"] and not check["passed"]
    assert check["value"] == 250 and "250" in check["detail"]
    # One non-white pixel on the last row is enough (the check is exact, full resolution).
    image = on_white((300, 200), (50, 50, 250, 150))
    image.putpixel((123, 199), (255, 254, 255))
    report = compliance.check(write("dot.png", encoded(image, "PNG")), {"white_border": True})
    assert not report["passed"]
    assert "(123, 199)" in by_rule(report)["white_border"]["detail"]
    # ...unless the rule allows a tolerance.
    assert compliance.check(write("dot2.png", encoded(image, "PNG")), {"white_border": 2})["passed"]


def test_a_small_product_fails_the_fill_ratio(write):
    image = on_white((2000, 2000), (700, 800, 1300, 1200))  # spans 30 %
    report = compliance.check(
        write("small.jpg", encoded(image, "JPEG", quality=90)), {"min_fill_ratio": 0.85}
    )
    check = by_rule(report)["min_fill_ratio"]
    assert not check["passed"]
    assert check["value"] == pytest.approx(0.30, abs=0.005)
    assert "of the frame (min 85%)" in check["detail"]


def test_transparency_fails_where_not_allowed(write):
    report = compliance.check(write("a.png", files.png(40, 40, alpha=True)), AMAZON_MAIN)
    checks = by_rule(report)
    assert not checks["no_transparency"]["passed"]
    assert checks["no_transparency"]["value"] == 128
    opaque = Image.new("RGBA", (40, 40), (255, 255, 255, 255))
    report = compliance.check(write("o.png", encoded(opaque, "PNG")), {"no_transparency": True})
    assert report["passed"] and "fully opaque" in report["checks"][0]["detail"]


def test_size_format_and_shape_rules_fail_with_measured_values(write):
    path = write("small.png", files.png(800, 600))
    report = compliance.check(
        path,
        {
            "min_longest_side": 1000,
            "min_width": 1000,
            "max_height": 500,
            "square": True,
            "formats": ["jpeg"],
            "max_bytes": 100,
            "max_megapixels": 0.4,
        },
    )
    checks = by_rule(report)
    assert not report["passed"]
    assert all(not c["passed"] for c in checks.values())
    assert checks["min_longest_side"]["value"] == 800
    assert checks["max_height"]["value"] == 600
    assert checks["formats"]["value"] == "png"
    assert checks["max_megapixels"]["value"] == pytest.approx(0.48)
    assert checks["square"]["detail"] == "800 × 600 px"


def test_the_real_format_counts_not_the_name(write):
    data, name = files.lying_extension()
    report = compliance.check(write(name, data), {"formats": ["jpeg"]})
    assert not report["passed"] and by_rule(report)["formats"]["value"] == "png"


def test_colour_space(write):
    cmyk = compliance.check(write("c.tif", files.cmyk_tiff()), {"colour_space": "srgb"})
    assert not cmyk["passed"] and "CMYK" in cmyk["checks"][0]["detail"]
    srgb = compliance.check(write("s.jpg", files.jpeg()), {"colour_space": "srgb"})
    assert srgb["passed"]
    image = pyvips.Image.black(20, 20).new_from_image([100, 100, 100]).cast("uchar")
    print_ready = image.copy(interpretation="srgb").icc_transform("cmyk", input_profile="srgb")
    path = write("p.tif", print_ready.tiffsave_buffer())
    assert compliance.check(path, {"colour_space": "cmyk"})["passed"]


def test_unknown_and_switched_off_rules(write):
    path = write("s.jpg", files.jpeg())
    report = compliance.check(path, {"square": False, "min_width": None, "watermark": "none"})
    assert report["passed"]
    assert [c["rule"] for c in report["checks"]] == ["watermark"]
    assert "not checked" in report["checks"][0]["detail"]


def test_fill_ratio_on_a_large_image_uses_a_shrunk_copy_within_tolerance(write):
    # 5000 × 3000, product 4000 wide: exact ratio 0.8.
    image = on_white((5000, 3000), (500, 1000, 4500, 2000))
    report = compliance.check(
        write("wide.png", encoded(image, "PNG", compress_level=1)), {"min_fill_ratio": 0.75}
    )
    assert report["passed"]
    assert report["checks"][0]["value"] == pytest.approx(0.8, abs=0.002)
