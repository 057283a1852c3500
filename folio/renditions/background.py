"""Background removal for packshots on uniform or near-uniform backgrounds, with no model.

`remove_background(image, background=None, keep_shadow=False) -> BackgroundResult` cuts the
product out of a studio shot: transparent (RGBA) when `background` is None, else flattened
onto that colour (pure #FFFFFF for Amazon main images: every background pixel is exactly
255,255,255). `confidence` (0..1) says how much the cut-out can be trusted; below
`REVIEW_BELOW` a person should look at it before it goes to a channel.

How (all segmentation at a working size of WORK_SIDE px on the longest side; the mask is
then scaled up and feathered at full resolution):

1. the background is modelled from the image border: a smooth quadratic surface per Lab
   channel, fitted robustly (border pixels the product or a shadow covers are discarded as
   outliers), which absorbs gradients and vignetting; the border residuals give the noise
   level, from which every threshold is derived;
2. each pixel gets its colour distance to the modelled background (ΔE), a shadow-tolerant
   distance that ignores darkening (shadows only darken the floor, they do not change its
   hue), and edge strengths at two scales: a product's silhouette is a sharp step, a
   shadow's border is soft, so "sharp" edges (strong at the fine scale relative to the
   coarse one) and chroma edges are barriers;
3. the background is grown from the border through pixels that look like background (or,
   unless `keep_shadow`, like a shadow on it) without crossing a barrier; a shadow region
   is judged by its darkened pixels only (low and flat under the product), so the inside
   of a handle or an arc reached through it does not make it look tall; everything not
   reached is the product;
4. regions enclosed by the product that match the background closely stay transparent
   (the hole of a mug's handle); other enclosed regions (a white product's own face) are
   filled; specks are dropped;
5. the floor is grown back over the few px the edge barriers held off (including JPEG
   chroma bleeding beside coloured products), and contour pixels get a coverage from
   their colour distance relative to the product's interior nearby (sub-pixel contour);
6. the soft mask is scaled to full size with a smooth kernel and its edge steepened to a
   ~1.5 px feather, so the cut follows the interpolated contour without stair steps.

`confidence` combines the border fit, the product's area and frame contact with the share
of the cut's contour that lies on a sharp edge: a contour along a soft edge follows a kept
shadow or a highlight the flood entered by.

An optional learned backend (an ONNX segmentation model whose path the operator supplies)
can sit behind the same function later; this module never downloads anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyvips

WORK_SIDE = 640
REVIEW_BELOW = 0.6
T_MIN = 2.5  # ΔE floor: JPEG on a blown-out white background has almost no noise


@dataclass
class BackgroundResult:
    image: pyvips.Image  # RGBA (background None) or RGB flattened onto the colour
    mask: pyvips.Image  # uchar 0..255, 255 = product
    confidence: float
    details: dict = field(default_factory=dict)


def parse_colour(value) -> tuple[int, int, int] | None:
    """None, "#RRGGBB", "#RGB" or an (r, g, b) sequence."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip().lstrip("#")
        if len(text) == 3:
            text = "".join(c * 2 for c in text)
        if len(text) != 6:
            raise ValueError(f"not a colour: {value!r}")
        return tuple(int(text[i : i + 2], 16) for i in (0, 2, 4))
    r, g, b = (int(c) for c in value)
    return r, g, b


def remove_background(
    image: pyvips.Image, *, background=None, keep_shadow: bool = False
) -> BackgroundResult:
    colour = parse_colour(background)
    rgb = _srgb(image)
    width, height = rgb.width, rgb.height
    scale = min(1.0, WORK_SIDE / max(width, height))
    small = rgb.resize(scale, kernel="linear") if scale < 1 else rgb
    lab = _to_numpy(small.colourspace("lab"))
    seg = _segment(lab, keep_shadow=keep_shadow)

    mask = _upscale(seg["mask"], width, height)
    if colour is None:
        out = rgb.bandjoin(mask).copy(interpretation="srgb")
    else:
        # Blending by the mask: where it is 0 the result is exactly the colour.
        out = mask.ifthenelse(rgb, list(colour), blend=True).cast("uchar")
    return BackgroundResult(
        image=out, mask=mask, confidence=seg["confidence"], details=seg["details"]
    )


# --- input and output -----------------------------------------------------------------------


def _srgb(image: pyvips.Image) -> pyvips.Image:
    if image.hasalpha():
        image = image.flatten(background=[255, 255, 255])
    if image.interpretation not in ("srgb", "rgb"):
        image = image.colourspace("srgb")
    if image.bands == 1:
        image = image.bandjoin([image, image])
    if image.bands > 3:
        image = image.extract_band(0, n=3)
    if image.format != "uchar":
        image = image.cast("uchar")
    return image.copy(interpretation="srgb")


