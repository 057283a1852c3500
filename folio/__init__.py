"""Folio: product information management with built-in digital asset management."""

__version__ = "0.1.0"
