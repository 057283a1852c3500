"""The catalog's structure: locales, currencies, channels, attribute groups, attributes and their
options, families and their requirements, family variants, categories, product groups and
association types.

These functions are the only writers of structure; the API, the CLI and imports call them.
Each checks everything it is given against the rest of the structure and fails with one
InvalidInput whose details name the field (and attribute, locale or channel) and the reason,
so a bad setting never reaches the products that depend on it. Deleting something still in
use is a Conflict that says what uses it. Updates of versioned objects take the version the
caller edited (409 when it is stale).
"""

import datetime
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, F, Max, Q, Value
from django.db.models.deletion import ProtectedError
from django.db.models.functions import Concat, Length, Substr

from folio.accounts import audit
from folio.catalog.models import (
    Association,
    AssociationType,
    Attribute,
    AttributeGroup,
    AttributeOption,
    Category,
    Channel,
    Currency,
    Family,
    FamilyRequirement,
    FamilyVariant,
    FamilyVariantAttribute,
    Locale,
    MeasurementFamily,
    ProductGroup,
    ValueIndex,
)
from folio.catalog.signals import structure_changed
from folio.errors import Conflict, InvalidInput, NotFound
from folio.versioning import check_version, save_versioned
from folio.words import counted

T = Attribute.Type
CODE_RE = re.compile(r"^[A-Za-z0-9_]+$")
LOCALE_RE = re.compile(r"^[a-z]{2,3}(_[A-Z][a-z]{3})?_[A-Z]{2}$")
CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
# ISO 3166-1 alpha-2, as assigned (no user-assigned codes such as XK).
_ISO_3166 = """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ
    BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO
    DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU
    GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW
    KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU
    MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW
    PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF
    TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA
    ZM ZW"""
COUNTRIES = frozenset(_ISO_3166.split())
# Product fields that sit beside attribute columns in flat files and feeds; an attribute of
# the same name would make such a column ambiguous.
RESERVED_ATTRIBUTE_CODES = frozenset(
    {"sku", "family", "parent", "categories", "groups", "enabled", "values", "associations"}
)
TEXT_TYPES = (T.IDENTIFIER, T.TEXT, T.TEXTAREA)
MAX_LENGTH_LIMIT = {T.IDENTIFIER: 255, T.TEXT: 255, T.TEXTAREA: 65_535}  # as values.py enforces
NUMERIC_TYPES = (T.NUMBER, T.MEASUREMENT, T.PRICE)
UNIQUE_TYPES = (T.IDENTIFIER, T.TEXT, T.NUMBER, T.DATE)
AXIS_TYPES = (T.SELECT, T.BOOLEAN, T.MEASUREMENT)
MAX_AXES = 5
FIXED_ATTRIBUTE_FIELDS = ("type", "localizable", "scopable", "measurement_family")


# --- shared checks ----------------------------------------------------------------------------


def _invalid(subject: str, field: str, reason: str, **extra) -> InvalidInput:
    return InvalidInput(
        f"{subject}: {field}: {reason}", details={"field": field, "reason": reason, **extra}
    )


def _what(model) -> str:
    return str(model._meta.verbose_name)


def _check_code(subject: str, code: Any, field: str = "code") -> str:
    if not isinstance(code, str) or not code:
        raise _invalid(subject, field, "a code is required")
    if len(code) > 100:
        raise _invalid(subject, field, "a code has at most 100 characters", value=code)
    if not CODE_RE.match(code):
        raise _invalid(
            subject,
            field,
            f"{code!r} may use letters, digits and underscores only (e.g. size_ml)",
            value=code,
        )
    return code


