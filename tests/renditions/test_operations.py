"""The rendition engine on real encoded files: every source is a file a decoder has to read,
every output is re-opened from disk and checked (dimensions, real format, pixels, metadata)."""

import io
import os
import resource

import filetype
import pytest
import pyvips
from hypothesis import given
from hypothesis import settings as examples
from hypothesis import strategies as st
from PIL import Image

from folio.errors import InvalidInput
from folio.renditions import compliance, operations
from folio.renditions.operations import RenderFailed, filename, render
from tests.assets import files


@pytest.fixture
def write(tmp_path):
    def write(name: str, data: bytes):
        path = tmp_path / name
        path.write_bytes(data)
        return path

    return write


@pytest.fixture(autouse=True)
def _temp_outputs(settings, tmp_path):
    settings.UPLOAD_DIR = tmp_path / "out"


def opened(result) -> pyvips.Image:
    return pyvips.Image.new_from_file(str(result.path))


def pixel(result, x, y) -> list[int]:
    return [round(v) for v in opened(result)(x, y)]


def close(actual, expected, tolerance):
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=False))


def encoded(image: Image.Image, fmt: str, **kwargs) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **kwargs)
    return out.getvalue()


def product_on_white(width, height, box, colour=(200, 40, 40)) -> Image.Image:
    image = Image.new("RGB", (width, height), (255, 255, 255))
    image.paste(colour, box)
    return image


# --- orientation, colour, transparency ---------------------------------------------------------


def test_exif_orientation_is_applied(write):
    # Stored 80 × 40 with red on the left; orientation 6 means "rotate 90° clockwise".
    image = Image.new("RGB", (80, 40), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, 40, 40))
    exif = Image.Exif()
    exif[0x0112] = 6
    path = write("rotated.jpg", encoded(image, "JPEG", quality=95, exif=exif.tobytes()))
    spec = {"ops": [{"op": "autorotate"}, {"op": "resize", "width": 20}], "format": "png"}
    result = render(path, spec)
    assert (result.width, result.height) == (20, 40)
    assert close(pixel(result, 10, 5), (255, 0, 0), 30)  # the left became the top
    assert close(pixel(result, 10, 35), (0, 0, 255), 30)
    # Without autorotate the stored orientation is kept.
    plain = render(path, {"ops": [{"op": "resize", "width": 40}], "format": "png"})
    assert (plain.width, plain.height) == (40, 20)


def _cmyk_tiff_with_profile(rgb) -> bytes:
    """A CMYK TIFF converted from a known sRGB colour with libvips' built-in CMYK profile,
    which it embeds: a colour-managed round trip must give the colour back."""
    image = pyvips.Image.black(40, 30).new_from_image(list(rgb)).cast("uchar")
    cmyk = image.copy(interpretation="srgb").icc_transform("cmyk", input_profile="srgb")
    assert cmyk.interpretation == "cmyk" and cmyk.get_typeof("icc-profile-data")
    return cmyk.tiffsave_buffer()


@pytest.mark.parametrize("resize", [True, False])
def test_cmyk_with_icc_profile_converts_to_the_right_srgb_colour(write, resize):
    path = write("print.tif", _cmyk_tiff_with_profile((180, 120, 90)))
    ops = [{"op": "colour", "to": "srgb"}]
    if resize:
        ops.insert(0, {"op": "resize", "width": 20})
    result = render(path, {"ops": ops, "format": "png"})
    assert opened(result).interpretation == "srgb" and opened(result).bands == 3
    assert close(pixel(result, 5, 5), (180, 120, 90), 4), pixel(result, 5, 5)


def test_cmyk_files_from_the_asset_factories_convert_without_inverting(write):
    # One with an (unusable) embedded profile, one with none: both fall back to CMYK.
    for name, data in (("a.tif", files.cmyk_tiff()), ("b.jpg", files.cmyk_jpeg())):
        result = render(write(name, data), {"ops": [{"op": "colour"}], "format": "png"})
        r, g, b = pixel(result, 5, 5)
        # C0 M60 Y100 K10 (in 0..255 units: light orange) is a warm light colour.
        assert r > 200 and r > g > b, (name, r, g, b)


