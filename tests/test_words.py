from folio.words import counted


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
