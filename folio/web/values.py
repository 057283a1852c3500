"""Product values in forms: what an input shows for a stored value, and the value document
entry a submitted input stands for.

Only the translation between form fields and the value document lives here; checking values
is the catalog services' job (folio.catalog.values), whose InvalidInput details the pages show
next to each field.
"""

import html

from django.utils.html import strip_tags
from django.utils.translation import gettext as _

from folio.catalog import values as v
from folio.catalog.models import Attribute
from folio.linking.sku360 import applies, format_value, load_attributes

T = Attribute.Type
TEXTUAL = (T.TEXT, T.IDENTIFIER, T.TEXTAREA, T.PRODUCT_REFERENCE, T.DATE, T.NUMBER)


def load(codes) -> dict[str, Attribute]:
    """Attributes with group, units, options and the locales they are limited to (3 queries)."""
    attributes = load_attributes(codes)
    limited: dict[int, set[str]] = {}
    for attribute_id, locale in Attribute.available_locales.through.objects.filter(
        attribute_id__in=[a.pk for a in attributes.values()]
    ).values_list("attribute_id", "locale__code"):
        limited.setdefault(attribute_id, set()).add(locale)
    for a in attributes.values():
        a.available_locales_codes = frozenset(limited.get(a.pk, ()))
    return attributes


def where(attribute: Attribute, *, channel: str, locale: str) -> tuple[str | None, str | None]:
    """(locale, scope) of the value an input edits in this channel/locale context."""
    return (locale if attribute.localizable else None, channel if attribute.scopable else None)


def units(attribute: Attribute) -> list[tuple[str, str]]:
    family = attribute.measurement_family
    known = (family.units or {}) if family else {}
    allowed = attribute.allowed_units or list(known)
    return [(u, known[u].get("symbol") or u) for u in allowed if u in known]


def options(attribute: Attribute, locale: str) -> list[tuple[str, str]]:
    return [
        (code, labels.get(locale, "") or labels.get("en_US", "") or code)
        for code, labels in attribute.option_labels.items()  # from sku360.load_attributes
    ]


def shown(attribute: Attribute, data, currencies: list[str]):
    """What the inputs of `attribute` show for stored `data` (comparable with `posted`)."""
    t = attribute.type
    if t == T.MEASUREMENT:
        data = data or {}
        return (
            str(data.get("amount") or ""),
            str(data.get("unit") or attribute.default_unit or ""),
        )
    if t == T.PRICE:
        amounts = {p.get("currency"): str(p.get("amount")) for p in (data or [])}
        return tuple((c, amounts.get(c, "")) for c in currencies)
    if t == T.BOOLEAN:
        return "true" if data is True else "false" if data is False else ""
    if t == T.MULTISELECT:
        return tuple(sorted(data or []))
    if t == T.ASSET_COLLECTION:
        return ", ".join(str(x) for x in (data or []))
    return "" if data is None else str(data)


def posted(attribute: Attribute, post, name: str, currencies: list[str]):
    """The same shape as `shown`, read from a submitted form."""
    t = attribute.type
    if t == T.MEASUREMENT:
        amount = (post.get(f"{name}.amount") or "").strip()
        return (amount, (post.get(f"{name}.unit") or "").strip())
    if t == T.PRICE:
        return tuple((c, (post.get(f"{name}.{c}") or "").strip()) for c in currencies)
    if t == T.MULTISELECT:
        return tuple(sorted(x for x in post.getlist(name) if x))
    if t == T.TEXTAREA:
        return (post.get(name) or "").strip("\r\n")
    return (post.get(name) or "").strip()


def to_data(attribute: Attribute, value):
    """A posted representation → the data of a value entry (None removes the value)."""
    t = attribute.type
    if t == T.MEASUREMENT:
        amount, unit = value
        return {"amount": amount, "unit": unit} if amount else None
    if t == T.PRICE:
        prices = [{"amount": amount, "currency": c} for c, amount in value if amount]
        return prices or None
    if t == T.BOOLEAN:
        return {"true": True, "false": False}.get(value)
    if t == T.MULTISELECT:
        return list(value) or None
    if t == T.ASSET_COLLECTION:
        return [x.strip() for x in value.split(",") if x.strip()] or None
    return value if value != "" else None