def test_png_alpha_is_flattened_on_white(write):
    path = write("alpha.png", files.png(40, 30, color=(30, 120, 200), alpha=True))
    spec = {"ops": [{"op": "flatten", "background": "#FFFFFF"}], "format": "jpeg", "quality": 95}
    result = render(path, spec)
    assert opened(result).bands == 3
    # alpha 128 over white: c + (255 - c) × 127/255
    assert close(pixel(result, 10, 10), (142, 187, 228), 3), pixel(result, 10, 10)


def test_print_preset_gives_cmyk_tiff_at_300_dpi_with_profile(write):
    path = write("photo.jpg", files.jpeg(60, 40, color=(180, 120, 90), quality=95))
    spec = {"ops": [{"op": "colour", "to": "cmyk"}, {"op": "strip"}], "format": "tiff", "dpi": 300}
    result = render(path, spec)
    image = opened(result)
    assert image.interpretation == "cmyk" and image.bands == 4
    assert image.get_typeof("icc-profile-data")  # kept by strip: CMYK needs its profile
    assert round(image.xres * 25.4) == 300
    back = image.icc_transform("srgb", embedded=True)
    assert close([round(v) for v in back(10, 10)], (180, 120, 90), 6)


# --- geometry ------------------------------------------------------------------------------------


def test_uniform_border_is_trimmed(write):
    path = write("framed.png", encoded(product_on_white(200, 100, (50, 20, 110, 60)), "PNG"))
    result = render(path, {"ops": [{"op": "trim"}], "format": "png"})
    assert (result.width, result.height) == (60, 40)
    assert pixel(result, 0, 0) == [200, 40, 40]


def test_trim_then_resize_of_a_large_photo_keeps_the_product_sharp(write):
    # 3000 × 2000 JPEG, product 600 × 400 in the upper left: trim must find it on the
    # analysis copy and crop it from an intermediate image with enough pixels.
    image = product_on_white(3000, 2000, (300, 200, 900, 600))
    path = write("big.jpg", encoded(image, "JPEG", quality=92))
    spec = {
        "ops": [{"op": "trim"}, {"op": "resize", "mode": "fit", "width": 300, "height": 300}],
        "format": "png",
    }
    result = render(path, spec)
    # Trimmed on a resampled intermediate, the box can take in one anti-aliased edge pixel.
    assert result.width == 300 and result.height in (200, 201)
    assert close(pixel(result, 2, 2), (200, 40, 40), 25)
    assert close(pixel(result, 297, 197), (200, 40, 40), 25)


def test_focal_crop_keeps_the_focal_region(write):
    image = Image.new("RGB", (400, 200), (255, 255, 255))
    image.paste((0, 160, 0), (320, 80, 380, 120))  # a green mark around (0.875, 0.5)
    path = write("wide.png", encoded(image, "PNG"))
    focal = {"op": "resize", "mode": "fill", "width": 100, "height": 100, "focal": [0.875, 0.5]}
    result = render(path, {"ops": [focal], "format": "png"})
    assert (result.width, result.height) == (100, 100)
    # Scaled to 200 × 100, the cut can centre x = 175 only as far as the right edge allows
    # (x 100–200): the mark, at 160–190, lands at 60–90.
    assert close(pixel(result, 75, 50), (0, 160, 0), 10)
    centred = render(path, {"ops": [{**focal, "focal": "centre"}], "format": "png"})
    assert (centred.width, centred.height) == (100, 100)
    assert all(pixel(centred, x, 50) == [255, 255, 255] for x in range(0, 100, 5))


def test_smart_crop_fills_the_box(write):
    path = write("wide.jpg", files.jpeg(300, 100))
    spec = {"ops": [{"op": "resize", "mode": "fill", "width": 50, "height": 50, "focal": "smart"}]}
    result = render(path, {**spec, "format": "jpeg"})
    assert (result.width, result.height) == (50, 50)


def test_pad_gives_the_exact_canvas_with_the_background(write):
    path = write("p.png", files.png(200, 100, color=(10, 20, 30)))
    spec = {
        "ops": [
            {"op": "resize", "mode": "pad", "width": 300, "height": 300, "background": "#FFFFFF"}
        ],
        "format": "png",
    }
    result = render(path, spec)
    assert (result.width, result.height) == (300, 300)
    assert pixel(result, 0, 0) == [255, 255, 255]
    assert pixel(result, 150, 150) == [10, 20, 30]
    upscaled = render(path, {**spec, "ops": [{**spec["ops"][0], "upscale": True}]})
    assert pixel(upscaled, 150, 10) == [255, 255, 255]
    assert pixel(upscaled, 150, 100) == [10, 20, 30]