def _to_numpy(image: pyvips.Image) -> np.ndarray:
    image = image.cast("float")
    return np.ndarray(
        buffer=image.write_to_memory(),
        dtype=np.float32,
        shape=(image.height, image.width, image.bands),
    )


def _from_numpy(arr: np.ndarray) -> pyvips.Image:
    arr = np.ascontiguousarray(arr)
    h, w = arr.shape[:2]
    bands = 1 if arr.ndim == 2 else arr.shape[2]
    fmt = {np.uint8: "uchar", np.float32: "float", np.int32: "int"}[arr.dtype.type]
    return pyvips.Image.new_from_memory(arr.data, w, h, bands, fmt)


def _upscale(mask: np.ndarray, width: int, height: int) -> pyvips.Image:
    small = _from_numpy(np.rint(np.clip(mask, 0, 1) * 255).astype(np.uint8))
    if small.width == width and small.height == height:
        return small.gaussblur(0.5).cast("uchar")
    xs, ys = width / small.width, height / small.height
    big = small.resize(xs, vscale=ys, kernel="linear")
    if big.width != width or big.height != height:
        big = big.embed(0, 0, width, height, extend="copy")
    # Linear interpolation spreads the edge over ~scale px; steepen it to ~1.5 px.
    steep = max(1.0, min(xs, ys) / 1.5)
    return ((big - 127.5) * steep + 127.5).cast("uchar")


# --- segmentation ---------------------------------------------------------------------------


def _blur(arr: np.ndarray, sigma: float) -> np.ndarray:
    out = _to_numpy(_from_numpy(arr.astype(np.float32)).gaussblur(sigma, precision="float"))
    return out[..., 0] if arr.ndim == 2 else out


def _grad(arr: np.ndarray) -> np.ndarray:
    """Gradient magnitude (per px) over all bands of an H×W×C array."""
    gx = np.zeros(arr.shape[:2], np.float32)
    gy = np.zeros(arr.shape[:2], np.float32)
    dx = (arr[:, 2:] - arr[:, :-2]) * 0.5
    dy = (arr[2:] - arr[:-2]) * 0.5
    gx[:, 1:-1] = np.sqrt((dx * dx).sum(axis=2))
    gy[1:-1] = np.sqrt((dy * dy).sum(axis=2))
    return np.hypot(gx, gy)


def _border(h: int, w: int, width: int) -> np.ndarray:
    b = np.zeros((h, w), bool)
    b[:width], b[-width:], b[:, :width], b[:, -width:] = True, True, True, True
    return b


def _fit_background(lab: np.ndarray):
    """A quadratic surface per Lab channel through the border pixels, fitted robustly."""
    h, w = lab.shape[:2]
    strip = max(2, round(0.025 * min(h, w)))
    border = _border(h, w, strip)
    ys, xs = np.nonzero(border)
    u = xs.astype(np.float32) / max(w - 1, 1) * 2 - 1
    v = ys.astype(np.float32) / max(h - 1, 1) * 2 - 1
    design = np.stack([np.ones_like(u), u, v, u * u, u * v, v * v], axis=1)
    values = lab[ys, xs]
    keep = np.ones(len(u), bool)
    # Start from the per-side medians' consensus so a product touching one side cannot drag
    # the first fit.
    median = np.median(values, axis=0)
    resid = np.linalg.norm(values - median, axis=1)
    keep = resid <= max(np.percentile(resid, 60) * 2.0, T_MIN)
    coef = None
    for _ in range(4):
        coef, *_ = np.linalg.lstsq(design[keep], values[keep], rcond=None)
        resid = np.linalg.norm(values - design @ coef, axis=1)
        cut = max(T_MIN * 0.8, 3.0 * np.percentile(resid[keep], 50))
        keep = resid <= cut
        if keep.sum() < 0.2 * len(keep):
            keep = resid <= np.percentile(resid, 20)
    yy = np.linspace(-1, 1, h, dtype=np.float32)[:, None]
    xx = np.linspace(-1, 1, w, dtype=np.float32)[None, :]
    terms = [np.ones((h, w), np.float32), xx + 0 * yy, yy + 0 * xx, xx * xx + 0 * yy, xx * yy]
    terms.append(yy * yy + 0 * xx)
    model = sum(t[..., None] * coef[i][None, None, :] for i, t in enumerate(terms))
    inliers = float(keep.mean())
    noise = float(np.percentile(resid[keep], 95)) if keep.any() else 99.0
    return model.astype(np.float32), noise, inliers, border, resid


