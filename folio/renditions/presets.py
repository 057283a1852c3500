"""Presets as named, versioned data, and the image slots each channel asks for.

A preset is edited like any other object (optimistic concurrency, audit, 422 naming where a
spec is wrong). What a rendition is made from is the *effective* spec: the preset's spec with
the market override of the locale asked for deep-merged over it. Its hash (SHA-256 of the
canonical JSON) is half of the rendition cache key, so changing a preset — or one market's
override — simply asks for new renditions; `preset_changed` starts the job that makes them.

Spec and rules are checked strictly: an unknown op, an unknown field or a value of the wrong
type is refused with details naming the op index and field, because a typo in a preset would
otherwise be rendered silently into every channel image.
"""

import copy
import hashlib
import json
import re

from django.db import IntegrityError, transaction
from django.dispatch import Signal

from folio.accounts import audit
from folio.errors import Conflict, InvalidInput, NotFound, StaleWrite
from folio.renditions.models import ImageSlot, Preset
from folio.versioning import check_version, save_versioned, stale_write

# Sent after a preset's spec or market overrides changed (on commit of the change is not
# needed: start_job itself enqueues on commit). Arguments: preset, old_version.
preset_changed = Signal()

KINDS = ("image", "video")
IMAGE_FORMATS = ("jpeg", "png", "webp", "avif", "tiff", "gif")
VIDEO_FORMATS = ("mp4", "webm")
POSTER_FORMATS = ("jpeg", "png", "webp")
EXTENSIONS = {"jpeg": "jpg", "tiff": "tif"}
_HEX = re.compile(r"^#[0-9A-Fa-f]{6}$")
_LOCALE = re.compile(r"^[a-z]{2,3}(_[A-Z]{2})?$")

# --- spec and rules shape ---------------------------------------------------------------------

_num = (int, float)


def _is_num(v) -> bool:
    return isinstance(v, _num) and not isinstance(v, bool)


def _colour(v) -> bool:
    return isinstance(v, str) and bool(_HEX.match(v))


def _colour_or_none(v) -> bool:
    return v is None or _colour(v)


def _pos_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v > 0


def _side(v) -> bool:
    return _pos_int(v) and v <= 20_000


def _ratio(v) -> bool:
    return _is_num(v) and 0 <= v <= 1


def _focal(v) -> bool:
    if v in ("smart", "centre", "center", "attention", "entropy"):
        return True
    return isinstance(v, list) and len(v) == 2 and all(_ratio(x) for x in v)


def _str_list(v) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


# op → {field: (check, description)}; fields not listed are refused.
OPS = {
    "autorotate": {},
    "trim": {"threshold": (lambda v: _is_num(v) and 0 <= v <= 255, "a number 0–255")},
    "remove_background": {
        "background": (_colour_or_none, "#RRGGBB or null (transparent)"),
        "keep_shadow": (lambda v: isinstance(v, bool), "true or false"),
    },
    "resize": {
        "mode": (lambda v: v in ("fit", "fill", "pad"), "fit, fill or pad"),
        "width": (_side, "a whole number 1–20000"),
        "height": (_side, "a whole number 1–20000"),
        "focal": (_focal, "[x, y] between 0 and 1, smart or centre"),
        "background": (_colour, "#RRGGBB"),
        "upscale": (lambda v: isinstance(v, bool), "true or false"),
    },
    "colour": {
        "to": (lambda v: v in ("srgb", "cmyk"), "srgb or cmyk"),
        "icc": (lambda v: isinstance(v, str) and 0 < len(v) <= 300, "a profile path or name"),
    },
    "flatten": {"background": (_colour, "#RRGGBB")},
    "sharpen": {"sigma": (lambda v: _is_num(v) and 0 < v <= 10, "a number above 0, at most 10")},
    "strip": {"keep": (_str_list, "a list of metadata names")},
    "fill_ratio": {
        "min": (lambda v: _is_num(v) and 0 < v <= 1, "a number above 0, at most 1"),
        "background": (_colour_or_none, "#RRGGBB or null (the corner colour)"),
    },
}
REQUIRED = {"resize": ("mode",), "colour": ("to",), "fill_ratio": ("min",)}

