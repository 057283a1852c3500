"""Seed the measurement families every catalog needs, and the usual locales and currencies.

Conversions: amount_in_standard = amount × factor + offset. Factors are exact decimal strings
where the definition is exact (inch, pound, US gallon…); 5/9 for Fahrenheit cannot be, so it
carries more digits than any product value will ever use.
"""

from django.db import migrations


def _u(symbol, factor, label, offset="0"):
    return {"symbol": symbol, "factor": factor, "offset": offset, "labels": {"en_US": label}}


FAMILIES = {
    "length": (
        "Length",
        "METER",
        {
            "MILLIMETER": _u("mm", "0.001", "Millimeter"),
            "CENTIMETER": _u("cm", "0.01", "Centimeter"),
            "METER": _u("m", "1", "Meter"),
            "KILOMETER": _u("km", "1000", "Kilometer"),
            "INCH": _u("in", "0.0254", "Inch"),
            "FOOT": _u("ft", "0.3048", "Foot"),
        },
    ),
    "weight": (
        "Weight",
        "KILOGRAM",
        {
            "MILLIGRAM": _u("mg", "0.000001", "Milligram"),
            "GRAM": _u("g", "0.001", "Gram"),
            "KILOGRAM": _u("kg", "1", "Kilogram"),
            "OUNCE": _u("oz", "0.028349523125", "Ounce"),
            "POUND": _u("lb", "0.45359237", "Pound"),
        },
    ),
    "volume": (
        "Volume",
        "LITER",
        {
            "MILLILITER": _u("ml", "0.001", "Milliliter"),
            "CENTILITER": _u("cl", "0.01", "Centiliter"),
            "LITER": _u("L", "1", "Liter"),
            "CUBIC_METER": _u("m³", "1000", "Cubic meter"),
            "FLUID_OUNCE_US": _u("fl oz", "0.0295735295625", "Fluid ounce (US)"),
            "GALLON_US": _u("gal", "3.785411784", "Gallon (US)"),
        },
    ),
    "power": (
        "Power",
        "WATT",
        {
            "WATT": _u("W", "1", "Watt"),
            "KILOWATT": _u("kW", "1000", "Kilowatt"),
            # Mechanical horsepower: 550 ft·lbf/s.
            "HORSEPOWER": _u("hp", "745.69987158227022", "Horsepower"),
        },
    ),
    "pressure": (
        "Pressure",
        "PASCAL",
        {
            "PASCAL": _u("Pa", "1", "Pascal"),
            "KILOPASCAL": _u("kPa", "1000", "Kilopascal"),
            "BAR": _u("bar", "100000", "Bar"),
            "PSI": _u("psi", "6894.757293168361", "Pound per square inch"),
        },
    ),
    "temperature": (
        "Temperature",
        "KELVIN",
        {
            "CELSIUS": _u("°C", "1", "Degree Celsius", offset="273.15"),
            # K = (°F + 459.67) × 5/9
            "FAHRENHEIT": _u(
                "°F",
                "0.55555555555555555556",
                "Degree Fahrenheit",
                offset="255.37222222222222222222",
            ),
            "KELVIN": _u("K", "1", "Kelvin"),
        },
    ),
    "time": (
        "Time",
        "SECOND",
        {
            "MILLISECOND": _u("ms", "0.001", "Millisecond"),
            "SECOND": _u("s", "1", "Second"),
            "MINUTE": _u("min", "60", "Minute"),
            "HOUR": _u("h", "3600", "Hour"),
            "DAY": _u("d", "86400", "Day"),
        },
    ),
    "electric_current": (
        "Electric current",
        "AMPERE",
        {
            "MILLIAMPERE": _u("mA", "0.001", "Milliampere"),
            "AMPERE": _u("A", "1", "Ampere"),
        },
    ),
    "voltage": (
        "Voltage",
        "VOLT",
        {
            "MILLIVOLT": _u("mV", "0.001", "Millivolt"),
            "VOLT": _u("V", "1", "Volt"),
            "KILOVOLT": _u("kV", "1000", "Kilovolt"),
        },
    ),
    "energy": (
        "Energy",
        "JOULE",
        {
            "JOULE": _u("J", "1", "Joule"),
            "WATT_HOUR": _u("Wh", "3600", "Watt hour"),
            "KILOWATT_HOUR": _u("kWh", "3600000", "Kilowatt hour"),
        },
    ),
}

LOCALES = {
    "en_US": "English (United States)",
    "en_GB": "English (United Kingdom)",
    "de_DE": "German (Germany)",
    "fr_FR": "French (France)",
    "es_ES": "Spanish (Spain)",
    "it_IT": "Italian (Italy)",
    "nl_NL": "Dutch (Netherlands)",
}

CURRENCIES = {"USD": "US dollar", "EUR": "Euro", "GBP": "Pound sterling"}


def _alias(schema_editor) -> str:
    # Tests call seed(apps, None) to seed again after a flush: then the default database.
    return schema_editor.connection.alias if schema_editor is not None else "default"


def seed(apps, schema_editor):
    MeasurementFamily = apps.get_model("catalog", "MeasurementFamily")
    Locale = apps.get_model("catalog", "Locale")
    Currency = apps.get_model("catalog", "Currency")
    # get_or_create: a database that already has one of these keeps the operator's version.
    for code, (label, standard, units) in FAMILIES.items():
        MeasurementFamily.objects.using(_alias(schema_editor)).get_or_create(
            code=code,
            defaults={"labels": {"en_US": label}, "standard_unit": standard, "units": units},
        )
    for code, label in LOCALES.items():
        Locale.objects.using(_alias(schema_editor)).get_or_create(
            code=code, defaults={"label": label}
        )
    for code, label in CURRENCIES.items():
        Currency.objects.using(_alias(schema_editor)).get_or_create(
            code=code, defaults={"label": label}
        )


def unseed(apps, schema_editor):
    # Only what nothing uses yet; anything in use is the operator's data by now.
    apps.get_model("catalog", "MeasurementFamily").objects.using(
        schema_editor.connection.alias
    ).filter(code__in=list(FAMILIES), attributes__isnull=True).delete()
    apps.get_model("catalog", "Locale").objects.using(_alias(schema_editor)).filter(
        code__in=list(LOCALES), channels__isnull=True
    ).delete()
    apps.get_model("catalog", "Currency").objects.using(_alias(schema_editor)).filter(
        code__in=list(CURRENCIES), channels__isnull=True
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("catalog", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
