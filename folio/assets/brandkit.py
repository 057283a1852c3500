"""The brand kit: the curated collection(s) teams and partners take brand material from.

A brand kit is a Collection with `is_brand_kit`: logos in their variants (assets of kind
logo: SVG, PNG, negative, one-colour…), colour palettes (`ColorPalette`: named colours with
HEX, RGB and CMYK values that must agree), fonts (kind font) and brand guidelines (kind
guideline). Editors (assets.change_asset) see everything in it; everyone else sees only what
is approved and within its usage rights, so an expired logo never reaches a partner.
"""

import re

from django.db import transaction

from folio.accounts import audit
from folio.assets import rights
from folio.assets.models import Asset, Collection, ColorPalette
from folio.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from folio.versioning import check_version, save_versioned

SECTIONS = {"logos": Asset.Kind.LOGO, "fonts": Asset.Kind.FONT, "guidelines": Asset.Kind.GUIDELINE}
MAX_COLOURS = 100
_HEX = re.compile(r"^#?([0-9a-fA-F]{6}|[0-9a-fA-F]{3})$")
_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")


def _require(user, perm: str) -> None:
    if user is not None and not user.has_perm(perm):
        raise PermissionDenied(
            f"your role does not allow this ({perm})", details={"permission": perm}
        )


def is_editor(user) -> bool:
    return user is None or user.has_perm("assets.change_asset")


# --- colours ----------------------------------------------------------------------------------


def hex_to_rgb(value: str) -> list[int]:
    digits = value.lstrip("#")
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    return [int(digits[i : i + 2], 16) for i in (0, 2, 4)]


def rgb_to_hex(rgb) -> str:
    return "#" + "".join(f"{c:02X}" for c in rgb)


def naive_cmyk(rgb) -> list[int]:
    """A device-independent approximation (no press profile): good enough as a starting
    point; print teams put the values from their colour guide."""
    r, g, b = (c / 255 for c in rgb)
    k = 1 - max(r, g, b)
    if k >= 1:
        return [0, 0, 0, 100]
    return [round((1 - x - k) / (1 - k) * 100) for x in (r, g, b)] + [round(k * 100)]


def normalise_colours(colours) -> list[dict]:
    """Validated colours, each {"name", "hex", "rgb", "cmyk"}: HEX and RGB must name the same
    colour (either may be left out and is computed), CMYK holds four percentages 0–100 (a
    naive conversion when left out). Raises InvalidInput naming every bad entry."""
    if not isinstance(colours, list):
        raise InvalidInput("colours must be a list", details=[{"field": "colours"}])
    problems = []
    out = []
    names = set()
    if len(colours) > MAX_COLOURS:
        problems.append({"field": "colours", "problem": f"more than {MAX_COLOURS} colours"})
    for i, colour in enumerate(colours[:MAX_COLOURS]):
        where = f"colours[{i}]"
        if not isinstance(colour, dict):
            problems.append({"field": where, "problem": "must be an object"})
            continue
        name = str(colour.get("name") or "").strip()
        if not name:
            problems.append({"field": f"{where}.name", "problem": "a colour needs a name"})
        elif len(name) > 100:
            problems.append({"field": f"{where}.name", "problem": "longer than 100 characters"})
        elif name.lower() in names:
            problems.append({"field": f"{where}.name", "problem": f"{name!r} appears twice"})
        names.add(name.lower())
        hex_value, rgb, cmyk = colour.get("hex"), colour.get("rgb"), colour.get("cmyk")
        from_hex = None
        if hex_value not in (None, ""):
            if not isinstance(hex_value, str) or not _HEX.match(hex_value.strip()):
                problems.append(
                    {
                        "field": f"{where}.hex",
                        "problem": "must be #RRGGBB (or #RGB)",
                        "value": hex_value,
                    }
                )
            else:
                from_hex = hex_to_rgb(hex_value.strip())
        if rgb not in (None, []):
            if (
                not isinstance(rgb, list | tuple)
                or len(rgb) != 3
                or not all(
                    isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in rgb
                )
            ):
                problems.append(
                    {
                        "field": f"{where}.rgb",
                        "problem": "must be three whole numbers 0–255",
                        "value": rgb,
                    }
                )
                rgb = None
            else:
                rgb = list(rgb)
                if from_hex is not None and rgb != from_hex:
                    problems.append(
                        {
                            "field": f"{where}.rgb",
                            "problem": f"RGB {rgb} is not HEX {hex_value} "
                            f"(which is RGB {from_hex})",
                        }
                    )
        else:
            rgb = None
        if (
            rgb is None
            and from_hex is None
            and not any(
                p["field"].startswith(where + ".") and p["field"] != f"{where}.name"
                for p in problems
            )
        ):
            problems.append({"field": where, "problem": "give at least HEX or RGB"})
        if cmyk not in (None, []):
            if (
                not isinstance(cmyk, list | tuple)
                or len(cmyk) != 4
                or not all(
                    isinstance(c, int | float) and not isinstance(c, bool) and 0 <= c <= 100
                    for c in cmyk
                )
            ):
                problems.append(
                    {
                        "field": f"{where}.cmyk",
                        "problem": "must be four percentages 0–100",
                        "value": cmyk,
                    }
                )
            else:
                cmyk = [round(c, 1) if isinstance(c, float) and c % 1 else int(c) for c in cmyk]
        else:
            cmyk = None
        final_rgb = rgb or from_hex
        if final_rgb is not None:
            out.append(
                {
                    "name": name,
                    "hex": rgb_to_hex(final_rgb),
                    "rgb": final_rgb,
                    "cmyk": cmyk if cmyk is not None else naive_cmyk(final_rgb),
                }
            )
    if problems:
        raise InvalidInput(
            "the palette has invalid colours: "
            + "; ".join(f"{p['field']}: {p['problem']}" for p in problems[:5]),
            details=problems,
        )
    return out


