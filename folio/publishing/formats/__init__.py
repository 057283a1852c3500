"""Feed formats by code. Each lives in its own module; see base.py for the contract."""

from django.utils.module_loading import import_string

from folio.errors import InvalidInput
from folio.publishing.formats.base import Format

FORMATS = {
    "google-xml": "folio.publishing.formats.google.GoogleXml",
    "google-tsv": "folio.publishing.formats.google.GoogleTsv",
    "amazon-json": "folio.publishing.formats.amazon.AmazonJson",
    "shopify-csv": "folio.publishing.formats.shopify.ShopifyCsv",
    "jsonld": "folio.publishing.formats.jsonld.JsonLd",
    "json": "folio.publishing.formats.generic.Json",
    "csv": "folio.publishing.formats.generic.Csv",
    "pdf": "folio.publishing.formats.pdf.Pdf",
}


def get_format(code: str) -> Format:
    if code not in FORMATS:
        raise InvalidInput(
            f"unknown feed format {code!r}; one of {', '.join(FORMATS)}",
            details={"field": "format", "value": code},
        )
    return import_string(FORMATS[code])()
