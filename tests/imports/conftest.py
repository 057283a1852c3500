"""Helpers for import tests: write real files, run real imports against the test database."""

from pathlib import Path

import pytest

from folio.imports.importer import Importer, run_to_end
from folio.imports.sources import open_source


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def run_import(path, *, media_dir=None, **options) -> Importer:
    source = open_source(path, media_dir=media_dir)
    importer = Importer(source, **options)
    try:
        importer.outcome = run_to_end(importer)
    finally:
        source.cleanup()
    return importer


def problems(importer, severity="error") -> list[dict]:
    return [p for p in importer.report.problems if p["severity"] == severity]


def counts(importer, file: str | None = None) -> dict:
    for f in importer.report.files:
        if file is None or f["file"] == file:
            return f
    raise AssertionError(f"no counts for {file}: {importer.report.files}")


@pytest.fixture
def files(tmp_path):
    """files("products.csv", "sku;family\\n…") → the path of a file written in tmp_path."""

    def make(name: str, text: str, encoding: str = "utf-8") -> Path:
        return write(tmp_path / name, text, encoding)

    return make
