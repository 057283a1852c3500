"""Fixtures of the web UI tests: a small catalog with a product model, its variants, a product
of its own, files in every approval state and links; signed-in clients per role."""

import io
import itertools

import pytest
from django.test import Client

from folio.accounts import services as accounts
from folio.assets import workflow
from folio.assets.services import add_asset
from folio.catalog import services as catalog_services
from folio.linking import services as linking
from tests.assets import files
from tests.fixtures.catalog import espresso_pro

PASSWORD = "correct-horse-battery-9"
_shade = itertools.count(1)


@pytest.fixture
def media(settings, tmp_path):
    """Stored files and uploads in this test's own folders."""
    (tmp_path / "media").mkdir()
    (tmp_path / "uploads").mkdir()
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.UPLOAD_DIR = tmp_path / "uploads"
    return tmp_path


def jpeg_bytes(width: int = 64, height: int = 48) -> bytes:
    n = next(_shade)
    return files.jpeg(width, height, color=(n % 251, (n * 3) % 251, (n * 7) % 251))


def new_asset(title: str, *, user=None, filename: str | None = None, **kw):
    name = filename or title.replace(" ", "_") + ".jpg"
    return add_asset(io.BytesIO(jpeg_bytes()), filename=name, title=title, user=user, **kw)


def value(data, locale=None, scope=None) -> list[dict]:
    return [{"locale": locale, "scope": scope, "data": data}]


@pytest.fixture
def users(db):
    made = {}
    for role, name in (
        ("admin", "ann"),
        ("catalog_manager", "max"),
        ("catalog_editor", "cora"),
        ("catalog_reviewer", "remy"),
        ("asset_manager", "ada"),
        ("approver", "bram"),
        ("viewer", "vic"),
        ("agency", "agnes"),
        ("publisher", "pia"),
    ):
        made[role] = accounts.create_user(name, roles=[role], password=PASSWORD)
    return made


@pytest.fixture
def client_for(users):
    """client_for("viewer") → a test client signed in as that role's user."""

    def make(role: str, *, csrf: bool = False) -> Client:
        client = Client(enforce_csrf_checks=csrf)
        client.force_login(users[role])
        client.user = users[role]
        return client

    return make


@pytest.fixture
def shop(catalog, media, users):
    """Bottles as a two-level model (BT → BT-750 → BT-750-BLUE/-GREEN), the EspressoPro as a
    product of its own, an approved and a draft image, links on the model and the variant."""
    catalog_services.save_model(
        {
            "code": "BT",
            "family_variant": "bottles_by_size_color",
            "values": {
                "name": value("Steel bottle", "en_US"),
                "brand": value("Aqualine"),
                "materials": value(["stainless_steel"]),
            },
        },
        create=True,
    )
    catalog_services.save_model(
        {
            "code": "BT-750",
            "parent": "BT",
            "values": {
                "size": value("ml750"),
                "capacity": value({"amount": "750", "unit": "MILLILITER"}),
            },
        },
        create=True,
    )
    for sku, color, gtin in (
        ("BT-750-BLUE", "blue", "4006381333931"),
        ("BT-750-GREEN", "green", "4006381333948"),
    ):
        catalog_services.create_product(
            {
                "sku": sku,
                "parent": "BT-750",
                "values": {
                    "color": value(color),
                    "gtin": value(gtin),
                    "price": value([{"amount": "24.90", "currency": "USD"}]),
                },
            }
        )
    catalog_services.create_product(espresso_pro())
    ada, bram = users["asset_manager"], users["approver"]
    approved = new_asset("Blue bottle front", user=ada, kind="packshot")
    workflow.submit_for_review(approved.pk, ada)
    workflow.decide(approved.pk, approve=True, comment="fine", user=bram)
    draft = new_asset("Bottle lifestyle", user=ada, kind="lifestyle")
    linking.link("BT", draft.pk, "lifestyle")
    linking.link("BT-750-BLUE", approved.pk, "main")
    return {
        "catalog": catalog,
        "approved": approved,
        "draft": draft,
    }
