"""A labelled set of synthetic packshots for background removal, from a seed.

`python -m bench.background_data [DIR]` writes the set (JPEGs + ground-truth PNG masks) to
look at; the benchmark and the tests call `sample()` / `generate()` directly.

Each image is a product built from primitives (rounded rectangles, ellipses, cylinders,
bottle silhouettes, rings, mugs, bags and open arcs) drawn with signed distance fields, so
edges are anti-aliased and the ground-truth mask is the exact coverage of the product
(shadows are not part of it). Products are shaded (cylindrical, spherical or flat with
darkened rims), some textured or reflective; backgrounds are pure or off-white, grey or beige,
with gradients and vignetting; soft and contact shadows fall on the floor; sensor noise is
added and the result JPEG-compressed at a quality between 60 and 95.

The set was FROZEN before the algorithm was tuned: changing anything here changes the
checksum the benchmark records, and figures measured on different checksums do not compare.

Composition of the default set (COUNT = 80): white-on-white 26 (32 %), coloured on white 14,
tinted (grey/beige, gradient, vignetting) backgrounds 12, reflective 10, with holes 10
(reflective + holes 25 %), textured 8. Every fourth image is 2000×2000, the others
1000×1000, 1600×1200 or 1200×1600. About three in four carry a shadow (contact, soft or
both). Every sample draws from its own generator seeded with (seed, index), so any one of
them can be made alone (the tests make a few, smaller, with `scale`).
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyvips

DEFAULT_SEED = 20260505
COUNT = 80
GENERATOR_VERSION = 1
PLAN = (
    ("white_on_white", 26),
    ("coloured_on_white", 14),
    ("tinted_background", 12),
    ("reflective", 10),
    ("holes", 10),
    ("textured", 8),
)
SIZES = ((1000, 1000), (1600, 1200), (1200, 1600))
BIG = (2000, 2000)
SHADOWS = ("none", "contact", "soft", "both")
SHADOW_WEIGHTS = (0.25, 0.3, 0.2, 0.25)

PALETTE = (
    (200, 30, 40),
    (30, 90, 180),
    (20, 140, 70),
    (240, 170, 20),
    (120, 40, 140),
    (230, 100, 30),
    (20, 20, 25),
    (60, 60, 65),
    (150, 110, 80),
    (100, 170, 200),
    (230, 160, 180),
    (180, 200, 120),
)


@dataclass
class Sample:
    index: int
    category: str
    width: int
    height: int
    shape: str
    shadow: str
    quality: int
    jpeg: bytes
    mask: np.ndarray  # uint8 H×W, 255 = product (coverage ≥ 50 %), ground truth
    params: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.index:03d}-{self.category}-{self.shape}-{self.shadow}"

    def image(self) -> pyvips.Image:
        return pyvips.Image.new_from_buffer(self.jpeg, "")


def plan(seed: int = DEFAULT_SEED, count: int = COUNT) -> list[str]:
    """The category of every index: the PLAN's proportions, in a seeded order."""
    cats = [c for c, n in PLAN for _ in range(n)]
    while len(cats) < count:
        cats += cats
    order = np.random.default_rng(seed).permutation(len(cats))
    return [cats[i] for i in order][:count]


def indices_by_category(seed: int = DEFAULT_SEED, count: int = COUNT) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for i, cat in enumerate(plan(seed, count)):
        out.setdefault(cat, []).append(i)
    return out


def generate(seed: int = DEFAULT_SEED, count: int = COUNT, *, scale: float = 1.0):
    """Yield every sample of the set."""
    cats = plan(seed, count)
    for i in range(count):
        yield sample(i, seed=seed, category=cats[i], scale=scale)


def checksum(samples) -> str:
    h = hashlib.sha256()
    for s in samples:
        h.update(s.jpeg)
        h.update(s.mask.tobytes())
    return h.hexdigest()


def parameters(seed: int = DEFAULT_SEED, count: int = COUNT) -> dict:
    return {
        "generator": "bench/background_data.py",
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "count": count,
        "plan": dict(PLAN),
        "sizes": [list(BIG), *map(list, SIZES)],
        "shadows": dict(zip(SHADOWS, SHADOW_WEIGHTS, strict=True)),
        "jpeg_quality": [60, 95],
    }


