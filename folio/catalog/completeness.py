"""Completeness per channel × locale: the share of a family's required attributes that are
filled (floor(100 × filled / required), 100 when nothing is required).

Only attributes available in the locale count; a price needs every currency of the channel; a
measurement needs amount and unit. Computed from resolved (inherited) values on every product
write; after structure changes (requirements, channel locales) a batched job recomputes the
affected products, which show as stale meanwhile.
"""

from collections.abc import Callable

from folio.catalog import values as v

# Other domains add requirements of their own (linking: "a main image") without the catalog
# knowing them: a provider is called once per batch with (products, structure) and returns
# {(product_id, channel_code, locale): (required, filled, missing_codes)} to add to the rows.
Provider = Callable[[list, v.Structure], dict[tuple[int, str, str], tuple[int, int, list[str]]]]
EXTRA_REQUIREMENTS: list[Provider] = []


def register_requirements(provider: Provider) -> Provider:
    if provider not in EXTRA_REQUIREMENTS:
        EXTRA_REQUIREMENTS.append(provider)
    return provider


def extra_requirements(products: list, structure: v.Structure) -> dict:
    """Every provider's requirements for a batch of products, added together."""
    out: dict[tuple[int, str, str], tuple[int, int, list[str]]] = {}
    for provider in EXTRA_REQUIREMENTS:
        for key, (required, filled, missing) in (provider(products, structure) or {}).items():
            r, f, m = out.get(key, (0, 0, []))
            out[key] = (r + required, f + filled, [*m, *missing])
    return out


def compute(
    resolved: dict,
    family_id: int | None,
    structure: v.Structure,
    extra: dict[tuple[str, str], tuple[int, int, list[str]]] | None = None,
) -> list[dict]:
    """One row per (channel, locale) the product is measured in; `extra` maps
    (channel_code, locale) to a provider's (required, filled, missing) for this product."""
    rows = []
    requirements = structure.requirements.get(family_id, {}) if family_id else {}
    for channel_code, channel in structure.channels.items():
        required_codes = requirements.get(channel_code, ())
        for locale in sorted(channel["locales"]):
            required = filled = 0
            missing = []
            for code in required_codes:
                a = structure.attributes.get(code)
                if a is None or (a.available_locales and locale not in a.available_locales):
                    continue
                required += 1
                data = v.value_of(
                    resolved,
                    code,
                    locale if a.localizable else None,
                    channel_code if a.scopable else None,
                )
                if v.is_filled(a, data, channel["currencies"]):
                    filled += 1
                else:
                    missing.append(code)
            if extra and (channel_code, locale) in extra:
                more_required, more_filled, more_missing = extra[(channel_code, locale)]
                required += more_required
                filled += more_filled
                missing.extend(more_missing)
            rows.append(
                {
                    "channel_id": channel["id"],
                    "channel": channel_code,
                    "locale": locale,
                    "locale_id": structure.locale_ids[locale],
                    "required": required,
                    "filled": filled,
                    "ratio": 100 if required == 0 else (100 * filled) // required,
                    "missing": missing,
                }
            )
    return rows
