"""The demo catalog: the products of the article Folio grew from.

A stainless steel water bottle (two sizes × three colours as a two-level family variant,
English for the US store, German for the DE store) and the EspressoPro 3000 automatic coffee
machine (English US and French FR copy, a short marketplace title and a long web-shop
description). Built through the same service functions as the API, so the demo is also a
check that they work together. Idempotent: nothing is added when the catalog has products.
"""

from folio.catalog import services, structure
from folio.catalog.models import Channel, Currency, Locale, MeasurementFamily, Product

V = None  # readability: "no locale" / "no channel" in value entries


def _v(data, locale=V, scope=V):
    return {"locale": locale, "scope": scope, "data": data}


def seed(out) -> None:
    if Product.objects.exists() or Channel.objects.exists():
        return
    _structure()
    _products()
    out.write(
        f"Demo catalog: {Product.objects.count()} products (water bottle in 2 sizes × 3 colours, "
        "EspressoPro 3000 and accessories), channels webshop and marketplace\n"
    )


# German and French labels of the demo's attribute groups and attributes: the web shop
# sells in German and the marketplace in French, and their print sheets, feeds and editors
# show these labels in the channel's or the person's language.
TRANSLATED = {
    "marketing": ("Marketing", "Marketing"),
    "technical": ("Technik", "Technique"),
    "logistics": ("Logistik", "Logistique"),
    "media": ("Medien", "Médias"),
    "name": ("Name", "Nom"),
    "short_title": ("Kurztitel (Marktplätze)", "Titre court (places de marché)"),
    "description": ("Beschreibung", "Description"),
    "gtin": ("GTIN", "GTIN"),
    "brand": ("Marke", "Marque"),
    "price": ("Preis", "Prix"),
    "capacity": ("Fassungsvermögen", "Contenance"),
    "water_tank": ("Wassertank", "Réservoir d'eau"),
    "height": ("Höhe", "Hauteur"),
    "weight": ("Gewicht", "Poids"),
    "power": ("Leistung", "Puissance"),
    "pump_pressure": ("Pumpendruck", "Pression de la pompe"),
    "bpa_free": ("BPA-frei", "Sans BPA"),
    "dishwasher_safe": ("Spülmaschinenfest", "Passe au lave-vaisselle"),
    "release_date": ("Erscheinungsdatum", "Date de sortie"),
    "color": ("Farbe", "Couleur"),
    "size": ("Größe", "Taille"),
    "material": ("Material", "Matière"),
    "coffee_types": ("Kaffeesorten", "Types de café"),
    "features": ("Merkmale", "Caractéristiques"),
    "warranty_years": ("Garantie (Jahre)", "Garantie (années)"),
    "manual_url": ("Bedienungsanleitung (URL)", "Mode d'emploi (URL)"),
    "images": ("Bilder", "Images"),
    "descaler": ("Passender Entkalker", "Détartrant adapté"),
    "disposal_notice": ("Entsorgungshinweis (Deutschland)", "Consignes d'élimination (Allemagne)"),
}


def _labels(code: str, english: str) -> dict[str, str]:
    german, french = TRANSLATED[code]
    return {"en_US": english, "de_DE": german, "fr_FR": french}