# --- brand kits -------------------------------------------------------------------------------


def brand_kits(user=None):
    from folio.assets.browse import visible_collections

    qs = visible_collections(user) if user is not None else Collection.objects.all()
    return qs.filter(is_brand_kit=True)


def get_brand_kit(code: str, user=None) -> Collection:
    kit = brand_kits(user).filter(code=code).first()
    if kit is None:
        raise NotFound(f"no brand kit {code!r}", details={"code": code})
    return kit


@transaction.atomic
def create_brand_kit(code: str, name: str, *, description: str = "", user=None) -> Collection:
    """A new brand kit, or an existing collection turned into one (same code, not a kit yet)."""
    _require(user, "assets.add_collection")
    code = (code or "").strip()
    name = (name or "").strip()
    problems = []
    if not _CODE.match(code):
        problems.append({"field": "code", "problem": "lower-case letters, digits, - and _"})
    if not name or len(name) > 200:
        problems.append({"field": "name", "problem": "required, at most 200 characters"})
    if problems:
        raise InvalidInput(
            "the brand kit cannot be created: "
            + "; ".join(f"{p['field']}: {p['problem']}" for p in problems),
            details=problems,
        )
    existing = Collection.objects.select_for_update().filter(code=code).first()
    if existing is not None:
        if existing.is_brand_kit:
            raise Conflict(f"brand kit {code!r} exists already", details={"code": code})
        existing.is_brand_kit = True
        existing.name = name
        existing.description = description or existing.description
        save_versioned(existing, None, ["is_brand_kit", "name", "description"])
        kit = existing
    else:
        kit = Collection.objects.create(
            code=code, name=name, description=description or "", is_brand_kit=True
        )
    audit.record("brand_kit.create", kit, summary=f"brand kit {code}", changes={"name": name})
    return kit


