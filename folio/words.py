"""What people read, written as they write it: counted nouns, and amounts and prices in the
conventions of a catalog locale (Babel's CLDR data: "$1,799.50", "1.799,50 €", "1,5 l")."""

import functools
from decimal import Decimal, InvalidOperation

from babel import Locale, UnknownLocaleError
from babel.numbers import format_currency, format_decimal


def counted(n: int, singular: str, plural: str | None = None) -> str:
    """The count with its noun, e.g. 1 product, 1,250 products: people read these messages, and
    "product(s)" reads as unfinished. The words may carry their verb: "product has"."""
    words = singular if n == 1 else (plural if plural is not None else singular + "s")
    return f"{n:,} {words}"


@functools.cache
def _babel_locale(code: str | None) -> Locale | None:
    # Catalog locales are codes people create ("en_US", "de_CH", or one of their own);
    # one CLDR does not know is written in the neutral form rather than refused.
    if not code:
        return None
    try:
        return Locale.parse(code)
    except (UnknownLocaleError, ValueError, TypeError):
        return None


def _decimal(value) -> Decimal | None:
    try:
        d = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    if not d.is_finite():
        return None
    # "750.000" and "750", "1.50" and "1.5" are the same amounts; people read the short form.
    return d.quantize(Decimal(1)) if d == d.to_integral() else d.normalize()


# A feed formats the values of every product it lists, and catalogs repeat their prices and
# sizes: Babel's formatting (6–12 µs a call) is done once per distinct value.
@functools.lru_cache(maxsize=4096)
def _amount(text: str, locale: str | None) -> str:
    d = _decimal(text)
    if d is None:
        return text
    loc = _babel_locale(locale)
    if loc is None:
        return format(d, "f")
    return format_decimal(d, locale=loc, decimal_quantization=False)


@functools.lru_cache(maxsize=4096)
def _money(text: str, currency: str, locale: str | None) -> str:
    d = _decimal(text)
    loc = _babel_locale(locale)
    if d is None or loc is None:
        return f"{text} {currency}".strip()
    if not currency:
        return _amount(text, locale)
    return format_currency(d, currency, locale=loc, decimal_quantization=False)


def amount(value, locale: str | None = None) -> str:
    """A number as `locale` writes it, in its shortest exact form: "1,500.25" (en_US),
    "1.500,25" (de_DE); "1500.25" without a locale CLDR knows. What is not a number comes
    back as given."""
    return _amount(str(value), locale)


def money(value, currency: str, locale: str | None = None) -> str:
    """A price as `locale` writes it: "$24.90" (en_US), "24,90 €" (de_DE), with at least the
    currency's minor digits and every one given. Without a locale CLDR knows, or for what is
    not a number, the stored amount and the code: "24.90 EUR"."""
    return _money(str(value), currency or "", locale)
