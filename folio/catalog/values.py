"""The typed value document of products and product models.

Shape (the public API shape of the leading open PIM, see docs/catalog.md):

    {"name": [{"locale": "en_US", "scope": null, "data": "Water bottle"}],
     "capacity": [{"locale": null, "scope": null, "data": {"amount": "750", "unit": "MILLILITER"}}],
     "price": [{"locale": null, "scope": null, "data": [{"amount": "24.90", "currency": "USD"}]}]}

`locale` is set exactly when the attribute is localizable and `scope` (a channel code) exactly
when it is scopable. Numbers, measurement amounts and prices are kept as canonical decimal
strings so that no precision is lost between input, storage and feeds.

This module validates and normalises documents against a `Structure` snapshot (loaded once per
request or per bulk batch), merges PATCHes, resolves inheritance from product models and
derives the rows of the filter index. It does not write to the database.
"""

import datetime
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import nh3
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator

from folio.catalog.models import (
    Attribute,
    AttributeOption,
    Channel,
    Currency,
    FamilyRequirement,
    FamilyVariantAttribute,
    Locale,
    MeasurementFamily,
)
from folio.words import counted

T = Attribute.Type
TEXT_MAX = 255
TEXTAREA_MAX = 65_535
_url = URLValidator(schemes=["http", "https"])
_email = EmailValidator()


@dataclass
class AttributeInfo:
    id: int
    code: str
    type: str
    localizable: bool
    scopable: bool
    available_locales: frozenset[str]
    unique: bool
    is_gtin: bool
    max_length: int | None
    text_rule: str
    regex: re.Pattern | None
    rich_text: bool
    number_min: Decimal | None
    number_max: Decimal | None
    decimals_allowed: bool
    negative_allowed: bool
    date_min: datetime.date | None
    date_max: datetime.date | None
    units: dict[str, dict]  # allowed units of a measurement attribute
    unit_symbols: dict[str, str]  # "ml" → "MILLILITER"
    options: frozenset[str]