# --- signed distance fields (pixels; negative inside) ---------------------------------------


def _sd_round_rect(x, y, cx, cy, hw, hh, r):
    r = min(r, hw, hh)
    qx = np.abs(x - cx) - (hw - r)
    qy = np.abs(y - cy) - (hh - r)
    outside = np.hypot(np.maximum(qx, 0), np.maximum(qy, 0))
    return outside + np.minimum(np.maximum(qx, qy), 0) - r


def _sd_ellipse(x, y, cx, cy, rx, ry):
    px, py = (x - cx) / rx, (y - cy) / ry
    k0 = np.hypot(px, py)
    k1 = np.hypot(px / rx, py / ry)
    return k0 * (k0 - 1.0) / np.maximum(k1, 1e-9)


def _grid(w, h):
    """Pixel-centre coordinates as an open grid (broadcasts without H×W copies)."""
    return np.arange(h, dtype=np.float32)[:, None], np.arange(w, dtype=np.float32)[None, :]


def _coverage(sd):
    return np.clip(0.5 - sd, 0.0, 1.0)


# --- the pieces of a picture ------------------------------------------------------------------


def _background(rng, category, w, h):
    y, x = _grid(w, h)
    u, v = x / w - 0.5, y / h - 0.5
    if category in ("tinted_background",) or (
        category in ("holes", "textured", "reflective") and rng.random() < 0.35
    ):
        lum = rng.uniform(180, 235)
        tint = rng.choice(["grey", "beige", "blue"])
        offset = {"grey": (0, 0, 2), "beige": (6, 2, -10), "blue": (-4, 0, 6)}[tint]
        base = np.array([lum + o for o in offset], np.float32)
        grad = rng.uniform(8, 20)
        vignette = rng.uniform(0.05, 0.15)
        kind = f"tinted-{tint}"
    elif category == "white_on_white" and rng.random() < 0.5:
        base = np.array([255, 255, 255], np.float32) + rng.uniform(0, 6)  # blown out
        grad, vignette, kind = rng.uniform(0, 4), 0.0, "white-clipped"
    else:
        level = rng.uniform(246, 254)
        base = np.array([level, level, level + rng.uniform(-1, 1)], np.float32)
        grad, vignette, kind = rng.uniform(0, 4), rng.uniform(0, 0.03), "off-white"
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(angle) * u + np.sin(angle) * v) * grad
    fall = 1.0 - vignette * (u * u + v * v) * 2
    bg = (base[None, None, :] + ramp[..., None]) * fall[..., None]
    return bg, {"background": kind, "bg_base": [round(float(c), 1) for c in base]}