def test_fill_ratio_scales_a_small_product_up(write):
    small = product_on_white(1000, 1000, (400, 420, 600, 580))  # spans 20 % of the frame
    path = write("small.png", encoded(small, "PNG"))
    spec = {"ops": [{"op": "fill_ratio", "min": 0.85}], "format": "png"}
    result = render(path, spec)
    assert (result.width, result.height) == (1000, 1000)
    ratio, _box = compliance.fill_ratio(opened(result))
    assert 0.84 <= ratio <= 0.87, ratio
    report = compliance.check(result.path, {"min_fill_ratio": 0.84, "white_border": True})
    assert report["passed"], report


# --- output formats ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "mime"),
    [
        ("jpeg", "image/jpeg"),
        ("png", "image/png"),
        ("webp", "image/webp"),
        ("avif", "image/avif"),
        ("tiff", "image/tiff"),
        ("gif", "image/gif"),
    ],
)
def test_each_output_format_is_real(write, fmt, mime):
    path = write("src.jpg", files.jpeg(400, 300, color=(90, 140, 200)))
    spec = {"ops": [{"op": "resize", "width": 200, "height": 200}], "format": fmt}
    result = render(path, spec)
    assert result.format == fmt
    assert result.path.suffix == "." + operations.FORMATS[fmt][0]
    assert filetype.guess(str(result.path)).mime == mime
    assert result.size == os.path.getsize(result.path) > 0
    image = opened(result)
    assert (image.width, image.height) == (result.width, result.height) == (200, 150)


def test_jpeg_is_progressive_unless_asked_otherwise(write):
    path = write("src.jpg", files.jpeg(300, 200))
    progressive = render(path, {"ops": [], "format": "jpeg"})
    with Image.open(progressive.path) as image:
        assert image.info.get("progressive") or image.info.get("progression")
    baseline = render(path, {"ops": [], "format": "jpeg", "progressive": False})
    with Image.open(baseline.path) as image:
        assert not (image.info.get("progressive") or image.info.get("progression"))


def _noisy_jpeg(width=600, height=600) -> bytes:
    noise = pyvips.Image.gaussnoise(width, height, mean=128, sigma=50, seed=7).cast("uchar")
    return (
        noise.bandjoin([noise.rot180(), noise.fliphor()])
        .copy(interpretation="srgb")
        .jpegsave_buffer(Q=95)
    )


def test_max_bytes_lowers_quality_until_the_file_fits(write):
    path = write("noise.jpg", _noisy_jpeg())
    full = render(path, {"ops": [], "format": "jpeg", "quality": 95})
    limit = full.size // 3
    fitted = render(path, {"ops": [], "format": "jpeg", "quality": 95, "max_bytes": limit})
    assert fitted.size <= limit and fitted.size == os.path.getsize(fitted.path)
    assert operations.MIN_QUALITY <= fitted.quality < 95
    webp = render(path, {"ops": [], "format": "webp", "quality": 90, "max_bytes": limit})
    assert webp.size <= limit


def test_max_bytes_that_cannot_be_met_is_an_error(write):
    path = write("noise.jpg", _noisy_jpeg())
    with pytest.raises(RenderFailed, match="cannot be encoded in 2,000 bytes"):
        render(path, {"ops": [], "format": "jpeg", "max_bytes": 2000})
    with pytest.raises(RenderFailed, match="no quality to lower"):
        render(path, {"ops": [], "format": "png", "max_bytes": 2000})


def test_strip_keeps_copyright_and_artist_only(write):
    exif = {0x8298: "(c) Aqualine GmbH", 0x013B: "Ann Example", 0x010F: "Canon", 0x0110: "EOS"}
    path = write("shot.jpg", files.jpeg(80, 60, exif=exif))
    spec = {
        "ops": [{"op": "resize", "width": 40}, {"op": "strip", "keep": ["copyright", "artist"]}],
        "format": "jpeg",
    }
    result = render(path, spec)
    with Image.open(result.path) as image:
        tags = image.getexif()
        assert tags.get(0x8298) == "(c) Aqualine GmbH"
        assert tags.get(0x013B) == "Ann Example"
        assert 0x010F not in tags and 0x0110 not in tags
        xmp = image.info.get("xmp", b"")
    assert b"Aqualine GmbH" in xmp and b"dc:rights" in xmp
    everything = render(path, {**spec, "ops": [{"op": "strip", "keep": []}]})
    with Image.open(everything.path) as image:
        assert 0x8298 not in image.getexif() and 0x010F not in image.getexif()