def _segment(lab: np.ndarray, *, keep_shadow: bool) -> dict:
    h, w = lab.shape[:2]
    model, noise, inliers, border, _ = _fit_background(lab)
    t = max(T_MIN, 1.6 * noise)
    diff = lab - model
    dl = diff[..., 0]
    dc = np.hypot(diff[..., 1], diff[..., 2])
    de = np.sqrt(dl * dl + dc * dc)
    # A shadow darkens the floor and leaves its hue: ignore darkening, keep lightening.
    de_shadow = np.sqrt(np.maximum(dl, 0) ** 2 + dc * dc)

    fine = _blur(lab, 0.8)
    coarse = _blur(lab, 2.0)
    g_fine = _grad(fine)
    g_coarse = _grad(coarse)
    g_chroma = _grad(fine[..., 1:])
    g_noise = float(np.percentile(g_fine[border], 90))
    g_t = max(1.2, 2.5 * g_noise)
    # Widened by a pixel: a one-pixel gap where a contact shadow meets the product's foot
    # would let the flood through into a white product.
    sharp = _dilate((g_fine > g_t) & (g_fine > 1.45 * g_coarse))
    chroma_edge = g_chroma > max(1.0, 2.5 * float(np.percentile(g_chroma[border], 90)))
    strong = _dilate(g_fine > g_t)
    # First the strict flood: background colour only, stopped by any edge. It cannot leak
    # into a white product through a gap, but it leaves shadows attached to the product.
    passable = (de < t) & ~strong & ~chroma_edge
    labels = _labels(passable)
    edge_labels = np.unique(labels[border & passable])
    background = np.isin(labels, edge_labels) & passable
    like_bg = de < t
    if not keep_shadow:
        background = _drop_shadows(background, de_shadow, dl, t, sharp | chroma_edge, border)
        like_bg = like_bg | ((de_shadow < t) & (dl < 0))
    # The barrier band itself: give the background the edge pixels that look like it.
    product = ~background
    # Enclosed passable regions: a real hole (background seen through a handle) matches the
    # background closely; a white product's face differs a little.
    area = h * w
    holes = np.zeros_like(product)
    inner_ids = np.setdiff1d(np.unique(labels[passable & product]), edge_labels)
    if len(inner_ids):
        flat = labels[passable & product]
        de_in = de[passable & product]
        counts = np.bincount(flat, minlength=labels.max() + 1)
        sums = np.bincount(flat, weights=de_in, minlength=labels.max() + 1)
        for lid in inner_ids:
            n = counts[lid]
            if n >= 0.0015 * area and sums[lid] / n < 0.45 * t + 0.4 * noise:
                holes |= labels == lid
    product &= ~holes
    # JPEG ringing leaves a blocky fringe of "not background" pixels along the silhouette;
    # an opening removes it without eating thin parts wider than 5 px.
    product = _dilate(_dilate(_erode(_erode(product))))
    product = _drop_specks(product, area)
    # The flood stops a pixel or two short of the silhouette (the edge band is a barrier),
    # and a binary mask at the working size quantises the contour to 1/scale full-size px:
    # give the boundary pixels a coverage from their colour distance instead.
    floor_de = de if keep_shadow else np.minimum(de, de_shadow)
    # The edge barriers are a few px wide (a high-contrast step stays above the gradient
    # threshold well beside it): win back the floor pixels they held off.
    # JPEG's subsampled chroma bleeds a few px into the floor beside a coloured product:
    # there the floor keeps its lightness but not its hue.
    floor = ~product
    floor_like = (floor_de < t) | ((np.abs(dl) < t) & (dc < 3 * t) & (dc > 1.5 * t))
    for _ in range(6):
        floor = floor | (_dilate(floor) & floor_like)
    product = ~floor
    soft = _soft_edge(product, de, floor_de)
    product = soft >= 0.5

    confidence, signals = _confidence(product, border, inliers, noise, sharp | chroma_edge, area)
    details = {
        "noise": round(noise, 2),
        "threshold": round(t, 2),
        "edge_threshold": round(g_t, 2),
        "work_size": [w, h],
        **signals,
    }
    return {"mask": soft, "confidence": confidence, "details": details}


def _soft_edge(product: np.ndarray, de: np.ndarray, floor_de: np.ndarray) -> np.ndarray:
    """Coverage 0..1 near the contour: a mixed pixel's distance to the background is its
    product share times the local product-to-background distance (read from the product's
    interior nearby); outside the contour the floor's shadow-tolerant distance counts, so a
    shadow next to the foot does not pass for product."""
    inner = _erode(_erode(product))
    weight = _blur(inner.astype(np.float32), 2.0)
    local = _blur(np.where(inner, de, 0).astype(np.float32), 2.0) / np.maximum(weight, 1e-3)
    band = (_dilate(product) & ~inner) & (weight > 0.05)
    soft = product.astype(np.float32)
    d = np.where(product, de, floor_de)
    soft[band] = np.clip(d[band] / np.maximum(local[band], 1e-3), 0, 1)
    return soft


