"""The demo catalog that `make run` seeds: built through the services, as the issue asks."""

import io

from folio import demo
from folio.catalog import services
from folio.catalog.models import (
    Attribute,
    AttributeGroup,
    Completeness,
    FamilyVariantAttribute,
    Product,
)


def test_demo_catalog_covers_the_model(db):
    out = io.StringIO()
    demo.seed(out)
    assert "Demo catalog: 8 products" in out.getvalue()
    used_types = {a.type for a in Attribute.objects.all()}
    assert used_types == set(Attribute.Type.values)
    # the web shop sells in German, the marketplace in French: their editors, sheets and
    # feeds name every attribute and group in that language
    for thing in [*Attribute.objects.all(), *AttributeGroup.objects.all()]:
        assert set(thing.labels) >= {"en_US", "de_DE", "fr_FR"}, thing.code
    assert Attribute.objects.get(code="capacity").labels["de_DE"] == "Fassungsvermögen"
    assert (
        FamilyVariantAttribute.objects.filter(family_variant__code="water_bottles_by_size_color")
        .values("level")
        .distinct()
        .count()
        == 2
    )
    bottle = services.get_product("WB-750-SS-BLUE")
    values = services.resolved_values(bottle)
    assert values["capacity"][0]["data"] == {"amount": "750", "unit": "MILLILITER"}
    assert {e["locale"] for e in values["name"]} == {"en_US", "de_DE"}
    machine = services.get_product("EP-3000")
    assert {e["locale"] for e in machine.values["name"]} == {"en_US", "fr_FR"}
    ratios = {
        (c.channel.code, c.locale.code): c.ratio
        for c in Completeness.objects.filter(product=machine).select_related("channel", "locale")
    }
    assert ratios[("webshop", "en_US")] == 100 and ratios[("webshop", "de_DE")] < 100
    green = Completeness.objects.get(
        product__sku="WB-500-SS-GREEN", channel__code="marketplace", locale__code="en_US"
    )
    assert green.missing == ["gtin"]
    # seeding again adds nothing
    demo.seed(io.StringIO())
    assert Product.objects.count() == 8
