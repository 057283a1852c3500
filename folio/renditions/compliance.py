"""Does an encoded image meet a channel's rules? (Amazon's main image: pure white border,
product ≥ 85 % of the frame, longest side 1000–10,000 px, JPEG sRGB; Google: ≤ 64 MP and
≤ 16 MB…)

`check(path, rules)` returns {"passed": bool, "checks": [{"rule", "passed", "detail",
"value"}]}, one check per rule given, each with the measured value in its detail.

It reads only what each rule needs: the header (dimensions, bands, colour space) and the file
size for most rules; pixels only for `white_border`, `no_transparency` and `min_fill_ratio`:

- `white_border` and `no_transparency` are exact: one streaming pass over the full-resolution
  pixels (every pixel of the outermost rows and columns must be 255 in every band; tolerance 0
  unless the rule gives a number);
- `min_fill_ratio` is measured on a copy shrunk to at most 1024 px on its longest side
  (shrink-on-load). The content box found there is within one copy pixel of the exact one on
  each side, so the ratio is exact to ±2/1024 ≈ ±0.2 percentage points, well inside what a
  marketplace checks.

The fill ratio is the content box's extent along its dominant side: max(box width / image
width, box height / image height), the share of the frame the product spans. The content
box is what differs from the background (the alpha channel where the image has one, else the
colour of the top-left pixel) by more than 10 levels, after a 3×3 median that ignores noise.
"""

from __future__ import annotations

import os

import pyvips

FILL_RATIO_SIZE = 1024
CONTENT_THRESHOLD = 10
_FORMAT_ALIASES = {"jpg": "jpeg", "jpe": "jpeg", "tif": "tiff", "heif": "heic"}
_LOADERS = {
    "jpegload": "jpeg",
    "pngload": "png",
    "webpload": "webp",
    "tiffload": "tiff",
    "gifload": "gif",
}
RULES = (
    "min_width",
    "min_height",
    "max_width",
    "max_height",
    "min_longest_side",
    "max_longest_side",
    "max_megapixels",
    "max_bytes",
    "formats",
    "colour_space",
    "square",
    "no_transparency",
    "white_border",
    "min_fill_ratio",
)


def content_box(
    image: pyvips.Image, *, background=None, threshold: float = CONTENT_THRESHOLD
) -> tuple[int, int, int, int]:
    """(left, top, width, height) of what is not background; width or height 0 when the image
    is all background. Background: the given colour, else transparency where the image has
    alpha, else the colour of the top-left pixel."""
    if background is None and image.hasalpha():
        alpha = image.extract_band(image.bands - 1)
        peak = 65535 if image.format == "ushort" else 255
        if alpha.min() < peak:  # an opaque alpha channel says nothing about the content
            return tuple(alpha.find_trim(threshold=threshold, background=[0]))
    if image.hasalpha():
        image = image.extract_band(0, n=image.bands - 1)
    if background is None:
        background = image.crop(0, 0, 1, 1)(0, 0)
    background = [float(v) for v in background][: image.bands]
    background += [background[-1]] * (image.bands - len(background))
    return tuple(image.find_trim(threshold=threshold, background=background))


def fill_ratio(image: pyvips.Image, *, background=None) -> tuple[float, tuple]:
    """(ratio, box): see the module docstring."""
    box = content_box(image, background=background)
    _left, _top, width, height = box
    if width == 0 or height == 0:
        return 0.0, box
    return max(width / image.width, height / image.height), box


def normalise_format(name: str | None) -> str | None:
    if not name:
        return None
    name = name.lower().lstrip(".")
    return _FORMAT_ALIASES.get(name, name)


def sniff_format(path) -> str | None:
    """The file's real format from its magic bytes (not its name)."""
    import filetype

    kind = filetype.guess(str(path))
    return normalise_format(kind.extension) if kind else None