def _drop_shadows(background, de_shadow, dl, t, barrier, border):
    """Extend the background over shadows: darker, same hue, reached without crossing a
    sharp edge. A white or chrome product is darker and neutral too, so a region gained
    this way counts as shadow only where shadows fall: low and flat against what the strict
    flood left as the product."""
    shadowlike = (de_shadow < t) & (dl < 0) & ~barrier
    passable = background | shadowlike
    labels = _labels(passable)
    reached = np.isin(labels, np.unique(labels[border & passable])) & passable
    gained = reached & ~background
    if not gained.any():
        return background
    # The extent of the largest non-floor region: a speck of JPEG noise at the frame's
    # edge must not stretch it.
    fg = _labels(~background)
    counts = np.bincount(fg[~background])
    rows = np.nonzero((fg == int(np.argmax(counts))).any(axis=1))[0]
    top, bottom = rows[0], rows[-1]
    height = max(bottom - top + 1, 1)
    # Judge only the darkened part: a handle's or an arc's inside is reached through the
    # shadow too, and would make the shadow look tall. It rejoins by the re-flood below.
    dark = gained & (dl < -t)
    parts = _labels(dark)
    gained_all, gained = gained, dark
    ids = parts[gained]
    counts = np.bincount(ids)
    ys = np.nonzero(gained)[0]
    mean_y = np.bincount(ids, weights=ys) / np.maximum(counts, 1)
    accept = []
    for lid in np.nonzero(counts)[0]:
        rows_of = ys[ids == lid]
        span = rows_of.max() - rows_of.min() + 1
        if mean_y[lid] > top + 0.7 * height and span < 0.45 * height:
            accept.append(lid)
    if accept:
        shadow = gained & np.isin(parts, accept)
        passable = background | shadow | (gained_all & ~dark)
        labels = _labels(passable)
        background = np.isin(labels, np.unique(labels[border & passable])) & passable
    return background


def _labels(binary: np.ndarray) -> np.ndarray:
    """Connected regions (4-connected) of a boolean array, as int labels."""
    img = _from_numpy(binary.astype(np.uint8))
    lab = img.labelregions()
    return np.ndarray(buffer=lab.write_to_memory(), dtype=np.int32, shape=binary.shape).copy()


def _dilate(binary: np.ndarray) -> np.ndarray:
    out = binary.copy()
    out[1:] |= binary[:-1]
    out[:-1] |= binary[1:]
    out[:, 1:] |= binary[:, :-1]
    out[:, :-1] |= binary[:, 1:]
    return out


def _erode(binary: np.ndarray) -> np.ndarray:
    return ~_dilate(~binary)


def _drop_specks(product: np.ndarray, area: int) -> np.ndarray:
    labels = _labels(product)
    ids = labels[product]
    if not len(ids):
        return product
    counts = np.bincount(ids)
    biggest = counts.max()
    keep = np.nonzero(counts >= max(0.0005 * area, 0.03 * biggest))[0]
    product = product & np.isin(labels, keep)
    # Fill what the product encloses and is not a hole kept above: find the background
    # reachable from the border and take the rest.
    outside = _labels(~product)
    border = _border(*product.shape, 1)
    outer_ids = np.unique(outside[border & ~product])
    enclosed = ~product & ~np.isin(outside, outer_ids)
    # Enclosed regions that are background (holes) were removed from product deliberately
    # and are large; tiny enclosed gaps are noise.
    if enclosed.any():
        ids = outside[enclosed]
        counts = np.bincount(ids)
        small = np.nonzero((counts > 0) & (counts < 0.0015 * area))[0]
        product |= enclosed & np.isin(outside, small)
    return product


def _confidence(product, border, inliers, noise, sharp, area):
    frac = float(product.mean())
    touching = float(product[border].mean())
    # A product's outline is a sharp step all round; where the cut follows a soft edge it
    # is following a shadow it kept, or a highlight the flood entered by.
    edge = _dilate(product) & ~product
    supported = float((_dilate(sharp) & edge).sum() / max(edge.sum(), 1))
    signals = {
        "border_inliers": round(inliers, 3),
        "area_fraction": round(frac, 3),
        "border_touching": round(touching, 3),
        "edge_sharp": round(supported, 3),
    }
    c_border = float(np.clip((inliers - 0.5) / 0.4, 0, 1))
    c_noise = float(np.clip((14.0 - noise) / 10.0, 0, 1))
    c_area = float(np.clip(frac / 0.02, 0, 1) * np.clip((0.9 - frac) / 0.2, 0, 1))
    c_touch = float(np.clip(1 - touching * 4, 0, 1))
    c_edge = float(np.clip((supported - 0.7) / 0.25, 0, 1))
    conf = c_border * c_noise * c_area * (0.4 + 0.6 * c_touch) * (0.3 + 0.7 * c_edge)
    return round(conf, 3), signals