def _structure() -> None:
    # Migrations seed these; a database restored or flushed without them gets them here.
    for code, label in (
        ("en_US", "English (US)"),
        ("de_DE", "German (Germany)"),
        ("fr_FR", "French (France)"),
    ):
        if not Locale.objects.filter(code=code).exists():
            structure.create_locale(code, label=label)
    for code, label in (("USD", "US dollar"), ("EUR", "Euro")):
        if not Currency.objects.filter(code=code).exists():
            structure.create_currency(code, label=label)
    if not MeasurementFamily.objects.filter(code="volume").exists():
        import importlib

        from django.apps import apps

        importlib.import_module("folio.catalog.migrations.0002_measurement_families").seed(
            apps, None
        )
    for code, labels in {
        "master": {"en_US": "All products", "de_DE": "Alle Produkte", "fr_FR": "Tous les produits"},
    }.items():
        structure.create_category(code, labels=labels)
    for code, parent, labels in [
        ("drinkware", "master", {"en_US": "Drinkware", "de_DE": "Trinkgefäße", "fr_FR": "Gourdes"}),
        (
            "water_bottles",
            "drinkware",
            {"en_US": "Water bottles", "de_DE": "Trinkflaschen", "fr_FR": "Bouteilles d'eau"},
        ),
        ("kitchen", "master", {"en_US": "Kitchen", "de_DE": "Küche", "fr_FR": "Cuisine"}),
        (
            "coffee_machines",
            "kitchen",
            {"en_US": "Coffee machines", "de_DE": "Kaffeemaschinen", "fr_FR": "Machines à café"},
        ),
        (
            "coffee_accessories",
            "kitchen",
            {"en_US": "Coffee accessories", "fr_FR": "Accessoires café"},
        ),
    ]:
        structure.create_category(code, parent=parent, labels=labels)
    structure.create_channel(
        "webshop",
        labels={"en_US": "Web shop"},
        kind="webshop",
        locales=["en_US", "de_DE"],
        currencies=["USD", "EUR"],
        territories=["US", "DE"],
        category_tree="master",
    )
    structure.create_channel(
        "marketplace",
        labels={"en_US": "Marketplace"},
        kind="marketplace",
        locales=["en_US", "fr_FR"],
        currencies=["USD", "EUR"],
        territories=["US", "FR"],
        category_tree="master",
    )
    for i, (code, label) in enumerate(
        [
            ("marketing", "Marketing"),
            ("technical", "Technical"),
            ("logistics", "Logistics"),
            ("media", "Media"),
        ]
    ):
        structure.create_attribute_group(code, labels=_labels(code, label), sort_order=i)

    def attr(code, type_, group, label, **settings):
        structure.create_attribute(
            code, type=type_, group=group, labels=_labels(code, label), **settings
        )

    attr("name", "text", "marketing", "Name", localizable=True, max_length=150)
    attr(
        "short_title",
        "text",
        "marketing",
        "Short title (marketplaces)",
        localizable=True,
        scopable=True,
        max_length=80,
    )
    attr(
        "description",
        "textarea",
        "marketing",
        "Description",
        localizable=True,
        scopable=True,
        rich_text=True,
    )
    attr("gtin", "identifier", "logistics", "GTIN", unique=True, is_gtin=True)
    attr("brand", "select", "marketing", "Brand")
    attr("price", "price", "marketing", "Price", negative_allowed=False)
    attr(
        "capacity",
        "measurement",
        "technical",
        "Capacity",
        measurement_family="volume",
        default_unit="MILLILITER",
        negative_allowed=False,
    )
    attr(
        "water_tank",
        "measurement",
        "technical",
        "Water tank",
        measurement_family="volume",
        default_unit="LITER",
        negative_allowed=False,
    )
    attr(
        "height",
        "measurement",
        "technical",
        "Height",
        measurement_family="length",
        default_unit="CENTIMETER",
        negative_allowed=False,
    )
    attr(
        "weight",
        "measurement",
        "logistics",
        "Weight",
        measurement_family="weight",
        default_unit="GRAM",
        negative_allowed=False,
    )
    attr(
        "power",
        "measurement",
        "technical",
        "Power",
        measurement_family="power",
        default_unit="WATT",
        negative_allowed=False,
    )
    attr(
        "pump_pressure",
        "measurement",
        "technical",
        "Pump pressure",
        measurement_family="pressure",
        default_unit="BAR",
        negative_allowed=False,
    )
    attr("bpa_free", "boolean", "technical", "BPA-free")
    attr("dishwasher_safe", "boolean", "technical", "Dishwasher safe")
    attr("release_date", "date", "marketing", "Release date")
    attr("color", "select", "marketing", "Colour")
    attr("size", "select", "marketing", "Size")
    attr("material", "multiselect", "technical", "Material")
    attr("coffee_types", "multiselect", "technical", "Coffee types")
    attr("features", "multiselect", "marketing", "Features")
    attr(
        "warranty_years",
        "number",
        "logistics",
        "Warranty (years)",
        decimals_allowed=False,
        negative_allowed=False,
        number_max=10,
    )
    attr("manual_url", "text", "media", "Manual (URL)", text_rule="url")
    attr("images", "asset_collection", "media", "Images")
    attr("descaler", "product_reference", "technical", "Matching descaler")
    attr(
        "disposal_notice",
        "text",
        "logistics",
        "Disposal notice (Germany)",
        localizable=True,
        available_locales=["de_DE"],
    )

    def options(code, pairs):
        structure.add_options(code, [{"code": c, "labels": labels} for c, labels in pairs])

    options(
        "brand", [("aqualine", {"en_US": "Aqualine"}), ("barista_pro", {"en_US": "BaristaPro"})]
    )
    options(
        "color",
        [
            ("black", {"en_US": "Black", "de_DE": "Schwarz", "fr_FR": "Noir"}),
            ("blue", {"en_US": "Blue", "de_DE": "Blau", "fr_FR": "Bleu"}),
            ("green", {"en_US": "Green", "de_DE": "Grün", "fr_FR": "Vert"}),
        ],
    )
    options("size", [("ml500", {"en_US": "500 ml"}), ("ml750", {"en_US": "750 ml"})])
    options(
        "material",
        [
            (
                "stainless_steel",
                {"en_US": "Stainless steel", "de_DE": "Edelstahl", "fr_FR": "Acier inoxydable"},
            ),
            ("bpa_free_plastic", {"en_US": "BPA-free plastic", "de_DE": "BPA-freier Kunststoff"}),
        ],
    )
    options(
        "coffee_types",
        [
            ("whole_beans", {"en_US": "Whole beans", "fr_FR": "Grains"}),
            ("ground_coffee", {"en_US": "Ground coffee", "fr_FR": "Moulu"}),
        ],
    )
    options(
        "features",
        [
            ("integrated_grinder", {"en_US": "Integrated grinder", "fr_FR": "Broyeur intégré"}),
            ("milk_frother", {"en_US": "Milk frother", "fr_FR": "Mousseur à lait"}),
            (
                "double_wall",
                {"en_US": "Double-walled insulation", "de_DE": "Doppelwandig isoliert"},
            ),
        ],
    )

    structure.create_family(
        "water_bottles",
        labels={"en_US": "Water bottles", "de_DE": "Trinkflaschen"},
        attributes=[
            "name",
            "short_title",
            "description",
            "gtin",
            "brand",
            "price",
            "capacity",
            "height",
            "weight",
            "bpa_free",
            "dishwasher_safe",
            "color",
            "size",
            "material",
            "features",
            "images",
            "disposal_notice",
        ],
        label_attribute="name",
        image_attribute="images",
        requirements={
            "webshop": ["name", "description", "price", "capacity", "disposal_notice"],
            "marketplace": ["name", "short_title", "price", "gtin"],
        },
    )
    structure.create_family(
        "coffee_machines",
        labels={"en_US": "Coffee machines", "fr_FR": "Machines à café"},
        attributes=[
            "name",
            "short_title",
            "description",
            "gtin",
            "brand",
            "price",
            "power",
            "pump_pressure",
            "water_tank",
            "weight",
            "material",
            "coffee_types",
            "features",
            "warranty_years",
            "manual_url",
            "release_date",
            "images",
            "descaler",
            "disposal_notice",
        ],
        label_attribute="name",
        image_attribute="images",
        requirements={
            "webshop": ["name", "description", "price", "power", "water_tank"],
            "marketplace": ["name", "short_title", "price", "gtin"],
        },
    )
    structure.create_family(
        "accessories",
        labels={"en_US": "Accessories"},
        attributes=["name", "short_title", "description", "gtin", "brand", "price", "weight"],
        label_attribute="name",
        requirements={"webshop": ["name", "price"], "marketplace": ["name", "price"]},
    )
    structure.create_family_variant(
        "water_bottles_by_size_color",
        family="water_bottles",
        labels={"en_US": "By size, then colour"},
        levels=[
            {"axes": ["size"], "attributes": ["capacity", "height", "weight", "price"]},
            {"axes": ["color"], "attributes": ["gtin"]},
        ],
    )
    structure.create_group(
        "winter_collection", labels={"en_US": "Winter Collection", "de_DE": "Winterkollektion"}
    )
    structure.create_association_type("X_SELL", labels={"en_US": "Cross-sell"})
    structure.create_association_type("UPSELL", labels={"en_US": "Upsell"})
    structure.create_association_type(
        "SUBSTITUTION", labels={"en_US": "Substitution"}, two_way=True
    )
    structure.create_association_type("PACK", labels={"en_US": "Pack"}, quantified=True)


