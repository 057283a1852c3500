"""`folio catalog …`: structure listings and changes from the command line."""

import io

import pytest
from django.core.management import CommandError, call_command

from folio.accounts.models import AuditEntry
from folio.catalog.models import Category, Channel, Family


def folio(*args) -> str:
    out = io.StringIO()
    call_command("catalog", *args, stdout=out)
    return out.getvalue()


def test_structure_commands(make_user):
    make_user("catalog_manager", "ed")
    assert "de_DE" in folio("locales")
    folio("category", "create", "master", "--label", "en_US=All products")
    folio("category", "create", "kitchen", "--parent", "master")
    folio("category", "create", "coffee", "--parent", "master")
    assert "master/kitchen/coffee" in folio("category", "move", "coffee", "--parent", "kitchen")
    assert Category.objects.get(code="coffee").path == "master/kitchen/coffee"
    folio(
        "channel",
        "create",
        "web",
        "--locale",
        "en_US,de_DE",
        "--currency",
        "USD",
        "--territory",
        "US",
        "--tree",
        "master",
        "--label",
        "en_US=Web shop",
        "--as-user",
        "ed",
    )
    channel = Channel.objects.get(code="web")
    assert sorted(channel.locales.values_list("code", flat=True)) == ["de_DE", "en_US"]
    assert AuditEntry.objects.get(action="channel.create").username == "ed"
    assert "web" in folio("channels")
    folio("channel", "update", "web", "--locale", "fr_FR")
    assert list(channel.locales.values_list("code", flat=True)) == ["fr_FR"]
    folio(
        "attribute",
        "create",
        "capacity",
        "--type",
        "measurement",
        "--measurement-family",
        "volume",
        "--unit",
        "MILLILITER",
    )
    folio("attribute", "create", "color", "--type", "select")
    assert "added 2 options" in folio("option", "add", "color", "black=Black", "blue")
    folio(
        "family", "create", "bottles", "--attribute", "capacity,color", "--require", "web=capacity"
    )
    assert "web: capacity" in folio("families")
    assert "capacity" in folio("attributes", "--type", "measurement")
    assert "  kitchen" in folio("categories", "--tree", "master")
    assert "KILOWATT_HOUR" in folio("measurement-families")
    folio("family", "delete", "bottles")
    assert not Family.objects.exists()


def test_mistakes_are_one_line_errors(db):
    with pytest.raises(CommandError, match="at least one locale"):
        folio("channel", "create", "web")
    with pytest.raises(CommandError, match="GRAM is not a unit of volume"):
        folio(
            "attribute",
            "create",
            "capacity",
            "--type",
            "measurement",
            "--measurement-family",
            "volume",
            "--unit",
            "GRAM",
        )
    folio("category", "create", "master")
    folio("category", "create", "kitchen", "--parent", "master")
    with pytest.raises(CommandError, match="cannot move master under kitchen"):
        folio("category", "move", "master", "--parent", "kitchen")
    with pytest.raises(CommandError, match="LOCALE=TEXT"):
        folio("category", "create", "x", "--label", "Kitchen")