IMAGE_SPEC = {
    "ops": None,  # checked op by op
    "format": (lambda v: v in IMAGE_FORMATS, " or ".join(IMAGE_FORMATS)),
    "quality": (lambda v: _pos_int(v) and v <= 100, "a whole number 1–100"),
    "progressive": (lambda v: isinstance(v, bool), "true or false"),
    "max_bytes": (_pos_int, "a positive whole number of bytes"),
    "dpi": (_pos_int, "a positive whole number"),
}
VIDEO_SPEC = {
    "format": (
        lambda v: v in VIDEO_FORMATS + POSTER_FORMATS,
        "mp4, webm, or jpeg/png/webp (a poster frame)",
    ),
    "max_width": (_pos_int, "a positive whole number"),
    "max_height": (_pos_int, "a positive whole number"),
    "max_duration": (lambda v: _is_num(v) and v > 0, "a number of seconds above 0"),
    "fps": (lambda v: _is_num(v) and 0 < v <= 120, "a number above 0, at most 120"),
    "crf": (
        lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 63,
        "a whole number 0–63",
    ),
    "audio": (lambda v: isinstance(v, bool), "true or false"),
    "audio_bitrate": (lambda v: _pos_int(v) and v <= 512_000, "bits per second, at most 512000"),
    "at": (lambda v: _is_num(v) and v >= 0, "seconds (≥ 1) or a fraction of the duration"),
    "quality": (lambda v: _pos_int(v) and v <= 100, "a whole number 1–100"),
}

RULES = {
    "min_width": _pos_int,
    "min_height": _pos_int,
    "max_width": _pos_int,
    "max_height": _pos_int,
    "min_longest_side": _pos_int,
    "max_longest_side": _pos_int,
    "max_megapixels": lambda v: _is_num(v) and v > 0,
    "max_bytes": _pos_int,
    "formats": _str_list,
    "colour_space": lambda v: v in ("srgb", "cmyk", "b-w"),
    # true: pure white; a number: the tolerance per channel
    "white_border": lambda v: isinstance(v, bool) or (isinstance(v, int) and 0 <= v <= 255),
    "min_fill_ratio": lambda v: _is_num(v) and 0 < v <= 1,
    "no_transparency": lambda v: isinstance(v, bool),
    "square": lambda v: isinstance(v, bool),
    # video
    "max_duration": lambda v: _is_num(v) and v > 0,
    "video_codecs": _str_list,
    "audio_codecs": _str_list,
}


def _bad(message: str, **where):
    raise InvalidInput(message, details=where)


def validate_spec(spec, kind: str = "image", *, partial: bool = False, where: str = "spec"):
    """Refuse a spec that is not exactly of the shared format; details name the op index and
    field. `partial`: a market override, which may leave out what the preset says."""
    if kind not in KINDS:
        _bad(f"kind must be one of {', '.join(KINDS)}, not {kind!r}", field="kind")
    if not isinstance(spec, dict):
        _bad(f"{where} must be an object", field=where)
    fields = IMAGE_SPEC if kind == "image" else VIDEO_SPEC
    for name, value in spec.items():
        if name not in fields:
            _bad(
                f"{where}: unknown field {name!r} (allowed: {', '.join(fields)})",
                field=name,
                where=where,
            )
        if name == "ops":
            _validate_ops(value, where)
            continue
        check, wanted = fields[name]
        if not check(value):
            _bad(f"{where}.{name} must be {wanted}, not {value!r}", field=name, where=where)
    if not partial:
        if "format" not in spec:
            _bad(f"{where} needs a format", field="format", where=where)
        if kind == "image" and "ops" not in spec:
            _bad(f"{where} needs ops (a list, may be empty)", field="ops", where=where)
    return spec


