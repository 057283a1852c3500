"""Value transforms of saved column mappings: what turns a supplier's cell ("1.234,50",
"500 ml", "ja", "Steel / Glass") into what the catalog expects.

A column rule lists transforms in order. Text transforms run on the cell first (trim, lower,
upper, replace, default, decimal_comma, date); `split` makes a list, and the transforms after
it (map, options_by_label, trim…) run on each item; `unit` and `boolean` say how the typed
value is read (a unit in the cell, words for yes and no).

    [{"op": "decimal_comma"}]                          "1.234,5"   → "1234.5"
    [{"op": "unit", "default_unit": "MILLILITER", "units": {"Liter": "LITER"}}]
                                                       "0,5 Liter" → 0.5 LITER (with decimal_comma)
    [{"op": "boolean", "true": ["ja"], "false": ["nein"]}]
    [{"op": "split", "separator": "/"}, {"op": "options_by_label", "locale": "de_DE"}]
    [{"op": "map", "values": {"Bottles": "drinkware"}}]
    [{"op": "date", "format": "%d.%m.%Y"}]             "31.12.2025" → "2025-12-31"
    [{"op": "replace", "old": "EUR", "new": ""}, {"op": "trim"}]
    [{"op": "default", "value": "0"}]                  an empty cell reads as "0"
"""

import datetime
import re
from dataclasses import dataclass, field
from typing import Any

OPS = {
    "trim": (),
    "lower": (),
    "upper": (),
    "replace": ("old", "new"),
    "default": ("value",),
    "decimal_comma": (),
    "date": ("format",),
    "split": ("separator",),
    "map": ("values", "ignore_case"),
    "options_by_label": ("locale",),
    "unit": ("default_unit", "units"),
    "boolean": ("true", "false"),
}
REQUIRED = {"replace": ("old",), "default": ("value",), "date": ("format",), "map": ("values",)}
TRUE_WORDS = ("1", "true", "yes", "y", "on")
FALSE_WORDS = ("0", "false", "no", "n", "off")


def check(transforms: Any, where: str) -> list[str]:
    """Every problem of a transform list, as sentences naming where."""
    if transforms in (None, []):
        return []
    if not isinstance(transforms, list):
        return [f"{where}: transforms must be a list of {{'op': …}}"]
    problems = []
    for i, t in enumerate(transforms):
        at = f"{where} transform {i + 1}"
        if not isinstance(t, dict) or not isinstance(t.get("op"), str):
            problems.append(f"{at}: expected {{'op': …}}")
            continue
        op = t["op"]
        if op not in OPS:
            problems.append(f"{at}: unknown op {op!r} (one of {', '.join(sorted(OPS))})")
            continue
        extra = sorted(set(t) - {"op", *OPS[op]})
        if extra:
            problems.append(f"{at}: {op} takes no {', '.join(extra)}")
        for name in REQUIRED.get(op, ()):
            if name not in t:
                problems.append(f"{at}: {op} needs {name!r}")
        if op == "map" and not isinstance(t.get("values"), dict):
            problems.append(f"{at}: map needs values as an object {{'from': 'to'}}")
        if (
            op == "split"
            and t.get("separator") is not None
            and (not isinstance(t["separator"], str) or not t["separator"])
        ):
            problems.append(f"{at}: the separator is a non-empty text")
        if op == "date" and isinstance(t.get("format"), str):
            try:
                datetime.datetime(2000, 1, 31).strftime(t["format"])
            except ValueError:
                problems.append(f"{at}: {t['format']!r} is not a date format")
        if op == "boolean":
            for key in ("true", "false"):
                words = t.get(key, [])
                if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
                    problems.append(f"{at}: {key} is a list of words")
        if op == "unit" and not isinstance(t.get("units", {}), dict):
            problems.append(f"{at}: units maps the file's unit names to unit codes")
    return problems


@dataclass
class Reading:
    """How one column's cells are read: text steps, then maybe a split with item steps, then
    typed reading settings."""

    before: list = field(default_factory=list)  # str → str
    separator: str | None = None  # set when the mapping splits explicitly
    after: list = field(default_factory=list)  # str → str, on each item of a list
    decimal_comma: bool = False
    default_unit: str | None = None
    units: dict = field(default_factory=dict)  # the file's unit names (lower case) → codes
    true_words: tuple = TRUE_WORDS
    false_words: tuple = FALSE_WORDS
    default: str | None = None
    labels_for: tuple | None = None  # (attribute code, locale or None): options by label


def _replace(old, new):
    return lambda s: s.replace(old, new)


def _decimal_comma(s: str) -> str:
    s = s.strip().replace(" ", "").replace("\u00a0", "")
    if "," in s:
        s = s.replace(".", "").replace(",", ".")
    return s


def _date(fmt):
    def read(s: str) -> str:
        try:
            return datetime.datetime.strptime(s.strip(), fmt).date().isoformat()
        except ValueError:
            raise ValueError(f"{s!r} is not a date like {fmt}") from None

    return read


def _map(values: dict, ignore_case: bool):
    table = {str(k).lower() if ignore_case else str(k): str(v) for k, v in values.items()}

    def read(s: str) -> str:
        key = s.lower() if ignore_case else s
        return table.get(key, table.get(key.strip(), s))

    return read


def compile_reading(transforms: list | None, *, decimal_comma: bool = False) -> Reading:
    r = Reading(decimal_comma=decimal_comma)
    steps = r.before
    for t in transforms or []:
        op = t["op"]
        if op == "trim":
            steps.append(str.strip)
        elif op == "lower":
            steps.append(str.lower)
        elif op == "upper":
            steps.append(str.upper)
        elif op == "replace":
            steps.append(_replace(t["old"], t.get("new", "")))
        elif op == "default":
            r.default = str(t["value"])
        elif op == "decimal_comma":
            r.decimal_comma = True
        elif op == "date":
            steps.append(_date(t["format"]))
        elif op == "map":
            steps.append(_map(t["values"], bool(t.get("ignore_case", True))))
        elif op == "split":
            r.separator = t.get("separator") or ","
            steps = r.after
        elif op == "options_by_label":
            r.labels_for = ("", t.get("locale"))
        elif op == "unit":
            r.default_unit = t.get("default_unit")
            r.units = {str(k).lower(): str(v) for k, v in (t.get("units") or {}).items()}
        elif op == "boolean":
            r.true_words = tuple(w.lower() for w in t.get("true", [])) or TRUE_WORDS
            r.false_words = tuple(w.lower() for w in t.get("false", [])) or FALSE_WORDS
    return r


def apply_text(steps: list, text: str) -> str:
    for step in steps:
        text = step(text)
    return text


_AMOUNT_UNIT = re.compile(r"^\s*([-+]?[\d.,\u00a0 ]*\d[\d.,]*)\s*(.*?)\s*$")


def split_amount_unit(text: str) -> tuple[str, str]:
    """ "500 ml" → ("500", "ml"); "1.5kg" → ("1.5", "kg"); "750" → ("750", "")."""
    m = _AMOUNT_UNIT.match(text)
    if not m:
        raise ValueError(f"{text!r} is not an amount (with an optional unit, e.g. 500 ml)")
    return m.group(1).replace("\u00a0", "").replace(" ", ""), m.group(2)