@dataclass
class Structure:
    """What a value document is checked against, loaded in a fixed number of queries."""

    attributes: dict[str, AttributeInfo]
    locales: frozenset[str]  # every known locale
    active_locales: frozenset[str]  # locales used by at least one channel
    channels: dict[str, dict]  # code → {"id", "locales": set, "currencies": set}
    currencies: frozenset[str]
    family_attributes: dict[int, frozenset[str]] = field(default_factory=dict)
    variant_levels: dict[int, dict[str, tuple[int, bool]]] = field(default_factory=dict)
    # family id → channel code → required attribute codes
    requirements: dict[int, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    locale_ids: dict[str, int] = field(default_factory=dict)

    @classmethod
    def load(cls) -> "Structure":
        attributes = load_attributes()
        channels: dict[str, dict] = {}
        for c in Channel.objects.prefetch_related("locales", "currencies"):
            channels[c.code] = {
                "id": c.pk,
                "locales": {loc.code for loc in c.locales.all()},
                "currencies": {cur.code for cur in c.currencies.all()},
            }
        family_attributes: dict[int, set[str]] = {}
        for family_id, code in Attribute.families.through.objects.values_list(
            "family_id", "attribute__code"
        ):
            family_attributes.setdefault(family_id, set()).add(code)
        variant_levels: dict[int, dict[str, tuple[int, bool]]] = {}
        for fv_id, code, level, is_axis in FamilyVariantAttribute.objects.values_list(
            "family_variant_id", "attribute__code", "level", "is_axis"
        ):
            variant_levels.setdefault(fv_id, {})[code] = (level, is_axis)
        requirements: dict[int, dict[str, list[str]]] = {}
        for family_id, channel, code in FamilyRequirement.objects.values_list(
            "family_id", "channel__code", "attribute__code"
        ):
            requirements.setdefault(family_id, {}).setdefault(channel, []).append(code)
        locale_ids = dict(Locale.objects.values_list("code", "id"))
        return cls(
            attributes=attributes,
            locales=frozenset(locale_ids),
            active_locales=frozenset(loc for c in channels.values() for loc in c["locales"]),
            channels=channels,
            currencies=frozenset(Currency.objects.values_list("code", flat=True)),
            family_attributes={k: frozenset(v) for k, v in family_attributes.items()},
            variant_levels=variant_levels,
            requirements={
                f: {c: tuple(sorted(codes)) for c, codes in by_channel.items()}
                for f, by_channel in requirements.items()
            },
            locale_ids=locale_ids,
        )


def load_attributes(codes=None) -> dict[str, AttributeInfo]:
    """AttributeInfo of every attribute, or only of `codes` (a filter needs a few, not 1,000)."""
    attrs = Attribute.objects.all()
    if codes is not None:
        attrs = attrs.filter(code__in=list(codes))
    attrs = list(attrs)
    ids = [a.pk for a in attrs]
    families = {
        f.pk: f
        for f in MeasurementFamily.objects.filter(
            pk__in={a.measurement_family_id for a in attrs if a.measurement_family_id}
        )
    }
    options: dict[int, set[str]] = {}
    option_rows = AttributeOption.objects.all()
    through = Attribute.available_locales.through
    locale_rows = through.objects.all()
    if codes is not None:
        option_rows = option_rows.filter(attribute_id__in=ids)
        locale_rows = locale_rows.filter(attribute_id__in=ids)
    for attribute_id, code in option_rows.values_list("attribute_id", "code"):
        options.setdefault(attribute_id, set()).add(code)
    available: dict[int, set[str]] = {}
    for attribute_id, locale in locale_rows.values_list("attribute_id", "locale__code"):
        available.setdefault(attribute_id, set()).add(locale)
    attributes = {}
    for a in attrs:
        units, symbols = {}, {}
        if a.type == T.MEASUREMENT and a.measurement_family_id in families:
            all_units = families[a.measurement_family_id].units
            allowed = a.allowed_units or list(all_units)
            units = {u: all_units[u] for u in allowed if u in all_units}
            symbols = {
                spec.get("symbol", "").lower(): u for u, spec in units.items() if spec.get("symbol")
            }
        attributes[a.code] = AttributeInfo(
            id=a.pk,
            code=a.code,
            type=a.type,
            localizable=a.localizable,
            scopable=a.scopable,
            available_locales=frozenset(available.get(a.pk, ())),
            unique=a.unique,
            is_gtin=a.is_gtin,
            max_length=a.max_length,
            text_rule=a.text_rule,
            regex=re.compile(a.regex) if a.regex else None,
            rich_text=a.rich_text,
            number_min=a.number_min,
            number_max=a.number_max,
            decimals_allowed=a.decimals_allowed,
            negative_allowed=a.negative_allowed,
            date_min=a.date_min,
            date_max=a.date_max,
            units=units,
            unit_symbols=symbols,
            options=frozenset(options.get(a.pk, ())),
        )
    return attributes


class ValueErrors:
    """Collects every problem of one document, each naming attribute, locale, channel, reason."""

    def __init__(self):
        self.items: list[dict] = []

    def add(self, attribute: str, reason: str, *, locale=None, scope=None, **extra) -> None:
        self.items.append(
            {"attribute": attribute, "locale": locale, "channel": scope, "reason": reason, **extra}
        )

    def __bool__(self):
        return bool(self.items)

    def message(self, subject: str) -> str:
        first = self.items[0]
        where = first["attribute"]
        if first.get("locale"):
            where += f" [{first['locale']}]"
        if first.get("channel"):
            where += f" <{first['channel']}>"
        more = (
            f" (and {counted(len(self.items) - 1, 'more problem')})" if len(self.items) > 1 else ""
        )
        return f"{subject}: {where}: {first['reason']}{more}"


# --- scalar checks ----------------------------------------------------------------------------


def gtin_is_valid(code: str) -> bool:
    """GS1 check digit of GTIN-8/12/13/14: weights 3,1,3,… from the right, excluding the check."""
    if not code.isdigit() or len(code) not in (8, 12, 13, 14):
        return False
    digits = [int(c) for c in code]
    body, check = digits[:-1], digits[-1]
    total = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10 == check


def _decimal(value: Any, what: str) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{what} must be a number")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"{what} must be a number, not {value!r}") from None
    if not number.is_finite():
        raise ValueError(f"{what} must be a finite number")
    return number


def canonical(number: Decimal) -> str:
    """ "750", "24.9", "0.001": no exponent, no trailing zeros."""
    text = format(number.normalize(), "f")
    return text if "." not in text else text.rstrip("0").rstrip(".") or "0"


def _check_number(a: AttributeInfo, value: Any, what: str = "value") -> str:
    number = _decimal(value, what)
    if not a.decimals_allowed and number != number.to_integral_value():
        raise ValueError(f"{what} must be a whole number, not {value}")
    if not a.negative_allowed and number < 0:
        raise ValueError(f"{what} must not be negative")
    if a.number_min is not None and number < a.number_min:
        raise ValueError(
            f"{what} {canonical(number)} is below the minimum {canonical(a.number_min)}"
        )
    if a.number_max is not None and number > a.number_max:
        raise ValueError(
            f"{what} {canonical(number)} is above the maximum {canonical(a.number_max)}"
        )
    return canonical(number)


def _check_text(a: AttributeInfo, value: Any, limit: int) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected text, got {type(value).__name__}")
    if a.rich_text:
        value = nh3.clean(value)
    limit = min(a.max_length or limit, limit)
    if len(value) > limit:
        raise ValueError(f"is {len(value)} characters long, at most {limit} are allowed")
    if a.is_gtin and not gtin_is_valid(value):
        raise ValueError(
            f"{value!r} is not a valid GTIN (8, 12, 13 or 14 digits with a GS1 check digit)"
        )
    if a.text_rule == Attribute.TextRule.URL:
        try:
            _url(value)
        except ValidationError:
            raise ValueError(f"{value!r} is not an http(s) URL") from None
    elif a.text_rule == Attribute.TextRule.EMAIL:
        try:
            _email(value)
        except ValidationError:
            raise ValueError(f"{value!r} is not an e-mail address") from None
    if a.regex is not None and not a.regex.fullmatch(value):
        raise ValueError(f"{value!r} does not match the pattern {a.regex.pattern}")
    return value


def check_data(a: AttributeInfo, data: Any, structure: Structure, scope: str | None) -> Any:
    """The normalised data of one value, or ValueError with the reason."""
    t = a.type
    if t in (T.IDENTIFIER, T.TEXT):
        return _check_text(a, data, TEXT_MAX)
    if t == T.TEXTAREA:
        return _check_text(a, data, TEXTAREA_MAX)
    if t == T.NUMBER:
        return _check_number(a, data)
    if t == T.BOOLEAN:
        if not isinstance(data, bool):
            raise ValueError(f"expected true or false, got {data!r}")
        return data
    if t == T.DATE:
        try:
            day = datetime.date.fromisoformat(str(data))
        except ValueError:
            raise ValueError(f"expected a date as YYYY-MM-DD, got {data!r}") from None
        if a.date_min and day < a.date_min:
            raise ValueError(f"{day} is before {a.date_min}")
        if a.date_max and day > a.date_max:
            raise ValueError(f"{day} is after {a.date_max}")
        return day.isoformat()
    if t == T.SELECT:
        if not isinstance(data, str) or data not in a.options:
            raise ValueError(f"{data!r} is not an option of {a.code}")
        return data
    if t == T.MULTISELECT:
        if not isinstance(data, list) or not all(isinstance(o, str) for o in data):
            raise ValueError("expected a list of option codes")
        unknown = [o for o in data if o not in a.options]
        if unknown:
            raise ValueError(f"{', '.join(map(repr, unknown))} not an option of {a.code}")
        return sorted(set(data))
    if t == T.MEASUREMENT:
        if not isinstance(data, dict) or "amount" not in data or not data.get("unit"):
            raise ValueError('expected {"amount": …, "unit": …}')
        unit = str(data["unit"])
        unit = unit if unit in a.units else a.unit_symbols.get(unit.lower(), unit)
        if unit not in a.units:
            allowed = ", ".join(sorted(a.units))
            raise ValueError(f"unit {data['unit']!r} is not allowed here; use one of {allowed}")
        return {"amount": _check_number(a, data["amount"], "amount"), "unit": unit}
    if t == T.PRICE:
        if not isinstance(data, list):
            raise ValueError('expected a list of {"amount": …, "currency": …}')
        prices, seen = [], set()
        for p in data:
            if not isinstance(p, dict) or "amount" not in p or "currency" not in p:
                raise ValueError('each price needs "amount" and "currency"')
            currency = str(p["currency"]).upper()
            if currency not in structure.currencies:
                raise ValueError(f"currency {p['currency']!r} is not set up")
            if currency in seen:
                raise ValueError(f"currency {currency} appears twice")
            seen.add(currency)
            prices.append({"amount": _check_number(a, p["amount"], "amount"), "currency": currency})
        return sorted(prices, key=lambda p: p["currency"])
    if t in (T.ASSET_COLLECTION,):
        if not isinstance(data, list) or not all(isinstance(x, str | int) for x in data):
            raise ValueError("expected a list of asset references")
        return [str(x) for x in data]
    if t == T.PRODUCT_REFERENCE:
        if not isinstance(data, str) or not data:
            raise ValueError("expected a SKU")
        return data
    raise ValueError(f"attribute type {t} cannot hold values")  # pragma: no cover


# --- documents --------------------------------------------------------------------------------


def check_document(
    document: Any,
    structure: Structure,
    errors: ValueErrors,
    *,
    allowed: frozenset[str] | None = None,
    wrong_level: dict[str, str] | None = None,
    partial: bool = False,
) -> dict:
    """Validate and normalise a value document (or, with `partial`, a PATCH of one, where
    `data: null` removes a value). `allowed` limits the attributes (the family's, or the
    variant level's); `wrong_level` explains where a refused attribute belongs instead."""
    if not isinstance(document, dict):
        errors.add("values", 'expected an object {"attribute": [{locale, scope, data}]}')
        return {}
    result: dict[str, list] = {}
    for code, entries in document.items():
        a = structure.attributes.get(code)
        if a is None:
            errors.add(code, "unknown attribute")
            continue
        if wrong_level and code in wrong_level:
            errors.add(code, wrong_level[code])
            continue
        if allowed is not None and code not in allowed:
            errors.add(code, "not an attribute of this product's family")
            continue
        if not isinstance(entries, list):
            errors.add(code, "expected a list of {locale, scope, data}")
            continue
        seen: set[tuple] = set()
        clean: list[dict] = []
        for entry in entries:
            if not isinstance(entry, dict) or "data" not in entry:
                errors.add(code, "each value needs locale, scope and data")
                continue
            locale, scope = entry.get("locale"), entry.get("scope")
            if not _check_where(a, locale, scope, structure, errors):
                continue
            if (locale, scope) in seen:
                errors.add(
                    code, "given twice for the same locale and channel", locale=locale, scope=scope
                )
                continue
            seen.add((locale, scope))
            data = entry["data"]
            if data is None or data == "" or data == []:
                if partial:
                    clean.append({"locale": locale, "scope": scope, "data": None})
                continue
            try:
                clean.append(
                    {
                        "locale": locale,
                        "scope": scope,
                        "data": check_data(a, data, structure, scope),
                    }
                )
            except ValueError as exc:
                errors.add(code, str(exc), locale=locale, scope=scope)
        if clean or partial:
            result[code] = clean
    return result


def _check_where(
    a: AttributeInfo, locale, scope, structure: Structure, errors: ValueErrors
) -> bool:
    if a.localizable and not locale:
        errors.add(a.code, "is localizable: give the locale of the value", scope=scope)
        return False
    if not a.localizable and locale:
        errors.add(a.code, "is not localizable: locale must be null", locale=locale, scope=scope)
        return False
    if a.scopable and not scope:
        errors.add(a.code, "is scopable: give the channel (scope) of the value", locale=locale)
        return False
    if not a.scopable and scope:
        errors.add(a.code, "is not scopable: scope must be null", locale=locale, scope=scope)
        return False
    if scope and scope not in structure.channels:
        errors.add(a.code, f"unknown channel {scope!r}", locale=locale, scope=scope)
        return False
    if locale:
        if locale not in structure.locales:
            errors.add(a.code, f"unknown locale {locale!r}", locale=locale, scope=scope)
            return False
        if locale not in structure.active_locales:
            errors.add(
                a.code,
                f"locale {locale} is not active (no channel uses it)",
                locale=locale,
                scope=scope,
            )
            return False
        if scope and locale not in structure.channels[scope]["locales"]:
            errors.add(
                a.code, f"channel {scope} is not published in {locale}", locale=locale, scope=scope
            )
            return False
        if a.available_locales and locale not in a.available_locales:
            errors.add(
                a.code,
                f"is only available in {', '.join(sorted(a.available_locales))}",
                locale=locale,
                scope=scope,
            )
            return False
    return True


def merge(current: dict, patch: dict) -> dict:
    """PATCH semantics: values are replaced per (attribute, locale, scope); data null removes."""
    merged = {code: list(entries) for code, entries in current.items()}
    for code, entries in patch.items():
        by_key = {(e["locale"], e["scope"]): e for e in merged.get(code, [])}
        for e in entries:
            if e["data"] is None:
                by_key.pop((e["locale"], e["scope"]), None)
            else:
                by_key[(e["locale"], e["scope"])] = e
        if by_key:
            merged[code] = sorted(by_key.values(), key=_entry_key)
        else:
            merged.pop(code, None)
    return merged


def _entry_key(e: dict) -> tuple:
    return (e["locale"] or "", e["scope"] or "")


def normalise_order(document: dict) -> dict:
    return {code: sorted(entries, key=_entry_key) for code, entries in sorted(document.items())}


def diff(old: dict, new: dict) -> list[dict]:
    """Changed values as history entries: attribute, locale, scope, old → new."""
    changes = []
    for code in sorted(set(old) | set(new)):
        before = {(e["locale"], e["scope"]): e["data"] for e in old.get(code, [])}
        after = {(e["locale"], e["scope"]): e["data"] for e in new.get(code, [])}
        for key in sorted(set(before) | set(after), key=lambda k: (k[0] or "", k[1] or "")):
            if before.get(key) != after.get(key):
                changes.append(
                    {
                        "field": "values",
                        "attribute": code,
                        "locale": key[0],
                        "scope": key[1],
                        "old": before.get(key),
                        "new": after.get(key),
                    }
                )
    return changes


def undo(document: dict, changes: list[dict]) -> dict:
    """The document as it was before `changes` (history restore walks back with this)."""
    patch: dict[str, list] = {}
    for c in changes:
        if c.get("field") == "values":
            patch.setdefault(c["attribute"], []).append(
                {"locale": c["locale"], "scope": c["scope"], "data": c["old"]}
            )
    return merge(document, patch)


def resolve(*documents: dict) -> dict:
    """Values of a variant with inheritance: root model, sub-model, then the product's own.

    Each attribute is owned by exactly one level, so a plain merge is the resolution.
    """
    resolved: dict = {}
    for doc in documents:
        if doc:
            resolved.update(doc)
    return resolved


def index_rows(document: dict, structure: Structure) -> list[tuple]:
    """(attribute_id, locale, scope, unit, text, number) rows for the filter index."""
    rows = []
    for code, entries in document.items():
        a = structure.attributes.get(code)
        if a is None:
            continue
        for e in entries:
            loc, scope, data = e["locale"] or "", e["scope"] or "", e["data"]
            t = a.type
            if t in (T.IDENTIFIER, T.TEXT, T.TEXTAREA, T.SELECT, T.DATE, T.PRODUCT_REFERENCE):
                rows.append((a.id, loc, scope, "", str(data)[:255], None))
            elif t == T.NUMBER:
                rows.append((a.id, loc, scope, "", None, float(data)))
            elif t == T.BOOLEAN:
                rows.append((a.id, loc, scope, "", "true" if data else "false", None))
            elif t == T.MULTISELECT or t == T.ASSET_COLLECTION:
                rows.extend((a.id, loc, scope, "", str(o)[:255], None) for o in data)
            elif t == T.MEASUREMENT:
                rows.append((a.id, loc, scope, data["unit"], None, to_standard(a, data)))
            elif t == T.PRICE:
                rows.extend(
                    (a.id, loc, scope, p["currency"], None, float(p["amount"])) for p in data
                )
    return rows


def to_standard(a: AttributeInfo, data: dict) -> float:
    spec = a.units.get(data["unit"], {})
    factor = Decimal(spec.get("factor", "1"))
    offset = Decimal(spec.get("offset", "0"))
    return float(Decimal(data["amount"]) * factor + offset)


def is_filled(a: AttributeInfo, data: Any, currencies: set[str] | None = None) -> bool:
    """Completeness: a price needs every currency of the channel; a measurement amount and unit."""
    if data is None or data == "" or data == []:
        return False
    if a.type == T.PRICE:
        have = {p["currency"] for p in data if p.get("amount") not in (None, "")}
        return bool(have) and (not currencies or currencies <= have)
    if a.type == T.MEASUREMENT:
        return data.get("amount") not in (None, "") and bool(data.get("unit"))
    return True


def value_of(document: dict, code: str, locale: str | None, scope: str | None) -> Any:
    for e in document.get(code, ()):
        if e["locale"] == locale and e["scope"] == scope:
            return e["data"]
    return None


def text_for_search(document: dict, structure: Structure) -> tuple[str, str]:
    """(title, body) text of a document for full-text search: labels of options included."""
    title_parts, body_parts = [], []
    for code, entries in document.items():
        a = structure.attributes.get(code)
        if a is None:
            continue
        for e in entries:
            data = e["data"]
            if a.type in (T.TEXT, T.IDENTIFIER):
                (title_parts if code in ("name", "title") else body_parts).append(str(data))
            elif a.type == T.TEXTAREA:
                body_parts.append(nh3.clean(str(data), tags=set()) if a.rich_text else str(data))
            elif a.type in (T.SELECT, T.MULTISELECT):
                body_parts.extend(data if isinstance(data, list) else [data])
    return " ".join(title_parts), " ".join(body_parts)
