"""Background removal on real encoded JPEGs: the seeded packshots of
bench/background_data.py (made small, so the suite stays quick), a drawn ring, a busy scene
and a plain JPEG from tests/assets/files.py. No model, no network."""

import io
import socket

import numpy as np
import pytest
import pyvips
from PIL import Image, ImageDraw

from bench import background_data as bd
from folio.renditions.background import REVIEW_BELOW, parse_colour, remove_background
from tests.assets import files

SCALE = 0.3
# Floors measured on these samples at SCALE (see docs/renditions.md), not aspirations.
FLOORS = {
    "white_on_white": 0.9,
    "coloured_on_white": 0.85,
    "tinted_background": 0.85,
    "reflective": 0.8,
    "holes": 0.75,
    "textured": 0.8,
}


def _array(image: pyvips.Image) -> np.ndarray:
    return np.ndarray(
        buffer=image.write_to_memory(),
        dtype=np.uint8,
        shape=(image.height, image.width, image.bands),
    ).squeeze()


def _iou(mask: pyvips.Image, truth: np.ndarray) -> float:
    a, b = _array(mask) >= 128, truth >= 128
    return float((a & b).sum() / max((a | b).sum(), 1))


def _jpeg(img: Image.Image) -> pyvips.Image:
    out = io.BytesIO()
    img.save(out, "JPEG", quality=85)
    return pyvips.Image.new_from_buffer(out.getvalue(), "")


@pytest.mark.parametrize("category", sorted(FLOORS))
def test_iou_per_category(category):
    indices = bd.indices_by_category()[category][:2]
    for index in indices:
        s = bd.sample(index, scale=SCALE)
        result = remove_background(s.image())
        assert _iou(result.mask, s.mask) >= FLOORS[category], s.name


def test_white_background_is_pure_white():
    s = bd.sample(bd.indices_by_category()["coloured_on_white"][0], scale=SCALE)
    result = remove_background(s.image(), background="#FFFFFF")
    out = _array(result.image)
    assert result.image.bands == 3
    border = np.concatenate([out[0], out[-1], out[:, 0], out[:, -1]])
    assert (border == 255).all()
    assert 0.0 <= result.confidence <= 1.0


def test_transparent_output_has_alpha():
    s = bd.sample(bd.indices_by_category()["coloured_on_white"][1], scale=SCALE)
    result = remove_background(s.image())
    assert result.image.bands == 4 and result.image.hasalpha()
    alpha = _array(result.image)[..., 3]
    assert alpha[0, 0] == 0 and alpha[-1, -1] == 0
    truth = s.mask >= 128
    assert (alpha[truth] >= 128).mean() > 0.9


def test_shadow_dropped_by_default_and_kept_on_request():
    index = next(
        i
        for i in bd.indices_by_category()["coloured_on_white"]
        if bd.sample(i, scale=0.1).shadow == "both"
    )
    s = bd.sample(index, scale=SCALE)
    dropped = _array(remove_background(s.image()).mask) >= 128
    kept = _array(remove_background(s.image(), keep_shadow=True).mask) >= 128
    truth = s.mask >= 128
    # The shadow is outside the truth: keeping it adds area there.
    # (Contact shadows are only partly dropped yet: see docs/renditions.md.)
    assert (kept & ~truth).sum() > 1.1 * max((dropped & ~truth).sum(), 1)


def test_hole_in_a_ring_stays_transparent():
    img = Image.new("RGB", (400, 400), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    draw.ellipse((80, 80, 320, 320), fill=(200, 40, 40))
    draw.ellipse((150, 150, 250, 250), fill=(255, 255, 255))
    result = remove_background(_jpeg(img))
    alpha = _array(result.image)[..., 3]
    assert alpha[200, 200] == 0  # the hole
    assert alpha[200, 110] == 255  # the ring
    assert alpha[10, 10] == 0


def test_busy_scene_gets_low_confidence():
    rng = np.random.default_rng(7)
    noise = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
    scene = Image.fromarray(noise).resize((600, 600), Image.BICUBIC)
    result = remove_background(_jpeg(scene))
    assert result.confidence < REVIEW_BELOW


def test_plain_jpeg_without_a_product_is_doubtful():
    image = pyvips.Image.new_from_buffer(files.jpeg(320, 240, color=(240, 240, 240)), "")
    result = remove_background(image, background="#FFFFFF")
    assert result.image.width == 320 and result.image.height == 240
    assert result.confidence < REVIEW_BELOW


def test_no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("background removal must not touch the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    s = bd.sample(0, scale=0.2)
    assert remove_background(s.image(), background="#FFFFFF").mask.width == s.width


def test_parse_colour():
    assert parse_colour("#fff") == (255, 255, 255)
    assert parse_colour("#FF0000") == (255, 0, 0)
    assert parse_colour([1, 2, 3]) == (1, 2, 3)
    assert parse_colour(None) is None
    with pytest.raises(ValueError):
        parse_colour("#12")
