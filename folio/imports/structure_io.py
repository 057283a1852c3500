"""Structure files in the reference PIM's conventions, both ways: locales, currencies,
categories, channels, attribute groups, attributes, attribute options, families (with
`requirements-<channel>`), family variants (`variant-axes_1`, `variant-attributes_1`, …),
association types and product groups. Labels are `label-<locale>` columns; lists are
comma-separated; booleans 1/0.

Every row goes through folio.catalog.structure (create, or update with only what differs),
so a row is checked like an API call and re-importing the same file changes nothing. The
other PIM's names are read too (attribute types such as pim_catalog_metric, `max_characters`,
`attribute_as_label`, `is_two_way`…); its settings with no meaning here are reported once as
ignored, never dropped silently.
"""

import contextlib
import functools
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from folio.catalog import structure as st
from folio.catalog.models import (
    AssociationType,
    Attribute,
    AttributeGroup,
    AttributeOption,
    Category,
    Channel,
    Currency,
    Family,
    FamilyVariant,
    Locale,
    MeasurementFamily,
    ProductGroup,
)

T = Attribute.Type
LABEL = re.compile(r"^label-(.+)$")
REQUIREMENT = re.compile(r"^requirements-(.+)$")
VARIANT = re.compile(r"^variant-(axes|attributes)_(\d)$")
TRUE_WORDS = ("1", "true", "yes", "y")
FALSE_WORDS = ("0", "false", "no", "n")

# Canonical columns per kind (the export writes these), and the other PIM's names for them.
COLUMNS = {
    "locales": ("code", "label"),
    "currencies": ("code", "label"),
    "categories": ("code", "parent", "sort_order"),
    "channels": (
        "code",
        "kind",
        "locales",
        "currencies",
        "territories",
        "category_tree",
        "requires_review",
    ),
    "attribute_groups": ("code", "sort_order", "attributes"),
    "attributes": ("code", "type", *(f for f in st.ATTRIBUTE_FIELDS if f != "labels")),
    "attribute_options": ("attribute", "code", "sort_order"),
    "families": ("code", "attributes", "label_attribute", "image_attribute", "requires_review"),
    "family_variants": ("code", "family"),
    "association_types": ("code", "two_way", "quantified"),
    "groups": ("code",),
}
ALIASES = {
    "channels": {"tree": "category_tree"},
    "attributes": {
        "max_characters": "max_length",
        "validation_rule": "text_rule",
        "validation_regexp": "regex",
        "wysiwyg_enabled": "rich_text",
        "metric_family": "measurement_family",
        "default_metric_unit": "default_unit",
    },
    "families": {"attribute_as_label": "label_attribute", "attribute_as_image": "image_attribute"},
    "association_types": {"is_two_way": "two_way", "is_quantified": "quantified"},
}
# The other PIM's settings that Folio has no use for: read, reported once, not applied.
FOREIGN = {
    "locales": ("activated",),
    "currencies": ("activated",),
    "channels": ("conversion_units",),
    "attributes": (
        "useable_as_grid_filter",
        "allowed_extensions",
        "max_file_size",
        "minimum_input_length",
        "auto_option_sorting",
        "reference_data_name",
        "default_value",
        "decimal_places_strategy",
        "decimal_places",
        "is_read_only",
        "table_configuration",
    ),
    "groups": ("type",),
}
FOREIGN_PATTERNS = {"attributes": (re.compile(r"^guidelines-"),)}
OTHER_TYPES = {
    "pim_catalog_identifier": T.IDENTIFIER,
    "pim_catalog_text": T.TEXT,
    "pim_catalog_textarea": T.TEXTAREA,
    "pim_catalog_number": T.NUMBER,
    "pim_catalog_metric": T.MEASUREMENT,
    "pim_catalog_price_collection": T.PRICE,
    "pim_catalog_boolean": T.BOOLEAN,
    "pim_catalog_date": T.DATE,
    "pim_catalog_simpleselect": T.SELECT,
    "pim_catalog_multiselect": T.MULTISELECT,
    "pim_catalog_image": T.ASSET_COLLECTION,
    "pim_catalog_file": T.ASSET_COLLECTION,
    "pim_catalog_asset_collection": T.ASSET_COLLECTION,
    "pim_reference_data_simpleselect": T.SELECT,
    "pim_reference_data_multiselect": T.MULTISELECT,
}
OTHER_RULES = {"regexp": "regex", "url": "url", "email": "email", "": ""}
ATTRIBUTE_BOOLEANS = (
    "localizable",
    "scopable",
    "unique",
    "is_gtin",
    "rich_text",
    "decimals_allowed",
    "negative_allowed",
)
ATTRIBUTE_LISTS = ("available_locales", "allowed_units")


