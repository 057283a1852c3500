"""The column conventions of product and product model files, both ways.

Products: `sku;family;categories;enabled;parent;groups` then one column per value:
`<attribute>[-<locale>][-<channel>]` (name-en_US, description-en_US-ecommerce), prices per
currency (`price-EUR`), measurements as amount and unit (`weight`, `weight-unit`, or "500 g"
in one cell), associations `<TYPE>-products|product_models|groups` (and
`<TYPE>-products-quantity` for quantified types such as PACK), media `media-<role>[-<locale>]`.
Product models: `code;family_variant;parent;categories` and value columns. Lists are
comma-separated; booleans 1/0 (yes/no, true/false read too).

`plan_columns` reads a header once (with an optional saved mapping) into column plans, and
reports unknown columns; `RowReader.read` turns one row into the item the catalog services
take, with every problem of the row named by column and value.
"""

import difflib
from dataclasses import dataclass, field
from itertools import compress

from folio.catalog import values as v
from folio.catalog.models import Attribute, AttributeOption
from folio.imports import transforms as tf
from folio.imports.limits import limit
from folio.imports.readers import unescape_cell
from folio.linking.services import ROLE_RE

T = Attribute.Type
FIELDS = {
    "products": ("sku", "family", "categories", "enabled", "parent", "groups"),
    "product_models": ("code", "family_variant", "parent", "categories"),
}
LIST_FIELDS = ("categories", "groups")
TARGETS = ("products", "product_models", "groups")
# Columns other PIMs write that have no meaning here; read and said so, never silently.
FOREIGN_COLUMNS = {"products": ("identifier", "uuid"), "product_models": ()}


@dataclass
class Col:
    index: int
    header: str
    kind: str  # field, value, unit, assoc, quantity, media, ignore, blank
    code: str = ""  # field name, attribute code, association type or media role
    locale: str | None = None
    scope: str | None = None
    currency: str | None = None
    target: str = ""  # association target kind
    attribute: v.AttributeInfo | None = None
    reading: tf.Reading = field(default_factory=tf.Reading)
    labels: dict | None = None  # option label (lower case) → code, for options_by_label

    @property
    def key(self) -> tuple:
        return (self.code, self.locale, self.scope)


@dataclass
class Plan:
    kind: str
    cols: list[Col]
    problems: list[tuple[str, str, str]]  # (column, reason, severity)
    # (attribute, locale, scope) the file speaks for: an empty cell there clears the value.
    covered: dict[str, set] = field(default_factory=dict)
    covered_currencies: dict[tuple, set] = field(default_factory=dict)
    covered_associations: set = field(default_factory=set)  # (type, target)
    has_media: bool = False
    has_assets: bool = False

    @property
    def refused(self) -> bool:
        return any(sev == "error" for _, _, sev in self.problems)

    def column(self, name: str) -> Col | None:
        for c in self.cols:
            if c.header == name:
                return c
        return None


def _suggest(name: str, candidates) -> str:
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.75)
    return f" (did you mean {close[0]}?)" if close else ""


def _value_column(
    col: Col, parts: list[str], structure: v.Structure
) -> tuple[str | None, str | None]:
    """Fill an attribute column's locale/channel/currency from `parts` (after the code).
    Returns (error, warning)."""
    a = col.attribute
    rest = list(parts)
    if a.type == T.MEASUREMENT and rest and rest[-1] == "unit":
        col.kind = "unit"
        rest.pop()
    if a.type == T.PRICE and rest and len(rest[-1]) == 3 and rest[-1].isalpha():
        currency = rest.pop().upper()
        if currency not in structure.currencies:
            return f"{currency} is not a currency set up here", None
        col.currency = currency
    if a.localizable:
        if not rest:
            return (
                f"{a.code} is localizable: name the locale in the column, e.g. {a.code}-en_US",
                None,
            )
        col.locale = rest.pop(0)
        if col.locale not in structure.locales:
            return f"{col.locale!r} is not a locale{_suggest(col.locale, structure.locales)}", None
    if a.scopable:
        if not rest:
            return (
                f"{a.code} is scopable: name the channel in the column, e.g. "
                f"{a.code}{'-' + col.locale if col.locale else ''}-ecommerce",
                None,
            )
        col.scope = rest.pop(0)
        if col.scope not in structure.channels:
            return (
                f"{col.scope!r} is not a channel{_suggest(col.scope, structure.channels)}",
                None,
            )
    if rest:
        what = "localizable or scopable" if not (a.localizable or a.scopable) else "more parts"
        return (
            f"{'-'.join(rest)!r} is not understood here ({a.code} is a {a.type} attribute; "
            f"it is not {what})",
            None,
        )
    warning = None
    if col.locale:
        if col.locale not in structure.active_locales:
            warning = f"locale {col.locale} is not active (no channel uses it)"
        elif col.scope and col.locale not in structure.channels[col.scope]["locales"]:
            warning = f"channel {col.scope} is not published in {col.locale}"
        elif a.available_locales and col.locale not in a.available_locales:
            warning = f"{a.code} is only available in {', '.join(sorted(a.available_locales))}"
    return None, warning