# --- sources -------------------------------------------------------------------------------------


def test_file_objects_and_heic_via_pillow_heif(write):
    result = render(io.BytesIO(files.png(30, 20)), {"ops": [], "format": "png"})
    assert (result.width, result.height) == (30, 20)
    heic = render(write("photo.heic", files.heic(64, 48)), {"ops": [], "format": "png"})
    assert (heic.width, heic.height) == (64, 48)
    assert close(pixel(heic, 10, 10), (250, 200, 0), 12), pixel(heic, 10, 10)
    avif = render(write("photo.avif", files.avif(64, 48)), {"ops": [], "format": "png"})
    assert close(pixel(avif, 10, 10), (120, 60, 200), 12), pixel(avif, 10, 10)


def test_animated_gif_is_frame_limited(write):
    path = write("anim.gif", files.gif(20, 16, animated=True, frames=operations.MAX_FRAMES + 20))
    result = render(path, {"ops": [{"op": "resize", "width": 10}], "format": "gif"})
    image = pyvips.Image.new_from_file(str(result.path), n=-1)
    assert image.get("n-pages") == result.frames == operations.MAX_FRAMES
    assert (result.width, result.height) == (10, 8)
    # A static target gets the first frame only.
    still = render(path, {"ops": [{"op": "resize", "width": 10}], "format": "png"})
    assert (still.width, still.height) == (10, 8) and still.frames == 1


def test_too_many_pixels_names_the_file(write):
    path = write("huge.png", files.bomb_png())
    with pytest.raises(InvalidInput, match=r"huge\.png is 30000 × 30000 pixels"):
        render(path, {"ops": [], "format": "png"})
    small = write("small.jpg", files.jpeg(64, 48))
    with pytest.raises(InvalidInput, match=r"small\.jpg"):
        render(small, {"ops": [], "format": "png"}, max_pixels=1000)


def test_invalid_specs_are_refused():
    with pytest.raises(InvalidInput) as err:
        operations.validate_spec({"ops": [{"op": "blur"}], "format": "bmp", "quality": 0})
    assert set(err.value.details) == {"ops[0]", "format", "quality"}
    with pytest.raises(InvalidInput):
        operations.validate_spec({"ops": [{"op": "resize", "mode": "pad", "width": 10}]})


def test_remove_background_uses_the_background_module(write):
    path = write("product.png", encoded(product_on_white(120, 100, (30, 20, 90, 80)), "PNG"))
    spec = {"ops": [{"op": "remove_background", "background": None}], "format": "png"}
    try:
        import folio.renditions.background  # noqa: F401
    except ImportError:
        with pytest.raises(RenderFailed, match="background removal is not available"):
            render(path, spec)
        return
    result = render(path, spec)
    assert result.confidence is not None and 0.0 <= result.confidence <= 1.0
    assert opened(result).hasalpha()


# --- memory --------------------------------------------------------------------------------------


def _peak_rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


@pytest.fixture(scope="module")
def fifty_megapixels(tmp_path_factory):
    path = tmp_path_factory.mktemp("big") / "50mp.jpg"
    noise = pyvips.Image.gaussnoise(8660, 5774, mean=128, sigma=40, seed=3).cast("uchar")
    noise.bandjoin([noise, noise]).copy(interpretation="srgb").jpegsave(str(path), Q=70)
    return path