def _validate_ops(ops, where: str) -> None:
    if not isinstance(ops, list):
        _bad(f"{where}.ops must be a list", field="ops", where=where)
    for index, op in enumerate(ops):
        if not isinstance(op, dict) or not isinstance(op.get("op"), str):
            _bad(f"{where}.ops[{index}] must be an object with an 'op'", op=index, field="op")
        name = op["op"]
        if name not in OPS:
            _bad(
                f"{where}.ops[{index}]: unknown op {name!r} (known: {', '.join(OPS)})",
                op=index,
                field="op",
            )
        allowed = OPS[name]
        for field, value in op.items():
            if field == "op":
                continue
            if field not in allowed:
                _bad(
                    f"{where}.ops[{index}] ({name}): unknown field {field!r}"
                    + (f" (allowed: {', '.join(allowed)})" if allowed else " (it takes none)"),
                    op=index,
                    field=field,
                )
            check, wanted = allowed[field]
            if not check(value):
                _bad(
                    f"{where}.ops[{index}] ({name}).{field} must be {wanted}, not {value!r}",
                    op=index,
                    field=field,
                )
        for field in REQUIRED.get(name, ()):
            if field not in op:
                _bad(f"{where}.ops[{index}] ({name}) needs {field}", op=index, field=field)
        if name == "resize" and "width" not in op and "height" not in op:
            _bad(f"{where}.ops[{index}] (resize) needs width or height", op=index, field="width")
        if (
            name == "resize"
            and op["mode"] in ("fill", "pad")
            and not ("width" in op and "height" in op)
        ):
            _bad(
                f"{where}.ops[{index}] (resize {op['mode']}) needs both width and height",
                op=index,
                field="height" if "width" in op else "width",
            )


def validate_rules(rules) -> dict:
    if not isinstance(rules, dict):
        _bad("rules must be an object", field="rules")
    for name, value in rules.items():
        check = RULES.get(name)
        if check is None:
            _bad(f"rules: unknown rule {name!r} (known: {', '.join(RULES)})", rule=name)
        if not check(value):
            _bad(f"rules.{name} has a value of the wrong kind: {value!r}", rule=name)
    for low, high in (
        ("min_width", "max_width"),
        ("min_height", "max_height"),
        ("min_longest_side", "max_longest_side"),
    ):
        if low in rules and high in rules and rules[low] > rules[high]:
            _bad(f"rules.{low} is above rules.{high}", rule=low)
    return rules


def validate_overrides(overrides, kind: str) -> dict:
    if not isinstance(overrides, dict):
        _bad("market_overrides must be an object {locale: partial spec}", field="market_overrides")
    for locale, partial in overrides.items():
        _check_locale(locale)
        validate_spec(partial, kind, partial=True, where=f"market_overrides.{locale}")
    return overrides


def _check_locale(locale: str) -> None:
    if not isinstance(locale, str) or not _LOCALE.match(locale):
        _bad(f"{locale!r} is not a locale like de_DE", field="locale", locale=locale)


# --- effective spec and its hash --------------------------------------------------------------


