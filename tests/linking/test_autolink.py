"""Auto-linking by file name: default patterns, GTINs, idempotent re-runs, the report."""

import io
import itertools

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from folio.assets.services import add_asset
from folio.catalog import services as catalog_services
from folio.linking import services
from folio.linking.autolink import autolink
from folio.linking.models import Link
from tests.assets import files
from tests.fixtures.catalog import espresso_pro

_shade = itertools.count(100)


@pytest.fixture
def media(settings, tmp_path):
    (tmp_path / "media").mkdir()
    (tmp_path / "uploads").mkdir()
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.UPLOAD_DIR = tmp_path / "uploads"


def asset(name):
    n = next(_shade)
    data = files.jpeg(color=(n % 251, (n * 3) % 251, (n * 7) % 251))
    return add_asset(io.BytesIO(data), filename=name)


@pytest.fixture
def machine(catalog, media):
    gtin = [{"locale": None, "scope": None, "data": "04012345678901"}]
    values = {**espresso_pro()["values"], "gtin": gtin}
    return catalog_services.create_product(espresso_pro(values=values))


def test_default_patterns_views_gtin_positions(machine):
    front, side, life = (
        asset("EP-3000_front.jpg"),
        asset("EP-3000_side.PNG"),
        asset("ep-3000_lifestyle.jpeg"),
    )
    gmain, gpt = asset("04012345678901.MAIN.jpg"), asset("04012345678901.PT07.png")
    numbered, stray = asset("EP-3000-6.webp"), asset("holiday.jpg")
    ids = [a.pk for a in (front, side, life, gmain, gpt, numbered, stray)]
    report = autolink(ids)
    got = {e["asset"]: (e["target"], e["role"], e["position"]) for e in report["linked"]}
    assert got == {
        front.pk: ("EP-3000", "main", 1),
        side.pk: ("EP-3000", "gallery", 2),
        life.pk: ("EP-3000", "lifestyle", 1),
        gmain.pk: ("EP-3000", "main", 1),
        gpt.pk: ("EP-3000", "gallery", 7),
        numbered.pk: ("EP-3000", "gallery", 6),
    }
    assert report["unmatched"] == [
        {"asset": stray.pk, "filename": "holiday.jpg", "reason": "matches no auto-link pattern"}
    ]
    assert Link.objects.filter(source="auto").count() == 6
    # idempotent: a second run links nothing
    again = autolink(ids)
    assert again["linked"] == [] and len(again["skipped_existing"]) == 6
    assert Link.objects.count() == 6


def test_unknown_sku_and_gtin_are_reported(machine):
    a, b = asset("NOPE-1_front.jpg"), asset("09999999999999.MAIN.jpg")
    report = autolink([a.pk, b.pk, 999999])
    reasons = {e["asset"]: e["reason"] for e in report["unmatched"]}
    assert "no product or model" in reasons[a.pk]
    assert "GTIN 09999999999999" in reasons[b.pk]
    assert reasons[999999] == "no such asset"


def test_query_count_does_not_grow_with_batch(machine):
    small = [asset(f"EP-3000-{i}.jpg").pk for i in range(1, 3)]
    with CaptureQueriesContext(connection) as few:
        autolink(small)
    big = [asset(f"EP-3000-{i}.jpg").pk for i in range(10, 30)]
    with CaptureQueriesContext(connection) as many:
        autolink(big)
    assert len(many) <= len(few) + 1  # bulk insert of more rows may add at most one query


def test_cli_auto_since_and_replace_everywhere(machine, capsys):
    first = asset("EP-3000_front.jpg")
    later = asset("EP-3000_back.jpg")
    call_command("links", "auto", "--since", str(first.pk))
    out = capsys.readouterr().out
    assert "1 linked" in out and "gallery #4" in out
    call_command("links", "list", "EP-3000")
    assert "EP-3000_back.jpg" in capsys.readouterr().out
    call_command("links", "add", "EP-3000", str(first.pk), "--role", "main")
    call_command("links", "replace-everywhere", str(later.pk), str(first.pk))
    assert "would change" in capsys.readouterr().out
    assert Link.objects.filter(asset=later).exists()
    call_command("links", "replace-everywhere", str(later.pk), str(first.pk), "--yes")
    assert not Link.objects.filter(asset=later).exists()
    call_command("links", "where-used", str(first.pk))
    assert "EP-3000" in capsys.readouterr().out
    link_id = Link.objects.get(asset=first, role="main").pk
    call_command("links", "remove", str(link_id))
    assert services.links_for("EP-3000")["gallery"][0]["asset_id"] == first.pk


def test_sku_in_another_case_and_model_codes(machine):
    from folio.catalog.models import FamilyVariant, ProductModel

    fv = FamilyVariant.objects.get(code="bottles_by_size_color")
    model = ProductModel.objects.create(code="WB-SS", family_variant=fv)
    lower, exact, of_model = (
        asset("ep-3000_back.jpg"),
        asset("EP-3000_front.jpg"),
        asset("wb-ss_front.jpg"),
    )
    report = autolink([lower.pk, exact.pk, of_model.pk])
    linked = {e["asset"]: e["target"] for e in report["linked"]}
    assert linked == {lower.pk: "EP-3000", exact.pk: "EP-3000", of_model.pk: "WB-SS"}
    assert Link.objects.get(asset_id=of_model.pk).product_model_id == model.pk


def test_each_batch_moves_the_links_version_of_every_owner_it_touched(machine):
    from folio.catalog.models import FamilyVariant, ProductModel

    fv = FamilyVariant.objects.get(code="bottles_by_size_color")
    ProductModel.objects.create(code="WB-SS", family_variant=fv)
    assert services.links_version("EP-3000") == 1 == services.links_version("WB-SS")
    autolink([asset("EP-3000_front.jpg").pk])  # creates the product's version row
    assert services.links_version("EP-3000") == 2
    services.link("EP-3000", asset("manual.jpg").pk, "gallery")  # a one-owner write
    assert services.links_version("EP-3000") == 3
    # A batch over an owner with a version row and one without: both move by one.
    autolink([asset("EP-3000_side.jpg").pk, asset("WB-SS_front.jpg").pk])
    assert services.links_version("EP-3000") == 4
    assert services.links_version("WB-SS") == 2
    # The same files again link nothing and change no version.
    report = autolink([asset("EP-3000_side.jpg").pk])
    assert report["skipped_existing"] and not report["linked"]
    assert services.links_version("EP-3000") == 4
