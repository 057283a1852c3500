"""Completeness per channel × locale: the share of a family's required attributes that are
filled (floor(100 × filled / required), 100 when nothing is required).

Only attributes available in the locale count; a price needs every currency of the channel; a
measurement needs amount and unit. Computed from resolved (inherited) values on every product
write; after structure changes (requirements, channel locales) a batched job recomputes the
affected products, which show as stale meanwhile.
"""

from folio.catalog import values as v


def compute(resolved: dict, family_id: int | None, structure: v.Structure) -> list[dict]:
    """One row per (channel, locale) the product is measured in."""
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
