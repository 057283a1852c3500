from decimal import Decimal

import pytest

from folio.words import amount, counted, money


def test_counted_says_one_in_the_singular_and_any_other_number_in_the_plural():
    assert counted(1, "product") == "1 product"
    assert counted(0, "product") == "0 products"
    assert counted(2, "product") == "2 products"


def test_counted_separates_thousands():
    assert counted(1250, "product") == "1,250 products"


def test_counted_takes_an_irregular_plural_and_its_verb():
    assert counted(1, "product has", "products have") == "1 product has"
    assert counted(3, "product has", "products have") == "3 products have"
    assert counted(2, "more problem") == "2 more problems"


@pytest.mark.parametrize(
    ("locale", "usd", "eur"),
    [
        ("en_US", "$1,799.50", "€24.90"),
        ("de_DE", "1.799,50\xa0$", "24,90\xa0€"),
        # French groups thousands with a narrow no-break space and names the dollar
        ("fr_FR", "1\u202f799,50\xa0$US", "24,90\xa0€"),
    ],
)
def test_money_is_written_as_the_locale_writes_it(locale, usd, eur):
    assert money("1799.5", "USD", locale) == usd
    assert money(Decimal("24.90"), "EUR", locale) == eur


def test_money_keeps_every_digit_given_and_the_currency_minor_digits():
    assert money("24.999", "USD", "en_US") == "$24.999"  # never rounded away
    assert money("749", "EUR", "en_US") == "€749.00"
    assert money("500", "JPY", "en_US") == "¥500"  # the yen has no minor unit


def test_money_without_a_locale_cldr_knows_is_the_stored_amount_and_its_code():
    assert money("24.90", "EUR", None) == "24.90 EUR"
    assert money("24.90", "EUR", "xx_YY") == "24.90 EUR"  # a locale code of the team's own
    assert money("about 25", "EUR", "en_US") == "about 25 EUR"  # not a number: as given


def test_amount_is_short_exact_and_grouped_as_the_locale_writes_it():
    assert amount("750.000", "en_US") == "750"
    assert amount("1.50", "de_DE") == "1,5"
    assert amount(1450, "en_US") == "1,450" and amount(1450, "de_DE") == "1.450"
    assert amount("1234567.125", "en_US") == "1,234,567.125"
    assert amount("1E+3", None) == "1000"  # never scientific notation
    assert amount("n/a", "en_US") == "n/a"