def _shape(rng, category, w, h):
    """(sd, info): the product's signed distance field and what shading it takes."""
    s = min(w, h)
    pw = rng.uniform(0.28, 0.55) * w
    ph = min(rng.uniform(0.45, 0.78) * h, 2.6 * pw)
    cx = w / 2 + rng.uniform(-0.05, 0.05) * w
    cy = h / 2 + rng.uniform(-0.04, 0.06) * h
    top, bottom = cy - ph / 2, cy + ph / 2
    y, x = _grid(w, h)
    if category == "holes":
        shape = rng.choice(["mug", "ring", "bag", "arc"])
    elif category == "reflective":
        shape = rng.choice(["bottle", "can", "ball", "box"])
    else:
        shape = rng.choice(["box", "bottle", "can", "ball", "jar"])
    hw, hh = pw / 2, ph / 2
    shading = "cylinder"
    if shape == "box":
        sd = _sd_round_rect(x, y, cx, cy, hw, hh, rng.uniform(0.005, 0.05) * s)
        shading = "flat"
    elif shape == "bottle":
        body_top = top + ph * rng.uniform(0.3, 0.42)
        neck_hw = hw * rng.uniform(0.25, 0.4)
        body = _sd_round_rect(
            x, y, cx, (body_top + bottom) / 2, hw, (bottom - body_top) / 2, hw * 0.2
        )
        shoulder = _sd_ellipse(x, y, cx, body_top, hw, ph * rng.uniform(0.12, 0.2))
        neck = _sd_round_rect(x, y, cx, (top + body_top) / 2, neck_hw, (body_top - top) / 2, 2)
        cap = _sd_round_rect(x, y, cx, top + ph * 0.05, neck_hw * 1.2, ph * 0.05, 3)
        sd = np.minimum.reduce([body, shoulder, neck, cap])
    elif shape == "can" or shape == "jar":
        ry = hw * rng.uniform(0.12, 0.25)
        body = _sd_round_rect(x, y, cx, cy, hw, hh - ry, 1)
        sd = np.minimum.reduce(
            [
                body,
                _sd_ellipse(x, y, cx, top + ry, hw, ry),
                _sd_ellipse(x, y, cx, bottom - ry, hw, ry),
            ]
        )
    elif shape == "ball":
        r = min(hw, hh)
        hw = hh = r
        cy = bottom - r
        sd = _sd_ellipse(x, y, cx, cy, r * rng.uniform(0.9, 1.0), r)
        shading = "sphere"
    elif shape == "mug":
        bw = hw * 0.7
        bcx = cx - hw * 0.25
        body = _sd_round_rect(x, y, bcx, cy, bw, hh * 0.8, bw * 0.08)
        ro_x, ro_y = hw * 0.55, hh * 0.45
        thick = min(ro_x, ro_y) * rng.uniform(0.25, 0.4)
        outer = _sd_ellipse(x, y, bcx + bw, cy, ro_x, ro_y)
        inner = _sd_ellipse(x, y, bcx + bw, cy, ro_x - thick, ro_y - thick)
        sd = np.minimum(body, np.maximum(outer, -inner))
        bottom = cy + hh * 0.8
    elif shape == "ring":
        r = min(hw, hh)
        thick = r * rng.uniform(0.25, 0.45)
        cy = bottom - r
        sd = np.maximum(
            _sd_ellipse(x, y, cx, cy, r, r * rng.uniform(0.75, 1.0)),
            -_sd_ellipse(x, y, cx, cy, r - thick, (r - thick) * rng.uniform(0.7, 1.0)),
        )
        shading = "sphere"
    elif shape == "bag":
        body_top = top + ph * 0.4
        body = _sd_round_rect(x, y, cx, (body_top + bottom) / 2, hw, (bottom - body_top) / 2, 6)
        hr_x, hr_y = hw * rng.uniform(0.45, 0.7), ph * 0.4
        thick = hr_x * rng.uniform(0.12, 0.22)
        handle = np.maximum(
            _sd_ellipse(x, y, cx, body_top + 2, hr_x, hr_y),
            -_sd_ellipse(x, y, cx, body_top + 2, hr_x - thick, hr_y - thick),
        )
        sd = np.minimum(body, handle)
        shading = "flat"
    else:  # arc: an open ring (headphones, a horseshoe): its inside reaches the background
        r = min(hw, hh)
        thick = r * rng.uniform(0.2, 0.35)
        cy = bottom - r
        ring = np.maximum(
            _sd_ellipse(x, y, cx, cy, r, r), -_sd_ellipse(x, y, cx, cy, r - thick, r - thick)
        )
        cut = _sd_round_rect(x, y, cx, cy + r, r * 0.6, r * 0.75, 1)
        sd = np.maximum(ring, -cut)
        bottom = cy + r * 0.7
        shading = "sphere"
    info = {"shape": str(shape), "cx": cx, "cy": cy, "hw": hw, "hh": hh, "bottom": bottom}
    return sd, shading, info


def _shade(rng, shading, sd, info, w, h):
    y, x = _grid(w, h)
    cx, cy, hw, hh = info["cx"], info["cy"], info["hw"], info["hh"]
    light = rng.uniform(-0.5, 0.5)
    amb = rng.uniform(0.6, 0.8)
    if shading == "cylinder":
        u = np.clip((x - cx) / hw, -1, 1)
        lam = np.sqrt(1 - u * u) * np.cos(light) + u * np.sin(light)
        shade = amb + (1.02 - amb) * np.clip(lam, 0, 1)
    elif shading == "sphere":
        r = max(hw, hh)
        u, v = np.clip((x - cx) / r, -1, 1), np.clip((y - cy) / r, -1, 1)
        nz = np.sqrt(np.clip(1 - u * u - v * v, 0, 1))
        lam = nz * 0.8 + u * np.sin(light) * 0.5 - v * 0.3
        shade = amb + (1.02 - amb) * np.clip(lam, 0, 1)
    else:
        shade = 0.97 + 0.05 * ((x - cx) / (2 * hw) * np.sin(light) - (y - cy) / (2 * hh) * 0.5)
    rim = rng.uniform(0.05, 0.15)
    width = min(w, h) * rng.uniform(0.004, 0.012)
    shade = shade * (1 - rim * np.exp(np.minimum(sd, 0) / width))
    return shade.astype(np.float32)