BOTTLE_GTINS = {  # valid GS1 check digits
    ("ml500", "black"): "4006381000505",
    ("ml500", "blue"): "4006381000512",
    ("ml500", "green"): "4006381000529",
    ("ml750", "black"): "4006381000758",
    ("ml750", "blue"): "4006381000765",
    ("ml750", "green"): "4006381000772",
}


def _products() -> None:
    services.save_model(
        {
            "code": "WB-SS",
            "family_variant": "water_bottles_by_size_color",
            "categories": ["water_bottles"],
            "values": {
                "name": [
                    _v("Stainless Steel Water Bottle", "en_US"),
                    _v("Edelstahl-Trinkflasche", "de_DE"),
                ],
                "short_title": [
                    _v("Aqualine Steel Water Bottle, BPA-free", "en_US", "marketplace")
                ],
                "description": [
                    _v(
                        "<p>Double-walled, BPA-free stainless steel bottle that keeps drinks "
                        "cold for 24 hours.</p>",
                        "en_US",
                        "webshop",
                    ),
                    _v(
                        "<p>Doppelwandige, BPA-freie Edelstahlflasche – hält Getränke 24 Stunden "
                        "kalt.</p>",
                        "de_DE",
                        "webshop",
                    ),
                ],
                "brand": [_v("aqualine")],
                "bpa_free": [_v(True)],
                "dishwasher_safe": [_v(False)],
                "material": [_v(["stainless_steel"])],
                "features": [_v(["double_wall"])],
                "disposal_notice": [_v("Über den Wertstoffhof entsorgen.", "de_DE")],
            },
        },
        create=True,
    )
    for size, ml, height, price in (
        ("ml500", "500", "21", ("19.90", "18.90")),
        ("ml750", "750", "25", ("24.90", "22.90")),
    ):
        services.save_model(
            {
                "code": f"WB-{ml}-SS",
                "parent": "WB-SS",
                "values": {
                    "size": [_v(size)],
                    "capacity": [_v({"amount": ml, "unit": "MILLILITER"})],
                    "height": [_v({"amount": height, "unit": "CENTIMETER"})],
                    "weight": [_v({"amount": "320" if ml == "500" else "410", "unit": "GRAM"})],
                    "price": [
                        _v(
                            [
                                {"amount": price[0], "currency": "USD"},
                                {"amount": price[1], "currency": "EUR"},
                            ]
                        )
                    ],
                },
            },
            create=True,
        )
    items = []
    for size, ml in (("ml500", "500"), ("ml750", "750")):
        for color in ("black", "blue", "green"):
            values = {"color": [_v(color)]}
            # The green 500 ml bottle has no GTIN yet: incomplete for the marketplace.
            if (size, color) != ("ml500", "green"):
                values["gtin"] = [_v(BOTTLE_GTINS[(size, color)])]
            items.append(
                {
                    "sku": f"WB-{ml}-SS-{color.upper()}",
                    "parent": f"WB-{ml}-SS",
                    "values": values,
                    "groups": ["winter_collection"],
                }
            )
    items += [
        {
            "sku": "EP-DESCALER",
            "family": "accessories",
            "categories": ["coffee_accessories"],
            "values": {
                "name": [
                    _v("EspressoPro descaler, 2 × 250 ml", "en_US"),
                    _v("Détartrant EspressoPro, 2 × 250 ml", "fr_FR"),
                ],
                "price": [
                    _v(
                        [
                            {"amount": "14.90", "currency": "USD"},
                            {"amount": "13.90", "currency": "EUR"},
                        ]
                    )
                ],
                "brand": [_v("barista_pro")],
            },
        },
        {
            "sku": "EP-3000",
            "family": "coffee_machines",
            "categories": ["coffee_machines"],
            "values": {
                "name": [_v("EspressoPro 3000", "en_US"), _v("EspressoPro 3000", "fr_FR")],
                "short_title": [
                    _v(
                        "EspressoPro 3000 Automatic Espresso Machine with Grinder",
                        "en_US",
                        "marketplace",
                    ),
                    _v(
                        "EspressoPro 3000 machine expresso automatique avec broyeur",
                        "fr_FR",
                        "marketplace",
                    ),
                ],
                "description": [
                    _v(
                        "<p>The EspressoPro 3000 grinds whole beans fresh for every cup with its "
                        "integrated conical grinder, extracts at 15 bar and froths milk for "
                        "cappuccino and latte. Its 2 L tank and stainless steel housing are made "
                        "for daily use; ground coffee works too.</p>",
                        "en_US",
                        "webshop",
                    ),
                ],
                "brand": [_v("barista_pro")],
                "price": [
                    _v(
                        [
                            {"amount": "799.00", "currency": "USD"},
                            {"amount": "749.00", "currency": "EUR"},
                        ]
                    )
                ],
                "power": [_v({"amount": "1450", "unit": "WATT"})],
                "pump_pressure": [_v({"amount": "15", "unit": "BAR"})],
                "water_tank": [_v({"amount": "2", "unit": "LITER"})],
                "material": [_v(["stainless_steel"])],
                "coffee_types": [_v(["whole_beans", "ground_coffee"])],
                "features": [_v(["integrated_grinder", "milk_frother"])],
                "warranty_years": [_v(2)],
                "release_date": [_v("2026-03-01")],
                "gtin": [_v("4006381003001")],
                "descaler": [_v("EP-DESCALER")],
                "manual_url": [_v("https://example.com/manuals/espressopro-3000.pdf")],
            },
            "associations": {
                "X_SELL": {"products": ["EP-DESCALER"]},
                "PACK": {"products": [{"sku": "EP-DESCALER", "quantity": 2}]},
            },
        },
    ]
    for line in services.bulk_upsert(items):
        if line["status"] == "error":
            raise RuntimeError(f"demo product {line['sku']} was refused: {line['message']}")