def _option_labels(attribute_code: str, locale: str | None) -> dict[str, str]:
    out = {}
    for code, labels in AttributeOption.objects.filter(attribute__code=attribute_code).values_list(
        "code", "labels"
    ):
        out[code.lower()] = code
        for loc, text in (labels or {}).items():
            if locale is None or loc == locale:
                out.setdefault(str(text).strip().lower(), code)
    return out


def _from_rule(col: Col, rule: dict, kind: str, structure: v.Structure) -> str | None:
    """Apply one mapping rule to a column; returns a problem or None."""
    if rule.get("ignore"):
        col.kind = "ignore"
        return None
    if "field" in rule:
        if rule["field"] not in FIELDS[kind]:
            return f"the mapping names the field {rule['field']!r}, not one of {FIELDS[kind]}"
        col.kind, col.code = "field", rule["field"]
        return None
    if "media" in rule:
        col.kind, col.code, col.locale = "media", rule["media"], rule.get("locale") or None
        return None
    if "association" in rule:
        col.kind = "quantity" if rule.get("part") == "quantity" else "assoc"
        col.code, col.target = rule["association"], rule.get("target", "products")
        return None
    a = structure.attributes.get(rule.get("attribute", ""))
    if a is None:
        return f"the mapping names the attribute {rule.get('attribute')!r}, which does not exist"
    col.kind, col.code, col.attribute = "value", a.code, a
    col.locale = rule.get("locale") or None
    col.scope = rule.get("channel") or rule.get("scope") or None
    col.currency = rule.get("currency") or None
    if rule.get("part") == "unit":
        col.kind = "unit"
    return None


def plan_columns(
    header: list[str],
    kind: str,
    structure: v.Structure,
    *,
    mapping_columns: list[dict] | None = None,
    decimal_comma: bool = False,
) -> Plan:
    rules = {r["column"]: r for r in (mapping_columns or [])}
    association_types = set(_association_types())
    plan = Plan(kind=kind, cols=[], problems=[])
    fields = FIELDS[kind]
    known = set(fields) | set(structure.attributes)
    for index, name in enumerate(header):
        col = Col(index=index, header=name, kind="value")
        rule = rules.get(name)
        problem, warning = None, None
        if not name:
            col.kind = "blank"
        elif rule is not None:
            problem = _from_rule(col, rule, kind, structure)
            col.reading = tf.compile_reading(rule.get("transforms"), decimal_comma=decimal_comma)
        elif name in fields:
            col.kind, col.code = "field", name
        elif name in FOREIGN_COLUMNS.get(kind, ()):
            col.kind = "ignore"
            warning = "not read: Folio identifies products by sku"
        else:
            parts = name.split("-")
            head = parts[0]
            if head == "media" and kind in ("products", "product_models") and len(parts) in (2, 3):
                col.kind, col.code = "media", parts[1]
                col.locale = parts[2] if len(parts) == 3 else None
            elif head in association_types and kind == "products" and len(parts) in (2, 3):
                col.code, col.target = head, parts[1]
                col.kind = "assoc"
                if len(parts) == 3:
                    if parts[2] != "quantity":
                        problem = f"{name!r}: expected {head}-{parts[1]}-quantity"
                    col.kind = "quantity"
                if parts[1] not in TARGETS:
                    problem = f"{name!r}: associations go to {', '.join(TARGETS)}"
            elif head in structure.attributes:
                col.attribute = structure.attributes[head]
                col.code = head
                problem, warning = _value_column(col, parts[1:], structure)
                col.reading = tf.compile_reading(None, decimal_comma=decimal_comma)
            else:
                close = difflib.get_close_matches(head, list(known), n=1, cutoff=0.6)
                hint = f" (did you mean {'-'.join([close[0], *parts[1:]])}?)" if close else ""
                problem = (
                    f"no attribute or field {head!r}{hint}; columns are "
                    f"{', '.join(fields)}, <attribute>[-<locale>][-<channel>], "
                    "<attribute>-<currency>, <attribute>-unit, <TYPE>-products, media-<role>"
                )
        if col.kind == "media":
            if not ROLE_RE.match(col.code or ""):
                problem = f"media role {col.code!r} is not a slug (main, gallery, …)"
            elif col.locale and col.locale not in structure.locales:
                problem = f"{col.locale!r} is not a locale"
            plan.has_media = True
        if col.kind in ("value", "unit") and col.attribute is not None and not problem:
            a = col.attribute
            if a.type == T.PRICE and col.currency is None and col.kind == "value":
                pass  # "24.90 EUR" in the cell
            if a.type == T.ASSET_COLLECTION:
                plan.has_assets = True
            r = col.reading
            if r.labels_for is not None and a.type in (T.SELECT, T.MULTISELECT):
                col.labels = _option_labels(a.code, r.labels_for[1])
        if problem:
            plan.problems.append((name, problem, "error"))
        elif warning:
            plan.problems.append((name, warning, "warning"))
        plan.cols.append(col)
    _check_pairs(plan, kind)
    for c in plan.cols:
        if c.kind == "value" and c.attribute is not None:
            plan.covered.setdefault(c.code, set()).add((c.locale, c.scope))
            if c.attribute.type == T.PRICE:
                plan.covered_currencies.setdefault(c.key, set()).add(c.currency)
        elif c.kind == "assoc":
            plan.covered_associations.add((c.code, c.target))
    return plan