def _bool(subject: str, field: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _invalid(subject, field, f"expected true or false, got {value!r}")
    return value


def _int(subject: str, field: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid(subject, field, f"expected a whole number, got {value!r}")
    if not -(2**31) <= value < 2**31:
        raise _invalid(subject, field, "out of range")
    return value


def _code_list(subject: str, field: str, value: Any) -> list[str]:
    """Codes in the order given, each once."""
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, list | tuple | set | frozenset):
        raise _invalid(subject, field, "expected a list of codes")
    seen: dict[str, None] = {}
    for item in value:
        if not isinstance(item, str) or not item:
            raise _invalid(subject, field, f"expected codes, got {item!r}")
        seen[item] = None
    return list(seen)


def _lookup(subject: str, field: str, model, codes: list[str]) -> list:
    """The objects named by `codes`, in that order; every unknown code named in the error."""
    found = {o.code: o for o in model._default_manager.filter(code__in=codes)}
    unknown = [c for c in codes if c not in found]
    if unknown:
        what = str(model._meta.verbose_name_plural if len(unknown) > 1 else _what(model))
        raise _invalid(
            subject, field, f"no {what} {', '.join(unknown)}", unknown=unknown, value=unknown
        )
    return [found[c] for c in codes]


def _one(subject: str, field: str, model, code: Any):
    if code is None or code == "":
        return None
    if not isinstance(code, str):
        raise _invalid(subject, field, f"expected a code, got {code!r}")
    return _lookup(subject, field, model, [code])[0]


def _labels(subject: str, labels: Any, field: str = "labels") -> dict[str, str]:
    """Labels per locale; every key must be a locale that exists, empty labels are dropped."""
    if labels is None:
        return {}
    if not isinstance(labels, dict):
        raise _invalid(subject, field, 'expected labels per locale, e.g. {"en_US": "Size"}')
    known = set(Locale.objects.filter(code__in=list(labels)).values_list("code", flat=True))
    clean = {}
    for locale, text in labels.items():
        if locale not in known:
            raise _invalid(subject, field, f"{locale!r} is not a locale", locale=locale)
        if text is None:
            continue
        if not isinstance(text, str):
            raise _invalid(subject, field, f"a label is text, got {text!r}", locale=locale)
        if len(text) > 255:
            raise _invalid(subject, field, "a label has at most 255 characters", locale=locale)
        if text.strip():
            clean[locale] = text.strip()
    return dict(sorted(clean.items()))


def _reject_unknown(subject: str, changes: dict, allowed) -> None:
    unknown = sorted(set(changes) - set(allowed))
    if unknown:
        raise _invalid(
            subject,
            unknown[0],
            f"not a changeable setting (changeable: {', '.join(sorted(allowed))})",
        )


def _get(model, code: str, *, lock: bool = False):
    qs = model._default_manager.all()
    if lock:
        qs = qs.select_for_update()
    obj = qs.filter(code=code).first()
    if obj is None:
        raise NotFound(f"no {_what(model)} with code {code!r}", details={"code": code})
    return obj


def _check_version(obj, expected_version: int | None, snapshot) -> None:
    """For deletes: refuse to remove something the caller has not seen in its current state."""
    check_version(obj, expected_version, f"{_what(type(obj))} {obj.code}", snapshot)


def _diff(before: dict, after: dict) -> dict:
    return {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}


def _in_use(subject: str, reason: str, **details) -> Conflict:
    return Conflict(f"{subject} cannot be deleted: {reason}", details={"reason": reason, **details})


def _delete(obj, subject: str) -> None:
    try:
        with transaction.atomic():
            obj.delete()
    except ProtectedError as exc:
        users = sorted({str(o) for o in exc.protected_objects})[:10]
        raise _in_use(subject, f"still used by {', '.join(users)}", used_by=users) from None


def _create(obj, subject: str, m2m: dict | None = None):
    if type(obj)._default_manager.filter(code=obj.code).exists():
        raise Conflict(f"{subject} exists already", details={"field": "code", "code": obj.code})
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError:
        # Created meanwhile by someone else, after the check above.
        raise Conflict(f"{subject} exists already", details={"field": "code"}) from None
    for name, values in (m2m or {}).items():
        getattr(obj, name).set(values)
    return obj


def _announce(sender, *, family_ids=None, channel_ids=None) -> None:
    structure_changed.send(
        sender=sender,
        family_ids=sorted(family_ids) if family_ids is not None else None,
        channel_ids=sorted(channel_ids) if channel_ids is not None else None,
    )


def decimal_text(value: Decimal | None) -> str | None:
    if value is None:
        return None
    return format(value.normalize(), "f")


# --- snapshots (audit, 409 details, CLI) ------------------------------------------------------


def locale_snapshot(obj: Locale) -> dict:
    return {"code": obj.code, "label": obj.label, "version": obj.version}


currency_snapshot = locale_snapshot


def channel_snapshot(obj: Channel) -> dict:
    return {
        "code": obj.code,
        "labels": obj.labels,
        "kind": obj.kind,
        "locales": sorted(loc.code for loc in obj.locales.all()),
        "currencies": sorted(c.code for c in obj.currencies.all()),
        "territories": obj.territories,
        "category_tree": obj.category_tree.code if obj.category_tree_id else None,
        "requires_review": obj.requires_review,
        "version": obj.version,
    }


def attribute_group_snapshot(obj: AttributeGroup) -> dict:
    return {
        "code": obj.code,
        "labels": obj.labels,
        "sort_order": obj.sort_order,
        "version": obj.version,
    }


def attribute_snapshot(obj: Attribute) -> dict:
    return {
        "code": obj.code,
        "type": obj.type,
        "labels": obj.labels,
        "group": obj.group.code if obj.group_id else None,
        "sort_order": obj.sort_order,
        "localizable": obj.localizable,
        "scopable": obj.scopable,
        "available_locales": sorted(loc.code for loc in obj.available_locales.all()),
        "unique": obj.unique,
        "is_gtin": obj.is_gtin,
        "max_length": obj.max_length,
        "text_rule": obj.text_rule,
        "regex": obj.regex,
        "rich_text": obj.rich_text,
        "number_min": decimal_text(obj.number_min),
        "number_max": decimal_text(obj.number_max),
        "decimals_allowed": obj.decimals_allowed,
        "negative_allowed": obj.negative_allowed,
        "date_min": obj.date_min.isoformat() if obj.date_min else None,
        "date_max": obj.date_max.isoformat() if obj.date_max else None,
        "measurement_family": obj.measurement_family.code if obj.measurement_family_id else None,
        "default_unit": obj.default_unit,
        "allowed_units": obj.allowed_units,
        "version": obj.version,
    }


def option_snapshot(obj: AttributeOption) -> dict:
    return {
        "code": obj.code,
        "labels": obj.labels,
        "sort_order": obj.sort_order,
        "version": obj.version,
    }


def family_requirements(obj: Family, *, all_channels: bool = False) -> dict[str, list[str]]:
    """{channel code: [required attribute codes]}; with `all_channels`, channels that require
    nothing are listed too (with [])."""
    out: dict[str, list[str]] = {}
    if all_channels:
        out = {c: [] for c in Channel.objects.values_list("code", flat=True)}
    for r in obj.requirements.all():
        out.setdefault(r.channel.code, []).append(r.attribute.code)
    return {c: sorted(codes) for c, codes in sorted(out.items())}


def family_snapshot(obj: Family) -> dict:
    return {
        "code": obj.code,
        "labels": obj.labels,
        "attributes": sorted(a.code for a in obj.attributes.all()),
        "label_attribute": obj.label_attribute.code if obj.label_attribute_id else None,
        "image_attribute": obj.image_attribute.code if obj.image_attribute_id else None,
        "requires_review": obj.requires_review,
        "requirements": family_requirements(obj),
        "version": obj.version,
    }


def variant_levels(obj: FamilyVariant) -> list[dict]:
    levels: dict[int, dict] = {}
    for fva in obj.level_attributes.all():
        level = levels.setdefault(fva.level, {"level": fva.level, "axes": [], "attributes": []})
        level["axes" if fva.is_axis else "attributes"].append(fva.attribute.code)
    return [
        {**lv, "axes": sorted(lv["axes"]), "attributes": sorted(lv["attributes"])}
        for _, lv in sorted(levels.items())
    ]


def family_variant_snapshot(obj: FamilyVariant) -> dict:
    return {
        "code": obj.code,
        "family": obj.family.code,
        "labels": obj.labels,
        "levels": variant_levels(obj),
        "version": obj.version,
    }


def category_snapshot(obj: Category) -> dict:
    return {
        "code": obj.code,
        "labels": obj.labels,
        "parent": obj.parent.code if obj.parent_id else None,
        "path": obj.path,
        "sort_order": obj.sort_order,
        "version": obj.version,
    }


def group_snapshot(obj: ProductGroup) -> dict:
    return {"code": obj.code, "labels": obj.labels, "version": obj.version}


def association_type_snapshot(obj: AssociationType) -> dict:
    return {
        "code": obj.code,
        "labels": obj.labels,
        "two_way": obj.two_way,
        "quantified": obj.quantified,
        "version": obj.version,
    }


# --- locales and currencies -------------------------------------------------------------------


def _short_label(subject: str, label: Any) -> str:
    if label is None:
        return ""
    if not isinstance(label, str) or len(label) > 100:
        raise _invalid(subject, "label", "a label is text of at most 100 characters")
    return label.strip()


@transaction.atomic
def create_locale(code: str, *, label: str = "") -> Locale:
    subject = f"locale {code}"
    if not isinstance(code, str) or not LOCALE_RE.match(code):
        raise _invalid(
            subject,
            "code",
            "a locale is language_TERRITORY, e.g. en_US, de_DE or zh_Hans_CN",
            value=code,
        )
    obj = _create(Locale(code=code, label=_short_label(subject, label)), subject)
    audit.record("locale.create", obj, summary=subject, changes=locale_snapshot(obj))
    return obj


@transaction.atomic
def update_locale(code: str, *, label: str, expected_version: int | None = None) -> Locale:
    obj = _get(Locale, code, lock=True)
    before = locale_snapshot(obj)
    obj.label = _short_label(f"locale {code}", label)
    save_versioned(obj, expected_version, ["label"], snapshot=locale_snapshot)
    audit.record(
        "locale.update", obj, summary=f"locale {code}", changes=_diff(before, locale_snapshot(obj))
    )
    return obj


@transaction.atomic
def delete_locale(code: str, *, expected_version: int | None = None) -> None:
    obj = _get(Locale, code, lock=True)
    _check_version(obj, expected_version, locale_snapshot)
    subject = f"locale {code}"
    channels = sorted(obj.channels.values_list("code", flat=True))
    if channels:
        raise _in_use(subject, f"channels {', '.join(channels)} use it", channels=channels)
    attributes = sorted(
        Attribute.objects.filter(available_locales=obj).values_list("code", flat=True)
    )
    if attributes:
        raise _in_use(
            subject,
            f"attributes {', '.join(attributes)} are available in it",
            attributes=attributes,
        )
    audit.record("locale.delete", obj, summary=subject, changes=locale_snapshot(obj))
    _delete(obj, subject)


@transaction.atomic
def create_currency(code: str, *, label: str = "") -> Currency:
    subject = f"currency {code}"
    if not isinstance(code, str) or not CURRENCY_RE.match(code):
        raise _invalid(
            subject, "code", "a currency is an ISO 4217 code such as USD or EUR", value=code
        )
    obj = _create(Currency(code=code, label=_short_label(subject, label)), subject)
    audit.record("currency.create", obj, summary=subject, changes=currency_snapshot(obj))
    return obj


@transaction.atomic
def update_currency(code: str, *, label: str, expected_version: int | None = None) -> Currency:
    obj = _get(Currency, code, lock=True)
    before = currency_snapshot(obj)
    obj.label = _short_label(f"currency {code}", label)
    save_versioned(obj, expected_version, ["label"], snapshot=currency_snapshot)
    audit.record(
        "currency.update",
        obj,
        summary=f"currency {code}",
        changes=_diff(before, currency_snapshot(obj)),
    )
    return obj


@transaction.atomic
def delete_currency(code: str, *, expected_version: int | None = None) -> None:
    obj = _get(Currency, code, lock=True)
    _check_version(obj, expected_version, currency_snapshot)
    subject = f"currency {code}"
    channels = sorted(obj.channels.values_list("code", flat=True))
    if channels:
        raise _in_use(subject, f"channels {', '.join(channels)} use it", channels=channels)
    priced = ValueIndex.objects.filter(attribute__type=T.PRICE, unit=code).values("product")
    count = priced.distinct().count()
    if count:
        raise _in_use(
            subject,
            f"{counted(count, 'product has', 'products have')} prices in it",
            products=count,
        )
    audit.record("currency.delete", obj, summary=subject, changes=currency_snapshot(obj))
    _delete(obj, subject)


# --- channels ---------------------------------------------------------------------------------

CHANNEL_FIELDS = (
    "labels",
    "kind",
    "locales",
    "currencies",
    "territories",
    "category_tree",
    "requires_review",
)


def _territories(subject: str, value: Any) -> list[str]:
    codes = _code_list(subject, "territories", value)
    for code in codes:
        if code != code.upper():
            raise _invalid(
                subject,
                "territories",
                f"country codes are upper-case: {code.upper()}, not {code}",
                value=code,
            )
        if code not in COUNTRIES:
            raise _invalid(
                subject,
                "territories",
                f"{code} is not an ISO 3166-1 alpha-2 country code",
                value=code,
            )
    return codes


def _channel_settings(subject: str, channel: Channel, data: dict) -> dict:
    """Check `data` and set plain fields on `channel`; returns the many-to-many values."""
    m2m = {}
    if "labels" in data:
        channel.labels = _labels(subject, data["labels"])
    if "kind" in data:
        if data["kind"] not in Channel.Kind.values:
            raise _invalid(
                subject,
                "kind",
                f"{data['kind']!r} is not one of {', '.join(Channel.Kind.values)}",
                value=data["kind"],
            )
        channel.kind = data["kind"]
    if "locales" in data:
        codes = _code_list(subject, "locales", data["locales"])
        if not codes:
            raise _invalid(subject, "locales", "a channel needs at least one locale")
        m2m["locales"] = _lookup(subject, "locales", Locale, codes)
    if "currencies" in data:
        codes = _code_list(subject, "currencies", data["currencies"])
        m2m["currencies"] = _lookup(subject, "currencies", Currency, codes)
    if "territories" in data:
        channel.territories = _territories(subject, data["territories"])
    if "category_tree" in data:
        tree = _one(subject, "category_tree", Category, data["category_tree"])
        if tree is not None and tree.parent_id is not None:
            root = tree.path.split("/")[0]
            raise _invalid(
                subject,
                "category_tree",
                f"{tree.code} is not a tree but a category inside {root}; use the root ({root})",
                value=tree.code,
            )
        channel.category_tree = tree
    if "requires_review" in data:
        channel.requires_review = _bool(subject, "requires_review", data["requires_review"])
    return m2m


@transaction.atomic
def create_channel(code: str, **data) -> Channel:
    subject = f"channel {code}"
    _check_code(subject, code)
    _reject_unknown(subject, data, CHANNEL_FIELDS)
    if "locales" not in data:
        raise _invalid(subject, "locales", "a channel needs at least one locale")
    channel = Channel(code=code)
    m2m = _channel_settings(subject, channel, data)
    _create(channel, subject, m2m)
    audit.record("channel.create", channel, summary=subject, changes=channel_snapshot(channel))
    return channel


@transaction.atomic
def update_channel(code: str, *, expected_version: int | None = None, **changes) -> Channel:
    subject = f"channel {code}"
    _reject_unknown(subject, changes, CHANNEL_FIELDS)
    channel = _get(Channel, code, lock=True)
    before = channel_snapshot(channel)
    m2m = _channel_settings(subject, channel, changes)
    fields = [
        f
        for f in ("labels", "kind", "territories", "category_tree", "requires_review")
        if f in changes
    ]
    save_versioned(channel, expected_version, fields, snapshot=channel_snapshot)
    for name, values in m2m.items():
        getattr(channel, name).set(values)
    after = channel_snapshot(channel)
    audit.record("channel.update", channel, summary=subject, changes=_diff(before, after))
    if before["locales"] != after["locales"] or before["currencies"] != after["currencies"]:
        _announce(Channel, channel_ids=[channel.pk])
    return channel


@transaction.atomic
def delete_channel(code: str, *, expected_version: int | None = None) -> None:
    subject = f"channel {code}"
    channel = _get(Channel, code, lock=True)
    _check_version(channel, expected_version, channel_snapshot)
    scoped = ValueIndex.objects.filter(scope=code).values("product").distinct().count()
    if scoped:
        raise _in_use(
            subject,
            f"{counted(scoped, 'product holds', 'products hold')} values for it",
            products=scoped,
        )
    audit.record("channel.delete", channel, summary=subject, changes=channel_snapshot(channel))
    _delete(channel, subject)


# --- attribute groups -------------------------------------------------------------------------


def _labelled_settings(subject: str, obj, data: dict, booleans=()) -> None:
    if "labels" in data:
        obj.labels = _labels(subject, data["labels"])
    if "sort_order" in data:
        obj.sort_order = _int(subject, "sort_order", data["sort_order"])
    for name in booleans:
        if name in data:
            setattr(obj, name, _bool(subject, name, data[name]))


@transaction.atomic
def create_attribute_group(code: str, *, labels=None, sort_order: int = 0) -> AttributeGroup:
    subject = f"attribute group {code}"
    _check_code(subject, code)
    group = AttributeGroup(code=code)
    _labelled_settings(subject, group, {"labels": labels, "sort_order": sort_order})
    _create(group, subject)
    audit.record(
        "attribute_group.create", group, summary=subject, changes=attribute_group_snapshot(group)
    )
    return group


@transaction.atomic
def update_attribute_group(
    code: str, *, expected_version: int | None = None, **changes
) -> AttributeGroup:
    subject = f"attribute group {code}"
    _reject_unknown(subject, changes, ("labels", "sort_order"))
    group = _get(AttributeGroup, code, lock=True)
    before = attribute_group_snapshot(group)
    _labelled_settings(subject, group, changes)
    save_versioned(group, expected_version, list(changes), snapshot=attribute_group_snapshot)
    after = attribute_group_snapshot(group)
    audit.record("attribute_group.update", group, summary=subject, changes=_diff(before, after))
    return group


@transaction.atomic
def delete_attribute_group(code: str, *, expected_version: int | None = None) -> None:
    subject = f"attribute group {code}"
    group = _get(AttributeGroup, code, lock=True)
    _check_version(group, expected_version, attribute_group_snapshot)
    members = sorted(group.attributes.values_list("code", flat=True))
    if members:
        raise _in_use(
            subject, f"attributes {', '.join(members[:10])} are in it", attributes=members
        )
    audit.record(
        "attribute_group.delete", group, summary=subject, changes=attribute_group_snapshot(group)
    )
    _delete(group, subject)


# --- attributes -------------------------------------------------------------------------------

ATTRIBUTE_FIELDS = (
    "labels",
    "group",
    "sort_order",
    "localizable",
    "scopable",
    "available_locales",
    "unique",
    "is_gtin",
    "max_length",
    "text_rule",
    "regex",
    "rich_text",
    "number_min",
    "number_max",
    "decimals_allowed",
    "negative_allowed",
    "date_min",
    "date_max",
    "measurement_family",
    "default_unit",
    "allowed_units",
)
ATTRIBUTE_DEFAULTS: dict[str, Any] = {
    "labels": {},
    "group": None,
    "sort_order": 0,
    "localizable": False,
    "scopable": False,
    "available_locales": [],
    "unique": False,
    "is_gtin": False,
    "max_length": None,
    "text_rule": "",
    "regex": "",
    "rich_text": False,
    "number_min": None,
    "number_max": None,
    "decimals_allowed": True,
    "negative_allowed": True,
    "date_min": None,
    "date_max": None,
    "measurement_family": None,
    "default_unit": "",
    "allowed_units": [],
}
_TYPE_NAMES = {
    TEXT_TYPES: "identifier, text and textarea",
    (T.IDENTIFIER, T.TEXT): "identifier and text",
    NUMERIC_TYPES: "number, measurement and price",
    UNIQUE_TYPES: "identifier, text, number and date",
}


def _only_for(subject: str, field: str, types: tuple, attribute_type: str) -> InvalidInput:
    names = _TYPE_NAMES.get(types) or " and ".join(types)
    return _invalid(subject, field, f"applies to {names} attributes, not {attribute_type}")


def _decimal(subject: str, field: str, value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise _invalid(subject, field, f"expected a number, got {value!r}")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise _invalid(subject, field, f"expected a number, got {value!r}") from None
    # The column holds 30 digits, 10 of them after the point.
    if not number.is_finite() or abs(number) >= Decimal(10) ** 20:
        raise _invalid(subject, field, "out of range (at most 20 digits before the point)")
    if number != number.quantize(Decimal("1E-10")):
        raise _invalid(subject, field, "at most 10 digits after the point")
    return number


def _date(subject: str, field: str, value: Any) -> datetime.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(str(value))
    except ValueError:
        raise _invalid(subject, field, f"expected a date as YYYY-MM-DD, got {value!r}") from None


def _attribute_state(a: Attribute) -> dict:
    """The stored settings of `a` in the shape create and update accept."""
    snap = attribute_snapshot(a)
    snap["number_min"], snap["number_max"] = a.number_min, a.number_max
    snap["date_min"], snap["date_max"] = a.date_min, a.date_max
    return snap


def _clean_attribute(subject: str, state: dict) -> dict:
    """Check every setting of an attribute against its type and the rest of the structure.

    `state` is the whole attribute as it would be (stored settings with the change applied);
    the result holds model values (objects for relations) ready to set.
    """
    t = state["type"]
    if t not in T.values:
        raise _invalid(
            subject, "type", f"{t!r} is not an attribute type ({', '.join(T.values)})", value=t
        )
    out: dict[str, Any] = {"type": t, "labels": _labels(subject, state["labels"])}
    for name in (
        "localizable",
        "scopable",
        "unique",
        "is_gtin",
        "rich_text",
        "decimals_allowed",
        "negative_allowed",
    ):
        out[name] = _bool(subject, name, state[name])
    out["sort_order"] = _int(subject, "sort_order", state["sort_order"])
    out["group"] = _one(subject, "group", AttributeGroup, state["group"])

    locales = _code_list(subject, "available_locales", state["available_locales"])
    if locales and not out["localizable"]:
        raise _invalid(
            subject,
            "available_locales",
            "only a localizable attribute can be limited to some locales",
        )
    out["available_locales"] = _lookup(subject, "available_locales", Locale, locales)

    if t == T.IDENTIFIER and (out["localizable"] or out["scopable"]):
        field = "localizable" if out["localizable"] else "scopable"
        raise _invalid(subject, field, "an identifier is the same in every locale and channel")
    if out["unique"]:
        if t not in UNIQUE_TYPES:
            raise _only_for(subject, "unique", UNIQUE_TYPES, t)
        if out["localizable"] or out["scopable"]:
            field = "localizable" if out["localizable"] else "scopable"
            raise _invalid(
                subject,
                field,
                "a unique attribute has one value per product, so it cannot be "
                "localizable or scopable",
            )
    if out["is_gtin"] and t not in (T.IDENTIFIER, T.TEXT):
        raise _only_for(subject, "is_gtin", (T.IDENTIFIER, T.TEXT), t)

    max_length = state["max_length"]
    if max_length is not None:
        if t not in TEXT_TYPES:
            raise _only_for(subject, "max_length", TEXT_TYPES, t)
        max_length = _int(subject, "max_length", max_length)
        if not 1 <= max_length <= MAX_LENGTH_LIMIT[t]:
            raise _invalid(
                subject, "max_length", f"between 1 and {MAX_LENGTH_LIMIT[t]} for a {t} attribute"
            )
    out["max_length"] = max_length

    rule, regex = state["text_rule"] or "", state["regex"] or ""
    if rule not in Attribute.TextRule.values:
        raise _invalid(
            subject, "text_rule", f"{rule!r} is not one of url, email, regex", value=rule
        )
    if rule and t not in (T.IDENTIFIER, T.TEXT):
        raise _only_for(subject, "text_rule", (T.IDENTIFIER, T.TEXT), t)
    if not isinstance(regex, str):
        raise _invalid(subject, "regex", "a pattern is text")
    if rule == Attribute.TextRule.REGEX:
        if not regex:
            raise _invalid(subject, "regex", "text_rule regex needs a pattern")
        if len(regex) > 500:
            raise _invalid(subject, "regex", "a pattern has at most 500 characters")
        try:
            re.compile(regex)
        except re.error as exc:
            raise _invalid(
                subject, "regex", f"not a valid regular expression: {exc}", value=regex
            ) from None
    elif regex:
        raise _invalid(subject, "regex", "a pattern needs text_rule regex")
    out["text_rule"], out["regex"] = rule, regex

    if out["rich_text"] and t != T.TEXTAREA:
        raise _only_for(subject, "rich_text", (T.TEXTAREA,), t)

    out["number_min"] = _decimal(subject, "number_min", state["number_min"])
    out["number_max"] = _decimal(subject, "number_max", state["number_max"])
    if t not in NUMERIC_TYPES:
        for name in ("number_min", "number_max"):
            if out[name] is not None:
                raise _only_for(subject, name, NUMERIC_TYPES, t)
        for name in ("decimals_allowed", "negative_allowed"):
            if not out[name]:
                raise _only_for(subject, name, NUMERIC_TYPES, t)
    lo, hi = out["number_min"], out["number_max"]
    if lo is not None and hi is not None and lo > hi:
        raise _invalid(
            subject, "number_min", f"the minimum {decimal_text(lo)} is above the maximum"
        )

    out["date_min"] = _date(subject, "date_min", state["date_min"])
    out["date_max"] = _date(subject, "date_max", state["date_max"])
    if t != T.DATE:
        for name in ("date_min", "date_max"):
            if out[name] is not None:
                raise _only_for(subject, name, (T.DATE,), t)
    if out["date_min"] and out["date_max"] and out["date_min"] > out["date_max"]:
        raise _invalid(
            subject,
            "date_min",
            f"the earliest date {out['date_min']} is after the latest {out['date_max']}",
        )

    family = _one(subject, "measurement_family", MeasurementFamily, state["measurement_family"])
    unit = state["default_unit"] or ""
    allowed = _code_list(subject, "allowed_units", state["allowed_units"])
    if t == T.MEASUREMENT:
        if family is None:
            raise _invalid(
                subject,
                "measurement_family",
                "a measurement attribute needs a measurement family (e.g. length)",
            )
        units = list(family.units)
        if not unit:
            raise _invalid(
                subject,
                "default_unit",
                f"a measurement attribute needs a default unit of {family.code} "
                f"({', '.join(units)})",
            )
        if unit not in family.units:
            raise _invalid(
                subject,
                "default_unit",
                f"{unit} is not a unit of {family.code} ({', '.join(units)})",
                value=unit,
            )
        wrong = [u for u in allowed if u not in family.units]
        if wrong:
            raise _invalid(
                subject,
                "allowed_units",
                f"{', '.join(wrong)} not units of {family.code} ({', '.join(units)})",
                value=wrong,
            )
        if allowed and unit not in allowed:
            raise _invalid(
                subject,
                "default_unit",
                f"the default unit {unit} must be one of the allowed units",
                value=unit,
            )
    else:
        for name, value in (
            ("measurement_family", family),
            ("default_unit", unit),
            ("allowed_units", allowed),
        ):
            if value:
                raise _only_for(subject, name, (T.MEASUREMENT,), t)
    out["measurement_family"], out["default_unit"], out["allowed_units"] = family, unit, allowed
    return out


def _write_attribute(a: Attribute, clean: dict) -> list:
    for name, value in clean.items():
        if name != "available_locales":
            setattr(a, name, value)
    return clean["available_locales"]


@transaction.atomic
def create_attribute(code: str, *, type: str, **settings) -> Attribute:
    subject = f"attribute {code}"
    _check_code(subject, code)
    if code.lower() in RESERVED_ATTRIBUTE_CODES:
        raise _invalid(
            subject, "code", f"{code} is reserved for the product field of that name", value=code
        )
    _reject_unknown(subject, settings, ATTRIBUTE_FIELDS)
    clean = _clean_attribute(subject, {**ATTRIBUTE_DEFAULTS, **settings, "type": type})
    a = Attribute(code=code)
    locales = _write_attribute(a, clean)
    _create(a, subject, {"available_locales": locales})
    audit.record("attribute.create", a, summary=subject, changes=attribute_snapshot(a))
    return a


@transaction.atomic
def update_attribute(code: str, *, expected_version: int | None = None, **changes) -> Attribute:
    subject = f"attribute {code}"
    a = _get(Attribute, code, lock=True)
    state = _attribute_state(a)
    for name in FIXED_ATTRIBUTE_FIELDS:
        if name in changes and changes[name] != state[name]:
            raise _invalid(
                subject,
                name,
                f"fixed once the attribute exists (it is {state[name]!r}); products "
                "hold values in that shape. Create a new attribute instead",
                value=changes[name],
            )
    changes = {k: v for k, v in changes.items() if k not in FIXED_ATTRIBUTE_FIELDS}
    _reject_unknown(subject, changes, ATTRIBUTE_FIELDS)
    before = attribute_snapshot(a)
    clean = _clean_attribute(subject, {**state, **changes})
    if clean["unique"] and not a.unique:
        _check_no_duplicates(subject, a)
    locales = _write_attribute(a, clean)
    fields = [f for f in clean if f not in ("available_locales", "type")]
    save_versioned(a, expected_version, fields, snapshot=attribute_snapshot)
    a.available_locales.set(locales)
    after = attribute_snapshot(a)
    audit.record("attribute.update", a, summary=subject, changes=_diff(before, after))
    if before["available_locales"] != after["available_locales"]:
        families = list(a.families.values_list("pk", flat=True))
        if families:
            _announce(Attribute, family_ids=families)
    return a


def _check_no_duplicates(subject: str, a: Attribute) -> None:
    shared = (
        ValueIndex.objects.filter(attribute=a)
        .values("text", "number")
        .annotate(products=Count("product", distinct=True))
        .filter(products__gt=1)
        .order_by("-products")
        .first()
    )
    if shared:
        value = shared["text"] if shared["text"] is not None else shared["number"]
        raise _invalid(
            subject,
            "unique",
            f"{shared['products']} products share the value {value!r}; make them distinct first",
            value=value,
        )


@transaction.atomic
def delete_attribute(code: str, *, expected_version: int | None = None) -> None:
    subject = f"attribute {code}"
    a = _get(Attribute, code, lock=True)
    _check_version(a, expected_version, attribute_snapshot)
    families = sorted(a.families.values_list("code", flat=True))
    if families:
        raise _in_use(
            subject,
            f"families {', '.join(families[:10])} have it; take it out of them first",
            families=families,
        )
    held = ValueIndex.objects.filter(attribute=a).values("product").distinct().count()
    if held:
        raise _in_use(
            subject,
            f"{counted(held, 'product holds', 'products hold')} values for it",
            products=held,
        )
    audit.record("attribute.delete", a, summary=subject, changes=attribute_snapshot(a))
    _delete(a, subject)


# --- attribute options ------------------------------------------------------------------------


def _option_attribute(code: str, *, lock: bool = False) -> Attribute:
    a = _get(Attribute, code, lock=lock)
    if a.type not in (T.SELECT, T.MULTISELECT):
        raise _invalid(
            f"attribute {code}",
            "type",
            f"only select and multiselect attributes have options; {code} is {a.type}",
        )
    return a


@transaction.atomic
def add_options(attribute_code: str, options: list[dict]) -> list[AttributeOption]:
    """Add options to a select or multiselect attribute, all or none.

    Each option is {"code", "labels"?, "sort_order"?}; without a sort order they follow the
    existing options in the order given.
    """
    a = _option_attribute(attribute_code, lock=True)
    subject = f"options of {attribute_code}"
    if not isinstance(options, list) or not options:
        raise _invalid(subject, "options", "expected a list of at least one option")
    existing = set(a.options.values_list("code", flat=True))
    last = a.options.order_by("-sort_order").values_list("sort_order", flat=True).first()
    next_order = (last + 1) if last is not None else 0
    rows, seen = [], set()
    for i, item in enumerate(options):
        if not isinstance(item, dict):
            raise _invalid(subject, f"options[{i}]", 'expected {"code": …, "labels": {…}}')
        unknown = sorted(set(item) - {"code", "labels", "sort_order"})
        if unknown:
            raise _invalid(subject, f"options[{i}].{unknown[0]}", "not a setting of an option")
        code = _check_code(subject, item.get("code"), f"options[{i}].code")
        if code in seen:
            raise _invalid(subject, f"options[{i}].code", f"{code} is given twice", value=code)
        seen.add(code)
        labels = _labels(subject, item.get("labels"), f"options[{i}].labels")
        order = item.get("sort_order")
        if order is None:
            order, next_order = next_order, next_order + 1
        else:
            order = _int(subject, f"options[{i}].sort_order", order)
        rows.append(AttributeOption(attribute=a, code=code, labels=labels, sort_order=order))
    clash = sorted(seen & existing)
    if clash:
        raise Conflict(
            f"{subject}: {', '.join(clash)} exist already",
            details={"field": "options", "attribute": attribute_code, "existing": clash},
        )
    created = AttributeOption.objects.bulk_create(rows)
    audit.record(
        "attribute.add_options",
        a,
        summary=f"{counted(len(rows), 'option')} for {attribute_code}",
        changes={"options": [option_snapshot(o) for o in rows]},
    )
    return created


def get_option(attribute_code: str, option_code: str, *, lock: bool = False) -> AttributeOption:
    """The option `option_code` of the select or multiselect attribute `attribute_code`."""
    a = _option_attribute(attribute_code, lock=lock)
    option = a.options.filter(code=option_code).first()
    if option is None:
        raise NotFound(
            f"{attribute_code} has no option {option_code!r}",
            details={"attribute": attribute_code, "code": option_code},
        )
    return option


@transaction.atomic
def update_option(
    attribute_code: str, option_code: str, *, expected_version: int | None = None, **changes
) -> AttributeOption:
    subject = f"option {attribute_code}.{option_code}"
    _reject_unknown(subject, changes, ("labels", "sort_order"))
    # Locks the attribute (not just the option): adding options reads its last sort order.
    option = get_option(attribute_code, option_code, lock=True)
    a = option.attribute
    before = option_snapshot(option)
    if "labels" in changes:
        option.labels = _labels(subject, changes["labels"])
    if "sort_order" in changes:
        option.sort_order = _int(subject, "sort_order", changes["sort_order"])
    save_versioned(option, expected_version, list(changes), snapshot=option_snapshot)
    audit.record(
        "attribute.update_option",
        a,
        summary=subject,
        changes={option_code: _diff(before, option_snapshot(option))},
    )
    return option


@transaction.atomic
def delete_option(
    attribute_code: str, option_code: str, *, expected_version: int | None = None
) -> None:
    option = get_option(attribute_code, option_code, lock=True)
    a = option.attribute
    subject = f"option {attribute_code}.{option_code}"
    _check_version(option, expected_version, option_snapshot)
    used = ValueIndex.objects.filter(attribute=a, text=option_code).values("product")
    count = used.distinct().count()
    if count:
        raise _in_use(
            subject,
            f"{counted(count, 'product has', 'products have')} it as their {attribute_code}",
            attribute=attribute_code,
            products=count,
        )
    audit.record(
        "attribute.delete_option", a, summary=subject, changes={"option": option_snapshot(option)}
    )
    option.delete()


# --- families ---------------------------------------------------------------------------------

FAMILY_FIELDS = (
    "labels",
    "attributes",
    "label_attribute",
    "image_attribute",
    "requires_review",
    "requirements",
)


def _family_state(f: Family) -> dict:
    snap = family_snapshot(f)
    return {k: snap[k] for k in FAMILY_FIELDS}


def _clean_family(subject: str, state: dict, *, given_requirements: set[str]) -> dict:
    """Check a whole family. Requirements of channels the caller did not name that point at
    attributes no longer in the family are dropped rather than refused: taking an attribute
    out of a family takes it out of what the family requires."""
    out: dict[str, Any] = {"labels": _labels(subject, state["labels"])}
    codes = _code_list(subject, "attributes", state["attributes"])
    attributes = _lookup(subject, "attributes", Attribute, codes)
    members = {a.code: a for a in attributes}
    out["attributes"] = attributes
    out["requires_review"] = _bool(subject, "requires_review", state["requires_review"])

    for field, types, what in (
        ("label_attribute", (T.TEXT, T.IDENTIFIER), "a text or identifier attribute"),
        ("image_attribute", (T.ASSET_COLLECTION,), "an asset_collection attribute"),
    ):
        a = _one(subject, field, Attribute, state[field])
        if a is not None:
            if a.type not in types:
                raise _invalid(
                    subject, field, f"must be {what}; {a.code} is {a.type}", attribute=a.code
                )
            if a.code not in members:
                raise _invalid(
                    subject,
                    field,
                    f"{a.code} is not one of the family's attributes",
                    attribute=a.code,
                )
        out[field] = a

    requirements = state["requirements"] or {}
    if not isinstance(requirements, dict):
        raise _invalid(
            subject, "requirements", 'expected {"channel": ["attribute", …]} for each channel'
        )
    channels = {c.code: c for c in _lookup(subject, "requirements", Channel, list(requirements))}
    clean_req: dict[str, list[Attribute]] = {}
    for channel_code, required in requirements.items():
        required = _code_list(subject, "requirements", required)
        outside = [c for c in required if c not in members]
        if outside and channel_code in given_requirements:
            known = _lookup(subject, "requirements", Attribute, outside)
            raise _invalid(
                subject,
                "requirements",
                f"{', '.join(a.code for a in known)} required for {channel_code} but not in the "
                "family's attributes",
                channel=channel_code,
                attribute=outside[0],
            )
        clean_req[channel_code] = [members[c] for c in required if c in members]
    out["requirements"] = {channels[c]: attrs for c, attrs in clean_req.items()}
    return out


def _write_family(family: Family, clean: dict) -> set[int]:
    """Many-to-many and requirements; returns the ids of channels whose requirements changed."""
    family.attributes.set(clean["attributes"])
    changed = set()
    current: dict[int, set[int]] = {}
    for r in FamilyRequirement.objects.filter(family=family):
        current.setdefault(r.channel_id, set()).add(r.attribute_id)
    for channel, attrs in clean["requirements"].items():
        wanted = {a.pk for a in attrs}
        have = current.get(channel.pk, set())
        if wanted == have:
            continue
        changed.add(channel.pk)
        FamilyRequirement.objects.filter(family=family, channel=channel).exclude(
            attribute_id__in=wanted
        ).delete()
        FamilyRequirement.objects.bulk_create(
            [
                FamilyRequirement(family=family, channel=channel, attribute_id=pk)
                for pk in sorted(wanted - have)
            ]
        )
    return changed


def _place_unique_attributes(family: Family, attributes: list[Attribute]) -> None:
    """A unique attribute new to a family goes to the last level of each of its variants: a
    unique value cannot be shared by the variants of a model."""
    unique = [a for a in attributes if a.unique]
    if not unique:
        return
    for variant in family.variants.prefetch_related("level_attributes"):
        placed = {fva.attribute_id for fva in variant.level_attributes.all()}
        last = variant.levels
        new = [
            FamilyVariantAttribute(family_variant=variant, attribute=a, level=last)
            for a in unique
            if a.pk not in placed
        ]
        if new:
            FamilyVariantAttribute.objects.bulk_create(new)
            FamilyVariant.objects.filter(pk=variant.pk).update(version=F("version") + 1)


@transaction.atomic
def create_family(code: str, **data) -> Family:
    subject = f"family {code}"
    _check_code(subject, code)
    _reject_unknown(subject, data, FAMILY_FIELDS)
    state = {
        "labels": {},
        "attributes": [],
        "label_attribute": None,
        "image_attribute": None,
        "requires_review": False,
        "requirements": {},
        **data,
    }
    given = set(state["requirements"]) if isinstance(state["requirements"], dict) else set()
    clean = _clean_family(subject, state, given_requirements=given)
    family = Family(
        code=code,
        labels=clean["labels"],
        label_attribute=clean["label_attribute"],
        image_attribute=clean["image_attribute"],
        requires_review=clean["requires_review"],
    )
    _create(family, subject)
    changed = _write_family(family, clean)
    audit.record("family.create", family, summary=subject, changes=family_snapshot(family))
    if changed:
        _announce(Family, family_ids=[family.pk], channel_ids=changed)
    return family


@transaction.atomic
def update_family(code: str, *, expected_version: int | None = None, **changes) -> Family:
    subject = f"family {code}"
    _reject_unknown(subject, changes, FAMILY_FIELDS)
    family = _get(Family, code, lock=True)
    before = family_snapshot(family)
    state = _family_state(family)
    given: set[str] = set()
    if "requirements" in changes:
        if not isinstance(changes["requirements"], dict):
            raise _invalid(
                subject, "requirements", 'expected {"channel": ["attribute", …]} for each channel'
            )
        given = set(changes["requirements"])
        changes = {**changes, "requirements": {**state["requirements"], **changes["requirements"]}}
    clean = _clean_family(subject, {**state, **changes}, given_requirements=given)
    if "attributes" in changes:
        kept = {a.code for a in clean["attributes"]}
        in_variants = (
            FamilyVariantAttribute.objects.filter(family_variant__family=family)
            .exclude(attribute__code__in=kept)
            .values_list("attribute__code", "family_variant__code")
            .first()
        )
        if in_variants:
            raise _invalid(
                subject,
                "attributes",
                f"{in_variants[0]} is used by family variant {in_variants[1]}; take it "
                "out of the variant first",
                attribute=in_variants[0],
            )
    family.labels = clean["labels"]
    family.label_attribute = clean["label_attribute"]
    family.image_attribute = clean["image_attribute"]
    family.requires_review = clean["requires_review"]
    save_versioned(
        family,
        expected_version,
        ["labels", "label_attribute", "image_attribute", "requires_review"],
        snapshot=family_snapshot,
    )
    added = [a for a in clean["attributes"] if a.code not in before["attributes"]]
    changed = _write_family(family, clean)
    _place_unique_attributes(family, added)
    after = family_snapshot(family)
    audit.record("family.update", family, summary=subject, changes=_diff(before, after))
    if changed:
        _announce(Family, family_ids=[family.pk], channel_ids=changed)
    return family


def set_requirements(
    code: str, requirements: dict, *, expected_version: int | None = None
) -> Family:
    """Replace what the named channels require of the family; other channels keep theirs."""
    return update_family(code, expected_version=expected_version, requirements=requirements)


@transaction.atomic
def delete_family(code: str, *, expected_version: int | None = None) -> None:
    subject = f"family {code}"
    family = _get(Family, code, lock=True)
    _check_version(family, expected_version, family_snapshot)
    products = family.products.count()
    if products:
        raise _in_use(
            subject,
            f"{counted(products, 'product belongs', 'products belong')} to it",
            products=products,
        )
    variants = sorted(family.variants.values_list("code", flat=True))
    if variants:
        raise _in_use(
            subject, f"family variants {', '.join(variants)} use it", family_variants=variants
        )
    audit.record("family.delete", family, summary=subject, changes=family_snapshot(family))
    _delete(family, subject)


# --- family variants --------------------------------------------------------------------------


def _clean_levels(subject: str, family: Family, levels: Any) -> list[tuple[Attribute, int, bool]]:
    """(attribute, level, is_axis) rows for `levels` = [{"axes": […], "attributes": […]}, …]."""
    if not isinstance(levels, list) or not 1 <= len(levels) <= 2:
        raise _invalid(
            subject,
            "levels",
            'a family variant has 1 or 2 levels, each {"axes": […], "attributes": […]}',
        )
    members = {a.code: a for a in family.attributes.all()}
    rows: list[tuple[Attribute, int, bool]] = []
    placed: dict[str, int] = {}
    for number, spec in enumerate(levels, start=1):
        where = f"levels[{number - 1}]"
        if not isinstance(spec, dict):
            raise _invalid(subject, where, 'expected {"axes": […], "attributes": […]}')
        unknown = sorted(set(spec) - {"axes", "attributes", "level"})
        if unknown:
            raise _invalid(subject, f"{where}.{unknown[0]}", "not a setting of a level")
        axes = _code_list(subject, f"{where}.axes", spec.get("axes"))
        others = _code_list(subject, f"{where}.attributes", spec.get("attributes"))
        if not 1 <= len(axes) <= MAX_AXES:
            raise _invalid(
                subject,
                f"{where}.axes",
                f"each level needs 1 to {MAX_AXES} axes (the attributes its variants differ by)",
                level=number,
            )
        for is_axis, codes in ((True, axes), (False, others)):
            field = f"{where}.axes" if is_axis else f"{where}.attributes"
            for code in codes:
                a = members.get(code)
                if a is None:
                    _lookup(subject, field, Attribute, [code])
                    raise _invalid(
                        subject,
                        field,
                        f"{code} is not an attribute of family {family.code}",
                        attribute=code,
                        level=number,
                    )
                if code in placed:
                    raise _invalid(
                        subject,
                        field,
                        f"{code} is on level {placed[code]} already; each attribute "
                        "belongs to one level",
                        attribute=code,
                        level=number,
                    )
                if is_axis:
                    if a.type not in AXIS_TYPES:
                        raise _invalid(
                            subject,
                            field,
                            f"{code} is {a.type}; an axis is a select, boolean or "
                            "measurement attribute",
                            attribute=code,
                            level=number,
                        )
                    if a.localizable or a.scopable:
                        raise _invalid(
                            subject,
                            field,
                            f"{code} is localizable or scopable; an axis must have one "
                            "value per product",
                            attribute=code,
                            level=number,
                        )
                placed[code] = number
                rows.append((a, number, is_axis))
    last = len(levels)
    for a in members.values():
        if a.unique and placed.get(a.code) != last:
            where = f"levels[{placed[a.code] - 1}].attributes" if a.code in placed else "levels"
            raise _invalid(
                subject,
                where,
                f"{a.code} is unique, so it must be on the last level ({last}) where "
                "each product has its own value",
                attribute=a.code,
                level=last,
            )
    return rows


def _write_levels(variant: FamilyVariant, rows: list[tuple[Attribute, int, bool]]) -> None:
    variant.level_attributes.all().delete()
    FamilyVariantAttribute.objects.bulk_create(
        [
            FamilyVariantAttribute(family_variant=variant, attribute=a, level=level, is_axis=axis)
            for a, level, axis in rows
        ]
    )


@transaction.atomic
def create_family_variant(code: str, *, family: str, levels: list, labels=None) -> FamilyVariant:
    subject = f"family variant {code}"
    _check_code(subject, code)
    fam = _one(subject, "family", Family, family)
    if fam is None:
        raise _invalid(subject, "family", "a family variant belongs to a family")
    rows = _clean_levels(subject, fam, levels)
    variant = FamilyVariant(code=code, family=fam, labels=_labels(subject, labels))
    _create(variant, subject)
    _write_levels(variant, rows)
    audit.record(
        "family_variant.create", variant, summary=subject, changes=family_variant_snapshot(variant)
    )
    return variant


@transaction.atomic
def update_family_variant(
    code: str, *, expected_version: int | None = None, **changes
) -> FamilyVariant:
    subject = f"family variant {code}"
    variant = _get(FamilyVariant, code, lock=True)
    if "family" in changes and changes["family"] != variant.family.code:
        raise _invalid(
            subject,
            "family",
            f"fixed once the variant exists (it is {variant.family.code})",
            value=changes["family"],
        )
    changes = {k: v for k, v in changes.items() if k != "family"}
    _reject_unknown(subject, changes, ("labels", "levels"))
    before = family_variant_snapshot(variant)
    if "labels" in changes:
        variant.labels = _labels(subject, changes["labels"])
    rows = None
    if "levels" in changes:
        rows = _clean_levels(subject, variant.family, changes["levels"])
        if variant.models.exists():
            # Product models are built on the axes: changing them would strand their variants.
            old_axes = [lv["axes"] for lv in before["levels"]]
            new_axes = [
                sorted(a.code for a, level, is_axis in rows if is_axis and level == n)
                for n in range(1, len(changes["levels"]) + 1)
            ]
            if old_axes != new_axes:
                raise _invalid(
                    subject,
                    "levels",
                    "the levels and axes are fixed once product models use this "
                    f"variant (they are {old_axes})",
                )
    save_versioned(variant, expected_version, ["labels"], snapshot=family_variant_snapshot)
    if rows is not None:
        _write_levels(variant, rows)
    after = family_variant_snapshot(variant)
    audit.record("family_variant.update", variant, summary=subject, changes=_diff(before, after))
    return variant


@transaction.atomic
def delete_family_variant(code: str, *, expected_version: int | None = None) -> None:
    subject = f"family variant {code}"
    variant = _get(FamilyVariant, code, lock=True)
    _check_version(variant, expected_version, family_variant_snapshot)
    models = variant.models.count()
    if models:
        raise _in_use(
            subject,
            f"{counted(models, 'product model uses', 'product models use')} it",
            product_models=models,
        )
    audit.record(
        "family_variant.delete", variant, summary=subject, changes=family_variant_snapshot(variant)
    )
    _delete(variant, subject)


# --- categories -------------------------------------------------------------------------------

PATH_MAX = Category._meta.get_field("path").max_length


def tree_of(category: Category) -> str:
    return category.path.split("/", 1)[0]


@transaction.atomic
def create_category(
    code: str, *, parent: str | None = None, labels=None, sort_order: int = 0
) -> Category:
    subject = f"category {code}"
    _check_code(subject, code)
    parent_obj = _one(subject, "parent", Category, parent)
    path = f"{parent_obj.path}/{code}" if parent_obj else code
    if len(path) > PATH_MAX:
        raise _invalid(subject, "parent", f"the category path would exceed {PATH_MAX} characters")
    category = Category(code=code, parent=parent_obj, path=path)
    _labelled_settings(subject, category, {"labels": labels, "sort_order": sort_order})
    _create(category, subject)
    audit.record("category.create", category, summary=subject, changes=category_snapshot(category))
    return category


@transaction.atomic
def update_category(code: str, *, expected_version: int | None = None, **changes) -> Category:
    """Labels and sort order; a `parent` moves the category (with everything below it)."""
    subject = f"category {code}"
    _reject_unknown(subject, changes, ("labels", "sort_order", "parent"))
    category = _get(Category, code)
    # Every move within a tree waits for the others: two concurrent moves could each pass the
    # cycle check against the other's old position.
    Category.objects.select_for_update().filter(code=tree_of(category)).first()
    category = _get(Category, code, lock=True)
    before = category_snapshot(category)
    _labelled_settings(subject, category, changes)
    fields = [f for f in ("labels", "sort_order") if f in changes]
    old_path = category.path
    if "parent" in changes and changes["parent"] != before["parent"]:
        parent = _one(subject, "parent", Category, changes["parent"])
        _check_move(subject, category, parent)
        category.parent = parent
        category.path = f"{parent.path}/{code}"
        fields += ["parent", "path"]
    save_versioned(category, expected_version, fields, snapshot=category_snapshot)
    if category.path != old_path:
        # One statement for the whole subtree, however deep: swap the moved prefix.
        Category.objects.filter(path__startswith=old_path + "/").update(
            path=Concat(Value(category.path), Substr("path", len(old_path) + 1))
        )
    after = category_snapshot(category)
    audit.record(
        "category.move" if "path" in fields else "category.update",
        category,
        summary=subject,
        changes=_diff(before, after),
    )
    return category


def _check_move(subject: str, category: Category, parent: Category | None) -> None:
    tree = tree_of(category)
    if parent is None:
        raise _invalid(
            subject,
            "parent",
            f"{category.code} is in tree {tree}; a category stays in its tree "
            "(give a parent inside it)",
            category=category.code,
        )
    if parent.pk == category.pk or parent.path.startswith(category.path + "/"):
        raise _invalid(
            subject,
            "parent",
            f"cannot move {category.code} under {parent.code}: {parent.code} is "
            f"{'the category itself' if parent.pk == category.pk else 'inside it'} "
            f"({parent.path}), which would make a cycle",
            category=category.code,
            parent=parent.code,
        )
    if tree_of(parent) != tree:
        raise _invalid(
            subject,
            "parent",
            f"{parent.code} is in tree {tree_of(parent)}, {category.code} in {tree}; "
            "a category moves within its tree",
            category=category.code,
            parent=parent.code,
        )
    deepest = Category.objects.filter(path__startswith=category.path + "/").aggregate(
        n=Max(Length("path"))
    )
    longest = max(len(category.path), deepest["n"] or 0)
    if longest - len(category.path) + len(parent.path) + 1 + len(category.code) > PATH_MAX:
        raise _invalid(
            subject, "parent", f"the paths below {category.code} would exceed {PATH_MAX} characters"
        )


@transaction.atomic
def delete_category(code: str, *, expected_version: int | None = None) -> None:
    subject = f"category {code}"
    category = _get(Category, code, lock=True)
    _check_version(category, expected_version, category_snapshot)
    children = sorted(category.children.values_list("code", flat=True))
    if children:
        raise _in_use(
            subject,
            f"it has sub-categories ({', '.join(children[:10])}); move or delete them first",
            children=children,
        )
    products = category.products.count() + category.product_models.count()
    if products:
        raise _in_use(
            subject,
            f"{counted(products, 'product or product model is', 'products or product models are')}"
            " in it",
            products=products,
        )
    channels = sorted(category.channels.values_list("code", flat=True))
    if channels:
        raise _in_use(
            subject, f"channels {', '.join(channels)} use it as their tree", channels=channels
        )
    audit.record("category.delete", category, summary=subject, changes=category_snapshot(category))
    _delete(category, subject)


# --- product groups and association types -----------------------------------------------------


@transaction.atomic
def create_group(code: str, *, labels=None) -> ProductGroup:
    subject = f"product group {code}"
    _check_code(subject, code)
    group = _create(ProductGroup(code=code, labels=_labels(subject, labels)), subject)
    audit.record("group.create", group, summary=subject, changes=group_snapshot(group))
    return group


@transaction.atomic
def update_group(code: str, *, expected_version: int | None = None, **changes) -> ProductGroup:
    subject = f"product group {code}"
    _reject_unknown(subject, changes, ("labels",))
    group = _get(ProductGroup, code, lock=True)
    before = group_snapshot(group)
    _labelled_settings(subject, group, changes)
    save_versioned(group, expected_version, list(changes), snapshot=group_snapshot)
    audit.record(
        "group.update", group, summary=subject, changes=_diff(before, group_snapshot(group))
    )
    return group


@transaction.atomic
def delete_group(code: str, *, expected_version: int | None = None) -> None:
    subject = f"product group {code}"
    group = _get(ProductGroup, code, lock=True)
    _check_version(group, expected_version, group_snapshot)
    # Removing members or associations here would change products without their history.
    products = group.products.count()
    if products:
        raise _in_use(
            subject, f"{counted(products, 'product is', 'products are')} in it", products=products
        )
    targets = Association.objects.filter(target_group=group).count()
    if targets:
        raise _in_use(
            subject,
            f"{counted(targets, 'association points', 'associations point')} at it",
            associations=targets,
        )
    audit.record("group.delete", group, summary=subject, changes=group_snapshot(group))
    _delete(group, subject)


@transaction.atomic
def create_association_type(
    code: str, *, labels=None, two_way: bool = False, quantified: bool = False
) -> AssociationType:
    subject = f"association type {code}"
    _check_code(subject, code)
    kind = AssociationType(code=code)
    _labelled_settings(
        subject,
        kind,
        {"labels": labels, "two_way": two_way, "quantified": quantified},
        booleans=("two_way", "quantified"),
    )
    _create(kind, subject)
    audit.record(
        "association_type.create", kind, summary=subject, changes=association_type_snapshot(kind)
    )
    return kind


@transaction.atomic
def update_association_type(
    code: str, *, expected_version: int | None = None, **changes
) -> AssociationType:
    subject = f"association type {code}"
    _reject_unknown(subject, changes, ("labels", "two_way", "quantified"))
    kind = _get(AssociationType, code, lock=True)
    before = association_type_snapshot(kind)
    _labelled_settings(subject, kind, changes, booleans=("two_way", "quantified"))
    for name in ("two_way", "quantified"):
        if getattr(kind, name) != before[name] and Association.objects.filter(type=kind).exists():
            raise _invalid(
                subject,
                name,
                "fixed once products have associations of this type",
                value=getattr(kind, name),
            )
    save_versioned(kind, expected_version, list(changes), snapshot=association_type_snapshot)
    audit.record(
        "association_type.update",
        kind,
        summary=subject,
        changes=_diff(before, association_type_snapshot(kind)),
    )
    return kind


@transaction.atomic
def delete_association_type(code: str, *, expected_version: int | None = None) -> None:
    subject = f"association type {code}"
    kind = _get(AssociationType, code, lock=True)
    _check_version(kind, expected_version, association_type_snapshot)
    used = Association.objects.filter(type=kind).count()
    if used:
        raise _in_use(
            subject,
            f"{counted(used, 'association is', 'associations are')} of this type",
            associations=used,
        )
    audit.record(
        "association_type.delete", kind, summary=subject, changes=association_type_snapshot(kind)
    )
    _delete(kind, subject)


def categories_in_tree(tree: str):
    root = Category.objects.filter(code=tree, parent__isnull=True).first()
    if root is None:
        raise NotFound(f"no category tree {tree!r}", details={"tree": tree})
    return Category.objects.filter(Q(path=tree) | Q(path__startswith=tree + "/"))