def brand_kit_contents(kit: Collection, user=None) -> dict:
    """What the kit offers this user: logos, palettes, fonts, guidelines. Non-editors get
    only approved, in-rights assets; editors see all with their publishable state."""
    editor = is_editor(user)
    assets = (
        Asset.objects.filter(collections=kit, kind__in=SECTIONS.values())
        .exclude(status=Asset.Status.ARCHIVED)
        .select_related("current_version")
        .prefetch_related("channels")
        .order_by("title", "id")
    )
    if not editor:
        assets = assets.filter(rights.publishable_q())
    sections: dict[str, list] = {name: [] for name in SECTIONS}
    kind_to_section = {kind: name for name, kind in SECTIONS.items()}
    for asset in assets:
        ok, reasons = rights.is_publishable(asset)
        if not ok and not editor:
            continue
        sections[kind_to_section[asset.kind]].append((asset, ok, reasons))
    return {
        "kit": kit,
        "palettes": list(kit.palettes.order_by("name", "id")),
        **sections,
    }


# --- palettes ---------------------------------------------------------------------------------


def palette_snapshot(palette: ColorPalette) -> dict:
    return {
        "id": palette.pk,
        "name": palette.name,
        "colours": palette.colours,
        "version": palette.version,
    }


@transaction.atomic
def add_palette(code: str, name: str, colours, *, user=None) -> ColorPalette:
    _require(user, "assets.change_collection")
    kit = get_brand_kit(code, user)
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise InvalidInput(
            "a palette needs a name of at most 200 characters", details=[{"field": "name"}]
        )
    if kit.palettes.filter(name__iexact=name).exists():
        raise Conflict(
            f"the brand kit has a palette named {name!r} already", details={"name": name}
        )
    palette = ColorPalette.objects.create(
        collection=kit, name=name, colours=normalise_colours(colours)
    )
    audit.record(
        "palette.create",
        palette,
        summary=f"palette {name!r} in {kit.code}",
        changes={"colours": palette.colours},
    )
    return palette


@transaction.atomic
def update_palette(
    code: str,
    palette_id: int,
    *,
    version: int | None,
    name: str | None = None,
    colours=None,
    user=None,
) -> ColorPalette:
    """Change a palette's name and/or colours if nobody changed it since `version`."""
    _require(user, "assets.change_collection")
    kit = get_brand_kit(code, user)
    palette = kit.palettes.filter(pk=palette_id).first()
    if palette is None:
        raise NotFound(
            f"no palette {palette_id} in brand kit {code!r}", details={"palette_id": palette_id}
        )
    old = {"name": palette.name, "colours": palette.colours}
    fields = []
    if name is not None:
        name = name.strip()
        if not name or len(name) > 200:
            raise InvalidInput(
                "a palette needs a name of at most 200 characters", details=[{"field": "name"}]
            )
        if kit.palettes.filter(name__iexact=name).exclude(pk=palette.pk).exists():
            raise Conflict(
                f"the brand kit has a palette named {name!r} already", details={"name": name}
            )
        palette.name = name
        fields.append("name")
    if colours is not None:
        palette.colours = normalise_colours(colours)
        fields.append("colours")
    if not fields:
        raise InvalidInput(
            "nothing to change: send name and/or colours",
            details=[{"field": "name"}, {"field": "colours"}],
        )
    save_versioned(palette, version, fields, snapshot=palette_snapshot)
    changes = {f: {"old": old[f], "new": getattr(palette, f)} for f in fields}
    audit.record(
        "palette.update",
        palette,
        summary=f"palette {palette.name!r} in {kit.code}",
        changes=changes,
    )
    return palette


@transaction.atomic
def get_palette(code: str, palette_id: int, user=None) -> ColorPalette:
    kit = get_brand_kit(code, user)
    palette = kit.palettes.filter(pk=palette_id).first()
    if palette is None:
        raise NotFound(
            f"no palette {palette_id} in brand kit {code!r}", details={"palette_id": palette_id}
        )
    return palette


@transaction.atomic
def delete_palette(
    code: str, palette_id: int, *, user=None, expected_version: int | None = None
) -> None:
    _require(user, "assets.change_collection")
    palette = get_palette(code, palette_id, user)
    kit = palette.collection
    if expected_version is not None:
        # Lock the row so the check and the delete see the same version (PostgreSQL).
        current = ColorPalette.objects.select_for_update().get(pk=palette.pk)
        check_version(current, expected_version, f"palette {palette.name!r}", palette_snapshot)
    audit.record("palette.delete", palette, summary=f"palette {palette.name!r} in {kit.code}")
    palette.delete()