@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="needs Linux /proc")
@pytest.mark.parametrize("trim", [False, True], ids=["shrink-on-load", "intermediate"])
def test_a_50_megapixel_source_renders_in_bounded_memory(fifty_megapixels, trim):
    ops = [
        {"op": "autorotate"},
        {"op": "resize", "mode": "fit", "width": 1000, "height": 1000},
        {"op": "colour", "to": "srgb"},
        {"op": "sharpen", "sigma": 0.5},
        {"op": "strip"},
    ]
    if trim:
        ops.insert(1, {"op": "trim"})
    pyvips.cache_set_max(0)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak-RSS counter
    before = _peak_rss_kib()
    result = render(fifty_megapixels, {"ops": ops, "format": "jpeg", "quality": 85})
    peak = _peak_rss_kib() - before
    assert (result.width, result.height) == (1000, 667)
    # The pixels alone would be 150 MB decoded whole; the bound is generous on purpose.
    assert peak < 100 * 1024, f"peak RSS grew by {peak / 1024:.0f} MB"


# --- file names ----------------------------------------------------------------------------------


def test_filename_templates():
    assert filename("{gtin}.{role:upper}.{ext}", gtin="4006381333931", role="main", ext="jpg") == (
        "4006381333931.MAIN.jpg"
    )
    assert filename("{gtin}.{position:PT}.{ext}", gtin="4006381333931", position=1, ext="jpg") == (
        "4006381333931.PT01.jpg"
    )
    assert filename("{sku}-{position:02}.{ext}", sku="ESP-100", position=3, ext="webp") == (
        "ESP-100-03.webp"
    )
    assert (
        filename(
            "{channel}_{locale}_{title_slug}.{ext}",
            channel="shop",
            locale="de_DE",
            title_slug="Kaffee-Maschine",
            ext="png",
        )
        == "shop_de_DE_Kaffee-Maschine.png"
    )


def test_filename_is_one_safe_component():
    name = filename(
        "{sku}/{title_slug}.{ext}", sku="../../etc/passwd", title_slug="Crème brûlée", ext="jpg"
    )
    assert "/" not in name and "\\" not in name and not name.startswith(".")
    assert name.endswith("Creme-brulee.jpg")


def test_filename_missing_variable_is_named():
    with pytest.raises(InvalidInput, match="needs gtin") as err:
        filename("{gtin}.{role:upper}.{ext}", role="main", ext="jpg", gtin=None)
    assert err.value.details["missing"] == ["gtin"]
    with pytest.raises(InvalidInput):
        filename("{sku!r:>{width}}", sku="x")


def test_rotation_without_resize_and_two_pass_ops_after_a_resize(write):
    image = product_on_white(200, 100, (20, 10, 180, 90))
    exif = Image.Exif()
    exif[0x0112] = 6
    path = write("r.jpg", encoded(image, "JPEG", quality=95, exif=exif.tobytes()))
    upright = render(path, {"ops": [{"op": "autorotate"}, {"op": "strip"}], "format": "png"})
    assert (upright.width, upright.height) == (100, 200)
    spec = {
        "ops": [
            {"op": "resize", "mode": "fit", "width": 100, "height": 100},
            {"op": "trim"},
            {"op": "resize", "mode": "fill", "width": 40, "height": 40, "focal": "smart"},
            {"op": "fill_ratio", "min": 0.9},
        ],
        "format": "png",
    }
    result = render(path, spec)
    assert (result.width, result.height) == (40, 40)


@examples(max_examples=400, deadline=None)
@given(st.text(alphabet="aZ9._-/ é…", max_size=220) | st.text(max_size=220))
def test_a_name_already_safe_is_given_back_as_the_full_sanitising_would(text):
    """sanitise_filename's shortcut for names that are already safe must agree with the full
    sanitising on every input, the ones it shortcuts and the ones it does not."""
    try:
        expected = operations._sanitised(text)
    except InvalidInput:
        with pytest.raises(InvalidInput):
            operations.sanitise_filename(text)
        return
    assert operations.sanitise_filename(text) == expected


def test_sanitised_names_at_the_edges():
    long = "a" * 250 + ".jpeg"
    assert operations.sanitise_filename(long) == "a" * (200 - 5) + ".jpeg"
    assert operations.sanitise_filename("ESP-100_main.01.jpg") == "ESP-100_main.01.jpg"
    assert operations.sanitise_filename("-x--y..z.") == "x-y.z"
    for given_name, safe in (("a..b", "a.b"), ("a--b", "a-b"), ("a-", "a"), (".a", "a")):
        assert operations.sanitise_filename(given_name) == safe
    with pytest.raises(InvalidInput, match="empty"):
        operations.sanitise_filename("…")