class CellProblem(ValueError):
    def __init__(self, column: str, reason: str):
        super().__init__(reason)
        self.column = column
        self.reason = reason


@dataclass
class StructurePlan:
    kind: str
    columns: dict[int, str]  # column index → canonical name (label-…, requirements-… kept)
    problems: list[tuple[str, str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)  # canonical → header as written

    @property
    def refused(self) -> bool:
        return any(sev == "error" for _, _, sev in self.problems)


def plan_structure(kind: str, header: list[str]) -> StructurePlan:
    plan = StructurePlan(kind=kind, columns={})
    known = COLUMNS[kind]
    aliases = ALIASES.get(kind, {})
    foreign = FOREIGN.get(kind, ())
    for i, name in enumerate(header):
        if not name:
            continue
        canonical = aliases.get(name, name)
        ok = (
            canonical in known
            or (LABEL.match(canonical) and kind not in ("locales", "currencies"))
            or (kind == "families" and REQUIREMENT.match(canonical))
            or (kind == "family_variants" and VARIANT.match(canonical))
        )
        if ok:
            plan.columns[i] = canonical
            plan.headers[canonical] = name
        elif name in foreign or any(p.match(name) for p in FOREIGN_PATTERNS.get(kind, ())):
            plan.problems.append((name, "not read: Folio has no such setting", "warning"))
        else:
            expected = ", ".join(known)
            extra = {
                "families": ", label-<locale>, requirements-<channel>",
                "family_variants": ", label-<locale>, variant-axes_N, variant-attributes_N",
            }.get(kind, ", label-<locale>" if kind not in ("locales", "currencies") else "")
            plan.problems.append(
                (name, f"not a column of {kind} files (columns: {expected}{extra})", "error")
            )
    if "code" not in plan.headers:
        plan.problems.append(("", f"{kind} files need a code column", "error"))
    if kind == "attribute_options" and "attribute" not in plan.headers:
        plan.problems.append(("", "attribute options need an attribute column", "error"))
    return plan


# --- reading cells ----------------------------------------------------------------------------


def _bool(column: str, text: str) -> bool:
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise CellProblem(column, f"expected 1 or 0 (yes/no, true/false), not {text!r}")


def _int(column: str, text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise CellProblem(column, f"expected a whole number, not {text!r}") from None


def _list(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def _labels(data: dict, existing: dict | None) -> dict | None:
    """Labels from label-<locale> columns merged over the existing ones; None when the file
    has no label columns. An empty cell removes that locale's label."""
    given = {k[6:]: v for k, v in data.items() if k.startswith("label-")}
    if not given:
        return None
    labels = dict(existing or {})
    for locale, text in given.items():
        if text.strip():
            labels[locale] = text.strip()
        else:
            labels.pop(locale, None)
    return dict(sorted(labels.items()))


def _changed(current: dict, wanted: dict) -> dict:
    return {k: v for k, v in wanted.items() if current.get(k) != v}


def _labelled(data: dict, obj) -> dict[str, Any]:
    """What a row asks for, starting with its labels (when the file has label columns)."""
    wanted: dict[str, Any] = {}
    labels = _labels(data, obj.labels if obj else None)
    if labels is not None:
        wanted["labels"] = labels
    return wanted


def _update(code: str, changes: dict, update) -> str:
    """The end every kind shares: an existing object is updated with only what differs, so
    re-importing the same file changes nothing."""
    if not changes:
        return "unchanged"
    update(code, **changes)
    return "updated"


# --- one row per kind -------------------------------------------------------------------------


class Context:
    """State that spans the files of one import (memberships applied after attributes)."""

    def __init__(self):
        self.group_members: dict[str, str] = {}  # attribute → group, from attribute_groups
        self.grouped_by_attributes_file: set[str] = set()
        self.notes: list[tuple[str, str]] = []


def import_row(kind: str, data: dict[str, str], ctx: Context) -> str:
    """Create or update one structure object from a row ({canonical column: cell}); returns
    created, updated or unchanged. Raises CellProblem or a FolioError."""
    return ROWS[kind](data, ctx)


def _code(data: dict) -> str:
    code = data.get("code", "").strip()
    if not code:
        raise CellProblem("code", "a code is required")
    return code


def _locale(data, ctx) -> str:
    return _label_only(Locale, data, st.create_locale, st.update_locale)


def _currency(data, ctx) -> str:
    return _label_only(Currency, data, st.create_currency, st.update_currency)


def _label_only(model, data, create, update) -> str:
    code = _code(data)
    obj = model.objects.filter(code=code).first()
    label = data.get("label")
    if obj is None:
        create(code, label=(label or "").strip())
        return "created"
    changes = {"label": label.strip()} if label is not None and label.strip() != obj.label else {}
    return _update(code, changes, update)


def _category(data, ctx) -> str:
    code = _code(data)
    obj = Category.objects.select_related("parent").filter(code=code).first()
    wanted = _labelled(data, obj)
    if data.get("sort_order", "").strip():
        wanted["sort_order"] = _int("sort_order", data["sort_order"])
    parent = (data.get("parent") or "").strip() or None
    if obj is None:
        st.create_category(code, parent=parent, **wanted)
        return "created"
    current = st.category_snapshot(obj)
    if "parent" in data and parent != current["parent"]:
        wanted["parent"] = parent
    changes = _changed(current, wanted)
    return _update(code, changes, st.update_category)


def _channel(data, ctx) -> str:
    code = _code(data)
    obj = Channel.objects.filter(code=code).first()
    wanted = _labelled(data, obj)
    for name in ("locales", "currencies", "territories"):
        if name in data:
            wanted[name] = sorted(_list(data[name]))
    if "kind" in data and data["kind"].strip():
        wanted["kind"] = data["kind"].strip()
    if "category_tree" in data:
        wanted["category_tree"] = data["category_tree"].strip() or None
    if data.get("requires_review", "").strip():
        wanted["requires_review"] = _bool("requires_review", data["requires_review"])
    if obj is None:
        st.create_channel(code, **wanted)
        return "created"
    current = st.channel_snapshot(obj)
    current["territories"] = sorted(current["territories"])
    changes = _changed(current, wanted)
    return _update(code, changes, st.update_channel)


def _attribute_group(data, ctx) -> str:
    code = _code(data)
    obj = AttributeGroup.objects.filter(code=code).first()
    wanted = _labelled(data, obj)
    if data.get("sort_order", "").strip():
        wanted["sort_order"] = _int("sort_order", data["sort_order"])
    for attribute in _list(data.get("attributes", "")):
        ctx.group_members[attribute] = code
    if obj is None:
        st.create_attribute_group(code, **wanted)
        return "created"
    changes = _changed(st.attribute_group_snapshot(obj), wanted)
    return _update(code, changes, st.update_attribute_group)


def _attribute_settings(data: dict) -> dict:
    out: dict[str, Any] = {}
    for name in st.ATTRIBUTE_FIELDS:
        if name == "labels" or name not in data:
            continue
        text = data[name].strip()
        if name in ATTRIBUTE_BOOLEANS:
            if text:
                out[name] = _bool(name, text)
        elif name in ATTRIBUTE_LISTS:
            out[name] = sorted(_list(text)) if name == "available_locales" else _list(text)
        elif name in ("sort_order", "max_length"):
            out[name] = _int(name, text) if text else (0 if name == "sort_order" else None)
        elif name == "text_rule":
            out[name] = OTHER_RULES.get(text.lower(), text.lower())
        elif name == "measurement_family":
            if text:
                found = MeasurementFamily.objects.filter(code__iexact=text).first()
                out[name] = found.code if found else text
            else:
                out[name] = None
        elif name in ("group", "number_min", "number_max", "date_min", "date_max"):
            out[name] = text or None
        else:
            out[name] = text
    return out


def _attribute(data, ctx) -> str:
    code = _code(data)
    raw_type = data.get("type", "").strip()
    type_ = OTHER_TYPES.get(raw_type, raw_type)
    if code.lower() in st.RESERVED_ATTRIBUTE_CODES and type_ == T.IDENTIFIER:
        ctx.notes.append(
            (code, f"{code} is the product's SKU in Folio, not an attribute; not imported")
        )
        return "ignored"
    obj = Attribute.objects.select_related("group", "measurement_family").filter(code=code).first()
    wanted = {**_attribute_settings(data), **_labelled(data, obj)}
    if "group" in wanted:
        ctx.grouped_by_attributes_file.add(code)
    if obj is None:
        if not type_:
            raise CellProblem("type", "a new attribute needs a type")
        st.create_attribute(code, type=type_, **wanted)
        return "created"
    current = st.attribute_snapshot(obj)
    if type_ and type_ != current["type"]:
        wanted["type"] = type_
    for name in ("number_min", "number_max"):
        if wanted.get(name) is not None:
            with contextlib.suppress(InvalidOperation):  # the service names a bad number
                wanted[name] = st.decimal_text(Decimal(wanted[name]))
    changes = _changed(current, wanted)
    return _update(code, changes, st.update_attribute)


def apply_group_members(ctx: Context) -> int:
    """Attribute groups files list their attributes; put each in its group unless the
    attributes file said otherwise. Returns how many attributes moved."""
    moved = 0
    for attribute, group in sorted(ctx.group_members.items()):
        if attribute in ctx.grouped_by_attributes_file:
            continue
        a = Attribute.objects.select_related("group").filter(code=attribute).first()
        if a is None or (a.group.code if a.group_id else None) == group:
            continue
        st.update_attribute(attribute, group=group)
        moved += 1
    ctx.group_members.clear()
    return moved


def _option(data, ctx) -> str:
    attribute = (data.get("attribute") or "").strip()
    if not attribute:
        raise CellProblem("attribute", "name the attribute the option belongs to")
    code = _code(data)
    obj = AttributeOption.objects.filter(attribute__code=attribute, code=code).first()
    labels = _labels(data, obj.labels if obj else None)
    order = _int("sort_order", data["sort_order"]) if data.get("sort_order", "").strip() else None
    if obj is None:
        option = {"code": code, "labels": labels or {}}
        if order is not None:
            option["sort_order"] = order
        st.add_options(attribute, [option])
        return "created"
    changes = {}
    if labels is not None and labels != obj.labels:
        changes["labels"] = labels
    if order is not None and order != obj.sort_order:
        changes["sort_order"] = order
    return _update(code, changes, functools.partial(st.update_option, attribute))


def _without_reserved(codes: list[str], ctx: Context, where: str) -> list[str]:
    kept = [c for c in codes if c.lower() not in st.RESERVED_ATTRIBUTE_CODES]
    if len(kept) != len(codes):
        ctx.notes.append((where, "sku left out: in Folio the SKU is a product field"))
    return kept


def _family(data, ctx) -> str:
    code = _code(data)
    obj = Family.objects.filter(code=code).first()
    wanted = _labelled(data, obj)
    if "attributes" in data:
        wanted["attributes"] = sorted(_without_reserved(_list(data["attributes"]), ctx, code))
    for name in ("label_attribute", "image_attribute"):
        if name in data:
            wanted[name] = data[name].strip() or None
    if data.get("requires_review", "").strip():
        wanted["requires_review"] = _bool("requires_review", data["requires_review"])
    requirements = {
        k[13:]: sorted(_without_reserved(_list(v), ctx, code))
        for k, v in data.items()
        if k.startswith("requirements-")
    }
    if obj is None:
        if requirements:
            wanted["requirements"] = requirements
        st.create_family(code, **wanted)
        return "created"
    current = st.family_snapshot(obj)
    changes = _changed(current, wanted)
    have = current["requirements"]
    req_changes = {c: r for c, r in requirements.items() if have.get(c, []) != r}
    if req_changes:
        changes["requirements"] = req_changes
    return _update(code, changes, st.update_family)


def _levels(data: dict) -> list[dict] | None:
    found: dict[int, dict] = {}
    for k, text in data.items():
        m = VARIANT.match(k)
        if m:
            level = found.setdefault(int(m.group(2)), {"axes": [], "attributes": []})
            level[m.group(1)] = _list(text)
    levels = []
    for n in sorted(found):
        lv = found[n]
        if not lv["axes"] and not lv["attributes"]:
            continue
        # The other PIM lists a level's axes among its attributes too.
        attributes = [a for a in lv["attributes"] if a not in lv["axes"]]
        levels.append({"axes": sorted(lv["axes"]), "attributes": sorted(attributes)})
    return levels or None


def _family_variant(data, ctx) -> str:
    code = _code(data)
    obj = FamilyVariant.objects.select_related("family").filter(code=code).first()
    labels = _labels(data, obj.labels if obj else None)
    levels = _levels(data)
    family = (data.get("family") or "").strip()
    if obj is None:
        if levels is None:
            raise CellProblem("variant-axes_1", "a family variant needs the axes of level 1")
        st.create_family_variant(code, family=family, levels=levels, labels=labels or {})
        return "created"
    current = st.family_variant_snapshot(obj)
    changes: dict[str, Any] = {}
    if family and family != current["family"]:
        changes["family"] = family
    if labels is not None and labels != current["labels"]:
        changes["labels"] = labels
    if levels is not None:
        have = [{"axes": lv["axes"], "attributes": lv["attributes"]} for lv in current["levels"]]
        if have != levels:
            changes["levels"] = levels
    return _update(code, changes, st.update_family_variant)


def _association_type(data, ctx) -> str:
    code = _code(data)
    obj = AssociationType.objects.filter(code=code).first()
    wanted = _labelled(data, obj)
    for name in ("two_way", "quantified"):
        if data.get(name, "").strip():
            wanted[name] = _bool(name, data[name])
    if obj is None:
        st.create_association_type(code, **wanted)
        return "created"
    changes = _changed(st.association_type_snapshot(obj), wanted)
    return _update(code, changes, st.update_association_type)


def _group(data, ctx) -> str:
    code = _code(data)
    obj = ProductGroup.objects.filter(code=code).first()
    labels = _labels(data, obj.labels if obj else None)
    if obj is None:
        st.create_group(code, labels=labels or {})
        return "created"
    changes = {"labels": labels} if labels is not None and labels != obj.labels else {}
    return _update(code, changes, st.update_group)


ROWS = {
    "locales": _locale,
    "currencies": _currency,
    "categories": _category,
    "channels": _channel,
    "attribute_groups": _attribute_group,
    "attributes": _attribute,
    "attribute_options": _option,
    "families": _family,
    "family_variants": _family_variant,
    "association_types": _association_type,
    "groups": _group,
}


# --- export -----------------------------------------------------------------------------------


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, list | tuple):
        return ",".join(str(x) for x in value)
    return str(value)


def export_rows(kind: str, locales: list[str], *, label_locale: str | None = None):
    """(header, rows) of one structure kind, every object, in a stable order."""
    label_cols = [f"label-{loc}" for loc in locales]
    if kind in ("locales", "currencies"):
        model = Locale if kind == "locales" else Currency
        return ["code", "label"], ([o.code, o.label] for o in model.objects.order_by("code"))
    if kind == "categories":
        header = ["code", "parent", "sort_order", *label_cols]
        rows = (
            [c.code, c.parent.code if c.parent_id else "", str(c.sort_order)]
            + [c.labels.get(loc, "") for loc in locales]
            for c in Category.objects.select_related("parent").order_by("path")
        )
        return header, rows
    if kind == "channels":
        header = ["code", *label_cols, *COLUMNS["channels"][1:]]

        def channel_rows():
            for c in Channel.objects.prefetch_related("locales", "currencies").select_related(
                "category_tree"
            ):
                snap = st.channel_snapshot(c)
                yield [c.code, *[c.labels.get(loc, "") for loc in locales]] + [
                    _text(snap[k]) for k in COLUMNS["channels"][1:]
                ]

        return header, channel_rows()
    if kind == "attribute_groups":
        header = ["code", "sort_order", *label_cols, "attributes"]
        members: dict[int, list[str]] = {}
        for gid, code in (
            Attribute.objects.filter(group__isnull=False)
            .order_by("sort_order", "code")
            .values_list("group_id", "code")
        ):
            members.setdefault(gid, []).append(code)
        rows = (
            [
                g.code,
                str(g.sort_order),
                *[g.labels.get(loc, "") for loc in locales],
                ",".join(members.get(g.pk, [])),
            ]
            for g in AttributeGroup.objects.all()
        )
        return header, rows
    if kind == "attributes":
        settings = list(COLUMNS["attributes"][1:])
        header = ["code", *settings, *label_cols]

        def attribute_rows():
            for a in Attribute.objects.select_related(
                "group", "measurement_family"
            ).prefetch_related("available_locales"):
                snap = st.attribute_snapshot(a)
                yield [a.code, *[_text(snap[k]) for k in settings]] + [
                    a.labels.get(loc, "") for loc in locales
                ]

        return header, attribute_rows()
    if kind == "attribute_options":
        header = ["attribute", "code", "sort_order", *label_cols]
        rows = (
            [
                o.attribute.code,
                o.code,
                str(o.sort_order),
                *[o.labels.get(loc, "") for loc in locales],
            ]
            for o in AttributeOption.objects.select_related("attribute").order_by(
                "attribute__code", "sort_order", "code"
            )
        )
        return header, rows
    if kind == "families":
        channels = sorted(Channel.objects.values_list("code", flat=True))
        header = [
            "code",
            *label_cols,
            "attributes",
            "label_attribute",
            "image_attribute",
            "requires_review",
            *[f"requirements-{c}" for c in channels],
        ]

        def family_rows():
            for f in Family.objects.prefetch_related(
                "attributes", "requirements__attribute", "requirements__channel"
            ).select_related("label_attribute", "image_attribute"):
                snap = st.family_snapshot(f)
                yield [
                    f.code,
                    *[f.labels.get(loc, "") for loc in locales],
                    _text(snap["attributes"]),
                    snap["label_attribute"] or "",
                    snap["image_attribute"] or "",
                    _text(snap["requires_review"]),
                    *[_text(snap["requirements"].get(c, [])) for c in channels],
                ]

        return header, family_rows()
    if kind == "family_variants":
        header = ["code", "family", *label_cols]
        header += [
            "variant-axes_1",
            "variant-attributes_1",
            "variant-axes_2",
            "variant-attributes_2",
        ]

        def variant_rows():
            for fv in FamilyVariant.objects.select_related("family").prefetch_related(
                "level_attributes__attribute"
            ):
                levels = st.variant_levels(fv)
                cells = []
                for n in (0, 1):
                    lv = levels[n] if n < len(levels) else {"axes": [], "attributes": []}
                    cells += [_text(lv["axes"]), _text(sorted(lv["axes"] + lv["attributes"]))]
                yield [
                    fv.code,
                    fv.family.code,
                    *[fv.labels.get(loc, "") for loc in locales],
                    *cells,
                ]

        return header, variant_rows()
    if kind == "association_types":
        header = ["code", *label_cols, "two_way", "quantified"]
        rows = (
            [
                t.code,
                *[t.labels.get(loc, "") for loc in locales],
                _text(t.two_way),
                _text(t.quantified),
            ]
            for t in AssociationType.objects.all()
        )
        return header, rows
    if kind == "groups":
        header = ["code", *label_cols]
        rows = (
            [g.code, *[g.labels.get(loc, "") for loc in locales]]
            for g in ProductGroup.objects.all()
        )
        return header, rows
    raise ValueError(kind)
