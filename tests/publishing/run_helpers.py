"""What the publish-run tests share: the demo catalog with a publications folder of each
test's own, and two tiny test-only formats — the tests' own sinks, so the run is checked
without depending on any real channel format:

- `test-lines`: a full feed, one JSON document per line per locale (feed-<locale>.jsonl);
- `test-delta`: the same, plus a delta mechanism writing changes-<locale>.json.
"""

import io
import json
from pathlib import Path

import pytest

from folio import demo
from folio.catalog import services as catalog
from folio.catalog.models import Channel
from folio.publishing import formats
from folio.publishing.formats.base import Format, Problem, jsonable
from folio.publishing.models import Feed, PublishedItem


class Lines(Format):
    code = "test-lines"
    label = "Test lines"
    default_mapping = {
        "title": {"attribute": "name"},
        "price": {"attribute": "price"},
        "gtin": {"attribute": "@gtin"},
    }
    required_fields = ("title", "price")
    limits = {"title": 150}

    def fragment(self, item, ctx):
        return json.dumps(
            {
                "sku": item.sku,
                "fields": jsonable(item.fields),
                "group": item.group,
                "axes": [a["code"] for a in item.axes],
                "category_path": item.category_path,
                "images": [
                    {
                        "role": i.role,
                        "position": i.position,
                        "file": i.filename,
                        "url": i.url,
                        "asset": i.asset_id,
                        "sha256": i.sha256,
                    }
                    for i in item.images
                ],
            },
            sort_keys=True,
        )

    def check(self, item):
        problems = super().check(item)
        if item.fields.get("condition") == "refurbished":
            problems.append(Problem("condition", "the test format takes new products only"))
        return problems

    def write(self, out: Path, ctx, entries):
        name = f"feed-{ctx.locale}.jsonl"
        with open(out / name, "w") as f:
            for entry in entries:
                f.write(entry.fragment + "\n")
        return [name]


class Delta(Lines):
    code = "test-delta"
    full_feed = False

    def write_delta(self, out: Path, ctx, changes):
        name = f"changes-{ctx.locale}.json"
        rows = [
            {
                "sku": c.sku,
                "op": "delete" if c.data is None else "update",
                "data": c.data,
                "previous": c.previous,
            }
            for c in changes
        ]
        (out / name).write_text(json.dumps(rows, sort_keys=True))
        return [name]


class OneFile(Lines):
    """Every locale in one file (formats whose files hold several languages)."""

    code = "test-onefile"
    per_locale = False

    def write(self, out: Path, ctx, entries):
        with open(out / "all.jsonl", "w") as f:
            for entry in entries:
                f.write(entry.fragment + "\n")
        return ["all.jsonl"]


class Broken(Lines):
    code = "test-broken"

    def write(self, out: Path, ctx, entries):
        (out / "half-written.jsonl").write_text("{")
        raise OSError("disk full (the test format's own failure)")


def register_test_formats(monkeypatch) -> None:
    for cls in (Lines, Delta, OneFile, Broken):
        monkeypatch.setitem(formats.FORMATS, cls.code, f"{__name__}.{cls.__name__}")


@pytest.fixture
def test_formats(monkeypatch):
    register_test_formats(monkeypatch)


PUBLIC_URL = "https://folio.example"


def _publish_under(settings, tmp_path) -> Path:
    """Publications under this test's tmp_path, links and images under PUBLIC_URL."""
    settings.PUBLICATIONS_DIR = tmp_path / "publications"
    settings.PUBLIC_URL = PUBLIC_URL
    return settings.PUBLICATIONS_DIR


@pytest.fixture
def demo_catalog(demo_snapshot, settings, tmp_path, media, test_formats):
    """The demo (seeded once for the test module: tests.fixtures.demo), its files in this
    test's media folder, publications under this test's tmp_path, a public URL."""
    demo_snapshot.copy_files(settings)
    return _publish_under(settings, tmp_path)


@pytest.fixture
def own_demo_catalog(settings, tmp_path, media, test_formats):
    """demo_catalog seeded by the test itself, for modules that cannot share one seed: the
    seed must write to the test's own storage (S3), or the module has other database tests
    that must not see the demo."""
    folder = _publish_under(settings, tmp_path)
    demo.seed(io.StringIO())
    return folder


def make_feed(
    channel: str = "webshop", code: str = "shop", fmt: str = "test-lines", **fields
) -> Feed:
    fields.setdefault("locales", ["en_US"])
    fields.setdefault("currency", "USD")
    return Feed.objects.create(
        channel=Channel.objects.get(code=channel), code=code, format=fmt, **fields
    )


def items_of(publication) -> dict[tuple[str, str], PublishedItem]:
    return {(i.sku, i.locale): i for i in PublishedItem.objects.filter(publication=publication)}


def codes(item: PublishedItem) -> set[str]:
    return {r["code"] for r in item.reasons}


def current_lines(folder: Path, locale: str = "en_US") -> dict[str, dict]:
    """What a reader of the feed's current release sees, by SKU."""
    path = folder / "current" / f"feed-{locale}.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines() if line]
    return {row["sku"]: row for row in rows}


def feed_folder(channel: str = "webshop", code: str = "shop") -> Path:
    from django.conf import settings

    return Path(settings.PUBLICATIONS_DIR) / channel / code


def reweigh_bottle_model(grams: str = "415") -> None:
    """A model-level value the test feeds do not send: the demo bottle model's weight."""
    catalog.save_model(
        {
            "code": "WB-750-SS",
            "values": {
                "weight": [
                    {"locale": None, "scope": None, "data": {"amount": grams, "unit": "GRAM"}}
                ]
            },
        },
        create=False,
    )