def patch_from_form(
    attributes: dict[str, Attribute],
    editable: list[str],
    post,
    current: dict,
    *,
    channel: str,
    locale: str,
    currencies: list[str],
) -> dict:
    """The values PATCH for what changed in the form: only inputs that were on the page
    (marked by a hidden `present` field) and whose content differs from the stored value."""
    on_page = set(post.getlist("present"))
    patch: dict[str, list] = {}
    for code in editable:
        if code not in on_page:
            continue
        a = attributes[code]
        loc, scope = where(a, channel=channel, locale=locale)
        before = shown(a, v.value_of(current, code, loc, scope), currencies)
        after = posted(a, post, f"v.{code}", currencies)
        if before != after:
            patch[code] = [{"locale": loc, "scope": scope, "data": to_data(a, after)}]
    return patch


def display(attribute: Attribute, entries: list[dict], *, channel: str, locale: str) -> list[dict]:
    """The values that apply in this context, formatted for people, each with its where."""
    out = []
    for e in entries:
        if applies(e, channel=channel, locale=locale):
            text = format_value(attribute, e["data"], e.get("locale") or locale)
            if attribute.type == T.TEXTAREA and attribute.rich_text:
                # Sanitized HTML is stored; a page lists it as the words people read.
                text = html.unescape(strip_tags(text))
            out.append(
                {
                    "text": text,
                    "locale": e.get("locale"),
                    "scope": e.get("scope"),
                }
            )
    return out


def sort_key(a: Attribute):
    return (
        a.group.sort_order if a.group_id else 10**6,
        a.group.code if a.group_id else "",
        a.sort_order,
        a.code,
    )


def sections(
    attributes: dict[str, Attribute],
    resolved: dict,
    origins: dict[str, str],
    *,
    editable: set[str],
    channel: str,
    locale: str,
    currencies: list[str],
    origin_urls: dict[str, str] | None = None,
    owners: dict[str, str] | None = None,
    post=None,
    errors: dict[str, list[str]] | None = None,
) -> list[dict]:
    """Attribute groups in order (as the SKU 360 shows them), each row with its values for
    this context, where they come from, and the input when the page may edit it."""
    groups: dict[str, dict] = {}
    errors = errors or {}
    for a in sorted(attributes.values(), key=sort_key):
        group = groups.setdefault(
            a.group.code if a.group_id else "",
            {
                "code": a.group.code if a.group_id else "other",
                "label": a.group.label(locale) if a.group_id else _("Other"),
                "rows": [],
            },
        )
        origin = origins.get(a.code)
        loc, scope = where(a, channel=channel, locale=locale)
        available = not (a.localizable and a.available_locales_codes) or (
            locale in a.available_locales_codes
        )
        may_edit = a.code in editable and origin in (None, "self") and available
        row = {
            "code": a.code,
            "label": a.label(locale),
            "type": a.type,
            "origin": origin,
            "origin_url": (origin_urls or {}).get(origin or ""),
            "owner": (owners or {}).get(a.code),
            "localizable": a.localizable,
            "scopable": a.scopable,
            "where": " · ".join(x for x in (loc, scope) if x),
            "values": display(a, resolved.get(a.code, []), channel=channel, locale=locale),
            "editable": may_edit,
            "unavailable": not available,
            "errors": errors.get(a.code, []),
        }
        if may_edit:
            data = v.value_of(resolved, a.code, loc, scope)
            value = (
                posted(a, post, f"v.{a.code}", currencies)
                if post is not None and a.code in post.getlist("present")
                else shown(a, data, currencies)
            )
            row["input"] = {
                "name": f"v.{a.code}",
                "id": f"v-{a.code}",
                "value": value,
                "options": options(a, locale) if a.type in (T.SELECT, T.MULTISELECT) else [],
                "units": units(a) if a.type == T.MEASUREMENT else [],
                "currencies": currencies,
                "max_length": a.max_length,
            }
        group["rows"].append(row)
    return list(groups.values())
