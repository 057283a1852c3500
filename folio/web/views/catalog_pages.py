"""What the product page and the product model page share: which attributes the page may edit
(the variant level's own, as the catalog services decide), the variant navigator, the
completeness panel and the history with its diffs."""

from django.db.models import Q
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from folio.catalog import services as catalog
from folio.catalog import values as v
from folio.catalog.models import FamilyVariantAttribute, Product, ProductModel
from folio.linking.completeness import missing_code
from folio.linking.sku360 import format_value
from folio.web import values

HISTORY_SHOWN = 20


def model_url(code: str, **params) -> str:
    url = reverse("web:model", args=[code])
    return url + ("?" + urlencode(params) if params else "")


def product_url(sku: str, **params) -> str:
    url = reverse("web:product", args=[sku])
    kept = {k: val for k, val in params.items() if val}
    return url + ("?" + urlencode(kept) if kept else "")


def product_editable(product: Product, structure: v.Structure) -> tuple[set[str], dict[str, str]]:
    """(codes this product holds itself, {code: model that holds it} for the others).

    The rules are the catalog services': a variant holds the attributes of its variant level,
    its models the others; a product without a model holds its family's attributes."""
    if product.parent_id:
        # The same rule prepare_product applies; asked of the services, not re-implemented.
        allowed, _wrong, _axes, depth = catalog._variant_rules(product.parent, structure)
        chain = catalog.model_chain(product)
        levels = structure.variant_levels.get(product.parent.family_variant_id, {})
        owners = {
            code: chain[lvl].code
            for code, (lvl, _axis) in levels.items()
            if lvl < depth and lvl < len(chain)
        }
        family_attrs = structure.family_attributes.get(product.family_id, frozenset())
        for code in family_attrs - set(levels):
            owners.setdefault(code, chain[0].code)  # level 0: the root model
        return set(allowed), owners
    if product.family_id:
        return set(structure.family_attributes.get(product.family_id, frozenset())), {}
    return set(product.values), {}


def model_editable(model: ProductModel, structure: v.Structure) -> tuple[set[str], dict, tuple]:
    level = 0 if model.parent_id is None else 1
    own, _wrong, axes = catalog._model_rules(model.family_variant, level, structure)
    owners = {}
    if model.parent_id:
        levels = structure.variant_levels.get(model.family_variant_id, {})
        family_attrs = structure.family_attributes.get(model.family_variant.family_id, frozenset())
        for code in family_attrs | set(levels):
            if levels.get(code, (0, False))[0] == 0:
                owners[code] = model.parent.code
    return set(own), owners, axes


def axis_levels(family_variant_id: int) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for level, code in (
        FamilyVariantAttribute.objects.filter(family_variant_id=family_variant_id, is_axis=True)
        .order_by("level", "attribute__code")
        .values_list("level", "attribute__code")
    ):
        out.setdefault(level, []).append(code)
    return out


def variant_tree(root: ProductModel, *, current: str, locale: str) -> dict:
    """The root model, its sub-models and the variants below, each named by its axis values.
    Five queries whatever the number of variants."""
    axes = axis_levels(root.family_variant_id)
    attributes = values.load({c for codes in axes.values() for c in codes})

    def axis_text(doc: dict, level: int) -> str:
        return ", ".join(
            format_value(attributes.get(c), v.value_of(doc, c, None, None), locale) or "—"
            for c in axes.get(level, [])
        )

    subs = list(ProductModel.objects.filter(parent=root).order_by("code"))
    variants = list(
        Product.objects.filter(Q(parent=root) | Q(parent__parent=root))
        .only("sku", "parent_id", "values", "enabled")
        .order_by("sku")
    )
    depth = max(axes, default=1)
    by_parent: dict[int, list[dict]] = {}
    for p in variants:
        by_parent.setdefault(p.parent_id, []).append(
            {
                "key": p.sku,
                "url": reverse("web:product", args=[p.sku]),
                "axes": axis_text(p.values, depth),
                "enabled": p.enabled,
                "current": p.sku == current,
            }
        )
    return {
        "key": root.code,
        "url": model_url(root.code),
        "current": root.code == current,
        "children": [
            {
                "key": s.code,
                "url": model_url(s.code),
                "axes": axis_text(s.values, 1),
                "current": s.code == current,
                "variants": by_parent.get(s.pk, []),
            }
            for s in subs
        ],
        "variants": by_parent.get(root.pk, []),
        "count": len(variants),
    }


def completeness_panel(
    rows: list[dict], attributes: dict, *, sku: str, owners: dict[str, str] | None = None
) -> list[dict]:
    """Completeness rows with each missing item linked to the field (or role slot) to fill:
    on this page, or on the product model that holds the attribute."""
    owners = owners or {}
    out = []
    for r in rows:
        missing = []
        for code in r["missing"]:
            params = {"channel": r["channel"], "locale": r["locale"]}
            if code.startswith(missing_code("")):
                role = code[len(missing_code("")) :]
                missing.append(
                    {
                        "code": code,
                        "label": _("%(role)s image") % {"role": role},
                        "url": product_url(sku, **params) + f"#media-{role}",
                    }
                )
            else:
                a = attributes.get(code)
                owner = owners.get(code)
                page = model_url(owner, **params) if owner else product_url(sku, **params)
                missing.append(
                    {
                        "code": code,
                        "label": a.label(r["locale"]) if a else code,
                        "url": f"{page}#attr-{code}",
                        "owner": owner,
                    }
                )
        out.append({**r, "missing_items": missing})
    return out


def history_rows(changes: list, attributes: dict, *, locale: str) -> list[dict]:
    """History entries with each change as label, where, old → new (formatted)."""
    out = []
    for c in changes:
        items = []
        for ch in c.changes:
            if not isinstance(ch, dict):
                continue
            if ch.get("field") == "values":
                a = attributes.get(ch.get("attribute"))
                items.append(
                    {
                        "label": a.label(locale) if a else ch.get("attribute"),
                        "where": " · ".join(x for x in (ch.get("locale"), ch.get("scope")) if x),
                        "old": format_value(a, ch.get("old"), ch.get("locale") or locale),
                        "new": format_value(a, ch.get("new"), ch.get("locale") or locale),
                    }
                )
            elif ch.get("field") == "restored_version":
                items.append(
                    {"label": _("restored version"), "where": "", "old": "", "new": str(ch["new"])}
                )
            else:
                items.append(
                    {
                        "label": str(ch.get("field")),
                        "where": "",
                        "old": _plain(ch.get("old")),
                        "new": _plain(ch.get("new")),
                    }
                )
        out.append(
            {
                "version": c.version,
                "at": c.at,
                "user": c.username or _("system"),
                "via": c.via,
                "action": c.action,
                "items": items,
            }
        )
    return out


def _plain(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, list):
        return ", ".join(str(x) for x in value)
    return str(value)


def history_codes(changes: list) -> set[str]:
    return {
        ch.get("attribute")
        for c in changes
        for ch in c.changes
        if isinstance(ch, dict) and ch.get("attribute")
    }