def check(path, rules: dict, *, format: str | None = None) -> dict:
    """Check the file at `path` against `rules`; `format` skips sniffing when it is known."""
    path = str(path)
    header = pyvips.Image.new_from_file(path)  # header only: no pixels decoded
    width, height = header.width, header.height
    checks: list[dict] = []
    facts = _Facts(path, header, format)

    def add(rule, passed, detail, value=None):
        checks.append({"rule": rule, "passed": bool(passed), "detail": detail, "value": value})

    rules = {k: v for k, v in (rules or {}).items() if v is not None and v is not False}
    longest = max(width, height)
    for rule in RULES:
        if rule not in rules:
            continue
        want = rules[rule]
        if rule == "min_width":
            add(rule, width >= want, f"width {width} px (min {want})", width)
        elif rule == "min_height":
            add(rule, height >= want, f"height {height} px (min {want})", height)
        elif rule == "max_width":
            add(rule, width <= want, f"width {width} px (max {want})", width)
        elif rule == "max_height":
            add(rule, height <= want, f"height {height} px (max {want})", height)
        elif rule == "min_longest_side":
            add(rule, longest >= want, f"longest side {longest} px (min {want})", longest)
        elif rule == "max_longest_side":
            add(rule, longest <= want, f"longest side {longest} px (max {want})", longest)
        elif rule == "max_megapixels":
            mp = width * height / 1_000_000
            add(rule, mp <= want, f"{mp:.2f} megapixels (max {want})", round(mp, 3))
        elif rule == "max_bytes":
            size = os.path.getsize(path)
            add(rule, size <= want, f"{size:,} bytes (max {want:,})", size)
        elif rule == "formats":
            allowed = [normalise_format(f) for f in want]
            fmt = facts.format
            add(
                rule,
                fmt in allowed,
                f"format {fmt or 'unknown'} (allowed: {', '.join(allowed)})",
                fmt,
            )
        elif rule == "colour_space":
            passed, detail, value = _colour_space(header, normalise_format(want))
            add(rule, passed, detail, value)
        elif rule == "square":
            add(rule, width == height, f"{width} × {height} px", width == height)
        elif rule == "no_transparency":
            add(rule, *_no_transparency(facts))
        elif rule == "white_border":
            tolerance = 0 if want is True else int(want)
            add(rule, *_white_border(facts, tolerance))
        elif rule == "min_fill_ratio":
            ratio = _fill_ratio_of(facts)
            add(
                rule,
                ratio >= float(want),
                f"the product spans {ratio:.1%} of the frame (min {float(want):.0%})",
                round(ratio, 4),
            )
    for rule in sorted(set(rules) - set(RULES)):
        add(rule, True, "not checked: Folio does not know this rule", None)
    return {"passed": all(c["passed"] for c in checks), "checks": checks}


class _Facts:
    """What several rules read, read once and only when a rule asks."""

    def __init__(self, path: str, header: pyvips.Image, fmt: str | None):
        self.path = path
        self.header = header
        self._format = normalise_format(fmt)

    @property
    def format(self) -> str | None:
        if self._format is None:
            self._format = sniff_format(self.path) or _LOADERS.get(self.header.get("vips-loader"))
        return self._format

    def pixels(self) -> pyvips.Image:
        return pyvips.Image.new_from_file(self.path, access="sequential")


def _colour_space(header: pyvips.Image, want: str) -> tuple[bool, str, str]:
    space = header.interpretation
    if header.get_typeof("icc-profile-data"):
        profile = header.get("icc-profile-data")
        if b"CMYK" in profile[12:24]:
            space = "cmyk"
        elif space in ("srgb", "rgb16") and b"sRGB" not in profile:
            space = "rgb (non-sRGB ICC profile)"
    names = {"srgb": "sRGB", "b-w": "greyscale", "cmyk": "CMYK", "rgb16": "sRGB (16 bit)"}
    shown = names.get(space, space)
    if want == "srgb":
        return space in ("srgb", "rgb16"), f"colour space {shown} (wanted sRGB)", space
    return space == want, f"colour space {shown} (wanted {want})", space


def _no_transparency(facts: _Facts) -> tuple[bool, str, int | None]:
    if not facts.header.hasalpha():
        return True, "no alpha channel", None
    image = facts.pixels()
    alpha = image.extract_band(image.bands - 1)
    peak = 65535 if image.format == "ushort" else 255
    low = int(alpha.min())
    if low >= peak:
        return True, "alpha channel, fully opaque", low
    return False, f"transparent pixels (lowest alpha {low} of {peak})", low


def _white_border(facts: _Facts, tolerance: int) -> tuple[bool, str, int]:
    """Every pixel of the outermost rows and columns is white (255 in every band, alpha
    included), in one streaming pass over the file."""
    image = facts.pixels()
    if image.interpretation not in ("srgb", "b-w") or image.format != "uchar":
        from folio.renditions.operations import _to_srgb

        image = _to_srgb(image)
    w, h = image.width, image.height
    if w <= 2 or h <= 2:
        masked = image
    else:
        xyz = pyvips.Image.xyz(w, h)
        x, y = xyz.extract_band(0), xyz.extract_band(1)
        interior = (x > 0) & (x < w - 1) & (y > 0) & (y < h - 1)
        masked = interior.ifthenelse(255, image)
    low, opts = masked.min(x=True, y=True)
    low = int(low)
    need = 255 - tolerance
    if low >= need:
        return True, f"border pure white (lowest value {low}, needs ≥ {need})", low
    return (
        False,
        f"border not pure white: value {low} at ({opts['x']}, {opts['y']}) (needs ≥ {need})",
        low,
    )


def _fill_ratio_of(facts: _Facts) -> float:
    header = facts.header
    if max(header.width, header.height) > FILL_RATIO_SIZE:
        image = pyvips.Image.thumbnail(
            facts.path, FILL_RATIO_SIZE, height=FILL_RATIO_SIZE, size="down", no_rotate=True
        )
    else:
        image = facts.pixels()
    image = image.copy_memory()
    ratio, _box = fill_ratio(image)
    return ratio