def _smooth_noise(rng, w, h, cells, amplitude):
    grid = rng.normal(0, 1, (cells, cells)).astype(np.float32)
    img = pyvips.Image.new_from_array(grid.tolist()).cast("float")
    img = img.resize(w / cells, vscale=h / cells, kernel="cubic")
    arr = np.ndarray(buffer=img.write_to_memory(), dtype=np.float32, shape=(img.height, img.width))
    out = np.zeros((h, w), np.float32)
    out[: min(h, arr.shape[0]), : min(w, arr.shape[1])] = arr[:h, :w]
    return out * amplitude


def _blur(arr, sigma):
    h, w = arr.shape
    img = pyvips.Image.new_from_memory(np.ascontiguousarray(arr, np.float32).data, w, h, 1, "float")
    img = img.gaussblur(max(sigma, 0.3), precision="approximate")
    return np.ndarray(buffer=img.write_to_memory(), dtype=np.float32, shape=(h, w))


def _shadow(rng, kind, info, w, h):
    """A multiplier for the floor (1 = no shadow)."""
    y, x = _grid(w, h)
    s = min(w, h)
    dark = np.zeros((h, w), np.float32)
    cx, hw, bottom = info["cx"], info["hw"], info["bottom"]
    params = {}
    if kind in ("contact", "both"):
        depth = rng.uniform(0.35, 0.65)
        ry = s * rng.uniform(0.008, 0.02)
        sigma = s * rng.uniform(0.002, 0.006)
        cov = _coverage(_sd_ellipse(x, y, cx, bottom - ry * 0.3, hw * 1.02, ry))
        dark = np.maximum(dark, depth * _blur(cov, sigma))
        params["contact"] = {"depth": round(depth, 3), "sigma": round(sigma, 1)}
    if kind in ("soft", "both"):
        depth = rng.uniform(0.12, 0.3)
        dx = rng.uniform(-0.5, 0.5) * hw
        ry = s * rng.uniform(0.03, 0.08)
        sigma = s * rng.uniform(0.012, 0.03)
        cov = _coverage(_sd_ellipse(x, y, cx + dx, bottom - ry * 0.5, hw * 1.25, ry))
        dark = np.maximum(dark, depth * _blur(cov, sigma))
        params["soft"] = {"depth": round(depth, 3), "sigma": round(sigma, 1)}
    return 1.0 - dark, params


def _product_colour(rng, category):
    if category == "white_on_white":
        level = rng.uniform(222, 246)
        return np.array([level + rng.uniform(-3, 3) for _ in range(3)], np.float32)
    if category in ("holes", "textured", "tinted_background") and rng.random() < 0.3:
        level = rng.uniform(225, 248)
        return np.array([level, level, level - rng.uniform(0, 4)], np.float32)
    base = np.array(PALETTE[rng.integers(len(PALETTE))], np.float32)
    return np.clip(base + rng.uniform(-15, 15, 3), 5, 250).astype(np.float32)