def _association_types() -> dict[str, bool]:
    from folio.catalog.models import AssociationType

    return dict(AssociationType.objects.values_list("code", "quantified"))


def _check_pairs(plan: Plan, kind: str) -> None:
    ident = "sku" if kind == "products" else "code"
    if not any(c.kind == "field" and c.code == ident for c in plan.cols):
        plan.problems.append(("", f"the file has no {ident} column", "error"))
    seen: dict[tuple, str] = {}
    for c in plan.cols:
        if c.kind in ("value", "unit", "field", "assoc", "quantity", "media"):
            key = (c.kind, c.code, c.locale, c.scope, c.currency, c.target)
            if key in seen:
                plan.problems.append(
                    (c.header, f"says the same as the column {seen[key]!r}", "error")
                )
            seen[key] = c.header
    amounts = {c.key for c in plan.cols if c.kind == "value"}
    for c in plan.cols:
        if c.kind == "unit" and c.key not in amounts:
            plan.problems.append((c.header, "a unit column without its amount column", "error"))
    quantified = _association_types()
    for c in plan.cols:
        if c.kind == "quantity" and not any(
            o.kind == "assoc" and o.code == c.code and o.target == c.target for o in plan.cols
        ):
            plan.problems.append((c.header, "a quantity column without its targets", "error"))
        if (
            c.kind == "assoc"
            and quantified.get(c.code)
            and c.target == "products"
            and not any(o.kind == "quantity" and o.code == c.code for o in plan.cols)
        ):
            plan.problems.append(
                (
                    c.header,
                    f"{c.code} is quantified: add a {c.code}-products-quantity column",
                    "error",
                )
            )


# --- reading a row --------------------------------------------------------------------------


class CellError(ValueError):
    pass


def _split(text: str, r: tf.Reading) -> list[str]:
    sep = r.separator or ","
    items = [x.strip() for x in text.split(sep)]
    items = [x for x in items if x]
    if len(items) > limit("MAX_LIST_ITEMS"):
        raise CellError(f"{len(items)} items in one cell; at most {limit('MAX_LIST_ITEMS')}")
    if r.after:
        items = [tf.apply_text(r.after, x) for x in items]
    return items


def _number(text: str, r: tf.Reading) -> str:
    if r.decimal_comma:
        return tf._decimal_comma(text)
    return text.strip()


def _boolean(text: str, r: tf.Reading) -> bool:
    word = text.strip().lower()
    if word in r.true_words:
        return True
    if word in r.false_words:
        return False
    raise CellError(
        f"expected {r.true_words[0]} or {r.false_words[0]} "
        f"({'/'.join(r.true_words)} or {'/'.join(r.false_words)})"
    )


def _option(text: str, col: Col) -> str:
    if col.labels is not None:
        return col.labels.get(text.strip().lower(), text.strip())
    return text.strip()


def _as_text(col: Col, text: str):
    return text


def _as_number(col: Col, text: str):
    return _number(text, col.reading)


def _as_boolean(col: Col, text: str):
    return _boolean(text, col.reading)