def deep_merge(base: dict, override: dict) -> dict:
    """`override` over `base`: objects merge key by key, anything else (lists too: an
    override's `ops` replaces the preset's) is replaced."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def effective_spec(preset: Preset, locale: str | None = None) -> dict:
    """The spec renditions are made from: the preset's, with `locale`'s override if it has
    one. (An image spec always has ops and a video spec never does, so the two kinds never
    share a hash.)"""
    if locale and locale in (preset.market_overrides or {}):
        return deep_merge(preset.spec, preset.market_overrides[locale])
    return copy.deepcopy(preset.spec)


def canonical_json(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def spec_hash(spec: dict) -> str:
    return hashlib.sha256(canonical_json(spec).encode()).hexdigest()


def applied_locale(preset: Preset, locale: str | None) -> str:
    """The locale whose override is applied ('' when the preset has none for it): two
    locales without override share one rendition."""
    return locale if locale and locale in (preset.market_overrides or {}) else ""


def extension(preset: Preset, locale: str | None = None) -> str:
    fmt = effective_spec(preset, locale).get("format", "bin")
    return EXTENSIONS.get(fmt, fmt)


# --- presets ----------------------------------------------------------------------------------

EDITABLE = (
    "name",
    "description",
    "kind",
    "spec",
    "rules",
    "market_overrides",
    "filename_template",
    "public",
)


def snapshot(p: Preset) -> dict:
    return {
        "code": p.code,
        "version": p.version,
        "name": p.name,
        "description": p.description,
        "kind": p.kind,
        "spec": p.spec,
        "rules": p.rules,
        "market_overrides": p.market_overrides,
        "filename_template": p.filename_template,
        "public": p.public,
        "updated_at": p.updated_at.isoformat() if p.updated_at else None,
    }


def get_preset(code_or_preset) -> Preset:
    if isinstance(code_or_preset, Preset):
        return code_or_preset
    preset = Preset.objects.filter(code=code_or_preset).first()
    if preset is None:
        raise NotFound(f"no preset {code_or_preset!r}", details={"preset": code_or_preset})
    return preset


def _validate(preset: Preset) -> None:
    if not preset.code or not re.match(r"^[-a-zA-Z0-9_]+$", preset.code):
        _bad("code must be letters, digits, - and _", field="code")
    if not preset.name:
        _bad("name is required", field="name")
    validate_spec(preset.spec, preset.kind)
    validate_rules(preset.rules or {})
    validate_overrides(preset.market_overrides or {}, preset.kind)
    if not preset.filename_template or "/" in preset.filename_template:
        _bad("filename_template must be a file name (no /)", field="filename_template")


@transaction.atomic
def create_preset(**data) -> Preset:
    unknown = set(data) - {"code", *EDITABLE}
    if unknown:
        _bad(f"unknown fields: {', '.join(sorted(unknown))}", field=sorted(unknown)[0])
    preset = Preset(**data)
    _validate(preset)
    if Preset.objects.filter(code=preset.code).exists():
        raise Conflict(f"a preset {preset.code!r} exists already", details={"code": preset.code})
    try:
        with transaction.atomic():
            preset.save()
    except IntegrityError:
        raise Conflict(f"a preset {preset.code!r} exists already") from None
    audit.record("preset.create", preset, summary=f"preset {preset.code}")
    return preset


@transaction.atomic
def update_preset(code: str, /, *, expected_version: int | None, **changes) -> Preset:
    preset = get_preset(code)
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        _bad(f"cannot change {', '.join(sorted(unknown))} of a preset", field=sorted(unknown)[0])
    before = snapshot(preset)
    old_version = preset.version
    old_hashes = spec_hashes(preset)
    for field, value in changes.items():
        setattr(preset, field, value)
    _validate(preset)
    save_versioned(preset, expected_version, sorted(changes), snapshot=snapshot)
    after = snapshot(preset)
    audit.record(
        "preset.update",
        preset,
        summary=f"preset {preset.code}",
        changes={
            k: [before[k], after[k]] for k in EDITABLE if k in changes and before[k] != after[k]
        },
    )
    if spec_hashes(preset) != old_hashes or before["rules"] != after["rules"]:
        # The receiver (re-render job) lives with the jobs; make sure it is connected.
        from folio.renditions import jobs  # noqa: F401

        preset_changed.send(sender=Preset, preset=preset, old_version=old_version)
    return preset


def spec_hashes(preset: Preset) -> dict[str, str]:
    """{applied locale ('' for the base): spec hash} of everything a preset can render."""
    hashes = {"": spec_hash(effective_spec(preset))}
    for locale in preset.market_overrides or {}:
        hashes[locale] = spec_hash(effective_spec(preset, locale))
    return hashes


def set_market_override(code: str, locale: str, partial: dict, *, expected_version=None):
    preset = get_preset(code)
    _check_locale(locale)
    overrides = dict(preset.market_overrides or {})
    overrides[locale] = partial
    return update_preset(code, expected_version=expected_version, market_overrides=overrides)


def delete_market_override(code: str, locale: str, *, expected_version=None):
    preset = get_preset(code)
    overrides = dict(preset.market_overrides or {})
    if locale not in overrides:
        raise NotFound(f"preset {code} has no override for {locale}", details={"locale": locale})
    del overrides[locale]
    return update_preset(code, expected_version=expected_version, market_overrides=overrides)


@transaction.atomic
@transaction.atomic
def delete_preset(code: str, *, expected_version: int | None = None) -> None:
    preset = get_preset(code)
    if expected_version is not None:
        # Lock the row so the check and the delete see the same version (PostgreSQL).
        preset = Preset.objects.select_for_update().get(pk=preset.pk)
        check_version(preset, expected_version, f"preset {code}", snapshot)
    slots = list(preset.slots.select_related("channel").values_list("channel__code", "role"))
    if slots:
        raise Conflict(
            f"preset {code} is used by image slots; change or delete them first",
            details={"slots": [{"channel": c, "role": r} for c, r in slots]},
        )
    audit.record("preset.delete", preset, summary=f"preset {code}")
    preset.delete()


# --- image slots ------------------------------------------------------------------------------


def _channel(code: str):
    from folio.catalog.models import Channel

    channel = Channel.objects.filter(code=code).first()
    if channel is None:
        raise NotFound(f"no channel {code!r}", details={"channel": code})
    return channel


def slot_snapshot(s: ImageSlot) -> dict:
    return {
        "channel": s.channel.code,
        "role": s.role,
        "preset": s.preset.code,
        "max_count": s.max_count,
        "required": s.required,
        "filename_template": s.filename_template,
    }


def list_slots(channel_code: str) -> list[ImageSlot]:
    channel = _channel(channel_code)
    return list(channel.image_slots.select_related("preset", "channel").order_by("role"))


def _slot_fields(data: dict, slot: ImageSlot) -> None:
    unknown = set(data) - {"role", "preset", "max_count", "required", "filename_template"}
    if unknown:
        _bad(f"unknown fields: {', '.join(sorted(unknown))}", field=sorted(unknown)[0])
    if "preset" in data:
        slot.preset = get_preset(data["preset"])
    for field in ("role", "max_count", "required", "filename_template"):
        if field in data:
            setattr(slot, field, data[field])
    if not slot.role or not re.match(r"^[a-z0-9_-]{1,50}$", slot.role):
        _bad("role must be lower-case letters, digits, - and _ (e.g. main)", field="role")
    if not isinstance(slot.max_count, int) or not 1 <= slot.max_count <= 100:
        _bad("max_count must be a whole number 1–100", field="max_count")
    if "/" in (slot.filename_template or ""):
        _bad("filename_template must be a file name (no /)", field="filename_template")


@transaction.atomic
def create_slot(channel_code: str, **data) -> ImageSlot:
    channel = _channel(channel_code)
    if "preset" not in data:
        _bad("preset is required", field="preset")
    slot = ImageSlot(channel=channel)
    _slot_fields(data, slot)
    if ImageSlot.objects.filter(channel=channel, role=slot.role).exists():
        raise Conflict(f"channel {channel_code} has a {slot.role} slot already")
    slot.save()
    audit.record("image_slot.create", slot, summary=f"{channel_code}: {slot.role}")
    return slot


def get_slot(channel_code: str, role: str) -> ImageSlot:
    slot = (
        ImageSlot.objects.select_related("channel", "preset")
        .filter(channel__code=channel_code, role=role)
        .first()
    )
    if slot is None:
        raise NotFound(f"channel {channel_code} has no {role} slot")
    return slot


def _stale_slot(slot: ImageSlot, expected_version: int) -> StaleWrite:
    return stale_write(
        f"the {slot.role} slot of channel {slot.channel.code}",
        expected_version,
        slot.version,
        {**slot_snapshot(slot), "version": slot.version},
    )


@transaction.atomic
def update_slot(
    channel_code: str, role: str, /, *, expected_version: int | None = None, **data
) -> ImageSlot:
    slot = get_slot(channel_code, role)
    before = slot_snapshot(slot)
    _slot_fields(data, slot)
    if (
        slot.role != role
        and ImageSlot.objects.filter(channel=slot.channel, role=slot.role).exists()
    ):
        raise Conflict(f"channel {channel_code} has a {slot.role} slot already")
    fields = ["role", "preset", "max_count", "required", "filename_template"]
    save_versioned(
        slot,
        expected_version,
        fields,
        snapshot=lambda s: {**slot_snapshot(s), "version": s.version},
    )
    after = slot_snapshot(slot)
    audit.record(
        "image_slot.update",
        slot,
        summary=f"{channel_code}: {slot.role}",
        changes={k: [before[k], after[k]] for k in after if before[k] != after[k]},
    )
    return slot


@transaction.atomic
def delete_slot(channel_code: str, role: str, *, expected_version: int | None = None) -> None:
    slot = get_slot(channel_code, role)
    if expected_version is not None:
        # Lock the row so the check and the delete see the same version (PostgreSQL).
        slot = (
            ImageSlot.objects.select_for_update(of=("self",))
            .select_related("channel", "preset")
            .get(pk=slot.pk)
        )
        if slot.version != expected_version:
            raise _stale_slot(slot, expected_version)
    audit.record("image_slot.delete", slot, summary=f"{channel_code}: {role}")
    slot.delete()