def sample(
    index: int, *, seed: int = DEFAULT_SEED, category: str | None = None, scale: float = 1.0
) -> Sample:
    """Sample `index` of the set made from `seed`; `scale` shrinks it (for quick tests)."""
    category = category or plan(seed, max(COUNT, index + 1))[index]
    rng = np.random.default_rng([seed, index])
    w, h = BIG if index % 4 == 0 else SIZES[(index // 4 + index) % len(SIZES)]
    w, h = max(64, round(w * scale)), max(64, round(h * scale))

    bg, bg_params = _background(rng, category, w, h)
    sd, shading, info = _shape(rng, category, w, h)
    shadow = str(rng.choice(SHADOWS, p=SHADOW_WEIGHTS))
    floor, shadow_params = _shadow(rng, shadow, info, w, h)
    bg = bg * floor[..., None]

    colour = _product_colour(rng, category)
    shade = _shade(rng, shading, sd, info, w, h)
    product = colour[None, None, :] * shade[..., None]
    y, x = _grid(w, h)
    extra = {}
    if category == "reflective":
        # Chrome or gloss: bands of the environment across the body, then white speculars.
        u = (x - info["cx"]) / info["hw"]
        freq, phase = rng.uniform(3, 7), rng.uniform(0, 6.3)
        env = 0.5 + 0.5 * np.tanh(2.5 * np.sin(u * freq + phase))
        if rng.random() < 0.5:
            level = rng.uniform(70, 200)
            product = (level + (255 - level) * env)[..., None] * shade[..., None] * np.ones(3)
            extra["finish"] = "chrome"
        else:
            extra["finish"] = "gloss"
        spec_at = rng.uniform(-0.6, 0.6)
        spec = np.exp(-(((u - spec_at) / rng.uniform(0.05, 0.15)) ** 2))
        product = product + (262 - product) * spec[..., None]
    elif category == "textured":
        kind = rng.choice(["fabric", "stripes", "label"])
        if kind == "fabric":
            tex = _smooth_noise(rng, w, h, int(rng.integers(20, 60)), rng.uniform(12, 30))
            tex += rng.uniform(4, 10) * rng.standard_normal((h, w), dtype=np.float32)
            product = product + tex[..., None]
        elif kind == "stripes":
            period = min(w, h) * rng.uniform(0.02, 0.06)
            other = np.array(PALETTE[rng.integers(len(PALETTE))], np.float32)
            on = (np.sin((x + y * rng.uniform(-1, 1)) / period * np.pi) > 0)[..., None]
            product = np.where(on, other[None, None, :] * shade[..., None], product)
        else:
            cov_label = _coverage(
                _sd_round_rect(x, y, info["cx"], info["cy"], info["hw"] * 0.8, info["hh"] * 0.25, 4)
            )
            label = np.full(3, 250, np.float32) if rng.random() < 0.5 else colour * 0.4
            tex = _smooth_noise(rng, w, h, int(rng.integers(60, 120)), 60)
            ink = (np.abs(tex) > 40)[..., None] * -120.0
            lab = (label[None, None, :] + ink) * shade[..., None]
            product = product * (1 - cov_label[..., None]) + lab * cov_label[..., None]
        extra["texture"] = str(kind)

    alpha = _coverage(sd)[..., None]
    img = bg * (1 - alpha) + product * alpha
    noise_sigma = rng.uniform(0.8, 2.5)
    img = img + noise_sigma * rng.standard_normal(img.shape, dtype=np.float32)
    img = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    quality = int(rng.integers(60, 96))
    vimg = pyvips.Image.new_from_memory(np.ascontiguousarray(img).data, w, h, 3, "uchar")
    jpeg = vimg.jpegsave_buffer(Q=quality, strip=True)
    mask = np.where(alpha[..., 0] >= 0.5, 255, 0).astype(np.uint8)
    params = {
        **bg_params,
        **extra,
        "shadow_params": shadow_params,
        "colour": [round(float(c)) for c in colour],
        "noise_sigma": round(float(noise_sigma), 2),
    }
    return Sample(
        index=index,
        category=category,
        width=w,
        height=h,
        shape=info["shape"],
        shadow=shadow,
        quality=quality,
        jpeg=jpeg,
        mask=mask,
        params=params,
    )


def main(argv: list[str]) -> int:
    out = Path(argv[0] if argv else "var/background-set")
    out.mkdir(parents=True, exist_ok=True)
    samples = []
    for s in generate():
        (out / f"{s.name}.jpg").write_bytes(s.jpeg)
        m = pyvips.Image.new_from_memory(s.mask.data, s.width, s.height, 1, "uchar")
        m.pngsave(str(out / f"{s.name}.mask.png"))
        samples.append(s)
    print(f"{len(samples)} samples in {out}; checksum {checksum(samples)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