def _as_option(col: Col, text: str):
    r = col.reading
    if r.after:
        text = tf.apply_text(r.after, text)
    return _option(text, col)


def _as_options(col: Col, text: str):
    return [_option(x, col) for x in _split(text, col.reading)]


def _as_stripped(col: Col, text: str):
    return text.strip()


def _as_measurement(col: Col, text: str):
    r = col.reading
    amount, unit = tf.split_amount_unit(text)
    amount = _number(amount, r)
    if unit:
        unit = r.units.get(unit.lower(), unit)
    return {"amount": amount, "unit": unit or None}


def _as_price(col: Col, text: str):
    r = col.reading
    if col.currency:
        return {col.currency: _number(text, r)}
    prices = {}
    for part in text.split(";" if r.decimal_comma else ","):
        tokens = part.split()
        if len(tokens) != 2:
            raise CellError(
                f"{part.strip()!r}: write a price as 24.90 EUR, or use a {col.code}-EUR column"
            )
        amount, cur = tokens if len(tokens[1]) == 3 and tokens[1].isalpha() else tokens[::-1]
        prices[cur.upper()] = _number(amount, r)
    return prices


def _as_list(col: Col, text: str):
    return _split(text, col.reading)


CONVERTERS = {
    T.TEXT: _as_text,
    T.TEXTAREA: _as_text,
    T.IDENTIFIER: _as_text,
    T.NUMBER: _as_number,
    T.BOOLEAN: _as_boolean,
    T.SELECT: _as_option,
    T.MULTISELECT: _as_options,
    T.DATE: _as_stripped,
    T.MEASUREMENT: _as_measurement,
    T.PRICE: _as_price,
    T.ASSET_COLLECTION: _as_list,
    T.PRODUCT_REFERENCE: _as_stripped,
}


def converter(col: Col):
    """How a value column's cells are read, chosen once per column: the data of one cell in
    the value document's shape (validated later by the catalog, which names anything
    wrong)."""
    base = CONVERTERS.get(col.attribute.type)
    if base is None:
        a = col.attribute

        def base(col, text):
            raise CellError(f"{a.code} is a {a.type} attribute, which cannot be imported")

    before = col.reading.before
    if not before:
        return base
    return lambda col, text: base(col, tf.apply_text(before, text))


def read_value(col: Col, text: str):
    return converter(col)(col, text)


@dataclass
class RowResult:
    item: dict
    problems: list  # (column, value, reason)
    media: list  # (role, locale, [refs], column)
    assets: list  # (attribute, locale, scope, [refs], column)
    associations: dict | None  # {(type, target): [codes or (sku, qty)]}
    key: str = ""


