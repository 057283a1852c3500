"""Assets for the approval, rights, editing and browsing tests: real JPEGs added through the
upload service, users in approver groups, and a three-step review workflow.

Imported by the test modules that use it (no conftest), so it stays theirs alone.
"""

import io
import itertools
import re

import pytest
from django.test import Client

from folio.accounts import services as accounts
from folio.assets import (
    browse,  # noqa: F401 - connects the search index receiver
    editing,
    services,
)
from tests.assets import files

_shade = itertools.count(1)


def unique_jpeg(width: int = 64, height: int = 48, exif: dict | None = None) -> bytes:
    """A JPEG whose bytes differ from every other one made here (uploads refuse duplicates)."""
    n = next(_shade)
    return files.jpeg(width, height, color=(n % 251, (n // 251) % 251, (n * 7) % 251), exif=exif)


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "asset"


def add_version(asset, user, *, width: int = 64, height: int = 48):
    return services.add_version(
        asset.pk, io.BytesIO(unique_jpeg(width, height)), filename="retouched.jpg", user=user
    )


def client_for(user) -> Client:
    _, text = accounts.create_token(user, "test")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {text}")
    client.user = user
    return client


@pytest.fixture
def uploader(make_user):
    return make_user("asset_manager", "uploader")


@pytest.fixture
def add_asset(uploader):
    def add(
        title="EspressoPro packshot",
        *,
        kind="packshot",
        width=64,
        height=48,
        user=None,
        collections=(),
        tags=(),
        exif=None,
        filename=None,
    ):
        return services.add_asset(
            io.BytesIO(unique_jpeg(width, height, exif)),
            filename=filename or f"{_slug(title)}.jpg",
            title=title,
            kind=kind,
            collections=collections,
            tags=tags,
            user=user or uploader,
        )

    return add


@pytest.fixture
def groups_and_approvers(db):
    """brand → legal → creative: one approver per group, one approver in no group."""
    made = {}
    for step in ("brand", "legal", "creative"):
        made[step] = accounts.create_user(
            f"{step}-approver", roles=["approver"], groups=[f"{step}-approvers"]
        )
    made["plain"] = accounts.create_user("plain-approver", roles=["approver"])
    return made


@pytest.fixture
def three_steps(groups_and_approvers):
    workflow = editing.create_workflow(
        "campaign-review",
        name="Campaign review",
        steps=[
            {"name": "brand", "group": "brand-approvers"},
            {"name": "legal", "group": "legal-approvers"},
            {"name": "creative", "group": "creative-approvers"},
        ],
    )
    collection = editing.create_collection("winter", name="Winter campaign", workflow=workflow.code)
    return collection