class RowReader:
    """Turns rows of one table into items, with the work per row limited to its non-empty
    cells (a file with 1,500 columns and 20 values a row reads 20 cells, not 1,500)."""

    def __init__(self, plan: Plan):
        self.plan = plan
        self.width = max((c.index for c in plan.cols), default=-1) + 1
        self.by_index = [None] * self.width
        for c in plan.cols:
            self.by_index[c.index] = c
        self.ident = "sku" if plan.kind == "products" else "code"
        self.fields_present = {c.code for c in plan.cols if c.kind == "field"}
        self.defaults = [
            c for c in plan.cols if c.kind == "value" and c.reading.default is not None
        ]
        # (column, converter, shape) per value column: shape 1 price, 2 asset list, 0 other.
        self.values = {}
        for c in plan.cols:
            if c.kind == "value" and c.attribute is not None:
                shape = {T.PRICE: 1, T.ASSET_COLLECTION: 2}.get(c.attribute.type, 0)
                self.values[c.index] = (converter(c), shape, c.key)

    def read(self, cells: list[str]) -> RowResult:
        item: dict = {}
        problems: list = []
        entries: dict[tuple, object] = {}
        units: dict[tuple, str] = {}
        media: list = []
        assets: list = []
        assoc: dict | None = None
        qty: dict = {}
        by_index = self.by_index
        values_of = self.values
        for index in compress(range(len(cells)), cells):
            col = by_index[index]
            text = cells[index]
            if text[0] == "'":
                text = unescape_cell(text)
            if col is None or not text.strip():
                if col is None and text.strip():
                    problems.append(("", text, "a value beyond the named columns"))
                continue
            kind = col.kind
            try:
                if kind == "value":
                    convert, shape, key = values_of[index]
                    data = convert(col, text)
                    if shape == 0:
                        entries[key] = data
                    elif shape == 1:
                        entries.setdefault(key, {}).update(data)
                    else:
                        assets.append((col.code, col.locale, col.scope, data, col.header))
                        entries[key] = data
                elif kind == "field":
                    self._field(item, col, text)
                elif kind == "unit":
                    unit = text.strip()
                    units[col.key] = col.reading.units.get(unit.lower(), unit)
                elif kind == "assoc":
                    assoc = assoc if assoc is not None else {}
                    assoc[(col.code, col.target)] = _split(text, col.reading)
                elif kind == "quantity":
                    qty[(col.code, col.target)] = (_split(text, col.reading), col.header)
                elif kind == "media":
                    refs = _split(text, col.reading)
                    media.append((col.code, col.locale or "", refs, col.header))
                elif kind == "blank":
                    problems.append(("", text, "a value in a column without a name"))
            except (CellError, ValueError) as exc:
                problems.append((col.header, text, str(exc)))
        for col in self.defaults:
            if col.key not in entries and not cells[col.index].strip():
                try:
                    entries[col.key] = read_value(col, col.reading.default)
                except (CellError, ValueError) as exc:
                    problems.append((col.header, col.reading.default, str(exc)))
        values: dict[str, list] = {}
        attrs = None
        for key, data in entries.items():
            code, locale, scope = key
            if isinstance(data, dict) and "amount" in data:  # measurement
                unit = units.get(key) or data["unit"]
                if not unit:
                    attrs = attrs or {c.key: c for c in self.plan.cols if c.kind == "value"}
                    col = attrs[key]
                    unit = col.reading.default_unit
                    if not unit:
                        problems.append(
                            (
                                col.header,
                                cells[col.index],
                                f"no unit: write it after the amount (500 g) or add a "
                                f"{col.header}-unit column",
                            )
                        )
                        continue
                data = {"amount": data["amount"], "unit": unit}
            elif isinstance(data, dict):  # prices by currency
                data = [{"amount": a, "currency": c} for c, a in sorted(data.items())]
            values.setdefault(code, []).append({"locale": locale, "scope": scope, "data": data})
        if values or self.plan.covered:
            item["values"] = values
        if assoc is not None or qty:
            assoc = assoc or {}
            for k, (numbers, header) in qty.items():
                targets = assoc.get(k, [])
                if len(numbers) != len(targets):
                    problems.append(
                        (
                            header,
                            ",".join(numbers),
                            f"{len(numbers)} quantities for "
                            f"{len(targets)} products; give one quantity per product",
                        )
                    )
                    continue
                pairs = []
                for sku, n in zip(targets, numbers, strict=True):
                    if not n.isdigit() or int(n) < 1:
                        problems.append((header, n, "a quantity is a whole number of 1 or more"))
                        break
                    pairs.append({"sku": sku, "quantity": int(n)})
                assoc[k] = pairs
        key = item.get(self.ident, "")
        return RowResult(item, problems, media, assets, assoc, key)

    def _field(self, item: dict, col: Col, text: str) -> None:
        r = col.reading
        if r.before:
            text = tf.apply_text(r.before, text)
        name = col.code
        if name in LIST_FIELDS:
            item[name] = _split(text, r)
        elif name == "enabled":
            item[name] = _boolean(text, r)
        else:
            item[name] = text.strip()

    def empty_lists(self, item: dict) -> None:
        """A categories or groups column with an empty cell empties them."""
        for name in LIST_FIELDS:
            if name in self.fields_present and name not in item:
                item[name] = []


def clear_missing(plan: Plan, values: dict, existing: dict) -> None:
    """Add `data: null` for values the file speaks for (its columns) that the row leaves
    empty, and keep prices in currencies the file has no column for."""
    for code, old_entries in existing.items():
        where = plan.covered.get(code)
        if not where:
            continue
        new = {(e["locale"], e["scope"]): e for e in values.get(code, [])}
        for e in old_entries:
            k = (e["locale"], e["scope"])
            if k not in where:
                continue
            currencies = plan.covered_currencies.get((code, *k))
            if currencies is not None and isinstance(e["data"], list):
                kept = [p for p in e["data"] if p.get("currency") not in currencies]
                if k in new:
                    have = {p["currency"] for p in new[k]["data"]}
                    new[k]["data"] = sorted(
                        new[k]["data"] + [p for p in kept if p["currency"] not in have],
                        key=lambda p: p["currency"],
                    )
                    continue
                if kept:
                    values.setdefault(code, []).append({**e, "data": kept})
                    continue
            if k not in new:
                values.setdefault(code, []).append({"locale": k[0], "scope": k[1], "data": None})
